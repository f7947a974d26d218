"""Attribution as recorded on chain: read a record's list back and check it."""

from __future__ import annotations

from dataclasses import dataclass

from offchain.attribution.shares import attribution_hash
from offchain.chain.contracts import Attestia
from offchain.chain.eip712 import Inference, inference_digest
from offchain.chain.events import RecordedEvent, recorded_events
from offchain.errors import AttestiaError

BPS = 10_000


class RecordNotFound(AttestiaError):
    """No InferenceRecorded event for this id."""


@dataclass
class RecordedAttribution:
    request_id: bytes
    inference: Inference
    shares: list[tuple[str, int]]
    contributor_cut: int
    epoch: int
    tx_hash: str
    block: int
    hash_matches: bool
    digest_matches: bool

    def fee_share(self, bps: int) -> int:
        return self.contributor_cut * bps // BPS


def _checked(attestia: Attestia, record: RecordedEvent) -> RecordedAttribution:
    chain = attestia.chain
    inference = record.inference
    digest = inference_digest(inference, chain.chain_id, attestia.registry.address)
    slot = bytes(attestia.registry.functions.requestState(inference.requestId).call())
    return RecordedAttribution(
        record.request_id, inference, record.shares, record.contributor_cut, record.epoch,
        record.tx_hash, record.block,
        hash_matches=attribution_hash(record.shares) == inference.attributionHash,
        digest_matches=slot == digest,
    )


def recorded_attribution(attestia: Attestia, request_id: bytes) -> RecordedAttribution:
    events = recorded_events(attestia.registry, attestia.first_block, request_id=request_id)
    if not events:
        raise RecordNotFound(f"no inference record for 0x{request_id.hex()} on chain "
                             f"{attestia.chain.chain_id}")
    return _checked(attestia, events[-1])


def all_recorded(attestia: Attestia) -> list[RecordedAttribution]:
    return [_checked(attestia, r) for r in recorded_events(attestia.registry, attestia.first_block)]
