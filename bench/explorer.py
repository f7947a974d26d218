"""Benchmark the explorer: indexing throughput and API latency; prints one JSON object.

    .venv/bin/python bench/explorer.py [--records 10000] [--requests 200] [--no-postgres]

Starts its own Anvil (temporary data dir, free port), deploys, registers a model with a
5-contributor roster and a worker key, then writes ``--records`` single records fast:
rounds of 250 ``requestInference`` transactions mined in one block at a known timestamp, then
their 250 ``fulfill`` transactions (sent by the worker key, signed locally, sent as batched
JSON-RPC) in the next block. Then:

* ``index_events_per_s``: a fresh database indexed from the deployment to the head in one
  ``Indexer.step()`` (every event of the three contracts; wall time over events);
* ``record_page_ms`` / ``contributor_page_ms`` (and their ``api_`` JSON twins): p50 and p99
  over ``--requests`` GETs through a real HTTP server (uvicorn in this process), a random
  record each time (so the verify checklist mostly runs uncached) and one of the five
  contributors (each attributed in every record).

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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def measure(attestia: Attestia, url: str, ids: list[str], requests_n: int,
            data_dir: Path) -> dict[str, Any]:
    import uvicorn

    from offchain.explorer.app import RateLimit, create_app
    from offchain.explorer.service import Explorer
    from offchain.indexer import Indexer, open_engine

    engine = open_engine(url)
    indexer = Indexer(attestia, engine)
    started = time.perf_counter()
    stats = indexer.step()
    seconds = time.perf_counter() - started
    out: dict[str, Any] = {"events": stats.events, "index_seconds": round(seconds, 2),
                           "index_events_per_s": round(stats.events / seconds)}
    say(f"indexed {stats.events} events in {seconds:.1f} s")
    port = free_port()
    unlimited = RateLimit(rate=1e9, burst=1e9)  # one client asking as fast as it can
    server = uvicorn.Server(uvicorn.Config(create_app(Explorer(engine, attestia, data_dir),
                                                      rate_limit=unlimited),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    rng = random.Random(11)
    try:
        for name, paths in (
            ("record_page_ms", [f"/record/{rng.choice(ids)}" for _ in range(requests_n)]),
            ("api_record_ms", [f"/api/records/{rng.choice(ids)}" for _ in range(requests_n)]),
            ("contributor_page_ms", [f"/contributor/{rng.choice(ROSTER)}"
                                     for _ in range(requests_n)]),
            ("api_contributor_ms", [f"/api/contributors/{rng.choice(ROSTER)}"
                                    for _ in range(requests_n)]),
        ):
            samples = []
            for path in paths:
                begin = time.perf_counter()
                response = session.get(base + path, timeout=60)
                samples.append((time.perf_counter() - begin) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status_code}")
            out[name] = percentiles(samples)
            say(f"{name}: {out[name]}")
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()
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
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
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
        result["sqlite"] = measure(attestia, f"sqlite:///{tmp / 'explorer.sqlite'}", ids,
                                   args.requests, settings.data_dir)
        pg = None if args.no_postgres else start_postgres()
        if pg is not None:
            result["postgresql"] = measure(attestia, pg[0], ids, args.requests,
                                           settings.data_dir)
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
