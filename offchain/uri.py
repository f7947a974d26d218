"""Reading a published URI: the one way Attestia fetches a document named on chain.

Batch files (``BatchCommitted.dataURI``) and enclave attestation documents
(``attestationURI``) are published off chain and named on chain; whoever settles or verifies
reads them back here. Supported forms:

* ``file:///abs/path`` (or ``file://localhost/...``) and a plain path: a local regular file;
* ``http://`` and ``https://``: a GET with :mod:`requests` (redirects followed, TLS verified);
* ``ipfs://<CID>/<path>``: through an HTTP gateway, ``<gateway><CID>/<path>``. The gateway is
  the ``gateway`` argument, else ``$ATTESTIA_IPFS_GATEWAY``, else a local node's
  (:data:`DEFAULT_IPFS_GATEWAY`). A gateway is trusted for availability only: every caller
  checks what it read against a hash on chain.

The URI comes from whoever committed it, so it is hostile input: every read has a time limit
(connect and total) and a size limit enforced while streaming (the read stops at the first
byte over the limit, whatever ``Content-Length`` claimed), and only regular files are read
(``file:///dev/zero`` or a FIFO cannot hang or flood the reader). Every failure is a
:class:`UriError` subclass naming the URI and what to do.
"""

from __future__ import annotations

import os
import stat
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

import requests
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError

from offchain.errors import AttestiaError

__all__ = [
    "DEFAULT_IPFS_GATEWAY", "DEFAULT_MAX_BYTES", "DEFAULT_TIMEOUT", "IPFS_GATEWAY_ENV",
    "UnsupportedUri", "UriError", "UriNotFound", "UriTimeout", "UriTooLarge", "UriUnavailable",
    "ipfs_gateway", "read_uri", "resolve",
]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""Largest document read by default (callers reading bigger batches pass their own)."""
DEFAULT_TIMEOUT = 30.0
"""Seconds a whole read may take (connect, headers and body together)."""
IPFS_GATEWAY_ENV = "ATTESTIA_IPFS_GATEWAY"
DEFAULT_IPFS_GATEWAY = "http://127.0.0.1:8080/ipfs/"
_CHUNK = 64 * 1024


class UriError(AttestiaError):
    """A published document could not be read; ``uri`` is what was asked for."""

    def __init__(self, uri: str, message: str) -> None:
        super().__init__(message)
        self.uri = uri


class UnsupportedUri(UriError):
    """The URI's form is not one Attestia reads (see :mod:`offchain.uri`)."""


class UriNotFound(UriError):
    """Nothing is published there (no such file, HTTP 404 or 410)."""


class UriTimeout(UriError):
    """The server did not answer, or did not finish, within the time limit."""


class UriTooLarge(UriError):
    """The document is larger than the size limit; the read was stopped."""


class UriUnavailable(UriError):
    """Any other failure to read (connection refused, HTTP error status, I/O error)."""


def ipfs_gateway(gateway: str | None = None) -> str:
    """The IPFS gateway prefix in use (argument, environment, default), ending in ``/``."""
    chosen = gateway or os.environ.get(IPFS_GATEWAY_ENV) or DEFAULT_IPFS_GATEWAY
    return chosen if chosen.endswith("/") else chosen + "/"


def resolve(uri: str, *, gateway: str | None = None) -> str | Path:
    """Where ``uri`` is read from: a local :class:`Path` or an http(s) URL.

    Raises :class:`UnsupportedUri` for any other form.
    """
    parsed = urllib.parse.urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https"):
        if not parsed.netloc:
            raise UnsupportedUri(uri, f"{uri!r} has no host")
        return uri
    if scheme == "ipfs":
        content = (parsed.netloc + parsed.path).lstrip("/")
        if not content:
            raise UnsupportedUri(uri, f"{uri!r} names no CID (expected ipfs://<CID>/<path>)")
        return ipfs_gateway(gateway) + content
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise UnsupportedUri(uri, f"{uri!r} names host {parsed.netloc!r}; file:// URIs "
                                 "are read on this machine only")
        return Path(urllib.parse.unquote(parsed.path))
    if scheme == "" and uri:
        return Path(uri)
    raise UnsupportedUri(uri, f"cannot read {uri!r}: supported are file://, http://, https://, "
                         "ipfs:// and plain paths")


def read_uri(uri: str, *, max_bytes: int = DEFAULT_MAX_BYTES,
             timeout: float = DEFAULT_TIMEOUT, gateway: str | None = None,
             session: requests.Session | None = None) -> bytes:
    """The bytes published at ``uri``, at most ``max_bytes`` of them, within ``timeout`` s.

    Raises :class:`UnsupportedUri`, :class:`UriNotFound`, :class:`UriTimeout`,
    :class:`UriTooLarge` or :class:`UriUnavailable`.
    """
    where = resolve(uri, gateway=gateway)
    if isinstance(where, Path):
        return _read_file(uri, where, max_bytes)
    return _read_http(uri, where, max_bytes, timeout, session)


def _read_file(uri: str, path: Path, max_bytes: int) -> bytes:
    try:
        # O_NONBLOCK: opening a FIFO without a writer must not block (it has no effect on the
        # reads of a regular file, the only kind read).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise UriNotFound(uri, f"no file at {path} (was it moved, or published elsewhere?)"
                          ) from None
    except OSError as exc:
        raise UriUnavailable(uri, f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UriUnavailable(uri, f"{path} is not a regular file")
        if info.st_size > max_bytes:
            raise _too_large(uri, max_bytes)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise UriUnavailable(uri, f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # it grew while being read
        raise _too_large(uri, max_bytes)
    return data


def _read_http(uri: str, url: str, max_bytes: int, timeout: float,
               session: requests.Session | None) -> bytes:
    shown = uri if url == uri else f"{uri} (via {url})"
    deadline = time.monotonic() + timeout
    http = session or requests
    try:
        # (connect, read) limits bound each wait; the deadline bounds the whole read. The body
        # is read with read1 (one receive per call), so the deadline is checked between
        # receives: a server dripping one byte at a time cannot hold the reader.
        with http.get(url, stream=True, timeout=(timeout, timeout),
                      headers={"Accept-Encoding": "identity"}) as response:
            if response.status_code in (404, 410):
                raise UriNotFound(uri, f"nothing published at {shown} (HTTP "
                                  f"{response.status_code})")
            if response.status_code >= 400:
                raise UriUnavailable(uri, f"{shown} answered HTTP {response.status_code} "
                                     f"{response.reason or ''}".rstrip())
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(uri, max_bytes)
            chunks: list[bytes] = []
            size = 0
            while chunk := response.raw.read1(_CHUNK, decode_content=True):
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(uri, max_bytes)
                if time.monotonic() > deadline:
                    raise UriTimeout(uri, f"{shown} did not finish within {timeout:g} s")
                chunks.append(chunk)
            return b"".join(chunks)
    except (requests.Timeout, ReadTimeoutError):
        raise UriTimeout(uri, f"{shown} did not answer within {timeout:g} s") from None
    except requests.ConnectionError as exc:
        raise UriUnavailable(uri, f"cannot connect to {shown}: {_reason(exc)}") from None
    except (requests.RequestException, Urllib3Error) as exc:
        raise UriUnavailable(uri, f"cannot read {shown}: {_reason(exc)}") from None


def _too_large(uri: str, max_bytes: int) -> UriTooLarge:
    return UriTooLarge(uri, f"{uri} is larger than {max_bytes:,} bytes (the read was stopped)")


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "…"


def local_file_refused(uri: str, local_roots: Sequence[Path] | None,
                       what: str = "a published file") -> str:
    """Why a public service will not read ``uri`` ("" if it may). Whoever publishes a URI on
    chain (a batch's file, a worker's attestation document) picks it: a ``file://`` one
    outside ``local_roots`` (the service's home) would let them probe this machine's files
    through its pages (existence, size, hash, parse errors). None allows every local file."""
    if local_roots is None:
        return ""
    try:
        where = resolve(uri)
    except UriError:
        return ""  # read_uri says why
    if isinstance(where, Path):
        path = where.resolve()
        if not any(path.is_relative_to(root.resolve()) for root in local_roots):
            return (f"{uri}: a local file outside this service's home is not read ({what} is "
                    "read over http(s) or ipfs)")
    return ""
