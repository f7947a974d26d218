"""The indexer against Anvil, on SQLite and on PostgreSQL: its tables hold exactly what the
chain's events say after the demo flow; a reorg several blocks deep is rolled back and
replayed; an indexer process killed with SIGKILL mid-run and restarted loses and duplicates
nothing; a lost RPC endpoint is one log line, not the end of the process."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Engine, select

from offchain.chain.connection import make_web3
from offchain.config import REPO_ROOT
from offchain.indexer import Indexer, IndexerConfig, open_engine
from offchain.indexer import schema as S
from tests.explorer.helpers import Flow, cli, cli_env
from tests.rewards.helpers import REQUESTER, ROSTER, shares_of


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def chain_view(flow: Flow) -> dict[str, Any]:
    """What the chain's events say, through the typed client."""
    reg, dist = flow.attestia.registry, flow.attestia.distributor
    recorded = reg.recorded()
    return {
        "records": sorted((_hex(r.request_id), _hex(r.digest), r.meta.block) for r in recorded),
        "shares": sorted((_hex(r.request_id), s.account, s.bps) for r in recorded
                         for s in r.shares),
        "requests": sorted(_hex(q.request_id) for q in reg.requested()),
        "batches": sorted((_hex(b.batch_id), _hex(b.root), b.count) for b in reg.batches()),
        "claims": sorted((c.account, c.epoch, str(c.amount)) for c in dist.claims()),
        "roots": sorted((p.epoch, _hex(p.root)) for p in dist.roots_proposed()),
        "workers": sorted({w.signer for w in reg.workers_registered()}),
        "logs": _raw_log_count(flow),
    }


def _raw_log_count(flow: Flow) -> int:
    a = flow.attestia
    addresses = [a.registry.address, a.distributor.address, a.slasher.address]
    return len(a.chain.w3.eth.get_logs({"fromBlock": a.first_block, "toBlock": "latest",
                                        "address": addresses}))


def db_view(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        def rows(query: Any) -> list[Any]:
            return [tuple(r) for r in conn.execute(query)]

        shares = rows(select(S.shares.c.record, S.shares.c.account, S.shares.c.bps)
                      .where(~S.shares.c.record.like("batch:%")))
        return {
            "records": sorted(rows(select(S.records.c.request_id, S.records.c.digest,
                                          S.records.c.block))),
            "shares": sorted(shares),
            "requests": sorted(r for (r,) in rows(select(S.requests.c.request_id))),
            "batches": sorted(rows(select(S.batches.c.batch_id, S.batches.c.root,
                                          S.batches.c.count))),
            "claims": sorted(rows(select(S.claims.c.account, S.claims.c.epoch,
                                         S.claims.c.amount))),
            "roots": sorted(rows(select(S.roots.c.epoch, S.roots.c.root)
                                 .where(S.roots.c.kind == "proposed"))),
            "workers": sorted({r for (r,) in rows(select(S.worker_changes.c.signer).where(
                S.worker_changes.c.kind == "registered"))}),
            "logs": len(rows(select(S.events.c.block))),
        }


def _no_duplicates(engine: Engine) -> None:
    with engine.connect() as conn:
        positions = Counter(tuple(r) for r in conn.execute(
            select(S.events.c.block, S.events.c.log_index)))
        assert not [p for p, n in positions.items() if n > 1]
        cursor = S.read_cursor(conn)
    assert cursor is not None


def _assert_matches_chain(flow: Flow, engine: Engine) -> None:
    want, got = chain_view(flow), db_view(engine)
    for key in want:
        assert got[key] == want[key], key
    _no_duplicates(engine)
    with engine.connect() as conn:
        block, block_hash = S.read_cursor(conn) or (0, "")
    assert block_hash == _hex(flow.attestia.chain.w3.eth.get_block(block)["hash"])


def test_tables_match_the_chain_after_the_demo_flow(explorer_flow: Flow, db_url: str) -> None:
    engine = open_engine(db_url)
    indexer = Indexer(explorer_flow.attestia, engine,
                      IndexerConfig(fetch=explorer_flow.fetch_policy))
    stats = indexer.step()
    assert stats.events == _raw_log_count(explorer_flow) > 30
    _assert_matches_chain(explorer_flow, engine)
    assert indexer.step().events == 0  # idempotent: nothing new, nothing twice
    indexer.prune_blocks()  # old event-less hashes go; the re-check still finds no reorg
    assert indexer.check_reorg() == 0
    counts = indexer.counts()
    assert counts["records"] == 3 + 4 + 1 and counts["models"] == 4
    assert counts["disputes"] == 2  # opened, then answered
    with engine.connect() as conn:
        files = {r.batch_id: r for r in conn.execute(select(S.batch_files))}
        leaves = conn.execute(select(S.leaves.c.batch_id)).all()
        requester = conn.execute(select(S.records.c.requester).where(
            S.records.c.request_id == explorer_flow.market_records[0])).scalar()
    assert files[explorer_flow.good_batch].status == "ok"
    assert files[explorer_flow.tampered_batch].status == "failed"
    assert files[explorer_flow.tampered_batch].check == "dataHash"
    assert {b for (b,) in leaves} == {explorer_flow.good_batch} and len(leaves) == 4
    assert requester == REQUESTER.address


def test_reorg_deeper_than_one_block_is_rolled_back_and_replayed(explorer_flow: Flow,
                                                                db_url: str) -> None:
    flow, market = explorer_flow, explorer_flow.market
    engine = open_engine(db_url)
    indexer = Indexer(flow.attestia, engine, IndexerConfig(recheck=64))
    base = flow.snapshot()
    try:
        indexer.step()
        fork = flow.snapshot()
        lost = [_hex(market.single(shares_of(ROSTER[:2])).request_id) for _ in range(3)]
        indexer.step()
        assert set(lost) <= {r for (r, *_) in db_view(engine)["records"]}
        height = flow.attestia.chain.w3.eth.block_number
        flow.revert(fork)  # the other branch: different records, and longer
        kept = [_hex(market.single(shares_of(ROSTER[1:4])).request_id) for _ in range(2)]
        while flow.attestia.chain.w3.eth.block_number <= height:
            flow.attestia.chain.w3.provider.make_request("evm_mine", [])
        stats = indexer.step()
        assert stats.rolled_back >= 6, stats  # three records: six blocks (request, fulfill)
        records = {r for (r, *_) in db_view(engine)["records"]}
        assert not set(lost) & records and set(kept) <= records
        _assert_matches_chain(flow, engine)
    finally:
        flow.revert(base)
    indexer.step()  # and back to the flow's own history: rolled back again, still exact
    _assert_matches_chain(flow, engine)


@pytest.mark.slow
def test_indexer_killed_mid_window_resumes_without_loss_or_duplicates(explorer_flow: Flow,
                                                                     db_url: str) -> None:
    flow, market = explorer_flow, explorer_flow.market
    engine = open_engine(db_url)  # schema first: the child and the test never race to make it
    base = flow.snapshot()
    try:
        for i in range(60):
            market.single(shares_of(ROSTER[i % 3: i % 3 + 2]))
        head = flow.attestia.chain.w3.eth.block_number
        child = subprocess.Popen(
            [sys.executable, "-m", "offchain.cli.main", "index", "run", "--db", db_url,
             "--window", "40"], cwd=REPO_ROOT, env=cli_env(flow),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            killed_at = None
            while time.monotonic() < deadline and child.poll() is None:
                with engine.connect() as conn:
                    cursor = S.read_cursor(conn)
                if cursor is not None and cursor[0] > flow.attestia.first_block + 5:
                    child.send_signal(signal.SIGKILL)
                    child.wait(10)
                    with engine.connect() as conn:
                        killed_at = (S.read_cursor(conn) or (0, ""))[0]
                    break
                time.sleep(0.005)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(10)
        assert killed_at is not None and killed_at < head - 20, (killed_at, head)
        done = cli(flow, "index", "run", "--once", "--db", db_url)
        assert done.returncode == 0, done.stderr
        assert f"indexed to block {head}" in done.stdout
        _assert_matches_chain(flow, engine)
    finally:
        flow.revert(base)


def test_a_lost_endpoint_is_one_line_and_the_indexer_goes_on(explorer_flow: Flow,
                                                            tmp_path, caplog) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    indexer = Indexer(explorer_flow.attestia, engine, IndexerConfig(attempts=1,
                                                                    max_backoff=0.05))
    real = indexer.w3
    indexer.w3 = make_web3("http://127.0.0.1:9", attempts=1)  # nothing listens there
    cycles: list[int] = []
    stop = threading.Event()

    def on_cycle(stats: Any) -> None:
        cycles.append(stats.events)
        stop.set()

    worker = threading.Thread(target=indexer.run, args=(stop,), kwargs={"on_cycle": on_cycle})
    with caplog.at_level(logging.WARNING, logger="attestia.indexer"):
        worker.start()
        time.sleep(0.5)
        indexer.w3 = real  # the endpoint is back
        worker.join(20)
    assert not worker.is_alive() and cycles and cycles[0] > 0
    lost = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert lost and all("\n" not in r.getMessage() for r in lost)


def test_a_database_of_another_registry_is_refused(explorer_flow: Flow, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    engine = open_engine(url)
    with engine.begin() as conn:
        S.set_meta(conn, "registry", "0x" + "11" * 20)
    done = cli(explorer_flow, "index", "run", "--once", "--db", url)
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and "use another --db" in done.stderr
    bad = cli(explorer_flow, "index", "run", "--once", "--db", "mysql://x")
    assert bad.returncode != 0 and bad.stderr.startswith("error: --db must be")
