"""Shared CLI plumbing: settings from the global options, the console, JSON output."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console

from offchain.chain.connection import Chain, connect
from offchain.config import Settings, load_settings

console = Console()
err_console = Console(stderr=True)


def settings_of(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj or {}
    return load_settings(rpc_url=obj.get("rpc_url"), port=obj.get("port"))


def chain_of(ctx: typer.Context) -> Chain:
    return connect(settings_of(ctx))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
