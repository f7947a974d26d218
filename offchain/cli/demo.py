"""``attestia demo``: the end-to-end run on the embedded local chain."""

from __future__ import annotations

import typer

from offchain.cli.common import console, settings_of


def demo(
    ctx: typer.Context,
    requests: int = typer.Option(50, help="How many paid inference requests the client makes."),
) -> None:
    """Deploy, register the demo model, run a worker, make paid requests, settle, claim.

    Example: attestia demo --requests 50
    """
    from offchain.demo import print_summary, run_demo
    from offchain.errors import ConfigError

    if requests < 1:  # before any chain, contract or worker is started
        raise ConfigError(f"--requests must be at least 1, got {requests}")
    summary = run_demo(settings_of(ctx), requests=requests, console=console)
    print_summary(summary, console)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
