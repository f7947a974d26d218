"""offchain.merkle.IndexedTree against a naive tree, and its proofs."""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sha3 import keccak_256

from offchain.merkle import IndexedTree, InvalidArgumentError, process_indexed, verify_indexed


def naive_root(leaves: list[bytes]) -> bytes:
    depth = max(len(leaves) - 1, 0).bit_length()
    level = leaves + [bytes(32)] * (2**depth - len(leaves))
    while len(level) > 1:
        level = [keccak_256(level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0] if level else bytes(32)


leaf_lists = st.lists(st.binary(min_size=32, max_size=32), min_size=0, max_size=70)


@settings(max_examples=60, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_root_proofs_and_updates_match_a_naive_tree(leaves: list[bytes], data: st.DataObject
                                                    ) -> None:
    tree = IndexedTree(leaves)
    assert tree.root == naive_root(leaves)
    assert tree.depth == max(len(leaves) - 1, 0).bit_length()
    if not leaves:
        return
    position = data.draw(st.integers(0, len(leaves) - 1))
    proof = tree.proof(position)
    assert len(proof) == tree.depth
    assert verify_indexed(leaves[position], position, proof, tree.root)
    # The wrong position, a wrong leaf or a position beyond the depth do not verify.
    if len(leaves) > 1:
        other = data.draw(st.integers(0, len(leaves) - 1).filter(lambda p: p != position))
        assert not verify_indexed(leaves[position], other, proof, tree.root) \
            or leaves[other] == leaves[position] and proof == tree.proof(other)
    assert not verify_indexed(os.urandom(32), position, proof, tree.root)
    assert not verify_indexed(leaves[position], position + 2**tree.depth, proof, tree.root)
    new = data.draw(st.binary(min_size=32, max_size=32))
    root = tree.update(position, new)
    changed = [*leaves[:position], new, *leaves[position + 1:]]
    assert root == tree.root == naive_root(changed)
    assert process_indexed(new, position, tree.proof(position)) == root


def test_edges() -> None:
    assert IndexedTree([]).root == bytes(32)
    leaf = os.urandom(32)
    one = IndexedTree([leaf])
    assert one.root == leaf and one.depth == 0 and one.proof(0) == []
    with pytest.raises(InvalidArgumentError):
        one.proof(1)
    with pytest.raises(InvalidArgumentError):
        IndexedTree([b"short"])


def test_hundred_thousand_leaves_well_under_a_second() -> None:
    leaves = [os.urandom(32) for _ in range(100_000)]
    started = time.perf_counter()
    tree = IndexedTree(leaves)
    elapsed = time.perf_counter() - started
    assert tree.depth == 17
    assert verify_indexed(leaves[99_999], 99_999, tree.proof(99_999), tree.root)
    assert elapsed < 0.8, elapsed
