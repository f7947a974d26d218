"""``attestia worker run|list|stake add|unbond|withdraw``."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import typer

from offchain.cli.common import attestia_of, console, dev_account_option, err_console, settings_of

worker_app = typer.Typer(help="Run an inference worker.", no_args_is_help=True)


@worker_app.command("run")
def run(
    ctx: typer.Context,
    model: list[Path] = typer.Option(..., "--model", help="Model package(s) to serve."),
    model_id: list[str] = typer.Option(
        [], "--model-id", help="On-chain model id(s) to serve the packages as, when a "
        "package's registration is ambiguous (registered by several owners)."),
    name: str = typer.Option("default", help="Worker name (its data directory)."),
    tee: str = typer.Option(None, help="'simulated': a SIMULATED Nitro enclave (no real TEE)."),
    batch_size: int = typer.Option(0, help="Batch mode: leaves per committed Merkle root."),
    max_latency: float = typer.Option(2.0, help="Batch mode: commit a partial batch after S s."),
    queue: str = typer.Option(None, "--queue", metavar="URL", help="Fleet mode: batch the "
                              "shared queue at this database URL (postgresql://... or "
                              "sqlite:///PATH) that `attestia gateway` fills; any number of "
                              "workers of one key may serve it."),
    publish_dir: Path = typer.Option(None, "--publish-dir", metavar="DIR", help="Fleet mode: "
                                     "where batch files are published (default "
                                     ".attestia/published; share it across the fleet)."),
    lease: float = typer.Option(30.0, "--lease", help="Fleet mode: seconds a lease on queued "
                                "requests or a batch lasts unrenewed (a dead worker's work is "
                                "taken over after it)."),
    until_idle: bool = typer.Option(False, "--until-idle", help="Exit when nothing is left."),
    progress: bool = typer.Option(False, "--progress", help="Show a live progress display."),
    dev_account: int = dev_account_option(1, "worker operator"),
) -> None:
    """Follow InferenceRequested events, run the model, attribute, sign and record.

    At start the worker finds each package's on-chain model (the id `model register`
    recorded, else your registration, else the only one; or --model-id), checks its roster,
    and checks its own key on chain: it registers it (with the key's consent), rotates a
    stale encryption key, or refuses to start if another operator holds the key. One live
    worker per key: a second `worker run` on a key a running worker serves (any --name in
    this home, or the same keystore file) exits with one line and changes nothing. A request
    it cannot serve (bad payload or input, model, attribution or proof failure) is rejected
    with the reason and refunded; the worker keeps running.

    Example: attestia worker run --model .attestia/models/demo --progress
    """
    from offchain.errors import ConfigError
    from offchain.ids import parse_bytes32
    from offchain.worker.node import WorkerOptions
    from offchain.worker.service import build_worker

    # Everything is validated before the worker folder, its key or a transaction exists.
    given = [parse_bytes32(m, "model id") for m in model_id]
    if batch_size < 0:
        raise ConfigError(f"--batch-size must be 0 (no batching) or the number of requests per "
                          f"committed batch, got {batch_size}")
    if not 0 <= max_latency < float("inf"):
        raise ConfigError(f"--max-latency must be a number of seconds >= 0, got {max_latency}")
    if tee not in (None, "simulated"):
        raise ConfigError(f"unknown --tee {tee!r}: only 'simulated' runs on this machine")
    if queue is not None:
        if not queue.startswith(("sqlite:", "postgresql:", "postgres:")):
            raise ConfigError(f"--queue must be sqlite:///PATH or postgresql://..., got "
                              f"{queue!r}")
        if tee is not None:
            raise ConfigError("--queue with --tee: a fleet shares one operator key; a "
                              "simulated enclave key is one per worker")
        if not lease > 1:
            raise ConfigError(f"--lease must be above 1 second, got {lease}")
        batch_size = batch_size or 1000
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ConfigError(f"--name must be a plain folder name under .attestia/workers (no "
                          f"path separators), got {name!r}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = settings_of(ctx)
    attestia = attestia_of(ctx)
    if tee == "simulated":
        _check_simulated_measurement(attestia)
    data_dir = settings.data_dir / "workers" / name
    operator = attestia.chain.account(dev_account)
    fleet = None
    if queue is not None:
        from offchain.queue.store import Queue

        fleet = Queue(queue)  # before any key or transaction: a bad database stops here
    setup = build_worker(
        attestia, operator=operator, packages=model,
        data_dir=data_dir, tee=tee, options=WorkerOptions(), model_ids=given,
        project_dir=settings.data_dir,
        key_file=settings.keystore if settings.keystore and not settings.private_key else None,
        fleet_key=_fleet_key(attestia, settings.data_dir, operator.address) if fleet else None,
    )
    node = setup.node
    signal.signal(signal.SIGTERM, lambda *_: node.stop_event.set())
    signal.signal(signal.SIGINT, lambda *_: node.stop_event.set())
    # a fleet worker drains the queue, not an inbox: its heartbeat names none
    node.heartbeat = _heartbeater(attestia, setup, 0 if fleet else batch_size)
    node.heartbeat.beat(force=True)
    logging.getLogger("attestia.worker").info(
        "ready: %s (attestia worker list shows it live)",
        "batching the shared queue (fleet mode: on-chain requests and challenges by the "
        "worker holding the key's duty)"
        if fleet else "serving requests" + (
            f" and batching the inbox {setup.data_dir / 'inbox'}" if batch_size else ""))
    try:
        if fleet is not None:
            from offchain.queue.worker import run_queue_mode

            stats = run_queue_mode(node, data_dir, fleet,
                                   publish_dir=publish_dir or settings.data_dir / "published",
                                   batch_size=batch_size, max_latency=max_latency, lease=lease,
                                   until_idle=until_idle)
        else:
            stats = _serve(node, data_dir, batch_size=batch_size, max_latency=max_latency,
                           until_idle=until_idle, progress=progress)
    finally:
        node.heartbeat.clear()
        if fleet is not None:
            fleet.close()
    node.journal.close()
    console.print(
        f"worker {setup.signer} stopped: {stats.recorded} recorded, {stats.rejected} rejected, "
        f"{stats.skipped} skipped, {stats.failed} failed, gas {stats.gas:,}"
    )


def _fleet_key(attestia, data_dir: Path, signer: str) -> Path:
    """The encryption key every fleet worker of ``signer`` in this home shares (copy it to
    the fleet's other machines: requests are sealed to the one key published on chain)."""
    where = f"{attestia.chain.chain_id}-{str(attestia.registry.address).lower()}"
    return data_dir / "workers" / ".fleet" / f"{where}-{signer.lower()}.key"


def _heartbeater(attestia, setup, batch_size: int):
    """The worker's heartbeat file (offchain.request.heartbeat): clients of this home see it
    is running, what it serves and, in batch mode, where its inbox is."""
    import os
    import time

    from offchain.request.heartbeat import HEARTBEAT, Heartbeat, Heartbeater
    from offchain.worker.batching import INBOX

    node = setup.node
    template = Heartbeat(
        signer=node.signer.address, operator=node.operator.address,
        chain_id=attestia.chain.chain_id, registry=attestia.registry.address,
        models=tuple("0x" + m.hex() for m in node.engines), pid=os.getpid(), at=time.time(),
        data_dir=str(setup.data_dir), batch_size=batch_size,
        inbox=str(setup.data_dir / INBOX) if batch_size else None)
    return Heartbeater(setup.data_dir / HEARTBEAT, template)


def _serve(node, data_dir: Path, *, batch_size: int, max_latency: float, until_idle: bool,
           progress: bool):
    """Run the worker (batch mode with --batch-size), with a live progress bar on stderr when
    asked; log lines then go through the bar's console, above it, never over it."""
    def run():
        if batch_size:
            from offchain.worker.batching import run_batch_mode

            return run_batch_mode(node, data_dir, batch_size=batch_size,
                                  max_latency=max_latency, until_idle=until_idle)
        return node.run(until_idle=until_idle)

    if not progress:
        return run()
    from rich.progress import Progress

    with Progress(console=err_console, transient=False) as bar, _logging_above(bar):
        task = bar.add_task("inferences", total=None)

        def show(s) -> None:
            if batch_size:
                bar.update(task, completed=s.recorded, total=None,
                           description=f"batched {s.recorded} (failed {s.failed})")
            else:
                bar.update(task, completed=s.recorded + s.rejected + s.skipped,
                           total=max(s.seen, 1),
                           description=f"recorded {s.recorded} rejected {s.rejected}")

        node.on_progress = show
        return run()


class _logging_above:  # noqa: N801 (a context manager used like a function)
    """Route the worker's log lines through the progress bar's console while it is shown
    (rich prints them above the live bar), then restore the handlers."""

    def __init__(self, bar) -> None:
        self.bar = bar
        self.saved: list[logging.Handler] = []

    def __enter__(self) -> None:
        root = logging.getLogger()
        self.saved = list(root.handlers)
        console = self.bar.console
        formatter = (self.saved[0].formatter if self.saved else None) or logging.Formatter(
            "%(asctime)s %(name)s %(message)s")

        class AboveBar(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                console.print(formatter.format(record), markup=False, highlight=False,
                              soft_wrap=True)

        root.handlers = [AboveBar()]

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().handlers = self.saved


def _check_simulated_measurement(attestia) -> None:
    """A --tee simulated worker binds its enclave to the SIMULATED measurement: refuse to start
    (before registering or staking anything) unless governance allows it."""
    from offchain.errors import ConfigError
    from offchain.proofs.tee.simulated import simulated_measurement

    value = simulated_measurement()
    status = attestia.registry.measurement_status(value)
    if status.revokedAt:
        raise ConfigError(f"the SIMULATED enclave's measurement 0x{value.hex()} is revoked on "
                          "this chain: a --tee simulated worker cannot serve here")
    if not status.allowedAt:
        raise ConfigError(f"the SIMULATED enclave's measurement 0x{value.hex()} is not allowed "
                          "on this chain: run `attestia governance allow-measurement "
                          "--simulated` (governance account) first; nothing was registered "
                          "or staked")


@worker_app.command("list")
def list_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the workers as JSON."),
) -> None:
    """List registered workers with liveness: state (active, unbonding, revoked, slashed),
    live (a fresh heartbeat of a worker running in this home, or a record in the last 10
    min: what `infer` chooses from), stake, and the time of each one's latest record.

    Example: attestia worker list --json
    """
    from rich.table import Table

    from offchain.cli.common import eth, reader_of
    from offchain.request.market import list_workers

    entries = list_workers(reader_of(ctx, light=True), settings_of(ctx).data_dir)
    if as_json:
        from offchain.cli.common import print_json

        print_json([e.to_json() for e in entries])
        return
    if not entries:
        console.print("no worker is registered: attestia worker run --model PACKAGE")
        return
    table = Table(title=f"{len(entries)} worker(s), newest first")
    table.add_column("signer", no_wrap=True)
    for col in ("state", "live", "stake (ETH)", "records", "latest record"):
        table.add_column(col)
    for e in entries:
        last = e.to_json()["lastRecordAt"]
        table.add_row(e.signer, e.state, "yes" if e.live else "no", eth(e.worker.stake),
                      str(e.records), last or "never")
    console.print(table)


stake_app = typer.Typer(help="Add to, unbond or withdraw a worker key's stake (its operator "
                        "only).", no_args_is_help=True)
worker_app.add_typer(stake_app, name="stake")

_SIGNER_HELP = "The worker's signing address (attestia worker list)."


def _print_stake(state, as_json: bool, what: str) -> None:
    from offchain.cli.common import eth, print_json

    if as_json:
        print_json(state.to_json())
        return
    data = state.to_json()
    line = f"worker {state.signer}: {what}; stake {eth(state.stake)} ETH"
    if data["withdrawableAt"]:
        line += f", withdrawable from {data['withdrawableAt']}"
    console.print(line, highlight=False, soft_wrap=True)


@stake_app.command("add")
def stake_add_cmd(
    ctx: typer.Context,
    amount: str = typer.Argument(..., help="ETH to add to the stake, e.g. 0.5."),
    signer: str = typer.Option(..., "--signer", help=_SIGNER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the stake as JSON."),
    dev_account: int = dev_account_option(1, "worker operator"),
) -> None:
    """Add ETH to a worker key's stake (operator only).

    Example: attestia worker stake add 0.5 --signer 0x7099…
    """
    from offchain.admin import add_stake
    from offchain.cli.common import eth, parse_address, parse_eth

    wei = parse_eth(amount, "AMOUNT")
    address = parse_address(signer, "--signer")
    attestia = attestia_of(ctx)
    state = add_stake(attestia, address, wei, attestia.chain.account(dev_account))
    _print_stake(state, as_json, f"added {eth(wei)} ETH")


@stake_app.command("unbond")
def stake_unbond_cmd(
    ctx: typer.Context,
    signer: str = typer.Option(..., "--signer", help=_SIGNER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the stake as JSON."),
    dev_account: int = dev_account_option(1, "worker operator"),
) -> None:
    """Begin unbonding a worker key (operator only): it stops taking requests, and its stake
    is withdrawable after the unbonding delay (the time is printed, in local time).

    Example: attestia worker stake unbond --signer 0x7099…
    """
    from offchain.admin import begin_unbonding
    from offchain.cli.common import parse_address

    address = parse_address(signer, "--signer")
    attestia = attestia_of(ctx)
    state = begin_unbonding(attestia, address, attestia.chain.account(dev_account))
    _print_stake(state, as_json, "unbonding")


@stake_app.command("withdraw")
def stake_withdraw_cmd(
    ctx: typer.Context,
    signer: str = typer.Option(..., "--signer", help=_SIGNER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the stake as JSON."),
    dev_account: int = dev_account_option(1, "worker operator"),
) -> None:
    """Withdraw a worker key's whole stake once its unbonding delay has passed (operator
    only; before that, the error says when).

    Example: attestia worker stake withdraw --signer 0x7099…
    """
    from offchain.admin import withdraw_stake
    from offchain.cli.common import eth, parse_address

    address = parse_address(signer, "--signer")
    attestia = attestia_of(ctx)
    state = withdraw_stake(attestia, address, attestia.chain.account(dev_account))
    if as_json:
        _print_stake(state, True, "")
        return
    console.print(f"worker {address}: withdrew {eth(state.moved)} ETH of stake",
                  highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(worker_app, name="worker")
