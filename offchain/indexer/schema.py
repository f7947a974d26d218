"""The explorer's database: one SQLAlchemy Core schema for SQLite and PostgreSQL.

Every row carries the ``block`` it came from, so a reorg is undone by deleting the rows above
the common ancestor (``rollback_to``), in one transaction with the cursor. Values keep their
chain form: ids and hashes as ``0x`` lower-case hex, addresses EIP-55 checksummed, wei amounts
as decimal strings (a uint256 fits neither SQLite's INTEGER nor a float; sums are exact in
Python), small integers (blocks, timestamps, epochs, bps) as integers.

``events`` holds every decoded log as JSON (the complete history, by ``(block, log_index)``);
the other tables are typed projections of it that the API filters and joins.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

SCHEMA_VERSION = 1
DB_FILE = "explorer.sqlite"

metadata = MetaData()

HEX32 = String(66)
ADDRESS = String(42)
WEI = String(78)


def _block() -> Column[Any]:
    return Column("block", BigInteger, nullable=False, index=True)


meta = Table(
    "meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

cursor = Table(
    "cursor", metadata,
    Column("id", Integer, primary_key=True),
    Column("block", BigInteger, nullable=False),
    Column("hash", HEX32, nullable=False),
)
"""One row: the last block whose rows are all written (its hash, to detect a reorg)."""

blocks = Table(
    "blocks", metadata,
    Column("number", BigInteger, primary_key=True),
    Column("hash", HEX32, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)
"""Blocks with events, and the recent blocks whose hashes are re-checked every cycle."""

events = Table(
    "events", metadata,
    _block(),
    Column("log_index", Integer, nullable=False),
    Column("tx_hash", HEX32, nullable=False, index=True),  # search by transaction
    Column("contract", String(32), nullable=False),
    Column("name", String(64), nullable=False, index=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("args", JSON, nullable=False),
    UniqueConstraint("block", "log_index", name="events_position"),
)

models = Table(
    "models", metadata,
    Column("model_id", HEX32, primary_key=True),
    Column("owner", ADDRESS, nullable=False, index=True),
    Column("content_hash", HEX32, nullable=False),
    Column("metadata_uri", Text, nullable=False),
    Column("data_root", HEX32, nullable=False),
    Column("contributors", JSON, nullable=False),
    Column("policy", Integer, nullable=False),
    Column("fee", WEI, nullable=False),
    Column("worker_bps", Integer, nullable=False),
    Column("owner_bps", Integer, nullable=False),
    Column("registered_at", BigInteger, nullable=False),
    _block(),
    Column("tx_hash", HEX32, nullable=False),
)

model_changes = Table(
    "model_changes", metadata,
    Column("model_id", HEX32, nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # terms | verifier | deprecated | revoked
    Column("data", JSON, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    _block(),
    Column("log_index", Integer, nullable=False),
)

worker_changes = Table(
    "worker_changes", metadata,
    Column("signer", ADDRESS, nullable=False, index=True),
    Column("kind", String(24), nullable=False),
    # registered | key | stake-added | unbonding | withdrawn | enclave | revoked | slashed
    Column("data", JSON, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    _block(),
    Column("log_index", Integer, nullable=False),
    Column("tx_hash", HEX32, nullable=False),
)

requests = Table(
    "requests", metadata,
    Column("request_id", HEX32, primary_key=True),
    Column("model_id", HEX32, nullable=False, index=True),
    Column("worker", ADDRESS, nullable=False),
    Column("requester", ADDRESS, nullable=False, index=True),
    Column("fee", WEI, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    _block(),
    Column("tx_hash", HEX32, nullable=False),
)

closures = Table(
    "closures", metadata,
    Column("request_id", HEX32, primary_key=True),
    Column("kind", String(16), nullable=False),  # cancelled | rejected
    Column("refund", WEI, nullable=False),
    Column("reason", Text, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    _block(),
)

records = Table(
    "records", metadata,
    Column("request_id", HEX32, primary_key=True),
    Column("model_id", HEX32, nullable=False, index=True),
    Column("worker", ADDRESS, nullable=False, index=True),
    Column("requester", ADDRESS, index=True),  # from the request (None if not indexed)
    Column("input_commitment", HEX32, nullable=False),
    Column("output_commitment", HEX32, nullable=False),
    Column("attribution_hash", HEX32, nullable=False),
    Column("proof_kind", Integer, nullable=False, index=True),
    Column("proof_hash", HEX32, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("result_hash", HEX32, nullable=False),
    Column("digest", HEX32, nullable=False),
    Column("epoch", BigInteger, nullable=False, index=True),
    Column("worker_cut", WEI, nullable=False),
    Column("owner_cut", WEI, nullable=False),
    Column("contributor_cut", WEI, nullable=False),
    _block(),
    Column("log_index", Integer, nullable=False),
    Column("tx_hash", HEX32, nullable=False),
    Index("records_newest", "block", "log_index"),
)

shares = Table(
    "shares", metadata,
    Column("record", String(140), nullable=False, index=True),
    Column("model_id", HEX32, nullable=False),
    Column("account", ADDRESS, nullable=False, index=True),
    Column("bps", Integer, nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("pool", WEI, nullable=False),
    _block(),
    UniqueConstraint("record", "account", name="shares_once"),
)
"""Attribution lists, one row per contributor: of single records (``record`` = the request
id) and of batch leaves (``record`` = ``batch:0x<batchId>:<index>``, from the checked file),
each with the record's contributor pool (its cut; a leaf's under the batch's split)."""

batches = Table(
    "batches", metadata,
    Column("batch_id", HEX32, primary_key=True),
    Column("model_id", HEX32, nullable=False, index=True),
    Column("worker", ADDRESS, nullable=False, index=True),
    Column("root", HEX32, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("deposit", WEI, nullable=False),
    Column("data_uri", Text, nullable=False),
    Column("data_hash", HEX32, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    _block(),
    Column("log_index", Integer, nullable=False),
    Column("tx_hash", HEX32, nullable=False),
)

batch_sweeps = Table(
    "batch_sweeps", metadata,
    Column("batch_id", HEX32, nullable=False, index=True),
    Column("epoch", BigInteger, nullable=False),
    Column("deposit", WEI, nullable=False),
    _block(),
)

batch_files = Table(
    "batch_files", metadata,
    Column("batch_id", HEX32, primary_key=True),
    Column("status", String(16), nullable=False),  # ok | failed | unreadable
    Column("check", String(32), nullable=False),  # the failed check ("" when ok)
    Column("reason", Text, nullable=False),
    Column("fetched_at", BigInteger, nullable=False),
    _block(),  # the batch's block: a reorg that drops the batch drops this too
)
"""What the indexer found at each batch's dataURI, checked by ``offchain.record.batch_file``; the
latest check only (a re-check replaces the row), ``fetched_at`` its time."""

batch_checks = Table(
    "batch_checks", metadata,
    Column("batch_id", HEX32, primary_key=True),
    Column("detail", JSON, nullable=False),  # BatchCheck.to_json(): what the batch page shows
    _block(),
)
"""The latest check of each batch's file in full (per-leaf lines), written with its
``batch_files`` row: the pages show it and never fetch. A table of its own, so a database
made before it gains it (``create_all``) and fills it at the next re-check."""

leaves = Table(
    "leaves", metadata,
    Column("batch_id", HEX32, nullable=False),
    Column("leaf_index", Integer, nullable=False),
    Column("request_id", HEX32, nullable=False, index=True),
    Column("model_id", HEX32, nullable=False),
    Column("worker", ADDRESS, nullable=False),
    Column("attribution_hash", HEX32, nullable=False),
    Column("proof_kind", Integer, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("fee", WEI, nullable=False),
    Column("pool", WEI, nullable=False),
    Column("inference", JSON, nullable=False),
    _block(),
    UniqueConstraint("batch_id", "leaf_index", name="leaves_position"),
)
"""Leaves of the batches whose files passed every check."""

epochs_swept = Table(
    "epochs_swept", metadata,
    Column("epoch", BigInteger, nullable=False, index=True),
    Column("amount", WEI, nullable=False),
    _block(),
    Column("log_index", Integer, nullable=False),
)

roots = Table(
    "roots", metadata,
    Column("epoch", BigInteger, nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # proposed | cancelled | activated
    Column("root", HEX32, nullable=False),
    Column("total", WEI, nullable=False),
    Column("ready_at", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    _block(),
    Column("log_index", Integer, nullable=False),
)
"""RootProposed, RootCancelled and RootActivated, one row each (a root's status is its
epoch's latest row)."""

claims = Table(
    "claims", metadata,
    Column("account", ADDRESS, nullable=False, index=True),
    Column("epoch", BigInteger, nullable=False),
    Column("amount", WEI, nullable=False),
    Column("cumulative", WEI, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    _block(),
    Column("log_index", Integer, nullable=False),
    Column("tx_hash", HEX32, nullable=False),
)

slashes = Table(
    "slashes", metadata,
    Column("worker", ADDRESS, nullable=False, index=True),
    Column("request_id", HEX32),
    Column("reporter", ADDRESS, nullable=False),
    Column("kind", String(16), nullable=False),  # equivocation | slashed
    Column("data", JSON, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    _block(),
    Column("log_index", Integer, nullable=False),
)

disputes = Table(
    "disputes", metadata,
    Column("request_id", HEX32, nullable=False, index=True),
    Column("state", String(32), nullable=False),
    Column("data", JSON, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    _block(),
    Column("log_index", Integer, nullable=False),
)
"""Attribution disputes (the Slasher's dispute game): one row per DisputeOpened,
DisputeResponded and DisputeResolved; ``state`` is open, responded, fraud, no_response or
worker_won, and a record's dispute is its latest row (none: null)."""

ROLLBACK_TABLES = (events, models, model_changes, worker_changes, requests, closures, records,
                   shares, batches, batch_sweeps, batch_files, batch_checks, leaves,
                   epochs_swept, roots, claims, slashes, disputes)
"""Every table of chain-derived rows. No row is ever updated after it is written (a later
event adds a row), so deleting by block undoes a reorg exactly."""


def default_url(data_dir: Path) -> str:
    """SQLite in the home's data directory (``.attestia/explorer.sqlite``)."""
    return f"sqlite:///{(data_dir / DB_FILE).resolve()}"


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 (the driver installed), not psycopg2."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://"):]
    return url


def sqlite_engine(url: str, *, synchronous: str, immediate: bool = False) -> Engine:
    """An SQLite engine (its directory made) in WAL mode with a 30 s busy timeout, so several
    processes take turns; ``synchronous`` is the durability asked of a commit; ``immediate``:
    every transaction ``BEGIN IMMEDIATE`` (the writer lock taken at the start: the queue's
    stand-in for SKIP LOCKED)."""
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        if immediate:
            dbapi_connection.isolation_level = None  # BEGIN is said below
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    if immediate:
        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    return engine


def open_engine(url: str) -> Engine:
    """An engine on ``url`` with the schema created; SQLite in WAL mode (readers never wait
    for the indexer's writes), and a busy timeout so two processes take turns."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = sqlite_engine(url, synchronous="NORMAL")
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8)
    create_schema(engine)
    return engine


def create_schema(engine: Engine) -> None:
    """Create the explorer's tables that are missing, and any index added since."""
    create_tables(engine, metadata, _SCHEMA_LOCK, add_indexes=True)


def create_tables(engine: Engine, tables: MetaData, lock_key: int, *,
                  add_indexes: bool = False) -> None:
    """Create the tables of ``tables`` that are missing (the explorer's, the queue's). Two
    processes starting at once (an indexer and an explorer, two fleet workers) may both find a
    table missing: PostgreSQL serialises them with the advisory lock ``lock_key``; on SQLite
    the loser's CREATE fails and it looks again. ``add_indexes``: also an index added since
    the table was made (create_all skips existing tables)."""
    for attempt in range(3):
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
                tables.create_all(conn)
                for table in tables.sorted_tables if add_indexes else ():
                    for index in table.indexes:
                        index.create(conn, checkfirst=True)
            return
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == 2:
                raise
            time.sleep(0.2)


_SCHEMA_LOCK = 0x41747465  # any constant: one advisory lock for the explorer's schema


def get_meta(conn: Connection, key: str) -> str | None:
    value = conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()
    return None if value is None else str(value)


def set_meta(conn: Connection, key: str, value: str) -> None:
    if get_meta(conn, key) is None:
        conn.execute(meta.insert().values(key=key, value=value))
    else:
        conn.execute(update(meta).where(meta.c.key == key).values(value=value))


def read_cursor(conn: Connection) -> tuple[int, str] | None:
    row = conn.execute(select(cursor.c.block, cursor.c.hash).where(cursor.c.id == 1)).first()
    return None if row is None else (int(row.block), str(row.hash))


def write_cursor(conn: Connection, block: int, block_hash: str) -> None:
    if conn.execute(select(cursor.c.id).where(cursor.c.id == 1)).first() is None:
        conn.execute(cursor.insert().values(id=1, block=block, hash=block_hash))
    else:
        conn.execute(update(cursor).where(cursor.c.id == 1).values(block=block,
                                                                   hash=block_hash))


def rollback_to(conn: Connection, ancestor: int, ancestor_hash: str) -> None:
    """Delete every row above block ``ancestor`` and move the cursor there (the caller's
    transaction makes it atomic)."""
    for table in ROLLBACK_TABLES:
        conn.execute(delete(table).where(table.c.block > ancestor))
    conn.execute(delete(blocks).where(blocks.c.number > ancestor))
    write_cursor(conn, ancestor, ancestor_hash)
