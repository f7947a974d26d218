"""Attribution as recorded on chain: read a record's list back, check it, total it up.

Fee shares follow settlement's rounding (:func:`offchain.protocol.share_of`), so what is
shown here is what a contributor is paid for the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from offchain.errors import AttestiaError
from offchain.protocol import Inference, Share, attribution_hash, inference_digest, share_of
from offchain.registry import Attestia, InferenceRecorded


class PoolLeaf(Protocol):
    """A batch leaf's part of a reward pool (``rewards.settlement.PoolShare`` is one)."""

    @property
    def pool(self) -> int: ...

    @property
    def shares(self) -> tuple[tuple[str, int], ...]: ...


class RecordNotFound(AttestiaError):
    """No InferenceRecorded event for this id."""


@dataclass(frozen=True)
class FeeShare:
    """One contributor's part of one record: its bps and the wei they earn it."""

    account: str
    bps: int
    wei: int


def fee_shares(shares: Sequence[Share], contributor_cut: int) -> list[FeeShare]:
    """Each entry of an attribution list with its part of the record's contributor cut."""
    return [FeeShare(account, bps, share_of(contributor_cut, bps)) for account, bps in shares]


@dataclass
class RecordedAttribution:
    request_id: bytes
    inference: Inference
    shares: list[Share]
    contributor_cut: int
    epoch: int
    tx_hash: str
    block: int
    hash_matches: bool
    digest_matches: bool

    @property
    def verified(self) -> bool:
        """The list hashes to the record's attributionHash and the record is the chain's."""
        return self.hash_matches and self.digest_matches

    def fee_share(self, bps: int) -> int:
        return share_of(self.contributor_cut, bps)

    def fee_shares(self) -> list[FeeShare]:
        return fee_shares(self.shares, self.contributor_cut)


@dataclass(frozen=True)
class ContributorTotals:
    """One contributor over many records: how often it had a share, its mean and its earnings.
    Records are the single records and the leaves of batches whose file passed its checks,
    as the explorer counts them; ``batch_leaves`` says how many of ``records`` are leaves."""

    contributor: str
    records: int
    records_with_share: int
    mean_bps: float
    total_fee_share: int
    all_verified: bool
    batch_leaves: int = 0


def contributor_totals(records: Sequence[RecordedAttribution], contributor: str,
                       leaves: Sequence[PoolLeaf] = ()) -> ContributorTotals:
    """Totals of ``contributor`` (checksummed) over ``records`` and batch ``leaves`` (checked
    against their committed batch already); the mean is over the records that gave it a
    share (0 if none did)."""
    mine = [(r.contributor_cut, b, r.verified) for r in records
            if (b := dict(r.shares).get(contributor, 0))]
    mine += [(leaf.pool, b, True) for leaf in leaves
             if (b := dict(leaf.shares).get(contributor, 0))]
    return ContributorTotals(
        contributor, len(records) + len(leaves), len(mine),
        (sum(b for _, b, _ in mine) / len(mine)) if mine else 0,
        sum(share_of(pool, b) for pool, b, _ in mine),
        all(verified for _, _, verified in mine),
        len(leaves),
    )


def _checked(attestia: Attestia, record: InferenceRecorded) -> RecordedAttribution:
    chain = attestia.chain
    inference = record.inference
    digest = inference_digest(inference, chain.chain_id, attestia.registry.address)
    slot = attestia.registry.request_state(inference.requestId)
    return RecordedAttribution(
        record.request_id, inference, list(record.shares), record.payout.contributorCut,
        record.payout.epoch, record.meta.tx_hash, record.meta.block,
        hash_matches=attribution_hash(record.shares) == inference.attributionHash,
        digest_matches=slot == digest,
    )


def recorded_attribution(attestia: Attestia, request_id: bytes) -> RecordedAttribution:
    events = attestia.registry.recorded(request_id=request_id)
    if not events:
        raise RecordNotFound(f"no inference record for 0x{request_id.hex()} on chain "
                             f"{attestia.chain.chain_id}")
    return _checked(attestia, events[-1])


def all_recorded(attestia: Attestia) -> list[RecordedAttribution]:
    return [_checked(attestia, r) for r in attestia.registry.recorded()]
