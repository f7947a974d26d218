"""Which key signs: explicit key, keystore, or (on chain id 31337 only) Anvil's dev keys."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from offchain.config import ANVIL_CHAIN_ID, Settings
from offchain.errors import ConfigError

# Anvil's public development keys (mnemonic "test test ... junk"). They guard nothing: they
# are printed by every Anvil at start-up and are used here only when the chain id is 31337.
ANVIL_DEV_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
)
ANVIL_DEV_ACCOUNTS = tuple(Account.from_key(k) for k in ANVIL_DEV_KEYS)


def dev_account(index: int) -> LocalAccount:
    if not 0 <= index < len(ANVIL_DEV_ACCOUNTS):
        raise ConfigError(f"--dev-account must be an Anvil dev account index from 0 to "
                          f"{len(ANVIL_DEV_ACCOUNTS) - 1}, got {index}")
    return ANVIL_DEV_ACCOUNTS[index]


def load_keystore(path: Path, password: str | None = None) -> LocalAccount:
    """Decrypt an eth-account keystore (Web3 Secret Storage JSON)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read keystore {path}: {exc}") from exc
    if not isinstance(data, dict) or not {"crypto", "Crypto"} & set(data) or "version" not in data:
        raise ConfigError(f"{path} is not an eth-account keystore (Web3 Secret Storage JSON with "
                          "'version' and 'crypto'): point ATTESTIA_KEYSTORE at a keystore file")
    if password is None:
        password = os.environ.get("ATTESTIA_KEYSTORE_PASSWORD")
    if password is None:
        password = getpass.getpass(f"password for {path}: ")
    try:
        return Account.from_key(Account.decrypt(data, password))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot decrypt keystore {path}: wrong password or bad file") from exc


def resolve_account(settings: Settings, chain_id: int, dev_index: int = 0) -> LocalAccount:
    """The signing account for this chain; dev keys only where they are public knowledge."""
    if settings.private_key:
        try:
            return Account.from_key(settings.private_key)
        except (ValueError, TypeError) as exc:
            raise ConfigError("ATTESTIA_PRIVATE_KEY is not a valid 32-byte hex key") from exc
    if settings.keystore:
        return load_keystore(settings.keystore)
    if chain_id == ANVIL_CHAIN_ID:
        return dev_account(dev_index)
    raise ConfigError(
        f"no signing key for chain id {chain_id}: set ATTESTIA_PRIVATE_KEY, or ATTESTIA_KEYSTORE "
        "to an eth-account keystore file (password in ATTESTIA_KEYSTORE_PASSWORD); Anvil's dev "
        "keys are used only on chain id 31337"
    )
