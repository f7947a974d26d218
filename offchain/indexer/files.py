"""Batch files checked off everyone's path: a few background threads fetch and check each
committed batch's published file (``batch_checks.check_batch``, under the service's
``offchain.storage.uri.FetchPolicy``) and store the verdict, which the pages then show with its
time.

Nothing else waits for a fetch: the indexer's block loop only queues what is due (a new batch,
an unreadable or failed file to retry, a passed file to re-check), the queue has a cap (what
does not fit is queued again at a later cycle), and the pages read the stored verdict. A
passed file is re-checked every ``recheck_after`` seconds, so a file altered after it passed
turns "failed" (its leaves leave the index with it); one that failed or could not be read is
tried again every ``retry_after`` seconds.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from eth_utils import to_checksum_address
from sqlalchemy import Engine, and_, delete, exists, insert, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from offchain.errors import AttestiaError
from offchain.indexer import schema as S
from offchain.indexer.batch_checks import FETCH_TIMEOUT, MAX_FILE_BYTES, BatchCheck, check_batch
from offchain.indexer.project import Row, hex32
from offchain.rewards.settlement import leaf_pools
from offchain.storage.uri import FetchPolicy

log = logging.getLogger("attestia.indexer")
T = TypeVar("T")

RECHECK_AFTER_S = 600.0
"""Seconds before a passed file is fetched and checked again."""
RETRY_AFTER_S = 300.0
"""Seconds before a file that failed or could not be read is tried again."""


class Busy(AttestiaError):
    """The background checks are at their cap; the message says to retry."""


class BoundedPool:
    """A few daemon threads over a queue with a cap. A job is keyed: submitting a key already
    queued or running returns that job's future, so a thousand views of one record run its
    check once; a full queue refuses at once (:class:`Busy`) instead of growing."""

    def __init__(self, name: str, *, workers: int = 2, capacity: int = 32) -> None:
        if workers < 1 or capacity < 1:
            raise ValueError("a pool needs at least one worker and a capacity of one")
        self.name = name
        self.workers = workers
        self._queue: queue.Queue[tuple[Any, Callable[[], Any], Future[Any]] | None] = \
            queue.Queue(capacity)
        self._jobs: dict[Any, Future[Any]] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []

    def submit(self, key: Any, job: Callable[[], T]) -> Future[T]:
        with self._lock:
            running = self._jobs.get(key)
            if running is not None:
                return running
            future: Future[T] = Future()
            try:
                self._queue.put_nowait((key, job, future))
            except queue.Full:
                raise Busy(f"{self.name}: {self._queue.maxsize} checks are already waiting; "
                           "retry in a few seconds") from None
            self._jobs[key] = future
            if len(self._threads) < self.workers:
                thread = threading.Thread(target=self._work, name=f"{self.name}-"
                                          f"{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            return future

    def pending(self, key: Any) -> bool:
        with self._lock:
            return key in self._jobs

    def backlog(self) -> int:
        """Jobs queued or running now (at ``workers`` or more, a new job waits its turn)."""
        with self._lock:
            return len(self._jobs)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or running; False if ``timeout`` ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._jobs:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left)
            return True

    def close(self) -> None:
        """Stop the threads once the queued jobs are done (they are daemons: an exit does
        not wait for them)."""
        for _ in self._threads:
            self._queue.put(None)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            key, job, future = item
            try:
                if future.set_running_or_notify_cancel():
                    future.set_result(job())
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on it
                future.set_exception(exc)
            finally:
                with self._idle:
                    self._jobs.pop(key, None)
                    self._idle.notify_all()


class BatchFileChecker:
    """Fetches, checks and stores batch files in a :class:`BoundedPool`, under ``policy``."""

    def __init__(self, engine: Engine, policy: FetchPolicy, *, workers: int = 2,
                 capacity: int = 32, recheck_after: float = RECHECK_AFTER_S,
                 retry_after: float = RETRY_AFTER_S, timeout: float = FETCH_TIMEOUT,
                 max_bytes: int = MAX_FILE_BYTES) -> None:
        self.engine = engine
        self.policy = policy
        self.capacity = capacity
        self.recheck_after = recheck_after
        self.retry_after = retry_after
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.pool = BoundedPool("batch-files", workers=workers, capacity=capacity)

    def due(self, limit: int) -> list[Any]:
        """Batches whose file is due for a check: never checked first (oldest first), then
        failed or unreadable ones past ``retry_after``, then passed ones past
        ``recheck_after``."""
        now = time.time()
        f = S.batch_files.c
        with self.engine.connect() as conn:
            new = conn.execute(
                select(S.batches).where(~exists().where(f.batch_id == S.batches.c.batch_id))
                .order_by(S.batches.c.block, S.batches.c.log_index).limit(limit)).all()
            again = conn.execute(
                select(S.batches).join(S.batch_files, f.batch_id == S.batches.c.batch_id)
                .where(or_(and_(f.status != "ok", f.fetched_at < now - self.retry_after),
                           and_(f.status == "ok", f.fetched_at < now - self.recheck_after)))
                .order_by(f.fetched_at).limit(limit)).all()
        return [*new, *again][:limit]

    def schedule(self) -> int:
        """Queue the due batches (never waits); returns how many were newly queued."""
        queued = 0
        for batch in self.due(self.capacity):
            if self.pool.pending(batch.batch_id):
                continue
            try:
                self.pool.submit(batch.batch_id, functools.partial(self.check, batch))
            except Busy:
                break  # the rest stays due: a later cycle queues it
            queued += 1
        return queued

    def wait(self, timeout: float | None = None) -> bool:
        return self.pool.wait_idle(timeout)

    def close(self) -> None:
        self.pool.close()

    def check(self, batch: Any) -> BatchCheck:
        """Fetch and check one batch's file and store the verdict (with the leaves of a file
        that passes), replacing the previous one."""
        try:
            with self.engine.connect() as conn:
                model = conn.execute(select(S.models).where(
                    S.models.c.model_id == batch.model_id)).first()
                split = split_at(conn, batch.model_id, batch.block, batch.log_index)
            roster = list(model.contributors) if model is not None else None
            result = check_batch(batch.batch_id, batch.data_uri, batch.root, batch.model_id,
                                 batch.worker, int(batch.count), batch.data_hash,
                                 roster=roster, policy=self.policy, timeout=self.timeout,
                                 max_bytes=self.max_bytes)
            self._store(batch, result, split)
        except (AttestiaError, OSError, SQLAlchemyError) as exc:
            log.warning("indexer: batch %s: %s", batch.batch_id, " ".join(str(exc).split()))
            raise
        except Exception:
            log.exception("indexer: batch %s: unexpected error", batch.batch_id)
            raise
        return result

    def _store(self, batch: Any, result: BatchCheck, split: tuple[int, int] | None) -> None:
        checked_at = int(time.time())
        rows: list[Row] = [
            (S.batch_files, {"batch_id": batch.batch_id, "status": result.status,
                             "check": result.verdict, "reason": result.reason[:2000],
                             "fetched_at": checked_at, "block": batch.block}),
            (S.batch_checks, {"batch_id": batch.batch_id, "detail": result.to_json(),
                              "block": batch.block})]
        if result.file is not None and split is not None:
            rows += _leaf_rows(batch, result, split)
        try:
            with self.engine.begin() as conn:
                still = conn.execute(select(S.batches.c.batch_id).where(and_(
                    S.batches.c.batch_id == batch.batch_id,
                    S.batches.c.block == batch.block))).first()
                if still is None:
                    return  # rolled back by a reorg meanwhile
                for table in (S.batch_files, S.batch_checks, S.leaves):
                    conn.execute(delete(table).where(table.c.batch_id == batch.batch_id))
                conn.execute(delete(S.shares).where(
                    S.shares.c.record.like(f"batch:{batch.batch_id}:%")))
                for table, row in rows:
                    conn.execute(insert(table).values(**row))
        except IntegrityError as exc:
            log.warning("indexer: batch %s: %s", batch.batch_id, " ".join(str(exc).split()))


def _leaf_rows(batch: Any, result: BatchCheck, split: tuple[int, int]) -> list[Row]:
    assert result.file is not None
    rows: list[Row] = []
    fees = [leaf.fee for leaf in result.file.leaves]
    pools, _ = leaf_pools(fees, split[0], split[1], int(batch.deposit))
    for index, (leaf, pool) in enumerate(zip(result.file.leaves, pools, strict=True)):
        inf = leaf.inference
        rows.append((S.leaves, {
            "batch_id": batch.batch_id, "leaf_index": index,
            "request_id": hex32(inf.requestId), "model_id": hex32(inf.modelId),
            "worker": inf.worker, "attribution_hash": hex32(inf.attributionHash),
            "proof_kind": inf.proofKind, "timestamp": inf.timestamp,
            "fee": str(leaf.fee), "pool": str(pool), "inference": inf.to_json(),
            "block": batch.block}))
        for account, bps in leaf.shares:
            rows.append((S.shares, {
                "record": f"batch:{batch.batch_id}:{index}", "model_id": batch.model_id,
                "account": to_checksum_address(account), "bps": int(bps),
                "epoch": int(batch.epoch), "timestamp": inf.timestamp,
                "pool": str(pool), "block": batch.block}))
    return rows


def split_at(conn: Connection, model_id: str, block: int, log_index: int
             ) -> tuple[int, int] | None:
    """(workerBps, ownerBps) in force at a log position: the registration's, or the last
    setTerms before it."""
    model = conn.execute(select(S.models).where(S.models.c.model_id == model_id)).first()
    if model is None:
        return None
    split = (int(model.worker_bps), int(model.owner_bps))
    changes = conn.execute(
        select(S.model_changes.c.data).where(and_(
            S.model_changes.c.model_id == model_id, S.model_changes.c.kind == "terms",
            or_(S.model_changes.c.block < block,
                and_(S.model_changes.c.block == block,
                     S.model_changes.c.log_index < log_index))))
        .order_by(S.model_changes.c.block, S.model_changes.c.log_index)).all()
    for (data,) in changes:
        s = data.get("split", {})
        split = (int(s.get("workerBps", split[0])), int(s.get("ownerBps", split[1])))
    return split
