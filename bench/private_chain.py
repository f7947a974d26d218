"""A private Anvil with freshly deployed contracts, for the benchmarks that need a chain.

    with deployed(console, "attestia-gas-") as (home, attestia): ...

The home is a temporary directory (removed afterwards) that reuses the repository's compiled
contracts when they exist (the build is cached by a hash of its sources); Anvil is stopped
whatever happens inside the block.
"""

from __future__ import annotations

import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from offchain.chain.anvil import EmbeddedChain, free_port
from offchain.chain.connection import connect
from offchain.chain.deploy import DeployParams, deploy
from offchain.config import REPO_ROOT, load_settings
from offchain.registry import Attestia


def reuse_build(home: Path) -> None:
    """Let ``home`` use the repository's compiled contracts when there are any (a fresh
    checkout has none: the home then compiles, or copies the shared build cache)."""
    build = REPO_ROOT / "build"
    if build.is_dir():
        (home / "build").symlink_to(build, target_is_directory=True)


def _stop(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the nodes


def stop_on_sigterm() -> None:
    """SIGTERM ends the benchmark like Ctrl-C does: every ``finally`` runs (Anvil and
    PostgreSQL are stopped, temporary homes removed)."""
    signal.signal(signal.SIGTERM, _stop)


@contextmanager
def deployed(console: Console, prefix: str) -> Iterator[tuple[Path, Attestia]]:
    """(temporary home, the contracts deployed with the default parameters on a new Anvil)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        home = Path(tmp)
        reuse_build(home)
        node = EmbeddedChain(home / ".attestia", free_port())
        with console.status("starting Anvil"):
            node.up()
        try:
            chain = connect(load_settings(home=home, rpc_url=node.url))
            with console.status("compiling (if needed) and deploying"):
                deployment, _ = deploy(chain, fresh=True, params=DeployParams())
            yield home, Attestia(chain, deployment)
        finally:
            node.down()
