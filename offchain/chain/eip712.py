"""Signing Attestia's EIP-712 structs: sign a digest, recover its signer, build wallet JSON.

The structs, their type hashes and the digests live in :mod:`offchain.protocol` (the one
place that encodes them); this module only adds what needs a key or a wallet. Tests check the
digests against eth-account's generic ``encode_typed_data`` and against the contract's own hash.
"""

from __future__ import annotations

from dataclasses import fields

from eth_account.signers.local import LocalAccount
from eth_keys import keys
from eth_typing import Hash32
from eth_utils import to_checksum_address

from offchain.protocol import DOMAIN_NAME, DOMAIN_VERSION, INFERENCE_ABI_TYPES, Inference


def sign_digest(account: LocalAccount, digest: bytes) -> bytes:
    """65-byte r||s||v signature over an EIP-712 digest."""
    return bytes(account.unsafe_sign_hash(Hash32(digest)).signature)


def recover_signer(digest: bytes, signature: bytes) -> str:
    """The address that made a 65-byte r||s||v signature (v 27/28 or 0/1) over a digest.
    eth-account has no public recover for a bare hash, so eth-keys (its own backend) does it."""
    if len(digest) != 32 or len(signature) != 65:
        raise ValueError("need a 32-byte digest and a 65-byte r||s||v signature")
    v = signature[64] - 27 if signature[64] >= 27 else signature[64]
    sig = keys.Signature(signature_bytes=bytes(signature[:64]) + bytes([v]))
    return sig.recover_public_key_from_msg_hash(digest).to_checksum_address()


def typed_data(record: Inference, chain_id: int, registry: str) -> dict:
    """The full EIP-712 JSON (for wallets and for cross-checking with eth-account)."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Inference": [
                {"name": f.name, "type": t}
                for f, t in zip(fields(Inference), INFERENCE_ABI_TYPES, strict=True)
            ],
        },
        "primaryType": "Inference",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(registry),
        },
        "message": dict(zip([f.name for f in fields(Inference)], record.as_tuple(), strict=True)),
    }
