"""Model packages: round trip, content hash, roster, roster root and every load error."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from offchain.config import REPO_ROOT
from offchain.models import encoding
from offchain.models.errors import (
    ModelPackageError,
    PackageFileMissing,
    PackageIntegrityError,
    PackageSchemaError,
)
from offchain.models.export import dense_relu_onnx
from offchain.models.manifest import dumps_manifest, loads_manifest
from offchain.models.package import (
    MANIFEST_FILE,
    MODEL_FILE,
    NETWORK_FILE,
    TRAIN_FILE,
    ModelPackage,
    graph_op_types,
    load_package,
    onnx_sha256,
    save_package,
)
from offchain.protocol import ModelSpec, model_spec_hash


def edit_manifest(pkg: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads((pkg / MANIFEST_FILE).read_text())
    change(data)
    (pkg / MANIFEST_FILE).write_text(json.dumps(data))


def replace_file(pkg: Path, name: str, data: bytes) -> None:
    """Swap a file and record its new sha-256 so only the deeper checks can catch it."""
    (pkg / name).write_bytes(data)
    key = "model" if name == MODEL_FILE else "training"
    edit_manifest(pkg, lambda m: m[key].update(sha256="0x" + hashlib.sha256(data).hexdigest()))


def npz(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def training_arrays(pkg: ModelPackage) -> dict[str, np.ndarray]:
    t = pkg.training
    return {"X": t.X.copy(), "X_raw": t.X_raw.copy(), "y": t.y.copy(), "owner": t.owner.copy()}


def test_round_trip(demo_package: ModelPackage, tmp_path: Path) -> None:
    m = demo_package.manifest
    # The content hash is the ModelSpec's: the ONNX file's sha-256, the weights root, widths.
    assert onnx_sha256(demo_package.onnx_path) == hashlib.sha256(
        demo_package.onnx_path.read_bytes()).digest() == m.model_sha256
    assert demo_package.content_hash == model_spec_hash(ModelSpec(
        m.model_sha256, demo_package.network.weights_root, (30, 16, 2)))
    # The roster the registry takes: every contributor once, ascending as 20-byte integers.
    roster = demo_package.roster
    assert sorted(roster, key=lambda a: int(a, 16)) == roster
    assert set(roster) == {c.address for c in m.contributors} and len(roster) == len(set(roster))
    assert len(m.input.features) == 30 and m.input.shape == (1, 30)
    assert m.output.shape == (1, 2) and m.output.labels == ("malignant", "benign")
    assert m.train_rows == len(demo_package.training.y) == len(m.roster)
    # Saving what was loaded reproduces the package byte for byte.
    again = save_package(
        tmp_path / "again", demo_package.onnx_path.read_bytes(), name=m.name,
        version=m.version, input_schema=m.input, output_schema=m.output,
        preprocessing=m.preprocessing, contributors=m.contributors,
        X_raw=demo_package.training.X_raw, y=demo_package.training.y,
        owner=demo_package.training.owner, network=demo_package.network,
    )
    for name in (MODEL_FILE, NETWORK_FILE, MANIFEST_FILE, TRAIN_FILE):
        assert (again / name).read_bytes() == (demo_package.path / name).read_bytes()
    assert loads_manifest(dumps_manifest(m)) == m


def test_training_data_is_consistent(demo_package: ModelPackage) -> None:
    t = demo_package.training
    assert t.X.dtype == np.float64 and t.X_raw.dtype == np.float32
    assert np.array_equal(t.X, demo_package.standardise(t.X_raw))
    assert np.allclose(t.X.mean(axis=0), 0, atol=1e-9) and np.allclose(t.X.std(axis=0), 1)
    with pytest.raises(ValueError, match="read-only"):
        t.X[0, 0] = 1.0
    owners = demo_package.row_owners()
    for i in (0, len(owners) // 2, len(owners) - 1):
        assert demo_package.roster_values()[i] == (
            owners[i], encoding.item_hash(t.X_raw[i], int(t.y[i]))
        )
    addr = demo_package.manifest.contributors[2].address
    assert demo_package.manifest.contributor_index(addr) == 2
    with pytest.raises(PackageSchemaError, match="not a contributor"):
        demo_package.manifest.contributor_index("0x" + "00" * 20)


def test_model_input_is_standardised_float32(demo_package: ModelPackage) -> None:
    raw = demo_package.training.X_raw[:1]
    x = demo_package.model_input(raw)
    assert x.dtype == np.float32 and x.shape == (1, 30)
    assert np.array_equal(x, demo_package.training.X[:1].astype(np.float32))
    with pytest.raises(PackageSchemaError, match="30 features"):
        demo_package.standardise(np.zeros((1, 29)))


def test_graph_op_types(demo_package: ModelPackage) -> None:
    assert graph_op_types(demo_package.onnx_path) == ["Gemm", "Relu", "Gemm"]


@pytest.mark.skipif(importlib.util.find_spec("offchain.merkle") is None,
                    reason="offchain.merkle (another helper's module) is not present yet")
def test_roster_root_matches_openzeppelin_js(demo_package: ModelPackage) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is needed for the OpenZeppelin reference implementation")
    values = [[a, "0x" + h.hex()] for a, h in demo_package.roster_values()]
    script = ("const {StandardMerkleTree}=require('@openzeppelin/merkle-tree');"
              "const v=JSON.parse(require('fs').readFileSync(0,'utf8'));"
              "process.stdout.write(StandardMerkleTree.of(v,['address','bytes32']).root);")
    js_root = subprocess.run(["node", "-e", script], input=json.dumps(values), text=True,
                             capture_output=True, check=True, cwd=REPO_ROOT).stdout
    assert "0x" + demo_package.roster_root().hex() == js_root


def test_roster_root_without_merkle_module(demo_package: ModelPackage,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "offchain.merkle", None)
    with pytest.raises(ModelPackageError, match="offchain.merkle is not available"):
        demo_package.roster_root()


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(PackageFileMissing, match="does not exist"):
        load_package(tmp_path / "nope")


@pytest.mark.parametrize("name", [MODEL_FILE, MANIFEST_FILE, TRAIN_FILE])
def test_missing_file(package_copy: Path, name: str) -> None:
    (package_copy / name).unlink()
    with pytest.raises(PackageFileMissing, match=name):
        load_package(package_copy)


def test_content_hash_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PackageFileMissing, match="missing"):
        onnx_sha256(tmp_path / "model.onnx")


@pytest.mark.parametrize("name", [MODEL_FILE, TRAIN_FILE])
def test_bad_sha(package_copy: Path, name: str) -> None:
    data = bytearray((package_copy / name).read_bytes())
    data[len(data) // 2] ^= 1
    (package_copy / name).write_bytes(bytes(data))
    with pytest.raises(PackageIntegrityError, match=f"{name} has sha256"):
        load_package(package_copy)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(m: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = m
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        target[int(leaf) if leaf.isdigit() else leaf] = value
    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("format", "attestia-model-package/3"), "unsupported package format"),
        (_set("format", "attestia-model-package/1"), "made before integer inference.*rebuild"),
        (_set("model.network", "0x12"), "model.network must be 0x"),
        (lambda m: m.pop("roster"), "missing keys \\['roster'\\]"),
        (_set("extra", 1), "unexpected keys \\['extra'\\]"),
        (_set("name", ""), "name must be a non-empty string"),
        (_set("model.sha256", "0x1234"), "model.sha256 must be 0x"),
        (_set("input.dtype", "float64"), "input.dtype must be 'float32'"),
        (_set("input.shape", [1, 29]), "input.shape is \\[1, 29\\]"),
        (_set("input.shape", [2, 30]), "expected \\[1, 30\\]"),
        (_set("input.shape", [30]), "must be \\[1, n\\]"),
        (_set("input.features.1", "mean_radius"), "duplicate names"),
        (_set("output.labels", ["malignant"]), "2 logits but 1 labels"),
        (_set("output.shape", [1, 3]), "output.shape is \\[1, 3\\]"),
        (_set("preprocessing.stage", "in-graph"), "preprocessing must be kind"),
        (_set("preprocessing.std.0", 0.0), "std must be > 0"),
        (_set("preprocessing.mean.0", "x"), "finite numbers"),
        (_set("preprocessing.mean", [0.0]), "list of 30 numbers"),
        (_set("training.rows", 0), "positive integer"),
        (_set("training.rows", 5), "one item per row"),
        (_set("contributors.0.address", "0x9965507d1a55bcc2695c58ba16fb37d819b0a4dc"),
         "not EIP-55 checksummed"),
        (_set("contributors.0.address", "0x1234"), "20-byte hex address"),
        (_set("contributors.1.name", "alice-hospital"), "must be unique"),
        (_set("contributors", []), "non-empty list"),
        (_set("roster.0.contributor", "0x0000000000000000000000000000000000000001"),
         "not a contributor"),
        (_set("roster.0.itemHash", "0x" + "G" * 64), "itemHash must be 0x"),
    ],
)
def test_manifest_schema_errors(package_copy: Path, change: Callable[[dict[str, Any]], None],
                                message: str) -> None:
    edit_manifest(package_copy, change)
    with pytest.raises(PackageSchemaError, match=message):
        load_package(package_copy)


@pytest.mark.parametrize(
    ("text", "message"),
    [(b"{", "not valid JSON"), (b'{"format": NaN}', "NaN"), (b"[]", "must be a JSON object")],
)
def test_manifest_not_json(package_copy: Path, text: bytes, message: str) -> None:
    (package_copy / MANIFEST_FILE).write_bytes(text)
    with pytest.raises(PackageSchemaError, match=message):
        load_package(package_copy)


def test_roster_item_hash_tampered(package_copy: Path) -> None:
    edit_manifest(package_copy, _set("roster.3.itemHash", "0x" + "ab" * 32))
    with pytest.raises(PackageIntegrityError, match="roster\\[3\\] does not match"):
        load_package(package_copy)


def test_roster_owner_swapped(package_copy: Path, demo_package: ModelPackage) -> None:
    other = demo_package.manifest.contributors[4].address
    edit_manifest(package_copy, _set("roster.0.contributor", other))
    with pytest.raises(PackageIntegrityError, match="roster\\[0\\]"):
        load_package(package_copy)


def test_graph_input_name_mismatch(package_copy: Path) -> None:
    edit_manifest(package_copy, _set("input.name", "features"))
    with pytest.raises(PackageSchemaError, match="declares one input named 'features'"):
        load_package(package_copy)


def test_graph_output_name_mismatch(package_copy: Path) -> None:
    edit_manifest(package_copy, _set("output.name", "probabilities"))
    with pytest.raises(PackageSchemaError, match="output named 'probabilities'"):
        load_package(package_copy)


def test_graph_shape_mismatch(package_copy: Path) -> None:
    rng = np.random.default_rng(0)
    narrow = dense_relu_onnx([rng.standard_normal((29, 4)), rng.standard_normal((4, 2))],
                             [np.zeros(4), np.zeros(2)])
    replace_file(package_copy, MODEL_FILE, narrow)
    with pytest.raises(PackageSchemaError, match="has shape \\[1, 29\\]"):
        load_package(package_copy)


def test_graph_output_dtype_mismatch(package_copy: Path) -> None:
    model = onnx.load(package_copy / MODEL_FILE)
    node = onnx.helper.make_node("Cast", ["logits"], ["logits64"], to=onnx.TensorProto.DOUBLE)
    model.graph.node.append(node)
    del model.graph.output[:]
    model.graph.output.append(onnx.helper.make_tensor_value_info(
        "logits64", onnx.TensorProto.DOUBLE, [1, 2]))
    replace_file(package_copy, MODEL_FILE, model.SerializeToString())
    edit_manifest(package_copy, _set("output.name", "logits64"))
    with pytest.raises(PackageSchemaError, match="is not float32"):
        load_package(package_copy)


def test_invalid_onnx_bytes(package_copy: Path) -> None:
    replace_file(package_copy, MODEL_FILE, b"not an onnx model")
    with pytest.raises(PackageSchemaError, match="not a valid ONNX model"):
        load_package(package_copy)


def test_train_npz_not_numpy(package_copy: Path) -> None:
    replace_file(package_copy, TRAIN_FILE, b"PK\x03\x04garbage")
    with pytest.raises(PackageSchemaError, match="cannot be read"):
        load_package(package_copy)


def _mutate_training(package_copy: Path, demo_package: ModelPackage,
                     change: Callable[[dict[str, np.ndarray]], None]) -> None:
    arrays = training_arrays(demo_package)
    change(arrays)
    replace_file(package_copy, TRAIN_FILE, npz(arrays))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("owner"), "expected exactly"),
        (lambda a: a.update(extra=np.zeros(1)), "expected exactly"),
        (lambda a: a.update(X=a["X"].astype(np.float32)), "X is float32"),
        (lambda a: a.update(X_raw=a["X_raw"][:, :29]), "X_raw is float32\\[489, 29\\]"),
        (lambda a: a.update(y=a["y"][:-1]), "y is int64\\[488\\]"),
        (lambda a: a.update(owner=a["owner"].astype(np.int32)), "owner is int32"),
        (lambda a: a["y"].__setitem__(0, 2), "outside output.labels"),
        (lambda a: a["owner"].__setitem__(0, 5), "outside contributors"),
        (lambda a: a["X"].__setitem__((0, 0), np.nan), "NaN or infinite"),
    ],
)
def test_training_schema_errors(package_copy: Path, demo_package: ModelPackage,
                                change: Callable[[dict[str, np.ndarray]], None],
                                message: str) -> None:
    _mutate_training(package_copy, demo_package, change)
    with pytest.raises(PackageSchemaError, match=message):
        load_package(package_copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a["X"].__setitem__((0, 0), a["X"][0, 0] + 1e-12), "not standardise"),
        (lambda a: a["y"].__setitem__(7, 1 - a["y"][7]), "roster\\[7\\]"),
        (lambda a: a["owner"].__setitem__(9, (a["owner"][9] + 1) % 5), "roster\\[9\\]"),
    ],
)
def test_training_integrity_errors(package_copy: Path, demo_package: ModelPackage,
                                   change: Callable[[dict[str, np.ndarray]], None],
                                   message: str) -> None:
    _mutate_training(package_copy, demo_package, change)
    with pytest.raises(PackageIntegrityError, match=message):
        load_package(package_copy)


def test_save_package_rejects_bad_arrays(demo_package: ModelPackage, tmp_path: Path) -> None:
    m, t = demo_package.manifest, demo_package.training
    common: dict[str, Any] = dict(
        name=m.name, version=m.version, input_schema=m.input, output_schema=m.output,
        preprocessing=m.preprocessing, contributors=m.contributors,
        network=demo_package.network,
    )
    onnx_bytes = demo_package.onnx_path.read_bytes()
    cases = [
        (dict(X_raw=t.X_raw.astype(np.float64), y=t.y, owner=t.owner), "2-D float32"),
        (dict(X_raw=t.X_raw, y=t.y[:-1], owner=t.owner), "one entry per row"),
        (dict(X_raw=t.X_raw, y=t.y, owner=t.owner + 5), "index the contributors"),
    ]
    for arrays, message in cases:
        with pytest.raises(PackageSchemaError, match=message):
            save_package(tmp_path / "bad", onnx_bytes, **common, **arrays)
    # An ONNX graph that does not match the declared schema is caught before anyone uses it.
    with pytest.raises(PackageSchemaError, match="shape"):
        save_package(tmp_path / "bad2", dense_relu_onnx([np.ones((30, 3))], [np.zeros(3)]),
                     **common, X_raw=t.X_raw, y=t.y, owner=t.owner)
