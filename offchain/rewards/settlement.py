"""The pure core of settlement: contributor pools -> cumulative amounts -> Merkle tree.

Each record carries a contributor pool (the fee share for data contributors, or a batch
leaf's even share of the batch deposit, :func:`leaf_pool`) and an attribution list in basis
points. A contributor earns ``protocol.share_of(pool, bps)`` (rounded down) per record; the
dust stays in the distributor, so the sum of cumulative amounts never exceeds what the pools
received.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from eth_utils import to_checksum_address

from offchain.merkle import StandardMerkleTree
from offchain.protocol import CLAIM_LEAF_TYPES, share_of


@dataclass(frozen=True)
class PoolShare:
    """One record's contribution to the reward pools of its epoch."""

    epoch: int
    pool: int
    shares: tuple[tuple[str, int], ...]
    record: str = ""


def leaf_pool(deposit: int, count: int) -> int:
    """Each leaf's pool in a batch: the deposit split evenly over the committed count
    (rounded down; the remainder stays in the distributor as dust)."""
    return deposit // count


def cumulative_rewards(
    records: Iterable[PoolShare], through_epoch: int
) -> dict[str, int]:
    """Every contributor's cumulative reward over all epochs up to ``through_epoch``."""
    totals: dict[str, int] = defaultdict(int)
    for record in records:
        if record.epoch > through_epoch:
            continue
        for account, bps in record.shares:
            totals[to_checksum_address(account)] += share_of(record.pool, bps)
    return {account: amount for account, amount in sorted(totals.items()) if amount > 0}


def pool_total(records: Iterable[PoolShare], through_epoch: int) -> int:
    return sum(r.pool for r in records if r.epoch <= through_epoch)


def build_tree(cumulative: Mapping[str, int]) -> StandardMerkleTree:
    if not cumulative:
        raise ValueError("nothing to settle: no contributor has earned a reward yet")
    values = [[account, amount] for account, amount in sorted(cumulative.items())]
    return StandardMerkleTree.of(values, CLAIM_LEAF_TYPES)


def proof_for(tree: StandardMerkleTree, account: str) -> tuple[int, list[str]]:
    """(cumulative amount, proof) for ``account`` from a settled tree."""
    account = to_checksum_address(account)
    for index, value in enumerate(tree.values):
        leaf = value["value"] if isinstance(value, dict) else value
        if to_checksum_address(leaf[0]) == account:
            return int(leaf[1]), tree.get_proof(index)
    raise KeyError(f"{account} has no reward in this settlement")
