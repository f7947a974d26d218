"""``attestia dispute`` and ``attestia watch`` on batch leaves: a batching worker that
misattributes its off-chain requests is challenged by the requester's home (one leaf by hand
with ``dispute open batch:0x<id>:<i>``, the other by ``watch``), cannot answer honestly, and the
deadline slashes it; a leaf reference that does not exist is one error line."""

from __future__ import annotations

import json
import time

import pytest

from offchain.protocol import DisputeState
from offchain.request.inbox import submit_offchain
from offchain.request.submit import Submission
from offchain.worker.batching import run_batch_mode
from tests.rewards.helpers import cli, cli_home
from tests.worker.helpers import lying_engine
from tests.worker.test_batching import CLIENT, FEE, committed_batches, make_node, requests_for


@pytest.mark.slow  # in `make test-slow` (CI runs it): a worker and seven CLI runs
def test_leaves_are_challenged_by_hand_and_by_watch_and_the_deadline_slashes(
        attestia, served_model, demo_package_dir, settings, tmp_path) -> None:
    home = cli_home(settings, tmp_path / "home")
    data_dir = home / ".attestia"
    worker_dir = tmp_path / "w"
    node = make_node(attestia, demo_package_dir, worker_dir)
    lying_engine(node, served_model.model_id)
    engine = node.engines[served_model.model_id]
    engine.evaluate_batch = lambda raws, workers=1: [engine.evaluate(raw) for raw in raws]
    entries = requests_for(served_model, 2)
    inbox = submit_offchain(worker_dir / "inbox", entries)
    for entry in entries:  # what `attestia request submit` keeps in the requester's home
        Submission(bytes.fromhex(entry["requestId"][2:]), served_model.model_id,
                   node.signer.address, str(worker_dir), str(inbox),
                   bytes.fromhex(entry["inputBytes"][2:]), bytes.fromhex(entry["salt"][2:]),
                   FEE, CLIENT.address, time.time()).save(data_dir)
    run_batch_mode(node, worker_dir, batch_size=2, max_latency=30, until_idle=True)
    [event] = committed_batches(attestia)
    refs = [f"batch:0x{event.batch_id.hex()}:{i}" for i in range(2)]
    pkg = str(demo_package_dir)
    dev = ["--dev-account", "2"]

    opened = cli(settings, home, "dispute", "open", refs[0], "--model", pkg, "--yes", "--json",
                 *dev)
    assert opened.returncode == 0, opened.stderr
    data = json.loads(opened.stdout)
    assert (data["leaf"], data["state"]) == (refs[0], "open")
    assert data["challenger"] == CLIENT.address and data["worker"] == node.signer.address

    out = cli(settings, home, "watch", "--model", pkg, "--once", "--json", *dev)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["challenged"] == [refs[1]]

    # The running worker tries to answer with the honest trace: refused (BpsDoNotFollow).
    run_batch_mode(node, worker_dir, batch_size=2, max_latency=30, until_idle=True)
    w3 = attestia.chain.w3
    w3.provider.make_request("evm_increaseTime", [attestia.slasher.response_window() + 1])
    w3.provider.make_request("evm_mine", [])
    out = cli(settings, home, "watch", "--model", pkg, "--once", "--json", *dev)
    assert sorted(json.loads(out.stdout)["resolved"]) == sorted(refs), out.stderr
    status = json.loads(cli(settings, home, "dispute", "status", refs[1], "--json").stdout)
    assert status["state"] == "no_response" and status["disputeId"] != status["requestId"]
    assert attestia.registry.worker(node.signer.address).slashedAt != 0
    assert attestia.slasher.dispute(bytes.fromhex(status["disputeId"][2:])).state == \
        DisputeState.NO_RESPONSE

    missing = cli(settings, home, "dispute", "status", f"batch:0x{event.batch_id.hex()}:5")
    assert missing.returncode == 1 and "has 2 leaves" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
