"""Model packages on disk: save, load (with full validation), model id, data root.

A package is a directory::

    model.onnx      the float graph (run by ONNX Runtime as a cross-check, proven by EZKL)
    network.json    the integer network quantised from it once by the builder
                    (``network.py``): what a record's output is
    manifest.json   schema, preprocessing, contributors, roster, both files' sha-256
                    (see ``manifest.py``)
    train.npz       X (standardised float64), X_raw (float32 as contributed), y (int64),
                    owner (int64 index into manifest contributors), one row per roster item

The registered content hash is ``keccak256(abi.encode(ModelSpec(sha256(model.onnx),
weightsRoot, widths)))`` (design.md "Integer inference"): the weights root is the indexed
Merkle root of the integer network's neuron rows, so one row can be proven on chain with one
proof (the on-chain model id is keccak256(owner, content hash): see ``registrations.py``).

Loading trusts nothing: it checks the three sha-256s, the ONNX graph's input/output names and
shapes against the manifest, that network.json is the graph's weights quantised at its
declared shifts and inside the accumulator bounds, every array's dtype and shape, that
``X`` is exactly ``standardise(X_raw)``, and that each roster item is ``(contributor of the row,
keccak256(canonical row + label))``. A package that loads is one whose roster, content
hash and attribution data all describe the same thing.

The registered ``dataRoot`` is the hash of the package's ``AttributionSpec`` (design.md
"Integer attribution"): the indexed root over the quantised roster items, N, K and the
quantisation parameters, all derived here from ``X_raw``, ``y``, the owners and the manifest's
mean/std. :meth:`ModelPackage.integer_index` is the prepared integer KNN-Shapley index the
worker records attributions with (built once per loaded package).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from offchain.attribution.integer import (
    IntegerContributors,
    IntegerKnnShapley,
    quantization,
    quantize,
)
from offchain.attribution.trace import ItemsTree
from offchain.models import encoding
from offchain.models.errors import (
    ModelPackageError,
    PackageFileMissing,
    PackageIntegrityError,
    PackageSchemaError,
)
from offchain.models.manifest import (
    Contributor,
    InputSchema,
    Manifest,
    OutputSchema,
    Preprocessing,
    RosterItem,
    build_manifest,
    dumps_manifest,
    loads_manifest,
)
from offchain.models.network import (
    IntegerNetwork,
    dense_layers,
    labels_of,
    logits_to_float32,
    matches_layers,
    network_from_json,
    network_to_json,
    quantise_layers,
)
from offchain.protocol import (
    ROSTER_LEAF_TYPES,
    AttributionSpec,
    ModelSpec,
    attribution_spec_hash,
    model_spec_hash,
    sorted_roster,
)
from offchain.storage.atomic import atomic_write_bytes

ATTRIBUTION_K = 5
"""The K of the KNN utility every package's attribution uses (``offchain.record.compute``)."""

MODEL_FILE = "model.onnx"
NETWORK_FILE = "network.json"
MANIFEST_FILE = "manifest.json"
TRAIN_FILE = "train.npz"
PACKAGE_FILES = (MODEL_FILE, NETWORK_FILE, MANIFEST_FILE, TRAIN_FILE)
"""Every file of a package (what a copy of one copies)."""

_TRAIN_ARRAYS = ("X", "X_raw", "y", "owner")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class TrainingData:
    """The attribution set: standardised features, raw features, labels and row owners."""

    X: np.ndarray
    X_raw: np.ndarray
    y: np.ndarray
    owner: np.ndarray


@dataclass(frozen=True)
class ModelPackage:
    """A loaded, validated model package."""

    path: Path
    manifest: Manifest
    training: TrainingData
    network: IntegerNetwork

    @property
    def content_hash(self) -> bytes:
        """``keccak256(abi.encode(model_spec()))`` (bytes32): the ``contentHash`` a
        registration names. It commits to model.onnx and to the integer network's weights.

        Not the on-chain model id: that is ``keccak256(abi.encode(owner, contentHash))``
        (``offchain.protocol.model_id``), one per registering owner; find it with
        ``offchain.models.registrations.resolve_model_id``."""
        return self._content_hash

    @property
    def onnx_sha256(self) -> bytes:
        """sha-256 of model.onnx: what the package's zk artifacts are made for (the circuit
        is per file) and the ``ModelSpec.onnxSha256`` the content hash commits to."""
        return self.manifest.model_sha256

    def model_spec(self) -> ModelSpec:
        """The ``ModelSpec`` the content hash commits to: sha-256 of model.onnx, the weights
        root and the layer widths."""
        return ModelSpec(self.manifest.model_sha256, self.network.weights_root,
                         self.network.widths)

    @cached_property
    def _content_hash(self) -> bytes:
        return model_spec_hash(self.model_spec())

    # -- integer inference (design.md "Integer inference") ----------------------------------

    def integer_logits(self, raw: np.ndarray) -> np.ndarray:
        """Raw float32 features ``(batch, d)`` -> the integer network's int64 logits, one row
        per input (vectorised; every row is independent of the others)."""
        return self.network.logits(self.quantise(np.asarray(raw).reshape(-1, len(
            self.feature_names))))

    def integer_labels(self, raw: np.ndarray) -> np.ndarray:
        """The integer network's labels of raw float32 rows (argmax, ties to the lowest)."""
        return labels_of(self.integer_logits(raw))

    def output_tensor(self, logits: np.ndarray) -> np.ndarray:
        """One row of integer logits as the float32 ``(1, n_labels)`` output tensor a record
        commits to (``L / 2**16``, exact)."""
        return logits_to_float32(np.asarray(logits).reshape(self.manifest.output.shape))

    @property
    def roster(self) -> list[str]:
        """The contributor roster as the registry takes it: every manifest contributor's
        address, distinct, sorted ascending (``protocol.sorted_roster``)."""
        return sorted_roster(c.address for c in self.manifest.contributors)

    @property
    def onnx_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.manifest.input.features

    @property
    def labels(self) -> tuple[str, ...]:
        return self.manifest.output.labels

    def parse_input(self, payload: Any) -> np.ndarray:
        """A user's input JSON -> raw float32 ``(1, n_features)`` (what the input commits to)."""
        return encoding.parse_input(payload, self.feature_names)

    def standardise(self, x: np.ndarray) -> np.ndarray:
        """Raw features -> standardised float64, the space of ``training.X`` and KNN-Shapley."""
        return self.manifest.preprocessing.standardise(x)

    def model_input(self, raw: np.ndarray) -> np.ndarray:
        """Raw features -> the float32 tensor fed to the ONNX graph."""
        return self.standardise(raw).astype(np.float32)

    def row_owners(self) -> tuple[str, ...]:
        """The contributor address of every training row, in row order."""
        return tuple(self.manifest.contributors[int(i)].address for i in self.training.owner)

    def roster_values(self) -> list[tuple[str, bytes]]:
        """The roster as ``(address, bytes32)`` Merkle leaf values, in row order."""
        return [(r.contributor, r.item_hash) for r in self.manifest.roster]

    def roster_root(self) -> bytes:
        """OpenZeppelin StandardMerkleTree root over ``(address, bytes32)`` roster items (the
        float32 rows as contributed; not the registered dataRoot, see :meth:`data_root`)."""
        return roster_root(self.roster_values())

    # -- integer attribution (design.md "Integer attribution") ------------------------------

    def quantization(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``(mu, rho)`` from the manifest's mean/std."""
        return self._quantization

    def quantised_items(self) -> np.ndarray:
        """The roster rows in the model's quantised space, int64 ``(N, d)`` (read-only)."""
        return self._quantised_items

    def quantise(self, raw: np.ndarray) -> np.ndarray:
        """Raw float32 features (last axis) -> quantised int64, the rule of the roster rows."""
        mu, rho = self._quantization
        return quantize(np.asarray(raw), mu, rho)

    def items_tree(self) -> ItemsTree:
        """The indexed tree of ``DataItem`` leaves (``itemsRoot``) with item proofs."""
        return self._items_tree

    def attribution_spec(self, k: int = ATTRIBUTION_K) -> AttributionSpec:
        """The model's ``AttributionSpec``: items root, N, K, mu, rho."""
        mu, rho = self._quantization
        return AttributionSpec(self._items_tree.root, self.manifest.train_rows, k, mu, rho)

    def data_root(self) -> bytes:
        """The registered ``dataRoot``: ``keccak256(abi.encode(attribution_spec()))``."""
        return attribution_spec_hash(self.attribution_spec())

    def integer_index(self, k: int = ATTRIBUTION_K) -> IntegerKnnShapley:
        """The prepared integer KNN-Shapley index over the quantised roster (cached for K)."""
        if k != ATTRIBUTION_K:
            return IntegerKnnShapley(self._quantised_items, self.training.y, k)
        return self._integer_index

    def integer_contributors(self) -> IntegerContributors:
        """Row owners by slot of the sorted roster (running sums, equal split)."""
        return self._integer_contributors

    @cached_property
    def _quantization(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return quantization(self.manifest.preprocessing)

    @cached_property
    def _quantised_items(self) -> np.ndarray:
        items = self.quantise(self.training.X_raw)
        items.setflags(write=False)
        return items

    @cached_property
    def _items_tree(self) -> ItemsTree:
        return ItemsTree(self._quantised_items, self.training.y, self.row_owners())

    @cached_property
    def _integer_index(self) -> IntegerKnnShapley:
        return IntegerKnnShapley(self._quantised_items, self.training.y, ATTRIBUTION_K)

    @cached_property
    def _integer_contributors(self) -> IntegerContributors:
        return IntegerContributors(self.row_owners(), roster=self.roster)


def onnx_sha256(onnx_path: str | Path) -> bytes:
    """sha-256 of an ONNX file's bytes: the ``ModelSpec.onnxSha256`` the content hash
    commits to (design.md "Integer inference")."""
    return hashlib.sha256(_read(Path(onnx_path))).digest()


def roster_root(values: Sequence[tuple[str, bytes]]) -> bytes:
    """StandardMerkleTree root over roster leaves, via the project's one Merkle module.

    Imported here, not at module top, so models load even where ``offchain.merkle`` is not
    installed; only the root needs it.
    """
    try:
        from offchain.merkle import StandardMerkleTree
    except ImportError as exc:
        raise ModelPackageError(
            "offchain.merkle is not available; it is needed to compute the roster root"
        ) from exc
    if not values:
        raise PackageSchemaError("cannot compute a roster root over zero items")
    root = StandardMerkleTree.of([list(v) for v in values], list(ROSTER_LEAF_TYPES)).root
    return bytes.fromhex(root.removeprefix("0x"))


def graph_op_types(onnx_path: str | Path) -> list[str]:
    """Op types of the graph's nodes in node order (EZKL supports only some ops)."""
    return [node.op_type for node in _parse_onnx(_read(Path(onnx_path))).graph.node]


def save_package(
    out_dir: str | Path,
    onnx_bytes: bytes,
    *,
    name: str,
    version: str,
    input_schema: InputSchema,
    output_schema: OutputSchema,
    preprocessing: Preprocessing,
    contributors: Sequence[Contributor],
    X_raw: np.ndarray,
    y: np.ndarray,
    owner: np.ndarray,
    network: IntegerNetwork | None = None,
) -> Path:
    """Write a package (deterministically: same arguments, same bytes) and load it back.

    ``X_raw`` is the float32 data as contributed; ``X`` is derived with ``preprocessing``
    so it cannot disagree; ``network`` is the graph's integer network (quantised here with
    ``network.quantise_layers`` when not given). Returns the package directory; raises if it
    does not validate.
    """
    X_raw = np.asarray(X_raw)
    if X_raw.dtype != np.float32 or X_raw.ndim != 2:
        raise PackageSchemaError("X_raw must be a 2-D float32 array (rows x features)")
    y = np.asarray(y, dtype=np.int64)
    owner = np.asarray(owner, dtype=np.int64)
    if y.shape != (len(X_raw),) or owner.shape != (len(X_raw),):
        raise PackageSchemaError("y and owner need one entry per row of X_raw")
    if owner.min() < 0 or owner.max() >= len(contributors):
        raise PackageSchemaError("owner indices must index the contributors list")
    X = preprocessing.standardise(X_raw)
    train_bytes = _npz_bytes({"X": X, "X_raw": X_raw, "y": y, "owner": owner})
    roster = [
        RosterItem(contributors[int(o)].address, encoding.item_hash(row, int(label)))
        for row, label, o in zip(X_raw, y, owner, strict=True)
    ]
    if network is None:
        network = quantise_layers(dense_layers(_parse_onnx(onnx_bytes)))
    network_bytes = dumps_network(network)
    manifest = build_manifest(
        name=name,
        version=version,
        model_sha256=hashlib.sha256(onnx_bytes).digest(),
        network_sha256=hashlib.sha256(network_bytes).digest(),
        content_hash=model_spec_hash(ModelSpec(hashlib.sha256(onnx_bytes).digest(),
                                               network.weights_root, network.widths)),
        input_schema=input_schema,
        output_schema=output_schema,
        preprocessing=preprocessing,
        train_sha256=hashlib.sha256(train_bytes).digest(),
        contributors=contributors,
        roster=roster,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / MODEL_FILE, onnx_bytes)
    atomic_write_bytes(out / NETWORK_FILE, network_bytes)
    atomic_write_bytes(out / TRAIN_FILE, train_bytes)
    atomic_write_bytes(out / MANIFEST_FILE, dumps_manifest(manifest))
    load_package(out)
    return out


def load_package(path: str | Path) -> ModelPackage:
    """Read and fully validate a package directory (see the module docstring)."""
    root = Path(path)
    if not root.is_dir():
        raise PackageFileMissing(f"model package directory {root} does not exist")
    manifest = loads_manifest(_read(root / MANIFEST_FILE))
    onnx_bytes = _read(root / MODEL_FILE)
    _check_sha(onnx_bytes, manifest.model_sha256, root / MODEL_FILE)
    model = _parse_onnx(onnx_bytes)
    _check_graph(model, manifest)
    network_bytes = _read(root / NETWORK_FILE)
    _check_sha(network_bytes, manifest.network_sha256, root / NETWORK_FILE)
    network = _check_network(network_bytes, model, manifest)
    train_bytes = _read(root / TRAIN_FILE)
    _check_sha(train_bytes, manifest.train_sha256, root / TRAIN_FILE)
    training = _check_training(_load_npz(train_bytes), manifest)
    package = ModelPackage(root, manifest, training, network)
    if package.content_hash != manifest.content_hash:
        raise PackageIntegrityError(
            f"manifest.json declares content hash 0x{manifest.content_hash.hex()}, but "
            f"model.onnx and network.json hash to 0x{package.content_hash.hex()}")
    return package


def dumps_network(network: IntegerNetwork) -> bytes:
    """Deterministic ``network.json`` bytes (compact, sorted keys, trailing newline)."""
    return (json.dumps(network_to_json(network), sort_keys=True, separators=(",", ":"))
            + "\n").encode()


def _check_network(data: bytes, model: onnx.ModelProto, manifest: Manifest) -> IntegerNetwork:
    try:
        network = network_from_json(json.loads(data))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PackageSchemaError(f"network.json is not valid JSON: {exc}") from exc
    widths = (manifest.input.shape[1], manifest.output.shape[1])
    if (network.widths[0], network.widths[-1]) != widths:
        raise PackageIntegrityError(f"network.json has widths {list(network.widths)}; the "
                                    f"manifest declares {widths[0]} inputs and {widths[1]} "
                                    "logits")
    why = matches_layers(network, dense_layers(model))
    if why is not None:
        raise PackageIntegrityError(f"network.json is not model.onnx quantised: {why}")
    return network


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise PackageFileMissing(f"{path} is missing; rebuild or re-download the package") from exc
    except OSError as exc:
        raise PackageFileMissing(f"{path} cannot be read: {exc}") from exc


def _check_sha(data: bytes, expected: bytes, path: Path) -> None:
    actual = hashlib.sha256(data).digest()
    if actual != expected:
        raise PackageIntegrityError(
            f"{path.name} has sha256 0x{actual.hex()} but the manifest declares "
            f"0x{expected.hex()}; the file was modified or belongs to another package"
        )


def _parse_onnx(data: bytes) -> onnx.ModelProto:
    try:
        model = onnx.load_from_string(data)
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx raises DecodeError, ValidationError, ... on bad bytes
        raise PackageSchemaError(f"model.onnx is not a valid ONNX model: {exc}") from exc
    return model


def _value_info(info: onnx.ValueInfoProto) -> tuple[int, tuple[int | str, ...]]:
    tensor = info.type.tensor_type
    dims = tuple(d.dim_value if d.HasField("dim_value") else d.dim_param
                 for d in tensor.shape.dim)
    return tensor.elem_type, dims


def _check_graph(model: onnx.ModelProto, manifest: Manifest) -> None:
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    for kind, infos, schema in (("input", inputs, manifest.input),
                                ("output", list(graph.output), manifest.output)):
        if len(infos) != 1 or infos[0].name != schema.name:
            raise PackageSchemaError(
                f"graph {kind}s are {[i.name for i in infos]}; the manifest declares one "
                f"{kind} named {schema.name!r}"
            )
        elem_type, dims = _value_info(infos[0])
        if elem_type != onnx.TensorProto.FLOAT:
            raise PackageSchemaError(f"graph {kind} {schema.name!r} is not float32")
        if dims != schema.shape:
            raise PackageSchemaError(
                f"graph {kind} {schema.name!r} has shape {list(dims)} but the manifest declares "
                f"{list(schema.shape)}"
            )


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz that ``np.load`` reads, with fixed zip timestamps so its sha-256 is stable."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[key]),
                                      allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def _load_npz(data: bytes) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception as exc:  # zipfile.BadZipFile, ValueError on pickled arrays, ...
        raise PackageSchemaError(f"train.npz cannot be read as numpy arrays: {exc}") from exc


def _check_training(arrays: dict[str, np.ndarray], manifest: Manifest) -> TrainingData:
    if sorted(arrays) != sorted(_TRAIN_ARRAYS):
        raise PackageSchemaError(
            f"train.npz holds {sorted(arrays)}; expected exactly {sorted(_TRAIN_ARRAYS)}"
        )
    rows, width = manifest.train_rows, len(manifest.input.features)
    expected = {"X": (np.float64, (rows, width)), "X_raw": (np.float32, (rows, width)),
                "y": (np.int64, (rows,)), "owner": (np.int64, (rows,))}
    for key, (dtype, shape) in expected.items():
        arr = arrays[key]
        if arr.dtype != dtype or arr.shape != shape:
            raise PackageSchemaError(
                f"train.npz {key} is {arr.dtype}{list(arr.shape)}; expected "
                f"{np.dtype(dtype)}{list(shape)}"
            )
    X, X_raw, y, owner = (arrays[k] for k in _TRAIN_ARRAYS)
    if not (np.all(np.isfinite(X_raw)) and np.all(np.isfinite(X))):
        raise PackageSchemaError("train.npz holds NaN or infinite features")
    if y.min() < 0 or y.max() >= len(manifest.output.labels):
        raise PackageSchemaError("train.npz y holds a label index outside output.labels")
    if owner.min() < 0 or owner.max() >= len(manifest.contributors):
        raise PackageSchemaError("train.npz owner holds an index outside contributors")
    if not np.array_equal(X, manifest.preprocessing.standardise(X_raw)):
        raise PackageIntegrityError(
            "train.npz X is not standardise(X_raw) with the manifest's mean/std"
        )
    for i, (row, label, o, item) in enumerate(zip(X_raw, y, owner, manifest.roster,
                                                  strict=True)):
        address = manifest.contributors[int(o)].address
        if item.contributor != address or item.item_hash != encoding.item_hash(row, int(label)):
            raise PackageIntegrityError(
                f"roster[{i}] does not match training row {i} (its owner or item hash differ)"
            )
    for arr in (X, X_raw, y, owner):
        arr.setflags(write=False)
    return TrainingData(X, X_raw, y, owner)
