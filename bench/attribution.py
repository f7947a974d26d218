"""Benchmark exact KNN-Shapley attribution; prints one JSON object on stdout.

    .venv/bin/python bench/attribution.py [--n 100000] [--d 30] [--k 5] [--queries 1000]

``ms_per_query_100k``: one query against a prepared ``KnnShapley`` index, BLAS limited to one
thread (median of ``--repeats`` queries). ``queries_per_s_batch_100k``: ``--queries`` queries
through ``iter_values`` on every core (one BLAS thread per worker thread). Progress goes to
stderr so stdout stays machine-readable.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
from rich.console import Console
from rich.progress import Progress
from threadpoolctl import threadpool_limits

from offchain.attribution import KnnShapley


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--d", type=int, default=30)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.n, args.d))
    y = rng.integers(0, 2, args.n)
    queries = rng.standard_normal((args.queries, args.d))
    labels = rng.integers(0, 2, args.queries)
    workers = os.cpu_count() or 1

    with threadpool_limits(limits=1), Progress(console=Console(stderr=True)) as progress:
        started = time.perf_counter()
        index = KnnShapley(x, y, args.k)
        prepare_s = time.perf_counter() - started

        single = progress.add_task("single queries (1 core)", total=args.repeats)
        timings = []
        for q, label in zip(queries[:args.repeats], labels[:args.repeats], strict=False):
            started = time.perf_counter()
            values = index.values(q, label)
            timings.append(time.perf_counter() - started)
            progress.advance(single)
        # Efficiency axiom as a sanity check: the values sum to U(all points).
        nearest = np.argsort(((x - queries[0]) ** 2).sum(axis=1), kind="stable")[:args.k]
        utility = float((y[nearest] == labels[0]).sum()) / args.k
        efficiency_error = abs(float(index.values(queries[0], labels[0]).sum()) - utility)
        del values

        batch = progress.add_task(f"batch of {args.queries} ({workers} threads)",
                                  total=args.queries)
        started = time.perf_counter()
        for block in index.iter_values(queries, labels, chunk_size=16, workers=workers):
            progress.advance(batch, block.shape[0])
        batch_s = time.perf_counter() - started

    print(json.dumps({
        "n": args.n,
        "d": args.d,
        "k": args.k,
        "threads": 1,
        "ms_per_query_100k": round(statistics.median(timings) * 1e3, 3),
        "ms_per_query_100k_min": round(min(timings) * 1e3, 3),
        "single_query_runs": len(timings),
        "batch_queries": args.queries,
        "batch_threads": workers,
        "queries_per_s_batch_100k": round(args.queries / batch_s, 1),
        "prepare_index_s": round(prepare_s, 3),
        "efficiency_abs_error": efficiency_error,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    sys.exit(main())
