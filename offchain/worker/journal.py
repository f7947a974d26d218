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
"""

# Request states. "new" -> "signed" (raw tx journaled) -> "sent" -> "done";
# rejections go "reject-signed" -> "reject-sent" -> "rejected"; "skipped" means another
# worker recorded it or the requester cancelled it first.
NEW, SIGNED, SENT, DONE = "new", "signed", "sent", "done"
REJECT_SIGNED, REJECT_SENT, REJECTED = "reject-signed", "reject-sent", "rejected"
SKIPPED, FAILED = "skipped", "failed"
IN_FLIGHT = (SIGNED, SENT, REJECT_SIGNED, REJECT_SENT)
FINAL = (DONE, REJECTED, SKIPPED, FAILED)


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


class Journal:
    """A small, synchronous, crash-safe journal (SQLite WAL, synchronous=FULL)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

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
