"""What the API and the pages answer: indexed rows (``queries``) plus the few live answers only
the chain or a published file can give (a record's revocation status through the lens, a
worker's stake, the claimable root, the ``attestia verify`` checklist).

A batch file is never fetched here: the page shows the verdict the indexer's background check
stored (``offchain.indexer.files``), with its time. The verify checklist, which reads a
worker's attestation document or a batch file, runs in a small bounded pool (its jobs on
threads here, or handed to child processes: ``offchain.explorer.checks``) under the
service's ``FetchPolicy`` (``offchain.storage.uri.fetch_policy``), and a request waits for it at
most ``VERIFY_WAIT`` seconds: a hanging document costs one pool thread, not the web server's.

Live answers are cached per record and indexed block (anything that can change with the
chain: verify, revocation, stake, claims), and so are the few answers that read the whole
index (the status counts, the epochs, a contributor's attributions).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine

from offchain.errors import AttestiaError
from offchain.explorer import queries as Q
from offchain.explorer.checks import ProcessChecks, verify_record
from offchain.indexer import schema as S
from offchain.indexer.batch_checks import BatchCheck
from offchain.indexer.files import BoundedPool, Busy
from offchain.protocol import Inference
from offchain.registry import Attestia
from offchain.storage.uri import FetchPolicy

log = logging.getLogger("attestia.explorer")
T = TypeVar("T")
VERIFY_WAIT = 15.0
"""Seconds a request waits for a verify checklist being computed (then 503, retry)."""
PAGE_WAIT = 0.1
"""Seconds a record *page* waits for its checklist (computed in the background: ~30 ms of
chain reads a record through the light path on an idle machine, uncached), and only when no
other record's checklist is being computed (a lone visitor); after that, or at once while
other checks run, the page shows the indexed record with the checklist marked as being
computed (a reload shows it; ``/verify/{id}`` waits for it). Under many concurrent visitors of
uncached records the page stays fast instead of queueing or waiting in vain."""


class _Cache:
    """A small thread-safe LRU with per-entry lifetimes; one computation per key at a time."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Any, threading.Lock] = {}

    def peek(self, key: Any) -> tuple[bool, Any]:
        return self._hit(key)

    def put(self, key: Any, value: Any, ttl: float = float("inf")) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def _hit(self, key: Any) -> tuple[bool, Any]:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and time.monotonic() < hit[0]:
                self._items.move_to_end(key)
                return True, hit[1]
            return False, None

    def get(self, key: Any, compute: Callable[[], T],
            ttl_of: Callable[[T], float] | None = None) -> T:
        found, value = self._hit(key)
        if found:
            return value  # type: ignore[no-any-return]
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            found, value = self._hit(key)
            if found:
                return value  # type: ignore[no-any-return]
            value = compute()
            ttl = ttl_of(value) if ttl_of is not None else float("inf")
            with self._lock:
                self._items[key] = (time.monotonic() + ttl, value)
                self._items.move_to_end(key)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
                self._key_locks.pop(key, None)
            return value  # type: ignore[no-any-return]


class Explorer:
    """The explorer's answers over one database and (for live checks) one deployment."""

    def __init__(self, engine: Engine, attestia: Attestia, data_dir: Path | None = None,
                 *, fetch: FetchPolicy | None = None, verify_workers: int = 2,
                 verify_queue: int = 16, page_wait: float = PAGE_WAIT,
                 verify_processes: int = 0) -> None:
        self.engine = engine
        self.attestia = attestia
        self.data_dir = data_dir
        self.fetch = fetch or FetchPolicy()
        """What the verify checklist may read: by default no internal address, no local
        file (``FetchPolicy.for_service`` names publish directories and an allow-list)."""
        self._cache = _Cache()
        self._packages: dict[bytes, Any] = {}
        self._checks = BoundedPool("verify", workers=verify_workers, capacity=verify_queue)
        self._clock: tuple[int, int] | None = None
        self.page_wait = page_wait
        self._processes = None if verify_processes < 1 else ProcessChecks(
            attestia, self.fetch, data_dir, verify_processes)
        """The checklist in child processes (``offchain.explorer.checks``); 0: on the pool's
        threads in this process."""

    # -- plumbing ----------------------------------------------------------------------------
    def indexed_block(self) -> int:
        with self.engine.connect() as conn:
            current = S.read_cursor(conn)
        return -1 if current is None else current[0]

    def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self.engine.connect() as conn:
            return fn(conn, *args, **kwargs)

    # -- answers -----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        out = dict(self._cache.get(("status", self.indexed_block()), lambda: self.read(Q.status)))
        try:
            out["head"] = int(self.attestia.chain.w3.eth.block_number)
        except (AttestiaError, OSError):
            out["head"] = None
        return out

    def epoch_clock(self) -> tuple[int, int] | None:
        """The registry's (genesis, epoch length): immutable, read once; None while the chain
        cannot answer."""
        if self._clock is None:
            try:
                self._clock = (self.attestia.registry.genesis(),
                               self.attestia.registry.epoch_length())
            except (AttestiaError, OSError) as exc:
                log.warning("explorer: the registry's epoch clock: %s", exc)
        return self._clock

    def chain_time(self) -> int | None:
        """The chain's time as indexed (``Q.chain_time``), read once per indexed block."""
        block = self.indexed_block()
        if block < 0:
            return None
        return self._cache.get(("chain time", block), lambda: self.read(Q.block_time, block))

    def epochs(self) -> list[dict[str, Any]]:
        """Epochs with their start and end (``Q.list_epochs``)."""
        genesis, length = self.epoch_clock() or (None, None)
        return self._cache.get(("epochs", self.indexed_block()), lambda: self.read(
            Q.list_epochs, genesis=genesis, epoch_length=length))

    def record(self, request_id: str) -> dict[str, Any]:
        record = self.read(Q.get_record, request_id)
        record["revocation"] = self._cache.get(
            ("revocation", request_id, self.indexed_block()), lambda: self._revocation(record))
        return record

    def _revocation(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The lens's ``recordStatus`` (or ``batchStatus``), None when the lens is unknown."""
        if "RegistryLens" not in self.attestia.deployment.contracts:
            return None
        try:
            if record["kind"] == "single":
                status = self.attestia.lens.record_status(
                    bytes.fromhex(record["requestId"][2:]),
                    Inference.from_json(record["inference"]))
            else:
                batch = self.read(Q.get_batch, record["batchId"])
                status = self.attestia.lens.batch_status(
                    bytes.fromhex(batch["root"][2:]), bytes.fromhex(batch["modelId"][2:]),
                    batch["worker"])
        except (AttestiaError, OSError, ValueError) as exc:
            log.warning("explorer: revocation status of %s: %s", record["requestId"], exc)
            return None
        return {"exists": status.exists, "recordedAt": status.recordedAt,
                "workerRevokedAt": status.workerRevokedAt or None,
                "measurementRevokedAt": status.measurementRevokedAt or None,
                "modelRevokedAt": status.modelRevokedAt or None,
                "revokedAfter": status.revokedAfter}

    def verify(self, request_id: str) -> dict[str, Any]:
        """``attestia verify``'s checklist for a record (single or batch leaf), cached per
        record and indexed block."""
        return self._checked(self.read(Q.get_record, request_id), VERIFY_WAIT)

    def record_page(self, request_id: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """What a record page shows: the indexed record and, when computed within
        ``page_wait`` seconds (or cached), its checklist and revocation status; else None and
        ``revocation`` "pending" (the background job goes on: a reload finds them)."""
        block = self.indexed_block()  # once: every answer below is keyed by it
        record = dict(self._cache.get(("record", request_id, block),
                                      lambda: self.read(Q.get_record, request_id)))
        # Wait only while no other check runs (a lone visitor): one that shares the checks'
        # process with others, or queues behind them, would rarely finish within page_wait,
        # and waiting in vain is what made a flood of visitors slow (the job goes on, for the
        # reload).
        wait = self.page_wait if self._checks.backlog() == 0 else 0.0
        try:
            report: dict[str, Any] | None = self._checked(record, wait, block)
        except Busy:
            report = None
        found, revocation = self._cache.peek(("revocation", request_id, block))
        record["revocation"] = revocation if found else "pending"
        return record, report

    def _checked(self, record: dict[str, Any], wait: float, block: int | None = None
                 ) -> dict[str, Any]:
        """The checklist of ``record`` (and its revocation status, cached beside it) from the
        cache, else computed in the background pool; waits ``wait`` seconds at most. ``block``:
        the indexed block the caller read (default: read it now)."""
        request_id = record["requestId"]
        block = self.indexed_block() if block is None else block
        key = ("verify", request_id, block)
        found, report = self._cache.peek(key)
        if not found:  # not _cache.get: its per-key lock would queue the waits one by one
            def job() -> dict[str, Any]:
                # cached by the job, not the request: a request that gave up waiting finds
                # the answer at its retry instead of starting the checks again
                computed = self._verify(record)
                self._cache.put(("revocation", request_id, block), self._revocation(record))
                self._cache.put(key, computed)
                return computed

            report = self._in_background(key, job, wait)
        return report  # type: ignore[no-any-return]

    def _in_background(self, key: Any, job: Callable[[], T], wait: float = VERIFY_WAIT) -> T:
        """``job`` in the bounded pool (one run per key however many ask); raises
        :class:`Busy` when the pool is full or the job outlasts ``wait`` seconds."""
        future = self._checks.submit(key, job)
        try:
            return future.result(timeout=wait)
        except FutureTimeout:
            raise Busy("this record's checks are still running (a published document is "
                       "slow to answer); retry in a few seconds") from None

    def _verify(self, record: dict[str, Any]) -> dict[str, Any]:
        if self._processes is not None:
            return self._processes.verify(record)
        return verify_record(self.attestia, self.fetch, self.data_dir, record)

    def model(self, model_id: str) -> dict[str, Any]:
        model = self.read(Q.get_model, model_id)
        names = self._roster_names(model["contentHash"])
        for entry in model["roster"]:
            entry["name"] = names.get(entry["account"])
        model["package"] = bool(names)
        return model

    def _roster_names(self, content_hash: str) -> dict[str, str]:
        """Contributor names from a local package of this model (its roster), if any."""
        key = bytes.fromhex(content_hash[2:])
        if key not in self._packages:
            from offchain.verify.run import find_package

            try:
                self._packages[key] = find_package(self.data_dir, key)
            except (AttestiaError, OSError, ValueError):
                self._packages[key] = None
        package = self._packages[key]
        if package is None:
            return {}
        return {c.address: c.name for c in package.manifest.contributors}

    def worker(self, signer: str) -> dict[str, Any]:
        worker = self.read(Q.get_worker, signer)
        worker["live"] = self._cache.get(("worker", signer, self.indexed_block()),
                                         lambda: self._live_worker(signer))
        return worker

    def _live_worker(self, signer: str) -> dict[str, Any] | None:
        try:
            w = self.attestia.registry.worker(signer)
        except (AttestiaError, OSError) as exc:
            log.warning("explorer: worker %s: %s", signer, exc)
            return None
        if w is None:
            return None
        return {"stake": str(w.stake), "operator": w.operator,
                "unbondingAt": w.unbondingAt or None, "revokedAt": w.revokedAt or None,
                "slashedAt": w.slashedAt or None, "enclaveBoundAt": w.enclaveBoundAt or None,
                "registeredAt": w.registeredAt, "active": w.active}

    def contributor(self, account: str) -> dict[str, Any]:
        # indexed rows only change with the indexed block: one read per account and block
        out = dict(self._cache.get(("contributor", account, self.indexed_block()),
                                   lambda: self.read(Q.get_contributor, account)))
        out["rewards"] = self._cache.get(("rewards", account, self.indexed_block()),
                                         lambda: self._rewards(account))
        return out

    def _rewards(self, account: str) -> dict[str, Any]:
        """Claim status: the claimable root on chain, this account's cumulative amount in it
        (recomputed from the index, trusted only if the whole recomputed root matches the
        root on chain), what it claimed, and so what it can claim now."""
        try:
            claimable = self.attestia.distributor.claimable_root()
            claimed = self.attestia.distributor.claimed(account)
        except (AttestiaError, OSError) as exc:
            log.warning("explorer: rewards of %s: %s", account, exc)
            return {"available": False}
        out: dict[str, Any] = {"available": True, "claimed": str(claimed), "root": None}
        if claimable is None:
            out |= {"claimableNow": "0", "note": "no reward root is claimable yet"}
            return out
        epoch, root, total = claimable.epoch, claimable.root, claimable.total
        cumulative, recomputed = self._cache.get(
            ("cumulative", epoch, self.indexed_block()),
            lambda: self.read(Q.cumulative_through, epoch))
        matches = recomputed == "0x" + root.hex()
        mine = cumulative.get(account, 0)
        out["root"] = {"epoch": epoch, "root": "0x" + root.hex(), "total": str(total),
                       "recomputedRoot": recomputed, "matches": matches}
        if matches:
            out |= {"cumulative": str(mine), "claimableNow": str(max(0, mine - claimed)),
                    "note": "the index reproduces the claimable root exactly"}
        else:
            out |= {"cumulative": None, "claimableNow": None,
                    "note": "the index does not reproduce the claimable root (a batch file "
                            "unreadable here, or not indexed yet): see `attestia rewards "
                            "verify`"}
        return out

    def batch(self, batch_id: str) -> dict[str, Any]:
        """A batch with the stored check of its file (``check``, with ``checkedAt``): the
        indexer's background check, never a fetch here."""
        batch = self.read(Q.get_batch, batch_id)
        stored = self.read(Q.batch_check, batch_id)
        file = batch["file"]
        if stored is None:
            stored = BatchCheck(batch["batchId"], batch["dataURI"], batch["root"],
                                batch["dataHash"], batch["count"]).to_json()
            stored |= ({"status": "pending", "reason": "not checked yet (the indexer checks "
                        "each batch file in the background)"} if file is None else
                       {"status": file["status"], "check": file["check"],
                        "reason": file["reason"]})
        batch["check"] = stored | {"checkedAt": file["checkedAt"] if file else None}
        return batch
