"""The shared queue: off-chain requests and the batches made of them, in one database that any
number of gateway and worker processes open by URL (``postgresql://...`` for a fleet on many
machines; ``sqlite:///PATH`` for one machine). SQLAlchemy Core, as the explorer's index.

Exactly once across a fleet rests on four rules:

1. **Leases.** A worker takes requests with ``SELECT ... FOR UPDATE SKIP LOCKED`` (workers
   never wait for each other's rows) and marks them ``leased`` by itself until
   ``lease_until``; it renews its leases every round. A worker that dies stops renewing; once
   the lease has expired another worker takes the rows (requests) or adopts the batch.
2. **Assignment in one transaction.** The batch row (root, count, the batch file's exact
   bytes) and every request's batch id, leaf index, inclusion proof and sealed result are
   written in the transaction that checks the requests are still leased by this worker. From
   then on a request belongs to that batch for good (as in the single worker's journal).
3. **One commit at a time per key.** The fleet signs with one worker key, so signing,
   journaling the raw transaction and broadcasting it happen under a lock the database holds
   for the key (PostgreSQL: an advisory lock on the locker's connection, released by the
   server if the process dies; SQLite: a ``flock`` beside the file). The raw transaction is
   stored before it is broadcast: whoever adopts the batch re-broadcasts the same bytes.
4. **The chain decides.** The batch id is content-addressed (root, model, worker) and the
   registry refuses a second commit of one id, so a batch committed on chain but not marked
   (its worker died after the broadcast) is found from its ``BatchCommitted`` event by the
   adopter and marked, never committed again.

A request that keeps being leased and abandoned (its worker dies each time: the kind of
input that kills a process) is rejected after ``MAX_ATTEMPTS`` leases, with one log line by
the worker that finds it; a request a worker can parse but not serve (a sealed blob that does
not open, a bad input) is rejected at once with its reason.

Times are the processes' wall clocks (keep fleet machines on NTP; leases are tens of
seconds). Values keep their chain form, as in the explorer's index (hex ids, EIP-55
addresses, wei as decimal strings).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Double,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from offchain.errors import AttestiaError
from offchain.indexer.schema import create_tables, normalise_url, sqlite_engine

log = logging.getLogger("attestia.queue")

# Request states: queued -> leased (a worker computes its batch) -> batched (bound to a batch
# for good) -> committed; or rejected (never batched), failed (its batch could not commit).
QUEUED, LEASED, BATCHED, COMMITTED = "queued", "leased", "batched", "committed"
REJECTED, FAILED = "rejected", "failed"
FINAL = (COMMITTED, REJECTED, FAILED)
# Batch states: assigned (requests bound, file bytes stored) -> signed (raw tx stored) -> sent
# -> committed; or failed.
ASSIGNED, SIGNED, SENT = "assigned", "signed", "sent"
OPEN_BATCH = (ASSIGNED, SIGNED, SENT)
MAX_ATTEMPTS = 10
"""Leases a request may be taken under and abandoned before it is rejected as poison."""

metadata = MetaData()
HEX32 = String(66)
ADDRESS = String(42)
WEI = String(78)

requests = Table(
    "queue_requests", metadata,
    Column("request_id", HEX32, primary_key=True),
    Column("model_id", HEX32, nullable=False),
    Column("requester", ADDRESS, nullable=False),
    Column("worker", ADDRESS, nullable=False),
    Column("fee", WEI, nullable=False),
    Column("body", Text, nullable=False),  # the canonical body (Submitted.canonical)
    Column("body_hash", HEX32, nullable=False),
    Column("receipt", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("accepted_at", Double, nullable=False),
    Column("lease_owner", String(96)),
    Column("lease_until", Double),
    Column("attempts", Integer, nullable=False, default=0),
    Column("batch_id", HEX32, index=True),
    Column("leaf", Integer),
    Column("proof", JSON),
    Column("sealed_result", Text),
    Column("reason", Text),
    Column("updated_at", Double, nullable=False),
    Index("queue_requests_due", "state", "model_id", "accepted_at"),
)

batches = Table(
    "queue_batches", metadata,
    Column("batch_id", HEX32, primary_key=True),
    Column("model_id", HEX32, nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("root", HEX32, nullable=False),
    Column("count", Integer, nullable=False),
    Column("uri", Text, nullable=False),
    # the batch file's exact bytes (UTF-8 JSON): an adopter re-publishes them unchanged
    Column("file", Text, nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("deposit", WEI, nullable=False),
    Column("tx_hash", HEX32),
    Column("raw_tx", Text),
    Column("nonce", BigInteger),
    Column("owner", String(96)),
    Column("lease_until", Double),
    Column("attempts", Integer, nullable=False, default=0),
    Column("reason", Text),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
)

# The key's on-chain duty (serving on-chain requests naming it, answering challenges to its
# records and leaves): held by one fleet worker at a time under a lease, taken over when the
# holder stops renewing it (Queue.hold_duty).
duty = Table(
    "queue_duty", metadata,
    Column("signer", ADDRESS, primary_key=True),
    Column("owner", String(96), nullable=False),
    Column("lease_until", Double, nullable=False),
    Column("since", Double, nullable=False),
)

_SCHEMA_LOCK = 0x51756575  # advisory lock keys: the schema, and one per signing key below
_COMMIT_LOCK_BASE = 0x436F6D6D << 16


class QueueError(AttestiaError):
    """The queue database cannot be opened or used; the message says why."""


class LeaseLost(QueueError):
    """This worker's lease on a request or batch expired and another worker took it over:
    whatever this worker built for it is dropped (nothing was published or signed)."""


@dataclass(frozen=True)
class QueuedRequest:
    request_id: str
    model_id: str
    requester: str
    worker: str
    fee: int
    body: dict[str, Any]
    state: str
    accepted_at: float
    attempts: int
    receipt: dict[str, Any]
    batch_id: str | None = None
    leaf: int | None = None
    proof: tuple[str, ...] = ()
    sealed_result: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class QueuedBatch:
    batch_id: str
    model_id: str
    state: str
    root: str
    count: int
    uri: str
    file: bytes
    epoch: int
    deposit: int
    tx_hash: str | None
    raw_tx: str | None
    nonce: int | None
    owner: str | None
    attempts: int
    reason: str | None


@dataclass(frozen=True)
class Assignment:
    """One request's place in a batch, written with the batch in one transaction."""

    request_id: str
    leaf: int
    proof: tuple[str, ...]
    sealed_result: str


def _request(row: Any) -> QueuedRequest:
    return QueuedRequest(row.request_id, row.model_id, row.requester, row.worker, int(row.fee),
                         json.loads(row.body), row.state, float(row.accepted_at),
                         int(row.attempts), dict(row.receipt), row.batch_id, row.leaf,
                         tuple(row.proof or ()), row.sealed_result, row.reason)


def _batch(row: Any) -> QueuedBatch:
    return QueuedBatch(row.batch_id, row.model_id, row.state, row.root, int(row.count), row.uri,
                       row.file.encode(), int(row.epoch), int(row.deposit), row.tx_hash,
                       row.raw_tx, None if row.nonce is None else int(row.nonce), row.owner,
                       int(row.attempts), row.reason)


def open_engine(url: str) -> Engine:
    """An engine on ``url`` with the queue's tables created. SQLite: WAL, and every transaction
    ``BEGIN IMMEDIATE`` (one writer at a time takes the rows; there is no SKIP LOCKED)."""
    if not url.startswith(("sqlite:", "postgresql:", "postgres:", "postgresql+psycopg:")):
        raise QueueError(f"--queue must be sqlite:///PATH or postgresql://..., got {url!r}")
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = sqlite_engine(url, synchronous="FULL", immediate=True)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4)
    create_tables(engine, metadata, _SCHEMA_LOCK)
    return engine


class Queue:
    """The queue over one database (thread-safe: each call takes a pooled connection)."""

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        try:
            self.engine = engine or open_engine(url)
        except OperationalError as exc:
            raise QueueError(f"cannot open the queue database: "
                             f"{' '.join(str(exc.orig or exc).split())[:300]}") from None
        self.postgres = self.engine.dialect.name == "postgresql"

    def close(self) -> None:
        self.engine.dispose()

    # -- the gateway's side ----------------------------------------------------------------------
    def accept(self, *, request_id: str, model_id: str, requester: str, worker: str, fee: int,
               body: str, body_hash: str, receipt: dict[str, Any], now: float | None = None
               ) -> tuple[str, QueuedRequest]:
        """Queue a request once. Returns ("new" | "same" | "conflict", the stored request):
        "same" is a replay of the stored body (answer it again, queue nothing), "conflict"
        another body under the stored id."""
        now = time.time() if now is None else now
        row = {"request_id": request_id, "model_id": model_id, "requester": requester,
               "worker": worker, "fee": str(fee), "body": body, "body_hash": body_hash,
               "receipt": receipt, "state": QUEUED, "accepted_at": now, "attempts": 0,
               "updated_at": now}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(requests).values(**row))
            return "new", QueuedRequest(request_id, model_id, requester, worker, int(fee),
                                        json.loads(body), QUEUED, now, 0, receipt)
        except IntegrityError:
            stored = self.get(request_id)
            if stored is None:  # deleted meanwhile: nothing deletes rows; a bug if ever seen
                raise
            with self.engine.connect() as conn:
                same = conn.execute(select(requests.c.body_hash).where(
                    requests.c.request_id == request_id)).scalar() == body_hash
            return ("same" if same else "conflict"), stored

    def get(self, request_id: str) -> QueuedRequest | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(requests).where(
                requests.c.request_id == request_id)).first()
        return None if row is None else _request(row)

    def batch(self, batch_id: str) -> QueuedBatch | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(batches).where(batches.c.batch_id == batch_id)).first()
        return None if row is None else _batch(row)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {str(state): int(n) for state, n in conn.execute(
                select(requests.c.state, func.count()).group_by(requests.c.state))}

    def batch_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {str(state): int(n) for state, n in conn.execute(
                select(batches.c.state, func.count()).group_by(batches.c.state))}

    def all_requests(self) -> list[QueuedRequest]:
        with self.engine.connect() as conn:
            return [_request(r) for r in conn.execute(
                select(requests).order_by(requests.c.accepted_at))]

    # -- the workers' side -----------------------------------------------------------------------
    def _takeable(self, now: float) -> Any:
        return or_(requests.c.state == QUEUED,
                   and_(requests.c.state == LEASED, requests.c.lease_until < now))

    def due(self, models: Sequence[str], *, batch_size: int, max_latency: float,
            now: float | None = None) -> str | None:
        """The model whose requests make a batch now (full, or the oldest waited
        ``max_latency``), or None. A cheap read: ``take`` locks."""
        now = time.time() if now is None else now
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(requests.c.model_id, func.count(), func.min(requests.c.accepted_at))
                .where(self._takeable(now), requests.c.model_id.in_(list(models)))
                .group_by(requests.c.model_id)).all()
        ready = [(oldest, model) for model, n, oldest in rows
                 if n >= batch_size or now - float(oldest) >= max_latency]
        return min(ready)[1] if ready else None

    def take(self, owner: str, model_id: str, limit: int, lease: float,
             now: float | None = None) -> tuple[list[QueuedRequest], list[QueuedRequest]]:
        """Lease up to ``limit`` requests of one model, oldest first, skipping rows another
        worker holds. Returns (leased, poisoned): requests leased ``MAX_ATTEMPTS`` times
        already are rejected here (in the same transaction) instead of leased again."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(requests).where(self._takeable(now), requests.c.model_id == model_id)
                .order_by(requests.c.accepted_at, requests.c.request_id).limit(limit)
                .with_for_update(skip_locked=True)).all()
            taken = [r for r in rows if r.attempts < MAX_ATTEMPTS]
            poisoned = [r for r in rows if r.attempts >= MAX_ATTEMPTS]
            if poisoned:
                conn.execute(update(requests).where(
                    requests.c.request_id.in_([r.request_id for r in poisoned])).values(
                    state=REJECTED, lease_owner=None, lease_until=None, updated_at=now,
                    reason=f"abandoned by {MAX_ATTEMPTS} workers (each died or lost its "
                           "lease while batching it)"))
            if taken:
                conn.execute(update(requests).where(
                    requests.c.request_id.in_([r.request_id for r in taken])).values(
                    state=LEASED, lease_owner=owner, lease_until=now + lease,
                    attempts=requests.c.attempts + 1, updated_at=now))
        return ([replace(_request(r), state=LEASED, attempts=r.attempts + 1) for r in taken],
                [_request(r) for r in poisoned])

    def release(self, owner: str, request_ids: Sequence[str]) -> None:
        """Give leased requests back (a round cut short before their batch was assigned)."""
        if not request_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(update(requests).where(
                requests.c.request_id.in_(list(request_ids)), requests.c.state == LEASED,
                requests.c.lease_owner == owner).values(
                state=QUEUED, lease_owner=None, lease_until=None, updated_at=time.time(),
                attempts=requests.c.attempts - 1))

    def reject(self, owner: str, rejected: Sequence[tuple[str, str]]) -> int:
        """Reject leased requests with their reasons (only those this worker still holds)."""
        done = 0
        now = time.time()
        with self.engine.begin() as conn:
            for request_id, reason in rejected:
                done += conn.execute(update(requests).where(
                    requests.c.request_id == request_id, requests.c.state == LEASED,
                    requests.c.lease_owner == owner).values(
                    state=REJECTED, reason=reason[:1000], lease_owner=None, lease_until=None,
                    updated_at=now)).rowcount
        return done

    def assign(self, owner: str, batch: QueuedBatch, assignments: Sequence[Assignment],
               lease: float) -> None:
        """Bind leased requests to a new batch, with the batch row (its file bytes), in one
        transaction; LeaseLost (nothing written) if any of them is no longer this worker's."""
        now = time.time()
        ids = [a.request_id for a in assignments]
        with self.engine.begin() as conn:
            held = conn.execute(select(requests.c.request_id).where(
                requests.c.request_id.in_(ids), requests.c.state == LEASED,
                requests.c.lease_owner == owner).with_for_update()).scalars().all()
            if len(held) != len(ids):
                raise LeaseLost(f"batch {batch.batch_id[:18]}: {len(ids) - len(held)} of its "
                                f"{len(ids)} requests were taken over (lease expired)")
            conn.execute(insert(batches).values(
                batch_id=batch.batch_id, model_id=batch.model_id, state=ASSIGNED,
                root=batch.root, count=batch.count, uri=batch.uri, file=batch.file.decode(),
                epoch=batch.epoch, deposit=str(batch.deposit), owner=owner,
                lease_until=now + lease, attempts=0, created_at=now, updated_at=now))
            for a in assignments:
                conn.execute(update(requests).where(requests.c.request_id == a.request_id)
                             .values(state=BATCHED, batch_id=batch.batch_id, leaf=a.leaf,
                                     proof=list(a.proof), sealed_result=a.sealed_result,
                                     lease_owner=None, lease_until=None, updated_at=now))

    def renew(self, owner: str, lease: float) -> None:
        """Push back the expiry of every lease this worker holds (once a round)."""
        until = time.time() + lease
        with self.engine.begin() as conn:
            conn.execute(update(requests).where(requests.c.lease_owner == owner,
                                                requests.c.state == LEASED)
                         .values(lease_until=until))
            conn.execute(update(batches).where(batches.c.owner == owner,
                                               batches.c.state.in_(OPEN_BATCH))
                         .values(lease_until=until))

    def adopt(self, owner: str, lease: float, limit: int = 4) -> list[QueuedBatch]:
        """Open batches whose owner's lease expired (it died), now this worker's."""
        now = time.time()
        with self.engine.begin() as conn:
            rows = conn.execute(select(batches).where(
                batches.c.state.in_(OPEN_BATCH),
                or_(batches.c.lease_until.is_(None), batches.c.lease_until < now))
                .order_by(func.coalesce(batches.c.nonce, 2**62), batches.c.created_at)
                .limit(limit).with_for_update(skip_locked=True)).all()
            if rows:
                conn.execute(update(batches).where(
                    batches.c.batch_id.in_([r.batch_id for r in rows])).values(
                    owner=owner, lease_until=now + lease, updated_at=now))
        return [_batch(r) for r in rows]

    def mine(self, owner: str) -> list[QueuedBatch]:
        """Open batches this worker owns (after a failed round: resumed as adopted ones)."""
        with self.engine.connect() as conn:
            return [_batch(r) for r in conn.execute(select(batches).where(
                batches.c.owner == owner, batches.c.state.in_(OPEN_BATCH)))]

    def update_batch(self, owner: str, batch_id: str, state: str, **values: Any) -> None:
        """Move a batch this worker owns on (LeaseLost if it is no longer its own)."""
        allowed = {"tx_hash", "raw_tx", "nonce", "epoch", "uri", "file", "reason", "attempts"}
        if set(values) - allowed:
            raise ValueError(f"unknown batch fields {set(values) - allowed}")
        if "file" in values:
            values["file"] = values["file"].decode()
        with self.engine.begin() as conn:
            changed = conn.execute(update(batches).where(
                batches.c.batch_id == batch_id, batches.c.owner == owner,
                batches.c.state.in_(OPEN_BATCH)).values(
                state=state, updated_at=time.time(), **values)).rowcount
        if not changed:
            raise LeaseLost(f"batch {batch_id[:18]} is no longer this worker's")

    def finish(self, batch_id: str, committed: bool, reason: str | None = None,
               tx_hash: str | None = None) -> int:
        """A batch's end, with its requests' (committed, or failed), in one transaction.
        Idempotent: a batch already finished is left as it is. Returns the requests moved.
        ``tx_hash``: the commit found on chain (a batch adopted after its worker died)."""
        now = time.time()
        extra = {"tx_hash": tx_hash} if tx_hash else {}
        with self.engine.begin() as conn:
            changed = conn.execute(update(batches).where(
                batches.c.batch_id == batch_id, batches.c.state.in_(OPEN_BATCH)).values(
                state=COMMITTED if committed else FAILED, reason=reason, updated_at=now,
                lease_until=None, **extra)).rowcount
            if not changed:
                return 0
            return int(conn.execute(update(requests).where(
                requests.c.batch_id == batch_id, requests.c.state == BATCHED).values(
                state=COMMITTED if committed else FAILED, reason=reason,
                updated_at=now)).rowcount)

    def hold_duty(self, signer: str, owner: str, lease: float,
                  now: float | None = None) -> tuple[bool, str | None]:
        """Take or renew ``signer``'s on-chain duty for ``owner`` until ``now + lease``: granted
        when nobody holds it, ``owner`` already does, or the holder's lease has expired.
        Returns (held, the owner it was taken over from, if any)."""
        now = time.time() if now is None else now
        try:
            return self._hold_duty(signer, owner, lease, now)
        except IntegrityError:  # another worker inserted the first row at the same time
            return False, None

    def _hold_duty(self, signer: str, owner: str, lease: float,
                   now: float) -> tuple[bool, str | None]:
        with self.engine.begin() as conn:
            row = conn.execute(select(duty).where(duty.c.signer == signer)
                               .with_for_update()).first()
            if row is None:
                conn.execute(insert(duty).values(signer=signer, owner=owner,
                                                 lease_until=now + lease, since=now))
                return True, None
            if row.owner != owner and float(row.lease_until) >= now:
                return False, None
            conn.execute(update(duty).where(duty.c.signer == signer).values(
                owner=owner, lease_until=now + lease,
                since=row.since if row.owner == owner else now))
            return True, (None if row.owner == owner else str(row.owner))

    def drop_duty(self, signer: str, owner: str) -> None:
        """Give the duty up (a worker stopping cleanly): the next worker takes it at once."""
        with self.engine.begin() as conn:
            conn.execute(update(duty).where(duty.c.signer == signer, duty.c.owner == owner)
                         .values(lease_until=0.0))

    def duty_holder(self, signer: str, now: float | None = None) -> str | None:
        """Who holds ``signer``'s duty now (None when nobody's lease runs)."""
        now = time.time() if now is None else now
        with self.engine.connect() as conn:
            row = conn.execute(select(duty).where(duty.c.signer == signer)).first()
        return None if row is None or float(row.lease_until) < now else str(row.owner)

    @contextlib.contextmanager
    def commit_lock(self, signer: str) -> Iterator[None]:
        """Held while a commit of ``signer``'s is signed, journaled and broadcast: one nonce
        sequence for the whole fleet. The database drops it with the holder's connection (a
        SIGKILLed worker holds nothing)."""
        if self.postgres:
            key = _COMMIT_LOCK_BASE ^ int(signer[-8:], 16)
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                try:
                    yield
                finally:
                    with contextlib.suppress(Exception):  # a lost connection released it
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        conn.commit()
            return
        path = Path(normalise_url(self.url).removeprefix("sqlite:///") + f".{signer}.lock")
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
