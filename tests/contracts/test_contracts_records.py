"""Single records (fulfill / fulfillBySig): the fee split, replay protection, who may sign,
every check on the record and its attribution list, TEE records, and recordStatus."""

from __future__ import annotations

import pytest

from offchain.attribution.shares import attribution_hash
from offchain.protocol import PROOF_SIGNED, PROOF_TEE, PROOF_ZK
from tests.contracts.helpers import (
    ADMIN,
    FEE,
    OPERATOR,
    OUTSIDER,
    OWNER,
    RELAYER,
    REQUESTER,
    TEE,
    WORKER,
    WORKER_B,
    ZERO32,
    ZERO_ADDRESS,
    Harness,
    Request,
    contributor,
    contributors_shares,
    raw_attribution_hash,
    reverts,
)


@pytest.mark.parametrize("by_sig", [False, True], ids=["direct", "by-sig"])
def test_fulfill_splits_the_fee_and_records_the_digest(h: Harness, by_sig: bool) -> None:
    model_id = h.setup_signed(fee=10_001)  # an odd fee: the contributors get the dust
    request = h.request(model_id)
    shares = contributors_shares(5)
    inference = h.record(request, shares)
    registry_before = h.balance(h.registry.address)
    receipt = h.fulfill(request, inference, shares, by_sig=by_sig)
    assert h.balance(h.registry.address) == registry_before  # credits, not payments
    f = h.registry.functions
    epoch = h.epoch()
    assert f.requestState(request.request_id).call() == h.digest(inference)
    assert f.balances(OPERATOR.address).call() == 2_000  # worker cut to the operator
    assert f.balances(WORKER.address).call() == 0
    assert f.balances(OWNER.address).call() == 1_000
    assert f.epochPool(epoch).call() == 7_001
    event = h.events(h.registry, "InferenceRecorded", receipt)[0]
    assert event["digest"] == h.digest(inference)
    assert tuple(event["payout"].values()) == (epoch, 2_000, 1_000, 7_001)
    assert [tuple(s.values()) for s in event["shares"]] == shares
    assert tuple(event["inference"].values()) == inference.as_tuple()


def test_fee_split_follows_the_model_split_at_record_time(h: Harness) -> None:
    model_id = h.setup_signed(fee=1_000, split=(0, 0, 10_000))
    request = h.request(model_id)
    h.send(h.registry.functions.setSplit(model_id, (5_000, 5_000, 0)), OWNER)
    shares = contributors_shares(1)
    h.fulfill(request, h.record(request, shares), shares)
    f = h.registry.functions
    assert (f.balances(OPERATOR.address).call(), f.balances(OWNER.address).call(),
            f.epochPool(h.epoch()).call()) == (500, 500, 0)


def test_replayed_records_and_signatures_are_rejected(h: Harness) -> None:
    model_id = h.setup_signed()
    shares = contributors_shares(3)
    request, inference = h.serve(model_id, shares)
    digest = h.digest(inference)
    with reverts("AlreadyRecorded", digest):
        h.fulfill(request, inference, shares)
    with reverts("AlreadyRecorded", digest):
        h.fulfill(request, inference, shares, by_sig=True)
    other = h.record(request, shares)  # a second, different record for the same request
    with reverts("RequestNotOpen", request.request_id):
        h.fulfill(request, other, shares, by_sig=True)
    # A signature for one request cannot be replayed on another (the digest covers requestId).
    second = h.request(model_id)
    moved = h.record(second, shares, outputCommitment=inference.outputCommitment)
    signature = h.sign(inference)
    with reverts("InvalidSignature"):
        h.send(h.registry.functions.fulfillBySig(
            second.as_tuple(), moved.as_tuple(), shares, signature, b""), RELAYER)


def test_only_the_worker_key_sends_or_signs(h: Harness) -> None:
    model_id = h.setup_signed()
    request = h.request(model_id)
    shares = contributors_shares(2)
    inference = h.record(request, shares)
    with reverts("Unauthorized"):
        h.fulfill(request, inference, shares, sender=OPERATOR)
    with reverts("Unauthorized"):
        h.fulfill(request, inference, shares, sender=RELAYER)
    with reverts("InvalidSignature"):  # signed by someone else
        h.fulfill(request, inference, shares, by_sig=True, signer=OUTSIDER)
    with reverts("InvalidSignature"):  # the operator cannot sign for its worker key
        h.fulfill(request, inference, shares, by_sig=True, signer=OPERATOR)
    fulfill_by_sig = h.registry.functions.fulfillBySig
    for bad in (b"", b"\x01" * 64, b"\x00" * 65, h.sign(inference)[:64] + b"\x05"):
        with reverts("InvalidSignature"):
            h.send(fulfill_by_sig(request.as_tuple(), inference.as_tuple(), shares, bad, b""),
                   RELAYER)
    # A valid signature over the record, then one field altered in the submitted copy.
    signature = h.sign(inference)
    altered = h.record(request, shares, outputCommitment=h.unique(),
                       timestamp=inference.timestamp)
    with reverts("InvalidSignature"):
        h.send(fulfill_by_sig(request.as_tuple(), altered.as_tuple(), shares, signature, b""),
               RELAYER)
    h.fulfill(request, inference, shares, by_sig=True)


def test_records_by_non_workers_are_rejected(h: Harness) -> None:
    model_id = h.setup_signed()
    shares = contributors_shares(2)
    open_request = h.request(model_id, worker=None)
    # OUTSIDER signs (or sends) its own record: the signature is valid, but it is no worker.
    forged = h.record(open_request, shares, worker=OUTSIDER.address)
    with reverts("WorkerNotFound", OUTSIDER.address):
        h.fulfill(open_request, forged, shares, by_sig=True)
    with reverts("WorkerNotFound", OUTSIDER.address):
        h.fulfill(open_request, forged, shares)
    named = h.request(model_id)
    forged = h.record(named, shares, worker=OUTSIDER.address)
    with reverts("WorkerMismatch", WORKER.address, OUTSIDER.address):
        h.fulfill(named, forged, shares, by_sig=True)
    # Another registered worker may not answer a request named to WORKER.
    h.register_worker(WORKER_B)
    other = h.record(named, shares, worker=WORKER_B.address)
    with reverts("WorkerMismatch", WORKER.address, WORKER_B.address):
        h.fulfill(named, other, shares)
    # ...but may answer an open one.
    h.fulfill(open_request, h.record(open_request, shares, worker=WORKER_B.address), shares)


@pytest.mark.parametrize("by_sig", [False, True], ids=["direct", "by-sig"])
def test_records_by_revoked_or_unbonding_workers_are_rejected(h: Harness, by_sig: bool) -> None:
    model_id = h.setup_signed()
    h.register_worker(WORKER_B)
    shares = contributors_shares(2)
    revoked, unbonding = h.request(model_id), h.request(model_id, worker=WORKER_B.address)
    h.send(h.registry.functions.revokeWorker(WORKER.address), ADMIN)
    h.send(h.registry.functions.beginUnbonding(WORKER_B.address), OPERATOR)
    with reverts("WorkerNotActive", WORKER.address):
        h.fulfill(revoked, h.record(revoked, shares), shares, by_sig=by_sig)
    with reverts("WorkerNotActive", WORKER_B.address):
        h.fulfill(unbonding, h.record(unbonding, shares), shares, by_sig=by_sig)


def test_record_must_match_its_request(h: Harness) -> None:
    model_id = h.setup_signed()
    other_model = h.register_model()
    request = h.request(model_id)
    shares = contributors_shares(2)
    rid = request.request_id
    with reverts("RequestMismatch", rid):
        h.fulfill(request, h.record(request, shares, modelId=other_model), shares)
    with reverts("RequestMismatch", rid):
        h.fulfill(request, h.record(request, shares, inputCommitment=h.unique()), shares)
    forged = Request(request.requester, request.modelId, request.worker, 1, request.createdAt,
                     request.inputCommitment)  # claims a lower fee
    with reverts("RequestNotOpen", rid):
        h.fulfill(forged, h.record(request, shares), shares)
    ghost = Request(REQUESTER.address, model_id, WORKER.address, FEE, h.now(), h.unique())
    with reverts("RequestNotOpen", ghost.request_id):
        h.fulfill(ghost, h.record(ghost, shares), shares)
    # A record pointing at request B while passing request A's struct.
    second = h.request(model_id)
    with reverts("RequestNotOpen", second.request_id):
        h.fulfill(request, h.record(request, shares, requestId=second.request_id), shares)


def test_record_timestamp_window(h: Harness) -> None:
    model_id = h.setup_signed()
    request = h.request(model_id)
    shares = contributors_shares(2)
    for ts in (request.createdAt - 1, h.now() + 2_000):
        with reverts("TimestampOutOfWindow", ts):
            h.fulfill(request, h.record(request, shares, timestamp=ts), shares)
    h.travel(1_000)
    stale = h.record(request, shares, timestamp=request.createdAt)  # 15 min + ago
    with reverts("TimestampOutOfWindow", request.createdAt):
        h.fulfill(request, stale, shares)
    h.fulfill(request, h.record(request, shares, timestamp=h.now() - 600), shares)


def test_record_timestamp_near_uint64_max_reverts_with_custom_error(h: Harness) -> None:
    model_id = h.setup_signed()
    request = h.request(model_id)
    shares = contributors_shares(2)
    ts = 2**64 - 1
    with reverts("TimestampOutOfWindow", ts):
        h.fulfill(request, h.record(request, shares, timestamp=ts), shares)


def test_proof_kind_and_proof_hash_checks(h: Harness) -> None:
    model_id = h.setup_signed()
    request = h.request(model_id)
    shares = contributors_shares(2)
    for kind in (0, PROOF_TEE, 4, 255):
        with reverts("ProofKindNotAllowed", kind):
            h.fulfill(request, h.record(request, shares, proof_kind=kind), shares)
    with reverts("ZkProofRequired"):
        h.fulfill(request, h.record(request, shares, proof_kind=PROOF_ZK), shares)
    with reverts("ZkProofRequired"):
        h.fulfill(request, h.record(request, shares, proof_kind=PROOF_ZK), shares, by_sig=True)
    bad = h.unique()
    with reverts("ProofHashMismatch", ZERO32, bad):
        h.fulfill(request, h.record(request, shares, proof_hash=bad), shares)
    # The model owner narrows the policy to TEE: SIGNED records stop being accepted.
    h.send(h.registry.functions.setPolicy(model_id, TEE), OWNER)
    with reverts("ProofKindNotAllowed", PROOF_SIGNED):
        h.fulfill(request, h.record(request, shares), shares)


def test_attribution_list_checks(h: Harness) -> None:
    model_id = h.setup_signed()
    request = h.request(model_id)
    good = contributors_shares(3)
    a, b, c = (s[0] for s in good)

    def attempt(shares: list[tuple[str, int]], attribution: bytes | None = None) -> None:
        attribution = attribution or raw_attribution_hash(shares)
        h.fulfill(request, h.record(request, shares, attribution=attribution), shares,
                  by_sig=True)

    other = attribution_hash(contributors_shares(4))
    with reverts("AttributionHashMismatch", other, raw_attribution_hash(good)):
        attempt(good, other)  # the list differs from the one signed
    with reverts("SharesSumInvalid", 9_999):
        attempt([(a, 3_333), (b, 3_333), (c, 3_333)])
    with reverts("SharesSumInvalid", 10_001):
        attempt([(a, 3_334), (b, 3_334), (c, 3_333)])
    with reverts("SharesSumInvalid", 0):
        attempt([])
    with reverts("ZeroShare", 1):
        attempt([(a, 5_000), (b, 0), (c, 5_000)])
    with reverts("SharesNotSorted", 1):
        attempt([(b, 5_000), (a, 5_000)])
    with reverts("SharesNotSorted", 1):  # a duplicate is not strictly ascending
        attempt([(a, 5_000), (a, 5_000)])
    with reverts("SharesNotSorted", 0):
        attempt([(ZERO_ADDRESS, 5_000), (a, 5_000)])
    attempt(good)


def test_tee_records(h: Harness) -> None:
    model_id = h.register_model(policy=TEE)
    h.register_worker()
    shares = contributors_shares(2)
    request = h.request(model_id)
    with reverts("EnclaveNotBound", WORKER.address):
        h.fulfill(request, h.record(request, shares, proof_kind=PROOF_TEE, proof_hash=h.unique()),
                  shares)
    measurement, attestation = h.bind_enclave()
    wrong = h.unique()
    with reverts("ProofHashMismatch", attestation, wrong):
        h.fulfill(request, h.record(request, shares, proof_kind=PROOF_TEE, proof_hash=wrong),
                  shares)
    with reverts("ProofKindNotAllowed", PROOF_SIGNED):
        h.fulfill(request, h.record(request, shares), shares)
    inference = h.record(request, shares, proof_kind=PROOF_TEE, proof_hash=attestation)
    h.fulfill(request, inference, shares, by_sig=True)
    status = h.registry.functions.recordStatus(request.request_id, inference.as_tuple()).call()
    assert tuple(status) == (True, inference.timestamp, 0, 0, 0, False)

    second = h.request(model_id)
    h.send(h.registry.functions.revokeMeasurement(measurement), ADMIN)
    revoked_at = h.now()
    with reverts("MeasurementIsRevoked", measurement):
        h.fulfill(second, h.record(second, shares, proof_kind=PROOF_TEE, proof_hash=attestation),
                  shares)
    status = h.registry.functions.recordStatus(request.request_id, inference.as_tuple()).call()
    assert tuple(status) == (True, inference.timestamp, 0, revoked_at, 0, True)


def test_record_status_reports_revocations_with_timestamps(h: Harness) -> None:
    model_id = h.setup_signed()
    request, inference = h.serve(model_id)
    status = h.registry.functions.recordStatus
    assert tuple(status(request.request_id, inference.as_tuple()).call()) == (
        True, inference.timestamp, 0, 0, 0, False)
    h.travel(10)
    h.send(h.registry.functions.revokeWorker(WORKER.address), ADMIN)
    worker_revoked = h.now()
    assert tuple(status(request.request_id, inference.as_tuple()).call()) == (
        True, inference.timestamp, worker_revoked, 0, 0, True)
    h.travel(10)
    h.send(h.registry.functions.revokeModel(model_id), OWNER)
    model_revoked = h.now()
    assert tuple(status(request.request_id, inference.as_tuple()).call()) == (
        True, inference.timestamp, worker_revoked, 0, model_revoked, True)
    # A record that was never made: exists is false, revocations still reported.
    fake = h.record(request, contributors_shares(2), outputCommitment=h.unique())
    assert tuple(status(request.request_id, fake.as_tuple()).call()) == (
        False, fake.timestamp, worker_revoked, 0, model_revoked, False)
    # The right record under another request id is not a record of that request.
    assert h.attestia.reg.record_status(h.unique(), inference).exists is False


def test_sealed_result_is_calldata_only(h: Harness) -> None:
    model_id = h.setup_signed()
    request = h.request(model_id)
    shares = [(contributor(9), 10_000)]
    inference = h.record(request, shares)
    sealed = b"\x99" * 300
    receipt = h.fulfill(request, inference, shares, sealed=sealed)
    tx = h.w3.eth.get_transaction(receipt["transactionHash"])
    assert sealed in bytes(tx["input"])
    assert all(sealed not in bytes(log["data"]) for log in receipt["logs"])
