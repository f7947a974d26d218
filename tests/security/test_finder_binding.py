"""Issue 17, attack 2 (bounty theft), performed as a copier would: the finder's reward-bearing
call (a fraud proof, an equivocation report, a challenge) waits in the mempool with automine
off, the copier reads it from ``txpool_content``, resends its calldata from its own account with
a higher priority fee, and ONE block is mined. Defence (design.md "Rewards bound to their
finder"): every such call reveals its sender's commitment from an earlier block, so the copy
finds none (FindingNotCommitted) and the finder, mined after it, is paid."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from eth_account.signers.local import LocalAccount

from offchain.chain.tx import Call
from offchain.dispute import game
from offchain.dispute import output as out
from offchain.protocol import (
    BPS,
    MIN_RESPONSE_WINDOW,
    SLASH_REPORTER_BPS,
    DisputeState,
    FraudKind,
    equivocation_evidence_id,
    finding_commitment,
    inference_digest,
)
from tests.contracts.helpers import (
    ADMIN,
    ATTACKER,
    MIN_STAKE,
    OUTSIDER,
    REQUESTER,
    WORKER,
    Harness,
    failed_with,
    reverts,
)
from tests.dispute import output_helpers as lies
from tests.dispute.helpers import Case, Game, lie_value
from tests.dispute.output_helpers import OutGame

HONEST_TIP, COPIER_TIP = 1, 50  # gwei: the copy is mined first
REWARD = MIN_STAKE * SLASH_REPORTER_BPS // BPS


def copied_from_txpool(h: Harness, victim: str) -> Call:
    """What a mempool copier sends: the victim's one pending transaction, read from
    ``txpool_content``, with the same destination, calldata and value."""
    pending = h.w3.provider.make_request("txpool_content", [])["result"]["pending"]
    (tx,) = next(txs for sender, txs in pending.items()
                 if sender.lower() == victim.lower()).values()
    return Call(to=tx["to"], data=bytes.fromhex(tx["input"][2:]), value=int(tx["value"], 16))


def race_the_copier(h: Harness, call: Call, finder: LocalAccount) -> tuple[Any, Any]:
    """The finder commits (its own block), then reveals; the copier copies the pending reveal
    with a higher fee; one block. (finder's receipt, copier's receipt), the copy mined first."""
    h.attestia.sender(finder).commit_for(call)
    with h.mempool():
        honest = h.submit(h.signed_tx(call, finder, tip_gwei=HONEST_TIP))
        copy = copied_from_txpool(h, finder.address)
        assert copy.data == call.data
        copied = h.submit(h.signed_tx(copy, ATTACKER, tip_gwei=COPIER_TIP))
        h.mine()
    finder_receipt, copier_receipt = h.receipts([honest, copied])
    assert copier_receipt["transactionIndex"] < finder_receipt["transactionIndex"]
    return finder_receipt, copier_receipt


def lying_case(g: Game, tmp_path) -> Case:
    """A record whose attribution lies in one recursion step, challenged by its requester and
    answered with the lying trace: a VALUE fraud is waiting to be proven."""
    forged = {}

    def lying_shares(honest):
        forged["trace"] = lie_value(honest)
        return g.shares_of(forged["trace"])

    case = g.case(shares=lying_shares)
    game.open_challenge(g.h.attestia, case.record, case.input_bytes, case.salt,
                        case.output_bytes, g.model.spec, account=REQUESTER)
    game.respond(g.h.attestia, g.model, case.request_id, tmp_path, account=WORKER,
                 trace=forged["trace"])
    return case


def test_a_copied_fraud_proof_pays_the_copier_nothing(h: Harness, tmp_path) -> None:
    g = Game(h)
    case = lying_case(g, tmp_path)
    proof = game.find_fraud(h.attestia, g.model, case.request_id)
    assert proof is not None and proof.fraud.kind == FraudKind.VALUE
    finder, copier = race_the_copier(h, proof.call, OUTSIDER)
    failed_with(h, copier, "FindingNotCommitted")
    assert finder["status"] == 1
    slasher = h.attestia.slasher
    assert slasher.dispute(case.request_id).state == DisputeState.FRAUD
    (resolved,) = slasher.resolved(request_id=case.request_id)
    assert resolved.by == OUTSIDER.address and resolved.slashed == MIN_STAKE
    assert slasher.balance(OUTSIDER.address) == REWARD
    assert slasher.balance(ATTACKER.address) == 0
    assert slasher.balance(REQUESTER.address) == slasher.dispute_bond()  # its bond, back


def test_a_copied_equivocation_report_pays_the_copier_nothing(h: Harness) -> None:
    model = h.setup_signed()
    a, sig_a, b, sig_b = h.conflicting(h.unique("request"), model)
    salt = b"\x5a" * 32
    report = h.slasher.slash_equivocation(a, sig_a, b, sig_b, salt=salt)
    finder, copier = race_the_copier(h, report, OUTSIDER)
    evidence = equivocation_evidence_id(inference_digest(a, h.chain_id, h.registry.address),
                                        inference_digest(b, h.chain_id, h.registry.address))
    failed_with(h, copier, "FindingNotCommitted",
                finding_commitment(ATTACKER.address, evidence, salt))
    assert finder["status"] == 1
    assert h.slasher.balance(OUTSIDER.address) == REWARD
    assert h.slasher.balance(ATTACKER.address) == 0
    assert h.registry.worker(WORKER.address).stake == 0


def test_a_copied_challenge_does_not_take_the_dispute(h: Harness) -> None:
    """A challenge pays its challenger if the worker never responds: the copier cannot take
    that seat, as its commitment would need the input salt the pending challenge reveals."""
    g = Game(h)
    case = g.case()
    slasher = h.attestia.slasher
    call = slasher.challenge(case.record, case.input_bytes, case.salt, case.output_bytes,
                             g.model.spec, slasher.dispute_bond())
    finder, copier = race_the_copier(h, call, REQUESTER)
    failed_with(h, copier, "FindingNotCommitted",
                finding_commitment(ATTACKER.address, case.request_id, case.salt))
    assert finder["status"] == 1
    assert slasher.dispute(case.request_id).challenger == REQUESTER.address


def test_a_copied_output_proof_pays_the_copier_nothing(h: Harness) -> None:
    """Issue 18's one-neuron proof, copied from the mempool with a higher fee: the copy is
    mined first and refused; the finder's proof slashes the liar and pays the finder."""
    g = OutGame(h)
    case = g.case(lies.lie_hidden)
    slasher = h.attestia.slasher
    out.open_output_challenge(h.attestia, case.record, case.input_bytes, case.salt,
                              case.output_bytes, g.attribution_spec, g.spec, account=REQUESTER)
    out.respond_output(h.attestia, g.net, case.dispute_id, account=WORKER, hidden=case.hidden)
    proof = out.find_wrong_neuron(h.attestia, g.net, case.dispute_id)
    assert proof is not None
    finder, copier = race_the_copier(h, proof.call, OUTSIDER)
    failed_with(h, copier, "FindingNotCommitted")
    assert finder["status"] == 1
    assert slasher.output_dispute(case.dispute_id).state == DisputeState.FRAUD
    assert slasher.balance(OUTSIDER.address) == REWARD
    assert slasher.balance(ATTACKER.address) == 0


def test_a_copied_output_challenge_does_not_take_the_dispute(h: Harness) -> None:
    """An output challenge copied from the mempool: the copier has no commitment (it would
    need the input salt the pending challenge reveals); the requester keeps its seat."""
    g = OutGame(h)
    case = g.case()
    slasher = h.attestia.slasher
    call = slasher.challenge_output(case.record, case.input_bytes, case.salt,
                                    case.output_bytes, g.attribution_spec, g.spec,
                                    slasher.dispute_bond())
    finder, copier = race_the_copier(h, call, REQUESTER)
    failed_with(h, copier, "FindingNotCommitted",
                finding_commitment(ATTACKER.address, case.dispute_id, case.salt))
    assert finder["status"] == 1
    assert slasher.output_dispute(case.dispute_id).challenger == REQUESTER.address


def test_a_reveal_needs_its_own_commitment_from_an_earlier_block(h: Harness) -> None:
    model = h.setup_signed()
    a, sig_a, b, sig_b = h.conflicting(h.unique("request"), model)
    report = h.slasher.slash_equivocation(a, sig_a, b, sig_b, salt=b"\x01" * 32)
    bare = replace(report, commit=None)  # sent as it is, without committing first
    assert report.commit is not None
    commitment = report.commit(OUTSIDER.address).data[4:]
    with reverts("FindingNotCommitted", commitment):
        h.send(bare, OUTSIDER)
    # Commitment and reveal in one block: too early.
    with h.mempool():
        committed = h.submit(h.signed_tx(report.commit(OUTSIDER.address), OUTSIDER))
        revealed = h.submit(h.signed_tx(bare, OUTSIDER))
        h.mine()
    commit_receipt, reveal_receipt = h.receipts([committed, revealed])
    assert commit_receipt["status"] == 1
    failed_with(h, reveal_receipt, "RevealTooEarly", commit_receipt["blockNumber"])
    assert h.slasher.finding_committed_at(commitment) == commit_receipt["blockNumber"]
    # Another salt, another sender: not this commitment.
    other_salt = h.slasher.slash_equivocation(a, sig_a, b, sig_b, salt=b"\x02" * 32)
    with reverts("FindingNotCommitted"):
        h.send(replace(other_salt, commit=None), OUTSIDER)
    with reverts("FindingNotCommitted"):
        h.send(bare, ATTACKER)
    # A commitment copied by someone else keeps its first block and its finder.
    h.send(report.commit(OUTSIDER.address), ATTACKER)
    assert h.slasher.finding_committed_at(commitment) == commit_receipt["blockNumber"]
    # A later block: the finder is paid, and the commitment is spent.
    h.send(bare, OUTSIDER)
    assert h.slasher.balance(OUTSIDER.address) == REWARD
    assert h.slasher.finding_committed_at(commitment) == 0


def test_a_fraud_proof_without_its_commitment_is_refused(h: Harness, tmp_path) -> None:
    g = Game(h)
    case = lying_case(g, tmp_path)
    proof = game.find_fraud(h.attestia, g.model, case.request_id)
    assert proof is not None
    with reverts("FindingNotCommitted"):
        h.send(replace(proof.call, commit=None), OUTSIDER)
    assert h.attestia.slasher.dispute(case.request_id).state == DisputeState.RESPONDED
    game.prove(h.attestia, g.model, case.request_id, account=OUTSIDER)  # commits, then proves
    assert h.attestia.slasher.balance(OUTSIDER.address) == REWARD


def test_the_response_window_leaves_room_for_a_commitment_and_its_reveal(h: Harness) -> None:
    with reverts("ResponseWindowTooShort", MIN_RESPONSE_WINDOW, MIN_RESPONSE_WINDOW - 1):
        h.deploy_slasher(h.registry.address, ADMIN.address, 10**15, MIN_RESPONSE_WINDOW - 1)
    h.deploy_slasher(h.registry.address, ADMIN.address, 10**15, MIN_RESPONSE_WINDOW)
