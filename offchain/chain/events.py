"""Reading contract events in block ranges (paged); ``offchain.registry`` decodes them.

A log the ABI cannot decode (a ``string`` argument that is not UTF-8: the contracts take any
bytes for one) is skipped with one log line: one poisoned event never hides the others of its
page from a client or a long-running process."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from eth_abi.exceptions import DecodingError

from offchain.chain.light import arg_matches, event_reader

if TYPE_CHECKING:
    from web3.contract import Contract

PAGE_BLOCKS = 5_000
log = logging.getLogger("attestia.chain")


def iter_events(
    contract: Contract, event: str, from_block: int, to_block: int | None = None,
    argument_filters: dict[str, Any] | None = None, page: int = PAGE_BLOCKS,
) -> Iterator[Any]:
    """Decoded logs of ``event`` in [from_block, to_block], in chain order."""
    w3 = contract.w3
    last = to_block if to_block is not None else w3.eth.block_number
    handle = event_reader(contract, event)  # decoded by eth_abi, in web3's shapes
    start = max(from_block, 0)
    while start <= last:
        stop = min(start + page - 1, last)
        try:
            found = handle.get_logs(
                from_block=start, to_block=stop, argument_filters=argument_filters
            )
        except (DecodingError, ValueError):  # a page is decoded whole or not at all
            found = list(_decodable(contract, handle, start, stop, argument_filters))
        yield from found
        start = stop + 1


def _decodable(contract: Contract, handle: Any, start: int, stop: int,
               argument_filters: dict[str, Any] | None) -> Iterator[Any]:
    """The page's logs decoded one by one, those that cannot be skipped (one line each);
    the argument filters are applied here (the raw query names the event only)."""
    raw = contract.w3.eth.get_logs({"address": contract.address, "fromBlock": start,
                                    "toBlock": stop, "topics": [handle.topic]})
    for entry in sorted(raw, key=lambda e: (e["blockNumber"], e["logIndex"])):
        try:
            decoded = handle.process_log(entry)
        except (DecodingError, ValueError) as exc:
            log.warning("cannot decode %s at block %d log %d (%s); skipped", handle.event_name,
                        entry["blockNumber"], entry["logIndex"],
                        " ".join(str(exc).split())[:200] or type(exc).__name__)
            continue
        if all(arg_matches(decoded["args"].get(name), wanted)
               for name, wanted in (argument_filters or {}).items()):
            yield decoded

