"""Defence by anyone (issue 17, "defence does not depend on being online"), against Anvil with
mempool races: a bonded third party may respond for a worker and anyone may answer the
descent's reveals; a griefer's bogus response costs the griefer its bond and reopens the
dispute for the worker alone; a copied reveal gains its copier nothing; a stalling challenger
loses on its clock; an offline worker is defended by anyone holding the honest trace."""

from __future__ import annotations

import pytest

from offchain.dispute import game
from offchain.protocol import DisputeState, FraudKind
from tests.contracts.helpers import (
    ATTACKER,
    ATTACKER_TIP,
    HONEST_TIP,
    MIN_STAKE,
    OPERATOR,
    OUTSIDER,
    RELAYER,
    REQUESTER,
    WORKER,
    Harness,
    failed_with,
    reverts,
    succeeded,
)
from tests.dispute.helpers import Case, Game, lie_value_rebuilt


@pytest.fixture
def g(attestia) -> Game:
    return Game(Harness(attestia), n=10)


def challenged(g: Game, *, lie: bool = False) -> Case:
    case = g.case(shares=(lambda t: g.shares_of(lie_value_rebuilt(t))) if lie else None)
    game.open_challenge(g.h.attestia, case.record, case.input_bytes, case.salt,
                        case.output_bytes, g.model.spec, account=REQUESTER)
    return case


def to_deadline(g: Game, case: Case) -> None:
    g.h.travel(g.h.attestia.slasher.dispute(case.request_id).deadline - g.h.now() + 1)


def test_a_griefer_front_running_the_workers_response_cannot_get_it_slashed(
        g: Game, tmp_path) -> None:
    """The griefer sees the honest worker's respond in the mempool and front-runs it with a
    bonded response whose root is junk (the bps follow from the honest totals, so the
    response is accepted). The worker's call fails (WrongDisputeState). The challenger's
    descent finds nobody to reveal the junk: the griefer's bond goes to the challenger and
    the dispute reopens for the worker alone (a third party may not respond again); the
    worker responds honestly and wins; nobody is slashed."""
    attestia = g.h.attestia
    slasher = attestia.slasher
    case = challenged(g)
    bond = slasher.dispute_bond()
    honest = case.honest
    junk = slasher.respond(case.request_id, b"\x66" * 32, "file:///junk", honest.totals,
                           list(honest.roster), case.shares, bond=bond)
    mine = slasher.respond(case.request_id, honest.root, "file:///mine", honest.totals,
                           list(honest.roster), case.shares)
    junk_receipt, mine_receipt = g.h.race(g.h.signed_tx(junk, ATTACKER, tip_gwei=ATTACKER_TIP),
                                          g.h.signed_tx(mine, WORKER, tip_gwei=HONEST_TIP))
    succeeded(junk_receipt)
    failed_with(g.h, mine_receipt, "WrongDisputeState", case.request_id,
                int(DisputeState.RESPONDED))
    dispute = slasher.dispute(case.request_id)
    assert dispute.defender == ATTACKER.address and dispute.round == 0

    assert game.play_descent(attestia, g.model, case.request_id, account=REQUESTER) \
        == "descended"
    g.h.travel(slasher.descent(case.request_id, REQUESTER.address).deadline - g.h.now() + 1)
    assert game.play_descent(attestia, g.model, case.request_id, account=REQUESTER) \
        == "settled"
    dispute = slasher.dispute(case.request_id)
    assert dispute.state == DisputeState.OPEN and dispute.round == 1
    (reopened,) = slasher.contract.events.DisputeReopened().get_logs(
        from_block=slasher.first_block)
    assert reopened["args"]["kind"] == FraudKind.NO_REVEAL
    assert slasher.balance(REQUESTER.address) == 2 * bond  # its descent's and the griefer's
    assert attestia.registry.worker(WORKER.address).stake == MIN_STAKE
    with reverts("ThirdPartyResponse"):  # once only: the reopened dispute is the worker's
        g.h.send(junk, ATTACKER)
    game.respond(attestia, g.model, case.request_id, tmp_path, account=WORKER)
    assert game.play_descent(attestia, g.model, case.request_id, account=REQUESTER) \
        == "honest"
    to_deadline(g, case)
    game.resolve(attestia, case.request_id, account=OUTSIDER)
    assert slasher.dispute(case.request_id).state == DisputeState.WORKER_WON
    assert attestia.registry.worker(WORKER.address).stake == MIN_STAKE
    assert slasher.balance(OPERATOR.address) == bond
    assert slasher.balance(ATTACKER.address) == 0


def test_a_copied_reveal_gains_its_copier_nothing(g: Game, tmp_path) -> None:
    """A reveal pays nobody and is checked against the node: the copy (higher tip) lands,
    the worker's own fails (NotYourTurn), and the game is where the worker's would have put
    it."""
    attestia = g.h.attestia
    slasher = attestia.slasher
    case = challenged(g)
    game.respond(attestia, g.model, case.request_id, tmp_path, account=WORKER)
    g.h.send(slasher.descend(case.request_id, slasher.dispute_bond()), REQUESTER)
    reveal = slasher.reveal_nodes(case.request_id, REQUESTER.address,
                                  [case.honest.node(0, k) for k in range(16)])
    copy_receipt, own_receipt = g.h.race(g.h.signed_tx(reveal, ATTACKER, tip_gwei=ATTACKER_TIP),
                                         g.h.signed_tx(reveal, WORKER, tip_gwei=HONEST_TIP))
    succeeded(copy_receipt)
    failed_with(g.h, own_receipt, "NotYourTurn")
    assert slasher.descent(case.request_id, REQUESTER.address).challengerTurn
    assert slasher.balance(ATTACKER.address) == 0


def test_a_stalling_challenger_loses_on_its_clock(g: Game, tmp_path) -> None:
    """The challenger opens a descent, gets its reveal, and never picks: once its clock runs
    out anyone settles it (its bond to the operator) and the dispute ends WORKER_WON within
    the proof window; the worker was online for one response and one reveal."""
    attestia = g.h.attestia
    slasher = attestia.slasher
    case = challenged(g)
    game.respond(attestia, g.model, case.request_id, tmp_path, account=WORKER)
    bond = slasher.dispute_bond()
    g.h.send(slasher.descend(case.request_id, bond), REQUESTER)
    assert game.answer_reveals(attestia, case.request_id, case.honest, account=WORKER) == 1
    descent = slasher.descent(case.request_id, REQUESTER.address)
    assert descent.challengerTurn and descent.deadline <= \
        slasher.dispute(case.request_id).deadline
    g.h.travel(descent.deadline - g.h.now() + 1)
    with reverts("DeadlinePassed"):
        g.h.send(slasher.pick(case.request_id, [case.honest.node(0, k) for k in range(16)], 0),
                 REQUESTER)
    g.h.send(slasher.settle_descent(case.request_id, REQUESTER.address), OUTSIDER)
    to_deadline(g, case)
    game.resolve(attestia, case.request_id, account=OUTSIDER)
    assert slasher.dispute(case.request_id).state == DisputeState.WORKER_WON
    assert slasher.balance(OPERATOR.address) == 2 * bond
    assert attestia.registry.worker(WORKER.address).stake == MIN_STAKE


def test_an_offline_worker_is_defended_by_anyone_holding_the_roster(g: Game, tmp_path) -> None:
    """The worker is down: a defender (watch --defend) responds once half the window has
    passed, posting the bond; a challenger descends anyway and the defender answers every
    reveal; the challenger cannot prove anything, loses on its clock, and the worker wins
    without ever coming back: its stake is whole, the defender gets its bond back."""
    attestia = g.h.attestia
    slasher = attestia.slasher
    case = challenged(g)
    bond = slasher.dispute_bond()
    assert game.defend(attestia, g.model, case.request_id, tmp_path, account=RELAYER) == ""
    g.h.travel(slasher.response_window() // 2 + 1)
    assert game.defend(attestia, g.model, case.request_id, tmp_path, account=RELAYER) \
        == "responded"
    dispute = slasher.dispute(case.request_id)
    assert dispute.state == DisputeState.RESPONDED and dispute.defender == RELAYER.address
    g.h.send(slasher.descend(case.request_id, bond), OUTSIDER)
    for choice in (5, None):
        assert game.defend(attestia, g.model, case.request_id, tmp_path, account=RELAYER) \
            == "revealed"
        if choice is not None:
            (revealed,) = slasher.nodes_revealed(case.request_id, OUTSIDER.address)
            g.h.send(slasher.pick(case.request_id, revealed.nodes, choice), OUTSIDER)
    descent = slasher.descent(case.request_id, OUTSIDER.address)
    assert descent.height == 0 and descent.challengerTurn
    g.h.travel(descent.deadline - g.h.now() + 1)
    g.h.send(slasher.settle_descent(case.request_id, OUTSIDER.address), RELAYER)
    to_deadline(g, case)
    game.resolve(attestia, case.request_id, account=RELAYER)
    assert slasher.dispute(case.request_id).state == DisputeState.WORKER_WON
    assert attestia.registry.worker(WORKER.address).stake == MIN_STAKE
    assert slasher.balance(RELAYER.address) == bond  # the defender's bond back
    assert slasher.balance(OPERATOR.address) == 2 * bond  # challenge and descent bonds


def test_a_lying_record_is_never_defended_and_a_liar_cannot_hide_behind_a_defence(
        g: Game, tmp_path) -> None:
    """The defender's client refuses a lie ("lie"). A liar's puppet that defends its lie
    anyway (bonded, with the lying trace, withheld) is disproven by the descent: the puppet's
    bond goes to the challenger, the dispute reopens, and the liar itself must respond: with
    the same lie it is slashed; silent, NO_RESPONSE slashes it."""
    attestia = g.h.attestia
    slasher = attestia.slasher
    case = challenged(g, lie=True)
    g.h.travel(slasher.response_window() // 2 + 1)
    assert game.defend(attestia, g.model, case.request_id, tmp_path, account=RELAYER) == "lie"
    forged = lie_value_rebuilt(case.honest)
    bond = slasher.dispute_bond()
    g.h.send(slasher.respond(case.request_id, forged.root, "file:///withheld", forged.totals,
                             list(forged.roster), case.shares, bond=bond), ATTACKER)
    for _ in range(6):
        if slasher.dispute(case.request_id).state != DisputeState.RESPONDED:
            break
        game.play_descent(attestia, g.model, case.request_id, account=REQUESTER)
        game.answer_reveals(attestia, case.request_id, forged, account=ATTACKER)
    dispute = slasher.dispute(case.request_id)
    assert dispute.state == DisputeState.OPEN and dispute.round == 1
    assert attestia.registry.worker(WORKER.address).stake == MIN_STAKE  # not for a puppet
    to_deadline(g, case)
    game.resolve(attestia, case.request_id, account=OUTSIDER)
    dispute = slasher.dispute(case.request_id)
    assert dispute.state == DisputeState.NO_RESPONSE
    assert attestia.registry.worker(WORKER.address).stake == 0
    # The puppet's bond, the challenge bond, the descent bond and half the stake.
    assert slasher.balance(REQUESTER.address) == 3 * bond + MIN_STAKE // 2
