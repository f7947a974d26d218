"""Offline verification of TEE attestation evidence (AWS Nitro, Intel DCAP, NVIDIA H100).

``verify_attestation(kind, document, roots=..., now=...)`` dispatches to the format's
verifier and returns one ``AttestationResult``; every rejection is an ``AttestationError``
subclass naming the failed check. ``now`` is always explicit: attestation evidence expires
(certificates, CRLs, TCB info), so the time of verification is part of the question.

Per kind, the extra keyword arguments are those of the format's verifier:

* ``"nitro"`` -> ``nitro.verify_nitro``: ``allow_debug``, ``expected_pcrs``,
  ``expected_nonce``, ``max_age``. ``roots``: the AWS Nitro root (or a simulated root).
* ``"dcap"`` -> ``dcap.verify_dcap``: ``collateral`` (required), ``allowed_tcb_statuses``,
  ``allow_debug``. ``roots``: one Intel SGX root, or ``None`` for dcap-qvl's built-in root.
* ``"nvidia"`` -> ``nvidia.verify_nvidia``: ``cert_chain`` and ``offline`` (required),
  ``expected_nonce``. ``roots``: the NVIDIA Device Identity CA.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from offchain.proofs.tee.binding import binding_digest, check_key_binding
from offchain.proofs.tee.errors import (
    AttestationError,
    BindingMismatch,
    CertificateExpired,
    ChainInvalid,
    FormatError,
    OnlineCheckUnavailable,
    PolicyViolation,
    SignatureInvalid,
)
from offchain.proofs.tee.nitro import verify_nitro
from offchain.proofs.tee.nvidia import verify_nvidia
from offchain.proofs.tee.pki import Roots, load_roots, load_roots_file
from offchain.proofs.tee.result import (
    AttestationKind,
    AttestationResult,
    attestation_hash,
    measurement_id,
)

__all__ = [
    "AttestationError",
    "AttestationKind",
    "AttestationResult",
    "BindingMismatch",
    "CertificateExpired",
    "ChainInvalid",
    "FormatError",
    "OnlineCheckUnavailable",
    "PolicyViolation",
    "SignatureInvalid",
    "attestation_hash",
    "binding_digest",
    "check_key_binding",
    "load_roots",
    "load_roots_file",
    "measurement_id",
    "verify_attestation",
    "verify_nitro",
    "verify_nvidia",
]


def verify_attestation(
    kind: AttestationKind,
    document: bytes,
    *,
    roots: Roots | None,
    now: dt.datetime,
    **kw: Any,
) -> AttestationResult:
    """Verify ``document`` of the given ``kind`` against ``roots`` at ``now``."""
    if kind == "nitro":
        if roots is None:
            raise ValueError("Nitro verification needs the AWS Nitro root passed as roots")
        return verify_nitro(document, roots=roots, now=now, **kw)
    if kind == "dcap":
        # dcap-qvl is the optional "tee" extra: import it only when a DCAP quote is verified.
        from offchain.proofs.tee.dcap import verify_dcap

        return verify_dcap(document, roots=roots, now=now, **kw)
    if kind == "nvidia":
        if roots is None:
            raise ValueError("NVIDIA verification needs the NVIDIA device root passed as roots")
        return verify_nvidia(document, roots=roots, now=now, **kw)
    raise ValueError(f"unknown attestation kind {kind!r}; expected 'nitro', 'dcap' or 'nvidia'")
