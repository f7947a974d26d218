"""Benchmark the worker pipeline end to end; prints one JSON object on stdout.

    .venv/bin/python bench/pipeline.py [--single 200] [--batch-size 1000] [--batches 3]
                                       [--big-rows 100000] [--big-contributors 50]

Starts its own Anvil (temporary data dir, free port), deploys, registers the demo model and
a worker, then measures:

* ``single_inferences_per_s``: a client sends ``--single`` paid, encrypted
  ``requestInference`` transactions; an in-process ``WorkerNode`` picks them up, decrypts,
  runs, attributes, signs and fulfills each; timed from the first send until every request
  is recorded.
* ``batch_inferences_per_s``: ``--batches`` batches of ``--batch-size`` off-chain requests
  with the demo roster, each timed from inbox submission to the commit receipt (ingest,
  model, exact KNN-Shapley attribution, records, Merkle tree, batch file, commit).
* ``batch_inferences_per_s_100k``: the same for one batch against a synthetic model whose
  attribution roster has ``--big-rows`` training points over ``--big-contributors``
  contributors (exact attribution sorts the whole roster per query; 2 threads).
* ``gateway``: ``--gateway`` off-chain requests, sealed and signed beforehand (the clients'
  work), POSTed to an ``attestia gateway`` process by 4 client threads, with one ``attestia
  worker run --queue`` process and with two on the shared queue (a private PostgreSQL the
  bench starts when PostgreSQL 15 is installed, else SQLite; ``--gateway-queue URL`` names
  another). Half of them end to end: timed from the first POST until every one is in a
  committed leaf (``records_per_s``); the other half queued while the workers are stopped
  (SIGSTOP), then timed from SIGCONT to the last committed leaf: the fleet alone
  (``fleet_drain_records_per_s``). Ratios two/one, and the CPU milliseconds per record of the
  workers and of the gateway (read from /proc over the timed windows).

``--profile`` adds ``profile``: for the single path and each batch run, the microseconds per
record of every stage (client send, poll, state read, decrypt, inference, attribution,
signing, dry run, broadcast, receipts, journal; ingest, decode, Merkle tree, batch file,
commit), exclusive of nested stages, with ``other`` the rest (``bench/stages.py``); the
wrappers cost a little, so take the throughput figures from a run without it.
``--cprofile`` prints a cProfile of the timed batches to stderr.

Progress goes to stderr so stdout stays machine-readable. The machine's load average is
reported with the figures: other processes on a 2-core machine move them a lot.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import pstats
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from eth_utils import keccak, to_checksum_address

from offchain.chain.accounts import dev_account
from offchain.chain.anvil import EmbeddedChain
from offchain.chain.connection import connect
from offchain.chain.deploy import deploy
from offchain.config import REPO_ROOT, load_settings
from offchain.models import load_package
from offchain.models.demo import build_demo_package, holdout
from offchain.models.encoding import encode_tensor
from offchain.models.export import dense_relu_onnx
from offchain.models.manifest import Contributor, InputSchema, OutputSchema, Preprocessing
from offchain.models.onchain import register_model
from offchain.models.package import save_package
from offchain.protocol import model_id
from offchain.registry import Attestia
from offchain.request.client import build_requests, send_requests
from offchain.request.inbox import offchain_request, submit_offchain
from offchain.worker.batching import BatchOptions, BatchWorker
from offchain.worker.node import WorkerOptions
from offchain.worker.service import build_worker

FEE = 10**15
ADMIN, OPERATOR, CLIENT = 0, 1, 2


def say(message: str) -> None:
    print(f"[pipeline] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    for port in np.random.default_rng().permutation(np.arange(20_000, 30_000)).tolist():
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", int(port)))
            except OSError:
                continue
            return int(port)
    raise RuntimeError("no free port in 20000-29999")


def synthetic_package(out_dir: Path, rows: int, contributors: int, features: int = 30,
                      seed: int = 7) -> Path:
    """A dense ReLU classifier over Gaussian data, ``rows`` training points, round-robin
    contributors with deterministic addresses."""
    rng = np.random.default_rng(seed)
    X_raw = rng.standard_normal((rows, features)).astype(np.float32)
    w_true = rng.standard_normal(features)
    y = (X_raw.astype(np.float64) @ w_true > 0).astype(np.int64)
    owner = np.arange(rows, dtype=np.int64) % contributors
    raw64 = X_raw.astype(np.float64)
    pre = Preprocessing(tuple(float(v) for v in raw64.mean(axis=0)),
                        tuple(float(v) for v in raw64.std(axis=0)))
    hidden = 16
    weights = [rng.standard_normal((features, hidden)) / np.sqrt(features),
               np.hstack([np.zeros((hidden, 1)), rng.standard_normal((hidden, 1))])]
    biases = [np.zeros(hidden), np.zeros(2)]
    names = tuple(f"f{i}" for i in range(features))
    people = [Contributor(f"synthetic-{i}", to_checksum_address(keccak(text=f"c{i}")[-20:]))
              for i in range(contributors)]
    return save_package(
        out_dir, dense_relu_onnx(weights, biases, graph_name="synthetic"),
        name=f"synthetic-{rows}", version="1.0.0",
        input_schema=InputSchema("input", (1, features), names),
        output_schema=OutputSchema("logits", (1, 2), ("logit_a", "logit_b"), ("a", "b")),
        preprocessing=pre, contributors=people, X_raw=X_raw, y=y, owner=owner,
    )


def inbox_requests(model_id: bytes, raws: list[np.ndarray], tag: int) -> list[dict]:
    requester = to_checksum_address(keccak(text=f"requester-{tag}")[-20:])
    return [offchain_request(model_id, encode_tensor(raw), fee=FEE, requester=requester)
            for raw in raws]


def time_batches(worker: BatchWorker, model_id: bytes, raws: list[np.ndarray],
                 batch_size: int, batches: int, tag: int) -> tuple[float, int, int]:
    """Seconds from inbox submission to commit receipt, summed over ``batches`` batches."""
    total, gas, leaves = 0.0, 0, 0
    for index in range(batches):
        requests = inbox_requests(model_id, raws[:batch_size], tag * 1000 + index)
        gas_before, recorded_before = worker.stats.gas, worker.stats.recorded
        started = time.perf_counter()
        submit_offchain(worker.inbox_dir, requests)
        worker.ingest()
        if not worker.step():
            raise RuntimeError("a full batch was not committed")
        elapsed = time.perf_counter() - started
        recorded = worker.stats.recorded - recorded_before
        if recorded != batch_size:
            raise RuntimeError(f"batch recorded {recorded} of {batch_size}")
        total += elapsed
        gas += worker.stats.gas - gas_before
        leaves += recorded
        say(f"  batch {index + 1}/{batches}: {batch_size} in {elapsed:.3f} s "
            f"({batch_size / elapsed:,.0f}/s), gas {worker.stats.gas - gas_before:,}")
    return total, gas, leaves


def _stage_timer(path: str):
    """A StageTimer over the functions of the single or the batch path (bench/stages.py)."""
    import offchain.worker.batching as batching_mod
    import offchain.worker.node as node_mod
    from offchain.attribution.integer import IntegerContributors, IntegerKnnShapley
    from offchain.chain.tx import Sender
    from offchain.models.network import IntegerNetwork
    from offchain.protocol import Inference
    from offchain.record import compute
    from offchain.registry.inference import Registry
    from offchain.worker import journal as J
    from offchain.worker.batching import BatchWorker
    from offchain.worker.node import WorkerNode

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from stages import StageTimer

    timer = StageTimer()
    common = [
        (IntegerNetwork, "logits", "inference (integer network)"),
        (IntegerKnnShapley, "iter_values", "attribution (KNN-Shapley values)"),
        (IntegerKnnShapley, "values", "attribution (KNN-Shapley values)"),
        (IntegerKnnShapley, "iter_totals", "attribution (KNN-Shapley totals per contributor)"),
        (IntegerContributors, "shares", "attribution (shares per contributor)"),
        (IntegerContributors, "shares_of_totals", "attribution (shares per contributor)"),
        (compute, "encode_tensor", "tensor encoding"),
        (compute.Evaluation, "attribution_hash", "attribution hash (ABI + keccak)"),
        (compute.InferenceEngine, "record", "record (commitments, keccak)"),
        (Inference, "to_json", "record JSON form"),
        (Sender, "sign", "sign transaction"),
        (Sender, "broadcast", "broadcast (eth_sendRawTransaction)"),
        (Sender, "wait", "receipt wait (RPC polling)"),
        (Sender, "receipt", "receipt wait (RPC polling)"),
        (Sender, "simulate", "dry run (eth_call)"),
        (Sender, "simulate_many", "dry run (eth_call)"),
        (Sender, "call_many", "state reads (eth_call)"),
        (Sender, "broadcast_many", "broadcast (eth_sendRawTransaction)"),
        (Sender, "wait_many", "receipt wait (RPC polling)"),
        (J.Journal, "update", "journal (SQLite)"),
        (J.Journal, "entries", "journal (SQLite)"),
        (J.Journal, "add_requests", "journal (SQLite)"),
    ]
    if path == "single":
        common += [
            (sys.modules[__name__], "send_requests", "client: send requests (dry run, sign, send, "
                                          "receipts, save)"),
            (WorkerNode, "poll", "worker: poll (eth_getLogs, decode, journal)"),
            (WorkerNode, "_still_open", "worker: request still open (check)"),
            (node_mod, "open_request", "worker: decrypt request"),
            (node_mod, "seal_result", "worker: seal result"),
            (node_mod, "commit", "worker: input commitment check"),
            (Registry, "fulfill", "worker: fulfill calldata (ABI)"),
        ]
    else:
        common += [
            (sys.modules[__name__], "submit_offchain", "client: inbox file write"),
            (BatchWorker, "ingest", "ingest (read inbox, parse)"),
            (batching_mod, "decode_request", "decode + check input"),
            (batching_mod, "leaf_tree", "Merkle tree (leaf ABI, keccak)"),
            (batching_mod, "results_document", "results document (outbox)"),
            (batching_mod, "write_json", "results document (outbox)"),
            (batching_mod, "batch_file", "batch file (build)"),
            (batching_mod, "write_batch_file", "batch file (JSON, keccak, write, fsync)"),
            (J.Journal, "ingest_file", "journal (SQLite)"),
            (J.Journal, "pending_for", "journal (SQLite)"),
            (J.Journal, "oldest_pending", "journal (SQLite)"),
            (J.Journal, "assign_batch", "journal (SQLite)"),
            (J.Journal, "update_batch", "journal (SQLite)"),
            (J.Journal, "finish_batch", "journal (SQLite)"),
            (J.Journal, "settled_files", "journal (SQLite)"),
            (J.Journal, "mark_file", "journal (SQLite)"),
            (Registry, "current_epoch", "chain reads (epoch, split, roster)"),
            (BatchWorker, "_terms", "chain reads (epoch, split, roster)"),
            (BatchWorker, "_roster", "chain reads (epoch, split, roster)"),
        ]
    timer.wrap_all(common)
    timer.wrap_context(J.Journal, "transaction", "journal (SQLite)")
    return timer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--big-rows", type=int, default=100_000)
    parser.add_argument("--big-contributors", type=int, default=50)
    parser.add_argument("--big-batches", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--profile", action="store_true",
                        help="time each stage of the single and batch paths (microseconds "
                             "per record, exclusive of nested stages): 'profile' in the JSON")
    parser.add_argument("--cprofile", action="store_true",
                        help="print a cProfile of the timed batches to stderr")
    parser.add_argument("--profile-sort", default="tottime", help="pstats sort key")
    parser.add_argument("--gateway", type=int, default=2000,
                        help="requests per gateway run (one worker, then two)")
    parser.add_argument("--gateway-batch-size", type=int, default=250)
    parser.add_argument("--gateway-queue", default=None,
                        help="queue database URL (default: a private PostgreSQL, or SQLite)")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["single", "batch", "big", "gateway"],
                        help="leave out some measurements")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    tmp = Path(tempfile.mkdtemp(prefix="attestia-bench-"))
    home = tmp / "home"
    home.mkdir()
    if (REPO_ROOT / "build").is_dir():  # reuse current compiled artifacts (saves a solc run)
        (home / "build").symlink_to(REPO_ROOT / "build", target_is_directory=True)
    anvil = EmbeddedChain(home / ".attestia", free_port())
    load_before = os.getloadavg()
    result: dict = {"cpu_count": os.cpu_count()}
    try:
        anvil.up()
        settings = load_settings(home=home, rpc_url=anvil.url)
        chain = connect(settings)
        deployment, _ = deploy(chain, fresh=True)
        attestia = Attestia(chain, deployment)
        say(f"anvil on {anvil.url}, contracts deployed")
        demo_dir = build_demo_package(tmp / "models" / "demo")
        demo = load_package(demo_dir)
        register_model(attestia, demo, fee=FEE, kinds=["signed", "tee"],
                       account=dev_account(ADMIN))
        X, _ = holdout()
        raws = [X[i % len(X)][None, :].astype(np.float32)
                for i in range(max(args.single, args.batch_size))]

        if "single" not in args.skip:
            single(args, attestia, demo, demo_dir, raws, tmp, result)
        if "batch" not in args.skip:
            demo_batches(args, attestia, demo, demo_dir, raws, tmp, result)
        if "big" not in args.skip:
            big_batches(args, attestia, tmp, result)
        if "gateway" not in args.skip:
            gateway_runs(args, settings, attestia, demo, demo_dir, raws, tmp, result)
    finally:
        anvil.down()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    result["load_avg_before"] = [round(v, 2) for v in load_before]
    result["load_avg_after"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(result))


def registered_id(package) -> bytes:
    """The on-chain id of a package the admin registered (ids are namespaced by owner)."""
    return model_id(dev_account(ADMIN).address, package.content_hash)


def single(args, attestia, demo, demo_dir, raws, tmp, result) -> None:
    """On-chain requests: client sends, an in-process WorkerNode fulfills each one."""
    node = build_worker(attestia, operator=dev_account(OPERATOR), packages=[demo_dir],
                        data_dir=tmp / "worker-single",
                        options=WorkerOptions(poll_interval=0.005, pipeline=64)).node
    client = dev_account(CLIENT)
    built = build_requests(attestia, registered_id(demo), raws[:args.single],
                           requester=client.address, worker=node.signer.address)
    say(f"single: {args.single} on-chain requests")
    timer = _stage_timer("single") if args.profile else None
    started = time.perf_counter()
    send_requests(attestia, built, client, tmp / "client")
    sent_s = time.perf_counter() - started
    stats = node.run(until_idle=True)
    seconds = time.perf_counter() - started
    if timer is not None:
        timer.restore()
        result.setdefault("profile", {})["single"] = {
            "records": args.single, "total_s": round(seconds, 3),
            "stages": timer.table(seconds, args.single)}
    if stats.recorded != args.single:
        raise RuntimeError(f"single: recorded {stats.recorded} of {args.single}")
    result["single_inferences_per_s"] = round(args.single / seconds, 1)
    result["single_gas_per_record"] = stats.gas // max(stats.recorded, 1)
    result["single_client_send_s"] = round(sent_s, 2)
    say(f"  {args.single} in {seconds:.2f} s (client sends {sent_s:.2f} s)")
    node.journal.close()


def measured_batches(args, attestia, package_dir: Path, package, raws, data_dir: Path,
                     batches: int, tag: int, profile: bool = False,
                     stages: dict | None = None) -> tuple[float, int, int]:
    """A batch worker warmed up on 16 requests, then ``batches`` timed full batches."""
    node = build_worker(attestia, operator=dev_account(OPERATOR), packages=[package_dir],
                        data_dir=data_dir).node
    worker = BatchWorker(node, data_dir, BatchOptions(batch_size=16, max_latency=3600))
    worker.recover()
    time_batches(worker, registered_id(package), raws, 16, 1, tag=tag)  # warm-up (not timed)
    worker.options = BatchOptions(batch_size=args.batch_size, max_latency=3600)
    profiler = cProfile.Profile() if profile else None
    timer = _stage_timer("batch") if stages is not None else None
    if profiler:
        profiler.enable()
    measured = time_batches(worker, registered_id(package), raws, args.batch_size, batches,
                            tag=tag + 1)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats(args.profile_sort).print_stats(30)
    if timer is not None and stages is not None:
        timer.restore()
        stages.update(records=measured[2], total_s=round(measured[0], 3),
                      stages=timer.table(measured[0], measured[2]))
    node.journal.close()
    return measured


def demo_batches(args, attestia, demo, demo_dir, raws, tmp, result) -> None:
    say(f"batch: {args.batches} x {args.batch_size}, demo roster "
        f"({demo.manifest.train_rows} points)")
    stages: dict | None = {} if args.profile else None
    seconds, gas, leaves = measured_batches(args, attestia, demo_dir, demo, raws,
                                            tmp / "worker-batch", args.batches, tag=10,
                                            profile=args.cprofile, stages=stages)
    if stages is not None:
        result.setdefault("profile", {})["batch"] = stages
    result["batch_inferences_per_s"] = round(leaves / seconds, 1)
    result["batch_size"] = args.batch_size
    result["batch_gas_per_commit"] = gas // args.batches


def big_batches(args, attestia, tmp, result) -> None:
    say(f"building a synthetic package: {args.big_rows:,} rows, "
        f"{args.big_contributors} contributors")
    started = time.perf_counter()
    big_dir = synthetic_package(tmp / "models" / "big", args.big_rows, args.big_contributors)
    big = load_package(big_dir)
    register_model(attestia, big, fee=FEE, kinds=["signed", "tee"], account=dev_account(ADMIN))
    say(f"  ready in {time.perf_counter() - started:.1f} s")
    rng = np.random.default_rng(11)
    width = len(big.feature_names)
    raws = [rng.standard_normal((1, width)).astype(np.float32) for _ in range(args.batch_size)]
    say(f"batch: {args.big_batches} x {args.batch_size}, {args.big_rows:,}-point roster")
    stages: dict | None = {} if args.profile else None
    seconds, _, leaves = measured_batches(args, attestia, big_dir, big, raws,
                                          tmp / "worker-big", args.big_batches, tag=20,
                                          profile=args.cprofile, stages=stages)
    if stages is not None:
        result.setdefault("profile", {})["batch_100k"] = stages
    result["batch_inferences_per_s_100k"] = round(leaves / seconds, 1)
    result["roster_100k_rows"] = args.big_rows
    result["roster_100k_contributors"] = args.big_contributors


# -- the gateway run ---------------------------------------------------------------------------

def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _private_postgres(tmp: Path):
    """A PostgreSQL 15 server of the bench's own (as the tests start one), or None."""
    import shutil as sh
    import subprocess

    pg_bin = Path("/usr/lib/postgresql/15/bin")
    if not (pg_bin / "initdb").exists():
        return None
    base = tmp / "pg"
    base.mkdir(mode=0o755)
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        if sh.which("runuser") is None:
            return None
        sh.chown(base, "postgres", "postgres")
        tmp.chmod(0o755)
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data = base / "data"
    subprocess.run([*as_postgres, str(pg_bin / "initdb"), "-D", str(data), "-A", "trust",
                    "-U", "postgres"], check=True, capture_output=True)
    subprocess.run([*as_postgres, str(pg_bin / "pg_ctl"), "-D", str(data), "-l",
                    str(base / "server.log"), "-w", "start", "-o",
                    f"-p {port} -k {base} -c listen_addresses=127.0.0.1"],
                   check=True, capture_output=True)
    stop = [*as_postgres, str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]
    return f"postgresql://postgres@127.0.0.1:{port}", stop


def _new_database(server: str, name: str) -> str:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


def gateway_runs(args, settings, attestia, demo, demo_dir, raws, tmp, result) -> None:
    """HTTP submission to committed leaf, through `attestia gateway` and `worker run --queue`
    processes, with one worker and with two."""
    import subprocess

    server = _private_postgres(tmp) if args.gateway_queue is None else None
    runs = {}
    try:
        for workers in (1, 2):
            if args.gateway_queue is not None:
                url = args.gateway_queue
            elif server is not None:
                url = _new_database(server[0], f"bench_{workers}")
            else:
                url = f"sqlite:///{tmp / f'queue-{workers}.sqlite'}"
            runs[workers] = gateway_run(args, settings, attestia, demo, demo_dir, raws, tmp,
                                        url, workers)
    finally:
        if server is not None:
            subprocess.run(server[1], capture_output=True)
    one, two = runs[1], runs[2]
    result["gateway"] = {
        "queue": "postgresql" if server or str(args.gateway_queue).startswith("postgres")
        else "sqlite",
        "requests": args.gateway, "batch_size": args.gateway_batch_size,
        "one_worker": one, "two_workers": two,
        "ratio_two_to_one": round(two["records_per_s"] / one["records_per_s"], 2),
        "drain_ratio_two_to_one": round(two["fleet_drain_records_per_s"]
                                        / one["fleet_drain_records_per_s"], 2)}


def gateway_run(args, settings, attestia, demo, demo_dir, raws, tmp, url: str,
                workers: int) -> dict:
    import subprocess
    import threading

    from offchain.models.encoding import commit, new_salt
    from offchain.queue import store as S
    from offchain.queue.store import Queue
    from offchain.request.gateway import GatewayClient, GatewayError, make_submission
    from offchain.sealing import EncryptionKey, RequestPayload, seal_request

    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    env |= {"ATTESTIA_HOME": str(settings.home), "ATTESTIA_RPC_URL": settings.rpc_url}
    logs = tmp / f"gateway-run-{workers}"
    logs.mkdir()

    def start(log: str, *argv: str) -> subprocess.Popen:
        with open(logs / log, "ab") as out:
            return subprocess.Popen([sys.executable, "-m", "offchain.cli.main", *argv],
                                    cwd=REPO_ROOT, env=env, stdout=out,
                                    stderr=subprocess.STDOUT)

    def wait_for(predicate, what: str, proc: subprocess.Popen, log: str) -> None:
        deadline = time.monotonic() + 180
        while not predicate():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} failed:\n{(logs / log).read_text()[-2000:]}")
            time.sleep(0.05)

    procs: list[subprocess.Popen] = []
    try:
        for index in range(workers):
            name = f"w{index}.log"
            proc = start(name, "worker", "run", "--model", str(demo_dir), "--queue", url,
                         "--name", f"bench-{workers}-{index}", "--batch-size",
                         str(args.gateway_batch_size), "--max-latency", "0.5",
                         "--publish-dir", str(tmp / "published"))
            procs.append(proc)
            wait_for(lambda n=name: "ready:" in (logs / n).read_text(errors="replace"),
                     "worker start", proc, name)
        port = free_port()
        gateway = start("gateway.log", "gateway", "--queue", url, "--model",
                        "0x" + registered_id(demo).hex(), "--port", str(port),
                        "--rate-limit", "100000")
        procs.append(gateway)
        base = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            try:
                GatewayClient(base, timeout=1).info()
                return True
            except GatewayError:
                return False

        wait_for(answers, "gateway start", gateway, "gateway.log")
        say(f"gateway: sealing and signing {args.gateway} requests (client side, untimed)")
        worker_key = attestia.registry.worker(dev_account(OPERATOR).address).encryptionKey
        bodies = []
        for index in range(args.gateway):
            client = dev_account(3 + index % 5)
            raw = raws[index % len(raws)]
            input_bytes = encode_tensor(raw)
            salt = new_salt()
            sealed = seal_request(worker_key, RequestPayload(input_bytes, salt,
                                                             EncryptionKey.generate().public))
            bodies.append(make_submission(
                client, chain_id=attestia.chain.chain_id, registry=attestia.registry.address,
                model_id=registered_id(demo), worker=dev_account(OPERATOR).address, fee=FEE,
                input_commitment=commit(salt, input_bytes), sealed=sealed))
        queue = Queue(url)
        pids = [p.pid for p in procs]
        failures: list[str] = []

        def post(chunk: list) -> None:
            client = GatewayClient(base)
            for body in chunk:
                try:
                    client.submit(body)
                except GatewayError as exc:
                    failures.append(str(exc))

        def send(batch: list) -> float:
            threads = [threading.Thread(target=post, args=(batch[i::4],)) for i in range(4)]
            begun = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if failures:
                raise RuntimeError(f"{len(failures)} submissions failed: {failures[0]}")
            return time.perf_counter() - begun

        def committed(count: int, since: float) -> float:
            while queue.counts().get(S.COMMITTED, 0) < count:
                if any(p.poll() is not None for p in procs):
                    raise RuntimeError(f"a process exited: {queue.counts()}")
                if time.perf_counter() - since > 600:
                    raise RuntimeError(f"not committed after 600 s: {queue.counts()}")
                time.sleep(0.02)
            return time.perf_counter() - since

        half = args.gateway // 2
        # 1. end to end: HTTP submission to committed leaf, everything running
        say(f"gateway: {half} requests end to end, {workers} worker process(es)")
        cpu_before = [_cpu_seconds(pid) for pid in pids]
        started = time.perf_counter()
        posted = send(bodies[:half])
        seconds = committed(half, started)
        cpu = [_cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]
        # 2. the fleet alone: the other half queued through the gateway while the workers are
        # stopped (SIGSTOP), then timed from SIGCONT to the last committed leaf
        for proc in procs[:-1]:
            proc.send_signal(signal.SIGSTOP)
        send(bodies[half:])
        drain_cpu_before = [_cpu_seconds(pid) for pid in pids[:-1]]
        drain_started = time.perf_counter()
        for proc in procs[:-1]:
            proc.send_signal(signal.SIGCONT)
        drained = committed(args.gateway, drain_started)
        drain_cpu = sum(_cpu_seconds(pid) - before
                        for pid, before in zip(pids[:-1], drain_cpu_before, strict=True))
        batches = queue.batch_counts().get(S.COMMITTED, 0)
        queue.close()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    rate = half / seconds
    drain = (args.gateway - half) / drained
    say(f"  end to end: {half} in {seconds:.2f} s ({rate:,.0f}/s; POSTs done after "
        f"{posted:.2f} s, {half / posted:,.0f}/s); fleet alone: {args.gateway - half} in "
        f"{drained:.2f} s ({drain:,.0f}/s); {batches} batches")
    return {"records_per_s": round(rate, 1), "seconds": round(seconds, 2),
            "gateway_posts_per_s": round(half / posted, 1),
            "fleet_drain_records_per_s": round(drain, 1), "batches": batches,
            "worker_cpu_ms_per_record": round(sum(cpu[:-1]) / half * 1000, 3),
            "gateway_cpu_ms_per_record": round(cpu[-1] / half * 1000, 3),
            "worker_cpu_ms_per_record_drain": round(drain_cpu / (args.gateway - half) * 1000,
                                                    3)}


if __name__ == "__main__":
    main()
