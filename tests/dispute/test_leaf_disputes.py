"""Batch leaves are disputable like single records (issue 17), on Anvil: a leaf's challenge
carries the leaf and its inclusion proof in the committed batch; a lying leaf's worker is
slashed through the same game, an honest leaf survives, every wrong reference is refused with
its own error and pays nothing, two leaves of one batch are two disputes, settlement holds
only the disputed leaf, and a copied leaf challenge gains its copier nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from offchain.attribution.integer import label_of_output, quantize
from offchain.attribution.trace import Trace
from offchain.dispute import game
from offchain.dispute.game import DisputedLeaf
from offchain.models.encoding import commit, encode_tensor, new_salt
from offchain.protocol import (
    DISPUTE_WINDOWS,
    PROOF_SIGNED,
    WINDOW_MARGIN,
    ZERO32,
    DisputeState,
    FraudKind,
    Inference,
    Share,
    attribution_hash,
    batch_deposit,
    finding_commitment,
    leaf_dispute_id,
    leaf_hash,
)
from offchain.record.batch_file import BatchFile, BatchLeaf, write_batch_file
from offchain.rewards.chain import read_ledger
from offchain.sealing import output_salt
from offchain.verify import RecordRef, VerifyOptions, verify
from tests.contracts.helpers import (
    ATTACKER,
    FEE,
    MIN_STAKE,
    OPERATOR,
    OUTSIDER,
    REQUESTER,
    WORKER,
    Harness,
    failed_with,
    reverts,
)
from tests.dispute import helpers
from tests.dispute.helpers import Game
from tests.security.test_finder_binding import race_the_copier

REWARD = MIN_STAKE // 2
Lie = Callable[[Trace], Trace] | None


@dataclass(frozen=True)
class LeafCase:
    """One committed batch leaf and everything its requester holds."""

    ref: DisputedLeaf
    input_bytes: bytes
    salt: bytes
    output_bytes: bytes
    honest: Trace
    trace: Trace
    """The trace the worker answers with (the honest one unless it lied)."""

    @property
    def dispute_id(self) -> bytes:
        return self.ref.dispute_id


@pytest.fixture
def g(attestia) -> Game:
    return Game(Harness(attestia))


def commit_batch(g: Game, directory: Path, lies: Sequence[Lie],
                 request_ids: Sequence[bytes | None] = (),
                 timestamps: Sequence[int] = ()) -> list[LeafCase]:
    """A batch committed by the harness's worker, one leaf per entry of ``lies`` (None: an
    honest attribution; else the attribution of that forged trace), published as a real batch
    file at a file:// URI with its data hash, the deposit covering every leaf's fee."""
    h, rng = g.h, g.rng
    leaves, held = [], []
    for i, lie in enumerate(lies):
        x = rng.normal(size=(1, len(g.mu))).astype(np.float32)
        logits = rng.normal(size=(1, 2)).astype(np.float32)
        salt = new_salt()
        input_bytes, output_bytes = encode_tensor(x), encode_tensor(logits)
        query = tuple(int(v) for v in quantize(x, g.mu, g.rho)[0])
        honest = g.model.trace(query, label_of_output(logits[0]))
        trace = honest if lie is None else lie(honest)
        shares = tuple(g.shares_of(trace))
        rid = request_ids[i] if i < len(request_ids) and request_ids[i] else h.unique("leaf")
        inference = Inference(rid, g.model_id, commit(salt, input_bytes),
                              commit(output_salt(salt), output_bytes), attribution_hash(shares),
                              PROOF_SIGNED, ZERO32, WORKER.address,
                              timestamps[i] if i < len(timestamps) else h.now(), ZERO32)
        leaves.append(BatchLeaf(inference, tuple(tuple(s) for s in shares), FEE))
        held.append((input_bytes, salt, output_bytes, honest, trace))
    model = h.attestia.registry.model(g.model_id)
    deposit = batch_deposit([FEE] * len(leaves), model.workerBps, model.ownerBps)
    batch = BatchFile.of(leaves, model_id=g.model_id, worker=WORKER.address, epoch=h.epoch(),
                         deposit=deposit)
    published = write_batch_file(directory / f"0x{batch.root.hex()}.json", batch)
    h.commit_batch(g.model_id, batch.root, batch.count, deposit=deposit,
                   uri=published.path.as_uri(), data_hash=published.data_hash)
    return [LeafCase(game.batch_leaf(h.attestia, batch.batch_id, i), *kept)
            for i, kept in enumerate(held)]


def challenge(g: Game, case: LeafCase, account=REQUESTER):
    return game.open_leaf_challenge(g.h.attestia, case.ref, case.input_bytes, case.salt,
                                    case.output_bytes, g.model.spec, account=account)


def respond(g: Game, case: LeafCase, directory: Path):
    """The worker answers from the batch file alone (the leaf's list is read from it)."""
    return game.respond(g.h.attestia, g.model, case.dispute_id, directory, account=WORKER,
                        trace=case.trace)


def test_a_lying_leaf_is_challenged_proven_and_its_worker_slashed(g: Game, tmp_path) -> None:
    attestia = g.h.attestia
    lying, honest = commit_batch(g, tmp_path, [helpers.lie_value, None])
    challenge(g, lying)
    (opened,) = attestia.slasher.opened(request_id=lying.dispute_id)
    assert opened.worker == WORKER.address and opened.challenger == REQUESTER.address
    (which,) = attestia.slasher.leaves_challenged(dispute_id=lying.dispute_id)
    assert which.batch_id == lying.ref.batch_id
    assert which.leaf_hash == leaf_hash(lying.ref.inference)
    assert game.leaf_of_dispute(attestia, lying.dispute_id) == lying.ref
    respond(g, lying, tmp_path)  # accepted: the bps follow from its (forged) totals
    proof, _ = game.prove(attestia, g.model, lying.dispute_id, account=OUTSIDER)
    assert proof is not None and proof.fraud.kind == FraudKind.VALUE
    assert attestia.slasher.dispute(lying.dispute_id).state == DisputeState.FRAUD
    worker = attestia.registry.worker(WORKER.address)
    assert worker.stake == 0 and worker.slashedAt != 0
    assert attestia.slasher.balance(OUTSIDER.address) == REWARD
    assert attestia.slasher.balance(REQUESTER.address) == attestia.slasher.dispute_bond()
    (resolved,) = attestia.slasher.resolved(request_id=lying.dispute_id)
    assert resolved.kind == FraudKind.VALUE and resolved.slashed == MIN_STAKE
    # The batch's other leaf has no dispute: only the disputed leaf is.
    assert attestia.slasher.dispute(honest.dispute_id).state == DisputeState.NONE
    # `verify` of each leaf says so on its dispute line (FAIL only for the lost one).
    for case, status, words in ((lying, "FAIL", "lost an attribution dispute (value fraud"),
                                (honest, "PASS", "not challenged")):
        report = verify(attestia, RecordRef(batch_id=case.ref.batch_id, index=case.ref.index),
                        VerifyOptions())
        (line,) = [c for c in report.checks if c.name == "dispute"]
        assert (line.status.value, words in line.reason) == (status, True), line


def test_a_leaf_nobody_answers_for_slashes_its_worker(g: Game, tmp_path) -> None:
    attestia = g.h.attestia
    (case,) = commit_batch(g, tmp_path, [None])
    challenge(g, case)
    g.h.travel(attestia.slasher.response_window() + 1)
    game.resolve(attestia, case.dispute_id, account=OUTSIDER)
    assert attestia.slasher.dispute(case.dispute_id).state == DisputeState.NO_RESPONSE
    assert attestia.registry.worker(WORKER.address).stake == 0
    assert attestia.slasher.balance(REQUESTER.address) == (attestia.slasher.dispute_bond()
                                                           + REWARD)


def test_an_honest_leaf_survives_a_frivolous_challenge(g: Game, tmp_path) -> None:
    attestia = g.h.attestia
    (case,) = commit_batch(g, tmp_path, [None])
    challenge(g, case)
    respond(g, case, tmp_path)
    assert game.find_fraud(attestia, g.model, case.dispute_id) is None
    opening = case.honest.opening
    with reverts("NotFraud"):
        g.h.send(attestia.slasher.prove_end(case.dispute_id, opening(0)),
                 OUTSIDER)
    g.h.travel(3 * attestia.slasher.response_window() + 1)  # the prove window
    game.resolve(attestia, case.dispute_id, account=OUTSIDER)
    assert attestia.slasher.dispute(case.dispute_id).state == DisputeState.WORKER_WON
    assert attestia.slasher.balance(OPERATOR.address) == attestia.slasher.dispute_bond()
    assert attestia.registry.worker(WORKER.address).stake == MIN_STAKE


def test_leaf_challenge_refusals_pay_nothing(g: Game, tmp_path) -> None:
    attestia = g.h.attestia
    slasher = attestia.slasher
    first, second = commit_batch(g, tmp_path / "a", [helpers.lie_value, None])
    (other,) = commit_batch(g, tmp_path / "b", [None])
    bond = slasher.dispute_bond()
    spec = g.model.spec

    def attempt(case: LeafCase = first, *, batch: bytes | None = None,
                leaf: Inference | None = None, proof: Sequence[bytes] | None = None,
                salt: bytes | None = None, value: int = bond):
        return g.h.send(slasher.challenge_leaf(
            first.ref.batch_id if batch is None else batch,
            case.ref.inference if leaf is None else leaf,
            case.ref.proof if proof is None else proof, case.input_bytes,
            case.salt if salt is None else salt, case.output_bytes, spec, value), OUTSIDER)

    held = g.h.balance(slasher.address)
    wrong_batch = g.h.unique("batch")
    with reverts("BatchNotFound", wrong_batch):
        attempt(batch=wrong_batch)
    with reverts("LeafNotInBatch", first.ref.batch_id):  # a wrong proof
        attempt(proof=[bytes(32)] * len(first.ref.proof))
    with reverts("LeafNotInBatch", first.ref.batch_id):  # another leaf's proof
        attempt(proof=second.ref.proof)
    with reverts("LeafNotInBatch", first.ref.batch_id):  # another batch's leaf and proof
        attempt(other)
    with reverts("IncorrectBond"):
        attempt(value=bond - 1)
    with reverts("InputMismatch"):
        attempt(salt=bytes(32))
    attempt()  # the good one
    with reverts("DisputeExists", first.dispute_id):
        attempt()
    g.h.travel(attestia.registry.challenge_window() + 1)
    with reverts("ChallengeWindowClosed"):
        attempt(second)
    # The refusals took no bond and paid nobody: the Slasher holds the one good bond.
    assert g.h.balance(slasher.address) == held + bond
    assert slasher.balance(OUTSIDER.address) == 0 and slasher.balance(REQUESTER.address) == 0
    assert slasher.dispute(second.dispute_id).state == DisputeState.NONE
    assert slasher.dispute(other.dispute_id).state == DisputeState.NONE


def test_two_leaves_are_two_disputes_and_none_collides_with_a_single_record(
        g: Game, tmp_path) -> None:
    """Two leaves of one batch are disputed separately; a leaf that reuses a single record's
    request id (a worker chooses its leaves' ids) has a dispute of its own."""
    attestia = g.h.attestia
    single = g.case()
    a, b = commit_batch(g, tmp_path, [None, None], request_ids=[single.request_id])
    assert a.ref.inference.requestId == single.request_id
    assert len({a.dispute_id, b.dispute_id, single.request_id}) == 3
    assert a.dispute_id == leaf_dispute_id(a.ref.batch_id, leaf_hash(a.ref.inference))
    challenge(g, a)
    challenge(g, b)
    game.open_challenge(attestia, single.record, single.input_bytes, single.salt,
                        single.output_bytes, g.model.spec, account=REQUESTER)
    for dispute_id in (a.dispute_id, b.dispute_id, single.request_id):
        assert attestia.slasher.dispute(dispute_id).state == DisputeState.OPEN
    respond(g, a, tmp_path)
    assert attestia.slasher.dispute(a.dispute_id).state == DisputeState.RESPONDED
    assert attestia.slasher.dispute(b.dispute_id).state == DisputeState.OPEN


def test_settlement_holds_exactly_the_disputed_leaves_and_pays_them_by_outcome(
        g: Game, tmp_path) -> None:
    attestia = g.h.attestia
    reg = attestia.registry
    fraud, upheld, quiet = commit_batch(g, tmp_path, [helpers.lie_value, None, None])
    challenge(g, fraud)
    challenge(g, upheld)
    respond(g, fraud, tmp_path)
    respond(g, upheld, tmp_path)

    def paid(through: int) -> dict[str, tuple]:
        (outcome,) = [b for b in read_ledger(attestia, through).batches
                      if b.batch.batch_id == quiet.ref.batch_id]
        assert outcome.included
        return {"0x" + leaf_hash(inference).hex(): tuple(tuple(s) for s in leaf.shares)
                for leaf, inference in zip(outcome.leaves, outcome.inferences, strict=True)}

    def key(case: LeafCase) -> str:
        return "0x" + leaf_hash(case.ref.inference).hex()

    # Through the next epoch (the quiet leaf's window closes in this epoch or that one):
    # the two disputed leaves are held, alone; the batch's other leaf is paid.
    later = reg.current_epoch() + 1
    assert paid(later) == {key(quiet): quiet.ref.leaf.shares}
    game.prove(attestia, g.model, fraud.dispute_id, account=OUTSIDER)
    assert set(paid(later)) == {key(quiet), key(fraud)}  # its dispute ended: final now
    g.h.travel(3 * attestia.slasher.response_window() + 1)  # the prove window
    assert set(paid(later)) == {key(quiet), key(fraud)}  # past its deadline, not resolved
    game.resolve(attestia, upheld.dispute_id, account=OUTSIDER)
    settled = paid(reg.current_epoch() + 1)
    equal = tuple(tuple(s) for s in g.shares_of(helpers.lie_totals(fraud.honest,
                                                                   [0] * len(g.roster))))
    assert settled[key(fraud)] == equal  # the worker lost: the equal split over the roster
    assert settled[key(upheld)] == upheld.ref.leaf.shares  # stands as recorded
    assert settled[key(quiet)] == quiet.ref.leaf.shares


def test_a_copied_leaf_challenge_does_not_take_the_dispute(g: Game, tmp_path) -> None:
    """The challenger of a leaf is paid if its worker never responds: a copier of the pending
    challengeLeaf finds no commitment of its own (it would need the input salt)."""
    attestia = g.h.attestia
    slasher = attestia.slasher
    (case,) = commit_batch(g, tmp_path, [None])
    call = slasher.challenge_leaf(case.ref.batch_id, case.ref.inference, case.ref.proof,
                                  case.input_bytes, case.salt, case.output_bytes, g.model.spec,
                                  slasher.dispute_bond())
    finder, copier = race_the_copier(g.h, call, REQUESTER)
    failed_with(g.h, copier, "FindingNotCommitted",
                finding_commitment(ATTACKER.address, case.dispute_id, case.salt))
    assert finder["status"] == 1
    assert slasher.dispute(case.dispute_id).challenger == REQUESTER.address
    assert slasher.balance(ATTACKER.address) == 0


def test_a_leafs_list_is_read_from_its_checked_batch_file(g: Game, tmp_path) -> None:
    (case,) = commit_batch(g, tmp_path, [None])
    challenge(g, case)
    shares = game.disputed_shares(g.h.attestia, case.dispute_id)
    assert shares == tuple(Share(a, b) for a, b in case.ref.leaf.shares)
    with pytest.raises(game.DisputeError, match="no single record nor batch leaf"):
        game.disputed_shares(g.h.attestia, g.h.unique("nothing"))


def test_a_leafs_window_runs_from_its_commit_whatever_timestamp_it_carries(
        g: Game, tmp_path) -> None:
    """A leaf's timestamp is the worker's word (nobody checks it on chain): a liar that
    backdates a leaf cannot close its window at once, and one that postdates it cannot stretch
    its window past the stake's unbonding. The window is the commit's: a worker that begins
    unbonding right after committing is still slashable for every leaf's whole dispute."""
    h = g.h
    attestia = h.attestia
    slasher = attestia.slasher
    far = h.now() + 10 * attestia.registry.unbonding_delay()
    backdated, postdated = commit_batch(g, tmp_path, [helpers.lie_value, None],
                                        timestamps=[1, far])
    h.send(attestia.registry.begin_unbonding(WORKER.address), OPERATOR)
    unbonding_at = attestia.registry.worker(WORKER.address).unbondingAt
    closes = game.leaf_challenge_closes_at(attestia, backdated.ref)
    assert closes == backdated.ref.committed_at + attestia.registry.challenge_window()
    assert unbonding_at + attestia.registry.unbonding_delay() >= (
        closes + DISPUTE_WINDOWS * slasher.response_window() + WINDOW_MARGIN)

    def challenge_at(case: LeafCase, timestamp: int):
        call = slasher.challenge_leaf(case.ref.batch_id, case.ref.inference, case.ref.proof,
                                      case.input_bytes, case.salt, case.output_bytes,
                                      g.model.spec, slasher.dispute_bond())
        attestia.sender(REQUESTER).commit_for(call)
        return h.send_at(timestamp, call, REQUESTER)

    challenge_at(backdated, closes)  # its last second, whatever its timestamp says
    assert slasher.dispute(backdated.dispute_id).state == DisputeState.OPEN
    with reverts("ChallengeWindowClosed", closes):
        challenge_at(postdated, closes + 1)
    respond(g, backdated, tmp_path)
    game.prove(attestia, g.model, backdated.dispute_id, account=OUTSIDER)
    assert attestia.registry.worker(WORKER.address).stake == 0  # slashed while unbonding
