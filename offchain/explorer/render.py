"""How the explorer answers: Jinja pages (autoescaped, with the filters the templates use),
JSON errors under ``/api`` and ``/verify``, the page URL of whatever a search names, and the
optional links to a public chain explorer (``ChainLinks``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


def iso(timestamp: Any) -> str:
    """A unix time as ISO 8601 in UTC (``2026-12-07T14:28:25Z``): a public page's readers
    are in every time zone."""
    if not timestamp:
        return "—"
    return dt.datetime.fromtimestamp(int(timestamp), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def relative(timestamp: Any, now: Any) -> str:
    """``in 2 h 5 min`` / ``3 days ago``: ``timestamp`` against ``now`` (the chain's time as
    indexed, which is what a deadline is compared with)."""
    if not timestamp or now is None:
        return ""
    delta = int(timestamp) - int(now)
    span = abs(delta)
    if span < 60:
        text = f"{span} s"
    elif span < 3600:
        text = f"{span // 60} min"
    elif span < 86_400:
        text = f"{span // 3600} h {span % 3600 // 60} min"
    else:
        text = f"{span // 86_400} days {span % 86_400 // 3600} h"
    return "now" if delta == 0 else f"in {text}" if delta > 0 else f"{text} ago"


def words(state: Any) -> str:
    """A state key as the CLI prints it in text (``no_response`` -> ``no response``)."""
    return str(state or "").replace("_", " ")


class ChainLinks:
    """Links to a public chain explorer (Etherscan, Blockscout, ...): ``{base}/address/0x…``
    and ``{base}/tx/0x…``. Off unless configured (a local chain has no public explorer).
    Plain links the visitor follows; the server never fetches them."""

    def __init__(self, base: str | None = None) -> None:
        self.base = None if base is None else chain_explorer_base(base)

    def address(self, value: Any) -> str | None:
        return f"{self.base}/address/{value}" if self.base and value else None

    def tx(self, value: Any) -> str | None:
        return f"{self.base}/tx/{value}" if self.base and value else None


_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def chain_explorer_base(text: str) -> str:
    """A chain explorer's base URL, checked: ``https://host[/path]`` (or ``http://`` on
    localhost), no credentials, query, fragment, or characters that would need escaping.
    Raises ``ConfigError`` with what is expected."""
    from offchain.errors import ConfigError

    value = text.strip().rstrip("/")
    expected = ("--chain-explorer must be an https:// URL (or http://localhost...), e.g. "
                "https://etherscan.io")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        raise ConfigError(f"{expected}; got {text[:100]!r}") from None
    host = (parts.hostname or "").lower()
    local = parts.scheme == "http" and host in _LOCAL_HOSTS
    if not (parts.scheme == "https" or local) or not host:
        raise ConfigError(f"{expected}; got {text[:100]!r}")
    if parts.username or parts.password or parts.query or parts.fragment or "@" in value:
        raise ConfigError(f"{expected} without credentials, query or fragment; got "
                          f"{text[:100]!r}")
    if any(c.isspace() or c in "\"'<>`{}|\\^" or ord(c) < 0x21 or ord(c) > 0x7E
           for c in value):
        raise ConfigError(f"{expected} (plain ASCII, no quotes or spaces); got {text[:100]!r}")
    return value


def short(value: Any) -> str:
    text = str(value or "")
    return text if len(text) <= 18 else f"{text[:10]}…{text[-6:]}"


class Pages:
    """The templates, rendered with the version every page shows."""

    def __init__(self, links: ChainLinks | None = None) -> None:
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"),
                               autoescape=select_autoescape(["html", "svg"], default=True),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.filters |= {"eth": _eth, "when": _when, "short": short, "iso": iso,
                             "words": words}
        self.env.globals |= {"links": links or ChainLinks(), "relative": relative}

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


def url_of(kind: str, key: str) -> str | None:
    """The page of what ``Q.search`` found (None: a request never recorded, or a transaction
    whose events have no page)."""
    return {"record": f"/record/{key}", "model": f"/model/{key}", "batch": f"/batch/{key}",
            "worker": f"/worker/{key}", "contributor": f"/contributor/{key}",
            "requester": f"/records?requester={key}", "epoch": f"/epochs#epoch-{key}",
            "dispute": f"/record/{key}#dispute"}.get(kind)
