"""The integer network in Solidity equals the Python one, bit for bit (issue 18).

contracts/libraries/IntegerInference.sol (through the TEST-ONLY IntegerInferenceHarness)
against offchain.models.network and offchain.dispute.output: random small networks and inputs,
every neuron of the honest trace recomputed on chain from its row proven against the weights
root says "not fraud"; a neuron moved by one says "fraud"; the logits a float32 tensor states
and the packed widths.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.dispute.output import honest_layers, neuron_value
from offchain.models.encoding import encode_tensor
from offchain.models.network import IntegerNetwork, logits_from_float32, logits_to_float32
from offchain.protocol import ACTIVATION_LIMIT, MAX_LAYER_WIDTH, unpack_widths
from tests.contracts.helpers import Harness

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def lib(attestia):
    return Harness(attestia).deploy("IntegerInferenceHarness").functions


@st.composite
def networks(draw) -> tuple[IntegerNetwork, list[int]]:
    """A network inside the packaging bounds (any magnitude the bound allows, shifts 0..62)
    and an input within +-ACTIVATION_LIMIT."""
    widths = draw(st.lists(st.integers(1, 5), min_size=2, max_size=4))
    weights, biases, shifts = [], [], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
        scale = draw(st.sampled_from([2**6, 2**16, 2**30]))
        w = np.asarray(draw(st.lists(st.integers(-scale, scale), min_size=fan_in * fan_out,
                                     max_size=fan_in * fan_out)), dtype=np.int64)
        weights.append(w.reshape(fan_out, fan_in))
        biases.append(np.asarray(draw(st.lists(st.integers(-2**50, 2**50), min_size=fan_out,
                                               max_size=fan_out)), dtype=np.int64))
        shifts.append(np.asarray(draw(st.lists(st.integers(0, 62), min_size=fan_out,
                                               max_size=fan_out)), dtype=np.int64))
    z = draw(st.lists(st.integers(-ACTIVATION_LIMIT, ACTIVATION_LIMIT), min_size=widths[0],
                      max_size=widths[0]))
    return IntegerNetwork(tuple(weights), tuple(biases), tuple(shifts)), z


@SETTINGS
@given(case=networks())
def test_every_honest_neuron_is_not_fraud_on_chain_and_python_equals_solidity(
        lib, case) -> None:
    net, z = case
    layers = honest_layers(net, z)
    ok, packed = lib.packWidths(list(net.widths)).call()
    assert ok and unpack_widths(packed) == net.widths
    rows, tree = net.rows(), net.weights_tree
    for layer in range(1, net.layers + 1):
        last = layer == net.layers
        for neuron in range(net.widths[layer]):
            position = net.row_position(layer - 1, neuron)
            row = rows[position]
            previous, claimed = list(layers[layer - 1]), list(layers[layer])
            on_chain = lib.neuron(previous, row.as_tuple(), last).call()
            assert on_chain == neuron_value(previous, row, last) == claimed[neuron]
            proof = tree.proof(position)
            assert not lib.isFraud(net.weights_root, packed, layer, neuron, previous, claimed,
                                   row.as_tuple(), proof).call()
            moved = [v + (1 if i == neuron else 0) for i, v in enumerate(claimed)]
            assert lib.isFraud(net.weights_root, packed, layer, neuron, previous, moved,
                               row.as_tuple(), proof).call()


@SETTINGS
@given(values=st.lists(st.integers(-ACTIVATION_LIMIT, ACTIVATION_LIMIT), min_size=1,
                       max_size=8))
def test_logits_of_a_tensor_match(lib, values: list[int]) -> None:
    tensor = encode_tensor(logits_to_float32(np.asarray([values])))
    ok, logits = lib.logitsOf(tensor, len(values)).call()
    assert ok and list(logits) == values


@SETTINGS
@given(value=st.floats(width=32, allow_nan=True, allow_infinity=True))
def test_a_tensor_that_is_not_integer_logits_is_refused(lib, value: float) -> None:
    arr = np.asarray([[value, 1.0]], dtype=np.float32)
    try:
        expected = [int(v) for v in logits_from_float32(arr)[0]]
    except ValueError:
        expected = None
    if np.isnan(arr).any() or np.isinf(arr).any():
        tensor = bytes.fromhex("4154544e01010200") + (1).to_bytes(4, "big") + (2).to_bytes(
            4, "big") + arr.astype("<f4").tobytes()
    else:
        tensor = encode_tensor(arr)
    ok, logits = lib.logitsOf(tensor, 2).call()
    assert ok == (expected is not None)
    if ok:
        assert list(logits) == expected


def test_logits_refuse_a_wrong_count_or_header(lib) -> None:
    tensor = encode_tensor(logits_to_float32(np.asarray([[1, 2, 3]])))
    assert lib.logitsOf(tensor, 3).call()[0]
    assert not lib.logitsOf(tensor, 2).call()[0]
    assert not lib.logitsOf(b"XTTN" + tensor[4:], 3).call()[0]
    assert not lib.logitsOf(tensor[:-1], 3).call()[0]


def test_widths_outside_the_bounds_are_refused(lib) -> None:
    assert not lib.packWidths([3]).call()[0]
    assert not lib.packWidths([3, 0]).call()[0]
    assert not lib.packWidths([3, MAX_LAYER_WIDTH + 1]).call()[0]
    assert not lib.packWidths([2] * 18).call()[0]
    ok, packed = lib.packWidths([MAX_LAYER_WIDTH] * 17).call()
    assert ok and unpack_widths(packed) == (MAX_LAYER_WIDTH,) * 17
