"""``--json`` everywhere a command prints results, with camelCase names; flags shown without a
``<bool>`` type; shell completion (Typer's) through the lazy root group (issue 10, polish)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from offchain.config import REPO_ROOT
from tests.cli.test_cli_errors import run

NO_JSON = {
    "worker run": "a long-running process: its output is a log",
    "explorer": "a web server (issue 12)",
    "index run": "a long-running indexer (issue 12)",
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
