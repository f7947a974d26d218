"""A small integer network registered with its ModelSpec on the suite's Anvil, records whose
answers are honest or wrong in one chosen way, and the traces a lying worker posts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from offchain.attribution.integer import quantize
from offchain.dispute.output import honest_layers, neuron_value
from offchain.models.encoding import commit, encode_tensor, new_salt
from offchain.models.network import IntegerNetwork, labels_of, logits_to_float32
from offchain.protocol import (
    ACTIVATION_LIMIT,
    Inference,
    ModelSpec,
    Request,
    model_spec_hash,
    output_dispute_id,
)
from offchain.sealing import output_salt
from tests.contracts.helpers import REQUESTER, Harness
from tests.dispute.helpers import Game

Layers = list[tuple[int, ...]]


def random_network(rng: np.random.Generator, widths: Sequence[int]) -> IntegerNetwork:
    """A network inside the packaging bounds: weights within +-2^14 at shifts 14..21, biases
    within +-2^30 (|B| + sum|W| * L stays far below 2^63; activations mostly unclamped)."""
    weights, biases, shifts = [], [], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
        weights.append(rng.integers(-2**14, 2**14, size=(fan_out, fan_in), dtype=np.int64))
        biases.append(rng.integers(-2**30, 2**30, size=fan_out, dtype=np.int64))
        shifts.append(rng.integers(14, 22, size=fan_out, dtype=np.int64))
    return IntegerNetwork(tuple(weights), tuple(biases), tuple(shifts))


def forged_network(net: IntegerNetwork, layer: int, neuron: int, *, weight: int = 0,
                   bias: int = 0, shift: int = 0) -> IntegerNetwork:
    """``net`` with one neuron's first weight, bias or shift moved (the worker's own copy)."""
    weights = [w.copy() for w in net.weights]
    biases = [b.copy() for b in net.biases]
    shifts = [s.copy() for s in net.shifts]
    weights[layer][neuron, 0] += weight
    biases[layer][neuron] += bias
    shifts[layer][neuron] += shift
    return IntegerNetwork(tuple(weights), tuple(biases), tuple(shifts))


def forward_from(net: IntegerNetwork, layers: Layers, start: int) -> Layers:
    """``layers`` with every layer after ``start`` recomputed from it by ``net`` (a trace
    consistent from there on)."""
    out = list(layers[:start + 1])
    rows = net.rows()
    for layer in range(start + 1, net.layers + 1):
        first = net.row_position(layer - 1, 0)
        out.append(tuple(neuron_value(out[-1], rows[first + i], layer == net.layers)
                         for i in range(net.widths[layer])))
    return out


@dataclass(frozen=True)
class OutCase:
    """One single record whose answer is ``layers[-1]``, and what its requester holds."""

    request: Request
    record: Inference
    input_bytes: bytes
    salt: bytes
    output_bytes: bytes
    honest: Layers
    layers: Layers
    """The worker's own trace: the record's logits are its last layer."""
    shares: tuple = ()
    """The record's attribution list."""

    @property
    def dispute_id(self) -> bytes:
        return output_dispute_id(self.record.requestId)

    @property
    def hidden(self) -> list[tuple[int, ...]]:
        return self.layers[1:-1]


class OutGame:
    """A model whose contentHash is its ModelSpec (a random integer network) and whose
    dataRoot is its attribution spec, served by the harness's worker."""

    def __init__(self, h: Harness, *, widths: Sequence[int] = (3, 6, 5, 3),
                 seed: int = 11) -> None:
        self.h = h
        self.rng = np.random.default_rng(seed)
        self.net = random_network(self.rng, widths)
        self.spec = ModelSpec(bytes(range(32)), self.net.weights_root, self.net.widths)
        self.game = Game(h, d=widths[0], seed=seed, content_hash=model_spec_hash(self.spec))

    @property
    def attribution_spec(self):  # noqa: ANN201 (AttributionSpec)
        return self.game.model.spec

    def case(self, lie: Callable[[IntegerNetwork, Layers], Layers] | None = None, *,
             output_bytes: bytes | None = None) -> OutCase:
        """A paid request and the worker's record of it: honest, or the trace ``lie`` makes
        of the honest one (its last layer is the record's logits), or raw ``output_bytes``."""
        d = self.net.widths[0]
        x = self.rng.normal(size=(1, d)).astype(np.float32)
        z = quantize(x, self.game.mu, self.game.rho)[0]
        honest = honest_layers(self.net, z)
        layers = honest if lie is None else lie(self.net, honest)
        if output_bytes is None:
            output_bytes = encode_tensor(logits_to_float32(np.asarray([layers[-1]])))
        salt = new_salt()
        input_bytes = encode_tensor(x)
        request = self.h.request(self.game.model_id, input_commitment=commit(salt, input_bytes),
                                 requester=REQUESTER)
        label = int(labels_of(np.asarray([layers[-1]]))[0])
        trace = self.game.model.trace(tuple(int(v) for v in z), label)
        shares = tuple(self.game.shares_of(trace))
        record = self.h.record(request, shares,
                               output_commitment=commit(output_salt(salt), output_bytes))
        self.h.fulfill(request, record, shares)
        return OutCase(request, record, input_bytes, salt, output_bytes, honest, layers, shares)


# -- lies (each returns the liar's whole trace; its last layer is the recorded logits) -------

def lie_hidden(net: IntegerNetwork, honest: Layers) -> Layers:
    """One hidden activation wrong (layer 1, neuron 2 moved), everything after it computed
    honestly from it."""
    forged = list(honest)
    forged[1] = tuple(v + (1 << 20) if i == 2 else v for i, v in enumerate(honest[1]))
    return forward_from(net, forged, 1)


def lie_weight(net: IntegerNetwork, honest: Layers) -> Layers:
    """The last layer computed with a wrong weight (neuron 0's first weight)."""
    forged = forged_network(net, net.layers - 1, 0, weight=1 << 13)
    return forward_from(forged, honest, net.layers - 1)


def lie_shift(net: IntegerNetwork, honest: Layers) -> Layers:
    """Layer 1's neuron 1 requantised with a shift one too large."""
    return forward_from(forged_network(net, 0, 1, shift=1), honest, 0)


def lie_rounding(net: IntegerNetwork, honest: Layers) -> Layers:
    """The logits requantised by rounding half up instead of the floor (every neuron)."""
    last = net.layers - 1
    biases = list(net.biases)
    biases[last] = biases[last] + (np.int64(1) << (net.shifts[last] - 1))
    forged = IntegerNetwork(net.weights, tuple(biases), net.shifts)
    return forward_from(forged, honest, last)


def lie_argmax(net: IntegerNetwork, honest: Layers) -> Layers:
    """An honest trace, but the recorded logits have the top two swapped: the stated label is
    not the network's argmax."""
    logits = list(honest[-1])
    order = sorted(range(len(logits)), key=lambda i: (-logits[i], i))
    logits[order[0]], logits[order[1]] = logits[order[1]], logits[order[0]]
    return [*honest[:-1], tuple(logits)]


def lie_consistent_label(net: IntegerNetwork, honest: Layers) -> Layers:
    """Another label, with a trace consistent from the last hidden layer on: that layer is
    chosen so the honest last layer maps it to a different argmax (only that layer, which
    must follow from the one before it, gives it away)."""
    label = int(np.argmax(honest[-1]))
    last_hidden = net.layers - 1
    for j in range(net.widths[last_hidden]):
        forged = list(honest)
        forged[last_hidden] = tuple(ACTIVATION_LIMIT // 4 if i == j else 0
                                    for i in range(net.widths[last_hidden]))
        forged = forward_from(net, forged, last_hidden)
        if int(np.argmax(forged[-1])) != label:
            return forged
    raise AssertionError("no hidden vector flips this network's label")
