"""The server-rendered pages (no script; the templates autoescape everything). Each page reads
what its API twin reads and renders it with ``render.Pages``."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from offchain.explorer import charts
from offchain.explorer import params as P
from offchain.explorer import queries as Q
from offchain.explorer.render import Pages, short, url_of
from offchain.explorer.service import Explorer


def router(explorer: Explorer, pages: Pages) -> APIRouter:
    web = APIRouter(include_in_schema=False)
    page = pages.page

    @web.get("/")
    def home() -> HTMLResponse:
        latest = explorer.read(Q.list_records, limit=10)
        return page("home.html", status=explorer.status(), records=latest.items)

    @web.get("/search")
    def search(q: str = "") -> Response:
        """One match with a page: that page; several: the list; none: a 404 page saying so;
        a malformed query: a 400 page."""
        found = explorer.read(Q.search, P.search_text(q[:200]))
        for match in found["matches"]:
            match["url"] = url_of(match["kind"], match["id"])
        matches = found["matches"]
        if len(matches) == 1 and matches[0]["url"] is not None:
            return RedirectResponse(matches[0]["url"], status_code=303)
        return page("search.html", query=q[:200], matches=matches, more=found["more"])

    @web.get("/records")
    def records_page(model: str | None = None, worker: str | None = None,
                     contributor: str | None = None, requester: str | None = None,
                     proof: str | None = None, epoch: str | None = None,
                     status: str | None = None, limit: str | None = None,
                     cursor: str | None = None) -> HTMLResponse:
        filters = P.record_filters(model, worker, contributor, requester, proof, epoch,
                                   status, limit, cursor)
        result = explorer.read(Q.list_records, **filters)
        shown = {k: v for k, v in {"model": model, "worker": worker,
                                   "contributor": contributor, "requester": requester,
                                   "proof": proof, "epoch": epoch, "status": status}.items()
                 if v}
        return page("records.html", records=result.items, next_cursor=result.next_cursor,
                    filters=shown, csv_query=urlencode(shown))

    @web.get("/record/{request_id}")
    def record_page(request_id: str) -> HTMLResponse:
        key = P.bytes32(request_id, "record id")
        record, report = explorer.record_page(key)
        return page("record.html", record=record, report=report, now=explorer.chain_time(),
                    chart=charts.bars([(s["account"], s["percent"]) for s in record["shares"]],
                                      title="Attribution per contributor", unit=" %"))

    @web.get("/models")
    def models_page() -> HTMLResponse:
        return page("models.html", models=explorer.read(Q.list_models))

    @web.get("/model/{model_id}")
    def model_page(model_id: str) -> HTMLResponse:
        model = explorer.model(P.bytes32(model_id, "model id"))
        per_day = [(dt.datetime.fromtimestamp(d["day"], dt.UTC).strftime("%m-%d"),
                    float(d["records"])) for d in model["recordsPerDay"]]
        roster = [(e["name"] or e["account"], e["meanPercent"]) for e in model["roster"]]
        records = explorer.read(Q.list_records, model=model["modelId"], limit=10)
        return page("model.html", model=model, records=records.items,
                    chart=charts.columns(per_day, title="Records per day (UTC)"),
                    roster_chart=charts.bars(roster, title="Mean attribution per contributor",
                                             unit=" %"))

    @web.get("/workers")
    def workers_page() -> HTMLResponse:
        return page("workers.html", workers=explorer.read(Q.list_workers))

    @web.get("/worker/{signer}")
    def worker_page(signer: str) -> HTMLResponse:
        worker = explorer.worker(P.address(signer, "worker"))
        records = explorer.read(Q.list_records, worker=worker["signer"], limit=10)
        return page("worker.html", worker=worker, records=records.items)

    @web.get("/contributor/{account}")
    def contributor_page(account: str) -> HTMLResponse:
        data = explorer.contributor(P.address(account, "contributor"))
        earnings = [(str(e["epoch"]), int(e["amount"]) / 1e18)
                    for e in data["earningsPerEpoch"]]
        shares = [(short(a["record"]), a["percent"]) for a in data["attributions"][:20]]
        return page("contributor.html", c=data,
                    earnings_chart=charts.columns(earnings, title="Attributed earnings per "
                                                  "epoch (ETH)", unit=" ETH"),
                    share_chart=charts.bars(shares, title="Share per record (newest 20)",
                                            unit=" %"))

    @web.get("/batches")
    def batches_page(limit: str | None = None, cursor: str | None = None) -> HTMLResponse:
        result = explorer.read(Q.list_batches,
                               limit=P.limit(P.integer(limit, "limit"), Q.DEFAULT_LIMIT),
                               cursor=P.cursor(cursor))
        return page("batches.html", batches=result.items, next_cursor=result.next_cursor)

    @web.get("/batch/{batch_id}")
    def batch_page(batch_id: str) -> HTMLResponse:
        batch = explorer.batch(P.bytes32(batch_id, "batch id"))
        return page("batch.html", batch=batch, check=batch["check"])

    @web.get("/epochs")
    def epochs_page() -> HTMLResponse:
        return page("epochs.html", epochs=explorer.epochs(), now=explorer.chain_time())

    @web.get("/disputes")
    def disputes_page(limit: str | None = None, cursor: str | None = None) -> HTMLResponse:
        result = explorer.read(Q.list_disputes,
                               limit=P.limit(P.integer(limit, "limit"), Q.DEFAULT_LIMIT),
                               cursor=P.cursor(cursor))
        return page("disputes.html", disputes=result.items, next_cursor=result.next_cursor,
                    now=explorer.chain_time())

    return web
