"""NVIDIA H100 SPDM report verifier against tests/vectors/attestation/nvidia."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from offchain.proofs.tee import (
    CertificateExpired,
    ChainInvalid,
    FormatError,
    OnlineCheckUnavailable,
    PolicyViolation,
    SignatureInvalid,
    load_roots_file,
)
from offchain.proofs.tee.nvidia import (
    OFFLINE_SKIPPED,
    decode_report,
    format_vbios_version,
    parse_spdm_report,
    verify_nvidia,
)
from offchain.proofs.tee.pki import NVIDIA_DEVICE_IDENTITY_CA_SHA256
from tests.proofs.vectors import attestation_vectors as _vectors

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def _read(name: str) -> bytes:
    return (_vectors() / "nvidia" / name).read_bytes()


@pytest.fixture(scope="module")
def nv_root():
    return load_roots_file(_vectors() / "nvidia" / "verifier_device_root.pem",
                           expected_sha256=[NVIDIA_DEVICE_IDENTITY_CA_SHA256])


def _verify(report: str, chain: str, roots, now=NOW, **kw):
    return verify_nvidia(_read(report), cert_chain=_read(chain), roots=roots, now=now,
                         offline=kw.pop("offline", True), **kw)


def test_hopper_report_verifies_with_expected_fields(nv_root):
    result = _verify("hopperAttestationReport.txt", "hopperCertChain.txt", nv_root)
    d = result.details
    assert result.kind == "nvidia"
    assert result.report_data.hex() == (
        "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb")
    assert d["responder_nonce"].hex() == (
        "b4b8a06aaaa35542839388e159d447a5d6f6194998fd86513e2d591ccf640985")
    assert len(d["measurements"]) == 64
    assert d["measurements"][0] == bytes(48)
    assert d["measurements"][1].hex().startswith("8048dfd1")
    assert d["measurements"][1].hex().endswith("da338")
    assert d["driver_version"] == "550.90.07"
    assert d["vbios_version"] == "96.00.9f.00.01"
    o = d["opaque"]
    assert (o["PROJECT"], o["PROJECT_SKU"], o["CHIP_SKU"], o["CHIP_SKU_MOD"]) == (
        "1010", "0200", "882", "0")
    assert (o["BOARD_ID"], o["GPU_INFO"], o["NVDEC0_STATUS"]) == (
        "b1030000", "8001000000000000", "55")
    assert o["FWID"] == ("f5c384aebb579217a2c66b17ed0f28e6a9b8d639041acd7b4721cec004f72754"
                         "94ba94bb5cdfdb3055ee051762b1f75d")
    assert o["PROTECTED_PCIE_STATUS"] == "55"
    assert d["leaf_sha256"] == "93385399f329ea108ce7b003a16124a1bca74d24cd844f405d58a64ec704f27b"
    assert d["root_sha256"] == NVIDIA_DEVICE_IDENTITY_CA_SHA256
    assert len(d["report"].signed_bytes) == 4021
    assert result.measurement == hashlib.sha384(b"".join(d["measurements"])).digest()
    assert result.skipped == ("nvidia.rim_measurements", "nvidia.certificate_revocation")
    assert set(d["skipped_reasons"]) == set(result.skipped) == set(OFFLINE_SKIPPED)
    assert result.tcb_status is None and result.debug is False


def test_nvtrust2023_report_verifies_with_expected_fields(nv_root):
    result = _verify("nvtrust2023_attestationReport.txt", "nvtrust2023_gpuAkCertChain.txt",
                     nv_root)
    d = result.details
    assert result.report_data.hex().startswith("4cff7f5380ead8fa")
    assert d["responder_nonce"].hex().startswith("1020ecb8f64dcfd5")
    assert len(d["measurements"]) == 64
    assert d["driver_version"] == "545.00"
    assert d["vbios_version"] == "96.00.5e.00.01"
    assert d["opaque"]["BOARD_ID"] == "b1030000" and d["opaque"]["NVDEC0_STATUS"] == "55"
    assert "FWID" not in d["opaque"] and "PROTECTED_PCIE_STATUS" not in d["opaque"]
    assert d["leaf_sha256"] == "5e80fd2ff7aa8e52cd6d70e2cf35283639d9034877084822987cbf88e4a2cef2"
    assert len(d["report"].signed_bytes) == 3953


def test_raw_binary_and_hex_report_give_same_result(nv_root):
    raw = decode_report(_read("hopperAttestationReport.txt"))
    from_raw = verify_nvidia(raw, cert_chain=_read("hopperCertChain.txt"), roots=nv_root,
                             now=NOW, offline=True)
    from_hex = _verify("hopperAttestationReport.txt", "hopperCertChain.txt", nv_root)
    assert from_raw.document_hash == from_hex.document_hash == hashlib.sha256(raw).digest()
    assert from_raw.measurement == from_hex.measurement


def test_expected_nonce(nv_root):
    good = bytes.fromhex("4cff7f5380ead8fad8ec2c531c110aca4302a88f603792801a8ca29ee151af2e")
    _verify("nvtrust2023_attestationReport.txt", "nvtrust2023_gpuAkCertChain.txt", nv_root,
            expected_nonce=good)
    with pytest.raises(PolicyViolation, match="nonce"):
        _verify("hopperAttestationReport.txt", "hopperCertChain.txt", nv_root,
                expected_nonce=good)


def test_online_mode_is_refused_clearly(nv_root):
    with pytest.raises(OnlineCheckUnavailable, match="network"):
        _verify("hopperAttestationReport.txt", "hopperCertChain.txt", nv_root, offline=False)


def test_vbios_formatting():
    assert format_vbios_version(bytes.fromhex("009f009601000000")) == "96.00.9f.00.01"
    assert format_vbios_version(bytes.fromhex("005e009601000000")) == "96.00.5e.00.01"


# --- tampered and negative cases from the README -------------------------------------------


def test_measurement_byteflip_fails_signature(nv_root):
    with pytest.raises(SignatureInvalid, match="report signature"):
        _verify("TAMPERED_hopperAttestationReport_measurement_byteflip.txt",
                "hopperCertChain.txt", nv_root)


def test_swapped_leaf_fails_chain(nv_root):
    with pytest.raises(ChainInvalid, match="certificate chain"):
        _verify("hopperAttestationReport.txt", "TAMPERED_hopperCertChain_leaf_swapped.txt",
                nv_root)


def test_valid_chain_of_another_gpu_fails_signature(nv_root):
    with pytest.raises(SignatureInvalid, match="report signature"):
        _verify("hopperAttestationReport.txt", "nvtrust2023_gpuAkCertChain.txt", nv_root)


def test_before_provisioner_ca_validity_fails(nv_root):
    with pytest.raises(CertificateExpired, match="validity"):
        _verify("hopperAttestationReport.txt", "hopperCertChain.txt", nv_root,
                now=dt.datetime(2022, 2, 28, tzinfo=dt.UTC))


def test_wrong_root_fails_chain():
    aws_root = load_roots_file(_vectors() / "nitro" / "aws_nitro_enclaves_root_g1.pem")
    with pytest.raises(ChainInvalid, match="certificate chain"):
        _verify("hopperAttestationReport.txt", "hopperCertChain.txt", aws_root)


@pytest.mark.parametrize("mutate,match", [
    (lambda r: r[:100], "too short"),
    (lambda r: r[:1] + b"\x00" + r[2:], "GET_MEASUREMENTS"),
    (lambda r: r[:38] + b"\x00" + r[39:], "MEASUREMENTS"),
    (lambda r: r[:46] + b"\x02" + r[47:], "DMTF"),  # block 1 measurement specification
    (lambda r: r + b"\x00", "layout"),
])
def test_malformed_reports_are_format_errors(mutate, match):
    raw = decode_report(_read("hopperAttestationReport.txt"))
    with pytest.raises(FormatError, match=match):
        parse_spdm_report(mutate(raw))


def test_non_hex_text_is_format_error():
    with pytest.raises(FormatError, match="hex"):
        decode_report("not a report")


def _with_opaque(raw: bytes, opaque: bytes) -> bytes:
    """Re-lay a report with different opaque data (signature kept, so only for parsing)."""
    report = parse_spdm_report(raw)
    record_end = 37 + 8 + int.from_bytes(report.response[5:8], "little")
    head = raw[:record_end] + report.responder_nonce
    return head + len(opaque).to_bytes(2, "little") + opaque + report.signature


def test_opaque_tlv_errors_are_format_errors():
    raw = decode_report(_read("hopperAttestationReport.txt"))
    driver = (3).to_bytes(2, "little") + (4).to_bytes(2, "little") + b"1.0\x00"
    assert parse_spdm_report(_with_opaque(raw, driver)).opaque["DRIVER_VERSION"] == "1.0"
    with pytest.raises(FormatError, match="twice"):
        parse_spdm_report(_with_opaque(raw, driver + driver))
    with pytest.raises(FormatError, match="truncated"):
        parse_spdm_report(_with_opaque(raw, driver[:-1]))
    with pytest.raises(FormatError, match="TLV header"):
        parse_spdm_report(_with_opaque(raw, driver + b"\x03\x00"))
    unknown = (99).to_bytes(2, "little") + (1).to_bytes(2, "little") + b"\xab"
    assert parse_spdm_report(_with_opaque(raw, unknown)).opaque["UNKNOWN_99"] == "ab"


def test_measurement_block_index_and_size_errors():
    raw = decode_report(_read("hopperAttestationReport.txt"))
    duplicate_index = raw[:100] + b"\x01" + raw[101:]  # block 2 claims index 1
    with pytest.raises(FormatError, match="indices"):
        parse_spdm_report(duplicate_index)
    bad_value_size = raw[:48] + b"\x2f" + raw[49:]  # block 1 DMTF value size 47 != 48
    with pytest.raises(FormatError, match="inconsistent sizes"):
        parse_spdm_report(bad_value_size)
