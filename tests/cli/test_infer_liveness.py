"""``attestia infer`` pays only a live worker (issue 10, blocker 2).

A worker is live when it runs in this home (a fresh heartbeat: ``offchain.request.heartbeat``)
or recorded something in the last 10 minutes of chain time. A registered worker that is not
running is never chosen; a named one is refused with one line unless ``--force``; with no live
worker nothing is paid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from offchain.chain.accounts import dev_account
from offchain.config import REPO_ROOT
from offchain.request.heartbeat import STALE_AFTER, Heartbeat, fresh_heartbeats
from tests.cli.test_cli_errors import assert_one_line_error, run

REQUESTER = dev_account(2).address


def cli(home: Path, anvil, *args: str):
    return run(list(args), home, ATTESTIA_RPC_URL=anvil.url)


def _input(home: Path) -> Path:
    from offchain.models.demo import example_inputs

    path = home / "x.json"
    path.write_text(json.dumps(example_inputs(1)[0]))
    return path


def _register_idle_worker(home: Path, anvil, index: int) -> str:
    """A worker key registered and staked on chain, with no process behind it."""
    from offchain.chain.connection import connect
    from offchain.config import load_settings
    from offchain.registry import Attestia
    from offchain.sealing import EncryptionKey

    attestia = Attestia.load(connect(load_settings(home=home, rpc_url=anvil.url)))
    worker = dev_account(index)
    attestia.send(attestia.registry.register_worker(worker.address, EncryptionKey.generate().public,
                                               attestia.registry.min_stake()), account=worker)
    return worker.address


def test_no_live_worker_nothing_is_paid(project_home: Path, anvil, chain,
                                        demo_package_dir: Path) -> None:
    home = project_home
    assert cli(home, anvil, "model", "register", str(demo_package_dir)).returncode == 0
    idle = _register_idle_worker(home, anvil, 3)
    x = _input(home)
    nonce = chain.w3.eth.get_transaction_count(REQUESTER)
    block = chain.w3.eth.block_number

    default = cli(home, anvil, "infer", "--model", str(demo_package_dir), "--input", str(x))
    assert_one_line_error(default, "no live worker serves model 0x", "nothing was paid",
                          "attestia worker run")
    named = cli(home, anvil, "infer", "--model", str(demo_package_dir), "--input", str(x),
                "--worker", idle)
    assert_one_line_error(named, f"worker {idle} shows no sign of serving this request",
                          "probably not running", "--force")
    assert chain.w3.eth.get_transaction_count(REQUESTER) == nonce
    assert chain.w3.eth.block_number == block
    assert not (home / ".attestia" / "requests").exists()

    listed = json.loads(cli(home, anvil, "worker", "list", "--json").stdout)
    assert [(w["signer"], w["live"]) for w in listed] == [(idle, False)]


@pytest.mark.slow
def test_infer_picks_the_running_worker_over_a_newer_idle_one(
    project_home: Path, anvil, chain, demo_package_dir: Path
) -> None:
    home = project_home
    assert cli(home, anvil, "model", "register", str(demo_package_dir)).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    env |= {"ATTESTIA_HOME": str(home), "ATTESTIA_RPC_URL": anvil.url}
    log_path = home / "worker.log"
    beat = home / ".attestia" / "workers" / "default" / "heartbeat.json"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "offchain.cli.main", "worker", "run", "--model",
             str(demo_package_dir)], cwd=REPO_ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not beat.exists():
            assert worker.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        running = json.loads(beat.read_text())["signer"]
        idle = _register_idle_worker(home, anvil, 3)  # registered last: the newest
        listed = {w["signer"]: w for w in json.loads(
            cli(home, anvil, "worker", "list", "--json").stdout)}
        assert listed[running]["live"] and listed[running]["liveness"].startswith(
            "running here (pid")
        assert not listed[idle]["live"]

        done = cli(home, anvil, "infer", "--model", str(demo_package_dir), "--input",
                   str(_input(home)), "--json")
        assert done.returncode == 0, done.stderr + log_path.read_text()
        assert json.loads(done.stdout)["worker"] == running
        assert done.stderr.startswith("paid request 0x"), done.stderr
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, log_path.read_text()
    assert not beat.exists()  # a stopped worker takes its heartbeat away


def test_a_heartbeat_is_fresh_only_while_recent_and_its_process_exists(tmp_path: Path) -> None:
    from offchain.request.heartbeat import HEARTBEAT

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    now = time.time()
    registry = "0x" + "ab" * 20
    for name, pid, at in (("live", os.getpid(), now - 1), ("old", os.getpid(),
                          now - STALE_AFTER - 1), ("killed", dead.pid, now - 1)):
        beat = Heartbeat(signer=name, operator=name, chain_id=31337, registry=registry,
                         models=(), pid=pid, at=at, data_dir=str(tmp_path / name))
        (tmp_path / name).mkdir()
        (tmp_path / name / HEARTBEAT).write_text(json.dumps(beat.to_json()))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / HEARTBEAT).write_text("{not json")
    assert list(fresh_heartbeats(tmp_path, 31337, registry.upper().replace("0X", "0x"),
                                 now=now)) == ["live"]
    assert fresh_heartbeats(tmp_path, 1, registry, now=now) == {}
