"""The worker's write-ahead journal (SQLite): the basis of exactly-once recording.

Every step that has an effect outside the process is journaled *before* it happens:
a signed raw transaction is stored before it is broadcast, so after a crash at any point
the worker re-broadcasts the very same bytes (same nonce, same hash) instead of signing a
second record. The block cursor only advances after the requests of those blocks are in
the journal.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY,
    block INTEGER NOT NULL,
    state TEXT NOT NULL,
    request TEXT NOT NULL,
    record TEXT,
    tx_hash TEXT,
    raw_tx TEXT,
    nonce INTEGER,
    reason TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_state ON requests(state);
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    root TEXT NOT NULL,
    count INTEGER NOT NULL,
    uri TEXT NOT NULL,
    tx_hash TEXT,
    raw_tx TEXT,
    nonce INTEGER,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox_files (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    reason TEXT,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS offchain_requests (
    request_id TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    model_id TEXT,
    state TEXT NOT NULL,
    request TEXT NOT NULL,
    batch_id TEXT,
    reason TEXT,
    received_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS offchain_state ON offchain_requests(state);
CREATE INDEX IF NOT EXISTS offchain_batch ON offchain_requests(batch_id);
CREATE INDEX IF NOT EXISTS offchain_file ON offchain_requests(file);
"""
# Columns batch mode added to the batches table; journals made before it get them on open.
BATCH_COLUMNS = {"model_id": "TEXT", "epoch": "INTEGER", "deposit": "TEXT", "reason": "TEXT",
                 "attempts": "INTEGER NOT NULL DEFAULT 0"}

# Request states. "new" -> "signed" (raw tx journaled) -> "sent" -> "done";
# rejections go "reject-signed" -> "reject-sent" -> "rejected"; "skipped" means another
# worker recorded it or the requester cancelled it first.
NEW, SIGNED, SENT, DONE = "new", "signed", "sent", "done"
REJECT_SIGNED, REJECT_SENT, REJECTED = "reject-signed", "reject-sent", "rejected"
SKIPPED, FAILED = "skipped", "failed"
IN_FLIGHT = (SIGNED, SENT, REJECT_SIGNED, REJECT_SENT)
FINAL = (DONE, REJECTED, SKIPPED, FAILED)

# Off-chain (batch mode) request states: "pending" (journaled from the inbox) -> "batched"
# (bound to one batch id, for good) -> "recorded" once that batch's commit is confirmed;
# "rejected" (bad input, never batched) and "failed" (its batch could not be committed).
PENDING, BATCHED, RECORDED = "pending", "batched", "recorded"
OFFCHAIN_FINAL = (RECORDED, REJECTED, FAILED)
# Batch states: "assigned" (requests bound, file being written) -> "signed" (raw tx journaled)
# -> "sent" -> "committed"; or "failed".
ASSIGNED, COMMITTED = "assigned", "committed"
BATCH_IN_FLIGHT = (SIGNED, SENT)
# Inbox files: "ingested" (its requests are journaled) -> "done" (moved to inbox/done/);
# "bad" (not a request file; moved to inbox/bad/).
INGESTED, BAD = "ingested", "bad"


@dataclass
class JournalEntry:
    request_id: str
    block: int
    state: str
    request: dict
    record: dict | None
    tx_hash: str | None
    raw_tx: str | None
    nonce: int | None
    reason: str | None

    @property
    def signed_hash(self) -> bytes:
        """The journaled transaction's hash (entries in a signed or sent state have one)."""
        if self.tx_hash is None:
            raise ValueError(f"journal entry {self.request_id} holds no signed transaction")
        return bytes.fromhex(self.tx_hash.removeprefix("0x"))

    @property
    def signed_raw(self) -> bytes:
        """The journaled transaction's signed bytes, re-broadcast as they are after a crash."""
        if self.raw_tx is None:
            raise ValueError(f"journal entry {self.request_id} holds no signed transaction")
        return bytes.fromhex(self.raw_tx.removeprefix("0x"))


@dataclass
class OffchainEntry:
    """An off-chain request as journaled from the inbox."""

    request_id: str
    file: str
    model_id: str | None
    state: str
    request: dict
    batch_id: str | None
    reason: str | None
    received_at: float


@dataclass
class BatchEntry:
    """A batch commitment and its transaction, as journaled."""

    batch_id: str
    state: str
    root: str
    count: int
    uri: str
    tx_hash: str | None
    raw_tx: str | None
    nonce: int | None
    model_id: str | None
    epoch: int | None
    deposit: int | None
    reason: str | None
    attempts: int


_BATCH_FIELDS = ("batch_id, state, root, count, uri, tx_hash, raw_tx, nonce, model_id, epoch, "
                 "deposit, reason, attempts")
_OFFCHAIN_FIELDS = "request_id, file, model_id, state, request, batch_id, reason, received_at"


def _batch_entry(row: tuple) -> BatchEntry:
    values = list(row)
    values[10] = int(values[10]) if values[10] is not None else None
    return BatchEntry(*values)


def _offchain_entry(row: tuple) -> OffchainEntry:
    return OffchainEntry(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5], row[6],
                         row[7])


class Journal:
    """A small, synchronous, crash-safe journal (SQLite WAL, synchronous=FULL)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        present = {row[1] for row in self.db.execute("PRAGMA table_info(batches)")}
        for column, kind in BATCH_COLUMNS.items():
            if column not in present:
                self.db.execute(f"ALTER TABLE batches ADD COLUMN {column} {kind}")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- meta --------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: Any, db: sqlite3.Connection | None = None) -> None:
        (db or self.db).execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )

    @property
    def cursor(self) -> int:
        return int(self.get_meta("cursor", "-1") or -1)

    # -- requests ------------------------------------------------------------------------
    def add_requests(self, requests: list[tuple[str, int, dict]], cursor: int) -> int:
        """Journal newly seen requests and advance the cursor, atomically. Returns # new."""
        added = 0
        with self.transaction() as db:
            for request_id, block, request in requests:
                cur = db.execute(
                    "INSERT OR IGNORE INTO requests(request_id, block, state, request, updated_at)"
                    " VALUES(?, ?, ?, ?, ?)",
                    (request_id, block, NEW, json.dumps(request), time.time()),
                )
                added += cur.rowcount
            self.set_meta("cursor", cursor, db)
        return added

    def update(self, request_id: str, state: str, **fields: Any) -> None:
        allowed = {"record", "tx_hash", "raw_tx", "nonce", "reason"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown journal fields {unknown}")
        values = {k: json.dumps(v) if k == "record" else v for k, v in fields.items()}
        sets = ", ".join([f"{k} = ?" for k in values] + ["state = ?", "updated_at = ?"])
        self.db.execute(
            f"UPDATE requests SET {sets} WHERE request_id = ?",
            (*values.values(), state, time.time(), request_id),
        )

    def entries(self, *states: str) -> list[JournalEntry]:
        marks = ",".join("?" * len(states))
        rows = self.db.execute(
            "SELECT request_id, block, state, request, record, tx_hash, raw_tx, nonce, reason "
            f"FROM requests WHERE state IN ({marks}) ORDER BY COALESCE(nonce, 1e18), block, "
            "request_id",
            states,
        ).fetchall()
        return [
            JournalEntry(
                r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]) if r[4] else None,
                r[5], r[6], r[7], r[8],
            )
            for r in rows
        ]

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, COUNT(*) FROM requests GROUP BY state"))

    def max_nonce(self) -> int | None:
        row = self.db.execute(
            "SELECT MAX(n) FROM (SELECT MAX(nonce) AS n FROM requests "
            "UNION ALL SELECT MAX(nonce) FROM batches)"
        ).fetchone()
        return row[0]

    # -- off-chain requests (batch mode) -------------------------------------------------------
    def known_files(self) -> set[str]:
        """Names of every inbox file already journaled (whatever became of it)."""
        return {row[0] for row in self.db.execute("SELECT name FROM inbox_files")}

    def ingest_file(self, name: str, requests: list[tuple[str, str | None, dict]],
                    rejected: list[tuple[str, str | None, dict, str]]) -> tuple[int, int]:
        """Journal one inbox file's requests, atomically with the file's name.

        ``requests``: (request id, model id, request) to batch; ``rejected``: (..., reason).
        A request id seen before (in this or another file) is ignored: the first copy wins.
        Returns (journaled, duplicates).
        """
        now = time.time()
        added = 0
        with self.transaction() as db:
            if requests:  # one statement for the file (rowcount: the rows inserted)
                added += db.executemany(
                    "INSERT OR IGNORE INTO offchain_requests(request_id, file, model_id, state,"
                    " request, received_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?)",
                    [(request_id, name, model_id, PENDING, json.dumps(request), now, now)
                     for request_id, model_id, request in requests],
                ).rowcount
            for request_id, model_id, request, reason in rejected:
                added += db.execute(
                    "INSERT OR IGNORE INTO offchain_requests(request_id, file, model_id, state,"
                    " request, reason, received_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                    (request_id, name, model_id, REJECTED, json.dumps(request), reason, now,
                     now),
                ).rowcount
            db.execute("INSERT INTO inbox_files(name, state, updated_at) VALUES(?, ?, ?)",
                       (name, INGESTED, now))
        return added, len(requests) + len(rejected) - added

    def mark_file(self, name: str, state: str, reason: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO inbox_files(name, state, reason, updated_at) VALUES(?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET state = excluded.state, reason = excluded.reason,"
            " updated_at = excluded.updated_at",
            (name, state, reason, time.time()),
        )

    def settled_files(self) -> list[str]:
        """Ingested inbox files none of whose requests is still pending or batched."""
        return [row[0] for row in self.db.execute(
            "SELECT name FROM inbox_files f WHERE state = ? AND NOT EXISTS (SELECT 1 FROM "
            "offchain_requests r WHERE r.file = f.name AND r.state IN (?, ?)) ORDER BY name",
            (INGESTED, PENDING, BATCHED),
        )]

    def offchain(self, *states: str, batch_id: str | None = None) -> list[OffchainEntry]:
        """Off-chain requests in these states (or of one batch), oldest first."""
        if batch_id is not None:
            rows = self.db.execute(
                f"SELECT {_OFFCHAIN_FIELDS} FROM offchain_requests WHERE batch_id = ? "
                "ORDER BY received_at, request_id", (batch_id,))
        else:
            marks = ",".join("?" * len(states))
            rows = self.db.execute(
                f"SELECT {_OFFCHAIN_FIELDS} FROM offchain_requests WHERE state IN ({marks}) "
                "ORDER BY received_at, request_id", states)
        return [_offchain_entry(row) for row in rows.fetchall()]

    def oldest_pending(self) -> tuple[str, float] | None:
        """(model id, received_at) of the oldest pending off-chain request, if any."""
        row = self.db.execute(
            "SELECT model_id, received_at FROM offchain_requests WHERE state = ? "
            "ORDER BY received_at, request_id LIMIT 1", (PENDING,)).fetchone()
        return (row[0], row[1]) if row else None

    def pending_for(self, model_id: str, limit: int) -> list[OffchainEntry]:
        """Up to ``limit`` pending requests for one model, oldest first."""
        rows = self.db.execute(
            f"SELECT {_OFFCHAIN_FIELDS} FROM offchain_requests WHERE state = ? AND model_id = ?"
            " ORDER BY received_at, request_id LIMIT ?", (PENDING, model_id, limit)).fetchall()
        return [_offchain_entry(row) for row in rows]

    def offchain_counts(self) -> dict[str, int]:
        return dict(self.db.execute(
            "SELECT state, COUNT(*) FROM offchain_requests GROUP BY state"))

    def reject_offchain(self, rejected: list[tuple[str, str]]) -> None:
        """Mark pending requests rejected: (request id, reason)."""
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "UPDATE offchain_requests SET state = ?, reason = ?, updated_at = ? "
                "WHERE request_id = ? AND state = ?",
                [(REJECTED, reason, now, rid, PENDING) for rid, reason in rejected])

    # -- batches ---------------------------------------------------------------------------------
    def assign_batch(self, batch: BatchEntry, request_ids: list[str]) -> None:
        """Bind pending requests to a new batch, atomically: from now on they belong to it."""
        now = time.time()
        with self.transaction() as db:
            db.execute(
                f"INSERT INTO batches({_BATCH_FIELDS}, updated_at) "
                "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (batch.batch_id, ASSIGNED, batch.root, batch.count, batch.uri, None, None, None,
                 batch.model_id, batch.epoch, str(batch.deposit), None, 0, now),
            )
            changed = db.executemany(
                "UPDATE offchain_requests SET state = ?, batch_id = ?, updated_at = ? "
                "WHERE request_id = ? AND state = ?",
                [(BATCHED, batch.batch_id, now, rid, PENDING) for rid in request_ids],
            ).rowcount
            if changed != len(request_ids):
                raise ValueError(f"batch {batch.batch_id}: only {changed} of "
                                 f"{len(request_ids)} requests were still pending")

    def update_batch(self, batch_id: str, state: str, **fields: Any) -> None:
        allowed = {"tx_hash", "raw_tx", "nonce", "epoch", "deposit", "reason", "attempts"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown batch journal fields {unknown}")
        values = {k: str(v) if k == "deposit" else v for k, v in fields.items()}
        sets = ", ".join([f"{k} = ?" for k in values] + ["state = ?", "updated_at = ?"])
        self.db.execute(f"UPDATE batches SET {sets} WHERE batch_id = ?",
                        (*values.values(), state, time.time(), batch_id))

    def batches(self, *states: str) -> list[BatchEntry]:
        marks = ",".join("?" * len(states))
        rows = self.db.execute(
            f"SELECT {_BATCH_FIELDS} FROM batches WHERE state IN ({marks}) "
            "ORDER BY COALESCE(nonce, 1e18), updated_at", states).fetchall()
        return [_batch_entry(row) for row in rows]

    def batch(self, batch_id: str) -> BatchEntry | None:
        row = self.db.execute(f"SELECT {_BATCH_FIELDS} FROM batches WHERE batch_id = ?",
                              (batch_id,)).fetchone()
        return _batch_entry(row) if row else None

    def finish_batch(self, batch_id: str, committed: bool, reason: str | None = None) -> None:
        """The batch's end, with its requests': recorded if committed, else failed."""
        now = time.time()
        with self.transaction() as db:
            db.execute("UPDATE batches SET state = ?, reason = ?, updated_at = ? "
                       "WHERE batch_id = ?",
                       (COMMITTED if committed else FAILED, reason, now, batch_id))
            db.execute("UPDATE offchain_requests SET state = ?, reason = ?, updated_at = ? "
                       "WHERE batch_id = ? AND state = ?",
                       (RECORDED if committed else FAILED, reason, now, batch_id, BATCHED))

    def release_batch(self, batch_id: str) -> int:
        """Undo an assignment whose transaction was never signed: its requests are pending
        again (they will be batched anew). Returns how many were released."""
        with self.transaction() as db:
            released = db.execute(
                "UPDATE offchain_requests SET state = ?, batch_id = NULL, updated_at = ? "
                "WHERE batch_id = ? AND state = ?", (PENDING, time.time(), batch_id, BATCHED),
            ).rowcount
            db.execute("DELETE FROM batches WHERE batch_id = ? AND state = ?",
                       (batch_id, ASSIGNED))
        return released
