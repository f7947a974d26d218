"""A private Anvil with freshly deployed contracts, for the benchmarks that need a chain.

    with deployed(console, "attestia-gas-") as (home, attestia): ...

The home is a temporary directory (removed afterwards) that reuses the repository's compiled
contracts when they exist (the build is cached by a hash of its sources); Anvil is stopped
whatever happens inside the block.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from offchain.chain.anvil import EmbeddedChain, free_port
from offchain.chain.connection import connect
from offchain.chain.deploy import DeployParams, deploy
from offchain.config import REPO_ROOT, load_settings
from offchain.registry import Attestia


@contextmanager
def deployed(console: Console, prefix: str) -> Iterator[tuple[Path, Attestia]]:
    """(temporary home, the contracts deployed with the default parameters on a new Anvil)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        home = Path(tmp)
        build = REPO_ROOT / "build"
        if build.is_dir():
            (home / "build").symlink_to(build, target_is_directory=True)
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
