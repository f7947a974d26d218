"""Putting a worker on chain: stake its signing key, publish its encryption key, bind TEE."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount

from offchain.chain.contracts import Attestia
from offchain.fsutil import atomic_write_bytes
from offchain.privacy import EncryptionKey


def ensure_registered(
    attestia: Attestia, signer: str, enc_key: EncryptionKey, operator: LocalAccount,
    stake: int | None = None,
) -> bool:
    """Register ``signer`` (operator pays the stake) unless it already is. True if new."""
    reg = attestia.reg
    if reg.worker(signer) is not None:
        return False
    stake = stake if stake is not None else reg.min_stake()
    attestia.send(reg.register_worker(signer, enc_key.public, stake), account=operator)
    return True


def ensure_enclave_bound(
    attestia: Attestia, signer: str, measurement: bytes, attestation_hash: bytes,
    attestation_uri: str, operator: LocalAccount,
) -> bool:
    info = attestia.reg.worker(signer)
    if info is not None and info.enclave_bound:
        return False
    attestia.send(attestia.reg.bind_enclave(signer, measurement, attestation_hash,
                                            attestation_uri), account=operator)
    return True


def save_attestation(data_dir: Path, document: bytes) -> str:
    """Store an attestation document where verifiers can fetch it; returns its file URI."""
    path = data_dir / "attestation.cose"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, document)
    return path.resolve().as_uri()
