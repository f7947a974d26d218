"""The explorer's web application: the JSON API under ``/api`` (``api``; OpenAPI at ``/docs``,
served from local files) and server-rendered pages (``pages``), in one FastAPI app.

Read-only and public: every route is a GET (and a HEAD, answered like the GET without its
body: ``HeadAsGet``), every parameter is checked
(``offchain.explorer.params``) before a query, page sizes are capped, each client has a rate
limit (``RateLimit``: then 429), and every failure is a 4xx/5xx answer with a JSON error
(``{"error": ...}``) under ``/api`` and ``/verify``, or an HTML page elsewhere. Templates
autoescape everything; pages carry a Content-Security-Policy that allows no script at all.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from offchain import __version__
from offchain.errors import AttestiaError
from offchain.explorer import api, exports, pages
from offchain.explorer import params as P
from offchain.explorer import queries as Q
from offchain.explorer.render import HERE, PAGE_CSP, ChainLinks, Pages
from offchain.explorer.service import Explorer
from offchain.indexer.files import Busy

log = logging.getLogger("attestia.explorer")


@dataclass
class RateLimit:
    """A token bucket per client address: ``rate`` requests per second, ``burst`` at once.
    Behind a reverse proxy every client shares the proxy's address: limit there instead."""

    rate: float = 20.0
    burst: float = 100.0
    clients: int = 10_000
    """Buckets kept (least recently seen forgotten first: memory stays bounded)."""
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, client: str) -> float:
        """0 if ``client`` may proceed now (a token is taken), else the seconds until it
        may."""
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1 if wait == 0 else tokens, now)
            while len(self._buckets) > self.clients:
                self._buckets.popitem(last=False)
        return wait


class HeadAsGet:
    """HEAD answered exactly like GET (status and headers, Content-Length included) without
    the body, on every route: the request goes through as a GET and the body is dropped on
    the way out. (FastAPI's GET routes answer HEAD with 405.)"""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headless(message: Any) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(dict(scope, method="GET"), receive, headless)


def create_app(explorer: Explorer, *, rate_limit: RateLimit | None = None,
               chain_explorer: str | None = None) -> FastAPI:
    """The app over ``explorer``; ``rate_limit`` None: ``RateLimit()``'s defaults;
    ``chain_explorer``: a public chain explorer's base URL for links to addresses and
    transactions (None: no such links; checked by ``render.chain_explorer_base``)."""
    app = FastAPIOffline(
        title="Attestia explorer API", version=__version__,
        description="Read-only API over the indexed Attestia contracts: records, attribution, "
        "models, workers, contributors, batches, epochs, and the `attestia verify` checklist. "
        "Errors are `{\"error\": message}` with a 4xx status (5xx only when the chain or "
        "database is unavailable).")
    rendered = Pages(ChainLinks(chain_explorer))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(Guard, limit=rate_limit or RateLimit())
    _errors(app, rendered)
    app.include_router(api.router(explorer))
    app.include_router(exports.router(explorer))
    app.include_router(pages.router(explorer, rendered))
    app.add_middleware(HeadAsGet)
    return app


class Guard:
    """Every answer's security headers, and the rate limit (429 before any work). A plain
    ASGI middleware: ``@app.middleware("http")`` costs a task and two streams per request."""

    def __init__(self, app: Any, limit: RateLimit) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        docs = scope["path"].startswith(("/docs", "/redoc", "/static-offline-docs"))

        async def secured(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                if not docs:
                    headers["Content-Security-Policy"] = PAGE_CSP
            await send(message)

        wait = self.limit.wait_for(client[0] if client else "")
        if wait:
            refused = JSONResponse(
                {"error": f"too many requests from this address: retry in {wait:.1f} s",
                 "status": 429}, status_code=429,
                headers={"Retry-After": str(max(1, math.ceil(wait)))})
            await refused(scope, receive, secured)
            return
        await self.app(scope, receive, secured)


def _errors(app: FastAPI, rendered: Pages) -> None:
    """Every failure as a 4xx/5xx answer: JSON under /api and /verify, a page elsewhere."""
    error = rendered.error

    @app.exception_handler(P.BadInput)
    async def bad(request: Request, exc: P.BadInput) -> Response:
        return error(request, 400, str(exc))

    @app.exception_handler(Q.NotFound)
    async def missing(request: Request, exc: Q.NotFound) -> Response:
        return error(request, 404, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path"))
        return error(request, 400, f"{where or 'parameter'}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, exc: StarletteHTTPException) -> Response:
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        return error(request, exc.status_code, message)

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy) -> Response:
        response = error(request, 503, str(exc))
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(AttestiaError)
    async def chain(request: Request, exc: AttestiaError) -> Response:
        log.warning("explorer: %s: %s", request.url.path, exc)
        return error(request, 503, f"the chain could not answer: {' '.join(str(exc).split())}")

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> Response:
        log.exception("explorer: %s failed", request.url.path)
        return error(request, 500, "internal error (logged)")
