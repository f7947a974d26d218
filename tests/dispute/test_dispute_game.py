"""The attribution-dispute game on Anvil: a lying worker is caught and slashed for every kind
of lie, an honest worker survives a frivolous challenge and collects the bond, every entry
point refuses what it must, and settlement pays a disputed record only by the outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from offchain.attribution.trace import Trace
from offchain.dispute import game
from offchain.protocol import BPS, DisputeState, FraudKind, Share, StepOpening
from offchain.rewards.chain import Finality, read_ledger
from tests.contracts.helpers import (
    MIN_STAKE,
    OPERATOR,
    OUTSIDER,
    REQUESTER,
    WORKER,
    Harness,
    reverts,
)
from tests.dispute import helpers
from tests.dispute.helpers import Case, Game

REWARD = MIN_STAKE // 2


@pytest.fixture
def g(attestia) -> Game:
    return Game(Harness(attestia))


def challenge(g: Game, case: Case, account=REQUESTER):
    spec = g.model.spec
    return game.open_challenge(g.h.attestia, case.record, case.input_bytes, case.salt,
                               case.output_bytes, spec, account=account)


def respond(g: Game, case: Case, trace: Trace | None = None, tmp=None):
    return game.respond(g.h.attestia, g.model, case.request_id, tmp, account=WORKER,
                        trace=trace)


def assert_slashed(g: Game, case: Case, outcome: DisputeState, prover: str) -> None:
    attestia = g.h.attestia
    dispute = attestia.slasher.dispute(case.request_id)
    assert dispute.state == outcome
    worker = attestia.registry.worker(WORKER.address)
    assert worker.stake == 0 and worker.slashedAt != 0
    bond = attestia.slasher.dispute_bond()
    challenger_gets = bond + (REWARD if prover == REQUESTER.address else 0)
    assert attestia.slasher.balance(REQUESTER.address) == challenger_gets
    if prover != REQUESTER.address:
        assert attestia.slasher.balance(prover) == REWARD


def test_challenge_reveals_the_query_the_python_side_computes(g: Game, tmp_path) -> None:
    case = g.case()
    challenge(g, case)
    (opened,) = g.h.attestia.slasher.opened(request_id=case.request_id)
    assert opened.query == case.query and opened.label == case.label
    assert opened.challenger == REQUESTER.address and opened.worker == WORKER.address
    dispute = g.h.attestia.slasher.dispute(case.request_id)
    assert dispute.state == DisputeState.OPEN and dispute.n == g.model.index.n


def test_honest_worker_survives_a_frivolous_challenge_and_collects_the_bond(g: Game,
                                                                           tmp_path) -> None:
    attestia = g.h.attestia
    case = g.case()
    challenge(g, case)
    respond(g, case, tmp=tmp_path)
    assert game.find_fraud(attestia, g.model, case.request_id) is None
    # Every one-step check of the honest trace says "not fraud".
    opening = case.honest.opening
    with reverts("NotFraud"):
        g.h.send(attestia.slasher.prove_value(case.request_id, opening(0), opening(1)),
                 OUTSIDER)
    with reverts("NotFraud"):
        g.h.send(attestia.slasher.prove_end(case.request_id, opening(0)), OUTSIDER)
    with reverts("DeadlineNotReached"):
        g.h.send(attestia.slasher.resolve(case.request_id), OUTSIDER)
    # Proofs (and descents opened within a window of the response) run for 3 windows.
    g.h.travel(3 * attestia.slasher.response_window() + 1)
    with reverts("DeadlinePassed"):  # too late to prove anything
        g.h.send(attestia.slasher.prove_value(case.request_id, opening(0), opening(1)),
                 OUTSIDER)
    game.resolve(attestia, case.request_id, account=OUTSIDER)
    assert attestia.slasher.dispute(case.request_id).state == DisputeState.WORKER_WON
    assert attestia.slasher.balance(OPERATOR.address) == attestia.slasher.dispute_bond()
    assert attestia.registry.worker(WORKER.address).stake == MIN_STAKE
    (resolved,) = attestia.slasher.resolved(request_id=case.request_id)
    assert resolved.outcome == DisputeState.WORKER_WON and resolved.slashed == 0


LIES: dict[str, tuple[Callable[[Trace], Trace], FraudKind]] = {
    "non-roster item": (helpers.lie_outside_item, FraudKind.ITEM),
    "wrong distance": (helpers.lie_distance, FraudKind.ITEM),
    "wrong order": (helpers.lie_order, FraudKind.ORDER),
    "duplicated item": (helpers.lie_duplicate, FraudKind.DUPLICATE),
    "wrong recursion step": (helpers.lie_value, FraudKind.VALUE),
    "wrong running sum": (helpers.lie_sum, FraudKind.SUM),
}


@pytest.mark.parametrize("lie", list(LIES))
def test_a_lying_trace_is_caught_and_slashed(g: Game, tmp_path, lie: str) -> None:
    forge, kind = LIES[lie]
    forged: dict[str, Trace] = {}

    def lying_shares(honest: Trace) -> list[Share]:
        forged["trace"] = forge(honest)
        return g.shares_of(forged["trace"])

    case = g.case(shares=lying_shares)
    challenge(g, case)
    respond(g, case, forged["trace"], tmp=tmp_path)  # the response itself is accepted
    proof, _ = game.prove(g.h.attestia, g.model, case.request_id, account=OUTSIDER)
    assert proof is not None and proof.fraud.kind == kind, proof
    assert_slashed(g, case, DisputeState.FRAUD, OUTSIDER.address)
    (resolved,) = g.h.attestia.slasher.resolved(request_id=case.request_id)
    assert resolved.kind == kind and resolved.slashed == MIN_STAKE


def test_misattribution_with_an_honest_output_is_caught(g: Game, tmp_path) -> None:
    """The issue's attack: all 10,000 bps to the contributor the honest sums rank lowest.
    The worker can only respond with totals that give those bps; its honest steps then end
    at another root, and the END check proves it."""
    attestia = g.h.attestia
    case_holder: dict[str, Trace] = {}

    def all_to_lowest(honest: Trace) -> list[Share]:
        lowest = min(range(len(g.roster)), key=lambda i: honest.totals[i])
        totals = [0] * len(g.roster)
        totals[lowest] = 1
        case_holder["trace"] = helpers.lie_totals(honest, totals)
        return [Share(g.roster[lowest], BPS)]

    case = g.case(shares=all_to_lowest)
    assert case.shares != tuple(g.shares_of(case.honest))
    challenge(g, case)
    # The honest trace cannot answer it: the recorded bps do not follow from honest sums.
    with reverts("BpsDoNotFollow"):
        respond(g, case, case.honest, tmp=tmp_path)
    respond(g, case, case_holder["trace"], tmp=tmp_path)
    proof, _ = game.prove(attestia, g.model, case.request_id, account=REQUESTER)
    assert proof is not None and proof.fraud.kind == FraudKind.END
    assert_slashed(g, case, DisputeState.FRAUD, REQUESTER.address)


def test_no_response_slashes_the_worker(g: Game, tmp_path) -> None:
    attestia = g.h.attestia
    case = g.case()
    challenge(g, case)
    g.h.travel(attestia.slasher.response_window() + 1)
    with reverts("DeadlinePassed"):
        respond(g, case, tmp=tmp_path)
    game.resolve(attestia, case.request_id, account=OUTSIDER)
    assert_slashed(g, case, DisputeState.NO_RESPONSE, REQUESTER.address)
    (resolved,) = attestia.slasher.resolved(request_id=case.request_id)
    assert resolved.kind == FraudKind.NO_RESPONSE


def test_challenge_refusals(g: Game) -> None:
    attestia = g.h.attestia
    disputes = attestia.slasher
    case = g.case()
    bond = disputes.dispute_bond()
    spec = g.model.spec

    def attempt(record=case.record, input_bytes=case.input_bytes, salt=case.salt,
                output=case.output_bytes, spec=spec, value=bond):
        return g.h.send(disputes.challenge(record, input_bytes, salt, output, spec, value),
                        OUTSIDER)

    with reverts("IncorrectBond"):
        attempt(value=bond - 1)
    with reverts("InputMismatch"):
        attempt(salt=bytes(32))
    with reverts("OutputMismatch"):
        attempt(output=case.output_bytes[:-4] + b"\x00\x00\x80\x3f")
    with reverts("SpecMismatch"):
        attempt(spec=type(spec)(spec.itemsRoot, spec.n, spec.k + 1, spec.mu, spec.rho))
    with reverts("RecordNotFound"):
        attempt(record=replace(case.record, attributionHash=bytes(32)))
    g.h.travel(attestia.registry.challenge_window() + 1)
    with reverts("ChallengeWindowClosed"):
        attempt()


def test_one_dispute_per_record_and_only_the_worker_responds(g: Game, tmp_path) -> None:
    attestia = g.h.attestia
    case = g.case()
    challenge(g, case)
    with reverts("DisputeExists"):
        challenge(g, case, account=OUTSIDER)
    trace = case.honest
    call = attestia.slasher.respond(case.request_id, trace.root, "file:///nowhere",
                                     trace.totals, list(trace.roster), case.shares)
    with reverts("ThirdPartyResponse"):  # a third party defends only with the bond
        g.h.send(call, OUTSIDER)
    with reverts("WrongDisputeState"):  # nothing to prove before a response
        g.h.send(attestia.slasher.prove_end(case.request_id, trace.opening(0)), OUTSIDER)
    with reverts("RosterMismatch"):
        g.h.send(attestia.slasher.respond(case.request_id, trace.root, "x", trace.totals,
                                           list(reversed(trace.roster)), case.shares), WORKER)
    with reverts("SharesMismatch"):
        g.h.send(attestia.slasher.respond(case.request_id, trace.root, "x", trace.totals,
                                           list(trace.roster), []), WORKER)
    g.h.send(call, OPERATOR)  # the operator may answer for its key
    assert attestia.slasher.dispute(case.request_id).state == DisputeState.RESPONDED
    with reverts("WrongDisputeState"):
        g.h.send(call, WORKER)


def test_a_wrong_proof_is_refused_not_taken_for_fraud(g: Game, tmp_path) -> None:
    attestia = g.h.attestia
    case = g.case()
    challenge(g, case)
    respond(g, case, tmp=tmp_path)
    opening = case.honest.opening
    with reverts("BadPosition"):  # not adjacent
        g.h.send(attestia.slasher.prove_value(case.request_id, opening(0), opening(2)),
                 OUTSIDER)
    good = opening(1)
    tampered = StepOpening(1, replace(good.step, value=good.step.value + 1), good.proof)
    with reverts("InvalidStepProof"):  # a step that is not the committed one
        g.h.send(attestia.slasher.prove_value(case.request_id, opening(0), tampered),
                 OUTSIDER)
    with reverts("BadPosition"):
        g.h.send(attestia.slasher.prove_duplicate(case.request_id, opening(1), opening(1)),
                 OUTSIDER)
    with reverts("NotFraud"):
        g.h.send(attestia.slasher.prove_duplicate(case.request_id, opening(1), opening(2)),
                 OUTSIDER)
    assert attestia.slasher.dispute(case.request_id).state == DisputeState.RESPONDED


def test_settlement_waits_for_the_dispute_and_pays_by_its_outcome(g: Game, tmp_path) -> None:
    attestia = g.h.attestia
    reg = attestia.registry
    fraud = g.case(shares=lambda honest: g.shares_of(helpers.lie_value(honest)))
    lying = helpers.lie_value(fraud.honest)
    upheld = g.case()
    quiet = g.case()
    challenge(g, fraud)
    challenge(g, upheld)
    respond(g, fraud, lying, tmp=tmp_path)
    respond(g, upheld, tmp=tmp_path)

    def final(case: Case) -> tuple[int | None, bool]:
        return Finality.read(attestia).of(case.record)

    assert final(fraud) == (None, False) and final(upheld) == (None, False)  # under dispute
    assert final(quiet)[0] is not None  # final when its window closes
    game.prove(attestia, g.model, fraud.request_id, account=OUTSIDER)
    assert final(fraud) == (reg.current_epoch(), True)  # ended now: the worker lost
    g.h.travel(3 * attestia.slasher.response_window() + 1)
    assert final(upheld) == (None, False)  # deadline passed, not resolved yet
    game.resolve(attestia, upheld.request_id, account=OUTSIDER)
    assert final(upheld) == (reg.current_epoch(), False)
    g.h.next_epoch()
    settled = {r.record: r.shares for r in read_ledger(attestia, reg.current_epoch() - 1).singles}
    equal = tuple(tuple(s) for s in g.shares_of(helpers.lie_totals(fraud.honest,
                                                                   [0] * len(g.roster))))
    assert settled["0x" + fraud.request_id.hex()] == equal  # re-attributed: equal split
    assert settled["0x" + upheld.request_id.hex()] == tuple(tuple(s) for s in upheld.shares)
    assert settled["0x" + quiet.request_id.hex()] == tuple(tuple(s) for s in quiet.shares)


def test_a_proof_cannot_be_replayed_and_a_spent_stake_does_not_block_a_dispute(
        g: Game, tmp_path) -> None:
    """Replay: the same fraud proof twice, or a resolve after it, is refused. Griefing: a
    worker already slashed by one dispute (nothing left to slash) cannot make the next
    dispute fail for its challenger: it still ends as fraud, with 0 slashed and the bond
    back."""
    attestia = g.h.attestia
    first = g.case(shares=lambda honest: g.shares_of(helpers.lie_value(honest)))
    second = g.case(shares=lambda honest: g.shares_of(helpers.lie_value(honest)))
    for case in (first, second):
        challenge(g, case)
        respond(g, case, helpers.lie_value(case.honest), tmp=tmp_path)
    proof, _ = game.prove(attestia, g.model, first.request_id, account=OUTSIDER)
    assert proof is not None
    with reverts("WrongDisputeState"):
        g.h.send(proof.call, OUTSIDER)
    with reverts("WrongDisputeState"):
        g.h.send(attestia.slasher.resolve(first.request_id), OUTSIDER)
    assert attestia.registry.worker(WORKER.address).stake == 0
    game.prove(attestia, g.model, second.request_id, account=OUTSIDER)
    assert attestia.slasher.dispute(second.request_id).state == DisputeState.FRAUD
    (resolved,) = attestia.slasher.resolved(request_id=second.request_id)
    assert resolved.slashed == 0
    bond = attestia.slasher.dispute_bond()
    assert attestia.slasher.balance(REQUESTER.address) == 2 * bond  # both bonds back
    assert attestia.slasher.balance(OUTSIDER.address) == REWARD  # one stake, paid once
