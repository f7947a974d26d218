"""AWS Nitro Enclaves attestation documents: parse and verify offline.

A document is a COSE_Sign1 (RFC 9052; untagged as the Nitro hypervisor emits it, or with
tag 18) signed with ES384 by the leaf certificate it carries. The payload is a CBOR map with
``module_id``, ``digest``, ``timestamp``, ``pcrs``, ``certificate``, ``cabundle`` and the
optional ``public_key``, ``user_data``, ``nonce``.

Verification order (each failure raises its own exception class):
1. decode (``FormatError``);
2. certificate path ``certificate`` -> ``cabundle`` -> a root the *caller* passes, valid at
   ``now`` (``ChainInvalid``, ``CertificateExpired``); ``cabundle[0]``, the root the document
   carries, is never trusted;
3. the COSE signature over ``Sig_structure`` with the leaf key (``SignatureInvalid``);
4. policy: debug enclaves, expected PCRs, nonce, age (``PolicyViolation``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from offchain.proofs.tee.errors import FormatError, PolicyViolation, SignatureInvalid
from offchain.proofs.tee.pki import Roots, fingerprint, load_roots, require_aware, verify_chain
from offchain.proofs.tee.result import AttestationResult, attestation_hash

COSE_SIGN1_TAG = 18
COSE_ALG_ES384 = -35
PCR_LENGTH = 48  # SHA384
_SIG_LENGTH = 96  # raw r || s for P-384
_REGION = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.aws$")


@dataclass(frozen=True)
class CoseSign1:
    """The four parts of a COSE_Sign1 structure, as signed."""

    protected: bytes
    unprotected: Mapping[Any, Any]
    payload: bytes
    signature: bytes

    def sig_structure(self) -> bytes:
        """``["Signature1", protected, h'', payload]``: the bytes the enclave signed."""
        return sig_structure(self.protected, self.payload)


@dataclass(frozen=True)
class NitroDocument:
    """A decoded (not yet verified) Nitro attestation document."""

    cose: CoseSign1
    module_id: str
    digest: str
    timestamp_ms: int
    pcrs: Mapping[int, bytes]
    certificate: bytes
    cabundle: tuple[bytes, ...]
    public_key: bytes | None
    user_data: bytes | None
    nonce: bytes | None

    @property
    def timestamp(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.timestamp_ms / 1000, tz=dt.UTC)

    @property
    def debug(self) -> bool:
        """Debug-mode enclaves report PCR0, PCR1 and PCR2 as all zeros."""
        return is_debug(self.pcrs)

    @property
    def measurement(self) -> bytes:
        return pcr_measurement(self.pcrs)


def pcr_measurement(pcrs: Mapping[int, bytes]) -> bytes:
    """A Nitro enclave's measurement: ``PCR0 || PCR1 || PCR2`` (see
    ``offchain.proofs.tee.result``)."""
    return pcrs[0] + pcrs[1] + pcrs[2]


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """COSE Sig_structure for a Sign1 message with empty external AAD."""
    return cbor2.dumps(["Signature1", protected, b"", payload])


def is_debug(pcrs: Mapping[int, bytes]) -> bool:
    """True when PCR0-2 are all zero: the enclave was started with ``--debug-mode``."""
    return all(not any(pcrs.get(i, b"")) for i in (0, 1, 2))


def decode_cose_sign1(data: bytes) -> CoseSign1:
    """Decode a COSE_Sign1 (tagged or untagged) whose protected header says ES384."""
    obj = _loads_exact(data, "Nitro document")
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != COSE_SIGN1_TAG:
            raise FormatError(f"Nitro document has CBOR tag {obj.tag}; expected COSE_Sign1 (18)")
        obj = obj.value
    if not (isinstance(obj, (list, tuple)) and len(obj) == 4):
        raise FormatError("Nitro document is not a COSE_Sign1 array of 4 elements")
    protected, unprotected, payload, signature = obj
    if not (isinstance(protected, bytes) and isinstance(unprotected, Mapping)
            and isinstance(payload, bytes) and isinstance(signature, bytes)):
        raise FormatError("COSE_Sign1 parts have wrong types (want bstr, map, bstr, bstr)")
    header = _loads_exact(protected, "COSE protected header") if protected else {}
    if not isinstance(header, Mapping) or header.get(1) != COSE_ALG_ES384:
        raise FormatError(f"COSE protected header {header!r} does not declare ES384 (alg -35)")
    if len(signature) != _SIG_LENGTH:
        raise FormatError(f"COSE signature is {len(signature)} bytes; ES384 needs {_SIG_LENGTH}")
    return CoseSign1(protected, MappingProxyType(dict(unprotected)), payload, signature)


def parse_nitro_document(data: bytes) -> NitroDocument:
    """Decode a Nitro attestation document and check its fields' presence and types."""
    cose = decode_cose_sign1(data)
    body = _loads_exact(cose.payload, "Nitro payload")
    if not isinstance(body, Mapping):
        raise FormatError("Nitro payload is not a CBOR map")

    module_id = _field(body, "module_id", str)
    digest = _field(body, "digest", str)
    timestamp = _field(body, "timestamp", int)
    pcrs_raw = _field(body, "pcrs", Mapping)
    certificate = _field(body, "certificate", bytes)
    cabundle = _field(body, "cabundle", (list, tuple))
    if not module_id:
        raise FormatError("Nitro field 'module_id' is empty")
    if digest != "SHA384":
        raise FormatError(f"Nitro field 'digest' is {digest!r}; only 'SHA384' is defined")
    if timestamp <= 0:
        raise FormatError("Nitro field 'timestamp' must be a positive number of milliseconds")
    if not cabundle or not all(isinstance(c, bytes) and c for c in cabundle):
        raise FormatError("Nitro field 'cabundle' must be a non-empty array of DER certificates")
    pcrs: dict[int, bytes] = {}
    for index, value in pcrs_raw.items():
        if not (isinstance(index, int) and 0 <= index < 32):
            raise FormatError(f"Nitro PCR index {index!r} is not an integer in 0..31")
        if not (isinstance(value, bytes) and len(value) == PCR_LENGTH):
            raise FormatError(f"Nitro PCR{index} is not {PCR_LENGTH} bytes of SHA384")
        pcrs[index] = value
    missing = [i for i in (0, 1, 2) if i not in pcrs]
    if missing:
        raise FormatError(f"Nitro document lacks PCR(s) {missing}")
    return NitroDocument(
        cose=cose,
        module_id=module_id,
        digest=digest,
        timestamp_ms=timestamp,
        pcrs=MappingProxyType(dict(sorted(pcrs.items()))),
        certificate=certificate,
        cabundle=tuple(cabundle),
        public_key=_optional_bytes(body, "public_key"),
        user_data=_optional_bytes(body, "user_data"),
        nonce=_optional_bytes(body, "nonce"),
    )


def verify_nitro(
    document: bytes,
    *,
    roots: Roots,
    now: dt.datetime,
    allow_debug: bool = False,
    expected_pcrs: Mapping[int, bytes] | None = None,
    expected_nonce: bytes | None = None,
    max_age: dt.timedelta | None = None,
) -> AttestationResult:
    """Verify a raw (CBOR) Nitro attestation document against ``roots`` at ``now``.

    ``allow_debug=False`` (the default) rejects debug-mode enclaves, whose memory the host
    can read. ``expected_pcrs`` pins PCR values by index; ``expected_nonce`` must equal the
    document's nonce; ``max_age`` bounds ``now - timestamp``.
    """
    now = require_aware(now)
    trusted = load_roots(roots)
    doc = parse_nitro_document(document)
    leaf = _load_der(doc.certificate, "certificate")
    bundle = [_load_der(c, f"cabundle[{i}]") for i, c in enumerate(doc.cabundle)]
    path = verify_chain(leaf, bundle, trusted, now, what="Nitro")
    _verify_signature(doc.cose, leaf)
    _apply_policy(doc, now, allow_debug, expected_pcrs, expected_nonce, max_age)

    anchor = path[-1]
    match = _REGION.search(_common_name(leaf))
    details: dict[str, Any] = {
        "module_id": doc.module_id,
        "timestamp_ms": doc.timestamp_ms,
        "timestamp": doc.timestamp,
        "digest": doc.digest,
        "pcrs": doc.pcrs,
        "user_data": doc.user_data,
        "nonce": doc.nonce,
        "public_key": doc.public_key,
        "region": match.group(1) if match else None,
        "chain": [c.subject.rfc4514_string() for c in path],
        "root_sha256": fingerprint(anchor),
        "document": doc,
    }
    return AttestationResult(
        kind="nitro",
        measurement=doc.measurement,
        report_data=doc.user_data,
        tcb_status=None,
        debug=doc.debug,
        simulated="SIMULATED" in _common_name(anchor),
        skipped=(),
        document_hash=attestation_hash(document),
        details=MappingProxyType(details),
    )


def load_nitro_file(path: str | Path) -> bytes:
    """Read a Nitro document stored as raw CBOR or as base64 text; return the raw CBOR."""
    data = Path(path).read_bytes()
    if data[:1] in (b"\x84", b"\xd2"):  # CBOR array(4) or tag(18)
        return data
    try:
        return base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FormatError(f"{path} is neither raw CBOR nor base64: {exc}") from exc


def _verify_signature(cose: CoseSign1, leaf: x509.Certificate) -> None:
    key = leaf.public_key()
    if not (isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP384R1)):
        raise SignatureInvalid("Nitro COSE signature check failed: leaf key is not ECDSA P-384")
    r = int.from_bytes(cose.signature[:48], "big")
    s = int.from_bytes(cose.signature[48:], "big")
    try:
        key.verify(encode_dss_signature(r, s), cose.sig_structure(), ec.ECDSA(hashes.SHA384()))
    except InvalidSignature as exc:
        raise SignatureInvalid(
            "Nitro COSE signature check failed: the ES384 signature over Sig_structure does not "
            f"verify with the key of {leaf.subject.rfc4514_string()!r}; the payload or the "
            "certificate was altered"
        ) from exc


def _apply_policy(
    doc: NitroDocument,
    now: dt.datetime,
    allow_debug: bool,
    expected_pcrs: Mapping[int, bytes] | None,
    expected_nonce: bytes | None,
    max_age: dt.timedelta | None,
) -> None:
    if doc.debug and not allow_debug:
        raise PolicyViolation(
            f"Nitro debug policy check failed: enclave {doc.module_id} runs in debug mode "
            "(PCR0-2 are zero), so the host can read its memory; pass allow_debug=True only "
            "for development"
        )
    for index, want in (expected_pcrs or {}).items():
        got = doc.pcrs.get(index)
        if got != bytes(want):
            raise PolicyViolation(
                f"Nitro expected-PCR check failed: PCR{index} is "
                f"{got.hex() if got is not None else 'absent'}, expected {bytes(want).hex()}"
            )
    if expected_nonce is not None and doc.nonce != bytes(expected_nonce):
        raise PolicyViolation(
            "Nitro nonce check failed: the document's nonce "
            f"({doc.nonce.hex() if doc.nonce else 'absent'}) is not the expected challenge"
        )
    if max_age is not None and now - doc.timestamp > max_age:
        raise PolicyViolation(
            f"Nitro freshness check failed: document made at {doc.timestamp.isoformat()} is "
            f"older than {max_age} at {now.isoformat()}; request a new attestation"
        )


def _loads_exact(data: bytes, what: str) -> Any:
    """Decode one CBOR item that must span all of ``data``: trailing bytes would let one
    attestation have many encodings (and many attestation hashes)."""
    stream = io.BytesIO(data)
    try:
        obj = cbor2.CBORDecoder(stream).decode()
    except (cbor2.CBORDecodeError, ValueError, TypeError, EOFError) as exc:
        raise FormatError(f"{what} is not valid CBOR: {exc}") from exc
    if stream.tell() != len(data):
        raise FormatError(f"{what} has {len(data) - stream.tell()} trailing bytes after its CBOR")
    return obj


def _field(body: Mapping, name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in body:
        raise FormatError(f"Nitro document lacks mandatory field {name!r}")
    value = body[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FormatError(f"Nitro field {name!r} has type {type(value).__name__}, "
                          f"expected {kind!r}")
    return value


def _optional_bytes(body: Mapping, name: str) -> bytes | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bytes):
        raise FormatError(f"Nitro field {name!r} must be a byte string or null")
    return value


def _load_der(der: bytes, what: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise FormatError(f"Nitro {what} is not a DER X.509 certificate: {exc}") from exc


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""
