"""``--json`` everywhere a command prints results, with camelCase names; flags shown without a
``<bool>`` type; shell completion (Typer's) through the lazy root group (issue 10, polish).

The wire format (issue 19, docs/json.md): ``check_wire`` fails on a wei amount that is not a
decimal string, a moment that is not ISO 8601 with its UTC offset, and any bare number a
JavaScript reader would round or take for a unix time. tests/cli/test_readonly_and_requests.py
runs it over every read command's output on a chain with records."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from offchain.config import REPO_ROOT
from tests.cli.test_cli_errors import run

NO_JSON = {
    "worker run": "a long-running process: its output is a log",
    "explorer": "a web server (issue 12)",
    "index run": "a long-running indexer (issue 12)",
    "gateway": "a web server (issue 20); its API answers JSON",
}
CAMEL = re.compile(r"[a-z][a-zA-Z0-9]*")


def leaf_commands() -> dict[str, object]:
    """Every runnable command, by its path (``rewards claim``), from the COMMANDS table."""
    from offchain.cli.main import COMMANDS, load_commands

    out: dict[str, object] = {}

    def walk(path: str, command: object) -> None:
        children = getattr(command, "commands", None)
        if children:
            for name, child in children.items():
                walk(f"{path} {name}", child)
        else:
            out[path] = command

    for module in dict.fromkeys(module for module, _ in COMMANDS.values()):
        for name, command in load_commands(module).items():
            if name in COMMANDS:
                walk(name, command)
    return out


def test_every_command_that_prints_results_has_a_documented_json_option() -> None:
    commands = leaf_commands()
    assert len(commands) >= 40
    missing, undocumented = [], []
    for path, command in commands.items():
        options = {opt: p for p in command.params for opt in getattr(p, "opts", ())}
        if "--json" not in options:
            if path not in NO_JSON:
                missing.append(path)
        elif not options["--json"].help:
            undocumented.append(path)
    assert not missing, f"commands without --json: {missing}"
    assert not undocumented, f"--json without help: {undocumented}"
    assert set(NO_JSON) <= set(commands), "NO_JSON names a command that does not exist"


def check_wire(data: Any, where: str = "$", key: str = "") -> None:
    """Every amount of wei a decimal string, every moment ISO 8601 (docs/json.md)."""
    from offchain.cli.common import is_money_key, is_time_key

    if isinstance(data, dict):
        for k, v in data.items():
            # an amount's map (claimedByAccount, cumulative) holds amounts under addresses
            check_wire(v, f"{where}.{k}", key if is_money_key(key) else k)
        return
    if isinstance(data, list):
        for i, v in enumerate(data):
            check_wire(v, f"{where}[{i}]", key)
        return
    if data is None or isinstance(data, bool):
        return
    if is_money_key(key):
        assert isinstance(data, str) and data.isdigit(), f"{where}: wei as {data!r}"
    elif is_time_key(key):
        assert isinstance(data, str), f"{where}: a moment as {data!r}"
        moment = datetime.fromisoformat(data)
        assert moment.tzinfo is not None, f"{where}: {data!r} has no UTC offset"
    elif isinstance(data, int):
        assert abs(data) <= 2**53, f"{where}: {data} is beyond a JavaScript number"
        assert not 10**9 <= data <= 4_102_444_800, f"{where}: {data} looks like a unix time"


def test_the_wire_check_fails_on_bare_wei_and_unix_times() -> None:
    check_wire({"feeWei": "1000", "bond": "5", "claimableAt": "2026-12-08T01:00:02+00:00",
                "claimedByAccount": {"0xab": "7"}, "records": 2, "deadline": None})
    for bad in ({"feeWei": 10**15}, {"total": 5}, {"claimedByAccount": {"0xab": 7}},
                {"readyAt": 1797403529}, {"timestamp": "2026-12-08T01:00:02"},
                {"epochEnds": 1797403529}, {"n": 2**60}):
        try:
            check_wire(bad)
        except AssertionError:
            continue
        raise AssertionError(f"check_wire let {bad} through")


def test_print_json_writes_the_wire_format(capsys) -> None:
    from offchain.cli.common import print_json

    print_json({"feeWei": 10**15, "roots": [{"total": 2**60, "claimableAt": 1797403529}],
                "cumulative": {"0xab": 3}, "records": 2, "settled": True})
    printed = json.loads(capsys.readouterr().out)
    check_wire(printed)
    assert printed["feeWei"] == "1000000000000000" and printed["records"] == 2
    assert printed["roots"][0]["total"] == str(2**60) and printed["cumulative"] == {"0xab": "3"}
    assert datetime.fromisoformat(printed["roots"][0]["claimableAt"]).timestamp() == 1797403529


def _keys(data: object) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in _keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in _keys(v)}
    return set()


def test_offline_commands_print_camel_case_json(project_home: Path) -> None:
    env = {"ATTESTIA_PORT": "1"}  # nothing listens there: the chain is not running
    for args in (["build", "--json"], ["chain", "status", "--json"],
                 ["chain", "down", "--json"]):
        done = run(args, project_home, **env)
        assert done.returncode == 0, done.stderr
        keys = _keys(json.loads(done.stdout))
        assert keys and all(CAMEL.fullmatch(k) for k in keys), (args, keys)
        check_wire(json.loads(done.stdout))
    status = json.loads(run(["chain", "status", "--json"], project_home, **env).stdout)
    assert status["running"] is False and status["chainId"] is None


def test_flags_show_no_bool_type() -> None:
    for args in (["--help"], ["rewards", "claim", "--help"], ["worker", "run", "--help"]):
        done = run(args, REPO_ROOT)
        assert done.returncode == 0 and "<bool>" not in done.stdout, done.stdout


def test_show_completion_prints_a_script_and_completion_sees_lazy_commands() -> None:
    shown = run(["--show-completion", "bash"], REPO_ROOT)
    assert shown.returncode == 0, shown.stderr
    assert "_ATTESTIA_COMPLETE=complete_bash" in shown.stdout
    assert "complete -o default -F _attestia_completion attestia" in shown.stdout
    top = run([], REPO_ROOT, _ATTESTIA_COMPLETE="complete_bash", COMP_WORDS="attestia mo",
              COMP_CWORD="1")
    assert top.stdout.split() == ["model"], top.stdout + top.stderr
    sub = run([], REPO_ROOT, _ATTESTIA_COMPLETE="complete_bash",
              COMP_WORDS="attestia model re", COMP_CWORD="2")
    assert set(sub.stdout.split()) == {"register", "revoke"}, sub.stdout + sub.stderr
