"""Intel SGX/TDX DCAP verifier (dcap-qvl) against tests/vectors/attestation/dcap."""

from __future__ import annotations

import datetime as dt

import pytest
from eth_utils import keccak

from offchain.proofs.tee import (
    AttestationError,
    CertificateExpired,
    ChainInvalid,
    FormatError,
    PolicyViolation,
    SignatureInvalid,
    load_roots_file,
    measurement_id,
)
from offchain.proofs.tee.dcap import _classify, check_dcap_policy, parse_dcap_quote, verify_dcap
from offchain.proofs.tee.pki import INTEL_SGX_ROOT_CA_SHA256
from tests.proofs.vectors import attestation_vectors as _vectors

UTC = dt.UTC
NOW = dt.datetime.fromtimestamp(1751328000, UTC)
OUTDATED_NOW = dt.datetime.fromtimestamp(1772323200, UTC)


def _read(name: str) -> bytes:
    return (_vectors() / "dcap" / name).read_bytes()


def _at(epoch: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, UTC)


@pytest.fixture(scope="module")
def intel_root():
    return load_roots_file(_vectors() / "dcap" / "intel_sgx_root_ca.pem",
                           expected_sha256=[INTEL_SGX_ROOT_CA_SHA256])


@pytest.mark.parametrize("use_file_root", [False, True])
def test_sgx_quote_verifies_with_expected_fields(intel_root, use_file_root):
    result = verify_dcap(_read("sgx_quote.bin"), collateral=_read("sgx_quote_collateral.json"),
                         now=NOW, roots=intel_root if use_file_root else None)
    d = result.details
    assert result.kind == "dcap"
    assert result.tcb_status == "ConfigurationAndSWHardeningNeeded"
    assert d["advisory_ids"] == ("INTEL-SA-00289", "INTEL-SA-00615")
    assert d["qe_status"] == "UpToDate"
    assert d["tee_type"] == "SGX" and d["quote_version"] == 3
    assert (d["fmspc"], d["pck_ca"]) == ("00A067110000", "processor")
    assert (d["qe_svn"], d["pce_svn"]) == (10, 15)
    assert result.report_data == b"Hello, world!" + bytes(51)
    assert result.measurement == d["mr_enclave"] == bytes.fromhex(
        "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb")
    assert d["mr_signer"] == bytes.fromhex(
        "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6")
    assert d["attributes"] == bytes.fromhex("0500000000000000e700000000000000")
    assert d["cpu_svn"] == bytes.fromhex("0b0b1a18ffff04000000000000000000")
    assert d["ppid"] == bytes.fromhex("d04ec06d4e6d92dc90d0ad3cf5ee2ddf")
    assert result.debug is False and result.skipped == ()
    assert d["root"] == ("caller" if use_file_root else "dcap-qvl built-in Intel SGX Root CA")
    assert measurement_id(result) == keccak(result.measurement)


def test_tdx_quote_verifies_with_expected_fields(intel_root):
    result = verify_dcap(_read("tdx_quote.bin"), collateral=_read("tdx_quote_collateral.json"),
                         now=NOW, roots=intel_root)
    d = result.details
    assert result.tcb_status == "UpToDate" and d["advisory_ids"] == ()
    assert d["tee_type"] == "TDX" and d["quote_version"] == 4
    assert (d["fmspc"], d["pck_ca"]) == ("B0C06F000000", "platform")
    assert result.report_data.hex() == (
        "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9"
        "eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20")
    assert result.measurement.hex() == (
        "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407"
        "de03ae6dc5f87f27428b2538873118b7")
    assert d["mr_seam"].hex().startswith("5b38e33a6487958b72c3c12a938eaa5e")
    assert d["rt_mr0"].hex() == (
        "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c"
        "48aca29b220b80b6a540cf994b9bc9c0")
    assert d["rt_mr2"].hex().endswith("d48c3132") and d["rt_mr3"] == bytes(48)
    assert d["td_attributes"].hex() == "0000001000000000"
    assert d["xfam"].hex() == "e702060000000000"
    assert d["tee_tcb_svn"].hex().startswith("06010300")
    assert result.debug is False


def test_outdated_tdx_quote_parses_but_fails_tcb_matching():
    quote = parse_dcap_quote(_read("tdx_quote_outdated.bin"))
    assert (quote.tee_type, quote.version, quote.fmspc) == ("TDX", 5, "90C06F000000")
    assert quote.report_data == bytes.fromhex(
        "d2142b643598eb5fae2bc8529dd79a558b29f868ccbb6531cb28dab9dce47728") + bytes(32)
    assert quote.measurement.hex().startswith("273828c46252fcbd")
    assert quote.fields["xfam"].hex() == "e718060000000000"
    with pytest.raises(PolicyViolation, match="No matching TCB level found"):
        verify_dcap(_read("tdx_quote_outdated.bin"),
                    collateral=_read("tdx_quote_outdated_collateral.json"), now=OUTDATED_NOW)


def test_strict_tcb_policy_rejects_sgx_hardening_status():
    with pytest.raises(PolicyViolation, match="ConfigurationAndSWHardeningNeeded"):
        verify_dcap(_read("sgx_quote.bin"), collateral=_read("sgx_quote_collateral.json"),
                    now=NOW, allowed_tcb_statuses={"UpToDate"})


@pytest.mark.parametrize("quote,collateral,exc,match", [
    ("TAMPERED_sgx_quote_report_data_byteflip.bin", "sgx_quote_collateral.json",
     SignatureInvalid, "ISV enclave report signature is invalid"),
    ("TAMPERED_tdx_quote_mr_td_byteflip.bin", "tdx_quote_collateral.json",
     SignatureInvalid, "ISV enclave report signature is invalid"),
    ("TAMPERED_sgx_quote_pck_leaf_swapped.bin", "sgx_quote_collateral.json",
     ChainInvalid, "UnknownIssuer"),
    ("sgx_quote.bin", "TAMPERED_sgx_quote_collateral_tcb_info_byteflip.json",
     SignatureInvalid, "Signature is invalid for tcb_info"),
    ("sgx_quote.bin", "TAMPERED_sgx_quote_collateral_tcb_info_issuer_chain_swapped.json",
     ChainInvalid, "CaUsedAsEndEntity"),
    ("tdx_quote.bin", "sgx_quote_collateral.json",
     FormatError, "Unsupported QE Identity id/version"),
])
def test_tampered_and_mismatched_inputs_rejected(quote, collateral, exc, match):
    with pytest.raises(exc, match=match):
        verify_dcap(_read(quote), collateral=_read(collateral), now=NOW)


@pytest.mark.parametrize("quote,collateral,epoch,ok,match", [
    ("sgx_quote.bin", "sgx_quote_collateral.json", 1750330571, True, None),
    ("sgx_quote.bin", "sgx_quote_collateral.json", 1752919278, True, None),
    ("sgx_quote.bin", "sgx_quote_collateral.json", 1750330570, False, "issue date is in the"),
    ("sgx_quote.bin", "sgx_quote_collateral.json", 1752919279, False, "expired"),
    ("sgx_quote.bin", "sgx_quote_collateral.json", 1753000000, False, "TCBInfo expired"),
    ("tdx_quote.bin", "tdx_quote_collateral.json", 1750329147, True, None),
    ("tdx_quote.bin", "tdx_quote_collateral.json", 1752919234, True, None),
    ("tdx_quote.bin", "tdx_quote_collateral.json", 1750329146, False, "in the future"),
    ("tdx_quote.bin", "tdx_quote_collateral.json", 1752919235, False, "CrlExpired"),
])
def test_collateral_window_edges(quote, collateral, epoch, ok, match):
    call = lambda: verify_dcap(_read(quote), collateral=_read(collateral), now=_at(epoch))  # noqa: E731
    if ok:
        assert call().kind == "dcap"
    else:
        with pytest.raises(CertificateExpired, match=match):
            call()


def test_wrong_root_is_chain_error():
    nitro_root = load_roots_file(_vectors() / "nitro" / "aws_nitro_enclaves_root_g1.pem")
    with pytest.raises(ChainInvalid, match="DCAP certificate chain"):
        verify_dcap(_read("sgx_quote.bin"), collateral=_read("sgx_quote_collateral.json"),
                    now=NOW, roots=nitro_root)


def test_garbage_quote_and_collateral_are_format_errors():
    with pytest.raises(FormatError, match="cannot be parsed"):
        verify_dcap(b"\x03\x00" + bytes(40), collateral=_read("sgx_quote_collateral.json"),
                    now=NOW)
    with pytest.raises(FormatError, match="QuoteCollateralV3"):
        verify_dcap(_read("sgx_quote.bin"), collateral="{}", now=NOW)


def _flip(data: bytes, offset: int, mask: int) -> bytes:
    out = bytearray(data)
    out[offset] ^= mask
    return bytes(out)


@pytest.mark.parametrize("quote,offset,mask", [
    ("sgx_quote.bin", 96, 0x02),  # SGX ATTRIBUTES.DEBUG
    ("tdx_quote.bin", 168, 0x01),  # TDX TD_ATTRIBUTES.DEBUG
])
def test_debug_attribute_detection_and_policy(quote, offset, mask):
    genuine = parse_dcap_quote(_read(quote))
    debug = parse_dcap_quote(_flip(_read(quote), offset, mask))
    assert genuine.debug is False and debug.debug is True
    check_dcap_policy(debug, "UpToDate", allow_debug=True)
    with pytest.raises(PolicyViolation, match="debug policy"):
        check_dcap_policy(debug, "UpToDate")
    with pytest.raises(PolicyViolation, match="TCB status"):
        check_dcap_policy(genuine, "OutOfDate")
    # Setting the bit in a real quote breaks its signature before policy is consulted.
    collateral = _read("sgx_quote_collateral.json" if quote.startswith("sgx")
                       else "tdx_quote_collateral.json")
    with pytest.raises(SignatureInvalid):
        verify_dcap(_flip(_read(quote), offset, mask), collateral=collateral, now=NOW,
                    allow_debug=True)


def test_dcap_takes_exactly_one_root(intel_root):
    nitro_root = load_roots_file(_vectors() / "nitro" / "aws_nitro_enclaves_root_g1.pem")
    with pytest.raises(ValueError, match="exactly one"):
        verify_dcap(_read("sgx_quote.bin"), collateral=_read("sgx_quote_collateral.json"),
                    now=NOW, roots=[*intel_root, *nitro_root])


@pytest.mark.parametrize("message,exc", [
    ("Verification failed: QE Identity expired", CertificateExpired),
    ("Verification failed: Failed to verify certificate chain\n\nCaused by:\n    CertExpired",
     CertificateExpired),
    ("Verification failed: PCK certificate is revoked", ChainInvalid),
    ("Verification failed: Signature is invalid for qe_identity", SignatureInvalid),
    ("Verification failed: TCB status is Revoked", PolicyViolation),
    ("Verification failed: QE report hash mismatch", SignatureInvalid),
    ("Verification failed: QE MRSIGNER mismatch: expected 8c4f, got 00", ChainInvalid),
    ("Verification failed: Platform TCB too old: tcb_date_tag 2023", PolicyViolation),
    ("Verification failed: Unsupported quote version", FormatError),
    ("Verification failed: something new", AttestationError),
])
def test_library_messages_map_to_the_failing_check(message, exc):
    error = _classify(message, NOW)
    assert type(error) is exc
    assert message.split(": ", 1)[1].split()[0] in str(error)
