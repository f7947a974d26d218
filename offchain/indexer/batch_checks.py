"""A committed batch's published file, fetched and checked line by line for the explorer.

The verdict is ``offchain.record.batch_file``'s loader (the one checked reader: dataHash, root,
count, model, worker, attribution, roster, in that order; the first failure names its check). The
page also shows *where* a file goes wrong, so this module recomputes, from whatever leaves the
file lists, the root (compared with the committed one), each leaf's inclusion proof against
the committed root, and each leaf's attribution list against its record's hash. The URI is
read only through ``offchain.storage.uri.read_uri`` (its schemes, a time and a size limit),
under the service's ``FetchPolicy`` (no internal address, local files only in its publish
directories);
``offchain.indexer.files`` runs these checks in the background and stores the verdicts.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offchain.attribution.errors import AttributionError
from offchain.merkle import verify_proof
from offchain.protocol import Inference, attribution_hash
from offchain.record.batch_file import (
    LEAF_ENCODING,
    BatchFile,
    BatchFileError,
    Commitment,
    leaf_tree,
    load_bytes,
)
from offchain.record.batch_file import data_hash as hash_of
from offchain.storage.uri import FetchPolicy, UriError, local_file_refused, read_uri

FETCH_TIMEOUT = 10.0
"""Seconds one batch file may take to fetch (in a background check: nobody waits for it)."""
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class LeafCheck:
    index: int
    request_id: str
    included: bool
    """Its proof in the tree of the file's leaves takes it to the committed root."""
    attribution_ok: bool
    reason: str
    inference: dict[str, Any]
    shares: list[list[Any]]
    fee: str


@dataclass
class BatchCheck:
    """What the explorer shows about a batch's file."""

    batch_id: str
    uri: str
    committed_root: str
    committed_data_hash: str
    committed_count: int
    fetched: bool = False
    fetch_error: str = ""
    size: int = 0
    data_hash: str = ""
    recomputed_root: str = ""
    leaf_count: int = 0
    verdict: str = ""
    """"" when the loader accepts the file, else the failing check's name."""
    reason: str = ""
    leaves: list[LeafCheck] = field(default_factory=list)
    file: BatchFile | None = None

    @property
    def data_hash_ok(self) -> bool:
        return self.fetched and self.data_hash == self.committed_data_hash

    @property
    def root_ok(self) -> bool:
        return self.fetched and self.recomputed_root == self.committed_root

    @property
    def count_ok(self) -> bool:
        return self.fetched and self.leaf_count == self.committed_count

    @property
    def ok(self) -> bool:
        return self.fetched and self.verdict == ""

    @property
    def status(self) -> str:
        return "ok" if self.ok else ("unreadable" if not self.fetched else "failed")

    def to_json(self, *, leaves: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "batchId": self.batch_id, "uri": self.uri, "status": self.status,
            "fetched": self.fetched, "fetchError": self.fetch_error or None, "size": self.size,
            "dataHash": {"committed": self.committed_data_hash, "file": self.data_hash or None,
                         "ok": self.data_hash_ok},
            "root": {"committed": self.committed_root,
                     "recomputed": self.recomputed_root or None, "ok": self.root_ok},
            "count": {"committed": self.committed_count, "file": self.leaf_count,
                      "ok": self.count_ok},
            "check": self.verdict or None, "reason": self.reason or None,
        }
        if leaves:
            data["leaves"] = [{"index": leaf.index, "requestId": leaf.request_id,
                               "included": leaf.included, "attributionOk": leaf.attribution_ok,
                               "reason": leaf.reason, "inference": leaf.inference,
                               "shares": leaf.shares, "fee": leaf.fee}
                              for leaf in self.leaves]
        return data


def check_batch(batch_id: str, uri: str, root: str, model_id: str, worker: str, count: int,
                data_hash: str, *, roster: Collection[str] | None,
                timeout: float = FETCH_TIMEOUT, max_bytes: int = MAX_FILE_BYTES,
                local_roots: Sequence[Path] | None = None,
                policy: FetchPolicy | None = None) -> BatchCheck:
    """Fetch ``uri`` and check it against the committed batch (hex strings as indexed).
    ``policy`` bounds what may be fetched (a public service's); ``local_roots`` alone only
    restricts local files."""
    result = BatchCheck(batch_id, uri, root.lower(), data_hash.lower(), count)
    refused = local_file_refused(uri, local_roots, "a published batch file")
    if refused:
        result.fetch_error = refused
        result.verdict, result.reason = "unreadable", refused
        return result
    try:
        data = read_uri(uri, max_bytes=max_bytes, timeout=timeout, policy=policy)
    except UriError as exc:
        result.fetch_error = str(exc)
        result.verdict, result.reason = "unreadable", str(exc)
        return result
    result.fetched, result.size = True, len(data)
    result.data_hash = "0x" + hash_of(data).hex()
    committed = Commitment(bytes.fromhex(root[2:]), count, bytes.fromhex(model_id[2:]), worker,
                           bytes.fromhex(data_hash[2:]))
    try:
        result.file = load_bytes(data, committed, roster=roster, source=uri)
    except BatchFileError as exc:
        result.verdict, result.reason = exc.check, str(exc)
    _detail(result, data)
    return result


def _detail(result: BatchCheck, data: bytes) -> None:
    """Per-leaf lines from the leaves the file lists, however wrong the rest of it is."""
    try:
        raw_leaves = json.loads(data)["leaves"]
        parsed = [(Inference.from_json(raw["inference"]),
                   [[str(a), int(b)] for a, b in raw["shares"]], str(int(raw["fee"])))
                  for raw in raw_leaves]
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        return  # the loader's verdict (format) says why
    result.leaf_count = len(parsed)
    if not parsed:
        return
    records = [inference.to_json() for inference, _, _ in parsed]
    tree = leaf_tree(records)
    result.recomputed_root = tree.root.lower()
    for index, (inference, shares, fee) in enumerate(parsed):
        value = list(records[index].values())
        included = verify_proof(result.committed_root, LEAF_ENCODING, value,
                                tree.get_proof(index))
        reasons = []
        if not included:
            reasons.append("not in the committed root")
        try:
            attribution_ok = attribution_hash(shares) == inference.attributionHash  # checked
            if not attribution_ok:
                reasons.append("attribution list does not hash to the record's "
                               "attributionHash")
        except (AttributionError, ValueError) as exc:
            attribution_ok = False
            reasons.append(f"invalid attribution list: {exc}")
        result.leaves.append(LeafCheck(index, "0x" + inference.requestId.hex(), included,
                                       attribution_ok, "; ".join(reasons), records[index],
                                       shares, fee))
