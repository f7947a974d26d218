"""Attribution traces: leaves, file form, proofs, and the first provable lie of each kind."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offchain import protocol
from offchain.attribution.integer import IntegerContributors, IntegerKnnShapley
from offchain.attribution.trace import (
    ItemsTree,
    Trace,
    TraceError,
    build_trace,
    first_fraud,
    parse_trace,
)
from offchain.merkle import process_indexed, verify_indexed
from offchain.protocol import FraudKind, TraceStep, canonical_address, data_item_leaves

ROSTER = tuple(sorted((canonical_address(f"0x{i * 0x1F3D5B79:040x}") for i in range(1, 6)),
                      key=lambda a: int(a, 16)))


def setup(n: int = 40, d: int = 3, k: int = 5, seed: int = 0, spread: int = 5):
    rng = np.random.default_rng(seed)
    z = rng.integers(-spread, spread + 1, (n, d))
    y = rng.integers(0, 2, n)
    owners = [ROSTER[i] for i in rng.integers(0, len(ROSTER) - 1, n)]  # last one owns none
    index = IntegerKnnShapley(z, y, k)
    contributors = IntegerContributors(owners, roster=ROSTER)
    q = rng.integers(-spread, spread + 1, d)
    return index, contributors, q, owners


def honest(label: int = 1, **kw) -> tuple[Trace, IntegerKnnShapley, IntegerContributors]:
    index, contributors, q, _ = setup(**kw)
    return build_trace(index, contributors, q, label), index, contributors


def test_fast_leaves_are_the_protocol_leaves() -> None:
    step = TraceStep(7, ROSTER[1], 1, 2, 2**61 + 5, -(2**41) - 3, bytes(range(32)))
    assert protocol.trace_step_leaves(*([v] for v in step.as_tuple())) == [
        protocol.trace_step_leaf(step)]
    assert protocol.sums_leaves([ROSTER[2]], [-(2**62)]) == [
        protocol.sums_leaf(ROSTER[2], -(2**62))]
    z = np.asarray([[1, -1, 0], [-(2**24) + 1, 2**24 - 1, -7]])
    leaves = data_item_leaves(z, np.asarray([3, 0]), [ROSTER[0], ROSTER[4]])
    for i in range(2):
        item = protocol.DataItem(i, [ROSTER[0], ROSTER[4]][i], [3, 0][i],
                                 tuple(int(v) for v in z[i]))
        assert leaves[i] == protocol.data_item_leaf(item)


def test_honest_trace_is_consistent() -> None:
    trace, index, contributors = honest()
    assert first_fraud(trace, trace) is None
    assert trace.sums_roots[0] == trace.final_root  # suffix sums: step 0 holds them all
    values = np.empty(trace.n, dtype=np.int64)
    values[trace.items] = trace.values
    assert trace.totals == contributors.totals(values)
    assert trace.totals[-1] == 0  # a roster contributor with no items keeps a zero sum
    assert any(v < 0 for v in trace.values)
    for p in range(trace.n):  # the column-wise leaves are the protocol's
        assert trace.leaves[p] == protocol.trace_step_leaf(trace.step(p))
    for p in (0, 17, trace.n - 1):
        assert verify_indexed(trace.leaves[p], p, trace.step_proof(p), trace.root)
        opening = trace.opening(p)
        assert verify_indexed(protocol.trace_step_leaf(opening.step), opening.position,
                              list(opening.proof), trace.root)
        account, before, proof = trace.sums_before(p)
        slot = trace.slots[p]
        assert account == trace.contributors[p]
        assert verify_indexed(protocol.sums_leaf(account, before), slot, proof,
                              trace.root_before(p))
        after = protocol.sums_leaf(account, before + trace.values[p])
        assert process_indexed(after, slot, proof) == trace.sums_roots[p]


def test_items_tree_opens_every_item() -> None:
    index, _, _, owners = setup()
    items = ItemsTree(index.items, index.labels, owners)
    for i in (0, 39):
        item = items.item(i)
        assert verify_indexed(protocol.data_item_leaf(item), i, items.proof(i), items.root)


def test_file_round_trip_and_tampering() -> None:
    trace, _, _ = honest()
    loaded = parse_trace(trace.dumps(), root=trace.root)
    assert (loaded.root, loaded.totals, loaded.sums_roots) == (trace.root, trace.totals,
                                                               trace.sums_roots)
    assert first_fraud(loaded, trace) is None
    doc = trace.to_json()
    with pytest.raises(TraceError, match="committed"):
        parse_trace(doc, root=bytes(32))
    doc["steps"]["value"][3] = str(int(doc["steps"]["value"][3]) + 1)
    with pytest.raises(TraceError, match="trace root"):
        parse_trace(doc)
    doc = trace.to_json()
    doc["totals"][0] = "1"
    with pytest.raises(TraceError, match="finalRoot"):
        parse_trace(doc)
    for bad in (b"{", b"[]", b'{"format": "attestia-trace/1"}'):
        with pytest.raises(TraceError):
            parse_trace(bad)


def lie(trace: Trace, **columns) -> Trace:
    changed = dataclasses.replace(trace, **{k: list(v) for k, v in columns.items()})
    changed.__dict__.pop("leaves", None)
    changed.__dict__.pop("tree", None)
    changed.__dict__.pop("final_root", None)
    return changed


def with_step(trace: Trace, p: int, **fields) -> Trace:
    columns = {name: list(getattr(trace, name)) for name in fields}
    for name, value in fields.items():
        columns[name][p] = value
    return lie(trace, **columns)


def test_each_lie_is_found_with_its_kind_and_position() -> None:
    trace, index, contributors = honest()
    n, p = trace.n, 11

    def found(published: Trace) -> tuple[FraudKind, tuple[int, ...]]:
        fraud = first_fraud(published, trace)
        assert fraud is not None
        return fraud.kind, fraud.positions

    assert found(with_step(trace, p, items=n)) == (FraudKind.ITEM, (p,))
    other = ROSTER[(ROSTER.index(trace.contributors[p]) + 1) % len(ROSTER)]
    assert found(with_step(trace, p, contributors=other)) == (FraudKind.ITEM, (p,))
    assert found(with_step(trace, p, distances=trace.distances[p] + 1)) == (FraudKind.ITEM, (p,))
    huge = with_step(trace, p, distances=2**200)  # beyond int64: leaves built step by step
    assert huge.leaves[p] == protocol.trace_step_leaf(huge.step(p))
    assert found(huge) == (FraudKind.ITEM, (p,))
    assert found(with_step(trace, p, labels=1 - trace.labels[p])) == (FraudKind.ITEM, (p,))
    # Two adjacent steps swapped (each still true to its item): an order lie.
    swapped = {name: list(getattr(trace, name)) for name in
               ("items", "contributors", "slots", "labels", "distances")}
    for column in swapped.values():
        column[p], column[p + 1] = column[p + 1], column[p]
    assert found(lie(trace, **swapped)) == (FraudKind.ORDER, (p, p + 1))
    # One item twice (the second copy true to the item): a duplicate.
    q = p + 5
    dup = with_step(trace, q, items=trace.items[p], contributors=trace.contributors[p],
                    slots=trace.slots[p], labels=trace.labels[p],
                    distances=trace.distances[p])
    assert found(dup) == (FraudKind.DUPLICATE, (p, q))
    # A wrong recursion step.
    kind, positions = found(with_step(trace, p, values=trace.values[p] + 1))
    assert kind == FraudKind.VALUE and p in positions
    assert found(with_step(trace, n - 1, values=trace.values[n - 1] + 1))[0] == FraudKind.VALUE
    # A wrong running sum, and a slot that is not the step's contributor.
    assert found(with_step(trace, p, sums_roots=bytes(32))) == (FraudKind.SUM, (p,))
    wrong_slot = (trace.slots[p] + 1) % len(ROSTER)
    assert found(with_step(trace, p, slots=wrong_slot)) == (FraudKind.SUM, (p,))
    # Honest steps, other posted totals: the end does not match.
    totals = list(trace.totals)
    totals[0] += 1
    assert found(lie(trace, totals=totals)) == (FraudKind.END, (0,))


def test_misattribution_with_an_honest_output_is_a_value_lie() -> None:
    """The issue's attack: right answer, shares computed for another label."""
    index, contributors, q, _ = setup()
    trace = build_trace(index, contributors, q, 1)
    liar = build_trace(index, contributors, q, 0)
    fraud = first_fraud(liar, trace)
    assert fraud is not None and fraud.kind == FraudKind.VALUE


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 30), k=st.integers(1, 8), seed=st.integers(0, 10**6),
       spread=st.sampled_from([1, 3, 1000]), label=st.integers(0, 1))
def test_honest_traces_check_at_every_step(n: int, k: int, seed: int, spread: int,
                                           label: int) -> None:
    trace, _, _ = honest(label=label, n=n, k=k, seed=seed, spread=spread)
    assert first_fraud(trace, trace) is None
    assert trace.sums_roots[0] == trace.final_root  # suffix sums: step 0 holds them all
    assert parse_trace(trace.dumps()).root == trace.root


def test_trace_of_100k_items_builds_in_seconds() -> None:
    rng = np.random.default_rng(3)
    n, d, c = 100_000, 8, 1024
    roster = tuple(sorted((canonical_address(f"0x{i * 7919 + 1:040x}") for i in range(c)),
                          key=lambda a: int(a, 16)))
    owners = [roster[i] for i in rng.integers(0, c, n)]
    index = IntegerKnnShapley(rng.integers(-50_000, 50_000, (n, d)), rng.integers(0, 2, n), 5)
    contributors = IntegerContributors(owners, roster=roster)
    started = time.perf_counter()
    trace = build_trace(index, contributors, rng.integers(-50_000, 50_000, d), 1)
    root = trace.root
    elapsed = time.perf_counter() - started
    assert trace.sums_roots[0] == trace.final_root and len(root) == 32
    assert elapsed < 15, elapsed
