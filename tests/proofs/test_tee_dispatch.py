"""verify_attestation dispatches each kind to its verifier and returns one result type."""

from __future__ import annotations

import datetime as dt

import pytest

from offchain.errors import AttestiaError
from offchain.proofs.tee import (
    AttestationError,
    AttestationResult,
    OnlineCheckUnavailable,
    load_roots_file,
    verify_attestation,
)
from offchain.proofs.tee.nitro import load_nitro_file
from tests.proofs.vectors import attestation_vectors as _vectors

UTC = dt.UTC




def test_each_kind_returns_an_attestation_result():
    v = _vectors()
    nitro = verify_attestation(
        "nitro", load_nitro_file(v / "nitro" / "nitro_blocky_prod.b64"),
        roots=load_roots_file(v / "nitro" / "aws_nitro_enclaves_root_g1.pem"),
        now=dt.datetime(2024, 9, 7, 14, 37, 39, 545000, tzinfo=UTC))
    dcap = verify_attestation(
        "dcap", (v / "dcap" / "tdx_quote.bin").read_bytes(),
        roots=(v / "dcap" / "intel_sgx_root_ca.pem").read_bytes(),
        now=dt.datetime.fromtimestamp(1751328000, UTC),
        collateral=(v / "dcap" / "tdx_quote_collateral.json").read_text())
    nvidia = verify_attestation(
        "nvidia", (v / "nvidia" / "hopperAttestationReport.txt").read_bytes(),
        roots=(v / "nvidia" / "verifier_device_root.pem").read_bytes(),
        now=dt.datetime(2025, 1, 1, tzinfo=UTC),
        cert_chain=(v / "nvidia" / "hopperCertChain.txt").read_bytes(), offline=True)
    for result, kind, length in [(nitro, "nitro", 144), (dcap, "dcap", 48), (nvidia, "nvidia", 48)]:
        assert isinstance(result, AttestationResult)
        assert result.kind == kind and len(result.measurement) == length
        assert len(result.measurement_id) == 32 and len(result.document_hash) == 32
    assert dcap.tcb_status == "UpToDate" and nitro.tcb_status is None
    assert nitro.skipped == () and dcap.skipped == () and len(nvidia.skipped) == 2


def test_nvidia_requires_explicit_offline_flag():
    v = _vectors()
    kwargs = dict(roots=(v / "nvidia" / "verifier_device_root.pem").read_bytes(),
                  now=dt.datetime(2025, 1, 1, tzinfo=UTC),
                  cert_chain=(v / "nvidia" / "hopperCertChain.txt").read_bytes())
    report = (v / "nvidia" / "hopperAttestationReport.txt").read_bytes()
    with pytest.raises(TypeError, match="offline"):
        verify_attestation("nvidia", report, **kwargs)
    with pytest.raises(OnlineCheckUnavailable, match="offline=True"):
        verify_attestation("nvidia", report, offline=False, **kwargs)


def test_unknown_kind_and_missing_roots():
    now = dt.datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="unknown attestation kind"):
        verify_attestation("sev", b"", roots=None, now=now)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="AWS Nitro root"):
        verify_attestation("nitro", b"", roots=None, now=now)


def test_errors_belong_to_the_project_hierarchy():
    assert issubclass(AttestationError, AttestiaError)
