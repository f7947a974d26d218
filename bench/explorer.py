"""Benchmark the explorer: indexing throughput and API latency; prints one JSON object.

    .venv/bin/python bench/explorer.py [--records 10000] [--requests 400] [--clients 20]
                                       [--workers 1,2] [--pages record_page,...]
                                       [--no-postgres]

Starts its own Anvil (temporary data dir, free port), deploys, registers a model with a
5-contributor roster and a worker key, then writes ``--records`` single records fast:
rounds of 250 ``requestInference`` transactions mined in one block at a known timestamp, then
their 250 ``fulfill`` transactions (sent by the worker key, signed locally, sent as batched
JSON-RPC) in the next block. Then:

* ``index_events_per_s``: a fresh database indexed from the deployment to the head in one
  ``Indexer.step()`` (every event of the three contracts; wall time over events);
* per page type (``PAGE_TYPES``: the record page and its JSON twin, a contributor's page and
  its twin, the record list, the home page, a search by id prefix, the epochs), p50 and p99
  in ms and the throughput, with ``--clients`` (20) clients asking at once, one after
  another with no pause, ``--requests`` answers in all, through ``attestia explorer
  --no-index --workers N`` (a real server process) for each N of ``--workers`` (1,2): a
  random record each time (so the verify checklist mostly runs uncached) and one of the
  five contributors (each attributed in every record). For the record page also
  ``checklist_pending``: the answers that showed the record while its checklist was still
  being computed in the background (``offchain.explorer.service.PAGE_WAIT``).

Both on SQLite and, when PostgreSQL 15 is installed, on a server this script starts itself.
Progress goes to stderr; the machine's load average is reported with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_utils import keccak

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.private_chain import reuse_build, stop_on_sigterm  # noqa: E402
from offchain.chain.accounts import dev_account  # noqa: E402
from offchain.chain.anvil import EmbeddedChain, free_port  # noqa: E402
from offchain.chain.connection import connect  # noqa: E402
from offchain.chain.deploy import deploy  # noqa: E402
from offchain.config import load_settings  # noqa: E402
from offchain.protocol import (  # noqa: E402
    BPS,
    PROOF_SIGNED,
    ZERO32,
    Inference,
    Request,
    Share,
    Split,
    attribution_hash,
    model_id,
    policy_bit,
    request_id,
    result_hash,
    sorted_roster,
)
from offchain.registry import Attestia  # noqa: E402

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ROUND = 250
FEE = 10**15
SPLIT = Split(2_000, 2_000, 6_000)
OWNER, WORKER, REQUESTER = dev_account(1), dev_account(3), dev_account(4)
GAS_PRICE = 50 * 10**9
SEALED = b"sealed"
ROSTER = sorted_roster(Account.from_key(keccak(f"bench-contributor-{i}".encode())).address
                       for i in range(5))


def say(message: str) -> None:
    print(f"[explorer] {message}", file=sys.stderr, flush=True)


def rpc(url: str, method: str, params: list[Any]) -> Any:
    answer = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                      "params": params}, timeout=60).json()
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def encoder(attestia: Attestia, name: str) -> Callable[[list[Any]], str]:
    """Hex calldata of the registry's ``name`` from ABI-ordered arguments (the typed client's
    eth_abi encoder: web3's encode_abi costs ~10 ms a call)."""
    encode = attestia.registry.calldata_encoder(name)
    return lambda args: "0x" + encode(args).hex()


def send_raw(url: str, raws: list[bytes]) -> None:
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction",
              "params": ["0x" + raw.hex()]} for i, raw in enumerate(raws)]
    for answer in requests.post(url, json=batch, timeout=120).json():
        if "error" in answer:
            raise RuntimeError(f"eth_sendRawTransaction: {answer['error']}")


class Writer:
    """Locally signed transactions with our own nonces, mined a round per block."""

    def __init__(self, attestia: Attestia) -> None:
        self.attestia = attestia
        self.url = attestia.chain.url
        w3 = attestia.chain.w3
        self.nonces = {a.address: w3.eth.get_transaction_count(a.address)
                       for a in (WORKER, REQUESTER)}
        self.chain_id = attestia.chain.chain_id

    def tx(self, account: Any, data: str, value: int, gas: int) -> bytes:
        nonce = self.nonces[account.address]
        self.nonces[account.address] += 1
        signed = Account.sign_transaction(
            {"nonce": nonce, "gasPrice": GAS_PRICE, "gas": gas,
             "to": self.attestia.registry.address, "value": value, "data": data,
             "chainId": self.chain_id}, account.key)
        return bytes(signed.raw_transaction)

    def mine(self, timestamp: int) -> None:
        rpc(self.url, "evm_setNextBlockTimestamp", [timestamp])
        rpc(self.url, "evm_mine", [])


def build_chain(attestia: Attestia, records: int) -> tuple[bytes, list[str]]:
    """The model, the worker and ``records`` single records; returns (model id, ids)."""
    reg = attestia.registry
    content = keccak(b"bench-explorer-model")
    attestia.send(reg.register_model(content, "bench://model", keccak(b"roster"), ROSTER,
                                     policy_bit(PROOF_SIGNED), FEE, SPLIT), account=OWNER)
    mid = model_id(OWNER.address, content)
    attestia.send(reg.register_worker(WORKER.address, b"\x04" + b"\x11" * 64,
                                      reg.min_stake()), account=WORKER)
    writer = Writer(attestia)
    request_data = encoder(attestia, "requestInference")
    model = reg.model(mid)
    assert model is not None
    fulfill_data = encoder(attestia, "fulfill")
    url = writer.url
    rpc(url, "evm_setAutomine", [False])
    now = int(attestia.chain.w3.eth.get_block("latest")["timestamp"])
    ids: list[str] = []
    rng = random.Random(7)
    try:
        for start in range(0, records, ROUND):
            count = min(ROUND, records - start)
            commitments = [keccak(f"input-{start + i}".encode()) for i in range(count)]
            raws = [writer.tx(REQUESTER, request_data(
                [mid, WORKER.address, c, ZERO32, model.terms_hash, b"payload"]), FEE, 200_000)
                for c in commitments]
            send_raw(url, raws)
            now += 2
            writer.mine(now)
            raws = []
            for commitment in commitments:
                request = Request(REQUESTER.address, mid, WORKER.address, FEE, now, commitment,
                                  ZERO32, SPLIT.workerBps, SPLIT.ownerBps,
                                  policy_bit(PROOF_SIGNED))
                a, b = rng.sample(range(5), 2)
                first = rng.randint(1, BPS - 1)
                shares = sorted([Share(ROSTER[a], first), Share(ROSTER[b], BPS - first)],
                                key=lambda s: int(s.account, 16))
                rid = request_id(REQUESTER.address, mid, commitment)
                inference = Inference(rid, mid, commitment, keccak(b"out" + rid),
                                      attribution_hash(shares), PROOF_SIGNED, ZERO32,
                                      WORKER.address, now, result_hash(SEALED))
                raws.append(writer.tx(WORKER, fulfill_data([
                    request.as_tuple(), inference.as_tuple(), [tuple(s) for s in shares],
                    ROSTER, SEALED]), 0, 400_000))
                ids.append("0x" + rid.hex())
            send_raw(url, raws)
            now += 1
            writer.mine(now)
            if (start // ROUND) % 8 == 0:
                say(f"{start + count} records sent")
    finally:
        rpc(url, "evm_setAutomine", [True])
    recorded = len(attestia.registry.recorded())
    if recorded != records:
        raise RuntimeError(f"{recorded} records on chain, {records} sent (a reverted tx?)")
    return mid, ids


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {"p50": round(statistics.median(ordered), 2), "p99": round(p99, 2)}


PAGE_TYPES = ("record_page", "api_record", "contributor_page", "api_contributor",
              "records_page", "home_page", "search", "epochs_page")
"""The page types each measured: a record page runs the verify checklist (uncached for most
records: each request picks a random one), the contributor's attributes ~4,000 records."""


def paths_of(kind: str, ids: list[str], rng: random.Random) -> str:
    if kind == "record_page":
        return f"/record/{rng.choice(ids)}"
    if kind == "api_record":
        return f"/api/records/{rng.choice(ids)}"
    if kind == "contributor_page":
        return f"/contributor/{rng.choice(ROSTER)}"
    if kind == "api_contributor":
        return f"/api/contributors/{rng.choice(ROSTER)}"
    if kind == "records_page":
        return "/records"
    if kind == "home_page":
        return "/"
    if kind == "search":
        return f"/api/search?q={rng.choice(ids)[:12]}"
    return "/epochs"


def load(base: str, kind: str, ids: list[str], clients: int, per_client: int
         ) -> dict[str, Any]:
    """``clients`` threads, each with its own connection, asking one after another (no pause)
    for ``per_client`` pages of ``kind``: latency percentiles over every answer, and the
    throughput of the whole run."""
    samples: list[float] = []
    failures: list[str] = []
    pending = [0]
    lock = threading.Lock()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        session = requests.Session()
        mine: list[float] = []
        for _ in range(per_client):
            path = paths_of(kind, ids, rng)
            begin = time.perf_counter()
            response = session.get(base + path, timeout=60)
            mine.append((time.perf_counter() - begin) * 1000)
            if response.status_code != 200:
                with lock:
                    failures.append(f"{path}: HTTP {response.status_code}")
            elif kind == "record_page" and "being computed" in response.text:
                with lock:
                    pending[0] += 1
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client, args=(hash((kind, i)) & 0xFFFF,))
               for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{kind}: {len(failures)} failed, e.g. {failures[0]}")
    out = percentiles(samples) | {"n": len(samples), "per_s": round(len(samples) / wall, 1)}
    if kind == "record_page":  # pages that showed the record before its checklist was done
        out["checklist_pending"] = pending[0]
    return out


class Served:
    """``attestia explorer --no-index --workers N`` on a free port (a real server process,
    as a user runs it), stopped on exit."""

    def __init__(self, home: Path, rpc_url: str, db: str, workers: int) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
        env |= {"ATTESTIA_HOME": str(home), "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "offchain.cli.main", "--rpc-url", rpc_url, "explorer",
             "--no-index", "--db", db, "--port", str(self.port), "--workers", str(workers),
             "--rate-limit", "1000000"],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the explorer exited: {self.process.stderr.read()[-2000:]}"
                                   if self.process.stderr else "the explorer exited")
            try:
                if requests.get(self.base + "/api/status", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("the explorer did not answer within 120 s")

    def __exit__(self, *_: Any) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def measure(attestia: Attestia, url: str, ids: list[str], requests_n: int, home: Path,
            clients: int, workers: list[int], pages: tuple[str, ...] = PAGE_TYPES
            ) -> dict[str, Any]:
    from offchain.indexer import Indexer, open_engine

    engine = open_engine(url)
    indexer = Indexer(attestia, engine)
    started = time.perf_counter()
    stats = indexer.step()
    seconds = time.perf_counter() - started
    engine.dispose()
    out: dict[str, Any] = {"events": stats.events, "index_seconds": round(seconds, 2),
                           "index_events_per_s": round(stats.events / seconds)}
    say(f"indexed {stats.events} events in {seconds:.1f} s")
    per_client = max(1, requests_n // clients)
    for n in workers:
        served: dict[str, Any] = {"clients": clients}
        with Served(home, attestia.chain.url, url, n) as server:
            load(server.base, "record_page", ids, clients, 2)  # warm-up: imports, pools
            for kind in pages:
                served[kind] = load(server.base, kind, ids, clients, per_client)
                say(f"workers={n} {kind}: {served[kind]}")
        out[f"workers_{n}"] = served
    return out


def start_postgres() -> tuple[str, Path, list[str]] | None:
    if not (PG_BIN / "initdb").exists():
        return None
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="attestia-bench-pg-"))
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    port = free_port()
    subprocess.run([*prefix, str(PG_BIN / "initdb"), "-D", str(base / "data"), "-A", "trust",
                    "-U", "postgres"], check=True, capture_output=True)
    subprocess.run([*prefix, str(PG_BIN / "pg_ctl"), "-D", str(base / "data"), "-l",
                    str(base / "server.log"), "-w", "start", "-o",
                    f"-p {port} -k {base} -c listen_addresses=127.0.0.1"],
                   check=True, capture_output=True)
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres",
                         autocommit=True) as conn:
        conn.execute("CREATE DATABASE bench")
    stop = [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(base / "data"), "-m", "fast", "stop"]
    return f"postgresql://postgres@127.0.0.1:{port}/bench", base, stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=400,
                        help="answers per page type (split among the clients)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", default="1,2",
                        help="server processes (attestia explorer --workers), comma-separated")
    parser.add_argument("--pages", default=",".join(PAGE_TYPES),
                        help=f"page types to measure, comma-separated (default: all of "
                        f"{', '.join(PAGE_TYPES)})")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    pages = tuple(p.strip() for p in args.pages.split(",") if p.strip())
    if not pages or set(pages) - set(PAGE_TYPES):
        parser.error(f"--pages must name page types among {', '.join(PAGE_TYPES)}, got "
                     f"{args.pages!r}")
    try:
        workers = [int(w) for w in args.workers.split(",")]
    except ValueError:
        parser.error(f"--workers must be numbers separated by commas, got {args.workers!r}")
    if args.clients < 1 or args.requests < 1 or any(w < 1 for w in workers):
        parser.error("--clients, --requests and --workers must be at least 1")
    stop_on_sigterm()
    tmp = Path(tempfile.mkdtemp(prefix="attestia-bench-explorer-"))
    reuse_build(tmp)
    node = EmbeddedChain(tmp / ".attestia", free_port())
    result: dict[str, Any] = {"records": args.records}
    pg = None
    try:
        node.up()
        settings = load_settings(home=tmp, rpc_url=node.url)
        chain = connect(settings)
        deployment, _ = deploy(chain, fresh=True)
        attestia = Attestia(chain, deployment)
        started = time.perf_counter()
        _, ids = build_chain(attestia, args.records)
        result["build_chain_s"] = round(time.perf_counter() - started, 1)
        say(f"{args.records} records on chain in {result['build_chain_s']} s")
        result["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
        result["sqlite"] = measure(attestia, f"sqlite:///{tmp / 'explorer.sqlite'}", ids,
                                   args.requests, tmp, args.clients, workers, pages)
        pg = None if args.no_postgres else start_postgres()
        if pg is not None:
            result["postgresql"] = measure(attestia, pg[0], ids, args.requests, tmp,
                                           args.clients, workers, pages)
        else:
            result["postgresql"] = "skipped: " + ("--no-postgres" if args.no_postgres else
                                                  f"PostgreSQL 15 not installed ({PG_BIN})")
        result["load_average"] = [round(x, 2) for x in os.getloadavg()]
        result["cpus"] = os.cpu_count()
    finally:
        node.down()
        if pg is not None:
            subprocess.run(pg[2], capture_output=True)
            shutil.rmtree(pg[1], ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
