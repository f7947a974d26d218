"""Bring your own model: a package from an ONNX file, a training-data file and a roster file.

The demo package and ``attestia model package`` go through the one builder here,
:func:`build_package`, which derives the manifest's input/output schema from the graph, the
standardisation from the contributed rows, runs the graph over every training row, quantises
its weights into the integer network (``offchain.models.network``: dense Gemm/MatMul/Add/Relu
graphs only, every neuron inside the int64 accumulator bound), and only then writes (into a
temporary directory next to the destination, loaded back with
:func:`offchain.models.package.load_package` before it is renamed into place), so a failure
leaves nothing behind.

Input files (also in README.md and docs/design.md):

* roster, JSON: ``[{"name": "alice-hospital", "address": "0x9965…"}, ...]`` (or that list
  under ``"contributors"``); CSV: a header ``name,address`` and one contributor a line.
  Names and addresses unique; addresses EIP-55 checksummed.
* training data, CSV: a header naming the feature columns (in the model's input order), a
  ``label`` column and a ``contributor`` column (a roster name or address), one training item a
  line; JSON: ``{"features": [names...], "rows": [{"values": [...], "label": L,
  "contributor": C}, ...]}``. A label is a class index ``0..k-1`` or one of ``--labels``.

Values are read as float64 and must be exactly representable as float32 (they are what the
roster hashes commit to; a silent rounding would commit to other bytes than the file says).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from offchain.attribution.errors import InvalidInputError
from offchain.attribution.integer import quantization
from offchain.models import runtime
from offchain.models.errors import ModelError, PackageSchemaError
from offchain.models.manifest import (
    Contributor,
    InputSchema,
    Manifest,
    OutputSchema,
    Preprocessing,
    RosterItem,
    manifest_to_json,
    parse_manifest,
)
from offchain.models.network import dense_layers, quantise_layers
from offchain.models.package import (
    ModelPackage,
    _parse_onnx,
    _value_info,
    load_package,
    save_package,
)
from offchain.protocol import ZERO32
from offchain.storage.atomic import replacing_dir

LABEL_COLUMN = "label"
CONTRIBUTOR_COLUMN = "contributor"
MAX_FILE_BYTES = 1 << 30


@dataclass(frozen=True)
class TrainingSet:
    """Contributed rows as the package stores them."""

    feature_names: tuple[str, ...]
    X_raw: np.ndarray
    y: np.ndarray
    owner: np.ndarray


def standardisation(X_raw: np.ndarray) -> Preprocessing:
    """Per-feature mean and (population) std of the contributed rows, in float64."""
    raw64 = np.asarray(X_raw).astype(np.float64)
    pre = Preprocessing(tuple(float(v) for v in raw64.mean(axis=0)),
                        tuple(float(v) for v in raw64.std(axis=0)))
    return pre


def build_package(
    out_dir: str | Path,
    onnx_bytes: bytes,
    *,
    name: str,
    version: str,
    labels: Sequence[str],
    contributors: Sequence[Contributor],
    training: TrainingSet,
    preprocessing: Preprocessing | None = None,
    overwrite: bool = False,
) -> Path:
    """Check everything, then write the package to ``out_dir`` and load it back. Returns
    ``out_dir``. Raises a ``ModelError`` (nothing written) on any inconsistency.

    ``out_dir`` must not exist or be empty, unless ``overwrite`` (the demo rebuilding its own
    package): then the new package files replace those there, all at once (built beside the
    directory and swapped in when complete), and whatever else is there stays."""
    out = _check_out(Path(out_dir), overwrite)
    features, labels = training.feature_names, tuple(labels)
    X_raw, rows = training.X_raw, len(training.X_raw)
    if X_raw.dtype != np.float32 or X_raw.shape != (rows, len(features)) or rows < 1:
        raise PackageSchemaError("training X_raw must be float32 rows x features, >= 1 row")
    if training.y.shape != (rows,) or training.owner.shape != (rows,):
        raise PackageSchemaError("training y and owner need one entry per row")
    if training.owner.min() < 0 or training.owner.max() >= len(contributors):
        raise PackageSchemaError("training owner indices must index the contributors")
    if training.y.min() < 0:
        raise PackageSchemaError("training labels must be class indices >= 0")
    pre = preprocessing or standardisation(training.X_raw)
    for feature, std in zip(features, pre.std, strict=True):
        if not std > 0:
            raise PackageSchemaError(f"feature {feature!r} is constant in the training data; "
                                     "standardisation would divide by zero")
    _check_quantisable(pre)
    model = _parse_onnx(onnx_bytes)
    input_name, output_name = _graph_io(model, len(features), len(labels))
    input_schema = InputSchema(input_name, (1, len(features)), features)
    output_schema = OutputSchema(output_name, (1, len(labels)),
                                 tuple(f"logit_{label}" for label in labels), labels)
    if int(training.y.max(initial=0)) >= len(labels):
        raise PackageSchemaError(f"the training data has labels outside 0..{len(labels) - 1}")
    _check_runs(onnx_bytes, pre, training.X_raw, len(labels))
    # The weights are quantised once, here (design.md "Integer inference"); a graph outside
    # the dense ReLU family or a row outside the int64 accumulator bound is refused.
    network = quantise_layers(dense_layers(model))
    # The manifest's own rules (names, addresses, label names) before any file is written.
    _precheck_manifest(name, version, input_schema, output_schema, pre, contributors,
                       training.owner)

    # keep_others: a package rebuilt in place (the demo's) keeps what else is there (zk/).
    with replacing_dir(out, keep_others=True) as tmp:
        save_package(tmp, onnx_bytes, name=name, version=version, input_schema=input_schema,
                     output_schema=output_schema, preprocessing=pre,
                     contributors=contributors, X_raw=training.X_raw, y=training.y,
                     owner=training.owner, network=network)
    load_package(out)
    return out


def _check_quantisable(pre: Preprocessing) -> None:
    """The integer attribution must be able to quantise every feature (design.md "Integer
    attribution"): refused here, before anything is written, not at registration."""
    try:
        quantization(pre)
    except InvalidInputError as exc:
        raise PackageSchemaError(f"the training data cannot be attributed in integers: {exc}"
                                 ) from None


def package_from_files(
    onnx_path: str | Path, data_path: str | Path, roster_path: str | Path, out_dir: str | Path,
    *, name: str | None = None, version: str = "1.0.0", labels: Sequence[str] | None = None,
) -> ModelPackage:
    """``attestia model package``: read and check the three files, build, load the result."""
    _check_out(Path(out_dir), False)
    onnx_bytes = _read(Path(onnx_path), "ONNX file")
    contributors = read_roster(roster_path)
    model = _parse_onnx(onnx_bytes)
    width = _output_width(model)
    label_names = tuple(labels) if labels else tuple(str(i) for i in range(width))
    if len(set(label_names)) != len(label_names) or any(not n for n in label_names):
        raise PackageSchemaError("--labels must be distinct non-empty names")
    training = read_training(data_path, contributors, label_names)
    out = build_package(out_dir, onnx_bytes, name=name or Path(onnx_path).stem,
                        version=version, labels=label_names, contributors=contributors,
                        training=training)
    return load_package(out)


def _check_out(out: Path, overwrite: bool) -> Path:
    if out.exists() and not out.is_dir():
        raise PackageSchemaError(f"{out} exists and is not a directory; choose another --out")
    if not overwrite and out.exists() and any(out.iterdir()):
        raise PackageSchemaError(f"{out} already exists and is not empty; choose another --out")
    return out


def read_roster(path: str | Path) -> list[Contributor]:
    """The contributor roster from a JSON or CSV file (see the module docstring)."""
    p = Path(path)
    text = _text(p, "roster file")
    rows: Any
    if _is_json(p, text):
        rows = _json(text, p)
        if isinstance(rows, dict) and set(rows) == {"contributors"}:
            rows = rows["contributors"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise PackageSchemaError(f"{p}: a JSON roster is a list of "
                                     '{"name": ..., "address": ...} objects')
    else:
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or sorted(reader.fieldnames) != ["address", "name"]:
            raise PackageSchemaError(f"{p}: a CSV roster has the header name,address, got "
                                     f"{reader.fieldnames}")
        rows = list(reader)
    if not rows:
        raise PackageSchemaError(f"{p}: the roster is empty")
    out = []
    for i, row in enumerate(rows):
        if set(row) != {"name", "address"}:
            raise PackageSchemaError(f"{p}: contributor {i + 1} needs exactly name and address")
        name, address = row["name"], row["address"]
        if not isinstance(name, str) or not isinstance(address, str):
            raise PackageSchemaError(f"{p}: contributor {i + 1}: name and address are strings")
        out.append(Contributor(name.strip(), address.strip()))
    try:
        parse_manifest_contributors(out)
    except PackageSchemaError as exc:
        raise PackageSchemaError(f"{p}: {exc}") from None
    return out


def read_training(path: str | Path, contributors: Sequence[Contributor],
                  labels: Sequence[str]) -> TrainingSet:
    """The training rows from a CSV or JSON file (see the module docstring)."""
    p = Path(path)
    text = _text(p, "training-data file")
    records: list[tuple[int, list[Any], Any, Any]] = []
    if _is_json(p, text):
        data = _json(text, p)
        if (not isinstance(data, dict) or set(data) != {"features", "rows"}
                or not isinstance(data["rows"], list)):
            raise PackageSchemaError(f'{p}: JSON training data is {{"features": [names], '
                                     '"rows": [{"values": [...], "label": L, '
                                     '"contributor": C}]}')
        names = data["features"]
        for i, row in enumerate(data["rows"]):
            if not isinstance(row, dict) or set(row) != {"values", "label", "contributor"}:
                raise PackageSchemaError(f"{p}: row {i + 1} needs exactly values, label, "
                                         "contributor")
            if not isinstance(row["values"], list):
                raise PackageSchemaError(f"{p}: row {i + 1}: values must be a list")
            records.append((i + 1, row["values"], row["label"], row["contributor"]))
    else:
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if not header or LABEL_COLUMN not in header or CONTRIBUTOR_COLUMN not in header:
            raise PackageSchemaError(f"{p}: the CSV header needs the feature columns, "
                                     f"{LABEL_COLUMN!r} and {CONTRIBUTOR_COLUMN!r}")
        li, ci = header.index(LABEL_COLUMN), header.index(CONTRIBUTOR_COLUMN)
        cols = [j for j in range(len(header)) if j not in (li, ci)]
        names = [header[j].strip() for j in cols]
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise PackageSchemaError(f"{p}: line {line} has {len(row)} fields, the header "
                                         f"{len(header)}")
            records.append((line, [row[j] for j in cols], row[li], row[ci]))
    if (not isinstance(names, list) or not names
            or not all(isinstance(n, str) and n for n in names)
            or len(set(names)) != len(names)):
        raise PackageSchemaError(f"{p}: feature names must be distinct non-empty strings")
    if not records:
        raise PackageSchemaError(f"{p}: no training rows")
    owner_of = {c.name: i for i, c in enumerate(contributors)}
    owner_of |= {c.address.lower(): i for i, c in enumerate(contributors)}
    label_of = {name: i for i, name in enumerate(labels)}
    X = np.empty((len(records), len(names)), dtype=np.float32)
    y = np.empty(len(records), dtype=np.int64)
    owner = np.empty(len(records), dtype=np.int64)
    for r, (where, values, label, who) in enumerate(records):
        if len(values) != len(names):
            raise PackageSchemaError(f"{p}: row {where} has {len(values)} feature values, "
                                     f"expected {len(names)}")
        for j, value in enumerate(values):
            X[r, j] = _float32(value, f"{p}: row {where}, feature {names[j]!r}")
        y[r] = _label(label, label_of, len(labels), f"{p}: row {where}")
        key = who.strip() if isinstance(who, str) else who
        index = owner_of.get(key) if isinstance(key, str) else None
        if index is None and isinstance(key, str):
            index = owner_of.get(key.lower())
        if index is None:
            raise PackageSchemaError(f"{p}: row {where}: contributor {who!r} is not in the "
                                     "roster (use its name or address)")
        owner[r] = index
    return TrainingSet(tuple(names), X, y, owner)


def parse_manifest_contributors(contributors: Sequence[Contributor]) -> None:
    """The manifest's contributor rules (non-empty, unique, checksummed), checked alone."""
    from offchain.models.manifest import _contributors

    _contributors([{"name": c.name, "address": c.address} for c in contributors])


def _precheck_manifest(name: str, version: str, input_schema: InputSchema,
                       output_schema: OutputSchema, pre: Preprocessing,
                       contributors: Sequence[Contributor], owner: np.ndarray) -> None:
    """Run the manifest's rules over everything but the hashes before any file is written."""
    zero = ZERO32
    roster = tuple(RosterItem(contributors[int(o)].address, zero) for o in owner)
    parse_manifest(manifest_to_json(Manifest(
        name, version, zero, zero, zero, input_schema, output_schema, pre, zero, len(roster),
        tuple(contributors), roster)))


def _graph_io(model: onnx.ModelProto, n_features: int, n_labels: int) -> tuple[str, str]:
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise PackageSchemaError(f"the ONNX graph must have one input and one output; it has "
                                 f"{len(inputs)} and {len(graph.output)}")
    for kind, info, width, what in (("input", inputs[0], n_features, "features"),
                                    ("output", graph.output[0], n_labels, "labels")):
        elem_type, dims = _value_info(info)
        if elem_type != onnx.TensorProto.FLOAT:
            raise PackageSchemaError(f"the ONNX graph's {kind} {info.name!r} is not float32")
        if dims != (1, width):
            raise PackageSchemaError(f"the ONNX graph's {kind} {info.name!r} has shape "
                                     f"{list(dims)}; with {width} {what} it must be "
                                     f"[1, {width}]")
    return inputs[0].name, graph.output[0].name


def _output_width(model: onnx.ModelProto) -> int:
    if len(model.graph.output) != 1:
        raise PackageSchemaError("the ONNX graph must have exactly one output (the logits)")
    _, dims = _value_info(model.graph.output[0])
    if len(dims) != 2 or not isinstance(dims[1], int) or dims[1] < 1:
        raise PackageSchemaError(f"the ONNX graph's output has shape {list(dims)}; expected "
                                 "[1, number of labels]")
    return dims[1]


def _check_runs(onnx_bytes: bytes, pre: Preprocessing, X_raw: np.ndarray, n_labels: int
                ) -> None:
    """Run the graph on every training row: it must load and return finite logits."""
    try:
        session = runtime.session_from_bytes(onnx_bytes)
        for row in X_raw:
            logits = np.asarray(session.run(pre.standardise(row[None]).astype(np.float32)))
            if logits.shape != (1, n_labels) or not np.all(np.isfinite(logits)):
                raise PackageSchemaError(f"the ONNX graph returned {list(logits.shape)} "
                                         "or non-finite logits for a training row")
    except ModelError:
        raise
    except Exception as exc:  # onnxruntime's own errors on a graph it cannot run
        raise PackageSchemaError(f"the ONNX graph does not run: {exc}") from exc


def _float32(value: Any, where: str) -> np.float32:
    if isinstance(value, bool):
        raise PackageSchemaError(f"{where}: {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PackageSchemaError(f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number) or abs(number) > float(np.finfo(np.float32).max):
        raise PackageSchemaError(f"{where}: {value!r} is not a finite float32")
    single = np.float32(number)
    if float(single) != number:
        raise PackageSchemaError(f"{where}: {value!r} is not exactly a float32 (nearest "
                                 f"{float(single)!r}); round the data to float32 first")
    return single


def _label(value: Any, label_of: dict[str, int], count: int, where: str) -> int:
    if isinstance(value, str) and value.strip() in label_of:
        return label_of[value.strip()]
    try:
        index = int(value) if not isinstance(value, bool | float) else None
    except (TypeError, ValueError):
        index = None
    if index is None or not 0 <= index < count:
        raise PackageSchemaError(f"{where}: label {value!r} is neither a class index "
                                 f"0..{count - 1} nor one of {sorted(label_of)}")
    return index


def _read(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise PackageSchemaError(f"{what} {path} is larger than 1 GiB")
        return path.read_bytes()
    except FileNotFoundError:
        raise PackageSchemaError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise PackageSchemaError(f"{what} {path} is a directory") from None
    except OSError as exc:
        raise PackageSchemaError(f"{what} {path} cannot be read: {exc}") from None


def _text(path: Path, what: str) -> str:
    try:
        return _read(path, what).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PackageSchemaError(f"{what} {path} is not UTF-8 text") from None


def _is_json(path: Path, text: str) -> bool:
    if path.suffix.lower() == ".json":
        return True
    if path.suffix.lower() == ".csv":
        return False
    return text.lstrip()[:1] in ("[", "{")


def _json(text: str, path: Path) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PackageSchemaError(f"{path} is not valid JSON: {exc}") from None
