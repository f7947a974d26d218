"""The simulated Nitro enclave, checked by the real Nitro verifier."""

from __future__ import annotations

import datetime as dt
import json
import stat

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from eth_utils import keccak

from offchain.proofs.tee import (
    CertificateExpired,
    ChainInvalid,
    PolicyViolation,
    SignatureInvalid,
    attestation_hash,
    binding_digest,
    check_key_binding,
    load_roots_file,
    measurement_id,
    verify_attestation,
)
from offchain.proofs.tee.nitro import parse_nitro_document, sig_structure
from offchain.proofs.tee.pki import verify_chain
from offchain.proofs.tee.simulated import (
    ROOT_PEM_FILENAME,
    STATE_FILENAME,
    SimulatedNitroEnclave,
    simulated_measurement,
    simulated_pcrs,
)
from tests.proofs.vectors import attestation_vectors as _vectors

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"




@pytest.fixture(scope="module")
def enclave():
    return SimulatedNitroEnclave.create(now=NOW, image=b"worker-image-v1")


def test_round_trip_with_own_root(enclave):
    nonce = b"\x07" * 32
    doc = enclave.attest(chain_id=31337, registry=REGISTRY, nonce=nonce, now=NOW)
    result = verify_attestation("nitro", doc, roots=enclave.root_pem,
                                now=NOW + dt.timedelta(hours=2), expected_nonce=nonce)
    d = result.details
    assert result.simulated is True and result.debug is False
    assert d["module_id"].startswith("SIMULATED-")
    assert d["timestamp_ms"] == int(NOW.timestamp() * 1000)
    assert d["digest"] == "SHA384" and len(d["pcrs"]) == 16
    assert d["public_key"] == enclave.public_key
    assert result.report_data == binding_digest(enclave.public_key, 31337, REGISTRY)
    assert d["nonce"] == nonce
    assert all("SIMULATED" in subject for subject in d["chain"])
    assert len(d["document"].cabundle) == 2
    pcrs = simulated_pcrs(b"worker-image-v1")
    assert result.measurement == pcrs[0] + pcrs[1] + pcrs[2]
    assert measurement_id(result) == keccak(pcrs[0] + pcrs[1] + pcrs[2])
    assert simulated_measurement(b"worker-image-v1") == measurement_id(result)
    assert result.document_hash == attestation_hash(doc)
    check_key_binding(result, enclave.public_key, 31337, REGISTRY)


def test_every_certificate_says_simulated(enclave):
    doc = parse_nitro_document(enclave.attest(chain_id=1, registry=REGISTRY, now=NOW))
    root = x509.load_pem_x509_certificate(enclave.root_pem)
    assert root.subject.rfc4514_string().endswith("CN=Attestia SIMULATED Nitro root (test only)")
    for der in (doc.certificate, *doc.cabundle):
        assert "SIMULATED" in x509.load_der_x509_certificate(der).subject.rfc4514_string()


def test_rejected_with_real_aws_root(enclave):
    aws_root = load_roots_file(_vectors() / "nitro" / "aws_nitro_enclaves_root_g1.pem")
    doc = enclave.attest(chain_id=31337, registry=REGISTRY, now=NOW)
    with pytest.raises(ChainInvalid, match="certificate chain"):
        verify_attestation("nitro", doc, roots=aws_root, now=NOW)


def test_rejected_with_another_simulated_root(enclave):
    other = SimulatedNitroEnclave.create(now=NOW)
    doc = enclave.attest(chain_id=31337, registry=REGISTRY, now=NOW)
    with pytest.raises(ChainInvalid):
        verify_attestation("nitro", doc, roots=other.root_pem, now=NOW)


def test_leaf_expires_after_three_hours(enclave):
    doc = enclave.attest(chain_id=31337, registry=REGISTRY, now=NOW)
    with pytest.raises(CertificateExpired, match="validity"):
        verify_attestation("nitro", doc, roots=enclave.root_pem,
                           now=NOW + dt.timedelta(hours=3, seconds=1))


def test_tampered_simulated_document_fails_signature(enclave):
    doc = enclave.attest(chain_id=31337, registry=REGISTRY, now=NOW)
    protected, unprotected, payload, sig = cbor2.loads(doc)
    body = cbor2.loads(payload)
    body["user_data"] = binding_digest(enclave.public_key, 1, REGISTRY)  # replay to mainnet
    forged = cbor2.dumps([protected, unprotected, cbor2.dumps(body), sig])
    with pytest.raises(SignatureInvalid, match="COSE signature"):
        verify_attestation("nitro", forged, roots=enclave.root_pem, now=NOW)


def test_debug_simulated_enclave_and_policy():
    debug = SimulatedNitroEnclave.create(now=NOW, debug=True)
    doc = debug.attest(chain_id=31337, registry=REGISTRY, now=NOW)
    with pytest.raises(PolicyViolation, match="debug"):
        verify_attestation("nitro", doc, roots=debug.root_pem, now=NOW)
    result = verify_attestation("nitro", doc, roots=debug.root_pem, now=NOW, allow_debug=True)
    assert result.debug is True and result.measurement == bytes(144)


def test_expected_pcrs_pin_the_image(enclave):
    doc = enclave.attest(chain_id=31337, registry=REGISTRY, now=NOW)
    verify_attestation("nitro", doc, roots=enclave.root_pem, now=NOW,
                       expected_pcrs={i: enclave.pcrs[i] for i in (0, 1, 2)})
    other_image = simulated_pcrs(b"worker-image-v2")
    with pytest.raises(PolicyViolation, match="PCR0"):
        verify_attestation("nitro", doc, roots=enclave.root_pem, now=NOW,
                           expected_pcrs={0: other_image[0]})


def test_state_persists_and_is_shared_through_root_file(enclave, tmp_path):
    root_path = enclave.save(tmp_path / "sim")
    assert root_path == tmp_path / "sim" / ROOT_PEM_FILENAME
    assert stat.S_IMODE((tmp_path / "sim" / STATE_FILENAME).stat().st_mode) == 0o600
    worker = SimulatedNitroEnclave.load(tmp_path / "sim")
    assert worker.address == enclave.address
    assert worker.module_id == enclave.module_id and dict(worker.pcrs) == dict(enclave.pcrs)
    later = NOW + dt.timedelta(days=30)
    doc = worker.attest(chain_id=31337, registry=REGISTRY, now=later)
    verifier_roots = load_roots_file(root_path)  # what a separate verifier process does
    result = verify_attestation("nitro", doc, roots=verifier_roots, now=later)
    assert result.measurement_id == measurement_id(
        verify_attestation("nitro", enclave.attest(chain_id=1, registry=REGISTRY, now=NOW),
                           roots=enclave.root_pem, now=NOW))
    check_key_binding(result, enclave.public_key, 31337, REGISTRY)


def test_signing_key_is_the_enclave_account():
    anvil = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    enclave = SimulatedNitroEnclave.create(now=NOW, signing_key=anvil)
    assert enclave.address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert len(enclave.public_key) == 64
    assert keccak(enclave.public_key)[-20:].hex() == enclave.address[2:].lower()


# --- leaf-certificate profile, checked with hand-made leaves under the simulated CA ------------


def _leaf(enclave, key, *, ca: bool = False, digital_signature: bool = True):
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "SIMULATED leaf")]))
        .issuer_name(enclave.intermediate_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(minutes=1))
        .not_valid_after(NOW + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=digital_signature, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            key_cert_sign=ca, crl_sign=False, encipher_only=False, decipher_only=False),
            critical=True)
    )
    return builder.sign(enclave.intermediate_key, hashes.SHA384())


@pytest.mark.parametrize("ca,digital_signature", [(True, True), (False, False)])
def test_leaf_profile_rejects_ca_leaf_and_missing_digital_signature(enclave, ca,
                                                                     digital_signature):
    good = _leaf(enclave, ec.generate_private_key(ec.SECP384R1()))
    verify_chain(good, [enclave.intermediate_certificate], [enclave.root_certificate], NOW,
                 what="test")
    bad = _leaf(enclave, ec.generate_private_key(ec.SECP384R1()), ca=ca,
                digital_signature=digital_signature)
    with pytest.raises(ChainInvalid, match="test certificate chain"):
        verify_chain(bad, [enclave.intermediate_certificate], [enclave.root_certificate], NOW,
                     what="test")


def test_non_p384_leaf_key_fails_signature_check(enclave):
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _leaf(enclave, key)
    protected, unprotected, payload, _ = cbor2.loads(
        enclave.attest(chain_id=1, registry=REGISTRY, now=NOW))
    body = cbor2.loads(payload)
    body["certificate"] = leaf.public_bytes(serialization.Encoding.DER)
    payload = cbor2.dumps(body)
    r, s = decode_dss_signature(key.sign(sig_structure(protected, payload),
                                         ec.ECDSA(hashes.SHA384())))
    signature = r.to_bytes(48, "big") + s.to_bytes(48, "big")
    doc = cbor2.dumps([protected, unprotected, payload, signature])
    with pytest.raises(SignatureInvalid, match="not ECDSA P-384"):
        verify_attestation("nitro", doc, roots=enclave.root_pem, now=NOW)


def test_load_refuses_unknown_state_version(enclave, tmp_path):
    enclave.save(tmp_path)
    state = json.loads((tmp_path / STATE_FILENAME).read_text())
    state["version"] = 99
    (tmp_path / STATE_FILENAME).write_text(json.dumps(state))
    with pytest.raises(ValueError, match="unsupported state version"):
        SimulatedNitroEnclave.load(tmp_path)
