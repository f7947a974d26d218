"""The README's walkthrough, run as written (issue 10, acceptance).

The commands and their documented output are read from README.md itself ("Using it",
"Walkthrough": the ``console`` block), so the document cannot drift from the program:

* ``$ attestia ...`` runs the CLI (its entry point ``offchain.cli.main.main``, in this process
  to save an interpreter start per command) in a fresh home (the repository's ``build/`` and
  ``docs/`` linked in) with the embedded chain on a free port; ``... &`` starts it as a
  background process, as a user starts the worker (numbered as a shell numbers jobs: the
  lowest number free), and ``$ kill %N`` stops job N with SIGTERM;
* every other line is a line the command must print, in order (stdout and stderr together):
  ``…`` matches any text, whitespace runs are one space, and a shortened id such as
  ``0x5f3a…`` is bound to the full id the first time it appears in the output and stands for
  that id in every later line and command;
* a command succeeds (exit 0) unless one of its documented lines starts with ``error:``;
* ``NAME=VALUE attestia ...`` runs with that environment variable set (``$(mktemp -d)`` is a
  new empty directory: another user's home), and ``127.0.0.1:8545`` in a command is the
  embedded chain's address (the test's chain listens on a free port), as ``8700`` in
  ``--port 8700`` and ``127.0.0.1:8700`` is the gateway's (another free port).

Every command of the "Using it" table is run by the walkthrough, except those in ``NOT_WALKED``
(each with the test that covers it).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from offchain.chain.anvil import free_port
from offchain.config import REPO_ROOT

README = REPO_ROOT / "README.md"
NOT_WALKED = {
    "model zk-setup": "an EZKL setup and a verifier deployment: tests/proofs/test_zk_cli.py",
    "rewards cancel-root": "guardian action during a timelock: tests/cli/test_money_admin.py",
    "request cancel": "needs an expired request: tests/cli/test_readonly_and_requests.py",
    "dispute open": "a challenge by hand (the dispute game): tests/cli/test_dispute_cli.py",
    "dispute respond": "the dispute game: tests/cli/test_dispute_cli.py",
    "dispute prove": "the dispute game: tests/cli/test_dispute_cli.py",
    "dispute resolve": "the dispute game: tests/cli/test_dispute_cli.py",
}
PLACEHOLDER = re.compile(r"0x[0-9a-fA-F]*…")
TOKEN = re.compile(r"(0x[0-9a-fA-F]*…|…)")
BACKGROUND_TIMEOUT = 90.0
README_RPC = "127.0.0.1:8545"
README_GATEWAY_PORT = "8700"
KILL = re.compile(r"kill %(\d+)")
MKTEMP = "$(mktemp -d)"
ASSIGNMENT = re.compile(r"([A-Z_][A-Z0-9_]*)=(\$\(mktemp -d\)|\S*) +")
# Root options (offchain.cli.main._root) that take a value, as they appear before a command.
GLOBAL_OPTIONS = {"--rpc-url", "--port", "--registry", "--lens", "--deployment"}


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end != -1 else len(text)]


def walkthrough() -> list[Step]:
    section = _section(README.read_text(), "## Using it")
    block = section[section.index("### Walkthrough"):]
    body = block[block.index("```console\n") + len("```console\n"):]
    body = body[:body.index("\n```")]
    steps: list[Step] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            steps.append(Step(line[2:].strip()))
        elif line.strip():
            assert steps, f"output before any command: {line!r}"
            steps[-1].expected.append(line)
    return steps


def table_commands() -> list[str]:
    """The commands of the "Using it" table: its ``attestia ...`` code spans, and the short
    forms after them (``attestia chain up`` / ``status`` is also ``attestia chain status``)."""
    section = _section(README.read_text(), "## Using it")
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    out: list[str] = []
    for row in rows:
        last: list[str] = []
        for span in re.findall(r"`([^`]*)`", row.split(" | ")[-1]):
            if span.startswith("attestia "):
                out.append(span)
                last = command_path(span).split()
            elif last and re.match(r"[a-z][a-z-]*( |$)", span):
                out.append(" ".join(["attestia", *last[:-1], span]))
    return out


def command_path(command: str) -> str:
    """``model register`` of ``attestia model register PACKAGE --fee 1``."""
    words = command.replace("\\|", " ").split()[1:]
    if words and words[0].startswith("--") and words[0] != "--version":
        words = []  # a global option: no command after it in the table
    if words and words[0] == "--version":
        return "--version"
    path = []
    for word in words:
        if not re.fullmatch(r"[a-z][a-z-]*", word):
            break
        path.append(word)
    return " ".join(path)


class Bindings:
    """Shortened ids (``0x5f3a…``) and the full ids they stand for."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def regex(self, line: str) -> tuple[re.Pattern[str], dict[str, str]]:
        out, groups = [], {}
        for part in TOKEN.split(" ".join(line.split())):
            if part == "…":
                out.append(r"\s*.*?\s*")
            elif part == "0x…":
                out.append(r"0x[0-9a-fA-F]*")
            elif PLACEHOLDER.fullmatch(part):
                if part in self.values:
                    out.append(re.escape(self.values[part]))
                elif part in groups:
                    out.append(f"(?P={groups[part]})")
                else:
                    groups[part] = f"id{len(groups)}"
                    out.append(f"(?P<{groups[part]}>0x[0-9a-fA-F]+)")
            elif part:
                lead = r"\s*" if part[0] == " " else ""
                trail = r"\s*" if part[-1] == " " else ""
                words = [re.escape(w) for w in part.split()]
                out.append(lead + r"\s+".join(words) + trail)
        return re.compile("".join(out)), groups

    def match(self, expected: str, actual: str) -> bool:
        pattern, groups = self.regex(expected)
        found = pattern.fullmatch(" ".join(actual.split()))
        if found is None:
            return False
        for placeholder, group in groups.items():
            self.values[placeholder] = found.group(group)
        return True

    def substitute(self, command: str) -> list[str]:
        args = []
        for word in shlex.split(command):
            for placeholder in PLACEHOLDER.findall(word):
                assert placeholder in self.values, \
                    f"{command!r} uses {placeholder} before any output showed it"
                word = word.replace(placeholder, self.values[placeholder])
            args.append(word)
        return args


def match_in_order(bindings: Bindings, expected: list[str], lines: list[str],
                   start: int = 0) -> tuple[int, int]:
    """(how many expected lines matched, index after the last line used)."""
    done, at = 0, start
    while done < len(expected) and at < len(lines):
        if bindings.match(expected[done], lines[at]):
            done += 1
        at += 1
    return done, at


def split_command(command: str) -> tuple[dict[str, str], str]:
    """(the ``NAME=VALUE`` assignments before the command, the command itself)."""
    assignments: dict[str, str] = {}
    while found := ASSIGNMENT.match(command):
        assignments[found.group(1)] = found.group(2)
        command = command[found.end():]
    return assignments, command


def walked_path(command: str) -> str:
    """``deploy check`` of ``attestia --rpc-url URL --registry 0x… deploy check``."""
    words = split_command(command.removesuffix("&").strip())[1].split()
    while len(words) > 2 and words[1] in GLOBAL_OPTIONS:
        del words[1:3]
    return command_path(" ".join(words))


def test_readme_table_commands_are_walked() -> None:
    walked = {walked_path(s.command) for s in walkthrough()
              if split_command(s.command)[1].startswith("attestia ")}
    documented = {command_path(c) for c in table_commands()} - {""}
    assert documented, "no attestia command found in the README's table"
    missing = documented - walked - set(NOT_WALKED)
    assert not missing, f"README table commands the walkthrough does not run: {missing}"
    assert not set(NOT_WALKED) - documented, "NOT_WALKED names a command the table lacks"


def test_readme_walkthrough_runs_as_written(tmp_path: Path, attestia_home: Path) -> None:
    # attestia_home: the session compiles build/ once, so `attestia build` here is the cache
    # hit a clone sees after `make demo`
    steps = walkthrough()
    assert len(steps) >= 20, "the README walkthrough is missing"
    home = tmp_path / "home"
    home.mkdir()
    for shared in ("build", "docs"):  # a clone's compiled contracts and example files
        (home / shared).symlink_to(REPO_ROOT / shared, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    env |= {"ATTESTIA_HOME": str(home), "ATTESTIA_PORT": str(free_port()),
            "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    gateway_port = str(free_port())
    bindings = Bindings()
    jobs: dict[int, tuple[subprocess.Popen[bytes], Path, list[int]]] = {}
    transcript: list[str] = []
    try:
        for step in steps:
            started = time.monotonic()
            killed = KILL.fullmatch(step.command)
            if killed:
                number = int(killed.group(1))
                assert number in jobs, f"{step.command} without such a background job"
                proc, log_path, cursor = jobs.pop(number)
                proc.send_signal(signal.SIGTERM)
                code = proc.wait(timeout=60)
                lines = log_path.read_text().splitlines()
                done, _ = match_in_order(bindings, step.expected, lines, cursor[0])
                assert code == 0 and done == len(step.expected), \
                    _report(step, lines, done, code, transcript)
                continue
            assignments, command = split_command(step.command)
            assert command.startswith("attestia "), step.command
            step_env = env | {name: str(Path(tempfile.mkdtemp(dir=tmp_path)))
                              if value == MKTEMP else value
                              for name, value in assignments.items()}
            background = command.endswith("&")
            command = command.replace(README_RPC, f"127.0.0.1:{env['ATTESTIA_PORT']}")
            command = command.replace(f"127.0.0.1:{README_GATEWAY_PORT}",
                                      f"127.0.0.1:{gateway_port}")
            command = command.replace(f"--port {README_GATEWAY_PORT}", f"--port {gateway_port}")
            args = bindings.substitute(command.removesuffix("&").strip())[1:]
            argv = [sys.executable, "-m", "offchain.cli.main", *args]
            if background:
                number = min(set(range(1, len(jobs) + 2)) - set(jobs))
                log_path = tmp_path / f"background-{len(transcript)}.log"
                with log_path.open("w") as log:
                    proc = subprocess.Popen(argv, cwd=home, env=step_env, stdout=log,
                                            stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
                deadline = time.monotonic() + BACKGROUND_TIMEOUT
                while True:
                    lines = log_path.read_text().splitlines()
                    done, at = match_in_order(Bindings(), step.expected, lines)
                    if done == len(step.expected):
                        bound, _ = match_in_order(bindings, step.expected, lines)  # bind ids
                        assert bound == done, _report(step, lines, bound, None, transcript)
                        break
                    assert proc.poll() is None and time.monotonic() < deadline, \
                        _report(step, lines, done, proc.poll(), transcript)
                    time.sleep(0.2)
                jobs[number] = (proc, log_path, [at])
                transcript.append(f"$ {step.command}  [{time.monotonic() - started:.1f} s]")
                continue
            code, output = run_in_process(args, step_env, home)
            lines = output.splitlines()
            transcript.append(f"$ {step.command}  [{time.monotonic() - started:.1f} s]")
            fails = any(line.startswith("error:") for line in step.expected)
            done, _ = match_in_order(bindings, step.expected, lines)
            assert "Traceback" not in output, _report(step, lines, done, code, transcript)
            assert (code != 0) == fails and done == len(step.expected), \
                _report(step, lines, done, code, transcript)
        print("\n".join(transcript))
    finally:
        for proc, _, _ in jobs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
        subprocess.run([sys.executable, "-m", "offchain.cli.main", "chain", "down"],
                       cwd=home, env=env, capture_output=True, timeout=60)


def run_in_process(args: list[str], env: dict[str, str], cwd: Path) -> tuple[object, str]:
    """``attestia ARGS`` through the CLI's entry point in this process (no interpreter start
    per command: the walkthrough stays fast), in ``cwd``, with exactly ``env``; returns the
    exit code and stdout and stderr interleaved as a terminal shows them."""
    from typer.testing import CliRunner

    from offchain.cli.main import main

    here = Path.cwd()
    os.chdir(cwd)
    runner = CliRunner()
    unset: dict[str, str | None] = {k: None for k in os.environ if k not in env}
    try:
        with runner.isolation(env=unset | env) as (_, _, mixed):
            code: object
            try:
                main(args)
                code = 0
            except SystemExit as exc:
                code = exc.code
            except BaseException:  # noqa: BLE001 -- shown as the traceback it is
                sys.stderr.write(traceback.format_exc())
                code = "exception"
            sys.stdout.flush()
            sys.stderr.flush()
            return code, mixed.getvalue().decode()
    finally:
        os.chdir(here)


def _report(step: Step, lines: list[str], done: int, code: object,
            transcript: list[str]) -> str:
    wanted = step.expected[done] if done < len(step.expected) else "(all lines matched)"
    return (f"README step `$ {step.command}` (exit {code}) did not print, in order, the "
            f"documented line\n    {wanted}\nit printed:\n" + "\n".join(lines)
            + "\n\nsteps so far:\n" + "\n".join(transcript))
