"""Bound handles on the deployed contracts, by the names the contracts carry."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from web3 import Web3
from web3.contract import Contract

from offchain.build import Artifact, load_artifact
from offchain.chain.connection import Chain
from offchain.chain.deploy import Deployment, deployment_path, load_deployment
from offchain.chain.tx import Call, Sender
from offchain.config import REPO_ROOT
from offchain.errors import AttestiaError, ConfigError

if TYPE_CHECKING:
    from offchain.registry import Disputes, Distributor, Registry


@dataclass
class Attestia:
    """The deployed InferenceRegistry and RewardDistributor on one chain."""

    chain: Chain
    deployment: Deployment

    @classmethod
    def load(cls, chain: Chain, path: Path | None = None) -> Attestia:
        """The deployment recorded in ``path`` (default: deployments/<chain id>.json)."""
        if path is not None and not path.is_file():
            raise ConfigError(f"--deployment {path}: no such file")
        deployment = load_deployment(chain, path)
        handle = cls(chain, deployment)
        if len(chain.w3.eth.get_code(handle.registry.address)) == 0:
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
        if len(chain.w3.eth.get_code(Web3.to_checksum_address(address))) == 0:
            raise ConfigError(f"--registry {address}: no contract at that address on chain "
                              f"{chain.chain_id}")
        contracts: dict[str, dict[str, Any]] = {"InferenceRegistry": {"address": address}}
        probe = cls(chain, Deployment(chain_id=chain.chain_id, contracts=contracts))
        try:
            contracts["RewardDistributor"] = {
                "address": _checksum(probe.registry.functions.rewardDistributor().call(), "")}
            contracts["Slasher"] = {
                "address": _checksum(probe.registry.functions.slasher().call(), "")}
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
                points_at = _checksum(handle.lens.functions.registry().call(), "")
            except Exception:
                points_at = ""
            if points_at != address:
                raise ConfigError(f"--lens {lens} is not the RegistryLens of registry {address}")
            return handle
        return cls(chain, Deployment(chain_id=chain.chain_id, contracts=contracts))

    @cached_property
    def first_block(self) -> int:
        """The deployment's first block: event scans start here, not at genesis."""
        blocks = [int(c.get("block", 0)) for c in self.deployment.contracts.values()]
        return min(blocks) if blocks else 0

    def _bind(self, name: str) -> Contract:
        if name == "RegistryLens" and name not in self.deployment.contracts:
            raise ConfigError("the RegistryLens address is unknown (it cannot be read from the "
                              "registry): pass --lens ADDRESS or --deployment FILE")
        artifact = _artifact(self.chain.settings.build_dir, name)
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
    def disputes(self) -> Disputes:
        """The typed client of the attribution-dispute game (in the Slasher)."""
        from offchain.registry import Disputes

        return Disputes(self)

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


def _artifact(build_dir: Path, name: str) -> Artifact:
    """The compiled artifact from the home's build/, else from the one shipped with this
    checkout (a stranger's home need not have compiled anything to read the chain)."""
    shipped = REPO_ROOT / "build"
    if not (build_dir / f"{name}.json").exists() and (shipped / f"{name}.json").exists():
        return load_artifact(shipped, name)
    return load_artifact(build_dir, name)


def _checksum(address: Any, option: str) -> str:
    try:
        return str(Web3.to_checksum_address(address))
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
