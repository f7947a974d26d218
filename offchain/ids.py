"""Parsing the 32-byte ids people type: model ids, inference (request) ids, batch ids."""

from __future__ import annotations

from offchain.errors import AttestiaError, ConfigError


def parse_bytes32(text: str, what: str, error: type[AttestiaError] = ConfigError) -> bytes:
    """``0x`` + 64 hex digits -> 32 bytes; anything else raises ``error`` naming ``what``."""
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise error(f"{what} must be 32 bytes of hex (0x + 64 digits), got {text!r}")
    return raw
