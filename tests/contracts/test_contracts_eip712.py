"""EIP-712 and the other content hashes: offchain.protocol's digests and offchain.chain.eip712's
signing (and the Merkle leaf encoding) against the contract's own views and against
eth-account's generic encode_typed_data."""

from __future__ import annotations

from dataclasses import fields

from eth_abi import encode
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.chain.eip712 import recover_signer, sign_digest, typed_data
from offchain.merkle import StandardMerkleTree
from offchain.protocol import (
    BATCH_ABI_TYPES,
    DOMAIN_NAME,
    DOMAIN_VERSION,
    Batch,
    Inference,
    batch_digest,
    domain_separator,
    inference_digest,
)
from tests.contracts.helpers import INFERENCE_LEAF, REQUESTER, WORKER, Harness, Request

b32 = st.binary(min_size=32, max_size=32)
address = st.binary(min_size=20, max_size=20).map(to_checksum_address)
inferences = st.builds(
    Inference, b32, b32, b32, b32, b32, st.integers(0, 255), b32, address,
    st.integers(0, 2**64 - 1),
)
batches = st.builds(
    Batch, b32, st.integers(0, 2**32 - 1), b32, st.integers(0, 2**64 - 1), b32, address,
    st.integers(0, 2**256 - 1),
)
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def eth_account_digest(message: dict) -> bytes:
    return _hash_eip191_message(encode_typed_data(full_message=message))


def batch_typed_data(batch: Batch, chain_id: int, registry: str) -> dict:
    """The Batch struct as full EIP-712 JSON, for the eth-account cross-check."""
    message = typed_data(
        Inference(b"\0" * 32, b"\0" * 32, b"\0" * 32, b"\0" * 32, b"\0" * 32, 0, b"\0" * 32,
                  WORKER.address, 0), chain_id, registry)
    names = [f.name for f in fields(Batch)]
    return {
        "types": {
            "EIP712Domain": message["types"]["EIP712Domain"],
            "Batch": [{"name": n, "type": t} for n, t in zip(names, BATCH_ABI_TYPES, strict=True)],
        },
        "primaryType": "Batch",
        "domain": message["domain"],
        "message": dict(zip(names, batch.as_tuple(), strict=True)),
    }


def test_domain_separator(h: Harness) -> None:
    expected = domain_separator(h.chain_id, h.registry.address)
    assert h.registry.functions.domainSeparator().call() == expected
    fields_ = h.registry.functions.eip712Domain().call()
    assert (fields_[1], fields_[2], fields_[3], fields_[4]) == (
        DOMAIN_NAME, DOMAIN_VERSION, h.chain_id, h.registry.address)
    # A different chain or contract gives a different domain: signatures do not travel.
    assert domain_separator(h.chain_id + 1, h.registry.address) != expected
    assert domain_separator(h.chain_id, h.distributor.address) != expected


@SETTINGS
@given(record=inferences)
def test_inference_digest_matches_contract_and_eth_account(h: Harness, record: Inference) -> None:
    ours = inference_digest(record, h.chain_id, h.registry.address)
    assert h.registry.functions.hashInference(record.as_tuple()).call() == ours
    assert eth_account_digest(typed_data(record, h.chain_id, h.registry.address)) == ours


@SETTINGS
@given(batch=batches)
def test_batch_digest_matches_contract_and_eth_account(h: Harness, batch: Batch) -> None:
    ours = batch_digest(batch, h.chain_id, h.registry.address)
    assert h.registry.functions.hashBatch(batch.as_tuple()).call() == ours
    assert eth_account_digest(batch_typed_data(batch, h.chain_id, h.registry.address)) == ours


@SETTINGS
@given(record=inferences)
def test_leaf_hash_matches_standard_merkle_tree(h: Harness, record: Inference) -> None:
    tree = StandardMerkleTree.of([record.as_tuple()], INFERENCE_LEAF)
    leaf = h.registry.functions.leafHash(record.as_tuple()).call()
    assert "0x" + leaf.hex() == tree.leaf_hash(record.as_tuple()) == tree.root


def test_signature_recovers_with_eth_account(h: Harness) -> None:
    record = Inference(*(keccak(bytes([i])) for i in range(5)), 1, b"\0" * 32, WORKER.address,
                       1_700_000_000)
    digest = inference_digest(record, h.chain_id, h.registry.address)
    signature = sign_digest(WORKER, digest)
    assert len(signature) == 65
    assert recover_signer(digest, signature) == WORKER.address
    signable = encode_typed_data(full_message=typed_data(record, h.chain_id, h.registry.address))
    assert Account.recover_message(signable, signature=signature) == WORKER.address
    assert bytes(Account.sign_message(signable, WORKER.key).signature) == signature


def test_request_and_batch_ids(h: Harness) -> None:
    f = h.registry.functions
    request = Request(REQUESTER.address, keccak(b"m"), WORKER.address, 5, 77, keccak(b"in"))
    assert f.hashRequest(request.as_tuple()).call() == keccak(encode(
        ["address", "bytes32", "address", "uint256", "uint64", "bytes32"], request.as_tuple()))
    assert f.requestIdOf(REQUESTER.address, request.modelId, request.inputCommitment).call() \
        == request.request_id
    root, model = keccak(b"root"), keccak(b"model")
    assert f.batchIdOf(root, model, WORKER.address).call() == h.batch_id(root, model,
                                                                          WORKER.address)
