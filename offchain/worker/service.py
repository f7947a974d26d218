"""Assemble a worker from its data directory: keys, journal, engines, TEE identity."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount

from offchain.chain.contracts import Attestia
from offchain.engine import InferenceEngine
from offchain.errors import ConfigError
from offchain.models import load_package
from offchain.privacy import EncryptionKey
from offchain.worker.journal import Journal
from offchain.worker.node import TeeBinding, WorkerNode, WorkerOptions
from offchain.worker.registration import (
    ensure_enclave_bound,
    ensure_registered,
    save_attestation,
)

log = logging.getLogger("attestia.worker")


@dataclass
class WorkerSetup:
    node: WorkerNode
    data_dir: Path
    signer: str
    simulated_root: Path | None = None


def simulated_tee(attestia: Attestia, data_dir: Path, operator: LocalAccount) -> TeeBinding:
    """A SIMULATED Nitro enclave (there is no TEE here): its own root, loudly labelled."""
    from offchain.proofs.tee import verify_attestation
    from offchain.proofs.tee.result import attestation_hash, measurement_id
    from offchain.proofs.tee.simulated import SimulatedNitroEnclave

    enclave_dir = data_dir / "simulated-enclave"
    if (enclave_dir / "state.json").exists():
        enclave = SimulatedNitroEnclave.load(enclave_dir)
    else:
        enclave = SimulatedNitroEnclave.create()
        enclave.save(enclave_dir)
    chain_id, registry = attestia.chain.chain_id, attestia.reg.address
    info = attestia.reg.worker(enclave.address)
    if info is None or not info.enclave_bound:  # not bound yet: attest now, register, bind
        document = enclave.attest(chain_id=chain_id, registry=registry)
        result = verify_attestation("nitro", document, roots=enclave.root_pem,
                                    now=dt.datetime.now(dt.UTC))
        uri = save_attestation(data_dir, document)
        ensure_registered(attestia, enclave.address, EncryptionKey.load_or_create(
            data_dir / "encryption.key"), operator)
        ensure_enclave_bound(attestia, enclave.address, measurement_id(result),
                             attestation_hash(document), uri, operator)
        log.warning("SIMULATED TEE: enclave key %s bound to a simulated Nitro attestation "
                    "(root %s); not a real enclave", enclave.address, enclave_dir / "root.pem")
    if info is not None and info.enclave_bound:
        return TeeBinding(enclave.account, info.attestationHash)
    return TeeBinding(enclave.account, attestation_hash(
        Path(data_dir / "attestation.cose").read_bytes()))


def build_worker(
    attestia: Attestia, *, operator: LocalAccount, packages: list[Path], data_dir: Path,
    tee: str | None = None, options: WorkerOptions | None = None, stake: int | None = None,
) -> WorkerSetup:
    if not packages:
        raise ConfigError("give at least one model package to serve (--model PATH)")
    engines = {}
    for path in packages:
        package = load_package(path)
        if attestia.reg.model(package.model_id) is None:
            raise ConfigError(
                f"model 0x{package.model_id.hex()} ({path}) is not registered on chain "
                f"{attestia.chain.chain_id}: run attestia model register {path}"
            )
        engines[package.model_id] = InferenceEngine(package)
    data_dir.mkdir(parents=True, exist_ok=True)
    enc_key = EncryptionKey.load_or_create(data_dir / "encryption.key")
    binding = None
    if tee == "simulated":
        binding = simulated_tee(attestia, data_dir, operator)
    elif tee is not None:
        raise ConfigError(f"unknown --tee {tee!r}: only 'simulated' runs on this machine")
    else:
        ensure_registered(attestia, operator.address, enc_key, operator, stake)
    options = options or WorkerOptions()
    options.start_block = max(options.start_block, attestia.first_block)
    journal = Journal(data_dir / "journal.sqlite")
    node = WorkerNode(attestia, operator=operator, enc_key=enc_key, engines=engines,
                      journal=journal, options=options, tee=binding)
    root = data_dir / "simulated-enclave" / "root.pem" if binding else None
    return WorkerSetup(node, data_dir, node.signer.address, root)
