"""NVIDIA H100 (GH100) GPU attestation reports: SPDM 1.1 GET_MEASUREMENTS, offline.

The report is the 37-byte request (``11 e0 01 ff`` || 32-byte requester nonce || slot)
followed by the MEASUREMENTS response: header, measurement blocks, 32-byte responder nonce,
opaque TLV data and a 96-byte raw ECDSA P-384 signature over request || response-without-
signature, made by the GPU's attestation key (leaf of the device certificate chain).

What offline verification covers: the signature, the certificate path to a trusted NVIDIA
root at ``now``, the requester nonce. What it cannot cover (both need NVIDIA's services):
comparing the measurements with the reference integrity manifests (RIM) for the reported
driver and VBIOS, and OCSP revocation of the device certificates. ``offline=True`` performs
the rest and lists these in ``skipped``; ``offline=False`` raises ``OnlineCheckUnavailable``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from offchain.proofs.tee.errors import (
    FormatError,
    OnlineCheckUnavailable,
    PolicyViolation,
    SignatureInvalid,
)
from offchain.proofs.tee.pki import (
    Roots,
    fingerprint,
    load_pem_certificates,
    load_roots,
    require_aware,
    verify_chain,
)
from offchain.proofs.tee.result import AttestationResult, attestation_hash

REQUEST_LENGTH = 37
NONCE_LENGTH = 32
SIGNATURE_LENGTH = 96  # raw r || s, P-384
_GET_MEASUREMENTS = 0xE0
_MEASUREMENTS = 0x60
_DMTF_SPEC = 0x01

#: Checks that offline verification skips, with the reason (``AttestationResult.skipped``
#: holds the keys, ``details["skipped_reasons"]`` the texts).
OFFLINE_SKIPPED: Mapping[str, str] = MappingProxyType({
    "nvidia.rim_measurements": (
        "measurement blocks not compared with NVIDIA's driver and VBIOS reference integrity "
        "manifests (RIM service needed)"
    ),
    "nvidia.certificate_revocation": (
        "device certificate revocation not checked (NVIDIA OCSP responder needed)"
    ),
})

_OPAQUE_NAMES = {
    1: "CERT_ISSUER_NAME", 2: "CERT_AUTHORITY_KEY_IDENTIFIER", 3: "DRIVER_VERSION",
    4: "GPU_INFO", 5: "SKU", 6: "VBIOS_VERSION", 7: "MANUFACTURER_ID", 8: "TAMPER_DETECTION",
    9: "SMC", 10: "VPR", 11: "NVDEC0_STATUS", 12: "MSRSCNT", 13: "CPRINFO", 14: "BOARD_ID",
    15: "CHIP_SKU", 16: "CHIP_SKU_MOD", 17: "PROJECT", 18: "PROJECT_SKU",
    19: "PROJECT_SKU_MOD", 20: "FWID", 21: "PROTECTED_PCIE_STATUS", 22: "SWITCH_PDI",
    23: "FLOORSWEPT_PORTS", 24: "POSITION_ID", 25: "LOCK_SWITCH_STATUS", 32: "GPU_LINK_CONN",
    33: "SYS_ENABLE_STATUS", 34: "OPAQUE_DATA_VERSION", 35: "CHIP_INFO", 36: "FEATURE_FLAG",
}
_TEXT_FIELDS = {"DRIVER_VERSION", "CHIP_SKU", "CHIP_SKU_MOD", "PROJECT", "PROJECT_SKU"}


@dataclass(frozen=True)
class MeasurementBlock:
    """One DMTF measurement block: index (1-based), value type, digest."""

    index: int
    value_type: int
    value: bytes


@dataclass(frozen=True)
class SpdmReport:
    """A decoded (not yet verified) GET_MEASUREMENTS request + MEASUREMENTS response."""

    request: bytes
    response: bytes
    spdm_version: int
    requester_nonce: bytes
    slot: int
    blocks: tuple[MeasurementBlock, ...]
    responder_nonce: bytes
    opaque_fields: Mapping[str, bytes]  # raw TLV values by field name
    signature: bytes

    @property
    def signed_bytes(self) -> bytes:
        """request || response without its signature: what the GPU signed."""
        return self.request + self.response[:-SIGNATURE_LENGTH]

    @property
    def opaque(self) -> Mapping[str, Any]:
        """Opaque fields made readable: text fields as str, VBIOS as ``xx.xx.xx.xx.xx``,
        MSRSCNT as a tuple of counters, everything else as lowercase hex."""
        return MappingProxyType({k: _decode_opaque(k, v) for k, v in self.opaque_fields.items()})

    @property
    def measurement(self) -> bytes:
        """SHA-384 over the measurement values in index order (the allowlist measurement)."""
        return hashlib.sha384(b"".join(b.value for b in self.blocks)).digest()


def decode_report(document: bytes | str) -> bytes:
    """Accept the report as raw bytes or as the hex text NVIDIA's tools write."""
    if isinstance(document, (bytes, bytearray)):
        if document[:2] == bytes([0x11, _GET_MEASUREMENTS]):
            return bytes(document)
        text = document.decode("ascii", "replace")
    else:
        text = document
    try:
        return bytes.fromhex("".join(text.split()))
    except ValueError as exc:
        raise FormatError(f"NVIDIA report is neither SPDM bytes nor hex text: {exc}") from exc


def parse_spdm_report(report: bytes) -> SpdmReport:
    """Decode request and response; check lengths, codes and the DMTF block format."""
    if len(report) < REQUEST_LENGTH + 8 + NONCE_LENGTH + 2 + SIGNATURE_LENGTH:
        raise FormatError(f"NVIDIA report is too short ({len(report)} bytes)")
    request, response = report[:REQUEST_LENGTH], report[REQUEST_LENGTH:]
    if request[1] != _GET_MEASUREMENTS or not request[2] & 0x01:
        raise FormatError("NVIDIA report does not start with a signed GET_MEASUREMENTS request")
    if response[0] != request[0] or response[1] != _MEASUREMENTS:
        raise FormatError("NVIDIA report response is not an SPDM MEASUREMENTS of the same version")
    count = response[4]
    record_length = int.from_bytes(response[5:8], "little")
    record = response[8:8 + record_length]
    if len(record) != record_length:
        raise FormatError("NVIDIA measurement record is truncated")
    blocks = _parse_blocks(record, count)
    pos = 8 + record_length
    responder_nonce = response[pos:pos + NONCE_LENGTH]
    pos += NONCE_LENGTH
    opaque_length = int.from_bytes(response[pos:pos + 2], "little")
    pos += 2
    opaque = response[pos:pos + opaque_length]
    pos += opaque_length
    signature = response[pos:]
    if len(opaque) != opaque_length or len(signature) != SIGNATURE_LENGTH:
        raise FormatError(
            f"NVIDIA response layout is inconsistent: {len(signature)} bytes left for the "
            f"signature, expected {SIGNATURE_LENGTH}"
        )
    return SpdmReport(
        request=request,
        response=response,
        spdm_version=request[0],
        requester_nonce=request[4:4 + NONCE_LENGTH],
        slot=request[4 + NONCE_LENGTH],
        blocks=blocks,
        responder_nonce=responder_nonce,
        opaque_fields=MappingProxyType(_parse_opaque(opaque)),
        signature=signature,
    )


def verify_nvidia(
    report: bytes | str,
    *,
    cert_chain: bytes | str,
    roots: Roots,
    now: dt.datetime,
    offline: bool,
    expected_nonce: bytes | None = None,
) -> AttestationResult:
    """Verify a GPU report with its PEM certificate chain (leaf first) at ``now``.

    ``offline`` must be given explicitly: ``True`` verifies chain, signature and nonce and
    lists the skipped RIM/OCSP checks; ``False`` raises ``OnlineCheckUnavailable``.
    """
    if not offline:
        raise OnlineCheckUnavailable(
            "NVIDIA RIM measurement comparison and OCSP revocation checks need network access "
            "to NVIDIA's RIM service and OCSP responder, which this verifier does not have; "
            "pass offline=True to verify the signature and certificate chain and get the "
            "skipped checks listed in the result"
        )
    now = require_aware(now)
    trusted = load_roots(roots)
    raw = decode_report(report)
    parsed = parse_spdm_report(raw)
    chain = load_pem_certificates(cert_chain, what="NVIDIA certificate chain")
    path = verify_chain(chain[0], chain[1:], trusted, now, what="NVIDIA device")
    _verify_signature(parsed, chain[0])
    if expected_nonce is not None and parsed.requester_nonce != bytes(expected_nonce):
        raise PolicyViolation(
            f"NVIDIA nonce check failed: report answers nonce {parsed.requester_nonce.hex()}, "
            f"not the expected {bytes(expected_nonce).hex()}; the report may be replayed"
        )
    opaque = parsed.opaque
    details: dict[str, Any] = {
        "requester_nonce": parsed.requester_nonce,
        "responder_nonce": parsed.responder_nonce,
        "measurements": tuple(b.value for b in parsed.blocks),
        "opaque": opaque,
        "driver_version": opaque.get("DRIVER_VERSION"),
        "vbios_version": opaque.get("VBIOS_VERSION"),
        "leaf_sha256": fingerprint(chain[0]),
        "chain": [c.subject.rfc4514_string() for c in path],
        "root_sha256": fingerprint(path[-1]),
        "skipped_reasons": OFFLINE_SKIPPED,
        "report": parsed,
    }
    return AttestationResult(
        kind="nvidia",
        measurement=parsed.measurement,
        report_data=parsed.requester_nonce,
        tcb_status=None,
        debug=False,
        simulated=False,
        skipped=tuple(OFFLINE_SKIPPED),
        document_hash=attestation_hash(raw),
        details=MappingProxyType(details),
    )


def format_vbios_version(raw: bytes) -> str:
    """NVIDIA's VBIOS notation: ``009f009601000000`` -> ``96.00.9f.00.01``.

    The 8 bytes are a little-endian integer; its low 4 bytes are printed (big-endian hex,
    dotted) followed by the lowest byte of the high half.
    """
    value = raw[::-1].hex()
    half = len(value) // 2
    digits = value[half:] + value[half - 2:half]
    return ".".join(digits[i:i + 2] for i in range(0, len(digits), 2))


def _verify_signature(report: SpdmReport, leaf: x509.Certificate) -> None:
    key = leaf.public_key()
    if not (isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP384R1)):
        raise SignatureInvalid("NVIDIA report signature check failed: leaf key is not P-384")
    r = int.from_bytes(report.signature[:48], "big")
    s = int.from_bytes(report.signature[48:], "big")
    try:
        key.verify(encode_dss_signature(r, s), report.signed_bytes, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature as exc:
        raise SignatureInvalid(
            "NVIDIA report signature check failed: the ECDSA P-384 signature over "
            f"{len(report.signed_bytes)} bytes does not verify with the key of "
            f"{leaf.subject.rfc4514_string()!r}; the report was altered or comes from "
            "another GPU"
        ) from exc


def _parse_blocks(record: bytes, count: int) -> tuple[MeasurementBlock, ...]:
    blocks, pos = [], 0
    for _ in range(count):
        if pos + 7 > len(record):
            raise FormatError("NVIDIA measurement block header is truncated")
        index, spec = record[pos], record[pos + 1]
        size = int.from_bytes(record[pos + 2:pos + 4], "little")
        body = record[pos + 4:pos + 4 + size]
        if spec != _DMTF_SPEC:
            raise FormatError(f"NVIDIA measurement block {index} is not in DMTF format")
        value_size = int.from_bytes(body[1:3], "little")
        if len(body) != size or value_size != size - 3:
            raise FormatError(f"NVIDIA measurement block {index} has inconsistent sizes")
        blocks.append(MeasurementBlock(index=index, value_type=body[0], value=body[3:]))
        pos += 4 + size
    if pos != len(record):
        raise FormatError("NVIDIA measurement record length does not match its blocks")
    if sorted(b.index for b in blocks) != list(range(1, count + 1)):
        raise FormatError("NVIDIA measurement block indices are not 1..N")
    return tuple(sorted(blocks, key=lambda b: b.index))


def _parse_opaque(data: bytes) -> dict[str, bytes]:
    fields: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise FormatError("NVIDIA opaque data ends inside a TLV header")
        kind = int.from_bytes(data[pos:pos + 2], "little")
        size = int.from_bytes(data[pos + 2:pos + 4], "little")
        value = data[pos + 4:pos + 4 + size]
        if len(value) != size:
            raise FormatError(f"NVIDIA opaque field {kind} is truncated")
        name = _OPAQUE_NAMES.get(kind, f"UNKNOWN_{kind}")
        if name in fields:
            raise FormatError(f"NVIDIA opaque field {name} appears twice")
        fields[name] = value
        pos += 4 + size
    return fields


def _decode_opaque(name: str, value: bytes) -> Any:
    if name in _TEXT_FIELDS:
        return value.split(b"\x00", 1)[0].decode("ascii", "replace")
    if name == "VBIOS_VERSION":
        return format_vbios_version(value)
    if name == "MSRSCNT" and len(value) % 4 == 0:
        return tuple(int.from_bytes(value[i:i + 4], "little") for i in range(0, len(value), 4))
    return value.hex()
