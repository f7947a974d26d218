"""``attestia dispute open --output``, ``dispute prove --output``, ``dispute status --output``
and ``attestia watch`` on answers (issue 18): a worker that states the wrong label (with the
attribution that label gets, so every attribution check passes) is caught by re-executing
the integer network, challenged, proven wrong at one neuron and slashed; an honest answer is
left alone; bad input is one line and nothing sent."""

from __future__ import annotations

import json

import pytest

from offchain.chain.accounts import dev_account
from offchain.protocol import DisputeState, output_dispute_id
from offchain.request.client import wait_for_outcomes
from tests.rewards.helpers import cli, cli_home
from tests.worker.helpers import CLIENT, make_worker, send_demo_requests, wrong_answer_engine


@pytest.mark.slow  # ~25 s (a worker, two CLI challenges, two watch passes): `make test-slow`
def test_a_wrong_answer_is_challenged_proven_and_slashed_by_hand_and_by_watch(
        attestia, served_model, demo_package, demo_package_dir, settings, tmp_path) -> None:
    home = cli_home(settings, tmp_path / "home")
    data_dir = home / ".attestia"
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    (honest,) = send_demo_requests(attestia, demo_package, data_dir, 1,
                                   worker=node.signer.address)
    node.run(until_idle=True)
    assert wait_for_outcomes(attestia, [honest], timeout=5)
    pkg = str(demo_package_dir)
    dev = ["--dev-account", str(CLIENT)]
    rid = "0x" + honest.request_id.hex()
    nonce = attestia.chain.w3.eth.get_transaction_count(dev_account(CLIENT).address)
    refused = cli(settings, home, "dispute", "open", rid, "--output", "--model", pkg, "--yes",
                  *dev)
    assert refused.returncode == 1 and "integer network's" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert attestia.chain.w3.eth.get_transaction_count(dev_account(CLIENT).address) == nonce

    # Two wrong answers: one challenged by hand, one by `watch`.
    wrong_answer_engine(node, served_model.model_id)
    by_hand, by_watch = send_demo_requests(attestia, demo_package, data_dir, 2, offset=7,
                                           worker=node.signer.address)
    node.run(until_idle=True)
    assert len(wait_for_outcomes(attestia, [by_hand, by_watch], timeout=5)) == 2
    hand_id = "0x" + by_hand.request_id.hex()
    opened = cli(settings, home, "dispute", "open", hand_id, "--output", "--model", pkg,
                 "--yes", "--json", *dev)
    assert opened.returncode == 0, opened.stderr
    assert json.loads(opened.stdout)["state"] == "open"
    # The watch challenges the other one (the hand-opened one is already under dispute) and
    # leaves the honest one alone; their attributions are the recorded labels' (correct).
    out = cli(settings, home, "watch", "--model", pkg, "--once", "--json", *dev)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    watch_id = "0x" + by_watch.request_id.hex()
    assert report["outputChallenged"] == [watch_id], report
    assert report["challenged"] == [] and report["correct"] == 3
    node.run(until_idle=True)  # the worker answers both with its (honest) activations
    for request in (by_hand, by_watch):
        dispute = attestia.slasher.output_dispute(output_dispute_id(request.request_id))
        assert dispute.state == DisputeState.RESPONDED
    proved = cli(settings, home, "dispute", "prove", hand_id, "--output", "--model", pkg,
                 "--json", *dev)
    assert proved.returncode == 0, proved.stderr
    data = json.loads(proved.stdout)
    assert data["state"] == "fraud" and data["fraud"] == "neuron"
    assert data["neuron"]["layer"] == 2  # the logits: the hidden layer was honest
    out = cli(settings, home, "watch", "--model", pkg, "--once", "--json", *dev)
    assert json.loads(out.stdout)["outputProved"] == [watch_id], out.stdout
    status = cli(settings, home, "dispute", "status", watch_id, "--output")
    assert "fraud" in status.stdout and "void" in status.stdout
    assert attestia.registry.worker(node.signer.address).slashedAt != 0
    again = cli(settings, home, "dispute", "prove", hand_id, "--output", "--model", pkg, *dev)
    assert again.returncode == 1 and len(again.stderr.strip().splitlines()) == 1
    # verify: the record whose answer was proven wrong fails its dispute line.
    lost = cli(settings, home, "verify", hand_id, "--json")
    assert lost.returncode == 1
    line = next(c for c in json.loads(lost.stdout)["checks"] if c["name"] == "dispute")
    assert line["status"] == "FAIL" and "OUTPUT dispute" in line["reason"], line


def test_output_dispute_bad_input_is_one_line_and_sends_nothing(
        attestia, served_model, settings, demo_package_dir, tmp_path) -> None:
    home = cli_home(settings, tmp_path / "home")
    w3 = attestia.chain.w3
    nonce = w3.eth.get_transaction_count(dev_account(CLIENT).address)
    missing = "0x" + "ab" * 32
    pkg = str(demo_package_dir)
    cases = [
        (["dispute", "open", missing, "--output", "--model", pkg, "--yes"], "no local request"),
        (["dispute", "prove", missing, "--output", "--model", pkg], "not registered"),
        (["dispute", "resolve", missing, "--output"], "WrongOutputState"),
    ]
    for args, expected in cases:
        out = cli(settings, home, *args, "--dev-account", str(CLIENT))
        assert out.returncode != 0, (args, out.stdout)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in out.stderr, (args, out.stderr)
        assert expected in lines[0], (args, lines[0])
    assert w3.eth.get_transaction_count(dev_account(CLIENT).address) == nonce


def test_an_answer_that_is_not_a_tensor_is_refused_for_attribution_and_slashed_as_an_output(
        attestia, served_model, demo_package, demo_package_dir, settings, tmp_path) -> None:
    """`dispute open` (attribution) of a record whose output is not a tensor at all: one line
    saying why, nothing sent; `dispute open --output` slashes it at the challenge."""
    from dataclasses import replace

    from offchain.protocol import OutputFraud

    home = cli_home(settings, tmp_path / "home")
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    engine = node.engines[served_model.model_id]
    honest = engine.evaluate
    engine.evaluate = lambda raw: replace(honest(raw), output_bytes=b"\x00" * 7)
    (garbage,) = send_demo_requests(attestia, demo_package, home / ".attestia", 1,
                                    worker=node.signer.address)
    node.run(until_idle=True)
    rid, pkg = "0x" + garbage.request_id.hex(), str(demo_package_dir)
    dev = ["--dev-account", str(CLIENT)]
    client = dev_account(CLIENT).address
    nonce = attestia.chain.w3.eth.get_transaction_count(client)
    refused = cli(settings, home, "dispute", "open", rid, "--model", pkg, "--yes", *dev)
    assert refused.returncode == 1 and "not a tensor of logits" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert attestia.chain.w3.eth.get_transaction_count(client) == nonce
    opened = cli(settings, home, "dispute", "open", rid, "--output", "--model", pkg, "--yes",
                 "--json", *dev)
    assert opened.returncode == 0, opened.stderr
    dispute = attestia.slasher.output_dispute(output_dispute_id(garbage.request_id))
    assert dispute.state == DisputeState.FRAUD and dispute.kind == OutputFraud.MALFORMED_OUTPUT
    assert json.loads(opened.stdout)["state"] == "fraud"
