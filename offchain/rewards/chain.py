"""Settlement against the chain: sweep pools, recompute from events, propose, claim.

Every figure is recomputed from on-chain data (InferenceRecorded payouts and attribution
lists; batch deposits with the leaves published at each batch's committed URI, checked
against its committed root), so ``verify`` can be run by anyone.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from offchain.attribution.shares import attribution_hash
from offchain.chain.contracts import Attestia
from offchain.chain.events import iter_events, recorded_events
from offchain.errors import AttestiaError
from offchain.fsutil import atomic_write_json
from offchain.merkle import StandardMerkleTree
from offchain.protocol import Inference
from offchain.rewards.settlement import (
    PoolShare,
    build_tree,
    cumulative_rewards,
    pool_total,
    proof_for,
)


class SettlementError(AttestiaError):
    """Settlement cannot proceed (nothing to settle, a batch file missing or tampered)."""


def _batch_leaves(uri: str, root: bytes) -> list[dict]:
    """The leaves of a committed batch, from its published file, checked against the root."""
    from offchain.worker.batch import BatchError, load_batch_document

    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme != "file":
        raise SettlementError(f"batch data at {uri}: only file:// URIs can be read here")
    try:
        data = load_batch_document(Path(urllib.parse.unquote(parsed.path)), "0x" + root.hex())
    except BatchError as exc:
        raise SettlementError(f"batch data at {uri}: {exc}") from None
    for leaf in data["leaves"]:
        record = Inference.from_json(leaf["inference"])
        if attribution_hash(leaf["shares"]) != record.attributionHash:
            raise SettlementError(f"batch {uri}: an attribution list does not match its leaf")
    return data["leaves"]


def pool_shares(attestia: Attestia) -> list[PoolShare]:
    """Every record's contribution to the contributors' pools, from chain data."""
    shares: list[PoolShare] = []
    for record in recorded_events(attestia.registry, attestia.first_block):
        shares.append(PoolShare(record.epoch, record.contributor_cut, tuple(record.shares),
                                "0x" + record.request_id.hex()))
    for event in iter_events(attestia.registry, "BatchCommitted", attestia.first_block):
        args = event["args"]
        if args["deposit"] == 0:
            continue
        leaves = _batch_leaves(args["dataURI"], bytes(args["root"]))
        per_leaf = int(args["deposit"]) // int(args["count"])
        for leaf in leaves:
            items = tuple((a, int(b)) for a, b in leaf["shares"])
            shares.append(PoolShare(int(args["epoch"]), per_leaf, items,
                                    leaf["inference"]["requestId"]))
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


def sweep_ended(attestia: Attestia, account=None) -> int:
    """Send every ended, unswept epoch pool and batch deposit to the distributor."""
    fn = attestia.registry.functions
    current = fn.currentEpoch().call()
    swept = 0
    epochs = {record.epoch for record in recorded_events(attestia.registry, attestia.first_block)}
    for epoch in sorted(e for e in epochs if e < current):
        if fn.epochPool(epoch).call() > 0:
            attestia.transact(fn.sweepEpoch(epoch), account=account)
            swept += 1
    batch_ids = [bytes(e["args"]["batchId"])
                 for e in iter_events(attestia.registry, "BatchCommitted", attestia.first_block)
                 if e["args"]["epoch"] < current and e["args"]["deposit"] > 0]
    pending = [b for b in batch_ids if not fn.batchInfo(b).call()[3]]
    if pending:
        attestia.transact(fn.sweepBatches(pending), account=account)
        swept += len(pending)
    return swept


def settle(attestia: Attestia, out_dir: Path, account=None) -> Settlement:
    """Sweep, recompute every contributor's cumulative reward, write the tree, propose it."""
    fn = attestia.registry.functions
    through = fn.currentEpoch().call() - 1
    if through < 0:
        raise SettlementError("no epoch has ended yet")
    sweep_ended(attestia, account)
    settlement = compute(attestia, through)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"epoch-{through}.json"
    atomic_write_json(path, settlement.tree.dump(), indent=1)
    settlement.path = path
    dist = attestia.distributor.functions
    existing = dist.epochRoot(through).call()
    if existing[3] in (1, 3):  # proposed or activated already
        if "0x" + bytes(existing[0]).hex() != settlement.root.lower():
            raise SettlementError(f"epoch {through} already has a different root on chain")
        return settlement
    attestia.transact(dist.proposeRoot(through, settlement.root, settlement.total),
                      account=account)
    return settlement


def load_tree(out_dir: Path, epoch: int) -> StandardMerkleTree | None:
    path = out_dir / f"epoch-{epoch}.json"
    return StandardMerkleTree.load(json.loads(path.read_text())) if path.exists() else None


def claim(attestia: Attestia, account_address: str, out_dir: Path, sender_account=None) -> int:
    """Claim everything ``account_address`` is owed under the claimable root. Returns wei."""
    dist = attestia.distributor.functions
    exists, epoch, root, _ = dist.claimableRoot().call()
    if not exists:
        raise SettlementError("no root is claimable yet (proposed roots wait for the timelock)")
    tree = load_tree(out_dir, epoch)
    if tree is None or tree.root.lower() != "0x" + bytes(root).hex():
        tree = compute(attestia, epoch).tree  # recompute from chain data
    try:
        cumulative, proof = proof_for(tree, account_address)
    except KeyError:
        raise SettlementError(f"{account_address} has no reward under epoch {epoch}") from None
    already = dist.claimed(account_address).call()
    if cumulative <= already:
        return 0
    attestia.transact(dist.claim(account_address, cumulative, proof), account=sender_account)
    return cumulative - already


def verify(attestia: Attestia, epoch: int) -> tuple[bool, Settlement, str]:
    """Recompute epoch ``epoch`` from chain data; compare with the root on chain."""
    onchain = attestia.distributor.functions.epochRoot(epoch).call()
    settlement = compute(attestia, epoch)
    onchain_root = "0x" + bytes(onchain[0]).hex()
    return onchain_root == settlement.root.lower(), settlement, onchain_root


