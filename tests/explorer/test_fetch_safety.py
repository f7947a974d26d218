"""Issue 17, attacks 10-12, performed against the explorer and its indexer on Anvil: a batch
URI on chain that names a worker's encryption key, a loopback port or a metadata address; slow
batch files; many views of a hanging batch; a file altered after it passed. Traffic goes to
loopback only: an internal address other than loopback is only ever named through an injected
resolver, and a guard fails the test if any connection is attempted to it."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3.util.connection
from sqlalchemy import select

from offchain.chain.anvil import free_port
from offchain.explorer.app import RateLimit, create_app
from offchain.explorer.service import Explorer
from offchain.indexer import Indexer, IndexerConfig, open_engine
from offchain.indexer import schema as S
from offchain.record.batch_file import data_hash
from offchain.storage.uri import FetchPolicy, allow_list
from tests.explorer.helpers import Flow
from tests.http_server import Route, serving

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx`")
    from fastapi.testclient import TestClient


@pytest.fixture
def chain(explorer_flow: Flow) -> Iterator[Flow]:
    """The flow, with whatever a test commits reverted afterwards."""
    snapshot = explorer_flow.snapshot()
    try:
        yield explorer_flow
    finally:
        explorer_flow.revert(snapshot)


def _commit_uri(flow: Flow, uri: str, n: int = 2) -> str:
    """A batch of ``n`` leaves committed with ``uri`` as its data URI (any bytes' hash)."""
    market = flow.market
    batch = market.batch(n)
    event = market.commit(batch, uri, b"\x11" * 32)
    return "0x" + event.batch_id.hex()


def _publish(flow: Flow, n: int = 3) -> tuple[str, Path]:
    market = flow.market
    batch = market.batch(n)
    published = market.publish(batch, flow.settings.home / "published")
    event = market.commit(batch, published.path.resolve().as_uri(), published.data_hash)
    return "0x" + event.batch_id.hex(), published.path


def _worker_key(flow: Flow) -> Path:
    """A worker's encryption key in the flow's home (the demo worker's)."""
    found = sorted(flow.settings.home.rglob("encryption.key"))
    assert found, "the demo worker keeps an encryption.key in the home"
    return found[0]


def _stored(engine: Any, batch_id: str) -> tuple[Any, dict[str, Any]]:
    with engine.connect() as conn:
        row = conn.execute(select(S.batch_files).where(
            S.batch_files.c.batch_id == batch_id)).one()
        detail = conn.execute(select(S.batch_checks.c.detail).where(
            S.batch_checks.c.batch_id == batch_id)).scalar_one()
    return row, dict(detail)


def test_a_batch_uri_naming_a_worker_key_is_refused_and_nothing_about_it_published(
        chain: Flow, tmp_path: Path) -> None:
    key = _worker_key(chain)
    secret = key.read_bytes()
    batch_id = _commit_uri(chain, key.as_uri())
    # A copy inside the publish directory, as an operator might leave one: owner-only, so
    # private by intent, and refused as well.
    copy = chain.settings.home / "published" / "stray" / "encryption.key"
    copy.parent.mkdir(exist_ok=True)
    shutil.copyfile(key, copy)
    copy.chmod(0o600)
    copied_id = _commit_uri(chain, copy.as_uri())
    engine = open_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    Indexer(chain.attestia, engine, IndexerConfig(fetch=chain.fetch_policy)).step()
    app = TestClient(create_app(Explorer(engine, chain.attestia, fetch=chain.fetch_policy)))
    for bid, why in ((batch_id, "outside this service's home"), (copied_id, "private")):
        row, detail = _stored(engine, bid)
        assert row.status == "unreadable" and why in row.reason
        assert not detail["fetched"] and detail["size"] == 0
        assert detail["dataHash"]["file"] is None and detail["root"]["recomputed"] is None
        shown = app.get(f"/api/batches/{bid}").text + app.get(f"/batch/{bid}").text
        assert "FAILED: the published file cannot be read" in app.get(f"/batch/{bid}").text
        assert "0x" + data_hash(secret).hex() not in shown and str(len(secret)) + " bytes" \
            not in shown
    # And a publish directory that holds a key is refused outright.
    from offchain.errors import ConfigError

    with pytest.raises(ConfigError, match="holds"):
        FetchPolicy.for_service((key.parent,))
    with pytest.raises(ConfigError, match="holds"):
        FetchPolicy.for_service((chain.settings.home,), secret_dirs=(chain.settings.data_dir,))
    copy.unlink()


def test_internal_addresses_are_refused_without_connecting(chain: Flow, tmp_path: Path,
                                                           monkeypatch) -> None:
    """A batch URI naming a loopback port (a local service), and a host name that resolves to
    the metadata address or a private one: all refused before any connection, so nothing
    (open or closed port, size, hash) is learnt."""
    with serving() as local:
        local.routes["/secret"] = Route(b'{"admin": true}')
        loopback = _commit_uri(chain, local.url("secret"))
        closed_uri = f"http://127.0.0.1:{free_port()}/secret"
        closed = _commit_uri(chain, closed_uri)
        metadata = _commit_uri(chain, "http://metadata.example.test/latest/meta-data/")
        private = _commit_uri(chain, "http://intranet.example.test:8080/admin")
        answers = {"metadata.example.test": ["169.254.169.254"],
                   "intranet.example.test": ["10.0.0.1"]}
        attempts: list[Any] = []

        def no_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
            attempts.append(address)
            raise AssertionError(f"connected to {address}")

        monkeypatch.setattr(urllib3.util.connection, "create_connection", no_connection)
        monkeypatch.setattr("urllib3.connection.connection.create_connection", no_connection)
        policy = FetchPolicy(chain.fetch_policy.publish_dirs,
                             resolver=lambda host, port: answers[host])
        engine = open_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
        Indexer(chain.attestia, engine, IndexerConfig(fetch=policy)).step()
        assert local.requests == [] and attempts == []
    reasons = {bid: _stored(engine, bid)[0].reason for bid in (loopback, closed, metadata,
                                                                private)}
    assert "127.0.0.1 is a loopback address" in reasons[loopback]
    assert "127.0.0.1 is a loopback address" in reasons[closed]  # open and closed alike
    uris = {loopback: local.url("secret"), closed: closed_uri}
    assert reasons[loopback].replace(uris[loopback], "URI") == \
        reasons[closed].replace(uris[closed], "URI")  # the same words: no port oracle
    assert "resolves to 169.254.169.254" in reasons[metadata]
    assert "cloud metadata address" in reasons[metadata]
    assert "resolves to 10.0.0.1" in reasons[private] and "private address" in reasons[private]
    for bid in reasons:
        detail = _stored(engine, bid)[1]
        assert not detail["fetched"] and detail["size"] == 0 and detail["dataHash"]["file"] is None


@pytest.mark.slow  # in `make test-slow` (CI runs it): keeps `make test` under 12 min
def test_slow_batch_files_stall_neither_the_indexer_loop_nor_the_pages(chain: Flow,
                                                                       tmp_path: Path) -> None:
    """13 batch files that hang, and 60 concurrent views of one of them: the indexer's cycles
    stay short, and /api/status answers promptly throughout (the local test server is on
    127.0.0.1, allowed explicitly)."""
    import uvicorn

    with serving() as slow:
        for i in range(13):
            slow.routes[f"/hang{i}"] = Route(b"{}", delay=30)
        hanging = [_commit_uri(chain, slow.url(f"hang{i}")) for i in range(13)]
        policy = FetchPolicy(chain.fetch_policy.publish_dirs, allow=allow_list("127.0.0.1"))
        engine = open_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
        indexer = Indexer(chain.attestia, engine, IndexerConfig(
            fetch=policy, poll=0.05, fetch_workers=4, fetch_timeout=5.0))
        cycles: list[float] = []
        stop = threading.Event()
        last = [time.monotonic()]

        def on_cycle(stats: Any) -> None:
            now = time.monotonic()
            cycles.append(now - last[0])
            last[0] = now

        loop = threading.Thread(target=indexer.run, args=(stop,),
                                kwargs={"on_cycle": on_cycle}, daemon=True)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(
            create_app(Explorer(engine, chain.attestia, fetch=policy),
                       rate_limit=RateLimit(rate=1000, burst=1000)),
            host="127.0.0.1", port=port, log_level="warning"))
        web = threading.Thread(target=server.run, daemon=True)
        loop.start()
        web.start()
        try:
            deadline = time.monotonic() + 20
            while not server.started and time.monotonic() < deadline:
                time.sleep(0.02)
            base = f"http://127.0.0.1:{port}"
            while len(cycles) < 3 and time.monotonic() < deadline:  # indexed, files queued
                time.sleep(0.05)
            assert len(cycles) >= 3 and max(cycles[1:]) < 2.5, cycles

            def view(path: str) -> int:
                try:
                    with urllib.request.urlopen(base + path, timeout=30) as response:
                        return int(response.status)
                except urllib.error.HTTPError as exc:
                    return int(exc.code)

            results: list[int] = []
            viewers = [threading.Thread(target=lambda: results.append(
                view(f"/batch/{hanging[0]}")), daemon=True) for _ in range(60)]
            for v in viewers:
                v.start()
            started = time.monotonic()
            assert view("/api/status") == 200
            status_took = time.monotonic() - started
            for v in viewers:
                v.join(30)
            assert status_took < 3.0, status_took
            assert results.count(200) == 60
            # The loop goes on cycling while the files hang (a stall would show as a long
            # gap since the last cycle, not only as a long cycle).
            seen = len(cycles)
            while len(cycles) < seen + 3 and time.monotonic() < deadline + 10:
                time.sleep(0.05)
            assert len(cycles) >= seen + 3, cycles
            # Bounds well under one fetch's 5 s limit, which a loop waiting for a fetch
            # would show (the attack: ~41 s every 300 s).
            assert max(cycles[1:]) < 2.5 and time.monotonic() - last[0] < 2.5, cycles
            assert any(indexer.files.pool.pending(b) for b in hanging)  # still hanging
        finally:
            server.should_exit = True
            stop.set()
            loop.join(10)
            web.join(10)
        assert not loop.is_alive()
        # The hanging fetches end at their time limit, as "unreadable" verdicts.
        assert indexer.files.wait(40)
        with engine.connect() as conn:
            stored = {r.batch_id: r for r in conn.execute(select(S.batch_files))}
    assert [stored[b].status for b in hanging if b in stored] == ["unreadable"] * 13
    assert all("did not answer within 5 s" in stored[b].reason for b in hanging), \
        [stored[b].reason for b in hanging]


def test_a_file_tampered_after_it_passed_turns_failed_at_its_recheck(chain: Flow,
                                                                     tmp_path: Path) -> None:
    batch_id, path = _publish(chain)
    engine = open_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    indexer = Indexer(chain.attestia, engine, IndexerConfig(fetch=chain.fetch_policy,
                                                            recheck_after=0.5))
    indexer.step()
    client = TestClient(create_app(Explorer(engine, chain.attestia,
                                            fetch=chain.fetch_policy)))

    def listed() -> str:
        return next(b["file"]["status"] for b in client.get("/api/batches").json()["items"]
                    if b["batchId"] == batch_id)

    assert client.get(f"/api/batches/{batch_id}").json()["check"]["status"] == "ok"
    assert listed() == "ok"
    with engine.connect() as conn:
        assert len(conn.execute(select(S.leaves).where(
            S.leaves.c.batch_id == batch_id)).all()) == 3
    doc = json.loads(path.read_bytes())
    doc["leaves"][0]["fee"] = str(int(doc["leaves"][0]["fee"]) + 1)
    path.write_text(json.dumps(doc, separators=(",", ":")))
    try:
        time.sleep(1.1)  # past recheck_after (times are stored in whole seconds)
        indexer.step()
        check = client.get(f"/api/batches/{batch_id}").json()["check"]
        assert check["status"] == "failed" and check["check"] == "dataHash"
        assert check["checkedAt"] and listed() == "failed"
        page = client.get(f"/batch/{batch_id}").text
        assert "FAILED" in page and "checked at" in page
        with engine.connect() as conn:
            assert conn.execute(select(S.leaves).where(
                S.leaves.c.batch_id == batch_id)).all() == []
    finally:
        path.unlink()


def test_a_client_over_its_rate_limit_gets_429_json(indexed: Explorer) -> None:
    client = TestClient(create_app(indexed, rate_limit=RateLimit(rate=0.5, burst=3)))
    assert [client.get("/api/status").status_code for _ in range(3)] == [200] * 3
    over = client.get("/api/status")
    assert over.status_code == 429 and over.json()["status"] == 429
    assert "too many requests" in over.json()["error"]
    assert int(over.headers["Retry-After"]) >= 1
    assert client.get("/").status_code == 429  # pages too


def test_the_background_pool_runs_one_job_per_key_and_refuses_past_its_cap() -> None:
    """What bounds the work strangers can cause: a thousand asks for one key run it once, and
    a full queue refuses at once (Busy) instead of growing."""
    from offchain.indexer.files import BoundedPool, Busy

    release = threading.Event()
    runs: list[str] = []

    def job(key: str) -> Any:
        def run() -> str:
            runs.append(key)
            release.wait(10)
            return key
        return run

    pool = BoundedPool("test", workers=1, capacity=2)
    first = pool.submit("a", job("a"))
    assert all(pool.submit("a", job("a")) is first for _ in range(1000))
    deadline = time.monotonic() + 5
    while runs != ["a"] and time.monotonic() < deadline:  # "a" leaves the queue, runs
        time.sleep(0.01)
    pool.submit("b", job("b"))
    pool.submit("c", job("c"))
    with pytest.raises(Busy, match="retry"):
        pool.submit("d", job("d"))
    assert pool.pending("a") and not pool.pending("d")
    assert not pool.wait_idle(0.1)
    release.set()
    assert pool.wait_idle(5) and first.result() == "a"
    assert sorted(runs) == ["a", "b", "c"]
    pool.close()
