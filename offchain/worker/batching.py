"""Batch mode: off-chain requests become Merkle-batched records, one root per commit.

Requests paid off-chain arrive in the inbox (``inbox.py``). The worker takes up to
``batch_size`` of them for one model (or whatever is there once the oldest has waited
``max_latency`` seconds), runs and attributes them in one pass, builds the StandardMerkleTree
over their Inference leaves, publishes the batch file (:mod:`offchain.record.batch_file`: the
records with their attribution lists and fees) as ``<data_dir>/batches/<root>.json`` and commits the
root and the file's content hash (``dataHash``, keccak256 of the bytes written) with
``commitBatch`` (or, for an enclave key, ``commitBatchBySig`` relayed by the operator), paying
the contributors' cut of the batch's fees as the deposit. A leaf whose attribution would pay
an account outside the model's registered roster is rejected before the tree is built
(settlement would quarantine the whole batch).

Exactly once, as for single records: every step is journaled before its effect.

1. the requests are bound to the batch id in the journal (state ``assigned``);
2. the batch file is written (atomically); from here on it is only rewritten before signing
   (a new epoch), and the commit carries the hash of the bytes on disk;
3. the commit transaction is signed and its raw bytes + nonce journaled (``signed``);
4. it is broadcast (``sent``), then confirmed (``committed``: its requests ``recorded``);
5. inbox files whose requests are all final move to ``inbox/done/``.

On restart: journaled transactions are re-broadcast byte for byte; an ``assigned`` batch whose
file exists is signed (again); one whose file was never written is released, its requests
pending again. A request, once bound to a batch id, is never bound to another unless that
batch was never signed, so no request is recorded twice (and the contract refuses the same
batch id twice: ``AlreadyExists``), and none is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
from threadpoolctl import threadpool_limits

from offchain.chain.eip712 import sign_digest
from offchain.chain.tx import Call, NonceTooLow
from offchain.errors import AttestiaError, ChainError, TransactionReverted
from offchain.merkle import StandardMerkleTree
from offchain.models.encoding import decode_tensors
from offchain.models.errors import EncodingError
from offchain.protocol import (
    PROOF_SIGNED,
    PROOF_TEE,
    ZERO32,
    Batch,
    Inference,
    Share,
    batch_deposit,
    batch_digest,
    batch_id,
    data_uri_hash,
    epoch_at,
)
from offchain.record.batch_file import (
    BatchFile,
    BatchFileError,
    BatchLeaf,
    Commitment,
    data_hash,
    leaf_tree,
    load_bytes,
    write_batch_file,
)
from offchain.record.compute import Evaluation, InferenceEngine
from offchain.request.inbox import (
    BAD,
    DONE,
    INBOX,
    OUTBOX,
    InboxError,
    OffchainRequest,
    inbox_files,
    move_file,
    parse_request,
    read_inbox_file,
    request_key,
)
from offchain.storage.atomic import atomic_write_json
from offchain.storage.uri import UriError, read_uri, resolve
from offchain.worker import journal as J
from offchain.worker.node import WorkerNode, WorkerStats

log = logging.getLogger("attestia.worker")

BATCHES = "batches"
# Attribution threads: a sort over a large roster releases the GIL, a small one is not
# worth a thread hand-off.
PARALLEL_ROSTER = 20_000


class BatchError(AttestiaError):
    """A batch cannot be built or committed; the message says why and what to do."""


@dataclass(frozen=True)
class BatchOptions:
    """How the batch loop forms batches (``--batch-size``, ``--max-latency``)."""

    batch_size: int = 1000
    max_latency: float = 2.0
    poll_interval: float = 0.02
    attribution_workers: int | None = None  # None: 2 threads for large rosters, else 1
    onchain: bool = True  # keep serving on-chain requests between batches
    max_attempts: int = 3  # commits re-signed after an epoch change, at most


@dataclass
class BatchStats:
    batches: int = 0
    leaves: int = 0
    started: float = field(default_factory=time.time)


# -- pure core ------------------------------------------------------------------------------

OVERFLOW = "the standardised input overflows float32"


def decode_request(engine: InferenceEngine, request: OffchainRequest, *,
                   check_overflow: bool = True) -> np.ndarray:
    """The raw float32 input of a request, checked as the model needs it.

    Raises EncodingError (wrong shape, NaN or infinity, bytes that are not canonical,
    features that do not fit the schema, or, unless ``check_overflow`` is off because the
    caller checks a whole batch at once (:func:`overflowing_rows`), a standardised value
    beyond float32).
    """
    if request.model_id != engine.model_id:
        raise EncodingError(f"request is for model 0x{request.model_id.hex()}, not this one")
    if request.input_bytes is not None:
        raw = engine.decode_input(request.input_bytes)
    else:
        raw = engine.package.parse_input(request.features)
    if check_overflow and overflowing_rows(engine, [raw]):
        raise EncodingError(OVERFLOW)
    return raw


def decode_requests(engine: InferenceEngine, requests: Sequence[OffchainRequest]
                    ) -> list[np.ndarray | Exception]:
    """:func:`decode_request` (``check_overflow`` off) of each request, or the exception it
    raises: the canonical input tensors of a batch are decoded together
    (``encoding.decode_tensors``), anything else one at a time."""
    ours = [i for i, r in enumerate(requests)
            if r.model_id == engine.model_id and r.input_bytes is not None]
    out: list[np.ndarray | Exception | None] = [None] * len(requests)
    if ours:
        decoded = decode_tensors([requests[i].input_bytes for i in ours],  # type: ignore[misc]
                                 shape=engine.input_shape)
        for i, result in zip(ours, decoded, strict=True):
            out[i] = result
    for i, request in enumerate(requests):
        if out[i] is None:
            try:
                out[i] = decode_request(engine, request, check_overflow=False)
            except Exception as exc:  # noqa: BLE001 - else it fails every batch it is in
                out[i] = exc
    return cast("list[np.ndarray | Exception]", out)


def overflowing_rows(engine: InferenceEngine, raws: Sequence[np.ndarray]) -> set[int]:
    """The positions of the raw inputs whose standardised form overflows float32: one
    vectorised pass over the batch (standardising is elementwise: a row's result does not
    depend on the others)."""
    if not raws:
        return set()
    stacked = np.vstack([np.asarray(raw).reshape(1, -1) for raw in raws])
    with np.errstate(over="ignore"):  # an overflow is what is looked for
        model_input = engine.package.model_input(stacked)
    return set(np.flatnonzero(~np.isfinite(model_input).all(axis=1)).tolist())


@dataclass
class BuiltBatch:
    """A batch's content before anything is written or sent."""

    model_id: bytes
    worker: str
    request_ids: list[str]
    records: list[Inference]
    records_json: list[dict[str, Any]]
    shares: list[tuple[Share, ...]]
    labels: list[int]
    fees: list[int]
    outputs: list[bytes]
    tree: StandardMerkleTree | None
    rejected: list[tuple[str, str]]

    @property
    def root(self) -> bytes:
        if self.tree is None:
            raise BatchError("an empty batch has no root")
        return bytes.fromhex(self.tree.root[2:])

    @property
    def batch_id(self) -> bytes:
        return batch_id(self.root, self.model_id, self.worker)


def _evaluate(engine: InferenceEngine, raws: list[np.ndarray], workers: int,
              input_bytes: list[bytes | None] | None = None) -> list[Evaluation | str]:
    """Evaluations, or the reason a row failed (one bad row must not sink the batch).
    ``input_bytes``: the requests' canonical tensor bytes, where they carried them."""
    try:
        if workers > 1:  # attribution threads each run BLAS: one BLAS thread apiece
            with threadpool_limits(limits=1):
                return list(engine.evaluate_batch(raws, workers=workers,
                                                  input_bytes=input_bytes))
        return list(engine.evaluate_batch(raws, input_bytes=input_bytes))
    except Exception:  # noqa: BLE001 - find the row that failed, one at a time
        pass
    results: list[Evaluation | str] = []
    for raw in raws:
        try:
            results.append(engine.evaluate(raw))
        except AttestiaError as exc:
            results.append(f"evaluation failed: {exc}")
        except Exception as exc:  # noqa: BLE001 - an input nobody foresaw: this row only
            results.append(f"evaluation failed: {type(exc).__name__}: {exc}")
    return results


def build_batch(
    engine: InferenceEngine, requests: Sequence[tuple[str, OffchainRequest]], *, worker: str,
    timestamp: int, proof_kind: int = PROOF_SIGNED, proof_hash: bytes = ZERO32,
    attribution_workers: int = 1, roster: Collection[str] | None = None,
) -> BuiltBatch:
    """Run, attribute and commit to every request; build the tree. No I/O.

    Requests whose input is bad, and (given the model's registered ``roster``) requests whose
    attribution would pay an account outside it, are left out and listed in ``rejected``
    with the reason.
    """
    members = None if roster is None else frozenset(roster)
    accepted: list[tuple[str, OffchainRequest]] = []
    raws: list[np.ndarray] = []
    rejected: list[tuple[str, str]] = []
    for (key, request), raw in zip(requests, decode_requests(engine, [r for _, r in requests]),
                                   strict=True):
        if isinstance(raw, AttestiaError):
            rejected.append((key, f"bad input: {raw}"))
        elif isinstance(raw, Exception):
            rejected.append((key, f"bad input: {type(raw).__name__}: {raw}"))
        else:
            raws.append(raw)
            accepted.append((key, request))
    overflowing = overflowing_rows(engine, raws)  # the whole batch at once
    if overflowing:
        rejected += [(key, f"bad input: {OVERFLOW}")
                     for i, (key, _) in enumerate(accepted) if i in overflowing]
        accepted = [a for i, a in enumerate(accepted) if i not in overflowing]
        raws = [r for i, r in enumerate(raws) if i not in overflowing]
    built = BuiltBatch(engine.model_id, worker, [], [], [], [], [], [], [], None, rejected)
    known = [request.input_bytes for _, request in accepted]  # canonical, as decoded
    for (key, request), result in zip(accepted, _evaluate(engine, raws, attribution_workers,
                                                          known), strict=True):
        if isinstance(result, str):
            rejected.append((key, result))
            continue
        if members is not None:
            outsider = next((a for a, _ in result.shares if a not in members), None)
            if outsider is not None:
                rejected.append((key, f"its attribution pays {outsider}, who is not in the "
                                 "model's registered contributor roster"))
                continue
        built.request_ids.append(key)
        record = engine.record(
            result, request_id=request.request_id, input_salt=request.salt, worker=worker,
            timestamp=timestamp, proof_kind=proof_kind, proof_hash=proof_hash,
        )
        built.records.append(record)
        built.records_json.append(record.to_json())
        built.shares.append(result.shares)
        built.labels.append(result.label)
        built.fees.append(request.fee)
        built.outputs.append(result.output_bytes)
    if built.records:
        built.tree = leaf_tree(built.records_json)
    return built


def batch_file(built: BuiltBatch, *, epoch: int, deposit: int) -> BatchFile:
    """The public batch file of a built batch (labels and outputs stay private)."""
    if built.tree is None:
        raise BatchError("an empty batch has no batch file")
    leaves = [BatchLeaf(record, tuple(shares), fee)
              for record, shares, fee in zip(built.records, built.shares, built.fees,
                                             strict=True)]
    return BatchFile.of(leaves, model_id=built.model_id, worker=built.worker, epoch=epoch,
                        deposit=deposit, records_json=built.records_json, tree=built.tree)


def results_document(built: BuiltBatch) -> dict[str, Any]:
    """The private results (outputs per request) for the channel to deliver."""
    return {
        "batchId": "0x" + built.batch_id.hex(),
        "root": built.tree.root if built.tree else None,
        "results": {
            key: {"leaf": index, "label": label, "output": "0x" + output.hex()}
            for index, (key, label, output) in enumerate(zip(built.request_ids, built.labels,
                                                             built.outputs, strict=True))
        },
    }


def write_json(path: Path, data: Any) -> None:
    """Atomically (:mod:`offchain.storage.atomic`): readers see the old file or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, data, separators=(",", ":"))


def _local_path(uri: str) -> Path:
    """Where this worker published a batch file (its journal holds file:// URIs)."""
    where = resolve(uri)
    if not isinstance(where, Path):
        raise BatchError(f"batch file {uri} is not a local file this worker can rewrite")
    return where


# -- the loop ---------------------------------------------------------------------------------

class BatchWorker:
    """Drains the inbox into committed batches (and keeps serving on-chain requests)."""

    def __init__(self, node: WorkerNode, data_dir: Path, options: BatchOptions | None = None
                 ) -> None:
        self.options = options or BatchOptions()
        if self.options.batch_size < 1 or self.options.max_latency < 0:
            raise BatchError("batch size must be >= 1 and max latency >= 0 seconds")
        self.node = node
        self.journal = node.journal
        self.sender = node.sender
        self.registry = node.attestia.registry
        self.inbox_dir = data_dir / INBOX
        self.batch_dir = data_dir / BATCHES
        self.outbox_dir = data_dir / OUTBOX
        self.inbox_dir.mkdir(parents=True, exist_ok=True)
        self.batch_stats = BatchStats()
        self._known = self.journal.known_files()
        self._rosters: dict[bytes, frozenset[str]] = {}
        self._epochs: tuple[int, int] | None = None

    @property
    def stats(self) -> WorkerStats:
        return self.node.stats

    # -- public -------------------------------------------------------------------------------
    def run(self, *, until_idle: bool = False, max_seconds: float | None = None) -> WorkerStats:
        """Serve until ``node.stop_event`` is set (SIGTERM), or until nothing is left.

        A batch being committed when the stop comes is finished first; requests still
        pending stay journaled for the next run. A lost chain never ends the run, as for
        single records (``WorkerNode.round_failed``): the worker waits for the chain, then
        recovers from its journal (journaled commits re-broadcast byte for byte, assigned
        batches signed again, pending requests batched) and goes on.
        """
        deadline = time.monotonic() + max_seconds if max_seconds else None
        stop = self.node.stop_event
        recovered = False
        while not stop.is_set():
            self.node.beat()
            try:
                if not recovered:
                    self.recover()
                    recovered = True
                done = self._round(until_idle)
                self.node.round_succeeded()
            except Exception as exc:  # a long-running process outlives one failed round
                self.node.round_failed(exc)
                recovered = False
                done = False
            if done or (deadline and time.monotonic() > deadline):
                break
        return self.stats

    def _round(self, until_idle: bool) -> bool:
        """One round: ingest the inbox, serve on-chain requests, answer challenges, form and
        commit a batch (or wait a little). True when ``until_idle`` and nothing is left."""
        new = self.ingest()
        onchain_new, onchain_busy = self.serve_onchain() if self.options.onchain else (0, False)
        # Challenges to this key's on-chain records are answered here as in the single-record
        # loop: a batching worker that went unanswered would lose its whole stake to each one.
        self.answer_challenges()
        idle = new == 0 and onchain_new == 0 and not onchain_busy
        made = self.step(flush=until_idle and idle)
        if not made and not onchain_busy:
            if until_idle and idle and self.journal.oldest_pending() is None:
                return True
            self.node.stop_event.wait(self._sleep_time())
        return False

    def serve_onchain(self) -> tuple[int, bool]:
        """Journal new on-chain requests naming this key and fulfill a pipeline of them.
        Returns (how many were new, whether any were processed)."""
        new = self.node.poll()
        entries = self.journal.entries(J.NEW)[: self.node.options.pipeline]
        if entries:
            self.node.process(entries)
        return new, bool(entries)

    def answer_challenges(self) -> None:
        if self.node.disputes is not None:
            self.node.disputes.check()

    def recover(self) -> None:
        """Settle what a previous run left: single records, journaled commits, assigned
        batches, and inbox files whose requests are all final."""
        self.node.recover()
        in_flight = self.journal.batches(*J.BATCH_IN_FLIGHT)
        if in_flight:
            log.info("recovering %d journaled batch commit(s)", len(in_flight))
        displaced = []
        for entry in in_flight:
            assert entry.tx_hash is not None and entry.raw_tx is not None  # signed or sent
            tx_hash = bytes.fromhex(entry.tx_hash[2:])
            if self.sender.receipt(tx_hash) is not None:
                continue
            try:
                self.sender.broadcast(tx_hash, bytes.fromhex(entry.raw_tx[2:]))
            except NonceTooLow:
                displaced.append(entry.batch_id)  # its nonce went to another transaction
            except ChainError as exc:
                log.warning("re-broadcast of batch %s failed: %s", entry.batch_id[:10], exc)
        self.sender.resync()
        for entry in in_flight:
            if entry.batch_id in displaced:
                self._retry_or_fail(entry, "its nonce was used by another transaction")
            else:
                self._confirm(entry)
        for entry in self.journal.batches(J.ASSIGNED):
            self._resume(entry)
        self.settle_files()

    def ingest(self) -> int:
        """Journal the requests of inbox files not seen before. Returns how many."""
        added_total = 0
        for path in inbox_files(self.inbox_dir):
            if path.name in self._known:
                continue
            try:
                entries = read_inbox_file(path)
            except InboxError as exc:
                self.journal.mark_file(path.name, J.BAD, str(exc))
                move_file(path, BAD)
                self._known.add(path.name)
                log.warning("inbox file %s moved to %s/: %s", path.name, BAD, exc)
                continue
            good: list[tuple[str, str | None, dict]] = []
            bad: list[tuple[str, str | None, dict, str]] = []
            for index, entry in enumerate(entries):
                key = request_key(entry) or f"{path.name}#{index}"
                try:
                    request = parse_request(entry)
                    if request.model_id not in self.node.engines:
                        raise InboxError(f"model 0x{request.model_id.hex()} is not served here")
                    good.append((key, "0x" + request.model_id.hex(), entry))
                except InboxError as exc:
                    bad.append((key, None, entry, f"malformed request: {exc}"))
            added, duplicates = self.journal.ingest_file(path.name, good, bad)
            self._known.add(path.name)
            added_total += added
            for key, _, _, reason in bad:
                log.info("rejected %s: %s", key[:18], reason)
            self.stats.rejected += len(bad)
            self.stats.seen += added
            if duplicates:
                log.warning("inbox file %s: %d request id(s) seen before were ignored",
                            path.name, duplicates)
        if added_total:
            self.settle_files()  # a file of only rejected requests is already settled
        return added_total

    def step(self, *, flush: bool = False) -> bool:
        """Form and commit one batch if one is due (full, old enough, or ``flush``)."""
        oldest = self.journal.oldest_pending()
        if oldest is None:
            return False
        model_key, received_at = oldest
        entries = self.journal.pending_for(model_key, self.options.batch_size)
        due = (len(entries) >= self.options.batch_size or flush
               or time.time() - received_at >= self.options.max_latency)
        if not due:
            return False
        self._make_batch(bytes.fromhex(model_key[2:]), entries)
        return True

    def settle_files(self) -> None:
        """Move inbox files whose requests are all final to inbox/done/."""
        for name in self.journal.settled_files():
            move_file(self.inbox_dir / name, DONE)
            self.journal.mark_file(name, J.DONE)

    # -- one batch ---------------------------------------------------------------------------------
    def _build(self, model_id: bytes, requests: list[tuple[str, OffchainRequest]]) -> BuiltBatch:
        """This node's batch of ``requests`` (signed, or TEE with its attestation), attribution
        on two workers for a large roster unless the options say how many."""
        engine = self.node.engines[model_id]
        kind, proof_hash = (PROOF_TEE, self.node.tee.attestation_hash) if self.node.tee else (
            PROOF_SIGNED, ZERO32)
        workers = self.options.attribution_workers or (
            2 if engine.knn.n_train >= PARALLEL_ROSTER else 1)
        return build_batch(engine, requests, worker=self.node.signer.address,
                           timestamp=int(time.time()), proof_kind=kind, proof_hash=proof_hash,
                           attribution_workers=workers, roster=self._roster(model_id))

    def _make_batch(self, model_id: bytes, entries: list[J.OffchainEntry]) -> None:
        requests: list[tuple[str, OffchainRequest]] = []
        malformed = []
        for entry in entries:
            try:
                requests.append((entry.request_id, parse_request(entry.request)))
            except InboxError as exc:  # journaled as parsed: only if the journal was edited
                malformed.append((entry.request_id, f"malformed request: {exc}"))
        built = self._build(model_id, requests)
        rejected = malformed + built.rejected
        if rejected:
            self.journal.reject_offchain(rejected)
            self.stats.rejected += len(rejected)
            for key, reason in rejected:
                log.info("rejected %s: %s", key[:18], reason)
        if not built.records:
            self.settle_files()
            return
        worker_bps, owner_bps, epoch = self._terms(model_id)
        deposit = batch_deposit(built.fees, worker_bps, owner_bps)
        root = built.tree.root  # type: ignore[union-attr]
        path = (self.batch_dir / f"{root}.json").resolve()
        batch = J.BatchEntry(
            batch_id="0x" + built.batch_id.hex(), state=J.ASSIGNED, root=root,
            count=len(built.records), uri=path.as_uri(), tx_hash=None, raw_tx=None, nonce=None,
            model_id="0x" + model_id.hex(), epoch=epoch, deposit=deposit, reason=None,
            attempts=0,
        )
        self.journal.assign_batch(batch, built.request_ids)
        write_json(self.outbox_dir / f"{root}.json", results_document(built))
        published = batch_file(built, epoch=epoch, deposit=deposit)
        written = write_batch_file(path, published)
        self._sign_and_send(batch, published, written.data_hash)

    def _load(self, entry: J.BatchEntry) -> tuple[BatchFile, bytes]:
        """This worker's own batch file, checked against what it journaled, and the
        ``dataHash`` of its bytes as they are on disk (what the commit names)."""
        assert entry.model_id is not None
        expected = Commitment(bytes.fromhex(entry.root[2:]), entry.count,
                              bytes.fromhex(entry.model_id[2:]), self.node.signer.address)
        data = read_uri(entry.uri)
        return load_bytes(data, expected, roster=None, source=entry.uri), data_hash(data)

    def _resume(self, entry: J.BatchEntry) -> None:
        """An assigned batch: sign it if its file was written, else release its requests."""
        try:
            published, digest = self._load(entry)
        except (BatchFileError, UriError) as exc:
            released = self.journal.release_batch(entry.batch_id)
            log.info("batch %s was never signed (%s): %d request(s) pending again",
                     entry.root[:18], exc, released)
            return
        self._sign_and_send(entry, published, digest)

    def _commit_call(self, published: BatchFile, digest: bytes, uri: str) -> Call:
        """The commit of ``published``, whose file's bytes hash to ``digest``."""
        root, count, model_id = published.root, published.count, published.model_id
        epoch, deposit = published.epoch, published.deposit
        signer = self.node.signer
        if signer.address == self.node.operator.address:
            return self.registry.commit_batch(root, count, model_id, epoch, uri, digest, deposit)
        # An enclave key signs the Batch; the operator relays it and pays the deposit.
        batch = Batch(root, count, model_id, epoch, data_uri_hash(uri), digest, signer.address,
                      deposit)
        signature = sign_digest(signer, batch_digest(batch, self.node.chain.chain_id,
                                                     self.registry.address))
        return self.registry.commit_batch_by_sig(root, count, model_id, epoch, uri, digest,
                                            signer.address, signature, deposit)

    def _sign_and_send(self, entry: J.BatchEntry, published: BatchFile, digest: bytes) -> None:
        for _ in range(self.options.max_attempts):
            epoch = self.registry.current_epoch()
            if published.epoch != epoch:  # not signed yet: the file may still change
                published = published.with_epoch(epoch)
                digest = write_batch_file(_local_path(entry.uri), published).data_hash
            try:
                tx_hash, raw = self.sender.sign(self._commit_call(published, digest, entry.uri))
            except TransactionReverted as exc:  # the gas estimate ran the commit
                if exc.error == "EpochMismatch":
                    continue  # the epoch turned between the read and the estimate
                if exc.error == "AlreadyExists" and self._committed(entry):
                    self._finish(entry, None, "already committed")
                else:
                    self._fail(entry, str(exc))
                return
            nonce = self.sender.last_nonce
            self.journal.update_batch(entry.batch_id, J.SIGNED, tx_hash="0x" + tx_hash.hex(),
                                      raw_tx="0x" + raw.hex(), nonce=nonce, epoch=epoch)
            self.sender.broadcast(tx_hash, raw)
            self.journal.update_batch(entry.batch_id, J.SENT)
            self._confirm(self.journal.batch(entry.batch_id))  # type: ignore[arg-type]
            return
        self._fail(entry, "the epoch kept changing while the commit was prepared")

    def _confirm(self, entry: J.BatchEntry) -> None:
        assert entry.tx_hash is not None
        receipt = self.sender.wait(bytes.fromhex(entry.tx_hash[2:]), timeout=120)
        self.stats.gas += int(receipt["gasUsed"])
        if receipt["status"] == 1:
            self._finish(entry, receipt)
            return
        if self._committed(entry):  # AlreadyExists: an earlier copy of this commit landed
            self._finish(entry, None, "already committed")
            return
        mined_in = self._epoch_at(int(receipt["blockNumber"]))
        if mined_in != entry.epoch:  # EpochMismatch, known without re-running the call
            self._retry_or_fail(entry, f"signed for epoch {entry.epoch}, mined in {mined_in}")
            return
        try:
            self.sender.check(receipt, self._commit_call(*self._load(entry), entry.uri))
            reason = "reverted"
        except (TransactionReverted, BatchFileError, UriError) as exc:
            reason = str(exc)
        self._fail(entry, reason)

    def _retry_or_fail(self, entry: J.BatchEntry, reason: str) -> None:
        """The signed commit can never land: sign it again, a bounded number of times."""
        if self._committed(entry):
            self._finish(entry, None, "already committed")
            return
        if entry.attempts + 1 >= self.options.max_attempts:
            self._fail(entry, reason)
            return
        log.info("batch %s: %s; signing it again", entry.root[:18], reason)
        self.journal.update_batch(entry.batch_id, J.ASSIGNED, tx_hash=None, raw_tx=None,
                                  nonce=None, reason=reason, attempts=entry.attempts + 1)
        self._resume(self.journal.batch(entry.batch_id))  # type: ignore[arg-type]

    def _finish(self, entry: J.BatchEntry, receipt: Any, note: str | None = None) -> None:
        self.journal.finish_batch(entry.batch_id, True, note)
        self.stats.recorded += entry.count
        self.batch_stats.batches += 1
        self.batch_stats.leaves += entry.count
        gas = int(receipt["gasUsed"]) if receipt is not None else 0
        log.info("batch %s model %s count %d deposit %s epoch %s gas %d tx %s%s",
                 entry.root[:18], (entry.model_id or "")[:10], entry.count, entry.deposit,
                 entry.epoch, gas, (entry.tx_hash or "-")[:12], f" ({note})" if note else "")
        if self.node.on_progress:
            self.node.on_progress(self.stats)
        self.settle_files()

    def _fail(self, entry: J.BatchEntry, reason: str) -> None:
        self.journal.finish_batch(entry.batch_id, False, reason)
        self.stats.failed += entry.count
        log.warning("batch %s failed (%d request(s)): %s", entry.root[:18], entry.count, reason)
        self.settle_files()

    def _committed(self, entry: J.BatchEntry) -> bool:
        return self.registry.batch_info(bytes.fromhex(entry.batch_id[2:])).count == entry.count

    def _epoch_at(self, block_number: int) -> int:
        """The registry's epoch at a block (``protocol.epoch_at`` of its timestamp)."""
        if self._epochs is None:
            self._epochs = (self.registry.genesis(), self.registry.epoch_length())
        timestamp = int(self.node.chain.w3.eth.get_block(block_number)["timestamp"])
        return epoch_at(timestamp, *self._epochs)

    def _terms(self, model_id: bytes) -> tuple[int, int, int]:
        """The model's split and the current epoch, in one round trip (read per batch:
        settlement pays each leaf by the split in force at the commit, so a cached split
        would mis-size the deposit after setTerms)."""
        model, epoch = self.registry.model_and_epoch(model_id, self.sender)
        if model is None:
            raise BatchError(f"model 0x{model_id.hex()} is not registered on this chain")
        return model.workerBps, model.ownerBps, epoch

    def _roster(self, model_id: bytes) -> frozenset[str]:
        """The model's registered roster (fixed at registration, so read once)."""
        if model_id not in self._rosters:
            roster = self.registry.contributors(model_id)
            if roster is None:
                raise BatchError(f"model 0x{model_id.hex()} is not registered on this chain")
            self._rosters[model_id] = frozenset(roster)
        return self._rosters[model_id]

    def _sleep_time(self) -> float:
        oldest = self.journal.oldest_pending()
        if oldest is None:
            return self.options.poll_interval
        due_in = oldest[1] + self.options.max_latency - time.time()
        return max(0.001, min(self.options.poll_interval, due_in))


def run_batch_mode(
    node: WorkerNode, data_dir: Path, *, batch_size: int, max_latency: float,
    until_idle: bool = False, max_seconds: float | None = None,
    options: BatchOptions | None = None,
) -> WorkerStats:
    """``attestia worker run --batch-size N --max-latency S``: serve in batch mode."""
    base = options or BatchOptions()
    opts = BatchOptions(batch_size=batch_size, max_latency=max_latency,
                        poll_interval=base.poll_interval,
                        attribution_workers=base.attribution_workers, onchain=base.onchain,
                        max_attempts=base.max_attempts)
    return BatchWorker(node, data_dir, opts).run(until_idle=until_idle, max_seconds=max_seconds)
