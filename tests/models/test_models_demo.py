"""The demo model package: determinism, graph ops, fidelity to scikit-learn, accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from eth_account import Account
from eth_utils import is_checksum_address
from sklearn.datasets import load_breast_cancer

from offchain.models import demo, runtime
from offchain.models.export import ALLOWED_OPS, IR_VERSION, OPSET
from offchain.models.package import (
    ModelPackage,
    graph_op_types,
    load_package,
    onnx_sha256,
)

ACCURACY_FLOOR = 0.93


def test_build_is_deterministic(demo_dir: Path, tmp_path: Path) -> None:
    second = demo.build_demo_package(tmp_path / "second")
    assert onnx_sha256(second / "model.onnx") == onnx_sha256(demo_dir / "model.onnx")
    for name in ("model.onnx", "network.json", "manifest.json", "train.npz"):
        assert (second / name).read_bytes() == (demo_dir / name).read_bytes(), name


def test_graph_uses_only_standard_ops(demo_package: ModelPackage) -> None:
    ops = graph_op_types(demo_package.onnx_path)
    assert set(ops) <= ALLOWED_OPS
    assert ops == ["Gemm", "Relu", "Gemm"]
    model = onnx.load(demo_package.onnx_path)
    assert model.ir_version == IR_VERSION
    assert [(o.domain, o.version) for o in model.opset_import] == [("", OPSET)]


def test_onnx_matches_sklearn() -> None:
    model = demo.train_demo_model()
    X, y = model.data.X_holdout, model.data.y_holdout
    session = runtime.session_from_bytes(model.onnx_bytes)
    onnx_logits = np.concatenate([
        session.run(model.preprocessing.standardise(row[None]).astype(np.float32)) for row in X
    ])
    reference = demo.sklearn_logits(model, X)
    np.testing.assert_allclose(onnx_logits, reference, rtol=1e-4, atol=1e-4)
    clf, standardised = model.classifier, model.preprocessing.standardise(X)
    assert np.array_equal(onnx_logits.argmax(axis=1), clf.predict(standardised))
    softmax = np.exp(onnx_logits) / np.exp(onnx_logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax, clf.predict_proba(standardised), atol=1e-5)
    assert len(y) == 114


def test_holdout_accuracy_above_floor(demo_package: ModelPackage) -> None:
    assert demo.holdout_accuracy(demo_package) >= ACCURACY_FLOOR


def test_contributors_are_anvil_accounts_5_to_9(demo_package: ModelPackage) -> None:
    Account.enable_unaudited_hdwallet_features()
    mnemonic = "test test test test test test test test test test test junk"
    expected = [Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}").address
                for i in range(5, 10)]
    contributors = demo_package.manifest.contributors
    assert [c.address for c in contributors] == expected
    assert all(is_checksum_address(c.address) for c in contributors)
    assert [c.name for c in contributors] == [
        "alice-hospital", "bob-clinic", "carol-lab", "dave-research", "erin-registry"]


def test_contributors_have_the_promised_flaws(demo_package: ModelPackage) -> None:
    t = demo_package.training
    counts = np.bincount(t.owner, minlength=5)
    alice, bob, carol, dave, erin = counts
    assert alice == counts.max() and dave == counts.min() and bob == erin
    ds = load_breast_cancer()
    truth = {row.tobytes(): int(label)
             for row, label in zip(ds.data.astype(np.float32), ds.target, strict=True)}
    wrong = np.array([truth[row.tobytes()] != label for row, label in zip(t.X_raw, t.y,
                                                                          strict=True)])
    bob_wrong = wrong[t.owner == 1].mean()
    assert bob_wrong == pytest.approx(0.30, abs=0.01)
    assert not wrong[t.owner != 1].any()
    hashes = [r.item_hash for r in demo_package.manifest.roster]
    owners = t.owner
    duplicated = {o: len(hashes_o) - len(set(hashes_o)) for o in range(5)
                  for hashes_o in [[h for h, w in zip(hashes, owners, strict=True) if w == o]]}
    assert duplicated[2] == carol - len(set(
        h for h, w in zip(hashes, owners, strict=True) if w == 2)) > 0
    assert all(duplicated[o] == 0 for o in (0, 1, 3, 4))
    # No held-out row leaked into anyone's training data.
    train_rows = {row.tobytes() for row in t.X_raw}
    assert not any(row.tobytes() in train_rows for row in demo.holdout()[0])


def test_example_inputs_parse_back_to_holdout_rows(demo_package: ModelPackage) -> None:
    examples = demo.example_inputs(3)
    X, _ = demo.holdout()
    assert len(examples) == 3
    for example, row in zip(examples, X, strict=False):
        parsed = demo_package.parse_input(json.dumps(example))
        assert parsed.tobytes() == row[None].tobytes()
    for count in (0, len(X) + 1):
        with pytest.raises(ValueError, match="count must be"):
            demo.example_inputs(count)


def test_cli_entry_point(demo_dir: Path, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main([]) == 2
    assert demo.main([str(tmp_path / "pkg")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["content_hash"] == "0x" + load_package(demo_dir).content_hash.hex()
    assert report["ops"] == ["Gemm", "Relu", "Gemm"]
    assert report["holdout_accuracy"] >= ACCURACY_FLOOR
