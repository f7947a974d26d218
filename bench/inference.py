"""Integer inference beside ONNX Runtime on the demo MLP (30-16-2); prints one JSON object.

    .venv/bin/python bench/inference.py [--rounds 5] [--package DIR]

Microseconds per input, best of ``--rounds`` (each round times every mode once, interleaved,
so a busy neighbour hurts both alike):

* ``integer_batch1_us``: one raw row -> quantised input -> integer logits
  (``ModelPackage.integer_logits``, what ``InferenceEngine.evaluate`` runs);
* ``integer_batch1000_us``: 1,000 rows in one vectorised call (what a batch worker runs),
  per row;
* ``onnx_batch1_us``: one row through ONNX Runtime (standardise, cast, run: the old
  ``evaluate``'s model step);
* ``onnx_batch1000_us``: 1,000 rows through ONNX Runtime, per row (the graph's input is
  ``[1, 30]``, so one run per row, as the batch worker ran it before).

The machine's load average is reported with the figures (2 shared cores here).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from offchain.models import load_package, runtime
from offchain.models.demo import build_demo_package, demo_data


def _per_row_us(fn: Callable[[], object], rows: int, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / (repeat * rows) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--package", type=Path, help="a built demo package (else built here)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.package or build_demo_package(Path(tmp) / "demo")
        package = load_package(path)
        X = demo_data().X_raw
        batch = np.resize(X, (1000, X.shape[1])).astype(np.float32)
        one = batch[:1]
        session = runtime.open_session(package.onnx_path)

        def onnx_rows(rows: np.ndarray) -> None:
            for row in rows:
                session.run(package.model_input(row[None]))

        modes: dict[str, tuple[Callable[[], object], int, int]] = {
            "integer_batch1_us": (lambda: package.integer_logits(one), 1, 2000),
            "integer_batch1000_us": (lambda: package.integer_logits(batch), 1000, 20),
            "onnx_batch1_us": (lambda: onnx_rows(one), 1, 2000),
            "onnx_batch1000_us": (lambda: onnx_rows(batch), 1000, 2),
        }
        for fn, _, _ in modes.values():  # warm up (session, caches)
            fn()
        best = {name: float("inf") for name in modes}
        for _ in range(args.rounds):
            for name, (fn, rows, repeat) in modes.items():
                best[name] = min(best[name], _per_row_us(fn, rows, repeat))
        # the two paths agree on the labels of these rows (a near tie may differ: test suite)
        integer_labels = np.argmax(package.integer_logits(batch), axis=1)
        float_labels = np.array([runtime.predicted_label(session.run(package.model_input(r[None])))
                                 for r in batch])
    print(json.dumps({
        "model": "demo MLP 30-16-2",
        **{k: round(v, 2) for k, v in best.items()},
        "labels_agree": f"{int(np.sum(integer_labels == float_labels))}/{len(batch)}",
        "rounds": args.rounds,
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "python": sys.version.split()[0],
    }, indent=2))


if __name__ == "__main__":
    main()
