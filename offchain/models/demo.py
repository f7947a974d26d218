"""The demo model package: a breast-cancer MLP trained on five contributors' data.

Everything is seeded, single-threaded and free of timestamps, so every build writes the
same bytes and the same model id. The contributors differ on purpose, so attribution has
something to find: alice-hospital (large, clean), bob-clinic (30% of labels flipped),
carol-lab (half her rows submitted twice), dave-research (small, clean), erin-registry
(medium, clean). Their addresses are Anvil dev accounts 5..9, so the demo can claim rewards
with the public dev keys. A stratified 20% of the dataset is held out for accuracy and for
the demo client's example inputs.

Run ``python -m offchain.models.demo OUT_DIR`` to build the package and print its model id,
held-out accuracy and op list as JSON.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from offchain.models import encoding, runtime
from offchain.models.byom import TrainingSet, build_package, standardisation
from offchain.models.errors import ModelPackageError
from offchain.models.export import dense_relu_onnx
from offchain.models.manifest import Contributor, Preprocessing
from offchain.models.package import ModelPackage, graph_op_types, load_package

SEED = 20240607
NAME = "breast-cancer-mlp"
VERSION = "1.0.0"
HIDDEN = 16
HOLDOUT_FRACTION = 0.2
LABELS = ("malignant", "benign")


@dataclass(frozen=True)
class DemoContributor:
    """How one contributor's slice of the training data is made."""

    name: str
    address: str
    share: float
    label_noise: float = 0.0
    duplicate_fraction: float = 0.0


CONTRIBUTORS = (
    DemoContributor("alice-hospital", "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc", 0.40),
    DemoContributor("bob-clinic", "0x976EA74026E726554dB657fA54763abd0C3a0aa9", 0.20,
                    label_noise=0.30),
    DemoContributor("carol-lab", "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955", 0.15,
                    duplicate_fraction=0.5),
    DemoContributor("dave-research", "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f", 0.05),
    DemoContributor("erin-registry", "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720", 0.20),
)


@dataclass(frozen=True)
class DemoData:
    """The contributed training rows (raw float32) and the held-out split."""

    X_raw: np.ndarray
    y: np.ndarray
    owner: np.ndarray
    X_holdout: np.ndarray
    y_holdout: np.ndarray
    feature_names: tuple[str, ...]


@dataclass(frozen=True)
class DemoModel:
    """A trained demo classifier and everything needed to package it."""

    data: DemoData
    preprocessing: Preprocessing
    classifier: MLPClassifier
    onnx_bytes: bytes


def demo_data() -> DemoData:
    """Split the dataset into holdout and the five contributors' (imperfect) slices."""
    ds = load_breast_cancer()
    names = tuple(str(n).replace(" ", "_") for n in ds.feature_names)
    X = ds.data.astype(np.float32)
    y = ds.target.astype(np.int64)
    X_train, X_hold, y_train, y_hold = train_test_split(
        X, y, test_size=HOLDOUT_FRACTION, stratify=y, random_state=SEED % 2**32
    )
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(X_train))
    sizes = [int(c.share * len(X_train)) for c in CONTRIBUTORS]
    sizes[0] += len(X_train) - sum(sizes)
    rows, labels, owners, start = [], [], [], 0
    for index, (spec, size) in enumerate(zip(CONTRIBUTORS, sizes, strict=True)):
        take = order[start:start + size]
        start += size
        xs, ys = X_train[take], y_train[take].copy()
        if spec.label_noise:
            flip = rng.choice(size, round(spec.label_noise * size), replace=False)
            ys[flip] = 1 - ys[flip]
        if spec.duplicate_fraction:
            dup = np.sort(rng.choice(size, round(spec.duplicate_fraction * size), replace=False))
            xs, ys = np.concatenate([xs, xs[dup]]), np.concatenate([ys, ys[dup]])
        rows.append(xs)
        labels.append(ys)
        owners.append(np.full(len(xs), index, dtype=np.int64))
    return DemoData(np.concatenate(rows), np.concatenate(labels), np.concatenate(owners),
                    X_hold, y_hold, names)


def train_demo_model() -> DemoModel:
    """Train the 30-16-2 MLP on standardised data and export it to ONNX (Gemm/Relu only)."""
    data = demo_data()
    pre = standardisation(data.X_raw)
    clf = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", solver="lbfgs",
                        alpha=3.0, max_iter=2000, random_state=SEED % 2**32)
    with threadpool_limits(limits=1):  # BLAS thread count can change summation order
        clf.fit(pre.standardise(data.X_raw), data.y)
    # A binary MLPClassifier has one output unit z = log-odds of class 1. Emitting [0, z]
    # gives two logits whose softmax is predict_proba and whose argmax is predict.
    w_out, b_out = clf.coefs_[1], clf.intercepts_[1]
    weights = [clf.coefs_[0], np.hstack([np.zeros_like(w_out), w_out])]
    biases = [clf.intercepts_[0], np.concatenate([np.zeros_like(b_out), b_out])]
    onnx_bytes = dense_relu_onnx(weights, biases, graph_name=NAME.replace("-", "_"))
    return DemoModel(data, pre, clf, onnx_bytes)


def demo_roster() -> list[Contributor]:
    """The demo's contributors as the package's roster (names and addresses)."""
    return [Contributor(c.name, c.address) for c in CONTRIBUTORS]


def sklearn_logits(model: DemoModel, X_raw: np.ndarray) -> np.ndarray:
    """The classifier's own float64 logits ``[0, z]`` for raw rows (the export's reference)."""
    hidden = np.maximum(model.preprocessing.standardise(X_raw) @ model.classifier.coefs_[0]
                        + model.classifier.intercepts_[0], 0.0)
    z = (hidden @ model.classifier.coefs_[1] + model.classifier.intercepts_[1]).reshape(-1)
    return np.stack([np.zeros_like(z), z], axis=1)


def build_demo_package(out_dir: str | Path) -> Path:
    """Train, export, check the export against scikit-learn, and write the package."""
    model = train_demo_model()
    data = model.data
    # The same builder as `attestia model package` (offchain.models.byom): schema from the
    # graph, every check before writing, load-back after.
    path = build_package(
        out_dir,
        model.onnx_bytes,
        name=NAME,
        version=VERSION,
        labels=LABELS,
        contributors=demo_roster(),
        training=TrainingSet(data.feature_names, data.X_raw, data.y, data.owner),
        preprocessing=model.preprocessing,
        overwrite=True,
    )
    package = load_package(path)
    onnx_logits = np.concatenate([_run(package, row[None]) for row in data.X_holdout])
    reference = sklearn_logits(model, data.X_holdout)
    if not np.allclose(onnx_logits, reference, rtol=1e-4, atol=1e-4):
        worst = float(np.max(np.abs(onnx_logits - reference)))
        raise ModelPackageError(f"ONNX export disagrees with scikit-learn (max |diff| {worst})")
    return path


def _run(package: ModelPackage, raw_row: np.ndarray) -> np.ndarray:
    return runtime.run(package.onnx_path, package.model_input(raw_row))


def holdout() -> tuple[np.ndarray, np.ndarray]:
    """The held-out raw float32 rows and their (clean) labels."""
    data = demo_data()
    return data.X_holdout, data.y_holdout


def holdout_accuracy(package: ModelPackage) -> float:
    """Fraction of held-out rows the packaged ONNX model classifies correctly."""
    X, y = holdout()
    predicted = [runtime.predicted_label(_run(package, row[None])) for row in X]
    return float(np.mean(np.asarray(predicted) == y))


def example_inputs(count: int = 5) -> list[dict[str, Any]]:
    """The first ``count`` held-out rows as ``{"features": {name: value}}`` JSON objects."""
    data = demo_data()
    if not 1 <= count <= len(data.X_holdout):
        raise ValueError(f"count must be 1..{len(data.X_holdout)}, got {count}")
    return [encoding.input_to_json(row, data.feature_names) for row in data.X_holdout[:count]]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m offchain.models.demo OUT_DIR", file=sys.stderr)
        return 2
    package = load_package(build_demo_package(argv[0]))
    print(json.dumps({
        "path": str(package.path),
        "content_hash": "0x" + package.content_hash.hex(),
        "holdout_accuracy": holdout_accuracy(package),
        "holdout_rows": len(holdout()[1]),
        "train_rows": package.manifest.train_rows,
        "ops": graph_op_types(package.onnx_path),
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
