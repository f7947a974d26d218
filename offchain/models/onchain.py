"""A model package's life on chain: register it, change its terms, enable ZK for it.

A package registers under ``modelId = keccak256(abi.encode(owner, contentHash))``: its content
hash (the ModelSpec hash: model.onnx and its integer weights), its contributor roster (the
manifest's contributors, sorted ascending), its data root, policy, fee and split.
Re-registering is a no-op when this owner already registered it with the same parameters, and an
error saying what differs when the parameters differ (terms change with :func:`set_terms`;
roster, data root and metadata URI never change). Reads come back as
:class:`offchain.protocol.Model` (from the typed registry client); writes go through its named
call builders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from offchain.errors import ConfigError
from offchain.models.package import ModelPackage
from offchain.models.registrations import record_model_id
from offchain.protocol import (
    PROOF_ZK,
    Model,
    Split,
    contributors_hash,
    kinds_of,
    model_id,
    policy_bit,
    policy_of,
)
from offchain.registry import Attestia

DEFAULT_FEE = 10**15  # 0.001 ETH
DEFAULT_SPLIT = Split(workerBps=2_000, ownerBps=2_000, contributorBps=6_000)
MAX_FEE = 2**96 - 1  # uint96


class ModelConflict(ConfigError):
    """This owner already registered the package with other parameters."""


@dataclass(frozen=True)
class Registration:
    """A package's registration: its on-chain id, the model as the chain holds it, and
    whether this call registered it (False: it already was, with the same parameters)."""

    model_id: bytes
    model: Model
    new: bool

    @property
    def hex(self) -> str:
        return "0x" + self.model_id.hex()


def default_metadata_uri(package: ModelPackage) -> str:
    return f"attestia:{package.manifest.name}@{package.manifest.version}"


def _eth(wei: int) -> str:
    return f"{wei / 1e18:g} ETH"


def _split(split: Split) -> str:
    return "/".join(str(v) for v in split.as_tuple())


def differences(model: Model, *, fee: int, policy: int, split: Split, roster_hash: bytes,
                data_root: bytes, metadata_uri: str) -> list[str]:
    """What differs between a registered model and the parameters asked for (empty: none)."""
    out = []
    if model.fee != fee:
        out.append(f"fee {_eth(model.fee)} on chain, {_eth(fee)} asked")
    if model.policy != policy:
        out.append(f"proofs {','.join(model.kinds)} on chain, {','.join(kinds_of(policy))} "
                   "asked")
    if model.split != split:
        out.append(f"split {_split(model.split)} on chain, {_split(split)} asked")
    if model.contributorsHash != roster_hash:
        out.append("another contributor roster")
    if model.dataRoot != data_root:
        out.append(f"data root 0x{model.dataRoot.hex()[:12]}… on chain, "
                   f"0x{data_root.hex()[:12]}… in the package")
    if model.metadataURI != metadata_uri:
        out.append(f"metadata URI {model.metadataURI!r} on chain, {metadata_uri!r} asked")
    return out


def check_fee(fee: int) -> int:
    if isinstance(fee, bool) or not isinstance(fee, int) or not 0 <= fee <= MAX_FEE:
        raise ConfigError(f"a fee must be 0..{MAX_FEE} wei (uint96), got {fee!r}")
    return fee


def register_model(
    attestia: Attestia, package: ModelPackage, *, fee: int = DEFAULT_FEE,
    split: Split = DEFAULT_SPLIT, kinds: list[str] | None = None,
    metadata_uri: str | None = None, account: Any = None, data_dir: Path | None = None,
) -> Registration:
    """Register the package under the sending account (the owner).

    Idempotent for the same owner and parameters (``new`` False); raises
    :class:`ModelConflict` naming each difference when this owner registered the same
    content with other parameters. Anyone else's registration of the same file is another
    id and is ignored. With ``data_dir`` the id is recorded for later resolution
    (``offchain.models.registrations``).
    """
    try:
        policy = policy_of(kinds or ["signed", "tee"])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    check_fee(fee)
    reg = attestia.registry
    owner = attestia.sender(account).address
    uri = metadata_uri if metadata_uri is not None else default_metadata_uri(package)
    roster = package.roster
    data_root = package.data_root()
    mid = model_id(owner, package.content_hash)
    existing = reg.model(mid)
    if existing is not None:
        diff = differences(existing, fee=fee, policy=policy, split=split,
                           roster_hash=contributors_hash(roster), data_root=data_root,
                           metadata_uri=uri)
        if diff:
            fixed = not all(d.startswith(("fee", "proofs", "split")) for d in diff)
            how = ("the roster, data root and metadata URI are fixed at registration (the id "
                   "is this owner's and this model.onnx's): register the changed package "
                   "with a new model.onnx, or from another owner account" if fixed else
                   f"to change the terms run attestia model set-terms 0x{mid.hex()} "
                   "(setTerms; requests already paid keep theirs)")
            raise ModelConflict(f"model 0x{mid.hex()} ({package.manifest.name}) is already "
                                f"registered by {owner} with other parameters: "
                                f"{'; '.join(diff)}; {how}")
        registration = Registration(mid, existing, False)
    else:
        attestia.send(reg.register_model(package.content_hash, uri, data_root, roster, policy,
                                         fee, split), account=account)
        model = reg.model(mid)
        if model is None:
            raise ConfigError(f"registerModel succeeded but model 0x{mid.hex()} is not on chain")
        registration = Registration(mid, model, True)
    if data_dir is not None:
        record_model_id(data_dir, attestia.chain.chain_id, reg.address, package.content_hash,
                        mid, owner, package.path)
    return registration


def owned_model(attestia: Attestia, model_id_: bytes, account: Any = None) -> Model:
    """The registered model, if the sending account owns it (else a ConfigError)."""
    model = attestia.registry.model(model_id_)
    if model is None:
        raise ConfigError(f"model 0x{model_id_.hex()} is not registered")
    sender = attestia.sender(account).address
    if model.owner != sender:
        raise ConfigError(f"only the model owner {model.owner} can change model "
                          f"0x{model_id_.hex()} (you are {sender})")
    return model


def set_terms(attestia: Attestia, model_id_: bytes, *, fee: int | None = None,
              policy: int | None = None, split: Split | None = None,
              account: Any = None) -> tuple[Model, bool]:
    """New fee, policy and/or split for an owned model (None keeps the current one).
    Requests already paid keep their terms. Returns (model, changed?)."""
    model = owned_model(attestia, model_id_, account)
    new_fee = check_fee(model.fee if fee is None else fee)
    new_policy = model.policy if policy is None else policy
    new_split = model.split if split is None else split
    if (new_fee, new_policy, new_split) == (model.fee, model.policy, model.split):
        return model, False
    attestia.send(attestia.registry.set_terms(model_id_, new_fee, new_policy, new_split),
                  account=account)
    updated = attestia.registry.model(model_id_)
    assert updated is not None
    return updated, True


def enable_zk(attestia: Attestia, package: ModelPackage, artifacts: Any, account: Any = None,
              model_id_: bytes | None = None) -> tuple[bytes, Model, bool]:
    """Deploy the package's per-model verifier, register it and add ZK to the policy.

    ``artifacts`` is the package's ``offchain.proofs.zk.ZkArtifacts``; the model is the
    sender's registration of the package (or ``model_id_``, which the sender must own).
    Idempotent: a verifier whose code is already this circuit's is kept. Returns (model id,
    model, deployed a new verifier?). Refuses artifacts made on a local test SRS anywhere
    but the local dev chain.
    """
    from offchain.chain.tx import Call
    from offchain.proofs.zk import require_secure_srs

    chain, reg = attestia.chain, attestia.registry
    require_secure_srs(artifacts, chain.chain_id)
    if artifacts.content_hash != package.onnx_sha256:
        raise ConfigError(f"the zk artifacts in {artifacts.directory} are for the ONNX file "
                          f"0x{artifacts.content_hash.hex()}, not this package's "
                          f"0x{package.onnx_sha256.hex()}: run the zk setup again")
    sender = attestia.sender(account)
    mid = model_id_ if model_id_ is not None else model_id(sender.address, package.content_hash)
    if reg.model(mid) is None:
        raise ConfigError(f"{package.path} is not registered by {sender.address} (model "
                          f"0x{mid.hex()}): run attestia model register {package.path}")
    model = owned_model(attestia, mid, account)
    if model.contentHash != package.content_hash:
        raise ConfigError(f"model 0x{mid.hex()} is not a registration of {package.path}")
    runtime = bytes(chain.w3.eth.call({"data": artifacts.verifier_bytecode, "gas": 15_000_000}))
    current = (bytes(chain.w3.eth.get_code(to_checksum_address(model.verifier)))
               if model.has_verifier else b"")
    deployed = current != runtime
    if deployed:
        receipt = sender.transact(Call(to="", data=artifacts.verifier_bytecode,
                                       label="deploy Halo2Verifier"))
        attestia.send(reg.set_verifier(mid, receipt["contractAddress"]), account=account)
    if not model.policy & policy_bit(PROOF_ZK):
        set_terms(attestia, mid, policy=model.policy | policy_bit(PROOF_ZK), account=account)
    updated = reg.model(mid)
    assert updated is not None
    return mid, updated, deployed
