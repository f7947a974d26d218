"""Integer inference (design.md "Integer inference"): the fixed-point network is exactly the
rules written down, on random networks and inputs, bounds are refused at packaging, and only
the dense ReLU family is accepted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from offchain.merkle import IndexedTree, verify_indexed
from offchain.models.byom import TrainingSet, build_package
from offchain.models.errors import PackageFileMissing, PackageIntegrityError, PackageSchemaError
from offchain.models.export import dense_relu_onnx
from offchain.models.manifest import Contributor
from offchain.models.network import (
    MIN_WEIGHT_FRAC_BITS,
    WEIGHT_FRAC_BITS,
    FloatLayer,
    IntegerNetwork,
    NetworkBoundsError,
    dense_layers,
    labels_of,
    logits_from_float32,
    logits_to_float32,
    network_from_json,
    network_to_json,
    quantise_layers,
    row_bound,
)
from offchain.models.package import MANIFEST_FILE, NETWORK_FILE, ModelPackage, load_package
from offchain.protocol import (
    ACCUMULATOR_LIMIT,
    ACTIVATION_LIMIT,
    NeuronRow,
    neuron_row_leaf,
)

LIMIT = ACTIVATION_LIMIT


# -- the reference: the rules of design.md, one Python integer at a time --------------------

def reference_logits(rows: list[NeuronRow], widths: tuple[int, ...], z: list[int]) -> list[int]:
    """A straightforward reading of the semantics: acc = B + sum W*a, floor(acc / 2**s),
    clamp, ReLU on every layer but the last. Python integers: no overflow possible."""
    a = list(z)
    layers = len(widths) - 1
    by_layer = [[r for r in rows if r.layer == layer] for layer in range(layers)]
    for layer, layer_rows in enumerate(by_layer):
        out = []
        for row in sorted(layer_rows, key=lambda r: r.neuron):
            acc = row.bias
            for w, x in zip(row.weights, a, strict=True):
                acc += w * x
            v = acc // (2 ** row.shift)  # floor division: toward minus infinity
            v = max(-LIMIT, min(LIMIT, v))
            if layer < layers - 1:
                v = max(v, 0)
            out.append(v)
        a = out
    return a


def reference_label(logits: list[int]) -> int:
    best = 0
    for i, v in enumerate(logits):
        if v > logits[best]:
            best = i
    return best


@st.composite
def float_networks(draw: st.DrawFn) -> list[FloatLayer]:
    widths = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    scale = draw(st.sampled_from([1e-3, 0.1, 1.0, 30.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return [FloatLayer(
        (rng.standard_normal((n_in, n_out)) * scale).astype(np.float32),
        (rng.standard_normal(n_out) * scale).astype(np.float32))
        for n_in, n_out in zip(widths, widths[1:], strict=False)]


@st.composite
def integer_networks(draw: st.DrawFn) -> IntegerNetwork:
    """Random integer networks at the edge of the bounds: weights up to the largest a row
    allows, any shift, any bias that keeps the row inside 2**63 - 1."""
    widths = draw(st.lists(st.integers(1, 5), min_size=2, max_size=4))
    weights, biases, shifts = [], [], []
    for n_in, n_out in zip(widths, widths[1:], strict=False):
        w_max = ACCUMULATOR_LIMIT // (LIMIT * n_in) // 2
        w = np.array(draw(st.lists(st.lists(st.integers(-w_max, w_max), min_size=n_in,
                                            max_size=n_in), min_size=n_out, max_size=n_out)),
                     dtype=np.int64)
        b = np.array([draw(st.integers(-(ACCUMULATOR_LIMIT - row_bound(row, 0)),
                                       ACCUMULATOR_LIMIT - row_bound(row, 0))) for row in w],
                     dtype=np.int64)
        s = np.array(draw(st.lists(st.integers(0, 62), min_size=n_out, max_size=n_out)),
                     dtype=np.int64)
        weights.append(w)
        biases.append(b)
        shifts.append(s)
    return IntegerNetwork(tuple(weights), tuple(biases), tuple(shifts))


def inputs_for(width: int) -> st.SearchStrategy[list[list[int]]]:
    value = st.one_of(st.integers(-LIMIT, LIMIT), st.sampled_from([-LIMIT, LIMIT, 0, -1, 1]))
    return st.lists(st.lists(value, min_size=width, max_size=width), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=integer_networks(), data=st.data())
def test_integer_network_equals_the_pure_python_reference(net: IntegerNetwork,
                                                          data: st.DataObject) -> None:
    z = data.draw(inputs_for(net.widths[0]))
    logits = net.logits(np.array(z, dtype=np.int64))
    rows = net.rows()
    for row_z, row_logits in zip(z, logits.tolist(), strict=True):
        expected = reference_logits(rows, net.widths, row_z)
        assert row_logits == expected
    assert labels_of(logits).tolist() == [reference_label(r) for r in logits.tolist()]
    # one input at a time or all at once: the same bits
    for i, row_z in enumerate(z):
        assert np.array_equal(net.logits(np.array(row_z, dtype=np.int64)), logits[i:i + 1])


@settings(max_examples=100, deadline=None)
@given(layers=float_networks(), data=st.data())
def test_quantised_float_networks_keep_the_bound_and_equal_the_reference(
        layers: list[FloatLayer], data: st.DataObject) -> None:
    net = quantise_layers(layers)
    rows = net.rows()
    for row in rows:
        assert MIN_WEIGHT_FRAC_BITS <= row.shift <= WEIGHT_FRAC_BITS
        assert row_bound(np.array(row.weights), row.bias) <= ACCUMULATOR_LIMIT
        w = layers[row.layer].weight[:, row.neuron].astype(np.float64)
        # round half to even of w * 2**s, exactly (Python's round is half-even on floats)
        assert list(row.weights) == [round(v * 2**row.shift) for v in w.tolist()]
        b = float(layers[row.layer].bias[row.neuron])
        assert row.bias == round(b * 2 ** (row.shift + 16))
    z = data.draw(inputs_for(net.widths[0]))
    logits = net.logits(np.array(z, dtype=np.int64)).tolist()
    assert logits == [reference_logits(rows, net.widths, r) for r in z]
    # the float32 output tensor states the integer logits exactly
    arr = np.array(logits, dtype=np.int64)
    assert np.array_equal(logits_from_float32(logits_to_float32(arr)), arr)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 6), data=st.data())
def test_a_row_is_accepted_exactly_when_its_accumulator_bound_holds(n: int,
                                                                     data: st.DataObject) -> None:
    """Random rows around the edge: accepted iff |B| + sum |W| * LIMIT <= 2**63 - 1 (the
    bound in Python integers), and the quantiser never emits a row outside it."""
    edge = ACCUMULATOR_LIMIT // (LIMIT * n)
    w = data.draw(st.lists(st.integers(-edge - 3, edge + 3), min_size=n, max_size=n))
    b = data.draw(st.integers(-(2**62), 2**62))
    holds = abs(b) + sum(abs(v) for v in w) * LIMIT <= ACCUMULATOR_LIMIT
    make = lambda: IntegerNetwork((np.array([w], dtype=np.int64),),  # noqa: E731
                                  (np.array([b], dtype=np.int64),),
                                  (np.array([0], dtype=np.int64),))
    if holds:
        make()
    else:
        with pytest.raises(NetworkBoundsError, match="exceeds the int64 accumulator bound"):
            make()
    scale = data.draw(st.sampled_from([1.0, 2.0**20, 2.0**30, 1e12]))
    layer = FloatLayer(np.array([[v * scale / (edge + 1)] for v in w], dtype=np.float32),
                       np.zeros(1, dtype=np.float32))
    try:
        net = quantise_layers([layer])
    except NetworkBoundsError as exc:  # refused at packaging: one line, naming the neuron
        assert str(exc).startswith("layer 0 neuron 0:") and "\n" not in str(exc)
    else:
        assert row_bound(net.weights[0][0], int(net.biases[0][0])) <= ACCUMULATOR_LIMIT


def test_rounding_is_floor_of_an_arithmetic_shift_and_clamps() -> None:
    w = (np.array([[1]], dtype=np.int64),)
    net = IntegerNetwork(w, (np.array([0], dtype=np.int64),), (np.array([2], dtype=np.int64),))
    z = np.array([[-5], [-4], [-1], [0], [3], [5]], dtype=np.int64)
    assert net.logits(z).reshape(-1).tolist() == [-2, -1, -1, 0, 0, 1]  # floor(z / 4)
    big = IntegerNetwork((np.array([[4]], dtype=np.int64),), (np.array([0], dtype=np.int64),),
                         (np.array([0], dtype=np.int64),))
    assert big.logits(np.array([[LIMIT], [-LIMIT]])).reshape(-1).tolist() == [LIMIT, -LIMIT]
    relu = IntegerNetwork(
        (np.array([[1]], dtype=np.int64), np.array([[1]], dtype=np.int64)),
        (np.array([0], dtype=np.int64), np.array([0], dtype=np.int64)),
        (np.array([0], dtype=np.int64), np.array([0], dtype=np.int64)))
    assert relu.logits(np.array([[-7], [7]])).reshape(-1).tolist() == [0, 7]
    # ties go to the lowest index
    assert labels_of(np.array([[3, 3, 1], [1, 5, 5]])).tolist() == [0, 1]


def test_the_accumulator_bound_is_exact() -> None:
    n = 4
    w_max = ACCUMULATOR_LIMIT // (LIMIT * n)
    w = np.full((1, n), w_max, dtype=np.int64)
    slack = ACCUMULATOR_LIMIT - w_max * n * LIMIT
    ok = IntegerNetwork((w,), (np.array([slack], dtype=np.int64),),
                        (np.array([0], dtype=np.int64),))
    worst = np.full((1, n), LIMIT, dtype=np.int64)
    assert int((worst @ w[0])[0]) + slack == ACCUMULATOR_LIMIT  # the worst input reaches it
    assert ok.logits(worst).tolist() == [[LIMIT]]
    with pytest.raises(NetworkBoundsError, match=r"layer 0 neuron 0: .* exceeds the int64"):
        IntegerNetwork((w,), (np.array([slack + 1], dtype=np.int64),),
                       (np.array([0], dtype=np.int64),))
    with pytest.raises(NetworkBoundsError, match="shifts must be 0..62"):
        IntegerNetwork((w,), (np.array([0], dtype=np.int64),), (np.array([63], dtype=np.int64),))
    with pytest.raises(NetworkBoundsError, match="takes 3 inputs; layer 0 has 1 neurons"):
        IntegerNetwork((w, np.ones((1, 3), dtype=np.int64)),
                       (np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)),
                       (np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)))


def test_quantisation_lowers_the_shift_for_large_rows_and_refuses_what_never_fits() -> None:
    # sum |w| = 2**20: at 24 fractional bits the row passes 2**63, so it takes fewer
    wide = FloatLayer(np.full((4, 1), 2.0**18, dtype=np.float32), np.zeros(1, dtype=np.float32))
    net = quantise_layers([wide])
    assert MIN_WEIGHT_FRAC_BITS <= int(net.shifts[0][0]) < WEIGHT_FRAC_BITS
    huge = FloatLayer(np.full((4, 1), 1e12, dtype=np.float32), np.zeros(1, dtype=np.float32))
    with pytest.raises(NetworkBoundsError) as info:
        quantise_layers([wide, huge])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("layer 1 neuron 0: its weights (sum |w| = 4e+12")
    assert "overflow the int64 accumulator even at 8 fractional bits" in message


# -- the ONNX family ------------------------------------------------------------------------

def _graph(nodes: list[onnx.NodeProto], inits: dict[str, np.ndarray], n_in: int, n_out: int,
           output: str = "logits") -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, n_in])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, [1, n_out])],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_matmul_add_and_transposed_gemm_read_as_the_same_dense_layers() -> None:
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((3, 4)).astype(np.float32)
    b0 = rng.standard_normal(4).astype(np.float32)
    w1 = rng.standard_normal((4, 2)).astype(np.float32)
    b1 = rng.standard_normal(2).astype(np.float32)
    gemm = dense_layers(onnx.load_from_string(dense_relu_onnx([w0, w1], [b0, b1])))
    other = _graph([
        helper.make_node("MatMul", ["input", "W0"], ["m0"]),
        helper.make_node("Add", ["B0", "m0"], ["a0"]),
        helper.make_node("Relu", ["a0"], ["r0"]),
        helper.make_node("Gemm", ["r0", "W1t", "B1"], ["logits"], transB=1),
    ], {"W0": w0, "B0": b0, "W1t": np.ascontiguousarray(w1.T), "B1": b1}, 3, 2)
    for a, b in zip(gemm, dense_layers(other), strict=True):
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)


@pytest.mark.parametrize("build, message", [
    (lambda w, b: _graph([helper.make_node("Gemm", ["input", "W", "B"], ["g"]),
                          helper.make_node("Sigmoid", ["g"], ["logits"])],
                         {"W": w, "B": b}, 3, 2), "op Sigmoid is not Gemm, MatMul, Add or Relu"),
    (lambda w, b: _graph([helper.make_node("Gemm", ["input", "W", "B"], ["g"]),
                          helper.make_node("Relu", ["g"], ["logits"])],
                         {"W": w, "B": b}, 3, 2), "ends with a Relu"),
    (lambda w, b: _graph([helper.make_node("Gemm", ["input", "W", "B"], ["logits"], alpha=2.0)],
                         {"W": w, "B": b}, 3, 2), "alpha = beta = 1"),
    (lambda w, b: _graph([helper.make_node("Gemm", ["input", "W", "B"], ["g"]),
                          helper.make_node("Gemm", ["g", "W2", "B"], ["logits"])],
                         {"W": w, "B": b, "W2": np.ones((2, 2), np.float32)}, 3, 2),
     "need a Relu between them"),
    (lambda w, b: _graph([helper.make_node("Gemm", ["input", "W", "B"], ["logits"])],
                         {"W": w.astype(np.float64), "B": b}, 3, 2), "not float32"),
])
def test_graphs_outside_the_family_are_refused(build, message: str) -> None:
    w = np.ones((3, 2), dtype=np.float32)
    b = np.zeros(2, dtype=np.float32)
    with pytest.raises(PackageSchemaError, match=message):
        dense_layers(build(w, b))


# -- the package ----------------------------------------------------------------------------

def test_weights_root_is_an_indexed_tree_over_neuron_rows(demo_package: ModelPackage) -> None:
    net = demo_package.network
    rows = net.rows()
    assert len(rows) == 16 + 2 and net.widths == (30, 16, 2)
    assert [(r.layer, r.neuron) for r in rows[15:17]] == [(0, 15), (1, 0)]
    tree = IndexedTree([neuron_row_leaf(r) for r in rows])
    assert tree.root == net.weights_root
    position = net.row_position(1, 1)
    assert position == 17
    assert verify_indexed(neuron_row_leaf(rows[17]), position, net.weights_tree.proof(position),
                          net.weights_root)
    spec = demo_package.model_spec()
    assert (spec.weightsRoot, spec.widths) == (net.weights_root, (30, 16, 2))


def test_network_json_round_trips_and_a_tampered_weight_is_refused(
        demo_package: ModelPackage, package_copy: Path) -> None:
    data = json.loads((package_copy / NETWORK_FILE).read_text())
    assert network_to_json(network_from_json(data)) == data
    assert all(isinstance(b, str) for b in data["layers"][0]["bias"])
    data["layers"][1]["weights"][0][3] += 1
    raw = json.dumps(data).encode()
    (package_copy / NETWORK_FILE).write_bytes(raw)
    with pytest.raises(PackageIntegrityError, match="network.json has sha256"):
        load_package(package_copy)
    manifest = json.loads((package_copy / MANIFEST_FILE).read_text())
    manifest["model"]["network"] = "0x" + hashlib.sha256(raw).hexdigest()
    (package_copy / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(PackageIntegrityError,
                       match="not model.onnx quantised: layer 1's weights are not the graph's"):
        load_package(package_copy)


def test_a_missing_network_file_is_reported(package_copy: Path) -> None:
    (package_copy / NETWORK_FILE).unlink()
    with pytest.raises(PackageFileMissing, match="network.json is missing"):
        load_package(package_copy)


def test_packaging_refuses_a_model_outside_the_bounds(demo_package: ModelPackage,
                                                      tmp_path: Path) -> None:
    t = demo_package.training
    contributors = [Contributor(c.name, c.address) for c in demo_package.manifest.contributors]
    training = TrainingSet(demo_package.feature_names, t.X_raw, t.y, t.owner)
    w0 = np.full((30, 4), 1e9, dtype=np.float32)  # finite logits, an accumulator past 2**63
    onnx_bytes = dense_relu_onnx([w0, np.ones((4, 2))], [np.zeros(4), np.zeros(2)])
    with pytest.raises(NetworkBoundsError, match=r"^layer 0 neuron 0: its weights .* rescale"):
        build_package(tmp_path / "out", onnx_bytes, name="big", version="1",
                      labels=("a", "b"), contributors=contributors, training=training)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_manifest_declaring_another_content_hash_is_refused(demo_package: ModelPackage,
                                                              package_copy: Path) -> None:
    manifest = json.loads((package_copy / MANIFEST_FILE).read_text())
    assert manifest["model"]["contentHash"] == "0x" + demo_package.content_hash.hex()
    manifest["model"]["contentHash"] = "0x" + "11" * 32
    (package_copy / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(PackageIntegrityError, match="declares content hash 0x1111.*but "
                       "model.onnx and network.json hash to"):
        load_package(package_copy)
