"""A model package's life on chain: register it, read it back."""

from __future__ import annotations

from dataclasses import dataclass

from offchain.chain.contracts import Attestia
from offchain.chain.eip712 import PROOF_KIND_NAMES, policy_bit
from offchain.errors import ConfigError
from offchain.models.package import ModelPackage

DEFAULT_FEE = 10**15  # 0.001 ETH
DEFAULT_SPLIT = (2_000, 2_000, 6_000)  # worker, owner, data contributors (bps)


def policy_of(kinds: list[str]) -> int:
    names = {v: k for k, v in PROOF_KIND_NAMES.items()}
    unknown = [k for k in kinds if k not in names]
    if unknown or not kinds:
        raise ConfigError(f"unknown proof kinds {unknown}; choose from {sorted(names)}")
    policy = 0
    for kind in kinds:
        policy |= policy_bit(names[kind])
    return policy


def kinds_of(policy: int) -> list[str]:
    return [name for kind, name in PROOF_KIND_NAMES.items() if policy & policy_bit(kind)]


@dataclass(frozen=True)
class OnchainModel:
    model_id: bytes
    owner: str
    policy: int
    fee: int
    worker_bps: int
    owner_bps: int
    deprecated: bool
    revoked_at: int
    verifier: str
    data_root: bytes
    contributors: int
    registered_at: int
    metadata_uri: str

    @property
    def contributor_bps(self) -> int:
        return 10_000 - self.worker_bps - self.owner_bps


def get_model(attestia: Attestia, model_id: bytes) -> OnchainModel | None:
    m = attestia.registry.functions.getModel(model_id).call()
    if m[0] == "0x" + "00" * 20:
        return None
    return OnchainModel(model_id, m[0], m[1], m[6], m[2], m[3], m[4], m[5], m[7], bytes(m[8]),
                        m[9], m[10], m[11])


def register_model(
    attestia: Attestia, package: ModelPackage, *, fee: int = DEFAULT_FEE,
    split: tuple[int, int, int] = DEFAULT_SPLIT, kinds: list[str] | None = None,
    metadata_uri: str | None = None, account=None,
) -> tuple[OnchainModel, bool]:
    """Register the package (idempotent: an existing registration is returned as is)."""
    existing = get_model(attestia, package.model_id)
    if existing is not None:
        return existing, False
    uri = metadata_uri or f"attestia:{package.manifest.name}@{package.manifest.version}"
    attestia.transact(
        attestia.registry.functions.registerModel(
            package.model_id, uri, package.roster_root(), len(package.manifest.contributors),
            policy_of(kinds or ["signed", "tee"]), fee, split,
        ),
        account=account,
    )
    model = get_model(attestia, package.model_id)
    assert model is not None
    return model, True


def set_verifier(attestia: Attestia, model_id: bytes, verifier: str, account=None) -> None:
    """``setVerifier(modelId, verifier)`` (model owner only): the ZK verifier of the model."""
    attestia.transact(attestia.registry.functions.setVerifier(model_id, verifier),
                      account=account)


def set_policy(attestia: Attestia, model_id: bytes, policy: int, account=None) -> None:
    """``setPolicy(modelId, policy)`` (model owner only): the accepted proof kinds."""
    attestia.transact(attestia.registry.functions.setPolicy(model_id, policy), account=account)


def enable_zk(attestia: Attestia, package: ModelPackage, artifacts, account=None
              ) -> tuple[OnchainModel, bool]:
    """Deploy the package's per-model verifier, register it and add ZK to the policy.

    ``artifacts`` is the package's ``offchain.proofs.zk.ZkArtifacts``. Idempotent: a verifier
    whose code is already this circuit's is kept. Returns (model, deployed a new verifier?).
    Refuses artifacts made on a local test SRS anywhere but the local dev chain.
    """
    from offchain.chain.eip712 import PROOF_ZK
    from offchain.chain.tx import Call
    from offchain.proofs.zk import require_secure_srs

    chain = attestia.chain
    require_secure_srs(artifacts, chain.chain_id)
    if artifacts.model_id != package.model_id:
        raise ConfigError(f"the zk artifacts in {artifacts.directory} are for model "
                          f"0x{artifacts.model_id.hex()}, not 0x{package.model_id.hex()}: "
                          "run the zk setup again")
    model = get_model(attestia, package.model_id)
    if model is None:
        raise ConfigError(f"model 0x{package.model_id.hex()} is not registered: run "
                          f"attestia model register {package.path}")
    sender = attestia.sender(account)
    if model.owner != sender.address:
        raise ConfigError(f"only the model owner {model.owner} can set its verifier (you are "
                          f"{sender.address})")
    runtime = bytes(chain.w3.eth.call({"data": artifacts.verifier_bytecode, "gas": 15_000_000}))
    current = bytes(chain.w3.eth.get_code(model.verifier)) if int(model.verifier, 16) else b""
    deployed = current != runtime
    if deployed:
        receipt = sender.transact(Call(to="", data=artifacts.verifier_bytecode,
                                       label="deploy Halo2Verifier"))
        set_verifier(attestia, package.model_id, receipt["contractAddress"], account)
    if not model.policy & policy_bit(PROOF_ZK):
        set_policy(attestia, package.model_id, model.policy | policy_bit(PROOF_ZK), account)
    updated = get_model(attestia, package.model_id)
    assert updated is not None
    return updated, deployed
