"""The embedded local chain: the Anvil binary from node_modules, run directly.

Never through npx: killing npx leaves anvil running on the port. Anvil gets a project-local
HOME (it writes under $HOME/.foundry) and a state file, so the chain survives restarts.
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
from offchain.errors import ChainError, ToolchainError
from offchain.fsutil import atomic_write_json

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


class EmbeddedChain:
    """Start, stop and inspect the project's own Anvil, tracked by a PID file."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.dir = data_dir / "chain"
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    @property
    def pid_file(self) -> Path:
        return self.dir / "anvil.pid"

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

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

    def status(self) -> ChainStatus:
        pid = self._pid()
        chain_id = self.answers() if pid else None
        if pid is None or chain_id is None:
            return ChainStatus(running=False, port=self.port, state_file=str(self.state_file))
        block = int(str(rpc_call(self.url, "eth_blockNumber")), 16)
        return ChainStatus(True, self.port, pid, chain_id, block, str(self.state_file))

    def up(self) -> ChainStatus:
        """Start Anvil unless ours already runs; wait until eth_chainId answers."""
        current = self.status()
        if current.running:
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
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for private chains)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
