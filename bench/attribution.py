"""Benchmark attribution: the integer path workers record beside the float64 reference; prints
one JSON object on stdout.

    .venv/bin/python bench/attribution.py [--n 100000] [--d 30] [--k 5] [--queries 1000]
                                          [--contributors 1024]

Data: float32 Gaussian rows (as contributed), standardised for the float path and quantised
(design.md "Integer attribution") for the integer path; the same queries for both.

* ``int_ms_per_query_100k`` (also ``ms_per_query_100k``, the figure README's table tracks:
  the path workers record): one query's integer KNN-Shapley values against a prepared
  ``IntegerKnnShapley`` (exact int64 distances, sorted (distance, index) keys, fixed-point
  recursion);
  ``int_shares_ms_per_query_100k`` adds the exact contributor totals and basis points.
* ``float_ms_per_query_100k``: the same query through the float64 ``KnnShapley``.
* ``argsort_ms_100k``: a plain ``np.argsort`` of that query's integer distances: the floor any
  exact attribution pays (it must rank the whole roster). ``int_over_argsort`` is the ratio.
  The three are timed interleaved, query by query (BLAS on one thread), medians of
  ``--repeats``, so the machine's load moves them together; ``*_cpu_ms`` are the same medians
  in this thread's CPU time (time spent waiting for a core on a loaded machine left out).
* ``*_queries_per_s_batch_100k``: ``--queries`` queries through ``iter_values`` on every core;
  ``int_shares_queries_per_s_batch_100k``: through ``iter_totals`` and ``shares_of_totals``,
  each query's basis points (what a batch worker runs).
* ``trace_build_s_100k``: the honest dispute trace of one query (sums roots over
  ``--contributors`` contributors and the trace root), as a challenged worker builds it.

Progress goes to stderr so stdout stays machine-readable; the load average is reported with
the figures (other processes on a 2-core machine move them a lot).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from types import SimpleNamespace

import numpy as np
from eth_utils import keccak, to_checksum_address
from rich.console import Console
from rich.progress import Progress
from threadpoolctl import threadpool_limits

from offchain.attribution import KnnShapley
from offchain.attribution.integer import (
    IntegerContributors,
    IntegerKnnShapley,
    quantization,
    quantize,
)
from offchain.attribution.trace import build_trace
from offchain.protocol import VALUE_SCALE


def _ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1e3, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--d", type=int, default=30)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--contributors", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    raw = rng.standard_normal((args.n, args.d)).astype(np.float32)
    raw_queries = rng.standard_normal((args.queries, args.d)).astype(np.float32)
    y = rng.integers(0, 2, args.n)
    labels = rng.integers(0, 2, args.queries)
    mean, std = raw.astype(np.float64).mean(axis=0), raw.astype(np.float64).std(axis=0)
    x, queries = (raw - mean) / std, (raw_queries - mean) / std
    roster = sorted({to_checksum_address(keccak(text=f"c{i}")[-20:])
                     for i in range(args.contributors)}, key=lambda a: int(a, 16))
    owners = [roster[i] for i in np.arange(args.n) % len(roster)]
    workers = os.cpu_count() or 1

    with threadpool_limits(limits=1), Progress(console=Console(stderr=True)) as progress:
        started = time.perf_counter()
        index = KnnShapley(x, y, args.k)
        float_prepare_s = time.perf_counter() - started
        started = time.perf_counter()
        mu, rho = quantization(SimpleNamespace(mean=tuple(mean), std=tuple(std)))
        z = quantize(raw, mu, rho)
        zq = quantize(raw_queries, mu, rho)
        int_index = IntegerKnnShapley(z, y, args.k)
        contributors = IntegerContributors(owners, roster=roster)
        int_prepare_s = time.perf_counter() - started

        single = progress.add_task("single queries (1 core): int, float, argsort",
                                   total=args.repeats)
        t_int, t_shares, t_float, t_argsort = [], [], [], []
        cpu_int, cpu_argsort = [], []
        for i in range(min(args.repeats, args.queries)):
            started, cpu = time.perf_counter(), time.thread_time()
            int_index.values(zq[i], labels[i])
            t_int.append(time.perf_counter() - started)
            cpu_int.append(time.thread_time() - cpu)
            started = time.perf_counter()
            contributors.shares(int_index.values(zq[i], labels[i]))
            t_shares.append(time.perf_counter() - started)
            started = time.perf_counter()
            index.values(queries[i], labels[i])
            t_float.append(time.perf_counter() - started)
            distances = int_index.distances(zq[i])
            started, cpu = time.perf_counter(), time.thread_time()
            np.argsort(distances)
            t_argsort.append(time.perf_counter() - started)
            cpu_argsort.append(time.thread_time() - cpu)
            progress.advance(single)
        # Efficiency axiom (values sum to U(all points)) and the integer path's distance from
        # the float one on the first query.
        nearest = np.argsort(((x - queries[0]) ** 2).sum(axis=1), kind="stable")[:args.k]
        utility = float((y[nearest] == labels[0]).sum()) / args.k
        float_values = index.values(queries[0], labels[0])
        efficiency_error = abs(float(float_values.sum()) - utility)
        int_values = int_index.values(zq[0], labels[0])
        int_float_max_abs = float(np.abs(int_values / VALUE_SCALE - float_values).max())

        started = time.perf_counter()
        trace = build_trace(int_index, contributors, zq[0], int(labels[0]))
        _ = trace.root
        trace_s = time.perf_counter() - started

        rates = {}
        for name, chunks in (("int", int_index.iter_values(zq, labels, chunk_size=16,
                                                           workers=workers)),
                             ("float", index.iter_values(queries, labels, chunk_size=16,
                                                         workers=workers))):
            task = progress.add_task(f"{name} batch of {args.queries} ({workers} threads)",
                                     total=args.queries)
            started = time.perf_counter()
            for block in chunks:
                progress.advance(task, block.shape[0])
            rates[name] = round(args.queries / (time.perf_counter() - started), 1)
        task = progress.add_task(f"int shares, batch of {args.queries} ({workers} threads)",
                                 total=args.queries)
        started = time.perf_counter()
        for block in int_index.iter_totals(zq, labels, contributors, chunk_size=16,
                                           workers=workers):
            for row in block:
                contributors.shares_of_totals(row)
            progress.advance(task, block.shape[0])
        rates["int_shares"] = round(args.queries / (time.perf_counter() - started), 1)

    int_ms, argsort_ms = _ms(t_int), _ms(t_argsort)
    print(json.dumps({
        "n": args.n,
        "d": args.d,
        "k": args.k,
        "contributors": len(roster),
        "threads": 1,
        "ms_per_query_100k": int_ms,  # the recorded (integer) path, under the older key
        "int_ms_per_query_100k": int_ms,
        "int_ms_per_query_100k_min": round(min(t_int) * 1e3, 3),
        "int_shares_ms_per_query_100k": _ms(t_shares),
        "float_ms_per_query_100k": _ms(t_float),
        "float_ms_per_query_100k_min": round(min(t_float) * 1e3, 3),
        "argsort_ms_100k": argsort_ms,
        "int_over_argsort": round(int_ms / argsort_ms, 2),
        "int_cpu_ms_per_query_100k": _ms(cpu_int),
        "argsort_cpu_ms_100k": _ms(cpu_argsort),
        "single_query_runs": len(t_int),
        "batch_queries": args.queries,
        "batch_threads": workers,
        "queries_per_s_batch_100k": rates["int"],
        "int_queries_per_s_batch_100k": rates["int"],
        "float_queries_per_s_batch_100k": rates["float"],
        "int_shares_queries_per_s_batch_100k": rates["int_shares"],
        "trace_build_s_100k": round(trace_s, 3),
        "prepare_index_s": {"int": round(int_prepare_s, 3), "float": round(float_prepare_s, 3)},
        "efficiency_abs_error": efficiency_error,
        "int_vs_float_max_abs_value": int_float_max_abs,
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }))


if __name__ == "__main__":
    sys.exit(main())
