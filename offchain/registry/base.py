"""What every typed client shares: its raw contract and its paged event scans."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from offchain.chain.events import iter_events

if TYPE_CHECKING:
    from web3.contract import Contract


class ContractClient:
    """A typed client over one deployed contract.

    ``contract`` is the raw web3 contract (or, on the light read path, a
    :class:`offchain.chain.light.LightContract` answering the same reads): only this package
    (and the generic log follower) touches it; ``tests/test_guard_contract_access.py`` fails
    when anything else does.
    """

    def __init__(self, contract: Contract, first_block: int) -> None:
        self.contract = contract
        self.first_block = first_block
        """The deployment's first block: event scans start here, not at genesis."""
        self._fn = contract.functions

    @property
    def address(self) -> str:
        return str(self.contract.address)

    def _events(self, name: str, from_block: int | None, to_block: int | None,
                filters: dict[str, Any] | None = None) -> Iterator[Any]:
        start = self.first_block if from_block is None else from_block
        return iter_events(self.contract, name, start, to_block, argument_filters=filters)
