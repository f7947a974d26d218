"""Deterministic ONNX Runtime execution: same model bytes + same input -> same output bytes.

A worker commits to its output bytes, and a re-executing verifier must get the very same
bytes, so every source of run-to-run variation is pinned: one intra-op and one inter-op
thread (no reduction-order races), sequential execution, the CPU provider only, graph
optimisations off (the graph runs exactly as written and hashed), deterministic compute
requested. Sessions are built from the bytes that were hashed, so a session's ``model_id``
is the id of what it actually runs. Bit-identity holds on one machine and ORT build; across
CPUs with different SIMD kernels it is not promised (that is what ZK proofs are for).
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from offchain.attribution.errors import InvalidInputError
from offchain.attribution.integer import label_of_output
from offchain.models.errors import EncodingError, ModelRuntimeError, PackageFileMissing

PROVIDERS = ("CPUExecutionProvider",)


@dataclass(frozen=True)
class ModelSession:
    """An ONNX Runtime session bound to the sha-256 of the bytes it was built from."""

    model_id: bytes
    session: ort.InferenceSession
    input_name: str
    input_shape: tuple[int, ...]
    output_name: str

    def run(self, x: np.ndarray) -> np.ndarray:
        """Run the graph on a float32 input of the graph's exact shape; return float32 logits."""
        if not isinstance(x, np.ndarray) or x.dtype != np.float32:
            raise EncodingError("model input must be a float32 numpy array")
        if tuple(x.shape) != self.input_shape:
            raise EncodingError(
                f"model input has shape {list(x.shape)}; the graph expects "
                f"{list(self.input_shape)}"
            )
        if not np.all(np.isfinite(x)):
            raise EncodingError("model input contains NaN or infinity")
        try:
            (out,) = self.session.run([self.output_name],
                                      {self.input_name: np.ascontiguousarray(x)})
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelRuntimeError(f"ONNX Runtime failed to run the model: {exc}") from exc
        return np.array(out, dtype=np.float32, copy=True)


def session_options() -> ort.SessionOptions:
    """The pinned, deterministic session configuration (see the module docstring)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.use_deterministic_compute = True
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return opts


def session_from_bytes(onnx_bytes: bytes) -> ModelSession:
    """Build a deterministic session for these exact model bytes (uncached)."""
    try:
        sess = ort.InferenceSession(onnx_bytes, sess_options=session_options(),
                                    providers=list(PROVIDERS))
    except Exception as exc:
        raise ModelRuntimeError(f"ONNX Runtime cannot load the model: {exc}") from exc
    inputs, outputs = sess.get_inputs(), sess.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelRuntimeError("the runtime serves graphs with exactly one input and one output")
    shape = inputs[0].shape
    if any(not isinstance(d, int) for d in shape):
        raise ModelRuntimeError(
            f"graph input shape {shape} has symbolic dimensions; export it with a fixed shape"
        )
    return ModelSession(hashlib.sha256(onnx_bytes).digest(), sess, inputs[0].name,
                        tuple(shape), outputs[0].name)


_cache: dict[Path, tuple[tuple[int, int, int], ModelSession]] = {}
_cache_lock = threading.Lock()


def open_session(onnx_path: str | Path) -> ModelSession:
    """The cached session for a model file; rebuilt if the file changed since it was cached."""
    path = Path(onnx_path).resolve()
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise PackageFileMissing(f"{path} is missing; cannot run the model") from exc
    key = (st.st_ino, st.st_size, st.st_mtime_ns)
    with _cache_lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        session = session_from_bytes(path.read_bytes())
        _cache[path] = (key, session)
        return session


def run(onnx_path: str | Path, x: np.ndarray) -> np.ndarray:
    """Logits (float32) of the model at ``onnx_path`` for model input ``x``."""
    return open_session(onnx_path).run(x)


def predicted_label(logits: np.ndarray) -> int:
    """Index of the largest logit of a single-row output (the first one on a tie): the label
    the attribution is computed for (:func:`offchain.attribution.integer.label_of_output`),
    refused as an :class:`EncodingError` here, where the output comes from the model."""
    try:
        return label_of_output(logits)
    except InvalidInputError as exc:
        raise EncodingError(str(exc)) from None


def clear_cache() -> None:
    """Drop every cached session (tests, or a worker swapping models)."""
    with _cache_lock:
        _cache.clear()
