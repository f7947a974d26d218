"""Settlement's pure core at scale (issue 20: a million contributors): the fast paths give the
same answers as the straightforward ones. No chain."""

from __future__ import annotations

import os
import random

import pytest
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.settlement import measure
from offchain import merkle
from offchain.ids import checksum_address, checksum_addresses
from offchain.merkle import StandardMerkleTree, verify_proof
from offchain.protocol import CLAIM_LEAF_TYPES
from offchain.rewards.settlement import PoolShare, build_tree, cumulative_rewards, proof_for


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=20, max_size=20), st.sampled_from(["lower", "upper", "checksum"]),
       st.booleans())
def test_checksum_address_is_eip55_as_eth_utils_gives_it(raw: bytes, case: str,
                                                          prefixed: bool) -> None:
    digits = raw.hex()
    text = {"lower": digits, "upper": digits.upper(),
            "checksum": to_checksum_address(raw)[2:]}[case]
    text = ("0x" + text) if prefixed else text
    assert checksum_address(text) == to_checksum_address(raw)


@pytest.mark.parametrize("bad", ["", "0x", "0x" + "a" * 39, "0x" + "a" * 41, "0x" + "g" * 40,
                                 "0x" + "a" * 38 + " a", "0x0x" + "a" * 38])
def test_checksum_address_refuses_anything_but_40_hex_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="not a 20-byte hex address"):
        checksum_address(bad)


@pytest.mark.parametrize("n", [*range(1, 40), 255, 256, 257, 1000, 1025])
def test_inner_nodes_a_level_at_a_time_equal_the_node_by_node_loop(n: int) -> None:
    leaves = [os.urandom(32) for _ in range(n)]
    expected = [b""] * (n - 1) + leaves
    for i in range(n - 2, -1, -1):
        expected[i] = merkle._node_hash(expected[2 * i + 1], expected[2 * i + 2])
    filled = [b""] * (n - 1) + leaves
    merkle._hash_inner_nodes(filled, n - 1)
    assert filled == expected


def test_cumulative_rewards_merge_one_account_written_in_any_case() -> None:
    account = to_checksum_address("0x" + "ab" * 20)
    records = [PoolShare(1, 10_000, ((account.lower(), 5_000),)),
               PoolShare(1, 10_000, ((account, 2_500),)),
               PoolShare(2, 10_000, (("0x" + account[2:].upper(), 10_000),))]
    assert cumulative_rewards(records, 1) == {account: 7_500}
    assert cumulative_rewards(records, 2) == {account: 17_500}


def test_proof_for_finds_an_account_in_any_case_and_names_a_missing_one() -> None:
    cumulative = {to_checksum_address(os.urandom(20)): 10 + i for i in range(50)}
    tree = build_tree(cumulative)
    for account, amount in list(cumulative.items())[::7]:
        for spelled in (account, account.lower()):
            got, proof = proof_for(tree, spelled)
            assert got == amount
            assert verify_proof(tree.root, CLAIM_LEAF_TYPES, [account, amount], proof)
    # a tree loaded from its JSON dump (what claimants download) answers the same
    loaded = StandardMerkleTree.load(tree.dump())
    account = next(iter(cumulative))
    assert proof_for(loaded, account) == proof_for(tree, account)
    with pytest.raises(KeyError, match="has no reward"):
        proof_for(tree, "0x" + "00" * 20)


def test_the_settlement_bench_measures_a_small_run() -> None:
    result = measure(3_000, seed=1)
    assert result["contributors"] == 3_000
    assert result["records"] == 3  # 1,024 shares per record
    assert result["proofHashes"] in (11, 12)  # ceil(log2 3000) = 12; sorted tree, unbalanced
    assert result["dumpBytes"] > 3_000 * 42


def _reference_cumulative(records: list[PoolShare], through: int) -> dict[str, int]:
    """Share by share, each account checksummed with eth_utils (the straightforward form)."""
    totals: dict[str, int] = {}
    for record in records:
        if record.epoch <= through:
            for account, bps in record.shares:
                key = to_checksum_address(account)
                totals[key] = totals.get(key, 0) + record.pool * bps // 10_000
    return {account: amount for account, amount in sorted(totals.items()) if amount > 0}


@pytest.mark.parametrize("seed", range(5))
def test_cumulative_rewards_equal_the_reference_on_random_records(seed: int) -> None:
    """The bulk path (summed per spelling, checksummed at once, spellings merged) gives the
    share-by-share totals: accounts spelled in several cases, zero shares, pools of any size,
    epochs after the cut left out; and the tree built from them is the reference tree."""
    rng = random.Random(seed)
    accounts = ["0x" + rng.randbytes(20).hex() for _ in range(rng.choice([1, 30, 300]))]
    records = []
    for _ in range(rng.randrange(1, 40)):
        group = rng.sample(accounts, rng.randrange(1, len(accounts) + 1))
        spelled = [rng.choice([a, a.upper().replace("0X", "0x"), to_checksum_address(a),
                               a[2:]]) for a in group]
        shares = tuple((a, rng.choice([0, 1, rng.randrange(10_001)])) for a in spelled)
        records.append(PoolShare(epoch=rng.randrange(1, 4), pool=rng.getrandbits(
            rng.choice([10, 70, 128])), shares=shares))
    for through in (1, 2, 3):
        expected = _reference_cumulative(records, through)
        got = cumulative_rewards(records, through)
        assert list(got.items()) == list(expected.items())
        if expected:
            assert build_tree(got).root == StandardMerkleTree.of(
                [[a, v] for a, v in expected.items()], CLAIM_LEAF_TYPES,
            ).root


def test_checksum_addresses_in_bulk_equal_one_at_a_time() -> None:
    rng = random.Random(3)
    raw = [rng.randbytes(20).hex() for _ in range(500)]
    spelled = [rng.choice(["0x" + r, "0X" + r, r.upper(), "0x" + r.upper()]) for r in raw]
    assert checksum_addresses(spelled) == [checksum_address(a) for a in spelled]
    assert checksum_addresses([]) == []
    for bad in ("0x" + "a" * 38 + " a", "0x" + "g" * 40, "0x" + "a" * 39, "0x0x" + "a" * 38):
        with pytest.raises(ValueError, match="not a 20-byte hex address"):
            checksum_addresses([*spelled[:3], bad])
