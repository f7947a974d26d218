"""Issue 17's contract attacks, performed as an attacker would: real transactions against the
deployed contracts on Anvil, mempool races with automine off (the victim's transaction waits
in the mempool, the attacker sends its own with a higher priority fee, ONE block is mined) and
the outcome of both transactions asserted. Each test's docstring names the attack (its number
in issue 17) and the defence."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from eth_utils import keccak

from offchain.attribution.trace import Trace
from offchain.chain.deploy import deploy, deployment_path
from offchain.chain.plan import DeployParams
from offchain.dispute import game
from offchain.proofs.zk import output_binding
from offchain.protocol import (
    BPS,
    DISPUTE_WINDOWS,
    PROOF_ZK,
    SLASH_REPORTER_BPS,
    TIMESTAMP_WINDOW,
    WINDOW_MARGIN,
    ZERO_ADDRESS,
    DisputeState,
    Share,
    Split,
    ZkProof,
    request_id,
    terms_hash,
)
from offchain.registry import Attestia
from tests.contracts.helpers import (
    ADMIN,
    ATTACKER,
    ATTACKER_TIP,
    FEE,
    HONEST_TIP,
    MIN_STAKE,
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
    failed_with,
    reverts,
    succeeded,
)
from tests.dispute.helpers import Game, lie_totals


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


# ---------------------------------------------------------------- attack 4: margins

def _tightest_params() -> DeployParams:
    """The tightest parameters the constructors accept: every window at its default and the
    unbonding delay exactly challenge window + 15 min + DISPUTE_WINDOWS (8) response windows
    + WINDOW_MARGIN."""
    base = DeployParams()
    return replace(base, unbonding_delay=base.challenge_window + TIMESTAMP_WINDOW
                   + DISPUTE_WINDOWS * base.response_window + WINDOW_MARGIN)


def test_attack4_constructors_refuse_windows_without_a_margin(h: Harness) -> None:
    """Attack 4's parameters (unbonding delay = challenge window + 15 min + DISPUTE_WINDOWS
    response windows, equalities without a margin) are refused by both constructors with
    custom errors; the tightest accepted ones are WINDOW_MARGIN (1 h) longer."""
    p = _tightest_params()
    reg_args = [ADMIN.address, h.distributor.address, MIN_STAKE, 0, p.challenge_window,
                p.request_timeout, 0, p.epoch_length]
    registry_min = p.challenge_window + TIMESTAMP_WINDOW + WINDOW_MARGIN
    reg_args[3] = registry_min - 1
    with reverts("InvalidUnbondingDelay", registry_min, registry_min - 1):
        h.deploy("InferenceRegistry", *reg_args)
    old_tightest = p.unbonding_delay - WINDOW_MARGIN  # issue 17's attack 4 parameters
    reg_args[3] = old_tightest
    registry = h.deploy("InferenceRegistry", *reg_args)  # the registry alone accepts it
    with reverts("ResponseWindowTooLong", p.unbonding_delay, old_tightest):
        h.deploy_slasher(registry.address, ADMIN.address, p.dispute_bond, p.response_window)
    reg_args[3] = p.unbonding_delay
    registry = h.deploy("InferenceRegistry", *reg_args)
    slasher = h.deploy_slasher(registry.address, ADMIN.address, p.dispute_bond,
                       p.response_window)
    assert slasher.functions.responseWindow().call() == p.response_window


def test_attack4_stake_cannot_escape_a_fraud_proof_at_the_tightest_parameters(
        h: Harness, tmp_path) -> None:
    """Attack 4 (stake escape at the boundary), at the tightest parameters the constructors
    accept. The liar records with a timestamp 15 min ahead of the block, begins unbonding at
    once; the challenge, the lying response and the fraud proof each come at the last second
    their window allows. In the proof's second the liar's withdrawStake is raced ahead of it
    (higher tip, one block): the withdrawal fails (UnbondingNotElapsed), the proof lands and
    slashes the whole stake; when withdrawStake first becomes valid, WINDOW_MARGIN later,
    there is nothing left (ZeroAmount)."""
    chain = h.attestia.chain
    path = deployment_path(chain)
    saved = path.read_bytes()
    try:
        deployment, _ = deploy(chain, fresh=True, params=_tightest_params())
    finally:
        path.write_bytes(saved)  # the session's deployment stays the one on disk
    attestia = Attestia(chain, deployment)
    tight = Harness(attestia)
    assert attestia.registry.unbonding_delay() == _tightest_params().unbonding_delay
    g = Game(tight)
    slasher = attestia.slasher
    window = slasher.response_window()
    forged: dict[str, Trace] = {}

    def all_to_lowest(honest: Trace) -> list[Share]:
        lowest = min(range(len(g.roster)), key=lambda i: honest.totals[i])
        totals = [0] * len(g.roster)
        totals[lowest] = 1
        forged["trace"] = lie_totals(honest, totals)
        return [Share(g.roster[lowest], BPS)]

    # The lying record, signed TIMESTAMP_WINDOW ahead of its block (the latest it may be).
    record = tight.record

    def ahead(*args: Any, **kwargs: Any) -> Any:
        return record(*args, timestamp=tight.now() + TIMESTAMP_WINDOW, **kwargs)

    tight.record = ahead  # type: ignore[method-assign]
    case = g.case(shares=all_to_lowest)
    del tight.record
    tight.send(attestia.registry.begin_unbonding(WORKER.address), OPERATOR)
    unbonding_at = attestia.registry.worker(WORKER.address).unbondingAt
    withdrawable_at = unbonding_at + attestia.registry.unbonding_delay()

    closes_at = case.record.timestamp + attestia.registry.challenge_window()
    challenge = slasher.challenge(case.record, case.input_bytes, case.salt, case.output_bytes,
                                  g.model.spec, slasher.dispute_bond())
    attestia.sender(REQUESTER).commit_for(challenge)  # its commitment, blocks before
    chain.w3.provider.make_request("evm_setNextBlockTimestamp", [closes_at])
    attestia.send(challenge, account=REQUESTER, committed=True)
    chain.w3.provider.make_request("evm_setNextBlockTimestamp", [closes_at + window])
    game.respond(attestia, g.model, case.request_id, tmp_path, account=WORKER,
                 trace=forged["trace"])
    prove_by = slasher.dispute(case.request_id).deadline
    assert prove_by == closes_at + 4 * window  # descents open within a window, 2 clocks each
    assert withdrawable_at >= prove_by + WINDOW_MARGIN

    proof = game.find_fraud(attestia, g.model, case.request_id)
    assert proof is not None
    escape = tight.signed_tx(attestia.registry.withdraw_stake(WORKER.address), OPERATOR,
                             tip_gwei=ATTACKER_TIP)
    attestia.sender(OUTSIDER).commit_for(proof.call)  # the prover's commitment, a block before
    prove = tight.signed_tx(proof.call, OUTSIDER, tip_gwei=HONEST_TIP)
    escape_receipt, prove_receipt = tight.race(escape, prove, timestamp=prove_by)
    assert escape_receipt["transactionIndex"] < prove_receipt["transactionIndex"]
    failed_with(tight, escape_receipt, "UnbondingNotElapsed", withdrawable_at)
    succeeded(prove_receipt)
    assert slasher.dispute(case.request_id).state == DisputeState.FRAUD
    assert attestia.registry.worker(WORKER.address).stake == 0
    assert slasher.balance(OUTSIDER.address) == MIN_STAKE * SLASH_REPORTER_BPS // BPS

    with reverts("ZeroAmount"):
        tight.send_at(withdrawable_at, attestia.registry.withdraw_stake(WORKER.address), OPERATOR)


def test_attack4_the_longest_game_ends_before_the_stake_can_leave(h: Harness) -> None:
    """The longest dispute the rules allow, every move at the last second its clock permits,
    at the tightest accepted parameters: the liar's record (timestamp 15 min ahead), its
    unbonding begun at once; the challenge at the window's last second; a puppet's bonded
    defence at the response's last second; a descent opened at the last second it may be,
    the puppet revealing and the challenger picking each with its whole clock; the puppet
    then cannot move (its clock is spent): the descent is settled (NO_REVEAL), the puppet's
    bond goes to the challenger and the dispute reopens for the worker; the liar responds
    with its lie at the last second, the same descent again, and the final settle (which
    slashes) is raced by the liar's withdrawStake in its block: the withdrawal fails
    (UnbondingNotElapsed), the slash lands. DISPUTE_WINDOWS = 8 covers it with the margin."""
    from tests.dispute.helpers import lie_value_rebuilt

    chain = h.attestia.chain
    path = deployment_path(chain)
    saved = path.read_bytes()
    try:
        deployment, _ = deploy(chain, fresh=True, params=_tightest_params())
    finally:
        path.write_bytes(saved)
    attestia = Attestia(chain, deployment)
    tight = Harness(attestia)
    g = Game(tight)
    slasher = attestia.slasher
    window = slasher.response_window()
    record = tight.record

    def ahead(*args: Any, **kwargs: Any) -> Any:
        return record(*args, timestamp=tight.now() + TIMESTAMP_WINDOW, **kwargs)

    tight.record = ahead  # type: ignore[method-assign]
    case = g.case(shares=lambda t: g.shares_of(lie_value_rebuilt(t)))
    del tight.record
    forged = lie_value_rebuilt(case.honest)
    tight.send(attestia.registry.begin_unbonding(WORKER.address), OPERATOR)
    withdrawable_at = (attestia.registry.worker(WORKER.address).unbondingAt
                       + attestia.registry.unbonding_delay())
    closes_at = case.record.timestamp + attestia.registry.challenge_window()
    bond = slasher.dispute_bond()
    challenge = slasher.challenge(case.record, case.input_bytes, case.salt, case.output_bytes,
                                  g.model.spec, bond)
    attestia.sender(REQUESTER).commit_for(challenge)
    chain.w3.provider.make_request("evm_setNextBlockTimestamp", [closes_at])
    attestia.send(challenge, account=REQUESTER, committed=True)

    def respond_at(ts: int, account: Any, value: int) -> None:
        tight.send_at(ts, slasher.respond(case.request_id, forged.root, "file:///withheld",
                                          forged.totals, list(forged.roster), case.shares,
                                          bond=value), account)

    def longest_descent() -> int:
        """Open at the last second, reveal and pick each with a whole clock; returns the
        second after which the responder side has lost."""
        deadline = slasher.dispute(case.request_id).deadline
        tight.send_at(deadline - 2 * window, slasher.descend(case.request_id, bond), REQUESTER)
        nodes = [forged.node(0, k) for k in range(16)]
        tight.send_at(deadline - window, slasher.reveal_nodes(
            case.request_id, REQUESTER.address, nodes), ATTACKER)
        tight.send_at(deadline, slasher.pick(case.request_id, nodes, 4), REQUESTER)
        descent = slasher.descent(case.request_id, REQUESTER.address)
        assert descent.deadline == deadline and descent.height == 0  # no clock left
        return deadline

    respond_at(closes_at + window, ATTACKER, bond)  # the puppet's defence
    ended = longest_descent()
    tight.send_at(ended + 1, slasher.settle_descent(case.request_id, REQUESTER.address),
                  OUTSIDER)
    reopened = slasher.dispute(case.request_id)
    assert reopened.state == DisputeState.OPEN and reopened.round == 1
    assert reopened.deadline == closes_at + 4 * window + 1 + window
    respond_at(reopened.deadline, WORKER, 0)  # the liar itself, at the last second
    ended = longest_descent()
    assert ended == closes_at + 8 * window + 1  # 8 windows and the reopen's settle second
    # The stake leaves WINDOW_MARGIN after the 8 windows at the earliest (less the seconds
    # between the record's signed time and the unbonding call): the settles a second after
    # each deadline eat seconds of the hour, never the hour.
    assert withdrawable_at - (ended + 1) >= WINDOW_MARGIN - 60
    escape = tight.signed_tx(attestia.registry.withdraw_stake(WORKER.address), OPERATOR,
                             tip_gwei=ATTACKER_TIP)
    settle = tight.signed_tx(slasher.settle_descent(case.request_id, REQUESTER.address),
                             OUTSIDER, tip_gwei=HONEST_TIP)
    escape_receipt, settle_receipt = tight.race(escape, settle, timestamp=ended + 1)
    failed_with(tight, escape_receipt, "UnbondingNotElapsed", withdrawable_at)
    succeeded(settle_receipt)
    dispute = slasher.dispute(case.request_id)
    assert dispute.state == DisputeState.FRAUD and dispute.kind.name == "NO_REVEAL"
    assert attestia.registry.worker(WORKER.address).stake == 0
    # Both descent bonds back, the puppet's bond, the challenge bond, half the stake.
    assert slasher.balance(REQUESTER.address) == 4 * bond + MIN_STAKE * SLASH_REPORTER_BPS // BPS
