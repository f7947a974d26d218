"""Hand-built ONNX export of dense ReLU networks."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from offchain.models import runtime
from offchain.models.errors import PackageSchemaError
from offchain.models.export import dense_relu_onnx


def test_export_computes_the_network() -> None:
    rng = np.random.default_rng(7)
    w = [rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal((3, 2))]
    b = [rng.standard_normal(4), rng.standard_normal(3), rng.standard_normal(2)]
    data = dense_relu_onnx(w, b)
    assert data == dense_relu_onnx(w, b)
    assert [n.op_type for n in onnx.load_from_string(data).graph.node] == [
        "Gemm", "Relu", "Gemm", "Relu", "Gemm"]
    x = rng.standard_normal((1, 5)).astype(np.float32)
    h = x.astype(np.float64)
    for i, (wi, bi) in enumerate(zip(w, b, strict=True)):
        h = h @ wi + bi
        if i < len(w) - 1:
            h = np.maximum(h, 0)
    out = runtime.session_from_bytes(data).run(x)
    np.testing.assert_allclose(out, h, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("weights", "biases", "message"),
    [
        ([], [], "at least one layer"),
        ([np.ones((3, 2))], [np.ones(3)], "do not fit"),
        ([np.ones(3)], [np.ones(3)], "do not fit"),
        ([np.ones((3, 2)), np.ones((3, 1))], [np.ones(2), np.ones(1)], "fan-in"),
        ([np.full((3, 2), np.nan)], [np.ones(2)], "NaN"),
        ([np.ones((3, 2))], [], "one bias vector"),
    ],
)
def test_export_rejects_bad_layers(weights: list[np.ndarray], biases: list[np.ndarray],
                                   message: str) -> None:
    with pytest.raises(PackageSchemaError, match=message):
        dense_relu_onnx(weights, biases)
