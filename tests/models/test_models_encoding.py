"""The canonical tensor encoding, commitments and user input parsing."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from offchain.models import encoding
from offchain.models.errors import EncodingError, InputFormatError

NAMES = ("a", "b", "c")


def test_golden_layout() -> None:
    data = encoding.encode_tensor(np.array([[1.0, -2.5]], dtype=np.float32))
    assert data == (
        b"ATTN\x01\x01\x02\x00" + bytes.fromhex("00000001" "00000002")
        + bytes.fromhex("0000803f" "000020c0")
    )


@pytest.mark.parametrize("shape", [(1,), (1, 30), (2, 3, 4), (1, 1, 1, 1, 1, 1, 1, 2)])
def test_round_trip_shapes(shape: tuple[int, ...]) -> None:
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) - 3.25
    data = encoding.encode_tensor(x, shape=shape)
    back = encoding.decode_tensor(data, shape=shape)
    assert back.dtype == np.float32 and back.shape == shape
    assert np.array_equal(back, x)
    assert encoding.encode_tensor(back) == data


@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                  elements=st.floats(width=32, allow_nan=False, allow_infinity=False)))
def test_decode_inverts_encode(x: np.ndarray) -> None:
    data = encoding.encode_tensor(x)
    back = encoding.decode_tensor(data)
    assert np.array_equal(back, x)
    assert encoding.encode_tensor(back) == data


@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 5), st.just(1), st.integers(1, 4)),
                  elements=st.floats(width=32)))
def test_batch_encoding_is_each_rows_encoding(rows: np.ndarray) -> None:
    """encode_tensors and decode_tensors (a batch in a few numpy passes) are the one-at-a-time
    functions, bit for bit, error for error: NaN, infinities and -0.0 included."""
    def one(row: np.ndarray) -> bytes | str:
        try:
            return encoding.encode_tensor(row)
        except EncodingError as exc:
            return str(exc)

    expected = [one(row) for row in rows]
    if all(isinstance(e, bytes) for e in expected):
        assert encoding.encode_tensors(rows) == expected
    else:
        with pytest.raises(EncodingError):
            encoding.encode_tensors(rows)
    # Decoding: every row's canonical bytes, then the same bytes made non-canonical in turn.
    good = [encoding.encode_tensor(np.nan_to_num(row, posinf=1.0, neginf=-1.0))
            for row in rows]
    shape = rows.shape[1:]
    negative_zero = struct.pack("<f", -0.0)
    datas: list = [*good, good[0][:-4] + negative_zero, good[0][:-4] + struct.pack("<f", np.nan),
                   good[0][:-1], good[0] + b"\0", bytearray(good[0]), good[0].replace(
                       b"ATTN\x01", b"ATTN\x02", 1), "not bytes",
                   encoding.encode_tensor(np.zeros((1, shape[1] + 1), dtype=np.float32))]

    def decoded(data: object) -> tuple:
        try:
            value = encoding.decode_tensor(data, shape=shape)  # type: ignore[arg-type]
            return ("ok", value.dtype.str, value.shape, value.tobytes())
        except EncodingError as exc:
            return ("error", str(exc))

    got = [("error", str(v)) if isinstance(v, EncodingError)
           else ("ok", v.dtype.str, v.shape, v.tobytes())
           for v in encoding.decode_tensors(datas, shape=shape)]
    assert got == [decoded(d) for d in datas]
    assert [g[0] for g in got[len(good):]] == ["error", "error", "error", "error", "ok",
                                                "error", "error", "error"]


def test_negative_zero_is_canonicalised() -> None:
    neg = encoding.encode_tensor(np.array([-0.0, 1.0], dtype=np.float32))
    pos = encoding.encode_tensor(np.array([0.0, 1.0], dtype=np.float32))
    assert neg == pos
    forged = pos[:-8] + struct.pack("<f", -0.0) + pos[-4:]
    with pytest.raises(EncodingError, match="-0.0"):
        encoding.decode_tensor(forged)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_encode_rejects_non_finite(bad: float) -> None:
    with pytest.raises(EncodingError, match="NaN or infinity"):
        encoding.encode_tensor(np.array([[1.0, bad]], dtype=np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_decode_rejects_non_finite(bad: float) -> None:
    good = encoding.encode_tensor(np.array([1.0, 2.0], dtype=np.float32))
    forged = good[:-4] + struct.pack("<f", bad)
    with pytest.raises(EncodingError, match="NaN or infinity"):
        encoding.decode_tensor(forged)


@pytest.mark.parametrize("value", [np.zeros(3), [1.0, 2.0], np.zeros(3, dtype=np.int32)])
def test_encode_requires_float32_array(value: object) -> None:
    with pytest.raises(EncodingError):
        encoding.encode_tensor(value)  # type: ignore[arg-type]


def test_shape_checks() -> None:
    x = np.zeros((1, 3), dtype=np.float32)
    with pytest.raises(EncodingError, match="wrong shape"):
        encoding.encode_tensor(x, shape=(1, 4))
    with pytest.raises(EncodingError, match="wrong shape"):
        encoding.decode_tensor(encoding.encode_tensor(x), shape=(3,))
    with pytest.raises(EncodingError, match="dimensions"):
        encoding.encode_tensor(np.array(1.0, dtype=np.float32))
    with pytest.raises(EncodingError, match="dimensions"):
        encoding.encode_tensor(np.zeros((1,) * 9, dtype=np.float32))
    with pytest.raises(EncodingError, match=">= 1"):
        encoding.encode_tensor(np.zeros((1, 0), dtype=np.float32))


def test_oversize_rejected() -> None:
    x = np.zeros(10, dtype=np.float32)
    with pytest.raises(EncodingError, match="maximum of 9"):
        encoding.encode_tensor(x, max_elements=9)
    with pytest.raises(EncodingError, match="declared maximum"):
        encoding.encode_tensor(np.zeros(encoding.MAX_ELEMENTS + 1, dtype=np.float32))
    with pytest.raises(EncodingError, match="maximum of 9"):
        encoding.decode_tensor(encoding.encode_tensor(x), max_elements=9)
    # A header claiming 2^32-1 x 2^32-1 values is refused before any length arithmetic.
    huge = b"ATTN\x01\x01\x02\x00" + b"\xff" * 8
    with pytest.raises(EncodingError, match="declared maximum"):
        encoding.decode_tensor(huge)


GOOD = encoding.encode_tensor(np.array([1.0, 2.0], dtype=np.float32))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"ATTN", "too short"),
        (b"XXXX" + GOOD[4:], "bad magic"),
        (GOOD[:4] + b"\x02" + GOOD[5:], "version"),
        (GOOD[:5] + b"\x02" + GOOD[6:], "dtype code"),
        (GOOD[:6] + b"\x00" + GOOD[7:], "ndim"),
        (GOOD[:6] + b"\x09" + GOOD[7:], "ndim"),
        (GOOD[:7] + b"\x01" + GOOD[8:], "reserved"),
        (GOOD[:10], "inside the shape"),
        (GOOD[:-1], "needs"),
        (GOOD + b"\x00", "needs"),
        (GOOD[:8] + b"\x00\x00\x00\x00" + GOOD[12:], ">= 1"),
    ],
)
def test_decode_rejects_malformed(data: bytes, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        encoding.decode_tensor(data)


def test_decode_rejects_non_bytes() -> None:
    with pytest.raises(EncodingError, match="expected bytes"):
        encoding.decode_tensor("ATTN")  # type: ignore[arg-type]


def test_commit_definition_and_salt_sensitivity() -> None:
    zero = b"\x00" * 32
    # keccak256 of 32 zero bytes, a well-known constant.
    assert encoding.commit(zero, b"").hex() == (
        "290decd9548b62a8d60345a988386fc84ba6bc95484008f6362f93160ef3e563"
    )
    data = encoding.encode_tensor(np.ones((1, 3), dtype=np.float32))
    s1, s2 = encoding.new_salt(), encoding.new_salt()
    assert len(s1) == 32 and s1 != s2
    c1 = encoding.commit(s1, data)
    assert c1 == keccak(s1 + data)
    assert c1 != encoding.commit(s2, data)
    assert c1 != encoding.commit(s1, data + b"\x00")
    assert len(c1) == 32


@pytest.mark.parametrize("salt", [b"", b"\x00" * 31, b"\x00" * 33, "00" * 32])
def test_commit_rejects_bad_salt(salt: object) -> None:
    with pytest.raises(EncodingError, match="32 bytes"):
        encoding.commit(salt, b"x")  # type: ignore[arg-type]


def test_commit_rejects_non_bytes_data() -> None:
    with pytest.raises(EncodingError, match="data must be bytes"):
        encoding.commit(b"\x00" * 32, "x")  # type: ignore[arg-type]


def test_parse_input_forms_agree() -> None:
    expected = np.array([[1.5, -2.0, 3.0]], dtype=np.float32)
    forms = [
        {"features": {"c": 3, "a": 1.5, "b": -2.0}},
        {"features": [1.5, -2.0, 3]},
        [1.5, -2.0, 3],
        json.dumps({"features": {"a": 1.5, "b": -2.0, "c": 3.0}}),
        b"[1.5, -2.0, 3.0]",
    ]
    for form in forms:
        x = encoding.parse_input(form, NAMES)
        assert x.dtype == np.float32 and x.shape == (1, 3)
        assert np.array_equal(x, expected)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('{"features": {"a": 1, "b": 2}}', "missing \\['c'\\]"),
        ('{"features": {"a": 1, "b": 2, "c": 3, "d": 4}}', "unknown \\['d'\\]"),
        ("[1, 2]", "expected 3"),
        ('{"features": [1, 2, 3], "extra": 1}', "exactly one key"),
        ('{"feature": [1, 2, 3]}', "exactly one key"),
        ("[1, 2, true]", "must be a number"),
        ('[1, 2, "3"]', "must be a number"),
        ("[1, 2, null]", "must be a number"),
        ("[1, 2, NaN]", "NaN"),
        ("[1, 2, Infinity]", "Infinity"),
        ("[1, 2, -Infinity]", "Infinity"),
        ("[1, 2, 1e39]", "float32 range"),
        ("[1, 2, 1e400]", "finite"),
        ("[1, 2, " + "9" * 400 + "]", "too large"),
        ("[1, 2,", "not valid JSON"),
        ("42", "must be"),
        ('"abc"', "must be"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_parse_input_rejects(payload: str | bytes, message: str) -> None:
    with pytest.raises(InputFormatError, match=message):
        encoding.parse_input(payload, NAMES)


def test_input_to_json_round_trips_bits() -> None:
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((1, 3)) * 1000).astype(np.float32)
    obj = encoding.input_to_json(x, NAMES)
    assert list(obj["features"]) == list(NAMES)
    back = encoding.parse_input(json.dumps(obj), NAMES)
    assert back.tobytes() == x.tobytes()
    with pytest.raises(EncodingError, match="schema has 3"):
        encoding.input_to_json(np.zeros(4, dtype=np.float32), NAMES)


def test_training_item_encoding() -> None:
    row = np.array([1.0, 2.0], dtype=np.float32)
    data = encoding.encode_training_item(row, 1)
    assert data == encoding.encode_tensor(row) + b"\x00\x00\x00\x01"
    assert encoding.item_hash(row, 1) == keccak(data)
    assert encoding.item_hash(row, 0) != encoding.item_hash(row, 1)
    assert encoding.item_hash(row, np.int64(1)) == encoding.item_hash(row, 1)


@pytest.mark.parametrize(
    ("row", "label", "message"),
    [
        (np.zeros((1, 2), dtype=np.float32), 0, "1-dimensional"),
        (np.zeros(2, dtype=np.float32), -1, "out of range"),
        (np.zeros(2, dtype=np.float32), 2**32, "out of range"),
        (np.zeros(2, dtype=np.float32), True, "integer"),
        (np.zeros(2, dtype=np.float32), 1.0, "integer"),
        (np.zeros(2), 0, "float32"),
    ],
)
def test_training_item_rejects(row: np.ndarray, label: object, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        encoding.encode_training_item(row, label)  # type: ignore[arg-type]
