"""Entry point of the ``attestia`` command."""

from __future__ import annotations

import sys

import typer

from offchain.cli import chain, client, demo, governance, model, rewards, verify, worker
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


# One module per command group (client: the requester's ``infer`` and ``attribution``).
for module in (chain, model, worker, client, rewards, demo, verify, governance):
    module.register(app)


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
