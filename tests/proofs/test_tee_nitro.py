"""AWS Nitro verifier against the real vectors in tests/vectors/attestation/nitro."""

from __future__ import annotations

import datetime as dt

import cbor2
import pytest
from eth_utils import keccak

from offchain.proofs.tee import (
    CertificateExpired,
    ChainInvalid,
    FormatError,
    PolicyViolation,
    SignatureInvalid,
    load_roots_file,
    measurement_id,
)
from offchain.proofs.tee.nitro import load_nitro_file, verify_nitro
from offchain.proofs.tee.pki import AWS_NITRO_ROOT_G1_SHA256, load_pem_certificates, load_roots
from tests.proofs.vectors import attestation_vectors as _vectors

UTC = dt.UTC
PROD_NOW = dt.datetime(2024, 9, 7, 14, 37, 39, 545000, tzinfo=UTC)
DEBUG_NOW = dt.datetime(2024, 9, 7, 14, 38, 6, 508000, tzinfo=UTC)
BLINDAI_NOW = dt.datetime(2023, 3, 22, 14, 28, 27, 405000, tzinfo=UTC)
ZERO = bytes(48)
PROD_PCR0 = bytes.fromhex(
    "e72a46ca80a260fb044a125442f0c7e331813bcbaf9724d9f3857758992766f2d65710a27aa94ae3949dd54e7c9fe86a")
PROD_PCR1 = bytes.fromhex(
    "0343b056cd8485ca7890ddd833476d78460aed2aa161548e4e26bedf321726696257d623e8805f3f605946b3d8b0c6aa")
PROD_PCR2 = bytes.fromhex(
    "d5dcbdea0aa39c802f9d55ced2ea6e4d74ecec5f08fe40c508882639c9090642669106a062a3e24ee2805a3024b9b75c")
BLOCKY_PCR4 = bytes.fromhex(
    "45706d7b621e4620a332e147a5ddb000b049f73d47d3e61f6b03d2069152d4df6a4a786ad1c10102b955799a9dc96b44")
BLINDAI_PCR4 = bytes.fromhex(
    "77bbaf8092c4ff65c8fa065ffa6024ffc9dd5d8e97cc2db6f28a568f9427e3ff1a3fd305931f689663412615fc15a759")

VALID = [
    # file, now, module_id, timestamp, region, pcr0-2, pcr4, user_data, nonce, public_key, debug
    ("nitro_blocky_prod.b64", PROD_NOW, "i-0a22e5c5f24d22174-enc0191cceb4289903f", 1725719859545,
     "us-east-1", (PROD_PCR0, PROD_PCR1, PROD_PCR2), BLOCKY_PCR4, b"\x01" * 1024, b"\x01" * 1024,
     b"\x01" * 1024, False),
    ("nitro_blocky_debug.b64", DEBUG_NOW, "i-0a22e5c5f24d22174-enc0191ccebaf8feaba", 1725719886508,
     "us-east-1", (ZERO, ZERO, ZERO), BLOCKY_PCR4, b"\x01" * 1024, b"\x01" * 1024,
     b"\x01" * 1024, True),
    ("nitro_blindai_debug.cbor", BLINDAI_NOW, "i-0592d6788f2a6df5f-enc018709b898cd0326",
     1679495307405, "eu-west-3", (ZERO, ZERO, ZERO), BLINDAI_PCR4, b"hello, world!", None,
     b"my super secret key", True),
]


@pytest.fixture(scope="module")
def aws_root():
    return load_roots_file(_vectors() / "nitro" / "aws_nitro_enclaves_root_g1.pem",
                           expected_sha256=[AWS_NITRO_ROOT_G1_SHA256])


def _doc(name: str) -> bytes:
    return load_nitro_file(_vectors() / "nitro" / name)


@pytest.mark.parametrize("vector", VALID, ids=[v[0] for v in VALID])
def test_valid_vectors_verify_with_expected_fields(aws_root, vector):
    name, now, module_id, ts, region, pcr012, pcr4, user_data, nonce, public_key, debug = vector
    result = verify_nitro(_doc(name), roots=aws_root, now=now, allow_debug=True)
    d = result.details
    assert result.kind == "nitro"
    assert d["module_id"] == module_id
    assert d["timestamp_ms"] == ts
    assert d["region"] == region
    assert d["digest"] == "SHA384"
    assert len(d["pcrs"]) == 16
    assert (d["pcrs"][0], d["pcrs"][1], d["pcrs"][2]) == pcr012
    assert d["pcrs"][3] == ZERO and d["pcrs"][8] == ZERO
    assert d["pcrs"][4] == pcr4
    assert d["user_data"] == user_data and result.report_data == user_data
    assert d["nonce"] == nonce
    assert d["public_key"] == public_key
    assert len(d["document"].cabundle) == 4
    assert result.debug is debug
    assert result.simulated is False
    assert result.skipped == ()
    assert result.measurement == b"".join(pcr012)
    assert d["root_sha256"] == AWS_NITRO_ROOT_G1_SHA256


def test_measurement_id_is_keccak_of_pcr0_pcr1_pcr2(aws_root):
    result = verify_nitro(_doc("nitro_blocky_prod.b64"), roots=aws_root, now=PROD_NOW)
    expected = keccak(PROD_PCR0 + PROD_PCR1 + PROD_PCR2)
    assert measurement_id(result) == expected == result.measurement_id
    assert len(result.document_hash) == 32


def test_tagged_cose_sign1_is_accepted(aws_root):
    tagged = cbor2.dumps(cbor2.CBORTag(18, cbor2.loads(_doc("nitro_blocky_prod.b64"))))
    result = verify_nitro(tagged, roots=aws_root, now=PROD_NOW)
    assert result.details["module_id"] == "i-0a22e5c5f24d22174-enc0191cceb4289903f"


@pytest.mark.parametrize("name,now", [("nitro_blocky_debug.b64", DEBUG_NOW),
                                      ("nitro_blindai_debug.cbor", BLINDAI_NOW)])
def test_debug_enclaves_rejected_by_default(aws_root, name, now):
    with pytest.raises(PolicyViolation, match="debug"):
        verify_nitro(_doc(name), roots=aws_root, now=now)


def test_expected_pcrs_match_and_mismatch(aws_root):
    doc = _doc("nitro_blocky_prod.b64")
    verify_nitro(doc, roots=aws_root, now=PROD_NOW, expected_pcrs={0: PROD_PCR0, 2: PROD_PCR2})
    with pytest.raises(PolicyViolation, match="PCR1"):
        verify_nitro(doc, roots=aws_root, now=PROD_NOW, expected_pcrs={1: PROD_PCR0})


def test_expected_nonce_mismatch_and_absent(aws_root):
    verify_nitro(_doc("nitro_blocky_prod.b64"), roots=aws_root, now=PROD_NOW,
                 expected_nonce=b"\x01" * 1024)
    with pytest.raises(PolicyViolation, match="nonce"):
        verify_nitro(_doc("nitro_blocky_prod.b64"), roots=aws_root, now=PROD_NOW,
                     expected_nonce=b"\x02" * 32)
    with pytest.raises(PolicyViolation, match="absent"):
        verify_nitro(_doc("nitro_blindai_debug.cbor"), roots=aws_root, now=BLINDAI_NOW,
                     allow_debug=True, expected_nonce=b"\x01")


def test_max_age(aws_root):
    doc = _doc("nitro_blocky_prod.b64")
    later = PROD_NOW + dt.timedelta(minutes=10)
    verify_nitro(doc, roots=aws_root, now=later, max_age=dt.timedelta(minutes=11))
    with pytest.raises(PolicyViolation, match="freshness"):
        verify_nitro(doc, roots=aws_root, now=later, max_age=dt.timedelta(minutes=9))


# --- tampered and negative cases from the README -------------------------------------------


def test_pcr0_byteflip_fails_signature(aws_root):
    with pytest.raises(SignatureInvalid, match="COSE signature"):
        verify_nitro(_doc("TAMPERED_nitro_blocky_prod_pcr0_byteflip.b64"), roots=aws_root,
                     now=PROD_NOW)


def test_leaf_swapped_fails_signature_where_swapped_leaf_is_valid(aws_root):
    # The swapped-in leaf (from the debug document) is valid from 14:38:03Z, so the README's
    # "chain still valid, signature fails" holds at the debug document's time.
    with pytest.raises(SignatureInvalid, match="COSE signature"):
        verify_nitro(_doc("TAMPERED_nitro_blocky_prod_leaf_swapped.b64"), roots=aws_root,
                     now=DEBUG_NOW)


def test_leaf_swapped_at_prod_time_fails_validity(aws_root):
    # At the README's generic time 14:37:39.545Z the swapped leaf is not valid yet.
    with pytest.raises(CertificateExpired, match="validity"):
        verify_nitro(_doc("TAMPERED_nitro_blocky_prod_leaf_swapped.b64"), roots=aws_root,
                     now=PROD_NOW)


def test_intermediate_swapped_fails_chain(aws_root):
    with pytest.raises(ChainInvalid, match="certificate chain"):
        verify_nitro(_doc("TAMPERED_nitro_blocky_prod_intermediate_swapped.b64"),
                     roots=aws_root, now=PROD_NOW)


@pytest.mark.parametrize("name,now", [
    ("nitro_blocky_prod.b64", dt.datetime(2024, 9, 7, 17, 37, 40, tzinfo=UTC)),
    ("nitro_blocky_prod.b64", dt.datetime(2024, 9, 7, 14, 37, 35, tzinfo=UTC)),
    ("nitro_blindai_debug.cbor", dt.datetime(2023, 3, 22, 17, 28, 28, tzinfo=UTC)),
])
def test_outside_validity_window_fails(aws_root, name, now):
    with pytest.raises(CertificateExpired, match="validity"):
        verify_nitro(_doc(name), roots=aws_root, now=now, allow_debug=True)


@pytest.mark.parametrize("name,now", [(v[0], v[1]) for v in VALID])
def test_wrong_root_fails_chain(name, now):
    nvidia_root = load_roots_file(_vectors() / "nvidia" / "verifier_device_root.pem")
    with pytest.raises(ChainInvalid, match="certificate chain"):
        verify_nitro(_doc(name), roots=nvidia_root, now=now, allow_debug=True)


# --- format errors ---------------------------------------------------------------------------


def _reencode(doc: bytes, mutate) -> bytes:
    protected, unprotected, payload, sig = cbor2.loads(doc)
    body = cbor2.loads(payload)
    protected, body = mutate(protected, body)
    return cbor2.dumps([protected, unprotected, cbor2.dumps(body), sig])


@pytest.mark.parametrize("data,match", [
    (b"\xff\x00garbage", "CBOR"),
    (cbor2.dumps([b"", {}, b"", b""]) + b"\x00", "trailing"),
    (cbor2.dumps([b"", {}, b""]), "4 elements"),
    (cbor2.dumps(cbor2.CBORTag(17, [b"", {}, b"", b""])), "tag 17"),
    (cbor2.dumps([cbor2.dumps({1: -7}), {}, b"", bytes(96)]), "ES384"),
    (cbor2.dumps([cbor2.dumps({1: -35}), {}, b"", bytes(64)]), "96"),
])
def test_malformed_cose_is_format_error(data, match, aws_root):
    with pytest.raises(FormatError, match=match):
        verify_nitro(data, roots=aws_root, now=PROD_NOW)


@pytest.mark.parametrize("mutate,match", [
    (lambda p, b: (p, {k: v for k, v in b.items() if k != "pcrs"}), "pcrs"),
    (lambda p, b: (p, {**b, "digest": "SHA256"}), "digest"),
    (lambda p, b: (p, {**b, "pcrs": {0: b"\x00" * 32}}), "PCR0"),
    (lambda p, b: (p, {**b, "user_data": "text"}), "user_data"),
    (lambda p, b: (p, {**b, "cabundle": []}), "cabundle"),
    (lambda p, b: (p, {**b, "certificate": b"not der"}), "DER"),
    (lambda p, b: (p, {**b, "module_id": ""}), "module_id"),
    (lambda p, b: (p, {**b, "timestamp": "yesterday"}), "timestamp"),
    (lambda p, b: (p, {**b, "timestamp": 0}), "timestamp"),
    (lambda p, b: (p, {**b, "pcrs": {**b["pcrs"], 32: bytes(48)}}), "index 32"),
    (lambda p, b: (p, {**b, "pcrs": {i: v for i, v in b["pcrs"].items() if i != 1}}), r"\[1\]"),
    (lambda p, b: (p, [b]), "map"),
])
def test_malformed_payload_is_format_error(mutate, match, aws_root):
    data = _reencode(_doc("nitro_blocky_prod.b64"), mutate)
    with pytest.raises(FormatError, match=match):
        verify_nitro(data, roots=aws_root, now=PROD_NOW)


def test_load_nitro_file_reads_raw_and_base64_and_rejects_other(tmp_path):
    raw = _doc("nitro_blocky_prod.b64")
    assert load_nitro_file(_vectors() / "nitro" / "nitro_blindai_debug.cbor")[:1] == b"\x84"
    (tmp_path / "raw.cbor").write_bytes(raw)
    assert load_nitro_file(tmp_path / "raw.cbor") == raw
    (tmp_path / "junk.txt").write_text("this is not base64!")
    with pytest.raises(FormatError, match="neither raw CBOR nor base64"):
        load_nitro_file(tmp_path / "junk.txt")


def test_naive_now_is_refused(aws_root):
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_nitro(_doc("nitro_blocky_prod.b64"), roots=aws_root,
                     now=PROD_NOW.replace(tzinfo=None))


def test_root_fingerprint_pinning_rejects_other_file():
    with pytest.raises(ChainInvalid, match="fingerprint"):
        load_roots_file(_vectors() / "nvidia" / "verifier_device_root.pem",
                        expected_sha256=[AWS_NITRO_ROOT_G1_SHA256])


def test_roots_input_validation():
    with pytest.raises(FormatError, match="PEM certificate"):
        load_pem_certificates(b"no certificates here")
    with pytest.raises(ValueError, match="roots must be"):
        load_roots([])
    with pytest.raises(ValueError, match="roots must be"):
        load_roots(["not a certificate"])  # type: ignore[list-item]
