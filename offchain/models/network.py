"""Integer inference: the package's dense ReLU network in fixed point, defined once.

Float32 inference is not reproducible bit for bit across CPUs (ONNX Runtime's SSE and AVX
kernels round differently), so nobody could prove on chain what the right float answer was.
The answer a record states is therefore this network's (design.md "Integer inference"):

* the input is the attribution's quantised query ``z`` (``offchain.attribution.integer``):
  ``|z_j| <= ACTIVATION_LIMIT``, in units of ``1 / ACTIVATION_SCALE`` standard deviations,
  i.e. the ONNX graph's standardised input times 2**16;
* neuron ``i`` of layer ``l`` has integer weights ``W`` (units ``2**-s``), an integer bias
  ``B`` (units ``2**-(16 + s)``) and its declared shift ``s``; with the previous layer's
  activations ``a``: ``acc = B + sum_j W_j * a_j`` exactly, then ``v = floor(acc / 2**s)``
  (an arithmetic right shift), clamped to ``[-ACTIVATION_LIMIT, ACTIVATION_LIMIT]``, then
  ReLU on every layer but the last;
* the last layer's values are the logits (units ``2**-16``); the label is their argmax, ties
  to the lowest index.

The package builder quantises the ONNX float32 weights once (:func:`quantise_layers`:
``W = round_half_even(w * 2**s)``, ``B = round_half_even(b * 2**(16 + s))``, ``s`` the
largest of ``WEIGHT_FRAC_BITS`` down to ``MIN_WEIGHT_FRAC_BITS`` that keeps the row inside
the accumulator bound) and refuses a model no shift fits. Every row satisfies
``|B| + sum |W_j| * ACTIVATION_LIMIT <= 2**63 - 1``, so every partial sum, in any order, fits
an int64: numpy's integer matmul is exact, and so is int256 on chain. Integer arithmetic has
no rounding modes, so the logits are the same bits on every CPU.

Pure: numpy and the protocol's leaf encoding, no I/O (the package reads and writes
``network.json`` through :func:`network_to_json` / :func:`network_from_json`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from offchain.merkle import IndexedTree
from offchain.models.errors import PackageSchemaError
from offchain.protocol import (
    ACCUMULATOR_LIMIT,
    ACTIVATION_LIMIT,
    ACTIVATION_SCALE,
    MAX_LAYER_WIDTH,
    MAX_NETWORK_LAYERS,
    MAX_NEURON_SHIFT,
    NeuronRow,
    neuron_row_leaf,
)

NETWORK_FORMAT = "attestia-int-network/1"
WEIGHT_FRAC_BITS = 24
"""The shift the builder tries first: weights in steps of 2**-24."""
MIN_WEIGHT_FRAC_BITS = 8
"""The coarsest shift the builder accepts; a row that needs less is refused."""

_ACTIVATION_BITS = int(ACTIVATION_SCALE).bit_length() - 1  # 16
_SMALL_WEIGHT = 1 << 50  # rows whose |W| are all below this sum exactly in int64 (4096 terms)


class NetworkBoundsError(PackageSchemaError):
    """A model whose integer network would leave the declared bounds (refused at packaging)."""


@dataclass(frozen=True)
class FloatLayer:
    """One dense layer as the ONNX graph holds it: ``x @ weight + bias``."""

    weight: np.ndarray  # float32 (fan_in, fan_out)
    bias: np.ndarray  # float32 (fan_out,)


@dataclass(frozen=True, eq=False)
class IntegerNetwork:
    """The integer network: per layer, int64 weights ``(fan_out, fan_in)``, biases and
    shifts ``(fan_out,)``. Arrays are read-only."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    shifts: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        check_network(self)
        for arr in (*self.weights, *self.biases, *self.shifts):
            arr.setflags(write=False)

    @property
    def widths(self) -> tuple[int, ...]:
        """Layer widths, input first (the demo: ``(30, 16, 2)``)."""
        return (int(self.weights[0].shape[1]), *(int(w.shape[0]) for w in self.weights))

    @property
    def layers(self) -> int:
        return len(self.weights)

    def rows(self) -> list[NeuronRow]:
        """Every neuron row, layer-major: the leaves of :attr:`weights_root` in order."""
        return [
            NeuronRow(layer, neuron, tuple(int(v) for v in w[neuron]), int(b[neuron]),
                      int(s[neuron]))
            for layer, (w, b, s) in enumerate(zip(self.weights, self.biases, self.shifts,
                                                  strict=True))
            for neuron in range(w.shape[0])
        ]

    def row_position(self, layer: int, neuron: int) -> int:
        """The position of a neuron's row in the weights tree."""
        if not 0 <= layer < self.layers or not 0 <= neuron < self.weights[layer].shape[0]:
            raise IndexError(f"no neuron {neuron} in layer {layer}")
        return sum(int(w.shape[0]) for w in self.weights[:layer]) + neuron

    @cached_property
    def weights_tree(self) -> IndexedTree:
        """The indexed Merkle tree over :meth:`rows` (one leaf per neuron row)."""
        return IndexedTree([neuron_row_leaf(row) for row in self.rows()])

    @property
    def weights_root(self) -> bytes:
        return self.weights_tree.root

    def activations(self, z: np.ndarray) -> list[np.ndarray]:
        """Every layer's activations for quantised inputs ``z`` (``(batch, d)`` or ``(d,)``
        int64): the input first, the logits last (what an activation trace commits to)."""
        a = _inputs(z, self.widths[0])
        out = [a]
        last = self.layers - 1
        for layer, (w_t, b, s) in enumerate(self._plan):
            acc = a @ w_t
            acc += b
            acc >>= s
            # ReLU and the clamp in one: [0, LIMIT] on hidden layers, [-LIMIT, LIMIT] last
            # (two ufuncs in place: np.clip costs several times more on small arrays)
            np.maximum(acc, -ACTIVATION_LIMIT if layer == last else 0, out=acc)
            a = np.minimum(acc, ACTIVATION_LIMIT, out=acc)
            out.append(a)
        return out

    @cached_property
    def _plan(self) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
        """Per layer: the weights transposed (fan_in, fan_out) and contiguous, bias, shifts."""
        return tuple((np.ascontiguousarray(w.T), b, s)
                     for w, b, s in zip(self.weights, self.biases, self.shifts, strict=True))

    def logits(self, z: np.ndarray) -> np.ndarray:
        """The integer logits ``(batch, n_labels)`` int64 (units ``2**-16``)."""
        return self.activations(z)[-1]


def labels_of(logits: np.ndarray) -> np.ndarray:
    """The label of each row of integer logits: argmax, ties to the lowest index."""
    arr = np.asarray(logits)
    return np.argmax(arr.reshape(-1, arr.shape[-1]), axis=1)


def logits_to_float32(logits: np.ndarray) -> np.ndarray:
    """Integer logits as the float32 values ``L / 2**16`` a record's output tensor holds:
    exact, because ``|L| <= ACTIVATION_LIMIT < 2**24``, so the tensor's argmax (ties to the
    lowest index: ``IntegerAttribution.labelOfTensor``) is the integer label."""
    arr = np.asarray(logits, dtype=np.int64)
    if arr.size and (int(arr.max()) > ACTIVATION_LIMIT or int(arr.min()) < -ACTIVATION_LIMIT):
        raise ValueError("integer logits outside [-ACTIVATION_LIMIT, ACTIVATION_LIMIT]")
    return np.ldexp(arr.astype(np.float32), -_ACTIVATION_BITS).astype(np.float32)


def logits_from_float32(values: np.ndarray) -> np.ndarray:
    """The inverse of :func:`logits_to_float32`; raises ``ValueError`` for values that are
    not integer multiples of 2**-16 within the activation limit."""
    arr = np.asarray(values, dtype=np.float32).astype(np.float64)
    scaled = np.ldexp(arr, _ACTIVATION_BITS)
    if not np.all(np.isfinite(scaled)) or np.any(scaled != np.rint(scaled)) or (
            scaled.size and float(np.abs(scaled).max()) > ACTIVATION_LIMIT):
        raise ValueError("not integer logits: values must be multiples of 2**-16 "
                         f"within +-{ACTIVATION_LIMIT} / 2**16")
    return scaled.astype(np.int64)


def _inputs(z: np.ndarray, width: int) -> np.ndarray:
    arr = np.asarray(z)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"integer network inputs must be integers, got {arr.dtype}")
    arr = arr.astype(np.int64).reshape(-1, arr.shape[-1] if arr.ndim else 1)
    if arr.shape[1] != width:
        raise ValueError(f"the network takes {width} inputs, got {arr.shape[1]}")
    if arr.size and (int(arr.max()) > ACTIVATION_LIMIT or int(arr.min()) < -ACTIVATION_LIMIT):
        raise ValueError(f"quantised inputs must be within +-{ACTIVATION_LIMIT}")
    return arr


# -- bounds -----------------------------------------------------------------------------------

def row_bound(weights: np.ndarray, bias: int) -> int:
    """``|bias| + sum |w_j| * ACTIVATION_LIMIT``, exactly: the largest |partial sum| of the row's
    accumulation over every input the network can see."""
    w = np.asarray(weights, dtype=np.int64)
    if w.size and int(np.abs(w).max()) < _SMALL_WEIGHT:
        total = int(np.abs(w).sum())
    else:
        total = sum(abs(int(v)) for v in w.tolist())
    return abs(int(bias)) + total * ACTIVATION_LIMIT


def check_network(net: IntegerNetwork) -> None:
    """Refuse a network outside the declared bounds (one line naming the first violation)."""
    if not 1 <= len(net.weights) <= MAX_NETWORK_LAYERS or not (
            len(net.weights) == len(net.biases) == len(net.shifts)):
        raise NetworkBoundsError(f"a network has 1..{MAX_NETWORK_LAYERS} dense layers, each "
                                 "with weights, biases and shifts")
    fan_in = None
    for layer, (w, b, s) in enumerate(zip(net.weights, net.biases, net.shifts, strict=True)):
        if not all(isinstance(x, np.ndarray) and x.dtype == np.int64 for x in (w, b, s)):
            raise NetworkBoundsError(f"layer {layer}: weights, biases and shifts must be int64")
        if w.ndim != 2 or b.shape != (w.shape[0],) or s.shape != (w.shape[0],):
            raise NetworkBoundsError(f"layer {layer}: weights {list(w.shape)}, bias "
                                     f"{list(b.shape)} and shifts {list(s.shape)} do not fit")
        if fan_in is not None and w.shape[1] != fan_in:
            raise NetworkBoundsError(f"layer {layer} takes {w.shape[1]} inputs; layer "
                                     f"{layer - 1} has {fan_in} neurons")
        for width in w.shape:
            if not 1 <= width <= MAX_LAYER_WIDTH:
                raise NetworkBoundsError(f"layer {layer} has shape {list(w.shape)}; widths are "
                                         f"1..{MAX_LAYER_WIDTH}")
        if s.size and (int(s.min()) < 0 or int(s.max()) > MAX_NEURON_SHIFT):
            raise NetworkBoundsError(f"layer {layer}: shifts must be 0..{MAX_NEURON_SHIFT}")
        for neuron in range(w.shape[0]):
            bound = row_bound(w[neuron], int(b[neuron]))
            if bound > ACCUMULATOR_LIMIT:
                raise NetworkBoundsError(
                    f"layer {layer} neuron {neuron}: |bias| + sum|w| * {ACTIVATION_LIMIT} = "
                    f"{bound} exceeds the int64 accumulator bound 2**63 - 1")
        fan_in = w.shape[0]


# -- from the ONNX graph ----------------------------------------------------------------------

def dense_layers(model: onnx.ModelProto) -> list[FloatLayer]:
    """The graph as dense layers, refusing anything outside the family the package builder
    accepts: a chain ``input -> (Gemm | MatMul [+ Add]) -> Relu -> ... -> (Gemm | MatMul
    [+ Add]) -> output``, weights and biases constant initializers, Gemm with ``alpha = beta
    = 1`` and ``transA = 0``, a Relu after every layer but the last."""
    graph = model.graph
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    inputs = [i.name for i in graph.input if i.name not in consts]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise PackageSchemaError("integer inference needs a graph with one input and one output")
    current, output = inputs[0], graph.output[0].name
    layers: list[FloatLayer] = []
    relu_after: list[bool] = []
    nodes = list(graph.node)
    i = 0
    while i < len(nodes):
        node = nodes[i]
        where = f"node {i} ({node.op_type} {node.name!r})"
        if node.op_type == "Relu":
            if not layers or relu_after[-1] or list(node.input) != [current]:
                raise _refuse(f"{where}: a Relu must follow a dense layer, once")
            relu_after[-1] = True
            current = node.output[0]
            i += 1
            continue
        if node.op_type == "Gemm":
            layer = _gemm(node, current, consts, where)
        elif node.op_type == "MatMul":
            layer, consumed = _matmul(nodes, i, current, consts, where)
            i += consumed - 1
            node = nodes[i]
        else:
            raise _refuse(f"{where}: op {node.op_type} is not Gemm, MatMul, Add or Relu")
        if layers and not relu_after[-1]:
            raise _refuse(f"{where}: two dense layers need a Relu between them")
        if layers and layer.weight.shape[0] != layers[-1].weight.shape[1]:
            raise _refuse(f"{where}: takes {layer.weight.shape[0]} inputs, the previous layer "
                          f"gives {layers[-1].weight.shape[1]}")
        layers.append(layer)
        relu_after.append(False)
        current = node.output[0]
        i += 1
    if not layers:
        raise _refuse("the graph has no dense layer")
    if relu_after[-1]:
        raise _refuse("the graph ends with a Relu; the logits must be the last dense layer's "
                      "output")
    if current != output:
        raise _refuse(f"the graph's output {output!r} is not its last dense layer's")
    return layers


def _refuse(message: str) -> PackageSchemaError:
    return PackageSchemaError(f"not a dense ReLU network (integer inference): {message}")


def _const(consts: Mapping[str, np.ndarray], name: str, where: str) -> np.ndarray:
    if name not in consts:
        raise _refuse(f"{where}: {name!r} must be a constant initializer")
    arr = consts[name]
    if arr.dtype != np.float32:
        raise _refuse(f"{where}: {name!r} is {arr.dtype}, not float32")
    if not np.all(np.isfinite(arr)):
        raise _refuse(f"{where}: {name!r} holds NaN or infinity")
    return arr


def _bias(arr: np.ndarray, fan_out: int, where: str) -> np.ndarray:
    if arr.shape not in ((fan_out,), (1, fan_out)):
        raise _refuse(f"{where}: bias of shape {list(arr.shape)}; expected [{fan_out}]")
    return arr.reshape(fan_out)


def _gemm(node: onnx.NodeProto, current: str, consts: Mapping[str, np.ndarray],
          where: str) -> FloatLayer:
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    if (attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0
            or attrs.get("transA", 0) != 0 or attrs.get("transB", 0) not in (0, 1)):
        raise _refuse(f"{where}: only alpha = beta = 1, transA = 0 is supported")
    if len(node.input) < 2 or node.input[0] != current:
        raise _refuse(f"{where}: must take the previous layer's output as A")
    w = _const(consts, node.input[1], where)
    if w.ndim != 2:
        raise _refuse(f"{where}: weight of shape {list(w.shape)}")
    if attrs.get("transB", 0) == 1:
        w = w.T
    fan_out = w.shape[1]
    if len(node.input) > 2 and node.input[2]:
        b = _bias(_const(consts, node.input[2], where), fan_out, where)
    else:
        b = np.zeros(fan_out, dtype=np.float32)
    return FloatLayer(np.ascontiguousarray(w), b)


def _matmul(nodes: Sequence[onnx.NodeProto], i: int, current: str,
            consts: Mapping[str, np.ndarray], where: str) -> tuple[FloatLayer, int]:
    node = nodes[i]
    if list(node.input[:1]) != [current] or len(node.input) != 2:
        raise _refuse(f"{where}: must be MatMul(previous output, constant weight)")
    w = _const(consts, node.input[1], where)
    if w.ndim != 2:
        raise _refuse(f"{where}: weight of shape {list(w.shape)}")
    fan_out = w.shape[1]
    nxt = nodes[i + 1] if i + 1 < len(nodes) else None
    if nxt is not None and nxt.op_type == "Add" and node.output[0] in nxt.input:
        others = [name for name in nxt.input if name != node.output[0]]
        if len(others) != 1:
            raise _refuse(f"node {i + 1} (Add): must add one constant bias")
        b = _bias(_const(consts, others[0], f"node {i + 1} (Add)"), fan_out, where)
        return FloatLayer(np.ascontiguousarray(w), b), 2
    return FloatLayer(np.ascontiguousarray(w), np.zeros(fan_out, dtype=np.float32)), 1


# -- quantisation -----------------------------------------------------------------------------

def _scaled(values: np.ndarray, bits: np.ndarray | int) -> np.ndarray | None:
    """round_half_even(values * 2**bits) as int64 (exact: float32 times a power of two is
    exact in float64, ``np.rint`` rounds half to even), or None if one leaves +-2**62."""
    scaled = np.rint(np.ldexp(values.astype(np.float64), np.asarray(bits, dtype=np.int32)))
    if scaled.size and float(np.abs(scaled).max()) >= 2.0**62:
        return None
    return scaled.astype(np.int64)


def quantise_layers(layers: Sequence[FloatLayer], *, frac_bits: int = WEIGHT_FRAC_BITS,
                    min_frac_bits: int = MIN_WEIGHT_FRAC_BITS) -> IntegerNetwork:
    """The integer network of float layers: per neuron the largest shift ``s`` from
    ``frac_bits`` down to ``min_frac_bits`` whose quantised row keeps the accumulator bound;
    raises :class:`NetworkBoundsError` (one line) when none does."""
    if not 1 <= len(layers) <= MAX_NETWORK_LAYERS:
        raise NetworkBoundsError(f"the network has {len(layers)} dense layers; integer "
                                 f"inference takes 1..{MAX_NETWORK_LAYERS}")
    weights, biases, shifts = [], [], []
    for index, layer in enumerate(layers):
        w_t = np.asarray(layer.weight, dtype=np.float32).T  # (fan_out, fan_in)
        b = np.asarray(layer.bias, dtype=np.float32).reshape(-1)
        for width in w_t.shape:
            if not 1 <= width <= MAX_LAYER_WIDTH:
                raise NetworkBoundsError(f"layer {index} has shape {list(layer.weight.shape)}; "
                                         f"integer inference takes widths 1..{MAX_LAYER_WIDTH}")
        w_int = np.zeros(w_t.shape, dtype=np.int64)
        b_int = np.zeros(b.shape, dtype=np.int64)
        s_int = np.zeros(b.shape, dtype=np.int64)
        for neuron in range(w_t.shape[0]):
            for s in range(frac_bits, min_frac_bits - 1, -1):
                row = _scaled(w_t[neuron], s)
                bias = _scaled(b[neuron:neuron + 1], s + _ACTIVATION_BITS)
                if row is None or bias is None:
                    continue
                if row_bound(row, int(bias[0])) <= ACCUMULATOR_LIMIT:
                    w_int[neuron], b_int[neuron], s_int[neuron] = row, bias[0], s
                    break
            else:
                raise NetworkBoundsError(
                    f"layer {index} neuron {neuron}: its weights (sum |w| = "
                    f"{float(np.abs(w_t[neuron].astype(np.float64)).sum()):.6g}, bias "
                    f"{float(b[neuron]):.6g}) overflow the int64 accumulator even at "
                    f"{min_frac_bits} fractional bits; rescale the model")
        weights.append(w_int)
        biases.append(b_int)
        shifts.append(s_int)
    return IntegerNetwork(tuple(weights), tuple(biases), tuple(shifts))


def matches_layers(net: IntegerNetwork, layers: Sequence[FloatLayer]) -> str | None:
    """Why ``net`` is not the quantisation of ``layers`` at its own declared shifts (None if
    it is): a package's recorded network must be its ONNX graph's weights."""
    if len(layers) != net.layers:
        return f"the graph has {len(layers)} dense layers, the network {net.layers}"
    for index, (layer, w, b, s) in enumerate(zip(layers, net.weights, net.biases, net.shifts,
                                                 strict=True)):
        w_t = np.asarray(layer.weight, dtype=np.float32).T
        if w_t.shape != w.shape:
            return f"layer {index} has shape {list(w_t.shape)} in the graph, {list(w.shape)}"
        expected_w = _scaled(w_t, s[:, None])
        expected_b = _scaled(np.asarray(layer.bias, dtype=np.float32), s + _ACTIVATION_BITS)
        if expected_w is None or not np.array_equal(expected_w, w):
            return f"layer {index}'s weights are not the graph's at the declared shifts"
        if expected_b is None or not np.array_equal(expected_b, b):
            return f"layer {index}'s biases are not the graph's at the declared shifts"
    return None


# -- network.json -----------------------------------------------------------------------------

def network_to_json(net: IntegerNetwork) -> dict[str, Any]:
    """``network.json``: weights and shifts as JSON numbers (the accumulator bound keeps
    ``|W| < 2**40``, exact in every JSON reader), biases as decimal strings (they can pass
    2**53)."""
    return {
        "format": NETWORK_FORMAT,
        "widths": list(net.widths),
        "layers": [{"weights": w.tolist(), "bias": [str(v) for v in b.tolist()],
                    "shift": s.tolist()}
                   for w, b, s in zip(net.weights, net.biases, net.shifts, strict=True)],
    }


def network_from_json(data: Any) -> IntegerNetwork:
    """Parse and check ``network.json`` (raises ``PackageSchemaError``)."""
    if not isinstance(data, Mapping) or set(data) != {"format", "widths", "layers"}:
        raise PackageSchemaError("network.json must hold format, widths and layers")
    if data["format"] != NETWORK_FORMAT:
        raise PackageSchemaError(f"network.json format is {data['format']!r}; this code reads "
                                 f"{NETWORK_FORMAT!r}")
    layers = data["layers"]
    if not isinstance(layers, list) or not layers:
        raise PackageSchemaError("network.json layers must be a non-empty list")
    weights, biases, shifts = [], [], []
    for index, layer in enumerate(layers):
        if not isinstance(layer, Mapping) or set(layer) != {"weights", "bias", "shift"}:
            raise PackageSchemaError(f"network.json layer {index} must hold weights, bias, "
                                     "shift")
        try:
            w = _int_array(layer["weights"], 2)
            b = _int_array([_decimal(v) for v in layer["bias"]], 1)
            s = _int_array(layer["shift"], 1)
        except (TypeError, ValueError, OverflowError) as exc:
            raise PackageSchemaError(f"network.json layer {index}: {exc}") from None
        weights.append(w)
        biases.append(b)
        shifts.append(s)
    net = IntegerNetwork(tuple(weights), tuple(biases), tuple(shifts))
    if list(net.widths) != data["widths"]:
        raise PackageSchemaError(f"network.json widths {data['widths']} are not its layers' "
                                 f"{list(net.widths)}")
    return net


def _decimal(value: Any) -> int:
    if not isinstance(value, str) or not value.lstrip("-").isdigit():
        raise ValueError(f"bias {value!r} must be a decimal string")
    return int(value)


def _int_array(value: Any, ndim: int) -> np.ndarray:
    arr = np.asarray(value, dtype=object)
    if arr.ndim != ndim or arr.size == 0:
        raise ValueError(f"expected a non-empty {ndim}-d list of integers")
    flat = arr.reshape(-1).tolist()
    if any(isinstance(v, bool) or not isinstance(v, int) for v in flat):
        raise ValueError("values must be integers")
    return np.asarray(flat, dtype=np.int64).reshape(arr.shape)
