"""The commands the README's Explorer section shows, run as a user runs them: `attestia
explorer` (default SQLite in the home, indexing in-process), the same pointed at a chain from
a stranger's empty home with `--rpc-url` and `--deployment`, and PostgreSQL with a separate
`attestia index run` process and `attestia explorer --no-index`. Bad options are one line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from offchain.chain.anvil import free_port
from offchain.config import REPO_ROOT
from tests.explorer.helpers import Flow, cli, cli_env, new_postgres_database

README_PORT = 8600


def _status(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/api/status", timeout=10) as response:
        return dict(json.loads(response.read()))


@contextmanager
def running(args: list[str], env: dict[str, str], *, url_line: bool = True
            ) -> Iterator[tuple[subprocess.Popen, str]]:
    """A CLI process; yields it and the URL from its first line (explorer: http://...)."""
    child = subprocess.Popen([sys.executable, "-m", "offchain.cli.main", *args], cwd=REPO_ROOT,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = ""
        if url_line:
            assert child.stdout is not None
            line = child.stdout.readline()
            if not line.startswith("explorer: http://"):
                child.wait(30)
                assert child.stderr is not None
                raise AssertionError(f"{args}: {line!r} {child.stderr.read()!r}")
            url = line.split()[1]
        yield child, url
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(10)


def _wait_indexed(url: str, head: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = _status(url)
            if status["indexedBlock"] == head:
                return status
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{url} did not index to block {head}"
        time.sleep(0.1)


def _wait_checked(url: str, timeout: float = 60) -> None:
    """A record page shows its verify checklist (at once, or after reloads while it is
    computed in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(url, timeout=30) as page:
            body = page.read()
        if b"every check passed" in body:
            return
        assert b"being computed" in body, body[:2000]
        assert time.monotonic() < deadline, f"{url}: no checklist after {timeout} s"
        time.sleep(0.2)


def _workers_of(pid: int) -> list[int]:
    """The uvicorn worker processes of ``pid`` (multiprocessing children running
    spawn_main; not its resource tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_attestia_explorer_serves_and_indexes(explorer_flow: Flow) -> None:
    """README: `attestia explorer` (prints its URL; SQLite at .attestia/explorer.sqlite)."""
    args = ["explorer"] if _port_free(README_PORT) else ["explorer", "--port", str(free_port())]
    head = explorer_flow.attestia.chain.w3.eth.block_number
    with running(args, cli_env(explorer_flow)) as (child, url):
        if args == ["explorer"]:
            assert url == f"http://127.0.0.1:{README_PORT}"
        status = _wait_indexed(url, head)
        assert status["records"] == 8
        _wait_checked(f"{url}/record/{explorer_flow.demo_records[0]}")
    assert child.returncode is not None
    assert (explorer_flow.settings.data_dir / "explorer.sqlite").is_file()


@pytest.mark.slow  # ~15 s quiet: two server processes and two checklist processes start
def test_explorer_with_two_worker_processes(explorer_flow: Flow, tmp_path: Path) -> None:
    """`attestia explorer --workers 2`: two server processes (each building its app from the
    spec this process wrote), the indexer once in this process; both serve pages, HEAD, the
    chain-explorer links, and the spec file is gone after."""
    port = free_port()
    env = cli_env(explorer_flow) | {"TMPDIR": str(tmp_path)}
    head = explorer_flow.attestia.chain.w3.eth.block_number
    args = ["explorer", "--port", str(port), "--workers", "2", "--db",
            f"sqlite:///{tmp_path / 'explorer.sqlite'}", "--chain-explorer",
            "https://etherscan.io"]
    with running(args, env) as (child, url):
        assert url == f"http://127.0.0.1:{port}"
        status = _wait_indexed(url, head, timeout=120)
        assert status["records"] == 8
        assert len(_workers_of(child.pid)) == 2
        for _ in range(10):  # a new connection each: either process may answer
            request = urllib.request.Request(f"{url}/api/status", method="HEAD")
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200 and response.read() == b""
            with urllib.request.urlopen(f"{url}/contributor/{explorer_flow.contributor}",
                                        timeout=30) as page:
                assert b'href="https://etherscan.io/address/' in page.read()
        assert list(tmp_path.glob("explorer-spec-*.json"))
        _wait_checked(f"{url}/record/{explorer_flow.demo_records[0]}")
    assert child.returncode is not None
    assert not list(tmp_path.glob("explorer-spec-*.json"))


def test_explorer_of_another_chain_from_an_empty_home(explorer_flow: Flow,
                                                      tmp_path: Path) -> None:
    """README: `attestia --rpc-url URL --deployment FILE explorer` (read-only: no key, no
    deployment, nothing written but the database)."""
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    env["ATTESTIA_HOME"] = str(stranger)
    port = free_port()
    head = explorer_flow.attestia.chain.w3.eth.block_number
    with running(["--rpc-url", str(explorer_flow.settings.rpc_url), "--deployment",
                  str(explorer_flow.deployment_file), "explorer", "--port", str(port)],
                 env) as (_, url):
        assert url == f"http://127.0.0.1:{port}"
        status = _wait_indexed(url, head)
        assert status["registry"] == explorer_flow.attestia.registry.address
    assert not (stranger / "deployments").exists()
    assert {p.name for p in (stranger / ".attestia").iterdir()} <= {
        "explorer.sqlite", "explorer.sqlite-wal", "explorer.sqlite-shm"}


def test_postgresql_with_a_separate_indexer(explorer_flow: Flow, postgres_server: str) -> None:
    """README: `attestia index run --db postgresql://...` and `attestia explorer --no-index
    --db postgresql://...`."""
    url = new_postgres_database(postgres_server)
    env = cli_env(explorer_flow)
    head = explorer_flow.attestia.chain.w3.eth.block_number
    port = free_port()
    with running(["index", "run", "--db", url], env, url_line=False) as (indexer, _), \
            running(["explorer", "--no-index", "--db", url, "--port", str(port)],
                    env) as (_, served):
        status = _wait_indexed(served, head)
        assert status["records"] == 8 and indexer.poll() is None
        # The status filter's dispute clause (JSON field included) runs on PostgreSQL too.
        with urllib.request.urlopen(f"{served}/api/records?status=disputed", timeout=30) as r:
            listed = json.load(r)["items"]
        assert [item["requestId"] for item in listed] == [explorer_flow.disputed]


@pytest.mark.parametrize("args, words", [
    (["explorer", "--port", "0"], "--port must be 1..65535"),
    (["explorer", "--db", "redis://x"], "--db must be sqlite:///PATH or postgresql://"),
    (["explorer", "--port", "99999"], "--port must be 1..65535"),
    (["index", "run", "--window", "0"], "--window and --recheck must be at least 1"),
    (["explorer", "--rate-limit", "0"], "--rate-limit must be above 0"),
    (["explorer", "--allow-fetch", "localhost"], "allow-list"),
    (["index", "run", "--allow-fetch", "10.0.0.0/33"], "allow-list"),
    (["explorer", "--publish-dir", "/nonexistent/batches"], "is not a directory"),
    (["explorer", "--workers", "0"], "--workers must be 1..64"),
    (["explorer", "--chain-explorer", "javascript:alert(1)"], "--chain-explorer must be an "
     "https:// URL"),
    (["explorer", "--chain-explorer", "http://etherscan.io"], "--chain-explorer must be"),
])
def test_bad_options_are_one_error_line(explorer_flow: Flow, args: list[str],
                                        words: str) -> None:
    done = cli(explorer_flow, *args, timeout=60)
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and \
        words in done.stderr, done.stderr


def test_a_busy_port_is_one_error_line(explorer_flow: Flow) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = cli(explorer_flow, "explorer", "--port", str(port), timeout=60)
    assert done.returncode != 0 and done.stderr.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_a_publish_directory_holding_the_home_or_keys_is_refused(explorer_flow: Flow,
                                                                 tmp_path: Path) -> None:
    """Issue 17, attack 10: file:// batch files are read only under a publish directory that
    holds no secrets, so the home (a worker's encryption.key) cannot be named one."""
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "encryption.key").write_bytes(b"x")
    for directory in (explorer_flow.settings.home, keys):
        done = cli(explorer_flow, "explorer", "--publish-dir", str(directory), timeout=60)
        assert done.returncode != 0 and done.stderr.count("\n") == 1
        assert f"publish directory {directory.resolve()} holds" in done.stderr, done.stderr
