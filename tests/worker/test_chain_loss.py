"""The chain goes away under a running worker and comes back: the worker waits (one clear log
line, no traceback), resumes from its journal and serves the next request in the same process.
A client command against a dead endpoint prints one error line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from offchain.chain.accounts import dev_account
from offchain.chain.anvil import EmbeddedChain, free_port
from offchain.chain.connection import connect
from offchain.chain.deploy import deploy
from offchain.config import REPO_ROOT, load_settings
from offchain.models.onchain import register_model
from offchain.registry import Attestia
from offchain.request.client import wait_for_outcomes
from tests.worker.helpers import send_demo_requests


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    return env | {"ATTESTIA_HOME": str(home)}


def _wait_for(what: str, check, proc: subprocess.Popen, log_path: Path,
              timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert proc.poll() is None, f"worker exited while waiting for {what}:\n" \
            + log_path.read_text()
        assert time.monotonic() < deadline, f"no {what}:\n" + log_path.read_text()
        time.sleep(0.1)


@pytest.mark.slow  # in `make test-slow` (CI runs it): keeps `make test` under 12 min
def test_worker_waits_for_a_lost_chain_and_serves_the_next_request(
    project_home, demo_package, demo_package_dir, tmp_path
) -> None:
    node = EmbeddedChain(tmp_path / "own-chain", free_port())
    node.up()
    worker = None
    try:
        settings = load_settings(home=project_home, rpc_url=node.url)
        chain = connect(settings)
        deployment, _ = deploy(chain, fresh=True)
        attestia = Attestia(chain, deployment)
        register_model(attestia, demo_package, fee=10**15, kinds=["signed"],
                       account=dev_account(0))
        operator = dev_account(1)
        log_path = tmp_path / "worker.log"
        with log_path.open("w") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "offchain.cli.main", "--rpc-url", node.url, "worker",
                 "run", "--model", str(demo_package_dir), "--name", "steady", "--dev-account",
                 "1"], cwd=REPO_ROOT, env=_env(project_home), stdout=log,
                stderr=subprocess.STDOUT)
        _wait_for("banner", lambda: "data dir" in log_path.read_text(), worker, log_path)
        [first] = send_demo_requests(attestia, demo_package, tmp_path, 1,
                                     worker=operator.address)
        assert wait_for_outcomes(attestia, [first], timeout=60)[first.request_id].output \
            is not None

        assert node.down()  # graceful: Anvil writes its state file as it stops
        _wait_for("waiting line", lambda: "chain unreachable at " in log_path.read_text(),
                  worker, log_path, timeout=30)
        time.sleep(3)  # a few retries while the chain is down
        text = log_path.read_text()
        assert worker.poll() is None, text
        assert f"chain unreachable at {node.url}: waiting, retrying every 1-10 s" in text
        assert text.count("chain unreachable at") == 1, text
        assert "Traceback" not in text, text

        node.up()  # same port, same state file
        _wait_for("resume line", lambda: "chain back at block" in log_path.read_text(),
                  worker, log_path, timeout=60)
        for sender in chain._senders.values():
            sender.resync()
        [second] = send_demo_requests(attestia, demo_package, tmp_path, 1,
                                      worker=operator.address, offset=1)
        outcome = wait_for_outcomes(attestia, [second], timeout=60)[second.request_id]
        assert outcome.output is not None and outcome.rejected is None
        assert outcome.inference.worker == operator.address
        assert worker.poll() is None  # the same process recorded it
        text = log_path.read_text()
        assert "Traceback" not in text, text
        assert text.count(" recorded 0x") == 2, text
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        node.down()
    assert worker.returncode == 0, log_path.read_text()
    assert "stopped: 2 recorded, 0 rejected" in log_path.read_text()


def test_infer_against_a_dead_endpoint_prints_one_error_line(project_home, tmp_path) -> None:
    (tmp_path / "x.json").write_text(json.dumps({"features": {"mean_radius": 14.0}}))
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "offchain.cli.main", "--rpc-url", url, "infer", "--model",
         "0x" + "11" * 32, "--input", str(tmp_path / "x.json")],
        cwd=REPO_ROOT, env=_env(project_home), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("error: cannot reach the RPC endpoint " + url), lines[0]
    assert result.stdout == ""



def test_a_connection_lost_mid_broadcast_resumes_with_the_journaled_bytes(
    attestia, served_model, demo_package, demo_package_dir, tmp_path, monkeypatch
) -> None:
    """The second of three journaled transactions fails to go out (the chain went away):
    the round ends, the worker settles the journal (the sent one is found mined, the other
    two are re-broadcast as they are) and records each request exactly once."""
    from offchain.chain.connection import RPCUnavailable
    from offchain.worker import journal as J
    from offchain.worker import node as node_module
    from tests.worker.helpers import make_worker

    monkeypatch.setattr(node_module, "RETRY_FIRST", 0.01)
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    sent = send_demo_requests(attestia, demo_package, tmp_path, 3, worker=node.signer.address)
    w3 = attestia.chain.w3
    nonce = w3.eth.get_transaction_count(node.operator.address)
    real, seen = node.sender.broadcast, []

    def flaky(tx_hash: bytes, raw: bytes) -> bytes:
        seen.append(tx_hash)
        if len(seen) == 2:
            raise RPCUnavailable("eth_sendRawTransaction: the RPC endpoint failed 3 "
                                 "attempt(s): ConnectionError")
        return real(tx_hash, raw)

    def flaky_many(signed: list[tuple[bytes, bytes]]) -> None:  # a round's batch, in order
        for tx_hash, raw in signed:
            flaky(tx_hash, raw)

    monkeypatch.setattr(node.sender, "broadcast", flaky)
    monkeypatch.setattr(node.sender, "broadcast_many", flaky_many)
    stats = node.run(until_idle=True)
    assert stats.recorded == 3 and stats.failed == 0
    assert node.journal.counts() == {J.DONE: 3}
    assert w3.eth.get_transaction_count(node.operator.address) == nonce + 3
    assert len(set(seen)) == 3 and seen[1] in seen[2:]  # the failed one went out again as is
    outcomes = wait_for_outcomes(attestia, sent, timeout=10)
    assert all(outcomes[s.request_id].output is not None for s in sent)


def test_a_round_that_fails_for_a_bug_is_logged_and_the_worker_goes_on(
    attestia, served_model, demo_package, demo_package_dir, tmp_path, monkeypatch, caplog
) -> None:
    from offchain.worker import node as node_module
    from tests.worker.helpers import make_worker

    monkeypatch.setattr(node_module, "RETRY_FIRST", 0.01)
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    sent = send_demo_requests(attestia, demo_package, tmp_path, 2, worker=node.signer.address)
    real, calls = node.poll, []

    def buggy() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug nobody foresaw")
        return real()

    monkeypatch.setattr(node, "poll", buggy)
    with caplog.at_level("INFO", logger="attestia.worker"):
        stats = node.run(until_idle=True)
    assert stats.recorded == 2
    assert "round failed (a bug): RuntimeError: a bug nobody foresaw" in caplog.text
    assert "chain unreachable" not in caplog.text
    assert len(wait_for_outcomes(attestia, sent, timeout=10)) == 2


@pytest.mark.slow  # in `make test-slow` (CI runs it): keeps `make test` under 12 min
def test_a_batching_worker_waits_for_a_lost_chain_and_commits_the_next_batch(
    project_home, demo_package, demo_package_dir, tmp_path
) -> None:
    """`worker run --batch-size`: the chain goes away after a first batch, requests reach the
    inbox meanwhile; the chain comes back and the same process commits them and the next
    ones; nothing is committed twice, no traceback."""
    from offchain.models.encoding import encode_tensor
    from offchain.models.registrations import resolve_model_id
    from offchain.request.inbox import offchain_request, submit_offchain
    from tests.worker.helpers import demo_inputs

    node = EmbeddedChain(tmp_path / "own-chain", free_port())
    node.up()
    worker = None
    try:
        settings = load_settings(home=project_home, rpc_url=node.url)
        chain = connect(settings)
        deployment, _ = deploy(chain, fresh=True)
        attestia = Attestia(chain, deployment)
        register_model(attestia, demo_package, fee=10**15, kinds=["signed"],
                       account=dev_account(0))
        model_id = resolve_model_id(attestia, demo_package).model_id
        inbox = project_home / ".attestia" / "workers" / "batcher" / "inbox"
        log_path = tmp_path / "worker.log"

        def submit(offset: int) -> None:
            submit_offchain(inbox, [offchain_request(model_id, encode_tensor(raw), fee=10**15,
                                                     requester=dev_account(2).address)
                                    for raw in demo_inputs(2, offset)])

        def committed() -> int:
            try:
                return len(attestia.registry.batches())
            except Exception:  # the chain is down
                return -1

        with log_path.open("w") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "offchain.cli.main", "--rpc-url", node.url, "worker",
                 "run", "--model", str(demo_package_dir), "--name", "batcher", "--dev-account",
                 "1", "--batch-size", "2", "--max-latency", "0.5"], cwd=REPO_ROOT,
                env=_env(project_home), stdout=log, stderr=subprocess.STDOUT)
        _wait_for("ready line", lambda: "ready: serving requests and batching" in
                  log_path.read_text(), worker, log_path)
        submit(0)
        _wait_for("first batch", lambda: committed() == 1, worker, log_path, timeout=60)

        assert node.down()
        _wait_for("waiting line", lambda: "chain unreachable at " in log_path.read_text(),
                  worker, log_path, timeout=30)
        submit(2)  # arrives while the chain is away
        time.sleep(3)  # a few retries
        assert worker.poll() is None, log_path.read_text()

        node.up()
        _wait_for("resume line", lambda: "chain back at block" in log_path.read_text(),
                  worker, log_path, timeout=60)
        _wait_for("second batch", lambda: committed() == 2, worker, log_path, timeout=60)
        submit(4)  # and the next one, as usual
        _wait_for("third batch", lambda: committed() == 3, worker, log_path, timeout=60)
        batches = attestia.registry.batches()
        assert len({b.batch_id for b in batches}) == 3 and all(b.count == 2 for b in batches)
        text = log_path.read_text()
        assert "Traceback" not in text, text
        assert worker.poll() is None
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        node.down()
    assert worker.returncode == 0, log_path.read_text()
    assert "stopped: 6 recorded" in log_path.read_text()
