"""Bound handles on the deployed contracts, by the names the contracts carry."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from web3 import Web3
from web3.contract import Contract

from offchain.build import load_artifact
from offchain.chain.connection import Chain
from offchain.chain.deploy import Deployment, load_deployment
from offchain.chain.tx import Call, Sender
from offchain.errors import ConfigError

if TYPE_CHECKING:
    from offchain.registry import Distributor, Registry


@dataclass
class Attestia:
    """The deployed InferenceRegistry and RewardDistributor on one chain."""

    chain: Chain
    deployment: Deployment

    @classmethod
    def load(cls, chain: Chain) -> Attestia:
        deployment = load_deployment(chain)
        handle = cls(chain, deployment)
        if len(chain.w3.eth.get_code(handle.registry.address)) == 0:
            raise ConfigError(
                f"no contract at {handle.registry.address} on chain {chain.chain_id} (was the "
                "chain reset?): run `attestia deploy --fresh`"
            )
        return handle

    @cached_property
    def first_block(self) -> int:
        """The deployment's first block: event scans start here, not at genesis."""
        blocks = [int(c.get("block", 0)) for c in self.deployment.contracts.values()]
        return min(blocks) if blocks else 0

    def _bind(self, name: str) -> Contract:
        artifact = load_artifact(self.chain.settings.build_dir, name)
        address = Web3.to_checksum_address(self.deployment.address(name))
        # decode_tuples: struct outputs come back as named tuples, so offchain.protocol maps
        # them by field name (never by position).
        return self.chain.w3.eth.contract(address=address, abi=artifact.abi, decode_tuples=True)

    @cached_property
    def registry(self) -> Contract:
        return self._bind("InferenceRegistry")

    @cached_property
    def distributor(self) -> Contract:
        return self._bind("RewardDistributor")

    @cached_property
    def lens(self) -> Contract:
        return self._bind("RegistryLens")

    @cached_property
    def slasher(self) -> Contract:
        return self._bind("Slasher")

    def sender(self, account: Any = None) -> Sender:
        return self.chain.sender(account)

    @cached_property
    def reg(self) -> Registry:
        """The typed registry client (reads as protocol dataclasses, named writes, events)."""
        from offchain.registry import Registry

        return Registry(self)

    @cached_property
    def dist(self) -> Distributor:
        """The typed distributor client."""
        from offchain.registry import Distributor

        return Distributor(self)

    def send(self, call: Call, *, account: Any = None) -> Any:
        """Send an unsent call (from the typed clients) from ``account`` (default: the
        configured key); returns the receipt."""
        return self.sender(account).transact(call)

    def transact(self, fn: Any, *, value: int = 0, gas: int | None = None,
                 account: Any = None) -> Any:
        """Send a bound contract function from ``account`` (default: the configured key)."""
        return self.sender(account).transact(Call.of(fn, value=value, gas=gas))
