"""Reading contract events in block ranges (paged, decoded)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak
from web3.contract import Contract

from offchain.chain.eip712 import Inference
from offchain.chain.tx import with_retries

PAGE_BLOCKS = 5_000


def iter_events(
    contract: Contract, event: str, from_block: int, to_block: int | None = None,
    argument_filters: dict[str, Any] | None = None, page: int = PAGE_BLOCKS,
) -> Iterator[Any]:
    """Decoded logs of ``event`` in [from_block, to_block], in chain order."""
    w3 = contract.w3
    last = to_block if to_block is not None else with_retries(
        lambda: w3.eth.block_number, "read block number"
    )
    handle = getattr(contract.events, event)
    start = max(from_block, 0)
    while start <= last:
        stop = min(start + page - 1, last)
        logs = with_retries(
            lambda s=start, e=stop: handle.get_logs(
                from_block=s, to_block=e, argument_filters=argument_filters
            ),
            f"read {event} logs",
        )
        yield from logs
        start = stop + 1


def request_from_event(args: Any) -> dict:
    """The Request struct (as a JSON-able dict) carried by an InferenceRequested event."""
    return {
        "requester": args["requester"],
        "modelId": "0x" + bytes(args["modelId"]).hex(),
        "worker": args["worker"],
        "fee": int(args["fee"]),
        "createdAt": int(args["createdAt"]),
        "inputCommitment": "0x" + bytes(args["inputCommitment"]).hex(),
    }


def request_hash(request: dict) -> bytes:
    """keccak256(abi.encode(Request)): what an open request's slot holds (hashRequest)."""
    return keccak(encode(["address", "bytes32", "address", "uint256", "uint64", "bytes32"],
                         list(request_tuple(request))))


def request_tuple(request: dict) -> tuple:
    """A Request dict -> the ABI tuple (requester, modelId, worker, fee, createdAt, input)."""
    return (
        request["requester"],
        bytes.fromhex(request["modelId"][2:]),
        request["worker"],
        int(request["fee"]),
        int(request["createdAt"]),
        bytes.fromhex(request["inputCommitment"][2:]),
    )


def _values(struct: Any) -> tuple:
    return tuple(struct.values()) if isinstance(struct, Mapping) else tuple(struct)


@dataclass(frozen=True)
class RecordedEvent:
    """An InferenceRecorded event, decoded once for every reader."""

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


def decode_recorded(event: Any) -> RecordedEvent:
    args = event["args"]
    shares = [(s[0], int(s[1])) for s in map(_values, args["shares"])]
    epoch, worker_cut, owner_cut, contributor_cut = map(int, _values(args["payout"]))
    return RecordedEvent(
        bytes(args["requestId"]), Inference.from_tuple(_values(args["inference"])), shares,
        epoch, worker_cut, owner_cut, contributor_cut, bytes(args["digest"]),
        "0x" + bytes(event["transactionHash"]).hex(), int(event["blockNumber"]),
    )


def recorded_events(contract: Contract, from_block: int = 0, to_block: int | None = None,
                    request_id: bytes | None = None) -> list[RecordedEvent]:
    filters = {"requestId": request_id} if request_id is not None else None
    return [decode_recorded(e) for e in iter_events(
        contract, "InferenceRecorded", from_block, to_block, argument_filters=filters)]
