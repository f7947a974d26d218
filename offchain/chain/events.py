"""Reading contract events in block ranges (paged, decoded)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from web3.contract import Contract

from offchain.protocol import Inference

PAGE_BLOCKS = 5_000


def iter_events(
    contract: Contract, event: str, from_block: int, to_block: int | None = None,
    argument_filters: dict[str, Any] | None = None, page: int = PAGE_BLOCKS,
) -> Iterator[Any]:
    """Decoded logs of ``event`` in [from_block, to_block], in chain order."""
    w3 = contract.w3
    last = to_block if to_block is not None else w3.eth.block_number
    handle = getattr(contract.events, event)
    start = max(from_block, 0)
    while start <= last:
        stop = min(start + page - 1, last)
        yield from handle.get_logs(
            from_block=start, to_block=stop, argument_filters=argument_filters
        )
        start = stop + 1


# -- transitional ---------------------------------------------------------------------------
# ``RecordedEvent`` / ``recorded_events`` keep the old flat shape for the modules that still use
# it (rewards.chain, verify.evidence); decoding itself is the typed client's
# (``offchain.registry.decode_recorded``). New code reads ``attestia.reg.recorded()``.

@dataclass(frozen=True)
class RecordedEvent:
    """An InferenceRecorded event in the old flat shape (see ``offchain.registry.Recorded``)."""

    request_id: bytes
    inference: Inference
    shares: list[tuple[str, int]]
    epoch: int
    worker_cut: int
    owner_cut: int
    contributor_cut: int
    digest: bytes
    tx_hash: str
    block: int


def recorded_events(contract: Contract, from_block: int = 0, to_block: int | None = None,
                    request_id: bytes | None = None) -> list[RecordedEvent]:
    from offchain.registry import decode_recorded

    filters = {"requestId": request_id} if request_id is not None else None
    out = []
    for event in iter_events(contract, "InferenceRecorded", from_block, to_block,
                             argument_filters=filters):
        r = decode_recorded(event)
        out.append(RecordedEvent(
            r.request_id, r.inference, [tuple(s) for s in r.shares], r.payout.epoch,
            r.payout.workerCut, r.payout.ownerCut, r.payout.contributorCut, r.digest,
            r.meta.tx_hash, r.meta.block))
    return out
