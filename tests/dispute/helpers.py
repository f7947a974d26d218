"""A small disputable model on the suite's Anvil, records made by an honest or lying worker,
and the lies a worker can tell in its trace (each breaks exactly one kind of one-step check)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from offchain.attribution.integer import (
    IntegerContributors,
    IntegerKnnShapley,
    label_of_output,
    quantization,
    quantize,
    shares_from_int_totals,
)
from offchain.attribution.trace import AttributionModel, ItemsTree, Trace, expected_value
from offchain.merkle import IndexedTree
from offchain.models.encoding import commit, encode_tensor, new_salt
from offchain.models.manifest import Preprocessing
from offchain.protocol import (
    VALUE_SCALE,
    AttributionSpec,
    Inference,
    Request,
    Share,
    attribution_spec_hash,
    sums_leaf,
)
from offchain.sealing import output_salt
from tests.contracts.helpers import REQUESTER, WORKER, Harness, contributor


@dataclass(frozen=True)
class Case:
    """One single record and everything its requester holds."""

    request: Request
    record: Inference
    input_bytes: bytes
    salt: bytes
    output_bytes: bytes
    query: tuple[int, ...]
    label: int
    honest: Trace
    shares: tuple[Share, ...]

    @property
    def request_id(self) -> bytes:
        return self.record.requestId


class Game:
    """A model whose dataRoot is its attribution spec, served by the harness's worker."""

    def __init__(self, h: Harness, *, n: int = 10, d: int = 3, c: int = 3, k: int = 3,
                 seed: int = 7, content_hash: bytes | None = None) -> None:
        rng = np.random.default_rng(seed)
        self.h = h
        raw = rng.normal(size=(n, d)).astype(np.float32)
        labels = np.arange(n, dtype=np.int64) % 2
        self.roster = sorted((contributor(i) for i in range(c)), key=lambda a: int(a, 16))
        owners = [self.roster[i % c] for i in range(n)]
        pre = Preprocessing(tuple(float(v) for v in raw.astype(np.float64).mean(axis=0)),
                            tuple(float(v) or 1.0 for v in raw.astype(np.float64).std(axis=0)))
        self.mu, self.rho = quantization(pre)
        z = quantize(raw, self.mu, self.rho)
        items = ItemsTree(z, labels, owners)
        spec = AttributionSpec(items.root, n, k, self.mu, self.rho)
        self.model = AttributionModel(spec, IntegerKnnShapley(z, labels, k),
                                      IntegerContributors(owners, self.roster), items)
        self.model_id = h.register_model(contributors=self.roster,
                                         data_root=attribution_spec_hash(spec),
                                         content_hash=content_hash or secrets.token_bytes(32))
        if h.attestia.registry.worker(WORKER.address) is None:
            self.h.register_worker()
        self.rng = rng

    def case(self, *, shares: Callable[[Trace], Sequence[Share]] | None = None) -> Case:
        """A paid request and the worker's record of it, with the honest attribution unless
        ``shares`` says otherwise (given the honest trace)."""
        d = len(self.mu)
        x = self.rng.normal(size=(1, d)).astype(np.float32)
        logits = self.rng.normal(size=(1, 2)).astype(np.float32)
        salt = new_salt()
        input_bytes, output_bytes = encode_tensor(x), encode_tensor(logits)
        request = self.h.request(self.model_id, input_commitment=commit(salt, input_bytes),
                                 requester=REQUESTER)
        query = tuple(int(v) for v in quantize(x, self.mu, self.rho)[0])
        label = label_of_output(logits[0])
        honest = self.model.trace(query, label)
        chosen = (tuple(shares(honest)) if shares is not None
                  else tuple(shares_from_int_totals(honest.totals, self.roster)))
        record = self.h.record(request, chosen,
                               output_commitment=commit(output_salt(salt), output_bytes))
        self.h.fulfill(request, record, chosen)
        return Case(request, record, input_bytes, salt, output_bytes, query, label, honest,
                    chosen)

    def shares_of(self, trace: Trace) -> list[Share]:
        return shares_from_int_totals(trace.totals, self.roster)


# -- lies ------------------------------------------------------------------------------------

def rebuilt(trace: Trace, *, extra_at: int | None = None, **columns: Any) -> Trace:
    """``trace`` with some columns replaced and its running (suffix) sums (roots, totals)
    recomputed from its values, so that only the intended check fails; ``extra_at`` adds a
    wrong amount to the running sum at that step (a wrong-sum lie)."""
    forged = replace(trace, **columns)
    tree = IndexedTree([sums_leaf(a, 0) for a in forged.roster])
    sums = [0] * len(forged.roster)
    roots = []
    for p in range(forged.n - 1, -1, -1):  # suffix sums: from the far end
        slot = forged.slots[p]
        sums[slot] += forged.values[p] + (10**9 if p == extra_at else 0)
        roots.append(tree.update(slot, sums_leaf(forged.roster[slot], sums[slot])))
    roots.reverse()
    return replace(forged, sums_roots=roots, totals=sums)


def revalued(trace: Trace, labels: Sequence[int]) -> list[int]:
    """The recursion's values for a trace whose rank-order labels are ``labels``."""
    n = len(labels)
    values = [0] * n
    for p in range(n - 1, -1, -1):
        values[p] = expected_value(p, labels, values, n, trace.k, trace.label)
    return values


def _swap(column: list[Any], p: int) -> list[Any]:
    out = list(column)
    out[p], out[p + 1] = out[p + 1], out[p]
    return out


def lie_outside_item(t: Trace) -> Trace:
    return rebuilt(t, items=[*t.items[:2], t.n, *t.items[3:]])


def lie_distance(t: Trace) -> Trace:
    return rebuilt(t, distances=[*t.distances[:4], t.distances[4] - 1, *t.distances[5:]])


def lie_order(t: Trace) -> Trace:
    p = next(p for p in range(t.n - 1) if t.labels[p] != t.labels[p + 1])
    labels = _swap(t.labels, p)
    return rebuilt(t, items=_swap(t.items, p), contributors=_swap(t.contributors, p),
                   slots=_swap(t.slots, p), labels=labels, distances=_swap(t.distances, p),
                   values=revalued(t, labels))


def lie_duplicate(t: Trace) -> Trace:
    """The nearest item counted twice, in place of the second nearest."""
    def twice(column: list[Any]) -> list[Any]:
        return [column[0], column[0], *column[2:]]
    labels = twice(t.labels)
    return rebuilt(t, items=twice(t.items), contributors=twice(t.contributors),
                   slots=twice(t.slots), labels=labels, distances=twice(t.distances),
                   values=revalued(t, labels))


def lie_value(t: Trace) -> Trace:
    return rebuilt(t, values=[*t.values[:3], t.values[3] + 12_345, *t.values[4:]])


def lie_value_rebuilt(t: Trace) -> Trace:
    """A value lie at position 4, large enough to move the bps, with every sum recomputed
    from it (the totals follow)."""
    return rebuilt(t, values=[*t.values[:4], t.values[4] + 3 * VALUE_SCALE, *t.values[5:]])


def lie_sum(t: Trace) -> Trace:
    return rebuilt(t, extra_at=5)


def lie_totals(t: Trace, totals: Sequence[int]) -> Trace:
    """Honest steps, but posted totals of the worker's choosing (the last root no longer
    matches the final one)."""
    return replace(t, totals=list(totals))
