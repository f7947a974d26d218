"""Single records (fulfill / fulfillBySig): the fee split by the request's terms, replay
protection, who may sign, the sealed result the signature covers, the deadline, every check on
the record, its attribution list and the model's roster, TEE records, and recordStatus."""

from __future__ import annotations

from dataclasses import replace

import pytest

from offchain.protocol import (
    PROOF_SIGNED,
    PROOF_TEE,
    PROOF_ZK,
    TIMESTAMP_WINDOW,
    Payout,
    Split,
    attribution_hash,
    contributors_hash,
    result_hash,
)
from tests.contracts.helpers import (
    ADMIN,
    FEE,
    OPERATOR,
    OUTSIDER,
    OWNER,
    RELAYER,
    REQUESTER,
    ROSTER,
    SEALED,
    SIGNED,
    SPLIT,
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
    raw_roster_hash,
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
    reg = h.registry
    epoch = h.epoch()
    assert reg.request_state(request.request_id) == h.digest(inference)
    assert reg.balance(OPERATOR.address) == 2_000  # worker cut to the operator
    assert reg.balance(WORKER.address) == 0
    assert reg.balance(OWNER.address) == 1_000
    assert reg.epoch_pool(epoch) == 7_001
    (event,) = h.recorded(receipt)
    assert event.digest == h.digest(inference)
    assert event.payout == Payout(epoch, 2_000, 1_000, 7_001)
    assert [tuple(s) for s in event.shares] == shares
    assert event.inference == inference
    assert event.inference.resultHash == result_hash(SEALED)


def test_fee_split_follows_the_terms_the_request_was_paid_under(h: Harness) -> None:
    """The owner re-prices and re-splits after payment: the record pays by the request."""
    model_id = h.setup_signed(fee=1_000, split=(0, 0, 10_000))
    request = h.request(model_id)
    h.send(h.registry.set_terms(model_id, 5_000, SIGNED, Split(5_000, 5_000, 0)), OWNER)
    shares = contributors_shares(1)
    receipt = h.fulfill(request, h.record(request, shares), shares)
    assert h.payout(receipt) == Payout(h.epoch(), 0, 0, 1_000)
    reg = h.registry
    assert (reg.balance(OPERATOR.address), reg.balance(OWNER.address),
            reg.epoch_pool(h.epoch())) == (0, 0, 1_000)
    # A request paid after the change pays by the new terms.
    later = h.request(model_id)
    assert later.fee == 5_000
    receipt = h.fulfill(later, h.record(later, shares), shares)
    assert h.payout(receipt) == Payout(h.epoch(), 2_500, 2_500, 0)


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
    moved = h.record(second, shares, output_commitment=inference.outputCommitment,
                     timestamp=inference.timestamp)
    with reverts("InvalidSignature"):
        h.fulfill(second, moved, shares, by_sig=True, signature=h.sign(inference))


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
    for bad in (b"", b"\x01" * 64, b"\x00" * 65, h.sign(inference)[:64] + b"\x05"):
        with reverts("InvalidSignature"):
            h.fulfill(request, inference, shares, by_sig=True, signature=bad)
    # A valid signature over the record, then one field altered in the submitted copy.
    signature = h.sign(inference)
    altered = h.record(request, shares, output_commitment=h.unique(),
                       timestamp=inference.timestamp)
    with reverts("InvalidSignature"):
        h.fulfill(request, altered, shares, by_sig=True, signature=signature)
    h.fulfill(request, inference, shares, by_sig=True)


@pytest.mark.parametrize("by_sig", [False, True], ids=["direct", "by-sig"])
def test_the_sealed_result_must_be_the_signed_one(h: Harness, by_sig: bool) -> None:
    """resultHash = keccak256(sealedResult) is in the signed record: another (or an empty)
    sealed result is ResultHashMismatch(signed, actual), checked before anything else."""
    model_id = h.setup_signed()
    request = h.request(model_id)
    shares = contributors_shares(2)
    inference = h.record(request, shares, sealed=b"the real answer")
    for other in (b"", b"the real answer ", SEALED):
        with reverts("ResultHashMismatch", result_hash(b"the real answer"), result_hash(other)):
            h.fulfill(request, inference, shares, by_sig=by_sig, sealed=other)
    # A record whose resultHash was changed to match a swapped answer loses its signature.
    swapped = replace(inference, resultHash=result_hash(b"swapped"))
    if by_sig:
        with reverts("InvalidSignature"):
            h.fulfill(request, swapped, shares, by_sig=True, sealed=b"swapped",
                      signature=h.sign(inference))
    receipt = h.fulfill(request, inference, shares, by_sig=by_sig, sealed=b"the real answer")
    assert h.registry.sealed_result(receipt["transactionHash"]) == b"the real answer"


def test_records_by_non_workers_are_rejected(h: Harness) -> None:
    model_id = h.setup_signed()
    shares = contributors_shares(2)
    # A request naming OUTSIDER (no worker) is refused; every request names an active worker.
    with reverts("WorkerNotFound", OUTSIDER.address):
        h.request(model_id, worker=OUTSIDER.address)
    named = h.request(model_id)
    forged = h.record(named, shares, worker=OUTSIDER.address)
    with reverts("WorkerMismatch", WORKER.address, OUTSIDER.address):
        h.fulfill(named, forged, shares, by_sig=True)
    # Another registered worker may not answer a request named to WORKER.
    h.register_worker(WORKER_B)
    other = h.record(named, shares, worker=WORKER_B.address)
    with reverts("WorkerMismatch", WORKER.address, WORKER_B.address):
        h.fulfill(named, other, shares)
    # ...but answers one named to it; requests naming no worker do not exist (WorkerRequired).
    to_b = h.request(model_id, worker=WORKER_B.address)
    h.fulfill(to_b, h.record(to_b, shares, worker=WORKER_B.address), shares)
    with reverts("WorkerRequired"):
        h.request(model_id, worker=None)


@pytest.mark.parametrize("by_sig", [False, True], ids=["direct", "by-sig"])
def test_records_by_revoked_or_unbonding_workers_are_rejected(h: Harness, by_sig: bool) -> None:
    model_id = h.setup_signed()
    h.register_worker(WORKER_B)
    shares = contributors_shares(2)
    revoked, unbonding = h.request(model_id), h.request(model_id, worker=WORKER_B.address)
    h.send(h.registry.revoke_worker(WORKER.address), ADMIN)
    h.send(h.registry.begin_unbonding(WORKER_B.address), OPERATOR)
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
    forged = replace(request, fee=1)  # claims a lower fee
    with reverts("RequestNotOpen", rid):
        h.fulfill(forged, h.record(request, shares), shares)
    richer = replace(request, workerBps=10_000, ownerBps=0)  # claims a better split
    with reverts("RequestNotOpen", rid):
        h.fulfill(richer, h.record(request, shares), shares)
    ghost = Request(REQUESTER.address, model_id, WORKER.address, FEE, h.now(), h.unique(),
                    ZERO32, SPLIT[0], SPLIT[1], SIGNED)
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


def test_records_signed_after_the_deadline_are_refused(h: Harness) -> None:
    """A record must be signed by createdAt + requestTimeout (RequestExpired(deadline)); one
    signed by then lands up to TIMESTAMP_WINDOW later, the last second before a cancel."""
    model_id = h.setup_signed()
    shares = contributors_shares(2)
    request = h.request(model_id)
    deadline = h.deadline(request)
    late = h.record(request, shares, timestamp=deadline + 1)
    with reverts("RequestExpired", deadline):
        h.send_at(deadline + 1, h.fulfill_call(request, late, shares), WORKER)
    with reverts("RequestExpired", deadline):
        h.fulfill(request, late, shares, by_sig=True)
    # Signed at the deadline, landing at the last second of the grace period.
    on_time = h.record(request, shares, timestamp=deadline)
    h.send_at(deadline + TIMESTAMP_WINDOW, h.fulfill_call(request, on_time, shares, by_sig=True),
              RELAYER)
    assert h.registry.request_state(request.request_id) == h.digest(on_time)
    # One second later it could not have landed (and the requester may cancel instead).
    second = h.request(model_id)
    deadline = h.deadline(second)
    on_time = h.record(second, shares, timestamp=deadline)
    with reverts("TimestampOutOfWindow", deadline):
        h.send_at(deadline + TIMESTAMP_WINDOW + 1, h.fulfill_call(second, on_time, shares),
                  WORKER)
    h.send(h.registry.cancel_request(second), REQUESTER)


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
    # The owner narrows the policy to TEE: requests paid from now on refuse SIGNED records,
    # the one already paid keeps the policy it was paid under.
    h.send(h.registry.set_terms(model_id, FEE, TEE, Split(*SPLIT)), OWNER)
    tee_request = h.request(model_id)
    assert (request.policy, tee_request.policy) == (SIGNED, TEE)
    with reverts("ProofKindNotAllowed", PROOF_SIGNED):
        h.fulfill(tee_request, h.record(tee_request, shares), shares)
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


@pytest.mark.parametrize("by_sig", [False, True], ids=["direct", "by-sig"])
def test_every_payee_must_be_in_the_models_roster(h: Harness, by_sig: bool) -> None:
    """NotAContributor(account) for the first share outside the registered roster, wherever
    it sits in the list; the roster passed must be the registered one (RosterMismatch)."""
    model_id = h.setup_signed()
    request = h.request(model_id)
    outsider = contributor(500)  # a valid address, not in ROSTER
    assert outsider not in ROSTER

    def attempt(shares, roster=None) -> None:
        h.fulfill(request, h.record(request, shares), shares, by_sig=by_sig, roster=roster)

    with reverts("NotAContributor", outsider):
        attempt([(outsider, 10_000)])
    ordered = sorted([ROSTER[0], ROSTER[-1], outsider], key=lambda x: int(x, 16))
    with reverts("NotAContributor", outsider):  # among roster accounts
        attempt([(x, 3_334 if i == 0 else 3_333) for i, x in enumerate(ordered)])
    with reverts("SharesNotSorted", 0):  # the zero address is never a payee
        zero = [(ZERO_ADDRESS, 10_000)]
        h.fulfill(request, h.record(request, zero, attribution=raw_attribution_hash(zero)),
                  zero, by_sig=by_sig)
    registered = contributors_hash(ROSTER)
    forged = sorted(ROSTER + [outsider], key=lambda x: int(x, 16))
    for bad in (forged, ROSTER[:-1], list(reversed(ROSTER)), [], ROSTER + [ROSTER[-1]]):
        with reverts("RosterMismatch", registered, raw_roster_hash(bad)):
            attempt([(outsider if outsider in bad else ROSTER[0], 10_000)], roster=bad)
    # Another model's roster is not this model's, even if it holds every payee.
    other = h.register_model(contributors=[outsider])
    with reverts("RosterMismatch", registered, contributors_hash([outsider])):
        attempt([(outsider, 10_000)], roster=h.roster(other))
    assert h.registry.request_state(request.request_id) == request.hash  # nothing recorded
    attempt([(ROSTER[0], 4_000), (ROSTER[-1], 6_000)])


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
    status = h.lens.record_status(request.request_id, inference)
    assert (status.exists, status.recordedAt, status.workerRevokedAt,
            status.measurementRevokedAt, status.modelRevokedAt, status.revokedAfter) == (
        True, inference.timestamp, 0, 0, 0, False)

    second = h.request(model_id)
    h.send(h.registry.revoke_measurement(measurement), ADMIN)
    revoked_at = h.now()
    with reverts("MeasurementIsRevoked", measurement):
        h.fulfill(second, h.record(second, shares, proof_kind=PROOF_TEE, proof_hash=attestation),
                  shares)
    status = h.lens.record_status(request.request_id, inference)
    assert (status.exists, status.measurementRevokedAt, status.revokedAfter) == (
        True, revoked_at, True)


def test_record_status_reports_revocations_with_timestamps(h: Harness) -> None:
    model_id = h.setup_signed()
    request, inference = h.serve(model_id)

    def status(record=inference, request_id=request.request_id) -> tuple:
        s = h.lens.record_status(request_id, record)
        return (s.exists, s.recordedAt, s.workerRevokedAt, s.measurementRevokedAt,
                s.modelRevokedAt, s.revokedAfter)

    assert status() == (True, inference.timestamp, 0, 0, 0, False)
    h.travel(10)
    h.send(h.registry.revoke_worker(WORKER.address), ADMIN)
    worker_revoked = h.now()
    assert status() == (True, inference.timestamp, worker_revoked, 0, 0, True)
    h.travel(10)
    h.send(h.registry.revoke_model(model_id), OWNER)
    model_revoked = h.now()
    assert status() == (True, inference.timestamp, worker_revoked, 0, model_revoked, True)
    # A record that was never made: exists is false, revocations still reported.
    fake = h.record(request, contributors_shares(2), output_commitment=h.unique())
    assert status(fake) == (False, fake.timestamp, worker_revoked, 0, model_revoked, False)
    # The right record under another request id is not a record of that request.
    assert h.lens.record_status(h.unique(), inference).exists is False


def test_sealed_result_is_calldata_only(h: Harness) -> None:
    model_id = h.setup_signed()
    request = h.request(model_id)
    shares = [(contributor(9), 10_000)]
    sealed = b"\x99" * 300
    inference = h.record(request, shares, sealed=sealed)
    receipt = h.fulfill(request, inference, shares, sealed=sealed)
    tx = h.w3.eth.get_transaction(receipt["transactionHash"])
    assert sealed in bytes(tx["input"])
    assert all(sealed not in bytes(log["data"]) for log in receipt["logs"])
    assert h.registry.sealed_result(receipt["transactionHash"]) == sealed
