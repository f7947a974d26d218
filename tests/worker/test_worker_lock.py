"""One worker per data directory: a second `worker run --name N` stops at once, naming the
running worker's pid, before it registers or sends anything; a killed worker's lock does not
block the next start (the OS drops a flock with its process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from offchain.chain.accounts import dev_account
from offchain.config import REPO_ROOT
from offchain.worker.service import WorkerLock, WorkerRunning

HOLD = """
import sys, time
from pathlib import Path
from offchain.worker.service import WorkerLock
WorkerLock(Path(sys.argv[1])).acquire()
print("locked", flush=True)
time.sleep(600)
"""


def _holder(data_dir: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(data_dir)], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_held_lock_names_its_pid_and_a_killed_holder_leaves_none(tmp_path) -> None:
    data_dir = tmp_path / "workers" / "alpha"
    data_dir.mkdir(parents=True)
    holder = _holder(data_dir)
    try:
        with pytest.raises(WorkerRunning) as caught:
            WorkerLock(data_dir).acquire()
        assert str(caught.value) == (f"worker alpha is already running (pid {holder.pid}); "
                                     "stop it or use another --name")
    finally:
        holder.send_signal(signal.SIGKILL)  # no cleanup: the lock file stays, the flock not
        holder.wait(timeout=30)
    assert (data_dir / "worker.lock").exists()
    lock = WorkerLock(data_dir).acquire()
    assert lock.holder() == os.getpid()
    # Shared within one process (two in-process nodes), released with its last holder.
    again = WorkerLock(data_dir).acquire()
    lock.release()
    _assert_blocked(data_dir)
    again.release()
    holder = _holder(data_dir)  # free again
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)


def _assert_blocked(data_dir: Path) -> None:
    """Another process cannot take the lock while this one holds it."""
    code = ("import sys; from pathlib import Path; from offchain.worker.service import "
            "WorkerLock, WorkerRunning\ntry:\n    WorkerLock(Path(sys.argv[1])).acquire()\n"
            "except WorkerRunning as exc:\n    print(exc); sys.exit(3)\n")
    result = subprocess.run([sys.executable, "-c", code, str(data_dir)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert f"(pid {os.getpid()})" in result.stdout


def test_a_second_worker_run_with_the_same_name_exits_before_sending_anything(
    attestia, served_model, settings, demo_package, demo_package_dir, tmp_path
) -> None:
    operator = dev_account(1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    env["ATTESTIA_HOME"] = str(settings.home)
    cmd = [sys.executable, "-m", "offchain.cli.main", "--rpc-url", settings.rpc_url, "worker",
           "run", "--model", str(demo_package_dir), "--name", "locked", "--dev-account", "1"]
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        first = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log,
                                 stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while "data dir" not in log_path.read_text():  # the banner's last line
            assert first.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        banner = log_path.read_text()
        for expected in (f"worker {operator.address}", f"operator   {operator.address}",
                         f"0x{served_model.model_id.hex()} {demo_package.manifest.name}",
                         "proofs: signed",
                         f"chain      31337 at {settings.rpc_url}",
                         f"registry   {attestia.registry.address}",
                         str(settings.data_dir / "workers" / "locked")):
            assert expected in banner, banner
        w3 = attestia.chain.w3
        nonce = w3.eth.get_transaction_count(operator.address, "pending")
        block = w3.eth.block_number
        second = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 1, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in second.stderr, second.stderr
        assert (f"worker locked is already running (pid {first.pid}); stop it or use "
                "another --name") in lines[0]
        assert w3.eth.get_transaction_count(operator.address, "pending") == nonce
        assert w3.eth.block_number == block
        assert first.poll() is None, log_path.read_text()
    finally:
        first.send_signal(signal.SIGTERM)
        code = first.wait(timeout=60)
    assert code == 0, log_path.read_text()
