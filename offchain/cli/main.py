"""Entry point of the ``attestia`` command."""

from __future__ import annotations

import sys

import typer

from offchain.cli import chain_cmd
from offchain.cli.common import err_console
from offchain.errors import AttestiaError

app = typer.Typer(
    name="attestia",
    help="Verifiable and attributable AI inference on EVM chains.\n\n"
    "Example: attestia demo",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    rpc_url: str = typer.Option(
        None, "--rpc-url", help="EVM JSON-RPC URL (default: the embedded Anvil chain)."
    ),
    port: int = typer.Option(None, "--port", help="Port of the embedded chain (default 8545)."),
) -> None:
    ctx.obj = {"rpc_url": rpc_url, "port": port}


chain_cmd.register(app)


def _register_optional() -> None:
    """Feature command groups; each module adds its commands to ``app``."""
    import importlib

    for name in ("model_cmd", "worker_cmd", "client_cmd", "rewards_cmd", "verify_cmd", "demo_cmd"):
        try:
            module = importlib.import_module(f"offchain.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"offchain.cli.{name}":
                raise
            continue
        module.register(app)


_register_optional()


def main() -> None:
    try:
        app()
    except AttestiaError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
