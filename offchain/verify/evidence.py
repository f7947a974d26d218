"""Everything a verifier reads from the chain (and from published URIs) about one record.

This is the shell: it reads events, transactions, views and documents into plain frozen
dataclasses. The checks (``checks.py``) are pure functions of these, so a test can hand them
a tampered copy. ``ChainOracle`` is the one exception: the few questions only the chain can
answer about data the verifier holds (does the model's verifier accept this proof? is this
leaf in that batch?) are asked live, so they are asked about exactly the data being checked.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from eth_utils import keccak, to_checksum_address
from web3.exceptions import ContractCustomError, ContractLogicError

from offchain.attribution.shares import Share
from offchain.chain.contracts import Attestia
from offchain.chain.events import iter_events, recorded_events
from offchain.errors import AttestiaError
from offchain.ids import parse_bytes32
from offchain.merkle import StandardMerkleTree
from offchain.models.onchain import OnchainModel, get_model
from offchain.proofs.zk import verifier_calldata
from offchain.protocol import Inference

ZERO_ADDRESS = "0x" + "00" * 20
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
BATCH_METHODS = ("commitBatch", "commitBatchBySig")
SINGLE_METHODS = ("fulfill", "fulfillBySig", "fulfillZk", "fulfillZkBySig")


class VerifyError(AttestiaError):
    """The verifier was asked something it cannot look up (bad id, unreadable input)."""


@dataclass(frozen=True)
class RecordRef:
    """Which record to verify: a single record (request id) or a leaf of a batch.

    Accepted forms: ``0x<requestId>``; ``0x<requestId>`` with ``batch_id`` (the leaf whose
    requestId matches); ``batch:0x<batchId>:<index>`` (the leaf at that position of the
    published leaves list).
    """

    request_id: bytes | None = None
    batch_id: bytes | None = None
    index: int | None = None

    @classmethod
    def parse(cls, text: str, batch: str | None = None) -> RecordRef:
        if text.startswith("batch:"):
            parts = text.split(":")
            if len(parts) != 3 or batch is not None:
                raise VerifyError(f"expected batch:0x<batchId>:<index>, got {text!r}")
            try:
                index = int(parts[2])
            except ValueError:
                raise VerifyError(f"leaf index must be an integer, got {parts[2]!r}") from None
            return cls(batch_id=parse_bytes32(parts[1], "batch id", VerifyError), index=index)
        return cls(request_id=parse_bytes32(text, "inference id", VerifyError),
                   batch_id=parse_bytes32(batch, "batch id", VerifyError) if batch else None)

    @property
    def label(self) -> str:
        if self.batch_id is not None and self.index is not None:
            return f"batch:0x{self.batch_id.hex()}:{self.index}"
        rid = "0x" + self.request_id.hex() if self.request_id else "?"
        return rid if self.batch_id is None else f"{rid} in batch 0x{self.batch_id.hex()}"




@dataclass(frozen=True)
class WorkerState:
    """``getWorker(signer)`` (timestamps 0 = never)."""

    signer: str
    operator: str
    unbonding_at: int
    revoked_at: int
    registered_at: int
    enclave_bound_at: int
    measurement: bytes
    attestation_hash: bytes
    attestation_uri: str

    @classmethod
    def from_tuple(cls, signer: str, w: Any) -> WorkerState:
        return cls(to_checksum_address(signer), w[0], int(w[1]), int(w[2]), int(w[4]),
                   int(w[5]), bytes(w[6]), bytes(w[7]), str(w[9]))

    @property
    def exists(self) -> bool:
        return self.operator != ZERO_ADDRESS


@dataclass(frozen=True)
class MeasurementState:
    allowed_at: int
    revoked_at: int


@dataclass(frozen=True)
class Submission:
    """How the record reached the chain: the transaction's method, sender and arguments."""

    method: str
    sender: str
    value: int
    signature: bytes | None = None
    inference: Inference | None = None  # single records: the record as sent in calldata
    zk_proof: bytes | None = None
    zk_instances: tuple[int, ...] | None = None
    error: str | None = None  # the transaction could not be decoded as a registry call


@dataclass(frozen=True)
class BatchEvidence:
    """A BatchCommitted event, the batch slot, and the leaf found in the published file."""

    batch_id: bytes
    root: bytes
    count: int
    epoch: int
    deposit: int
    data_uri: str
    committed_at: int
    tree_root: bytes | None = None
    tree_size: int = 0
    proof: tuple[bytes, ...] = ()
    file_error: str | None = None


@dataclass(frozen=True)
class Evidence:
    """One record as the chain (and its published files) show it."""

    ref: RecordRef
    chain_id: int
    registry: str
    found: bool
    missing_reason: str = ""
    inference: Inference | None = None
    shares: tuple[Share, ...] = ()
    recorded_at: int = 0  # block time of the record transaction (batch: of the commit)
    tx_hash: str = ""
    request_slot: bytes | None = None  # single records: requestState(requestId)
    event_digest: bytes | None = None
    submission: Submission | None = None
    batch: BatchEvidence | None = None
    model: OnchainModel | None = None
    worker: WorkerState | None = None
    measurement: MeasurementState | None = None
    attestation: bytes | None = None
    attestation_error: str | None = None

    @property
    def batched(self) -> bool:
        return self.batch is not None


class ChainOracle:
    """The live questions (views and eth_call) the checks ask about the data they hold."""

    def __init__(self, attestia: Attestia) -> None:
        self.attestia = attestia
        self.w3 = attestia.chain.w3

    def verify_zk(self, verifier: str, proof: bytes, instances: tuple[int, ...]
                  ) -> tuple[bool, str]:
        """Does the model's verifier contract accept (proof, instances)? (eth_call)"""
        try:
            out = bytes(self.w3.eth.call({"to": to_checksum_address(verifier),
                                          "data": verifier_calldata(proof, instances)}))
        except (ContractLogicError, ContractCustomError, ValueError) as exc:
            return False, f"the verifier reverted ({type(exc).__name__})"
        if len(out) != 32 or int.from_bytes(out, "big") not in (0, 1):
            return False, f"the verifier returned {len(out)} bytes, not a bool"
        ok = out[-1] == 1
        return ok, "the verifier returned " + ("true" if ok else "false")

    def verify_inclusion(self, batch_id: bytes, inference: Inference,
                         proof: tuple[bytes, ...]) -> bool:
        fn = self.attestia.registry.functions.verifyInclusion
        return bool(fn(batch_id, inference.as_tuple(), list(proof)).call())

    def code_at(self, address: str) -> bytes:
        return bytes(self.w3.eth.get_code(to_checksum_address(address)))

    def runtime_of(self, creation: bytes) -> bytes:
        """The runtime code a creation bytecode would deploy (an eth_call without ``to``)."""
        return bytes(self.w3.eth.call({"data": creation, "gas": 15_000_000}))


# ------------------------------------------------------------------------------- reading


def fetch_uri(uri: str, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The bytes at a file:// or http(s):// URI (at most ``limit``)."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "file":
        path = Path(urllib.parse.unquote(parsed.path))
        if path.stat().st_size > limit:
            raise ValueError(f"{path} is larger than {limit} bytes")
        return path.read_bytes()
    if parsed.scheme in ("http", "https"):
        response = requests.get(uri, timeout=20, stream=True)
        response.raise_for_status()
        data = response.raw.read(limit + 1, decode_content=True)
        if len(data) > limit:
            raise ValueError(f"{uri} is larger than {limit} bytes")
        return data
    raise ValueError(f"unsupported URI scheme {parsed.scheme!r} (file, http and https are read)")


def _values(struct: Any) -> tuple:
    return tuple(struct.values()) if isinstance(struct, Mapping) else tuple(struct)


def read_submission(attestia: Attestia, tx_hash: str, methods: tuple[str, ...]) -> Submission:
    tx = attestia.chain.w3.eth.get_transaction(tx_hash)
    sender, value = to_checksum_address(tx["from"]), int(tx["value"])
    to = tx.get("to")
    if to is None or to_checksum_address(to) != attestia.registry.address:
        return Submission("?", sender, value, error="the transaction did not call the "
                          "registry directly (a contract relayed it)")
    try:
        fn, args = attestia.registry.decode_function_input(tx["input"])
    except ValueError as exc:
        return Submission("?", sender, value, error=f"undecodable calldata: {exc}")
    name = fn.fn_name
    if name not in methods:
        return Submission(name, sender, value, error=f"unexpected method {name}")
    inference = Inference.from_tuple(_values(args["inference"])) if "inference" in args else None
    signature = bytes(args["signature"]) if "signature" in args else None
    proof = bytes(args["proof"]) if "proof" in args else None
    instances = tuple(int(v) for v in args["instances"]) if "instances" in args else None
    return Submission(name, sender, value, signature, inference, proof, instances)


def _read_parties(attestia: Attestia, inference: Inference) -> dict[str, Any]:
    fn = attestia.registry.functions
    worker = WorkerState.from_tuple(inference.worker, fn.getWorker(inference.worker).call())
    measurement = None
    attestation = error = None
    if worker.exists and worker.enclave_bound_at:
        m = fn.measurementStatus(worker.measurement).call()
        measurement = MeasurementState(int(m[0]), int(m[1]))
        try:
            attestation = fetch_uri(worker.attestation_uri)
        except (OSError, ValueError, requests.RequestException) as exc:
            error = f"cannot fetch {worker.attestation_uri}: {exc}"
    return {"model": get_model(attestia, inference.modelId), "worker": worker,
            "measurement": measurement, "attestation": attestation,
            "attestation_error": error}


def gather(attestia: Attestia, ref: RecordRef) -> Evidence:
    """Read the record named by ``ref`` and everything its checks need."""
    base = {"ref": ref, "chain_id": attestia.chain.chain_id,
            "registry": attestia.registry.address}
    if ref.batch_id is not None:
        return _gather_batched(attestia, ref, base)
    events = recorded_events(attestia.registry, attestia.first_block,
                             request_id=ref.request_id)
    if not events:
        return Evidence(**base, found=False, missing_reason=(
            f"no InferenceRecorded event for {ref.label} on chain {base['chain_id']} "
            f"(registry {base['registry']}); for a batched record pass --batch BATCH_ID"))
    event = events[-1]
    w3 = attestia.chain.w3
    slot = bytes(attestia.registry.functions.requestState(event.request_id).call())
    return Evidence(
        **base, found=True, inference=event.inference, shares=tuple(event.shares),
        recorded_at=int(w3.eth.get_block(event.block)["timestamp"]), tx_hash=event.tx_hash,
        request_slot=slot, event_digest=event.digest,
        submission=read_submission(attestia, event.tx_hash, SINGLE_METHODS),
        **_read_parties(attestia, event.inference),
    )


def _gather_batched(attestia: Attestia, ref: RecordRef, base: dict) -> Evidence:
    events = list(iter_events(attestia.registry, "BatchCommitted", attestia.first_block,
                              argument_filters={"batchId": ref.batch_id}))
    if not events:
        return Evidence(**base, found=False, missing_reason=(
            f"no BatchCommitted event for batch 0x{ref.batch_id.hex()} on chain "
            f"{base['chain_id']}"))
    event = events[-1]
    args = event["args"]
    tx_hash = "0x" + bytes(event["transactionHash"]).hex()
    info = attestia.registry.functions.batchInfo(ref.batch_id).call()
    batch = BatchEvidence(ref.batch_id, bytes(args["root"]), int(args["count"]),
                          int(args["epoch"]), int(args["deposit"]), str(args["dataURI"]),
                          int(info[0]))
    recorded_at = int(attestia.chain.w3.eth.get_block(event["blockNumber"])["timestamp"])
    submission = read_submission(attestia, tx_hash, BATCH_METHODS)
    common = {**base, "recorded_at": recorded_at, "tx_hash": tx_hash, "submission": submission}
    try:
        data = json.loads(fetch_uri(batch.data_uri))
        tree = StandardMerkleTree.load(data["tree"])
        leaves = data["leaves"]
    except (OSError, ValueError, KeyError, TypeError, AttestiaError,
            requests.RequestException) as exc:
        problem = f"the batch file at {batch.data_uri} is unreadable: {exc}"
        return Evidence(**common, found=False, missing_reason=problem,
                        batch=_replace(batch, file_error=problem))
    leaf = _find_leaf(leaves, ref)
    tree_root = bytes.fromhex(tree.root[2:])
    if leaf is None:
        return Evidence(**common, found=False, batch=_replace(
            batch, tree_root=tree_root, tree_size=len(tree)), missing_reason=(
            f"the batch file at {batch.data_uri} has no leaf {ref.label}"))
    inference = Inference.from_json(leaf["inference"])
    shares = tuple((to_checksum_address(a), int(b)) for a, b in leaf["shares"])
    try:
        proof = tuple(bytes.fromhex(p[2:]) for p in tree.get_proof(list(inference.as_tuple())))
    except AttestiaError:
        proof = ()
    batch = _replace(batch, tree_root=tree_root, tree_size=len(tree), proof=proof)
    return Evidence(**common, found=True, inference=inference, shares=shares, batch=batch,
                    **_read_parties(attestia, inference))


def _find_leaf(leaves: list[dict], ref: RecordRef) -> dict | None:
    if ref.index is not None:
        return leaves[ref.index] if 0 <= ref.index < len(leaves) else None
    wanted = "0x" + ref.request_id.hex()
    for leaf in leaves:
        if str(leaf["inference"]["requestId"]).lower() == wanted:
            return leaf
    return None


def _replace(batch: BatchEvidence, **changes: Any) -> BatchEvidence:
    from dataclasses import replace

    return replace(batch, **changes)


def batch_id_of(root: bytes, model_id: bytes, worker: str) -> bytes:
    """keccak256(abi.encode(root, modelId, worker)) (design.md)."""
    from eth_abi import encode

    return keccak(encode(["bytes32", "bytes32", "address"], [root, model_id, worker]))
