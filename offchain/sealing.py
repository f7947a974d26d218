"""What goes on-chain about an input: only a salted commitment and ciphertext.

A request's payload is the input sealed (ECIES: secp256k1 + HKDF + AES-256-GCM, PyPI
``eciespy``) to the worker's published encryption key, together with the commitment salt
and a one-time reply key. The worker seals the output to that reply key; the requester
opens it and checks it against the signed output commitment. The output commitment's salt
is derived from the input salt, so whoever holds the input and its salt can recompute both
commitments (that is how ``attestia verify`` re-executes a record).

This module is the one place that encodes payloads and results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cbor2
import ecies
from ecies.keys import PrivateKey
from sha3 import keccak_256

from offchain.errors import AttestiaError
from offchain.storage.atomic import atomic_write_text

PAYLOAD_VERSION = 1
MAX_PAYLOAD_BYTES = 64 * 1024
_OUTPUT_SALT_DOMAIN = b"attestia.output-salt.v1"


class PayloadError(AttestiaError):
    """A payload or sealed result could not be opened or is malformed."""


def output_salt(input_salt: bytes) -> bytes:
    """The output commitment's salt: fixed by the input salt, private as long as it is."""
    return keccak_256(_OUTPUT_SALT_DOMAIN + input_salt).digest()


@dataclass(frozen=True)
class EncryptionKey:
    """A secp256k1 key pair used only for encryption (never for signing)."""

    secret: bytes

    @classmethod
    def generate(cls) -> EncryptionKey:
        return cls(PrivateKey("secp256k1").secret)

    @property
    def public(self) -> bytes:
        """65-byte uncompressed public key, as published on-chain."""
        return PrivateKey("secp256k1", self.secret).public_key.to_bytes(compressed=False)

    @classmethod
    def load_or_create(cls, path: Path) -> EncryptionKey:
        if path.exists():
            secret = bytes.fromhex(path.read_text().strip())
            if len(secret) != 32:
                raise PayloadError(f"{path}: expected a 32-byte hex secret")
            return cls(secret)
        key = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only from the first byte; replace=False: a key another process wrote meanwhile
        # is never overwritten (FileExistsError, as before).
        atomic_write_text(path, key.secret.hex(), mode=0o600, replace=False)
        return key


def seal(public_key: bytes, plaintext: bytes) -> bytes:
    if len(public_key) not in (33, 65):
        raise PayloadError(f"encryption key must be 33 or 65 bytes, got {len(public_key)}")
    return ecies.encrypt(public_key, plaintext)


def unseal(key: EncryptionKey, blob: bytes) -> bytes:
    try:
        return ecies.decrypt(key.secret, blob)
    except Exception as exc:  # eciespy raises ValueError and library-specific errors
        raise PayloadError(f"payload cannot be decrypted with this worker's key ({exc})") from None


@dataclass(frozen=True)
class RequestPayload:
    """What a requester sends the worker: the canonical input, its salt, a reply key."""

    input_bytes: bytes
    salt: bytes
    reply_key: bytes

    def encode(self) -> bytes:
        return cbor2.dumps(
            {"v": PAYLOAD_VERSION, "input": self.input_bytes, "salt": self.salt,
             "reply": self.reply_key}
        )

    @classmethod
    def decode(cls, data: bytes) -> RequestPayload:
        try:
            obj = cbor2.loads(data)
        except Exception as exc:
            raise PayloadError(f"payload is not valid CBOR ({exc})") from None
        if not isinstance(obj, dict) or obj.get("v") != PAYLOAD_VERSION:
            raise PayloadError("payload has an unknown format version")
        try:
            payload = cls(bytes(obj["input"]), bytes(obj["salt"]), bytes(obj["reply"]))
        except (KeyError, TypeError) as exc:
            raise PayloadError(f"payload is missing a field ({exc})") from None
        if len(payload.salt) != 32:
            raise PayloadError("payload salt must be 32 bytes")
        return payload


def seal_request(worker_key: bytes, payload: RequestPayload) -> bytes:
    return seal(worker_key, payload.encode())


def open_request(key: EncryptionKey, blob: bytes) -> RequestPayload:
    if len(blob) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload of {len(blob)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    return RequestPayload.decode(unseal(key, blob))


def seal_result(reply_key: bytes, output_bytes: bytes) -> bytes:
    return seal(reply_key, cbor2.dumps({"v": PAYLOAD_VERSION, "output": output_bytes}))


def open_result(key: EncryptionKey, blob: bytes) -> bytes:
    """The output bytes a worker sealed to ``key``; raises :class:`PayloadError` for anything
    else (the worker chose these bytes: a requester's watch must not trip over them)."""
    try:
        obj = cbor2.loads(unseal(key, blob))
    except PayloadError:
        raise
    except Exception as exc:  # cbor2 raises its own decode errors and ValueError alike
        raise PayloadError(f"sealed result is not valid CBOR ({exc})") from None
    if not isinstance(obj, dict) or obj.get("v") != PAYLOAD_VERSION:
        raise PayloadError("sealed result has an unknown format version")
    output = obj.get("output")
    if not isinstance(output, bytes | bytearray):
        raise PayloadError("sealed result holds no output bytes")
    return bytes(output)
