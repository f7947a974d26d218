"""Issue 17, attack 1 (withheld trace), against Anvil: a liar that responds with a trace root
and publishes nothing is caught by the descent (design.md "The descent") wherever it lies, and
an honest worker that publishes nothing is never slashed by a challenger playing the descent.

The challenger side is ``game.play_descent`` (what ``watch`` and ``dispute prove`` run when the
trace URI cannot be read); the responder side is ``game.answer_reveals`` fed with the trace
whose root was posted (a liar's own forged trace: it reveals what it committed to)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from offchain.attribution.trace import Trace
from offchain.dispute import game
from offchain.merkle import IndexedTree
from offchain.protocol import DisputeState, FraudKind, Share, TraceStep
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

WITHHELD = "file:///nowhere/trace-never-published.json"


@pytest.fixture
def g(attestia) -> Game:
    return Game(Harness(attestia), n=10)


def lying_case(g: Game, forge: Callable[[Trace], Any]) -> tuple[Case, Any]:
    made: dict[str, Any] = {}

    def shares(honest: Trace) -> list[Share]:
        made["trace"] = forge(honest)
        return g.shares_of(made["trace"])

    return g.case(shares=shares), made


def challenge_and_withhold(g: Game, case: Case, committed: Any) -> None:
    """Challenge, then the worker responds with ``committed``'s root and an unreadable URI."""
    attestia = g.h.attestia
    game.open_challenge(attestia, case.record, case.input_bytes, case.salt, case.output_bytes,
                        g.model.spec, account=REQUESTER)
    trace = committed if isinstance(committed, Trace) else committed.trace
    call = attestia.slasher.respond(case.request_id, committed.root, WITHHELD, trace.totals,
                                    list(trace.roster), case.shares)
    g.h.send(call, WORKER)
    with pytest.raises(game.DisputeError, match="cannot be used"):
        game.find_fraud(attestia, g.model, case.request_id)


def play(g: Game, case: Case, committed: Any, *, challenger: Any = REQUESTER,
         revealer: Any = WORKER, max_moves: int = 40) -> list[str]:
    """Both sides play until the dispute leaves RESPONDED; the challenger's moves."""
    attestia = g.h.attestia
    moves = []
    for _ in range(max_moves):
        if attestia.slasher.dispute(case.request_id).state != DisputeState.RESPONDED:
            return moves
        moves.append(game.play_descent(attestia, g.model, case.request_id,
                                       account=challenger))
        if revealer is not None:
            game.answer_reveals(attestia, case.request_id, committed, account=revealer)
    raise AssertionError(f"the game did not end: {moves}")


def assert_slashed_by(g: Game, case: Case, kind: FraudKind) -> None:
    attestia = g.h.attestia
    dispute = attestia.slasher.dispute(case.request_id)
    assert dispute.state == DisputeState.FRAUD and dispute.kind == kind, dispute
    assert attestia.registry.worker(WORKER.address).stake == 0
    bond = attestia.slasher.dispute_bond()
    # The challenge bond and the descent bond back, and half the stake.
    assert attestia.slasher.balance(REQUESTER.address) == 2 * bond + MIN_STAKE // 2
    assert not attestia.slasher.descent(case.request_id, REQUESTER.address).open


def lie_value_at(position: int) -> Callable[[Trace], Trace]:
    def forge(t: Trace) -> Trace:
        p = position if position >= 0 else t.n + position
        return helpers.rebuilt(t, values=[*t.values[:p], t.values[p] + 777, *t.values[p + 1:]])
    return forge


def lie_far_item(t: Trace) -> Trace:
    """Step 2 names the farthest item (the real one, its own data): out of order there."""
    p, far = 2, t.n - 1
    def put(column: list[Any]) -> list[Any]:
        return [*column[:p], column[far], *column[p + 1:]]
    return helpers.rebuilt(t, items=put(t.items), contributors=put(t.contributors),
                           slots=put(t.slots), labels=put(t.labels),
                           distances=put(t.distances))


def lie_slot(t: Trace) -> Trace:
    """Step 6 files its value under another contributor's slot."""
    slots = list(t.slots)
    slots[6] = (slots[6] + 1) % len(t.roster)
    return helpers.rebuilt(t, slots=slots)


LIES: dict[str, tuple[Callable[[Trace], Trace], FraudKind]] = {
    "value at the first position": (lie_value_at(0), FraudKind.VALUE),
    "value in the middle": (lie_value_at(5), FraudKind.VALUE),
    "value at the last position": (lie_value_at(-1), FraudKind.VALUE),
    "non-roster item": (helpers.lie_outside_item, FraudKind.ITEM),
    "wrong distance": (helpers.lie_distance, FraudKind.ITEM),
    "out of order": (lie_far_item, FraudKind.ORDER),
    "swapped neighbours": (helpers.lie_order, FraudKind.SKIP),
    "duplicated item": (helpers.lie_duplicate, FraudKind.SKIP),
    "wrong running sum": (helpers.lie_sum, FraudKind.SUM),
    "wrong slot": (lie_slot, FraudKind.SUM),
}


@pytest.mark.parametrize("lie", list(LIES))
def test_attack1_withheld_trace_is_slashed_through_the_descent(g: Game, lie: str) -> None:
    """Attack 1 (withheld trace): the liar responds with its root, publishes nothing, and
    answers every reveal from the trace it committed to. The challenger descends to the last
    position where that trace differs from the honest one and proves it there in one step,
    with openings made of the revealed nodes and its own honest subtrees."""
    forge, kind = LIES[lie]
    case, made = lying_case(g, forge)
    challenge_and_withhold(g, case, made["trace"])
    moves = play(g, case, made["trace"])
    # N = 10: depth 4, one reveal of 16 leaves, one pick, the step, the proof.
    assert moves == ["descended", "picked", "proved"], moves
    assert_slashed_by(g, case, kind)


def test_a_liar_that_stops_revealing_is_slashed_when_its_clock_runs_out(g: Game) -> None:
    attestia = g.h.attestia
    case, made = lying_case(g, lie_value_at(4))
    challenge_and_withhold(g, case, made["trace"])
    assert game.play_descent(attestia, g.model, case.request_id, account=REQUESTER) \
        == "descended"
    descent = attestia.slasher.descent(case.request_id, REQUESTER.address)
    with reverts("DeadlineNotReached"):
        g.h.send(attestia.slasher.settle_descent(case.request_id, REQUESTER.address), OUTSIDER)
    g.h.travel(descent.deadline - g.h.now() + 1)
    forged: Trace = made["trace"]
    assert game.answer_reveals(attestia, case.request_id, forged, account=WORKER) == 0
    with reverts("DeadlinePassed"):  # too late to reveal now
        g.h.send(attestia.slasher.reveal_nodes(case.request_id, REQUESTER.address,
                                               [forged.node(0, k) for k in range(16)]), WORKER)
    g.h.send(attestia.slasher.settle_descent(case.request_id, REQUESTER.address), OUTSIDER)
    assert_slashed_by(g, case, FraudKind.NO_REVEAL)


@dataclass
class PaddingLie:
    """The honest steps, and a leaf that is not zero in the padding (position N)."""

    trace: Trace

    def __post_init__(self) -> None:
        self.tree = IndexedTree([*self.trace.leaves, b"\x01" * 32])
        assert self.tree.depth == self.trace.tree.depth

    @property
    def root(self) -> bytes:
        return self.tree.root

    def node(self, height: int, index: int) -> bytes:
        level = self.tree._levels[height]
        return level[index] if index < len(level) else self.tree._zeros[height]

    def step(self, position: int) -> TraceStep:
        return self.trace.step(position)


def test_a_malformed_padding_is_fraud_at_the_pick(g: Game) -> None:
    case, made = lying_case(g, lie_value_at(3))
    lie = PaddingLie(case.honest)
    challenge_and_withhold(g, case, lie)
    moves = play(g, case, lie)
    assert moves == ["descended", "picked"], moves  # the pick lands in the padding: fraud
    assert_slashed_by(g, case, FraudKind.PADDING)


def test_honest_worker_that_publishes_nothing_is_never_slashed(g: Game) -> None:
    """A frivolous challenger plays the descent against an honest root (its own client says
    "honest" and stops); one that forces a descent anyway, picking at random, cannot prove
    anything at the leaf: its clock runs out, its bond goes to the operator, the worker wins."""
    attestia = g.h.attestia
    case = g.case()
    challenge_and_withhold(g, case, case.honest)
    assert game.play_descent(attestia, g.model, case.request_id, account=REQUESTER) == "honest"
    bond = attestia.slasher.dispute_bond()
    g.h.send(attestia.slasher.descend(case.request_id, bond), OUTSIDER)
    assert game.answer_reveals(attestia, case.request_id, case.honest, account=WORKER) == 1
    (revealed,) = attestia.slasher.nodes_revealed(case.request_id, OUTSIDER.address)
    g.h.send(attestia.slasher.pick(case.request_id, revealed.nodes, 3), OUTSIDER)
    assert game.answer_reveals(attestia, case.request_id, case.honest, account=WORKER) == 1
    step = case.honest.step(3)
    tree = game.RevealedTree()
    tree.add(revealed.index, revealed.height, revealed.nodes)
    opened = tree.opening(3, step, case.honest)
    with reverts("NotFraud"):
        g.h.send(attestia.slasher.prove_value(case.request_id, opened,
                                              case.honest.opening(4)), OUTSIDER)
    g.h.travel(attestia.slasher.dispute(case.request_id).deadline - g.h.now() + 1)
    with reverts("DescentsOpen", 1):  # the challenger's clock ran out, not settled yet
        g.h.send(attestia.slasher.resolve(case.request_id), OUTSIDER)
    g.h.send(attestia.slasher.settle_descent(case.request_id, OUTSIDER.address), OUTSIDER)
    game.resolve(attestia, case.request_id, account=OUTSIDER)
    dispute = attestia.slasher.dispute(case.request_id)
    assert dispute.state == DisputeState.WORKER_WON
    assert attestia.registry.worker(WORKER.address).stake == MIN_STAKE
    assert attestia.slasher.balance(OPERATOR.address) == 2 * bond  # challenge and descent


def test_the_descent_refuses_what_it_must(g: Game) -> None:
    attestia = g.h.attestia
    slasher = attestia.slasher
    case, made = lying_case(g, lie_value_at(4))
    challenge_and_withhold(g, case, made["trace"])
    bond = slasher.dispute_bond()
    with reverts("IncorrectBond"):
        g.h.send(slasher.descend(case.request_id, bond - 1), REQUESTER)
    g.h.send(slasher.descend(case.request_id, bond), REQUESTER)
    with reverts("DescentExists"):
        g.h.send(slasher.descend(case.request_id, bond), REQUESTER)
    with reverts("NotYourTurn"):  # the responder side reveals first
        g.h.send(slasher.pick(case.request_id, [], 0), REQUESTER)
    forged: Trace = made["trace"]
    with reverts("BadReveal"):  # not the children of the node
        g.h.send(slasher.reveal_nodes(case.request_id, REQUESTER.address,
                                      [case.honest.node(0, k) for k in range(16)]), OUTSIDER)
    with reverts("BadReveal"):  # a step before the leaf
        g.h.send(slasher.reveal_step(case.request_id, REQUESTER.address, forged.step(0)),
                 OUTSIDER)
    with reverts("NoDescent"):
        g.h.send(slasher.reveal_nodes(case.request_id, OUTSIDER.address, []), OUTSIDER)
    nodes = [forged.node(0, k) for k in range(16)]
    g.h.send(slasher.reveal_nodes(case.request_id, REQUESTER.address, nodes), OUTSIDER)
    with reverts("NotYourTurn"):
        g.h.send(slasher.reveal_nodes(case.request_id, REQUESTER.address, nodes), OUTSIDER)
    with reverts("NoDescent"):  # only the descent's challenger picks
        g.h.send(slasher.pick(case.request_id, nodes, 4), OUTSIDER)
    with reverts("BadReveal"):
        g.h.send(slasher.pick(case.request_id, nodes, 16), REQUESTER)
    with reverts("NotFraud"):  # into the all-zero padding
        g.h.send(slasher.pick(case.request_id, nodes, 12), REQUESTER)
    g.h.travel(slasher.response_window() + 1)
    with reverts("DeadlinePassed"):
        g.h.send(slasher.descend(case.request_id, bond), OUTSIDER)


def test_descents_are_per_challenger_so_a_puppet_cannot_shield_a_liar(g: Game) -> None:
    """The liar's puppet challenges its record and plays its descent badly (into positions
    where the trees agree) and stalls; an honest watcher opens its own descent in the same
    dispute, gets its own reveals and slashes the liar. The puppet's bond goes back."""
    attestia = g.h.attestia
    case, made = lying_case(g, lie_value_at(5))
    forged: Trace = made["trace"]
    challenge_and_withhold(g, case, forged)
    bond = attestia.slasher.dispute_bond()
    g.h.send(attestia.slasher.descend(case.request_id, bond), OUTSIDER)  # the puppet
    game.answer_reveals(attestia, case.request_id, forged, account=WORKER)
    moves = play(g, case, forged, challenger=REQUESTER)
    assert moves[-1] == "proved"
    assert_slashed_by(g, case, FraudKind.VALUE)
    g.h.send(attestia.slasher.settle_descent(case.request_id, OUTSIDER.address), OUTSIDER)
    assert attestia.slasher.balance(OUTSIDER.address) == bond


def test_a_lie_in_the_totals_alone_is_proven_from_the_challengers_copy(g: Game) -> None:
    """Honest steps, wrong totals: the root is the honest one, so the challenger opens step 0
    from its own trace (END) without a descent."""
    def totals_lie(t: Trace) -> Trace:
        return replace(t, totals=[t.totals[0] + 1, *t.totals[1:]])
    case, made = lying_case(g, totals_lie)
    challenge_and_withhold(g, case, made["trace"])
    assert play(g, case, made["trace"]) == ["proved"]
    dispute = g.h.attestia.slasher.dispute(case.request_id)
    assert dispute.state == DisputeState.FRAUD and dispute.kind == FraudKind.END
