"""Chain time on the embedded chain: `chain advance`, and a clock that never goes backwards
across `chain down` / `chain up` or a crash of Anvil (real Anvil, through the CLI).

What a crash (SIGKILL) guarantees, as documented in offchain/chain/anvil.py: the next block is
no earlier than every block that reached the state file (written every second) and no earlier
than the clock recorded last (by `chain up`, `chain advance`, `chain down`, or a command
attaching to the chain). A raw `evm_increaseTime` in the last second before a crash is the one
thing that can be lost, together with the blocks of that second.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from offchain.chain.anvil import anvil_binary, free_port, rpc_call
from offchain.cli.chain import parse_duration
from offchain.errors import ConfigError
from tests.cli.test_cli_errors import assert_one_line_error, run


def unix(moment: str) -> int:
    """A --json time (ISO 8601) as a unix time."""
    from datetime import datetime

    return int(datetime.fromisoformat(moment).timestamp())


DAY = 86_400


class Cli:
    """`attestia` in one project home, against the embedded chain on its own port."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return run(list(args), self.home, **env)

    def ok(self, *args: str) -> subprocess.CompletedProcess:
        result = self(*args)
        assert result.returncode == 0, result.stderr
        return result

    def advance(self, duration: str) -> dict:
        return json.loads(self.ok("chain", "advance", duration, "--json", "--port",
                                  str(self.port)).stdout)

    def pid(self) -> int:
        return int(json.loads((self.home / ".attestia/chain/anvil.pid").read_text())["pid"])

    def mine(self) -> int:
        """Mine a block now; its timestamp."""
        rpc_call(self.url, "evm_mine", [])
        return latest(self.url)[1]


def latest(url: str) -> tuple[int, int]:
    block = rpc_call(url, "eth_getBlockByNumber", ["latest", False])
    assert isinstance(block, dict)
    return int(block["number"], 16), int(block["timestamp"], 16)


@pytest.fixture
def cli(project_home: Path) -> Iterator[Cli]:
    cli = Cli(project_home)
    try:
        yield cli
    finally:
        cli("chain", "down", "--port", str(cli.port))


def test_chain_up_down_status_take_port(cli: Cli) -> None:
    port = str(cli.port)
    up = cli.ok("chain", "up", "--port", port)
    assert f"http://127.0.0.1:{port}" in up.stdout
    status = json.loads(cli.ok("chain", "status", "--json", "--port", port).stdout)
    assert status["running"] and status["port"] == cli.port and status["chainId"] == 31337
    assert f"port {port}" in cli.ok("chain", "status", "--port", port).stdout
    assert "anvil stopped" in cli.ok("chain", "down", "--port", port).stdout
    assert not json.loads(cli.ok("chain", "status", "--json", "--port", port).stdout)["running"]


def test_chain_port_out_of_range(cli: Cli) -> None:
    assert_one_line_error(cli("chain", "up", "--port", "99999"), "port must be between 1 and 65535")
    assert not (cli.home / ".attestia").exists()


def test_time_survives_down_and_up(cli: Cli) -> None:
    cli.ok("chain", "up", "--port", str(cli.port))
    advanced = cli.advance("1d")
    assert advanced["advancedSeconds"] == DAY
    assert unix(advanced["timestamp"]) >= time.time() + DAY - 5
    cli.ok("chain", "down", "--port", str(cli.port))
    cli.ok("chain", "up", "--port", str(cli.port))
    number, timestamp = latest(cli.url)
    # the state reloaded
    assert (number, timestamp) == (advanced["block"], unix(advanced["timestamp"]))
    mined = cli.mine()
    assert mined >= unix(advanced["timestamp"])
    assert mined >= time.time() + DAY - 5  # the offset from the wall clock is kept
    # And again: a second restart keeps it too.
    cli.ok("chain", "down", "--port", str(cli.port))
    cli.ok("chain", "up", "--port", str(cli.port))
    assert cli.mine() >= mined


def test_time_survives_sigkill_right_after_advance(cli: Cli) -> None:
    """The block `chain advance` mined may be lost (the state file lags); its time is not."""
    cli.ok("chain", "up", "--port", str(cli.port))
    advanced = cli.advance("2d")
    os.kill(cli.pid(), signal.SIGKILL)  # at once: the state file may not have the new block
    time.sleep(0.1)
    cli.ok("chain", "up", "--port", str(cli.port))
    assert cli.mine() >= unix(advanced["timestamp"])


def test_time_survives_sigkill_after_raw_increase_time(cli: Cli) -> None:
    """A clock moved behind the CLI's back: the block that reached the state file counts."""
    cli.ok("chain", "up", "--port", str(cli.port))
    rpc_call(cli.url, "evm_increaseTime", [3 * DAY])
    ahead = cli.mine()
    assert ahead >= time.time() + 3 * DAY - 5
    time.sleep(1.5)  # Anvil writes its state file every second
    os.kill(cli.pid(), signal.SIGKILL)
    time.sleep(0.1)
    cli.ok("chain", "up", "--port", str(cli.port))
    assert cli.mine() >= ahead


def test_time_survives_restart_without_clock_file(cli: Cli) -> None:
    """A chain saved before clock.json existed: its newest block still bounds the clock."""
    cli.ok("chain", "up", "--port", str(cli.port))
    rpc_call(cli.url, "evm_increaseTime", [DAY])
    ahead = cli.mine()
    cli.ok("chain", "down", "--port", str(cli.port))
    (cli.home / ".attestia/chain/clock.json").unlink()
    cli.ok("chain", "up", "--port", str(cli.port))
    assert cli.mine() >= ahead


def test_advance_prints_time_and_epoch(cli: Cli) -> None:
    port = str(cli.port)
    deployed = cli("--port", port, "deploy", "--json")
    assert deployed.returncode == 0, deployed.stderr
    first = cli.advance("1h")
    assert first["epoch"] is not None and unix(first["epochEndsAt"]) > unix(first["timestamp"])
    second = cli.advance("1d")
    assert second["epoch"] == first["epoch"] + 1  # epochs are one day long by default
    assert unix(second["epochEndsAt"]) == unix(first["epochEndsAt"]) + DAY
    text = cli.ok("chain", "advance", "90m", "--port", port).stdout
    lines = text.splitlines()
    assert lines[0].startswith("chain time ") and "advanced 5,400 s" in lines[0]
    epoch = int(lines[1].split()[1].rstrip(","))  # 90 min later: the same epoch or the next
    assert lines[1].startswith("epoch ") and epoch in (second["epoch"], second["epoch"] + 1)
    when = lines[0].split()[2]
    assert when[:4].isdigit() and "T" in when and when[-6] in "+-"  # ISO, with its zone


def test_advance_without_deployment_prints_time_only(cli: Cli) -> None:
    text = cli.ok("chain", "advance", "3600", "--port", str(cli.port)).stdout
    assert text.startswith("chain time ") and "epoch" not in text


@pytest.mark.parametrize("duration", ["1x", "0", "0d", "-1d", "1.5h", "1 d", "d", "",
                                      "99999w", "h1", "1d-", "²"])
def test_bad_duration_changes_nothing(cli: Cli, duration: str) -> None:
    result = cli("chain", "advance", "--port", str(cli.port), "--", duration)
    assert_one_line_error(result, "bad duration")
    assert not (cli.home / ".attestia").exists()  # the chain was not even started


def test_bad_duration_starting_with_a_dash(cli: Cli) -> None:
    result = cli("chain", "advance", "-1d", "--port", str(cli.port))
    assert_one_line_error(result, "bad duration '-1d'")


def test_advance_refused_on_a_non_local_chain(project_home: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(anvil_binary()), "--port", str(port), "--chain-id", "11155111"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(project_home)},
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                rpc_call(url, "eth_chainId")
                break
            except OSError:
                assert time.monotonic() < deadline, "anvil did not start"
                time.sleep(0.05)
        before = latest(url)
        result = run(["chain", "advance", "1d"], project_home, ATTESTIA_RPC_URL=url)
        assert_one_line_error(result, "only moves the clock of a local dev chain",
                              "chain id 11155111")
        assert latest(url) == before
        pending = rpc_call(url, "eth_getBlockByNumber", ["pending", False])
        assert isinstance(pending, dict)
        assert int(pending["timestamp"], 16) < time.time() + 60  # clock not moved
    finally:
        proc.kill()
        proc.wait()


def test_advance_unreachable_rpc(project_home: Path) -> None:
    result = run(["chain", "advance", "1d"], project_home, ATTESTIA_RPC_URL="http://127.0.0.1:9")
    assert_one_line_error(result, "cannot reach the RPC endpoint http://127.0.0.1:9")


@pytest.mark.parametrize(("text", "seconds"), [
    ("1d", DAY), ("3h", 3 * 3600), ("90m", 5400), ("45s", 45), ("2w", 14 * DAY),
    ("1h30m", 5400), ("3600", 3600), (" 1D ", DAY), ("1d1s", DAY + 1),
])
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1y", "-5", "1e3", "0s", "3651d", "1.0d", "1h 30m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="bad duration"):
        parse_duration(text)
