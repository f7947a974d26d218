"""The demo's 50 requests: the recorded (integer) attribution against the float64 reference.

Every request whose basis points differ must differ only because quantisation ranks some
items differently: the integer recursion run on the float reference's own order gives exactly
the float list. The differences are printed (``pytest -s``) with the first rank that moved.
"""

from __future__ import annotations

import numpy as np

from offchain.attribution import ContributorMap, KnnShapley
from offchain.models.demo import holdout
from offchain.protocol import VALUE_SCALE
from offchain.record.compute import InferenceEngine


def test_demo_requests_integer_vs_float_reference(demo_package) -> None:
    engine = InferenceEngine(demo_package, bytes(32))
    index, contributors = demo_package.integer_index(), demo_package.integer_contributors()
    reference = KnnShapley(demo_package.training.X, demo_package.training.y, 5)
    owners = ContributorMap(demo_package.row_owners())
    X, _ = holdout()
    raws = [X[i % len(X)][None, :].astype("float32") for i in range(50)]  # offchain.demo.flow
    batch = engine.evaluate_batch(raws)
    differences = []
    for i, (raw, evaluation) in enumerate(zip(raws, batch, strict=True)):
        single = engine.evaluate(raw)
        assert (single.shares, single.label, single.output_bytes) == (
            evaluation.shares, evaluation.label, evaluation.output_bytes)
        q = demo_package.standardise(raw)[0]
        keys = q @ reference._xt * -2.0 + reference._sqnorm
        float_order = reference._exact_order(keys, q)
        float_values = reference.values(q, evaluation.label)
        float_shares = tuple(owners.shares(float_values))
        int_order = index.order(demo_package.quantise(raw)[0])
        on_float_order = np.empty(index.n, dtype=np.int64)
        on_float_order[float_order] = index.values_by_rank(float_order, evaluation.label)
        # Same order: values within N / VALUE_SCALE of the float reference, same list.
        assert np.abs(on_float_order / VALUE_SCALE - float_values).max() <= (
            index.n / VALUE_SCALE + 1e-12)
        assert tuple(contributors.shares(on_float_order)) == float_shares
        if float_shares != evaluation.shares:
            moved = np.flatnonzero(float_order != int_order)
            assert moved.size, f"request {i}: same order but other bps"
            worst = max(abs(a.bps - b.bps) for a, b in zip(float_shares, evaluation.shares,
                                                           strict=False))
            differences.append((i, int(moved[0]) + 1, int(moved.size), worst))
    for i, first, count, worst in differences:
        print(f"request {i}: {count} ranks differ from rank {first}; max {worst} bps")
    print(f"{len(differences)} of 50 requests differ, each only by quantisation's order")


def test_package_attribution_spec_is_the_registered_data_root(demo_package) -> None:
    from offchain import protocol
    from offchain.attribution.integer import quantization, quantize
    from offchain.merkle import IndexedTree

    spec = demo_package.attribution_spec()
    mu, rho = quantization(demo_package.manifest.preprocessing)
    z = quantize(demo_package.training.X_raw, mu, rho)
    owners = demo_package.row_owners()
    leaves = [protocol.data_item_leaf(protocol.DataItem(i, owners[i],
                                                        int(demo_package.training.y[i]),
                                                        tuple(int(v) for v in z[i])))
              for i in range(len(z))]
    assert (spec.n, spec.k, spec.mu, spec.rho) == (489, 5, mu, rho)
    assert spec.itemsRoot == IndexedTree(leaves).root
    assert demo_package.data_root() == protocol.attribution_spec_hash(spec)
    assert (demo_package.quantised_items() == z).all()
    assert demo_package.integer_contributors().roster == tuple(demo_package.roster)


def test_a_zk_record_attributes_for_its_instances_label(demo_package) -> None:
    from offchain.proofs.zk import FIELD_MODULUS

    engine = InferenceEngine(demo_package, bytes(32))
    raw = holdout()[0][:1].astype("float32")
    evaluation = engine.evaluate(raw)
    other = 1 - evaluation.label
    outputs = [FIELD_MODULUS - 3, FIELD_MODULUS - 3]
    outputs[other] = 5
    changed = engine.for_zk_instances(evaluation, raw, [123, *outputs])
    assert changed.label == other and changed.shares == engine.attribute(raw, other)
    assert changed.output_bytes == evaluation.output_bytes
    outputs[evaluation.label], outputs[other] = 7, 7  # a tie goes to the lower index
    same = engine.for_zk_instances(evaluation, raw, [123, *outputs])
    assert same.label == 0
