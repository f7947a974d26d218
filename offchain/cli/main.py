"""Entry point of the ``attestia`` command.

The command modules are imported lazily: ``attestia --help`` lists every command from the
table below without importing web3, numpy or onnxruntime, and a command's module is imported
(and its ``register`` run) only when that command is resolved. Tests check that the table
matches what the modules register (tests/cli/test_cli_speed.py).
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

import offchain.cli
from offchain.errors import AttestiaError

# Top-level command -> (module under offchain.cli whose register() adds it, first paragraph of
# its help, as shown by `attestia --help`). Order is the order of the help listing.
COMMANDS: dict[str, tuple[str, str]] = {
    "build": ("chain", "Compile every contract under contracts/ into build/ (cached)."),
    "deploy": ("chain", "Deploy the contracts and write deployments/<chain-id>.json "
                        "(reused unless --fresh)."),
    "infer": ("client", "Encrypt an input, pay for an inference, wait for its record and "
                        "check the answer."),
    "attribution": ("client", "Read a record's attribution from chain, check it against the "
                              "on-chain hash."),
    "demo": ("demo", "Deploy, register the demo model, run a worker, make paid requests, "
                     "settle, claim."),
    "verify": ("verify", "Check a record trusting only the chain: one line per check, exit 1 "
                         "on any FAIL."),
    "chain": ("chain", "Manage the embedded local chain (Anvil)."),
    "model": ("model", "Register and inspect model packages."),
    "worker": ("worker", "Run an inference worker."),
    "rewards": ("rewards", "Settle and claim data contributors' rewards."),
    "governance": ("governance", "Governance: enclave measurements and revocations "
                                 "(GOVERNANCE_ROLE)."),
    "request": ("request", "Follow, wait for, list and cancel inference requests; submit "
                           "off-chain ones to a batching worker."),
    "withdraw": ("rewards", "Withdraw your registry balance (earnings, refunds) and any "
                            "Slasher balance."),
    "dispute": ("dispute", "Challenge a record's attribution, answer a challenge, prove a lie, "
                           "resolve, and see where a dispute stands."),
    "watch": ("dispute", "Watch this home's own records of a model and dispute a wrong "
                         "attribution by itself."),
    "status": ("home", "Show what this home uses: chain, deployment, keys, workers and "
                       "database."),
    "accounts": ("home", "List the addresses this home signs with, and the dev accounts by "
                         "index, with balances."),
    "index": ("explorer", "Index the contracts' events into a database (for the explorer)."),
    "explorer": ("explorer", "Serve the web explorer and its REST API (and index the chain "
                             "in the same process)."),
    "gateway": ("gateway", "Take sealed off-chain requests over HTTP into the fleet's queue "
                           "(PostgreSQL or SQLite)."),
}


def load_commands(module_name: str) -> dict[str, Any]:
    """The click commands one offchain.cli module registers (imports the module)."""
    module = importlib.import_module(f"offchain.cli.{module_name}")
    holder = typer.Typer()
    module.register(holder)
    return dict(typer.main.get_group(holder).commands)


class _LazyCommands(MutableMapping[str, Any]):
    """The root group's commands: every name is known up front, a module is imported when one
    of its commands is first looked up."""

    def __init__(self, initial: MutableMapping[str, Any]) -> None:
        self._loaded: dict[str, Any] = dict(initial)

    def loaded(self, name: str) -> Any | None:
        return self._loaded.get(name)

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded and name in COMMANDS:
            self._loaded.update(load_commands(COMMANDS[name][0]))
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._loaded if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(1 for name in self._loaded if name not in COMMANDS)


class LazyGroup(TyperGroup):
    """The root group. While it formats its own help, commands not yet imported are shown
    through light stand-ins carrying their help line; any other lookup imports the module."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = _LazyCommands(self.commands)
        self._formatting_help = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # names only: TyperGroup's would import every module

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        commands = self.commands
        if self._formatting_help and isinstance(commands, _LazyCommands):
            loaded = commands.loaded(cmd_name)
            if loaded is None and cmd_name in COMMANDS:
                return TyperCommand(name=cmd_name, help=COMMANDS[cmd_name][1])
            return loaded
        return commands.get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._formatting_help = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._formatting_help = False


def _flag_type(self: Any, ctx: Any) -> str | None:
    """A flag's help shows no value type (typer would print ``<bool>`` after ``--json``)."""
    if self.is_flag and not self.count:
        return None
    return _option_type(self, ctx)


_option_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]


app = typer.Typer(
    name="attestia",
    cls=LazyGroup,
    help="Verifiable and attributable AI inference on EVM chains.\n\n"
    "Example: attestia demo",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)


def _print_version(value: bool) -> None:
    if value:
        from offchain import __version__

        print(f"attestia {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version,
        help="Print the version and exit.",
    ),
    rpc_url: str = typer.Option(
        None, "--rpc-url", help="EVM JSON-RPC URL (default: the embedded Anvil chain)."
    ),
    port: int = typer.Option(None, "--port", help="Port of the embedded chain (default 8545)."),
    registry: str = typer.Option(
        None, "--registry", metavar="ADDRESS",
        help="Use the contracts of this InferenceRegistry (the distributor and slasher are "
        "read from it) instead of deployments/<chain-id>.json; nothing is deployed.",
    ),
    lens: str = typer.Option(
        None, "--lens", metavar="ADDRESS",
        help="The RegistryLens to use with --registry (it cannot be read from the registry).",
    ),
    deployment: str = typer.Option(
        None, "--deployment", metavar="FILE",
        help="Use the contracts recorded in this deployment file (e.g. the operator's "
        "deployments/<chain-id>.json); nothing is deployed.",
    ),
) -> None:
    ctx.obj = {"rpc_url": rpc_url, "port": port, "registry": registry, "lens": lens,
               "deployment": deployment}


def _print_error(message: str) -> None:
    from rich.markup import escape

    from offchain.cli.common import err_console

    line = " ".join(str(message).split())  # one line, whatever the message holds
    err_console.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)


def _shortened(path: str, keep: int = 80) -> str:
    """A path as an error line shows it: a very long one (File name too long) cut short."""
    if len(path) <= keep:
        return path
    return f"{path[:keep // 2]}...{path[-keep // 2:]} ({len(path)} characters)"


def main(args: list[str] | None = None) -> None:
    """Run the CLI; every failure a user can fix ends as ONE ``error: ...`` line on stderr
    and a non-zero exit: Attestia's own errors and click's usage errors (unknown option,
    missing argument, bad value) alike, never a traceback or a rich box."""
    from typer._click import exceptions as click_exc

    if args is not None:  # in-process callers (tests) run several commands per import
        offchain.cli.STARTED = time.monotonic()
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="attestia", standalone_mode=False)
    except click_exc.NoArgsIsHelpError as exc:  # `attestia model`: the help was shown
        sys.exit(exc.exit_code)
    except click_exc.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "attestia"
        _print_error(f"{exc.format_message()} (see {where} --help)")
        sys.exit(exc.exit_code)
    except click_exc.ClickException as exc:
        _print_error(exc.format_message())
        sys.exit(exc.exit_code)
    except AttestiaError as exc:
        _print_error(exc.for_people())
        sys.exit(exc.exit_code)
    except OSError as exc:
        if exc.filename is None:  # not a path the user gave: a bug to report with its trace
            raise
        _print_error(f"cannot use the path {_shortened(str(exc.filename))}: "
                     f"{exc.strerror or exc}")
        sys.exit(1)
    except (KeyboardInterrupt, typer.Abort, EOFError):
        from offchain.cli.common import err_console

        err_console.print("interrupted")
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
