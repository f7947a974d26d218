"""Exactly once: a worker killed at any point neither loses a request nor records one twice.

Workers run as real ``attestia worker run`` processes. Crashes are injected at named points
(ATTESTIA_WORKER_CRASH_AT: a hard ``os._exit``) and at random times (SIGKILL). After each
crash the worker is restarted; at the end every request is recorded once, and the operator
sent exactly one transaction per request (a duplicate would cost a reverted transaction).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from offchain.chain.accounts import dev_account
from offchain.config import REPO_ROOT
from offchain.sealing import EncryptionKey
from offchain.worker.registration import ensure_registered
from tests.worker.helpers import send_demo_requests

OPERATOR = 1


def worker_cmd(settings, package_dir: Path, name: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "offchain.cli.main", "--rpc-url", settings.rpc_url, "worker",
            "run", "--model", str(package_dir), "--name", name, "--dev-account", str(OPERATOR),
            *extra]


def start(settings, package_dir, name, *extra, crash_at: str | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    env["ATTESTIA_HOME"] = str(settings.home)
    if crash_at:
        env["ATTESTIA_WORKER_CRASH_AT"] = crash_at
    return subprocess.Popen(worker_cmd(settings, package_dir, name, *extra), cwd=REPO_ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def registered_operator(attestia, settings, name: str) -> int:
    key = EncryptionKey.load_or_create(settings.data_dir / "workers" / name / "encryption.key")
    ensure_registered(attestia, dev_account(OPERATOR), key, dev_account(OPERATOR))
    return attestia.chain.w3.eth.get_transaction_count(dev_account(OPERATOR).address)


def assert_each_recorded_once(attestia, sent, nonce_before: int) -> None:
    records = attestia.registry.recorded()
    ids = [r.request_id for r in records]
    assert sorted(ids) == sorted(s.request_id for s in sent)
    assert len(ids) == len(set(ids))
    sent_txs = attestia.chain.w3.eth.get_transaction_count(dev_account(OPERATOR).address)
    assert sent_txs - nonce_before == len(sent), "a request cost more than one transaction"


@pytest.mark.parametrize(
    "point", ["before-cursor", "before-sign", "after-journal", "mid-broadcast", "after-send"]
)
def test_crash_at_each_point_then_restart(
    attestia, settings, served_model, demo_package, demo_package_dir, tmp_path, point
) -> None:
    name = f"crash-{point}"
    nonce = registered_operator(attestia, settings, name)
    sent = send_demo_requests(attestia, demo_package, tmp_path, 4,
                              worker=dev_account(OPERATOR).address)
    crashed = start(settings, demo_package_dir, name, "--until-idle", crash_at=point)
    out, _ = crashed.communicate(timeout=120)
    assert crashed.returncode == 97, out
    again = start(settings, demo_package_dir, name, "--until-idle")
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 0, out
    assert_each_recorded_once(attestia, sent, nonce)


@pytest.mark.slow  # in `make test-slow` (CI runs it): keeps `make test` under 12 min
def test_random_kills_in_a_loop(
    attestia, settings, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    name = "random-kills"
    nonce = registered_operator(attestia, settings, name)
    rng = random.Random(20261125)
    sent = []
    for round_ in range(4):
        sent += send_demo_requests(attestia, demo_package, tmp_path, 5, offset=5 * round_,
                                   worker=dev_account(OPERATOR).address)
        proc = start(settings, demo_package_dir, name)
        time.sleep(rng.uniform(1.0, 3.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    final = start(settings, demo_package_dir, name, "--until-idle")
    out, _ = final.communicate(timeout=120)
    assert final.returncode == 0, out
    assert_each_recorded_once(attestia, sent, nonce)


def test_sigterm_finishes_in_flight_work_and_exits_zero(
    attestia, settings, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    name = "sigterm"
    nonce = registered_operator(attestia, settings, name)
    sent = send_demo_requests(attestia, demo_package, tmp_path, 6,
                              worker=dev_account(OPERATOR).address)
    proc = start(settings, demo_package_dir, name)
    deadline = time.monotonic() + 60
    while not attestia.registry.recorded() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "stopped:" in out
    # Whatever was in flight is settled; a restart finishes the rest, once each.
    final = start(settings, demo_package_dir, name, "--until-idle")
    final.communicate(timeout=120)
    assert_each_recorded_once(attestia, sent, nonce)
