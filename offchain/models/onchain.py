"""A model package's life on chain: register it, enable ZK for it, read it back.

Reads come back as :class:`offchain.protocol.Model` (from the typed registry client); writes
go through its named call builders.
"""

from __future__ import annotations

from eth_utils import to_checksum_address

from offchain.chain.contracts import Attestia
from offchain.errors import ConfigError
from offchain.models.package import ModelPackage
from offchain.protocol import PROOF_ZK, Model, Split, policy_bit, policy_of

DEFAULT_FEE = 10**15  # 0.001 ETH
DEFAULT_SPLIT = Split(workerBps=2_000, ownerBps=2_000, contributorBps=6_000)


def register_model(
    attestia: Attestia, package: ModelPackage, *, fee: int = DEFAULT_FEE,
    split: Split = DEFAULT_SPLIT, kinds: list[str] | None = None,
    metadata_uri: str | None = None, account=None,
) -> tuple[Model, bool]:
    """Register the package (idempotent: an existing registration is returned as is)."""
    reg = attestia.reg
    existing = reg.model(package.model_id)
    if existing is not None:
        return existing, False
    try:
        policy = policy_of(kinds or ["signed", "tee"])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    uri = metadata_uri or f"attestia:{package.manifest.name}@{package.manifest.version}"
    attestia.send(reg.register_model(package.model_id, uri, package.roster_root(),
                                     len(package.manifest.contributors), policy, fee, split),
                  account=account)
    model = reg.model(package.model_id)
    assert model is not None
    return model, True


def enable_zk(attestia: Attestia, package: ModelPackage, artifacts, account=None
              ) -> tuple[Model, bool]:
    """Deploy the package's per-model verifier, register it and add ZK to the policy.

    ``artifacts`` is the package's ``offchain.proofs.zk.ZkArtifacts``. Idempotent: a verifier
    whose code is already this circuit's is kept. Returns (model, deployed a new verifier?).
    Refuses artifacts made on a local test SRS anywhere but the local dev chain.
    """
    from offchain.chain.tx import Call
    from offchain.proofs.zk import require_secure_srs

    chain, reg = attestia.chain, attestia.reg
    require_secure_srs(artifacts, chain.chain_id)
    if artifacts.model_id != package.model_id:
        raise ConfigError(f"the zk artifacts in {artifacts.directory} are for model "
                          f"0x{artifacts.model_id.hex()}, not 0x{package.model_id.hex()}: "
                          "run the zk setup again")
    model = reg.model(package.model_id)
    if model is None:
        raise ConfigError(f"model 0x{package.model_id.hex()} is not registered: run "
                          f"attestia model register {package.path}")
    sender = attestia.sender(account)
    if model.owner != sender.address:
        raise ConfigError(f"only the model owner {model.owner} can set its verifier (you are "
                          f"{sender.address})")
    runtime = bytes(chain.w3.eth.call({"data": artifacts.verifier_bytecode, "gas": 15_000_000}))
    current = (bytes(chain.w3.eth.get_code(to_checksum_address(model.verifier)))
               if model.has_verifier else b"")
    deployed = current != runtime
    if deployed:
        receipt = sender.transact(Call(to="", data=artifacts.verifier_bytecode,
                                       label="deploy Halo2Verifier"))
        attestia.send(reg.set_verifier(package.model_id, receipt["contractAddress"]),
                      account=account)
    if not model.policy & policy_bit(PROOF_ZK):
        attestia.send(reg.set_policy(package.model_id, model.policy | policy_bit(PROOF_ZK)),
                      account=account)
    updated = reg.model(package.model_id)
    assert updated is not None
    return updated, deployed
