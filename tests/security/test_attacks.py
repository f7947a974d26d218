"""Issue 9's on-chain attack classes, performed as an attacker would: real transactions against
the deployed contracts on Anvil, and where the attack is a mempool race, with automine off
(the victim's transaction waits in the mempool, the attacker reads it there and sends its own
with a higher priority fee, then ONE block is mined) and the outcome of BOTH transactions
asserted. Each test's docstring names the class and the defence.

Classes 2 (a bad batch stalls settlement) and 9 (a poison input stops a worker) live off chain
(settlement, the worker) and are tested there.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak

from offchain.chain.tx import Call, abi_type
from offchain.proofs.zk import output_binding
from offchain.protocol import (
    BPS,
    PROOF_ZK,
    SLASH_REPORTER_BPS,
    TIMESTAMP_WINDOW,
    ZERO_ADDRESS,
    Payout,
    Split,
    ZkProof,
    model_id,
    result_hash,
)
from tests.contracts.helpers import (
    ADMIN,
    ATTACKER,
    ATTACKER_TIP,
    CHALLENGE_WINDOW,
    ENCRYPTION_KEY,
    FEE,
    HONEST_TIP,
    MIN_STAKE,
    OPERATOR,
    OUTSIDER,
    OWNER,
    RELAYER,
    REQUESTER,
    ROSTER,
    SIGNED,
    SPLIT,
    UNBONDING,
    WORKER,
    WORKER_B,
    ZK,
    Harness,
    contributors_shares,
    failed_with,
    reverts,
    succeeded,
)

ACCOMPLICE = ATTACKER.address


def pending_call(h: Harness, tx_hash: bytes) -> tuple[str, list[Any]]:
    """What a mempool observer reads: the pending transaction's function name and its
    decoded arguments."""
    tx = h.w3.eth.get_transaction(tx_hash)
    assert tx["blockNumber"] is None, "not pending"
    data = bytes(tx["input"])
    fn, _ = h.registry.contract.decode_function_input(data)
    types = [abi_type(p) for p in fn.abi["inputs"]]
    return fn.fn_name, list(abi_decode(types, data[4:]))


def money(h: Harness, *accounts: str) -> tuple[int, ...]:
    """Registry credits of accounts, then the current epoch's contributor pool."""
    return (*(h.registry.balance(a) for a in accounts), h.registry.epoch_pool(h.epoch()))


# ---------------------------------------------------------------- class 1: roster payees

def test_class1_worker_cannot_pay_an_accomplice_outside_the_roster(h: Harness) -> None:
    """Class 1 (payees outside the roster). Attack: a staked worker fulfills a request with the
    attribution list [(accomplice, 10000)], directly and relayed, then with a roster it forged
    to include the accomplice. Defence: the model's roster is registered as a hash; every
    single record passes the roster (RosterMismatch unless it is the registered one) and every
    share must be in it (NotAContributor). Nothing is recorded and nobody is paid."""
    model = h.setup_signed()
    request = h.request(model)
    loot = [(ACCOMPLICE, BPS)]
    record = h.record(request, loot)
    before = money(h, OPERATOR.address, OWNER.address, ACCOMPLICE)

    # Mined, not merely simulated: the worker's own transaction, then a relayed one.
    (direct,) = h.race(h.signed_tx(h.fulfill_call(request, record, loot), WORKER))
    failed_with(h, direct, "NotAContributor", ACCOMPLICE)
    (relayed,) = h.race(h.signed_tx(h.fulfill_call(request, record, loot, by_sig=True),
                                    RELAYER))
    failed_with(h, relayed, "NotAContributor", ACCOMPLICE)
    # Hidden among real contributors, at any position.
    mixed = sorted([(ROSTER[0], 5_000), (ACCOMPLICE, 1), (ROSTER[-1], 4_999)],
                   key=lambda s: int(s[0], 16))
    with reverts("NotAContributor", ACCOMPLICE):
        h.fulfill(request, h.record(request, mixed), mixed)
    # With a roster forged to contain the accomplice.
    forged = sorted(ROSTER + [ACCOMPLICE], key=lambda a: int(a, 16))
    with reverts("RosterMismatch"):
        h.fulfill(request, record, loot, roster=forged)
    with reverts("RosterMismatch"):
        h.fulfill(request, record, loot, roster=[ACCOMPLICE])

    assert h.registry.request_state(request.request_id) == request.hash  # still open
    assert h.registry.recorded(request_id=request.request_id) == []
    assert money(h, OPERATOR.address, OWNER.address, ACCOMPLICE) == before == (0, 0, 0, 0)
    # The honest record still lands and pays the roster's contributors' pool.
    honest = contributors_shares(5)
    receipt = h.fulfill(request, h.record(request, honest), honest)
    assert h.payout(receipt).contributorCut == FEE * SPLIT[2] // BPS


# ---------------------------------------------------------------- class 3: zk proof replay

def test_class3_zk_proof_cannot_be_replayed_for_another_request(h: Harness) -> None:
    """Class 3 (ZK proofs bound to their request). Attack: a valid proof recorded for request
    #1 is read from that record's calldata by a worker that never ran the model and submitted
    for request #2 (another requester, another input), as is and re-randomized (the mock
    verifier accepts any bytes, as a malleable proof would verify). Defence: the request
    commits to the proof's input binding (zkInputHash == instances[0], ZkInputMismatch) and a
    proof is single-use (ProofAlreadyUsed)."""
    model = h.register_model(policy=ZK)
    h.register_worker()
    h.register_worker(WORKER_B)  # the thief: staked, never ran the model
    verifier = h.deploy("MockZkVerifier", True)
    h.send(h.registry.set_verifier(model, verifier.address), OWNER)
    shares = contributors_shares(3)
    proof = ZkProof(b"\x5a" * 128, (111, 2**200 + 3, 42))
    first = h.request(model, zk_input_hash=proof.input_hash)

    def zk_record(request, zk: ZkProof, worker=WORKER):
        return h.record(request, shares, worker=worker.address, proof_kind=PROOF_ZK,
                        proof_hash=keccak(zk.proof), output_commitment=output_binding(
                            zk.instances))

    receipt = h.fulfill_zk(first, zk_record(first, proof), shares, proof)
    assert h.registry.proof_used(keccak(proof.proof))

    # The thief reads the proof out of the recorded transaction.
    tx = h.w3.eth.get_transaction(receipt["transactionHash"])
    fn, _ = h.registry.contract.decode_function_input(tx["input"])
    args = abi_decode([abi_type(p) for p in fn.abi["inputs"]], bytes(tx["input"])[4:])
    stolen = ZkProof(bytes(args[4][0]), tuple(args[4][1]))
    assert stolen == proof

    second_input = (222).to_bytes(32, "big")
    # Request #2 names the thief (requests always name their worker): it still cannot use
    # the stolen proof.
    second = h.request(model, worker=WORKER_B.address, requester=OUTSIDER,
                       zk_input_hash=second_input)
    (replayed,) = h.race(h.signed_tx(h.registry.fulfill_zk(
        second, zk_record(second, stolen, WORKER_B), shares, ROSTER, stolen, b"sealed-result"),
        WORKER_B))
    failed_with(h, replayed, "ProofAlreadyUsed", keccak(proof.proof))
    mauled = ZkProof(stolen.proof + b"\x00", stolen.instances)  # same statement, new bytes
    (rerandomized,) = h.race(h.signed_tx(h.registry.fulfill_zk(
        second, zk_record(second, mauled, WORKER_B), shares, ROSTER, mauled, b"sealed-result"),
        WORKER_B))
    failed_with(h, rerandomized, "ZkInputMismatch", second_input, proof.input_hash)
    assert h.registry.request_state(second.request_id) == second.hash  # still open
    assert h.registry.balance(OPERATOR.address) == FEE * SPLIT[0] // BPS  # the first record only

    # A proof of request #2's own input records.
    own = ZkProof(b"\x77" * 128, (222, 5, 6))
    h.fulfill_zk(second, zk_record(second, own, WORKER_B), shares, own, signer=WORKER_B)


# ---------------------------------------------------------------- class 4: registration

def test_class4a_front_running_register_worker_without_the_keys_consent_fails(
        h: Harness) -> None:
    """Class 4a (registration consent). Attack: the honest operator's registerWorker (with
    the key's EIP-712 consent naming that operator) waits in the mempool; the attacker
    front-runs it with the same signer address, first with no consent, then with the consent
    signature copied from the pending transaction (and with its own encryption key). Defence:
    the consent names operator, encryption key, nonce, chain and registry (InvalidSignature);
    the honest registration lands and the operator is the one the key named."""
    deadline, consent = h.consent(WORKER, OPERATOR.address)
    honest = h.signed_tx(h.registry.register_worker(WORKER.address, ENCRYPTION_KEY, MIN_STAKE,
                                               deadline=deadline, signature=consent),
                         OPERATOR, tip_gwei=HONEST_TIP)
    with h.mempool():
        honest_hash = h.submit(honest)
        name, args = pending_call(h, honest_hash)
        assert name == "registerWorker"
        signer, key, copied_deadline, copied = args
        assert (signer, key, copied) == (WORKER.address.lower(), ENCRYPTION_KEY, consent)
        attacks = [
            h.registry.register_worker(WORKER.address, b"attacker key", MIN_STAKE),  # no consent
            h.registry.register_worker(WORKER.address, key, MIN_STAKE, deadline=copied_deadline,
                                  signature=copied),  # the victim's consent, copied
            h.registry.register_worker(WORKER.address, b"attacker key", MIN_STAKE,
                                  deadline=copied_deadline, signature=copied),
        ]
        # One account, consecutive nonces: each is signed after the previous one is pending.
        attack_hashes = [h.submit(h.signed_tx(call, ATTACKER, tip_gwei=ATTACKER_TIP))
                         for call in attacks]
        h.mine()
    honest_receipt, *attack_receipts = h.receipts([honest_hash, *attack_hashes])
    # Every attack was mined before the honest transaction, and failed.
    assert all(r["transactionIndex"] < honest_receipt["transactionIndex"]
               for r in attack_receipts)
    failed_with(h, attack_receipts[0], "SignatureExpired", 0)  # deadline 0: no consent
    failed_with(h, attack_receipts[1], "InvalidSignature")
    failed_with(h, attack_receipts[2], "InvalidSignature")
    succeeded(honest_receipt)
    worker = h.registry.worker(WORKER.address)
    assert (worker.operator, worker.encryptionKey, worker.stake) == (
        OPERATOR.address, ENCRYPTION_KEY, MIN_STAKE)
    assert h.registry.nonce(WORKER.address) == 1
    # With a real-looking deadline but no signature of the key, it is InvalidSignature too.
    with reverts("InvalidSignature"):
        h.send(h.registry.register_worker(WORKER_B.address, b"k", MIN_STAKE,
                                     deadline=h.now() + 600), ATTACKER)
    # The worker's fee cut goes to the operator the key named, never to the attacker.
    model = h.register_model()
    request, _ = h.serve(model)
    assert h.registry.balance(OPERATOR.address) == FEE * SPLIT[0] // BPS
    assert h.registry.balance(ATTACKER.address) == 0
    with reverts("Unauthorized"):  # nor can the attacker unbond the key
        h.send(h.registry.begin_unbonding(WORKER.address), ATTACKER)


def test_class4b_front_running_register_model_gains_nothing(h: Harness) -> None:
    """Class 4b (model registration). Attack: the attacker copies the honest owner's pending
    registerModel calldata byte for byte and front-runs it. Defence: model ids are
    keccak256(abi.encode(owner, contentHash)): both registrations succeed, the attacker gets its
    own id, the honest owner gets the id derived from its address and content hash, with its
    terms, and its requests pay it."""
    content = keccak(b"model.onnx bytes")
    call = h.registry.register_model(content, "ipfs://model-card", keccak(b"data"), ROSTER, SIGNED,
                                FEE, Split(*SPLIT))
    honest = h.signed_tx(call, OWNER, tip_gwei=HONEST_TIP)
    with h.mempool():
        honest_hash = h.submit(honest)
        pending = h.w3.eth.get_transaction(honest_hash)
        copy = Call(to=pending["to"], data=bytes(pending["input"]))  # identical arguments
        attack_hash = h.submit(h.signed_tx(copy, ATTACKER, tip_gwei=ATTACKER_TIP))
        h.mine()
    honest_receipt, attack_receipt = h.receipts([honest_hash, attack_hash])
    assert attack_receipt["transactionIndex"] < honest_receipt["transactionIndex"]
    succeeded(attack_receipt)
    succeeded(honest_receipt)
    honest_id, squatted_id = model_id(OWNER.address, content), model_id(ATTACKER.address, content)
    assert honest_id != squatted_id
    (registered,) = h.events(h.registry, "ModelRegistered", honest_receipt)
    assert (registered["modelId"], registered["owner"]) == (honest_id, OWNER.address)
    honest_model, squatted = h.registry.model(honest_id), h.registry.model(squatted_id)
    assert (honest_model.owner, honest_model.fee, honest_model.split) == (
        OWNER.address, FEE, Split(*SPLIT))
    assert squatted.owner == ATTACKER.address
    # The attacker holds no power over the honest model...
    with reverts("Unauthorized"):
        h.send(h.registry.set_terms(honest_id, 1, SIGNED, Split(0, 10_000, 0)), ATTACKER)
    with reverts("Unauthorized"):
        h.send(h.registry.revoke_model(honest_id), ATTACKER)
    # ...and requests for it pay its owner.
    h.register_worker()
    h.rosters[honest_id] = ROSTER
    h.serve(honest_id)
    assert (h.registry.balance(OWNER.address), h.registry.balance(ATTACKER.address)) == (
        FEE * SPLIT[1] // BPS, 0)
    with reverts("AlreadyExists"):  # the owner's own id is taken only by the owner's retry
        h.send(call, OWNER)


# ---------------------------------------------------------------- class 5: terms

def test_class5_owner_cannot_change_the_terms_of_a_paid_request(h: Harness) -> None:
    """Class 5 (terms fixed when the request is paid). Attack: the model owner sees the
    worker's record in the mempool and front-runs it with setTerms (everything to the owner,
    a higher fee, a narrower policy). Defence: the paid request carries fee, split and policy
    (they are in the hashed Request); the record is checked and split by them. Both
    transactions succeed; the record pays the worker and contributors as when paid."""
    model = h.setup_signed(fee=10_000, split=(2_000, 1_000, 7_000))
    request = h.request(model)
    shares = contributors_shares(3)
    record = h.record(request, shares)
    terms = h.signed_tx(h.registry.set_terms(model, 99_999, 1 << 2, Split(0, 10_000, 0)), OWNER,
                        tip_gwei=ATTACKER_TIP)
    fulfill = h.signed_tx(h.fulfill_call(request, record, shares), WORKER, tip_gwei=HONEST_TIP)
    terms_receipt, fulfill_receipt = h.race(terms, fulfill)
    assert terms_receipt["transactionIndex"] < fulfill_receipt["transactionIndex"]
    succeeded(terms_receipt)
    succeeded(fulfill_receipt)
    assert h.payout(fulfill_receipt) == Payout(h.epoch(), 2_000, 1_000, 7_000)
    assert (h.registry.balance(OPERATOR.address),
            h.registry.balance(OWNER.address)) == (2_000, 1_000)
    assert h.registry.model(model).ownerBps == 10_000  # the new terms hold for new requests only
    later = h.request(model, fee=99_999)
    assert (later.fee, later.workerBps, later.ownerBps) == (99_999, 0, 10_000)
    # Nor can anyone pass the request with the new terms: its hash would not match.
    with reverts("RequestNotOpen", later.request_id):
        h.fulfill(replace(later, ownerBps=0, workerBps=10_000), h.record(later, shares), shares)


# ---------------------------------------------------------------- class 6: sealed result

def test_class6_relayed_record_cannot_be_resent_with_another_sealed_result(h: Harness) -> None:
    """Class 6 (the sealed result is covered). Attack: a mempool observer reads a relayed
    fulfillBySig and re-sends it first with an empty, then a different sealedResult. Defence:
    the worker signs resultHash = keccak256(sealedResult) in the record
    (ResultHashMismatch); the honest relay then succeeds and the answer the requester reads
    from the record's transaction is the worker's."""
    model = h.setup_signed()
    request = h.request(model)
    shares = contributors_shares(2)
    answer = b"\x01encrypted answer for the requester"
    record = h.record(request, shares, sealed=answer)
    honest = h.signed_tx(h.fulfill_call(request, record, shares, by_sig=True, sealed=answer),
                         RELAYER, tip_gwei=HONEST_TIP)
    with h.mempool():
        honest_hash = h.submit(honest)
        name, args = pending_call(h, honest_hash)
        assert name == "fulfillBySig" and args[-1] == answer
        attack_hashes = []
        for i, swapped in enumerate((b"", b"garbage the requester cannot open")):
            call = Call.of(h.registry.contract.functions.fulfillBySig(*args[:-1], swapped))
            attack_hashes.append(h.submit(h.signed_tx(call, ATTACKER,
                                                      tip_gwei=ATTACKER_TIP - i)))
        h.mine()
    honest_receipt, *attacks = h.receipts([honest_hash, *attack_hashes])
    for receipt, swapped in zip(attacks, (b"", b"garbage the requester cannot open"),
                                strict=True):
        assert receipt["transactionIndex"] < honest_receipt["transactionIndex"]
        failed_with(h, receipt, "ResultHashMismatch", result_hash(answer), result_hash(swapped))
    succeeded(honest_receipt)
    (recorded,) = h.registry.recorded(request_id=request.request_id)
    assert recorded.meta.tx_hash == "0x" + honest_hash.hex()
    assert recorded.inference.resultHash == result_hash(answer)
    assert h.registry.sealed_result(recorded.meta.tx_hash) == answer


# ---------------------------------------------------------------- class 7: rejection

def test_class7_only_the_named_worker_may_reject_and_requests_name_their_worker(
        h: Harness) -> None:
    """Class 7 (rejecting someone else's request). Attack: an active worker the request did
    not name (it cannot read the payload) front-runs the named worker's record with a
    rejection; then a request naming no worker is tried. Defence: only the named worker key
    or its operator may reject (Unauthorized); a request must name its worker (WorkerRequired,
    issue 17), so there is no request that anyone may reject or serve."""
    model = h.setup_signed()
    h.register_worker(WORKER_B, operator=OUTSIDER)
    shares = contributors_shares(2)
    named = h.request(model)
    record = h.record(named, shares)
    reject = h.signed_tx(h.registry.reject_request(named, "cannot decrypt"), WORKER_B,
                         tip_gwei=ATTACKER_TIP)
    serve = h.signed_tx(h.fulfill_call(named, record, shares), WORKER, tip_gwei=HONEST_TIP)
    reject_receipt, serve_receipt = h.race(reject, serve)
    assert reject_receipt["transactionIndex"] < serve_receipt["transactionIndex"]
    failed_with(h, reject_receipt, "Unauthorized")
    succeeded(serve_receipt)
    assert h.registry.request_state(named.request_id) == h.digest(record)
    assert h.registry.rejected(request_id=named.request_id) == []

    seen = h.registry.model(model)
    assert seen is not None
    (receipt,) = h.race(h.signed_tx(h.registry.request_inference(
        model, ZERO_ADDRESS, h.unique(), b"open", seen), REQUESTER))
    failed_with(h, receipt, "WorkerRequired")
    assert h.registry.balance(REQUESTER.address) == 0  # no refund: the request was served


# ---------------------------------------------------------------- class 8: cancel vs record

def test_class8_cancel_cannot_front_run_a_record_signed_before_the_deadline(
        h: Harness) -> None:
    """Class 8 (cancel against a late fulfill). Attack: just after the timeout, the worker's
    record (signed at the deadline) is in the mempool; the requester front-runs it with
    cancelRequest to get both the refund and the (public) answer. Defence: a record must be
    signed by the deadline (RequestExpired otherwise) and lands within TIMESTAMP_WINDOW; the
    requester may cancel only from deadline + TIMESTAMP_WINDOW + 1 (RequestNotExpired), so the
    pending record wins; once the cancel opens, no record signed in time can land."""
    model = h.setup_signed()
    shares = contributors_shares(2)
    request = h.request(model)
    deadline = h.deadline(request)
    cancellable_at = h.cancellable_at(request)
    assert cancellable_at == deadline + TIMESTAMP_WINDOW + 1
    record = h.record(request, shares, timestamp=deadline)
    cancel = h.signed_tx(h.registry.cancel_request(request), REQUESTER, tip_gwei=ATTACKER_TIP)
    late = h.signed_tx(h.fulfill_call(request, record, shares, by_sig=True), RELAYER,
                       tip_gwei=HONEST_TIP)
    cancel_receipt, late_receipt = h.race(cancel, late, timestamp=deadline + 1)
    assert cancel_receipt["transactionIndex"] < late_receipt["transactionIndex"]
    failed_with(h, cancel_receipt, "RequestNotExpired", cancellable_at)
    succeeded(late_receipt)
    assert h.registry.request_state(request.request_id) == h.digest(record)
    assert h.registry.balance(REQUESTER.address) == 0

    # The last second of the grace period: the record still beats the cancel.
    second = h.request(model)
    record = h.record(second, shares, timestamp=h.deadline(second))
    receipts = h.race(h.signed_tx(h.registry.cancel_request(second), REQUESTER,
                                  tip_gwei=ATTACKER_TIP),
                      h.signed_tx(h.fulfill_call(second, record, shares), WORKER),
                      timestamp=h.cancellable_at(second) - 1)
    failed_with(h, receipts[0], "RequestNotExpired", h.cancellable_at(second))
    succeeded(receipts[1])

    # A record signed after the deadline never lands; once the cancel opens, the cancel wins
    # and a record signed by the deadline is out of its window: never both.
    third = h.request(model)
    deadline = h.deadline(third)
    too_late = h.record(third, shares, timestamp=deadline + 1)
    (receipt,) = h.race(h.signed_tx(h.fulfill_call(third, too_late, shares), WORKER),
                        timestamp=deadline + 2)
    failed_with(h, receipt, "RequestExpired", deadline)
    on_time = h.record(third, shares, timestamp=deadline)
    record_receipt, cancel_receipt = h.race(
        h.signed_tx(h.fulfill_call(third, on_time, shares), WORKER, tip_gwei=ATTACKER_TIP),
        h.signed_tx(h.registry.cancel_request(third), REQUESTER),
        timestamp=h.cancellable_at(third))
    failed_with(h, record_receipt, "TimestampOutOfWindow", deadline)
    succeeded(cancel_receipt)
    assert h.registry.balance(REQUESTER.address) == FEE


# ---------------------------------------------------------------- class 10: slashing

def test_class10_equivocation_is_slashed_and_the_stake_cannot_escape(h: Harness) -> None:
    """Class 10 (stake at risk). Attack: a worker records one answer for a request and signs
    a different one for the same request (two claims), and its operator starts unbonding at
    once to get the stake out. Defence: anyone submits both records to the Slasher (the
    recorded one needs no signature): the whole stake is slashed, 50 % to the reporter and the
    rest to the treasury, the key revoked; the unbonding delay outlasts every record's
    challenge window, so the stake is still there; withdrawStake finds nothing afterwards. An
    honest re-signing of the same answer is not slashable (RecordsDoNotConflict)."""
    model = h.setup_signed()
    shares = contributors_shares(3)
    request, recorded = h.serve(model, shares)
    h.send(h.registry.begin_unbonding(WORKER.address), OPERATOR)  # the getaway starts at once
    unbonding_at = h.registry.worker(WORKER.address).unbondingAt
    assert unbonding_at + UNBONDING > recorded.timestamp + CHALLENGE_WINDOW + TIMESTAMP_WINDOW

    # An honest retry re-signs the same answer (new timestamp, new sealing): not slashable.
    resigned = replace(recorded, timestamp=recorded.timestamp + 30,
                       resultHash=result_hash(b"re-sealed"))
    with reverts("RecordsDoNotConflict", request.request_id):
        h.send(h.slasher.slash_equivocation(recorded, b"", resigned, h.sign(resigned)), OUTSIDER)

    # The conflicting record, found later (the last second of the challenge window).
    conflicting = replace(recorded, outputCommitment=keccak(b"another answer"))
    evidence = (recorded, b"", conflicting, h.sign(conflicting))
    h.travel_to(recorded.timestamp + CHALLENGE_WINDOW - 1)
    with reverts("UnbondingNotElapsed", unbonding_at + UNBONDING):
        h.send(h.registry.withdraw_stake(WORKER.address), OPERATOR)
    treasury = h.slasher.contract.functions.treasury().call()
    assert treasury == ADMIN.address
    reporter_before = h.slasher.balance(OUTSIDER.address)
    registry_before = h.balance(h.registry.address)
    withdraw = h.signed_tx(h.registry.withdraw_stake(WORKER.address), OPERATOR,
                           tip_gwei=ATTACKER_TIP)
    report = h.slasher.slash_equivocation(*evidence)
    h.attestia.sender(OUTSIDER).commit_for(report)  # a block before the report reveals it
    slash = h.signed_tx(report, OUTSIDER)
    withdraw_receipt, slash_receipt = h.race(withdraw, slash,
                                             timestamp=recorded.timestamp + CHALLENGE_WINDOW)
    failed_with(h, withdraw_receipt, "UnbondingNotElapsed", unbonding_at + UNBONDING)
    succeeded(slash_receipt)

    reward = MIN_STAKE * SLASH_REPORTER_BPS // BPS
    assert h.slasher.balance(OUTSIDER.address) == reporter_before + reward
    assert h.slasher.balance(treasury) == MIN_STAKE - reward
    assert h.balance(h.registry.address) == registry_before - MIN_STAKE
    worker = h.registry.worker(WORKER.address)
    assert worker.slashed and worker.revokedAt and worker.stake == 0
    assert not h.registry.is_active_worker(WORKER.address)
    h.travel_to(unbonding_at + UNBONDING)
    with reverts("ZeroAmount"):
        h.send(h.registry.withdraw_stake(WORKER.address), OPERATOR)
    with reverts("AlreadySlashed", WORKER.address):
        h.send(h.slasher.slash_equivocation(*evidence), RELAYER)
    # The reporter and the treasury are paid out.
    for payee, amount in ((OUTSIDER, reward), (ADMIN, MIN_STAKE - reward)):
        before = h.balance(payee.address)
        receipt = h.send(h.slasher.withdraw(), payee)
        assert h.balance(payee.address) == before + amount - \
            receipt["gasUsed"] * receipt["effectiveGasPrice"]


# ---------------------------------------------------------------- beyond the ten classes

def test_open_request_record_cannot_be_stolen_from_the_mempool(h: Harness) -> None:
    """Not one of issue 9's classes (found while writing class 3; issue 17 attack 6). Attack:
    a request's honest ZK record waits in the mempool; another active worker copies its proof,
    output, attribution and sealed result into its own record of the same request and
    front-runs it. Defence (issue 17): open requests are gone, every request names its worker
    (WorkerRequired), so the copy fails (WorkerMismatch) and the honest record lands."""
    model = h.register_model(policy=ZK)
    h.register_worker()
    h.register_worker(WORKER_B, operator=OUTSIDER)
    verifier = h.deploy("MockZkVerifier", True)
    h.send(h.registry.set_verifier(model, verifier.address), OWNER)
    shares = contributors_shares(2)
    proof = ZkProof(b"\x42" * 64, (5, 6))
    request = h.request(model, zk_input_hash=proof.input_hash)
    honest = h.record(request, shares, worker=WORKER.address, proof_kind=PROOF_ZK,
                      proof_hash=keccak(proof.proof),
                      output_commitment=output_binding(proof.instances))
    stolen = replace(honest, worker=WORKER_B.address)
    honest_tx = h.signed_tx(h.registry.fulfill_zk(request, honest, shares, ROSTER, proof,
                                             b"sealed-result"), WORKER)
    theft_tx = h.signed_tx(h.registry.fulfill_zk(request, stolen, shares, ROSTER, proof,
                                            b"sealed-result"), WORKER_B, tip_gwei=ATTACKER_TIP)
    theft, honest_receipt = h.race(theft_tx, honest_tx)
    assert theft["status"] == 0 and honest_receipt["status"] == 1
    failed_with(h, theft, "WorkerMismatch", WORKER.address, WORKER_B.address)
    assert h.registry.balance(OUTSIDER.address) == 0  # the thief's operator earned nothing
