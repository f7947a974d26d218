"""Deterministic ONNX Runtime execution."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from offchain.models import encoding, runtime
from offchain.models.errors import EncodingError, ModelRuntimeError, PackageFileMissing
from offchain.models.export import dense_relu_onnx
from offchain.models.package import ModelPackage


def test_same_input_same_bytes_over_100_runs(demo_package: ModelPackage) -> None:
    rows = demo_package.training.X_raw[[0, 100, 250, 488]]
    for raw in rows:
        x = demo_package.model_input(raw[None])
        reference = encoding.encode_tensor(runtime.run(demo_package.onnx_path, x))
        outputs = {encoding.encode_tensor(runtime.run(demo_package.onnx_path, x))
                   for _ in range(100)}
        assert outputs == {reference}
        # A fresh session (what a verifier would build) agrees bit for bit.
        fresh = runtime.session_from_bytes(demo_package.onnx_path.read_bytes())
        assert encoding.encode_tensor(fresh.run(x)) == reference


def test_output_shape_and_label(demo_package: ModelPackage) -> None:
    x = demo_package.model_input(demo_package.training.X_raw[:1])
    logits = runtime.run(demo_package.onnx_path, x)
    assert logits.dtype == np.float32 and logits.shape == (1, 2)
    assert logits[0, 0] == 0.0  # the binary export's reference logit
    assert runtime.predicted_label(logits) == int(logits[0, 1] > 0)


def test_session_is_cached_and_bound_to_bytes(demo_dir: Path, tmp_path: Path) -> None:
    path = Path(shutil.copy(demo_dir / "model.onnx", tmp_path / "model.onnx"))
    first = runtime.open_session(path)
    assert runtime.open_session(path) is first
    assert first.model_id == runtime.session_from_bytes(path.read_bytes()).model_id
    rng = np.random.default_rng(3)
    other = dense_relu_onnx([rng.standard_normal((30, 4)), rng.standard_normal((4, 2))],
                            [np.zeros(4), np.zeros(2)])
    path.write_bytes(other)
    replaced = runtime.open_session(path)
    assert replaced is not first and replaced.model_id != first.model_id
    runtime.clear_cache()
    assert runtime.open_session(path) is not replaced


def test_run_rejects_bad_input(demo_package: ModelPackage) -> None:
    path = demo_package.onnx_path
    with pytest.raises(EncodingError, match="float32"):
        runtime.run(path, np.zeros((1, 30)))
    with pytest.raises(EncodingError, match="shape \\[1, 29\\]"):
        runtime.run(path, np.zeros((1, 29), dtype=np.float32))
    with pytest.raises(EncodingError, match="shape \\[2, 30\\]"):
        runtime.run(path, np.zeros((2, 30), dtype=np.float32))
    bad = np.zeros((1, 30), dtype=np.float32)
    bad[0, 3] = np.nan
    with pytest.raises(EncodingError, match="NaN"):
        runtime.run(path, bad)


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(PackageFileMissing, match="missing"):
        runtime.run(tmp_path / "model.onnx", np.zeros((1, 30), dtype=np.float32))


def test_unloadable_model() -> None:
    with pytest.raises(ModelRuntimeError, match="cannot load"):
        runtime.session_from_bytes(b"garbage")


def _graph(inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
           nodes: list[onnx.NodeProto]) -> bytes:
    model = onnx.helper.make_model(onnx.helper.make_graph(nodes, "g", inputs, outputs),
                                   opset_imports=[onnx.helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


def test_symbolic_batch_dimension_refused() -> None:
    f = onnx.TensorProto.FLOAT
    data = _graph([onnx.helper.make_tensor_value_info("x", f, ["N", 3])],
                  [onnx.helper.make_tensor_value_info("y", f, ["N", 3])],
                  [onnx.helper.make_node("Relu", ["x"], ["y"])])
    with pytest.raises(ModelRuntimeError, match="symbolic"):
        runtime.session_from_bytes(data)


def test_two_inputs_refused() -> None:
    f = onnx.TensorProto.FLOAT
    data = _graph([onnx.helper.make_tensor_value_info(n, f, [1, 3]) for n in ("a", "b")],
                  [onnx.helper.make_tensor_value_info("y", f, [1, 3])],
                  [onnx.helper.make_node("Add", ["a", "b"], ["y"])])
    with pytest.raises(ModelRuntimeError, match="exactly one input"):
        runtime.session_from_bytes(data)


def test_runtime_failure_is_wrapped() -> None:
    # Reshape to a shape the input cannot take: loads fine, fails when run.
    f = onnx.TensorProto.FLOAT
    shape = onnx.helper.make_tensor("s", onnx.TensorProto.INT64, [2], [4, 4])
    nodes = [onnx.helper.make_node("Constant", [], ["shape"], value=shape),
             onnx.helper.make_node("Reshape", ["x", "shape"], ["y"])]
    data = _graph([onnx.helper.make_tensor_value_info("x", f, [1, 3])],
                  [onnx.helper.make_tensor_value_info("y", f, [4, 4])], nodes)
    session = runtime.session_from_bytes(data)
    with pytest.raises(ModelRuntimeError, match="failed to run"):
        session.run(np.zeros((1, 3), dtype=np.float32))


def test_session_options_are_pinned() -> None:
    opts = runtime.session_options()
    assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1
    assert opts.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    assert opts.use_deterministic_compute


def test_predicted_label() -> None:
    assert runtime.predicted_label(np.array([[0.0, 2.0]], dtype=np.float32)) == 1
    assert runtime.predicted_label(np.array([3.0, -1.0, 3.0])) == 0  # tie -> first
    for bad in (np.zeros((2, 2)), np.array([]), np.array([np.nan, 1.0])):
        with pytest.raises(EncodingError, match="one finite row"):
            runtime.predicted_label(bad)
