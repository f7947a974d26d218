"""Putting a worker on chain: stake its signing key (with the key's consent), keep its
published encryption key its own, bind a TEE.

A worker key is registered by its operator (who stakes and is paid). When the operator is not
the key itself (an enclave key), the key consents by signing the EIP-712 WorkerRegistration
(``protocol.worker_registration_digest``: signer, operator, keccak of the encryption key, the
key's nonce, a deadline one hour ahead), so nobody can register someone else's key.

At every start (:func:`ensure_worker`) the worker compares the chain with itself:

- key not registered: register it (consent signed by the key);
- registered by another operator: refuse to start (:class:`WorkerKeyConflict`, one line naming
  both operators): that operator would be paid for this worker's records and could unbond it;
- registered by this operator with another encryption key (a new data directory, a lost key
  file): rotate it on chain with ``setEncryptionKey`` (consent signed by the key), logged;
  otherwise requesters would seal payloads this worker cannot open.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from eth_account.signers.local import LocalAccount

from offchain.chain.eip712 import sign_digest
from offchain.errors import ConfigError, TransactionReverted
from offchain.protocol import Worker, worker_registration_digest
from offchain.registry import Attestia
from offchain.request.market import dead_key_reason
from offchain.sealing import EncryptionKey
from offchain.storage.atomic import atomic_write_bytes

log = logging.getLogger("attestia.worker")

CONSENT_SECONDS = 3600
"""How long a registration consent signature stays valid."""


class WorkerKeyConflict(ConfigError):
    """The worker's signing key is registered on chain by another operator."""


def _chain_now(attestia: Attestia) -> int:
    """The later of the wall clock and the chain's latest block time (local chains are
    often advanced past the wall clock)."""
    latest = attestia.chain.w3.eth.get_block("latest")
    return max(int(time.time()), int(latest["timestamp"]))


def consent(attestia: Attestia, signer: LocalAccount, operator: str, encryption_key: bytes
            ) -> tuple[int, bytes]:
    """(deadline, signature): the key's WorkerRegistration consent to ``operator`` running it
    with ``encryption_key``; empty when the key is its own operator (it sends the call)."""
    if signer.address == operator:
        return 0, b""
    deadline = _chain_now(attestia) + CONSENT_SECONDS
    digest = worker_registration_digest(
        signer.address, operator, encryption_key, attestia.registry.nonce(signer.address), deadline,
        attestia.chain.chain_id, attestia.registry.address)
    return deadline, sign_digest(signer, digest)


def _conflict(attestia: Attestia, signer: str, info: Worker, operator: str) -> WorkerKeyConflict:
    return WorkerKeyConflict(
        f"worker key {signer} is registered on chain {attestia.chain.chain_id} by operator "
        f"{info.operator}, not by this worker's operator {operator}: that operator is paid for "
        "its records and controls its stake; refusing to start (use another signing key, or "
        "run the worker as that operator)")


class DeadWorkerKey(ConfigError):
    """The worker's signing key is registered but can never record again (unbonding,
    withdrawn, revoked or slashed)."""


def another_key_advice(local_dev: bool) -> str:
    """How to serve with another key (worker run registers and stakes a new one at start)."""
    dev = "--dev-account N (a dev account this chain has not seen as a worker), or " \
        if local_dev else ""
    return (f"run the worker with another key: {dev}ATTESTIA_PRIVATE_KEY / ATTESTIA_KEYSTORE "
            "set to a new key; `attestia worker run` registers and stakes it at start")


def refuse_dead_key(attestia: Attestia, signer: str, info: Worker | None,
                    other_key: str | None = None) -> None:
    """Raise :class:`DeadWorkerKey` if ``info`` (the chain's record of ``signer``) can never
    record: a worker on it would take nothing and answer nothing."""
    why = dead_key_reason(info) if info is not None else None
    if why is None:
        return
    raise DeadWorkerKey(f"worker key {signer} is {why}: it can never record again, so the "
                        f"worker does not start; "
                        f"{other_key or another_key_advice(attestia.chain.is_local_dev)}")


def check_operator(attestia: Attestia, signer: str, operator: str) -> Worker | None:
    """The chain's record of ``signer`` (None if unregistered); raises
    :class:`WorkerKeyConflict` if another operator holds it."""
    info = attestia.registry.worker(signer)
    if info is not None and info.operator != operator:
        raise _conflict(attestia, signer, info, operator)
    return info


def ensure_worker(
    attestia: Attestia, signer: LocalAccount, enc_key: EncryptionKey, operator: LocalAccount,
    stake: int | None = None,
) -> str:
    """Make the chain's record of ``signer`` this worker's: register it, or rotate its
    encryption key; raise :class:`WorkerKeyConflict` if another operator holds it.

    Returns what was done: ``"registered"``, ``"rotated"`` or ``"ok"``.
    """
    reg = attestia.registry
    info = check_operator(attestia, signer.address, operator.address)
    if info is None:
        stake = stake if stake is not None else reg.min_stake()
        deadline, signature = consent(attestia, signer, operator.address, enc_key.public)
        try:
            attestia.send(reg.register_worker(signer.address, enc_key.public, stake,
                                              deadline=deadline, signature=signature),
                          account=operator)
        except TransactionReverted:
            # Someone registered the key between our read and our transaction: say who.
            info = reg.worker(signer.address)
            if info is None or info.operator == operator.address:
                raise
            raise _conflict(attestia, signer.address, info, operator.address) from None
        log.info("registered worker key %s (operator %s, stake %s ETH)", signer.address,
                 operator.address, f"{stake / 10**18:.6f}")
        return "registered"
    refuse_dead_key(attestia, signer.address, info, None if signer.address == operator.address
                    else "start the worker under another --name: its enclave makes a new key")
    if info.encryptionKey != enc_key.public:
        deadline, signature = consent(attestia, signer, operator.address, enc_key.public)
        attestia.send(reg.set_encryption_key(signer.address, enc_key.public, deadline=deadline,
                                             signature=signature), account=operator)
        log.warning("rotated the encryption key of worker %s on chain: the published key was "
                    "0x%s…, this worker's is 0x%s… (requests sealed to the old key cannot be "
                    "opened and are rejected)", signer.address, info.encryptionKey.hex()[:16],
                    enc_key.public.hex()[:16])
        return "rotated"
    return "ok"


def ensure_registered(
    attestia: Attestia, signer: LocalAccount, enc_key: EncryptionKey, operator: LocalAccount,
    stake: int | None = None,
) -> bool:
    """:func:`ensure_worker`; True if the key was newly registered."""
    return ensure_worker(attestia, signer, enc_key, operator, stake) == "registered"


def ensure_enclave_bound(
    attestia: Attestia, signer: str, measurement: bytes, attestation_hash: bytes,
    attestation_uri: str, operator: LocalAccount,
) -> bool:
    info = attestia.registry.worker(signer)
    if info is not None and info.enclave_bound:
        return False
    attestia.send(attestia.registry.bind_enclave(signer, measurement, attestation_hash,
                                            attestation_uri), account=operator)
    return True


def save_attestation(data_dir: Path, document: bytes) -> str:
    """Store an attestation document where verifiers can fetch it; returns its file URI."""
    path = data_dir / "attestation.cose"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, document)
    return path.resolve().as_uri()
