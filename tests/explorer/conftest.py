"""One chain state for every explorer test, built once: its own Anvil (the reorg and kill tests
rewrite its history, so it is not the suite's chain), the demo (3 paid requests served by a
real worker process, settled, claimed), then a second model with a few single records, a
batch whose published file is intact and one whose file was altered after its commit, a
third model whose metadata URI is a script tag, and a record of a fourth model whose
attribution is disputed (challenged and answered).

Tests that change the chain do it inside an evm_snapshot they revert, so the state above is
what every test sees. PostgreSQL tests start their own server (toolchain.md recipe) and skip
with the reason when PostgreSQL 15 is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from offchain.chain.anvil import EmbeddedChain, free_port
from offchain.chain.connection import connect
from offchain.config import REPO_ROOT, load_settings
from offchain.demo.flow import run_demo
from offchain.protocol import PROOF_SIGNED, policy_bit
from offchain.registry import Attestia
from tests.explorer.helpers import HOSTILE_URI, PG_BIN, Flow, new_postgres_database
from tests.rewards.helpers import FEE, OWNER, ROSTER, SPLIT, Market, shares_of


def _commit(market: Market, n: int, directory: Path) -> tuple[str, Path]:
    batch = market.batch(n)
    published = market.publish(batch, directory)
    event = market.commit(batch, published.path.resolve().as_uri(), published.data_hash)
    return "0x" + event.batch_id.hex(), published.path


def _disputed_record(attestia: Attestia, traces: Path) -> str:
    """A record of a small integer-attribution model whose attribution is challenged (its
    input made public) and answered with the worker's trace: an attribution dispute (the
    Slasher's dispute game, issue 11) in state "responded"."""
    from offchain.dispute import game
    from tests.contracts.helpers import REQUESTER, WORKER, Harness
    from tests.dispute.helpers import Game

    g = Game(Harness(attestia))
    case = g.case()
    game.open_challenge(attestia, case.record, case.input_bytes, case.salt, case.output_bytes,
                        g.model.spec, account=REQUESTER)
    game.respond(attestia, g.model, case.request_id, traces, account=WORKER)
    return "0x" + case.request_id.hex()


@pytest.fixture(scope="session")
def explorer_flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    home = tmp_path_factory.mktemp("explorer-home")
    (home / "build").symlink_to(REPO_ROOT / "build", target_is_directory=True)
    node = EmbeddedChain(home / ".attestia", free_port())
    node.up()
    try:
        settings = load_settings(home=home, rpc_url=node.url)
        run_demo(settings, requests=3, console=Console(quiet=True))
        attestia = Attestia.load(connect(settings))
        demo_records = ["0x" + r.request_id.hex() for r in attestia.registry.recorded()]
        demo_model = "0x" + attestia.registry.recorded()[0].inference.modelId.hex()
        market = Market.open(attestia)
        market_records = ["0x" + market.single(shares_of(ROSTER[: 2 + i % 3])).request_id.hex()
                          for i in range(4)]
        hostile = market.unique("hostile-model")  # names and URIs are attacker-chosen text
        attestia.send(attestia.registry.register_model(
            hostile, HOSTILE_URI, market.unique("data"), ROSTER, policy_bit(PROOF_SIGNED), FEE,
            SPLIT), account=OWNER)
        disputed = _disputed_record(attestia, home / "traces")
        batches = home / "published"
        good, _ = _commit(market, 4, batches)
        tampered, path = _commit(market, 3, batches)
        doc = json.loads(path.read_bytes())  # altered after its commit: another record in leaf 1
        doc["leaves"][1]["inference"]["outputCommitment"] = "0x" + "ab" * 32
        path.write_text(json.dumps(doc, separators=(",", ":")))
        carol = next(c["address"] for c in json.loads(
            (settings.data_dir / "models" / "demo" / "manifest.json").read_text())["contributors"]
            if c["name"] == "carol-lab")
        yield Flow(settings, attestia, node, demo_model, demo_records, market, market_records,
                   good, tampered, path, carol, disputed)
    finally:
        node.down()


# -- databases -----------------------------------------------------------------------------------

def _as_postgres(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True, **kw)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL 15 server of our own on a free port (base URL, no database)."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL 15 is not installed ({PG_BIN} is missing): the PostgreSQL "
                    "variants of the indexer tests need it")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: initdb refuses root")
    base = Path(tempfile.mkdtemp(prefix="attestia-pg-"))
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", free_port()
    _as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"])
    _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"),
                  "-w", "start", "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off"])
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        stop = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        if os.geteuid() == 0:
            stop = ["runuser", "-u", "postgres", "--", *stop]
        subprocess.run(stop, capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'explorer.sqlite'}"
    return new_postgres_database(request.getfixturevalue("postgres_server"))




@pytest.fixture(scope="session")
def indexed(explorer_flow: Flow, tmp_path_factory: pytest.TempPathFactory):
    """The flow indexed once into SQLite, and the explorer service over it (a record page
    waits for its checklist as long as /verify does, so the pages' tests see it at once)."""
    from offchain.explorer.service import VERIFY_WAIT, Explorer
    from offchain.indexer import Indexer, IndexerConfig, open_engine

    url = f"sqlite:///{tmp_path_factory.mktemp('explorer-db') / 'explorer.sqlite'}"
    engine = open_engine(url)
    policy = explorer_flow.fetch_policy
    Indexer(explorer_flow.attestia, engine, IndexerConfig(fetch=policy)).step()
    return Explorer(engine, explorer_flow.attestia, explorer_flow.settings.data_dir,
                    fetch=policy, page_wait=VERIFY_WAIT)
