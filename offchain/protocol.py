"""The protocol, in Python: the mirror of ``contracts/Common.sol`` and of the registry's pure
functions. The one place that states each fact.

Every other module imports its structs, constants and ids from here; nothing re-derives them.
Pure: no I/O, no web3 connection, only hashing and ABI encoding. ``tests/test_protocol.py``
checks every constant and derivation against the compiled contracts' views on Anvil, so a
change on one side that is not made on the other fails a test instead of a settlement.

Struct field names are the Solidity names (``modelId``, ``workerBps``): a struct read from the
chain is mapped **by name** (:func:`from_abi`), never by position, so reordering a field in
``Common.sol`` cannot silently shift values here. ``Share`` is a ``NamedTuple`` rather than a
dataclass because a worker builds one per contributor per inference and the attribution hot
path indexes and sorts them as plain tuples.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from enum import IntEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, get_type_hints

from eth_abi import encode
from eth_utils import to_checksum_address
from sha3 import keccak_256

from offchain.errors import InvalidInputError, InvalidSharesError

if TYPE_CHECKING:  # numpy loads only where arrays are built: a read command never pays for it
    import numpy as np


def keccak(primitive: bytes | bytearray = b"", *, text: str | None = None) -> bytes:
    """keccak256 of bytes (or of ``text`` in UTF-8), as ``eth_utils.keccak`` gives it, straight
    from pysha3: eth_utils' wrapper costs about ten times the hash of a small input, and a
    batch record hashes about six of them (commitments, attribution list, leaf)."""
    return keccak_256(text.encode("utf-8") if text is not None else primitive).digest()


# -- constants (Common.sol) ----------------------------------------------------------------

BPS = 10_000
"""Basis points in a whole: fee splits and attribution lists sum to this."""

PROOF_SIGNED = 1
PROOF_TEE = 2
PROOF_ZK = 3
PROOF_KIND_NAMES = {PROOF_SIGNED: "signed", PROOF_TEE: "tee", PROOF_ZK: "zk"}
PROOF_KINDS_BY_NAME = {name: kind for kind, name in PROOF_KIND_NAMES.items()}

POLICY_MASK = 0x0E
"""Policy bits a model may set: one bit (1 << kind) per accepted proof kind."""

TIMESTAMP_WINDOW = 15 * 60
WINDOW_MARGIN = 3600
"""Common.sol WINDOW_MARGIN: the slack every "must end before" between windows keeps."""
DISPUTE_WINDOWS = 8
"""Common.sol DISPUTE_WINDOWS: response windows a dispute may span after its challenge (a
response, descents opened within a window of it, each within its two chess clocks; twice, if a
third party's response was proven wrong)."""
DESCENT_BITS = 4
"""Common.sol DESCENT_BITS: a descent step reveals the 2**DESCENT_BITS nodes that many levels
below the current node (fewer at the last step)."""
MIN_RESPONSE_WINDOW = 600
"""Common.sol MIN_RESPONSE_WINDOW: the shortest response window the Slasher accepts (a
finder's commitment and its reveal are two inclusions inside one window)."""
"""Largest distance (seconds) between a record's signed timestamp and the block's."""

MAX_CONTRIBUTORS = 1024
"""Largest contributor roster a model may register (every single record carries it)."""

SLASH_REPORTER_BPS = 5_000
"""Part of a slashed stake credited to the reporter; the rest goes to the slasher's treasury."""

# Integer attribution (design.md "Integer attribution"): the fixed-point constants.
FEATURE_FRAC_BITS = 32
"""A raw float32 feature ``x`` becomes ``X = floor(x * 2**32)`` (exact)."""

QUANT_SHIFT = 64
"""``z = floor((X - mu) * rho / 2**QUANT_SHIFT)``."""

FEATURE_SCALE = 2**16
"""``rho = round_half_even(FEATURE_SCALE * 2**32 / std)``: quantised features in 1/65536 std
(clamped at ``Z_LIMIT``, i.e. 256 standard deviations)."""

Z_LIMIT = 2**24 - 1
"""Quantised features are clamped to ``[-Z_LIMIT, Z_LIMIT]``."""

MAX_ATTRIBUTION_FEATURES = 4096
"""Most features a disputable model may have: distances stay below 2**62."""

MAX_ROSTER_ITEMS = 2**22
"""Most training items a disputable model may have: contributor sums stay below 2**63."""

VALUE_SCALE = 2**40
"""Point values are integers in units of ``2**-40``."""

MAX_MU = 2**127
MAX_RHO = 2**90
"""Bounds on the quantisation parameters (``|mu| < MAX_MU``, ``1 <= rho < MAX_RHO``)."""

# Integer inference (design.md "Integer inference"): the fixed-point dense ReLU network.
ACTIVATION_LIMIT = Z_LIMIT
"""Every activation (the quantised input, each hidden value, each logit) is clamped to
``[-ACTIVATION_LIMIT, ACTIVATION_LIMIT]``: exactly representable in float32 at any power-of-two
scale, so the logits' float32 tensor states the integer logits exactly."""

ACTIVATION_SCALE = FEATURE_SCALE
"""Activations are integers in units of ``1 / ACTIVATION_SCALE`` (the input's 1/65536 std)."""

ACCUMULATOR_LIMIT = 2**63 - 1
"""Each neuron row must satisfy ``|bias| + sum |w_j| * ACTIVATION_LIMIT <= ACCUMULATOR_LIMIT``,
so every partial sum of its accumulation fits an int64 (and, a fortiori, an int256)."""

MAX_NEURON_SHIFT = 62
"""A row's declared shift (its weights are in units of ``2**-shift``) is in ``0..62``."""

MAX_NETWORK_LAYERS = 16
MAX_LAYER_WIDTH = 4096
"""Most dense layers and most neurons (or input features) per layer a package may declare."""

FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617
"""The BN254 scalar field: a ZK record's instances are elements of it, and the label they state
reads ``v > p/2`` as ``v - p`` (``IntegerAttribution.labelOfInstances``)."""

REQUEST_CANCELLED = (1).to_bytes(32, "big")
REQUEST_REJECTED = (2).to_bytes(32, "big")
"""Request-slot sentinels (``requestState``): 0 none, the request hash while open, the
record's EIP-712 digest once recorded, these two once closed without a record."""

ZERO_ADDRESS = "0x" + "00" * 20
ZERO32 = bytes(32)

DOMAIN_NAME = "Attestia"
DOMAIN_VERSION = "1"


def policy_bit(kind: int) -> int:
    """The policy bit of a proof kind (a model's policy is their OR)."""
    return 1 << kind


def policy_of(kinds: Iterable[str]) -> int:
    """Proof-kind names -> policy bits; raises ``ValueError`` naming unknown kinds."""
    names = list(kinds)
    unknown = [k for k in names if k not in PROOF_KINDS_BY_NAME]
    if unknown or not names:
        raise ValueError(f"unknown proof kinds {unknown}; choose from "
                         f"{sorted(PROOF_KINDS_BY_NAME)}")
    policy = 0
    for name in names:
        policy |= policy_bit(PROOF_KINDS_BY_NAME[name])
    return policy


def kinds_of(policy: int) -> list[str]:
    """Policy bits -> proof-kind names, in kind order."""
    return [name for kind, name in PROOF_KIND_NAMES.items() if policy & policy_bit(kind)]


def proof_kind_name(kind: int) -> str:
    return PROOF_KIND_NAMES.get(kind, f"unknown({kind})")


# -- ABI type strings -----------------------------------------------------------------------

INFERENCE_TYPE = (
    "Inference(bytes32 requestId,bytes32 modelId,bytes32 inputCommitment,"
    "bytes32 outputCommitment,bytes32 attributionHash,uint8 proofKind,bytes32 proofHash,"
    "address worker,uint64 timestamp,bytes32 resultHash)"
)
BATCH_TYPE = (
    "Batch(bytes32 root,uint32 count,bytes32 modelId,uint64 epoch,bytes32 dataUriHash,"
    "bytes32 dataHash,address worker,uint256 deposit)"
)
WORKER_REGISTRATION_TYPE = (
    "WorkerRegistration(address signer,address operator,bytes32 encryptionKeyHash,"
    "uint256 nonce,uint256 deadline)"
)
INFERENCE_TYPEHASH = keccak(text=INFERENCE_TYPE)
BATCH_TYPEHASH = keccak(text=BATCH_TYPE)
WORKER_REGISTRATION_TYPEHASH = keccak(text=WORKER_REGISTRATION_TYPE)
DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
INFERENCE_ABI_TYPES = (
    "bytes32", "bytes32", "bytes32", "bytes32", "bytes32", "uint8", "bytes32", "address", "uint64",
    "bytes32",
)
"""Field types of ``Inference``: its EIP-712 encoding and its batch Merkle leaf type."""
BATCH_ABI_TYPES = ("bytes32", "uint32", "bytes32", "uint64", "bytes32", "bytes32", "address",
                   "uint256")
REQUEST_ABI_TYPES = ("address", "bytes32", "address", "uint256", "uint64", "bytes32", "bytes32",
                     "uint16", "uint16", "uint8", "address")
TERMS_ABI_TYPES = ("uint256", "uint8", "uint16", "uint16", "address")
WORKER_REGISTRATION_ABI_TYPES = ("address", "address", "bytes32", "uint256", "uint256")
SHARES_ABI_TYPE = "(address,uint16)[]"
ROSTER_LEAF_TYPES = ("address", "bytes32")
"""A model's roster tree leaf (StandardMerkleTree): (contributor, keccak of its data)."""
CLAIM_LEAF_TYPES = ("address", "uint256")
"""A reward root's leaf (StandardMerkleTree): (account, cumulative amount)."""


# -- mapping chain values to dataclasses -----------------------------------------------------

T = TypeVar("T")


def _convert(kind: Any, value: Any) -> Any:
    if kind is bytes:
        return bytes(value)
    if kind is bool:
        return bool(value)
    if kind is int:
        return int(value)
    if kind is str:
        return str(value)
    if isinstance(kind, type) and issubclass(kind, IntEnum):
        return kind(int(value))
    return value


def from_abi(cls: type[T], value: Any) -> T:
    """Build a protocol dataclass from a decoded struct **by field name**.

    ``value`` is a mapping or a named tuple (web3 contracts built with ``decode_tuples=True``)
    whose keys are the Solidity field names; a missing or extra name raises ``ValueError``
    (a struct changed on one side only).
    """
    if hasattr(value, "_asdict"):
        value = value._asdict()
    if not isinstance(value, Mapping):
        raise TypeError(f"{cls.__name__}: expected a named struct, got {type(value).__name__}")
    hints = get_type_hints(cls)
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    if set(names) != set(value):
        raise ValueError(f"{cls.__name__} fields {names} do not match the chain's {list(value)}")
    return cls(**{n: _convert(hints[n], value[n]) for n in names})


def _hex(value: Any) -> Any:
    return "0x" + value.hex() if isinstance(value, bytes) else value


def _b32(value: str | bytes, what: str) -> bytes:
    raw = value if isinstance(value, bytes) else bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError(f"{what}: expected 32 bytes, got {len(raw)}")
    return raw


# -- structs (Common.sol) --------------------------------------------------------------------

class Share(NamedTuple):
    """One attribution-list entry: ``(account, bps)``; lists are sorted by account."""

    account: str
    bps: int


@dataclass(frozen=True)
class Inference:
    """One inference record, exactly as signed (EIP-712 ``Inference``) and as a batch leaf."""

    requestId: bytes
    modelId: bytes
    inputCommitment: bytes
    outputCommitment: bytes
    attributionHash: bytes
    proofKind: int
    proofHash: bytes
    worker: str
    timestamp: int
    resultHash: bytes = ZERO32
    """keccak256(sealedResult) of a single record (the worker signs the sealed answer it
    delivers, so nobody can swap it); zero for batch leaves, whose results stay off chain."""

    def as_tuple(self) -> tuple:
        """In ABI order, ready for a contract call or a Merkle leaf."""
        # Every field is immutable, so a shallow tuple equals astuple()'s deep copy (5x
        # cheaper; a worker makes one per record).
        return tuple([getattr(self, name) for name in _INFERENCE_FIELDS])

    def to_json(self) -> dict:
        return {n: _hex(v) for n, v in zip(_INFERENCE_FIELDS, self.as_tuple(), strict=True)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Inference:
        return cls(
            requestId=_b32(data["requestId"], "requestId"),
            modelId=_b32(data["modelId"], "modelId"),
            inputCommitment=_b32(data["inputCommitment"], "inputCommitment"),
            outputCommitment=_b32(data["outputCommitment"], "outputCommitment"),
            attributionHash=_b32(data["attributionHash"], "attributionHash"),
            proofKind=int(data["proofKind"]),
            proofHash=_b32(data["proofHash"], "proofHash"),
            worker=to_checksum_address(data["worker"]),
            timestamp=int(data["timestamp"]),
            resultHash=_b32(data.get("resultHash", ZERO32), "resultHash"),
        )

    @classmethod
    def from_tuple(cls, values: Sequence[Any]) -> Inference:
        """From ABI-ordered values (a Merkle leaf, a decoded call argument)."""
        if hasattr(values, "_asdict"):
            return from_abi(cls, values)
        v = list(values)
        if len(v) != len(_INFERENCE_FIELDS):
            raise ValueError(f"an Inference has {len(_INFERENCE_FIELDS)} fields, got {len(v)}")
        return cls(
            bytes(v[0]), bytes(v[1]), bytes(v[2]), bytes(v[3]), bytes(v[4]), int(v[5]),
            bytes(v[6]), to_checksum_address(v[7]), int(v[8]), bytes(v[9]),
        )


_INFERENCE_FIELDS = tuple(f.name for f in fields(Inference))


@dataclass(frozen=True)
class ZkProof:
    """An EZKL proof and its public instances (``instances[0]`` = Poseidon of the input)."""

    proof: bytes
    instances: tuple[int, ...]

    def as_tuple(self) -> tuple:
        return (self.proof, list(self.instances))

    @property
    def input_hash(self) -> bytes:
        """The proof's input binding, as a request's ``zkInputHash`` states it."""
        return self.instances[0].to_bytes(32, "big") if self.instances else ZERO32


@dataclass(frozen=True)
class Batch:
    """A worker's signed commitment to a Merkle root over ``count`` inference leaves."""

    root: bytes
    count: int
    modelId: bytes
    epoch: int
    dataUriHash: bytes
    dataHash: bytes
    worker: str
    deposit: int

    def as_tuple(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self))

    @property
    def batch_id(self) -> bytes:
        return batch_id(self.root, self.modelId, self.worker)


@dataclass(frozen=True)
class Request:
    """An open request; the registry stores only :func:`hash_request` of it."""

    requester: str
    modelId: bytes
    worker: str
    fee: int
    createdAt: int
    inputCommitment: bytes
    zkInputHash: bytes
    """The Poseidon hash of the quantized input (EZKL 'hashed' input, instances[0]) a zk
    record's proof must carry; zero when the requester does not ask for a zk proof."""
    workerBps: int
    ownerBps: int
    policy: int
    """The terms in force when the request was paid: the record is split and checked by these."""
    verifier: str = ZERO_ADDRESS
    """The model's ZK verifier when the request was paid: a ZK record is verified by it."""

    def as_tuple(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self))

    @property
    def split(self) -> Split:
        return Split.of(self.workerBps, self.ownerBps)

    @property
    def request_id(self) -> bytes:
        return request_id(self.requester, self.modelId, self.inputCommitment)

    @property
    def hash(self) -> bytes:
        return hash_request(self)

    def to_json(self) -> dict:
        return {f.name: _hex(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Request:
        return cls(
            requester=to_checksum_address(data["requester"]),
            modelId=_b32(data["modelId"], "modelId"),
            worker=to_checksum_address(data["worker"]),
            fee=int(data["fee"]),
            createdAt=int(data["createdAt"]),
            inputCommitment=_b32(data["inputCommitment"], "inputCommitment"),
            zkInputHash=_b32(data["zkInputHash"], "zkInputHash"),
            workerBps=int(data["workerBps"]),
            ownerBps=int(data["ownerBps"]),
            policy=int(data["policy"]),
            verifier=to_checksum_address(data.get("verifier", ZERO_ADDRESS)),
        )


@dataclass(frozen=True)
class Split:
    """How one inference's fee is split, in bps summing to :data:`BPS`."""

    workerBps: int
    ownerBps: int
    contributorBps: int

    def __post_init__(self) -> None:
        parts = (self.workerBps, self.ownerBps, self.contributorBps)
        if any(p < 0 for p in parts) or sum(parts) != BPS:
            raise ValueError(f"a fee split must be three non-negative bps summing to {BPS}, "
                             f"got {parts}")

    @classmethod
    def of(cls, worker_bps: int, owner_bps: int) -> Split:
        return cls(worker_bps, owner_bps, BPS - worker_bps - owner_bps)

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.workerBps, self.ownerBps, self.contributorBps)


@dataclass(frozen=True)
class Payout:
    """How a recorded request's fee was paid out (``InferenceRecorded.payout``)."""

    epoch: int
    workerCut: int
    ownerCut: int
    contributorCut: int


@dataclass(frozen=True)
class Model:
    """A registered model (``getModel``); ``owner == ZERO_ADDRESS`` means none."""

    owner: str
    policy: int
    workerBps: int
    ownerBps: int
    deprecated: bool
    revokedAt: int
    fee: int
    verifier: str
    contributorsHash: bytes
    contentHash: bytes
    dataRoot: bytes
    contributors: int
    registeredAt: int
    metadataURI: str

    @property
    def exists(self) -> bool:
        return int(self.owner, 16) != 0

    @property
    def split(self) -> Split:
        return Split.of(self.workerBps, self.ownerBps)

    @property
    def contributor_bps(self) -> int:
        return self.split.contributorBps

    @property
    def kinds(self) -> list[str]:
        return kinds_of(self.policy)

    @property
    def active(self) -> bool:
        """Takes new requests: registered, not deprecated, not revoked."""
        return self.exists and not self.deprecated and self.revokedAt == 0

    @property
    def terms_hash(self) -> bytes:
        """What ``requestInference`` must be given to pay under these terms (:func:`terms_hash`)."""
        return terms_hash(self.fee, self.policy, self.workerBps, self.ownerBps, self.verifier)

    @property
    def has_verifier(self) -> bool:
        return int(self.verifier, 16) != 0


@dataclass(frozen=True)
class Worker:
    """A registered worker key (``getWorker``); ``operator == ZERO_ADDRESS`` means none."""

    operator: str
    unbondingAt: int
    revokedAt: int
    stake: int
    registeredAt: int
    enclaveBoundAt: int
    slashedAt: int
    measurement: bytes
    attestationHash: bytes
    encryptionKey: bytes
    attestationURI: str

    @property
    def exists(self) -> bool:
        return int(self.operator, 16) != 0

    @property
    def enclave_bound(self) -> bool:
        return self.enclaveBoundAt != 0

    @property
    def slashed(self) -> bool:
        return self.slashedAt != 0

    @property
    def active(self) -> bool:
        """What the registry's ``isActiveWorker`` says, from the same slot."""
        return self.exists and self.unbondingAt == 0 and self.revokedAt == 0


@dataclass(frozen=True)
class MeasurementStatus:
    """Governance status of an enclave measurement (0 = never)."""

    allowedAt: int
    revokedAt: int


@dataclass(frozen=True)
class RecordStatus:
    """What a consumer needs to decide whether to trust a record (``recordStatus``)."""

    exists: bool
    recordedAt: int
    workerRevokedAt: int
    measurementRevokedAt: int
    modelRevokedAt: int
    revokedAfter: bool


@dataclass(frozen=True)
class BatchInfo:
    """A committed batch's slot (``batchInfo``); ``committedAt == 0`` means none."""

    committedAt: int
    count: int
    deposit: int
    swept: bool

    @property
    def exists(self) -> bool:
        return self.committedAt != 0


class RootStatus(IntEnum):
    """``IRewardDistributor.RootStatus``."""

    NONE = 0
    PROPOSED = 1
    CANCELLED = 2
    ACTIVATED = 3


@dataclass(frozen=True)
class EpochRoot:
    """An epoch's proposed reward root (``epochRoot``)."""

    root: bytes
    total: int
    readyAt: int
    status: RootStatus


# -- ids and hashes (the registry's pure functions) ------------------------------------------

def request_id(requester: str, model_id: bytes, input_commitment: bytes) -> bytes:
    """``requestIdOf``: keccak256(abi.encode(requester, modelId, inputCommitment))."""
    return keccak(encode(["address", "bytes32", "bytes32"],
                         [requester, model_id, input_commitment]))


def model_id(owner: str, content_hash: bytes) -> bytes:
    """``modelIdOf``: keccak256(abi.encode(owner, contentHash)). Ids are namespaced by owner,
    so registering someone else's model file gains a front-runner nothing."""
    return keccak(encode(["address", "bytes32"], [owner, content_hash]))


def check_roster(contributors: Sequence[str]) -> list[str]:
    """A roster as the registry accepts it: 1..MAX_CONTRIBUTORS non-zero addresses, strictly
    ascending (as 20-byte integers); returns them checksummed, or raises ``ValueError``."""
    roster: list[str] = [to_checksum_address(a) for a in contributors]
    if not 0 < len(roster) <= MAX_CONTRIBUTORS:
        raise ValueError(f"a roster has 1..{MAX_CONTRIBUTORS} contributors, got {len(roster)}")
    previous = 0
    for i, account in enumerate(roster):
        value = int(account, 16)
        if value <= previous:
            raise ValueError(f"roster entry #{i} ({account}) is zero or not above the previous "
                             "one: contributors must be unique and sorted ascending")
        previous = value
    return roster


def sorted_roster(contributors: Iterable[str]) -> list[str]:
    """The distinct contributors in the registry's order (ascending as 20-byte integers)."""
    return check_roster(sorted({to_checksum_address(a) for a in contributors},
                               key=lambda a: int(a, 16)))


def contributors_hash(roster: Sequence[str]) -> bytes:
    """``Model.contributorsHash``: keccak256(abi.encodePacked(address[] roster)). Solidity
    packs an array's elements padded to 32 bytes each, so every address is one left-padded
    word (not 20 bytes)."""
    return keccak(b"".join(_ADDRESS_PAD + bytes.fromhex(a[2:]) for a in check_roster(roster)))


def result_hash(sealed_result: bytes) -> bytes:
    """``Inference.resultHash`` of a single record: keccak256(sealedResult)."""
    return keccak(sealed_result)


def hash_request(request: Request) -> bytes:
    """``hashRequest``: keccak256(abi.encode(Request)), what an open request's slot holds."""
    return keccak(encode(list(REQUEST_ABI_TYPES), list(request.as_tuple())))


def terms_hash(fee: int, policy: int, worker_bps: int, owner_bps: int, verifier: str) -> bytes:
    """``termsHashOf``: keccak256(abi.encode(fee, policy, workerBps, ownerBps, verifier)), the
    terms a requester commits to (a change before its request lands reverts it: TermsChanged)."""
    return keccak(encode(list(TERMS_ABI_TYPES), [fee, policy, worker_bps, owner_bps, verifier]))


def batch_id(root: bytes, model_id: bytes, worker: str) -> bytes:
    """``batchIdOf``: keccak256(abi.encode(root, modelId, worker))."""
    return keccak(encode(["bytes32", "bytes32", "address"], [root, model_id, worker]))


def finding_commitment(finder: str, evidence_id: bytes, salt: bytes) -> bytes:
    """``findingCommitment``: keccak256(abi.encode(finder, evidenceId, salt)), what a finder
    commits (``commitFinding``) a block before the call that pays it (design.md "Rewards bound
    to their finder")."""
    return keccak(encode(["address", "bytes32", "bytes32"], [finder, evidence_id, salt]))


def fraud_evidence_id(request_id: bytes, kind: int, position: int) -> bytes:
    """``fraudEvidenceId``: keccak256(abi.encode(requestId, uint8 kind, position)) of a fraud
    proof (kind a :class:`FraudKind`, position the one the proof names)."""
    return keccak(encode(["bytes32", "uint8", "uint256"], [request_id, int(kind), position]))


def equivocation_evidence_id(digest_a: bytes, digest_b: bytes) -> bytes:
    """``equivocationEvidenceId``: keccak256(abi.encode(digestA, digestB)) of an equivocation
    report (the records' EIP-712 digests, in the report's order)."""
    return keccak(encode(["bytes32", "bytes32"], [digest_a, digest_b]))


def leaf_hash(inference: Inference) -> bytes:
    """``leafHash``: a batch leaf, keccak256(bytes.concat(keccak256(abi.encode(inference))))."""
    return keccak(keccak(encode(list(INFERENCE_ABI_TYPES), list(inference.as_tuple()))))


def leaf_dispute_id(batch: bytes, leaf: bytes) -> bytes:
    """``toLeafDisputeId``: keccak256(abi.encode(batchId, leafHash)), the id a batch leaf's
    dispute goes by in every call and event of the game (a single record's is its request id;
    64 bytes hashed against a request id's 96, so the two never collide)."""
    return keccak(encode(["bytes32", "bytes32"], [batch, leaf]))


_OFFSET_WORD = (32).to_bytes(32, "big")
_ADDRESS_PAD = bytes(12)


# -- attribution lists (the registry's _checkShares) ----------------------------------------

_HEX_ADDRESS = re.compile(r"(0[xX])?[0-9a-fA-F]{40}")


def canonical_address(value: object) -> str:
    """The EIP-55 checksummed form of an address; mixed case must already be a valid checksum."""
    if isinstance(value, str):
        return _canonical_hex(value)
    if isinstance(value, bytes) and len(value) == 20:
        return _checksum(value.hex())
    raise InvalidInputError(f"{value!r} is not a 20-byte hex address")


@lru_cache(maxsize=1 << 16)
def _canonical_hex(value: str) -> str:
    # Cached (only what is valid: an error is not cached) and computed directly (eth_utils'
    # version costs ~0.1 ms): rosters repeat, and a hit skips the pattern too.
    if not _HEX_ADDRESS.fullmatch(value):
        raise InvalidInputError(f"{value!r} is not a 20-byte hex address")
    body = value[-40:]
    checksummed = _checksum(body.lower())
    if body != body.lower() and body != body.upper() and body != checksummed[2:]:
        raise InvalidInputError(
            f"{value} has mixed case but an invalid EIP-55 checksum; check for a typo"
        )
    return checksummed


def _checksum(lower_hex: str) -> str:
    digest = keccak(lower_hex.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if h in "89abcdef" else c
                          for c, h in zip(lower_hex, digest, strict=False))


def address_key(address: str) -> int:
    """Addresses order as 20-byte big-endian integers (case-insensitive)."""
    return int(address, 16)


def check_shares(shares: Iterable[Sequence[object]]) -> list[Share]:
    """An attribution list as the registry's ``_checkShares`` accepts it: ``(address, bps)``
    entries with canonical addresses, strictly ascending (so unique), each bps in 1..BPS,
    summing to exactly ``BPS``. Returns it as ``Share``s
    with checksummed addresses; raises :class:`InvalidSharesError` naming the first broken
    rule. (That every account is in the model's roster needs the roster: the verifier checks
    it.)"""
    result: list[Share] = []
    numpy = sys.modules.get("numpy")  # a numpy integer exists only once numpy is loaded
    integers = int if numpy is None else (int, numpy.integer)
    previous = -1  # the last entry's address_key
    total = 0
    for position, entry in enumerate(shares):
        if len(entry) != 2:
            raise InvalidSharesError(f"share #{position} must be (address, bps); got {entry!r}")
        raw, bps = entry
        try:
            address = canonical_address(raw)
        except InvalidInputError as exc:
            raise InvalidSharesError(f"share #{position}: {exc}") from exc
        if isinstance(bps, bool) or not isinstance(bps, integers):
            raise InvalidSharesError(f"share #{position} bps must be an int; got {bps!r}")
        points = int(bps)
        if not 0 < points <= BPS:
            raise InvalidSharesError(
                f"share #{position} ({address}) has {bps} bps; each must be in 1..{BPS}"
                " (omit zero entries)"
            )
        key = address_key(address)
        if key <= previous:
            raise InvalidSharesError(
                f"share #{position} ({address}) is not above {result[-1][0]}: addresses must be"
                " unique and sorted ascending"
            )
        previous = key
        # A list already checked is canonical Shares: reuse them (the worker's hot path).
        if type(entry) is not Share or entry[0] != address or type(bps) is not int:
            entry = Share(address, points)
        result.append(entry)
        total += points
    if total != BPS:
        raise InvalidSharesError(f"shares sum to {total} bps; they must sum to {BPS}")
    return result


def encode_shares(shares: Iterable[Sequence[object]]) -> bytes:
    """``abi.encode(Share[])`` of a valid list (:func:`check_shares` first)."""
    return encode_shares_unchecked(check_shares(shares))


def attribution_hash(shares: Iterable[Sequence[object]]) -> bytes:
    """``attributionHash = keccak256(abi.encode(Share[]))`` of a valid list
    (:func:`check_shares` first)."""
    return keccak(encode_shares_unchecked(check_shares(shares)))


def encode_shares_unchecked(shares: Iterable[Sequence[Any]]) -> bytes:
    """``abi.encode(Share[])`` of a list as given, valid or not (what a test needs to reach
    the contract's own checks); everything else calls :func:`encode_shares`.

    Written out directly (offset word, length word, then per entry the address and the uint16
    as 32-byte words): a worker hashes one list per inference and the generic encoder costs
    ~0.2 ms per list. Tests pin it to ``eth_abi.encode``.
    """
    entries = list(shares)
    words = [_OFFSET_WORD, len(entries).to_bytes(32, "big")]
    for account, bps in entries:
        words.append(_ADDRESS_PAD + bytes.fromhex(str(account)[2:]))
        words.append(int(bps).to_bytes(32, "big"))
    return b"".join(words)


def attribution_hash_unchecked(shares: Iterable[Sequence[Any]]) -> bytes:
    """``keccak256(abi.encode(Share[]))`` of a list as given, valid or not (see
    :func:`encode_shares_unchecked`); everything else calls :func:`attribution_hash`."""
    return keccak(encode_shares_unchecked(shares))


# -- integer attribution and disputes (Common.sol) ----------------------------------------

ATTRIBUTION_SPEC_ABI_TYPE = "(bytes32,uint256,uint256,int256[],int256[])"
DATA_ITEM_ABI_TYPE = "(uint256,address,uint256,int256[])"
TRACE_STEP_ABI_TYPES = ("uint256", "address", "uint256", "uint256", "uint256", "int256",
                        "bytes32")


NEURON_ROW_ABI_TYPE = "(uint256,uint256,int256[],int256,uint256)"
MODEL_SPEC_ABI_TYPE = "(bytes32,bytes32,uint256[])"


class DisputeState(IntEnum):
    """``Slasher.DisputeState``: where a record's attribution dispute stands."""

    NONE = 0
    OPEN = 1
    RESPONDED = 2
    FRAUD = 3
    NO_RESPONSE = 4
    WORKER_WON = 5


class FraudKind(IntEnum):
    """``Slasher.FraudKind``: which one-step check a fraud proof used (design.md)."""

    NONE = 0
    ITEM = 1
    ORDER = 2
    VALUE = 3
    SUM = 4
    END = 5
    DUPLICATE = 6
    NO_RESPONSE = 7
    SKIP = 8
    PADDING = 9
    NO_REVEAL = 10


@dataclass(frozen=True)
class AttributionSpec:
    """A model's committed attribution inputs; ``keccak256(abi.encode(spec))`` is its dataRoot."""

    itemsRoot: bytes
    n: int
    k: int
    mu: tuple[int, ...]
    rho: tuple[int, ...]

    def as_tuple(self) -> tuple:
        return (self.itemsRoot, self.n, self.k, list(self.mu), list(self.rho))


@dataclass(frozen=True)
class DataItem:
    """One roster item in the model's quantised space (leaf of ``itemsRoot``)."""

    index: int
    contributor: str
    label: int
    features: tuple[int, ...]

    def as_tuple(self) -> tuple:
        return (self.index, self.contributor, self.label, list(self.features))


@dataclass(frozen=True)
class TraceStep:
    """One step of an attribution trace; its position in the trace is its rank minus one."""

    item: int
    contributor: str
    slot: int
    label: int
    distance: int
    value: int
    sumsRoot: bytes

    def as_tuple(self) -> tuple:
        return (self.item, self.contributor, self.slot, self.label, self.distance, self.value,
                self.sumsRoot)


@dataclass(frozen=True)
class NeuronRow:
    """One neuron of the integer network (a leaf of the model's ``weightsRoot``): layer
    ``layer`` (0 = the first dense layer), neuron ``neuron`` of it, its integer weights (one per
    input of the layer, in units of ``2**-shift``), its bias (in units of
    ``2**-(16 + shift)``, the accumulator's) and its declared ``shift``."""

    layer: int
    neuron: int
    weights: tuple[int, ...]
    bias: int
    shift: int

    def as_tuple(self) -> tuple:
        return (self.layer, self.neuron, list(self.weights), self.bias, self.shift)


@dataclass(frozen=True)
class ModelSpec:
    """What a model's registered ``contentHash`` commits to: ``keccak256(abi.encode(spec))``.

    ``onnxSha256`` is sha-256 of the package's model.onnx (the float graph, still run as a
    cross-check and proven by EZKL), ``weightsRoot`` the indexed Merkle root of the integer
    network's neuron rows (layer-major: position = rows of the earlier layers + neuron),
    ``widths`` the layer widths, input first (``[30, 16, 2]`` for the demo MLP)."""

    onnxSha256: bytes
    weightsRoot: bytes
    widths: tuple[int, ...]

    def as_tuple(self) -> tuple:
        return (self.onnxSha256, self.weightsRoot, list(self.widths))


class _DisputeOutcome:
    """What an attribution dispute and an output dispute say alike, from their ``state``."""

    state: DisputeState

    @property
    def worker_lost(self) -> bool:
        """Fraud proven or no response: the record is re-attributed by the equal split."""
        return self.state in (DisputeState.FRAUD, DisputeState.NO_RESPONSE)

    @property
    def pending(self) -> bool:
        return self.state in (DisputeState.OPEN, DisputeState.RESPONDED)


@dataclass(frozen=True)
class Dispute(_DisputeOutcome):
    """``IAttributionDisputes.Dispute``: one record's attribution dispute (``getDispute``)."""

    challenger: str
    state: DisputeState
    kind: FraudKind
    deadline: int
    worker: str
    bond: int
    modelId: bytes
    attributionHash: bytes
    queryHash: bytes
    itemsRoot: bytes
    n: int
    k: int
    label: int
    contributors: int
    traceRoot: bytes
    zeroRoot: bytes
    finalRoot: bytes
    defender: str
    round: int
    descents: int


@dataclass(frozen=True)
class Descent:
    """``IAttributionDisputes.Descent``: one challenger's descent into a responded trace tree
    (``getDescent``)."""

    node: bytes
    index: int
    height: int
    challengerTurn: bool
    open: bool
    round: int
    deadline: int
    otherClock: int


@dataclass(frozen=True)
class StepOpening:
    """``IAttributionDisputes.StepOpening``: a trace step, its position and its proof."""

    position: int
    step: TraceStep
    proof: tuple[bytes, ...]

    def as_tuple(self) -> tuple:
        return (self.position, self.step.as_tuple(), list(self.proof))


class OutputFraud(IntEnum):
    """``IOutputDisputes.OutputFraud``: how a worker lost an output dispute."""

    NONE = 0
    NO_RESPONSE = 1
    NEURON = 2
    MALFORMED_OUTPUT = 3


OUTPUT_DISPUTE_TAG = b"attestia.output-dispute.v1".ljust(32, b"\0")
"""``Common.OUTPUT_DISPUTE_TAG`` (a bytes32 string literal: left-aligned, zero-padded)."""


@dataclass(frozen=True)
class OutputDispute(_DisputeOutcome):
    """``IOutputDisputes.OutputDispute``: one record's output dispute (``getOutputDispute``).
    ``state`` is a :class:`DisputeState` (the two enums have the same values); ``widths`` the
    model's layer widths packed as ``IntegerInference.packWidths`` (:func:`unpack_widths`)."""

    challenger: str
    deadline: int
    state: DisputeState
    kind: OutputFraud
    round: int
    worker: str
    bond: int
    defender: str
    recordId: bytes
    modelId: bytes
    weightsRoot: bytes
    widths: int


@dataclass(frozen=True)
class NeuronOpening:
    """``IOutputDisputes.NeuronOpening``: neuron ``neuron`` of layer ``layer`` (1 = the first
    dense layer's output) and the committed activations of layers ``layer - 1`` and ``layer``."""

    layer: int
    neuron: int
    previous: tuple[int, ...]
    claimed: tuple[int, ...]

    def as_tuple(self) -> tuple:
        return (self.layer, self.neuron, list(self.previous), list(self.claimed))


def output_dispute_id(record_id: bytes) -> bytes:
    """``toOutputDisputeId``: keccak256(abi.encode(recordId, OUTPUT_DISPUTE_TAG)), recordId the
    record's attribution-dispute id (request id, or :func:`leaf_dispute_id`)."""
    return keccak(encode(["bytes32", "bytes32"], [record_id, OUTPUT_DISPUTE_TAG]))


def layer_hash(values: Sequence[int]) -> bytes:
    """A committed layer of an output dispute: keccak256(abi.encode(int256[] values))."""
    return keccak(encode(["int256[]"], [[int(v) for v in values]]))


def neuron_evidence_id(dispute_id: bytes, layer: int, neuron: int) -> bytes:
    """The evidence id of ``proveNeuron``: fraudEvidenceId(disputeId, NEURON, layer << 32 |
    neuron)."""
    return fraud_evidence_id(dispute_id, OutputFraud.NEURON, layer << 32 | neuron)


def unpack_widths(packed: int) -> tuple[int, ...]:
    """The layer widths of ``IntegerInference.packWidths``: count in the low 8 bits, each
    width - 1 in 12 bits from bit 8."""
    return tuple(((packed >> (8 + 12 * i)) & 0xFFF) + 1 for i in range(packed & 0xFF))


def challenge_closes_at(timestamp: int, challenge_window: int) -> int:
    """The last second a single record signed at ``timestamp`` can be challenged
    (``AttributionDisputes.challenge``: ``block.timestamp <= timestamp + challengeWindow``);
    its attribution is final from the next second on, unless challenged."""
    return timestamp + challenge_window


def attribution_spec_hash(spec: AttributionSpec) -> bytes:
    """A model's ``dataRoot``: ``keccak256(abi.encode(AttributionSpec))``."""
    return keccak(encode([ATTRIBUTION_SPEC_ABI_TYPE], [spec.as_tuple()]))


def model_spec_hash(spec: ModelSpec) -> bytes:
    """A model's registered ``contentHash``: ``keccak256(abi.encode(ModelSpec))``."""
    return keccak(encode([MODEL_SPEC_ABI_TYPE], [spec.as_tuple()]))


def neuron_row_leaf(row: NeuronRow) -> bytes:
    """Leaf of a ``weightsRoot``: ``keccak256(abi.encode(NeuronRow))``."""
    return keccak(encode([NEURON_ROW_ABI_TYPE], [row.as_tuple()]))


def data_item_leaf(item: DataItem) -> bytes:
    """Leaf of ``itemsRoot``: ``keccak256(abi.encode(DataItem))``."""
    return keccak(encode([DATA_ITEM_ABI_TYPE], [item.as_tuple()]))


def trace_step_leaf(step: TraceStep) -> bytes:
    """Leaf of a trace root: ``keccak256(abi.encode(TraceStep))`` (a static struct)."""
    return keccak(encode(list(TRACE_STEP_ABI_TYPES), list(step.as_tuple())))


def sums_leaf(account: str, total: int) -> bytes:
    """Leaf of a running-sums root: ``keccak256(abi.encode(address, int256))``."""
    return keccak(encode(["address", "int256"], [account, total]))


# -- many leaves at once ---------------------------------------------------------------------
# Hand-made ABI words of TraceStep, (address, int256) and DataItem: eth_abi costs ~30 us a leaf
# and a trace or an items tree has N of them. tests/test_protocol.py pins each encoder to the
# one-leaf definition above, byte for byte, on random inputs.

_UINT256 = 1 << 256
_INT256 = 1 << 255
_LEAF_BLOCK = 4096


def _uint_word(value: int) -> bytes:
    if not 0 <= value < _UINT256:
        raise InvalidInputError(f"{value} is not a uint256")
    return value.to_bytes(32, "big")


def _int_word(value: int) -> bytes:
    if not -_INT256 <= value < _INT256:
        raise InvalidInputError(f"{value} is not an int256")
    return value.to_bytes(32, "big", signed=True)


def address_word(address: str) -> bytes:
    """An address as its 32-byte ABI word."""
    return bytes(12) + bytes.fromhex(address[2:])


def _words(values: np.ndarray) -> np.ndarray:
    """int64 values as 32-byte big-endian two's-complement ABI words, ``(n, 32)`` uint8."""
    import numpy as np

    out = np.zeros((len(values), 32), dtype=np.uint8)
    out[:, :24] = np.where(values < 0, 0xFF, 0).astype(np.uint8)[:, None]
    out[:, 24:] = values.astype(">i8").view(np.uint8).reshape(-1, 8)
    return out


def _address_words(addresses: Sequence[str]) -> np.ndarray:
    import numpy as np

    accounts = {a: bytes.fromhex(a[2:]) for a in dict.fromkeys(addresses)}
    out = np.zeros((len(addresses), 32), dtype=np.uint8)
    out[:, 12:] = np.frombuffer(b"".join(accounts[a] for a in addresses),
                                dtype=np.uint8).reshape(-1, 20)
    return out


def trace_step_leaves(items: Sequence[int], contributors: Sequence[str], slots: Sequence[int],
                      labels: Sequence[int], distances: Sequence[int], values: Sequence[int],
                      sums_roots: Sequence[bytes]) -> list[bytes]:
    """:func:`trace_step_leaf` of every step, the steps given column by column: the ABI words
    built a column at a time when every number fits int64, step by step otherwise (a published
    lie). Raises :class:`InvalidInputError` for a number outside its ABI type."""
    fast = _trace_step_leaves_int64(items, contributors, slots, labels, distances, values,
                                    sums_roots)
    if fast is not None:
        return fast
    return [keccak_256(_uint_word(i) + address_word(c) + _uint_word(s) + _uint_word(lab)
                       + _uint_word(d) + _int_word(v) + bytes(r)).digest()
            for i, c, s, lab, d, v, r in zip(items, contributors, slots, labels, distances,
                                             values, sums_roots, strict=True)]


def _trace_step_leaves_int64(items: Sequence[int], contributors: Sequence[str],
                             slots: Sequence[int], labels: Sequence[int],
                             distances: Sequence[int], values: Sequence[int],
                             sums_roots: Sequence[bytes]) -> list[bytes] | None:
    import numpy as np

    n = len(items)
    if not n or any(len(c) != n for c in (contributors, slots, labels, distances, values,
                                          sums_roots)):
        return None
    try:
        columns = [np.asarray(c, dtype=np.int64) for c in
                   (items, slots, labels, distances, values)]
    except OverflowError:
        return None
    if any(int(c.min()) < 0 for c in columns[:4]):
        return None
    roots = np.frombuffer(b"".join(sums_roots), dtype=np.uint8).reshape(-1, 32)
    words = [_words(c) for c in columns]
    data = np.hstack([words[0], _address_words(contributors), *words[1:], roots]).tobytes()
    size = 7 * 32
    return [keccak_256(data[i:i + size]).digest() for i in range(0, len(data), size)]


def sums_leaves(accounts: Sequence[str], totals: Sequence[int]) -> list[bytes]:
    """:func:`sums_leaf` of every ``(account, total)`` pair."""
    return [keccak_256(address_word(a) + _int_word(t)).digest()
            for a, t in zip(accounts, totals, strict=True)]


def data_item_leaves(z_items: np.ndarray, labels: np.ndarray, owners: Sequence[str]
                     ) -> list[bytes]:
    """:func:`data_item_leaf` of every row (item ``i``: features ``z_items[i]``, label
    ``labels[i]``, contributor ``owners[i]``), the ABI words of all rows built at once."""
    import numpy as np

    z = np.asarray(z_items, dtype=np.int64)
    n, d = z.shape
    y = np.asarray(labels, dtype=np.int64)
    if y.shape != (n,) or len(owners) != n or (n and int(y.min()) < 0):
        raise InvalidInputError("one non-negative label and one owner per item")
    owner_words = _address_words(owners)
    # abi.encode of one dynamic tuple: its offset (32), index, contributor, label, the
    # array's offset in the tuple (128), its length d, the d int256 words.
    fixed = np.frombuffer(_uint_word(32), dtype=np.uint8)
    array_head = np.frombuffer(_uint_word(128) + _uint_word(d), dtype=np.uint8)
    size = (6 + d) * 32
    leaves: list[bytes] = []
    for start in range(0, n, _LEAF_BLOCK):  # blocks bound the memory of the encoded rows
        rows = slice(start, min(start + _LEAF_BLOCK, n))
        m = rows.stop - rows.start
        data = np.hstack([
            np.broadcast_to(fixed, (m, 32)), _words(np.arange(rows.start, rows.stop)),
            owner_words[rows], _words(y[rows]), np.broadcast_to(array_head, (m, 64)),
            _words(z[rows].reshape(-1)).reshape(m, -1),
        ]).tobytes()
        leaves.extend(keccak_256(data[i:i + size]).digest() for i in range(0, len(data), size))
    return leaves


def query_hash(query: Sequence[int]) -> bytes:
    """What a dispute stores of the quantised query: ``keccak256(abi.encode(int256[]))``."""
    return keccak(encode(["int256[]"], [list(query)]))


# -- EIP-712 ---------------------------------------------------------------------------------

def domain_separator(chain_id: int, verifying_contract: str) -> bytes:
    """The registry's EIP-712 domain: name, version, chain id and its own address."""
    return keccak(encode(
        ["bytes32", "bytes32", "bytes32", "uint256", "address"],
        [DOMAIN_TYPEHASH, keccak(text=DOMAIN_NAME), keccak(text=DOMAIN_VERSION), chain_id,
         to_checksum_address(verifying_contract)],
    ))


def inference_struct_hash(record: Inference) -> bytes:
    return keccak(INFERENCE_TYPEHASH + encode(list(INFERENCE_ABI_TYPES), list(record.as_tuple())))


def batch_struct_hash(batch: Batch) -> bytes:
    return keccak(BATCH_TYPEHASH + encode(list(BATCH_ABI_TYPES), list(batch.as_tuple())))


def typed_digest(domain: bytes, struct_hash: bytes) -> bytes:
    return keccak(b"\x19\x01" + domain + struct_hash)


def inference_digest(record: Inference, chain_id: int, registry: str) -> bytes:
    """``hashInference``: what a worker signs and what a recorded request's slot holds."""
    return typed_digest(domain_separator(chain_id, registry), inference_struct_hash(record))


def worker_registration_digest(signer: str, operator: str, encryption_key: bytes, nonce: int,
                               deadline: int, chain_id: int, registry: str) -> bytes:
    """What a worker key signs to consent to ``operator`` running it with ``encryption_key``
    (``registerWorker`` / ``setEncryptionKey`` by anyone other than the key itself)."""
    struct_hash = keccak(WORKER_REGISTRATION_TYPEHASH + encode(
        list(WORKER_REGISTRATION_ABI_TYPES),
        [signer, operator, keccak(encryption_key), nonce, deadline]))
    return typed_digest(domain_separator(chain_id, registry), struct_hash)


def batch_digest(batch: Batch, chain_id: int, registry: str) -> bytes:
    """``hashBatch``: what a worker signs for ``commitBatchBySig``."""
    return typed_digest(domain_separator(chain_id, registry), batch_struct_hash(batch))


def data_uri_hash(uri: str) -> bytes:
    """``Batch.dataUriHash``: keccak256(bytes(dataURI))."""
    return keccak(text=uri)


# -- fees and epochs -------------------------------------------------------------------------

def split_fee(fee: int, worker_bps: int, owner_bps: int, epoch: int = 0) -> Payout:
    """The registry's fee split (``_splitFee``): worker and owner cuts round down, the
    contributors get the rest, so no wei is lost."""
    worker_cut = fee * worker_bps // BPS
    owner_cut = fee * owner_bps // BPS
    return Payout(epoch, worker_cut, owner_cut, fee - worker_cut - owner_cut)


def contributors_cut(fee: int, worker_bps: int, owner_bps: int) -> int:
    """The contributors' part of one fee (what a batch deposits per leaf)."""
    return split_fee(fee, worker_bps, owner_bps).contributorCut


def batch_deposit(fees: Iterable[int], worker_bps: int, owner_bps: int) -> int:
    """A batch's deposit: the contributors' cut of every leaf's fee, each split on its own
    (what a single record of that fee would have paid them)."""
    return sum(contributors_cut(int(fee), worker_bps, owner_bps) for fee in fees)


def share_of(pool: int, bps: int) -> int:
    """A contributor's part of a record's contributor cut (rounded down, as settlement pays)."""
    return pool * bps // BPS


def epoch_at(timestamp: int, genesis: int, epoch_length: int) -> int:
    """``_epochAt``: the epoch a timestamp falls in."""
    return (timestamp - genesis) // epoch_length


def epoch_end(epoch: int, genesis: int, epoch_length: int) -> int:
    """When ``epoch`` ends: the first second :func:`epoch_at` puts in ``epoch + 1`` (from
    then on the registry counts it as ended and a settlement may cover it)."""
    return genesis + (epoch + 1) * epoch_length

