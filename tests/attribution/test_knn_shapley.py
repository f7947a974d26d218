"""KNN-Shapley: exactness against brute force and an exact-arithmetic reference, the Shapley
axioms, exact ordering where floating point would misorder, batches, and input errors."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from offchain.attribution import InvalidInputError, KnnShapley, knn_shapley, knn_shapley_batch


def exact_order(x: np.ndarray, q: np.ndarray) -> list[int]:
    """Training indices by exact squared Euclidean distance, ties by index."""
    fq = [Fraction(v) for v in q.tolist()]
    dist = [sum((Fraction(a) - b) ** 2 for a, b in zip(row, fq, strict=True))
            for row in x.tolist()]
    return sorted(range(len(dist)), key=lambda i: (dist[i], i))


def utility(subset: list[int], rank: dict[int, int], match: list[int], k: int) -> Fraction:
    """The paper's KNN utility: (1/K) * correct labels among the min(K, |S|) nearest of S."""
    nearest = sorted(subset, key=rank.__getitem__)[:k]
    return Fraction(sum(match[i] for i in nearest), k)


def brute_force_shapley(x, y, q, yq, k) -> list[Fraction]:
    """Shapley values by enumerating every subset (exact rationals)."""
    n = len(x)
    rank = {p: r for r, p in enumerate(exact_order(x, q))}
    match = [int(label == yq) for label in y]
    value_of = {}
    for size in range(n + 1):
        for subset in itertools.combinations(range(n), size):
            value_of[frozenset(subset)] = utility(list(subset), rank, match, k)
    values = []
    for i in range(n):
        others = [j for j in range(n) if j != i]
        total = Fraction(0)
        for size in range(n):
            weight = Fraction(math.factorial(size) * math.factorial(n - size - 1),
                              math.factorial(n))
            for subset in itertools.combinations(others, size):
                s = frozenset(subset)
                total += weight * (value_of[s | {i}] - value_of[s])
        values.append(total)
    return values


def theorem1_reference(x, y, q, yq, k) -> list[Fraction]:
    """Theorem 1 in exact rationals with an exact order: independent of the fast code."""
    order = exact_order(x, q)
    n = len(order)
    match = [int(y[p] == yq) for p in order]
    sorted_values = [Fraction(0)] * n
    sorted_values[-1] = Fraction(match[-1], max(k, n))
    for i in range(n - 1, 0, -1):  # 1-based rank i
        sorted_values[i - 1] = (sorted_values[i]
                                + Fraction(match[i - 1] - match[i], k) * Fraction(min(k, i), i))
    values = [Fraction(0)] * n
    for rank, point in enumerate(order):
        values[point] = sorted_values[rank]
    return values


def as_floats(values: list[Fraction]) -> np.ndarray:
    return np.array([float(v) for v in values])


@pytest.mark.parametrize("n", [1, 2, 4, 7, 10])
@pytest.mark.parametrize("k", [1, 3, 5, 12])
def test_equals_brute_force_shapley(n: int, k: int) -> None:
    rng = np.random.default_rng(1000 * n + k)
    x = rng.standard_normal((n, 3))
    y = rng.integers(0, 3, n)
    q = rng.standard_normal(3)
    yq = int(y[0]) if n > 1 else 0
    values = knn_shapley(x, y, q, yq, k)
    exact = brute_force_shapley(x, y, q, yq, k)
    np.testing.assert_allclose(values, as_floats(exact), rtol=0, atol=1e-14)
    assert theorem1_reference(x, y, q, yq, k) == exact


def test_farthest_point_when_k_exceeds_n_is_not_one_over_n() -> None:
    # The paper's s_N = m_N / N only holds for N >= K; the exact value is m_N / max(K, N).
    x = np.array([[0.0], [1.0]])
    values = knn_shapley(x, np.array([1, 1]), np.array([0.0]), 1, k=5)
    np.testing.assert_array_equal(values, [0.2, 0.2])


@pytest.mark.parametrize("k", [1, 5, 50])
def test_matches_exact_reference_on_larger_sets(k: int) -> None:
    rng = np.random.default_rng(k)
    x = rng.standard_normal((300, 6))
    y = rng.integers(0, 2, 300)
    q = rng.standard_normal(6)
    values = knn_shapley(x, y, q, 1, k)
    np.testing.assert_allclose(values, as_floats(theorem1_reference(x, y, q, 1, k)),
                               rtol=0, atol=1e-14)


def test_efficiency_values_sum_to_utility_of_everything() -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((500, 4))
    y = rng.integers(0, 2, 500)
    q = rng.standard_normal(4)
    k = 10
    values = knn_shapley(x, y, q, 1, k)
    nearest = np.argsort(((x - q) ** 2).sum(axis=1), kind="stable")[:k]
    assert math.isclose(values.sum(), (y[nearest] == 1).sum() / k, abs_tol=1e-12)


def test_symmetric_points_about_the_query_get_equal_values() -> None:
    # q +- v are exactly equidistant (both exact multiples of 2^-26), but their squared norms
    # need ~60 bits, so the fast key rounds them apart; the exact re-rank restores the tie.
    rng = np.random.default_rng(3)
    q = np.round(rng.standard_normal(5) * 2**26) / 2**26
    offsets = np.round(rng.standard_normal((20, 5)) * 2**26) / 2**26
    x = np.concatenate([q + offsets, q - offsets])
    same = np.concatenate([rng.integers(0, 2, 20)] * 2)
    values = knn_shapley(x, same, q, 1, 3)
    np.testing.assert_array_equal(values[:20], values[20:])
    differ = np.concatenate([np.ones(20), np.zeros(20)])  # the tie order now matters
    np.testing.assert_allclose(knn_shapley(x, differ, q, 1, 3),
                               as_floats(theorem1_reference(x, differ, q, 1, 3)),
                               rtol=0, atol=1e-14)


def test_duplicate_points_with_equal_labels_get_equal_values() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((30, 3))
    x[17] = x[5]
    y = rng.integers(0, 2, 30)
    y[17] = y[5]
    values = knn_shapley(x, y, rng.standard_normal(3), 1, 4)
    assert values[5] == values[17]


def test_null_players() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((40, 3))
    q = np.zeros(3)
    y = rng.integers(0, 2, 40)
    farthest = int(np.argmax((x**2).sum(axis=1)))
    y[farthest] = 0
    assert knn_shapley(x, y, q, 1, 3)[farthest] == 0.0  # never displaces a correct neighbour
    np.testing.assert_array_equal(knn_shapley(x, np.zeros(40), q, 1, 3), np.zeros(40))


def test_order_is_exact_where_the_fast_key_cancels() -> None:
    # A huge common offset makes ||x||^2 - 2 x.q lose the small differences entirely.
    rng = np.random.default_rng(6)
    base = np.full(4, 1e8)
    x = base + rng.standard_normal((60, 4)) * 1e-3
    q = base + rng.standard_normal(4) * 1e-3
    y = rng.integers(0, 2, 60)
    values = knn_shapley(x, y, q, 1, 5)
    np.testing.assert_allclose(values, as_floats(theorem1_reference(x, y, q, 1, 5)),
                               rtol=0, atol=1e-14)


def test_integer_data_ties_break_by_index() -> None:
    rng = np.random.default_rng(8)
    x = rng.integers(-2, 3, (400, 3)).astype(float)
    y = rng.integers(0, 2, 400)
    q = np.array([0.0, 1.0, -1.0])
    values = knn_shapley(x, y, q, 1, 7)
    np.testing.assert_allclose(values, as_floats(theorem1_reference(x, y, q, 1, 7)),
                               rtol=0, atol=1e-14)


def test_string_labels() -> None:
    x = np.array([[0.0], [1.0], [2.0]])
    values = knn_shapley(x, np.array(["cat", "dog", "cat"]), np.array([0.1]), "cat", 1)
    exact = brute_force_shapley(x, ["cat", "dog", "cat"], np.array([0.1]), "cat", 1)
    np.testing.assert_allclose(values, as_floats(exact), atol=1e-15)


def test_batch_rows_equal_single_queries() -> None:
    rng = np.random.default_rng(9)
    x = rng.standard_normal((200, 5))
    y = rng.integers(0, 3, 200)
    queries = rng.standard_normal((11, 5))
    labels = rng.integers(0, 3, 11)
    batch = knn_shapley_batch(x, y, queries, labels, 4)
    index = KnnShapley(x, y, 4)
    for row, (q, label) in enumerate(zip(queries, labels, strict=True)):
        np.testing.assert_array_equal(batch[row], index.values(q, label))
    threaded = index.values_batch(queries, labels, chunk_size=3, workers=2)
    np.testing.assert_array_equal(threaded, batch)
    rows = np.concatenate(list(index.iter_values(queries, labels, chunk_size=4)))
    np.testing.assert_array_equal(rows, batch)


def test_batch_resolves_near_ties_per_row() -> None:
    rng = np.random.default_rng(10)
    q = np.round(rng.standard_normal(4) * 2**26) / 2**26
    offsets = np.round(rng.standard_normal((8, 4)) * 2**26) / 2**26
    x = np.concatenate([q - offsets, q + offsets])
    y = np.concatenate([np.zeros(8), np.ones(8)])
    index = KnnShapley(x, y, 2)
    batch = index.values_batch(np.stack([q, q]), np.array([1, 0]))
    for row, label in enumerate([1, 0]):
        np.testing.assert_allclose(batch[row], as_floats(theorem1_reference(x, y, q, label, 2)),
                                   rtol=0, atol=1e-15)


def test_index_exposes_its_shape() -> None:
    index = KnnShapley(np.zeros((3, 2)), np.zeros(3), 2)
    assert (index.n_train, index.dim, index.k) == (3, 2, 2)


@pytest.mark.parametrize(
    ("x", "y", "q", "k", "message"),
    [
        (np.zeros((0, 2)), np.zeros(0), np.zeros(2), 1, "non-empty 2-D"),
        (np.zeros(3), np.zeros(3), np.zeros(1), 1, "non-empty 2-D"),
        (np.array([[np.nan, 0.0]]), np.zeros(1), np.zeros(2), 1, "NaN"),
        ([["a", "b"]], np.zeros(1), np.zeros(2), 1, "numeric"),
        (np.zeros((3, 2)), np.zeros(2), np.zeros(2), 1, "y_train must have shape"),
        (np.zeros((3, 2)), np.zeros(3), np.zeros(3), 1, "3 features"),
        (np.zeros((3, 2)), np.zeros(3), np.zeros((2, 2)), 1, r"shape \(d,\)"),
        (np.zeros((3, 2)), np.zeros(3), np.array([np.inf, 0.0]), 1, "infinite"),
        (np.zeros((3, 2)), np.zeros(3), np.zeros(2), 0, "positive integer"),
        (np.zeros((3, 2)), np.zeros(3), np.zeros(2), True, "positive integer"),
        (np.zeros((3, 2)), np.zeros(3), np.zeros(2), 2.0, "positive integer"),
    ],
)
def test_rejects_malformed_input(x, y, q, k, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        knn_shapley(x, y, q, 0, k)


def test_batch_rejects_malformed_input() -> None:
    index = KnnShapley(np.zeros((3, 2)), np.zeros(3), 1)
    with pytest.raises(InvalidInputError, match="shape \\(n_query, d\\)"):
        index.values_batch(np.zeros(2), np.zeros(1))
    with pytest.raises(InvalidInputError, match="y_query must have shape"):
        index.values_batch(np.zeros((2, 2)), np.zeros(3))
    with pytest.raises(InvalidInputError, match="chunk_size and workers"):
        index.values_batch(np.zeros((2, 2)), np.zeros(2), chunk_size=0)
    with pytest.raises(InvalidInputError, match="chunk_size and workers"):
        index.values_batch(np.zeros((2, 2)), np.zeros(2), workers=0)
