"""``attestia chain up|down|status|advance``, and the two steps that set a chain up:
``attestia build`` and ``attestia deploy``.

The chain commands talk JSON-RPC through the standard library (``offchain.chain.anvil``), so
they do not import web3; ``deploy`` and the epoch line of ``chain advance`` import it when run.
"""

from __future__ import annotations

import re
import time
from typing import Any

import typer
from rich.table import Table

from offchain.build import compile_contracts
from offchain.chain.anvil import EmbeddedChain, advance_time, rpc_call
from offchain.cli.common import chain_of, console, err_console, print_json, settings_of
from offchain.config import Settings
from offchain.errors import AttestiaError, ChainError, ConfigError
from offchain.timefmt import iso

chain_app = typer.Typer(help="Manage the embedded local chain (Anvil).", no_args_is_help=True)


def build(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Recompile even if nothing changed."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Compile every contract under contracts/ into build/ (cached).

    Example: attestia build --force
    """
    settings = settings_of(ctx)
    start = time.perf_counter()
    artifacts, warnings, cached = compile_contracts(
        settings.build_dir, contracts_dir=settings.contracts_dir, force=force, publish=True
    )
    elapsed = time.perf_counter() - start
    if as_json:
        print_json({"contracts": sorted(artifacts), "cached": cached,
                    "seconds": round(elapsed, 3), "buildDir": str(settings.build_dir),
                    "warnings": warnings})
        return
    for warning in warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    state = "up to date" if cached else "compiled"
    console.print(f"{len(artifacts)} contracts {state} in {elapsed:.2f} s -> {settings.build_dir}")


# Chain ids whose clock `chain advance` may move: Anvil / Hardhat (31337) and Ganache (1337),
# the same local dev chains the demo accepts.
LOCAL_DEV_CHAIN_IDS = (31337, 1337)
_UNITS = {"w": 7 * 86_400, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:[0-9]+[wdhms])+|[0-9]+")
MAX_ADVANCE_S = 10 * 365 * 86_400


def port_option() -> Any:
    return typer.Option(
        None, "--port", help="Port of the embedded chain (same as `attestia --port`; "
        "default 8545 or ATTESTIA_PORT).",
    )


def chain_settings(ctx: typer.Context, port: int | None) -> Settings:
    """Settings with the subcommand's --port, if given, taking the place of the global one."""
    if port is not None:
        root = ctx.find_root()
        root.obj = {**(root.obj or {}), "port": port}
    return settings_of(ctx)


def parse_duration(text: str) -> int:
    """Seconds in ``1d``, ``3h``, ``90m``, ``45s``, ``2w``, ``1h30m`` or plain ``3600``."""
    spec = text.strip().lower()
    if not _DURATION.fullmatch(spec):
        raise ConfigError(
            f"bad duration {text!r}: give seconds (3600) or a number with a unit w, d, h, m, s "
            "(1d, 3h, 90m, 1h30m)"
        )
    if spec.isdecimal():
        seconds = int(spec)
    else:
        seconds = sum(int(n) * _UNITS[u] for n, u in re.findall(r"([0-9]+)([wdhms])", spec))
    if not 0 < seconds <= MAX_ADVANCE_S:
        raise ConfigError(
            f"bad duration {text!r}: must be more than 0 s and at most 10 years "
            f"({MAX_ADVANCE_S} s); time only moves forward"
        )
    return seconds


def status_json(status: Any) -> dict[str, Any]:
    """An embedded chain's status (``anvil.ChainStatus``) with camelCase names and ISO time."""
    return {"running": status.running, "port": status.port, "pid": status.pid,
            "chainId": status.chain_id, "block": status.block,
            "timestamp": status.timestamp, "stateFile": status.state_file}


@chain_app.command("up")
def chain_up(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the chain's status as JSON."),
    port: int | None = port_option(),
) -> None:
    """Start the embedded chain (reloading its saved state) unless it already runs.

    Chain time continues from where it was (see `attestia chain advance`), never earlier.

    Example: attestia chain up --port 8545   (or: attestia --port 9545 chain up)
    """
    settings = chain_settings(ctx, port)
    status = EmbeddedChain(settings.data_dir, settings.port).up()
    if as_json:
        print_json(status_json(status))
        return
    console.print(
        f"anvil running: pid {status.pid}, http://127.0.0.1:{status.port}, "
        f"chain id {status.chain_id}, block {status.block}"
    )


@chain_app.command("down")
def chain_down(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    port: int | None = port_option(),
) -> None:
    """Stop the embedded chain by its PID; its state and clock are saved for the next start.

    Example: attestia chain down --port 8545
    """
    settings = chain_settings(ctx, port)
    stopped = EmbeddedChain(settings.data_dir, settings.port).down()
    if as_json:
        print_json({"stopped": stopped, "port": settings.port})
        return
    console.print("anvil stopped" if stopped else "anvil was not running")


@chain_app.command("status")
def chain_status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    port: int | None = port_option(),
) -> None:
    """Show whether the embedded chain runs, its PID, chain id, block and chain time.

    Example: attestia chain status --json
    """
    settings = chain_settings(ctx, port)
    status = EmbeddedChain(settings.data_dir, settings.port).status()
    if as_json:
        print_json(status_json(status))
        return
    if status.running:
        when = f", time {iso(status.timestamp)}" if status.timestamp is not None else ""
        console.print(
            f"running: pid {status.pid}, port {status.port}, chain id {status.chain_id}, "
            f"block {status.block}{when}, state {status.state_file}"
        )
    else:
        console.print(f"not running (port {status.port}); start it with `attestia chain up`")


@chain_app.command(
    "advance", context_settings={"ignore_unknown_options": True},  # "-1d": our error, one line
)
def chain_advance(
    ctx: typer.Context,
    duration: str = typer.Argument(..., help="How far: seconds (3600) or 1d, 3h, 90m, 1h30m."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    port: int | None = port_option(),
) -> None:
    """Move a local chain's clock forward and mine a block there (ends epochs, passes timelocks).

    Only on a local dev chain (the embedded chain, or chain id 31337 / 1337 at --rpc-url).
    Prints the new chain time and, with a deployment, the current epoch and when it ends.

    Example: attestia chain advance 1d
    """
    seconds = parse_duration(duration)  # before anything starts or changes
    settings = chain_settings(ctx, port)
    embedded = EmbeddedChain(settings.data_dir, settings.port)
    if settings.embedded:
        embedded.up()
        url = embedded.url
    else:
        url = str(settings.rpc_url)
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"RPC URL must start with http:// or https://, got {url!r}")
    try:
        chain_id = int(str(rpc_call(url, "eth_chainId", timeout=10)), 16)
    except (OSError, ValueError) as exc:
        raise ChainError(f"cannot reach the RPC endpoint {url}: {type(exc).__name__}") from None
    if chain_id not in LOCAL_DEV_CHAIN_IDS:
        raise ConfigError(
            f"chain advance only moves the clock of a local dev chain (chain id 31337 or 1337); "
            f"{url} is chain id {chain_id}"
        )
    block, timestamp = advance_time(url, seconds)
    if url == embedded.url and embedded.status().running:
        embedded.save_clock(force=True)  # a crash right after must not lose the new time
    epoch = _epoch(settings, chain_id)
    if as_json:
        print_json({
            "chainId": chain_id, "block": block, "timestamp": timestamp,
            "advancedSeconds": seconds, "epoch": epoch[0] if epoch else None,
            "epochEndsAt": epoch[1] if epoch else None,
        })
        return
    console.print(
        f"chain time {iso(timestamp)} (block {block}, advanced {seconds:,} s)",
        highlight=False,
    )
    if epoch:
        console.print(f"epoch {epoch[0]}, ends {iso(epoch[1])}", highlight=False)


def _epoch(settings: Settings, chain_id: int) -> tuple[int, int] | None:
    """(current epoch, its end) from the registry when this chain has a deployment, else None."""
    if not (settings.deployments_dir / f"{chain_id}.json").exists():
        return None
    from offchain.chain.connection import connect
    from offchain.protocol import epoch_end
    from offchain.registry import Attestia

    try:
        reg = Attestia.load(connect(settings)).registry
        epoch = reg.current_epoch()
        return epoch, epoch_end(epoch, reg.genesis(), reg.epoch_length())
    except AttestiaError as exc:  # the clock has moved; say why there is no epoch, do not fail
        err_console.print(f"[yellow]note:[/] no epoch shown: {exc}", highlight=False)
        return None


deploy_app = typer.Typer(no_args_is_help=False)


@deploy_app.callback(invoke_without_command=True)
def deploy_cmd(
    ctx: typer.Context,
    fresh: bool = typer.Option(False, "--fresh", help="Deploy anew even if a deployment exists."),
    as_json: bool = typer.Option(False, "--json", help="Print the deployment as JSON."),
) -> None:
    """Deploy the contracts and write deployments/<chain-id>.json (reused unless --fresh).

    `attestia deploy check` compares deployed contracts with the build instead.

    Example: attestia deploy --fresh
    """
    if ctx.invoked_subcommand is not None:
        return
    from offchain.chain.deploy import deploy

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


@deploy_app.command("check")
def deploy_check(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
) -> None:
    """Check that the deployed contracts are Attestia's (on-chain code against the build).

    Compares each contract's on-chain runtime code with this checkout's build, immutables
    and the metadata hash set aside; one PASS/FAIL line per contract, exit 1 on any FAIL.
    Read-only: never deploys, signs or starts a chain.

    Example: attestia --rpc-url https://rpc.example.org --registry 0x… --lens 0x… deploy check
    """
    from offchain.chain.codecheck import check_contracts
    from offchain.cli.common import reader_of

    settings = settings_of(ctx)
    attestia = reader_of(ctx)
    artifacts, _, _ = compile_contracts(settings.build_dir, contracts_dir=settings.contracts_dir)
    checks = check_contracts(attestia, artifacts)
    failed = [c for c in checks if not c.matches]
    if as_json:
        print_json([{"contract": c.name, "address": c.address, "matches": c.matches,
                     "metadataEqual": c.metadata_equal, "detail": c.detail} for c in checks])
    else:
        for c in checks:
            mark = "PASS" if c.matches else "FAIL"
            console.print(f"{mark}    {c.name} {c.address}: {c.detail}", highlight=False,
                          soft_wrap=True)
        console.print(f"every contract matches the build ({len(checks)})" if not failed else
                      f"{len(failed)} of {len(checks)} contract(s) do not match the build",
                      highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("build")(build)
    app.add_typer(deploy_app, name="deploy")
    app.add_typer(chain_app, name="chain")
