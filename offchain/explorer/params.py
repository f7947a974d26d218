"""Every parameter a client sends, checked before any query: ids, addresses, cursors, filters.
A bad value is a :class:`BadInput` (answered 400 with a JSON error, never a 500)."""

from __future__ import annotations

import re
from typing import Any

from eth_utils import is_address, is_checksum_address, to_checksum_address

from offchain.explorer.queries import DEFAULT_LIMIT, MAX_LIMIT, PROOF_NAMES

_CURSOR = re.compile(r"^(\d{1,15})-(\d{1,9})$")
MAX_EPOCH = 2**64 - 1
STATUSES = ("valid", "revoked", "disputed")


class BadInput(ValueError):
    """A malformed parameter; the message names it and says what is expected."""


def bytes32(text: str | None, what: str) -> str:
    """``0x`` + 64 hex digits -> lower-case hex."""
    value = (text or "").strip()
    if len(value) != 66 or not value.lower().startswith("0x"):
        raise BadInput(f"{what} must be 0x + 64 hex digits, got {_show(text)}")
    try:
        bytes.fromhex(value[2:])
    except ValueError:
        raise BadInput(f"{what} must be 0x + 64 hex digits, got {_show(text)}") from None
    return value.lower()


def address(text: str | None, what: str) -> str:
    """An address -> EIP-55; a mixed-case one must carry a valid checksum."""
    value = (text or "").strip()
    digits = value[2:]
    mixed = digits != digits.lower() and digits != digits.upper()
    if not is_address(value) or (mixed and not is_checksum_address(value)):
        raise BadInput(f"{what} must be an address (0x + 40 hex digits; mixed case only with a "
                       f"valid checksum), got {_show(text)}")
    return str(to_checksum_address(value))


def cursor(text: str | None) -> tuple[int, int] | None:
    """A page cursor (``<block>-<logIndex>`` as returned in ``nextCursor``)."""
    if text is None or text == "":
        return None
    match = _CURSOR.match(text.strip())
    if match is None:
        raise BadInput(f"cursor must be a nextCursor value (<block>-<logIndex>), got "
                       f"{_show(text)}")
    return int(match.group(1)), int(match.group(2))


def limit(value: int | None, default: int) -> int:
    if value is None:
        return default
    if not 1 <= value <= MAX_LIMIT:
        raise BadInput(f"limit must be 1..{MAX_LIMIT}, got {value}")
    return value


def proof(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    if text not in PROOF_NAMES:
        raise BadInput(f"proof must be one of {', '.join(PROOF_NAMES)}, got {_show(text)}")
    return PROOF_NAMES[text]


def epoch(value: int | None) -> int | None:
    if value is None:
        return None
    if not 0 <= value <= MAX_EPOCH:
        raise BadInput(f"epoch must be 0..2^64-1, got {value}")
    return value


def status(text: str | None) -> str | None:
    if text is None or text == "":
        return None
    if text not in STATUSES:
        raise BadInput(f"status must be one of {', '.join(STATUSES)}, got {_show(text)}")
    return text


def optional(parse: type | object, text: str | None, what: str) -> str | None:
    """An optional id or address filter (empty means unset)."""
    if text is None or text.strip() == "":
        return None
    return parse(text, what)  # type: ignore[operator, no-any-return]


def integer(value: str | None, what: str) -> int | None:
    """A query-string integer (empty means unset)."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise BadInput(f"{what} must be an integer, got {value[:40]!r}") from None


def record_filters(model: str | None, worker: str | None, contributor: str | None,
                   requester: str | None, proof_name: str | None, epoch_text: str | None,
                   status_name: str | None, limit_text: str | None, cursor_text: str | None
                   ) -> dict[str, Any]:
    """The record list's filters (API and page alike), as ``queries.list_records`` takes
    them."""
    return {
        "model": optional(bytes32, model, "model"),
        "worker": optional(address, worker, "worker"),
        "contributor": optional(address, contributor, "contributor"),
        "requester": optional(address, requester, "requester"),
        "proof": proof(proof_name), "epoch": epoch(integer(epoch_text, "epoch")),
        "status": status(status_name),
        "limit": limit(integer(limit_text, "limit"), DEFAULT_LIMIT),
        "cursor": cursor(cursor_text),
    }


def _show(text: object) -> str:
    shown = repr(text)
    return shown if len(shown) <= 80 else shown[:77] + "...'"


MIN_PREFIX = 6
"""Hex digits a search needs at least (fewer would match a good part of the index)."""
_HEX = re.compile(r"^(?:0x)?([0-9a-fA-F]+)$")
_LEAF = re.compile(r"^batch:(0x[0-9a-fA-F]{64}):(\d{1,9})$")


def search_text(text: str | None) -> tuple[str, str, int]:
    """What a search asks for: ``("leaf", batch id, index)`` for ``batch:0x<id>:<index>``,
    else ``("hex", lower-case digits without 0x, 0)``: a whole id, hash or address, or a prefix
    of one (at least ``MIN_PREFIX`` digits, at most 64)."""
    value = (text or "").strip()
    leaf = _LEAF.match(value)
    if leaf is not None:
        return "leaf", leaf.group(1).lower(), int(leaf.group(2))
    if value.startswith("batch:"):
        raise BadInput(f"a batch leaf is batch:0x<batch id: 64 hex digits>:<index>, got "
                       f"{_show(text)}")
    digits = _HEX.match(value)
    if digits is None or not MIN_PREFIX <= len(digits.group(1)) <= 64:
        raise BadInput(f"search for an id, transaction hash or address, or the first "
                       f"{MIN_PREFIX} or more hex digits of one (0x optional), or "
                       f"batch:0x<batch id>:<index>; got {_show(text)}")
    return "hex", digits.group(1).lower(), 0
