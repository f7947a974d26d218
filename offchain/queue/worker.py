"""A fleet worker: batches from the shared queue (``attestia worker run --queue URL``).

Any number of these processes, on any number of machines, serve one worker key. Each round a
worker renews its leases, adopts the open batches of workers whose leases expired (and its
own, after a failed round), then, when a model's requests make a batch (full, or the oldest
waited ``max_latency``), leases them, opens each sealed payload with the key's encryption key,
runs and attributes them (:func:`offchain.worker.batching.build_batch`, as the single
worker), assigns the batch in one transaction (:meth:`Queue.assign`), publishes its file and
commits it under the key's commit lock. The store's docstring says why nothing is committed
twice and nothing accepted is lost (:mod:`offchain.queue.store`).

A request that cannot be served (a blob that does not open with this key, a payload whose
input or salt does not match its commitment, a bad input, an attribution outside the roster)
is rejected with its reason: one log line, by the one worker that leased it. A lost database
is one line and a wait (1 s doubling to 10 s); a lost chain is the node's wait
(``WorkerNode.round_failed``); both end in the next round, which starts by settling what this
worker owns.

The key's on-chain duty (on-chain requests naming it, and challenges to its records and
batch leaves) is served by one fleet worker at a time: the one holding the key's duty lease
in the database (:meth:`Queue.hold_duty`, renewed every half second or so). It polls and
fulfills exactly as the single worker does (its own journal) and answers challenges (the
dispute responder), every transaction signed and broadcast under the key's commit lock, so the
fleet keeps one nonce sequence. When it dies its lease expires and another worker takes the
duty over: that one scans from the deployment's first block, so every request still open is
served (``WorkerNode.poll`` skips what the chain already holds: the registry accepts one record
per request, so a request is never recorded twice), and every open challenge is answered.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from offchain.chain.tx import NonceTooLow
from offchain.errors import AttestiaError, TransactionReverted
from offchain.models.encoding import commit
from offchain.protocol import batch_deposit
from offchain.protocol import request_id as request_id_of
from offchain.queue.store import (
    ASSIGNED,
    BATCHED,
    LEASED,
    QUEUED,
    SENT,
    SIGNED,
    Assignment,
    LeaseLost,
    Queue,
    QueuedBatch,
    QueuedRequest,
    QueueError,
)
from offchain.record.batch_file import (
    BatchFile,
    Commitment,
    data_hash,
    load_bytes,
    write_batch_file,
)
from offchain.request.inbox import OffchainRequest
from offchain.sealing import PayloadError, RequestPayload, open_request, seal_result
from offchain.storage.atomic import atomic_write_bytes
from offchain.worker.batching import (
    BatchOptions,
    BatchWorker,
    batch_file,
)
from offchain.worker.node import WorkerNode, WorkerStats

log = logging.getLogger("attestia.worker")
LEASE = 30.0
"""Seconds a lease lasts without renewal (renewed every round)."""
DB_RETRY_FIRST, DB_RETRY_MAX = 1.0, 10.0
POLL = 0.05
"""Seconds an idle fleet worker waits between two looks at the queue."""
DUTY_EVERY = 0.5
"""Seconds between two rounds of the key's on-chain duty (requests, challenges)."""


def open_payload(node: WorkerNode, row: QueuedRequest) -> tuple[OffchainRequest, RequestPayload]:
    """A queued request's sealed payload opened and checked against its commitment; raises
    PayloadError naming what is wrong."""
    body = row.body
    try:
        sealed = bytes.fromhex(body["sealed"][2:])
        commitment = bytes.fromhex(body["inputCommitment"][2:])
        model_id = bytes.fromhex(row.model_id[2:])
    except (KeyError, TypeError, ValueError) as exc:
        raise PayloadError(f"the queued body is malformed ({type(exc).__name__})") from None
    if request_id_of(row.requester, model_id, commitment) != bytes.fromhex(row.request_id[2:]):
        raise PayloadError("the request id is not requestIdOf(requester, model, commitment)")
    payload = open_request(node.enc_key, sealed)
    if commit(payload.salt, payload.input_bytes) != commitment:
        raise PayloadError("the sealed input and salt do not match the input commitment")
    if len(payload.reply_key) not in (33, 65):
        raise PayloadError(f"the reply key is {len(payload.reply_key)} bytes, not 33 or 65")
    request = OffchainRequest(bytes.fromhex(row.request_id[2:]), model_id, payload.salt,
                              row.fee, input_bytes=payload.input_bytes)
    return request, payload


class QueueWorker(BatchWorker):
    """A batching worker whose requests come from the shared queue instead of the inbox."""

    def __init__(self, node: WorkerNode, data_dir: Path, queue: Queue, publish_dir: Path,
                 options: BatchOptions | None = None, lease: float = LEASE) -> None:
        super().__init__(node, data_dir, options)
        if lease <= 1:
            raise AttestiaError(f"--lease must be above 1 second, got {lease}")
        self.queue = queue
        self.publish_dir = publish_dir.resolve()
        self.lease = lease
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.models = ["0x" + m.hex() for m in node.engines]
        self._db_failures = 0
        self._housekept = 0.0  # monotonic time of the last renewal and adoption
        self._resume_mine = True  # after a start or a failed round: settle our own batches
        self._duty_at = 0.0  # monotonic time of the last duty round
        self._on_duty = False
        self._duty_recovered = False

    # -- the loop ----------------------------------------------------------------------------------
    def run(self, *, until_idle: bool = False, max_seconds: float | None = None) -> WorkerStats:
        """Serve until ``node.stop_event`` is set, or (``until_idle``) until the queue holds
        nothing queued, leased or batched."""
        deadline = time.monotonic() + max_seconds if max_seconds else None
        stop = self.node.stop_event
        while not stop.is_set():
            self.node.beat()
            done = False
            try:
                done = self._queue_round(until_idle)
                self.node.round_succeeded()
                if self._db_failures:
                    log.info("the queue database answers again: resuming")
                self._db_failures = 0
            except LeaseLost as exc:
                log.info("%s; left to the worker that took it", exc)
            except (SQLAlchemyError, QueueError) as exc:
                self._resume_mine = True
                self._database_lost(exc)
            except Exception as exc:  # a long-running process outlives one failed round
                self._resume_mine = True
                self.node.round_failed(exc)
            if done or (deadline and time.monotonic() > deadline):
                break
        if self._on_duty:  # the next worker takes the duty at once, not after the lease
            with contextlib.suppress(SQLAlchemyError, QueueError):
                self.queue.drop_duty(self.node.signer.address, self.owner)
        return self.stats

    def _serve_duty(self) -> bool:
        """The key's on-chain duty, when this worker holds (or takes) its lease: journal the
        on-chain requests naming the key, fulfill them and answer challenges, under the key's
        commit lock. True when it had requests to serve."""
        now = time.monotonic()
        if now - self._duty_at < min(DUTY_EVERY, self.lease / 8):
            return False
        self._duty_at = now
        signer = self.node.signer.address
        held, taken_from = self.queue.hold_duty(signer, self.owner, self.lease)
        if not held:
            if self._on_duty:
                log.info("the key's on-chain duty passed to another worker")
            self._on_duty = False
            return False
        if not self._on_duty:
            log.info("serving the key's on-chain requests and challenges%s",
                     f" (taken over from {taken_from}: its lease expired)" if taken_from else "")
            self._on_duty, self._duty_recovered = True, False
        with self.queue.commit_lock(signer):
            self.sender.resync()  # another process of the fleet sent since
            if not self._duty_recovered:  # this data dir's journal, from an earlier run
                self.node.recover()
                self._duty_recovered = True
            _, busy = self.serve_onchain()
            self.answer_challenges()
        return busy

    def _database_lost(self, exc: Exception) -> None:
        if not self._db_failures:
            log.warning("the queue database is unavailable (%s): waiting for it",
                        " ".join(str(exc).split())[:200])
        wait = min(DB_RETRY_MAX, DB_RETRY_FIRST * 2 ** self._db_failures)
        self._db_failures += 1
        self.node.stop_event.wait(wait)

    def _housekeeping(self) -> None:
        """Renew this worker's leases and adopt the open batches of dead workers, a few times
        per lease (not every round: an idle fleet would hammer the database)."""
        now = time.monotonic()
        if now - self._housekept < self.lease / 4 and not self._resume_mine:
            return
        self._housekept = now
        self.queue.renew(self.owner, self.lease)
        adopted = self.queue.adopt(self.owner, self.lease)
        for open_batch in adopted:
            log.info("adopting batch %s (%s; its worker %s stopped renewing its lease)",
                     open_batch.root[:18], open_batch.state, open_batch.owner)
        if self._resume_mine:
            adopted = self.queue.mine(self.owner) + adopted
        for open_batch in adopted:
            self._resume_queued(open_batch)
        self._resume_mine = False

    def _queue_round(self, until_idle: bool) -> bool:
        self._housekeeping()
        onchain_busy = self._serve_duty()
        opts = self.options
        model = self.queue.due(self.models, batch_size=opts.batch_size,
                               max_latency=0.0 if until_idle else opts.max_latency)
        if model is None:
            if onchain_busy:
                return False
            if until_idle:
                counts = self.queue.counts()
                if not any(counts.get(s) for s in (QUEUED, LEASED, BATCHED)):
                    return True
            self.node.stop_event.wait(opts.poll_interval)
            return False
        taken, poisoned = self.queue.take(self.owner, model, opts.batch_size, self.lease)
        if not taken and not poisoned:  # another worker locked them first
            self.node.stop_event.wait(opts.poll_interval)
        for row in poisoned:
            self.stats.rejected += 1
            log.warning("rejected %s as poison: leased %d times, never batched",
                        row.request_id[:18], row.attempts)
        if taken:
            try:
                self._make_queued_batch(model, taken)
            except LeaseLost:
                raise
            except BaseException:
                self.queue.release(self.owner, [r.request_id for r in taken])
                raise
        return False

    # -- one batch ---------------------------------------------------------------------------------
    def _make_queued_batch(self, model: str, rows: list[QueuedRequest]) -> None:
        model_id = bytes.fromhex(model[2:])
        requests: list[tuple[str, OffchainRequest]] = []
        payloads: dict[str, RequestPayload] = {}
        rejected: list[tuple[str, str]] = []
        for row in rows:
            try:
                request, payload = open_payload(self.node, row)
            except PayloadError as exc:
                rejected.append((row.request_id, f"sealed request: {exc}"))
                continue
            requests.append((row.request_id, request))
            payloads[row.request_id] = payload
        built = self._build(model_id, requests)
        rejected += built.rejected
        if rejected:
            self.queue.reject(self.owner, rejected)
            self.stats.rejected += len(rejected)
            for key, reason in rejected:
                log.info("rejected %s: %s", key[:18], reason)
        if not built.records:
            return
        worker_bps, owner_bps, epoch = self._terms(model_id)
        deposit = batch_deposit(built.fees, worker_bps, owner_bps)
        published = batch_file(built, epoch=epoch, deposit=deposit)
        data = published.encode()
        root = published.tree.root
        path = self.publish_dir / f"{root}.json"
        queued = QueuedBatch("0x" + published.batch_id.hex(), model, ASSIGNED, root,
                             published.count, path.as_uri(), data, epoch, deposit, None, None,
                             None, self.owner, 0, None)
        assignments = [
            Assignment(key, index, tuple("0x" + p.hex() for p in published.proof(index)),
                       "0x" + seal_result(payloads[key].reply_key, output).hex())
            for index, (key, output) in enumerate(zip(built.request_ids, built.outputs,
                                                      strict=True))]
        self.queue.assign(self.owner, queued, assignments, self.lease)
        digest = write_batch_file(path, published).data_hash
        self._commit_queued(queued, published, digest)

    def _commit_queued(self, queued: QueuedBatch, published: BatchFile, digest: bytes) -> None:
        """Sign, journal and broadcast the commit under the key's lock, then confirm it."""
        signer = self.node.signer.address
        for _ in range(self.options.max_attempts):
            with self.queue.commit_lock(signer):
                epoch = self.registry.current_epoch()
                if published.epoch != epoch:  # not signed yet: the file may still change
                    published = published.with_epoch(epoch)
                    digest = write_batch_file(_path_of(queued.uri), published).data_hash
                    self.queue.update_batch(self.owner, queued.batch_id, ASSIGNED, epoch=epoch,
                                            file=published.encode())
                self.sender.resync()  # another process of the fleet sent since
                try:
                    tx_hash, raw = self.sender.sign(self._commit_call(published, digest,
                                                                      queued.uri))
                except TransactionReverted as exc:
                    if exc.error == "EpochMismatch":
                        continue
                    found = self._found_on_chain(queued)
                    if exc.error == "AlreadyExists" and found:
                        self._finish_queued(queued, None, "already committed", found)
                    else:
                        self._fail_queued(queued, str(exc))
                    return
                self.queue.update_batch(self.owner, queued.batch_id, SIGNED,
                                        tx_hash="0x" + tx_hash.hex(), raw_tx="0x" + raw.hex(),
                                        nonce=self.sender.last_nonce, epoch=epoch)
                self.sender.broadcast(tx_hash, raw)
                self.queue.update_batch(self.owner, queued.batch_id, SENT)
            self._confirm_queued(self._reread(queued))
            return
        self._fail_queued(queued, "the epoch kept changing while the commit was prepared")

    def _reread(self, queued: QueuedBatch) -> QueuedBatch:
        fresh = self.queue.batch(queued.batch_id)
        if fresh is None:
            raise QueueError(f"batch {queued.batch_id[:18]} vanished from the queue")
        return fresh

    def _confirm_queued(self, queued: QueuedBatch) -> None:
        assert queued.tx_hash is not None
        receipt = self.sender.wait(bytes.fromhex(queued.tx_hash[2:]), timeout=120)
        self.stats.gas += int(receipt["gasUsed"])
        if receipt["status"] == 1:
            self._finish_queued(queued, receipt)
            return
        found = self._found_on_chain(queued)
        if found:  # AlreadyExists: an earlier copy of this commit landed
            self._finish_queued(queued, None, "already committed", found)
            return
        mined_in = self._epoch_at(int(receipt["blockNumber"]))
        if mined_in != queued.epoch:
            self._retry_or_fail_queued(queued, f"signed for epoch {queued.epoch}, mined in "
                                               f"{mined_in}")
            return
        self._fail_queued(queued, "the commit reverted")

    def _retry_or_fail_queued(self, queued: QueuedBatch, reason: str) -> None:
        found = self._found_on_chain(queued)
        if found:
            self._finish_queued(queued, None, "already committed", found)
            return
        if queued.attempts + 1 >= self.options.max_attempts:
            self._fail_queued(queued, reason)
            return
        log.info("batch %s: %s; signing it again", queued.root[:18], reason)
        self.queue.update_batch(self.owner, queued.batch_id, ASSIGNED, tx_hash=None,
                                raw_tx=None, nonce=None, reason=reason,
                                attempts=queued.attempts + 1)
        self._resume_queued(self._reread(queued))

    def _resume_queued(self, queued: QueuedBatch) -> None:
        """An open batch this worker now owns (adopted, or left by its own failed round)."""
        found = self._found_on_chain(queued)
        if found:  # its worker died after the broadcast, before marking it
            self._finish_queued(queued, None, "found committed on chain", found)
            return
        if queued.state in (SIGNED, SENT):
            assert queued.tx_hash is not None and queued.raw_tx is not None
            self._republish(_path_of(queued.uri), queued.file)
            tx_hash = bytes.fromhex(queued.tx_hash[2:])
            if self.sender.receipt(tx_hash) is None:
                try:
                    with self.queue.commit_lock(self.node.signer.address):
                        self.sender.broadcast(tx_hash, bytes.fromhex(queued.raw_tx[2:]))
                except NonceTooLow:
                    self._retry_or_fail_queued(queued, "its nonce was used by another "
                                               "transaction")
                    return
            self._confirm_queued(queued)
            return
        # Assigned, never signed: publish the stored bytes here (the name is the root) and sign.
        path = self.publish_dir / f"{queued.root}.json"
        if path.as_uri() != queued.uri:
            self.queue.update_batch(self.owner, queued.batch_id, ASSIGNED, uri=path.as_uri())
            queued = self._reread(queued)
        self._republish(path, queued.file)
        expected = Commitment(bytes.fromhex(queued.root[2:]), queued.count,
                              bytes.fromhex(queued.model_id[2:]), self.node.signer.address)
        published = load_bytes(queued.file, expected, roster=None, source=queued.uri)
        self._commit_queued(queued, published, data_hash(queued.file))

    @staticmethod
    def _republish(path: Path, data: bytes) -> None:
        if not path.exists() or path.read_bytes() != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)

    def _found_on_chain(self, queued: QueuedBatch) -> str | None:
        """The commit transaction of this batch id, from its ``BatchCommitted`` event."""
        events = self.registry.batches(batch_id=bytes.fromhex(queued.batch_id[2:]))
        return events[-1].meta.tx_hash if events else None

    def _finish_queued(self, queued: QueuedBatch, receipt: Any, note: str | None = None,
                       tx_hash: str | None = None) -> None:
        moved = self.queue.finish(queued.batch_id, True, note, tx_hash)
        self.stats.recorded += moved
        self.batch_stats.batches += 1
        self.batch_stats.leaves += moved
        gas = int(receipt["gasUsed"]) if receipt is not None else 0
        log.info("batch %s model %s count %d deposit %s epoch %s gas %d tx %s%s",
                 queued.root[:18], queued.model_id[:10], queued.count, queued.deposit,
                 queued.epoch, gas, (tx_hash or queued.tx_hash or "-")[:12],
                 f" ({note})" if note else "")
        if self.node.on_progress:
            self.node.on_progress(self.stats)

    def _fail_queued(self, queued: QueuedBatch, reason: str) -> None:
        moved = self.queue.finish(queued.batch_id, False, reason)
        self.stats.failed += moved
        log.warning("batch %s failed (%d request(s)): %s", queued.root[:18], moved, reason)


def _path_of(uri: str) -> Path:
    if not uri.startswith("file://"):
        raise AttestiaError(f"batch file {uri} is not a local file this worker can write")
    from urllib.parse import unquote, urlsplit

    return Path(unquote(urlsplit(uri).path))


def run_queue_mode(node: WorkerNode, data_dir: Path, queue: Queue, *, publish_dir: Path,
                   batch_size: int, max_latency: float, lease: float = LEASE,
                   until_idle: bool = False, max_seconds: float | None = None) -> WorkerStats:
    """``attestia worker run --queue URL``: serve the shared queue."""
    options = BatchOptions(batch_size=batch_size, max_latency=max_latency, onchain=False,
                           poll_interval=POLL)
    worker = QueueWorker(node, data_dir, queue, publish_dir, options, lease)
    return worker.run(until_idle=until_idle, max_seconds=max_seconds)
