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


_HEX_DIGITS = frozenset("0123456789abcdef")


def checksum_address(address: str) -> str:
    """EIP-55 mixed-case form of a 20-byte hex address (``0x`` optional, any case), as
    ``eth_utils.to_checksum_address`` gives it, about ten times faster: settlement checksums
    every contributor once, and at a million contributors eth_utils' validation layers cost
    most of a minute. ValueError for anything but 40 hex digits."""
    digits = address[2:] if address[:2] in ("0x", "0X") else address
    lower = digits.lower()
    if len(lower) != 40 or not _HEX_DIGITS.issuperset(lower):
        raise ValueError(f"not a 20-byte hex address: {address!r}")
    from sha3 import keccak_256

    digest = keccak_256(lower.encode("ascii")).hexdigest()
    return "0x" + "".join(c.upper() if d in "89abcdef" else c
                          for c, d in zip(lower, digest, strict=False))
