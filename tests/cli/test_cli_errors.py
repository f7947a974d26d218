"""Bad input gives one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from offchain.config import REPO_ROOT

ATTESTIA = [sys.executable, "-m", "offchain.cli.main"]


def run(args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    full_env |= {"ATTESTIA_HOME": str(home), "COLUMNS": "200", **env}
    return subprocess.run(
        ATTESTIA + args, cwd=REPO_ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_unreachable_rpc_url(tmp_path: Path) -> None:
    result = run(["deploy"], tmp_path, ATTESTIA_RPC_URL="http://127.0.0.1:9")
    assert_one_line_error(result, "cannot reach the RPC endpoint http://127.0.0.1:9")


def test_malformed_rpc_url(tmp_path: Path) -> None:
    result = run(["--rpc-url", "ftp://example", "deploy"], tmp_path)
    assert_one_line_error(result, "must start with http://")


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(["--port", str(port), "chain", "up"], tmp_path)
    assert_one_line_error(result, f"port {port} is already in use")


def test_node_missing(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    result = run(["build", "--force"], tmp_path, PATH=str(bin_dir))
    assert_one_line_error(result, "node is not installed")


def test_compile_error(tmp_path: Path) -> None:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "Bad.sol").write_text(
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\ncontract Bad { uint x = ; }\n"
    )
    result = run(["build"], tmp_path)
    assert_one_line_error(result, "contracts/Bad.sol:3: ParserError")


def test_deployment_file_for_another_chain(project_home: Path, anvil) -> None:
    tmp_path = project_home
    (tmp_path / "deployments").mkdir()
    (tmp_path / "deployments" / "31337.json").write_text(json.dumps({"chainId": 1}))
    result = run(["deploy"], tmp_path, ATTESTIA_RPC_URL=anvil.url)
    assert_one_line_error(result, "records chain id 1", "chain id 31337")


def test_no_key_for_a_non_dev_chain(tmp_path: Path) -> None:
    from offchain.chain.accounts import resolve_account
    from offchain.config import load_settings
    from offchain.errors import ConfigError

    with pytest.raises(ConfigError, match="no signing key for chain id 1:"):
        resolve_account(load_settings(home=tmp_path), chain_id=1)


def test_every_command_help_has_an_example() -> None:
    from typer.main import get_command

    from offchain.cli.main import app

    root = get_command(app)

    def walk(command, path):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield path, command

    leaves = list(walk(root, []))
    assert len(leaves) >= 5
    for path, command in leaves:
        assert "Example: attestia" in (command.help or ""), f"{' '.join(path)} has no example"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is required")
def test_help_lists_commands(tmp_path: Path) -> None:
    result = run(["--help"], tmp_path)
    assert result.returncode == 0
    for command in ("build", "deploy", "chain"):
        assert command in result.stdout


def test_malformed_ids(project_home: Path, anvil) -> None:
    tmp_path = project_home
    result = run(["attribution", "0x1234"], tmp_path, ATTESTIA_RPC_URL=anvil.url)
    assert_one_line_error(result, "inference id must be 32 bytes of hex")
    result = run(["model", "show", "0x12"], tmp_path, ATTESTIA_RPC_URL=anvil.url)
    assert_one_line_error(result, "model id must be 32 bytes of hex")
    result = run(["model", "show", "nothex"], tmp_path, ATTESTIA_RPC_URL=anvil.url)
    assert_one_line_error(result, "on-chain id (0x + 64 hex digits) or its package directory")


# Prints, as the last line on stderr, the heavy libraries the command imported.
_HEAVY_REPORT = (
    "import json, sys\nfrom offchain.cli.main import main\ntry:\n    main()\n"
    "except SystemExit:\n    pass\nheavy = ('web3', 'eth_account', 'numpy', 'onnxruntime', "
    "'sklearn', 'sqlalchemy')\n"
    "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(heavy))), "
    "file=sys.stderr)\n"
)


@pytest.mark.parametrize("args", [
    ["dispute", "open", "0x" + "ab" * 32, "--model", "nowhere"],
    ["dispute", "open", "--help"],
    ["verify", "--help"],
    ["model", "list", "--help"],
    ["deploy", "check", "--help"],
    ["request", "wait", "0x" + "ab" * 32, "--timeout", "0"],
])
def test_help_and_argument_errors_answer_before_anything_connects(
        tmp_path: Path, args: list[str]) -> None:
    # the RPC URL is a closed port: a command that connected would fail on it instead
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    full_env |= {"ATTESTIA_HOME": str(tmp_path), "COLUMNS": "200",
                 "ATTESTIA_RPC_URL": "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-c", _HEAVY_REPORT, *args], cwd=REPO_ROOT,
                          env=full_env, capture_output=True, text=True, timeout=120)
    *messages, heavy = done.stderr.strip().splitlines()
    assert "cannot reach" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert json.loads(heavy) == [], heavy  # nothing that a connection would need
    if "--help" in args:
        assert "Example: attestia" in done.stdout, done.stdout
    else:
        [line] = [m for m in messages if m.strip()]
        assert line.startswith("error: ") and ("--yes" in line or "--timeout" in line), line
