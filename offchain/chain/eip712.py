"""The EIP-712 structs Attestia signs: the one place that encodes them.

Worker, relayer, verifier and tests all call these functions. The encoding is done directly
(typeHash || abi.encode(fields)) because the worker signs thousands of records; tests check
it against eth-account's generic ``encode_typed_data`` and against the contract's own hash.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

DOMAIN_NAME = "Attestia"
DOMAIN_VERSION = "1"

PROOF_SIGNED = 1
PROOF_TEE = 2
PROOF_ZK = 3
PROOF_KIND_NAMES = {PROOF_SIGNED: "signed", PROOF_TEE: "tee", PROOF_ZK: "zk"}


def policy_bit(kind: int) -> int:
    """A model's policy is a bitmask with bit (1 << kind) per accepted proof kind."""
    return 1 << kind


INFERENCE_TYPE = (
    "Inference(bytes32 requestId,bytes32 modelId,bytes32 inputCommitment,"
    "bytes32 outputCommitment,bytes32 attributionHash,uint8 proofKind,bytes32 proofHash,"
    "address worker,uint64 timestamp)"
)
BATCH_TYPE = (
    "Batch(bytes32 root,uint32 count,bytes32 modelId,uint64 epoch,bytes32 dataUriHash,"
    "address worker,uint256 deposit)"
)
INFERENCE_TYPEHASH = keccak(text=INFERENCE_TYPE)
BATCH_TYPEHASH = keccak(text=BATCH_TYPE)
DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
INFERENCE_ABI_TYPES = [
    "bytes32", "bytes32", "bytes32", "bytes32", "bytes32", "uint8", "bytes32", "address", "uint64",
]
BATCH_ABI_TYPES = ["bytes32", "uint32", "bytes32", "uint64", "bytes32", "address", "uint256"]


@dataclass(frozen=True)
class Inference:
    """One inference record, exactly as signed and as a batch leaf."""

    requestId: bytes
    modelId: bytes
    inputCommitment: bytes
    outputCommitment: bytes
    attributionHash: bytes
    proofKind: int
    proofHash: bytes
    worker: str
    timestamp: int

    def as_tuple(self) -> tuple:
        """In ABI order, ready for a contract call or a Merkle leaf."""
        # Every field is immutable, so a shallow tuple equals astuple()'s deep copy (5x
        # cheaper; a worker makes one per record).
        return tuple([getattr(self, name) for name in _INFERENCE_FIELDS])

    def to_json(self) -> dict:
        return {
            name: ("0x" + v.hex() if isinstance(v, bytes) else v)
            for name, v in zip(_INFERENCE_FIELDS, self.as_tuple(), strict=True)
        }

    @classmethod
    def from_json(cls, data: dict) -> Inference:
        def b32(value: str) -> bytes:
            raw = bytes.fromhex(value.removeprefix("0x"))
            if len(raw) != 32:
                raise ValueError(f"expected 32 bytes, got {len(raw)}")
            return raw

        return cls(
            requestId=b32(data["requestId"]),
            modelId=b32(data["modelId"]),
            inputCommitment=b32(data["inputCommitment"]),
            outputCommitment=b32(data["outputCommitment"]),
            attributionHash=b32(data["attributionHash"]),
            proofKind=int(data["proofKind"]),
            proofHash=b32(data["proofHash"]),
            worker=to_checksum_address(data["worker"]),
            timestamp=int(data["timestamp"]),
        )

    @classmethod
    def from_tuple(cls, values: tuple | list) -> Inference:
        v = list(values)
        return cls(
            bytes(v[0]), bytes(v[1]), bytes(v[2]), bytes(v[3]), bytes(v[4]), int(v[5]),
            bytes(v[6]), to_checksum_address(v[7]), int(v[8]),
        )


_INFERENCE_FIELDS = tuple(f.name for f in fields(Inference))


@dataclass(frozen=True)
class Batch:
    """A worker's commitment to a Merkle root over N inference leaves."""

    root: bytes
    count: int
    modelId: bytes
    epoch: int
    dataUriHash: bytes
    worker: str
    deposit: int

    def as_tuple(self) -> tuple:
        return astuple(self)


def domain_separator(chain_id: int, verifying_contract: str) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                DOMAIN_TYPEHASH,
                keccak(text=DOMAIN_NAME),
                keccak(text=DOMAIN_VERSION),
                chain_id,
                to_checksum_address(verifying_contract),
            ],
        )
    )


def inference_struct_hash(record: Inference) -> bytes:
    return keccak(INFERENCE_TYPEHASH + encode(INFERENCE_ABI_TYPES, list(record.as_tuple())))


def batch_struct_hash(batch: Batch) -> bytes:
    return keccak(BATCH_TYPEHASH + encode(BATCH_ABI_TYPES, list(batch.as_tuple())))


def typed_digest(domain: bytes, struct_hash: bytes) -> bytes:
    return keccak(b"\x19\x01" + domain + struct_hash)


def inference_digest(record: Inference, chain_id: int, registry: str) -> bytes:
    return typed_digest(domain_separator(chain_id, registry), inference_struct_hash(record))


def batch_digest(batch: Batch, chain_id: int, registry: str) -> bytes:
    return typed_digest(domain_separator(chain_id, registry), batch_struct_hash(batch))


def sign_digest(account: LocalAccount, digest: bytes) -> bytes:
    """65-byte r||s||v signature over an EIP-712 digest."""
    return bytes(account.unsafe_sign_hash(digest).signature)


def recover_signer(digest: bytes, signature: bytes) -> str:
    return Account._recover_hash(digest, signature=signature)


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
