"""The output dispute (issue 18) on Anvil: a worker whose answer is not the integer network's
is caught and slashed for every kind of lie, an honest worker survives a frivolous challenge and
takes the bond, every entry point refuses what it must, and the windows hold at their last
second."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from offchain.attribution.integer import quantize
from offchain.dispute import output as out
from offchain.dispute.game import DisputedLeaf
from offchain.models.encoding import commit, encode_tensor
from offchain.models.network import logits_to_float32
from offchain.protocol import (
    BPS,
    PROOF_SIGNED,
    SLASH_REPORTER_BPS,
    DisputeState,
    ModelSpec,
    NeuronOpening,
    OutputFraud,
    leaf_dispute_id,
    leaf_hash,
    output_dispute_id,
    unpack_widths,
)
from offchain.record.batch_file import BatchLeaf
from offchain.sealing import output_salt
from tests.contracts.helpers import (
    ADMIN,
    MIN_STAKE,
    OPERATOR,
    OUTSIDER,
    REQUESTER,
    WORKER,
    Harness,
    reverts,
    root_bytes,
)
from tests.dispute import output_helpers as lies
from tests.dispute.output_helpers import Layers, OutCase, OutGame

REWARD = MIN_STAKE * SLASH_REPORTER_BPS // BPS


@pytest.fixture
def g(attestia) -> OutGame:
    return OutGame(Harness(attestia))


def challenge(g: OutGame, case: OutCase, account=REQUESTER):
    return out.open_output_challenge(g.h.attestia, case.record, case.input_bytes, case.salt,
                                     case.output_bytes, g.attribution_spec, g.spec,
                                     account=account)


def respond(g: OutGame, case: OutCase, hidden=None, account=WORKER, bond: int = 0):
    return out.respond_output(g.h.attestia, g.net, case.dispute_id, account=account,
                              hidden=case.hidden if hidden is None else hidden, bond=bond)


def assert_slashed(g: OutGame, case: OutCase, state: DisputeState, kind: OutputFraud,
                   prover: str) -> None:
    attestia = g.h.attestia
    dispute = attestia.slasher.output_dispute(case.dispute_id)
    assert (dispute.state, dispute.kind) == (state, kind)
    worker = attestia.registry.worker(WORKER.address)
    assert worker.stake == 0 and worker.slashedAt != 0
    bond = attestia.slasher.dispute_bond()
    assert attestia.slasher.balance(REQUESTER.address) == bond + (
        REWARD if prover == REQUESTER.address else 0)
    if prover != REQUESTER.address:
        assert attestia.slasher.balance(prover) == REWARD


def test_challenge_publishes_the_input_and_logits_python_computes(g: OutGame) -> None:
    case = g.case()
    challenge(g, case)
    slasher = g.h.attestia.slasher
    (opened,) = slasher.outputs_opened(dispute_id=case.dispute_id)
    assert opened.input == case.honest[0] and opened.logits == case.honest[-1]
    assert opened.record_id == case.record.requestId and opened.worker == WORKER.address
    dispute = slasher.output_dispute(case.dispute_id)
    assert dispute.state == DisputeState.OPEN and dispute.weightsRoot == g.net.weights_root
    assert unpack_widths(dispute.widths) == g.net.widths
    assert slasher.output_layer_hash(case.dispute_id, 1) == bytes(32)  # not responded yet
    # The id is distinct from the record's attribution dispute and computed alike on chain.
    assert case.dispute_id != case.record.requestId
    assert bytes(slasher._fn.outputDisputeIdOf(case.record.requestId).call()) == case.dispute_id


def test_honest_worker_survives_a_frivolous_challenge_and_takes_the_bond(g: OutGame) -> None:
    attestia = g.h.attestia
    case = g.case()
    challenge(g, case)
    respond(g, case)
    assert attestia.slasher.committed_layers(case.dispute_id) == case.honest
    assert out.find_wrong_neuron(attestia, g.net, case.dispute_id) is None
    # Every neuron's one-step check on chain says "not fraud".
    rows = g.net.rows()
    for layer in range(1, g.net.layers + 1):
        for neuron in range(g.net.widths[layer]):
            position = g.net.row_position(layer - 1, neuron)
            opening = NeuronOpening(layer, neuron, case.honest[layer - 1], case.honest[layer])
            call = attestia.slasher.prove_neuron(case.dispute_id, opening, rows[position],
                                                 g.net.weights_tree.proof(position))
            with reverts("NotFraud"):
                attestia.send(call, account=OUTSIDER)
    dispute = attestia.slasher.output_dispute(case.dispute_id)
    with reverts("DeadlineNotReached", dispute.deadline):
        out.resolve_output(attestia, case.dispute_id, account=OUTSIDER)
    g.h.travel_to(dispute.deadline + 1)
    out.resolve_output(attestia, case.dispute_id, account=OUTSIDER)
    assert attestia.slasher.output_dispute(case.dispute_id).state == DisputeState.WORKER_WON
    assert attestia.slasher.balance(OPERATOR.address) == attestia.slasher.dispute_bond()
    assert attestia.registry.worker(WORKER.address).stake == MIN_STAKE
    (resolved,) = attestia.slasher.outputs_resolved(dispute_id=case.dispute_id)
    assert resolved.outcome == DisputeState.WORKER_WON and resolved.slashed == 0


LIES: dict[str, tuple[Callable[..., Layers], int]] = {
    # lie -> the layer its first wrong neuron is in (widths 3-6-5-3: dense layers 1..3)
    "wrong_hidden_activation": (lies.lie_hidden, 1),
    "wrong_weight": (lies.lie_weight, 3),
    "wrong_requantisation_shift": (lies.lie_shift, 1),
    "wrong_requantisation_rounding": (lies.lie_rounding, 3),
    "wrong_argmax": (lies.lie_argmax, 3),
    "consistent_wrong_label": (lies.lie_consistent_label, 2),
}


@pytest.mark.parametrize("name", list(LIES))
def test_a_lying_worker_is_caught_at_one_neuron_and_slashed(g: OutGame, name: str) -> None:
    lie, layer = LIES[name]
    attestia = g.h.attestia
    case = g.case(lie)
    assert case.layers[-1] != case.honest[-1] or name == "wrong_hidden_activation"
    if name in ("wrong_argmax", "consistent_wrong_label"):
        assert np.argmax(case.layers[-1]) != np.argmax(case.honest[-1])
    challenge(g, case)
    respond(g, case)  # the liar's own, internally consistent where it could be
    proof, receipt = out.prove_output(attestia, g.net, case.dispute_id, account=OUTSIDER)
    assert proof is not None and proof.layer == layer
    (resolved,) = attestia.slasher.outputs_resolved(dispute_id=case.dispute_id)
    assert (resolved.layer, resolved.neuron, resolved.by) == (layer, proof.neuron,
                                                               OUTSIDER.address)
    assert resolved.slashed == MIN_STAKE
    assert_slashed(g, case, DisputeState.FRAUD, OutputFraud.NEURON, OUTSIDER.address)


def test_wrong_logits_with_an_honest_hidden_trace_are_caught_at_the_last_layer(
        g: OutGame) -> None:
    """The record's logits are fixed by the challenge (the last layer is the record's own):
    a worker that answers with the honest hidden layers is caught at the logits."""
    case = g.case(lies.lie_weight)
    challenge(g, case)
    respond(g, case, hidden=case.honest[1:-1])
    proof, _ = out.prove_output(g.h.attestia, g.net, case.dispute_id, account=REQUESTER)
    assert proof is not None and proof.layer == g.net.layers
    assert_slashed(g, case, DisputeState.FRAUD, OutputFraud.NEURON, REQUESTER.address)


def test_no_response_is_slashed_after_the_window(g: OutGame) -> None:
    attestia = g.h.attestia
    case = g.case(lies.lie_hidden)
    challenge(g, case)
    deadline = attestia.slasher.output_dispute(case.dispute_id).deadline
    g.h.travel_to(deadline)
    with reverts("DeadlineNotReached", deadline):
        out.resolve_output(attestia, case.dispute_id, account=OUTSIDER)
    g.h.travel(1)
    with reverts("DeadlinePassed", deadline):
        respond(g, case)
    out.resolve_output(attestia, case.dispute_id, account=OUTSIDER)
    assert_slashed(g, case, DisputeState.NO_RESPONSE, OutputFraud.NO_RESPONSE,
                   REQUESTER.address)


def test_a_withheld_or_malformed_trace_is_refused_and_times_out(g: OutGame) -> None:
    attestia = g.h.attestia
    case = g.case(lies.lie_hidden)
    challenge(g, case)
    widths = g.net.widths
    with reverts("BadTrace", 1):  # a layer left out
        respond(g, case, hidden=case.hidden[:1])
    with reverts("BadTrace", 2):  # a neuron left out
        respond(g, case, hidden=[case.hidden[0], case.hidden[1][:-1]])
    with reverts("BadTrace", 1):
        respond(g, case, hidden=[(*case.hidden[0], 0), case.hidden[1]])
    assert len(case.hidden[0]) == widths[1]
    g.h.travel_to(attestia.slasher.output_dispute(case.dispute_id).deadline + 1)
    out.resolve_output(attestia, case.dispute_id, account=OUTSIDER)
    assert_slashed(g, case, DisputeState.NO_RESPONSE, OutputFraud.NO_RESPONSE,
                   REQUESTER.address)


def test_an_output_that_is_not_integer_logits_is_fraud_at_the_challenge(g: OutGame) -> None:
    """A committed output that is not integer logits of the model's width (a float answer
    between the 2^-16 steps) is wrong on its face: the challenge itself slashes."""
    honest_floats = np.asarray([[0.5, 0.25, 1.0 + 2.0**-20]], dtype=np.float32)
    case = g.case(output_bytes=encode_tensor(honest_floats))
    receipt = challenge(g, case)
    assert receipt["status"] == 1
    assert_slashed(g, case, DisputeState.FRAUD, OutputFraud.MALFORMED_OUTPUT,
                   REQUESTER.address)


@pytest.mark.parametrize("garbage", [b"not a tensor", b"", b"ATTN\x01\x01\x02\x00"],
                         ids=["text", "empty", "header only"])
def test_an_output_that_is_not_a_tensor_at_all_is_fraud_at_the_challenge(
        g: OutGame, garbage: bytes) -> None:
    """Bytes that are not a tensor (no header, nothing, a header without its shape): the
    worker committed to them, so the challenge reveals them and slashes at once."""
    case = g.case(output_bytes=garbage)
    challenge(g, case)
    assert_slashed(g, case, DisputeState.FRAUD, OutputFraud.MALFORMED_OUTPUT,
                   REQUESTER.address)


def test_a_wrong_width_output_is_fraud_at_the_challenge(g: OutGame) -> None:
    case = g.case(output_bytes=encode_tensor(np.zeros((1, 2), dtype=np.float32)))
    challenge(g, case)
    assert_slashed(g, case, DisputeState.FRAUD, OutputFraud.MALFORMED_OUTPUT,
                   REQUESTER.address)


def test_challenge_refuses_what_it_must(g: OutGame) -> None:
    attestia = g.h.attestia
    slasher = attestia.slasher
    case = g.case()
    bond = slasher.dispute_bond()

    def send(call, account=REQUESTER):
        return attestia.send(call, account=account)

    def call(**kw):
        args = dict(record=case.record, input_bytes=case.input_bytes, salt=case.salt,
                    output=case.output_bytes, spec=g.attribution_spec, model=g.spec, bond=bond)
        args.update(kw)
        return slasher.challenge_output(**args)

    with reverts("IncorrectBond", bond, bond - 1):
        send(call(bond=bond - 1))
    with reverts("InputMismatch"):
        send(call(input_bytes=case.input_bytes + b"\0"))
    with reverts("OutputMismatch"):
        send(call(output=case.output_bytes[:-1] + b"\x01"))
    wrong_spec = ModelSpec(g.spec.onnxSha256, bytes(32), g.spec.widths)
    with reverts("ModelSpecMismatch"):
        send(call(model=wrong_spec))
    with reverts("SpecMismatch"):
        send(call(spec=replace(g.attribution_spec, k=g.attribution_spec.k + 1)))
    with reverts("RecordNotFound", case.record.requestId):
        send(call(record=replace(case.record, timestamp=case.record.timestamp + 1)))
    # A copy of the challenge from another account finds no commitment of its own.
    with reverts("FindingNotCommitted"):
        send(replace(call(), commit=None), OUTSIDER)
    challenge(g, case)
    with reverts("DisputeExists", case.dispute_id):
        send(call())
    # The attribution dispute of the same record is a separate game, still open to a challenge.
    assert slasher.dispute(case.record.requestId).state == DisputeState.NONE
    late = g.case()
    g.h.travel_to(late.record.timestamp + attestia.registry.challenge_window() + 1)
    with reverts("ChallengeWindowClosed"):
        challenge(g, late)


def test_a_zk_record_is_not_output_disputable(g: OutGame) -> None:
    """A ZK record's proof already binds its output: refused (a ZK leaf of a batch here; a
    single ZK record takes the same path after its registry check)."""
    leaf, input_bytes, salt, output_bytes, _ = _leaf_case(g, proof_kind=3)
    with reverts("ZkRecord"):
        out.open_output_leaf_challenge(g.h.attestia, leaf, input_bytes, salt, output_bytes,
                                       g.attribution_spec, g.spec, account=REQUESTER)


def test_prove_refuses_wrong_openings_and_a_copied_proof_finds_no_commitment(
        g: OutGame) -> None:
    attestia = g.h.attestia
    slasher = attestia.slasher
    case = g.case(lies.lie_hidden)
    challenge(g, case)
    respond(g, case)
    proof = out.find_wrong_neuron(attestia, g.net, case.dispute_id)
    assert proof is not None
    layer, neuron = proof.layer, proof.neuron
    position = g.net.row_position(layer - 1, neuron)
    rows, tree = g.net.rows(), g.net.weights_tree
    opening = NeuronOpening(layer, neuron, case.layers[layer - 1], case.layers[layer])

    def prove(opening=opening, row=rows[position], path=None):
        return attestia.send(slasher.prove_neuron(case.dispute_id, opening, row,
                                                  tree.proof(position) if path is None
                                                  else path), account=OUTSIDER)

    with reverts("LayerMismatch", layer - 1):
        prove(replace(opening, previous=case.honest[layer - 1][:-1] + (7,)))
    with reverts("LayerMismatch", layer):
        prove(replace(opening, claimed=case.honest[layer]))
    with reverts("InvalidRow", layer, neuron):  # another neuron's row
        prove(row=rows[position + 1])
    with reverts("InvalidRow", layer, neuron):  # a forged row
        prove(row=replace(rows[position], bias=rows[position].bias + 1))
    with reverts("InvalidRow", layer, neuron):
        prove(path=tree.proof(position + 1))
    with reverts("InvalidRow", 0, 0):
        prove(replace(opening, layer=0, neuron=0))
    with reverts("InvalidRow", layer, g.net.widths[layer]):
        prove(replace(opening, neuron=g.net.widths[layer]))
    # Front-running: a copy of the prover's pending call, sent from another account.
    with reverts("FindingNotCommitted"):
        attestia.send(replace(proof.call, commit=None), account=ADMIN)
    attestia.send(proof.call, account=OUTSIDER)
    assert_slashed(g, case, DisputeState.FRAUD, OutputFraud.NEURON, OUTSIDER.address)
    with reverts("WrongOutputState"):
        attestia.send(proof.call, account=OUTSIDER)


def test_third_party_defence_proven_wrong_reopens_for_the_worker(g: OutGame) -> None:
    """Defence by anyone: a bonded third party's wrong defence loses its bond to the prover
    and the dispute reopens for the worker alone, who is then slashed for its lie."""
    attestia = g.h.attestia
    slasher = attestia.slasher
    bond = slasher.dispute_bond()
    case = g.case(lies.lie_hidden)
    challenge(g, case)
    with reverts("IncorrectBond", 0, bond):
        respond(g, case, bond=bond)  # the worker posts no bond
    with reverts("ThirdPartyResponse"):
        respond(g, case, account=ADMIN)  # a third party must
    respond(g, case, account=ADMIN, bond=bond)
    out.prove_output(attestia, g.net, case.dispute_id, account=OUTSIDER)
    dispute = slasher.output_dispute(case.dispute_id)
    assert (dispute.state, dispute.round, dispute.defender) == (DisputeState.OPEN, 1,
                                                                "0x" + "0" * 40)
    assert slasher.balance(OUTSIDER.address) == bond
    with reverts("ThirdPartyResponse"):
        respond(g, case, account=ADMIN, bond=bond)  # the reopened dispute is the worker's
    respond(g, case)
    out.prove_output(attestia, g.net, case.dispute_id, account=OUTSIDER)
    assert slasher.output_dispute(case.dispute_id).state == DisputeState.FRAUD
    assert slasher.balance(OUTSIDER.address) == bond + REWARD


def test_an_honest_third_party_defence_wins_and_gets_its_bond_back(g: OutGame) -> None:
    attestia = g.h.attestia
    slasher = attestia.slasher
    bond = slasher.dispute_bond()
    case = g.case()
    challenge(g, case)
    respond(g, case, account=ADMIN, bond=bond)
    g.h.travel_to(slasher.output_dispute(case.dispute_id).deadline + 1)
    out.resolve_output(attestia, case.dispute_id, account=OUTSIDER)
    assert slasher.balance(ADMIN.address) == bond
    assert slasher.balance(OPERATOR.address) == bond


def test_windows_hold_at_their_last_second(g: OutGame) -> None:
    attestia = g.h.attestia
    slasher = attestia.slasher
    case = g.case(lies.lie_hidden)
    challenge(g, case)
    respond_by = slasher.output_dispute(case.dispute_id).deadline
    g.h.send_at(respond_by, slasher.respond_output(case.dispute_id, case.hidden), WORKER)
    prove_by = slasher.output_dispute(case.dispute_id).deadline
    assert prove_by == respond_by + slasher.response_window()
    proof = out.find_wrong_neuron(attestia, g.net, case.dispute_id)
    assert proof is not None
    attestia.sender(OUTSIDER).commit_for(proof.call)
    g.h.send_at(prove_by, proof.call, OUTSIDER)
    assert slasher.output_dispute(case.dispute_id).state == DisputeState.FRAUD


def test_a_proof_after_the_window_is_refused_and_the_worker_wins(g: OutGame) -> None:
    attestia = g.h.attestia
    slasher = attestia.slasher
    case = g.case(lies.lie_hidden)
    challenge(g, case)
    respond(g, case)
    prove_by = slasher.output_dispute(case.dispute_id).deadline
    proof = out.find_wrong_neuron(attestia, g.net, case.dispute_id)
    attestia.sender(OUTSIDER).commit_for(proof.call)
    with reverts("DeadlinePassed", prove_by):
        g.h.send_at(prove_by + 1, proof.call, OUTSIDER)


def _leaf_case(g: OutGame, proof_kind: int = PROOF_SIGNED
               ) -> tuple[DisputedLeaf, bytes, bytes, bytes, Layers]:
    """Leaf 1 of a committed 3-leaf batch answered with lie_hidden's logits: (the leaf, its
    input, salt, output, the liar's trace)."""
    h = g.h
    x = g.rng.normal(size=(1, g.net.widths[0])).astype(np.float32)
    honest = out.honest_layers(g.net, quantize(x, g.game.mu, g.game.rho)[0])
    forged = lies.lie_hidden(g.net, honest)
    salt = bytes(range(32))
    input_bytes = encode_tensor(x)
    output_bytes = encode_tensor(logits_to_float32(np.asarray([forged[-1]])))
    leaves = h.batch_leaves(g.game.model_id, 3)
    leaves[1] = replace(leaves[1], inputCommitment=commit(salt, input_bytes),
                        outputCommitment=commit(output_salt(salt), output_bytes),
                        proofKind=proof_kind)
    tree = h.tree(leaves)
    batch = h.commit_batch(g.game.model_id, root_bytes(tree), len(leaves))
    proof = tuple(bytes.fromhex(p[2:]) for p in tree.get_proof(1))
    leaf = DisputedLeaf(batch, 1, BatchLeaf(leaves[1], (), 0), proof, h.now())
    return leaf, input_bytes, salt, output_bytes, forged


def test_a_batch_leafs_wrong_output_is_slashed(g: OutGame) -> None:
    attestia = g.h.attestia
    leaf, input_bytes, salt, output_bytes, forged = _leaf_case(g)
    out.open_output_leaf_challenge(attestia, leaf, input_bytes, salt, output_bytes,
                                   g.attribution_spec, g.spec, account=REQUESTER)
    dispute_id = output_dispute_id(leaf_dispute_id(leaf.batch_id, leaf_hash(leaf.inference)))
    assert attestia.slasher.output_dispute(dispute_id).state == DisputeState.OPEN
    out.respond_output(attestia, g.net, dispute_id, account=WORKER, hidden=forged[1:-1])
    proof, _ = out.prove_output(attestia, g.net, dispute_id, account=OUTSIDER)
    assert proof is not None and proof.layer == 1
    assert attestia.slasher.output_dispute(dispute_id).state == DisputeState.FRAUD
    assert attestia.registry.worker(WORKER.address).stake == 0
    # Another leaf with this leaf's proof is not in the batch.
    other = replace(leaf.inference, requestId=bytes(32))
    with reverts("LeafNotInBatch", leaf.batch_id):
        attestia.send(attestia.slasher.challenge_output_leaf(
            leaf.batch_id, other, leaf.proof, input_bytes, salt, output_bytes,
            g.attribution_spec, g.spec, attestia.slasher.dispute_bond()), account=REQUESTER)


def test_the_slasher_refuses_an_output_game_with_other_parameters(h_plain: Harness) -> None:
    h = h_plain
    bond, window = h.attestia.slasher.dispute_bond(), h.attestia.slasher.response_window()
    other = h.deploy("OutputDisputes", h.registry.address, ADMIN.address, bond + 1, window)
    with reverts("OutputsMismatch"):
        h.deploy("Slasher", h.registry.address, ADMIN.address, bond, window, other.address)
    same = h.deploy("OutputDisputes", h.registry.address, ADMIN.address, bond, window)
    h.deploy("Slasher", h.registry.address, ADMIN.address, bond, window, same.address)


@pytest.fixture
def h_plain(attestia) -> Harness:
    return Harness(attestia)


def test_settlement_waits_on_an_output_dispute_and_pays_by_its_outcome(g: OutGame) -> None:
    """A record under output dispute is not final; once the worker loses, its contributors'
    share goes by the equal split (as for a lost attribution dispute); a record whose honest
    answer survived is paid by its own attribution; a record with both disputes waits for
    both."""
    from offchain.rewards.chain import Finality, read_ledger

    attestia = g.h.attestia
    reg = attestia.registry
    lying, upheld, both = g.case(lies.lie_hidden), g.case(), g.case()
    for case in (lying, upheld, both):
        challenge(g, case)
        respond(g, case)
    # `both` also has its attribution disputed (and never answered there).
    from offchain.dispute import game as attribution_game

    attribution_game.open_challenge(attestia, both.record, both.input_bytes, both.salt,
                                    both.output_bytes, g.attribution_spec, account=REQUESTER)

    def final(case: OutCase) -> tuple[int | None, bool]:
        return Finality.read(attestia).of(case.record)

    assert final(lying) == final(upheld) == final(both) == (None, False)
    out.prove_output(attestia, g.net, lying.dispute_id, account=OUTSIDER)
    assert final(lying) == (reg.current_epoch(), True)
    g.h.travel(attestia.slasher.response_window() + 1)
    for case in (upheld, both):
        out.resolve_output(attestia, case.dispute_id, account=OUTSIDER)
    assert final(upheld) == (reg.current_epoch(), False)
    assert final(both) == (None, False)  # its attribution dispute is still open
    attribution_game.resolve(attestia, both.record.requestId, account=OUTSIDER)
    assert final(both) == (reg.current_epoch(), True)  # no response there: lost
    g.h.next_epoch()
    settled = {r.record: r.shares
               for r in read_ledger(attestia, reg.current_epoch() - 1).singles}
    roster = g.game.roster
    equal = tuple(tuple(s) for s in g.game.shares_of(
        replace(g.game.model.trace(tuple(lying.honest[0]), 0), totals=[0] * len(roster))))
    assert settled["0x" + lying.record.requestId.hex()] == equal
    assert settled["0x" + upheld.record.requestId.hex()] == tuple(tuple(s) for s in upheld.shares)
    assert settled["0x" + both.record.requestId.hex()] == equal


def test_the_longest_output_game_ends_before_the_stake_can_leave(g: OutGame) -> None:
    """Margins at the tightest parameters the constructors accept: the liar's record is
    signed 15 min ahead of its block and it begins unbonding at once; the challenge comes at
    the window's last second, a puppet's bonded defence at the response's last second, its
    disproof at the proof window's last second (the dispute reopens for the worker), the
    worker's own lie at the last second again, and the final proof at the last second of its
    window is raced by the liar's withdrawStake in its block: the withdrawal fails
    (UnbondingNotElapsed), the proof slashes; 4 windows of the 8 reserved, and the margin."""
    from offchain.chain.deploy import deploy, deployment_path
    from offchain.protocol import TIMESTAMP_WINDOW, WINDOW_MARGIN
    from offchain.registry import Attestia
    from tests.contracts.helpers import ATTACKER_TIP, HONEST_TIP, failed_with, succeeded
    from tests.security.test_issue17 import _tightest_params

    chain = g.h.attestia.chain
    path = deployment_path(chain)
    saved = path.read_bytes()
    try:
        deployment, _ = deploy(chain, fresh=True, params=_tightest_params())
    finally:
        path.write_bytes(saved)
    attestia = Attestia(chain, deployment)
    tight = Harness(attestia)
    t = OutGame(tight)
    slasher, reg = attestia.slasher, attestia.registry
    window = slasher.response_window()
    record = tight.record

    def ahead(*args, **kwargs):
        return record(*args, timestamp=tight.now() + TIMESTAMP_WINDOW, **kwargs)

    tight.record = ahead  # type: ignore[method-assign]
    case = t.case(lies.lie_hidden)
    del tight.record
    tight.send(reg.begin_unbonding(WORKER.address), OPERATOR)
    withdrawable_at = reg.worker(WORKER.address).unbondingAt + reg.unbonding_delay()

    closes_at = case.record.timestamp + reg.challenge_window()
    challenge_call = slasher.challenge_output(case.record, case.input_bytes, case.salt,
                                              case.output_bytes, t.attribution_spec, t.spec,
                                              slasher.dispute_bond())
    attestia.sender(REQUESTER).commit_for(challenge_call)
    tight.send_at(closes_at, challenge_call, REQUESTER)
    bond = slasher.dispute_bond()
    tight.send_at(closes_at + window, slasher.respond_output(case.dispute_id, case.hidden,
                                                             bond=bond), ADMIN)  # the puppet
    proof = out.find_wrong_neuron(attestia, t.net, case.dispute_id)
    attestia.sender(OUTSIDER).commit_for(proof.call)
    tight.send_at(closes_at + 2 * window, proof.call, OUTSIDER)
    assert slasher.output_dispute(case.dispute_id).round == 1
    tight.send_at(closes_at + 3 * window, slasher.respond_output(case.dispute_id, case.hidden),
                  WORKER)
    prove_by = slasher.output_dispute(case.dispute_id).deadline
    assert prove_by == closes_at + 4 * window
    assert withdrawable_at >= prove_by + WINDOW_MARGIN
    proof = out.find_wrong_neuron(attestia, t.net, case.dispute_id)
    escape = tight.signed_tx(reg.withdraw_stake(WORKER.address), OPERATOR, tip_gwei=ATTACKER_TIP)
    attestia.sender(OUTSIDER).commit_for(proof.call)
    prove = tight.signed_tx(proof.call, OUTSIDER, tip_gwei=HONEST_TIP)
    escape_receipt, prove_receipt = tight.race(escape, prove, timestamp=prove_by)
    assert escape_receipt["transactionIndex"] < prove_receipt["transactionIndex"]
    failed_with(tight, escape_receipt, "UnbondingNotElapsed", withdrawable_at)
    succeeded(prove_receipt)
    assert slasher.output_dispute(case.dispute_id).state == DisputeState.FRAUD
    assert reg.worker(WORKER.address).stake == 0


def test_anyone_defends_an_honest_answer_at_half_the_window_never_a_lie(g: OutGame) -> None:
    """Defence by anyone (``defend_output``, what ``watch --defend`` runs): nothing before
    half the response window, then the honest hidden layers with the bond; a wrong answer is
    never defended; the defended honest answer survives and the defender gets its bond back."""
    attestia = g.h.attestia
    slasher = attestia.slasher
    honest, lying = g.case(), g.case(lies.lie_hidden)
    challenge(g, honest)
    challenge(g, lying)
    assert out.defend_output(attestia, g.net, honest.dispute_id, account=ADMIN) == ""
    assert out.defend_output(attestia, g.net, lying.dispute_id, account=ADMIN) == "lie"
    g.h.travel(slasher.response_window() // 2 + 1)
    assert out.defend_output(attestia, g.net, honest.dispute_id, account=ADMIN) == "responded"
    assert out.defend_output(attestia, g.net, lying.dispute_id, account=ADMIN) == "lie"
    dispute = slasher.output_dispute(honest.dispute_id)
    assert dispute.state == DisputeState.RESPONDED and dispute.defender == ADMIN.address
    assert out.find_wrong_neuron(attestia, g.net, honest.dispute_id) is None
    g.h.travel_to(dispute.deadline + 1)
    out.resolve_output(attestia, honest.dispute_id, account=OUTSIDER)
    assert slasher.balance(ADMIN.address) == slasher.dispute_bond()
