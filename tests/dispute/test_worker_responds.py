"""A running worker answers a challenge to its record by itself, with the honest trace of the
demo model (N = 489): the challenger finds no fraud in it."""

from __future__ import annotations

from offchain.chain.accounts import dev_account
from offchain.client import wait_for_outcomes
from offchain.dispute import game
from offchain.models.encoding import encode_tensor
from offchain.protocol import DisputeState
from tests.worker.helpers import CLIENT, make_worker, send_demo_requests


def test_worker_answers_a_challenge_with_the_honest_trace(attestia, served_model,
                                                          demo_package, demo_package_dir,
                                                          tmp_path) -> None:
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    (local,) = send_demo_requests(attestia, demo_package, tmp_path, 1,
                                  worker=node.signer.address)
    node.run(until_idle=True)
    outcome = wait_for_outcomes(attestia, [local], timeout=5)[local.request_id]
    assert outcome.output is not None
    rid = local.request_id
    game.open_challenge(attestia, outcome.inference, local.input_bytes, local.salt,
                        encode_tensor(outcome.output), demo_package.attribution_spec(),
                        account=dev_account(CLIENT))
    assert attestia.slasher.dispute(rid).state == DisputeState.OPEN
    node.run(until_idle=True)  # one round: the worker sees the challenge and answers it
    dispute = attestia.slasher.dispute(rid)
    assert dispute.state == DisputeState.RESPONDED and dispute.n == 489
    (responded,) = attestia.slasher.responded(request_id=rid)
    assert responded.trace_uri.startswith("file://")
    assert (tmp_path / "w" / "traces" / f"trace-0x{rid.hex()}.json").is_file()
    model = game.AttributionModel.of_package(demo_package)
    assert game.find_fraud(attestia, model, rid) is None
    # Answered once: another round sends nothing.
    nonce = attestia.chain.w3.eth.get_transaction_count(node.operator.address)
    node.run(until_idle=True)
    assert attestia.chain.w3.eth.get_transaction_count(node.operator.address) == nonce
