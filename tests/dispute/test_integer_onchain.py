"""The integer attribution in Solidity equals the Python one, bit for bit.

contracts/libraries/IntegerAttribution.sol and IndexedMerkle.sol (through the TEST-ONLY
IntegerAttributionHarness) against offchain.attribution.integer / .trace and offchain.merkle,
on random and adversarial inputs: quantisation of float32 inputs (huge, tiny, subnormal,
negative, exact halves), the labels outputs state, the two value-recursion steps, the
largest-remainder check and position-bound Merkle roots and proofs.
"""

from __future__ import annotations

import numpy as np
import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.attribution.integer import (
    label_of_instances,
    label_of_output,
    quantize,
    shares_from_int_totals,
)
from offchain.attribution.trace import expected_value
from offchain.merkle import IndexedTree
from offchain.models.encoding import encode_tensor
from offchain.proofs.zk import FIELD_MODULUS
from offchain.protocol import MAX_MU, MAX_RHO, VALUE_SCALE, AttributionSpec
from tests.contracts.helpers import Harness, contributor

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

FLOATS = st.floats(width=32, allow_nan=False, allow_infinity=False)
MU = st.integers(-(MAX_MU - 1), MAX_MU - 1)
SMALL_MU = st.integers(-(1 << 40), 1 << 40)
RHO = st.integers(1, MAX_RHO - 1)
SMALL_RHO = st.integers(1, 1 << 32)


def _error(name: str) -> str:
    """The revert data prefix of a library error (the harness ABI does not list them)."""
    return "0x" + keccak(text=f"{name}()")[:4].hex()


@pytest.fixture
def lib(attestia):
    return Harness(attestia).deploy("IntegerAttributionHarness").functions


def _spec(mu: list[int], rho: list[int]) -> tuple:
    return AttributionSpec(bytes(32), 1, 1, tuple(mu), tuple(rho)).as_tuple()


@SETTINGS
@given(data=st.data(), d=st.integers(1, 8))
def test_quantisation_matches(lib, data, d: int) -> None:
    x = np.array([data.draw(st.lists(FLOATS, min_size=d, max_size=d))], dtype=np.float32)
    x[x == 0] = 0.0  # the canonical encoding has no -0.0
    big = data.draw(st.booleans())
    mu = data.draw(st.lists(MU if big else SMALL_MU, min_size=d, max_size=d))
    rho = data.draw(st.lists(RHO if big else SMALL_RHO, min_size=d, max_size=d))
    onchain = lib.quantize(encode_tensor(x), _spec(mu, rho)).call()
    assert onchain == quantize(x, mu, rho)[0].tolist()


def test_quantisation_of_adversarial_values(lib) -> None:
    specials = [0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 2.0**-149, -(2.0**-149), 2.0**-126,
                -(2.0**-17), 2.0**-17, 3.4028234663852886e38, -3.4028234663852886e38,
                1e-30, -1e-30, 12345.678, -0.3]
    x = np.array([specials], dtype=np.float32)
    d = x.shape[1]
    for mu, rho in ([0] * d, [1] * d), ([123456] * d, [1 << 28] * d), \
            ([-(MAX_MU - 1)] * d, [MAX_RHO - 1] * d), ([MAX_MU - 1] * d, [7] * d):
        assert lib.quantize(encode_tensor(x), _spec(mu, rho)).call() == \
            quantize(x, mu, rho)[0].tolist()


def test_quantisation_refuses_bad_tensors_and_specs(lib) -> None:
    good = encode_tensor(np.array([[1.0, 2.0]], dtype=np.float32))
    spec = _spec([0, 0], [1, 1])
    for bad in (good[:-1], good + b"\x00", b"XXXX" + good[4:],
                encode_tensor(np.array([[1.0, 2.0, 3.0]], dtype=np.float32)),
                good[:16] + b"\x00\x00\x80\x7f" + good[20:]):  # +inf
        with pytest.raises(Exception, match=_error("BadTensor")):
            lib.quantize(bad, spec).call()
    for mu, rho in ([0, 0], [0, 1]), ([MAX_MU, 0], [1, 1]), ([0, 0], [1]), ([0, 0], [1, MAX_RHO]):
        with pytest.raises(Exception, match=_error("BadSpec")):
            lib.quantize(good, _spec(mu, rho)).call()


@SETTINGS
@given(logits=st.lists(FLOATS, min_size=1, max_size=6))
def test_tensor_label_matches(lib, logits: list[float]) -> None:
    row = np.array([logits], dtype=np.float32)
    row[row == 0] = 0.0
    assert lib.labelOfTensor(encode_tensor(row)).call() == label_of_output(row[0])


@SETTINGS
@given(outputs=st.lists(st.integers(0, FIELD_MODULUS - 1) | st.integers(0, 50)
                        | st.integers(FIELD_MODULUS - 50, FIELD_MODULUS - 1),
                        min_size=1, max_size=5))
def test_instances_label_matches(lib, outputs: list[int]) -> None:
    instances = [12345, *outputs]
    packed = b"".join(v.to_bytes(32, "big") for v in instances)
    assert lib.labelOfInstances(packed).call() == label_of_instances(instances)


@SETTINGS
@given(n=st.integers(1, 5000), k=st.integers(1, 40), rank=st.integers(1, 5000),
       a=st.booleans(), b=st.booleans())
def test_value_steps_match(lib, n: int, k: int, rank: int, a: bool, b: bool) -> None:
    far = expected_value(n - 1, [0] * (n - 1) + [int(a)], [0] * n, n, k, 1)
    assert lib.farValue(a, n, k).call() == far
    rank = min(rank, n - 1) if n > 1 else 1
    if n > 1:
        labels = [0] * n
        labels[rank - 1], labels[rank] = int(a), int(b)
        values = [0] * n
        values[rank] = 7 * VALUE_SCALE
        want = expected_value(rank - 1, labels, values, n, k, 1) - values[rank]
        assert lib.stepDelta(a, b, rank, k).call() == want


ROSTER = sorted((contributor(i) for i in range(8)), key=lambda a: int(a, 16))


@SETTINGS
@given(totals=st.lists(st.integers(-(1 << 62), 1 << 62) | st.integers(-3, 3)
                       | st.sampled_from([0, 1 << 40, 1 << 39]), min_size=1, max_size=8))
def test_shares_follow_exactly_the_largest_remainder(lib, totals: list[int]) -> None:
    roster = ROSTER[:len(totals)]
    shares = [tuple(s) for s in shares_from_int_totals(totals, roster)]
    assert lib.sharesFollow(totals, roster, shares).call()
    # Any other list with the same sum fails: move one basis point between two contributors.
    if len(roster) > 1:
        bps = dict(shares)
        giver = next(a for a in roster if bps.get(a, 0) > 0)
        taker = next(a for a in roster if a != giver)
        bps[giver] -= 1
        bps[taker] = bps.get(taker, 0) + 1
        moved = [(a, bps[a]) for a in roster if bps.get(a, 0) > 0]
        assert not lib.sharesFollow(totals, roster, moved).call()


def test_shares_follow_edge_cases(lib) -> None:
    roster = ROSTER[:3]
    assert lib.sharesFollow([0, 0, 0], roster, [(roster[0], 3334), (roster[1], 3333),
                                                (roster[2], 3333)]).call()  # equal split
    assert not lib.sharesFollow([0, 0, 0], roster, [(roster[0], 3333), (roster[1], 3334),
                                                    (roster[2], 3333)]).call()  # lower wins
    assert lib.sharesFollow([-5, 10, 0], roster, [(roster[1], 10_000)]).call()  # clipped
    assert not lib.sharesFollow([1, 1], roster, [(roster[0], 5000), (roster[1], 5000)]).call()
    assert not lib.sharesFollow([1, 1, 1], roster, []).call()
    outsider = to_checksum_address("0x" + "ff" * 20)
    assert not lib.sharesFollow([0, 1, 0], roster, [(outsider, 10_000)]).call()


@SETTINGS
@given(n=st.integers(1, 40), data=st.data())
def test_indexed_merkle_matches(lib, n: int, data) -> None:
    leaves = [bytes([i % 256]) * 32 for i in range(1, n + 1)]
    tree = IndexedTree(leaves)
    assert lib.rootOf(leaves).call() == tree.root
    position = data.draw(st.integers(0, n - 1))
    proof = tree.proof(position)
    assert lib.verify(tree.root, n, leaves[position], position, proof).call()
    assert not lib.verify(tree.root, n, leaves[position], (position + 1) % max(n, 2),
                          proof).call() or n == 1
    assert not lib.verify(tree.root, n, leaves[position], n, proof).call()  # outside
    assert not lib.verify(tree.root, n + 2 ** len(proof), leaves[position], position,
                          proof).call()  # wrong depth


def test_abi_encodings_are_the_contract_ones() -> None:
    # Guard for the hand-made encoders the trace uses (one place: offchain.protocol).
    assert encode(["int256[]"], [[-1, 2]])[:32] == (32).to_bytes(32, "big")
