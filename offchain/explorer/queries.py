"""Reads over the indexed database, as JSON-ready dicts (the API returns them, the pages render
them). Every parameter arrives validated (``offchain.explorer.params``); nothing here talks to
the chain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.engine import Connection

from offchain.indexer import schema as S
from offchain.protocol import (
    PROOF_KIND_NAMES,
    Inference,
    Split,
    kinds_of,
    leaf_dispute_id,
    leaf_hash,
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
    return exists().where(S.disputes.c.request_id == S.records.c.request_id)


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
    dispute = conn.execute(select(S.disputes).where(S.disputes.c.request_id == dispute_id)
                           .order_by(S.disputes.c.block.desc(),
                                     S.disputes.c.log_index.desc())).first()
    out["dispute"] = None if dispute is None else {
        "state": dispute.state, "data": dispute.data, "timestamp": int(dispute.timestamp),
        "block": int(dispute.block)}
    if dispute is not None and row is None:
        out["status"] = "disputed"
        out["dispute"]["disputeId"] = dispute_id
    request = conn.execute(select(S.requests).where(S.requests.c.request_id == request_id)
                           ).first()
    out["request"] = None if request is None else {
        "requester": request.requester, "fee": request.fee,
        "createdAt": int(request.created_at), "block": int(request.block),
        "txHash": request.tx_hash}
    return out


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
    return {
        "account": account,
        "records": len(rows),
        "attributions": [{"record": row.record, "modelId": row.model_id, "bps": int(row.bps),
                          "percent": int(row.bps) / 100, "epoch": int(row.epoch),
                          "timestamp": int(row.timestamp),
                          "amount": str(share_of(int(row.pool), int(row.bps)))}
                         for row in rows[:limit]],
        "earningsPerEpoch": [{"epoch": e, "amount": str(a)} for e, a in sorted(per_epoch.items())],
        "earned": str(sum(per_epoch.values())),
        "models": [{"modelId": m, "records": len(b), "meanPercent": sum(b) / len(b) / 100}
                   for m, b in per_model.items()],
        "claims": [{"epoch": int(c.epoch), "amount": c.amount, "cumulative": c.cumulative,
                    "timestamp": int(c.timestamp), "txHash": c.tx_hash} for c in claims],
        "claimed": str(max((int(c.cumulative) for c in claims), default=0)),
    }


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

def list_epochs(conn: Connection) -> list[dict[str, Any]]:
    """Per epoch: records, contributor pools (single records), batch deposits, what was swept,
    and its reward roots (each proposal with its latest status)."""
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
    for (epoch, _), root in roots.items():
        entry(epoch)["roots"].append(root)
    for e in out.values():
        for amount in ("pool", "deposits", "swept"):
            e[amount] = str(e[amount])
    return [out[k] for k in sorted(out, reverse=True)]


# -- search ----------------------------------------------------------------------------------

def search(conn: Connection, text: str) -> tuple[str, str]:
    """(kind, id) of what ``text`` names: a record, batch leaf, model or batch id, or a
    worker, contributor or requester address. Raises NotFound."""
    value = text.strip()
    if value.startswith("batch:"):
        parts = value.split(":")
        if len(parts) == 3 and _is_hex(parts[1], 32) and parts[2].isdigit():
            leaf = conn.execute(select(S.leaves.c.request_id).where(and_(
                S.leaves.c.batch_id == parts[1].lower(),
                S.leaves.c.leaf_index == int(parts[2])))).scalar()
            if leaf is not None:
                return "record", str(leaf)
        raise NotFound(f"no batch leaf {value}")
    if _is_hex(value, 32):
        key = value.lower()
        for kind, column in (("record", S.records.c.request_id),
                             ("record", S.leaves.c.request_id),
                             ("model", S.models.c.model_id), ("batch", S.batches.c.batch_id)):
            if conn.execute(select(column).where(column == key).limit(1)).first():
                return kind, key
        raise NotFound(f"nothing on the indexed chain has id {key}")
    if _is_hex(value, 20):
        from eth_utils import to_checksum_address

        address = to_checksum_address(value.lower())
        for kind, column in (("worker", S.worker_changes.c.signer),
                             ("contributor", S.shares.c.account),
                             ("contributor", S.claims.c.account),
                             ("requester", S.records.c.requester)):
            if conn.execute(select(column).where(column == address).limit(1)).first():
                return kind, address
        raise NotFound(f"{address} is no worker, contributor or requester on the indexed chain")
    raise NotFound("search for a record, model or batch id (0x + 64 hex digits), "
                   "batch:0x<batchId>:<index>, or an address (0x + 40 hex digits)")


def _is_hex(text: str, size: int) -> bool:
    if not text.lower().startswith("0x") or len(text) != 2 + 2 * size:
        return False
    try:
        bytes.fromhex(text[2:])
    except ValueError:
        return False
    return True


PROOF_NAMES = {name: kind for kind, name in PROOF_KIND_NAMES.items()}
"""Proof-kind filter values (signed, tee, zk) -> the kind number."""
