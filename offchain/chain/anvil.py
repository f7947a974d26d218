"""The embedded local chain: the Anvil binary from node_modules, run directly.

Never through npx: killing npx leaves anvil running on the port. Anvil gets a project-local
HOME (it writes under $HOME/.foundry) and a state file, so the chain survives restarts.

Chain time survives restarts too. Anvil's state file keeps the blocks but not its clock: after
``evm_increaseTime`` the clock runs ahead of the wall clock, and a restarted Anvil would mine
the next block at wall-clock time, before blocks it already has. So the chain keeps
``clock.json`` beside its state (the clock's offset from the wall clock and the latest chain time
seen), written when the chain goes down, by ``chain advance``, and whenever a command attaches
to the running chain and finds the offset changed. On start, before the PID file announces the
chain, the clock is set (``evm_setTime``) to the latest of: the newest block in the reloaded
state, the wall clock plus the recorded offset, and the recorded chain time.

What is guaranteed: after ``chain down`` / ``chain up``, the next block's timestamp is >= every
block timestamp before the stop, and the clock keeps its offset from the wall clock (time went
on while the chain was down). After a crash (SIGKILL), the next block's timestamp is >= every
block that reached the state file (Anvil writes it every second, so the blocks of the last
second before the crash are lost, with their transactions) and >= the chain time recorded last;
it can be earlier than a lost block only if the clock was moved by something other than
``chain advance`` (a raw ``evm_increaseTime``) in that last second.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from offchain.config import REPO_ROOT
from offchain.errors import ChainError, ConfigError, ToolchainError
from offchain.storage.atomic import atomic_write_json

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
READY_TIMEOUT_S = 15.0


def anvil_binary() -> Path:
    """Path of the real anvil executable shipped by npm @foundry-rs/anvil's optional package."""
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    system = platform.system().lower()
    path = REPO_ROOT / "node_modules" / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    if not path.exists():
        raise ToolchainError(
            f"the Anvil binary is missing ({path}): run `npm ci` (without --omit=optional)"
        )
    return path


def rpc_call(url: str, method: str, params: list | None = None, timeout: float = 2.0) -> object:
    """One JSON-RPC call with the standard library (used before web3 is worth creating)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (local URL)
        reply = json.loads(response.read())
    if "error" in reply:
        raise ChainError(f"{method} failed on {url}: {reply['error'].get('message')}")
    return reply["result"]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as dead
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


@dataclass
class ChainStatus:
    running: bool
    port: int
    pid: int | None = None
    chain_id: int | None = None
    block: int | None = None
    state_file: str | None = None
    timestamp: int | None = None  # of the latest block


class EmbeddedChain:
    """Start, stop and inspect the project's own Anvil, tracked by a PID file."""

    def __init__(self, data_dir: Path, port: int) -> None:
        if not 0 < port < 65536:
            raise ConfigError(f"port must be between 1 and 65535, got {port}")
        self.dir = data_dir / "chain"
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    @property
    def pid_file(self) -> Path:
        return self.dir / "anvil.pid"

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    @property
    def clock_file(self) -> Path:
        """The clock at the last save: ``offset`` from the wall clock, latest ``timestamp``."""
        return self.dir / "clock.json"

    def _pid(self) -> int | None:
        try:
            record = json.loads(self.pid_file.read_text())
        except (OSError, ValueError):
            return None
        if record.get("port") != self.port:
            return None
        pid = int(record["pid"])
        return pid if _alive(pid) else None

    def answers(self) -> int | None:
        """Chain id if an RPC answers on our port, else None."""
        try:
            return int(str(rpc_call(self.url, "eth_chainId", timeout=0.5)), 16)
        except (OSError, urllib.error.URLError, ChainError, ValueError):
            return None

    def running(self) -> bool:
        """True when our Anvil runs and answers (two cheap checks, no block read)."""
        return self._pid() is not None and self.answers() is not None

    def status(self) -> ChainStatus:
        pid = self._pid()
        chain_id = self.answers() if pid else None
        if pid is None or chain_id is None:
            return ChainStatus(running=False, port=self.port, state_file=str(self.state_file))
        block, timestamp = latest_block(self.url)
        return ChainStatus(True, self.port, pid, chain_id, block, str(self.state_file), timestamp)

    def up(self) -> ChainStatus:
        """Start Anvil unless ours already runs; wait until eth_chainId answers."""
        current = self.status()
        if current.running:
            self.save_clock()
            return current
        if port_in_use(self.port):
            raise ChainError(
                f"port {self.port} is already in use by another process: stop it, or choose "
                "another port with --port or ATTESTIA_PORT"
            )
        binary = anvil_binary()
        self.dir.mkdir(parents=True, exist_ok=True)
        home = self.dir / "home"
        home.mkdir(exist_ok=True)
        cmd = [
            str(binary),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--state", str(self.state_file),
            "--state-interval", "1",
        ]
        log = open(self.dir / "anvil.log", "ab")  # noqa: SIM115 (handed to the child)
        env = {**os.environ, "HOME": str(home)}
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = (self.dir / "anvil.log").read_text(errors="replace").strip()[-400:]
                raise ChainError(f"anvil exited at start-up (code {proc.returncode}): {tail}")
            if self.answers() is not None:
                try:
                    self._restore_clock()
                except (OSError, urllib.error.URLError, ChainError, ValueError) as exc:
                    proc.kill()
                    raise ChainError(f"anvil started but its clock could not be set: {exc}"
                                     ) from None
                atomic_write_json(self.pid_file, {"pid": proc.pid, "port": self.port})
                return self.status()
            time.sleep(0.01)
        proc.kill()
        raise ChainError(f"anvil did not answer on {self.url} within {READY_TIMEOUT_S:.0f} s")

    def down(self) -> bool:
        """Stop our Anvil by PID (it dumps its state on SIGTERM). False if it was not running."""
        pid = self._pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        self.save_clock(force=True)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    def _saved_clock(self) -> tuple[int, int]:
        """(offset, timestamp) from clock.json; (0, 0) if there is none or it is unreadable."""
        try:
            record = json.loads(self.clock_file.read_text())
            return int(record["offset"]), int(record["timestamp"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0, 0

    def save_clock(self, *, force: bool = False) -> bool:
        """Record the running chain's clock; skipped when its offset from the wall clock is
        unchanged (within a second) unless ``force``. False if the chain did not answer."""
        try:
            clock = chain_clock(self.url)
            _, latest = latest_block(self.url)
        except (OSError, urllib.error.URLError, ChainError, ValueError, KeyError, TypeError):
            return False
        now = int(time.time())
        offset = clock - now
        saved_offset, _ = self._saved_clock()
        if not force and self.clock_file.exists() and abs(offset - saved_offset) <= 1:
            return True
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.clock_file, {
            "offset": offset, "timestamp": max(clock, latest), "saved": now,
        })
        return True

    def _restore_clock(self) -> None:
        """Right after start: move the clock so no new block predates the chain's past."""
        offset, saved_timestamp = self._saved_clock()
        _, latest = latest_block(self.url)
        target = max(latest, int(time.time()) + offset, saved_timestamp)
        if target > chain_clock(self.url):
            rpc_call(self.url, "evm_setTime", [target])
        self.save_clock(force=True)


def latest_block(url: str) -> tuple[int, int]:
    """(number, timestamp) of the latest block."""
    block = rpc_call(url, "eth_getBlockByNumber", ["latest", False])
    if not isinstance(block, dict):
        raise ChainError(f"{url} returned no latest block")
    return int(block["number"], 16), int(block["timestamp"], 16)


def chain_clock(url: str) -> int:
    """The dev node's clock: the timestamp its next block would get (the pending block's)."""
    block = rpc_call(url, "eth_getBlockByNumber", ["pending", False])
    if not isinstance(block, dict):  # a node without a pending block: the latest one's time
        return latest_block(url)[1]
    return int(block["timestamp"], 16)


def advance_time(url: str, seconds: int) -> tuple[int, int]:
    """Move a dev node's clock forward and mine one block there; its (number, timestamp)."""
    rpc_call(url, "evm_increaseTime", [seconds])
    rpc_call(url, "evm_mine", [])
    return latest_block(url)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for private chains)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
