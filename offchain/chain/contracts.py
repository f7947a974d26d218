"""Bound handles on the deployed contracts, by the names the contracts carry."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from web3 import Web3
from web3.contract import Contract

from offchain.build import load_artifact
from offchain.chain.connection import Chain
from offchain.chain.deploy import Deployment, load_deployment
from offchain.chain.tx import Call, Sender
from offchain.errors import ConfigError


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
        return self.chain.w3.eth.contract(address=address, abi=artifact.abi)

    @cached_property
    def registry(self) -> Contract:
        return self._bind("InferenceRegistry")

    @cached_property
    def distributor(self) -> Contract:
        return self._bind("RewardDistributor")

    def sender(self, account: Any = None) -> Sender:
        return self.chain.sender(account)

    def transact(self, fn: Any, *, value: int = 0, gas: int | None = None,
                 account: Any = None) -> Any:
        """Send a bound contract function from ``account`` (default: the configured key)."""
        return self.sender(account).transact(Call.of(fn, value=value, gas=gas))
