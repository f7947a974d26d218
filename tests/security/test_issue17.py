"""Issue 17's contract attacks, performed as an attacker would: real transactions against the
deployed contracts on Anvil, mempool races with automine off (the victim's transaction waits
in the mempool, the attacker sends its own with a higher priority fee, ONE block is mined) and
the outcome of both transactions asserted. Each test's docstring names the attack (its number
in issue 17) and the defence."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from eth_utils import keccak

from offchain.proofs.zk import output_binding
from offchain.protocol import (
    BPS,
    PROOF_ZK,
    ZERO_ADDRESS,
    Split,
    ZkProof,
    request_id,
    terms_hash,
)
from tests.contracts.helpers import (
    FEE,
    OPERATOR,
    OUTSIDER,
    OWNER,
    REQUESTER,
    ROSTER,
    SPLIT,
    WORKER,
    WORKER_B,
    ZK,
    Harness,
    contributors_shares,
    reverts,
)

HONEST_TIP, ATTACKER_TIP = 1, 50  # gwei: the attacker's transaction is mined first


def failed_with(h: Harness, receipt: Any, error: str, *args: Any) -> None:
    """The mined transaction failed, with this custom error (and these arguments)."""
    assert receipt["status"] == 0, "the attack's transaction succeeded"
    with reverts(error, *args):
        h.check(receipt)


def succeeded(receipt: Any) -> None:
    assert receipt["status"] == 1, "the honest transaction failed"


def gas_paid(receipt: Any) -> int:
    return int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])


# ---------------------------------------------------------------- attack 7: terms re-priced

def test_attack7_owner_cannot_reprice_a_pending_request(h: Harness) -> None:
    """Attack 7 (terms re-priced in flight). Attack: the owner sees a pending requestInference
    and front-runs it with setTerms(same fee, SIGNED, everything to the owner). Defence: the
    request commits to the terms the requester read (termsHash); the changed terms make it
    revert with TermsChanged(expected, actual): nothing is stored, nothing is paid but gas."""
    model = h.setup_signed(fee=10_000, split=(2_000, 1_000, 7_000))
    seen = h.registry.model(model)
    assert seen is not None
    commitment = h.unique("input")
    request_call = h.registry.request_inference(model, WORKER.address, commitment, b"sealed",
                                                seen)
    reprice = h.signed_tx(h.registry.set_terms(model, 10_000, seen.policy, Split(0, 10_000, 0)),
                          OWNER, tip_gwei=ATTACKER_TIP)
    pay = h.signed_tx(request_call, REQUESTER, tip_gwei=HONEST_TIP)
    before = h.balance(REQUESTER.address)
    reprice_receipt, pay_receipt = h.race(reprice, pay)
    assert reprice_receipt["transactionIndex"] < pay_receipt["transactionIndex"]
    succeeded(reprice_receipt)
    now = h.registry.model(model)
    assert now is not None and (now.workerBps, now.ownerBps) == (0, 10_000)
    failed_with(h, pay_receipt, "TermsChanged", seen.terms_hash, now.terms_hash)
    assert h.balance(REQUESTER.address) == before - gas_paid(pay_receipt)  # the fee stayed home
    rid = request_id(REQUESTER.address, model, commitment)
    assert h.registry.request_state(rid) == bytes(32)
    assert h.registry.requested(request_id=rid) == []
    # Paying under the terms now in force, knowingly, works and stores them.
    later = h.request(model)
    assert (later.fee, later.workerBps, later.ownerBps) == (10_000, 0, 10_000)


def test_terms_hash_matches_the_contract(h: Harness) -> None:
    """The client's terms hash is the registry's: a request with it lands, any one field off
    reverts with TermsChanged naming both hashes."""
    model = h.setup_signed(fee=777, split=(1_500, 500, 8_000))
    seen = h.registry.model(model)
    assert seen is not None
    expected = terms_hash(777, seen.policy, 1_500, 500, seen.verifier)
    assert seen.terms_hash == expected
    for field, value in (("policy", seen.policy | ZK), ("workerBps", 1_501), ("ownerBps", 499),
                         ("verifier", OWNER.address)):
        forged = replace(seen, **{field: value})
        (receipt,) = h.race(h.signed_tx(h.registry.request_inference(
            model, WORKER.address, h.unique(), b"p", forged), REQUESTER))
        failed_with(h, receipt, "TermsChanged", forged.terms_hash, expected)
    # The fee is committed to by the payment itself.
    (receipt,) = h.race(h.signed_tx(h.registry.request_inference(
        model, WORKER.address, h.unique(), b"p", replace(seen, fee=778)), REQUESTER))
    failed_with(h, receipt, "IncorrectPayment", 777, 778)


# ---------------------------------------------------------------- attack 8: verifier swap

def test_attack8_verifier_swapped_after_payment_does_not_verify_the_request(h: Harness) -> None:
    """Attack 8 (ZK verifier swap). Attack: after a ZK request is paid, the owner points the
    model at a verifier that accepts anything, and a fake proof is submitted as a ZK record.
    Defence: the request carries the verifier in force when it was paid (Request.verifier);
    the fake proof is checked by that one and fails (ZkProofInvalid). A setVerifier mined
    before a pending request makes the request revert (TermsChanged)."""
    model = h.register_model(policy=ZK)
    h.register_worker()
    real = h.deploy("MockZkVerifier", False)  # the real verifier: rejects the fake proof
    h.send(h.registry.set_verifier(model, real.address), OWNER)
    fake = ZkProof(b"\x66" * 64, (31337, 1, 2))
    request = h.request(model, zk_input_hash=fake.input_hash)
    assert request.verifier == real.address
    accept_all = h.deploy("MockZkVerifier", True)
    h.send(h.registry.set_verifier(model, accept_all.address), OWNER)
    shares = contributors_shares(2)
    record = h.record(request, shares, proof_kind=PROOF_ZK, proof_hash=keccak(fake.proof),
                      output_commitment=output_binding(fake.instances))
    (receipt,) = h.race(h.signed_tx(h.registry.fulfill_zk(request, record, shares, ROSTER, fake,
                                                          b"sealed-result"), WORKER))
    failed_with(h, receipt, "ZkProofInvalid")
    assert h.registry.request_state(request.request_id) == request.hash  # still open
    assert not h.registry.proof_used(keccak(fake.proof))

    # The swap front-running a pending request: the request reverts, nothing is paid.
    seen = h.registry.model(model)
    assert seen is not None
    swap = h.signed_tx(h.registry.set_verifier(model, real.address), OWNER,
                       tip_gwei=ATTACKER_TIP)
    pay = h.signed_tx(h.registry.request_inference(model, WORKER.address, h.unique(), b"p",
                                                   seen, zk_input_hash=fake.input_hash),
                      REQUESTER, tip_gwei=HONEST_TIP)
    swap_receipt, pay_receipt = h.race(swap, pay)
    succeeded(swap_receipt)
    now = h.registry.model(model)
    assert now is not None
    failed_with(h, pay_receipt, "TermsChanged", seen.terms_hash, now.terms_hash)


# ---------------------------------------------------------------- attacks 5, 6: open requests

def test_attack5_no_request_can_be_captured_by_another_worker(h: Harness) -> None:
    """Attack 5 (open requests captured). Attack: a staked worker that cannot read the input
    answers first with junk (random output commitment and sealed result), front-running the
    worker that can. Defence: open requests are gone (design.md "Requests name their worker"):
    a request naming no worker reverts (WorkerRequired, nothing paid); a named request takes
    only its worker's record, so the junk fails (WorkerMismatch), the real record lands and
    the junk worker's operator earns nothing. Attack 6 (a pending record re-signed by another
    worker) fails the same way: tests/security/test_attacks.py, the mempool copy test."""
    model = h.setup_signed()
    h.register_worker(WORKER_B, operator=OUTSIDER)
    seen = h.registry.model(model)
    assert seen is not None
    before = h.balance(REQUESTER.address)
    (receipt,) = h.race(h.signed_tx(h.registry.request_inference(
        model, ZERO_ADDRESS, h.unique(), b"uri:file:///open.json", seen), REQUESTER))
    failed_with(h, receipt, "WorkerRequired")
    assert h.balance(REQUESTER.address) == before - gas_paid(receipt)

    request = h.request(model)
    shares = contributors_shares(2)
    honest = h.record(request, shares)
    junk = h.record(request, shares, worker=WORKER_B.address, output_commitment=h.unique("junk"),
                    sealed=b"junk")
    junk_tx = h.signed_tx(h.registry.fulfill(request, junk, shares, ROSTER, b"junk"), WORKER_B,
                          tip_gwei=ATTACKER_TIP)
    honest_tx = h.signed_tx(h.fulfill_call(request, honest, shares), WORKER, tip_gwei=HONEST_TIP)
    junk_receipt, honest_receipt = h.race(junk_tx, honest_tx)
    assert junk_receipt["transactionIndex"] < honest_receipt["transactionIndex"]
    failed_with(h, junk_receipt, "WorkerMismatch", WORKER.address, WORKER_B.address)
    succeeded(honest_receipt)
    assert h.registry.request_state(request.request_id) == h.digest(honest)
    assert h.registry.balance(OUTSIDER.address) == 0
    assert h.registry.balance(OPERATOR.address) == FEE * SPLIT[0] // BPS
