"""Parsing the 32-byte ids people type: model ids, inference (request) ids, batch ids."""

from __future__ import annotations

from collections.abc import Sequence

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


def checksum_addresses(addresses: Sequence[str]) -> list[str]:
    """:func:`checksum_address` of many addresses at once (settlement's million contributors):
    one keccak per address, the case of every digit set in bulk with numpy. ValueError naming
    the first that is not 40 hex digits."""
    if not addresses:
        return []
    import numpy as np
    from sha3 import keccak_256

    digits = [a[2:] if a[:2] in ("0x", "0X") else a for a in addresses]
    lower = "".join(digits).lower()
    try:  # fromhex skips spaces: the length check below catches them
        raw = bytes.fromhex(lower)
    except ValueError:
        raw = b""
    if len(raw) != 20 * len(digits) or len(lower) != 40 * len(digits) \
            or set(map(len, digits)) != {40}:
        for address in addresses:
            checksum_address(address)  # raises for the first bad one, with its message
    text = memoryview(lower.encode("ascii"))
    digests = "".join([keccak_256(text[i:i + 40]).hexdigest()
                       for i in range(0, len(text), 40)]).encode("ascii")
    chars = np.frombuffer(text, dtype=np.uint8).copy()
    nibbles = np.frombuffer(digests, dtype=np.uint8).reshape(-1, 64)[:, :40].ravel()
    # a letter (a-f) whose digest nibble is 8-f is upper case (EIP-55)
    chars[(chars >= ord("a")) & (nibbles >= ord("8"))] -= 32
    out = chars.tobytes().decode("ascii")
    return ["0x" + out[i:i + 40] for i in range(0, len(out), 40)]
