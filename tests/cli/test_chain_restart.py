"""Killing the embedded chain and running a command again restarts it with the same state."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from offchain.chain.anvil import free_port
from tests.cli.test_cli_errors import run


def test_deployment_survives_a_killed_chain(project_home: Path) -> None:
    tmp_path = project_home
    port = str(free_port())
    try:
        first = run(["deploy", "--json"], tmp_path, ATTESTIA_PORT=port)
        assert first.returncode == 0, first.stderr
        deployed = json.loads(first.stdout)["contracts"]
        time.sleep(1.5)  # Anvil dumps its state every second (and on SIGTERM)
        pid = json.loads((tmp_path / ".attestia" / "chain" / "anvil.pid").read_text())["pid"]
        os.kill(pid, signal.SIGKILL)
        again = run(["deploy", "--json"], tmp_path, ATTESTIA_PORT=port)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["contracts"] == deployed  # reused: code still there
        status = run(["chain", "status", "--json"], tmp_path, ATTESTIA_PORT=port)
        assert json.loads(status.stdout)["pid"] != pid
    finally:
        run(["chain", "down"], tmp_path, ATTESTIA_PORT=port)
