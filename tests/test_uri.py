"""The one URI reader: file, http(s) and ipfs (through a gateway), each failure its own error,
every read bounded in time and size."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from offchain.errors import AttestiaError
from offchain.uri import (
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
    from offchain.uri import local_file_refused

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
