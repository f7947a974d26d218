"""`attestia --help` stays fast: the entry point imports no heavy library, and the lazily
registered command table says exactly what the command modules register.

No timing assertion (machines differ); the import graph is what made `--help` take seconds.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest
from typer.main import get_command

from offchain.cli.main import COMMANDS, LazyGroup, app, load_commands
from offchain.config import REPO_ROOT

HEAVY = ("web3", "eth_account", "numpy", "onnxruntime", "sklearn", "requests", "aiohttp",
         "solcx", "ezkl")

# Prints, as the last line on stderr, the top-level packages and the offchain.cli modules loaded.
_REPORT = (
    "\nimport json, sys\n"
    "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules}"
    " | {m for m in sys.modules if m.startswith('offchain.cli.')})), file=sys.stderr)\n"
)


def _modules_after(code: str, *args: str) -> tuple[set[str], subprocess.CompletedProcess]:
    result = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stderr.strip().splitlines()[-1])), result


def test_importing_the_entry_point_pulls_in_nothing_heavy() -> None:
    modules, _ = _modules_after("import offchain.cli.main" + _REPORT)
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_root_help_lists_every_command_without_importing_them() -> None:
    code = "from offchain.cli.main import main\ntry:\n    main()\nexcept SystemExit:\n    pass"
    code += _REPORT
    modules, result = _modules_after(code, "--help")
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    command_modules = {m for m in modules if m.startswith("offchain.cli.")}
    assert command_modules <= {"offchain.cli.main", "offchain.cli.common"}, command_modules
    for name, (_, help_line) in COMMANDS.items():
        assert name in result.stdout
        assert help_line.split()[0] in result.stdout


def test_command_table_matches_what_the_modules_register() -> None:
    registered: dict[str, tuple[str, str]] = {}
    for module in sorted({module for module, _ in COMMANDS.values()}):
        for name, command in load_commands(module).items():
            assert name not in registered, f"{name} registered twice"
            text = inspect.cleandoc(command.short_help or command.help or "")
            registered[name] = (module, text.split("\n\n")[0].replace("\n", " ").strip())
    assert registered == COMMANDS


def _root_help(group: LazyGroup, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        group.main(["--help"], prog_name="attestia")
    return capsys.readouterr().out


def test_lazy_help_equals_help_with_every_command_loaded(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lazy = get_command(app)
    loaded = get_command(app)
    assert isinstance(lazy, LazyGroup) and isinstance(loaded, LazyGroup)
    assert all(command is not None for command in dict(loaded.commands).values())
    assert _root_help(lazy, capsys) == _root_help(loaded, capsys)


def test_commands_resolve_and_typos_get_suggestions() -> None:
    ok = subprocess.run([sys.executable, "-m", "offchain.cli.main", "chain", "--help"],
                        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "advance" in ok.stdout, ok.stderr
    typo = subprocess.run([sys.executable, "-m", "offchain.cli.main", "chian"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert typo.returncode != 0 and "Did you mean 'chain'" in typo.stderr, typo.stderr


def test_the_read_commands_modules_import_no_numpy_or_models() -> None:
    # model list, worker list, request status, attribution, rewards status, dispute
    # status: their modules
    # read the chain and files; numpy, onnxruntime and the package loader cost them a second
    # under load (bench/cli.py)
    code = ("import offchain.request.market, offchain.request.status, offchain.request.submit, "
            "offchain.rewards.chain, offchain.attribution.onchain, offchain.cli.home, "
            "offchain.chain.codecheck, offchain.dispute.game" + _REPORT)
    modules, _ = _modules_after(code)
    assert not modules & {"numpy", "onnxruntime", "sklearn", "sqlalchemy"}, sorted(modules)


def test_the_attribution_package_still_offers_every_name() -> None:
    import offchain.attribution as attribution

    for name in attribution.__all__:
        assert getattr(attribution, name) is not None, name
    with pytest.raises(AttributeError):
        _ = attribution.no_such_name
