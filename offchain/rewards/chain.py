"""Settlement against the chain: sweep pools, recompute from events, propose, claim.

Every figure is recomputed from on-chain data (InferenceRecorded payouts and attribution
lists; batch deposits split by the leaves published at each batch's committed URI, read and
checked against the commitment by :mod:`offchain.batchfile`), so ``verify`` can be run by
anyone, and a batch published over https or IPFS settles like a local one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offchain import batchfile
from offchain.batchfile import BatchFileError, BatchLeaf
from offchain.chain.contracts import Attestia
from offchain.errors import AttestiaError
from offchain.fsutil import atomic_write_json
from offchain.merkle import StandardMerkleTree
from offchain.protocol import RootStatus
from offchain.registry import BatchCommitted
from offchain.rewards.settlement import (
    PoolShare,
    build_tree,
    cumulative_rewards,
    leaf_pool,
    pool_total,
    proof_for,
)
from offchain.uri import UriError


class SettlementError(AttestiaError):
    """Settlement cannot proceed (nothing to settle, a batch file missing or tampered)."""


def batch_leaves(batch: BatchCommitted) -> tuple[BatchLeaf, ...]:
    """The leaves of a committed batch, from its published file, checked against the commit.

    Raises SettlementError: without every batch's leaves no one can compute the root.
    """
    try:
        return batchfile.load(batch.data_uri, batch).leaves
    except (BatchFileError, UriError) as exc:
        raise SettlementError(f"batch 0x{batch.batch_id.hex()}: batch data at "
                              f"{batch.data_uri}: {exc}") from None


def pool_shares(attestia: Attestia) -> list[PoolShare]:
    """Every record's contribution to the contributors' pools, from chain data."""
    shares = [PoolShare(r.payout.epoch, r.payout.contributorCut, r.shares,
                        "0x" + r.request_id.hex())
              for r in attestia.reg.recorded()]
    for batch in attestia.reg.batches():
        if batch.deposit == 0:
            continue
        pool = leaf_pool(batch.deposit, batch.count)
        shares += [PoolShare(batch.epoch, pool, leaf.shares,
                             "0x" + leaf.inference.requestId.hex())
                   for leaf in batch_leaves(batch)]
    return shares


@dataclass
class Settlement:
    epoch: int
    root: str
    total: int
    cumulative: dict[str, int]
    tree: StandardMerkleTree
    path: Path | None = None


def compute(attestia: Attestia, through_epoch: int) -> Settlement:
    records = pool_shares(attestia)
    cumulative = cumulative_rewards(records, through_epoch)
    if not cumulative:
        raise SettlementError(f"no contributor has earned anything through epoch {through_epoch}")
    tree = build_tree(cumulative)
    total = sum(cumulative.values())
    assert total <= pool_total(records, through_epoch)
    return Settlement(through_epoch, tree.root, total, cumulative, tree)


def sweep_ended(attestia: Attestia, account: Any = None) -> int:
    """Send every ended, unswept epoch pool and batch deposit to the distributor."""
    reg = attestia.reg
    current = reg.current_epoch()
    swept = 0
    epochs = {record.payout.epoch for record in reg.recorded()}
    for epoch in sorted(e for e in epochs if e < current):
        if reg.epoch_pool(epoch) > 0:
            attestia.send(reg.sweep_epoch(epoch), account=account)
            swept += 1
    pending = [b.batch_id for b in reg.batches()
               if b.epoch < current and b.deposit > 0 and not reg.batch_info(b.batch_id).swept]
    if pending:
        attestia.send(reg.sweep_batches(pending), account=account)
        swept += len(pending)
    return swept


def settle(attestia: Attestia, out_dir: Path, account: Any = None) -> Settlement:
    """Sweep, recompute every contributor's cumulative reward, write the tree, propose it."""
    through = attestia.reg.current_epoch() - 1
    if through < 0:
        raise SettlementError("no epoch has ended yet")
    sweep_ended(attestia, account)
    settlement = compute(attestia, through)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"epoch-{through}.json"
    atomic_write_json(path, settlement.tree.dump(), indent=1)
    settlement.path = path
    existing = attestia.dist.epoch_root(through)
    if existing.status in (RootStatus.PROPOSED, RootStatus.ACTIVATED):
        if "0x" + existing.root.hex() != settlement.root.lower():
            raise SettlementError(f"epoch {through} already has a different root on chain")
        return settlement
    attestia.send(attestia.dist.propose_root(through, bytes.fromhex(settlement.root[2:]),
                                             settlement.total), account=account)
    return settlement


def load_tree(out_dir: Path, epoch: int) -> StandardMerkleTree | None:
    path = out_dir / f"epoch-{epoch}.json"
    return StandardMerkleTree.load(json.loads(path.read_text())) if path.exists() else None


def claim(attestia: Attestia, account_address: str, out_dir: Path,
          sender_account: Any = None) -> int:
    """Claim everything ``account_address`` is owed under the claimable root. Returns wei."""
    dist = attestia.dist
    claimable = dist.claimable_root()
    if claimable is None:
        raise SettlementError("no root is claimable yet (proposed roots wait for the timelock)")
    epoch, root, _ = claimable
    tree = load_tree(out_dir, epoch)
    if tree is None or tree.root.lower() != "0x" + root.hex():
        tree = compute(attestia, epoch).tree  # recompute from chain data
    try:
        cumulative, proof = proof_for(tree, account_address)
    except KeyError:
        raise SettlementError(f"{account_address} has no reward under epoch {epoch}") from None
    already = dist.claimed(account_address)
    if cumulative <= already:
        return 0
    attestia.send(dist.claim(account_address, cumulative,
                             [bytes.fromhex(p[2:]) for p in proof]), account=sender_account)
    return cumulative - already


def verify(attestia: Attestia, epoch: int) -> tuple[bool, Settlement, str]:
    """Recompute epoch ``epoch`` from chain data; compare with the root on chain."""
    onchain_root = "0x" + attestia.dist.epoch_root(epoch).root.hex()
    settlement = compute(attestia, epoch)
    return onchain_root == settlement.root.lower(), settlement, onchain_root
