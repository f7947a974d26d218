"""``attestia demo``: the end-to-end run on the embedded local chain."""

from __future__ import annotations

import typer

from offchain.cli.common import console, settings_of


def demo(
    ctx: typer.Context,
    requests: int = typer.Option(50, help="How many paid inference requests the client makes."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON (progress "
                                 "goes to stderr)."),
) -> None:
    """Deploy, register the demo model, run a worker, make paid requests, settle, claim.

    Example: attestia demo --requests 50
    """
    from offchain.demo.flow import print_summary, run_demo
    from offchain.errors import ConfigError

    if requests < 1:  # before any chain, contract or worker is started
        raise ConfigError(f"--requests must be at least 1, got {requests}")
    from offchain.cli.common import err_console, print_json

    summary = run_demo(settings_of(ctx), requests=requests,
                       console=err_console if as_json else console)
    if as_json:
        print_json(summary.to_json())
        return
    print_summary(summary, console)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
