"""One worker per data directory: a second `worker run --name N` stops at once, naming the
running worker's pid, before it registers or sends anything; a killed worker's lock does not
block the next start (the OS drops a flock with its process). One live worker per key: a
second `worker run` on the same key under another --name (or another home using the same
keystore file) stops the same way, and never rotates the running worker's encryption key."""

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
from offchain.worker.service import WorkerLock, WorkerRunning, key_locks
from tests.rewards.helpers import cli_home

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


def _wait_for_line(proc: subprocess.Popen, log_path: Path, text: str) -> None:
    deadline = time.monotonic() + 120
    while text not in log_path.read_text():
        assert proc.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.1)


@pytest.mark.slow
def test_a_second_worker_on_the_same_key_refuses_until_the_first_is_killed(
    attestia, served_model, settings, demo_package_dir, tmp_path
) -> None:
    """Issue 17: `worker run --name beta` on the key `alpha` serves exits with one line and
    sends nothing (the encryption key on chain stays alpha's); once alpha is killed with
    SIGKILL (no cleanup), beta starts."""
    operator = dev_account(1)
    home = cli_home(settings, tmp_path / "home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    env["ATTESTIA_HOME"] = str(home)

    def cmd(name: str) -> list[str]:
        return [sys.executable, "-m", "offchain.cli.main", "--rpc-url", settings.rpc_url,
                "worker", "run", "--model", str(demo_package_dir), "--name", name,
                "--dev-account", "1"]

    logs = {name: tmp_path / f"{name}.log" for name in ("alpha", "beta")}
    with logs["alpha"].open("w") as log:
        alpha = subprocess.Popen(cmd("alpha"), cwd=REPO_ROOT, env=env, stdout=log,
                                 stderr=subprocess.STDOUT)
    beta = None
    try:
        _wait_for_line(alpha, logs["alpha"], "ready: serving requests")
        w3 = attestia.chain.w3
        key = attestia.registry.worker(operator.address).encryptionKey
        nonce = w3.eth.get_transaction_count(operator.address, "pending")
        block = w3.eth.block_number
        second = subprocess.run(cmd("beta"), cwd=REPO_ROOT, env=env, capture_output=True,
                                text=True, timeout=120)
        assert second.returncode == 1, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in second.stderr, second.stderr
        assert (f"worker key {operator.address} is already served by a running worker (pid "
                f"{alpha.pid})") in lines[0]
        assert w3.eth.get_transaction_count(operator.address, "pending") == nonce
        assert w3.eth.block_number == block
        assert attestia.registry.worker(operator.address).encryptionKey == key
        assert not (home / ".attestia" / "workers" / "beta" / "encryption.key").exists()
        assert alpha.poll() is None, logs["alpha"].read_text()

        alpha.send_signal(signal.SIGKILL)  # no cleanup: the OS drops its flocks
        alpha.wait(timeout=30)
        with logs["beta"].open("w") as log:
            beta = subprocess.Popen(cmd("beta"), cwd=REPO_ROOT, env=env, stdout=log,
                                    stderr=subprocess.STDOUT)
        _wait_for_line(beta, logs["beta"], "ready: serving requests")
        # beta's own encryption key is the one on chain now (rotated with alpha gone).
        assert attestia.registry.worker(operator.address).encryptionKey != key
    finally:
        for proc in (alpha, beta):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
    assert beta.returncode == 0, logs["beta"].read_text()


KEY_HOLD = """
import sys, time
from pathlib import Path
from types import SimpleNamespace
from offchain.worker.service import key_locks
where = SimpleNamespace(chain=SimpleNamespace(chain_id=31337),
                        registry=SimpleNamespace(address="0x" + "ab" * 20))
for lock in key_locks(where, sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])):
    lock.acquire()
print("locked", flush=True)
time.sleep(600)
"""


def test_two_homes_sharing_a_keystore_file_cannot_both_serve_its_key(tmp_path) -> None:
    """The lock beside the keystore file covers another home (its own workers directory);
    the same key on another deployment is another lock."""
    signer, key_file = dev_account(2).address, tmp_path / "keys" / "worker.json"
    key_file.parent.mkdir()
    key_file.write_text("{}")
    holder = subprocess.Popen(
        [sys.executable, "-c", KEY_HOLD, signer, str(tmp_path / "home1" / "workers"),
         str(key_file)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        from types import SimpleNamespace
        where = SimpleNamespace(chain=SimpleNamespace(chain_id=31337),
                                registry=SimpleNamespace(address="0x" + "ab" * 20))
        home_lock, file_lock = key_locks(where, signer, tmp_path / "home2" / "workers",
                                         key_file)
        home_lock.acquire()  # another home's own lock is free
        with pytest.raises(WorkerRunning, match=rf"\(pid {holder.pid}\)"):
            file_lock.acquire()
        home_lock.release()
        elsewhere = SimpleNamespace(chain=SimpleNamespace(chain_id=1),
                                    registry=where.registry)
        for lock in key_locks(elsewhere, signer, tmp_path / "home2" / "workers", key_file):
            lock.acquire()
            lock.release()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    for lock in key_locks(where, signer, tmp_path / "home2" / "workers", key_file):
        lock.acquire()  # free once the holder is gone, however it went
        lock.release()
