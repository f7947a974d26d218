"""Binding an enclave's signing key to one chain and one registry.

An attestation proves which code runs; the binding proves that *this* secp256k1 key was
generated inside that code and is meant for *this* deployment. The enclave puts

    binding_digest = keccak256(pubkey64 || uint256(chain_id) || registry_address20)

into the hardware-signed field (Nitro ``user_data``, the first 32 bytes of DCAP
``report_data``). Including the chain id and registry address stops an attestation made for
a testnet registry from being replayed to register the same key on mainnet.
"""

from __future__ import annotations

from eth_utils import is_address, is_checksum_address, keccak, to_canonical_address

from offchain.proofs.tee.errors import BindingMismatch, PolicyViolation
from offchain.proofs.tee.result import AttestationResult

PUBKEY_LENGTH = 64
BINDING_LENGTH = 32


def binding_digest(pubkey: bytes, chain_id: int, registry: str) -> bytes:
    """``keccak256(pubkey || uint256 chain_id || registry)`` for a 64-byte uncompressed key.

    ``pubkey`` is the secp256k1 point without its 0x04 prefix (what ``eth_keys`` calls
    ``to_bytes()``); ``registry`` is a 0x-hex address (checksummed or all one case).
    """
    if not isinstance(pubkey, (bytes, bytearray)) or len(pubkey) != PUBKEY_LENGTH:
        raise ValueError("pubkey must be the 64-byte uncompressed secp256k1 key without 0x04")
    if not isinstance(chain_id, int) or isinstance(chain_id, bool) or not 0 <= chain_id < 2**256:
        raise ValueError("chain_id must be an integer in [0, 2**256)")
    return bytes(keccak(bytes(pubkey) + chain_id.to_bytes(32, "big") + _address_bytes(registry)))


def check_key_binding(result: AttestationResult, pubkey: bytes, chain_id: int,
                      registry: str) -> bytes:
    """Raise ``BindingMismatch`` unless ``result`` attests the binding of ``pubkey``.

    Nitro: ``user_data`` must equal the 32-byte digest exactly. DCAP: the first 32 bytes of
    ``report_data`` must equal it (the other 32 are left to the enclave, e.g. for a nonce).
    NVIDIA reports carry no enclave-chosen data and cannot bind a key. Returns the digest.
    """
    expected = binding_digest(pubkey, chain_id, registry)
    data = result.report_data
    if result.kind == "nitro":
        carried = data
        where = "Nitro user_data"
    elif result.kind == "dcap":
        carried = data[:BINDING_LENGTH] if data is not None else None
        where = "DCAP report_data[0:32]"
    else:
        raise PolicyViolation(
            f"key binding check failed: {result.kind} attestations carry no enclave-chosen "
            "data; bind the key with a Nitro or DCAP attestation instead"
        )
    if carried != expected:
        raise BindingMismatch(
            f"key binding check failed: {where} is "
            f"{carried.hex() if carried is not None else 'absent'}, expected "
            f"{expected.hex()} = keccak256(pubkey || chainId {chain_id} || registry "
            f"{registry}); the attestation was made for another key, chain or registry"
        )
    return expected


def _address_bytes(registry: str) -> bytes:
    if not isinstance(registry, str) or not is_address(registry):
        raise ValueError(f"registry {registry!r} is not a 20-byte 0x-hex address")
    body = registry[2:] if registry.startswith(("0x", "0X")) else registry
    if body != body.lower() and body != body.upper() and not is_checksum_address(registry):
        raise ValueError(f"registry {registry!r} has an invalid EIP-55 checksum")
    return bytes(to_canonical_address(registry))
