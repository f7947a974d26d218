"""The explorer's web application: the JSON API under ``/api`` (``api``; OpenAPI at ``/docs``,
served from local files) and server-rendered pages (``pages``), in one FastAPI app.

Read-only and public: every route is a GET, every parameter is checked
(``offchain.explorer.params``) before a query, page sizes are capped, and every failure is a
4xx/5xx answer with a JSON error (``{"error": ...}``) under ``/api`` and ``/verify``, or an
HTML page elsewhere. Templates autoescape everything; pages carry a Content-Security-Policy
that allows no script at all.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from offchain import __version__
from offchain.errors import AttestiaError
from offchain.explorer import api, pages
from offchain.explorer import params as P
from offchain.explorer import queries as Q
from offchain.explorer.render import HERE, PAGE_CSP, Pages
from offchain.explorer.service import Explorer

log = logging.getLogger("attestia.explorer")


def create_app(explorer: Explorer) -> FastAPI:
    app = FastAPIOffline(
        title="Attestia explorer API", version=__version__,
        description="Read-only API over the indexed Attestia contracts: records, attribution, "
        "models, workers, contributors, batches, epochs, and the `attestia verify` checklist. "
        "Errors are `{\"error\": message}` with a 4xx status (5xx only when the chain or "
        "database is unavailable).")
    rendered = Pages()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _headers(app)
    _errors(app, rendered)
    app.include_router(api.router(explorer))
    app.include_router(pages.router(explorer, rendered))
    return app


def _headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                      ) -> Response:
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if not request.url.path.startswith(("/docs", "/redoc", "/static-offline-docs")):
            response.headers["Content-Security-Policy"] = PAGE_CSP
        return response


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

    @app.exception_handler(AttestiaError)
    async def chain(request: Request, exc: AttestiaError) -> Response:
        log.warning("explorer: %s: %s", request.url.path, exc)
        return error(request, 503, f"the chain could not answer: {' '.join(str(exc).split())}")

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> Response:
        log.exception("explorer: %s failed", request.url.path)
        return error(request, 500, "internal error (logged)")
