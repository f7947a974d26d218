"""Errors raised by the TEE attestation verifiers.

One hierarchy for every format (Nitro, DCAP, NVIDIA) so that a caller can treat "the evidence
is forged" (``SignatureInvalid``, ``ChainInvalid``), "the evidence is stale"
(``CertificateExpired``), "the evidence is garbage" (``FormatError``) and "the evidence is
genuine but not acceptable to us" (``PolicyViolation``) differently without knowing which
vendor produced it. Every message names the check that failed.
"""

from offchain.errors import AttestiaError


class AttestationError(AttestiaError):
    """An attestation document was not accepted; the message says which check failed."""


class FormatError(AttestationError):
    """The document (or its collateral) cannot be decoded or lacks a mandatory field."""


class SignatureInvalid(AttestationError):
    """A signature over the evidence does not verify with the key that should have made it."""


class ChainInvalid(AttestationError):
    """The certificate chain does not lead to a trusted root (wrong root, broken link)."""


class CertificateExpired(AttestationError):
    """A certificate or signed collateral is not valid at the verification time ``now``."""


class PolicyViolation(AttestationError):
    """The evidence is authentic but our policy rejects it (debug enclave, TCB, PCRs, nonce)."""


class BindingMismatch(PolicyViolation):
    """The attested user/report data does not carry the expected enclave key binding."""


class OnlineCheckUnavailable(AttestationError):
    """A requested check needs network access (RIM service, OCSP) that this build lacks."""
