"""The batch hot path's speed-ups give the very results of the straightforward code.

Pinned here: the direct ``abi.encode(Share[])`` writer against eth_abi, the integer
largest-remainder method against exact fractions, fsum over a buffer against fsum over a
list, the chunk-wise KNN tie fixing against an exact brute-force ranking, the shallow
``Inference`` tuple against ``astuple``, and ``build_batch`` against per-request evaluation.
"""

from __future__ import annotations

import math
import random
from dataclasses import astuple
from fractions import Fraction

import numpy as np
import pytest
from eth_abi import encode

from offchain.attribution import ContributorMap, KnnShapley
from offchain.attribution.shares import shares_from_totals
from offchain.merkle import StandardMerkleTree
from offchain.models.encoding import encode_tensor
from offchain.protocol import (
    BPS,
    INFERENCE_ABI_TYPES,
    PROOF_SIGNED,
    Inference,
    address_key,
    canonical_address,
    encode_shares,
    model_id,
)
from offchain.record.compute import InferenceEngine
from offchain.request.inbox import offchain_request, parse_request
from offchain.worker.batching import batch_file, build_batch

WORKER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def fraction_largest_remainder(totals: dict[str, float], roster: list[str]) -> list:
    """The textbook method on exact fractions (the reference the integer version replaces)."""
    weights = {canonical_address(a): Fraction(max(v, 0.0)) for a, v in totals.items()}
    if not any(weights.values()):
        weights = {canonical_address(a): Fraction(1) for a in roster}
    total = sum(weights.values())
    quotas = {a: w * BPS / total for a, w in weights.items()}
    bps = {a: math.floor(q) for a, q in quotas.items()}
    leftover = BPS - sum(bps.values())
    for a in sorted(quotas, key=lambda a: (-(quotas[a] - bps[a]), address_key(a)))[:leftover]:
        bps[a] += 1
    return sorted(((a, b) for a, b in bps.items() if b > 0), key=lambda s: address_key(s[0]))


def test_shares_and_their_encoding_match_the_reference_methods() -> None:
    rng = random.Random(7)
    pool = ["0x" + "".join(rng.choice("0123456789abcdef") for _ in range(40)) for _ in range(40)]
    specials = [0.0, -0.0, 1 / 3, 2 / 3, 0.1, 5e-324, 1e-300, 1e300, -1.0]
    for _ in range(3000):
        roster = rng.sample(pool, rng.randint(1, 12))
        totals = {a: (rng.choice(specials) if rng.random() < 0.4 else
                      rng.random() * 10 ** rng.randint(-20, 4)) for a in roster}
        shares = shares_from_totals(totals, roster=roster)
        assert shares == fraction_largest_remainder(totals, roster)
        assert encode_shares(shares) == encode(["(address,uint16)[]"], [shares])


def test_contributor_totals_are_fsum_of_each_contributors_points() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        n, c = int(rng.integers(1, 2000)), int(rng.integers(1, 20))
        owners = [f"0x{int(i) + 1:040x}" for i in rng.integers(0, c, n)]
        values = rng.standard_normal(n) * np.exp(rng.uniform(-40, 2, n))
        values[rng.random(n) < 0.2] = 0.0
        cmap = ContributorMap(owners)
        expected = {}
        for owner, value in zip(owners, values.tolist(), strict=True):
            expected.setdefault(canonical_address(owner), []).append(value)
        totals = cmap.totals(values)
        assert totals == {a: math.fsum(v) for a, v in expected.items()} | {
            a: 0.0 for a in cmap.roster if a not in expected}


def brute_force_values(x: np.ndarray, y: np.ndarray, q: np.ndarray, label: int,
                       k: int) -> np.ndarray:
    """Theorem 1 over the exact order: exact squared distance, then index."""
    fq = [Fraction(v) for v in q.tolist()]
    exact = [sum((Fraction(a) - b) ** 2 for a, b in zip(row, fq, strict=True))
             for row in x.tolist()]
    order = sorted(range(len(x)), key=lambda i: (exact[i], i))
    n = len(x)
    match = [1.0 if y[i] == label else 0.0 for i in order]
    terms = [match[-1] * (1.0 / max(n, k))]
    for rank in range(n - 1, 0, -1):  # reversed recursion terms, as the module sums them
        terms.append((match[rank - 1] - match[rank]) * (1.0 / max(rank, k)))
    sums = np.cumsum(np.array(terms))
    values = np.empty(n)
    for position, index in enumerate(order):
        values[index] = sums[n - 1 - position]
    return values


def test_chunked_knn_tie_fixing_equals_the_exact_order() -> None:
    rng = np.random.default_rng(5)
    for trial in range(12):
        d = int(rng.integers(1, 4))
        base = rng.standard_normal((int(rng.integers(4, 40)), d))
        unit = np.eye(d)
        # duplicated rows (copy runs), mirrored points (distinct rows at equal distance from
        # the origin), and integer data (the exact-key path)
        x = np.vstack([base, base[: len(base) // 2], unit, -unit, 2 * unit, -2 * unit])
        if trial % 3 == 0:
            x = np.round(x * 2)
        y = rng.integers(0, 2, len(x))
        queries = np.vstack([np.zeros((1, d)), rng.standard_normal((4, d)), x[:3]])
        labels = rng.integers(0, 2, len(queries))
        for k in (1, 3):
            knn = KnnShapley(x, y, k)
            batch = knn.values_batch(queries, labels, chunk_size=3)
            for row, (query, label) in enumerate(zip(queries, labels, strict=True)):
                expected = brute_force_values(x, y, query, int(label), k)
                assert np.array_equal(batch[row], expected)
                assert np.array_equal(knn.values(query, label), expected)


def test_inference_tuple_and_json_are_unchanged() -> None:
    record = Inference(b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, b"\x04" * 32, b"\x05" * 32,
                       PROOF_SIGNED, bytes(32), WORKER, 1_700_000_000)
    assert record.as_tuple() == astuple(record)
    assert Inference.from_json(record.to_json()) == record
    assert list(record.to_json()) == [
        "requestId", "modelId", "inputCommitment", "outputCommitment", "attributionHash",
        "proofKind", "proofHash", "worker", "timestamp", "resultHash"]


def test_build_batch_equals_one_request_at_a_time(demo_package) -> None:
    engine = InferenceEngine(demo_package, model_id(WORKER, demo_package.content_hash))
    rng = np.random.default_rng(1)
    raws = [rng.standard_normal((1, 30)).astype(np.float32) * 3 for _ in range(40)]
    requests = [offchain_request(engine.model_id, encode_tensor(raw), fee=7,
                                 requester=WORKER) for raw in raws]
    parsed = [(r["requestId"], parse_request(r)) for r in requests]
    built = build_batch(engine, parsed, worker=WORKER, timestamp=5, attribution_workers=2,
                        roster=demo_package.roster)
    assert built.rejected == [] and len(built.records) == 40
    for (_, request), raw, record, shares in zip(parsed, raws, built.records, built.shares,
                                                 strict=True):
        single = engine.evaluate(raw)
        assert shares == single.shares
        assert record == engine.record(single, request_id=request.request_id,
                                       input_salt=request.salt, worker=WORKER, timestamp=5,
                                       proof_kind=PROOF_SIGNED)
    tree = StandardMerkleTree.of([list(r.as_tuple()) for r in built.records],
                                 list(INFERENCE_ABI_TYPES))
    assert tree.root == built.tree.root
    assert [r.to_json() for r in built.records] == built.records_json
    # The published file's leaves are the tree's values, record for record.
    published = batch_file(built, epoch=0, deposit=0).to_json()
    assert [leaf["inference"] for leaf in published["leaves"]] == built.records_json
    assert all(r.resultHash == bytes(32) for r in built.records)  # batch leaves: no sealed result


def test_build_batch_rejects_a_request_whose_list_pays_outside_the_roster(demo_package) -> None:
    """A package whose attribution would pay an account the registered roster lacks: those
    requests are rejected before the tree (settlement would quarantine the whole batch)."""
    engine = InferenceEngine(demo_package, model_id(WORKER, demo_package.content_hash))
    rng = np.random.default_rng(2)
    raws = [rng.standard_normal((1, 30)).astype(np.float32) for _ in range(12)]
    parsed = [(r["requestId"], parse_request(r)) for r in (
        offchain_request(engine.model_id, encode_tensor(raw), fee=7, requester=WORKER)
        for raw in raws)]
    full = build_batch(engine, parsed, worker=WORKER, timestamp=5)
    missing = full.shares[0][0].account  # paid by the first request at least
    roster = [a for a in demo_package.roster if a != missing]
    built = build_batch(engine, parsed, worker=WORKER, timestamp=5, roster=roster)
    paying = [key for key, shares in zip(full.request_ids, full.shares, strict=True)
              if any(s.account == missing for s in shares)]
    assert paying and [key for key, _ in built.rejected] == paying
    assert all(f"pays {missing}" in reason for _, reason in built.rejected)
    assert len(built.records) == len(parsed) - len(paying)
    assert all(s.account != missing for shares in built.shares for s in shares)


def test_build_batch_rejects_inputs_that_overflow_once_standardised(demo_package) -> None:
    """The overflow check runs over the whole batch at once: exactly the rows whose
    standardised form leaves float32 are rejected, with the reason a single request gets;
    the others are built as if alone."""
    from offchain.models.errors import EncodingError
    from offchain.worker.batching import decode_request

    engine = InferenceEngine(demo_package, model_id(WORKER, demo_package.content_hash))
    rng = np.random.default_rng(3)
    raws = [rng.standard_normal((1, 30)).astype(np.float32) for _ in range(20)]
    narrow = int(np.argmin(demo_package.manifest.preprocessing.std))  # std < 1: x/std grows
    for i in (3, 11, 12):
        raws[i][0, narrow] = np.finfo(np.float32).max
    parsed = [(r["requestId"], parse_request(r)) for r in (
        offchain_request(engine.model_id, encode_tensor(raw), fee=7, requester=WORKER)
        for raw in raws)]
    built = build_batch(engine, parsed, worker=WORKER, timestamp=5)
    keys = [key for key, _ in parsed]
    assert built.rejected == [(keys[i], "bad input: the standardised input overflows float32")
                              for i in (3, 11, 12)]
    assert built.request_ids == [k for i, k in enumerate(keys) if i not in (3, 11, 12)]
    alone = build_batch(engine, [p for i, p in enumerate(parsed) if i not in (3, 11, 12)],
                        worker=WORKER, timestamp=5)
    assert built.records == alone.records
    with pytest.raises(EncodingError, match="overflows float32"):  # one request alone
        decode_request(engine, parsed[3][1])
