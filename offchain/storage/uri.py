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

A public service (the explorer) reads URIs that strangers chose, so it passes a
:class:`FetchPolicy`: no connection to a loopback, private, link-local, shared, reserved,
multicast or cloud-metadata address (checked on the addresses the host name resolves to, and
the connection made to the very address checked, so a DNS answer cannot change in between;
checked again at every redirect; no proxy), unless an explicit allow-list names it (local
development), and ``file://`` only under its publish directories, never a file only its owner
may read. Without a policy (the CLI on the user's own machine) every form above is read.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import os
import socket
import stat
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from offchain.errors import AttestiaError

if TYPE_CHECKING:  # the HTTP stack is imported when an http(s) URI is read, not before:
    # a read that only meets file:// or local paths (`attestia rewards status`) stays fast
    import requests
    import urllib3

__all__ = [
    "ALLOW_ENV", "DEFAULT_IPFS_GATEWAY", "DEFAULT_MAX_BYTES", "DEFAULT_TIMEOUT",
    "IPFS_GATEWAY_ENV", "FetchPolicy", "UnsupportedUri", "UriError", "UriNotFound",
    "UriRefused", "UriTimeout", "UriTooLarge", "UriUnavailable", "address_refused",
    "allow_list", "checked_address", "fetch_policy", "ipfs_gateway", "read_uri", "resolve",
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
    """The URI's form is not one Attestia reads (see :mod:`offchain.storage.uri`)."""


class UriNotFound(UriError):
    """Nothing is published there (no such file, HTTP 404 or 410)."""


class UriTimeout(UriError):
    """The server did not answer, or did not finish, within the time limit."""


class UriTooLarge(UriError):
    """The document is larger than the size limit; the read was stopped."""


class UriUnavailable(UriError):
    """Any other failure to read (connection refused, HTTP error status, I/O error)."""


class UriRefused(UriError):
    """A :class:`FetchPolicy` forbids the read (an internal address, a file outside the
    publish directories); nothing was connected to or opened."""


# -- the policy of a public service ------------------------------------------------------------

ALLOW_ENV = "ATTESTIA_FETCH_ALLOW"
"""Comma-separated addresses or networks a public service may fetch from although they are
internal (``127.0.0.1``, ``10.1.0.0/16``): local development, a local IPFS gateway."""

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]
"""(host, port) -> the addresses it names (IP literals); :func:`system_resolver` by default."""

METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean instance metadata
    "169.254.170.2",  # AWS ECS task metadata
    "100.100.100.200",  # Alibaba Cloud
    "168.63.129.16",  # Azure wire server (a global address, so named here)
    "fd00:ec2::254",  # AWS over IPv6
))


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to here (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def allow_list(text: str | None) -> tuple[IpNetwork, ...]:
    """Parse an allow-list (``ALLOW_ENV``'s form); a bad entry is a :class:`ValueError`."""
    entries = [e.strip() for e in (text or "").split(",") if e.strip()]
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def address_refused(address: IpAddress | str, allow: Sequence[IpNetwork] = ()) -> str:
    """Why a public service must not connect to ``address`` ("" if it may): a pure function
    of the address and the allow-list."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(ip in network for network in allow):
        return ""
    if ip in METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata address"
    for kind, test in (("a loopback", ip.is_loopback), ("a link-local", ip.is_link_local),
                       ("an unspecified", ip.is_unspecified), ("a multicast", ip.is_multicast),
                       ("a private", ip.is_private)):
        if test:
            return f"{ip} is {kind} address"
    if not ip.is_global:  # shared (100.64/10), reserved, documentation, 6to4 of the above...
        return f"{ip} is not a public address"
    return ""


def checked_address(host: str, port: int, allow: Sequence[IpNetwork] = (),
                    resolver: Resolver | None = None) -> str:
    """The address to connect to for ``host``: every address it resolves to must pass
    :func:`address_refused` (one internal answer refuses the name: a round-robin of a public
    and an internal address must not pass half the time). Raises :class:`UriRefused` (and
    never connects) otherwise."""
    host = host.strip("[]")
    try:
        addresses = [host] if _is_ip(host) else list((resolver or system_resolver)(host, port))
    except (OSError, UnicodeError) as exc:
        raise UriUnavailable(host, f"cannot resolve {host}: {exc}") from None
    if not addresses:
        raise UriUnavailable(host, f"{host} resolves to no address")
    for address in addresses:
        try:
            reason = address_refused(address, allow)
        except ValueError:
            reason = f"{address!r} is not an IP address"
        if reason:
            named = "" if address == host else f"{host} resolves to {address}: "
            raise UriRefused(host, f"{named}{reason}; this service does not fetch from "
                             f"internal addresses (allow one with {ALLOW_ENV} for local "
                             "development)")
    return addresses[0]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class FetchPolicy:
    """What a public service may read on behalf of whoever published a URI on chain."""

    publish_dirs: tuple[Path, ...] = ()
    """``file://`` URIs are read only under these (none: no local file at all)."""
    allow: tuple[IpNetwork, ...] = ()
    """Internal addresses fetched anyway (local development; see ``ALLOW_ENV``)."""
    resolver: Resolver | None = field(default=None, compare=False)
    """Name resolution (``system_resolver`` when None); tests inject their own."""
    max_redirects: int = 5
    timeout: float | None = None
    """Seconds any one read may take at most, whatever its caller asked (None: as asked)."""

    @classmethod
    def for_service(cls, publish_dirs: Sequence[Path] = (), *,
                    secret_dirs: Sequence[Path] = (), allow: str | None = None
                    ) -> FetchPolicy:
        """A policy for a public service: ``allow`` (else ``$ATTESTIA_FETCH_ALLOW``) parsed,
        and a publish directory that is, or holds, one of ``secret_dirs`` (a home, a data
        directory with keys) refused."""
        from offchain.errors import ConfigError

        text = os.environ.get(ALLOW_ENV, "") if allow is None else allow
        try:
            networks = allow_list(text)
        except ValueError as exc:
            raise ConfigError(f"the fetch allow-list ({ALLOW_ENV} or --allow-fetch): {exc} "
                              "(expected addresses or networks, comma-separated)") from None
        dirs = tuple(Path(d).resolve() for d in publish_dirs)
        for directory in dirs:
            if not directory.is_dir():
                raise ConfigError(f"publish directory {directory} is not a directory")
            held = [Path(s) for s in secret_dirs if Path(s).resolve().is_relative_to(directory)]
            held += [p for p in directory.iterdir() if p.name.endswith(".key")
                     or p.name == "keystore"]
            if held:
                raise ConfigError(
                    f"publish directory {directory} holds {held[0]} (keys, journals): "
                    "publish batch files in a directory of their own")
        return cls(dirs, networks)

    def file_refused(self, uri: str, path: Path) -> str:
        """Why ``path`` is not read ("" if it may be)."""
        where = path.resolve()
        if not any(where.is_relative_to(d.resolve()) for d in self.publish_dirs):
            return (f"{uri}: a local file outside this service's home (its publish "
                    "directory) is not read (publish over http(s) or ipfs)")
        with contextlib.suppress(OSError):  # a missing file: the read says so
            if not where.stat().st_mode & stat.S_IROTH:
                return f"{uri}: a file only its owner may read is private, not published"
        return ""


_POLICY: contextvars.ContextVar[FetchPolicy | None] = contextvars.ContextVar(
    "attestia_fetch_policy", default=None)


@contextlib.contextmanager
def fetch_policy(policy: FetchPolicy | None) -> Iterator[None]:
    """Every :func:`read_uri` in this context (this thread) follows ``policy``: how a public
    service holds a library that reads URIs (``attestia verify``) to its own rules."""
    token = _POLICY.set(policy)
    try:
        yield
    finally:
        _POLICY.reset(token)


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
             session: requests.Session | None = None,
             policy: FetchPolicy | None = None) -> bytes:
    """The bytes published at ``uri``, at most ``max_bytes`` of them, within ``timeout`` s;
    under ``policy`` (else the one :func:`fetch_policy` set, else none) when given.

    Raises :class:`UnsupportedUri`, :class:`UriNotFound`, :class:`UriTimeout`,
    :class:`UriTooLarge`, :class:`UriUnavailable` or :class:`UriRefused`.
    """
    policy = policy or _POLICY.get()
    if policy is not None and policy.timeout is not None:
        timeout = min(timeout, policy.timeout)
    where = resolve(uri, gateway=gateway)
    if isinstance(where, Path):
        if policy is not None:
            refused = policy.file_refused(uri, where)
            if refused:
                raise UriRefused(uri, refused)
            where = where.resolve()  # the path checked is the path read
        return _read_file(uri, where, max_bytes)
    if policy is not None:
        return _read_http_checked(uri, where, max_bytes, timeout, policy)
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
    import requests
    from urllib3.exceptions import HTTPError as Urllib3Error
    from urllib3.exceptions import ReadTimeoutError

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
            return _read_bounded(lambda: response.raw.read1(_CHUNK, decode_content=True),
                                 uri, shown, max_bytes, deadline, timeout)
    except (requests.Timeout, ReadTimeoutError):
        raise UriTimeout(uri, f"{shown} did not answer within {timeout:g} s") from None
    except requests.ConnectionError as exc:
        raise UriUnavailable(uri, f"cannot connect to {shown}: {_reason(exc)}") from None
    except (requests.RequestException, Urllib3Error) as exc:
        raise UriUnavailable(uri, f"cannot read {shown}: {_reason(exc)}") from None


_REDIRECTS = (301, 302, 303, 307, 308)


def _read_http_checked(uri: str, url: str, max_bytes: int, timeout: float,
                       policy: FetchPolicy) -> bytes:
    """``_read_http`` under a policy: urllib3 directly (no proxy from the environment), one
    connection per hop made to the address :func:`checked_address` passed (TLS still checks
    the certificate against the host name), redirects followed by hand so each hop is
    checked."""
    import certifi
    import urllib3
    from urllib3.exceptions import HTTPError as Urllib3Error
    from urllib3.exceptions import ReadTimeoutError

    deadline = time.monotonic() + timeout
    for _ in range(policy.max_redirects + 1):
        shown = uri if url == uri else f"{uri} (via {url})"
        parsed = urllib.parse.urlsplit(url)
        scheme, host = parsed.scheme.lower(), parsed.hostname or ""
        try:
            port = parsed.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise UnsupportedUri(uri, f"{shown} has a bad port") from None
        if scheme not in ("http", "https") or not host:
            raise UriRefused(uri, f"{shown}: only http(s) is followed, got {url[:200]!r}")
        try:
            address = checked_address(host, port, policy.allow, policy.resolver)
        except UriError as exc:
            raise type(exc)(uri, f"{shown}: {exc}") from None
        left = max(0.001, deadline - time.monotonic())
        pool_timeout = urllib3.Timeout(connect=left, read=left)
        pool: urllib3.HTTPConnectionPool
        if scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address, port, timeout=pool_timeout, retries=False, maxsize=1,
                server_hostname=host, assert_hostname=host, cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where())
        else:
            pool = urllib3.HTTPConnectionPool(address, port, timeout=pool_timeout,
                                              retries=False, maxsize=1)
        target = urllib.parse.urlunsplit(("", "", parsed.path or "/", parsed.query, ""))
        default_port = port == (443 if scheme == "https" else 80)
        host_header = (f"[{host}]" if ":" in host else host) + ("" if default_port
                                                                 else f":{port}")
        try:
            with pool:
                response = pool.urlopen(
                    "GET", target, redirect=False, preload_content=False,
                    assert_same_host=False,
                    headers={"Host": host_header, "Accept-Encoding": "identity",
                             "User-Agent": "attestia"})
                try:
                    if response.status in _REDIRECTS and response.headers.get("Location"):
                        url = urllib.parse.urljoin(url, response.headers["Location"])
                        continue
                    return _body(uri, shown, response, response.status, response.reason,
                                 max_bytes, deadline, timeout)
                finally:
                    response.release_conn()
        except (urllib3.exceptions.TimeoutError, ReadTimeoutError):
            raise UriTimeout(uri, f"{shown} did not answer within {timeout:g} s") from None
        except urllib3.exceptions.NewConnectionError as exc:
            raise UriUnavailable(uri, f"cannot connect to {shown}: {_reason(exc)}") from None
        except Urllib3Error as exc:
            raise UriUnavailable(uri, f"cannot read {shown}: {_reason(exc)}") from None
    raise UriUnavailable(uri, f"{uri}: more than {policy.max_redirects} redirects")


def _body(uri: str, shown: str, response: urllib3.BaseHTTPResponse, status: int,
          reason: str | None, max_bytes: int, deadline: float, timeout: float) -> bytes:
    """The body of an answer, within the size limit and the deadline."""
    if status in (404, 410):
        raise UriNotFound(uri, f"nothing published at {shown} (HTTP {status})")
    if status >= 400:
        raise UriUnavailable(uri, f"{shown} answered HTTP {status} {reason or ''}".rstrip())
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(uri, max_bytes)
    return _read_bounded(lambda: response.read1(_CHUNK), uri, shown, max_bytes, deadline,
                         timeout)


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


def _read_bounded(read_chunk: Callable[[], bytes], uri: str, shown: str, max_bytes: int,
                  deadline: float, timeout: float) -> bytes:
    """A body read chunk by chunk, refused once it passes ``max_bytes`` or ``deadline``."""
    chunks: list[bytes] = []
    size = 0
    while chunk := read_chunk():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(uri, max_bytes)
        if time.monotonic() > deadline:
            raise UriTimeout(uri, f"{shown} did not finish within {timeout:g} s")
        chunks.append(chunk)
    return b"".join(chunks)
