"""The pure core of settlement: contributor pools -> cumulative amounts -> Merkle tree.

Each record carries a contributor pool and an attribution list in basis points. A single
record's pool is its contributor cut (``InferenceRecorded.payout``); a batch leaf's pool is
the contributor cut of the fee it publishes, under the split in force when the batch was
committed, scaled down pro rata when the leaves together claim more than the batch's deposit
(:func:`leaf_pools`), so a batch never pays more than it deposited. A contributor earns
``protocol.share_of(pool, bps)`` (rounded down) per record; the dust stays in the
distributor, so the sum of cumulative amounts never exceeds what the pools received.
Amounts are additive per record: a settlement's total is the sum of what each record (and so
each batch) allocates, which is how ``rewards verify`` recognises a root that left out a
batch its settler could not read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from offchain.ids import checksum_address, checksum_addresses
from offchain.merkle import StandardMerkleTree, gc_paused
from offchain.protocol import CLAIM_LEAF_TYPES, contributors_cut, share_of


@dataclass(frozen=True)
class PoolShare:
    """One record's contribution to the reward pools of its epoch."""

    epoch: int
    pool: int
    shares: tuple[tuple[str, int], ...]
    record: str = ""

    def allocated(self) -> int:
        """What this record pays its contributors in all (each share rounded down)."""
        return sum(share_of(self.pool, bps) for _, bps in self.shares)


def leaf_pools(fees: Sequence[int], worker_bps: int, owner_bps: int, deposit: int
               ) -> tuple[list[int], bool]:
    """Each leaf's contributor pool in a batch, and whether the deposit capped them.

    A leaf's pool is ``contributors_cut(fee)`` under the batch's split (the registry's
    rounding: worker and owner cuts round down, the contributors get the rest), what a single
    record of that fee would have paid them. If the pools sum to more than ``deposit`` (the
    file claims more fees than the worker deposited for), every pool is scaled to
    ``floor(cut * deposit / Σ cut)``, so their sum never exceeds the deposit. A deposit above
    the sum is not distributed (it stays in the distributor, unallocated).
    """
    cuts = [contributors_cut(int(fee), worker_bps, owner_bps) for fee in fees]
    total = sum(cuts)
    if total <= deposit:
        return cuts, False
    return [cut * deposit // total for cut in cuts], True


def split_by_roster(shares: Iterable[tuple[str, int]], roster: Collection[str]
                    ) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]:
    """(shares to roster accounts, shares to anyone else). ``roster`` holds checksummed
    addresses; the second part is never paid (its amount stays unallocated)."""
    kept: list[tuple[str, int]] = []
    outside: list[tuple[str, int]] = []
    for account, bps in shares:
        (kept if checksum_address(account) in roster else outside).append((account, bps))
    return tuple(kept), tuple(outside)


def cumulative_rewards(
    records: Iterable[PoolShare], through_epoch: int
) -> dict[str, int]:
    """Every contributor's cumulative reward over all epochs up to ``through_epoch``.

    Summed per account as the records spell it, then every spelling checksummed at once
    (:func:`checksum_addresses`) and spellings of one account merged: a share's amount does
    not depend on the spelling, so the totals are the same as checksumming share by share."""
    spelled: dict[str, int] = defaultdict(int)
    share = share_of
    with gc_paused():
        for record in records:
            if record.epoch > through_epoch:
                continue
            pool = record.pool
            for account, bps in record.shares:
                spelled[account] += share(pool, bps)
        totals: dict[str, int] = {}
        for key, amount in zip(checksum_addresses(list(spelled)), spelled.values(),
                               strict=True):
            totals[key] = totals.get(key, 0) + amount
        return {account: totals[account] for account in sorted(totals) if totals[account] > 0}


def pool_total(records: Iterable[PoolShare], through_epoch: int) -> int:
    return sum(r.pool for r in records if r.epoch <= through_epoch)


def build_tree(cumulative: Mapping[str, int]) -> StandardMerkleTree:
    if not cumulative:
        raise ValueError("nothing to settle: no contributor has earned a reward yet")
    with gc_paused():
        values = list(map(list, sorted(cumulative.items())))  # [account, amount] pairs
        return StandardMerkleTree.of(values, CLAIM_LEAF_TYPES)


def proof_for(tree: StandardMerkleTree, account: str) -> tuple[int, list[str]]:
    """(cumulative amount, proof) for ``account`` from a settled tree."""
    target = checksum_address(account).lower()
    for index, leaf in tree.entries():  # the raw values: no dict or checksum per leaf
        if str(leaf[0]).lower() == target:
            return int(leaf[1]), tree.get_proof(index)
    raise KeyError(f"{account} has no reward in this settlement")
