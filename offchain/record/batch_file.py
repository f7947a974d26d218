"""The published batch file: its format, its one writer and its one checked loader.

A worker commits only a Merkle root on chain (``commitBatch``); the records behind it, their
attribution lists and fees are published in this file at the committed ``dataURI``. Settlement
pays each leaf's share of the batch deposit by the attribution list published here, and
``verify`` proves a leaf's inclusion from it, so a reader must never trust the file: the one
loader, :func:`load`, checks it against what the chain committed before anyone uses it.

Format ``attestia-batch-v1`` (docs/design.md, "Batch file", is the reference)::

    {"format": "attestia-batch-v1",
     "root": "0x…", "batchId": "0x…", "modelId": "0x…", "worker": "0x…",
     "count": N, "epoch": E, "deposit": D,
     "tree": {<OpenZeppelin StandardMerkleTree dump, leaf encoding = Inference>},
     "leaves": [{"inference": {<Inference fields>}, "shares": [[account, bps], …],
                 "fee": wei}, …]}

``leaves[i]`` is ``tree.values[i]``; ``root`` is the tree's root, ``count`` the number of
leaves, ``batchId`` is ``protocol.batch_id(root, modelId, worker)``. Outputs and inputs are
not published (the records carry commitments only; the results go to the requester).

The chain commits the file's content hash with the batch (``dataHash = keccak256`` of the
file's exact bytes, :func:`data_hash`): the writer hashes the bytes it writes
(:meth:`BatchFile.encode`, :func:`write_batch_file`), and every reader checks the bytes it
fetched against the commitment before parsing them. Once a file passed, any copy of the same
bytes (a settler's cache, a mirror) is the same file.

The checks, in the order :func:`load` runs them (the first failure raises its own
:class:`BatchFileMismatch` subclass, whose ``check`` names it):

``dataHash``
    keccak256 of the bytes read is the committed ``dataHash`` (before anything is parsed);
``root``
    the root recomputed from the leaves (not the one written in the file) is the committed
    root, and so are the tree dump's and the header's;
``count``
    the number of leaves is the committed count (settlement divides the deposit by it);
``model`` / ``worker``
    every leaf's ``modelId`` and ``worker`` are the batch's (the chain's ``batchId`` binds
    root, model and worker; a leaf of another model or key is not this batch's record);
``attribution``
    every leaf's list is a valid attribution list (sorted, no zero entries, 10,000 bps) and
    ``protocol.attribution_hash`` of it is the leaf's ``attributionHash``;
``roster``
    every account paid by a leaf is in the model's registered contributor roster (the
    registry checks this for single records; for batch leaves only readers can).

A file that is not JSON, not this format, or inconsistent with itself raises
:class:`MalformedBatchFile`; a URI that cannot be read raises :class:`offchain.storage.uri.UriError`
(not published, or not reachable now: a different remedy from a file that lies).
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Protocol

from eth_utils import keccak, to_checksum_address

from offchain.attribution.errors import InvalidSharesError
from offchain.errors import AttestiaError
from offchain.merkle import StandardMerkleTree
from offchain.protocol import (
    INFERENCE_ABI_TYPES,
    Inference,
    Share,
    attribution_hash,
    batch_id,
)
from offchain.storage.atomic import atomic_write_bytes
from offchain.storage.uri import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, read_uri

__all__ = [
    "CHECKS", "FORMAT", "LEAF_ENCODING", "AttributionMismatch", "BatchFile", "BatchFileError",
    "BatchFileMismatch", "BatchLeaf", "Commitment", "Committed", "CountMismatch",
    "DataHashMismatch", "ForeignModel", "ForeignWorker", "MalformedBatchFile", "NotInRoster",
    "Published", "RootMismatch", "data_hash", "leaf_tree", "load", "load_bytes",
    "write_batch_file",
]

FORMAT = "attestia-batch-v1"
LEAF_ENCODING = list(INFERENCE_ABI_TYPES)
"""The tree's leaf encoding: the ``Inference`` fields, as ``verifyInclusion`` hashes them."""
CHECKS = ("dataHash", "root", "count", "model", "worker", "attribution", "roster")
_FIELDS = tuple(f.name for f in fields(Inference))


# -- errors ----------------------------------------------------------------------------------

class BatchFileError(AttestiaError):
    """A batch file cannot be used; ``check`` names what failed."""

    check = "file"


class MalformedBatchFile(BatchFileError):
    """Not a batch file of this format, or its header, tree and leaves disagree."""

    check = "format"


class BatchFileMismatch(BatchFileError):
    """The file is well formed but is not the batch the chain committed."""


class DataHashMismatch(BatchFileMismatch):
    """The bytes read are not the file the chain committed (``dataHash``)."""

    check = "dataHash"


class RootMismatch(BatchFileMismatch):
    check = "root"


class CountMismatch(BatchFileMismatch):
    check = "count"


class ForeignModel(BatchFileMismatch):
    check = "model"


class ForeignWorker(BatchFileMismatch):
    check = "worker"


class AttributionMismatch(BatchFileMismatch):
    check = "attribution"


class NotInRoster(BatchFileMismatch):
    """A leaf pays an account outside the model's registered contributor roster."""

    check = "roster"

    def __init__(self, message: str, account: str, index: int) -> None:
        super().__init__(message)
        self.account = account
        self.index = index


# -- what the chain committed ------------------------------------------------------------------

class Committed(Protocol):
    """What the chain holds about a batch; ``offchain.registry.BatchCommitted`` is one.

    ``data_hash`` None means "not committed yet": only a worker re-reading the file it wrote
    (and is about to hash and commit) passes that."""

    @property
    def root(self) -> bytes: ...
    @property
    def count(self) -> int: ...
    @property
    def model_id(self) -> bytes: ...
    @property
    def worker(self) -> str: ...
    @property
    def data_hash(self) -> bytes | None: ...


@dataclass(frozen=True)
class Commitment:
    """A :class:`Committed` from known values (a worker's journal, before the event exists)."""

    root: bytes
    count: int
    model_id: bytes
    worker: str
    data_hash: bytes | None = None


def data_hash(data: bytes) -> bytes:
    """``dataHash``: keccak256 of a batch file's exact bytes, as committed on chain."""
    return keccak(data)


@dataclass(frozen=True)
class Published:
    """A batch file as written: where, and the content hash to commit with it."""

    path: Path
    data_hash: bytes
    size: int


# -- the file ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class BatchLeaf:
    """One published leaf: the record, its attribution list and the fee paid for it."""

    inference: Inference
    shares: tuple[tuple[str, int], ...]  # Share-shaped: (account, bps), sorted by account
    fee: int


def leaf_tree(records: Sequence[Mapping[str, Any]]) -> StandardMerkleTree:
    """The batch tree over records in ``Inference.to_json()`` form, in that order."""
    return StandardMerkleTree.of([list(r.values()) for r in records], LEAF_ENCODING)


@dataclass(frozen=True, eq=False)
class BatchFile:
    """A batch's published content. ``tree`` is over ``leaves[i].inference``, value ``i``."""

    model_id: bytes
    worker: str
    epoch: int
    deposit: int
    leaves: tuple[BatchLeaf, ...]
    tree: StandardMerkleTree
    # The records in Inference.to_json() form, when the caller has them (the worker builds
    # them for the tree): writing a 1,000-leaf file then costs no re-encoding.
    records_json: Sequence[Mapping[str, Any]] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, leaves: Sequence[BatchLeaf], *, model_id: bytes, worker: str, epoch: int,
           deposit: int, records_json: Sequence[Mapping[str, Any]] | None = None,
           tree: StandardMerkleTree | None = None) -> BatchFile:
        """A batch file for ``leaves``. ``records_json`` (``leaf.inference.to_json()`` of each
        leaf) and ``tree`` (:func:`leaf_tree` of those) may be passed if already built; they
        must be exactly these records, in this order."""
        if not leaves:
            raise MalformedBatchFile("a batch has at least one leaf")
        if records_json is None:
            records_json = [leaf.inference.to_json() for leaf in leaves]
        if tree is None:
            tree = leaf_tree(records_json)
        return cls(model_id, to_checksum_address(worker), int(epoch), int(deposit),
                   tuple(leaves), tree, records_json)

    @property
    def root(self) -> bytes:
        return bytes.fromhex(self.tree.root[2:])

    @property
    def count(self) -> int:
        return len(self.leaves)

    @property
    def batch_id(self) -> bytes:
        return batch_id(self.root, self.model_id, self.worker)

    def with_epoch(self, epoch: int) -> BatchFile:
        """The same batch signed for another epoch (the file is rewritten before signing)."""
        return replace(self, epoch=int(epoch))

    def index_of(self, request_id: bytes) -> int | None:
        """The leaf index of a request, or None."""
        for index, leaf in enumerate(self.leaves):
            if leaf.inference.requestId == request_id:
                return index
        return None

    def proof(self, index: int) -> list[bytes]:
        """The inclusion proof of leaf ``index`` (what ``verifyInclusion`` takes)."""
        return [bytes.fromhex(node[2:]) for node in self.tree.get_proof(index)]

    def encode(self) -> bytes:
        """The file's exact bytes: :meth:`to_json` as compact UTF-8 JSON. ``dataHash`` is
        keccak256 of these bytes, so hash what is written, never a re-encoding."""
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    def to_json(self) -> dict[str, Any]:
        """The document in the published format."""
        root = self.tree.root
        records = self.records_json or [dict(zip(_FIELDS, row, strict=True))
                                        for _, row in self.tree.entries()]
        return {
            "format": FORMAT,
            "root": root,
            "batchId": "0x" + self.batch_id.hex(),
            "modelId": "0x" + self.model_id.hex(),
            "worker": self.worker,
            "count": len(self.leaves),
            "epoch": self.epoch,
            "deposit": self.deposit,
            "tree": self.tree.dump(),
            "leaves": [
                {"inference": record, "shares": [[account, bps] for account, bps in leaf.shares],
                 "fee": leaf.fee}
                for record, leaf in zip(records, self.leaves, strict=True)
            ],
        }


# -- writing -----------------------------------------------------------------------------------

def write_batch_file(path: str | os.PathLike[str], batch: BatchFile) -> Published:
    """Publish ``batch`` at ``path`` atomically (readers see the old file or the new one);
    returns the path and the ``dataHash`` of the bytes written (what the commit names)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = batch.encode()
    atomic_write_bytes(target, data)
    return Published(target, data_hash(data), len(data))


# -- reading and checking -------------------------------------------------------------------

def load(uri: str, committed: Committed, *, roster: Collection[str] | None,
         max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = DEFAULT_TIMEOUT,
         gateway: str | None = None) -> BatchFile:
    """Read the batch file at ``uri`` and check it against the ``committed`` batch.

    ``roster`` is the model's registered contributor roster (``attestia.registry.contributors``):
    every payee must be in it. None skips that one check (a worker re-reading its own file;
    ``verify``, which reports payees on its attribution line instead).

    Raises :class:`offchain.storage.uri.UriError` if it cannot be read, :class:`MalformedBatchFile`
    if it is not a well-formed batch file, or the :class:`BatchFileMismatch` subclass of the
    first failing check (module docstring).
    """
    data = read_uri(uri, max_bytes=max_bytes, timeout=timeout, gateway=gateway)
    return load_bytes(data, committed, roster=roster, source=uri)


def load_bytes(data: bytes, committed: Committed, *, roster: Collection[str] | None,
               source: str) -> BatchFile:
    """:func:`load` of bytes already read (a cached copy; ``source`` names it in errors)."""
    want = committed.data_hash
    if want is not None:
        got = data_hash(data)
        if got != bytes(want):
            raise DataHashMismatch(f"{source}: its bytes hash to 0x{got.hex()}, the chain "
                                   f"committed dataHash 0x{bytes(want).hex()} (another file, "
                                   "or this one changed after the commit)")
    batch, header, dumped = _parse(data, source)
    _check(batch, header, dumped, committed, source)
    if roster is not None:
        _check_roster(batch, roster, source)
    return batch


def _check_roster(batch: BatchFile, roster: Collection[str], source: str) -> None:
    members = {to_checksum_address(a) for a in roster}
    for index, leaf in enumerate(batch.leaves):
        for account, _ in leaf.shares:
            if account not in members:
                raise NotInRoster(f"{source}: leaf {index} pays {account}, who is not in the "
                                  f"model's registered contributor roster", account, index)


@dataclass(frozen=True)
class _Header:
    """What the file says about itself (checked against its leaves and the chain)."""

    root: str
    count: int
    model_id: bytes
    worker: str
    batch_id: str


def _check(batch: BatchFile, header: _Header, dumped: StandardMerkleTree,
           committed: Committed, source: str) -> None:
    """Raise the first failing check of ``batch`` against ``committed`` (see :func:`load`)."""
    want_root = "0x" + bytes(committed.root).hex()
    for what, root in (("its leaves give", batch.tree.root),
                       ("its tree dump has", dumped.root),
                       ("its header says", header.root)):
        if str(root).lower() != want_root:
            raise RootMismatch(f"{source}: {what} root {root}, the chain committed {want_root}")
    # Same root, so the same leaves; the dump (what OpenZeppelin's tools read) must also list
    # them in the leaves' order, value i being leaf i.
    listed = [value for _, value in dumped.entries()]
    if dumped.leaf_encoding != LEAF_ENCODING or len(listed) != batch.count or any(
            dumped.leaf_hash(value) != batch.tree.leaf_hash(mine)
            for value, (_, mine) in zip(listed, batch.tree.entries(), strict=True)):
        raise MalformedBatchFile(f"{source}: its tree dump does not list its leaves in order")
    for what, count in (("it has", batch.count), ("its header says", header.count)):
        if count != committed.count:
            raise CountMismatch(f"{source}: {what} {count} leaves, the chain committed "
                                f"{committed.count}")
    model = bytes(committed.model_id)
    if header.model_id != model:
        raise ForeignModel(f"{source}: its header names model 0x{header.model_id.hex()}, "
                           f"the batch is model 0x{model.hex()}")
    for index, leaf in enumerate(batch.leaves):
        if leaf.inference.modelId != model:
            raise ForeignModel(f"{source}: leaf {index} is a record of model "
                               f"0x{leaf.inference.modelId.hex()}, the batch is model "
                               f"0x{model.hex()}")
    worker = to_checksum_address(committed.worker)
    if header.worker != worker:
        raise ForeignWorker(f"{source}: its header names worker {header.worker}, the "
                            f"batch's worker is {worker}")
    for index, leaf in enumerate(batch.leaves):
        if leaf.inference.worker != worker:
            raise ForeignWorker(f"{source}: leaf {index} was made by {leaf.inference.worker}, "
                                f"the batch's worker is {worker}")
    for index, leaf in enumerate(batch.leaves):
        try:
            actual = attribution_hash(leaf.shares)  # checks the list first
        except InvalidSharesError as exc:
            raise AttributionMismatch(f"{source}: leaf {index}'s attribution list is invalid: "
                                      f"{exc}") from None
        if actual != leaf.inference.attributionHash:
            raise AttributionMismatch(
                f"{source}: leaf {index}'s attribution list hashes to 0x{actual.hex()}, its "
                f"record's attributionHash is 0x{leaf.inference.attributionHash.hex()}")


def _parse(data: bytes, source: str) -> tuple[BatchFile, _Header, StandardMerkleTree]:
    """The file's content (its tree recomputed from its leaves), its header and its tree dump,
    unchecked against the chain. Raises :class:`MalformedBatchFile`."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBatchFile(f"{source} is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise MalformedBatchFile(f"{source} is not an Attestia batch file (format {found!r}, "
                                 f"expected {FORMAT!r})")
    try:
        leaves = tuple(_leaf(raw) for raw in doc["leaves"])
        header = _Header(str(doc["root"]), _int(doc["count"]),
                         bytes.fromhex(str(doc["modelId"]).removeprefix("0x")),
                         to_checksum_address(doc["worker"]), str(doc["batchId"]))
        epoch, deposit = _int(doc["epoch"]), _int(doc["deposit"])
        if epoch < 0 or deposit < 0:
            raise ValueError(f"epoch {epoch} and deposit {deposit} must be non-negative")
        dumped = StandardMerkleTree.load(doc["tree"])
    except (KeyError, TypeError, ValueError, AttributeError, AttestiaError) as exc:
        raise MalformedBatchFile(f"{source} is not a well-formed batch file: "
                                 f"{type(exc).__name__}: {exc}") from None
    if not leaves:
        raise MalformedBatchFile(f"{source} has no leaves")
    batch = BatchFile.of(leaves, model_id=header.model_id, worker=header.worker,
                         epoch=epoch, deposit=deposit)
    expected_id = "0x" + batch_id(bytes.fromhex(header.root.removeprefix("0x")),
                                  header.model_id, header.worker).hex()
    if header.batch_id.lower() != expected_id:
        raise MalformedBatchFile(f"{source}: its header's batchId {header.batch_id} is not "
                                 f"batch_id(root, modelId, worker) = {expected_id}")
    return batch, header, dumped


def _leaf(raw: Any) -> BatchLeaf:
    shares = tuple(Share(to_checksum_address(account), _int(bps))
                   for account, bps in raw["shares"])
    fee = _int(raw["fee"])
    if fee < 0:
        raise ValueError(f"a fee is a non-negative number of wei, got {fee}")
    return BatchLeaf(Inference.from_json(raw["inference"]), shares, fee)


def _int(value: Any) -> int:
    """A JSON integer (a bool or a float is not one)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"expected an integer, got {value!r}")
    return int(value)
