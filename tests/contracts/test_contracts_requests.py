"""Requests: escrow, the terms a request carries, cancellation after the deadline and its
grace period, rejection (named requests only), refunds and withdrawals."""

from __future__ import annotations

from dataclasses import replace

from offchain.protocol import REQUEST_CANCELLED, REQUEST_REJECTED, Split
from tests.contracts.helpers import (
    ADMIN,
    FEE,
    GRACE,
    OPERATOR,
    OUTSIDER,
    OWNER,
    REQUESTER,
    SIGNED,
    SPLIT,
    TEE,
    TIMEOUT,
    WORKER,
    WORKER_B,
    ZERO32,
    Harness,
    Request,
    contributors_shares,
    reverts,
)


def test_request_holds_the_fee_in_escrow_under_its_content_id(h: Harness) -> None:
    model_id = h.setup_signed()
    before = h.balance(h.registry.address)
    request = h.request(model_id)
    assert h.balance(h.registry.address) == before + FEE
    assert request.request_id == h.registry.contract.functions.requestIdOf(
        REQUESTER.address, model_id, request.inputCommitment).call()
    (requested,) = h.registry.requested(request_id=request.request_id)
    assert requested.request == request and requested.payload == b"sealed-input"
    with reverts("WorkerRequired"):  # every request names the worker its payload is sealed to
        h.request(model_id, worker=None)
    with reverts("AlreadyExists"):  # same requester, model and commitment
        h.request(model_id, input_commitment=request.inputCommitment)
    # Another requester may use the same commitment: the id includes the requester.
    h.request(model_id, requester=OUTSIDER, input_commitment=request.inputCommitment)


def test_request_carries_the_terms_in_force_when_paid(h: Harness) -> None:
    model_id = h.setup_signed(fee=777, split=(1_500, 500, 8_000), policy=SIGNED | TEE)
    zk_input = h.unique("zk-input")
    request = h.request(model_id, zk_input_hash=zk_input)
    assert (request.fee, request.workerBps, request.ownerBps, request.policy,
            request.zkInputHash) == (777, 1_500, 500, SIGNED | TEE, zk_input)
    assert request.split == Split(1_500, 500, 8_000)
    h.send(h.registry.set_terms(model_id, 1_000, SIGNED, Split(*SPLIT)), OWNER)
    later = h.request(model_id)
    assert (later.fee, later.workerBps, later.ownerBps, later.policy, later.zkInputHash) == (
        1_000, SPLIT[0], SPLIT[1], SIGNED, ZERO32)
    # The first request's slot still holds its own terms: passing the new ones is refused.
    repriced = replace(request, fee=1_000, workerBps=SPLIT[0], ownerBps=SPLIT[1], policy=SIGNED)
    with reverts("RequestNotOpen", request.request_id):
        h.send(h.registry.reject_request(repriced, "no"), WORKER)
    assert h.registry.request_state(request.request_id) == request.hash


def test_request_naming_an_unusable_worker_reverts(h: Harness) -> None:
    model_id = h.setup_signed()
    with reverts("WorkerNotFound", OUTSIDER.address):
        h.request(model_id, worker=OUTSIDER.address)
    h.register_worker(WORKER_B)
    h.send(h.registry.revoke_worker(WORKER_B.address), ADMIN)
    with reverts("WorkerNotActive", WORKER_B.address):
        h.request(model_id, worker=WORKER_B.address)


def test_cancel_after_the_grace_period_refunds_to_balance_then_withdraw(h: Harness) -> None:
    model_id = h.setup_signed()
    request = h.request(model_id)
    cancellable_at = request.createdAt + TIMEOUT + GRACE
    assert h.cancellable_at(request) == cancellable_at
    cancel = h.registry.cancel_request
    with reverts("RequestNotExpired", cancellable_at):
        h.send(cancel(request), REQUESTER)
    # Still refused in the last second a record signed by the deadline may land.
    with reverts("RequestNotExpired", cancellable_at):
        h.send_at(cancellable_at - 1, cancel(request), REQUESTER)
    h.travel(1)
    with reverts("Unauthorized"):
        h.send(cancel(request), OUTSIDER)
    forged = replace(request, fee=FEE * 2)
    with reverts("RequestNotOpen", request.request_id):
        h.send(cancel(forged), REQUESTER)
    receipt = h.send(cancel(request), REQUESTER)
    (event,) = h.registry.cancelled(request_id=request.request_id)
    assert (event.requester, event.refund, event.meta.block) == (
        REQUESTER.address, FEE, receipt["blockNumber"])
    assert h.registry.request_state(request.request_id) == REQUEST_CANCELLED
    assert h.registry.balance(REQUESTER.address) == FEE
    with reverts("RequestNotOpen", request.request_id):
        h.send(cancel(request), REQUESTER)
    shares = contributors_shares(2)
    with reverts("RequestNotOpen", request.request_id):  # too late to fulfill
        h.fulfill(request, h.record(request, shares, timestamp=h.deadline(request)), shares)

    before = h.balance(REQUESTER.address)
    receipt = h.send(h.registry.withdraw(), REQUESTER)
    spent = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert h.balance(REQUESTER.address) == before + FEE - spent
    assert h.registry.balance(REQUESTER.address) == 0
    with reverts("NothingToWithdraw"):
        h.send(h.registry.withdraw(), REQUESTER)


def test_cancel_opens_exactly_at_deadline_plus_grace(h: Harness) -> None:
    model_id = h.setup_signed()
    request = h.request(model_id)
    h.send_at(h.cancellable_at(request), h.registry.cancel_request(request), REQUESTER)
    assert h.registry.request_state(request.request_id) == REQUEST_CANCELLED


def test_cancel_a_request_that_never_existed(h: Harness) -> None:
    model_id = h.setup_signed()
    ghost = Request(REQUESTER.address, model_id, WORKER.address, FEE, h.now(), h.unique(),
                    ZERO32, SPLIT[0], SPLIT[1], SIGNED)
    with reverts("RequestNotOpen", ghost.request_id):
        h.send(h.registry.cancel_request(ghost), REQUESTER)


def test_reject_named_request_by_worker_key_or_operator_only(h: Harness) -> None:
    model_id = h.setup_signed()
    h.register_worker(WORKER_B, operator=OUTSIDER)
    reject = h.registry.reject_request
    first, second = h.request(model_id), h.request(model_id)
    for who in (OUTSIDER, WORKER_B, REQUESTER, OWNER):  # another worker, its operator...
        with reverts("Unauthorized"):
            h.send(reject(first, "busy"), who)
    receipt = h.send(reject(first, "unsupported input"), WORKER)
    event = h.events(h.registry, "RequestRejected", receipt)[0]
    assert (event["requestId"], event["rejectedBy"], event["refund"], event["reason"]) == (
        first.request_id, WORKER.address, FEE, "unsupported input")
    h.send(reject(second, "operator says no"), OPERATOR)
    for request in (first, second):
        assert h.registry.request_state(request.request_id) == REQUEST_REJECTED
    (typed,) = h.registry.rejected(request_id=second.request_id)
    assert (typed.rejected_by, typed.refund, typed.reason) == (
        OPERATOR.address, FEE, "operator says no")
    assert h.registry.balance(REQUESTER.address) == 2 * FEE
    with reverts("RequestNotOpen", first.request_id):
        h.send(reject(first, "again"), WORKER)
    h.travel(TIMEOUT + GRACE)
    with reverts("RequestNotOpen", first.request_id):  # a rejected request is not cancellable
        h.send(h.registry.cancel_request(first), REQUESTER)


def test_a_request_must_name_its_worker_and_only_it_may_reject(h: Harness) -> None:
    """Open requests are gone (issue 17, attacks 5 and 6): a request naming no worker reverts
    with WorkerRequired and nothing is paid; of the workers, only the named one (or its
    operator) may reject a request: every other reject is Unauthorized."""
    model_id = h.setup_signed()
    h.register_worker(WORKER_B, operator=OUTSIDER)
    before = h.balance(h.registry.address)
    with reverts("WorkerRequired"):
        h.request(model_id, worker=None)
    assert h.balance(h.registry.address) == before
    request = h.request(model_id)
    for who in (WORKER_B, OUTSIDER, REQUESTER):
        with reverts("Unauthorized"):
            h.send(h.registry.reject_request(request, "no"), who)
    assert h.registry.request_state(request.request_id) == request.hash
    h.send(h.registry.reject_request(request, "cannot serve"), WORKER)
    assert h.registry.balance(REQUESTER.address) == FEE
