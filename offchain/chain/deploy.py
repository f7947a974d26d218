"""Deploy the contract set and record it in ``deployments/<chain-id>.json``.

Re-running against the same chain reuses a recorded deployment when every address still
holds code and every artifact hash matches; ``fresh=True`` always deploys anew.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from offchain.build import Artifact, compile_contracts
from offchain.chain.abi import checksum
from offchain.chain.connection import Chain
from offchain.chain.plan import PLAN, WIRING, Deployment, DeployParams
from offchain.chain.tx import Call
from offchain.errors import ConfigError
from offchain.storage.atomic import atomic_write_json


def deployment_path(chain: Chain) -> Path:
    return chain.settings.deployments_dir / f"{chain.chain_id}.json"


def load_deployment(chain: Chain, path: Path | None = None) -> Deployment:
    """The recorded deployment for the connected chain; checks the chain id inside."""
    path = path or deployment_path(chain)
    if not path.exists():
        raise ConfigError(
            f"no deployment for chain id {chain.chain_id} ({path}): run `attestia deploy`"
        )
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    if int(data.get("chainId", -1)) != chain.chain_id:
        raise ConfigError(
            f"{path} records chain id {data.get('chainId')}, but the RPC is chain id "
            f"{chain.chain_id}: point at the right chain or deploy with `attestia deploy`"
        )
    data.pop("chainId")
    return Deployment(chain_id=chain.chain_id, **data)


def _still_valid(chain: Chain, deployment: Deployment, artifacts: dict[str, Artifact]) -> bool:
    for name, _ in PLAN:
        if name not in artifacts:
            continue
        entry = deployment.contracts.get(name)
        if entry is None or entry.get("artifactHash") != artifacts[name].artifact_hash:
            return False
        if len(chain.w3.eth.get_code(checksum(entry["address"]))) == 0:
            return False
    return True


def deploy(
    chain: Chain, *, fresh: bool = False, params: DeployParams | None = None,
    on_step: Callable[[str], None] | None = None,
) -> tuple[Deployment, bool]:
    """Deploy (or reuse) the contract set. Returns (deployment, reused?)."""
    artifacts, _, _ = compile_contracts(
        chain.settings.build_dir, contracts_dir=chain.settings.contracts_dir
    )
    path = deployment_path(chain)
    if path.exists() and not fresh:
        existing = load_deployment(chain, path)
        if _still_valid(chain, existing, artifacts):
            return existing, True
    params = params or DeployParams()
    sender = chain.sender()
    deployment = Deployment(
        chain_id=chain.chain_id, params=asdict(params), deployer=sender.address,
        created_at=int(time.time()),
    )
    for name, args_fn in PLAN:
        if name not in artifacts:
            continue
        artifact = artifacts[name]
        factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        args = args_fn(deployment, sender.address, params)
        data = bytes.fromhex(factory.constructor(*args).data_in_transaction[2:])
        receipt = sender.transact(Call(to="", data=data, label=f"deploy {name}"))
        deployment.contracts[name] = {
            "address": receipt["contractAddress"],
            "txHash": "0x" + bytes(receipt["transactionHash"]).hex(),
            "block": receipt["blockNumber"],
            "gasUsed": receipt["gasUsed"],
            "artifactHash": artifact.artifact_hash,
        }
        if on_step:
            on_step(name)
    for name, function, args_fn in WIRING:
        contract = chain.w3.eth.contract(address=checksum(deployment.address(name)),
                                         abi=artifacts[name].abi)
        fn = getattr(contract.functions, function)(*args_fn(deployment, sender.address, params))
        sender.transact(Call.of(fn))
        if on_step:
            on_step(f"{name}.{function}")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, deployment.to_json(), indent=2)
    return deployment, False
