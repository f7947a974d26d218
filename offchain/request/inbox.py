"""The off-chain request inbox: a spool directory the batch worker drains.

Requests that were paid off-chain reach the worker as JSON files in ``<data_dir>/inbox/``,
one request or a list of requests per file::

    {"requestId": "0x..32 bytes", "modelId": "0x..", "salt": "0x..32 bytes", "fee": wei,
     "input": {"features": ...}}            # or "inputBytes": "0x<canonical tensor bytes>"

Getting the file here privately is the channel's job; nothing in it goes on chain except
through commitments (``keccak256(salt || canonical bytes)``). Writers must make files appear
atomically (:func:`submit_offchain` writes a hidden temporary file and renames it); names
starting with ``.`` are never read. A file stays in the inbox until every request in it has
reached a final state in the worker's journal, then moves to ``inbox/done/`` (files that are
not request files at all move to ``inbox/bad/``).

This module is pure parsing plus small file helpers; the worker's journal decides what was
already seen (``offchain.worker.batching``).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offchain.errors import AttestiaError
from offchain.models.encoding import SALT_SIZE, commit, new_salt
from offchain.protocol import request_id as request_id_of
from offchain.storage.atomic import atomic_write_bytes

INBOX = "inbox"
OUTBOX = "outbox"
"""Where a batching worker leaves each off-chain request's sealed answer for its requester."""
DONE = "done"
BAD = "bad"
MAX_FILE_BYTES = 64 * 1024 * 1024


class InboxError(AttestiaError):
    """An inbox file or request is malformed; the message says which field and why."""


@dataclass(frozen=True)
class OffchainRequest:
    """One off-chain request, structurally valid (its input is checked by the model)."""

    request_id: bytes
    model_id: bytes
    salt: bytes
    fee: int
    features: Any = None  # the "input" JSON, when the input came as features
    input_bytes: bytes | None = None  # canonical tensor bytes, when it came as bytes

    @property
    def key(self) -> str:
        """The journal key: the request id as lowercase 0x-hex."""
        return "0x" + self.request_id.hex()


def _bytes_field(entry: Mapping[str, Any], name: str, size: int | None) -> bytes:
    value = entry.get(name)
    if not isinstance(value, str) or not value[:2].lower() == "0x":
        raise InboxError(f"{name} must be a 0x-hex string; got {value!r:.80}")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        raise InboxError(f"{name} is not valid hex: {value!r:.80}") from None
    if size is not None and len(raw) != size:
        raise InboxError(f"{name} must be {size} bytes; got {len(raw)}")
    return raw


def request_key(entry: Any) -> str | None:
    """The request id of a raw entry as lowercase 0x-hex, or None if it has no valid one."""
    try:
        return "0x" + _bytes_field(entry, "requestId", 32).hex()
    except (InboxError, AttributeError):
        return None


def parse_request(entry: Any) -> OffchainRequest:
    """A raw inbox entry -> :class:`OffchainRequest`; raises :class:`InboxError`."""
    if not isinstance(entry, Mapping):
        raise InboxError(f"a request must be a JSON object; got {type(entry).__name__}")
    request_id = _bytes_field(entry, "requestId", 32)
    model_id = _bytes_field(entry, "modelId", 32)
    salt = _bytes_field(entry, "salt", SALT_SIZE)
    fee = entry.get("fee")
    if isinstance(fee, str) and fee.isdigit():
        fee = int(fee)
    if isinstance(fee, bool) or not isinstance(fee, int) or fee < 0:
        raise InboxError(f"fee must be a non-negative integer (wei); got {fee!r:.80}")
    has_features, has_bytes = "input" in entry, "inputBytes" in entry
    if has_features == has_bytes:
        raise InboxError('a request needs exactly one of "input" (features) or "inputBytes"')
    if has_bytes:
        return OffchainRequest(request_id, model_id, salt, fee,
                               input_bytes=_bytes_field(entry, "inputBytes", None))
    return OffchainRequest(request_id, model_id, salt, fee, features=entry["input"])


def offchain_request(model_id: bytes, input_bytes: bytes, *, fee: int, requester: str,
                     salt: bytes | None = None) -> dict:
    """A requester's inbox entry for canonical input bytes (keep the salt to reveal later).

    The request id is :func:`offchain.protocol.request_id`, the same rule as on-chain
    requests, so ids stay unique per requester and salted input.
    """
    salt = salt or new_salt()
    request_id = request_id_of(requester, model_id, commit(salt, input_bytes))
    return {"requestId": "0x" + request_id.hex(), "modelId": "0x" + model_id.hex(),
            "salt": "0x" + salt.hex(), "fee": int(fee), "inputBytes": "0x" + input_bytes.hex()}


def submit_offchain(inbox_dir: Path, requests: Sequence[Mapping[str, Any]] | Mapping[str, Any]
                    ) -> Path:
    """Drop requests into an inbox atomically (hidden temporary file, fsync, rename).

    Returns the new file's path. Names sort by submission time, so the worker reads the
    inbox first come, first served.
    """
    inbox_dir.mkdir(parents=True, exist_ok=True)
    body = json.dumps(requests if isinstance(requests, Mapping) else list(requests),
                      separators=(",", ":")).encode()
    name = f"{time.time_ns():020d}-{secrets.token_hex(4)}.json"
    # The helper's temporary file is ".<name>.<random>.tmp": hidden and not *.json, so
    # inbox_files never picks it up half-written.
    return atomic_write_bytes(inbox_dir / name, body)


def inbox_files(inbox_dir: Path) -> list[Path]:
    """Request files waiting in the inbox, oldest name first (hidden files are skipped)."""
    if not inbox_dir.is_dir():
        return []
    return sorted(
        Path(entry.path) for entry in os.scandir(inbox_dir)
        if entry.is_file() and entry.name.endswith(".json") and not entry.name.startswith(".")
    )


def read_inbox_file(path: Path) -> list[Any]:
    """The raw entries of one inbox file (a list, or one object); raises InboxError."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InboxError(f"{path.name} is larger than {MAX_FILE_BYTES} bytes")
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InboxError(f"{path.name} is not a readable JSON file: {exc}") from None
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise InboxError(f"{path.name} must hold a request object or a list of them")
    return data


def move_file(path: Path, subdir: str) -> Path | None:
    """Move an inbox file into ``inbox/<subdir>/`` (idempotent: a missing file is fine)."""
    target = path.parent / subdir / path.name
    target.parent.mkdir(exist_ok=True)
    try:
        path.replace(target)
    except FileNotFoundError:
        return None
    return target
