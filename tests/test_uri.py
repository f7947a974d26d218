"""The one URI reader: file, http(s) and ipfs (through a gateway), each failure its own error,
every read bounded in time and size."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from offchain.errors import AttestiaError
from offchain.storage.uri import (
    DEFAULT_IPFS_GATEWAY,
    IPFS_GATEWAY_ENV,
    UnsupportedUri,
    UriError,
    UriNotFound,
    UriTimeout,
    UriTooLarge,
    UriUnavailable,
    ipfs_gateway,
    read_uri,
    resolve,
)
from tests.http_server import Route, serving

BODY = b'{"published": true}'


def test_file_uris_and_plain_paths(tmp_path: Path) -> None:
    path = tmp_path / "a b.json"  # a space: file URIs are percent-encoded
    path.write_bytes(BODY)
    assert read_uri(path.as_uri()) == BODY
    assert read_uri(f"file://localhost{path}") == BODY
    assert read_uri(str(path)) == BODY
    with pytest.raises(UriNotFound, match="no file at"):
        read_uri((tmp_path / "missing.json").as_uri())
    with pytest.raises(UnsupportedUri, match="this machine only"):
        read_uri(f"file://example.com{path}")


def test_a_file_over_the_limit_and_a_non_regular_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b"x" * 101)
    assert read_uri(path.as_uri(), max_bytes=101) == b"x" * 101
    with pytest.raises(UriTooLarge, match="larger than 100 bytes"):
        read_uri(path.as_uri(), max_bytes=100)
    # /dev/zero never ends and a FIFO blocks: a URI from the chain must not hang the reader.
    with pytest.raises(UriUnavailable, match="not a regular file"):
        read_uri("file:///dev/zero")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # no writer: a blocking open would wait forever
    with pytest.raises(UriUnavailable, match="not a regular file"):
        read_uri(fifo.as_uri())
    with pytest.raises(UriUnavailable, match="not a regular file"):
        read_uri(tmp_path.as_uri())  # a directory


def test_http_reads_the_body(tmp_path: Path) -> None:
    (tmp_path / "doc.json").write_bytes(BODY)
    with serving(tmp_path) as server:
        assert read_uri(server.url("doc.json")) == BODY
        with pytest.raises(UriNotFound, match="HTTP 404"):
            read_uri(server.url("missing.json"))
        server.routes["/gone"] = Route(b"", status=410)
        with pytest.raises(UriNotFound, match="HTTP 410"):
            read_uri(server.url("gone"))
        server.routes["/broken"] = Route(b"oops", status=500)
        with pytest.raises(UriUnavailable, match="HTTP 500"):
            read_uri(server.url("broken"))


def test_http_size_limit_is_enforced_while_streaming(tmp_path: Path) -> None:
    with serving() as server:
        server.routes["/big"] = Route(b"x" * 5000)
        assert len(read_uri(server.url("big"), max_bytes=5000)) == 5000
        with pytest.raises(UriTooLarge, match="larger than 4,999 bytes"):
            read_uri(server.url("big"), max_bytes=4999)  # refused on Content-Length
        # No declared length: the read stops at the first byte over the limit.
        server.routes["/endless"] = Route(b"y" * 300_000, declare_length=False)
        assert len(read_uri(server.url("endless"), max_bytes=300_000)) == 300_000
        with pytest.raises(UriTooLarge, match="the read was stopped"):
            read_uri(server.url("endless"), max_bytes=100_000)


def test_http_timeouts_bound_the_whole_read() -> None:
    with serving() as server:
        server.routes["/slow"] = Route(BODY, delay=3)
        started = time.monotonic()
        with pytest.raises(UriTimeout, match="did not answer within 0.5 s"):
            read_uri(server.url("slow"), timeout=0.5)
        assert time.monotonic() - started < 2.5
        # Each byte comes well within the timeout, the whole body does not.
        server.routes["/drip"] = Route(b"z" * 40, drip=0.1)
        started = time.monotonic()
        with pytest.raises(UriTimeout, match="did not finish within 1 s"):
            read_uri(server.url("drip"), timeout=1)
        assert time.monotonic() - started < 2.5


def test_connection_refused_is_unavailable() -> None:
    with serving() as server:
        url = server.url("doc.json")
    with pytest.raises(UriUnavailable, match="cannot connect"):
        read_uri(url, timeout=2)


def test_ipfs_goes_through_the_configured_gateway(tmp_path: Path, monkeypatch) -> None:
    cid = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
    (tmp_path / "ipfs" / cid).mkdir(parents=True)
    (tmp_path / "ipfs" / cid / "batch.json").write_bytes(BODY)
    monkeypatch.delenv(IPFS_GATEWAY_ENV, raising=False)
    assert ipfs_gateway() == DEFAULT_IPFS_GATEWAY
    assert resolve(f"ipfs://{cid}/batch.json") == f"{DEFAULT_IPFS_GATEWAY}{cid}/batch.json"
    with serving(tmp_path) as gateway:
        base = gateway.url("ipfs")  # no trailing slash: one is added
        assert read_uri(f"ipfs://{cid}/batch.json", gateway=base) == BODY
        monkeypatch.setenv(IPFS_GATEWAY_ENV, base + "/")
        assert read_uri(f"ipfs://{cid}/batch.json") == BODY
        assert gateway.requests[-1] == f"/ipfs/{cid}/batch.json"
        with pytest.raises(UriNotFound, match=rf"ipfs://{cid}/other.json \(via http"):
            read_uri(f"ipfs://{cid}/other.json")
    with pytest.raises(UnsupportedUri, match="names no CID"):
        read_uri("ipfs://")


@pytest.mark.parametrize("uri", ["ftp://example.com/batch.json", "data:,hello", "",
                                 "https:///no-host"])
def test_other_forms_are_unsupported(uri: str) -> None:
    with pytest.raises(UnsupportedUri):
        read_uri(uri)


def test_every_failure_is_an_attestia_error_naming_the_uri(tmp_path: Path) -> None:
    uri = (tmp_path / "missing").as_uri()
    with pytest.raises(UriError) as caught:
        read_uri(uri)
    assert isinstance(caught.value, AttestiaError) and caught.value.uri == uri
    assert str(tmp_path / "missing") in str(caught.value)


def test_a_public_service_reads_local_files_only_under_its_home(tmp_path: Path) -> None:
    """A URI published on chain (batch file, attestation document) is chosen by whoever
    published it: a public explorer reads file:// ones only under its own home."""
    from offchain.storage.uri import local_file_refused

    home = tmp_path / "home"
    (home / "batches").mkdir(parents=True)
    inside = (home / "batches" / "b.json").as_uri()
    assert local_file_refused(inside, (home,)) == ""
    assert local_file_refused("file:///etc/hostname", None) == ""  # the verifier's own machine
    refused = local_file_refused("file:///etc/hostname", (home,), "an attestation document")
    assert "outside this service's home" in refused and "attestation document" in refused
    escape = (home / "batches" / ".." / ".." / "secret").as_uri()
    assert local_file_refused(escape, (home,)) != ""  # resolved before the check
    assert local_file_refused("https://example.org/b.json", (home,)) == ""


# -- a public service's policy (issue 17, attack 10) -------------------------------------------
# Traffic goes to loopback only. Every other internal address is named through an injected
# resolver or checked as a literal by the pure function, and a guard fails the test if any
# connection is attempted.

@pytest.fixture
def no_connection(monkeypatch) -> list[object]:
    """Fail on any connection attempt and on any system DNS lookup; the attempts list stays
    empty when the policy refused first."""
    import socket

    import urllib3.util.connection

    attempts: list[object] = []

    def refuse(address: object, *args: object, **kwargs: object) -> object:
        attempts.append(address)
        raise AssertionError(f"a connection to {address} was attempted")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)
    monkeypatch.setattr("urllib3.connection.connection.create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


@pytest.mark.parametrize(("address", "why"), [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped: the same host
    ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.169.254", "metadata"), ("169.254.170.2", "metadata"),
    ("fd00:ec2::254", "metadata"), ("168.63.129.16", "metadata"),
    ("100.100.100.200", "metadata"),
    ("169.254.1.2", "link-local"), ("fe80::1", "link-local"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("224.0.0.1", "multicast"), ("100.64.0.1", "not a public"),
    ("192.0.2.1", "private"), ("240.0.0.1", "private"),
])
def test_internal_addresses_are_refused(address: str, why: str) -> None:
    from offchain.storage.uri import address_refused

    assert why in address_refused(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.215.14",
                                     "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    from offchain.storage.uri import address_refused

    assert address_refused(address) == ""


def test_the_allow_list_opens_only_what_it_names() -> None:
    from offchain.storage.uri import address_refused, allow_list

    allow = allow_list(" 127.0.0.1, 10.1.0.0/16 ")
    assert address_refused("127.0.0.1", allow) == ""
    assert address_refused("::ffff:127.0.0.1", allow) == ""
    assert address_refused("10.1.200.3", allow) == ""
    assert "loopback" in address_refused("127.0.0.2", allow)
    assert "private" in address_refused("10.2.0.1", allow)
    assert "metadata" in address_refused("169.254.169.254", allow)
    assert allow_list("") == () and allow_list(None) == ()
    with pytest.raises(ValueError):
        allow_list("localhost")


def test_a_name_is_checked_on_what_it_resolves_to(no_connection: list[object]) -> None:
    """A fake resolver answers for the names: the check refuses a name that resolves to the
    metadata address or a private one (one internal answer in a round-robin is enough), and
    connects to nothing."""
    from offchain.storage.uri import UriRefused, checked_address

    answers = {"metadata.example.test": ["169.254.169.254"],
               "intranet.example.test": ["10.0.0.1"],
               "mixed.example.test": ["93.184.215.14", "192.168.0.7"],
               "public.example.test": ["93.184.215.14", "2606:4700:4700::1111"]}

    def resolver(host: str, port: int) -> list[str]:
        return answers[host]

    with pytest.raises(UriRefused, match=r"resolves to 169\.254\.169\.254: .*metadata"):
        checked_address("metadata.example.test", 80, resolver=resolver)
    with pytest.raises(UriRefused, match=r"resolves to 10\.0\.0\.1: .*private"):
        checked_address("intranet.example.test", 80, resolver=resolver)
    with pytest.raises(UriRefused, match=r"192\.168\.0\.7"):
        checked_address("mixed.example.test", 443, resolver=resolver)
    assert checked_address("public.example.test", 443, resolver=resolver) == "93.184.215.14"
    with pytest.raises(UriRefused, match="loopback"):
        checked_address("[::1]", 80, resolver=resolver)  # a literal is not resolved
    assert no_connection == []


def test_a_fetch_under_a_policy_refuses_before_connecting(no_connection: list[object],
                                                          tmp_path: Path) -> None:
    from offchain.storage.uri import FetchPolicy, UriRefused

    policy = FetchPolicy(resolver=lambda host, port: {"meta.example.test":
                                                      ["169.254.169.254"]}[host])
    for uri, why in (("http://127.0.0.1:9/x", "loopback"), ("http://[::1]:9/x", "loopback"),
                     ("https://10.0.0.1/x", "private"),
                     ("http://meta.example.test/latest/meta-data/", "metadata"),
                     ("http://169.254.169.254/latest/meta-data/", "metadata")):
        with pytest.raises(UriRefused, match=why):
            read_uri(uri, policy=policy)
    assert no_connection == []


def test_the_connection_goes_to_the_address_checked(monkeypatch) -> None:
    """DNS rebinding: the name is resolved once, by the check, and the connection made to
    that very address (the system resolver is never asked); a second answer cannot swap it."""
    import socket

    from offchain.storage.uri import FetchPolicy, allow_list

    calls: list[str] = []
    rebinding = iter([["127.0.0.1"], ["169.254.169.254"]])

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(rebinding)

    import ipaddress

    real = socket.getaddrinfo

    def no_dns(host: str, *args: object, **kwargs: object) -> object:
        ipaddress.ip_address(host)  # a ValueError if a name, not the address checked, is sent
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    with serving() as server:
        server.routes["/b.json"] = Route(BODY)
        monkeypatch.setattr(socket, "getaddrinfo", no_dns)
        policy = FetchPolicy(allow=allow_list("127.0.0.1"), resolver=resolver)
        uri = f"http://batches.example.test:{server.port}/b.json"
        assert read_uri(uri, policy=policy) == BODY
    assert calls == ["batches.example.test"]
    assert server.hosts == [f"batches.example.test:{server.port}"]  # the name, not the address


def test_every_redirect_is_checked(monkeypatch) -> None:
    """A loopback server allowed for local development redirects to another loopback address,
    to a name that resolves to the metadata address, to a private literal: each hop is checked
    and refused before any connection; a redirect within what is allowed is followed."""
    import urllib3.util.connection

    from offchain.storage.uri import FetchPolicy, UriRefused, UriUnavailable, allow_list

    real = urllib3.util.connection.create_connection
    connected: list[object] = []

    def loopback_only(address: tuple[str, int], *args: object, **kwargs: object) -> object:
        connected.append(address[0])
        assert address[0] == "127.0.0.1", f"a connection to {address} was attempted"
        return real(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("urllib3.connection.connection.create_connection", loopback_only)
    with serving() as server:
        server.routes["/b.json"] = Route(BODY)
        server.routes["/same"] = Route(status=302, headers={"Location": "/b.json"})
        server.routes["/other"] = Route(status=301, headers={
            "Location": f"http://127.0.0.2:{server.port}/b.json"})
        server.routes["/meta"] = Route(status=307, headers={
            "Location": "http://meta.example.test/latest/meta-data/"})
        server.routes["/private"] = Route(status=308, headers={
            "Location": "http://10.0.0.1/admin"})
        server.routes["/loop"] = Route(status=302, headers={"Location": "/loop"})
        server.routes["/ftp"] = Route(status=302, headers={"Location": "ftp://x/y"})
        policy = FetchPolicy(allow=allow_list("127.0.0.1"),
                             resolver=lambda host, port: {"meta.example.test":
                                                          ["169.254.169.254"]}[host])
        assert read_uri(server.url("same"), policy=policy) == BODY
        for path, why in (("other", "127.0.0.2 is a loopback"), ("meta", "metadata"),
                          ("private", "10.0.0.1 is a private"), ("ftp", "only http")):
            with pytest.raises(UriRefused, match=why):
                read_uri(server.url(path), policy=policy)
        with pytest.raises(UriUnavailable, match="redirects"):
            read_uri(server.url("loop"), policy=policy)
    assert set(connected) == {"127.0.0.1"}
    assert not [r for r in server.requests if r in ("/admin", "/latest/meta-data/")]


def test_local_files_only_under_the_publish_directories(tmp_path: Path) -> None:
    from offchain.errors import ConfigError
    from offchain.storage.uri import FetchPolicy, UriRefused

    home = tmp_path / "home"
    published = home / "published"
    published.mkdir(parents=True)
    (home / "worker").mkdir()
    key = home / "worker" / "encryption.key"
    key.write_bytes(b"secret")
    ok = published / "b.json"
    ok.write_bytes(BODY)
    ok.chmod(0o644)
    link = published / "link.json"
    link.symlink_to(key)
    private = published / "owner-only.json"
    private.write_bytes(BODY)
    private.chmod(0o600)
    policy = FetchPolicy.for_service((published,), secret_dirs=(home / "worker",), allow="")
    assert read_uri(ok.as_uri(), policy=policy) == BODY
    for path, why in ((key, "outside this service's home"), (link, "outside"),
                      (published / ".." / "worker" / "encryption.key", "outside"),
                      (private, "only its owner")):
        with pytest.raises(UriRefused, match=why):
            read_uri(path.as_uri(), policy=policy)
    with pytest.raises(UriRefused, match="outside"):
        read_uri(ok.as_uri(), policy=FetchPolicy())  # no publish directory: no local file
    assert read_uri(key.as_uri()) == b"secret"  # without a policy: the user's own machine
    with pytest.raises(ConfigError, match="holds"):
        FetchPolicy.for_service((home,), secret_dirs=(home / "worker",))
    with pytest.raises(ConfigError, match="holds"):
        FetchPolicy.for_service((home / "worker",))  # a directory with a .key file
    with pytest.raises(ConfigError, match="ATTESTIA_FETCH_ALLOW"):
        FetchPolicy.for_service((published,), allow="not-an-address")


def test_a_policy_caps_the_time_of_every_read() -> None:
    from offchain.storage.uri import FetchPolicy, allow_list

    with serving() as server:
        server.routes["/slow"] = Route(BODY, delay=10)
        policy = FetchPolicy(allow=allow_list("127.0.0.1"), timeout=0.5)
        started = time.monotonic()
        with pytest.raises(UriTimeout):
            read_uri(server.url("slow"), timeout=30, policy=policy)
        assert time.monotonic() - started < 3
