"""Intel SGX / TDX DCAP quotes, verified offline with ``dcap-qvl`` (PyPI, pinned 0.7.0).

The library does the cryptography: PCK chain to the Intel root, CRLs, the quote signature
by the attestation key, the QE report, TCB info and QE identity signatures and dates, and
TCB-level matching. We add what a registry needs on top: one exception hierarchy (the
library raises ``ValueError`` with a message; we map it to the failing check), a TCB-status
allowlist, a debug-enclave policy, and typed fields.

Collateral (``QuoteCollateralV3`` JSON) must be fetched beforehand by whoever has network
access; it is signed by Intel, so it can travel through untrusted hands.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import dcap_qvl
from cryptography.hazmat.primitives.serialization import Encoding

from offchain.proofs.tee.errors import (
    AttestationError,
    CertificateExpired,
    ChainInvalid,
    FormatError,
    PolicyViolation,
    SignatureInvalid,
)
from offchain.proofs.tee.pki import Roots, fingerprint, load_roots, require_aware
from offchain.proofs.tee.result import AttestationResult, attestation_hash

#: TCB statuses accepted by default: the platform is patched; configuration/hardening
#: advisories are reported (``advisory_ids``) for the caller to weigh. OutOfDate* and
#: Revoked are rejected. Pass ``allowed_tcb_statuses={"UpToDate"}`` for the strictest policy.
DEFAULT_ALLOWED_TCB_STATUSES = frozenset(
    {"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded"}
)

_SGX_ATTRIBUTE_DEBUG = 0x02  # SGX ATTRIBUTES.DEBUG: bit 1 of the first byte
_TD_ATTRIBUTE_DEBUG = 0x01  # TDX TD_ATTRIBUTES.TUD.DEBUG: bit 0


@dataclass(frozen=True)
class DcapQuote:
    """Fields of an SGX or TDX quote (decoded, not verified)."""

    tee_type: str  # "SGX" or "TDX"
    version: int
    qe_svn: int
    pce_svn: int
    fmspc: str
    pck_ca: str  # "processor" or "platform"
    report_data: bytes
    measurement: bytes  # mr_enclave (SGX) or mr_td (TDX)
    signer: bytes  # mr_signer (SGX) or mr_seam (TDX)
    attributes: bytes  # SGX attributes or TDX td_attributes
    debug: bool
    fields: Mapping[str, Any]  # every report field by its Intel name (bytes or int)


def parse_dcap_quote(quote: bytes) -> DcapQuote:
    """Decode a quote's header and report body; no signature or collateral check."""
    try:
        parsed = dcap_qvl.parse_quote(bytes(quote))
        report = parsed.report
        header = parsed.header
        fmspc = parsed.fmspc()
        pck_ca = parsed.ca()
    except (ValueError, TypeError) as exc:
        raise FormatError(f"DCAP quote cannot be parsed: {exc}") from exc
    fields = {name: getattr(report, name) for name in dir(report) if not name.startswith("_")}
    if parsed.is_sgx():
        tee_type, measurement, signer = "SGX", report.mr_enclave, report.mr_signer
        attributes = report.attributes
        debug = bool(attributes[0] & _SGX_ATTRIBUTE_DEBUG)
    else:
        tee_type, measurement, signer = "TDX", report.mr_td, report.mr_seam
        attributes = report.td_attributes
        debug = bool(attributes[0] & _TD_ATTRIBUTE_DEBUG)
    return DcapQuote(
        tee_type=tee_type,
        version=header.version,
        qe_svn=header.qe_svn,
        pce_svn=header.pce_svn,
        fmspc=fmspc,
        pck_ca=pck_ca,
        report_data=bytes(report.report_data),
        measurement=bytes(measurement),
        signer=bytes(signer),
        attributes=bytes(attributes),
        debug=debug,
        fields=MappingProxyType(fields),
    )


def verify_dcap(
    quote: bytes,
    *,
    collateral: str | bytes,
    now: dt.datetime,
    roots: Roots | None = None,
    allowed_tcb_statuses: Collection[str] = DEFAULT_ALLOWED_TCB_STATUSES,
    allow_debug: bool = False,
) -> AttestationResult:
    """Verify an SGX/TDX quote with its collateral JSON at ``now``.

    ``roots``: one Intel SGX root CA (PEM or certificate); ``None`` uses the Intel root built
    into dcap-qvl. Raises ``SignatureInvalid``, ``ChainInvalid``, ``CertificateExpired``
    (any certificate, CRL, TCB info or QE identity outside its window at ``now``),
    ``PolicyViolation`` (TCB level unknown or not allowed, debug enclave) or ``FormatError``.
    """
    now = require_aware(now)
    parsed = parse_dcap_quote(quote)
    col = _load_collateral(collateral)
    root = None
    if roots is not None:
        certs = load_roots(roots)
        if len(certs) != 1:
            raise ValueError(f"DCAP takes exactly one Intel root certificate, got {len(certs)}")
        root = certs[0]
    now_secs = int(now.timestamp())
    try:
        if root is None:
            verified = dcap_qvl.verify(bytes(quote), col, now_secs)
        else:
            root_der = root.public_bytes(Encoding.DER)
            verified = dcap_qvl.verify_with_root_ca(bytes(quote), col, root_der, now_secs)
    except ValueError as exc:
        raise _classify(str(exc), now) from exc
    report = json.loads(verified.to_json())

    status = verified.status
    check_dcap_policy(parsed, status, tuple(verified.advisory_ids),
                      allowed_tcb_statuses=allowed_tcb_statuses, allow_debug=allow_debug)
    details: dict[str, Any] = {
        "tee_type": parsed.tee_type,
        "quote_version": parsed.version,
        "advisory_ids": tuple(verified.advisory_ids),
        "qe_status": report.get("qe_status", {}).get("status"),
        "platform_status": report.get("platform_status", {}).get("status"),
        "fmspc": parsed.fmspc,
        "pck_ca": parsed.pck_ca,
        "ppid": bytes(verified.ppid),
        "qe_svn": parsed.qe_svn,
        "pce_svn": parsed.pce_svn,
        "root_sha256": fingerprint(root) if root is not None else None,
        "root": "caller" if root is not None else "dcap-qvl built-in Intel SGX Root CA",
        "quote": parsed,
        **parsed.fields,
    }
    return AttestationResult(
        kind="dcap",
        measurement=parsed.measurement,
        report_data=parsed.report_data,
        tcb_status=status,
        debug=parsed.debug,
        simulated=False,
        skipped=(),
        document_hash=attestation_hash(bytes(quote)),
        details=MappingProxyType(details),
    )


def check_dcap_policy(
    quote: DcapQuote,
    tcb_status: str,
    advisory_ids: tuple[str, ...] = (),
    *,
    allowed_tcb_statuses: Collection[str] = DEFAULT_ALLOWED_TCB_STATUSES,
    allow_debug: bool = False,
) -> None:
    """Our acceptance policy on top of a cryptographically valid quote (pure)."""
    if tcb_status not in allowed_tcb_statuses:
        raise PolicyViolation(
            f"DCAP TCB status check failed: platform status is {tcb_status!r} (advisories "
            f"{list(advisory_ids)}), allowed: {sorted(allowed_tcb_statuses)}"
        )
    if quote.debug and not allow_debug:
        raise PolicyViolation(
            f"DCAP debug policy check failed: the {quote.tee_type} enclave has its DEBUG "
            "attribute set, so the host can read its memory; pass allow_debug=True only for "
            "development"
        )


def _load_collateral(collateral: str | bytes) -> Any:
    text = collateral.decode() if isinstance(collateral, (bytes, bytearray)) else collateral
    try:
        return dcap_qvl.QuoteCollateralV3.from_json(text)
    except (ValueError, TypeError) as exc:
        raise FormatError(f"DCAP collateral is not QuoteCollateralV3 JSON: {exc}") from exc


def _classify(message: str, now: dt.datetime) -> AttestationError:
    """Map a dcap-qvl error message to the check that failed."""
    reason = " ".join(message.replace("Verification failed:", "").split())
    low = reason.lower()
    if "expired" in low or "in the future" in low or "not yet valid" in low:
        return CertificateExpired(
            f"DCAP collateral validity check failed at {now.isoformat()}: {reason}; verify at "
            "a time inside the collateral window or fetch fresh collateral"
        )
    if "report hash mismatch" in low:  # the QE report does not bind the attestation key
        return SignatureInvalid(f"DCAP attestation key binding check failed: {reason}")
    if "tcb" in low and any(w in low for w in ("level", "status", "too old", "eval")):
        return PolicyViolation(f"DCAP TCB evaluation failed: {reason}")
    if ("qe " in low or "tdx module" in low) and "mismatch" in low:
        return ChainInvalid(f"DCAP quoting enclave identity check failed: {reason}")
    if ("certificate chain" in low or "unknownissuer" in low or "revoked" in low
            or ("crl" in low and ("root" in low or "signature" in low))):
        return ChainInvalid(f"DCAP certificate chain check failed: {reason}")
    if "signature" in low and "invalid" in low:
        return SignatureInvalid(f"DCAP signature check failed: {reason}")
    if "unsupported" in low or "mismatch" in low or "decode" in low or "parse" in low:
        return FormatError(f"DCAP quote/collateral mismatch: {reason}")
    return AttestationError(f"DCAP verification failed: {reason}")
