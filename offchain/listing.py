"""Every registered model and worker, with their state (``attestia model list`` / ``worker
list``), read from the registry's events and current slots (nothing is sent).

A worker's liveness, as a client can judge it before paying: its on-chain state (active,
unbonding, revoked, slashed), its stake, and the time of its latest record (the signing time
of its newest ``InferenceRecorded``, or its newest batch commitment). A worker that has never
recorded anything, or not recently, may not be running.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from offchain.chain.contracts import Attestia
from offchain.chain.events import iter_events
from offchain.protocol import Model, Worker


def iso(timestamp: int | None) -> str | None:
    """A unix time as ISO 8601 in the local time zone (None stays None)."""
    if not timestamp:
        return None
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


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
                "registeredAt": iso(m.registeredAt), "metadataURI": m.metadataURI}


@dataclass(frozen=True)
class WorkerEntry:
    signer: str
    worker: Worker
    last_record_at: int | None
    records: int

    @property
    def state(self) -> str:
        return worker_state(self.worker)

    def to_json(self) -> dict[str, Any]:
        w = self.worker
        return {"signer": self.signer, "state": self.state, "operator": w.operator,
                "stakeWei": w.stake, "enclaveBound": w.enclave_bound,
                "registeredAt": iso(w.registeredAt), "unbondingAt": iso(w.unbondingAt),
                "revokedAt": iso(w.revokedAt), "slashedAt": iso(w.slashedAt),
                "records": self.records, "lastRecordAt": iso(self.last_record_at)}


def list_models(attestia: Attestia) -> list[ModelEntry]:
    """Every registered model, in registration order, with its current slot."""
    ids = dict.fromkeys(bytes(e["args"]["modelId"]) for e in iter_events(
        attestia.registry, "ModelRegistered", attestia.first_block))
    out = []
    for model_id in ids:
        model = attestia.reg.model(model_id)
        if model is not None:
            out.append(ModelEntry(model_id, model))
    return out


def list_workers(attestia: Attestia) -> list[WorkerEntry]:
    """Every registered worker key (newest registration first), with its slot, its record
    count and the time of its latest record or batch commitment (a liveness signal)."""
    last: dict[str, int] = {}
    count: dict[str, int] = {}
    for record in attestia.reg.recorded():
        signer = record.inference.worker
        last[signer] = max(last.get(signer, 0), int(record.inference.timestamp))
        count[signer] = count.get(signer, 0) + 1
    for batch in attestia.reg.batches():
        at = int(attestia.chain.w3.eth.get_block(batch.meta.block)["timestamp"])
        last[batch.worker] = max(last.get(batch.worker, 0), at)
        count[batch.worker] = count.get(batch.worker, 0) + batch.count
    signers = list(dict.fromkeys(e.signer for e in attestia.reg.workers_registered()))
    out = []
    for signer in reversed(signers):
        worker = attestia.reg.worker(signer)
        if worker is not None:
            out.append(WorkerEntry(signer, worker, last.get(signer), count.get(signer, 0)))
    return out
