"""The model package manifest: a pure parse/validate/serialise layer (no file I/O).

``manifest.json`` says what a package's ONNX graph expects and returns, how raw features
become model input, and who contributed which training item. Everything a verifier or the
attribution step needs to recompute is in here or hashed from here.

Preprocessing is standardisation applied *before* the ONNX graph, not baked into it:
the graph then holds only Gemm/Relu (what EZKL proves cheaply, with weights of a sensible
scale for fixed-point quantisation), and KNN-Shapley attribution works in exactly the same
standardised space as the model. ``Preprocessing.standardise`` is the one implementation.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from eth_utils import is_checksum_address, is_hex_address

from offchain.models.errors import PackageSchemaError

FORMAT = "attestia-model-package/2"
FORMAT_V1 = "attestia-model-package/1"
PREPROCESSING_KIND = "standardise"
PREPROCESSING_STAGE = "before-graph"
DTYPE = "float32"

_HEX32 = re.compile(r"^0x[0-9a-f]{64}$")


@dataclass(frozen=True)
class InputSchema:
    """The graph's single input: a float32 tensor ``(1, n_features)`` in ``features`` order."""

    name: str
    shape: tuple[int, ...]
    features: tuple[str, ...]


@dataclass(frozen=True)
class OutputSchema:
    """The graph's single output: float32 logits ``(1, n_labels)``; ``labels[i]`` is class i."""

    name: str
    shape: tuple[int, ...]
    logits: tuple[str, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Preprocessing:
    """Per-feature standardisation ``(x - mean) / std``, applied before the graph."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def standardise(self, x: np.ndarray) -> np.ndarray:
        """Standardise raw features (last axis = features) in float64.

        float64 subtraction and division are correctly rounded, so the result is the same
        bits on every IEEE-754 machine; callers feeding the graph cast it to float32.
        """
        arr = np.asarray(x)
        if arr.ndim == 0 or arr.shape[-1] != len(self.mean):
            raise PackageSchemaError(
                f"expected {len(self.mean)} features on the last axis, got shape "
                f"{list(arr.shape)}"
            )
        mean = np.asarray(self.mean, dtype=np.float64)
        std = np.asarray(self.std, dtype=np.float64)
        return (arr.astype(np.float64) - mean) / std


@dataclass(frozen=True)
class Contributor:
    """A named data contributor and the checksummed address that receives its rewards."""

    name: str
    address: str


@dataclass(frozen=True)
class RosterItem:
    """One training item: who contributed it and ``keccak256`` of its canonical bytes."""

    contributor: str
    item_hash: bytes


@dataclass(frozen=True)
class Manifest:
    """Everything ``manifest.json`` declares, validated for internal consistency."""

    name: str
    version: str
    model_sha256: bytes
    network_sha256: bytes
    content_hash: bytes
    """What a registration names (design.md "Integer inference": the ModelSpec hash); the
    loader recomputes it from model.onnx and network.json."""
    input: InputSchema
    output: OutputSchema
    preprocessing: Preprocessing
    train_sha256: bytes
    train_rows: int
    contributors: tuple[Contributor, ...]
    roster: tuple[RosterItem, ...]

    def contributor_index(self, address: str) -> int:
        """Index of a contributor by address (the ``owner`` value in train.npz)."""
        for i, c in enumerate(self.contributors):
            if c.address == address:
                return i
        raise PackageSchemaError(f"{address} is not a contributor of model {self.name}")


def parse_manifest(data: Mapping[str, Any]) -> Manifest:
    """Validate a decoded ``manifest.json`` object and return the typed manifest."""
    if not isinstance(data, Mapping):
        raise PackageSchemaError("manifest must be a JSON object")
    _expect_keys(data, {"format", "name", "version", "model", "input", "output",
                        "preprocessing", "training", "contributors", "roster"}, "manifest")
    if data["format"] == FORMAT_V1:
        raise PackageSchemaError(
            f"this package is {FORMAT_V1!r}, made before integer inference (no network.json); "
            "rebuild it with `attestia model package` (its model id changes)"
        )
    if data["format"] != FORMAT:
        raise PackageSchemaError(
            f"unsupported package format {data['format']!r}; this code reads {FORMAT!r}"
        )
    name = _nonempty_str(data["name"], "name")
    version = _nonempty_str(data["version"], "version")
    model = _object(data["model"], {"sha256", "network", "contentHash"}, "model")
    model_sha = _hex32(model["sha256"], "model.sha256")
    network_sha = _hex32(model["network"], "model.network")
    content = _hex32(model["contentHash"], "model.contentHash")

    raw_in = _object(data["input"], {"name", "dtype", "shape", "features"}, "input")
    _expect_dtype(raw_in["dtype"], "input.dtype")
    features = _names(raw_in["features"], "input.features")
    in_shape = _batch_shape(raw_in["shape"], len(features), "input.shape", "input.features")
    input_schema = InputSchema(_nonempty_str(raw_in["name"], "input.name"), in_shape, features)

    raw_out = _object(data["output"], {"name", "dtype", "shape", "logits", "labels"}, "output")
    _expect_dtype(raw_out["dtype"], "output.dtype")
    logits = _names(raw_out["logits"], "output.logits")
    labels = _names(raw_out["labels"], "output.labels")
    if len(labels) != len(logits):
        raise PackageSchemaError(
            f"output has {len(logits)} logits but {len(labels)} labels; give one label per logit"
        )
    out_shape = _batch_shape(raw_out["shape"], len(logits), "output.shape", "output.logits")
    if len(labels) < 2:
        raise PackageSchemaError("a classifier needs at least two labels")
    output_schema = OutputSchema(
        _nonempty_str(raw_out["name"], "output.name"), out_shape, logits, labels
    )

    pre = _object(data["preprocessing"], {"kind", "stage", "mean", "std"}, "preprocessing")
    if pre["kind"] != PREPROCESSING_KIND or pre["stage"] != PREPROCESSING_STAGE:
        raise PackageSchemaError(
            f"preprocessing must be kind {PREPROCESSING_KIND!r} at stage "
            f"{PREPROCESSING_STAGE!r}, got {pre['kind']!r} at {pre['stage']!r}"
        )
    mean = _floats(pre["mean"], len(features), "preprocessing.mean")
    std = _floats(pre["std"], len(features), "preprocessing.std")
    if any(s <= 0 for s in std):
        raise PackageSchemaError("preprocessing.std must be > 0 for every feature")

    training = _object(data["training"], {"sha256", "rows"}, "training")
    train_sha = _hex32(training["sha256"], "training.sha256")
    rows = training["rows"]
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise PackageSchemaError(f"training.rows must be a positive integer, got {rows!r}")

    contributors = _contributors(data["contributors"])
    roster = _roster(data["roster"], {c.address for c in contributors})
    if len(roster) != rows:
        raise PackageSchemaError(
            f"roster lists {len(roster)} items but training.rows is {rows}; one item per row"
        )
    return Manifest(name, version, model_sha, network_sha, content, input_schema, output_schema,
                    Preprocessing(mean, std), train_sha, rows, contributors, roster)


def manifest_to_json(m: Manifest) -> dict[str, Any]:
    """The JSON object form of a manifest (inverse of ``parse_manifest``)."""
    return {
        "format": FORMAT,
        "name": m.name,
        "version": m.version,
        "model": {"sha256": _hex(m.model_sha256), "network": _hex(m.network_sha256),
                  "contentHash": _hex(m.content_hash)},
        "input": {"name": m.input.name, "dtype": DTYPE, "shape": list(m.input.shape),
                  "features": list(m.input.features)},
        "output": {"name": m.output.name, "dtype": DTYPE, "shape": list(m.output.shape),
                   "logits": list(m.output.logits), "labels": list(m.output.labels)},
        "preprocessing": {"kind": PREPROCESSING_KIND, "stage": PREPROCESSING_STAGE,
                          "mean": list(m.preprocessing.mean), "std": list(m.preprocessing.std)},
        "training": {"sha256": _hex(m.train_sha256), "rows": m.train_rows},
        "contributors": [{"name": c.name, "address": c.address} for c in m.contributors],
        "roster": [{"contributor": r.contributor, "itemHash": _hex(r.item_hash)}
                   for r in m.roster],
    }


def dumps_manifest(m: Manifest) -> bytes:
    """Deterministic manifest bytes: sorted keys, fixed indentation, trailing newline.

    Python's float repr round-trips float64 exactly, so mean/std survive a save/load.
    """
    try:
        text = json.dumps(manifest_to_json(m), indent=1, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise PackageSchemaError(f"manifest cannot be serialised: {exc}") from exc
    return (text + "\n").encode()


def loads_manifest(text: bytes | str) -> Manifest:
    """Parse manifest bytes; non-JSON or NaN/Infinity tokens are schema errors."""
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PackageSchemaError(f"manifest.json is not valid JSON: {exc}") from exc
    return parse_manifest(data)


def _reject_constant(token: str) -> None:
    raise PackageSchemaError(f"manifest.json contains {token}; numbers must be finite")


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _expect_keys(obj: Mapping[str, Any], keys: set[str], where: str) -> None:
    missing, extra = sorted(keys - set(obj)), sorted(set(obj) - keys)
    if missing or extra:
        raise PackageSchemaError(f"{where}: missing keys {missing}, unexpected keys {extra}")


def _object(value: Any, keys: set[str], where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PackageSchemaError(f"{where} must be an object")
    _expect_keys(value, keys, where)
    return value


def _nonempty_str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise PackageSchemaError(f"{where} must be a non-empty string, got {value!r}")
    return value


def _hex32(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or not _HEX32.match(value):
        raise PackageSchemaError(f"{where} must be 0x + 64 lowercase hex digits, got {value!r}")
    return bytes.fromhex(value[2:])


def _expect_dtype(value: Any, where: str) -> None:
    if value != DTYPE:
        raise PackageSchemaError(f"{where} must be {DTYPE!r}, got {value!r}")


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise PackageSchemaError(f"{where} must be a non-empty list of names")
    names = tuple(_nonempty_str(v, where) for v in value)
    if len(set(names)) != len(names):
        raise PackageSchemaError(f"{where} has duplicate names")
    return names


def _batch_shape(value: Any, width: int, where: str, names_where: str) -> tuple[int, ...]:
    if (not isinstance(value, list) or len(value) != 2
            or any(isinstance(d, bool) or not isinstance(d, int) for d in value)):
        raise PackageSchemaError(f"{where} must be [1, n], got {value!r}")
    if value[0] != 1 or value[1] != width:
        raise PackageSchemaError(
            f"{where} is {value} but {names_where} has {width} names; expected [1, {width}]"
        )
    return (1, width)


def _floats(value: Any, count: int, where: str) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != count:
        raise PackageSchemaError(f"{where} must be a list of {count} numbers")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise PackageSchemaError(f"{where} must hold finite numbers, got {v!r}")
        out.append(float(v))
    return tuple(out)


def _contributors(value: Any) -> tuple[Contributor, ...]:
    if not isinstance(value, list) or not value:
        raise PackageSchemaError("contributors must be a non-empty list")
    out = []
    for raw in value:
        c = _object(raw, {"name", "address"}, "contributors[]")
        out.append(Contributor(_nonempty_str(c["name"], "contributor name"),
                               _address(c["address"], "contributor address")))
    if len({c.name for c in out}) != len(out) or len({c.address for c in out}) != len(out):
        raise PackageSchemaError("contributor names and addresses must be unique")
    return tuple(out)


def _address(value: Any, where: str) -> str:
    if not isinstance(value, str) or not is_hex_address(value):
        raise PackageSchemaError(f"{where} must be a 20-byte hex address, got {value!r}")
    if not is_checksum_address(value):
        raise PackageSchemaError(
            f"{where} {value} is not EIP-55 checksummed; write it with to_checksum_address"
        )
    if int(value, 16) == 0:  # rewards paid there are burnt: nobody holds its key
        raise PackageSchemaError(f"{where} is the zero address, which nobody can claim from; "
                                 "give the contributor's own address")
    return value


def _roster(value: Any, addresses: set[str]) -> tuple[RosterItem, ...]:
    if not isinstance(value, list):
        raise PackageSchemaError("roster must be a list of items")
    out = []
    for i, raw in enumerate(value):
        item = _object(raw, {"contributor", "itemHash"}, f"roster[{i}]")
        address = _address(item["contributor"], f"roster[{i}].contributor")
        if address not in addresses:
            raise PackageSchemaError(f"roster[{i}] names {address}, who is not a contributor")
        out.append(RosterItem(address, _hex32(item["itemHash"], f"roster[{i}].itemHash")))
    return tuple(out)


def build_manifest(
    *,
    name: str,
    version: str,
    model_sha256: bytes,
    network_sha256: bytes,
    content_hash: bytes,
    input_schema: InputSchema,
    output_schema: OutputSchema,
    preprocessing: Preprocessing,
    train_sha256: bytes,
    contributors: Sequence[Contributor],
    roster: Sequence[RosterItem],
) -> Manifest:
    """Assemble a manifest and validate it by a JSON round trip (one set of rules)."""
    m = Manifest(name, version, model_sha256, network_sha256, content_hash, input_schema,
                 output_schema, preprocessing, train_sha256, len(roster), tuple(contributors),
                 tuple(roster))
    return parse_manifest(json.loads(dumps_manifest(m)))
