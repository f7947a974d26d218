"""Reading contract events in block ranges (paged); ``offchain.registry`` decodes them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from web3.contract import Contract

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
