"""Reads over the indexed database, as JSON-ready dicts (the API returns them, the pages render
them). Every parameter arrives validated (``offchain.explorer.params``); nothing here talks to
the chain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.engine import Connection

from offchain.indexer import schema as S
from offchain.protocol import (
    PROOF_KIND_NAMES,
    Inference,
    Split,
    epoch_end,
    kinds_of,
    leaf_dispute_id,
    leaf_hash,
    output_dispute_id,
    proof_kind_name,
    share_of,
)
from offchain.rewards.settlement import PoolShare, build_tree, cumulative_rewards

MAX_LIMIT = 100
DEFAULT_LIMIT = 25


class NotFound(LookupError):
    """The id is well formed but nothing on the indexed chain has it."""


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None

    def to_json(self) -> dict[str, Any]:
        return {"items": self.items, "nextCursor": self.next_cursor}


def _wei(value: Any) -> int:
    return int(value) if value is not None else 0


# -- status ----------------------------------------------------------------------------------

def status(conn: Connection) -> dict[str, Any]:
    current = S.read_cursor(conn)
    return {
        "chainId": _int_or_none(S.get_meta(conn, "chain_id")),
        "registry": S.get_meta(conn, "registry"),
        "indexedBlock": current[0] if current else None,
        "indexedHash": current[1] if current else None,
        "records": _count(conn, S.records),
        "batches": _count(conn, S.batches),
        "models": _count(conn, S.models),
        "workers": int(conn.execute(select(func.count(func.distinct(
            S.worker_changes.c.signer)))).scalar() or 0),
        "contributors": int(conn.execute(select(func.count(func.distinct(
            S.shares.c.account)))).scalar() or 0),
    }


def chain_time(conn: Connection) -> int | None:
    """The chain's time as indexed: the timestamp of the last block written (deadlines and
    timelocks are compared with block time, not the server's clock)."""
    current = S.read_cursor(conn)
    return None if current is None else block_time(conn, current[0])


def block_time(conn: Connection, number: int) -> int | None:
    """The timestamp of indexed block ``number`` (None: not indexed, or rolled back)."""
    stamp = conn.execute(select(S.blocks.c.timestamp).where(
        S.blocks.c.number == number)).scalar()
    return None if stamp is None else int(stamp)


def _int_or_none(value: str | None) -> int | None:
    return None if value is None else int(value)


def _count(conn: Connection, table: Any, *where: Any) -> int:
    query = select(func.count()).select_from(table)
    for clause in where:
        query = query.where(clause)
    return int(conn.execute(query).scalar() or 0)


# -- records ---------------------------------------------------------------------------------

def _revoked_clause() -> Any:
    r = S.records.c
    return or_(
        exists().where(and_(S.model_changes.c.model_id == r.model_id,
                            S.model_changes.c.kind == "revoked")),
        exists().where(and_(S.worker_changes.c.signer == r.worker,
                            S.worker_changes.c.kind.in_(("revoked", "slashed")))),
    )


def _disputed_clause() -> Any:
    """An attribution dispute (keyed by the record's id) or an output dispute (keyed by its
    own id; its opening row names the record in ``data.recordId``)."""
    d = S.disputes.c
    return or_(exists().where(d.request_id == S.records.c.request_id),
               exists().where(d.data["recordId"].as_string() == S.records.c.request_id))


def record_summary(row: Any, revoked: bool = False, disputed: bool = False) -> dict[str, Any]:
    return {
        "requestId": row.request_id, "modelId": row.model_id, "worker": row.worker,
        "requester": row.requester, "proofKind": proof_kind_name(int(row.proof_kind)),
        "timestamp": int(row.timestamp), "epoch": int(row.epoch), "block": int(row.block),
        "txHash": row.tx_hash, "fee": str(_wei(row.worker_cut) + _wei(row.owner_cut)
                                          + _wei(row.contributor_cut)),
        "status": "disputed" if disputed else ("revoked" if revoked else "valid"),
    }


def list_records(conn: Connection, *, model: str | None = None, worker: str | None = None,
                 contributor: str | None = None, requester: str | None = None,
                 proof: int | None = None, epoch: int | None = None, status: str | None = None,
                 limit: int = DEFAULT_LIMIT, cursor: tuple[int, int] | None = None) -> Page:
    """Single records, newest first (by chain position), ``limit`` per page; ``cursor`` is
    the position of the last record of the previous page."""
    r = S.records.c
    revoked, disputed = _revoked_clause(), _disputed_clause()
    query = select(S.records, revoked.label("revoked"), disputed.label("disputed"))
    if model is not None:
        query = query.where(r.model_id == model)
    if worker is not None:
        query = query.where(r.worker == worker)
    if requester is not None:
        query = query.where(r.requester == requester)
    if contributor is not None:
        query = query.where(exists().where(and_(S.shares.c.record == r.request_id,
                                                S.shares.c.account == contributor)))
    if proof is not None:
        query = query.where(r.proof_kind == proof)
    if epoch is not None:
        query = query.where(r.epoch == epoch)
    if status == "revoked":
        query = query.where(revoked)
    elif status == "valid":
        query = query.where(~revoked).where(~disputed)
    elif status == "disputed":
        query = query.where(disputed)
    if cursor is not None:
        block, index = cursor
        query = query.where(or_(r.block < block, and_(r.block == block, r.log_index < index)))
    rows = conn.execute(query.order_by(r.block.desc(), r.log_index.desc())
                        .limit(limit + 1)).all()
    items = [record_summary(row, bool(row.revoked), bool(row.disputed)) for row in rows[:limit]]
    following = None
    if len(rows) > limit:
        last = rows[limit - 1]
        following = f"{int(last.block)}-{int(last.log_index)}"
    return Page(items, following)


def get_record(conn: Connection, request_id: str) -> dict[str, Any]:
    """A single record or a batch leaf by its request id, with its attribution list."""
    row = conn.execute(select(S.records, _revoked_clause().label("revoked"),
                              _disputed_clause().label("disputed"))
                       .where(S.records.c.request_id == request_id)).first()
    dispute_id = request_id  # a batch leaf's dispute goes by its leaf dispute id
    if row is not None:
        out = record_summary(row, bool(row.revoked), bool(row.disputed))
        out |= {
            "kind": "single", "batchId": None, "leafIndex": None,
            "inference": {
                "requestId": row.request_id, "modelId": row.model_id,
                "inputCommitment": row.input_commitment,
                "outputCommitment": row.output_commitment,
                "attributionHash": row.attribution_hash, "proofKind": int(row.proof_kind),
                "proofHash": row.proof_hash, "worker": row.worker,
                "timestamp": int(row.timestamp), "resultHash": row.result_hash},
            "digest": row.digest,
            "payout": {"epoch": int(row.epoch), "workerCut": row.worker_cut,
                       "ownerCut": row.owner_cut, "contributorCut": row.contributor_cut},
            "shares": _shares(conn, request_id, int(row.contributor_cut)),
        }
    else:
        leaf = conn.execute(select(S.leaves, S.batches.c.epoch, S.batches.c.tx_hash)
                            .join(S.batches, S.batches.c.batch_id == S.leaves.c.batch_id)
                            .where(S.leaves.c.request_id == request_id)
                            .order_by(S.leaves.c.block.desc())).first()
        if leaf is None:
            raise NotFound(f"no record or batch leaf has request id {request_id}")
        label = f"batch:{leaf.batch_id}:{int(leaf.leaf_index)}"
        dispute_id = "0x" + leaf_dispute_id(bytes.fromhex(leaf.batch_id[2:]), leaf_hash(
            Inference.from_json(leaf.inference))).hex()
        out = {
            "requestId": request_id, "modelId": leaf.model_id, "worker": leaf.worker,
            "requester": None, "proofKind": proof_kind_name(int(leaf.proof_kind)),
            "timestamp": int(leaf.timestamp), "epoch": int(leaf.epoch),
            "block": int(leaf.block), "txHash": leaf.tx_hash, "fee": leaf.fee,
            "status": "valid", "kind": "batch-leaf", "batchId": leaf.batch_id,
            "leafIndex": int(leaf.leaf_index), "inference": leaf.inference, "digest": None,
            "payout": {"epoch": int(leaf.epoch), "contributorCut": leaf.pool},
            "shares": _shares(conn, label, int(leaf.pool)),
        }
    rows = conn.execute(select(S.disputes).where(S.disputes.c.request_id == dispute_id)
                        .order_by(S.disputes.c.block, S.disputes.c.log_index)).all()
    out["dispute"] = _dispute_json(rows)
    if out["dispute"] is not None and row is None:
        out["status"] = "disputed"
        out["dispute"]["disputeId"] = dispute_id
    # Its answer's dispute (issue 18), keyed by the output dispute id of the same record id.
    output_id = "0x" + output_dispute_id(bytes.fromhex(dispute_id[2:])).hex()
    rows = conn.execute(select(S.disputes).where(S.disputes.c.request_id == output_id)
                        .order_by(S.disputes.c.block, S.disputes.c.log_index)).all()
    out["outputDispute"] = _dispute_json(rows)
    if out["outputDispute"] is not None:
        out["outputDispute"]["disputeId"] = output_id
        if out["status"] == "valid":
            out["status"] = "disputed"
    request = conn.execute(select(S.requests).where(S.requests.c.request_id == request_id)
                           ).first()
    out["request"] = None if request is None else {
        "requester": request.requester, "fee": request.fee,
        "createdAt": int(request.created_at), "block": int(request.block),
        "txHash": request.tx_hash}
    return out


# -- disputes --------------------------------------------------------------------------------

RESOLVED = ("fraud", "no_response", "worker_won")


def _dispute_json(rows: Sequence[Any]) -> dict[str, Any] | None:
    """A record's latest dispute from its rows (oldest first): opened by whom with what bond,
    where it stands (``state``, the CLI's words: open, responded, fraud, no_response,
    worker_won), and the deadline of its next step (``respondBy`` while open, ``proveBy``
    once answered; none once resolved). None: never disputed."""
    opened = [i for i, row in enumerate(rows) if row.state == "open"]
    if not opened:
        return None
    game = rows[opened[-1]:]
    first, latest = game[0], game[-1]
    output = first.data.get("type") == "output"
    out: dict[str, Any] = {
        "requestId": first.data.get("recordId", first.request_id) if output
        else first.request_id, "type": "output" if output else "attribution",
        "state": latest.state,
        "worker": first.data.get("worker"), "challenger": first.data.get("challenger"),
        "bond": str(first.data.get("bond", "0")), "label": first.data.get("label"),
        "openedAt": int(first.timestamp), "respondBy": first.data.get("respondBy"),
        "proveBy": None, "traceRoot": None, "traceURI": None, "resolvedAt": None,
        "fraud": None, "slashed": None, "resolvedBy": None,
        "timestamp": int(latest.timestamp), "block": int(latest.block), "data": latest.data}
    for row in game[1:]:
        if row.state == "responded":
            out |= {"proveBy": row.data.get("proveBy"), "traceRoot": row.data.get("traceRoot"),
                    "traceURI": row.data.get("traceURI")}
        elif row.state in RESOLVED:
            kind = row.data.get("kind")
            out |= {"resolvedAt": int(row.timestamp), "slashed": row.data.get("slashed"),
                    "fraud": None if kind in (None, "none") else kind,
                    "resolvedBy": row.data.get("by")}
            if kind == "neuron":
                out["neuron"] = {"layer": row.data.get("layer"),
                                 "neuron": row.data.get("neuron")}
    out["deadline"] = (out["respondBy"] if latest.state == "open" else
                       out["proveBy"] if latest.state == "responded" else None)
    return out


def list_disputes(conn: Connection, *, limit: int = DEFAULT_LIMIT,
                  cursor: tuple[int, int] | None = None) -> Page:
    """Disputes, newest opened first (``limit`` per page, ``cursor`` as the records')."""
    d = S.disputes.c
    query = select(d.request_id, d.block, d.log_index).where(d.state == "open")
    if cursor is not None:
        query = query.where(or_(d.block < cursor[0],
                                and_(d.block == cursor[0], d.log_index < cursor[1])))
    opened = conn.execute(query.order_by(d.block.desc(), d.log_index.desc())
                          .limit(limit + 1)).all()
    shown = opened[:limit]
    by_request: dict[str, list[Any]] = defaultdict(list)
    ids = sorted({row.request_id for row in shown})
    for row in conn.execute(select(S.disputes).where(d.request_id.in_(ids))
                            .order_by(d.block, d.log_index)):
        by_request[row.request_id].append(row)
    items = []
    for row in shown:
        start, end = _position(row), _later_open(by_request[row.request_id], row)
        game = [r for r in by_request[row.request_id]
                if start <= _position(r) and (end is None or _position(r) < end)]
        dispute = _dispute_json(game)
        if dispute is not None:
            items.append(dispute)
    following = None
    if len(opened) > limit:
        following = f"{int(shown[-1].block)}-{int(shown[-1].log_index)}"
    return Page(items, following)


def _position(row: Any) -> tuple[int, int]:
    return int(row.block), int(row.log_index)


def _later_open(rows: list[Any], opened: Any) -> tuple[int, int] | None:
    """The position of the next dispute of the same record after ``opened`` (None: none)."""
    later = [_position(r) for r in rows if r.state == "open" and _position(r) > _position(opened)]
    return min(later) if later else None


def _shares(conn: Connection, record: str, pool: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(S.shares.c.account, S.shares.c.bps)
                        .where(S.shares.c.record == record)).all()
    return [{"account": a, "bps": int(b), "percent": int(b) / 100,
             "amount": str(share_of(pool, int(b)))}
            for a, b in sorted(rows, key=lambda r: int(r[0], 16))]


# -- models ----------------------------------------------------------------------------------

def _model_state(changes: Iterable[Any]) -> str:
    kinds = {c.kind for c in changes}
    return "revoked" if "revoked" in kinds else "deprecated" if "deprecated" in kinds \
        else "active"


def _model_json(conn: Connection, row: Any) -> dict[str, Any]:
    changes = conn.execute(select(S.model_changes).where(
        S.model_changes.c.model_id == row.model_id).order_by(
        S.model_changes.c.block, S.model_changes.c.log_index)).all()
    fee, policy = int(row.fee), int(row.policy)
    worker_bps, owner_bps = int(row.worker_bps), int(row.owner_bps)
    for change in changes:
        if change.kind == "terms":
            fee = int(change.data.get("fee", fee))
            policy = int(change.data.get("policy", policy))
            split = change.data.get("split", {})
            worker_bps = int(split.get("workerBps", worker_bps))
            owner_bps = int(split.get("ownerBps", owner_bps))
    return {
        "modelId": row.model_id, "owner": row.owner, "contentHash": row.content_hash,
        "metadataURI": row.metadata_uri, "dataRoot": row.data_root,
        "contributors": list(row.contributors), "fee": str(fee),
        "proofKinds": kinds_of(policy),
        "split": asdict(Split.of(worker_bps, owner_bps)),
        "registeredAt": int(row.registered_at), "block": int(row.block),
        "state": _model_state(changes),
        "records": _count(conn, S.records, S.records.c.model_id == row.model_id),
        "batches": _count(conn, S.batches, S.batches.c.model_id == row.model_id),
        "history": [{"kind": c.kind, "data": c.data, "timestamp": int(c.timestamp),
                     "block": int(c.block)} for c in changes],
    }


def list_models(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(S.models).order_by(S.models.c.block.desc())).all()
    return [_model_json(conn, row) for row in rows]


def get_model(conn: Connection, model_id: str) -> dict[str, Any]:
    row = conn.execute(select(S.models).where(S.models.c.model_id == model_id)).first()
    if row is None:
        raise NotFound(f"no model {model_id} is registered")
    out = _model_json(conn, row)
    totals = conn.execute(
        select(S.shares.c.account, func.sum(S.shares.c.bps), func.count())
        .where(S.shares.c.model_id == model_id).group_by(S.shares.c.account)).all()
    by_account = {a: (int(s), int(n)) for a, s, n in totals}
    count = out["records"] + int(conn.execute(select(func.count()).select_from(S.leaves).where(
        S.leaves.c.model_id == model_id)).scalar() or 0)
    out["roster"] = [{"account": a, "records": by_account.get(a, (0, 0))[1],
                      "meanPercent": (by_account.get(a, (0, 0))[0] / count / 100) if count
                      else 0.0}
                     for a in out["contributors"]]
    out["recordsPerDay"] = _per_day(conn, S.records.c.timestamp,
                                    S.records.c.model_id == model_id)
    return out


def _per_day(conn: Connection, column: Any, where: Any) -> list[dict[str, Any]]:
    counts: dict[int, int] = defaultdict(int)  # bucketed here: one query for both databases
    for (ts,) in conn.execute(select(column).where(where)):
        counts[int(ts) // 86_400] += 1
    return [{"day": d * 86_400, "records": n} for d, n in sorted(counts.items())]


# -- workers ---------------------------------------------------------------------------------

def list_workers(conn: Connection) -> list[dict[str, Any]]:
    signers = conn.execute(select(S.worker_changes.c.signer, func.min(S.worker_changes.c.block))
                           .group_by(S.worker_changes.c.signer)
                           .order_by(func.min(S.worker_changes.c.block).desc())).all()
    return [_worker_json(conn, signer) for signer, _ in signers]


def _worker_json(conn: Connection, signer: str) -> dict[str, Any]:
    changes = conn.execute(select(S.worker_changes).where(S.worker_changes.c.signer == signer)
                           .order_by(S.worker_changes.c.block, S.worker_changes.c.log_index)
                           ).all()
    kinds = [c.kind for c in changes]
    state = ("slashed" if "slashed" in kinds else "revoked" if "revoked" in kinds
             else "unbonding" if "unbonding" in kinds and kinds[-1] != "registered"
             else "active")
    enclave = [c for c in changes if c.kind == "enclave"]
    operator = next((c.data.get("operator") for c in changes if c.kind == "registered"), None)
    return {
        "signer": signer, "operator": operator, "state": state,
        "records": _count(conn, S.records, S.records.c.worker == signer),
        "batches": _count(conn, S.batches, S.batches.c.worker == signer),
        "enclave": None if not enclave else {
            "measurement": enclave[-1].data.get("measurement"),
            "attestationHash": enclave[-1].data.get("attestationHash"),
            "attestationURI": enclave[-1].data.get("attestationURI"),
            "boundAt": int(enclave[-1].timestamp)},
        "history": [{"kind": c.kind, "data": c.data, "timestamp": int(c.timestamp),
                     "block": int(c.block), "txHash": c.tx_hash} for c in changes],
        "slashes": [{"kind": s.kind, "requestId": s.request_id, "reporter": s.reporter,
                     "data": s.data, "timestamp": int(s.timestamp)}
                    for s in conn.execute(select(S.slashes).where(
                        S.slashes.c.worker == signer))],
    }


def get_worker(conn: Connection, signer: str) -> dict[str, Any]:
    if not conn.execute(select(S.worker_changes.c.signer).where(
            S.worker_changes.c.signer == signer)).first():
        raise NotFound(f"no worker key {signer} is registered")
    return _worker_json(conn, signer)


# -- contributors ----------------------------------------------------------------------------

def get_contributor(conn: Connection, account: str, *, limit: int = 200) -> dict[str, Any]:
    """Attribution share per record (newest first, ``limit`` of them), attributed earnings
    per epoch, and claims."""
    rows = conn.execute(select(S.shares).where(S.shares.c.account == account)
                        .order_by(S.shares.c.timestamp.desc(), S.shares.c.record)).all()
    claims = conn.execute(select(S.claims).where(S.claims.c.account == account)
                          .order_by(S.claims.c.block)).all()
    if not rows and not claims:
        raise NotFound(f"{account} has no attribution and no claim on the indexed chain")
    per_epoch: dict[int, int] = defaultdict(int)
    per_model: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        per_epoch[int(row.epoch)] += share_of(int(row.pool), int(row.bps))
        per_model[row.model_id].append(int(row.bps))
    shown = rows[:limit]
    leaves = _leaf_ids(conn, [row.record for row in shown])
    return {
        "account": account,
        "records": len(rows),
        "attributions": [{"record": row.record, "requestId": leaves.get(row.record, row.record),
                          "modelId": row.model_id, "bps": int(row.bps),
                          "percent": int(row.bps) / 100, "epoch": int(row.epoch),
                          "timestamp": int(row.timestamp),
                          "amount": str(share_of(int(row.pool), int(row.bps)))}
                         for row in shown],
        "earningsPerEpoch": [{"epoch": e, "amount": str(a)} for e, a in sorted(per_epoch.items())],
        "earned": str(sum(per_epoch.values())),
        "models": [{"modelId": m, "records": len(b), "meanPercent": sum(b) / len(b) / 100}
                   for m, b in per_model.items()],
        "claims": [{"epoch": int(c.epoch), "amount": c.amount, "cumulative": c.cumulative,
                    "timestamp": int(c.timestamp), "txHash": c.tx_hash} for c in claims],
        "claimed": str(max((int(c.cumulative) for c in claims), default=0)),
    }


def _leaf_ids(conn: Connection, labels: list[str]) -> dict[str, str]:
    """``batch:0x<batchId>:<index>`` -> the leaf's request id (its record page), for the
    batch leaves among ``labels``."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for label in labels:
        if label.startswith("batch:"):
            _, batch, index = label.split(":")
            wanted[batch].add(int(index))
    out: dict[str, str] = {}
    for batch, indexes in wanted.items():
        for index, rid in conn.execute(select(S.leaves.c.leaf_index, S.leaves.c.request_id)
                                       .where(S.leaves.c.batch_id == batch)
                                       .where(S.leaves.c.leaf_index.in_(sorted(indexes)))):
            out[f"batch:{batch}:{int(index)}"] = str(rid)
    return out


def cumulative_through(conn: Connection, epoch: int) -> tuple[dict[str, int], str | None]:
    """Every contributor's cumulative reward through ``epoch`` recomputed from the index
    (single records and the leaves of batch files that passed), with the root of that
    settlement (``offchain.rewards.settlement``: the same rules the settler uses)."""
    by_record: dict[str, list[tuple[str, int]]] = defaultdict(list)
    pools: dict[str, tuple[int, int]] = {}
    for row in conn.execute(select(S.shares.c.record, S.shares.c.account, S.shares.c.bps,
                                   S.shares.c.pool, S.shares.c.epoch)
                            .where(S.shares.c.epoch <= epoch)):
        by_record[row.record].append((row.account, int(row.bps)))
        pools[row.record] = (int(row.epoch), int(row.pool))
    records = [PoolShare(pools[k][0], pools[k][1], tuple(v), k) for k, v in by_record.items()]
    cumulative = cumulative_rewards(records, epoch)
    root = build_tree(cumulative).root.lower() if cumulative else None
    return cumulative, root


# -- batches ---------------------------------------------------------------------------------

def _batch_json(row: Any, file: Any, swept: bool) -> dict[str, Any]:
    return {
        "batchId": row.batch_id, "modelId": row.model_id, "worker": row.worker,
        "root": row.root, "count": int(row.count), "epoch": int(row.epoch),
        "deposit": row.deposit, "dataURI": row.data_uri, "dataHash": row.data_hash,
        "timestamp": int(row.timestamp), "block": int(row.block), "txHash": row.tx_hash,
        "swept": swept,
        "file": None if file is None else {"status": file.status, "check": file.check or None,
                                           "reason": file.reason or None,
                                           "checkedAt": int(file.fetched_at)},
    }


def list_batches(conn: Connection, *, limit: int = DEFAULT_LIMIT,
                 cursor: tuple[int, int] | None = None, model: str | None = None,
                 worker: str | None = None) -> Page:
    b = S.batches.c
    swept = exists().where(S.batch_sweeps.c.batch_id == b.batch_id)
    query = select(S.batches, swept.label("swept"), S.batch_files.c.status,
                   S.batch_files.c.check, S.batch_files.c.reason,
                   S.batch_files.c.fetched_at).outerjoin(
        S.batch_files, S.batch_files.c.batch_id == b.batch_id)
    if model is not None:
        query = query.where(b.model_id == model)
    if worker is not None:
        query = query.where(b.worker == worker)
    if cursor is not None:
        query = query.where(or_(b.block < cursor[0],
                                and_(b.block == cursor[0], b.log_index < cursor[1])))
    rows = conn.execute(query.order_by(b.block.desc(), b.log_index.desc())
                        .limit(limit + 1)).all()
    items = [_batch_json(r, r if r.status is not None else None, bool(r.swept))
             for r in rows[:limit]]
    following = None
    if len(rows) > limit:
        following = f"{int(rows[limit - 1].block)}-{int(rows[limit - 1].log_index)}"
    return Page(items, following)


def get_batch(conn: Connection, batch_id: str) -> dict[str, Any]:
    row = conn.execute(select(S.batches).where(S.batches.c.batch_id == batch_id)).first()
    if row is None:
        raise NotFound(f"no batch {batch_id} is committed")
    file = conn.execute(select(S.batch_files).where(S.batch_files.c.batch_id == batch_id)
                        ).first()
    swept = conn.execute(select(S.batch_sweeps.c.batch_id).where(
        S.batch_sweeps.c.batch_id == batch_id)).first() is not None
    return _batch_json(row, file, swept)


def batch_check(conn: Connection, batch_id: str) -> dict[str, Any] | None:
    """The stored check of a batch's file in full (``BatchCheck.to_json``), None before the
    first."""
    detail = conn.execute(select(S.batch_checks.c.detail).where(
        S.batch_checks.c.batch_id == batch_id)).scalar()
    return None if detail is None else dict(detail)


# -- epochs ----------------------------------------------------------------------------------

def root_state(status: str, ready_at: int, now: int | None, claimable: bool) -> str:
    """A reward root's state in ``attestia rewards status``'s words: cancelled, claimable (the
    root claims are checked against now), pending (its timelock runs), or superseded (a newer
    root covers it: roots are cumulative)."""
    if status == "cancelled":
        return "cancelled"
    if claimable:
        return "claimable"
    if status == "proposed" and (now is None or ready_at > now):
        return "pending"
    return "superseded"


def list_epochs(conn: Connection, *, genesis: int | None = None,
                epoch_length: int | None = None) -> list[dict[str, Any]]:
    """Per epoch: its start and end (``startsAt``/``endsAt``, unix seconds, when the
    registry's ``genesis`` and ``epoch_length`` are given, else None), records, contributor
    pools (single records), batch deposits, what was swept, and its reward roots (each with
    its state as ``attestia rewards status`` words it, as of the indexed chain time)."""
    out: dict[int, dict[str, Any]] = {}

    def entry(epoch: int) -> dict[str, Any]:
        return out.setdefault(epoch, {"epoch": epoch, "records": 0, "pool": 0, "batches": 0,
                                      "deposits": 0, "swept": 0, "roots": []})

    for epoch, cut in conn.execute(select(S.records.c.epoch, S.records.c.contributor_cut)):
        e = entry(int(epoch))  # wei are strings (uint256): summed here, exactly
        e["records"] += 1
        e["pool"] += int(cut)
    for row in conn.execute(select(S.batches.c.epoch, S.batches.c.deposit)):
        e = entry(int(row.epoch))
        e["batches"] += 1
        e["deposits"] += int(row.deposit)
    for row in conn.execute(select(S.epochs_swept)):
        entry(int(row.epoch))["swept"] += int(row.amount)
    for row in conn.execute(select(S.batch_sweeps)):
        entry(int(row.epoch))["swept"] += int(row.deposit)
    roots: dict[tuple[int, str], dict[str, Any]] = {}
    for row in conn.execute(select(S.roots).order_by(S.roots.c.block, S.roots.c.log_index)):
        key = (int(row.epoch), row.root)
        if row.kind == "proposed":
            roots[key] = {"root": row.root, "total": row.total, "readyAt": int(row.ready_at),
                          "proposedAt": int(row.timestamp), "status": "proposed"}
        elif key in roots:
            roots[key]["status"] = row.kind
    now = chain_time(conn)
    ready = [key for key, r in roots.items() if r["status"] != "cancelled"
             and (r["status"] == "activated" or (now is not None and r["readyAt"] <= now))]
    claimable = max(ready) if ready else None
    for key, root in roots.items():
        root["state"] = root_state(root.pop("status"), root["readyAt"], now, key == claimable)
        entry(key[0])["roots"].append(root)
    for e in out.values():
        for amount in ("pool", "deposits", "swept"):
            e[amount] = str(e[amount])
        e["startsAt"] = e["endsAt"] = None
        if genesis is not None and epoch_length:
            e["startsAt"] = genesis + e["epoch"] * epoch_length
            e["endsAt"] = epoch_end(e["epoch"], genesis, epoch_length)
    return [out[k] for k in sorted(out, reverse=True)]


# -- search ----------------------------------------------------------------------------------

SEARCH_LIMIT = 20
"""Matches a search lists at most (``more`` says when there were others)."""

_ID_COLUMNS = (("record", S.records.c.request_id), ("record", S.leaves.c.request_id),
               ("model", S.models.c.model_id), ("batch", S.batches.c.batch_id))
_ADDRESS_COLUMNS = (("worker", S.worker_changes.c.signer), ("contributor", S.shares.c.account),
                    ("contributor", S.claims.c.account), ("requester", S.records.c.requester))


def _prefix(column: Any, digits: str) -> Any:
    """``column`` (lower-case 0x hex) starts with ``digits``: a range, so the index serves it
    on both databases (hex digits sort below "g")."""
    return and_(column >= "0x" + digits, column < "0x" + digits + "g")


def _target(contract: str, name: str, args: dict[str, Any],
            recorded: Callable[[str], bool]) -> tuple[str, str] | None:
    """The page a transaction's event names: (kind, id), None for an event with no page of
    its own."""
    if "requestId" in args and contract == "Slasher" and name.startswith("Dispute"):
        return "dispute", str(args["requestId"])
    if "recordId" in args and contract == "Slasher" and name.startswith("Output"):
        rid = str(args["recordId"])
        return ("record", rid) if recorded(rid) else ("dispute", str(args["disputeId"]))
    if "requestId" in args:
        rid = str(args["requestId"])
        return ("record", rid) if recorded(rid) else ("request", rid)
    if "batchId" in args:
        return "batch", str(args["batchId"])
    if "modelId" in args:
        return "model", str(args["modelId"])
    if "signer" in args:
        return "worker", str(args["signer"])
    if name == "Claimed":
        return "contributor", str(args["account"])
    if ("epoch" in args and contract == "RewardDistributor") or name == "EpochSwept":
        return "epoch", str(int(args["epoch"]))
    return None


def search(conn: Connection, query: tuple[str, str, int]) -> dict[str, Any]:
    """What ``query`` (``params.search_text``) names: every record, batch leaf, model, batch,
    worker, contributor, requester or transaction whose id, address or hash is it or starts
    with it. ``{"matches": [{kind, id, what, txHash?}], "more": bool}``; raises NotFound for
    none."""
    kind, digits, index = query
    found: dict[tuple[str, str], dict[str, Any]] = {}

    def add(kind: str, key: str, what: str, **extra: Any) -> None:
        found.setdefault((kind, key), {"kind": kind, "id": key, "what": what, **extra})

    if kind == "leaf":
        leaf = conn.execute(select(S.leaves.c.request_id).where(and_(
            S.leaves.c.batch_id == digits, S.leaves.c.leaf_index == index))).scalar()
        if leaf is None:
            raise NotFound(f"nothing found: no batch leaf batch:{digits}:{index} on the "
                           "indexed chain")
        return {"matches": [{"kind": "record", "id": str(leaf), "what": "batch leaf"}],
                "more": False}
    room = SEARCH_LIMIT + 1
    # every id and hash has 64 digits: any query may be one, or start one
    for what, column in _ID_COLUMNS:
        for (key,) in conn.execute(select(column).where(_prefix(column, digits))
                                   .distinct().limit(room)):
            add(what, str(key), "batch leaf" if column is S.leaves.c.request_id else what)
    recorded_ids = {k for (kind_, k) in found if kind_ == "record"}

    def recorded(rid: str) -> bool:
        if rid in recorded_ids:
            return True
        return any(conn.execute(select(c).where(c == rid).limit(1)).first()
                   for c in (S.records.c.request_id, S.leaves.c.request_id))

    e = S.events.c
    rows = conn.execute(select(e.tx_hash, e["contract"], e.name, e.args)  # (a column)
                        .where(_prefix(e.tx_hash, digits))
                        .order_by(e.block, e.log_index).limit(room * 4)).all()
    for tx, contract, name, args in rows:
        target = _target(contract, name, dict(args or {}), recorded)
        if target is None:
            add("transaction", str(tx), f"transaction: {contract}.{name}", txHash=tx,
                event=name)
        else:
            add(*target, f"transaction: {contract}.{name}", txHash=tx, event=name)
    if len(digits) <= 40:
        pattern = "0x" + digits + "%"
        for what, column in _ADDRESS_COLUMNS:
            if len(digits) == 40:  # the whole address: its checksum form, by the index
                from eth_utils import to_checksum_address

                where = column == to_checksum_address("0x" + digits)
            else:
                where = func.lower(column).like(pattern)
            for (key,) in conn.execute(select(column).where(where).distinct().limit(room)):
                add(what, str(key), what)
    if not found:
        raise NotFound(f"nothing found: no id, transaction or address on the indexed chain "
                       f"is or starts with 0x{digits}")
    # one address is a worker, a contributor and a requester: the first (most specific) kind
    matches, seen = [], set()
    for match in found.values():
        if match["id"] in seen and match["kind"] in ("contributor", "requester"):
            continue
        seen.add(match["id"])
        matches.append(match)
    return {"matches": matches[:SEARCH_LIMIT], "more": len(matches) > SEARCH_LIMIT}


PROOF_NAMES = {name: kind for kind, name in PROOF_KIND_NAMES.items()}
"""Proof-kind filter values (signed, tee, zk) -> the kind number."""
