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
