"""``attestia chain up|down|status``, and the two steps that set a chain up: ``attestia build``
and ``attestia deploy``."""

from __future__ import annotations

import time

import typer
from rich.table import Table

from offchain.build import compile_contracts
from offchain.chain.anvil import EmbeddedChain
from offchain.chain.deploy import deploy
from offchain.cli.common import chain_of, console, err_console, print_json, settings_of

chain_app = typer.Typer(help="Manage the embedded local chain (Anvil).", no_args_is_help=True)


def build(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Recompile even if nothing changed."),
) -> None:
    """Compile every contract under contracts/ into build/ (cached).

    Example: attestia build --force
    """
    settings = settings_of(ctx)
    start = time.perf_counter()
    artifacts, warnings, cached = compile_contracts(
        settings.build_dir, contracts_dir=settings.contracts_dir, force=force
    )
    for warning in warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    elapsed = time.perf_counter() - start
    state = "up to date" if cached else "compiled"
    console.print(f"{len(artifacts)} contracts {state} in {elapsed:.2f} s -> {settings.build_dir}")


@chain_app.command("up")
def chain_up(ctx: typer.Context) -> None:
    """Start the embedded chain (reloading its saved state) unless it already runs.

    Example: attestia chain up --port 8545   (or: attestia --port 9545 chain up)
    """
    settings = settings_of(ctx)
    status = EmbeddedChain(settings.data_dir, settings.port).up()
    console.print(
        f"anvil running: pid {status.pid}, http://127.0.0.1:{status.port}, "
        f"chain id {status.chain_id}, block {status.block}"
    )


@chain_app.command("down")
def chain_down(ctx: typer.Context) -> None:
    """Stop the embedded chain by its PID; its state is saved for the next start.

    Example: attestia chain down
    """
    settings = settings_of(ctx)
    stopped = EmbeddedChain(settings.data_dir, settings.port).down()
    console.print("anvil stopped" if stopped else "anvil was not running")


@chain_app.command("status")
def chain_status(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Show whether the embedded chain runs, its PID, chain id and block.

    Example: attestia chain status --json
    """
    settings = settings_of(ctx)
    status = EmbeddedChain(settings.data_dir, settings.port).status()
    if as_json:
        print_json(status.__dict__)
        return
    if status.running:
        console.print(
            f"running: pid {status.pid}, port {status.port}, chain id {status.chain_id}, "
            f"block {status.block}, state {status.state_file}"
        )
    else:
        console.print(f"not running (port {status.port}); start it with `attestia chain up`")


def deploy_cmd(
    ctx: typer.Context,
    fresh: bool = typer.Option(False, "--fresh", help="Deploy anew even if a deployment exists."),
    as_json: bool = typer.Option(False, "--json", help="Print the deployment as JSON."),
) -> None:
    """Deploy the contracts and write deployments/<chain-id>.json (reused unless --fresh).

    Example: attestia deploy --fresh
    """
    chain = chain_of(ctx)
    deployment, reused = deploy(chain, fresh=fresh)
    if as_json:
        print_json(deployment.to_json())
        return
    table = Table(title=f"Attestia on chain {chain.chain_id}" + (" (reused)" if reused else ""))
    for column in ("contract", "address", "block", "gas"):
        table.add_column(column)
    for name, entry in deployment.contracts.items():
        table.add_row(name, entry["address"], str(entry["block"]), f"{entry['gasUsed']:,}")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("build")(build)
    app.command("deploy")(deploy_cmd)
    app.add_typer(chain_app, name="chain")
