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
                        help="print a cProfile of the timed batches to stderr")
    parser.add_argument("--profile-sort", default="tottime", help="pstats sort key")
    parser.add_argument("--skip", nargs="*", default=[], choices=["single", "batch", "big"],
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
    started = time.perf_counter()
    send_requests(attestia, built, client, tmp / "client")
    sent_s = time.perf_counter() - started
    stats = node.run(until_idle=True)
    seconds = time.perf_counter() - started
    if stats.recorded != args.single:
        raise RuntimeError(f"single: recorded {stats.recorded} of {args.single}")
    result["single_inferences_per_s"] = round(args.single / seconds, 1)
    result["single_gas_per_record"] = stats.gas // max(stats.recorded, 1)
    result["single_client_send_s"] = round(sent_s, 2)
    say(f"  {args.single} in {seconds:.2f} s (client sends {sent_s:.2f} s)")
    node.journal.close()


def measured_batches(args, attestia, package_dir: Path, package, raws, data_dir: Path,
                     batches: int, tag: int, profile: bool = False) -> tuple[float, int, int]:
    """A batch worker warmed up on 16 requests, then ``batches`` timed full batches."""
    node = build_worker(attestia, operator=dev_account(OPERATOR), packages=[package_dir],
                        data_dir=data_dir).node
    worker = BatchWorker(node, data_dir, BatchOptions(batch_size=16, max_latency=3600))
    worker.recover()
    time_batches(worker, registered_id(package), raws, 16, 1, tag=tag)  # warm-up (not timed)
    worker.options = BatchOptions(batch_size=args.batch_size, max_latency=3600)
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    measured = time_batches(worker, registered_id(package), raws, args.batch_size, batches,
                            tag=tag + 1)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats(args.profile_sort).print_stats(30)
    node.journal.close()
    return measured


def demo_batches(args, attestia, demo, demo_dir, raws, tmp, result) -> None:
    say(f"batch: {args.batches} x {args.batch_size}, demo roster "
        f"({demo.manifest.train_rows} points)")
    seconds, gas, leaves = measured_batches(args, attestia, demo_dir, demo, raws,
                                            tmp / "worker-batch", args.batches, tag=10,
                                            profile=args.profile)
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
    seconds, _, leaves = measured_batches(args, attestia, big_dir, big, raws,
                                          tmp / "worker-big", args.big_batches, tag=20,
                                          profile=args.profile)
    result["batch_inferences_per_s_100k"] = round(leaves / seconds, 1)
    result["roster_100k_rows"] = args.big_rows
    result["roster_100k_contributors"] = args.big_contributors

if __name__ == "__main__":
    main()
