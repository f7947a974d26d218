"""A simulated AWS Nitro enclave, for machines without a TEE (tests, demos, CI).

It emits documents in exactly the Nitro format (COSE_Sign1/ES384, same payload fields, a
root -> intermediate -> per-document leaf P-384 chain) so that the *real* verifier in
``offchain.proofs.tee.nitro`` checks them. It proves nothing about hardware: the "root" is a
key generated here. Everything it emits says SIMULATED (module id, every certificate
subject), the verifier flags results anchored at such a root (``result.simulated``), and a
document verifies only when the caller passes this enclave's root as trusted, never with the
AWS root.

State (root and intermediate keys, the enclave's secp256k1 signing key, PCRs) can be saved
to a directory so that a worker process and a verifier process share one root file
(``root.pem``); ``state.json`` holds the private keys and is written with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keys import keys

from offchain.proofs.tee.binding import binding_digest
from offchain.proofs.tee.nitro import COSE_ALG_ES384, PCR_LENGTH, pcr_measurement, sig_structure
from offchain.proofs.tee.result import id_of_measurement
from offchain.storage.atomic import atomic_write_bytes, atomic_write_json

ROOT_PEM_FILENAME = "root.pem"
STATE_FILENAME = "state.json"
ROOT_CN = "Attestia SIMULATED Nitro root (test only)"
INTERMEDIATE_CN = "Attestia SIMULATED Nitro intermediate (test only)"
LEAF_CN = "Attestia SIMULATED Nitro enclave (test only)"
PCR_COUNT = 16
_CA_LIFETIME = dt.timedelta(days=3650)
_LEAF_LIFETIME = dt.timedelta(hours=3)  # what AWS issues per enclave leaf
_CLOCK_SKEW = dt.timedelta(minutes=1)
_STATE_VERSION = 1
SIMULATED_IMAGE = b"attestia-worker"
"""The image PCR0-2 stand for in the enclave ``--tee simulated`` runs."""


def simulated_pcrs(image: bytes, *, debug: bool = False) -> dict[int, bytes]:
    """16 SHA-384 PCRs: PCR0-2 derived from ``image`` (all zero in debug mode), rest zero."""
    pcrs = {i: bytes(PCR_LENGTH) for i in range(PCR_COUNT)}
    if not debug:
        for i in (0, 1, 2):
            pcrs[i] = hashlib.sha384(b"Attestia SIMULATED PCR%d|" % i + image).digest()
    return pcrs


def simulated_measurement(image: bytes = SIMULATED_IMAGE) -> bytes:
    """The allowlist key (``keccak256(PCR0 || PCR1 || PCR2)``) of the SIMULATED enclave made
    from ``image``: what governance allows for ``--tee simulated`` workers."""
    return id_of_measurement(pcr_measurement(simulated_pcrs(image)))


@dataclass(frozen=True)
class SimulatedNitroEnclave:
    """Holds the simulated CA keys, the enclave signing key and PCRs; emits documents."""

    root_certificate: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey
    intermediate_certificate: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey
    account: LocalAccount
    pcrs: Mapping[int, bytes]
    module_id: str

    @classmethod
    def create(
        cls,
        *,
        now: dt.datetime | None = None,
        signing_key: bytes | str | None = None,
        image: bytes = SIMULATED_IMAGE,
        debug: bool = False,
    ) -> SimulatedNitroEnclave:
        """Start-up: make a fresh root -> intermediate chain and (unless given) a fresh
        secp256k1 signing key. ``image`` stands for the enclave image that PCR0-2 measure."""
        start = _utc(now) - _CLOCK_SKEW
        root_key = ec.generate_private_key(ec.SECP384R1())
        root = _ca_cert(ROOT_CN, root_key, ROOT_CN, root_key, start, None)
        inter_key = ec.generate_private_key(ec.SECP384R1())
        inter = _ca_cert(INTERMEDIATE_CN, inter_key, ROOT_CN, root_key, start, root)
        account = Account.from_key(signing_key) if signing_key is not None else Account.create()
        return cls(
            root_certificate=root,
            root_key=root_key,
            intermediate_certificate=inter,
            intermediate_key=inter_key,
            account=account,
            pcrs=MappingProxyType(simulated_pcrs(image, debug=debug)),
            module_id=f"SIMULATED-i-{secrets.token_hex(8)}-enc{secrets.token_hex(8)}",
        )

    @property
    def root_pem(self) -> bytes:
        """The trust anchor a verifier must pass explicitly to accept these documents."""
        return self.root_certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def public_key(self) -> bytes:
        """The enclave signing key as 64 bytes (uncompressed, no 0x04 prefix)."""
        return keys.PrivateKey(bytes(self.account.key)).public_key.to_bytes()

    @property
    def address(self) -> str:
        return self.account.address

    def attest(self, *, chain_id: int, registry: str, nonce: bytes | None = None,
               now: dt.datetime | None = None) -> bytes:
        """A document binding this enclave's key to (chain_id, registry) in ``user_data``."""
        return self.attestation_document(
            user_data=binding_digest(self.public_key, chain_id, registry),
            public_key=self.public_key,
            nonce=nonce,
            now=now,
        )

    def attestation_document(self, *, user_data: bytes | None = None,
                             public_key: bytes | None = None, nonce: bytes | None = None,
                             now: dt.datetime | None = None) -> bytes:
        """A raw (untagged) COSE_Sign1 Nitro document signed by a fresh per-document leaf."""
        when = _utc(now)
        leaf_key = ec.generate_private_key(ec.SECP384R1())
        leaf = _leaf_cert(leaf_key, self.intermediate_certificate, self.intermediate_key, when)
        der = serialization.Encoding.DER
        payload = cbor2.dumps({
            "module_id": self.module_id,
            "digest": "SHA384",
            "timestamp": int(when.timestamp() * 1000),
            "pcrs": dict(self.pcrs),
            "certificate": leaf.public_bytes(der),
            "cabundle": [self.root_certificate.public_bytes(der),
                         self.intermediate_certificate.public_bytes(der)],
            "public_key": public_key,
            "user_data": user_data,
            "nonce": nonce,
        })
        protected = cbor2.dumps({1: COSE_ALG_ES384})
        der_sig = leaf_key.sign(sig_structure(protected, payload), ec.ECDSA(hashes.SHA384()))
        r, s = decode_dss_signature(der_sig)
        return cbor2.dumps([protected, {}, payload, r.to_bytes(48, "big") + s.to_bytes(48, "big")])

    def save(self, directory: str | Path) -> Path:
        """Write ``root.pem`` (public) and ``state.json`` (private keys, mode 0600)."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path / ROOT_PEM_FILENAME, self.root_pem)
        state = {
            "version": _STATE_VERSION,
            "warning": "SIMULATED enclave state for tests; proves nothing about hardware",
            "module_id": self.module_id,
            "pcrs": {str(i): v.hex() for i, v in self.pcrs.items()},
            "root_key": _key_pem(self.root_key),
            "intermediate_certificate": self.intermediate_certificate.public_bytes(
                serialization.Encoding.PEM).decode(),
            "intermediate_key": _key_pem(self.intermediate_key),
            "signing_key": bytes(self.account.key).hex(),
        }
        atomic_write_json(path / STATE_FILENAME, state, mode=0o600, indent=2)
        return path / ROOT_PEM_FILENAME

    @classmethod
    def load(cls, directory: str | Path) -> SimulatedNitroEnclave:
        """Restore an enclave saved with ``save`` (same root, keys, PCRs and module id)."""
        path = Path(directory)
        state = json.loads((path / STATE_FILENAME).read_text())
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"{path / STATE_FILENAME}: unsupported state version")
        root = x509.load_pem_x509_certificate((path / ROOT_PEM_FILENAME).read_bytes())
        return cls(
            root_certificate=root,
            root_key=_load_key(state["root_key"]),
            intermediate_certificate=x509.load_pem_x509_certificate(
                state["intermediate_certificate"].encode()),
            intermediate_key=_load_key(state["intermediate_key"]),
            account=Account.from_key(bytes.fromhex(state["signing_key"])),
            pcrs=MappingProxyType({int(i): bytes.fromhex(v) for i, v in state["pcrs"].items()}),
            module_id=state["module_id"],
        )


def _utc(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)  # the "hardware clock" of the simulation
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Attestia SIMULATED"),
    ])


def _ca_cert(cn: str, key: ec.EllipticCurvePrivateKey, issuer_cn: str,
             issuer_key: ec.EllipticCurvePrivateKey, start: dt.datetime,
             issuer: x509.Certificate | None) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(issuer_cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA384())


def _leaf_cert(key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate,
               issuer_key: ec.EllipticCurvePrivateKey, when: dt.datetime) -> x509.Certificate:
    start = when - _CLOCK_SKEW
    end = min(when + _LEAF_LIFETIME, issuer.not_valid_after_utc)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(LEAF_CN))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .sign(issuer_key, hashes.SHA384())
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
        crl_sign=cert_sign, encipher_only=False, decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _load_key(pem: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("simulated enclave state holds a non-EC key")
    return key
