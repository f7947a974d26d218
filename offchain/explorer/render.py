"""How the explorer answers: Jinja pages (autoescaped, with the filters the templates use),
JSON errors under ``/api`` and ``/verify``, and the page URL of whatever a search names."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from offchain import __version__

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


def short(value: Any) -> str:
    text = str(value or "")
    return text if len(text) <= 18 else f"{text[:10]}…{text[-6:]}"


class Pages:
    """The templates, rendered with the version every page shows."""

    def __init__(self) -> None:
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"),
                               autoescape=select_autoescape(["html", "svg"], default=True),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.filters |= {"eth": _eth, "when": _when, "short": short}

    def page(self, template: str, code: int = 200, **context: Any) -> HTMLResponse:
        body = self.env.get_template(template).render(version=__version__, **context)
        return HTMLResponse(body, status_code=code)

    def error(self, request: Request, status: int, message: str) -> Response:
        """A JSON error for API clients, an HTML page for browsers."""
        if wants_json(request):
            return JSONResponse({"error": message, "status": status}, status_code=status)
        return self.page("error.html", status, status=status, message=message)


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/verify/")) or path == "/api"


def url_of(kind: str, key: str) -> str:
    """The page of what ``Q.search`` found."""
    return {"record": f"/record/{key}", "model": f"/model/{key}", "batch": f"/batch/{key}",
            "worker": f"/worker/{key}", "contributor": f"/contributor/{key}",
            "requester": f"/records?requester={key}"}[kind]
