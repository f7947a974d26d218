"""Everything a verifier reads from the chain (and from published URIs) about one record.

This is the shell: it reads events, transactions, views and documents into plain frozen
dataclasses. The checks (``checks.py``) are pure functions of these, so a test can hand them
a tampered copy. ``ChainOracle`` is the one exception: the few questions only the chain can
answer about data the verifier holds (does the model's verifier accept this proof? is this
leaf in that batch?) are asked live, so they are asked about exactly the data being checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eth_typing import HexStr
from eth_utils import to_checksum_address

from offchain.chain.light import RPCError
from offchain.errors import AttestiaError
from offchain.ids import parse_bytes32
from offchain.proofs.zk import verifier_calldata
from offchain.protocol import (
    ZERO32,
    Dispute,
    Inference,
    MeasurementStatus,
    Model,
    OutputDispute,
    Share,
    Worker,
    challenge_closes_at,
    output_dispute_id,
)
from offchain.record import batch_file
from offchain.record.batch_file import BatchFile, BatchFileError
from offchain.registry import Attestia, RevealedInput
from offchain.storage.uri import UriError, local_file_refused, read_uri

MAX_ATTESTATION_BYTES = 1024 * 1024
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
    data_hash: bytes = ZERO32  # the committed keccak256 of the batch file's bytes
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
    model: Model | None = None
    roster: tuple[str, ...] | None = None  # the model's roster, from ModelRegistered
    sealed_result: bytes | None = None  # single records: the fulfill tx's sealedResult
    sealed_result_error: str | None = None
    worker: Worker | None = None  # getWorker(inference.worker); None: never registered
    measurement: MeasurementStatus | None = None
    attestation: bytes | None = None
    attestation_error: str | None = None
    challenge_reveal: RevealedInput | None = None  # the input a challenge made public

    @property
    def batched(self) -> bool:
        return self.batch is not None


class ChainOracle:
    """The live questions (views and eth_call) the checks ask about the data they hold."""

    def __init__(self, attestia: Attestia) -> None:
        self.attestia = attestia
        self.w3 = attestia.chain.w3
        self._call_failed: tuple[type[BaseException], ...] = (RPCError, ValueError)
        """What a view call that reverts (or answers nothing decodable) raises: RPCError on a
        light chain (offchain.chain.light), web3's errors on a web3 one."""
        if not attestia.chain.is_light:
            from web3.exceptions import (
                BadFunctionCallOutput,
                ContractCustomError,
                ContractLogicError,
            )

            self._call_failed += (ContractLogicError, ContractCustomError, BadFunctionCallOutput)

    def verify_zk(self, verifier: str, proof: bytes, instances: tuple[int, ...]
                  ) -> tuple[bool, str]:
        """Does the model's verifier contract accept (proof, instances)? (eth_call)"""
        try:
            out = bytes(self.w3.eth.call({"to": to_checksum_address(verifier),
                                          "data": verifier_calldata(proof, instances)}))
        except self._call_failed as exc:
            return False, f"the verifier reverted ({type(exc).__name__})"
        if len(out) != 32 or int.from_bytes(out, "big") not in (0, 1):
            return False, f"the verifier returned {len(out)} bytes, not a bool"
        ok = out[-1] == 1
        return ok, "the verifier returned " + ("true" if ok else "false")

    def verify_inclusion(self, batch_id: bytes, inference: Inference,
                         proof: tuple[bytes, ...]) -> bool:
        return self.attestia.lens.verify_inclusion(batch_id, inference, proof)

    def dispute_state(self, dispute_id: bytes, window_from: int
                      ) -> tuple[Dispute, int, int] | None:
        """(the dispute ``dispute_id``, when the challenge window from ``window_from`` closes,
        the chain's time), or None for a deployment whose Slasher predates attribution
        disputes. A single record's dispute id is its request id and its window runs from its
        timestamp; a batch leaf's are its leaf dispute id and its batch's commit."""
        try:
            dispute = self.attestia.slasher.dispute(dispute_id)
        except self._call_failed:
            return None
        closes = challenge_closes_at(window_from, self.attestia.registry.challenge_window())
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        return dispute, closes, now

    def output_dispute(self, record_id: bytes) -> OutputDispute | None:
        """The output dispute of a record (its record id: request id or leaf dispute id), or
        None for a deployment whose Slasher predates output disputes."""
        try:
            return self.attestia.slasher.output_dispute(output_dispute_id(record_id))
        except self._call_failed:
            return None

    def code_at(self, address: str) -> bytes:
        return bytes(self.w3.eth.get_code(to_checksum_address(address)))

    def runtime_of(self, creation: bytes) -> bytes:
        """The runtime code a creation bytecode would deploy (an eth_call without ``to``)."""
        return bytes(self.w3.eth.call({"data": creation, "gas": 15_000_000}))


# ------------------------------------------------------------------------------- reading


def read_submission(attestia: Attestia, tx_hash: str, methods: tuple[str, ...]) -> Submission:
    tx = attestia.chain.w3.eth.get_transaction(HexStr(tx_hash))
    sender, value = to_checksum_address(tx["from"]), int(tx["value"])
    to = tx.get("to")
    if to is None or to_checksum_address(to) != attestia.registry.address:
        return Submission("?", sender, value, error="the transaction did not call the "
                          "registry directly (a contract relayed it)")
    try:
        sent = attestia.registry.submitted(bytes(tx["input"]))
    except ValueError as exc:
        return Submission("?", sender, value, error=f"undecodable calldata: {exc}")
    if sent.method not in methods:
        return Submission(sent.method, sender, value, error=f"unexpected method {sent.method}")
    zk = sent.zk
    return Submission(sent.method, sender, value, sent.signature, sent.inference,
                      zk.proof if zk else None, zk.instances if zk else None)


def _read_parties(attestia: Attestia, inference: Inference,
                  local_roots: Sequence[Path] | None = None) -> dict[str, Any]:
    reg = attestia.registry
    worker = reg.worker(inference.worker)
    measurement = None
    attestation = error = None
    if worker is not None and worker.enclave_bound:
        measurement = reg.measurement_status(worker.measurement)
        refused = local_file_refused(worker.attestationURI, local_roots,
                                     "an attestation document")
        try:
            if refused:
                error = f"cannot fetch the attestation document: {refused}"
            else:
                attestation = read_uri(worker.attestationURI, max_bytes=MAX_ATTESTATION_BYTES)
        except UriError as exc:
            error = f"cannot fetch the attestation document: {exc}"
    roster = reg.contributors(inference.modelId)
    return {"model": reg.model(inference.modelId), "worker": worker,
            "roster": None if roster is None else tuple(roster),
            "measurement": measurement, "attestation": attestation,
            "attestation_error": error}


def _read_sealed_result(attestia: Attestia, tx_hash: str) -> dict[str, Any]:
    try:
        return {"sealed_result": attestia.registry.sealed_result(tx_hash)}
    except Exception as exc:  # an undecodable or foreign transaction: the record line says
        return {"sealed_result_error": f"{type(exc).__name__}: {exc}"}


def gather(attestia: Attestia, ref: RecordRef, *,
           local_roots: Sequence[Path] | None = None) -> Evidence:
    """Read the record named by ``ref`` and everything its checks need. ``local_roots``: read
    ``file://`` URIs the record's parties name only under these (a public service), or any
    (None: the verifier's own machine)."""
    base = Evidence(ref, attestia.chain.chain_id, attestia.registry.address, found=False)
    if ref.batch_id is not None:
        return _gather_batched(attestia, ref, base, local_roots)
    events = attestia.registry.recorded(request_id=ref.request_id)
    if not events:
        return replace(base, missing_reason=(
            f"no InferenceRecorded event for {ref.label} on chain {base.chain_id} "
            f"(registry {base.registry}); for a batched record pass --batch BATCH_ID"))
    event = events[-1]
    w3 = attestia.chain.w3
    return replace(
        base, found=True, inference=event.inference, shares=event.shares,
        recorded_at=int(w3.eth.get_block(event.block)["timestamp"]), tx_hash=event.tx_hash,
        request_slot=attestia.registry.request_state(event.request_id), event_digest=event.digest,
        submission=read_submission(attestia, event.tx_hash, SINGLE_METHODS),
        challenge_reveal=attestia.slasher.revealed_input(event.request_id),
        **_read_sealed_result(attestia, event.tx_hash),
        **_read_parties(attestia, event.inference, local_roots),
    )


def _gather_batched(attestia: Attestia, ref: RecordRef, base: Evidence,
                    local_roots: Sequence[Path] | None) -> Evidence:
    assert ref.batch_id is not None
    events = attestia.registry.batches(batch_id=ref.batch_id)
    if not events:
        return replace(base, missing_reason=(
            f"no BatchCommitted event for batch 0x{ref.batch_id.hex()} on chain "
            f"{base.chain_id}"))
    event = events[-1]
    batch = BatchEvidence(ref.batch_id, event.root, event.count, event.epoch, event.deposit,
                          event.data_uri, attestia.registry.batch_info(ref.batch_id).committedAt,
                          event.data_hash)
    recorded_at = int(attestia.chain.w3.eth.get_block(event.meta.block)["timestamp"])
    submission = read_submission(attestia, event.meta.tx_hash, BATCH_METHODS)
    common = replace(base, recorded_at=recorded_at, tx_hash=event.meta.tx_hash,
                     submission=submission)
    refused = local_file_refused(event.data_uri, local_roots, "a published batch file")
    try:
        if refused:
            raise UriError(event.data_uri, refused)
        # dataHash, root, count, model, worker and lists; payees outside the roster are the
        # attribution line's to report (settlement quarantines such a batch).
        published = batch_file.load(event.data_uri, event, roster=None)
    except (BatchFileError, UriError) as exc:
        problem = f"the batch file is not the committed batch ({exc})" if isinstance(
            exc, BatchFileError) else f"the batch file cannot be read ({exc})"
        return replace(common, missing_reason=problem, batch=replace(batch, file_error=problem))
    index = _find_leaf(published, ref)
    if index is None:
        return replace(common, batch=replace(
            batch, tree_root=published.root, tree_size=published.count), missing_reason=(
            f"the batch file at {batch.data_uri} has no leaf {ref.label}"))
    leaf = published.leaves[index]
    batch = replace(batch, tree_root=published.root, tree_size=published.count,
                    proof=tuple(published.proof(index)))
    return replace(common, found=True, inference=leaf.inference,
                   shares=tuple(Share(a, b) for a, b in leaf.shares), batch=batch,
                   **_read_parties(attestia, leaf.inference, local_roots))


def _find_leaf(published: BatchFile, ref: RecordRef) -> int | None:
    if ref.index is not None:
        return ref.index if 0 <= ref.index < published.count else None
    assert ref.request_id is not None
    return published.index_of(ref.request_id)
