"""Every registered model and worker, with their state (``attestia model list`` / ``worker
list``), read from the registry's events and current slots (nothing is sent).

A worker's liveness, as a client judges it before paying (:func:`choose_worker`): its on-chain
state (active, unbonding, revoked, slashed), and whether it is *live*: a fresh heartbeat in
this home (``offchain.request.heartbeat``: a running ``attestia worker run`` rewrites it every
few seconds), or else a record or batch in the last ``RECENT_RECORD`` seconds of chain time
(the signing time of its newest ``InferenceRecorded``, or its newest batch commitment). A
worker with neither is not chosen by default and a named one is refused without ``--force``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offchain.errors import ConfigError
from offchain.protocol import Model, Worker
from offchain.registry import Attestia
from offchain.request.heartbeat import Heartbeat, fresh_heartbeats
from offchain.timefmt import iso_if_set

RECENT_RECORD = 600
"""A worker with a record or batch in the last this many seconds of chain time is live."""


def mean_attribution_bps(share_lists: Iterable[Iterable[tuple[str, int]]], account: str
                         ) -> float:
    """A contributor's mean attribution over records, in bps: the sum of its bps over every
    record divided by the number of records (a record without a share for it counts 0), so
    the means of a model's contributors add up to 10,000 bps. The one definition the demo
    summary and ``attestia attribution --contributor`` show."""
    total = count = 0
    who = account.lower()
    for shares in share_lists:
        count += 1
        total += sum(bps for address, bps in shares if address.lower() == who)
    return total / count if count else 0.0


def model_state(model: Model) -> str:
    if model.revokedAt:
        return "revoked"
    if model.deprecated:
        return "deprecated"
    return "active"


def worker_state(worker: Worker) -> str:
    if worker.slashedAt:
        return "slashed"
    if worker.revokedAt:
        return "revoked"
    if worker.unbondingAt:
        return "unbonding"
    return "active"


def dead_key_reason(worker: Worker) -> str | None:
    """Why a registered worker key can never record again, in a few words (None while it is
    active). An unbonding key never comes back: a new key must be registered and staked."""
    if worker.active:
        return None
    state = worker_state(worker)
    if state == "unbonding" and worker.stake == 0:
        return "unbonding and its stake withdrawn"
    return state


@dataclass(frozen=True)
class ModelEntry:
    model_id: bytes
    model: Model

    @property
    def state(self) -> str:
        return model_state(self.model)

    def to_json(self) -> dict[str, Any]:
        m = self.model
        return {"modelId": "0x" + self.model_id.hex(), "state": self.state, "owner": m.owner,
                "feeWei": m.fee, "proofKinds": m.kinds, "split": list(m.split.as_tuple()),
                "contentHash": "0x" + m.contentHash.hex(), "contributors": m.contributors,
                "registeredAt": iso_if_set(m.registeredAt), "metadataURI": m.metadataURI}


@dataclass(frozen=True)
class WorkerEntry:
    signer: str
    worker: Worker
    last_record_at: int | None
    records: int
    heartbeat: Heartbeat | None = None
    """Its fresh heartbeat in this home, if any (it is running here)."""
    recent_models: frozenset[bytes] = field(default_factory=frozenset)
    """Models it recorded for within ``RECENT_RECORD`` seconds of the chain's latest block."""

    @property
    def state(self) -> str:
        return worker_state(self.worker)

    @property
    def live(self) -> bool:
        return self.state == "active" and (self.heartbeat is not None or
                                           bool(self.recent_models))

    def serves(self, model_id: bytes) -> bool:
        """Live and known to serve this model (its heartbeat lists it, or it recorded for it
        recently)."""
        if not self.live:
            return False
        if self.heartbeat is not None:
            return self.heartbeat.serves(model_id)
        return model_id in self.recent_models

    @property
    def liveness(self) -> str:
        """Why it is or is not live, in a few words."""
        if self.state != "active":
            return self.state
        if self.heartbeat is not None:
            return f"running here (pid {self.heartbeat.pid}, beat {self.heartbeat.age():.0f} s ago)"
        if self.recent_models:
            return "recorded in the last 10 min"
        return ("no heartbeat in this home and no record in the last 10 min: probably not "
                "running")

    def to_json(self) -> dict[str, Any]:
        w = self.worker
        beat = self.heartbeat
        return {"signer": self.signer, "state": self.state, "live": self.live,
                "liveness": self.liveness, "operator": w.operator,
                "stakeWei": w.stake, "enclaveBound": w.enclave_bound,
                "registeredAt": iso_if_set(w.registeredAt),
                "unbondingAt": iso_if_set(w.unbondingAt),
                "revokedAt": iso_if_set(w.revokedAt), "slashedAt": iso_if_set(w.slashedAt),
                "records": self.records, "lastRecordAt": iso_if_set(self.last_record_at),
                "heartbeatAt": iso_if_set(int(beat.at)) if beat else None,
                "models": list(beat.models) if beat else
                ["0x" + m.hex() for m in sorted(self.recent_models)],
                "batchInbox": beat.inbox if beat else None}


def list_models(attestia: Attestia) -> list[ModelEntry]:
    """Every registered model, in registration order, with its current slot."""
    ids = dict.fromkeys(e.model_id for e in attestia.registry.models_registered())
    out = []
    for model_id in ids:
        model = attestia.registry.model(model_id)
        if model is not None:
            out.append(ModelEntry(model_id, model))
    return out


def list_workers(attestia: Attestia, data_dir: Path | None = None) -> list[WorkerEntry]:
    """Every registered worker key (newest registration first), with its slot, its record
    count, the time of its latest record or batch commitment and its liveness (a fresh
    heartbeat under ``<data_dir>/workers``, or a recent record or batch)."""
    w3 = attestia.chain.w3
    now = int(w3.eth.get_block("latest")["timestamp"])
    last: dict[str, int] = {}
    count: dict[str, int] = {}
    recent: dict[str, set[bytes]] = {}

    def seen(signer: str, at: int, model_id: bytes, n: int) -> None:
        last[signer] = max(last.get(signer, 0), at)
        count[signer] = count.get(signer, 0) + n
        if at >= now - RECENT_RECORD:
            recent.setdefault(signer, set()).add(model_id)

    for record in attestia.registry.recorded():
        seen(record.inference.worker, int(record.inference.timestamp),
             record.inference.modelId, 1)
    for batch in attestia.registry.batches():
        seen(batch.worker, int(w3.eth.get_block(batch.meta.block)["timestamp"]),
             batch.model_id, batch.count)
    beats = (fresh_heartbeats(data_dir / "workers", attestia.chain.chain_id,
                              attestia.registry.address) if data_dir is not None else {})
    signers = list(dict.fromkeys(e.signer for e in attestia.registry.workers_registered()))
    out = []
    for signer in reversed(signers):
        worker = attestia.registry.worker(signer)
        if worker is not None:
            out.append(WorkerEntry(signer, worker, last.get(signer), count.get(signer, 0),
                                   beats.get(signer), frozenset(recent.get(signer, ()))))
    return out


def choose_worker(attestia: Attestia, model_id: bytes, *, data_dir: Path | None,
                  named: str | None = None, force: bool = False) -> WorkerEntry:
    """The worker a request for ``model_id`` is paid to: ``named`` if it is active and live
    (or whatever it is, with ``force``), else the newest live active worker serving the
    model. Raises ConfigError (before anything is paid) when there is none."""
    entries = list_workers(attestia, data_dir)
    mid = "0x" + model_id.hex()
    if named is not None:
        entry = next((e for e in entries if e.signer.lower() == named.lower()), None)
        if entry is None:
            raise ConfigError(f"{named} is not a registered worker (attestia worker list)")
        if force:  # the chain has the last word (its dry run names any custom error)
            return entry
        if entry.state != "active":
            raise ConfigError(f"worker {entry.signer} is {entry.state}: it takes no requests; "
                              "nothing was paid")
        if not entry.serves(model_id):
            why = (entry.liveness if not entry.live else
                   f"it is running but does not serve model {mid}")
            raise ConfigError(f"worker {entry.signer} shows no sign of serving this request "
                              f"({why}); nothing was paid: start it, pick a live one "
                              "(attestia worker list), or pass --force to pay anyway")
        return entry
    for entry in entries:
        if entry.serves(model_id):
            return entry
    active = sum(1 for e in entries if e.state == "active")
    raise ConfigError(f"no live worker serves model {mid} ({active} active worker(s) "
                      "registered, none with a heartbeat in this home or a record in the "
                      f"last 10 min{_not_chosen(entries, model_id)}); nothing was paid: start "
                      "one with `attestia worker run --model PACKAGE`, or name one with "
                      "--worker ADDRESS --force")


def _not_chosen(entries: list[WorkerEntry], model_id: bytes) -> str:
    """Why each worker that runs here, recorded lately or can no longer record was passed
    over (the words after the count of active workers), at most five of them."""
    reasons: list[str] = []
    for entry in entries:
        dead = dead_key_reason(entry.worker)
        running = entry.heartbeat is not None or bool(entry.recent_models)
        if dead is not None and (running or entry.records or len(reasons) < 5):
            where = "runs here but its key is" if entry.heartbeat is not None else "is"
            reasons.append(f"worker {entry.signer} {where} {dead}")
        elif running and not entry.serves(model_id):
            reasons.append(f"worker {entry.signer} serves other models")
    return "; " + "; ".join(reasons[:5]) if reasons else ""
