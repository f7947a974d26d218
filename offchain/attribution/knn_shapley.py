"""Exact KNN-Shapley values of training points (Jia et al., PVLDB 2019, Theorem 1).

For a query ``(x_q, y_q)`` rank the training points by distance, nearest first
(``alpha_1 .. alpha_N``), let ``m_i = 1[y_{alpha_i} == y_q]`` and ``w_i = 1 / max(K, i)``:

    s_{alpha_N} = m_N * w_N
    s_{alpha_i} = s_{alpha_{i+1}} + (m_i - m_{i+1}) * w_i

``w_i`` is the paper's ``min(K, i) / (i K)``. The paper states ``s_{alpha_N} = m_N / N``, which
assumes ``N >= K``; ``m_N / max(K, N)`` is the value of the farthest point for every ``K`` (it
only counts while fewer than ``K`` others are present), so ``k > N`` stays exact.

What "exact" means here, and why it matters for settlement: anyone who recomputes an
attribution must get the same numbers. The order is the order of the *true* Euclidean
distances of the float64 inputs, ties broken by ascending training index. Distances are ranked
by the fast key ``||x||^2 - 2 x.q`` (one matrix-vector product); neighbours whose keys differ by
less than that key's proven rounding-error bound are re-ranked with exact rational arithmetic
(on integer-valued data the key is itself exact and only ties need the index rule). So the order
does not depend on the BLAS, the thread count or the summation order, and the values follow
from it by the same sequence of IEEE operations everywhere.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction

import numpy as np

from offchain.attribution.errors import InvalidInputError

_UNIT_ROUNDOFF = float(np.finfo(np.float64).eps) / 2
_TINY = float(np.finfo(np.float64).tiny)
_EXACT_INTEGER_LIMIT = float(2**53)


class KnnShapley:
    """A training set prepared for repeated exact KNN-Shapley queries.

    Building it precomputes everything that queries share (squared norms, a transposed copy for
    a fast matrix-vector product, the rank weights), so one query costs one matvec, one sort and
    one cumulative sum. Arrays passed in are copied; later changes to them have no effect.
    """

    def __init__(self, x_train: np.ndarray, y_train: np.ndarray, k: int) -> None:
        x = _float_matrix(x_train, "x_train")
        n, d = x.shape
        self._k = _positive_k(k)
        self._y = _labels(y_train, n, "y_train")
        self._xt = np.ascontiguousarray(x.T)
        self._sqnorm = np.einsum("ij,ij->i", x, x)
        ranks = np.arange(1, n + 1, dtype=np.float64)
        self._weight = 1.0 / np.maximum(ranks, float(self._k))
        self._max_norm = float(np.sqrt(self._sqnorm.max()))
        # gamma_{d+2} bounds the relative error of the dot products, the norms and the final sum.
        self._gamma = (d + 2) * _UNIT_ROUNDOFF / (1 - (d + 2) * _UNIT_ROUNDOFF)
        self._integral = bool(np.all(x == np.floor(x)))
        self._max_abs = float(np.abs(x).max())
        # Identical rows (duplicated data) are exactly tied for every query: their order is
        # the index order, with no exact arithmetic needed.
        _, row_class = np.unique(x, axis=0, return_inverse=True)
        self._row_class = row_class.reshape(-1)

    @property
    def n_train(self) -> int:
        """Number of training points N."""
        return self._xt.shape[1]

    @property
    def dim(self) -> int:
        """Feature dimension d."""
        return self._xt.shape[0]

    @property
    def k(self) -> int:
        """The K of the K-nearest-neighbour utility."""
        return self._k

    def values(self, x_query: np.ndarray, y_query: object) -> np.ndarray:
        """Exact KNN-Shapley value of every training point for one query, shape ``(N,)``."""
        q = self._query_matrix(x_query, single=True)
        keys = q[0] @ self._xt
        keys *= -2.0
        keys += self._sqnorm
        order = self._exact_order(keys, q[0])
        return self._values_from_order(order[None, :], np.asarray([y_query]))[0]

    def values_batch(self, x_query: np.ndarray, y_query: np.ndarray, *,
                     chunk_size: int = 16, workers: int = 1) -> np.ndarray:
        """Per-query values for many queries, shape ``(n_query, N)``: row ``j`` is query ``j``.

        Holds ``n_query * N`` float64 values; for large batches prefer :meth:`iter_values`.
        """
        q = self._query_matrix(x_query, single=False)
        out = np.empty((q.shape[0], self.n_train), dtype=np.float64)
        row = 0
        for block in self.iter_values(q, y_query, chunk_size=chunk_size, workers=workers):
            out[row:row + block.shape[0]] = block
            row += block.shape[0]
        return out

    def iter_values(self, x_query: np.ndarray, y_query: np.ndarray, *,
                    chunk_size: int = 16, workers: int = 1) -> Iterator[np.ndarray]:
        """Yield per-query values in query order, ``chunk_size`` queries (rows) at a time.

        Memory stays bounded by ``workers`` chunks in flight, so a worker can turn each row into
        the share list of one inference without materialising ``n_query * N`` values. With
        ``workers > 1`` chunks run on threads (the sort releases the GIL); limit BLAS threads
        with threadpoolctl if you also want a fixed core count.
        """
        q = self._query_matrix(x_query, single=False)
        labels = _labels(y_query, q.shape[0], "y_query")
        if chunk_size < 1 or workers < 1:
            raise InvalidInputError(
                f"chunk_size and workers must be >= 1 (got {chunk_size}, {workers})"
            )
        bounds = [(s, min(s + chunk_size, q.shape[0])) for s in range(0, q.shape[0], chunk_size)]
        if workers == 1:
            for start, stop in bounds:
                yield self._chunk_values(q[start:stop], labels[start:stop])
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending: deque[Future[np.ndarray]] = deque()
            for start, stop in bounds:
                pending.append(pool.submit(self._chunk_values, q[start:stop], labels[start:stop]))
                if len(pending) >= workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    # -- internals ---------------------------------------------------------------------------

    def _chunk_values(self, q: np.ndarray, labels: np.ndarray) -> np.ndarray:
        keys = q @ self._xt
        keys *= -2.0
        keys += self._sqnorm
        order = np.argsort(keys, axis=1)
        self._fix_near_ties(order, keys, q)
        return self._values_from_order(order, labels)

    def _exact_order(self, keys: np.ndarray, q: np.ndarray) -> np.ndarray:
        order = np.argsort(keys)
        self._fix_near_ties(order[None, :], keys[None, :], q[None, :])
        return order

    def _fix_near_ties(self, order: np.ndarray, keys: np.ndarray, q: np.ndarray) -> None:
        """Re-rank, in place, neighbours the fast key cannot separate with certainty.

        Rows are independent queries (``order``, ``keys``: ``(m, N)``; ``q``: ``(m, d)``),
        handled together so a chunk costs a few array operations, not a few per query.
        """
        rows, n = order.shape
        gaps = np.diff(np.take_along_axis(keys, order, axis=1), axis=1)
        tol = np.empty(rows)
        for row in range(rows):
            if self._key_is_exact(q[row]):
                if np.any(gaps[row] == 0):
                    order[row] = np.argsort(keys[row], kind="stable")
                tol[row] = -np.inf  # the key order is exact: nothing else to fix
                continue
            q_norm = float(np.sqrt(q[row] @ q[row]))
            # Each key is within err of its true value, so two keys whose true order differs
            # (or which are truly equal) are at most 2*err apart: every such pair lies in one
            # run of consecutive gaps <= tol. Factor 2 on top covers the rounding of the bound.
            err = self._gamma * (self._max_norm**2 + 2 * self._max_norm * q_norm)
            tol[row] = 4 * err + 4 * self.dim * _TINY
        close = gaps <= tol[:, None]
        if not close.any():
            return
        padded = np.zeros((rows, n + 1), dtype=bool)
        padded[:, 1:n] = close
        # Flat indices into order.reshape(-1): run i spans flat[starts[i]:stops[i] + 1],
        # never across rows (every row is padded with False on both ends).
        edges = np.flatnonzero(padded[:, 1:] != padded[:, :-1])
        starts, stops = edges[0::2], edges[1::2]
        flat = order.reshape(-1)
        # A run made only of copies of one row (duplicated data) is ordered by index alone,
        # as _exact_rank would: sort all such runs in one vectorised pass, since duplicated
        # data makes them common and a call per run would dominate the query.
        classes = self._row_class[flat]
        distinct = np.concatenate(([0], np.cumsum(classes[1:] != classes[:-1])))
        copies = distinct[stops] == distinct[starts]
        if copies.any():
            first, lengths = starts[copies], stops[copies] - starts[copies] + 1
            offsets = np.cumsum(lengths) - lengths
            positions = np.repeat(first - offsets, lengths) + np.arange(int(lengths.sum()))
            members = flat[positions]
            run = np.repeat(np.arange(len(first)), lengths)
            flat[positions] = members[np.lexsort((members, run))]
        for start, stop in zip(starts[~copies].tolist(), stops[~copies].tolist(), strict=True):
            flat[start:stop + 1] = self._exact_rank(flat[start:stop + 1], q[start // n])

    def _key_is_exact(self, q: np.ndarray) -> bool:
        """Integer data small enough that every partial sum of the key is an exact float."""
        if not self._integral or not np.all(q == np.floor(q)):
            return False
        bound = max(self._max_abs, float(np.abs(q).max()))
        return 4 * self.dim * bound * bound < _EXACT_INTEGER_LIMIT

    def _exact_rank(self, members: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Sort ``members`` by exact squared distance, then by index."""
        classes = self._row_class[members]
        if np.all(classes == classes[0]):
            return np.sort(members)
        rows = self._xt[:, members].T
        distinct, inverse = np.unique(rows, axis=0, return_inverse=True)
        fq = [Fraction(v) for v in q.tolist()]
        exact = [sum((Fraction(a) - b) ** 2 for a, b in zip(row, fq, strict=True))
                 for row in distinct.tolist()]
        ranked = sorted(zip(inverse.reshape(-1).tolist(), members.tolist(), strict=True),
                        key=lambda item: (exact[item[0]], item[1]))
        return np.asarray([index for _, index in ranked], dtype=members.dtype)

    def _values_from_order(self, order: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Theorem 1 for each row of ``order`` (rows: queries, columns: ranks)."""
        match = (self._y[order] == labels[:, None]).astype(np.float64)
        # Reversed recursion terms: [s_N, d_{N-1}, ..., d_1]; its running sum is s_N .. s_1,
        # the same additions in the same order as the paper's recursion.
        terms = np.empty_like(match)
        terms[:, 0] = match[:, -1] * self._weight[-1]
        np.subtract(match[:, -2::-1], match[:, :0:-1], out=terms[:, 1:])
        terms[:, 1:] *= self._weight[-2::-1]
        np.cumsum(terms, axis=1, out=terms)
        values = np.empty_like(terms)
        for row in range(order.shape[0]):  # a row-wise scatter is ~2x faster than put_along_axis
            values[row, order[row]] = terms[row, ::-1]
        return values

    def _query_matrix(self, x_query: np.ndarray, *, single: bool) -> np.ndarray:
        q = _float_array(x_query, "x_query")
        if single and q.ndim == 1:
            q = q[None, :]
        elif single or q.ndim != 2:
            want = "(d,)" if single else "(n_query, d)"
            raise InvalidInputError(f"x_query must have shape {want}; got shape {q.shape}")
        if q.shape[1] != self.dim:
            raise InvalidInputError(
                f"x_query has {q.shape[1]} features but the training set has {self.dim}"
            )
        return q


def knn_shapley(x_train: np.ndarray, y_train: np.ndarray, x_query: np.ndarray,
                y_query: object, k: int) -> np.ndarray:
    """Exact KNN-Shapley value of every training point for one query, shape ``(N,)``.

    One-shot convenience: it prepares the training set on every call. Build a
    :class:`KnnShapley` once to answer many queries quickly.
    """
    return KnnShapley(x_train, y_train, k).values(x_query, y_query)


def knn_shapley_batch(x_train: np.ndarray, y_train: np.ndarray, x_query: np.ndarray,
                      y_query: np.ndarray, k: int) -> np.ndarray:
    """Per-query exact values, shape ``(n_query, N)``: row ``j`` values query ``j``.

    Per query rather than summed: each inference is attributed on its own. The paper's
    multi-query valuation is the mean of these rows.
    """
    return KnnShapley(x_train, y_train, k).values_batch(x_query, y_query)


def _float_array(data: np.ndarray, name: str) -> np.ndarray:
    try:
        array = np.array(data, dtype=np.float64, order="C")
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be numeric: {exc}") from exc
    if not np.all(np.isfinite(array)):
        raise InvalidInputError(f"{name} contains NaN or infinite values; clean the data first")
    return array


def _float_matrix(data: np.ndarray, name: str) -> np.ndarray:
    matrix = _float_array(data, name)
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise InvalidInputError(
            f"{name} must be a non-empty 2-D array (points x features); got shape {matrix.shape}"
        )
    return matrix


def _labels(data: np.ndarray, n: int, name: str) -> np.ndarray:
    labels = np.asarray(data)
    if labels.shape != (n,):
        raise InvalidInputError(f"{name} must have shape ({n},); got shape {labels.shape}")
    return labels


def _positive_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInputError(f"k must be a positive integer; got {k!r}")
    return int(k)
