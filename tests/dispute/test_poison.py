"""Poison does not stop the long-running processes of the dispute game (issue 17, attack 9).

A worker seals to its requester a result with no ``output`` field, then lies in a later
record: ``attestia watch`` says one line about the first and still challenges the second. A
running worker that cannot answer one challenge (its query cannot be traced) answers the one
opened after it, says one line about the first however often it retries, and answers it once
it can.
"""

from __future__ import annotations

import json
import logging

import cbor2
import pytest

from offchain.attribution.trace import AttributionModel
from offchain.chain.accounts import dev_account
from offchain.dispute import game
from offchain.models.encoding import encode_tensor
from offchain.protocol import DisputeState
from offchain.request.client import wait_for_outcomes
from offchain.sealing import PAYLOAD_VERSION, seal
from offchain.worker import disputes as responder
from tests.rewards.helpers import cli, cli_home
from tests.worker.helpers import CLIENT, lying_engine, make_worker, send_demo_requests


def _no_output(reply_key: bytes, output_bytes: bytes) -> bytes:
    """A sealed result the requester's key opens, holding no output (the poison)."""
    return seal(reply_key, cbor2.dumps({"v": PAYLOAD_VERSION}))


@pytest.mark.slow
def test_watch_skips_a_poisoned_result_and_still_challenges_the_lie_after_it(
        attestia, served_model, demo_package, demo_package_dir, settings, tmp_path,
        monkeypatch) -> None:
    home = cli_home(settings, tmp_path / "home")
    data_dir = home / ".attestia"
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    with monkeypatch.context() as patch:
        patch.setattr("offchain.worker.node.seal_result", _no_output)
        (poison,) = send_demo_requests(attestia, demo_package, data_dir, 1,
                                       worker=node.signer.address)
        node.run(until_idle=True)
    lying_engine(node, served_model.model_id)
    (lie,) = send_demo_requests(attestia, demo_package, data_dir, 1, offset=5,
                                worker=node.signer.address)
    node.run(until_idle=True)
    recorded = [attestia.registry.recorded(request_id=r.request_id) for r in (poison, lie)]
    assert [len(r) for r in recorded] == [1, 1]
    assert poison.block < lie.block  # the watch reads them in this order

    pkg, dev = str(demo_package_dir), ["--dev-account", str(CLIENT)]
    out = cli(settings, home, "watch", "--model", pkg, "--once", "--json", *dev)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    poison_id, lie_id = ("0x" + r.request_id.hex() for r in (poison, lie))
    assert report["challenged"] == [lie_id]
    assert report["skipped"] == [{"requestId": poison_id,
                                  "reason": "sealed result holds no output bytes"}]
    assert attestia.slasher.dispute(lie.request_id).state == DisputeState.OPEN

    # The next pass: one line for the poison again, nothing sent, the watch goes on.
    out = cli(settings, home, "watch", "--model", pkg, "--once", *dev)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    about_poison = [line for line in out.stdout.splitlines() if poison_id in line]
    assert about_poison == [f"{poison_id}: skipped: sealed result holds no output bytes"]
    assert attestia.slasher.dispute(poison.request_id).state == DisputeState.NONE


def test_the_responder_answers_the_challenge_after_one_it_cannot_answer(
        attestia, served_model, demo_package, demo_package_dir, tmp_path, monkeypatch,
        caplog) -> None:
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    sent = send_demo_requests(attestia, demo_package, tmp_path, 2, worker=node.signer.address)
    node.run(until_idle=True)
    outcomes = wait_for_outcomes(attestia, sent, timeout=5)
    for local in sent:  # poison first, then the real one: both frivolous challenges
        outcome = outcomes[local.request_id]
        assert outcome.output is not None
        game.open_challenge(attestia, outcome.inference, local.input_bytes, local.salt,
                            encode_tensor(outcome.output), demo_package.attribution_spec(),
                            account=dev_account(CLIENT))
    poison, real = (local.request_id for local in sent)
    opened = game.view(attestia, poison).opened
    assert opened is not None
    poison_query = tuple(opened.query)
    trace = AttributionModel.trace

    def untraceable(model, query, label):
        if tuple(query) == poison_query:
            raise ValueError("a query this model cannot trace")
        return trace(model, query, label)

    caplog.set_level(logging.INFO, logger="attestia.worker")
    with monkeypatch.context() as patch:
        patch.setattr(AttributionModel, "trace", untraceable)
        patch.setattr(responder, "RETRY_SECONDS", 0.0)
        node.run(until_idle=True)
        assert attestia.slasher.dispute(real).state == DisputeState.RESPONDED
        assert attestia.slasher.dispute(poison).state == DisputeState.OPEN
        node.run(until_idle=True)  # retried (and failed) again: nothing more said
        node.run(until_idle=True)
    failed = [r.getMessage() for r in caplog.records
              if r.levelno >= logging.ERROR and poison.hex() in r.getMessage()]
    assert failed == [f"answering the challenge to record 0x{poison.hex()} failed: "
                      "ValueError: a query this model cannot trace (retrying every 0 s until "
                      "its deadline)"]
    # Once the query can be traced, the retry answers it (the challenger finds no fraud).
    monkeypatch.setattr(responder, "RETRY_SECONDS", 0.0)
    node.run(until_idle=True)
    assert attestia.slasher.dispute(poison).state == DisputeState.RESPONDED
    model = AttributionModel.of_package(demo_package)
    assert game.find_fraud(attestia, model, poison) is None
    assert game.find_fraud(attestia, model, real) is None


def test_watch_challenges_an_answer_that_is_not_a_tensor_and_still_checks_the_next(
        attestia, served_model, demo_package, demo_package_dir, tmp_path) -> None:
    """A worker commits to (and seals) bytes that are not a tensor at all, then lies in the
    attribution of a later record. The watch says one line about the first's attribution
    (no label to check it against), challenges its answer, which the challenge itself
    slashes, and still challenges the second's attribution."""
    from dataclasses import replace

    from offchain.dispute.watch import NOT_A_TENSOR, watch_once
    from offchain.protocol import OutputFraud, output_dispute_id

    data_dir = tmp_path / "home"
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    engine = node.engines[served_model.model_id]
    honest = engine.evaluate
    engine.evaluate = lambda raw: replace(honest(raw), output_bytes=b"not a tensor")
    (garbage,) = send_demo_requests(attestia, demo_package, data_dir, 1,
                                    worker=node.signer.address)
    node.run(until_idle=True)
    engine.evaluate = honest  # type: ignore[method-assign]
    lying_engine(node, served_model.model_id)
    (lie,) = send_demo_requests(attestia, demo_package, data_dir, 1, offset=3,
                                worker=node.signer.address)
    node.run(until_idle=True)
    assert all(attestia.registry.recorded(request_id=r.request_id) for r in (garbage, lie))

    lines: list[str] = []
    report = watch_once(attestia, demo_package, served_model.model_id, data_dir,
                        account=dev_account(CLIENT), note=lines.append)
    garbage_id, lie_id = ("0x" + r.request_id.hex() for r in (garbage, lie))
    assert report.skipped == [(garbage_id, NOT_A_TENSOR)]
    assert report.output_challenged == [garbage_id] and report.challenged == [lie_id]
    assert f"{garbage_id}: skipped: {NOT_A_TENSOR}" in lines
    dispute = attestia.slasher.output_dispute(output_dispute_id(garbage.request_id))
    assert dispute.state == DisputeState.FRAUD and dispute.kind == OutputFraud.MALFORMED_OUTPUT
    assert attestia.slasher.dispute(lie.request_id).state == DisputeState.OPEN
