"""scripts/ape_check.py: its pure checks and every failure path that needs no Ape venv."""

from __future__ import annotations

import importlib.util
import os
import socket
import stat

import pytest

from offchain.config import REPO_ROOT
from offchain.errors import ChainError, ConfigError, ToolchainError

_spec = importlib.util.spec_from_file_location(
    "ape_check", REPO_ROOT / "scripts" / "ape_check.py"
)
ape_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ape_check)

A1 = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
A2 = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"


def test_parse_addresses_keeps_only_name_address_lines_in_order():
    output = (
        f"INFO:     Contract will be deployed at: {A1}\n"
        f"SUCCESS:  Contract 'RewardDistributor' deployed to: {A1}\n"
        f"RewardDistributor {A1}\n"
        f"  InferenceRegistry {A2}  \n"
        "Foo 0x1234\n"
    )
    assert ape_check.parse_addresses(output) == {"RewardDistributor": A1, "InferenceRegistry": A2}
    assert list(ape_check.parse_addresses(output)) == ["RewardDistributor", "InferenceRegistry"]


def test_the_plan_deploys_slasher_and_lens_after_the_registry():
    assert ape_check.plan_names() == [
        "RewardDistributor", "InferenceRegistry", "OutputDisputes", "Slasher", "RegistryLens"]


def test_deployed_names_must_equal_plan_in_order():
    found = {"RewardDistributor": A1, "InferenceRegistry": A2}
    ape_check.check_deployed_names(found, ["RewardDistributor", "InferenceRegistry"])
    with pytest.raises(ape_check.ApeCheckError, match="expected"):
        ape_check.check_deployed_names(found, ["InferenceRegistry", "RewardDistributor"])
    with pytest.raises(ape_check.ApeCheckError, match="no contracts"):
        ape_check.check_deployed_names({}, ["InferenceRegistry"])


def test_parse_wiring_keeps_only_contract_dot_function_lines():
    output = (
        f"RewardDistributor {A1}\n"
        "INFO:     Confirmed 0xabc (total fees paid = 0)\n"
        "  InferenceRegistry.setSlasher  \n"
        "Not.a.step\n"
        "SUCCESS: InferenceRegistry.setSlasher done\n"
    )
    assert ape_check.parse_wiring(output) == ["InferenceRegistry.setSlasher"]


def test_wiring_steps_follow_the_plan_and_must_all_be_made():
    assert ape_check.wiring_steps() == ["InferenceRegistry.setSlasher"]
    assert ape_check.wiring_steps([("A", "f", None), ("B", "g", None)]) == ["A.f", "B.g"]
    ape_check.check_wiring(["A.f"], ["A.f"])
    with pytest.raises(ape_check.ApeCheckError, match="none"):
        ape_check.check_wiring([], ["InferenceRegistry.setSlasher"])
    with pytest.raises(ape_check.ApeCheckError, match="expected"):
        ape_check.check_wiring(["B.g", "A.f"], ["A.f", "B.g"])


def test_the_slasher_wiring_is_read_from_the_chain(attestia):
    """check_slasher reads slasher() over raw JSON-RPC: the deployment's wiring passes, a
    registry naming another slasher (or none) fails."""
    url = attestia.chain.url
    registry = attestia.registry.address
    slasher = attestia.slasher.address
    assert ape_check.slasher_of(url, registry) == slasher
    ape_check.check_slasher(url, {"InferenceRegistry": registry, "Slasher": slasher})
    with pytest.raises(ape_check.ApeCheckError, match="did not take"):
        ape_check.check_slasher(url, {"InferenceRegistry": registry, "Slasher": A1})
    ape_check.check_slasher(url, {"RewardDistributor": A1})  # nothing to check


def test_plan_names_refuses_an_empty_plan():
    assert ape_check.plan_names([("A", None), ("B", None)]) == ["A", "B"]
    with pytest.raises(ConfigError, match="PLAN is empty"):
        ape_check.plan_names([])


def test_the_committed_ape_config_agrees_with_the_main_build():
    ape_check.check_config((REPO_ROOT / "ape-config.yaml").read_text())


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("version: 0.8.37", "version: 0.8.30", "version '0.8.30'"),
        ("evm_version: shanghai", "evm_version: prague", "evm_version 'prague'"),
        ("${ATTESTIA_APE_PORT}", "8545", "ATTESTIA_APE_PORT"),
    ],
)
def test_config_drift_is_refused(old, new, message):
    text = (REPO_ROOT / "ape-config.yaml").read_text()
    assert old in text
    with pytest.raises(ConfigError, match=message.replace("$", r"\$")):
        ape_check.check_config(text.replace(old, new))


def test_failure_line_picks_the_line_that_says_what_failed():
    solc = (
        "INFO:     Compiling using Solidity compiler\n"
        "ERROR:    (SolcCompileError) DeclarationError: Undeclared identifier.\n"
        " --> contracts/Broken.sol:3:41:\n  |\n  |    ^\n\n"
    )
    assert ape_check.failure_line(solc) == (
        "(SolcCompileError) DeclarationError: Undeclared identifier. "
        "(at contracts/Broken.sol:3:41:)"
    )
    traceback = (
        "ERROR: (ScriptParse) earlier noise\nTraceback (most recent call last):\n"
        '  File "x.py", line 1\noffchain.errors.ConfigError: no contract Nope\n'
    )
    assert ape_check.failure_line(traceback) == "offchain.errors.ConfigError: no contract Nope"
    assert ape_check.failure_line("a\nlast words\n\n  \n") == "last words"
    assert ape_check.failure_line("") == "(no output)"


def test_link_solc_makes_a_relative_link_and_repairs_a_wrong_one(tmp_path):
    shim = tmp_path / "repo" / "solc_driver.js"
    shim.parent.mkdir()
    shim.write_text("#!/usr/bin/env node\n")
    solcx = tmp_path / "venv" / "solcx"
    link = ape_check.link_solc(solcx, "0.8.37", shim)
    assert link.name == "solc-v0.8.37" and link.is_symlink()
    assert not os.readlink(link).startswith("/")
    assert link.resolve() == shim.resolve()
    link.unlink()
    link.write_text("stale")
    assert ape_check.link_solc(solcx, "0.8.37", shim).resolve() == shim.resolve()


def test_free_port_fails_clearly_when_the_range_is_taken():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ChainError, match="no free port"):
            ape_check.free_port(port, port)


def test_anvil_that_cannot_start_is_reported():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ChainError, match="anvil exited"), ape_check.throwaway_anvil(port):
            pass


def test_address_without_code_fails_and_anvil_is_stopped():
    port = ape_check.free_port()
    with (
        ape_check.throwaway_anvil(port) as url,
        pytest.raises(ape_check.ApeCheckError, match="has no code"),
    ):
        ape_check.check_code(url, {"Nothing": "0x" + "11" * 20})
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()


def test_missing_ape_venv_is_a_toolchain_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(ape_check, "APE_VENV", tmp_path / "no-venv")
    with pytest.raises(ToolchainError, match="requirements/ape.lock"):
        ape_check.ape_check()
    assert ape_check.main() == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ape-check: error: ")


def test_failing_ape_command_reports_its_last_line(monkeypatch, tmp_path):
    fake = tmp_path / "bin" / "ape"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho compiling\necho 'ERROR: (CompilerError) boom' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(ape_check, "APE_VENV", tmp_path)
    with pytest.raises(ape_check.ApeCheckError, match=r"exit 3\): \(CompilerError\) boom$"):
        ape_check.run_ape(["compile"], dict(os.environ))


def test_scripts_deploy_is_an_ape_main_script_and_never_binds_cli():
    # `ape run` picks a command by the module's top-level names: `cli` would hijack it.
    source = (REPO_ROOT / "scripts" / "deploy.py").read_text()
    names = compile(source, "deploy.py", "exec").co_names
    assert "main" in names and "cli" not in names


def test_link_only_makes_the_solc_link_the_readme_commands_need(tmp_path, monkeypatch, capsys):
    """`make ape-setup` (ape_check.py --link): the by-hand Ape commands need no ape-check."""
    monkeypatch.setattr(ape_check, "APE_VENV", tmp_path / ".venv-ape")
    assert ape_check.main(["--link"]) == 0
    link = tmp_path / ".venv-ape" / "solcx" / f"solc-v{ape_check.SOLC_VERSION}"
    assert link.is_symlink() and link.resolve() == ape_check.SHIM.resolve()
    assert f"SOLCX_BINARY_PATH={tmp_path / '.venv-ape' / 'solcx'}" in capsys.readouterr().out
    assert ape_check.main(["--link"]) == 0  # again: a no-op


def test_port_argument(monkeypatch, capsys):
    """`make ape-check APE_PORT=N` passes --port N; a bad or busy port is one error line."""
    assert ape_check.parse_args(["--port", "8600"]) == (8600, False)
    assert ape_check.parse_args([]) == (None, False)
    for bad in (["--port", "x"], ["--port", "70000"], ["--bogus"]):
        assert ape_check.main(bad) == ConfigError.exit_code
        assert capsys.readouterr().err.startswith("ape-check: error: ")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ChainError, match=f"port {port} is in use"):
            ape_check.ape_check(port)
