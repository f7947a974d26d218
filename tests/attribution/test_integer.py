"""Integer KNN-Shapley (design.md "Integer attribution"): quantisation, values, shares."""

from __future__ import annotations

import math
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offchain.attribution import ContributorMap, KnnShapley, shares_from_totals
from offchain.attribution import integer as integer_module
from offchain.attribution.errors import InvalidInputError
from offchain.attribution.integer import (
    ROW_SORTS,
    IntegerContributors,
    IntegerKnnShapley,
    label_of_instances,
    label_of_output,
    quantization,
    quantize,
    shares_from_int_totals,
)
from offchain.protocol import (
    FEATURE_FRAC_BITS,
    FEATURE_SCALE,
    MAX_RHO,
    QUANT_SHIFT,
    VALUE_SCALE,
    Z_LIMIT,
)

P = 21888242871839275222246405745257275088548364400416034343698204186575808495617


# -- quantisation ---------------------------------------------------------------------------

def reference_z(x: float, mean: float, std: float) -> int:
    """design.md's rule on exact rationals, one feature."""
    mu = round(Fraction(mean) * 2**FEATURE_FRAC_BITS)
    rho = round(Fraction(FEATURE_SCALE * 2**FEATURE_FRAC_BITS) / Fraction(std))
    big_x = math.floor(Fraction(x) * 2**FEATURE_FRAC_BITS)
    z = math.floor(Fraction((big_x - mu) * rho, 2**QUANT_SHIFT))
    return max(-Z_LIMIT, min(Z_LIMIT, z))


# The stds whose rho is within bounds (rho = FEATURE_SCALE * 2**FEATURE_FRAC_BITS / std).
STD_MIN = float(Fraction(FEATURE_SCALE << FEATURE_FRAC_BITS, MAX_RHO) * 2)
STD_MAX = float((FEATURE_SCALE << FEATURE_FRAC_BITS) // 2)
HALF = 2.0**-FEATURE_FRAC_BITS  # mean * 2**FEATURE_FRAC_BITS is exactly k + 1/2 for k + 0.5

float32s = st.floats(width=32, allow_nan=False, allow_infinity=False)
means = st.one_of(st.floats(-1e4, 1e4), st.floats(-2.0**70, 2.0**70),
                  st.integers(-2**20, 2**20).map(lambda v: (v + 0.5) * HALF))
stds = st.one_of(st.floats(1e-3, 1e4), st.floats(STD_MIN, STD_MAX))


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.lists(float32s, min_size=3, max_size=3), min_size=1, max_size=4),
       mean=st.lists(means, min_size=3, max_size=3), std=st.lists(stds, min_size=3, max_size=3))
def test_quantize_is_the_exact_rational_rule(rows: list[list[float]], mean: list[float],
                                             std: list[float]) -> None:
    mu, rho = quantization(SimpleNamespace(mean=mean, std=std))
    x = np.asarray(rows, dtype=np.float32)
    z = quantize(x, mu, rho)
    assert z.dtype == np.int64 and z.shape == x.shape
    want = [[reference_z(float(v), m, s) for v, m, s in zip(row, mean, std, strict=True)]
            for row in x.tolist()]
    assert z.tolist() == want


ADVERSARIAL = [0.0, -0.0, 1.0, -1.0, 1.5 / 2**16, -1.5 / 2**16, 0.5 / 2**16, -0.5 / 2**16,
               float(np.finfo(np.float32).max), -float(np.finfo(np.float32).max),
               float(np.finfo(np.float32).smallest_subnormal),
               -float(np.finfo(np.float32).smallest_subnormal),
               float(np.finfo(np.float32).tiny), 3.0e38, 1e-30, 65535.99609375, -65536.5,
               16777216.0, 2.0**40, -2.0**62, 2.0**63, 1.5 * HALF, -2.5 * HALF]


@pytest.mark.parametrize("mean,std", [(0.0, 1.0), (0.5 * HALF, STD_MIN), (2.5 * HALF, 1e-3),
                                      (-3.5 * HALF, 3.0), (1e18, STD_MAX / 3), (-2.0**90, 7.0)])
def test_quantize_adversarial_floats(mean: float, std: float) -> None:
    mu, rho = quantization(SimpleNamespace(mean=[mean], std=[std]))
    assert mu[0] == round(Fraction(mean) * 2**FEATURE_FRAC_BITS)  # half to even
    x = np.asarray(ADVERSARIAL, dtype=np.float32)[:, None]
    assert quantize(x, mu, rho)[:, 0].tolist() == [reference_z(float(v), mean, std)
                                                   for v in x[:, 0]]


def test_mu_rounds_half_to_even() -> None:
    halves = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5]
    mu, _ = quantization(SimpleNamespace(mean=[h * HALF for h in halves], std=[1.0] * 6))
    assert mu == (0, 2, 2, 0, -2, -2)


@pytest.mark.parametrize("mean,std,why", [
    ([0.0], [0.0], "positive"), ([0.0], [-1.0], "positive"), ([math.nan], [1.0], "finite"),
    ([0.0], [math.inf], "finite"), ([2.0**112], [1.0], "too large"),
    ([0.0], [STD_MAX * 8], "rho"), ([0.0], [STD_MIN / 8], "rho"),
    ([0.0, 1.0], [1.0], "one of each"),
])
def test_quantization_refuses_unusable_parameters(mean: list[float], std: list[float],
                                                  why: str) -> None:
    with pytest.raises(InvalidInputError, match=why):
        quantization(SimpleNamespace(mean=mean, std=std))


def test_quantize_refuses_non_float32_and_non_finite() -> None:
    with pytest.raises(InvalidInputError, match="float32"):
        quantize(np.zeros((1, 1)), (0,), (1,))
    with pytest.raises(InvalidInputError, match="NaN"):
        quantize(np.asarray([[np.nan]], dtype=np.float32), (0,), (1,))


# -- values ---------------------------------------------------------------------------------

def rational_values(z: np.ndarray, y: np.ndarray, q: np.ndarray, label: int, k: int
                    ) -> tuple[list[int], list[Fraction]]:
    """The order (distance, index) and the exact rational Theorem-1 value of each rank."""
    n = len(z)
    dist = [sum((int(a) - int(b)) ** 2 for a, b in zip(row, q, strict=True)) for row in z]
    order = sorted(range(n), key=lambda i: (dist[i], i))
    a = [int(y[i] == label) for i in order]
    s = [Fraction(0)] * n
    s[n - 1] = Fraction(a[n - 1] * min(k, n), n * k)
    for r in range(n - 1, 0, -1):
        s[r - 1] = s[r] + Fraction((a[r - 1] - a[r]) * min(k, r), k * r)
    return order, s


@st.composite
def rosters(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    n = draw(st.integers(1, 25))
    d = draw(st.integers(1, 4))
    spread = draw(st.sampled_from([2, 50, Z_LIMIT]))  # 2: many ties; Z_LIMIT: int64 path
    coords = st.integers(-spread, spread)
    z = np.asarray(draw(st.lists(st.lists(coords, min_size=d, max_size=d), min_size=n,
                                 max_size=n)), dtype=np.int64)
    y = np.asarray(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=np.int64)
    q = np.asarray(draw(st.lists(coords, min_size=d, max_size=d)), dtype=np.int64)
    k = draw(st.one_of(st.integers(1, n), st.just(n), st.integers(n + 1, n + 5)))
    return z, y, q, int(draw(st.integers(0, 2))), k


@settings(max_examples=120, deadline=None)
@given(case=rosters())
def test_values_are_the_declared_integers_within_n_of_the_rationals(case: tuple) -> None:
    z, y, q, label, k = case
    index = IntegerKnnShapley(z, y, k)
    order, exact = rational_values(z, y, q, label, k)
    assert index.order(q).tolist() == order
    assert index.distances(q).tolist() == [int(((row - q) ** 2).sum()) for row in z]
    values = index.values(q, label)
    n = len(z)
    # The declared recursion, one floorDiv per step, in Python integers.
    a = [int(y[i] == label) for i in order]
    s = [0] * n
    s[n - 1] = a[n - 1] * min(k, n) * VALUE_SCALE // (n * k)
    for r in range(n - 1, 0, -1):
        s[r - 1] = s[r] + (a[r - 1] - a[r]) * min(k, r) * VALUE_SCALE // (k * r)
    assert [int(values[i]) for i in order] == s
    for rank, item in enumerate(order, start=1):
        assert abs(Fraction(int(values[item])) - exact[rank - 1] * VALUE_SCALE) <= n - rank + 1
    # Batch variants give the same rows.
    batch = index.values_batch(np.vstack([q, q]), [label, label], chunk_size=1, workers=2)
    assert (batch == values).all()
    # Totals summed by slot in rank order are the item-order values' totals, bit for bit.
    owners = [("0x" + f"{1 + (i * 7) % 3:040x}") for i in range(n)]
    contributors = IntegerContributors(owners)
    for workers in (1, 2):
        rows = [row.tolist() for block in index.iter_totals(
            np.vstack([q, q]), [label, (label + 1) % 3], contributors, chunk_size=1,
            workers=workers) for row in block]
        assert rows == [contributors.totals(values),
                        contributors.totals(index.values(q, (label + 1) % 3))]


@pytest.mark.parametrize(("rowwise_from", "row_sort"), [(1, "keys"), (1, "radix"), (10**9, None)],
                         ids=["row by row, keys", "row by row, radix", "whole chunk"])
def test_long_rosters_give_the_declared_totals_row_by_row_or_whole(
        monkeypatch: pytest.MonkeyPatch, rowwise_from: int, row_sort: str | None) -> None:
    """A roster past ``ROWWISE_FROM`` (sorted, by either long-row sort, and summed one row at
    a time so threads run in parallel) and the same one in whole-chunk calls: the order
    against an independent lexsort, every value against the recursion in Python integers, the
    totals against plain sums; many ties (coordinates in -3..3) and three labels."""
    monkeypatch.setattr(integer_module, "ROWWISE_FROM", rowwise_from)
    rng = np.random.default_rng(5)
    n, d, k = 5000, 3, 7
    z = rng.integers(-3, 4, size=(n, d))
    y = rng.integers(0, 3, n)
    owners = [f"0x{1 + int(i):040x}" for i in rng.integers(0, 9, n)]
    index = IntegerKnnShapley(z, y, k, row_sort=row_sort)
    contributors = IntegerContributors(owners)
    queries = rng.integers(-3, 4, size=(5, d))
    labels = [0, 1, 2, 1, 0]
    got = [row.tolist() for block in index.iter_totals(queries, labels, contributors,
                                                       chunk_size=2, workers=2)
           for row in block]
    for q, label, totals in zip(queries, labels, got, strict=True):
        dist = ((z - q) ** 2).sum(axis=1)
        order = np.lexsort((np.arange(n), dist))
        assert index.order(q).tolist() == order.tolist()
        a = [int(y[i] == label) for i in order]
        s = [0] * n
        s[n - 1] = a[n - 1] * min(k, n) * VALUE_SCALE // (n * k)
        for r in range(n - 1, 0, -1):
            s[r - 1] = s[r] + (a[r - 1] - a[r]) * min(k, r) * VALUE_SCALE // (k * r)
        values = index.values(q, label)
        assert [int(values[i]) for i in order] == s
        expected = dict.fromkeys(contributors.roster, 0)
        for rank, item in enumerate(order):
            expected[contributors.roster[contributors.slots[item]]] += s[rank]
        assert totals == list(expected.values())


def test_both_long_row_sorts_give_the_order_at_the_digit_edges(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The radix passes (16-bit digits of the distance) and the key sort agree with
    (distance, index) order at the edges: one item, all distances 0, distances one below and
    at 2**16 and 2**32 (one more digit pass), and many ties; forwards and backwards."""
    monkeypatch.setattr(integer_module, "ROWWISE_FROM", 1)
    rng = np.random.default_rng(11)
    rosters = [np.asarray([[3]]), np.zeros((40, 2), dtype=np.int64),
               rng.integers(-2, 3, size=(300, 3))]
    for edge in (2**8, 2**16):  # squared: distances around 2**16 and 2**32
        rosters.append(np.asarray([[edge - 1], [edge], [edge + 1], [-edge], [0], [edge]] * 5))
    for z in rosters:
        q = np.zeros(z.shape[1], dtype=np.int64)
        dist = ((z - q) ** 2).sum(axis=1)
        expected = sorted(range(len(z)), key=lambda i: (int(dist[i]), i))
        y = np.arange(len(z)) % 2
        for row_sort in ROW_SORTS:
            index = IntegerKnnShapley(z, y, 2, row_sort=row_sort)
            assert index.order(q).tolist() == expected, row_sort
            backwards = index._order(index.distances(q)[None, :], backwards=True)
            assert backwards[0].tolist() == expected[::-1], row_sort
    with pytest.raises(InvalidInputError, match="row_sort"):
        IntegerKnnShapley(rosters[0], np.asarray([0]), 1, row_sort="quick")


@pytest.mark.parametrize(("timings", "chosen"), [((5, 1, 4, 3, 2, 3), "radix"),
                                                 ((3, 2, 1, 2, 4, 2), "keys")])
def test_the_long_row_sort_is_the_faster_measured_once_per_roster(
        monkeypatch: pytest.MonkeyPatch, timings: tuple[int, ...], chosen: str) -> None:
    """Without ``row_sort`` the first long row times each sort three times (keys and radix
    in turn) and keeps the one with the best time for that roster; later queries, on any
    thread, reuse it."""
    monkeypatch.setattr(integer_module, "ROWWISE_FROM", 1)
    clock = iter(timings)
    calls = []

    def fake_seconds(run):
        run()
        calls.append(1)
        return next(clock)

    monkeypatch.setattr(integer_module, "_seconds", fake_seconds)
    rng = np.random.default_rng(4)
    z = rng.integers(-5, 6, size=(200, 2))
    index = IntegerKnnShapley(z, rng.integers(0, 2, 200), 3)
    contributors = IntegerContributors([(A, B, C)[i % 3] for i in range(200)])
    queries = rng.integers(-5, 6, size=(6, 2))
    got = [row.tolist() for block in index.iter_totals(queries, [0, 1] * 3, contributors,
                                                       chunk_size=1, workers=2)
           for row in block]
    assert index._row_sort == chosen and len(calls) == 6
    assert got == [contributors.totals(index.values(q, label))
                   for q, label in zip(queries, [0, 1] * 3, strict=True)]
    assert len(calls) == 6


def test_iter_totals_refuses_a_contributor_map_of_another_roster_and_bad_queries() -> None:
    index = IntegerKnnShapley(np.zeros((3, 1), dtype=np.int64), np.zeros(3, dtype=np.int64), 1)
    with pytest.raises(InvalidInputError, match="2 item owners for a roster of 3 items"):
        next(index.iter_totals(np.zeros((1, 1), dtype=np.int64), [0],
                               IntegerContributors([A, B])))
    contributors = IntegerContributors([A, B, C])
    for bad, why in ((np.zeros((2, 2), dtype=np.int64), "is 1 integers"),
                     (np.zeros((2, 1)), "is 1 integers"),
                     (np.asarray([[0], [Z_LIMIT + 1]]), "beyond"),
                     (np.asarray([[0], [-Z_LIMIT - 1]]), "beyond"),
                     (np.zeros(2, dtype=np.int64), "must be 2-D")):
        with pytest.raises(InvalidInputError, match=why):
            next(index.iter_totals(bad, [0] * len(bad), contributors))
        with pytest.raises(InvalidInputError, match=why):
            next(index.iter_values(bad, [0] * len(bad)))


def test_ties_go_to_the_lower_index() -> None:
    z = np.asarray([[1], [-1], [1], [0], [-1]])
    index = IntegerKnnShapley(z, np.zeros(5, dtype=np.int64), 2)
    assert index.order(np.asarray([0])).tolist() == [3, 0, 1, 2, 4]


def test_refuses_bad_roster_and_query() -> None:
    with pytest.raises(InvalidInputError):
        IntegerKnnShapley(np.asarray([[Z_LIMIT + 1]]), np.asarray([0]), 1)
    with pytest.raises(InvalidInputError):
        IntegerKnnShapley(np.asarray([[0.5]]), np.asarray([0]), 1)
    with pytest.raises(InvalidInputError):
        IntegerKnnShapley(np.asarray([[0]]), np.asarray([0]), 0)
    index = IntegerKnnShapley(np.asarray([[0, 0]]), np.asarray([0]), 1)
    with pytest.raises(InvalidInputError):
        index.values(np.asarray([0]), 0)
    with pytest.raises(InvalidInputError):
        index.values(np.asarray([0, -Z_LIMIT - 1]), 0)


def test_integer_and_float_reference_agree_on_random_real_data() -> None:
    """Same data through both paths (float64 standardised rows vs their quantisation).

    Bound asserted: the two orders disagree only on pairs whose float distances are within
    the quantisation error (each feature moves by at most e = 2 / FEATURE_SCALE std, so a distance
    D moves by at most 2 sqrt(d D) e + d e^2); at every rank farther than the farthest
    disagreement the values agree within (N - r + 1) / VALUE_SCALE + 1e-12 (the integer
    floors plus float64 rounding); and those ranks are at least a quarter of all.
    """
    rng = np.random.default_rng(11)
    n, d, k = 300, 5, 5
    raw = rng.standard_normal((n, d)).astype(np.float32) * 3 + 1
    mean, std = raw.astype(np.float64).mean(axis=0), raw.astype(np.float64).std(axis=0)
    pre = SimpleNamespace(mean=tuple(mean.tolist()), std=tuple(std.tolist()))
    mu, rho = quantization(pre)
    y = rng.integers(0, 3, n)
    exact = KnnShapley((raw - mean) / std, y, k)
    index = IntegerKnnShapley(quantize(raw, mu, rho), y, k)
    queries = rng.standard_normal((40, d)).astype(np.float32) * 3 + 1
    e = 2 / FEATURE_SCALE + 2.0**-FEATURE_FRAC_BITS / float(std.min())
    clean = checked = 0
    for raw_q, label in zip(queries, rng.integers(0, 3, 40), strict=True):
        xq = (raw_q.astype(np.float64) - mean) / std
        fdist = (((raw - mean) / std - xq) ** 2).sum(axis=1)
        forder = np.argsort(fdist, kind="stable")
        iorder = index.order(quantize(raw_q, mu, rho))
        frank = np.empty(n, dtype=np.int64)
        frank[forder] = np.arange(n)
        slack = 2 * np.sqrt(d * fdist) * e + d * e * e
        disagree = np.flatnonzero(forder != iorder)
        for r in disagree:  # an item ranked differently sits next to a near-tie
            a, b = iorder[r], forder[r]
            assert abs(fdist[a] - fdist[b]) <= slack[a] + slack[b]
        last = int(disagree.max()) + 1 if disagree.size else 0
        clean += not disagree.size
        checked += n - last
        fvalues = exact.values(xq, label)
        ivalues = index.values(quantize(raw_q, mu, rho), label)
        for r in range(last, n):
            item = iorder[r]
            assert abs(ivalues[item] / VALUE_SCALE - fvalues[item]) <= (n - r) / VALUE_SCALE \
                + 1e-12
    print(f"{clean} of 40 queries rank identically; values compared at {checked} ranks")
    assert checked >= 40 * n // 4


# -- totals and shares ----------------------------------------------------------------------

A, B, C = ("0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20)


def canonical(address: str) -> str:
    from offchain.protocol import canonical_address

    return canonical_address(address)


def test_totals_are_exact_integer_sums() -> None:
    owners = [B, A, B, C, A]
    contributors = IntegerContributors(owners)
    big = 2**62 // 5
    values = np.asarray([big, -3, big, 7, 1], dtype=np.int64)
    assert contributors.roster == tuple(map(canonical, (A, B, C)))
    assert contributors.totals(values) == [-2, 2 * big, 7]


@settings(max_examples=200, deadline=None)
@given(totals=st.lists(st.one_of(st.integers(-2**63, 2**63 - 1), st.integers(-3, 3),
                                 st.sampled_from([0, 1, 2**62, 3 * 2**40])),
                       min_size=1, max_size=12))
def test_shares_of_totals_is_the_largest_remainder_rule(totals: list[int]) -> None:
    """The per-query fast path (integers over the roster's slots) against the generic rule
    (shares_from_int_totals): same list, bit for bit, for any int64 totals, ties, zeros,
    negatives and all-zero (the equal split)."""
    roster = [f"0x{(i * 2654435761) % 2**160:040x}" for i in range(1, len(totals) + 1)]
    contributors = IntegerContributors(roster)
    by_slot = dict(zip(map(canonical, roster), totals, strict=True))
    ordered = [by_slot[a] for a in contributors.roster]
    expected = shares_from_int_totals(ordered, contributors.roster)
    assert contributors.shares_of_totals(np.asarray(ordered, dtype=np.int64)) == expected
    assert contributors.shares_of_totals(ordered) == expected
    with pytest.raises(InvalidInputError):
        contributors.shares_of_totals(ordered + [1])


def test_all_zero_is_an_equal_split_over_the_roster() -> None:
    roster = [A, B, C]
    assert shares_from_int_totals([0, -5, 0], roster) == [(canonical(A), 3334),
                                                          (canonical(B), 3333),
                                                          (canonical(C), 3333)]
    contributors = IntegerContributors([A, A], roster=roster)
    assert contributors.shares(np.zeros(2, dtype=np.int64))[0] == (canonical(A), 3334)


def test_negative_totals_are_clipped_and_ties_go_to_the_lower_address() -> None:
    assert shares_from_int_totals([-10, 1, 1], [A, B, C]) == [(canonical(B), 5000),
                                                             (canonical(C), 5000)]
    # Three equal thirds: the one extra basis point goes to the lowest address.
    assert shares_from_int_totals({C: 5, A: 5, B: 5}, [A, B, C])[0] == (canonical(A), 3334)


@settings(max_examples=60, deadline=None)
@given(totals=st.lists(st.integers(-2**40, 2**50), min_size=3, max_size=3))
def test_same_shares_as_the_float_path_for_equal_inputs(totals: list[int]) -> None:
    """Integers that are exact floats give the float path's list (shares.py)."""
    roster = [A, B, C]
    assert shares_from_int_totals(totals, roster) == shares_from_totals(
        dict(zip(roster, map(float, totals), strict=True)), roster=roster)
    owners = [A, B, C, C]
    floats = ContributorMap(owners).shares(np.asarray([*map(float, totals), 0.0]))
    assert IntegerContributors(owners).shares(np.asarray([*totals, 0])) == floats


def test_integer_totals_beyond_2_53_stay_exact() -> None:
    """A float path would round these totals to the same value; the integer path does not."""
    t = 2**60
    assert shares_from_int_totals([t + 1, t, 0], [A, B, C]) == [(canonical(A), 5000),
                                                               (canonical(B), 5000)]
    assert shares_from_int_totals([t * 2 + 3, t * 2, t * 2 + 2], [A, B, C])[0] == (
        canonical(A), 3334)


# -- labels ---------------------------------------------------------------------------------

def test_label_of_output_ties_to_the_lowest_index() -> None:
    assert label_of_output(np.asarray([[0.5, 2.0, 2.0]], dtype=np.float32)) == 1
    assert label_of_output(np.asarray([-0.0, 0.0], dtype=np.float32)) == 0


def test_label_of_instances_reads_signed_field_elements() -> None:
    assert label_of_instances([123, P - 5, 3, P - 1]) == 1
    assert label_of_instances([0, P - 5, P - 2, P - 2]) == 1
    assert label_of_instances([0, 7, 7]) == 0
    with pytest.raises(InvalidInputError):
        label_of_instances([0])
    with pytest.raises(InvalidInputError):
        label_of_instances([0, P])


@pytest.mark.parametrize("frac_bits,shift,scale", [(16, 32, 4096), (24, 48, 4096),
                                                   (32, 64, 2**16)])
def test_quantize_follows_the_constants(monkeypatch: pytest.MonkeyPatch, frac_bits: int,
                                        shift: int, scale: int) -> None:
    """Other fixed-point widths (int64 overflow guards included) stay exact."""
    import offchain.attribution.integer as integer

    monkeypatch.setattr(integer, "FEATURE_FRAC_BITS", frac_bits)
    monkeypatch.setattr(integer, "QUANT_SHIFT", shift)
    monkeypatch.setattr(integer, "FEATURE_SCALE", scale)
    monkeypatch.setattr(integer, "MAX_RHO", 2**200)
    monkeypatch.setattr(integer, "_CLAMP_AT", (Z_LIMIT + 1) << shift)
    rng = np.random.default_rng(5)
    mean = [0.06, -3.0, 1e6, 0.5 / 2**frac_bits]
    std = [0.007, 2.0, 1e5, 2.0**-20]
    mu, rho = integer.quantization(SimpleNamespace(mean=mean, std=std))
    x = np.vstack([rng.normal(mean, std, (30, 4)), np.asarray(ADVERSARIAL[:16]).reshape(4, 4)])
    x = x.astype(np.float32)
    got = integer.quantize(x, mu, rho)

    def ref(v: float, m: float, s: float) -> int:
        mu_ = round(Fraction(m) * 2**frac_bits)
        rho_ = round(Fraction(scale * 2**frac_bits) / Fraction(s))
        z = math.floor(Fraction((math.floor(Fraction(v) * 2**frac_bits) - mu_) * rho_,
                                2**shift))
        return max(-Z_LIMIT, min(Z_LIMIT, z))

    assert got.tolist() == [[ref(float(v), m, s) for v, m, s in zip(row, mean, std,
                                                                       strict=True)]
                            for row in x.tolist()]


def test_wide_coordinates_take_the_int64_paths() -> None:
    """Near +-Z_LIMIT with d = 16 the float product is not provably exact and the distances
    leave no room for the index bits: int64 distances and the LSD radix order."""
    rng = np.random.default_rng(9)
    n, d = 1000, 16
    z = rng.choice([-Z_LIMIT, Z_LIMIT, 0, 1, -1], size=(n, d)).astype(np.int64)
    q = rng.choice([-Z_LIMIT, Z_LIMIT, 0], size=d).astype(np.int64)
    index = IntegerKnnShapley(z, rng.integers(0, 2, n), 3)
    dist = index.distances(q)
    assert dist.tolist() == [sum((int(a) - int(b)) ** 2 for a, b in zip(row, q, strict=True))
                             for row in z.tolist()]
    assert int(dist.max()).bit_length() + (n - 1).bit_length() > 63
    assert index.order(q).tolist() == sorted(range(n), key=lambda i: (int(dist[i]), i))
    contributors = IntegerContributors([(A, B, C)[i % 3] for i in range(n)])
    totals = next(index.iter_totals(q[None, :], [1], contributors))
    assert totals.tolist() == [contributors.totals(index.values(q, 1))]
