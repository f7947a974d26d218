"""A running worker answers an output challenge to its record of the demo model (30-16-2) by
itself, with the honest hidden activations: nothing is provable, and the worker takes the
bond."""

from __future__ import annotations

from offchain.chain.accounts import dev_account
from offchain.dispute import output as out
from offchain.models.encoding import encode_tensor
from offchain.protocol import DisputeState, output_dispute_id
from offchain.request.client import wait_for_outcomes
from tests.worker.helpers import CLIENT, make_worker, send_demo_requests


def test_worker_answers_an_output_challenge_with_the_honest_activations(
        attestia, served_model, demo_package, demo_package_dir, tmp_path) -> None:
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    (local,) = send_demo_requests(attestia, demo_package, tmp_path, 1,
                                  worker=node.signer.address)
    node.run(until_idle=True)
    outcome = wait_for_outcomes(attestia, [local], timeout=5)[local.request_id]
    assert outcome.output is not None
    dispute_id = output_dispute_id(local.request_id)
    out.open_output_challenge(attestia, outcome.inference, local.input_bytes, local.salt,
                              encode_tensor(outcome.output), demo_package.attribution_spec(),
                              demo_package.model_spec(), account=dev_account(CLIENT))
    (opened,) = attestia.slasher.outputs_opened(dispute_id=dispute_id)
    net = demo_package.network
    assert opened.logits == out.honest_layers(net, opened.input)[-1]  # the record is honest
    node.run(until_idle=True)  # one round: the worker sees the challenge and answers it
    dispute = attestia.slasher.output_dispute(dispute_id)
    assert dispute.state == DisputeState.RESPONDED
    assert out.find_wrong_neuron(attestia, net, dispute_id) is None
    nonce = attestia.chain.w3.eth.get_transaction_count(node.operator.address)
    node.run(until_idle=True)  # answered once
    assert attestia.chain.w3.eth.get_transaction_count(node.operator.address) == nonce


def test_the_responder_answers_the_output_challenge_after_one_it_cannot_answer(
        attestia, served_model, demo_package, demo_package_dir, tmp_path, monkeypatch,
        caplog) -> None:
    """Poison before a real case: an output challenge whose answer fails (whatever the
    reason) is one log line, retried; the one opened after it is answered."""
    import logging

    from offchain.worker import disputes as responder

    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    sent = send_demo_requests(attestia, demo_package, tmp_path, 2, worker=node.signer.address)
    node.run(until_idle=True)
    outcomes = wait_for_outcomes(attestia, sent, timeout=5)
    for local in sent:
        outcome = outcomes[local.request_id]
        out.open_output_challenge(attestia, outcome.inference, local.input_bytes, local.salt,
                                  encode_tensor(outcome.output), demo_package.attribution_spec(),
                                  demo_package.model_spec(), account=dev_account(CLIENT))
    poison, real = (output_dispute_id(local.request_id) for local in sent)
    answer = responder.respond_output

    def failing(attestia_, net, dispute_id, **kwargs):
        if dispute_id == poison:
            raise ValueError("cannot answer this one")
        return answer(attestia_, net, dispute_id, **kwargs)

    caplog.set_level(logging.INFO, logger="attestia.worker")
    with monkeypatch.context() as patch:
        patch.setattr(responder, "respond_output", failing)
        patch.setattr(responder, "RETRY_SECONDS", 0.0)
        node.run(until_idle=True)
        node.run(until_idle=True)  # retried, failed again: nothing more said
    assert attestia.slasher.output_dispute(real).state == DisputeState.RESPONDED
    assert attestia.slasher.output_dispute(poison).state == DisputeState.OPEN
    failed = [r.getMessage() for r in caplog.records
              if r.levelno >= logging.ERROR and poison.hex() in r.getMessage()]
    assert len(failed) == 1 and "cannot answer this one" in failed[0]
    monkeypatch.setattr(responder, "RETRY_SECONDS", 0.0)
    node.run(until_idle=True)
    assert attestia.slasher.output_dispute(poison).state == DisputeState.RESPONDED
