"""The indexer: follows the registry, distributor and slasher logs into the database.

Each cycle:

1. **Re-check** the hashes of the newest ``recheck`` stored blocks (default 64) against the
   chain in one batched request. A block whose hash changed means a reorg: every row above
   the highest block that still matches (the common ancestor) is deleted and the cursor moved
   there, in one transaction; the blocks are then replayed. A reorg deeper than the stored
   window keeps walking back through older stored blocks (down to the deployment).
2. **Follow** from the cursor to the head in ``eth_getLogs`` windows (one call for the three
   contracts; retried with backoff, halved when the node refuses the range). Each block's
   rows and the cursor are written in one transaction, so a process killed at any point
   resumes at a block boundary: nothing is lost or written twice (rows are also unique by
   chain position). A log whose block hash is not the header's (a reorg while reading) ends
   the window; the next cycle's re-check repairs it.
3. **Batch files**: the batches whose file is due for a check (new, to retry, to re-check)
   are queued with ``files.BatchFileChecker``, whose background threads fetch them
   (``offchain.storage.uri`` under ``IndexerConfig.fetch``: no internal address, local files only in
   the publish directories, time and size limits) and check them (``offchain.record.batch_file``);
   the leaves of a file that passes are stored with their attribution lists, in the batch's
   block (a reorg drops them with it). The loop never waits for a fetch.

A lost connection, a database error or one undecodable event never ends ``run``: it logs one
line, backs off (1 s doubling to 30 s) and resumes from the cursor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy import Engine, and_, delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from web3.exceptions import BlockNotFound
from web3.types import RPCEndpoint

from offchain.errors import AttestiaError, ConfigError
from offchain.indexer import schema as S
from offchain.indexer.batch_checks import FETCH_TIMEOUT, MAX_FILE_BYTES
from offchain.indexer.decode import EventType
from offchain.indexer.files import RECHECK_AFTER_S, RETRY_AFTER_S, BatchFileChecker
from offchain.indexer.project import Context, Row, hex32, rows_of
from offchain.registry import Attestia
from offchain.storage.uri import FetchPolicy

log = logging.getLogger("attestia.indexer")

CONTRACTS = ("InferenceRegistry", "RewardDistributor", "Slasher")
PRUNE_EVERY = 1_000
"""Blocks indexed between two prunings of old, event-less block hashes."""


@dataclass(frozen=True)
class IndexerConfig:
    window: int = 2_000
    """Blocks per eth_getLogs call (halved while the node refuses a range)."""
    recheck: int = 64
    """Newest stored block hashes compared with the chain every cycle."""
    poll: float = 1.0
    """Seconds between cycles once caught up."""
    confirmations: int = 0
    """Blocks below the head left unindexed (0: index the head; reorgs are repaired)."""
    fetch_batches: bool = True
    fetch: FetchPolicy = FetchPolicy()
    """What batch files may be fetched: by default no internal address and no local file
    (``FetchPolicy.for_service`` names publish directories and an allow-list)."""
    fetch_workers: int = 2
    """Threads fetching batch files in the background (each fetch bounded in time)."""
    fetch_queue: int = 32
    """Batch files queued at most; more wait for a later cycle."""
    recheck_after: float = RECHECK_AFTER_S
    """Seconds before a passed file is checked again (a file altered since turns failed)."""
    retry_after: float = RETRY_AFTER_S
    fetch_timeout: float = FETCH_TIMEOUT
    """Seconds one batch file may take to fetch (connect, headers and body)."""
    fetch_max_bytes: int = MAX_FILE_BYTES
    attempts: int = 4
    """Tries per RPC call within a window before the cycle gives up (then run() backs off)."""
    max_backoff: float = 30.0


@dataclass
class CycleStats:
    blocks: int = 0
    events: int = 0
    rolled_back: int = 0
    """Blocks undone by a reorg this cycle."""
    head: int = 0


class Indexer:
    """Follows one deployment into one database (``schema``)."""

    def __init__(self, attestia: Attestia, engine: Engine,
                 config: IndexerConfig | None = None) -> None:
        self.attestia = attestia
        self.engine = engine
        self.config = config or IndexerConfig()
        self.w3 = attestia.chain.w3
        self._topics: dict[tuple[str, bytes], tuple[str, EventType]] = {}
        for label in CONTRACTS:
            # The one reader of the raw contracts outside offchain.registry (allowed by
            # tests/test_guard_contract_access.py): a generic log follower decodes every event
            # of every ABI in one eth_getLogs window, which no typed per-event scan can do.
            contract = {"InferenceRegistry": attestia.registry,
                        "RewardDistributor": attestia.distributor,
                        "Slasher": attestia.slasher}[label].contract
            for entry in contract.abi:
                abi: dict[str, Any] = dict(entry)
                if abi.get("type") == "event" and not abi.get("anonymous"):
                    event_type = EventType(abi)
                    self._topics[(str(contract.address).lower(), event_type.topic)] = (
                        label, event_type)
        self.addresses = sorted({address for address, _ in self._topics})
        self._recorded_topic = next(
            t.topic for label, t in self._topics.values()
            if label == "InferenceRegistry" and t.name == "InferenceRecorded")
        self.first_block = attestia.first_block
        self._window = self.config.window
        self._pruned_at = 0
        self.files = BatchFileChecker(
            engine, self.config.fetch, workers=self.config.fetch_workers,
            capacity=self.config.fetch_queue, recheck_after=self.config.recheck_after,
            retry_after=self.config.retry_after, timeout=self.config.fetch_timeout,
            max_bytes=self.config.fetch_max_bytes)
        self._bind()

    # -- set-up ------------------------------------------------------------------------------
    def _bind(self) -> None:
        """Tie the database to this chain and registry (refuse a database of another)."""
        try:
            self._bind_once()
        except IntegrityError:  # another process bound it at the same moment: compare again
            self._bind_once()

    def _bind_once(self) -> None:
        want = {"schema": str(S.SCHEMA_VERSION), "chain_id": str(self.attestia.chain.chain_id),
                "registry": str(self.attestia.registry.address)}
        with self.engine.begin() as conn:
            for key, value in want.items():
                have = S.get_meta(conn, key)
                if have is None:
                    S.set_meta(conn, key, value)
                elif have != value:
                    raise ConfigError(
                        f"the explorer database holds {key} {have}, this chain has {value}: "
                        "use another --db (or delete that database to re-index)")
            if S.get_meta(conn, "lens") is None and "RegistryLens" in \
                    self.attestia.deployment.contracts:
                S.set_meta(conn, "lens", str(self.attestia.deployment.address("RegistryLens")))

    def cursor(self) -> tuple[int, str] | None:
        with self.engine.connect() as conn:
            return S.read_cursor(conn)

    # -- the loop ----------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, *, once: bool = False,
            on_cycle: Callable[[CycleStats], None] | None = None) -> None:
        """Cycle until ``stop`` is set (or once). Never raises for a lost connection, a
        database error or a bad event: logs one line and backs off."""
        stop = stop or threading.Event()
        backoff = 1.0
        while not stop.is_set():
            try:
                stats = self.step(wait_files=once)
                backoff = 1.0
                if on_cycle is not None:
                    on_cycle(stats)
                if once:
                    return
                caught_up = stats.blocks == 0
                stop.wait(self.config.poll if caught_up else 0)
            except Exception as exc:  # noqa: BLE001 - a long-running process: log, back off
                if once:
                    raise
                if isinstance(exc, AttestiaError | OSError | SQLAlchemyError):
                    log.warning("indexer: %s; retrying in %.0f s", _one_line(exc), backoff)
                else:
                    log.exception("indexer: unexpected error; retrying in %.0f s", backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, self.config.max_backoff)

    def step(self, *, wait_files: bool = True) -> CycleStats:
        """One cycle: re-check recent hashes (roll back a reorg), follow to the head, queue the
        batch files due for a check. A lone call (a test, ``index run --once``) then waits for
        the queued checks (each bounded by the fetch's time limit); ``run`` never does."""
        stats = CycleStats()
        stats.rolled_back = self.check_reorg()
        head = int(self._retry("eth_blockNumber", lambda: self.w3.eth.block_number))
        head -= self.config.confirmations
        stats.head = head
        current = self.cursor()
        start = self.first_block if current is None else current[0] + 1
        while start <= head:
            stop = min(start + self._window - 1, head)
            logs = self._get_logs(start, stop)
            if logs is None:  # the node refused the range: _window was halved
                continue
            written, complete = self._write_window(start, stop, logs, head)
            stats.events += written
            stats.blocks += stop - start + 1
            if not complete:
                break
            start = stop + 1
        if self.config.fetch_batches:
            self.files.schedule()
            if wait_files:
                self.files.wait()
        if stats.blocks and head - self._pruned_at > PRUNE_EVERY:
            self.prune_blocks()
            self._pruned_at = head
        return stats

    # -- reorgs ------------------------------------------------------------------------------
    def check_reorg(self) -> int:
        """Compare the newest stored hashes with the chain; roll back to the common ancestor
        if any changed. Returns the number of blocks rolled back."""
        current = self.cursor()
        if current is None:
            return 0
        below: int | None = None
        while True:
            with self.engine.connect() as conn:
                query = select(S.blocks.c.number, S.blocks.c.hash).order_by(
                    S.blocks.c.number.desc()).limit(self.config.recheck)
                if below is not None:
                    query = query.where(S.blocks.c.number < below)
                stored = [(int(n), str(h)) for n, h in conn.execute(query)]
            if not stored:
                ancestor, ancestor_hash = self.first_block - 1, ""
                break
            chain = self._hashes([n for n, _ in stored])
            matching = [(n, h) for n, h in stored if chain.get(n) == h]
            changed = [n for n, h in stored if chain.get(n) != h]
            if not changed:
                return 0
            lowest_changed = min(changed)
            older = [(n, h) for n, h in matching if n < lowest_changed]
            if older:
                ancestor, ancestor_hash = max(older)
                break
            below = lowest_changed  # deeper than this window: keep walking back
        depth = current[0] - ancestor
        log.warning("indexer: reorg: block hashes changed above block %d; rolling back %d "
                    "block(s) and replaying", ancestor, depth)
        with self.engine.begin() as conn:
            S.rollback_to(conn, ancestor, ancestor_hash)
        return depth

    def _hashes(self, numbers: Iterable[int]) -> dict[int, str]:
        headers = self._headers(numbers)
        return {n: h for n, (h, _) in headers.items()}

    def _headers(self, numbers: Iterable[int]) -> dict[int, tuple[str, int]]:
        """(hash, timestamp) of each block number, in one batched request where possible."""
        wanted = sorted(set(numbers))
        out: dict[int, tuple[str, int]] = {}
        for i in range(0, len(wanted), 100):
            chunk = wanted[i:i + 100]

            def fetch(chunk: list[int] = chunk) -> list[Any]:
                try:
                    with self.w3.batch_requests() as batch:
                        for n in chunk:
                            batch.add(self.w3.eth.get_block(n))
                        return list(batch.execute())
                except (AttestiaError, OSError):
                    raise
                except Exception:  # a block above the head (a shorter branch), or a node
                    return [self._block_or_none(n) for n in chunk]  # without batches

            for n, block in zip(chunk, self._retry("eth_getBlockByNumber", fetch), strict=True):
                if block is not None:
                    out[n] = (hex32(block["hash"]), int(block["timestamp"]))
        return out

    def _block_or_none(self, number: int) -> Any:
        try:
            return self.w3.eth.get_block(number)
        except BlockNotFound:
            return None

    # -- following ---------------------------------------------------------------------------
    def _retry(self, what: str, call: Callable[[], Any]) -> Any:
        delay = 0.5
        for attempt in range(self.config.attempts):
            try:
                return call()
            except (AttestiaError, OSError) as exc:
                if attempt == self.config.attempts - 1:
                    raise
                log.debug("indexer: %s failed (%s), retrying", what, _one_line(exc))
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _get_logs(self, start: int, stop: int) -> list[dict[str, Any]] | None:
        """The window's logs as plain values (the raw JSON-RPC answer, converted here: web3's
        result formatters cost more than the whole decode)."""
        params = {"fromBlock": hex(start), "toBlock": hex(stop),
                  "address": [to_checksum_address(a) for a in self.addresses]}

        def call() -> list[dict[str, Any]]:
            answer = self.w3.provider.make_request(RPCEndpoint("eth_getLogs"), [params])
            if "error" in answer:
                raise LogsRefused(str(answer["error"]))
            return [_raw_log(entry) for entry in answer["result"]]

        try:
            return list(self._retry("eth_getLogs", call))
        except (AttestiaError, OSError):
            raise
        except Exception as exc:  # the node's JSON-RPC error (e.g. range or result limit)
            if self._window <= 1:
                raise
            self._window = max(1, self._window // 2)
            log.warning("indexer: eth_getLogs %d-%d refused (%s); window now %d blocks",
                        start, stop, _one_line(exc), self._window)
            return None

    def _write_window(self, start: int, stop: int, logs: list[Any], head: int
                      ) -> tuple[int, bool]:
        """Write every block of [start, stop]: one transaction per block with events, then
        the cursor at ``stop``. Returns (events written, whether the window is complete)."""
        by_block: dict[int, list[Any]] = defaultdict(list)
        for entry in logs:
            if entry.get("removed"):
                continue
            by_block[int(entry["blockNumber"])].append(entry)
        recent = range(max(start, head - self.config.recheck + 1), stop + 1)
        headers = self._headers(list(by_block) + [stop] + list(recent)[-self.config.recheck:])
        written = 0
        for number in sorted(by_block):
            entries = sorted(by_block[number], key=lambda e: int(e["logIndex"]))
            block_hash, timestamp = headers.get(number, ("", 0))
            if any(hex32(e["blockHash"]) != block_hash for e in entries):
                log.warning("indexer: block %d changed while it was read; re-reading", number)
                return written, False
            written += self._write_block(number, block_hash, timestamp, entries)
        if stop not in headers:
            return written, False
        with self.engine.begin() as conn:
            for number in recent:
                if number in headers and number not in by_block:
                    self._store_block(conn, number, *headers[number])
            if stop not in by_block and stop not in recent:
                self._store_block(conn, stop, *headers[stop])
            S.write_cursor(conn, stop, headers[stop][0])
        return written, True

    def _store_block(self, conn: Connection, number: int, block_hash: str,
                     timestamp: int) -> None:
        conn.execute(delete(S.blocks).where(S.blocks.c.number == number))
        conn.execute(insert(S.blocks).values(number=number, hash=block_hash,
                                             timestamp=timestamp))

    def _write_block(self, number: int, block_hash: str, timestamp: int,
                     entries: list[Any]) -> int:
        with self.engine.begin() as conn:
            current = S.read_cursor(conn)
            if current is not None and current[0] >= number:
                return 0  # written by an earlier run (the cursor moved with it)
            # The requesters of this block's records, in one query (a record's request is
            # earlier: in the database, or earlier in this block).
            pending_requesters: dict[str, str] = {}
            recorded = [hex32(e["topics"][1]) for e in entries
                        if e["topics"][0] == self._recorded_topic and len(e["topics"]) > 1]
            for i in range(0, len(recorded), 500):
                pending_requesters.update((str(r), str(q)) for r, q in conn.execute(
                    select(S.requests.c.request_id, S.requests.c.requester).where(
                        S.requests.c.request_id.in_(recorded[i:i + 500]))))

            def requester_of(request_id: str) -> str | None:
                return pending_requesters.get(request_id)

            rows: list[Row] = []
            for entry in entries:
                added = self._rows(entry, number, timestamp, requester_of)
                for table, row in added:
                    if table is S.requests:
                        pending_requesters[row["request_id"]] = row["requester"]
                rows += added
            self._store_block(conn, number, block_hash, timestamp)
            grouped: dict[str, tuple[Any, list[dict[str, Any]]]] = {}
            for table, row in rows:
                grouped.setdefault(table.name, (table, []))[1].append(row)
            for table, batch in grouped.values():
                conn.execute(insert(table), batch)
            S.write_cursor(conn, number, block_hash)
        return len(entries)

    def _rows(self, entry: Any, number: int, timestamp: int,
              requester_of: Callable[[str], str | None]) -> list[Row]:
        key = (str(entry["address"]).lower(), bytes(entry["topics"][0]))
        found = self._topics.get(key)
        if found is None:
            return []
        label, event_type = found
        name = event_type.name
        context = Context(number, int(entry["logIndex"]), hex32(entry["transactionHash"]),
                          timestamp, requester_of)
        try:
            return rows_of(label, name, event_type.decode(entry), context)
        except Exception as exc:  # noqa: BLE001 - one bad event never stops the indexer
            log.warning("indexer: cannot decode %s.%s at block %d log %d (%s); kept raw",
                        label, name, number, context.log_index, _one_line(exc))
            return [(S.events, {"contract": label, "name": name, "tx_hash": context.tx_hash,
                                "timestamp": timestamp, "block": number,
                                "log_index": context.log_index,
                                "args": {"undecodable": _one_line(exc)}})]

    # -- housekeeping ------------------------------------------------------------------------
    def prune_blocks(self) -> None:
        """Forget hashes of old blocks without events (the recent window is enough)."""
        current = self.cursor()
        if current is None:
            return
        with self.engine.begin() as conn:
            event_blocks = select(S.events.c.block).distinct()
            conn.execute(delete(S.blocks).where(and_(
                S.blocks.c.number < current[0] - self.config.recheck,
                S.blocks.c.number.not_in(event_blocks))))

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
                    for t in S.ROLLBACK_TABLES}


class LogsRefused(ValueError):
    """The node answered eth_getLogs with an error (a range or result limit, usually)."""


def _raw_log(entry: dict[str, Any]) -> dict[str, Any]:
    return {"address": str(entry["address"]), "blockNumber": int(entry["blockNumber"], 16),
            "blockHash": bytes.fromhex(entry["blockHash"][2:]),
            "transactionHash": bytes.fromhex(entry["transactionHash"][2:]),
            "logIndex": int(entry["logIndex"], 16),
            "topics": [bytes.fromhex(t[2:]) for t in entry["topics"]],
            "data": bytes.fromhex(entry["data"][2:]), "removed": bool(entry.get("removed"))}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
