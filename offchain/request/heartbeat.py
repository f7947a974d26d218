"""A running worker's heartbeat: ``<data dir>/heartbeat.json``, rewritten every few seconds.

A client about to pay (``attestia infer``) must not name a worker that is not running: the fee
would sit in escrow until the request's deadline. The chain alone cannot say a worker is up
(a worker that has served nothing yet has no record), so a worker also says so where clients
of the same home look: the heartbeat names the signer, its operator, the chain and registry,
the models it serves, its pid and the wall-clock time of the beat, and, in batch mode, its
inbox (where ``attestia request submit`` drops off-chain requests). The file is written
atomically (:mod:`offchain.storage.atomic`) and removed when the worker stops.

A heartbeat is *fresh* when it is at most ``STALE_AFTER`` seconds old and its pid is still a
process on this machine (a killed worker leaves its file behind; its pid is gone).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offchain.storage.atomic import atomic_write_json

HEARTBEAT = "heartbeat.json"
BEAT_EVERY = 5.0
"""Seconds between two beats of a running worker."""
STALE_AFTER = 30.0
"""A heartbeat older than this (wall-clock seconds) means the worker is not running."""


@dataclass(frozen=True)
class Heartbeat:
    signer: str
    operator: str
    chain_id: int
    registry: str
    models: tuple[str, ...]
    """0x-hex ids of the models served."""
    pid: int
    at: float
    """Wall-clock unix time of the beat."""
    data_dir: str
    batch_size: int = 0
    inbox: str | None = None
    """Batch mode: the directory the worker drains for off-chain requests."""

    def to_json(self) -> dict[str, Any]:
        return {"signer": self.signer, "operator": self.operator, "chainId": self.chain_id,
                "registry": self.registry, "models": list(self.models), "pid": self.pid,
                "at": self.at, "dataDir": self.data_dir, "batchSize": self.batch_size,
                "inbox": self.inbox}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Heartbeat:
        return cls(str(d["signer"]), str(d["operator"]), int(d["chainId"]), str(d["registry"]),
                   tuple(str(m).lower() for m in d["models"]), int(d["pid"]), float(d["at"]),
                   str(d["dataDir"]), int(d.get("batchSize") or 0), d.get("inbox"))

    def age(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.at

    def fresh(self, now: float | None = None) -> bool:
        """Beaten within ``STALE_AFTER`` seconds by a process that still exists."""
        return self.age(now) <= STALE_AFTER and _process_exists(self.pid)

    def serves(self, model_id: bytes) -> bool:
        return "0x" + model_id.hex() in self.models

    def of(self, chain_id: int, registry: str) -> bool:
        """Whether this worker serves the given chain's registry."""
        return self.chain_id == chain_id and self.registry.lower() == registry.lower()


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


class Heartbeater:
    """Writes a worker's heartbeat at most every ``BEAT_EVERY`` seconds (``beat``) and
    removes it when the worker stops (``clear``)."""

    def __init__(self, path: Path, template: Heartbeat) -> None:
        self.path = path
        self.template = template
        self._last = 0.0

    def beat(self, *, force: bool = False) -> None:
        now = time.time()
        if not force and now - self._last < BEAT_EVERY:
            return
        self._last = now
        beat = Heartbeat(**{**self.template.__dict__, "pid": os.getpid(), "at": now})
        # a full disk must not stop the worker; clients see the heartbeat as stale
        with contextlib.suppress(OSError):
            atomic_write_json(self.path, beat.to_json(), indent=1)

    def clear(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


def read_heartbeats(workers_dir: Path) -> list[Heartbeat]:
    """The heartbeats under ``<home data dir>/workers/*/`` (unreadable ones are skipped)."""
    out = []
    for path in sorted(workers_dir.glob(f"*/{HEARTBEAT}")) if workers_dir.is_dir() else []:
        try:
            out.append(Heartbeat.from_json(json.loads(path.read_text())))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return out


def fresh_heartbeats(workers_dir: Path, chain_id: int, registry: str,
                     now: float | None = None) -> dict[str, Heartbeat]:
    """Fresh heartbeats of workers serving this chain's registry, by signer."""
    out: dict[str, Heartbeat] = {}
    beats: Iterable[Heartbeat] = read_heartbeats(workers_dir)
    for beat in beats:
        if beat.of(chain_id, registry) and beat.fresh(now):
            out[beat.signer] = beat
    return out
