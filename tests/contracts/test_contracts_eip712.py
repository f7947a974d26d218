"""EIP-712 and the other content hashes: offchain.protocol's digests (Inference, Batch,
WorkerRegistration) and offchain.chain.eip712's signing (and the Merkle leaf encoding) against
the contracts' own views or acceptance and against eth-account's generic encode_typed_data."""

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
    REQUEST_ABI_TYPES,
    WORKER_REGISTRATION_ABI_TYPES,
    Batch,
    Inference,
    batch_digest,
    domain_separator,
    inference_digest,
    worker_registration_digest,
)
from tests.contracts.helpers import (
    ENCRYPTION_KEY,
    INFERENCE_LEAF,
    MIN_STAKE,
    OPERATOR,
    RELAYER,
    REQUESTER,
    WORKER,
    Harness,
    Request,
)

b32 = st.binary(min_size=32, max_size=32)
address = st.binary(min_size=20, max_size=20).map(to_checksum_address)
inferences = st.builds(
    Inference, b32, b32, b32, b32, b32, st.integers(0, 255), b32, address,
    st.integers(0, 2**64 - 1), b32,
)
batches = st.builds(
    Batch, b32, st.integers(0, 2**32 - 1), b32, st.integers(0, 2**64 - 1), b32, b32, address,
    st.integers(0, 2**256 - 1),
)
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def eth_account_digest(message: dict) -> bytes:
    return _hash_eip191_message(encode_typed_data(full_message=message))


def _typed(primary: str, names: list[str], types: tuple[str, ...], values: tuple,
           chain_id: int, registry: str) -> dict:
    """A struct as full EIP-712 JSON in the registry's domain (eth-account's input)."""
    message = typed_data(
        Inference(b"\0" * 32, b"\0" * 32, b"\0" * 32, b"\0" * 32, b"\0" * 32, 0, b"\0" * 32,
                  WORKER.address, 0), chain_id, registry)
    return {
        "types": {
            "EIP712Domain": message["types"]["EIP712Domain"],
            primary: [{"name": n, "type": t} for n, t in zip(names, types, strict=True)],
        },
        "primaryType": primary,
        "domain": message["domain"],
        "message": dict(zip(names, values, strict=True)),
    }


def batch_typed_data(batch: Batch, chain_id: int, registry: str) -> dict:
    """The Batch struct as full EIP-712 JSON, for the eth-account cross-check."""
    return _typed("Batch", [f.name for f in fields(Batch)], BATCH_ABI_TYPES, batch.as_tuple(),
                  chain_id, registry)


def registration_typed_data(signer: str, operator: str, key: bytes, nonce: int, deadline: int,
                            chain_id: int, registry: str) -> dict:
    """WorkerRegistration as full EIP-712 JSON (the key is signed as its keccak256)."""
    names = ["signer", "operator", "encryptionKeyHash", "nonce", "deadline"]
    return _typed("WorkerRegistration", names, WORKER_REGISTRATION_ABI_TYPES,
                  (signer, operator, keccak(key), nonce, deadline), chain_id, registry)


def test_domain_separator(h: Harness) -> None:
    expected = domain_separator(h.chain_id, h.registry.address)
    assert h.registry.contract.functions.domainSeparator().call() == expected
    fields_ = h.registry.contract.functions.eip712Domain().call()
    assert (fields_[1], fields_[2], fields_[3], fields_[4]) == (
        DOMAIN_NAME, DOMAIN_VERSION, h.chain_id, h.registry.address)
    # A different chain or contract gives a different domain: signatures do not travel.
    assert domain_separator(h.chain_id + 1, h.registry.address) != expected
    assert domain_separator(h.chain_id, h.distributor.address) != expected


@SETTINGS
@given(record=inferences)
def test_inference_digest_matches_contract_and_eth_account(h: Harness, record: Inference) -> None:
    ours = inference_digest(record, h.chain_id, h.registry.address)
    assert h.registry.contract.functions.hashInference(record.as_tuple()).call() == ours
    assert eth_account_digest(typed_data(record, h.chain_id, h.registry.address)) == ours


@SETTINGS
@given(batch=batches)
def test_batch_digest_matches_contract_and_eth_account(h: Harness, batch: Batch) -> None:
    ours = batch_digest(batch, h.chain_id, h.registry.address)
    assert h.lens.contract.functions.hashBatch(batch.as_tuple()).call() == ours
    assert eth_account_digest(batch_typed_data(batch, h.chain_id, h.registry.address)) == ours


@SETTINGS
@given(record=inferences)
def test_leaf_hash_matches_standard_merkle_tree(h: Harness, record: Inference) -> None:
    tree = StandardMerkleTree.of([record.as_tuple()], INFERENCE_LEAF)
    leaf = h.lens.contract.functions.leafHash(record.as_tuple()).call()
    assert "0x" + leaf.hex() == tree.leaf_hash(record.as_tuple()) == tree.root


def test_signature_recovers_with_eth_account(h: Harness) -> None:
    record = Inference(*(keccak(bytes([i])) for i in range(5)), 1, b"\0" * 32, WORKER.address,
                       1_700_000_000, keccak(b"sealed"))
    digest = inference_digest(record, h.chain_id, h.registry.address)
    signature = sign_digest(WORKER, digest)
    assert len(signature) == 65
    assert recover_signer(digest, signature) == WORKER.address
    signable = encode_typed_data(full_message=typed_data(record, h.chain_id, h.registry.address))
    assert Account.recover_message(signable, signature=signature) == WORKER.address
    assert bytes(Account.sign_message(signable, WORKER.key).signature) == signature


def test_request_and_batch_ids(h: Harness) -> None:
    f = h.registry.contract.functions
    request = Request(REQUESTER.address, keccak(b"m"), WORKER.address, 5, 77, keccak(b"in"),
                      keccak(b"zk"), 2_000, 1_000, 2, RELAYER.address)
    assert f.hashRequest(request.as_tuple()).call() == keccak(encode(
        ["address", "bytes32", "address", "uint256", "uint64", "bytes32", "bytes32", "uint16",
         "uint16", "uint8", "address"], request.as_tuple())) == request.hash
    assert list(REQUEST_ABI_TYPES) == ["address", "bytes32", "address", "uint256", "uint64",
                                       "bytes32", "bytes32", "uint16", "uint16", "uint8",
                                       "address"]
    assert f.requestIdOf(REQUESTER.address, request.modelId, request.inputCommitment).call() \
        == request.request_id
    root, model = keccak(b"root"), keccak(b"model")
    assert f.batchIdOf(root, model, WORKER.address).call() == h.batch_id(root, model,
                                                                          WORKER.address)


@SETTINGS
@given(signer=address, operator=address, key=st.binary(max_size=80),
       nonce=st.integers(0, 2**256 - 1), deadline=st.integers(0, 2**256 - 1))
def test_worker_registration_digest_matches_eth_account(h: Harness, signer: str, operator: str,
                                                        key: bytes, nonce: int,
                                                        deadline: int) -> None:
    ours = worker_registration_digest(signer, operator, key, nonce, deadline, h.chain_id,
                                      h.registry.address)
    assert eth_account_digest(registration_typed_data(
        signer, operator, key, nonce, deadline, h.chain_id, h.registry.address)) == ours


def test_worker_registration_signature_is_what_the_registry_accepts(h: Harness) -> None:
    """A consent signed over protocol.worker_registration_digest registers the key; eth-account
    signing the same typed data gives the same signature (and digest)."""
    nonce, deadline = h.registry.nonce(WORKER.address), h.now() + 600
    digest = worker_registration_digest(WORKER.address, OPERATOR.address, ENCRYPTION_KEY, nonce,
                                        deadline, h.chain_id, h.registry.address)
    signature = sign_digest(WORKER, digest)
    signable = encode_typed_data(full_message=registration_typed_data(
        WORKER.address, OPERATOR.address, ENCRYPTION_KEY, nonce, deadline, h.chain_id,
        h.registry.address))
    assert _hash_eip191_message(signable) == digest
    assert bytes(Account.sign_message(signable, WORKER.key).signature) == signature
    assert recover_signer(digest, signature) == WORKER.address
    h.send(h.registry.register_worker(WORKER.address, ENCRYPTION_KEY, MIN_STAKE, deadline=deadline,
                                 signature=signature), OPERATOR)
    registered = h.registry.worker(WORKER.address)
    assert registered is not None and registered.operator == OPERATOR.address
    assert h.registry.nonce(WORKER.address) == nonce + 1
