"""Shared CLI plumbing: settings from the global options, the console, JSON output."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from offchain.config import Settings, load_settings

if TYPE_CHECKING:  # web3 is imported by the commands that connect, not by `attestia --help`
    from offchain.chain.connection import Chain

# Tables stay readable when stdout is a pipe or a CI log (Rich would assume 80 columns).
console = Console(width=None if sys.stdout.isatty() else 130)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 130)


def settings_of(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj or {}
    return load_settings(rpc_url=obj.get("rpc_url"), port=obj.get("port"))


def chain_of(ctx: typer.Context) -> Chain:
    from offchain.chain.connection import connect

    return connect(settings_of(ctx))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dev_account_option(default: int, role: str) -> Any:
    return typer.Option(
        default, "--dev-account",
        help=f"Anvil dev account index for the {role} (only on chain id 31337 when no "
        "ATTESTIA_PRIVATE_KEY / keystore is set).",
    )


def attestia_of(ctx: typer.Context):
    """Chain + deployed contracts (deploying first on a local dev chain if needed)."""
    from offchain.chain.contracts import Attestia
    from offchain.chain.deploy import deployment_path
    from offchain.errors import ConfigError

    chain = chain_of(ctx)
    if not deployment_path(chain).exists():
        if not chain.is_local_dev:
            raise ConfigError(f"no deployment for chain {chain.chain_id}: run attestia deploy")
        from offchain.chain.deploy import deploy

        deploy(chain)
    return Attestia.load(chain)


def eth(wei: int) -> str:
    return f"{wei / 1e18:.6f}"
