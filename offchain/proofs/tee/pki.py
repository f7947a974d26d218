"""X.509 trust anchors and path validation shared by the Nitro and NVIDIA verifiers.

Path validation is RFC 5280 via ``cryptography``'s verifier: CA certificates are held to the
WebPKI defaults, the end-entity profile is relaxed because vendor attestation leaves (AWS Nitro,
NVIDIA GSP) are not WebPKI certificates (no AuthorityKeyIdentifier, no SAN, no EKU). We still
require what makes a leaf a signing key: KeyUsage with digitalSignature and no CA bit.

Trust comes only from the roots the caller passes: certificates that a document carries are
never trusted, only used as untrusted intermediates for path building.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from offchain.proofs.tee.errors import CertificateExpired, ChainInvalid, FormatError

#: SHA-256 fingerprints (DER) of the vendor roots, for checking the files an operator installs.
AWS_NITRO_ROOT_G1_SHA256 = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
INTEL_SGX_ROOT_CA_SHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"
NVIDIA_DEVICE_IDENTITY_CA_SHA256 = (
    "102bf659d5419614c9d8e6aecebc80454eb26b1df6a769ac720b9a690b167b48"
)

#: What every verifier accepts as ``roots``: PEM text/bytes (one or more certificates), or
#: already-loaded certificates.
Roots = bytes | str | x509.Certificate | Sequence[x509.Certificate]


def fingerprint(cert: x509.Certificate) -> str:
    """Hex SHA-256 of the certificate's DER encoding."""
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def load_pem_certificates(data: bytes | str, *, what: str = "certificates"
                          ) -> list[x509.Certificate]:
    """Parse one or more PEM certificates; ``FormatError`` if there are none or one is bad."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    try:
        certs = x509.load_pem_x509_certificates(raw)
    except ValueError as exc:
        raise FormatError(f"cannot parse {what} as PEM certificates: {exc}") from exc
    if not certs:
        raise FormatError(f"no PEM certificate found in {what}")
    return certs


def load_roots(roots: Roots, *, expected_sha256: Iterable[str] | None = None
               ) -> list[x509.Certificate]:
    """Normalise ``roots`` to a list of certificates.

    With ``expected_sha256`` every root must have one of the given fingerprints, so that a
    mis-installed trust anchor fails loudly instead of silently trusting the wrong vendor.
    """
    if isinstance(roots, x509.Certificate):
        certs = [roots]
    elif isinstance(roots, (bytes, bytearray, str)):
        certs = load_pem_certificates(roots if isinstance(roots, str) else bytes(roots),
                                      what="trusted roots")
    else:
        certs = list(roots)
        if not certs or not all(isinstance(c, x509.Certificate) for c in certs):
            raise ValueError("roots must be PEM data or a non-empty sequence of x509.Certificate")
    if expected_sha256 is not None:
        allowed = {f.lower().replace(":", "") for f in expected_sha256}
        for cert in certs:
            if fingerprint(cert) not in allowed:
                raise ChainInvalid(
                    f"trusted root {cert.subject.rfc4514_string()!r} has SHA-256 fingerprint "
                    f"{fingerprint(cert)}, which is not one of the expected roots; install the "
                    "vendor's published root certificate"
                )
    return certs


def load_roots_file(path: str | Path, *, expected_sha256: Iterable[str] | None = None
                    ) -> list[x509.Certificate]:
    """Read a PEM file of trusted roots (the only I/O in this module)."""
    return load_roots(Path(path).read_bytes(), expected_sha256=expected_sha256)


def require_aware(now: dt.datetime) -> dt.datetime:
    """Verification time must be explicit and timezone-aware: a naive time is ambiguous."""
    if not isinstance(now, dt.datetime) or now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime (e.g. datetime.now(timezone.utc))")
    return now.astimezone(dt.UTC)


def verify_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    now: dt.datetime,
    *,
    what: str,
) -> list[x509.Certificate]:
    """Validate ``leaf`` up to one of ``roots`` at ``now``; return the path, leaf first.

    Raises ``CertificateExpired`` when a certificate on the only candidate path is outside its
    validity window at ``now`` and ``ChainInvalid`` for every other failure (unknown issuer,
    wrong root, bad signature, CA constraints).
    """
    now = require_aware(now)
    verifier = (
        PolicyBuilder()
        .store(Store(list(roots)))
        .time(now)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=_EE_POLICY)
        .build_client_verifier()
    )
    try:
        return list(verifier.verify(leaf, list(intermediates)).chain)
    except VerificationError as exc:
        reason = str(exc)
        if "not valid at validation time" in reason:
            raise CertificateExpired(
                f"{what} certificate validity check failed at {now.isoformat()}: {reason}. "
                f"{_windows(leaf, intermediates)}; pass the time at which the evidence was made"
            ) from exc
        raise ChainInvalid(
            f"{what} certificate chain check failed: {reason}. The chain from "
            f"{leaf.subject.rfc4514_string()!r} does not lead to a trusted root "
            f"({', '.join(repr(r.subject.rfc4514_string()) for r in roots)})"
        ) from exc


def _windows(leaf: x509.Certificate, intermediates: Sequence[x509.Certificate]) -> str:
    parts = [
        f"{c.subject.rfc4514_string()} valid {c.not_valid_before_utc.isoformat()} .. "
        f"{c.not_valid_after_utc.isoformat()}"
        for c in [leaf, *intermediates]
    ]
    return "Windows: " + "; ".join(parts)


def _leaf_key_usage(_policy: Policy, cert: x509.Certificate, ku: x509.KeyUsage) -> None:
    if not ku.digital_signature:
        raise ValueError("attestation leaf KeyUsage lacks digitalSignature")


def _leaf_not_ca(_policy: Policy, cert: x509.Certificate, bc: x509.BasicConstraints | None) -> None:
    if bc is not None and bc.ca:
        raise ValueError("attestation leaf is a CA certificate")


_EE_POLICY = (
    ExtensionPolicy.permit_all()
    .require_present(x509.KeyUsage, Criticality.AGNOSTIC, _leaf_key_usage)
    .may_be_present(x509.BasicConstraints, Criticality.AGNOSTIC, _leaf_not_ca)
)
