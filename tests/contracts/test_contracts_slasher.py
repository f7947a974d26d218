"""Slasher and the registry's slashing hook: equivocation evidence (signed or recorded records),
the reporter/treasury split, revocation of the slashed key, its stake gone for good, and every
revert by its custom error (Slasher's own and the registry's through it)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_utils import keccak

from offchain.chain.tx import Call
from offchain.protocol import BPS, SLASH_REPORTER_BPS, result_hash
from tests.contracts.helpers import (
    ADMIN,
    MIN_STAKE,
    OPERATOR,
    OUTSIDER,
    RELAYER,
    TIMEOUT,
    UNBONDING,
    WORKER,
    WORKER_B,
    ZERO_ADDRESS,
    Harness,
    contributors_shares,
    reverts,
)

REWARD = MIN_STAKE * SLASH_REPORTER_BPS // BPS
# Dispute parameters for a hand-deployed Slasher (its constructor checks them against the
# registry: UNBONDING >= 3,600 + 15 min + 2 * WINDOW).
BOND = 10**16
WINDOW = 3_600


def test_the_deployment_wires_the_slasher_once(h: Harness) -> None:
    reg = h.registry
    assert h.registry.contract.functions.slasher().call() == h.slasher.address
    assert h.slasher.contract.functions.registry().call() == h.registry.address
    assert h.slasher.contract.functions.treasury().call() == ADMIN.address  # the deployer here
    with reverts("AlreadyExists"):  # set once
        h.send(h.registry.contract.functions.setSlasher(OUTSIDER.address), ADMIN)
    admin_role = h.registry.contract.functions.DEFAULT_ADMIN_ROLE().call()
    with reverts("AccessControlUnauthorizedAccount", OUTSIDER.address, admin_role):
        h.send(h.registry.contract.functions.setSlasher(OUTSIDER.address), OUTSIDER)
    # Only the slasher may take a stake.
    h.register_worker()
    for who in (ADMIN, OUTSIDER, OPERATOR):
        with reverts("Unauthorized"):
            h.send(h.registry.contract.functions.slashStake(WORKER.address), who)
    assert reg.worker(WORKER.address).stake == MIN_STAKE


def test_zero_addresses_are_refused_when_wiring(h: Harness) -> None:
    fresh = h.deploy("InferenceRegistry", ADMIN.address, h.distributor.address, MIN_STAKE,
                     UNBONDING, 3_600, TIMEOUT, 0, 86_400)
    with reverts("ZeroAddress"):
        h.send(fresh.functions.setSlasher(ZERO_ADDRESS), ADMIN)
    with reverts("ZeroAddress"):
        h.deploy_slasher(ZERO_ADDRESS, ADMIN.address, BOND, WINDOW)
    with reverts("ZeroAddress"):
        h.deploy_slasher(fresh.address, ZERO_ADDRESS, BOND, WINDOW)
    with reverts("ZeroAddress"):
        h.deploy("RegistryLens", ZERO_ADDRESS)
    slasher = h.deploy_slasher(fresh.address, OUTSIDER.address, BOND, WINDOW)
    receipt = h.send(fresh.functions.setSlasher(slasher.address), ADMIN)
    (event,) = h.events(fresh, "SlasherSet", receipt)
    assert event["slasher"] == slasher.address


@pytest.mark.parametrize("reporter", [RELAYER, OUTSIDER], ids=["relayer", "outsider"])
def test_equivocation_slashes_the_whole_stake(h: Harness, reporter) -> None:
    model_id = h.setup_signed()
    a, sig_a, b, sig_b = h.conflicting(h.unique("request"), model_id)
    registry_before = h.balance(h.registry.address)
    receipt = h.send(h.slasher.slash_equivocation(a, sig_a, b, sig_b), reporter)

    (proven,) = h.events(h.slasher, "EquivocationProven", receipt)
    assert (proven["worker"], proven["requestId"], proven["reporter"], proven["digestA"],
            proven["digestB"]) == (WORKER.address, a.requestId, reporter.address, h.digest(a),
                                   h.digest(b))
    (slashed,) = h.events(h.slasher, "Slashed", receipt)
    assert (slashed["worker"], slashed["reporter"], slashed["amount"],
            slashed["reporterReward"], slashed["treasuryAmount"]) == (
        WORKER.address, reporter.address, MIN_STAKE, REWARD, MIN_STAKE - REWARD)
    (hook,) = h.events(h.registry, "WorkerSlashed", receipt)
    assert (hook["signer"], hook["slasher"], hook["amount"]) == (
        WORKER.address, h.slasher.address, MIN_STAKE)
    (revoked,) = h.events(h.registry, "WorkerRevoked", receipt)
    assert revoked["signer"] == WORKER.address

    worker = h.registry.worker(WORKER.address)
    assert (worker.stake, worker.slashedAt, worker.revokedAt) == (0, h.now(), h.now())
    assert worker.slashed and not worker.active and not h.registry.is_active_worker(WORKER.address)
    assert h.balance(h.registry.address) == registry_before - MIN_STAKE
    assert h.balance(h.slasher.address) == MIN_STAKE
    assert h.slasher.balance(reporter.address) == REWARD
    assert h.slasher.balance(ADMIN.address) == MIN_STAKE - REWARD

    # The revoked key makes no more records and can't be named.
    with reverts("WorkerNotActive", WORKER.address):
        h.request(model_id)
    # Its stake is gone for good: the operator unbonds and finds nothing to withdraw.
    h.send(h.registry.begin_unbonding(WORKER.address), OPERATOR)
    h.travel(UNBONDING)
    with reverts("ZeroAmount"):
        h.send(h.registry.withdraw_stake(WORKER.address), OPERATOR)
    # And it can't be slashed twice (another conflicting pair).
    with reverts("AlreadySlashed", WORKER.address):
        h.send(h.slasher.slash_equivocation(*h.conflicting(h.unique("request"), model_id)),
               OUTSIDER)

    # Pull payments: reporter and treasury withdraw; then nothing is left.
    for payee, amount in ((reporter, REWARD), (ADMIN, MIN_STAKE - REWARD)):
        before = h.balance(payee.address)
        receipt = h.send(h.slasher.withdraw(), payee)
        spent = receipt["gasUsed"] * receipt["effectiveGasPrice"]
        assert h.balance(payee.address) == before + amount - spent
        (event,) = h.events(h.slasher, "Withdrawn", receipt)
        assert (event["account"], event["amount"]) == (payee.address, amount)
        with reverts("NothingToWithdraw"):
            h.send(h.slasher.withdraw(), payee)
    assert h.balance(h.slasher.address) == 0


def test_a_recorded_record_is_evidence_without_a_signature(h: Harness) -> None:
    """The record the registry holds for a request is the worker's (it sent or signed it): the
    worker's signature on a conflicting record for the same request is enough."""
    model_id = h.setup_signed()
    shares = contributors_shares(2)
    request, recorded = h.serve(model_id, shares)
    other = replace(recorded, outputCommitment=h.unique("other output"))
    # Neither record unsigned unless it is the recorded one.
    with reverts("NotRecorded", request.request_id):
        h.send(h.slasher.slash_equivocation(recorded, b"", other, b""), OUTSIDER)
    with reverts("NotRecorded", request.request_id):
        h.send(h.slasher.slash_equivocation(other, b"", recorded, h.sign(recorded)), OUTSIDER)
    h.send(h.slasher.slash_equivocation(recorded, b"", other, h.sign(other)), OUTSIDER)
    assert h.registry.worker(WORKER.address).slashed
    assert h.slasher.balance(OUTSIDER.address) == REWARD
    # A slashed worker's records stay in the registry, now flagged by the lens.
    status = h.lens.record_status(request.request_id, recorded)
    assert status.exists and status.workerRevokedAt == h.now() and status.revokedAfter


def test_only_conflicting_claims_are_equivocation(h: Harness) -> None:
    """Re-signing the same answer (new timestamp, re-sealed result, new proof hash) is not
    equivocation (RecordsDoNotConflict); a different output, attribution, input or model is."""
    model_id = h.setup_signed()
    a, sig_a, _, _ = h.conflicting(h.unique("request"), model_id)
    same_claim = [
        a,
        replace(a, timestamp=a.timestamp + 60),
        replace(a, resultHash=result_hash(b"re-sealed for the same requester")),
        replace(a, proofHash=keccak(b"another proof of the same"), proofKind=3),
    ]
    for resigned in same_claim:
        with reverts("RecordsDoNotConflict", a.requestId):
            h.send(h.slasher.slash_equivocation(a, sig_a, resigned, h.sign(resigned)), OUTSIDER)
    conflicting = [
        replace(a, outputCommitment=keccak(b"another output")),
        replace(a, attributionHash=keccak(b"another list")),
        replace(a, inputCommitment=keccak(b"another input")),
        replace(a, modelId=keccak(b"another model")),
    ]
    for other in conflicting:  # each would slash: check by simulation, then slash with one
        report = h.slasher.slash_equivocation(a, sig_a, other, h.sign(other))
        h.attestia.sender(OUTSIDER).commit_for(report)  # the simulation reveals it
        h.attestia.sender(OUTSIDER).call(report, "pending")
    h.send(h.slasher.slash_equivocation(a, sig_a, conflicting[0], h.sign(conflicting[0])), OUTSIDER)


def test_evidence_must_be_one_workers_signatures_on_one_request(h: Harness) -> None:
    model_id = h.setup_signed()
    h.register_worker(WORKER_B)
    a, sig_a, b, sig_b = h.conflicting(h.unique("request"), model_id)
    slash = h.slasher.slash_equivocation
    # Two workers' records for one request.
    b_other = replace(b, worker=WORKER_B.address)
    with reverts("WorkerMismatch", WORKER.address, WORKER_B.address):
        h.send(slash(a, sig_a, b_other, h.sign(b_other, WORKER_B)), OUTSIDER)
    # One worker's records for two requests.
    b_moved = replace(b, requestId=h.unique("request"))
    with reverts("RequestIdMismatch", a.requestId, b_moved.requestId):
        h.send(slash(a, sig_a, b_moved, h.sign(b_moved)), OUTSIDER)
    # Forged signatures: someone else's, the operator's, a signature of the other record,
    # garbage, a signature in another domain.
    for bad in (h.sign(b, OUTSIDER), h.sign(b, OPERATOR), sig_a, b"\x01" * 65, b"\x00" * 64):
        with reverts("InvalidSignature"):
            h.send(slash(a, sig_a, b, bad), OUTSIDER)
        with reverts("InvalidSignature"):
            h.send(slash(b, bad, a, sig_a), OUTSIDER)
    # A key that never registered has nothing at stake.
    c, sig_c, d, sig_d = h.conflicting(h.unique("request"), model_id, worker=OUTSIDER)
    with reverts("WorkerNotFound", OUTSIDER.address):
        h.send(slash(c, sig_c, d, sig_d), RELAYER)
    assert h.registry.worker(WORKER.address).stake == MIN_STAKE  # nothing happened
    h.send(slash(a, sig_a, b, sig_b), RELAYER)


def test_revoked_and_unbonding_workers_stay_slashable(h: Harness) -> None:
    model_id = h.setup_signed()
    h.register_worker(WORKER_B)
    h.send(h.registry.revoke_worker(WORKER.address), ADMIN)
    revoked_at = h.now()
    h.send(h.registry.begin_unbonding(WORKER_B.address), OPERATOR)
    h.travel(UNBONDING - 10)  # still inside the unbonding delay
    h.send(h.slasher.slash_equivocation(*h.conflicting(h.unique("r"), model_id)), OUTSIDER)
    h.send(h.slasher.slash_equivocation(*h.conflicting(h.unique("r"), model_id, worker=WORKER_B)),
           OUTSIDER)
    assert h.slasher.balance(OUTSIDER.address) == 2 * REWARD
    # A governance revocation keeps its own timestamp; slashedAt is the slash's.
    worker = h.registry.worker(WORKER.address)
    assert worker.revokedAt == revoked_at and worker.slashedAt > revoked_at
    h.travel(20)
    with reverts("ZeroAmount"):  # the unbonded stake went to the slasher
        h.send(h.registry.withdraw_stake(WORKER_B.address), OPERATOR)


def test_a_withdrawn_stake_has_nothing_to_slash(h: Harness) -> None:
    model_id = h.setup_signed()
    evidence = h.conflicting(h.unique("request"), model_id)
    h.send(h.registry.begin_unbonding(WORKER.address), OPERATOR)
    h.travel(UNBONDING)
    h.send(h.registry.withdraw_stake(WORKER.address), OPERATOR)
    with reverts("NothingToSlash", WORKER.address):
        h.send(h.slasher.slash_equivocation(*evidence), OUTSIDER)


def test_the_slasher_takes_eth_from_the_registry_only(h: Harness) -> None:
    call = Call(to=h.slasher.address, data=b"", value=1)
    with reverts("Unauthorized"):
        h.send(call, OUTSIDER)
    assert h.balance(h.slasher.address) == 0
