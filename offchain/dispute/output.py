"""Output disputes, off chain: challenge a record's answer, answer a challenge with the
activation trace, prove one wrong neuron.

The contract side is ``IOutputDisputes`` (served at the Slasher's address); the rules are in
design.md "The output dispute". The checks here are the contract's one-neuron check in Python
integers (:func:`neuron_value`), so whoever runs them knows before sending whether a proof
holds. Challenger, worker, watcher and CLI all go through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from offchain.dispute.game import DisputedLeaf, DisputeError
from offchain.protocol import (
    ACTIVATION_LIMIT,
    AttributionSpec,
    DisputeState,
    Inference,
    ModelSpec,
    NeuronOpening,
    NeuronRow,
    OutputDispute,
    output_dispute_id,
)
from offchain.registry import Attestia

if TYPE_CHECKING:  # numpy is imported by the network only
    from offchain.models.network import IntegerNetwork


# -- the one-neuron check (IntegerInference.neuron), in Python integers ----------------------

def neuron_value(previous: Sequence[int], row: NeuronRow, last: bool) -> int:
    """``IntegerInference.neuron``: ``acc = bias + sum w_j a_j`` exactly, ``acc >> shift``
    (floor), clamped to +-ACTIVATION_LIMIT, ReLU unless ``last``. Python integers: committed
    activations can be anything a liar posted, so no int64 bound is assumed."""
    acc = int(row.bias) + sum(int(w) * int(a) for w, a in zip(row.weights, previous,
                                                               strict=True))
    v = max(-ACTIVATION_LIMIT, min(ACTIVATION_LIMIT, acc >> int(row.shift)))
    return v if last else max(v, 0)


def honest_layers(net: IntegerNetwork, z: Sequence[int]) -> list[tuple[int, ...]]:
    """Every layer of the honest activation trace of quantised input ``z``: the input, the
    hidden layers, the logits."""
    import numpy as np

    return [tuple(int(v) for v in layer[0])
            for layer in net.activations(np.asarray([list(z)], dtype=np.int64))]


def first_wrong_neuron(net: IntegerNetwork, layers: Sequence[Sequence[int]]
                       ) -> tuple[int, int] | None:
    """(layer, neuron) of the first neuron of a committed trace (input first, logits last)
    that does not follow from the layer before it and the network's row; None if every
    neuron does (the trace, and so the record's logits, are the network's answer)."""
    rows = net.rows()
    count = net.layers
    if len(layers) != count + 1:
        raise DisputeError(f"a trace of {len(layers)} layers for a network of {count + 1}")
    for layer in range(1, count + 1):
        start = net.row_position(layer - 1, 0)
        previous, claimed = layers[layer - 1], layers[layer]
        for neuron, value in enumerate(claimed):
            if neuron_value(previous, rows[start + neuron], layer == count) != int(value):
                return layer, neuron
    return None


def honest_output(package: Any, input_bytes: bytes, output: bytes) -> bool:
    """Whether a record's output tensor is the package's integer network's answer to its
    input (a tensor that is not integer logits at all is not)."""
    import numpy as np

    from offchain.models.encoding import EncodingError, decode_tensor
    from offchain.models.network import logits_from_float32

    try:
        stated = logits_from_float32(decode_tensor(output))
    except (ValueError, EncodingError):
        return False
    raw = decode_tensor(input_bytes).astype(np.float32)
    honest = package.integer_logits(raw)
    return stated.shape == honest.shape and bool(np.array_equal(stated, honest))


# -- reading the game's state ----------------------------------------------------------------

@dataclass(frozen=True)
class OutputProof:
    """A wrong neuron of a committed trace and the call that proves it."""

    layer: int
    neuron: int
    call: Any


def dispute_of(attestia: Attestia, record_id: bytes) -> tuple[bytes, OutputDispute]:
    """(output dispute id, its state) of a record (request id or leaf dispute id)."""
    dispute_id = output_dispute_id(record_id)
    return dispute_id, attestia.slasher.output_dispute(dispute_id)


def _layers(attestia: Attestia, dispute_id: bytes) -> list[tuple[int, ...]]:
    layers = attestia.slasher.committed_layers(dispute_id)
    if layers is None:
        raise DisputeError(f"output dispute 0x{dispute_id.hex()} has no committed trace to "
                           "check (not responded yet)")
    return layers


def find_wrong_neuron(attestia: Attestia, net: IntegerNetwork, dispute_id: bytes, *,
                      salt: bytes | None = None) -> OutputProof | None:
    """The proof of the first wrong neuron of a responded dispute's trace (None: honest)."""
    dispute = attestia.slasher.output_dispute(dispute_id)
    if dispute.state != DisputeState.RESPONDED:
        raise DisputeError(f"output dispute 0x{dispute_id.hex()} is {dispute.state.name}; "
                           "a neuron can be proven only while it is RESPONDED")
    layers = _layers(attestia, dispute_id)
    found = first_wrong_neuron(net, layers)
    if found is None:
        return None
    layer, neuron = found
    position = net.row_position(layer - 1, neuron)
    row = net.rows()[position]
    opening = NeuronOpening(layer, neuron, tuple(layers[layer - 1]), tuple(layers[layer]))
    call = attestia.slasher.prove_neuron(dispute_id, opening, row,
                                         net.weights_tree.proof(position), salt=salt)
    return OutputProof(layer, neuron, call)


# -- the three parties -----------------------------------------------------------------------

def open_output_challenge(attestia: Attestia, record: Inference, input_bytes: bytes,
                          salt: bytes, output: bytes, spec: AttributionSpec, model: ModelSpec,
                          *, account: Any = None) -> Any:
    """Challenge ``record``'s answer: posts the bond and makes its input public."""
    bond = attestia.slasher.dispute_bond()
    return attestia.send(attestia.slasher.challenge_output(record, input_bytes, salt, output,
                                                            spec, model, bond),
                         account=account)


def open_output_leaf_challenge(attestia: Attestia, leaf: DisputedLeaf, input_bytes: bytes,
                               salt: bytes, output: bytes, spec: AttributionSpec,
                               model: ModelSpec, *, account: Any = None) -> Any:
    """Challenge a batch leaf's answer (``challengeOutputLeaf``, with its inclusion proof)."""
    bond = attestia.slasher.dispute_bond()
    return attestia.send(attestia.slasher.challenge_output_leaf(
        leaf.batch_id, leaf.inference, leaf.proof, input_bytes, salt, output, spec, model,
        bond), account=account)


def respond_output(attestia: Attestia, net: IntegerNetwork, dispute_id: bytes, *,
                   account: Any = None, hidden: Sequence[Sequence[int]] | None = None,
                   bond: int = 0) -> Any:
    """Answer an output challenge with the honest hidden layers of the revealed input
    (``hidden`` overrides them: tests forge lies with it); a third party posts ``bond``."""
    opened = attestia.slasher.outputs_opened(dispute_id=dispute_id)
    if not opened:
        raise DisputeError(f"no output dispute 0x{dispute_id.hex()} was opened")
    if hidden is None:
        hidden = honest_layers(net, opened[-1].input)[1:-1]
    return attestia.send(attestia.slasher.respond_output(dispute_id, hidden, bond=bond),
                         account=account)


def prove_output(attestia: Attestia, net: IntegerNetwork, dispute_id: bytes, *,
                 account: Any = None) -> tuple[OutputProof | None, Any]:
    """Find and submit the proof of the trace's first wrong neuron; (proof, receipt) or
    (None, None) when every neuron follows from the network."""
    proof = find_wrong_neuron(attestia, net, dispute_id)
    if proof is None:
        return None, None
    return proof, attestia.send(proof.call, account=account)


def resolve_output(attestia: Attestia, dispute_id: bytes, *, account: Any = None) -> Any:
    """End an output dispute whose deadline passed (no response: slash; no proof: the worker
    takes the bond)."""
    return attestia.send(attestia.slasher.resolve_output(dispute_id), account=account)


def defend_output(attestia: Attestia, net: IntegerNetwork, dispute_id: bytes, *,
                  account: Any = None, early: bool = False) -> str:
    """Defence by anyone for an output dispute: when the record's logits are the network's
    answer to the revealed input and its worker has not responded by half its window (at once
    with ``early``), respond with the honest hidden layers, posting the dispute bond. Returns
    "responded", "lie" (the record's answer is wrong: never defended) or ""."""
    dispute = attestia.slasher.output_dispute(dispute_id)
    opened = attestia.slasher.outputs_opened(dispute_id=dispute_id)
    if dispute.state != DisputeState.OPEN or not opened:
        return ""
    layers = honest_layers(net, opened[-1].input)
    if tuple(layers[-1]) != tuple(opened[-1].logits):
        return "lie"
    now = int(attestia.chain.w3.eth.get_block("latest")["timestamp"])
    window = attestia.slasher.response_window()
    if dispute.round != 0 or now > dispute.deadline \
            or (not early and dispute.deadline - now > window // 2):
        return ""
    respond_output(attestia, net, dispute_id, account=account,
                   bond=attestia.slasher.dispute_bond())
    return "responded"
