"""The demo end to end on the test chain, the privacy scan, and the user-facing commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from offchain.config import REPO_ROOT, load_settings
from offchain.demo.flow import run_demo
from offchain.models.demo import holdout
from offchain.models.encoding import encode_tensor

REQUESTS = 12


@pytest.fixture(scope="module")
def demo_run(session_chain, anvil, tmp_path_factory):
    """One demo run for the whole module, undone afterwards (evm_snapshot / evm_revert)."""
    w3 = session_chain.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    settings = load_settings(home=tmp_path_factory.mktemp("demo-home"), rpc_url=anvil.url)
    first_block = w3.eth.block_number + 1
    summary = run_demo(settings, requests=REQUESTS)
    yield settings, summary, first_block
    w3.provider.make_request("evm_revert", [snapshot])
    for sender in session_chain._senders.values():
        sender.resync()


@pytest.fixture
def chain(session_chain):
    return session_chain


def cli(settings, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    env |= {"ATTESTIA_HOME": str(settings.home), "ATTESTIA_RPC_URL": settings.rpc_url}
    return subprocess.run([sys.executable, "-m", "offchain.cli.main", *args], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


def test_demo_records_settles_and_every_contributor_claims(demo_run, chain) -> None:
    settings, summary, _ = demo_run
    assert summary.recorded == REQUESTS and summary.rejected == 0
    assert set(summary.addresses) == {"InferenceRegistry", "RewardDistributor", "RegistryLens",
                                      "Slasher", "OutputDisputes"}
    assert len(summary.contributors) == 5
    assert all(c["claimed"] > 0 for c in summary.contributors)
    claimed = sum(c["claimed"] for c in summary.contributors)
    pool = REQUESTS * 6 * 10**14
    assert pool - 5 <= claimed <= pool  # floor rounding leaves at most one wei each
    assert summary.worker_earned == summary.owner_earned == REQUESTS * 2 * 10**14
    assert summary.total_gas > 0
    # The commands a user runs next read the same chain.
    status = cli(settings, "rewards", "status", "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert int(data["totalClaimed"]) == claimed and data["roots"][-1]["state"] == "claimable"
    verified = cli(settings, "rewards", "verify", str(summary.epoch))
    assert verified.returncode == 0 and "PASS" in verified.stdout


def test_no_plaintext_input_in_any_calldata_or_log(demo_run, chain) -> None:
    settings, _, first_block = demo_run
    X, _ = holdout()
    secrets = []
    for row in X[:REQUESTS]:
        canonical = encode_tensor(row[None, :].astype(np.float32))
        secrets += [canonical, canonical[16:], row.astype(np.float32).tobytes()[:64],
                    json.dumps([float(v) for v in row[:4]]).encode()[1:-1]]
    local = [json.loads(p.read_text()) for p in (settings.data_dir / "requests").glob("*.json")]
    secrets += [bytes.fromhex(r["salt"][2:]) for r in local]
    assert len(local) >= REQUESTS
    blobs = []
    w3 = chain.w3
    for number in range(first_block, w3.eth.block_number + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            blobs.append(bytes(tx["input"]))
            for log in w3.eth.get_transaction_receipt(tx["hash"])["logs"]:
                blobs.append(bytes(log["data"]) + b"".join(bytes(t) for t in log["topics"]))
    assert len(blobs) > REQUESTS * 2
    haystack = b"\n".join(blobs)
    for secret in secrets:
        assert secret not in haystack


def test_attribution_command_checks_the_list_against_the_chain(demo_run) -> None:
    settings, _, _ = demo_run
    request_id = next((settings.data_dir / "requests").glob("*.json")).stem
    shown = cli(settings, "attribution", request_id, "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["hashMatches"] and data["recordMatchesChain"]
    assert sum(r["bps"] for r in data["attribution"]) == 10_000
    who = data["attribution"][0]["contributor"]
    totals = json.loads(cli(settings, "attribution", "--contributor", who, "--json").stdout)
    assert totals["recordsWithShare"] >= 1 and totals["allHashesMatch"]
    missing = cli(settings, "attribution", "0x" + "00" * 32)
    assert missing.returncode == 1 and "no inference record" in missing.stderr


def test_infer_command_prints_answer_record_and_attribution(demo_run, tmp_path) -> None:
    settings, summary, _ = demo_run
    package = settings.data_dir / "models" / "demo"
    X, _ = holdout()
    from offchain.models import load_package
    from offchain.models.encoding import input_to_json

    names = load_package(package).feature_names
    (tmp_path / "x.json").write_text(json.dumps(input_to_json(X[3][None, :], names)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    env |= {"ATTESTIA_HOME": str(settings.home), "ATTESTIA_RPC_URL": settings.rpc_url}
    worker = subprocess.Popen(
        [sys.executable, "-m", "offchain.cli.main", "worker", "run", "--model", str(package),
         "--name", "demo", "--dev-account", "1"], cwd=REPO_ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # infer pays only a live worker: wait for this one's heartbeat
        beat = settings.data_dir / "workers" / "demo" / "heartbeat.json"
        deadline = time.monotonic() + 120
        while not beat.exists():
            assert worker.poll() is None and time.monotonic() < deadline, "worker not up"
            time.sleep(0.2)
        result = cli(settings, "infer", "--model", summary.model_id, "--input",
                     str(tmp_path / "x.json"), "--json")
        # The package names the model too: its id is the one `model register` recorded.
        by_package = cli(settings, "infer", "--model", str(package), "--input",
                         str(tmp_path / "x.json"), "--json")
    finally:
        worker.terminate()
        assert worker.wait(timeout=60) == 0
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["label"] in ("malignant", "benign")
    assert sum(r["bps"] for r in data["attribution"]) == 10_000
    assert Path(data["localRecord"]).exists()
    assert by_package.returncode == 0, by_package.stderr
    again = json.loads(by_package.stdout)
    assert again["label"] == data["label"] and again["requestId"] != data["requestId"]
    kept = json.loads(Path(again["localRecord"]).read_text())
    assert kept["request"]["modelId"] == summary.model_id  # the stored Request, terms included
    bad = cli(settings, "infer", "--model", summary.model_id, "--input", str(tmp_path / "no"))
    assert bad.returncode == 1 and "cannot read input" in bad.stderr
