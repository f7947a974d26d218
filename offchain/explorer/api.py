"""The JSON API under ``/api`` (and ``/verify/{id}``): read-only, every parameter checked by
``offchain.explorer.params`` before a query, page sizes capped."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from offchain.explorer import params as P
from offchain.explorer import queries as Q
from offchain.explorer.render import url_of
from offchain.explorer.service import Explorer


def router(explorer: Explorer) -> APIRouter:
    api = APIRouter()

    @api.get("/api/status", tags=["status"])
    def api_status() -> dict[str, Any]:
        """The indexed chain, registry, indexed block and counts."""
        return explorer.status()

    @api.get("/api/records", tags=["records"])
    def api_records(model: str | None = None, worker: str | None = None,
                    contributor: str | None = None, requester: str | None = None,
                    proof: str | None = None, epoch: str | None = None,
                    status: str | None = None, limit: str | None = None,
                    cursor: str | None = None) -> dict[str, Any]:
        """Single records, newest first. Filters: model id, worker key, contributor,
        requester, proof kind (signed|tee|zk), epoch, status (valid|revoked|disputed).
        `limit` 1..100 (default 25); pass `nextCursor` back as `cursor` for the next page."""
        filters = P.record_filters(model, worker, contributor, requester, proof, epoch,
                                   status, limit, cursor)
        return explorer.read(Q.list_records, **filters).to_json()

    @api.get("/api/records/{request_id}", tags=["records"])
    def api_record(request_id: str) -> dict[str, Any]:
        """One record (single or batch leaf) with its attribution list, its revocation
        status (the RegistryLens's recordStatus) and its dispute state (null: none)."""
        return explorer.record(P.bytes32(request_id, "record id"))

    def _verify(request_id: str) -> dict[str, Any]:
        return explorer.verify(P.bytes32(request_id, "record id"))

    @api.get("/api/verify/{request_id}", tags=["verify"])
    def api_verify(request_id: str) -> dict[str, Any]:
        """`attestia verify`'s checklist for the record (cached per indexed block)."""
        return _verify(request_id)

    @api.get("/verify/{request_id}", tags=["verify"])
    def verify_alias(request_id: str) -> dict[str, Any]:
        """The same as /api/verify/{request_id}."""
        return _verify(request_id)

    @api.get("/api/models", tags=["models"])
    def api_models() -> list[dict[str, Any]]:
        return explorer.read(Q.list_models)

    @api.get("/api/models/{model_id}", tags=["models"])
    def api_model(model_id: str) -> dict[str, Any]:
        """A model: terms, roster (with names when its package is known here), records per
        day."""
        return explorer.model(P.bytes32(model_id, "model id"))

    @api.get("/api/workers", tags=["workers"])
    def api_workers() -> list[dict[str, Any]]:
        return explorer.read(Q.list_workers)

    @api.get("/api/workers/{signer}", tags=["workers"])
    def api_worker(signer: str) -> dict[str, Any]:
        """A worker key: history (registration, stake, enclave binding, revocation, slashing)
        and its live slot."""
        return explorer.worker(P.address(signer, "worker"))

    @api.get("/api/contributors/{account}", tags=["contributors"])
    def api_contributor(account: str) -> dict[str, Any]:
        """A contributor: share per record, attributed earnings per epoch, claims, and what it
        can claim now under the claimable root."""
        return explorer.contributor(P.address(account, "contributor"))

    @api.get("/api/batches", tags=["batches"])
    def api_batches(limit: str | None = None, cursor: str | None = None,
                    model: str | None = None, worker: str | None = None) -> dict[str, Any]:
        return explorer.read(Q.list_batches,
                             limit=P.limit(P.integer(limit, "limit"), Q.DEFAULT_LIMIT),
                             cursor=P.cursor(cursor),
                             model=P.optional(P.bytes32, model, "model"),
                             worker=P.optional(P.address, worker, "worker")).to_json()

    @api.get("/api/batches/{batch_id}", tags=["batches"])
    def api_batch(batch_id: str, offset: str | None = None,
                  limit: str | None = None) -> dict[str, Any]:
        """A batch with its published file fetched and checked: dataHash, root recomputed vs
        committed, count, and each leaf's inclusion and attribution hash (`limit` leaves from
        `offset`: 1..100, default 100)."""
        key = P.bytes32(batch_id, "batch id")
        first = P.integer(offset, "offset") or 0
        if not 0 <= first <= 2**32:
            raise P.BadInput(f"offset must be 0..2^32, got {first}")
        count = P.limit(P.integer(limit, "limit"), Q.MAX_LIMIT)
        batch = explorer.batch(key)
        leaves = batch["check"]["leaves"]
        batch["check"] |= {"leafCount": len(leaves), "offset": first,
                           "leaves": leaves[first:first + count]}
        return batch

    @api.get("/api/epochs", tags=["epochs"])
    def api_epochs() -> list[dict[str, Any]]:
        """Epochs: start and end (`startsAt`, `endsAt`), records, pools, deposits, sweeps and
        reward roots with their state (`attestia rewards status`'s words: pending, claimable,
        superseded, cancelled)."""
        return explorer.epochs()

    @api.get("/api/disputes", tags=["disputes"])
    def api_disputes(limit: str | None = None, cursor: str | None = None) -> dict[str, Any]:
        """Attribution disputes, newest opened first: state (open, responded, fraud,
        no_response, worker_won), challenger, bond, the deadline of the next step."""
        return explorer.read(Q.list_disputes,
                             limit=P.limit(P.integer(limit, "limit"), Q.DEFAULT_LIMIT),
                             cursor=P.cursor(cursor)).to_json()

    @api.get("/api/search", tags=["search"])
    def api_search(q: str = "") -> dict[str, Any]:
        """Everything a query names: a record, batch leaf, model or batch id, a transaction
        hash, an address, or the first 6+ hex digits of any of them (`matches`, at most
        20; `more` when there were others); 404 for none, 400 for a malformed query."""
        found = explorer.read(Q.search, P.search_text(q[:200]))
        for match in found["matches"]:
            match["url"] = url_of(match["kind"], match["id"])
        return {"query": q[:200]} | found

    return api
