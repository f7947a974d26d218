"""The handle on one deployment: its chain, its recorded addresses and one typed client per
deployed contract, each under the contract's natural name."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_utils import to_checksum_address

from offchain.chain.abi import checksum
from offchain.chain.connection import Chain
from offchain.chain.contracts import bind
from offchain.chain.deploy import Deployment, deployment_path, load_deployment
from offchain.chain.tx import Call, Sender
from offchain.errors import AttestiaError, ConfigError
from offchain.registry.distributor import Distributor
from offchain.registry.inference import Registry
from offchain.registry.lens import RegistryLens
from offchain.registry.slasher import Slasher

if TYPE_CHECKING:
    from web3.contract import Contract


@dataclass
class Attestia:
    """The deployed InferenceRegistry, RegistryLens, Slasher and RewardDistributor on one
    chain, as typed clients."""

    chain: Chain
    deployment: Deployment

    @classmethod
    def load(cls, chain: Chain, path: Path | None = None) -> Attestia:
        """The deployment recorded in ``path`` (default: deployments/<chain id>.json)."""
        if path is not None and not path.is_file():
            raise ConfigError(f"--deployment {path}: no such file")
        deployment = load_deployment(chain, path)
        handle = cls(chain, deployment)
        if len(chain.w3.eth.get_code(handle.registry.contract.address)) == 0:
            raise ConfigError(
                f"no contract at {handle.registry.address} on chain {chain.chain_id} (was the "
                "chain reset?): run `attestia deploy --fresh`"
            )
        return handle

    @classmethod
    def from_registry(cls, chain: Chain, registry: str, lens: str | None = None) -> Attestia:
        """The contract set found from the registry's address alone (read-only, no file
        needed): the distributor and slasher are read from the registry. The RegistryLens
        cannot be found from the registry: it is ``lens`` if given, else the lens of a
        deployment file of this home that records the same registry, else unknown (record
        status checks then fail with an error naming ``--lens``)."""
        address = _checksum(registry, "--registry")
        if len(chain.w3.eth.get_code(checksum(address))) == 0:
            raise ConfigError(f"--registry {address}: no contract at that address on chain "
                              f"{chain.chain_id}")
        contracts: dict[str, dict[str, Any]] = {"InferenceRegistry": {"address": address}}
        probe = cls(chain, Deployment(chain_id=chain.chain_id, contracts=contracts))
        try:
            wired = probe.registry.contract.functions
            contracts["RewardDistributor"] = {
                "address": _checksum(wired.rewardDistributor().call(), "")}
            contracts["Slasher"] = {"address": _checksum(wired.slasher().call(), "")}
        except AttestiaError:
            raise
        except Exception:  # a revert or undecodable answer: not our registry
            raise ConfigError(f"--registry {address} is not an InferenceRegistry on chain "
                              f"{chain.chain_id}") from None
        if lens is None:
            lens = _lens_from_home(chain, address)
        if lens is not None:
            contracts["RegistryLens"] = {"address": _checksum(lens, "--lens")}
            handle = cls(chain, Deployment(chain_id=chain.chain_id, contracts=contracts))
            try:
                points_at = _checksum(handle.lens.registry_address(), "")
            except Exception:
                points_at = ""
            if points_at != address:
                raise ConfigError(f"--lens {lens} is not the RegistryLens of registry {address}")
            return handle
        return cls(chain, Deployment(chain_id=chain.chain_id, contracts=contracts))

    def light(self) -> Attestia:
        """The same contracts read through offchain.chain.light: several times less CPU a
        call than web3 (no middleware, validation or formatters), for a process that only
        reads (the explorer's pages and checklist); it never sends."""
        return self if self.chain.is_light else Attestia(self.chain.light(), self.deployment)

    @cached_property
    def first_block(self) -> int:
        """The deployment's first block: event scans start here, not at genesis."""
        blocks = [int(c.get("block", 0)) for c in self.deployment.contracts.values()]
        return min(blocks) if blocks else 0

    def _contract(self, name: str) -> Contract:
        if name == "RegistryLens" and name not in self.deployment.contracts:
            raise ConfigError("the RegistryLens address is unknown (it cannot be read from the "
                              "registry): pass --lens ADDRESS or --deployment FILE")
        return bind(self.chain, self.deployment, name)

    @cached_property
    def registry(self) -> Registry:
        return Registry(self._contract("InferenceRegistry"), self.first_block)

    @cached_property
    def distributor(self) -> Distributor:
        return Distributor(self._contract("RewardDistributor"), self.first_block)

    @cached_property
    def lens(self) -> RegistryLens:
        return RegistryLens(self._contract("RegistryLens"), self.first_block)

    @cached_property
    def slasher(self) -> Slasher:
        """Equivocation slashing and the attribution-dispute game."""
        return Slasher(self._contract("Slasher"), self.first_block)

    def sender(self, account: Any = None) -> Sender:
        return self.chain.sender(account)

    def send(self, call: Call, *, account: Any = None, committed: bool = False) -> Any:
        """Send an unsent call (from the typed clients) from ``account`` (default: the
        configured key); returns the receipt. A call that pays its sender is preceded by its
        commitment, unless ``committed`` (``sender(account).commit_for(call)`` sent it)."""
        return self.sender(account).transact(call, committed=committed)

    def transact(self, fn: Any, *, value: int = 0, gas: int | None = None,
                 account: Any = None) -> Any:
        """Send a bound contract function from ``account`` (default: the configured key)."""
        return self.sender(account).transact(Call.of(fn, value=value, gas=gas))


def _checksum(address: Any, option: str) -> str:
    try:
        return str(to_checksum_address(address))
    except (ValueError, TypeError):
        raise ConfigError(f"{option} must be a 0x-prefixed 20-byte address, got "
                          f"{address!r}") from None


def _lens_from_home(chain: Chain, registry: str) -> str | None:
    """The lens of this home's deployment file for the chain, if it records ``registry``."""
    path = deployment_path(chain)
    if not path.exists():
        return None
    try:
        deployment = load_deployment(chain, path)
        if _checksum(deployment.address("InferenceRegistry"), "") != registry:
            return None
        return str(deployment.address("RegistryLens"))
    except ConfigError:
        return None
