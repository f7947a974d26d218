"""The one result every attestation verifier returns, and the ids derived from it.

``measurement`` is what identifies the code that ran, per format:

* Nitro: ``PCR0 || PCR1 || PCR2`` (3 x 48 bytes: image, kernel+bootstrap, application).
  All three together, because a policy pinning PCR0 alone would accept a different
  application on the same kernel only if PCR0 also covered it; pinning all three is the
  AWS-recommended practice and costs nothing.
* DCAP: ``mr_enclave`` (SGX, 32 bytes) or ``mr_td`` (TDX, 48 bytes).
* NVIDIA: SHA-384 over the 64 measurement-block values in index order (the GPU firmware
  state; not an enclave identity, but a stable key for allowlisting a driver/VBIOS set).

``measurement_id`` is the on-chain allowlist key: ``keccak256(measurement)``. For Nitro that is
``keccak256(PCR0 || PCR1 || PCR2)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from eth_utils import keccak

AttestationKind = Literal["nitro", "dcap", "nvidia"]


@dataclass(frozen=True)
class AttestationResult:
    """What a verified attestation proves, in a vendor-neutral shape.

    ``report_data`` is the caller-chosen data the hardware signed: Nitro ``user_data``, the
    64-byte DCAP ``report_data``, the 32-byte NVIDIA requester nonce. ``skipped`` names every
    check that was deliberately not performed (e.g. NVIDIA RIM/OCSP offline); an empty tuple
    means nothing was skipped. ``simulated`` is true when the chain ended at a root whose
    subject says SIMULATED: such evidence proves nothing about hardware.
    """

    kind: AttestationKind
    measurement: bytes
    report_data: bytes | None
    tcb_status: str | None
    debug: bool
    simulated: bool
    skipped: tuple[str, ...]
    document_hash: bytes
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def measurement_id(self) -> bytes:
        """``keccak256(measurement)``: the enclave measurement key registered on-chain."""
        return measurement_id(self)


def measurement_id(result: AttestationResult) -> bytes:
    """The bytes32 allowlist key for ``result``'s measurement: ``keccak256(measurement)``."""
    return id_of_measurement(result.measurement)


def id_of_measurement(measurement: bytes) -> bytes:
    """The bytes32 allowlist key of a measurement (``keccak256(measurement)``), for callers
    that know the measurement before any document attests it (the simulated enclave)."""
    return bytes(keccak(measurement))


def attestation_hash(document: bytes) -> bytes:
    """``sha256(document)``: the TEE ``proofHash`` a worker registers (see docs/design.md).

    Hash exactly the bytes that were verified (raw COSE for Nitro, the raw quote for DCAP,
    the report as stored for NVIDIA), so anyone holding the document can recompute it.
    """
    return hashlib.sha256(document).digest()
