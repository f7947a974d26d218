"""``attestia watch`` and ``attestia dispute``: a requester's home catches a worker that
misattributes (all basis points to one contributor, with an honest answer), challenges it by
itself, the worker cannot answer with an honest trace, and the deadline slashes it; an honest
record is left alone; bad input is one error line and nothing sent."""

from __future__ import annotations

import json

import pytest

from offchain.chain.accounts import dev_account
from offchain.protocol import BPS, DisputeState
from offchain.request.client import wait_for_outcomes
from tests.rewards.helpers import cli, cli_home
from tests.worker.helpers import CLIENT, lying_engine, make_worker, send_demo_requests


@pytest.mark.slow  # in `make test-slow` (CI runs it): keeps `make test` under 12 min
def test_watch_catches_a_misattribution_and_the_deadline_slashes(
        attestia, served_model, demo_package, demo_package_dir, settings, tmp_path) -> None:
    home = cli_home(settings, tmp_path / "home")
    data_dir = home / ".attestia"
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    honest_req, lying_req = send_demo_requests(attestia, demo_package, data_dir, 2,
                                               worker=node.signer.address)
    node.run(until_idle=True, max_seconds=30)  # wait: see below
    assert wait_for_outcomes(attestia, [honest_req], timeout=5)
    stats_before = node.stats.recorded
    assert stats_before >= 1
    pkg = str(demo_package_dir)
    dev = ["--dev-account", str(CLIENT)]

    # Both were recorded honestly: a watch pass finds nothing to do.
    out = cli(settings, home, "watch", "--model", pkg, "--once", "--json", *dev)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["checked"], report["correct"], report["challenged"]) == (2, 2, [])
    rid = "0x" + honest_req.request_id.hex()
    refused = cli(settings, home, "dispute", "open", rid, "--model", pkg, "--yes", *dev)
    assert refused.returncode == 1 and "honest one" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    # A third request, recorded by the lying engine.
    lying_engine(node, served_model.model_id)
    (bad,) = send_demo_requests(attestia, demo_package, data_dir, 1, offset=7,
                                worker=node.signer.address)
    node.run(until_idle=True)
    (outcome,) = wait_for_outcomes(attestia, [bad], timeout=5).values()
    assert len(outcome.shares) == 1 and outcome.shares[0][1] == BPS
    out = cli(settings, home, "watch", "--model", pkg, "--once", "--json", *dev)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    bad_id = "0x" + bad.request_id.hex()
    assert report["challenged"] == [bad_id] and report["correct"] == 2

    # The running worker tries to answer with the honest trace: refused (BpsDoNotFollow).
    node.run(until_idle=True)
    assert attestia.slasher.dispute(bad.request_id).state == DisputeState.OPEN
    status = json.loads(cli(settings, home, "dispute", "status", bad_id, "--json").stdout)
    assert status["state"] == "open" and status["challenger"] == dev_account(CLIENT).address

    attestia.chain.w3.provider.make_request("evm_increaseTime",
                                            [attestia.slasher.response_window() + 1])
    attestia.chain.w3.provider.make_request("evm_mine", [])
    out = cli(settings, home, "watch", "--model", pkg, "--once", "--json", *dev)
    assert json.loads(out.stdout)["resolved"] == [bad_id], out.stderr
    status = json.loads(cli(settings, home, "dispute", "status", bad_id, "--json").stdout)
    assert status["state"] == "no_response" and status["fraud"] == "no_response"
    assert status["attribution"].startswith("re-attributed by the equal split")
    assert attestia.registry.worker(node.signer.address).slashedAt != 0
    human = cli(settings, home, "dispute", "status", bad_id)
    assert "no response" in human.stdout and "equal split" in human.stdout
    # verify shows the dispute: the lost one fails its record's line, an untouched one passes.
    lost = cli(settings, home, "verify", bad_id, "--json")
    assert lost.returncode == 1
    line = next(c for c in json.loads(lost.stdout)["checks"] if c["name"] == "dispute")
    assert line["status"] == "FAIL" and "no response" in line["reason"]
    fine = cli(settings, home, "verify", rid, "--json")
    line = next(c for c in json.loads(fine.stdout)["checks"] if c["name"] == "dispute")
    assert line["status"] == "PASS" and "not challenged" in line["reason"]


@pytest.mark.slow
def test_dispute_bad_input_is_one_line_and_sends_nothing(attestia, served_model, settings,
                                                         demo_package_dir, tmp_path) -> None:
    home = cli_home(settings, tmp_path / "home")
    w3 = attestia.chain.w3
    nonce = w3.eth.get_transaction_count(dev_account(CLIENT).address)
    missing = "0x" + "ab" * 32
    cases = [
        (["dispute", "status", "0x1234"], "request id"),
        (["dispute", "open", missing, "--model", str(demo_package_dir)], "--yes"),
        (["dispute", "open", missing, "--model", str(demo_package_dir), "--yes"],
         "no local request"),
        (["dispute", "open", missing, "--model", str(tmp_path / "nope"), "--yes"], ""),
        (["dispute", "prove", missing, "--model", str(tmp_path / "nope")], "package"),
        (["dispute", "resolve", missing], "WrongDisputeState"),
        (["watch", "--model", str(demo_package_dir), "--interval", "0"], "--interval"),
    ]
    for args, expected in cases:
        out = cli(settings, home, *args, "--dev-account", str(CLIENT)) \
            if args[1] not in ("status",) else cli(settings, home, *args)
        assert out.returncode != 0, (args, out.stdout)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in out.stderr, (args, out.stderr)
        assert expected in lines[0], (args, lines[0])
    assert w3.eth.get_transaction_count(dev_account(CLIENT).address) == nonce


@pytest.mark.slow
def test_frivolous_challenge_by_hand_respond_prove_resolve(
        attestia, served_model, demo_package, demo_package_dir, settings, tmp_path) -> None:
    """open --force on an honest record, the operator answers with `dispute respond` (no
    worker running), `dispute prove` finds nothing (exit 1), `dispute resolve` after the
    deadline gives the bond to the worker."""
    home = cli_home(settings, tmp_path / "home")
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    node.disputes = None  # this worker does not answer by itself: the operator does, by hand
    (local,) = send_demo_requests(attestia, demo_package, home / ".attestia", 1,
                                  worker=node.signer.address)
    node.run(until_idle=True)
    assert wait_for_outcomes(attestia, [local], timeout=5)
    rid = "0x" + local.request_id.hex()
    pkg = str(demo_package_dir)
    opened = cli(settings, home, "dispute", "open", rid, "--model", pkg, "--yes", "--force",
                 "--json", "--dev-account", str(CLIENT))
    assert opened.returncode == 0, opened.stderr
    assert json.loads(opened.stdout)["state"] == "open"
    # The challenge made the input public: a stranger (no local request) verifies with it.
    stranger = cli_home(settings, tmp_path / "stranger")
    seen = cli(settings, stranger, "verify", rid, "--package", pkg, "--json")
    checks = {c["name"]: c for c in json.loads(seen.stdout)["checks"]}
    assert checks["input"]["status"] == "PASS", checks["input"]
    assert "revealed on chain" in checks["input"]["reason"]
    assert checks["output"]["status"] == "PASS", checks["output"]
    answered = cli(settings, home, "dispute", "respond", rid, "--model", pkg,
                   "--publish-dir", str(tmp_path / "traces"), "--json", "--dev-account", "1")
    assert answered.returncode == 0, answered.stderr
    data = json.loads(answered.stdout)
    assert data["state"] == "responded" and data["traceUri"].startswith("file://")
    honest = cli(settings, home, "dispute", "prove", rid, "--model", pkg, "--dev-account",
                 str(CLIENT))
    assert honest.returncode == 1 and "nothing to prove" in honest.stdout
    early = cli(settings, home, "dispute", "resolve", rid, "--dev-account", str(CLIENT))
    assert early.returncode == 1 and "DeadlineNotReached" in early.stderr
    attestia.chain.w3.provider.make_request("evm_increaseTime",
                                            [3 * attestia.slasher.response_window() + 1])
    attestia.chain.w3.provider.make_request("evm_mine", [])
    done = cli(settings, home, "dispute", "resolve", rid, "--json", "--dev-account",
               str(CLIENT))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["state"] == "worker_won" and data["attribution"] == "stands as recorded"
    assert attestia.slasher.balance(node.operator.address) == attestia.slasher.dispute_bond()
