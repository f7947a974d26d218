"""Dense ReLU networks to ONNX with standard ops only (Gemm, Relu), deterministically.

EZKL rejects the ML-specific ops skl2onnx emits (ZipMap, LinearClassifier), so graphs are
written by hand with ``onnx.helper``: one ``Gemm`` per layer and a ``Relu`` between layers,
logits out (no softmax, which is monotone and only costs circuit size). Nothing
time- or environment-dependent goes into the proto, so equal weights give equal bytes and
therefore an equal model id.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from offchain.models.errors import PackageSchemaError

OPSET = 13
IR_VERSION = 8
ALLOWED_OPS = frozenset({"Gemm", "MatMul", "Add", "Relu"})
PRODUCER = "attestia"
PRODUCER_VERSION = "1"


def dense_relu_onnx(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    *,
    input_name: str = "input",
    output_name: str = "logits",
    graph_name: str = "mlp",
) -> bytes:
    """Serialise ``relu(...relu(x W0 + b0)...) W_last + b_last`` for a batch of one.

    ``weights[i]`` has shape (fan_in, fan_out) as in scikit-learn's ``coefs_``; values are
    stored as float32 (the graph's dtype).
    """
    if not weights or len(weights) != len(biases):
        raise PackageSchemaError("need one bias vector per weight matrix, at least one layer")
    nodes, initializers = [], []
    current = input_name
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        w32 = np.asarray(w, dtype=np.float32)
        b32 = np.asarray(b, dtype=np.float32).reshape(-1)
        if w32.ndim != 2 or b32.shape != (w32.shape[1],):
            raise PackageSchemaError(
                f"layer {i}: weight {list(w32.shape)} and bias {list(b32.shape)} do not fit"
            )
        if i > 0 and w32.shape[0] != np.asarray(weights[i - 1]).shape[1]:
            raise PackageSchemaError(f"layer {i} fan-in does not match layer {i - 1} fan-out")
        if not (np.all(np.isfinite(w32)) and np.all(np.isfinite(b32))):
            raise PackageSchemaError(f"layer {i} has NaN or infinite parameters")
        initializers += [numpy_helper.from_array(w32, f"W{i}"),
                         numpy_helper.from_array(b32, f"B{i}")]
        last = i == len(weights) - 1
        gemm_out = output_name if last else f"gemm{i}"
        nodes.append(helper.make_node("Gemm", [current, f"W{i}", f"B{i}"], [gemm_out],
                                      name=f"gemm{i}"))
        if not last:
            nodes.append(helper.make_node("Relu", [gemm_out], [f"relu{i}"], name=f"relu{i}"))
            current = f"relu{i}"
    n_in = np.asarray(weights[0]).shape[0]
    n_out = np.asarray(weights[-1]).shape[1]
    graph = helper.make_graph(
        nodes,
        graph_name,
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, n_in])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [1, n_out])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name=PRODUCER, producer_version=PRODUCER_VERSION)
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model.SerializeToString(deterministic=True)
