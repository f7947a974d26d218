"""The end-to-end demo on a local dev chain, as ``make demo`` runs it.

deploy -> register the demo model and its contributors -> start a worker (a real
``attestia worker run`` process) -> a client makes paid requests -> advance time and settle
the epoch -> every contributor claims -> worker and owner withdraw -> summary.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from web3.types import RPCEndpoint

from offchain.chain.accounts import dev_account
from offchain.chain.connection import Chain, connect
from offchain.chain.deploy import deploy
from offchain.config import Settings
from offchain.errors import ChainError, ConfigError
from offchain.models import load_package
from offchain.models.demo import CONTRIBUTORS, build_demo_package, holdout
from offchain.models.onchain import register_model
from offchain.protocol import epoch_at, epoch_end
from offchain.registry import Attestia
from offchain.request.client import build_requests, send_requests, wait_for_outcomes
from offchain.request.market import mean_attribution_bps
from offchain.rewards.chain import claim, settle
from offchain.sealing import EncryptionKey
from offchain.worker.registration import ensure_worker
from offchain.worker.service import key_locks

ADMIN, WORKER, CLIENT = 0, 1, 2
FEE = 10**15


@dataclass
class DemoSummary:
    addresses: dict[str, str]
    model_id: str
    recorded: int
    rejected: int
    epoch: int
    contributors: list[dict] = field(default_factory=list)
    worker_earned: int = 0
    owner_earned: int = 0
    total_gas: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"contracts": self.addresses, "modelId": self.model_id,
                "recorded": self.recorded, "rejected": self.rejected, "epoch": self.epoch,
                "contributors": [{"name": c["name"], "account": c["account"],
                                  "meanAttributionBps": c["mean_bps"],
                                  "claimedWei": c["claimed"], "cumulativeWei": c["cumulative"]}
                                 for c in self.contributors],
                "workerEarnedWei": self.worker_earned, "ownerEarnedWei": self.owner_earned,
                "totalGas": self.total_gas, "seconds": round(self.seconds, 1)}


def advance_time(chain: Chain, seconds: int) -> None:
    chain.w3.provider.make_request(RPCEndpoint("evm_increaseTime"), [seconds])
    chain.w3.provider.make_request(RPCEndpoint("evm_mine"), [])


def seconds_to_next_epoch(attestia: Attestia) -> int:
    """Seconds from the latest block to one second into the next epoch."""
    reg = attestia.registry
    now = int(attestia.chain.w3.eth.get_block("latest")["timestamp"])
    genesis, length = reg.genesis(), reg.epoch_length()
    return epoch_end(epoch_at(now, genesis, length), genesis, length) - now + 1


def end_challenge_windows(attestia: Attestia) -> int:
    """Travel past every record's challenge window, then into the next epoch; returns the
    epoch that ended, in which (or before which) every record so far is final.

    Advancing one epoch length is not enough: a record made in the last challenge window of
    an epoch becomes final in the next one, which that settlement does not cover yet.
    """
    chain = attestia.chain
    advance_time(chain, attestia.registry.challenge_window() + 1)
    advance_time(chain, seconds_to_next_epoch(attestia))
    return attestia.registry.current_epoch() - 1


def _start_worker(settings: Settings, chain: Chain, package: Path, log_path: Path):
    cmd = [sys.executable, "-m", "offchain.cli.main", "--rpc-url", chain.url, "worker", "run",
           "--model", str(package), "--name", "demo", "--dev-account", str(WORKER)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 (owned by the child)
    env = {**os.environ, "ATTESTIA_HOME": str(settings.home)}
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


def _stop_worker(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            return -9
    return proc.returncode


def run_demo(settings: Settings, *, requests: int = 50, console: Console | None = None
             ) -> DemoSummary:
    console = console or Console()
    started = time.perf_counter()
    chain = connect(settings)
    if not chain.is_local_dev:
        raise ConfigError(f"the demo advances time, so it runs on a local dev chain "
                          f"(31337 or 1337), not chain {chain.chain_id}")
    first_block = chain.w3.eth.block_number + 1
    deployment, reused = deploy(chain)
    attestia = Attestia(chain, deployment)
    addresses = {name: entry["address"] for name, entry in deployment.contracts.items()}
    console.print(f"[bold]contracts[/] on chain {chain.chain_id} ({chain.url})"
                  + (" (reused)" if reused else ""))
    for name, address in addresses.items():
        console.print(f"  {name:<18} {address}")

    admin, operator, client = (dev_account(i) for i in (ADMIN, WORKER, CLIENT))
    package_dir = settings.data_dir / "models" / "demo"
    if not (package_dir / "manifest.json").exists():
        with console.status("training the demo model (breast-cancer MLP, 5 contributors)"):
            build_demo_package(package_dir)
    package = load_package(package_dir)
    registration = register_model(attestia, package, fee=FEE, kinds=["signed", "tee"],
                                  account=admin, data_dir=settings.data_dir)
    model = registration.model
    console.print(f"[bold]model[/] {registration.hex} ({package.manifest.name}, owner "
                  f"{model.owner}), data root 0x{model.dataRoot.hex()[:16]}…, "
                  f"{model.contributors} contributors, fee {FEE / 1e18} ETH")

    worker_dir = settings.data_dir / "workers" / "demo"
    # Not under a worker already serving this key here: its encryption key would be rotated.
    locks = [lock.acquire() for lock in key_locks(attestia, operator.address, worker_dir.parent)]
    try:
        ensure_worker(attestia, operator,
                      EncryptionKey.load_or_create(worker_dir / "encryption.key"), operator)
    finally:
        for lock in locks:
            lock.release()
    proc = _start_worker(settings, chain, package_dir, worker_dir / "worker.log")
    try:
        X, _ = holdout()
        inputs = [X[i % len(X)][None, :].astype("float32") for i in range(requests)]
        built = build_requests(attestia, registration.model_id, inputs,
                               requester=client.address, worker=operator.address,
                               package=package)
        sent = send_requests(attestia, built, client, settings.data_dir)
        console.print(f"[bold]client[/] {client.address} sent {len(sent)} paid, encrypted "
                      f"requests; worker {operator.address} serving (log {worker_dir}/worker.log)")
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("waiting for records", total=len(sent))

            def on_poll(done: int) -> None:
                bar.update(task, completed=done)
                if proc.poll() is not None:
                    raise ChainError(f"the worker exited (code {proc.returncode}); see "
                                     f"{worker_dir}/worker.log")

            outcomes = wait_for_outcomes(attestia, sent, timeout=300, on_poll=on_poll)
    finally:
        code = _stop_worker(proc)
    if code != 0:
        raise ChainError(f"the worker did not stop cleanly (exit {code})")
    recorded = [o for o in outcomes.values() if not o.rejected]

    end_challenge_windows(attestia)  # every record final in an ended epoch: all are paid
    settlement = settle(attestia, settings.data_dir / "rewards", account=admin)
    advance_time(chain, attestia.distributor.timelock() + 1)
    contributors = []
    names = {c.address: c.name for c in CONTRIBUTORS}
    share_lists = [o.shares or [] for o in recorded]
    for account in sorted(settlement.cumulative):
        idx = next(i for i in range(10) if dev_account(i).address == account)
        paid = claim(attestia, account, settings.data_dir / "rewards",
                     sender_account=dev_account(idx))
        contributors.append({
            "name": names.get(account, ""), "account": account,
            "mean_bps": mean_attribution_bps(share_lists, account),
            "claimed": paid, "cumulative": settlement.cumulative[account],
        })
    earned = {}
    for who in (operator, admin):
        balance = attestia.registry.balance(who.address)
        if balance:
            attestia.send(attestia.registry.withdraw(), account=who)
        earned[who.address] = balance
    last_block = chain.w3.eth.block_number
    total_gas = sum(chain.w3.eth.get_block(b)["gasUsed"] for b in range(first_block,
                                                                        last_block + 1))
    return DemoSummary(
        addresses=addresses, model_id=registration.hex, recorded=len(recorded),
        rejected=len(outcomes) - len(recorded), epoch=settlement.epoch,
        contributors=contributors, worker_earned=earned[operator.address],
        owner_earned=earned[admin.address], total_gas=total_gas,
        seconds=time.perf_counter() - started,
    )


def print_summary(summary: DemoSummary, console: Console) -> None:
    console.print(f"\n[bold]inferences recorded:[/] {summary.recorded} "
                  f"(rejected {summary.rejected}), settled through epoch {summary.epoch}")
    table = Table(title="data contributors")
    for col in ("contributor", "address", "mean attribution", "ETH claimed now",
                "cumulative ETH"):
        table.add_column(col, justify="left" if col in ("contributor", "address") else "right")
    for c in summary.contributors:
        table.add_row(c["name"], c["account"], f"{c['mean_bps'] / 100:.2f} %",
                      f"{c['claimed'] / 1e18:.6f}", f"{c['cumulative'] / 1e18:.6f}")
    console.print(table)
    console.print(f"worker earned {summary.worker_earned / 1e18:.6f} ETH, model owner earned "
                  f"{summary.owner_earned / 1e18:.6f} ETH (withdrawn)")
    console.print(f"total gas {summary.total_gas:,} in {summary.seconds:.1f} s")
