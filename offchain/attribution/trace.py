"""The attribution trace a challenged worker commits to, and the one step that proves a lie.

design.md "The trace a worker commits to when challenged": step ``p`` (rank ``p + 1``) is a
``protocol.TraceStep``; running contributor sums live in an indexed tree over the model's
sorted roster, updated at one slot per step; the trace root is the indexed tree over the step
leaves. A challenger who holds the input builds the honest trace itself
(:func:`build_trace`), reads the worker's published one (:func:`load_trace`) and submits the
first step that does not check (:func:`first_fraud`): N steps checkable each from itself and
its neighbour, so one step is always enough.

Leaves are hashed by the protocol's encoders of many leaves at once
(``protocol.trace_step_leaves`` / ``sums_leaves`` / ``data_item_leaves``, pinned there to the
one-leaf definitions).

Published file (JSON, ``attestia-trace/1``; the format is in design.md): columnar, integers
that may exceed 2**53 as decimal strings, hashes as 0x-hex. :func:`load_trace` recomputes the
trace root and the sums roots of the posted totals and refuses a file that does not match.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import numpy as np
from sha3 import keccak_256

from offchain.attribution.errors import AttributionError, InvalidInputError
from offchain.attribution.integer import IntegerContributors, IntegerKnnShapley
from offchain.merkle import IndexedTree
from offchain.protocol import (
    VALUE_SCALE,
    AttributionSpec,
    DataItem,
    FraudKind,
    StepOpening,
    TraceStep,
    address_word,
    canonical_address,
    data_item_leaves,
    sums_leaves,
    trace_step_leaves,
)

TRACE_FORMAT = "attestia-trace/1"
_UINT256 = 1 << 256
_INT256 = 1 << 255


class TraceError(AttributionError):
    """A trace is malformed, or does not match the root or totals it claims."""


class ItemsTree:
    """The roster items of a model in its quantised space: ``itemsRoot`` and item proofs."""

    def __init__(self, z_items: np.ndarray, labels: np.ndarray, owners: Sequence[str]) -> None:
        self.z = np.asarray(z_items, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.owners = tuple(canonical_address(o) for o in owners)
        self.tree = IndexedTree(data_item_leaves(self.z, self.labels, self.owners))

    @property
    def root(self) -> bytes:
        return self.tree.root

    def item(self, index: int) -> DataItem:
        return DataItem(index, self.owners[index], int(self.labels[index]),
                        tuple(int(v) for v in self.z[index]))

    def proof(self, index: int) -> list[bytes]:
        return self.tree.proof(index)


# -- the trace ------------------------------------------------------------------------------

def _sums_tree(roster: Sequence[str], sums: Sequence[int]) -> IndexedTree:
    return IndexedTree(sums_leaves(roster, sums))


@dataclass
class Trace:
    """A trace (honest or published), columnar: position ``p`` is rank ``p + 1``.

    ``roster`` is the model's sorted contributor roster (the sums slots), ``totals`` the
    final contributor sums the worker posts, ``label`` the query label it attributes for.
    """

    items: list[int]
    contributors: list[str]
    slots: list[int]
    labels: list[int]
    distances: list[int]
    values: list[int]
    sums_roots: list[bytes]
    roster: tuple[str, ...]
    totals: list[int]
    label: int
    k: int
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        columns = (self.items, self.contributors, self.slots, self.labels, self.distances,
                   self.values, self.sums_roots)
        if len({len(c) for c in columns}) != 1 or not self.items:
            raise TraceError("a trace needs N >= 1 steps with every column of length N")
        if len(self.totals) != len(self.roster) or not self.roster:
            raise TraceError(f"{len(self.totals)} totals for a roster of {len(self.roster)}")

    @property
    def n(self) -> int:
        return len(self.items)

    def step(self, position: int) -> TraceStep:
        p = position
        return TraceStep(self.items[p], self.contributors[p], self.slots[p], self.labels[p],
                         self.distances[p], self.values[p], self.sums_roots[p])

    @cached_property
    def leaves(self) -> list[bytes]:
        try:
            return trace_step_leaves(self.items, self.contributors, self.slots, self.labels,
                                     self.distances, self.values, self.sums_roots)
        except InvalidInputError as exc:
            raise TraceError(str(exc)) from None

    @cached_property
    def tree(self) -> IndexedTree:
        return IndexedTree(self.leaves)

    @property
    def root(self) -> bytes:
        """The trace root (indexed tree over the step leaves)."""
        return self.tree.root

    def step_proof(self, position: int) -> list[bytes]:
        return self.tree.proof(position)

    def opening(self, position: int) -> StepOpening:
        """Step ``position`` with its proof in the trace root, as the fraud proofs take it."""
        return StepOpening(position, self.step(position), tuple(self.step_proof(position)))

    @cached_property
    def zero_root(self) -> bytes:
        return _sums_tree(self.roster, [0] * len(self.roster)).root

    @cached_property
    def final_root(self) -> bytes:
        """Root of the posted totals (what the dispute stores as ``finalRoot``)."""
        return _sums_tree(self.roster, self.totals).root

    def root_before(self, position: int) -> bytes:
        """The sums root a step starts from (suffix sums): the next step's, or ``zeroRoot``
        after the last step."""
        return self.zero_root if position + 1 == self.n else self.sums_roots[position + 1]

    def sums_before(self, position: int, slot: int | None = None
                    ) -> tuple[str, int, list[bytes]]:
        """``(account, sum, proof)`` of step ``position``'s slot (or of ``slot``: the one a
        published step names) in the sums root it starts from (the sums over the positions
        after it), replaying this trace's own values; raises if that replay does not reach
        the root the trace states there (then a later step is the fraud)."""
        if slot is None:
            slot = self.slots[position]
        if not 0 <= slot < len(self.roster):
            raise TraceError(f"step {position} names slot {slot}, outside the roster")
        sums = [0] * len(self.roster)
        for p in range(position + 1, self.n):
            s = self.slots[p]
            if not 0 <= s < len(sums):
                raise TraceError(f"step {p} names slot {s}, outside the roster")
            sums[s] += self.values[p]
        tree = _sums_tree(self.roster, sums)
        if tree.root != self.root_before(position):
            raise TraceError(f"replaying steps {position + 1}..{self.n - 1} does not give the "
                             f"sums root step {position} starts from")
        return self.roster[slot], sums[slot], tree.proof(slot)

    def node(self, height: int, index: int) -> bytes:
        """The node at ``height`` (0: the leaves) and ``index`` of the trace tree (padding:
        the all-zero subtree)."""
        tree = self.tree
        level = tree._levels[height]
        return level[index] if index < len(level) else tree._zeros[height]

    # -- file form -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format": TRACE_FORMAT,
            **({"meta": self.meta} if self.meta else {}),
            "n": self.n,
            "k": self.k,
            "label": self.label,
            "root": "0x" + self.root.hex(),
            "roster": list(self.roster),
            "totals": [str(t) for t in self.totals],
            "zeroRoot": "0x" + self.zero_root.hex(),
            "finalRoot": "0x" + self.final_root.hex(),
            "steps": {
                "item": self.items,
                "contributor": self.contributors,
                "slot": self.slots,
                "label": self.labels,
                "distance": [str(v) for v in self.distances],
                "value": [str(v) for v in self.values],
                "sumsRoot": ["0x" + r.hex() for r in self.sums_roots],
            },
        }

    def dumps(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()


def build_trace(index: IntegerKnnShapley, contributors: IntegerContributors, zq: np.ndarray,
                label: int, *, meta: dict[str, Any] | None = None) -> Trace:
    """The honest trace of one query (quantised ``zq``, query ``label``). Sums are suffix
    sums: step p's root holds each contributor's sum over positions p..N-1, so every local
    check anchors at the far end (design.md "The trace a worker commits to")."""
    if contributors.n_points != index.n:
        raise InvalidInputError(f"{contributors.n_points} item owners for {index.n} items")
    order, dist = index.ranked(zq)
    values = index.values_by_rank(order, label)
    slots = contributors.slots[order]
    roster = contributors.roster
    # Walk from the far end: reversed columns, a cumulative sum within each slot's steps.
    rev_slots, rev_values = slots[::-1], values[::-1]
    by_slot = np.argsort(rev_slots, kind="stable")
    running = np.cumsum(rev_values[by_slot])
    starts = np.searchsorted(rev_slots[by_slot], rev_slots[by_slot], side="left")
    before = np.concatenate(([0], running))[starts]
    new_sum = np.empty_like(rev_values)
    new_sum[by_slot] = running - before
    totals = np.zeros(len(roster), dtype=np.int64)
    np.add.at(totals, slots, values)

    words = [address_word(a) for a in roster]
    sums_tree = IndexedTree(sums_leaves(roster, [0] * len(roster)))
    depth = sums_tree.depth
    levels = [list(level) for level in sums_tree._levels]
    zeros = sums_tree._zeros
    for height in range(depth):  # pad every level so a sibling always exists
        levels[height] += [zeros[height]] * ((len(levels[height]) + 1) // 2 * 2
                                             - len(levels[height]))
    roots: list[bytes] = []
    append = roots.append
    for slot, total in zip(rev_slots.tolist(), new_sum.tolist(), strict=True):
        # protocol.sums_leaf spelled inline (one call saved per step of N); the test of the
        # honest trace opens every sums root with protocol.sums_leaf.
        node = keccak_256(words[slot] + total.to_bytes(32, "big", signed=True)).digest()
        position = slot
        levels[0][position] = node
        for height in range(depth):
            sibling = levels[height][position ^ 1]
            node = keccak_256(node + sibling if position & 1 == 0 else sibling + node).digest()
            position >>= 1
            levels[height + 1][position] = node
        append(node)
    roots.reverse()
    items = order.tolist()
    return Trace(
        items=items,
        contributors=[roster[s] for s in slots.tolist()],
        slots=slots.tolist(),
        labels=index.labels[order].tolist(),
        distances=dist[order].tolist(),
        values=values.tolist(),
        sums_roots=roots,
        roster=roster,
        totals=totals.tolist(),
        label=int(label),
        k=index.k,
        meta=dict(meta or {}),
    )


def _int_column(data: Any, name: str, n: int, *, signed: bool) -> list[int]:
    if not isinstance(data, list) or len(data) != n:
        raise TraceError(f"steps.{name} must be a list of {n} integers")
    out = []
    for value in data:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TraceError(f"steps.{name} holds {value!r}, not an integer")
        try:
            number = int(value)
        except ValueError:
            raise TraceError(f"steps.{name} holds {value!r}, not an integer") from None
        low = -_INT256 if signed else 0
        high = _INT256 if signed else _UINT256
        if not low <= number < high:
            raise TraceError(f"steps.{name} holds {number}, outside "
                             f"{'int256' if signed else 'uint256'}")
        out.append(number)
    return out


def _hash(value: Any, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value[2:]) if isinstance(value, str) and value[:2] == "0x" else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise TraceError(f"{what} must be 32 bytes of 0x-hex; got {value!r}")
    return raw


def parse_trace(data: bytes | str | dict[str, Any], *, root: bytes | None = None) -> Trace:
    """Read a published trace and check it: the step leaves hash to the stated ``root``
    (and to ``root`` if given: the one committed on chain), and ``zeroRoot``/``finalRoot``
    are the roots of the roster's zero sums and posted totals."""
    try:
        doc = json.loads(data) if isinstance(data, bytes | str) else data
    except ValueError as exc:
        raise TraceError(f"a trace file is JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != TRACE_FORMAT:
        raise TraceError(f"not an {TRACE_FORMAT} trace file")
    try:
        steps = doc["steps"]
        n = int(doc["n"])
        roster = tuple(canonical_address(a) for a in doc["roster"])
        contributors = [canonical_address(a) for a in steps["contributor"]]
        trace = Trace(
            items=_int_column(steps["item"], "item", n, signed=False),
            contributors=contributors,
            slots=_int_column(steps["slot"], "slot", n, signed=False),
            labels=_int_column(steps["label"], "label", n, signed=False),
            distances=_int_column(steps["distance"], "distance", n, signed=False),
            values=_int_column(steps["value"], "value", n, signed=True),
            sums_roots=[_hash(r, "steps.sumsRoot") for r in steps["sumsRoot"]],
            roster=roster,
            totals=_int_column(doc["totals"], "totals", len(roster), signed=True),
            label=int(doc["label"]),
            k=int(doc["k"]),
            meta=dict(doc.get("meta") or {}),
        )
    except (KeyError, TypeError, ValueError, InvalidInputError) as exc:
        raise TraceError(f"malformed trace file: {exc}") from None
    stated = _hash(doc.get("root"), "root")
    if trace.root != stated:
        raise TraceError(f"the steps hash to trace root 0x{trace.root.hex()}, the file states "
                         f"0x{stated.hex()}")
    if root is not None and trace.root != bytes(root):
        raise TraceError(f"the trace root 0x{trace.root.hex()} is not the committed "
                         f"0x{bytes(root).hex()}")
    for key, actual in (("zeroRoot", trace.zero_root), ("finalRoot", trace.final_root)):
        if _hash(doc.get(key), key) != actual:
            raise TraceError(f"{key} is not the root of the roster's "
                             f"{'zero sums' if key == 'zeroRoot' else 'posted totals'}")
    return trace


def load_trace(path: Any, *, root: bytes | None = None) -> Trace:
    """:func:`parse_trace` of a file on disk."""
    from pathlib import Path

    return parse_trace(Path(path).read_bytes(), root=root)


def write_trace(trace: Trace, path: Any) -> None:
    from offchain.storage.atomic import atomic_write_bytes

    atomic_write_bytes(path, trace.dumps())


# -- a model's attribution ------------------------------------------------------------------

class AttributedPackage(Protocol):
    """What :meth:`AttributionModel.of_package` reads of a model package
    (:class:`offchain.models.package.ModelPackage` has it; models build on attribution, not
    the other way round)."""

    def attribution_spec(self) -> AttributionSpec: ...

    def integer_index(self) -> IntegerKnnShapley: ...

    def integer_contributors(self) -> IntegerContributors: ...

    def items_tree(self) -> ItemsTree: ...


@dataclass(frozen=True)
class AttributionModel:
    """What the dispute game needs of a model: its committed spec, the prepared integer
    index, who owns each item, and the items tree (for item proofs)."""

    spec: AttributionSpec
    index: IntegerKnnShapley
    contributors: IntegerContributors
    items: ItemsTree

    @classmethod
    def of_package(cls, package: AttributedPackage) -> AttributionModel:
        """From a loaded :class:`~offchain.models.package.ModelPackage`."""
        return cls(package.attribution_spec(), package.integer_index(),
                   package.integer_contributors(), package.items_tree())

    def trace(self, query: Any, label: int) -> Trace:
        """The honest trace of a quantised query and its label."""
        return build_trace(self.index, self.contributors, np.asarray(query, dtype=np.int64),
                           int(label))


# -- fraud ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fraud:
    """One checkable lie in a published trace: what the challenger submits."""

    kind: FraudKind
    positions: tuple[int, ...]
    reason: str


def expected_value(position: int, labels: Sequence[int], values: Sequence[int], n: int,
                   k: int, query_label: int) -> int:
    """The value the recursion gives step ``position`` from the next step (or ``s_N``)."""
    rank = position + 1
    a = int(labels[position] == query_label)
    if rank == n:
        return a * (VALUE_SCALE // max(k, n))
    diff = a - int(labels[position + 1] == query_label)
    width = max(k, rank)
    return values[position + 1] + (diff * VALUE_SCALE) // width


def first_fraud(published: Trace, honest: Trace) -> Fraud | None:
    """The first one-step fraud in ``published`` against the ``honest`` trace of the same
    query, or None if it is honest. Kinds are tried in the order DUPLICATE, ITEM, ORDER,
    VALUE, SUM, END (lowest position first within a kind); once the first four pass, the
    published steps are the honest ones but for their sums roots, so SUM is the last
    position whose root differs and its successor's root is the honest one (suffix sums)."""
    n = honest.n
    if published.n != n:
        raise TraceError(f"the published trace has {published.n} steps; the roster has {n}")
    if published.roster != honest.roster:
        raise TraceError("the published trace is over another roster")
    seen: dict[int, int] = {}
    for p, item in enumerate(published.items):
        if item in seen:
            return Fraud(FraudKind.DUPLICATE, (seen[item], p),
                         f"steps {seen[item]} and {p} both name item {item}")
        seen[item] = p
    distance_of = dict(zip(honest.items, honest.distances, strict=True))
    label_of = dict(zip(honest.items, honest.labels, strict=True))
    owner_of = dict(zip(honest.items, honest.contributors, strict=True))
    for p in range(n):
        item = published.items[p]
        if item >= n:
            return Fraud(FraudKind.ITEM, (p,), f"step {p} names item {item} >= N = {n}")
        for what, stated, actual in (
                ("contributor", published.contributors[p], owner_of[item]),
                ("label", published.labels[p], label_of[item]),
                ("distance", published.distances[p], distance_of[item])):
            if stated != actual:
                return Fraud(FraudKind.ITEM, (p,), f"step {p} (item {item}) states {what} "
                             f"{stated}, the roster and query give {actual}")
    for p in range(n - 1):
        here = (published.distances[p], published.items[p])
        there = (published.distances[p + 1], published.items[p + 1])
        if not here < there:
            return Fraud(FraudKind.ORDER, (p, p + 1),
                         f"steps {p} and {p + 1} are out of order: {here} then {there}")
    for p in range(n):
        want = expected_value(p, published.labels, published.values, n, honest.k,
                              honest.label)
        if published.values[p] != want:
            positions = (p,) if p == n - 1 else (p, p + 1)
            return Fraud(FraudKind.VALUE, positions,
                         f"step {p} states value {published.values[p]}, the recursion gives "
                         f"{want}")
    for p in range(n):
        slot = published.slots[p]
        if not 0 <= slot < len(honest.roster) or honest.roster[slot] != published.contributors[p]:
            return Fraud(FraudKind.SUM, (p,), f"step {p} names slot {slot}, which is not its "
                         f"contributor {published.contributors[p]}'s")
    for p in range(n - 1, -1, -1):
        if published.sums_roots[p] != honest.sums_roots[p]:
            return Fraud(FraudKind.SUM, (p,), f"step {p}'s sums root is not the next one "
                         "with the slot's sum plus the step's value")
    if published.sums_roots[0] != published.final_root:
        return Fraud(FraudKind.END, (0,), "the first step's sums root is not the posted "
                     "final sums root")
    return None


def leaf_fraud(step: TraceStep, position: int, honest: Trace) -> Fraud:
    """The one-step fraud of a worker's step that differs from the honest one at
    ``position``, checked against the honest step after it (the descent's end: every leaf
    after ``position`` agrees with the honest trace). Kinds tried: ITEM, ORDER, SKIP (the
    honest step lies between), VALUE, SUM; one always applies (design.md "The descent")."""
    n = honest.n
    honest_step = honest.step(position)
    if step == honest_step:
        raise TraceError(f"the step at position {position} is the honest one: no fraud there")
    item = step.item
    if item >= n:
        return Fraud(FraudKind.ITEM, (position,), f"step {position} names item {item} >= N")
    rank = honest.items.index(item)
    for what, stated, actual in (("contributor", step.contributor, honest.contributors[rank]),
                                 ("label", step.label, honest.labels[rank]),
                                 ("distance", step.distance, honest.distances[rank])):
        if stated != actual:
            return Fraud(FraudKind.ITEM, (position,), f"step {position} (item {item}) states "
                         f"{what} {stated}, the roster and query give {actual}")
    key = (step.distance, item)
    if position + 1 < n:
        after = (honest.distances[position + 1], honest.items[position + 1])
        if not key < after:
            return Fraud(FraudKind.ORDER, (position, position + 1),
                         f"steps {position} and {position + 1} are out of order")
    if item != honest_step.item:
        return Fraud(FraudKind.SKIP, (position, honest_step.item),
                     f"item {honest_step.item} lies between step {position} and the next")
    labels = [*honest.labels[:position], step.label, *honest.labels[position + 1:]]
    want = expected_value(position, labels, honest.values, n, honest.k, honest.label)
    if step.value != want:
        return Fraud(FraudKind.VALUE, (position,) if position + 1 == n
                     else (position, position + 1),
                     f"step {position} states value {step.value}, the recursion gives {want}")
    return Fraud(FraudKind.SUM, (position,), f"step {position}'s slot or sums root is not the "
                 "next step's sums with the slot's sum plus the value")
