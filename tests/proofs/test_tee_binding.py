"""Key binding: keccak256(pubkey || uint256 chainId || registry) in the attested data."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from eth_abi.packed import encode_packed
from eth_keys import keys
from eth_utils import keccak

from offchain.proofs.tee import (
    BindingMismatch,
    PolicyViolation,
    binding_digest,
    check_key_binding,
    verify_attestation,
)
from offchain.proofs.tee.simulated import SimulatedNitroEnclave
from tests.proofs.vectors import attestation_vectors as _vectors

# Anvil's first public dev key: a well-known test key, never a real one.
ANVIL_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
PUBKEY = keys.PrivateKey(ANVIL_KEY).public_key.to_bytes()
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)




def test_digest_matches_solidity_encode_packed():
    # What the registry contract computes: keccak256(abi.encodePacked(pubkey, chainId, registry))
    packed = encode_packed(["bytes", "uint256", "address"], [PUBKEY, 31337, REGISTRY])
    assert len(packed) == 64 + 32 + 20
    assert binding_digest(PUBKEY, 31337, REGISTRY) == keccak(packed)


def test_digest_separates_chain_registry_and_key():
    base = binding_digest(PUBKEY, 31337, REGISTRY)
    assert binding_digest(PUBKEY, 1, REGISTRY) != base
    assert binding_digest(PUBKEY, 31337, "0x" + "11" * 20) != base
    assert binding_digest(bytes(64), 31337, REGISTRY) != base
    assert binding_digest(PUBKEY, 31337, REGISTRY.lower()) == base  # same address, any case


@pytest.mark.parametrize("pubkey,chain_id,registry,match", [
    (b"\x04" + PUBKEY, 1, REGISTRY, "64-byte"),
    (PUBKEY[:33], 1, REGISTRY, "64-byte"),
    (PUBKEY, -1, REGISTRY, "chain_id"),
    (PUBKEY, 2**256, REGISTRY, "chain_id"),
    (PUBKEY, True, REGISTRY, "chain_id"),
    (PUBKEY, 1, "0x1234", "address"),
    (PUBKEY, 1, "0x5fbDB2315678afecb367f032d93F642f64180aa3", "address|checksum"),
])
def test_invalid_inputs_rejected(pubkey, chain_id, registry, match):
    with pytest.raises(ValueError, match=match):
        binding_digest(pubkey, chain_id, registry)


@pytest.fixture(scope="module")
def enclave():
    return SimulatedNitroEnclave.create(now=NOW, signing_key=ANVIL_KEY)


def test_nitro_binding_accepted_and_mismatches_rejected(enclave):
    doc = enclave.attest(chain_id=31337, registry=REGISTRY, now=NOW)
    result = verify_attestation("nitro", doc, roots=enclave.root_pem, now=NOW)
    assert check_key_binding(result, PUBKEY, 31337, REGISTRY) == result.report_data
    other_key = keys.PrivateKey(b"\x01" * 32).public_key.to_bytes()
    for pubkey, chain_id, registry in [(other_key, 31337, REGISTRY), (PUBKEY, 1, REGISTRY),
                                       (PUBKEY, 31337, "0x" + "22" * 20)]:
        with pytest.raises(BindingMismatch, match="key binding check failed"):
            check_key_binding(result, pubkey, chain_id, registry)


def test_nitro_without_user_data_is_a_mismatch(enclave):
    doc = enclave.attestation_document(user_data=None, now=NOW)
    result = verify_attestation("nitro", doc, roots=enclave.root_pem, now=NOW)
    with pytest.raises(BindingMismatch, match="absent"):
        check_key_binding(result, PUBKEY, 31337, REGISTRY)


def test_dcap_binding_reads_first_32_bytes_of_report_data(enclave):
    vectors = _vectors() / "dcap"
    result = verify_attestation(
        "dcap", (vectors / "sgx_quote.bin").read_bytes(), roots=None,
        now=dt.datetime.fromtimestamp(1751328000, dt.UTC),
        collateral=(vectors / "sgx_quote_collateral.json").read_bytes())
    with pytest.raises(BindingMismatch, match=r"report_data\[0:32\] is 48656c6c6f"):
        check_key_binding(result, PUBKEY, 31337, REGISTRY)
    # A DCAP result whose first 32 bytes carry the digest passes, whatever the rest holds.
    digest = binding_digest(PUBKEY, 31337, REGISTRY)
    bound = dataclasses.replace(result, report_data=digest + b"\xaa" * 32)
    assert check_key_binding(bound, PUBKEY, 31337, REGISTRY) == digest


def test_nvidia_cannot_bind_a_key(enclave):
    doc = enclave.attest(chain_id=31337, registry=REGISTRY, now=NOW)
    result = verify_attestation("nitro", doc, roots=enclave.root_pem, now=NOW)
    gpu_like = dataclasses.replace(result, kind="nvidia")
    with pytest.raises(PolicyViolation, match="no enclave-chosen data"):
        check_key_binding(gpu_like, PUBKEY, 31337, REGISTRY)
