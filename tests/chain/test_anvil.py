"""The embedded chain: start, status, stop by PID, state kept across restarts."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest

from offchain.chain.anvil import EmbeddedChain, free_port, rpc_call
from offchain.errors import ChainError


def test_up_status_down_and_state_survives_restart(tmp_path: Path) -> None:
    node = EmbeddedChain(tmp_path, free_port())
    assert not node.status().running
    status = node.up()
    assert status.running and status.chain_id == 31337 and status.pid
    assert node.up().pid == status.pid  # idempotent: attaches, does not start a second one
    # Change state: mine blocks and fund a fresh address.
    rpc_call(node.url, "anvil_setBalance", ["0x" + "11" * 20, hex(12345)])
    rpc_call(node.url, "anvil_mine", ["0x5"])
    time.sleep(1.3)  # state is dumped every second, and on SIGTERM
    os.kill(status.pid, signal.SIGKILL)  # a crash, not a clean stop
    time.sleep(0.1)
    assert not node.status().running
    again = node.up()
    assert again.pid != status.pid and again.block >= 5
    assert rpc_call(node.url, "eth_getBalance", ["0x" + "11" * 20, "latest"]) == hex(12345)
    assert node.down() is True
    assert node.down() is False
    assert not node.status().running


def test_port_in_use_is_reported(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ChainError, match=f"port {port} is already in use"):
            EmbeddedChain(tmp_path, port).up()
