"""Integer KNN-Shapley (design.md "Integer attribution", ``attestia-attribution/1``).

The float64 path (``knn_shapley``) is exact in its order but its values are IEEE sums, and a
Solidity contract cannot redo either. This module computes the same attribution in integers
only, so Python, the ``Slasher``'s one-step checks and any stranger get the same bits:

* features are quantised by one rule for roster rows and queries (:func:`quantize`), from
  parameters fixed exactly by the manifest's float64 mean/std (:func:`quantization`);
* squared distances are exact int64 (< 2**62 by the constants' bounds), the order is ascending
  ``(distance, index)``;
* point values follow Theorem 1 with one ``floorDiv`` per step, in units of ``VALUE_SCALE``;
* contributor totals are exact integer sums, then largest-remainder basis points
  (``shares._largest_remainder``, which is exact for integer weights).

Speed without giving up exactness: distances go through one float64 BLAS product only when
``4 d max(|z|, |q|)**2 < 2**53`` (every product and partial sum is then an integer that
float64 holds exactly, whatever the summation order or FMA use); otherwise through int64.
The order sorts unique keys ``distance << b | index`` (numpy's sort of int64, vectorised on
some CPUs); long rows use instead an LSD radix sort of the distance where that was faster on
the roster's first long row, and distances too wide for the keys always do. Contributor
totals are summed by slot straight from the values in rank order (``iter_totals``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from offchain.attribution.errors import InvalidInputError
from offchain.attribution.shares import _largest_remainder, apportion
from offchain.protocol import (
    FEATURE_FRAC_BITS,
    FEATURE_SCALE,
    FIELD_MODULUS,
    MAX_ATTRIBUTION_FEATURES,
    MAX_MU,
    MAX_RHO,
    MAX_ROSTER_ITEMS,
    QUANT_SHIFT,
    VALUE_SCALE,
    Z_LIMIT,
    Share,
    address_key,
    canonical_address,
)

_EXACT_FLOAT = 2**53
_FAST_LIMIT = 2**62
_INT64_MAX = 2**63 - 1
_LOW32 = 2**32 - 1
_DIGIT_BITS = 16
_CLAMP_AT = (Z_LIMIT + 1) << QUANT_SHIFT  # |(X - mu) * rho| >= this: z is clamped


# -- quantisation ---------------------------------------------------------------------------

def quantization(preprocessing: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(mu, rho)`` of a manifest's standardisation, exactly (design.md "Quantisation").

    ``preprocessing`` has float64 ``mean`` and ``std`` sequences (``manifest.Preprocessing``).
    ``mu_j = round_half_even(mean_j * 2**FEATURE_FRAC_BITS)``, ``rho_j =
    round_half_even(FEATURE_SCALE * 2**FEATURE_FRAC_BITS / std_j)``, both on the exact rational
    values of the floats.
    """
    mean, std = tuple(preprocessing.mean), tuple(preprocessing.std)
    if len(mean) != len(std) or not mean:
        raise InvalidInputError(f"preprocessing has {len(mean)} means and {len(std)} stds; "
                                "it needs one of each per feature")
    if len(mean) > MAX_ATTRIBUTION_FEATURES:
        raise InvalidInputError(f"{len(mean)} features; integer attribution allows at most "
                                f"{MAX_ATTRIBUTION_FEATURES}")
    mu: list[int] = []
    rho: list[int] = []
    for j, (m, s) in enumerate(zip(mean, std, strict=True)):
        if not (math.isfinite(m) and math.isfinite(s)):
            raise InvalidInputError(f"feature {j}: mean {m} and std {s} must be finite")
        if s <= 0:
            raise InvalidInputError(f"feature {j}: std {s} must be positive")
        mu_j = round(Fraction(m) * (1 << FEATURE_FRAC_BITS))
        rho_j = round(Fraction(FEATURE_SCALE << FEATURE_FRAC_BITS) / Fraction(s))
        if abs(mu_j) >= MAX_MU:
            raise InvalidInputError(f"feature {j}: mean {m} is too large to quantise "
                                    f"(|mu| must be below 2**{MAX_MU.bit_length() - 1})")
        if not 1 <= rho_j < MAX_RHO:
            raise InvalidInputError(f"feature {j}: std {s} gives rho {rho_j}; it must be in "
                                    f"1..2**{MAX_RHO.bit_length() - 1} - 1 (the feature's "
                                    "spread is too small or too large for the fixed point)")
        mu.append(mu_j)
        rho.append(rho_j)
    return tuple(mu), tuple(rho)


def quantize(raw: np.ndarray, mu: Sequence[int], rho: Sequence[int]) -> np.ndarray:
    """Quantised features of float32 rows (last axis = features), as int64 of the same shape.

    ``z = clamp(floor((floor(x * 2**FEATURE_FRAC_BITS) - mu) * rho / 2**QUANT_SHIFT),
    -Z_LIMIT, Z_LIMIT)`` per feature, exactly. int64 arithmetic where it provably cannot
    overflow, Python integers otherwise (adversarial magnitudes of x or mean).
    """
    x = np.asarray(raw)
    if x.dtype != np.float32:
        raise InvalidInputError(f"quantize takes float32 features (the canonical input); got "
                                f"{x.dtype}")
    d = len(mu)
    if len(rho) != d or x.ndim == 0 or x.shape[-1] != d:
        raise InvalidInputError(f"expected {d} features on the last axis and {d} mu/rho; got "
                                f"shape {list(x.shape)} and {len(rho)} rho")
    if not np.all(np.isfinite(x)):
        raise InvalidInputError("features contain NaN or infinity")
    # x * 2**FEATURE_FRAC_BITS is exact in float64 (24-bit significand, the exponent stays in
    # range), and so is its floor: X is an integer held exactly by a float.
    big_x = np.floor(x.astype(np.float64) * float(1 << FEATURE_FRAC_BITS))
    plan = _plan(tuple(mu), tuple(rho), QUANT_SHIFT, _CLAMP_AT)
    if plan.mu is None or (x.size and float(np.abs(big_x).max()) >= _FAST_LIMIT):
        return _quantize_exact(big_x, mu, rho)
    delta = big_x.astype(np.int64) - plan.mu  # |delta| < 2**63
    inside = np.abs(delta) < plan.limits
    kept = np.where(inside, delta, 0)
    if plan.factors is not None:
        z = (kept * plan.factors) >> QUANT_SHIFT
    elif plan.limbs is not None:
        z = _floor_product_shift64(kept, *plan.limbs)
    else:
        z = ((kept.astype(object) * np.asarray(rho, dtype=object)) >> QUANT_SHIFT).astype(
            np.int64)
    z = np.where(inside, z, np.sign(delta) * Z_LIMIT)
    return np.clip(z, -Z_LIMIT, Z_LIMIT)


@dataclass(frozen=True)
class _Plan:
    """What :func:`quantize` needs of one (mu, rho), prepared once (per package)."""

    mu: np.ndarray | None  # int64, or None when some |mu| >= 2**62 (exact path)
    limits: np.ndarray  # |X - mu| below this: unclamped (capped at int64's max)
    factors: np.ndarray | None  # rho as int64, when every unclamped product fits int64
    limbs: tuple[np.ndarray, np.ndarray] | None  # rho's 32-bit limbs, for the 2**64 shift


@lru_cache(maxsize=64)
def _plan(mu: tuple[int, ...], rho: tuple[int, ...], shift: int, clamp_at: int) -> _Plan:
    # Beyond |X - mu| >= ceil(clamp_at / rho) the result is clamped; below it the product is
    # under clamp_at. Only the products of unclamped entries are computed: in int64 when
    # they provably fit, in uint64 limbs for a 64-bit shift, else in Python integers.
    limits = [min(-(-clamp_at // r), _INT64_MAX) for r in rho]
    factors = limbs = None
    if all((v - 1) * r <= _INT64_MAX for v, r in zip(limits, rho, strict=True)):
        # a factor that only ever multiplies 0 (limit 1) may be out of int64's range
        factors = np.asarray([r if v > 1 else 0 for v, r in zip(limits, rho, strict=True)],
                             dtype=np.int64)
    elif shift == 64 and clamp_at <= 2**88 and max(rho) < 2**90:
        limbs = (np.asarray([r >> 32 for r in rho], dtype=np.uint64),
                 np.asarray([r & _LOW32 for r in rho], dtype=np.uint64))
    fits = max(abs(m) for m in mu) < _FAST_LIMIT
    return _Plan(np.asarray(mu, dtype=np.int64) if fits else None,
                 np.asarray(limits, dtype=np.int64), factors, limbs)


def _floor_product_shift64(delta: np.ndarray, rh: np.ndarray, rl: np.ndarray) -> np.ndarray:
    """``floor(delta * rho / 2**64)`` for products below 2**88 in magnitude, in uint64 limbs.

    With ``m = |delta| = mh 2**32 + ml`` and ``rho = rh 2**32 + rl`` (32-bit limbs),
    ``m rho = mh rh 2**64 + (mh rl + ml rh) 2**32 + ml rl``; the bound keeps ``mh rh`` under
    2**24 and ``ml rh`` under 2**56, so every partial product fits a uint64 and the carry
    out of the low 64 bits is one comparison. Negative deltas round toward minus infinity.
    """
    m = np.abs(delta).astype(np.uint64)
    mh, ml = m >> np.uint64(32), m & np.uint64(_LOW32)
    mid = mh * rl + ml * rh
    shifted = (mid & np.uint64(_LOW32)) << np.uint64(32)
    low = shifted + ml * rl  # wraps modulo 2**64: a carry iff the sum is below an addend
    high = mh * rh + (mid >> np.uint64(32)) + (low < shifted).astype(np.uint64)
    magnitude = high.astype(np.int64)
    return np.where(delta < 0, -magnitude - (low != 0), magnitude)


def _quantize_exact(big_x: np.ndarray, mu: Sequence[int], rho: Sequence[int]) -> np.ndarray:
    flat = big_x.reshape(-1, len(mu))
    out = np.empty(flat.shape, dtype=np.int64)
    for i, row in enumerate(flat.tolist()):
        for j, value in enumerate(row):
            z = ((int(value) - mu[j]) * rho[j]) >> QUANT_SHIFT
            out[i, j] = min(max(z, -Z_LIMIT), Z_LIMIT)
    return out.reshape(big_x.shape)


# -- labels ---------------------------------------------------------------------------------

def label_of_output(logits: np.ndarray) -> int:
    """The query label a tensor output states: argmax of the float32 logits of one row, ties
    to the lowest index (``IntegerAttribution.labelOfTensor``; the worker's predicted label,
    ``runtime.predicted_label``, is this rule)."""
    arr = np.asarray(logits)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise InvalidInputError(
            f"expected one finite row of logits, got shape {list(arr.shape)}")
    return int(np.argmax(arr))


def label_of_instances(instances: Sequence[int]) -> int:
    """The query label a ZK record states: argmax of ``instances[1:]`` read as signed BN254
    field elements (``v > p/2`` is ``v - p``), ties to the lowest index."""
    outputs = [int(v) for v in list(instances)[1:]]
    if not outputs:
        raise InvalidInputError("a ZK record's instances carry no outputs after the input hash")
    if any(not 0 <= v < FIELD_MODULUS for v in outputs):
        raise InvalidInputError("instances must be canonical field elements (0 <= v < p)")
    signed = [v - FIELD_MODULUS if v > FIELD_MODULUS // 2 else v for v in outputs]
    return signed.index(max(signed))


# -- values ---------------------------------------------------------------------------------

class IntegerKnnShapley:
    """Quantised roster items prepared for repeated integer KNN-Shapley queries.

    ``z_items`` is ``(N, d)`` int64 (``quantize`` of the raw rows), ``labels`` the ``(N,)``
    item labels. Queries are quantised the same way. Arrays are copied.
    """

    def __init__(self, z_items: np.ndarray, labels: np.ndarray, k: int, *,
                 row_sort: str | None = None) -> None:
        """``row_sort``: how rows of at least ``ROWWISE_FROM`` items are ordered, ``"keys"``
        or ``"radix"`` (``ROW_SORTS``; the same order either way), None: the faster of the
        two on this CPU, measured once on this roster's first such row."""
        if row_sort is not None and row_sort not in ROW_SORTS:
            raise InvalidInputError(f"row_sort must be one of {ROW_SORTS}; got {row_sort!r}")
        self._row_sort = row_sort
        self._row_sort_lock = threading.Lock()
        z = np.array(z_items, copy=True)
        if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0 or z.dtype.kind not in "iu":
            raise InvalidInputError(f"z_items must be a non-empty 2-D integer array; got "
                                    f"{z.dtype}{list(z.shape)}")
        n, d = z.shape
        if n > MAX_ROSTER_ITEMS or d > MAX_ATTRIBUTION_FEATURES:
            raise InvalidInputError(f"{n} items x {d} features exceeds the integer attribution "
                                    f"limits ({MAX_ROSTER_ITEMS} x {MAX_ATTRIBUTION_FEATURES})")
        if int(np.abs(z).max()) > Z_LIMIT:
            raise InvalidInputError(f"z_items holds values beyond +-Z_LIMIT ({Z_LIMIT})")
        y = np.asarray(labels)
        if y.shape != (n,) or y.dtype.kind not in "iu" or (n and int(y.min()) < 0):
            raise InvalidInputError(f"labels must be {n} non-negative integers; got "
                                    f"{y.dtype}{list(y.shape)}")
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise InvalidInputError(f"k must be a positive integer; got {k!r}")
        self._k = int(k)
        self._z = z.astype(np.int64)
        self._y = y.astype(np.int64)
        # Labels as compact as they fit: the per-query gather by rank moves less memory.
        self._y_small = self._y.astype(np.min_scalar_type(-int(self._y.max()) - 1))
        self._sqnorm = np.einsum("ij,ij->i", self._z, self._z)
        # -2 z^T, ||z||^2 and ones stacked: distances in one matrix product (see _distances);
        # only used when its bound makes every float in it an exact integer.
        self._augmented = np.ascontiguousarray(np.vstack(
            [-2.0 * self._z.T, self._sqnorm[None, :], np.ones((1, n))]), dtype=np.float64)
        self._max_abs = int(np.abs(self._z).max())
        self._index = np.arange(n, dtype=np.int64)
        self._index_bits = max(n - 1, 0).bit_length()
        # Rank r (1-based) steps by +-VALUE_SCALE * min(K, r) / (K r) = +-VALUE_SCALE / max(K, r);
        # floorDiv of the negative step is minus the ceiling: one less when inexact.
        widths = np.maximum(np.arange(1, n + 1, dtype=np.int64), self._k)
        self._step_up = VALUE_SCALE // widths
        self._step_inexact = (VALUE_SCALE % widths != 0).astype(np.int64)
        # The same for ranks N-1 .. 1, contiguous, in the order the recursion runs.
        self._up_reversed = np.ascontiguousarray(self._step_up[-2::-1])
        self._inexact_reversed = self._step_inexact[-2::-1].astype(np.int8)

    @property
    def n(self) -> int:
        return int(self._z.shape[0])

    @property
    def n_train(self) -> int:
        """N, under the float index's name (callers sizing work by the roster)."""
        return self.n

    @property
    def dim(self) -> int:
        return int(self._z.shape[1])

    @property
    def k(self) -> int:
        return self._k

    @property
    def labels(self) -> np.ndarray:
        return self._y

    @property
    def items(self) -> np.ndarray:
        return self._z

    def distances(self, zq: np.ndarray) -> np.ndarray:
        """Exact squared distance of every item to the query, int64 ``(N,)``."""
        q = self._query(zq)
        return self._distances(q[None, :])[0]

    def order(self, zq: np.ndarray) -> np.ndarray:
        """Item indices by rank: ascending ``(distance, index)``."""
        q = self._query(zq)
        return self._order(self._distances(q[None, :]))[0]

    def ranked(self, zq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(order, distances)``: items by rank and every item's distance (item order)."""
        q = self._query(zq)
        dist = self._distances(q[None, :])
        return self._order(dist)[0], dist[0]

    def values_by_rank(self, order: np.ndarray, label: int) -> np.ndarray:
        """``s_1 .. s_N``: the value of the item at each rank."""
        return self._values_by_rank(order[None, :], np.asarray([int(label)]))[0]

    def values(self, zq: np.ndarray, label: int) -> np.ndarray:
        """Integer KNN-Shapley value of every item (item order), int64 ``(N,)``."""
        order = self.order(zq)
        out = np.empty(self.n, dtype=np.int64)
        out[order] = self.values_by_rank(order, label)
        return out

    def values_batch(self, zqs: np.ndarray, labels: Sequence[int] | np.ndarray, *,
                     chunk_size: int = 16, workers: int = 1) -> np.ndarray:
        """Values of every item for each query, int64 ``(n_query, N)``."""
        blocks = list(self.iter_values(zqs, labels, chunk_size=chunk_size, workers=workers))
        return np.vstack(blocks) if blocks else np.empty((0, self.n), dtype=np.int64)

    def iter_values(self, zqs: np.ndarray, labels: Sequence[int] | np.ndarray, *,
                    chunk_size: int = 16, workers: int = 1) -> Iterator[np.ndarray]:
        """Yield the values of ``chunk_size`` queries at a time, in query order (memory stays
        at ``workers`` chunks); chunks run on ``workers`` threads (sorting releases the
        GIL)."""
        yield from self._stream(self._chunk, zqs, labels, chunk_size, workers)

    def iter_totals(self, zqs: np.ndarray, labels: Sequence[int] | np.ndarray,
                    contributors: IntegerContributors, *, chunk_size: int = 16,
                    workers: int = 1) -> Iterator[np.ndarray]:
        """Yield each chunk's exact contributor totals, int64 ``(m, len(roster))``: row ``i``
        is ``contributors.totals(values of query i)``, bit for bit, without putting the
        values back in item order (they are summed by slot in rank order)."""
        if contributors.n_points != self.n:
            raise InvalidInputError(f"{contributors.n_points} item owners for a roster of "
                                    f"{self.n} items")
        slots, width = contributors.slots, len(contributors.roster)

        def chunk(q: np.ndarray, y: np.ndarray) -> np.ndarray:
            # ranks N .. 1 (the recursion's direction), contiguous for the gathers
            backwards = self._order(self._distances(q), backwards=True)
            values = self._values_backwards(backwards, y)
            totals = np.zeros((len(q), width), dtype=np.int64)
            cells = slots[backwards]
            cells += (np.arange(len(q), dtype=np.int64) * width)[:, None]
            np.add.at(totals.reshape(-1), cells.reshape(-1), values.reshape(-1))
            return totals

        yield from self._stream(chunk, zqs, labels, chunk_size, workers)

    def _stream(self, work: Any, zqs: np.ndarray, labels: Sequence[int] | np.ndarray,
                chunk_size: int, workers: int) -> Iterator[np.ndarray]:
        q = np.asarray(zqs)
        if q.ndim != 2:
            raise InvalidInputError(f"queries must be 2-D (n_query, d); got shape {q.shape}")
        y = np.asarray(labels, dtype=np.int64)
        if y.shape != (q.shape[0],):
            raise InvalidInputError(f"need one label per query; got {y.shape} for {q.shape[0]}")
        if chunk_size < 1 or workers < 1:
            raise InvalidInputError(f"chunk_size and workers must be >= 1 (got {chunk_size}, "
                                    f"{workers})")
        queries = self._queries(q)
        bounds = [(s, min(s + chunk_size, len(q))) for s in range(0, len(q), chunk_size)]
        return self._run(work, queries, y, bounds, workers)

    @staticmethod
    def _run(work: Any, queries: np.ndarray, y: np.ndarray, bounds: list[tuple[int, int]],
             workers: int) -> Iterator[np.ndarray]:
        if workers == 1:
            for start, stop in bounds:
                yield work(queries[start:stop], y[start:stop])
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending: deque[Future[np.ndarray]] = deque()
            for start, stop in bounds:
                pending.append(pool.submit(work, queries[start:stop], y[start:stop]))
                if len(pending) >= workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    # -- internals ---------------------------------------------------------------------------

    def _query(self, zq: np.ndarray) -> np.ndarray:
        q = np.asarray(zq)
        return self._queries(q[None, ...])[0]

    def _queries(self, q: np.ndarray) -> np.ndarray:
        """``(m, d)`` quantised queries as int64, checked: integers, ``d`` of them each,
        within +-Z_LIMIT."""
        if q.shape[1:] != (self.dim,) or q.dtype.kind not in "iu":
            raise InvalidInputError(f"a quantised query is {self.dim} integers; got "
                                    f"{q.dtype}{list(q.shape[1:])}")
        out = q.astype(np.int64)
        if out.size and int(np.abs(out).max()) > Z_LIMIT:
            raise InvalidInputError(f"query holds values beyond +-Z_LIMIT ({Z_LIMIT})")
        return out

    def _distances(self, q: np.ndarray) -> np.ndarray:
        """``(m, N)`` exact distances of m queries: ||z||^2 - 2 z.q + ||q||^2.

        One BLAS product ``[q, 1, ||q||^2] . [-2 z; ||z||^2; 1]`` when every partial sum is
        an integer below 2**53 (bounded by 4 d max(|z|, |q|)**2), else int64 arithmetic.
        """
        qq = np.einsum("ij,ij->i", q, q)
        largest = max(self._max_abs, int(np.abs(q).max()))
        if 4 * self.dim * largest * largest < _EXACT_FLOAT:
            rows = np.empty((q.shape[0], self.dim + 2), dtype=np.float64)
            rows[:, :self.dim] = q
            rows[:, self.dim] = 1.0
            rows[:, self.dim + 1] = qq
            return (rows @ self._augmented).astype(np.int64)
        dots = q @ self._z.T  # |z q| < 2**48 and d <= 2**12: int64 cannot overflow
        dots *= -2
        dots += self._sqnorm
        dots += qq[:, None]
        return dots

    def _order(self, dist: np.ndarray, *, backwards: bool = False) -> np.ndarray:
        """Row-wise ranks of ``(m, N)`` distances: ascending (distance, index), or with
        ``backwards`` descending (contiguous).

        Keys ``distance << b | index`` are unique, so any sort of them is the order, and
        numpy's sort of int64 (vectorised where the CPU has AVX2/AVX-512) sorts all rows in
        one call. Distances too wide to share a word with the index get a full LSD radix
        sort of the distance (stable: ties keep the index order).
        """
        bits = self._index_bits
        fits = dist.size and int(dist.max()).bit_length() + bits <= 63
        if fits and (dist.shape[1] < ROWWISE_FROM or self._long_row_sort(dist[0]) == "keys"):
            keys = self._sorted_keys(dist)
            if backwards:  # the reversal and the unmasking in one pass, contiguous
                return np.bitwise_and(keys[:, ::-1], (1 << bits) - 1,
                                      out=np.empty_like(keys))
            keys &= (1 << bits) - 1
            return keys
        out = np.empty(dist.shape, dtype=np.int64)
        for row in range(dist.shape[0]):  # 1-D gathers: far cheaper than take_along_axis
            perm = self._radix_order(dist[row])
            out[row] = perm[::-1] if backwards else perm
        return out

    def _sorted_keys(self, dist: np.ndarray) -> np.ndarray:
        """The unique keys ``distance << b | index`` of each row of ``(m, N)`` ``dist``,
        sorted row by row."""
        keys = dist << self._index_bits
        keys |= self._index
        _sort_rows(keys)
        return keys

    def _radix_order(self, dist: np.ndarray) -> np.ndarray:
        """One row's order by an LSD radix sort of its distances in 16-bit digits: numpy's
        stable sort of uint16 is a radix sort, and stable passes keep ties by index."""
        perm: np.ndarray | None = None
        for shift in range(0, max(int(dist.max()).bit_length(), 1), _DIGIT_BITS):
            digits = (dist if perm is None else dist[perm]) >> shift
            step = np.argsort(digits.astype(np.uint16), kind="stable")  # the low 16 bits
            perm = step if perm is None else perm[step]
        assert perm is not None
        return perm

    def _long_row_sort(self, row: np.ndarray) -> str:
        """``row_sort`` for long rows: as given, or measured once (best of three each,
        interleaved) on ``row``: numpy's int64 sort is vectorised on some CPUs (0.75 ms for
        100,000 keys on an Intel CPU) and not on others (3.8 ms on an AMD EPYC, where the
        radix passes take 1.2 ms)."""
        if self._row_sort is None:
            with self._row_sort_lock:
                if self._row_sort is None:  # each timed as _order runs it
                    runs = {"keys": lambda: self._sorted_keys(row[None, :]),
                            "radix": lambda: self._radix_order(row)}
                    timings: dict[str, float] = {}
                    for _ in range(3):  # interleaved: both see the same moments of load
                        for name, run in runs.items():
                            timings[name] = min(timings.get(name, math.inf), _seconds(run))
                    self._row_sort = min(timings, key=timings.__getitem__)
        return self._row_sort

    def _values_by_rank(self, order: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Theorem 1 in integers for each row of ``order`` (rows: queries, columns: ranks)."""
        return self._values_backwards(np.ascontiguousarray(order[:, ::-1]), labels)[:, ::-1]

    def _values_backwards(self, backwards: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """``s_N .. s_1`` for each row of ``backwards`` (item indices by rank, farthest
        first): the recursion's order, so the running sum is one forward cumsum."""
        a = (self._y_small[backwards] == labels[:, None]).view(np.int8)
        n = backwards.shape[1]
        terms = np.empty(backwards.shape, dtype=np.int64)  # [s_N, step_{N-1}, .., step_1]
        terms[:, 0] = a[:, 0] * self._step_up[n - 1]
        if n > 1:
            diff = a[:, 1:] - a[:, :-1]  # a_r - a_{r+1} for r = N-1 .. 1, int8
            np.multiply(diff, self._up_reversed, out=terms[:, 1:])
            # a falling step floors one lower when inexact (int8 masks: no masked ufunc)
            terms[:, 1:] -= (diff < 0).view(np.int8) & self._inexact_reversed
        _cumsum_rows(terms)
        return terms

    def _chunk(self, q: np.ndarray, labels: np.ndarray) -> np.ndarray:
        backwards = self._order(self._distances(q), backwards=True)
        by_rank = self._values_backwards(backwards, labels)
        out = np.empty_like(by_rank)
        for row in range(backwards.shape[0]):
            out[row, backwards[row]] = by_rank[row]
        return out


ROW_SORTS = ("keys", "radix")

ROWWISE_FROM = 4096
"""Rows at least this long are sorted and summed one at a time: numpy releases the GIL for a
1-D sort or cumsum but not for a 2-D one along an axis (measured here: two attribution
threads gained nothing over one), so two threads' rows then run in parallel. Shorter rows go
in one call (fewer Python calls); both give the same bits."""


def _seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _sort_rows(keys: np.ndarray) -> None:
    if keys.shape[1] < ROWWISE_FROM:
        keys.sort(axis=1)
        return
    for row in keys:
        row.sort()


def _cumsum_rows(terms: np.ndarray) -> None:
    if terms.shape[1] < ROWWISE_FROM:
        np.cumsum(terms, axis=1, out=terms)
        return
    for row in terms:
        np.cumsum(row, out=row)


# -- contributors and basis points ----------------------------------------------------------

class IntegerContributors:
    """Which roster slot owns each item, for exact per-contributor totals.

    ``roster`` is the model's contributor roster (the slots of the running sums and the
    equal split); by default the distinct item owners. Slots are ascending by address.
    """

    def __init__(self, point_owners: Sequence[str], roster: Sequence[str] | None = None
                 ) -> None:
        if len(point_owners) == 0:
            raise InvalidInputError("point_owners is empty: every item needs an owner")
        canonical = {raw: canonical_address(raw) for raw in dict.fromkeys(point_owners)}
        members = canonical.values() if roster is None else map(canonical_address, roster)
        self.roster: tuple[str, ...] = tuple(sorted(set(members), key=address_key))
        if roster is not None and len(self.roster) != len(list(roster)):
            raise InvalidInputError("the roster lists a contributor twice")
        slot = {address: i for i, address in enumerate(self.roster)}
        missing = sorted(set(canonical.values()) - set(slot))
        if missing:
            raise InvalidInputError(f"item owners {missing[:3]} are not in the roster")
        self.slots = np.fromiter((slot[canonical[raw]] for raw in point_owners), dtype=np.int64,
                                 count=len(point_owners))
        self._by_owner = np.argsort(self.slots, kind="stable")
        self._bounds = np.searchsorted(self.slots[self._by_owner],
                                       np.arange(len(self.roster) + 1))

    @property
    def n_points(self) -> int:
        return len(self.slots)

    def totals(self, values: np.ndarray) -> list[int]:
        """Exact sum of the item values of each roster slot (before clipping)."""
        v = np.asarray(values)
        if v.shape != (self.n_points,) or v.dtype != np.int64:
            raise InvalidInputError(f"values must be int64 ({self.n_points},); got "
                                    f"{v.dtype}{list(v.shape)}")
        running = np.zeros(self.n_points + 1, dtype=np.int64)
        np.cumsum(v[self._by_owner], out=running[1:])
        return (running[self._bounds[1:]] - running[self._bounds[:-1]]).tolist()

    def totals_by_rank(self, order: np.ndarray, values_by_rank: np.ndarray) -> list[int]:
        """Totals from values given in rank order (``order[p]`` is the rank-p+1 item)."""
        values = np.empty(self.n_points, dtype=np.int64)
        values[order] = values_by_rank
        return self.totals(values)

    def shares(self, values: np.ndarray) -> list[Share]:
        """The share list of one query from its item values (design.md)."""
        return self.shares_of_totals(self.totals(values))

    def shares_of_totals(self, totals: Sequence[int] | np.ndarray) -> list[Share]:
        """The share list of one query from its exact slot totals (``totals``,
        ``IntegerKnnShapley.iter_totals``): what :func:`shares_from_int_totals` gives, in
        integers over the roster's slots (canonical and ascending already, so neither
        checked nor sorted again per query)."""
        weights = [t if t > 0 else 0 for t in map(int, totals)]
        if len(weights) != len(self.roster):
            raise InvalidInputError(f"{len(weights)} totals for a roster of "
                                    f"{len(self.roster)}")
        if not any(weights):
            return list(self._equal_split)
        # slots ascend by address: apportion's ties go to the lower address
        return [Share(a, b) for a, b in zip(self.roster, apportion(weights), strict=True) if b]

    @cached_property
    def _equal_split(self) -> list[Share]:
        return _clipped_shares(dict.fromkeys(self.roster, 0), self.roster)


def shares_from_int_totals(totals: Sequence[int] | Mapping[str, int],
                           roster: Sequence[str]) -> list[Share]:
    """Basis points from exact integer contributor totals (a list in roster order, or a
    mapping address -> total): clip at 0, largest remainder (ties to the lower address);
    all zero: equal split over ``roster``. Entries with 0 bps are left out."""
    if isinstance(totals, Mapping):
        weights = {canonical_address(a): int(t) for a, t in totals.items()}
    else:
        if len(totals) != len(roster):
            raise InvalidInputError(f"{len(totals)} totals for a roster of {len(roster)}")
        weights = {canonical_address(a): int(t) for a, t in zip(roster, totals, strict=True)}
    return _clipped_shares(weights, [canonical_address(a) for a in roster])


def _clipped_shares(totals: Mapping[str, int], roster: Sequence[str]) -> list[Share]:
    """Clip at 0, largest remainder; all zero: equal split (canonical addresses in)."""
    weights = {a: t if t > 0 else 0 for a, t in totals.items()}
    if any(weights.values()):
        return _largest_remainder(weights)
    if not roster:
        raise InvalidInputError("all totals are zero and the roster is empty")
    return _largest_remainder(dict.fromkeys(roster, 1))
