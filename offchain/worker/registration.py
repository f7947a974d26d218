"""Putting a worker on chain: stake its signing key, publish its encryption key, bind TEE."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from offchain.chain.contracts import Attestia
from offchain.fsutil import atomic_write_bytes
from offchain.privacy import EncryptionKey

ZERO = "0x" + "00" * 20


def worker_info(attestia: Attestia, signer: str) -> Any:
    return attestia.registry.functions.getWorker(signer).call()


def ensure_registered(
    attestia: Attestia, signer: str, enc_key: EncryptionKey, operator: LocalAccount,
    stake: int | None = None,
) -> bool:
    """Register ``signer`` (operator pays the stake) unless it already is. True if new."""
    if worker_info(attestia, signer)[0] != ZERO:
        return False
    stake = stake if stake is not None else attestia.registry.functions.minStake().call()
    attestia.transact(
        attestia.registry.functions.registerWorker(signer, enc_key.public),
        value=stake, account=operator,
    )
    return True


def ensure_enclave_bound(
    attestia: Attestia, signer: str, measurement: bytes, attestation_hash: bytes,
    attestation_uri: str, operator: LocalAccount,
) -> bool:
    info = worker_info(attestia, signer)
    if info[5] != 0:  # enclaveBoundAt
        return False
    attestia.transact(
        attestia.registry.functions.bindEnclave(
            signer, measurement, attestation_hash, attestation_uri
        ),
        account=operator,
    )
    return True


def save_attestation(data_dir: Path, document: bytes) -> str:
    """Store an attestation document where verifiers can fetch it; returns its file URI."""
    path = data_dir / "attestation.cose"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, document)
    return path.resolve().as_uri()
