"""Contributor shares: largest-remainder rounding, tie-breaking, policies, encoding, errors."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import numpy as np
import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from offchain.attribution import (
    ContributorMap,
    InvalidInputError,
    InvalidSharesError,
    KnnShapley,
    decode_shares,
    shares_from_totals,
)
from offchain.protocol import BPS, attribution_hash, check_shares, encode_shares


def address(n: int) -> str:
    return to_checksum_address(n.to_bytes(20, "big"))


A, B, C, D = (address((n << 156) | 0xABCDEF) for n in (1, 2, 3, 4))
assert all(a != a.lower() for a in (A, B, C, D))  # the case-insensitivity tests need letters


def test_random_cases_sum_to_10000_and_follow_largest_remainder() -> None:
    rng = random.Random(2024)
    pool = [address(rng.getrandbits(160)) for _ in range(500)]
    for _ in range(10_000):
        accounts = rng.sample(pool, rng.randint(1, 12))
        totals = {a: rng.choice([0.0, -rng.random(), rng.random(), rng.random() * 1e-9])
                  for a in accounts}
        shares = shares_from_totals(totals)
        assert sum(bps for _, bps in shares) == BPS
        assert check_shares(shares) == shares
        positive = {a: Fraction(max(v, 0.0)) for a, v in totals.items()}
        total = sum(positive.values())
        weights = positive if total else dict.fromkeys(totals, Fraction(1))
        total = sum(weights.values())
        got = dict(shares)
        for account, weight in weights.items():
            quota = weight * BPS / total
            assert math.floor(quota) <= got.get(account, 0) <= math.ceil(quota)


def test_equal_remainders_go_to_the_lowest_address() -> None:
    shares = shares_from_totals({C: 1.0, A: 1.0, B: 1.0})
    assert shares == [(A, 3334), (B, 3333), (C, 3333)]


def test_addresses_order_as_integers_not_as_checksummed_strings() -> None:
    # Find two addresses whose EIP-55 strings sort the other way round from their values.
    rng = random.Random(5)
    while True:
        low, high = sorted(rng.getrandbits(160) for _ in range(2))
        if address(low) > address(high):
            break
    shares = shares_from_totals({address(high): 1.0, address(low): 1.0, A: 1.0})
    assert [a for a, _ in shares] == [A, address(low), address(high)]
    assert shares[0][1] == 3334
    lower_case = shares_from_totals({address(high).lower(): 1.0, address(low): 1.0, A: 1.0})
    assert lower_case == shares


def test_larger_remainder_wins_before_address() -> None:
    # quotas 1666.67, 3333.33, 5000 -> the 0.67 remainder (D) gets the spare point.
    assert shares_from_totals({A: 2.0, B: 3.0, D: 1.0}) == [(A, 3333), (B, 5000), (D, 1667)]


def test_negative_totals_are_clipped_and_omitted() -> None:
    assert shares_from_totals({A: -5.0, B: 1.0, C: 3.0}) == [(B, 2500), (C, 7500)]


def test_all_zero_splits_equally_over_the_roster() -> None:
    roster = [address(n) for n in range(1, 8)]
    shares = shares_from_totals({A: 0.0, B: -1.0}, roster=reversed(roster))
    assert [a for a, _ in shares] == roster
    assert [bps for _, bps in shares] == [1429] * 4 + [1428] * 3
    assert shares_from_totals({A: 0.0, B: -2.0}) == [(A, 5000), (B, 5000)]


def test_roster_larger_than_10000_omits_zero_entries() -> None:
    roster = [address(n) for n in range(1, 10_002)]
    shares = shares_from_totals({}, roster=roster)
    assert len(shares) == BPS
    assert shares[-1] == (address(10_000), 1)


@pytest.mark.parametrize(
    ("totals", "roster", "message"),
    [
        ({A: float("nan")}, None, "must be finite"),
        ({A: float("inf")}, None, "must be finite"),
        ({A: 1.0, A.lower(): 2.0}, None, "appears twice"),
        ({}, None, "roster is empty"),
        ({A: 0.0}, [B, B.lower()], "roster lists a contributor twice"),
        ({"0x1234": 1.0}, None, "20-byte hex address"),
        ({A[:3] + A[3:].swapcase(): 1.0}, None, "invalid EIP-55 checksum"),
        ({12: 1.0}, None, "20-byte hex address"),
    ],
)
def test_shares_from_totals_rejects_bad_input(totals, roster, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        shares_from_totals(totals, roster=roster)


def test_contributor_map_sums_point_values_per_owner() -> None:
    owners = [B, A.lower(), B, C, A]
    contributors = ContributorMap(owners)
    assert contributors.roster == (A, B, C)
    assert contributors.n_points == 5
    totals = contributors.totals(np.array([0.5, 0.25, 0.125, -1.0, 0.25]))
    assert totals == {A: 0.5, B: 0.625, C: -1.0}
    assert contributors.shares(np.array([0.5, 0.25, 0.125, -1.0, 0.25])) == [(A, 4444),
                                                                             (B, 5556)]
    assert contributors.shares(np.zeros(5)) == [(A, 3334), (B, 3333), (C, 3333)]


def test_contributor_totals_do_not_depend_on_point_order() -> None:
    rng = np.random.default_rng(1)
    values = rng.standard_normal(1000) * 10.0 ** rng.integers(-8, 8, 1000)
    owners = [address(int(i)) for i in rng.integers(1, 6, 1000)]
    perm = rng.permutation(1000)
    forward = ContributorMap(owners).totals(values)
    shuffled = ContributorMap([owners[i] for i in perm]).totals(values[perm])
    assert forward == shuffled


def test_contributor_map_with_knn_values_end_to_end() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 4))
    y = rng.integers(0, 2, 300)
    owners = [address(int(i)) for i in rng.integers(1, 9, 300)]
    values = KnnShapley(x, y, 5).values(rng.standard_normal(4), 1)
    shares = ContributorMap(owners).shares(values)
    assert check_shares(shares) == shares
    best = max(ContributorMap(owners).totals(values).items(), key=lambda kv: kv[1])[0]
    assert dict(shares)[best] == max(bps for _, bps in shares)


def test_contributor_map_rejects_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="every training point needs an owner"):
        ContributorMap([])
    with pytest.raises(InvalidInputError, match="20-byte hex address"):
        ContributorMap([A, "alice"])
    with pytest.raises(InvalidInputError, match=r"shape \(2,\)"):
        ContributorMap([A, B]).totals(np.zeros(3))


def test_encoding_round_trip_and_hash() -> None:
    shares = [(A, 2500), (B.lower(), 7500)]
    data = encode_shares(shares)
    assert data == encode(["(address,uint16)[]"], [[(A, 2500), (B, 7500)]])
    assert decode_shares(data) == [(A, 2500), (B, 7500)]
    assert attribution_hash(shares) == keccak(data)
    assert len(attribution_hash(shares)) == 32
    assert attribution_hash([(A, 10_000)]) != attribution_hash([(B, 10_000)])


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        ([(B, 5000), (A, 5000)], "sorted ascending"),
        ([(A, 5000), (A.lower(), 5000)], "unique and sorted"),
        ([(A, 0), (B, 10_000)], "has 0 bps"),
        ([(A, 10_001)], "has 10001 bps"),
        ([(A, -1), (B, 10_001)], "has -1 bps"),
        ([(A, 5000), (B, 4999)], "sum to 9999"),
        ([], "sum to 0"),
        ([(A, True)], "must be an int"),
        ([(A, 10_000.0)], "must be an int"),
        ([("0xnot-an-address", 10_000)], "20-byte hex address"),
        ([(A, 5000, 1)], "must be \\(address, bps\\)"),
        ([([1], 10_000)], "20-byte hex address"),
    ],
)
def test_validate_shares_rejects(shares, message: str) -> None:
    with pytest.raises(InvalidSharesError, match=message):
        check_shares(shares)
    with pytest.raises(InvalidSharesError):
        attribution_hash(shares)


def test_decode_rejects_invalid_bytes() -> None:
    with pytest.raises(InvalidSharesError, match="not an ABI-encoded"):
        decode_shares(b"\x01\x02")
    unsorted = encode(["(address,uint16)[]"], [[(B, 5000), (A, 5000)]])
    with pytest.raises(InvalidSharesError, match="sorted ascending"):
        decode_shares(unsorted)
    with pytest.raises(InvalidSharesError, match="canonical"):
        decode_shares(encode_shares([(A, 10_000)]) + b"\0" * 32)
