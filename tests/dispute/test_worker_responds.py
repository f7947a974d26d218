"""A running worker answers a challenge to its record by itself, with the honest trace of the
demo model (N = 489): the challenger finds no fraud in it. The batch-mode worker too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from offchain.attribution.trace import AttributionModel
from offchain.chain.accounts import dev_account
from offchain.config import REPO_ROOT
from offchain.dispute import game
from offchain.protocol import DisputeState
from offchain.request.client import wait_for_outcomes
from tests.rewards.helpers import cli_home
from tests.worker.helpers import CLIENT, challenge_record, make_worker, send_demo_requests


def test_worker_answers_a_challenge_with_the_honest_trace(attestia, served_model,
                                                          demo_package, demo_package_dir,
                                                          tmp_path) -> None:
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    (local,) = send_demo_requests(attestia, demo_package, tmp_path, 1,
                                  worker=node.signer.address)
    node.run(until_idle=True)
    rid = challenge_record(attestia, demo_package, local)
    node.run(until_idle=True)  # one round: the worker sees the challenge and answers it
    dispute = attestia.slasher.dispute(rid)
    assert dispute.state == DisputeState.RESPONDED and dispute.n == 489
    (responded,) = attestia.slasher.responded(request_id=rid)
    assert responded.trace_uri.startswith("file://")
    assert (tmp_path / "w" / "traces" / f"trace-0x{rid.hex()}.json").is_file()
    model = AttributionModel.of_package(demo_package)
    assert game.find_fraud(attestia, model, rid) is None
    # Answered once: another round sends nothing.
    nonce = attestia.chain.w3.eth.get_transaction_count(node.operator.address)
    node.run(until_idle=True)
    assert attestia.chain.w3.eth.get_transaction_count(node.operator.address) == nonce
    # A challenger descends anyway (picking the first node each time): the running worker
    # answers every reveal down to the step, and nothing is provable there.
    challenger = dev_account(CLIENT)
    slasher = attestia.slasher
    attestia.send(slasher.descend(rid, slasher.dispute_bond()), account=challenger)
    for _ in range(3):  # N = 489: depth 9, reveals of 16, 16 and 2 nodes
        node.run(until_idle=True)
        reveal = slasher.nodes_revealed(rid, challenger.address)[-1]
        attestia.send(slasher.pick(rid, reveal.nodes, 0), account=challenger)
    node.run(until_idle=True)
    (step,) = slasher.steps_revealed(rid, challenger.address)
    assert step.position == 0 and step.step == model.trace(
        game.view(attestia, rid).opened.query, dispute.label).step(0)  # type: ignore[union-attr]
    assert len(slasher.nodes_revealed(rid)) == 3


def test_a_batch_mode_worker_process_answers_a_frivolous_challenge_and_keeps_its_stake(
        attestia, served_model, demo_package, demo_package_dir, settings, tmp_path) -> None:
    """`worker run --batch-size` serves on-chain requests too: a challenge to one of those
    records is answered by the same process (issue 17, attack 3), so the challenger's bond
    goes to the operator and the stake stays whole."""
    home = cli_home(settings, tmp_path / "home")
    operator = dev_account(1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    env["ATTESTIA_HOME"] = str(home)
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "offchain.cli.main", "--rpc-url", settings.rpc_url, "worker",
             "run", "--model", str(demo_package_dir), "--name", "batcher", "--dev-account", "1",
             "--batch-size", "4", "--max-latency", "0.5"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: "ready: serving requests and batching" in log_path.read_text(),
                  worker, log_path)
        (local,) = send_demo_requests(attestia, demo_package, tmp_path, 1,
                                      worker=operator.address)
        wait_for_outcomes(attestia, [local], timeout=60)
        stake = attestia.registry.worker(operator.address).stake
        credited = attestia.slasher.balance(operator.address)
        rid = challenge_record(attestia, demo_package, local)
        _wait_for(lambda: attestia.slasher.dispute(rid).state == DisputeState.RESPONDED, worker,
                  log_path)
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    assert code == 0 and "Traceback" not in log_path.read_text(), log_path.read_text()
    assert game.find_fraud(attestia, AttributionModel.of_package(demo_package),
                           rid) is None
    w3 = attestia.chain.w3
    w3.provider.make_request("evm_increaseTime", [3 * attestia.slasher.response_window() + 1])
    w3.provider.make_request("evm_mine", [])
    game.resolve(attestia, rid, account=dev_account(CLIENT))
    assert attestia.slasher.dispute(rid).state == DisputeState.WORKER_WON
    assert attestia.registry.worker(operator.address).stake == stake
    assert attestia.slasher.balance(operator.address) == credited + attestia.slasher.dispute_bond()


def _wait_for(condition, process, log_path: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.2)


def test_a_batching_worker_answers_a_challenge_to_its_own_batch_leaf(
        attestia, served_model, demo_package, demo_package_dir, tmp_path) -> None:
    """A leaf's challenge names the batch's worker; its responder reads the leaf's list from
    its own published batch file and answers with the honest trace (no fraud to find)."""
    from offchain.request.inbox import submit_offchain
    from offchain.worker.batching import run_batch_mode
    from tests.worker.test_batching import committed_batches, make_node, requests_for

    worker_dir = tmp_path / "w"
    node = make_node(attestia, demo_package_dir, worker_dir)
    entries = requests_for(served_model, 2)
    submit_offchain(worker_dir / "inbox", entries)
    run_batch_mode(node, worker_dir, batch_size=2, max_latency=30, until_idle=True)
    [event] = committed_batches(attestia)
    leaf = game.batch_leaf(attestia, event.batch_id, 1)
    (entry,) = [e for e in entries if e["requestId"] == "0x" + leaf.inference.requestId.hex()]
    from offchain.dispute.watch import leaf_material
    from offchain.request.submit import Submission

    sub = Submission(leaf.inference.requestId, served_model.model_id, node.signer.address,
                     str(worker_dir), "", bytes.fromhex(entry["inputBytes"][2:]),
                     bytes.fromhex(entry["salt"][2:]), 0, dev_account(CLIENT).address, 0.0)
    found = leaf_material(sub, leaf.inference)
    game.open_leaf_challenge(attestia, leaf, found.input_bytes, found.salt, found.output,
                             demo_package.attribution_spec(), account=dev_account(CLIENT))
    run_batch_mode(node, worker_dir, batch_size=2, max_latency=30, until_idle=True)
    dispute = attestia.slasher.dispute(leaf.dispute_id)
    assert dispute.state == DisputeState.RESPONDED and dispute.n == 489
    assert game.find_fraud(attestia, AttributionModel.of_package(demo_package),
                           leaf.dispute_id) is None
