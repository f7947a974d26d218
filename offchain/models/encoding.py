"""The one canonical byte encoding of model inputs, outputs and training items.

Workers commit to these bytes, verifiers recompute them and the tests pin them; nobody else
serialises a tensor. The encoding is pure (no I/O) and strict both ways: ``encode_tensor``
refuses anything that is not a finite float32 array, and ``decode_tensor`` accepts only bytes
that ``encode_tensor`` itself could have produced, so one tensor has exactly one encoding and
``encode_tensor(decode_tensor(b)) == b`` for every accepted ``b``.

Tensor layout (all header integers big-endian, values little-endian)::

    offset  size      field
    0       4         magic  b"ATTN"
    4       1         format version (1)
    5       1         dtype code (1 = IEEE-754 binary32)
    6       1         ndim (1..8)
    7       1         reserved, must be 0
    8       4*ndim    dimensions, uint32 BE, each >= 1
    ...     4*prod    values, float32 LE, C (row-major) order

Canonical values: NaN and +-inf are rejected; -0.0 is written as +0.0 (they compare equal,
so they must encode equally) and a decoder rejects the bytes of -0.0. At most
``MAX_ELEMENTS`` values unless the caller declares a smaller limit.

Which tensor a commitment covers: the *input commitment* is over the user's raw feature
vector, shape ``(1, n_features)`` in schema order (what the user sent and can recompute);
standardisation is a deterministic function of the package manifest. The *output commitment*
is over the model's logits, shape ``(1, n_labels)``. Commitments are
``keccak256(salt || bytes)`` with a fresh 32-byte salt so equal inputs do not leak as equal
commitments.

A training item is ``encode_tensor(row float32 of shape (n_features,)) || uint32 BE label``;
its item hash (``keccak256`` of those bytes) is the leaf value of the package's roster.
"""

from __future__ import annotations

import json
import math
import secrets
import struct
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
from sha3 import keccak_256

from offchain.models.errors import EncodingError, InputFormatError

MAGIC = b"ATTN"
FORMAT_VERSION = 1
DTYPE_FLOAT32 = 1
MAX_NDIM = 8
MAX_ELEMENTS = 1 << 16
HEADER_SIZE = 8
SALT_SIZE = 32
MAX_LABEL = 2**32 - 1

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def encode_tensor(
    array: np.ndarray,
    *,
    shape: Sequence[int] | None = None,
    max_elements: int = MAX_ELEMENTS,
) -> bytes:
    """Canonical bytes of a finite float32 array (see the module docstring for the layout).

    Only ``float32`` arrays are accepted: converting from float64 rounds, and a silent
    rounding inside the encoder would make two different inputs commit to the same bytes.
    Convert deliberately (``parse_input`` does it with range checks) before encoding.
    """
    if not isinstance(array, np.ndarray):
        raise EncodingError(f"expected a numpy array, got {type(array).__name__}")
    if array.dtype != np.float32:
        raise EncodingError(
            f"expected dtype float32, got {array.dtype}; convert explicitly (np.float32) first"
        )
    _check_shape(tuple(array.shape), shape, max_elements)
    if not np.all(np.isfinite(array)):
        raise EncodingError("tensor contains NaN or infinity; only finite values can be encoded")
    canonical = np.where(array == 0, np.float32(0.0), array).astype("<f4", copy=False)
    return _header(array.shape) + np.ascontiguousarray(canonical).tobytes(order="C")


def _header(shape: Sequence[int]) -> bytes:
    """The bytes before a float32 tensor's values: magic, version, dtype, ndim, reserved,
    then the dimensions (uint32 big-endian)."""
    return (MAGIC + bytes([FORMAT_VERSION, DTYPE_FLOAT32, len(shape), 0])
            + struct.pack(f">{len(shape)}I", *shape))


def encode_tensors(rows: np.ndarray, *, max_elements: int = MAX_ELEMENTS) -> list[bytes]:
    """``[encode_tensor(row) for row in rows]``, bit for bit, in a few numpy passes: the
    rows of a batch (``rows[i]`` is one tensor) share one header and one check."""
    array = np.asarray(rows)
    if array.ndim < 2 or array.shape[0] == 0:
        return [encode_tensor(row, max_elements=max_elements) for row in array]
    if array.dtype != np.float32 or not np.all(np.isfinite(array)):
        return [encode_tensor(row, max_elements=max_elements) for row in array]
    shape = tuple(array.shape[1:])
    _check_shape(shape, None, max_elements)
    prefix = _header(shape)
    canonical = np.where(array == 0, np.float32(0.0), array).astype("<f4", copy=False)
    body = np.ascontiguousarray(canonical).tobytes(order="C")
    size = len(body) // array.shape[0]
    return [prefix + body[i:i + size] for i in range(0, len(body), size)]


def decode_tensors(datas: Sequence[bytes], *, shape: Sequence[int],
                   max_elements: int = MAX_ELEMENTS) -> list[np.ndarray | EncodingError]:
    """``decode_tensor(data, shape=shape)`` of each, or the EncodingError it raises, in a
    few numpy passes for the canonical ones (one header, one length, then one finiteness
    and -0.0 check over all of them); any other goes through :func:`decode_tensor` alone."""
    dims = tuple(int(d) for d in shape)
    count = _check_shape(dims, None, max_elements)
    prefix = _header(dims)
    size = len(prefix) + 4 * count
    fast = [i for i, data in enumerate(datas)
            if isinstance(data, bytes) and len(data) == size and data.startswith(prefix)]
    out: list[np.ndarray | EncodingError | None] = [None] * len(datas)
    if fast:
        payload = b"".join([datas[i][len(prefix):] for i in fast])
        values = np.frombuffer(payload, dtype="<f4").astype(np.float32).reshape(
            (len(fast), *dims))
        flat = values.reshape(len(fast), -1)
        good = np.isfinite(flat).all(axis=1) & ~((flat == 0) & np.signbit(flat)).any(axis=1)
        for position, i in enumerate(fast):
            if good[position]:
                out[i] = values[position]
    for i, data in enumerate(datas):
        if out[i] is None:
            try:
                out[i] = decode_tensor(data, shape=dims, max_elements=max_elements)
            except EncodingError as exc:
                out[i] = exc
    return cast("list[np.ndarray | EncodingError]", out)


def decode_tensor(
    data: bytes,
    *,
    shape: Sequence[int] | None = None,
    max_elements: int = MAX_ELEMENTS,
) -> np.ndarray:
    """Parse canonical tensor bytes back into a float32 array, rejecting any other bytes."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EncodingError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < HEADER_SIZE:
        raise EncodingError(f"tensor bytes too short for the header ({len(data)} < {HEADER_SIZE})")
    if data[:4] != MAGIC:
        raise EncodingError(f"bad magic {data[:4]!r}; expected {MAGIC!r} (not an Attestia tensor)")
    version, dtype_code, ndim, reserved = data[4], data[5], data[6], data[7]
    if version != FORMAT_VERSION:
        raise EncodingError(f"unsupported tensor format version {version}; expected 1")
    if dtype_code != DTYPE_FLOAT32:
        raise EncodingError(f"unsupported dtype code {dtype_code}; only 1 (float32) is defined")
    if not 1 <= ndim <= MAX_NDIM:
        raise EncodingError(f"ndim {ndim} out of range 1..{MAX_NDIM}")
    if reserved != 0:
        raise EncodingError("reserved header byte must be 0")
    dims_end = HEADER_SIZE + 4 * ndim
    if len(data) < dims_end:
        raise EncodingError("tensor bytes end inside the shape field")
    dims = struct.unpack(f">{ndim}I", data[HEADER_SIZE:dims_end])
    count = _check_shape(dims, shape, max_elements)
    expected_len = dims_end + 4 * count
    if len(data) != expected_len:
        raise EncodingError(
            f"tensor of shape {list(dims)} needs {expected_len} bytes, got {len(data)}"
        )
    payload = data[dims_end:]
    values = np.frombuffer(payload, dtype="<f4").astype(np.float32).reshape(dims)
    if not np.all(np.isfinite(values)):
        raise EncodingError("tensor bytes contain NaN or infinity")
    if np.any((values == 0) & np.signbit(values)):  # the bytes 00 00 00 80
        raise EncodingError("tensor bytes contain -0.0; the canonical encoding writes +0.0")
    return values


def _check_shape(
    actual: tuple[int, ...], expected: Sequence[int] | None, max_elements: int
) -> int:
    """Validate a shape against the format limits and the caller's expectation; return size."""
    if not 1 <= len(actual) <= MAX_NDIM:
        raise EncodingError(f"tensor must have 1..{MAX_NDIM} dimensions, got {len(actual)}")
    if any(d < 1 for d in actual):
        raise EncodingError(f"every dimension must be >= 1, got shape {list(actual)}")
    if expected is not None and tuple(actual) != tuple(expected):
        raise EncodingError(f"wrong shape {list(actual)}; expected {list(expected)}")
    count = math.prod(actual)
    if count > max_elements:
        raise EncodingError(
            f"tensor has {count} values, over the declared maximum of {max_elements}"
        )
    return count


def commit(salt: bytes, data: bytes) -> bytes:
    """``keccak256(salt || data)``: a hiding, binding commitment to canonical bytes."""
    if not isinstance(salt, bytes | bytearray) or len(salt) != SALT_SIZE:
        raise EncodingError(f"salt must be exactly {SALT_SIZE} bytes; use new_salt()")
    if not isinstance(data, bytes | bytearray):
        raise EncodingError(f"data must be bytes, got {type(data).__name__}")
    return keccak_256(bytes(salt) + bytes(data)).digest()  # keccak256, without eth_utils' wrapper


def new_salt() -> bytes:
    """A fresh 32-byte salt from the OS CSPRNG; never reuse one across commitments."""
    return secrets.token_bytes(SALT_SIZE)


def parse_input(payload: str | bytes | Mapping[str, Any] | Sequence[Any],
                feature_names: Sequence[str]) -> np.ndarray:
    """Validate a user's input and return it as float32 of shape ``(1, n_features)``.

    Accepted forms (JSON text or already-parsed): ``{"features": {"name": value, ...}}``
    with exactly the schema's names, ``{"features": [v0, v1, ...]}`` or a bare list, both in
    schema order. Values must be JSON numbers (not booleans or strings), finite and within
    float32 range; JSON's non-standard ``NaN``/``Infinity`` tokens are refused.
    """
    if isinstance(payload, str | bytes | bytearray):
        try:
            payload = json.loads(payload, parse_constant=_reject_constant)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputFormatError(f"input is not valid JSON: {exc}") from exc
    names = list(feature_names)
    if isinstance(payload, Mapping):
        if set(payload) != {"features"}:
            raise InputFormatError(
                f'input object must have exactly one key "features", got {sorted(payload)}'
            )
        features = payload["features"]
    else:
        features = payload
    if isinstance(features, Mapping):
        missing = [n for n in names if n not in features]
        unknown = sorted(set(features) - set(names))
        if missing or unknown:
            raise InputFormatError(
                f"feature names do not match the model's schema: missing {missing}, "
                f"unknown {unknown}"
            )
        values = [features[n] for n in names]
    elif isinstance(features, Sequence) and not isinstance(features, str | bytes):
        if len(features) != len(names):
            raise InputFormatError(
                f"expected {len(names)} feature values in schema order, got {len(features)}"
            )
        values = list(features)
    else:
        raise InputFormatError(
            'input must be {"features": {name: value}}, {"features": [...]} or a list'
        )
    return np.array([[_to_float32(n, v) for n, v in zip(names, values, strict=True)]],
                    dtype=np.float32)


def _reject_constant(token: str) -> None:
    raise InputFormatError(f"input JSON contains {token}; only finite numbers are allowed")


def _to_float32(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputFormatError(f"feature {name!r} must be a number, got {value!r}")
    try:
        as_float = float(value)
    except OverflowError as exc:
        raise InputFormatError(f"feature {name!r} is too large for float32") from exc
    if not math.isfinite(as_float):
        raise InputFormatError(f"feature {name!r} must be finite, got {value!r}")
    if abs(as_float) > _FLOAT32_MAX:
        raise InputFormatError(f"feature {name!r} = {value!r} is outside the float32 range")
    return as_float


def input_to_json(x: np.ndarray, feature_names: Sequence[str]) -> dict[str, dict[str, float]]:
    """The ``{"features": {...}}`` form of one input row; ``parse_input`` inverts it exactly.

    Values are written as the shortest decimal that round-trips the float32 value, so the
    JSON a demo client sends parses back to bit-identical model input.
    """
    row = np.asarray(x, dtype=np.float32).reshape(-1)
    if row.size != len(feature_names):
        raise EncodingError(f"row has {row.size} values but the schema has {len(feature_names)}")
    return {"features": {n: float(np.format_float_positional(v, unique=True, trim="-"))
                         for n, v in zip(feature_names, row, strict=True)}}


def encode_training_item(row: np.ndarray, label: int) -> bytes:
    """Canonical bytes of one training example: the raw float32 row then its uint32 BE label."""
    row = np.asarray(row)
    if row.ndim != 1:
        raise EncodingError(f"a training row must be 1-dimensional, got shape {list(row.shape)}")
    if isinstance(label, bool) or not isinstance(label, int | np.integer):
        raise EncodingError(f"label must be an integer, got {label!r}")
    if not 0 <= int(label) <= MAX_LABEL:
        raise EncodingError(f"label {label} out of range 0..{MAX_LABEL}")
    return encode_tensor(row) + struct.pack(">I", int(label))


def item_hash(row: np.ndarray, label: int) -> bytes:
    """``keccak256(encode_training_item(row, label))``: the roster's bytes32 for one item."""
    return keccak_256(encode_training_item(row, label)).digest()
