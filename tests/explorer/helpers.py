"""Shared by the explorer tests: the flow's handle, the CLI runner, PostgreSQL databases."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from offchain.chain.anvil import EmbeddedChain
from offchain.config import REPO_ROOT, Settings
from offchain.registry import Attestia
from offchain.storage.uri import FetchPolicy
from tests.rewards.helpers import Market

PG_BIN = Path("/usr/lib/postgresql/15/bin")
HOSTILE_URI = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@dataclass
class Flow:
    settings: Settings
    attestia: Attestia
    node: EmbeddedChain
    demo_model: str
    demo_records: list[str]
    market: Market
    market_records: list[str]
    good_batch: str
    tampered_batch: str
    tampered_path: Path
    contributor: str
    """A demo contributor (carol-lab), with shares and a claim."""
    disputed: str
    """A record whose attribution dispute was opened and answered (state responded)."""

    @property
    def fetch_policy(self) -> FetchPolicy:
        """The explorer's policy for this flow: its batch files are published under
        ``home/published`` (the only local files it reads). No internal address is allowed:
        the flow publishes no http URI."""
        return FetchPolicy.for_service((self.settings.home / "published",),
                                       secret_dirs=(self.settings.home,
                                                    self.settings.data_dir), allow="")

    @property
    def deployment_file(self) -> Path:
        return self.settings.home / "deployments" / f"{self.attestia.chain.chain_id}.json"

    def snapshot(self) -> str:
        return str(self.attestia.chain.w3.provider.make_request("evm_snapshot", [])["result"])

    def revert(self, snapshot: str) -> None:
        chain = self.attestia.chain
        assert chain.w3.provider.make_request("evm_revert", [snapshot])["result"]
        for sender in chain._senders.values():
            sender.resync()


def new_postgres_database(server: str) -> str:
    import psycopg

    name = "attestia_" + uuid.uuid4().hex[:12]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


def cli(flow: Flow, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "offchain.cli.main", *args], cwd=REPO_ROOT,
                          env=cli_env(flow), capture_output=True, text=True, timeout=timeout)


def cli_env(flow: Flow) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    return env | {"ATTESTIA_HOME": str(flow.settings.home),
                  "ATTESTIA_RPC_URL": str(flow.settings.rpc_url), "COLUMNS": "200"}



def shared_client(explorer, **options):
    """A TestClient over ``explorer``'s app that a whole module shares. Its rate limit is
    far above anything the module sends: with the default bucket (100 at once, 20 a second)
    one test's allowance depended on how fast the tests before it ran. The limit itself is
    tested with its own client (test_fetch_safety.py)."""
    from fastapi.testclient import TestClient

    from offchain.explorer.app import RateLimit, create_app

    return TestClient(create_app(explorer, rate_limit=RateLimit(rate=10_000, burst=10_000),
                                 **options), raise_server_exceptions=False)
