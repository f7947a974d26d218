"""Raw binding of a deployed contract: its compiled ABI at its recorded address.

Only the typed clients (:mod:`offchain.registry`) and the generic log follower
(:mod:`offchain.indexer.follower`, through them) hold what this returns; everything else reads
and writes the contracts through the typed clients.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from offchain.build import Artifact, load_artifact
from offchain.chain.abi import checksum
from offchain.chain.connection import Chain
from offchain.chain.deploy import Deployment
from offchain.chain.light import LightContract, LightWeb3
from offchain.config import REPO_ROOT

if TYPE_CHECKING:
    from web3.contract import Contract


def bind(chain: Chain, deployment: Deployment, name: str) -> Contract:
    """The web3 contract ``name`` of ``deployment``, with the ABI of its compiled artifact
    (on a light chain, a LightContract answering the same reads)."""
    artifact = _artifact(chain.settings.build_dir, name)
    address = checksum(deployment.address(name))
    if isinstance(chain.w3, LightWeb3):
        return cast("Contract", LightContract(chain.w3, address, artifact.abi))
    # decode_tuples: struct outputs come back as named tuples, so offchain.protocol maps
    # them by field name (never by position).
    return chain.w3.eth.contract(address=address, abi=artifact.abi, decode_tuples=True)


def _artifact(build_dir: Path, name: str) -> Artifact:
    """The compiled artifact from the home's build/, else from the one shipped with this
    checkout (a stranger's home need not have compiled anything to read the chain)."""
    shipped = REPO_ROOT / "build"
    if not (build_dir / f"{name}.json").exists() and (shipped / f"{name}.json").exists():
        return load_artifact(shipped, name)
    return load_artifact(build_dir, name)
