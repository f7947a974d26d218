"""Where Attestia finds its chain, keys and data.

Precedence: explicit argument > environment (``ATTESTIA_*``) > ``attestia.toml`` in the
project directory > built-in defaults (the embedded Anvil chain).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from offchain.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 8545
ANVIL_CHAIN_ID = 31337


def project_dir() -> Path:
    """The directory holding attestia.toml, build/ and deployments/ (default: the repo)."""
    return Path(os.environ.get("ATTESTIA_HOME", REPO_ROOT)).resolve()


@dataclass(frozen=True)
class Settings:
    """Resolved settings for one command invocation."""

    rpc_url: str | None = None
    private_key: str | None = None
    keystore: Path | None = None
    keystore_password_env: str = "ATTESTIA_KEYSTORE_PASSWORD"
    port: int = DEFAULT_PORT
    home: Path = field(default_factory=project_dir)

    @property
    def embedded(self) -> bool:
        """True when no RPC URL is configured: commands use (and start) the embedded chain."""
        return self.rpc_url is None

    @property
    def data_dir(self) -> Path:
        return self.home / ".attestia"

    @property
    def contracts_dir(self) -> Path:
        """The project's own contracts/ if it has one, else the contracts shipped here."""
        own = self.home / "contracts"
        return own if own.is_dir() else REPO_ROOT / "contracts"

    @property
    def build_dir(self) -> Path:
        return self.home / "build"

    @property
    def deployments_dir(self) -> Path:
        return self.home / "deployments"


def load_settings(**overrides: object) -> Settings:
    """Merge attestia.toml, the environment and explicit overrides (None means 'not given')."""
    home = Path(str(overrides.get("home") or project_dir()))
    if home.exists() and not home.is_dir():
        raise ConfigError(f"ATTESTIA_HOME {home} is a file, not a directory: point it at a "
                          "project directory (or unset it to use this repository)")
    values: dict[str, object] = {}
    toml_path = home / "attestia.toml"
    if toml_path.exists():
        try:
            data = tomllib.loads(toml_path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{toml_path}: invalid TOML ({exc}); fix or remove the file") from exc
        chain = data.get("chain", {})
        values.update(
            {k: chain[k] for k in ("rpc_url", "private_key", "keystore", "port") if k in chain}
        )
    env = {
        "rpc_url": os.environ.get("ATTESTIA_RPC_URL"),
        "private_key": os.environ.get("ATTESTIA_PRIVATE_KEY"),
        "keystore": os.environ.get("ATTESTIA_KEYSTORE"),
        "port": os.environ.get("ATTESTIA_PORT"),
    }
    values.update({k: v for k, v in env.items() if v})
    values.update({k: v for k, v in overrides.items() if v is not None and k != "home"})
    try:
        port = int(str(values.get("port", DEFAULT_PORT)))
    except ValueError as exc:
        raise ConfigError(f"port must be an integer, got {values.get('port')!r}") from exc
    keystore = values.get("keystore")
    return Settings(
        rpc_url=str(values["rpc_url"]) if values.get("rpc_url") else None,
        private_key=str(values["private_key"]) if values.get("private_key") else None,
        keystore=Path(str(keystore)) if keystore else None,
        port=port,
        home=home,
    )
