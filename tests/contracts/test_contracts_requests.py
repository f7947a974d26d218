"""Requests: escrow, cancellation after the timeout, rejection, refunds and withdrawals."""

from __future__ import annotations

from tests.contracts.helpers import (
    ADMIN,
    FEE,
    OPERATOR,
    OUTSIDER,
    REQUESTER,
    TIMEOUT,
    WORKER,
    WORKER_B,
    Harness,
    Request,
    contributors_shares,
    reverts,
)

CANCELLED = (1).to_bytes(32, "big")
REJECTED = (2).to_bytes(32, "big")


def test_request_holds_the_fee_in_escrow_under_its_content_id(h: Harness) -> None:
    model_id = h.setup_signed()
    before = h.balance(h.registry.address)
    request = h.request(model_id)
    assert h.balance(h.registry.address) == before + FEE
    assert request.request_id == h.registry.functions.requestIdOf(
        REQUESTER.address, model_id, request.inputCommitment).call()
    open_request = h.request(model_id, worker=None)
    assert int(open_request.worker, 16) == 0
    with reverts("AlreadyExists"):  # same requester, model and commitment
        h.request(model_id, input_commitment=request.inputCommitment)
    # Another requester may use the same commitment: the id includes the requester.
    h.request(model_id, requester=OUTSIDER, input_commitment=request.inputCommitment)


def test_request_naming_an_unusable_worker_reverts(h: Harness) -> None:
    model_id = h.setup_signed()
    with reverts("WorkerNotFound", OUTSIDER.address):
        h.request(model_id, worker=OUTSIDER.address)
    h.register_worker(WORKER_B)
    h.send(h.registry.functions.revokeWorker(WORKER_B.address), ADMIN)
    with reverts("WorkerNotActive", WORKER_B.address):
        h.request(model_id, worker=WORKER_B.address)


def test_cancel_after_timeout_refunds_to_balance_then_withdraw(h: Harness) -> None:
    model_id = h.setup_signed()
    request = h.request(model_id)
    cancel = h.registry.functions.cancelRequest
    with reverts("RequestNotExpired", request.createdAt + TIMEOUT):
        h.send(cancel(request.as_tuple()), REQUESTER)
    h.travel(TIMEOUT)
    with reverts("Unauthorized"):
        h.send(cancel(request.as_tuple()), OUTSIDER)
    forged = Request(request.requester, request.modelId, request.worker, FEE * 2,
                     request.createdAt, request.inputCommitment)
    with reverts("RequestNotOpen", request.request_id):
        h.send(cancel(forged.as_tuple()), REQUESTER)
    h.send(cancel(request.as_tuple()), REQUESTER)
    assert h.registry.functions.requestState(request.request_id).call() == CANCELLED
    assert h.registry.functions.balances(REQUESTER.address).call() == FEE
    with reverts("RequestNotOpen", request.request_id):
        h.send(cancel(request.as_tuple()), REQUESTER)
    shares = contributors_shares(2)
    with reverts("RequestNotOpen", request.request_id):  # too late to fulfill
        h.fulfill(request, h.record(request, shares), shares)

    before = h.balance(REQUESTER.address)
    receipt = h.send(h.registry.functions.withdraw(), REQUESTER)
    spent = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert h.balance(REQUESTER.address) == before + FEE - spent
    assert h.registry.functions.balances(REQUESTER.address).call() == 0
    with reverts("NothingToWithdraw"):
        h.send(h.registry.functions.withdraw(), REQUESTER)


def test_cancel_a_request_that_never_existed(h: Harness) -> None:
    model_id = h.setup_signed()
    ghost = Request(REQUESTER.address, model_id, WORKER.address, FEE, h.now(), h.unique())
    with reverts("RequestNotOpen", ghost.request_id):
        h.send(h.registry.functions.cancelRequest(ghost.as_tuple()), REQUESTER)


def test_reject_named_request_by_worker_key_or_operator_only(h: Harness) -> None:
    model_id = h.setup_signed()
    h.register_worker(WORKER_B)
    reject = h.registry.functions.rejectRequest
    first, second = h.request(model_id), h.request(model_id)
    for who in (OUTSIDER, WORKER_B, REQUESTER):
        with reverts("Unauthorized"):
            h.send(reject(first.as_tuple(), "busy"), who)
    receipt = h.send(reject(first.as_tuple(), "unsupported input"), WORKER)
    event = h.events(h.registry, "RequestRejected", receipt)[0]
    assert (event["requestId"], event["rejectedBy"], event["refund"], event["reason"]) == (
        first.request_id, WORKER.address, FEE, "unsupported input")
    h.send(reject(second.as_tuple(), "operator says no"), OPERATOR)
    for request in (first, second):
        assert h.registry.functions.requestState(request.request_id).call() == REJECTED
    assert h.registry.functions.balances(REQUESTER.address).call() == 2 * FEE
    with reverts("RequestNotOpen", first.request_id):
        h.send(reject(first.as_tuple(), "again"), WORKER)
    with reverts("RequestNotOpen", first.request_id):  # a rejected request is not cancellable
        h.travel(TIMEOUT)
        h.send(h.registry.functions.cancelRequest(first.as_tuple()), REQUESTER)


def test_reject_open_request_by_any_active_worker(h: Harness) -> None:
    model_id = h.setup_signed()
    h.register_worker(WORKER_B)
    reject = h.registry.functions.rejectRequest
    request = h.request(model_id, worker=None)
    with reverts("Unauthorized"):
        h.send(reject(request.as_tuple(), "no"), OUTSIDER)
    with reverts("Unauthorized"):  # an operator is not a worker key
        h.send(reject(request.as_tuple(), "no"), OPERATOR)
    h.send(h.registry.functions.revokeWorker(WORKER_B.address), ADMIN)
    with reverts("Unauthorized"):
        h.send(reject(request.as_tuple(), "no"), WORKER_B)
    h.send(reject(request.as_tuple(), "no"), WORKER)
    assert h.registry.functions.requestState(request.request_id).call() == REJECTED
