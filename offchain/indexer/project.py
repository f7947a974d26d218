"""Decoded events -> rows. Pure: each function maps one event (as web3 decoded it, by argument
name; the records through ``offchain.registry``'s decoders) to the rows it adds.

No event updates an earlier row: a cancellation, a root's activation or a sweep is a row of
its own, so undoing a reorg is deleting rows by block (``schema.rollback_to``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Table

from offchain.indexer import schema as S
from offchain.indexer.decode import checksum as to_checksum_address
from offchain.protocol import DisputeState, FraudKind, OutputFraud, Split, from_abi
from offchain.registry import decode_batch_committed, decode_recorded, decode_requested

Row = tuple[Table, dict[str, Any]]


def hex32(value: Any) -> str:
    return "0x" + bytes(value).hex()


def plain(value: Any) -> Any:
    """An event argument as JSON: bytes as 0x hex, big integers as decimal strings."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else str(value)
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)


class Context:
    """Where an event sits, and the few earlier rows a projection needs (the requester of a
    record's request)."""

    def __init__(self, block: int, log_index: int, tx_hash: str, timestamp: int,
                 requester_of: Callable[[str], str | None]) -> None:
        self.block = block
        self.log_index = log_index
        self.tx_hash = tx_hash
        self.timestamp = timestamp
        self.requester_of = requester_of

    @property
    def at(self) -> dict[str, Any]:
        return {"block": self.block, "log_index": self.log_index}


def _model_registered(e: Any, c: Context) -> list[Row]:
    a = e["args"]
    split = from_abi(Split, a["split"])
    return [(S.models, {
        "model_id": hex32(a["modelId"]), "owner": to_checksum_address(a["owner"]),
        "content_hash": hex32(a["contentHash"]), "metadata_uri": str(a["metadataURI"]),
        "data_root": hex32(a["dataRoot"]),
        "contributors": [to_checksum_address(x) for x in a["contributors"]],
        "policy": int(a["policy"]), "fee": str(int(a["fee"])), "worker_bps": split.workerBps,
        "owner_bps": split.ownerBps, "registered_at": c.timestamp, "block": c.block,
        "tx_hash": c.tx_hash})]


def _model_change(kind: str) -> Callable[[Any, Context], list[Row]]:
    def project(e: Any, c: Context) -> list[Row]:
        a = e["args"]
        data = {k: plain(v) for k, v in a.items() if k != "modelId"}
        return [(S.model_changes, {"model_id": hex32(a["modelId"]), "kind": kind, "data": data,
                                   "timestamp": c.timestamp, **c.at})]
    return project


def _worker_change(kind: str) -> Callable[[Any, Context], list[Row]]:
    def project(e: Any, c: Context) -> list[Row]:
        a = e["args"]
        data = {k: plain(v) for k, v in a.items() if k != "signer"}
        return [(S.worker_changes, {"signer": to_checksum_address(a["signer"]), "kind": kind,
                                    "data": data, "timestamp": c.timestamp,
                                    "tx_hash": c.tx_hash, **c.at})]
    return project


def _requested(e: Any, c: Context) -> list[Row]:
    r = decode_requested(e)
    q = r.request
    return [(S.requests, {
        "request_id": hex32(r.request_id), "model_id": hex32(q.modelId),
        "worker": to_checksum_address(q.worker), "requester": to_checksum_address(q.requester),
        "fee": str(q.fee), "created_at": q.createdAt, "block": c.block, "tx_hash": c.tx_hash})]


def _closure(kind: str) -> Callable[[Any, Context], list[Row]]:
    def project(e: Any, c: Context) -> list[Row]:
        a = e["args"]
        return [(S.closures, {"request_id": hex32(a["requestId"]), "kind": kind,
                              "refund": str(int(a["refund"])), "reason": str(a.get("reason", "")),
                              "timestamp": c.timestamp, "block": c.block})]
    return project


def _recorded(e: Any, c: Context) -> list[Row]:
    r = decode_recorded(e)
    inf, pay = r.inference, r.payout
    rid = hex32(r.request_id)
    rows: list[Row] = [(S.records, {
        "request_id": rid, "model_id": hex32(inf.modelId), "worker": inf.worker,
        "requester": c.requester_of(rid), "input_commitment": hex32(inf.inputCommitment),
        "output_commitment": hex32(inf.outputCommitment),
        "attribution_hash": hex32(inf.attributionHash), "proof_kind": inf.proofKind,
        "proof_hash": hex32(inf.proofHash), "timestamp": inf.timestamp,
        "result_hash": hex32(inf.resultHash), "digest": hex32(r.digest), "epoch": pay.epoch,
        "worker_cut": str(pay.workerCut), "owner_cut": str(pay.ownerCut),
        "contributor_cut": str(pay.contributorCut), "tx_hash": c.tx_hash, **c.at})]
    for share in r.shares:
        rows.append((S.shares, {"record": rid, "model_id": hex32(inf.modelId),
                                "account": share.account, "bps": share.bps, "epoch": pay.epoch,
                                "timestamp": inf.timestamp, "pool": str(pay.contributorCut),
                                "block": c.block}))
    return rows


def _batch(e: Any, c: Context) -> list[Row]:
    b = decode_batch_committed(e)
    return [(S.batches, {
        "batch_id": hex32(b.batch_id), "model_id": hex32(b.model_id), "worker": b.worker,
        "root": hex32(b.root), "count": b.count, "epoch": b.epoch, "deposit": str(b.deposit),
        "data_uri": b.data_uri, "data_hash": hex32(b.data_hash), "timestamp": c.timestamp,
        "tx_hash": c.tx_hash, **c.at})]


def _batch_swept(e: Any, c: Context) -> list[Row]:
    a = e["args"]
    return [(S.batch_sweeps, {"batch_id": hex32(a["batchId"]), "epoch": int(a["epoch"]),
                              "deposit": str(int(a["deposit"])), "block": c.block})]


def _epoch_swept(e: Any, c: Context) -> list[Row]:
    a = e["args"]
    return [(S.epochs_swept, {"epoch": int(a["epoch"]), "amount": str(int(a["amount"])),
                              **c.at})]


def _root(kind: str) -> Callable[[Any, Context], list[Row]]:
    def project(e: Any, c: Context) -> list[Row]:
        a = e["args"]
        return [(S.roots, {"epoch": int(a["epoch"]), "kind": kind, "root": hex32(a["root"]),
                           "total": str(int(a.get("total", 0))),
                           "ready_at": int(a.get("readyAt", 0)), "timestamp": c.timestamp,
                           **c.at})]
    return project


def _claimed(e: Any, c: Context) -> list[Row]:
    a = e["args"]
    return [(S.claims, {"account": to_checksum_address(a["account"]), "epoch": int(a["epoch"]),
                        "amount": str(int(a["amount"])), "cumulative": str(int(a["cumulative"])),
                        "timestamp": c.timestamp, "tx_hash": c.tx_hash, **c.at})]


def _equivocation(e: Any, c: Context) -> list[Row]:
    a = e["args"]
    return [(S.slashes, {"worker": to_checksum_address(a["worker"]),
                         "request_id": hex32(a["requestId"]),
                         "reporter": to_checksum_address(a["reporter"]), "kind": "equivocation",
                         "data": {"digestA": hex32(a["digestA"]), "digestB": hex32(a["digestB"])},
                         "timestamp": c.timestamp, **c.at})]


def _slashed(e: Any, c: Context) -> list[Row]:
    a = e["args"]
    return [(S.slashes, {"worker": to_checksum_address(a["worker"]), "request_id": None,
                         "reporter": to_checksum_address(a["reporter"]), "kind": "slashed",
                         "data": {k: str(int(a[k])) for k in ("amount", "reporterReward",
                                                                 "treasuryAmount")},
                         "timestamp": c.timestamp, **c.at})]


def _dispute(e: Any, c: Context) -> list[Row]:
    """DisputeOpened / DisputeResponded / DisputeResolved (the Slasher's attribution disputes,
    issue 11): one row each; a record's dispute state is its latest row."""
    a = e["args"]
    if "outcome" in a:
        state = DisputeState(int(a["outcome"])).name.lower()
        data = {"kind": FraudKind(int(a["kind"])).name.lower(), "position": plain(a["position"]),
                "by": a["by"], "slashed": str(int(a["slashed"]))}
    elif "traceRoot" in a:
        state = "responded"
        data = {"traceRoot": hex32(a["traceRoot"]), "traceURI": str(a["traceURI"]),
                "proveBy": int(a["proveBy"])}
    else:
        state = "open"
        data = {"worker": a["worker"], "challenger": a["challenger"], "bond": str(int(a["bond"])),
                "label": plain(a["label"]), "respondBy": int(a["respondBy"])}
    return [(S.disputes, {"request_id": hex32(a["requestId"]), "state": state, "data": data,
                          "timestamp": c.timestamp, **c.at})]


def _output_dispute(e: Any, c: Context) -> list[Row]:
    """OutputDisputeOpened / OutputResponded / OutputDisputeResolved (issue 18): rows of the
    same table, keyed by the output dispute id, ``data.type = "output"`` and the record they
    are of (``data.recordId``)."""
    a = e["args"]
    if "outcome" in a:
        state = DisputeState(int(a["outcome"])).name.lower()
        data = {"kind": OutputFraud(int(a["kind"])).name.lower(), "layer": int(a["layer"]),
                "neuron": int(a["neuron"]), "by": a["by"], "slashed": str(int(a["slashed"]))}
    elif "hidden" in a:
        state = "responded"
        data = {"responder": a["responder"], "proveBy": int(a["proveBy"])}
    else:
        state = "open"
        data = {"worker": a["worker"], "challenger": a["challenger"], "bond": str(int(a["bond"])),
                "logits": [str(int(v)) for v in a["logits"]], "respondBy": int(a["respondBy"])}
    if "recordId" in a:
        data["recordId"] = hex32(a["recordId"])
    data["type"] = "output"
    return [(S.disputes, {"request_id": hex32(a["disputeId"]), "state": state, "data": data,
                          "timestamp": c.timestamp, **c.at})]


PROJECTIONS: dict[tuple[str, str], Callable[[Any, Context], list[Row]]] = {
    ("InferenceRegistry", "ModelRegistered"): _model_registered,
    ("InferenceRegistry", "ModelTermsUpdated"): _model_change("terms"),
    ("InferenceRegistry", "ModelVerifierUpdated"): _model_change("verifier"),
    ("InferenceRegistry", "ModelDeprecated"): _model_change("deprecated"),
    ("InferenceRegistry", "ModelRevoked"): _model_change("revoked"),
    ("InferenceRegistry", "WorkerRegistered"): _worker_change("registered"),
    ("InferenceRegistry", "EncryptionKeyUpdated"): _worker_change("key"),
    ("InferenceRegistry", "StakeAdded"): _worker_change("stake-added"),
    ("InferenceRegistry", "UnbondingStarted"): _worker_change("unbonding"),
    ("InferenceRegistry", "StakeWithdrawn"): _worker_change("withdrawn"),
    ("InferenceRegistry", "EnclaveBound"): _worker_change("enclave"),
    ("InferenceRegistry", "WorkerRevoked"): _worker_change("revoked"),
    ("InferenceRegistry", "WorkerSlashed"): _worker_change("slashed"),
    ("InferenceRegistry", "InferenceRequested"): _requested,
    ("InferenceRegistry", "RequestCancelled"): _closure("cancelled"),
    ("InferenceRegistry", "RequestRejected"): _closure("rejected"),
    ("InferenceRegistry", "InferenceRecorded"): _recorded,
    ("InferenceRegistry", "BatchCommitted"): _batch,
    ("InferenceRegistry", "BatchSwept"): _batch_swept,
    ("InferenceRegistry", "EpochSwept"): _epoch_swept,
    ("RewardDistributor", "RootProposed"): _root("proposed"),
    ("RewardDistributor", "RootCancelled"): _root("cancelled"),
    ("RewardDistributor", "RootActivated"): _root("activated"),
    ("RewardDistributor", "Claimed"): _claimed,
    ("Slasher", "EquivocationProven"): _equivocation,
    ("Slasher", "Slashed"): _slashed,
    ("Slasher", "DisputeOpened"): _dispute,
    ("Slasher", "DisputeResponded"): _dispute,
    ("Slasher", "DisputeResolved"): _dispute,
    ("Slasher", "OutputDisputeOpened"): _output_dispute,
    ("Slasher", "OutputResponded"): _output_dispute,
    ("Slasher", "OutputDisputeResolved"): _output_dispute,
}
"""(contract, event) -> its typed rows. Events not listed (Withdrawn, Funded, measurement
governance, ...) are kept in ``events`` only."""


def rows_of(contract: str, name: str, event: Any, context: Context) -> list[Row]:
    """The ``events`` row of a decoded log, then its typed rows."""
    rows: list[Row] = [(S.events, {
        "contract": contract, "name": name, "tx_hash": context.tx_hash,
        "timestamp": context.timestamp,
        "args": {k: plain(v) for k, v in event["args"].items()}, **context.at})]
    project = PROJECTIONS.get((contract, name))
    if project is not None:
        rows += project(event, context)
    return rows
