"""The explorer's web application: the JSON API under ``/api`` (OpenAPI at ``/docs``, served
from local files) and server-rendered pages, in one FastAPI app.

Read-only and public: every route is a GET, every parameter is checked
(``offchain.explorer.params``) before a query, page sizes are capped, and every failure is a
4xx/5xx answer with a JSON error (``{"error": ...}``) under ``/api`` and ``/verify``, or an
HTML page elsewhere. Templates autoescape everything; pages carry a Content-Security-Policy
that allows no script at all.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from offchain import __version__
from offchain.errors import AttestiaError
from offchain.explorer import charts
from offchain.explorer import params as P
from offchain.explorer import queries as Q
from offchain.explorer.service import Explorer

log = logging.getLogger("attestia.explorer")
HERE = Path(__file__).parent
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'")


def _eth(wei: Any) -> str:
    if wei is None:
        return "—"
    return f"{Decimal(int(wei)) / Decimal(10**18):.6f} ETH"


def _when(timestamp: Any) -> str:
    if not timestamp:
        return "—"
    return dt.datetime.fromtimestamp(int(timestamp), dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _short(value: Any) -> str:
    text = str(value or "")
    return text if len(text) <= 18 else f"{text[:10]}…{text[-6:]}"


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html", "svg"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters |= {"eth": _eth, "when": _when, "short": _short}
    return env


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/verify/")) or path == "/api"


def create_app(explorer: Explorer) -> FastAPI:
    app = FastAPIOffline(
        title="Attestia explorer API", version=__version__,
        description="Read-only API over the indexed Attestia contracts: records, attribution, "
        "models, workers, contributors, batches, epochs, and the `attestia verify` checklist. "
        "Errors are `{\"error\": message}` with a 4xx status (5xx only when the chain or "
        "database is unavailable).")
    env = _environment()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def page(template: str, code: int = 200, **context: Any) -> HTMLResponse:
        body = env.get_template(template).render(version=__version__, **context)
        return HTMLResponse(body, status_code=code)

    def error(request: Request, status: int, message: str) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": message, "status": status}, status_code=status)
        return page("error.html", status, status=status, message=message)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                       ) -> Response:
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if not request.url.path.startswith(("/docs", "/redoc", "/static-offline-docs")):
            response.headers["Content-Security-Policy"] = PAGE_CSP
        return response

    @app.exception_handler(P.BadInput)
    async def _bad(request: Request, exc: P.BadInput) -> Response:
        return error(request, 400, str(exc))

    @app.exception_handler(Q.NotFound)
    async def _missing(request: Request, exc: Q.NotFound) -> Response:
        return error(request, 404, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path"))
        return error(request, 400, f"{where or 'parameter'}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        return error(request, exc.status_code, message)

    @app.exception_handler(AttestiaError)
    async def _chain(request: Request, exc: AttestiaError) -> Response:
        log.warning("explorer: %s: %s", request.url.path, exc)
        return error(request, 503, f"the chain could not answer: {' '.join(str(exc).split())}")

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        log.exception("explorer: %s failed", request.url.path)
        return error(request, 500, "internal error (logged)")

    def _int(value: str | None, what: str) -> int | None:
        if value is None or value == "":
            return None
        try:
            return int(value)
        except ValueError:
            raise P.BadInput(f"{what} must be an integer, got {value[:40]!r}") from None

    def record_filters(model: str | None, worker: str | None, contributor: str | None,
                       requester: str | None, proof: str | None, epoch: str | None,
                       status: str | None, limit: str | None, cursor: str | None
                       ) -> dict[str, Any]:
        return {
            "model": P.optional(P.bytes32, model, "model"),
            "worker": P.optional(P.address, worker, "worker"),
            "contributor": P.optional(P.address, contributor, "contributor"),
            "requester": P.optional(P.address, requester, "requester"),
            "proof": P.proof(proof), "epoch": P.epoch(_int(epoch, "epoch")),
            "status": P.status(status),
            "limit": P.limit(_int(limit, "limit"), Q.DEFAULT_LIMIT),
            "cursor": P.cursor(cursor),
        }

    # -- JSON API ----------------------------------------------------------------------------
    @app.get("/api/status", tags=["status"])
    def api_status() -> dict[str, Any]:
        """The indexed chain, registry, indexed block and counts."""
        return explorer.status()

    @app.get("/api/records", tags=["records"])
    def api_records(model: str | None = None, worker: str | None = None,
                    contributor: str | None = None, requester: str | None = None,
                    proof: str | None = None, epoch: str | None = None,
                    status: str | None = None, limit: str | None = None,
                    cursor: str | None = None) -> dict[str, Any]:
        """Single records, newest first. Filters: model id, worker key, contributor,
        requester, proof kind (signed|tee|zk), epoch, status (valid|revoked|disputed).
        `limit` 1..100 (default 25); pass `nextCursor` back as `cursor` for the next page."""
        filters = record_filters(model, worker, contributor, requester, proof, epoch, status,
                                 limit, cursor)
        return explorer.read(Q.list_records, **filters).to_json()

    @app.get("/api/records/{request_id}", tags=["records"])
    def api_record(request_id: str) -> dict[str, Any]:
        """One record (single or batch leaf) with its attribution list, its revocation
        status (the RegistryLens's recordStatus) and its dispute state (null: none)."""
        return explorer.record(P.bytes32(request_id, "record id"))

    def _verify(request_id: str) -> dict[str, Any]:
        return explorer.verify(P.bytes32(request_id, "record id"))

    @app.get("/api/verify/{request_id}", tags=["verify"])
    def api_verify(request_id: str) -> dict[str, Any]:
        """`attestia verify`'s checklist for the record (cached per indexed block)."""
        return _verify(request_id)

    @app.get("/verify/{request_id}", tags=["verify"])
    def verify_alias(request_id: str) -> dict[str, Any]:
        """The same as /api/verify/{request_id}."""
        return _verify(request_id)

    @app.get("/api/models", tags=["models"])
    def api_models() -> list[dict[str, Any]]:
        return explorer.read(Q.list_models)

    @app.get("/api/models/{model_id}", tags=["models"])
    def api_model(model_id: str) -> dict[str, Any]:
        """A model: terms, roster (with names when its package is known here), records per
        day."""
        return explorer.model(P.bytes32(model_id, "model id"))

    @app.get("/api/workers", tags=["workers"])
    def api_workers() -> list[dict[str, Any]]:
        return explorer.read(Q.list_workers)

    @app.get("/api/workers/{signer}", tags=["workers"])
    def api_worker(signer: str) -> dict[str, Any]:
        """A worker key: history (registration, stake, enclave binding, revocation, slashing)
        and its live slot."""
        return explorer.worker(P.address(signer, "worker"))

    @app.get("/api/contributors/{account}", tags=["contributors"])
    def api_contributor(account: str) -> dict[str, Any]:
        """A contributor: share per record, attributed earnings per epoch, claims, and what it
        can claim now under the claimable root."""
        return explorer.contributor(P.address(account, "contributor"))

    @app.get("/api/batches", tags=["batches"])
    def api_batches(limit: str | None = None, cursor: str | None = None,
                    model: str | None = None, worker: str | None = None) -> dict[str, Any]:
        return explorer.read(Q.list_batches, limit=P.limit(_int(limit, "limit"),
                                                           Q.DEFAULT_LIMIT),
                             cursor=P.cursor(cursor),
                             model=P.optional(P.bytes32, model, "model"),
                             worker=P.optional(P.address, worker, "worker")).to_json()

    @app.get("/api/batches/{batch_id}", tags=["batches"])
    def api_batch(batch_id: str, offset: str | None = None,
                  limit: str | None = None) -> dict[str, Any]:
        """A batch with its published file fetched and checked: dataHash, root recomputed vs
        committed, count, and each leaf's inclusion and attribution hash (`limit` leaves from
        `offset`: 1..100, default 100)."""
        key = P.bytes32(batch_id, "batch id")
        first = _int(offset, "offset") or 0
        if not 0 <= first <= 2**32:
            raise P.BadInput(f"offset must be 0..2^32, got {first}")
        count = P.limit(_int(limit, "limit"), Q.MAX_LIMIT)
        batch = explorer.batch(key)
        leaves = batch["check"]["leaves"]
        batch["check"] |= {"leafCount": len(leaves), "offset": first,
                           "leaves": leaves[first:first + count]}
        return batch

    @app.get("/api/epochs", tags=["epochs"])
    def api_epochs() -> list[dict[str, Any]]:
        """Epochs: records, pools, deposits, sweeps and reward roots with their status."""
        return explorer.read(Q.list_epochs)

    @app.get("/api/search", tags=["search"])
    def api_search(q: str = "") -> dict[str, str]:
        """What a record/model/batch id or an address names."""
        kind, key = explorer.read(Q.search, q[:200])
        return {"kind": kind, "id": key, "url": _url(kind, key)}

    # -- pages -------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def home() -> HTMLResponse:
        latest = explorer.read(Q.list_records, limit=10)
        return page("home.html", status=explorer.status(), records=latest.items)

    @app.get("/search", include_in_schema=False)
    def search(q: str = "") -> Response:
        kind, key = explorer.read(Q.search, q[:200])
        return RedirectResponse(_url(kind, key), status_code=303)

    @app.get("/records", include_in_schema=False)
    def records_page(model: str | None = None, worker: str | None = None,
                     contributor: str | None = None, requester: str | None = None,
                     proof: str | None = None, epoch: str | None = None,
                     status: str | None = None, limit: str | None = None,
                     cursor: str | None = None) -> HTMLResponse:
        filters = record_filters(model, worker, contributor, requester, proof, epoch, status,
                                 limit, cursor)
        result = explorer.read(Q.list_records, **filters)
        shown = {k: v for k, v in {"model": model, "worker": worker,
                                   "contributor": contributor, "requester": requester,
                                   "proof": proof, "epoch": epoch, "status": status}.items()
                 if v}
        return page("records.html", records=result.items, next_cursor=result.next_cursor,
                    filters=shown)

    @app.get("/record/{request_id}", include_in_schema=False)
    def record_page(request_id: str) -> HTMLResponse:
        key = P.bytes32(request_id, "record id")
        record = explorer.record(key)
        report = explorer.verify(key)
        return page("record.html", record=record, report=report,
                    chart=charts.bars([(s["account"], s["percent"]) for s in record["shares"]],
                                      title="Attribution per contributor", unit=" %"))

    @app.get("/models", include_in_schema=False)
    def models_page() -> HTMLResponse:
        return page("models.html", models=explorer.read(Q.list_models))

    @app.get("/model/{model_id}", include_in_schema=False)
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

    @app.get("/workers", include_in_schema=False)
    def workers_page() -> HTMLResponse:
        return page("workers.html", workers=explorer.read(Q.list_workers))

    @app.get("/worker/{signer}", include_in_schema=False)
    def worker_page(signer: str) -> HTMLResponse:
        worker = explorer.worker(P.address(signer, "worker"))
        records = explorer.read(Q.list_records, worker=worker["signer"], limit=10)
        return page("worker.html", worker=worker, records=records.items)

    @app.get("/contributor/{account}", include_in_schema=False)
    def contributor_page(account: str) -> HTMLResponse:
        data = explorer.contributor(P.address(account, "contributor"))
        earnings = [(str(e["epoch"]), int(e["amount"]) / 1e18)
                    for e in data["earningsPerEpoch"]]
        shares = [(_short(a["record"]), a["percent"]) for a in data["attributions"][:20]]
        return page("contributor.html", c=data,
                    earnings_chart=charts.columns(earnings, title="Attributed earnings per "
                                                  "epoch (ETH)", unit=" ETH"),
                    share_chart=charts.bars(shares, title="Share per record (newest 20)",
                                            unit=" %"))

    @app.get("/batches", include_in_schema=False)
    def batches_page(limit: str | None = None, cursor: str | None = None) -> HTMLResponse:
        result = explorer.read(Q.list_batches, limit=P.limit(_int(limit, "limit"),
                                                             Q.DEFAULT_LIMIT),
                               cursor=P.cursor(cursor))
        return page("batches.html", batches=result.items, next_cursor=result.next_cursor)

    @app.get("/batch/{batch_id}", include_in_schema=False)
    def batch_page(batch_id: str) -> HTMLResponse:
        batch = explorer.batch(P.bytes32(batch_id, "batch id"))
        return page("batch.html", batch=batch, check=batch["check"])

    @app.get("/epochs", include_in_schema=False)
    def epochs_page() -> HTMLResponse:
        return page("epochs.html", epochs=explorer.read(Q.list_epochs))

    return app


def _url(kind: str, key: str) -> str:
    return {"record": f"/record/{key}", "model": f"/model/{key}", "batch": f"/batch/{key}",
            "worker": f"/worker/{key}", "contributor": f"/contributor/{key}",
            "requester": f"/records?requester={key}"}[kind]
