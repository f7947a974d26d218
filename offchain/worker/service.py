"""Assemble a worker from its data directory: keys, journal, engines, TEE identity.

Each package is matched to the on-chain model it serves (``resolve_model_id``) and checked
against it (roster, data root) before anything is written or sent.

One worker per data directory: ``WorkerLock`` holds an exclusive ``flock`` on
``<data dir>/worker.lock`` for the life of the worker (the OS drops it when the process ends,
however it ends), so a second ``worker run --name N`` stops before it registers or sends
anything, naming the running worker's pid.

One live worker per key: a worker key is served by one data directory, whose
``encryption.key`` is the one published on chain. A second worker on the same key (another
``--name``, or another home using the same keystore file) would find its own encryption key
stale and rotate it on chain, and the running worker would silently open nothing more: paid
requests never recorded. ``KeyLock`` takes a ``flock`` per (chain, registry, key) beside the
home's workers and beside the keystore file, before any encryption key is read or rotated."""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import logging
import os
import urllib.parse
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount

from offchain.errors import AttestiaError, ConfigError
from offchain.models import load_package
from offchain.models.registrations import resolve_model_id
from offchain.protocol import PROOF_SIGNED, PROOF_TEE, PROOF_ZK, contributors_hash, policy_bit
from offchain.record.compute import InferenceEngine
from offchain.registry import Attestia
from offchain.sealing import EncryptionKey
from offchain.worker.disputes import DisputeResponder
from offchain.worker.journal import Journal
from offchain.worker.node import TeeBinding, WorkerNode, WorkerOptions
from offchain.worker.registration import (
    check_operator,
    ensure_enclave_bound,
    ensure_worker,
    refuse_dead_key,
    save_attestation,
)

log = logging.getLogger("attestia.worker")
LOCK_FILE = "worker.lock"


class WorkerRunning(AttestiaError):
    """Another live process already runs the worker of this data directory."""


class WorkerLock:
    """An exclusive lock on a worker's data directory (``flock`` on its ``worker.lock``, which
    also holds the owner's pid). Within one process the lock is shared (counted): it keeps
    other processes out, as two processes serving one worker would sign with one nonce
    sequence and pay twice for the same work."""

    _held: dict[Path, tuple[int, int]] = {}  # lock file -> (fd, holders in this process)

    def __init__(self, data_dir: Path) -> None:
        self.path = (data_dir / LOCK_FILE).resolve()
        self.name = data_dir.name
        self.locked = False

    def acquire(self) -> WorkerLock:
        """Take the lock, or raise WorkerRunning naming the pid that holds it."""
        if self.locked:
            return self
        held = WorkerLock._held.get(self.path)
        if held is not None:
            WorkerLock._held[self.path] = (held[0], held[1] + 1)
            self.locked = True
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise ConfigError(f"cannot open the worker's lock file {self.path}: "
                              f"{exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ConfigError(f"cannot lock {self.path}: {exc.strerror}") from None
            raise self._busy(self.holder()) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        WorkerLock._held[self.path] = (fd, 1)
        self.locked = True
        return self

    def _busy(self, pid: int | None) -> WorkerRunning:
        return WorkerRunning(f"worker {self.name} is already running (pid "
                             f"{pid if pid else 'unknown'}); stop it or use another --name")

    def holder(self) -> int | None:
        """The pid written by the lock's holder (None if unreadable)."""
        try:
            return int(self.path.read_text().strip())
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if not self.locked:
            return
        self.locked = False
        fd, count = WorkerLock._held.pop(self.path)
        if count > 1:
            WorkerLock._held[self.path] = (fd, count - 1)
            return
        os.close(fd)  # closing the only descriptor releases the flock


class KeyLock(WorkerLock):
    """An exclusive lock on a worker key for one deployment (a ``flock`` on ``path``), held
    by the one worker that serves the key; counted within one process like ``WorkerLock``."""

    def __init__(self, path: Path, signer: str) -> None:
        self.path = path.resolve()
        self.name = signer
        self.locked = False

    def acquire(self) -> WorkerLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot make the directory of the worker key's lock file "
                              f"{self.path}: {exc.strerror}") from None
        return super().acquire()

    def _busy(self, pid: int | None) -> WorkerRunning:
        return WorkerRunning(
            f"worker key {self.name} is already served by a running worker (pid "
            f"{pid if pid else 'unknown'}): stop it first (a second worker would rotate the "
            "key's encryption key and the running one could open no more requests)")


KEY_LOCKS = ".key-locks"


def key_locks(attestia: Attestia, signer: str, workers_dir: Path,
              key_file: Path | None = None) -> list[KeyLock]:
    """The locks a worker serving ``signer`` holds: one in the home's workers directory and,
    when the key is a keystore file, one beside it (another home using the same file).
    Named by chain and registry: one key may serve several deployments at once."""
    where = f"{attestia.chain.chain_id}-{str(attestia.registry.address).lower()}"
    locks = [KeyLock(workers_dir / KEY_LOCKS / f"{where}-{signer.lower()}.lock", signer)]
    if key_file is not None:
        locks.append(KeyLock(key_file.parent / f".{key_file.name}.{where}.lock", signer))
    return locks


@dataclass
class WorkerSetup:
    node: WorkerNode
    data_dir: Path
    signer: str
    simulated_root: Path | None = None
    lock: WorkerLock | None = None
    key_locks: tuple[KeyLock, ...] = ()

    def close(self) -> None:
        """Close the journal and release the data directory's and the key's locks."""
        self.node.journal.close()
        for key_lock in self.key_locks:
            key_lock.release()
        if self.lock is not None:
            self.lock.release()


def simulated_tee(attestia: Attestia, data_dir: Path, operator: LocalAccount,
                  enc_key: EncryptionKey, stake: int | None = None) -> TeeBinding:
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
    chain_id, registry = attestia.chain.chain_id, attestia.registry.address
    # The enclave key consents to this operator (EIP-712); a key someone else registered, or
    # a stale encryption key, is caught here on every start.
    ensure_worker(attestia, enclave.account, enc_key, operator, stake)
    info = attestia.registry.worker(enclave.address)
    if info is not None and info.enclave_bound:
        return TeeBinding(enclave.account, info.attestationHash)
    document = enclave.attest(chain_id=chain_id, registry=registry)
    result = verify_attestation("nitro", document, roots=enclave.root_pem,
                                now=dt.datetime.now(dt.UTC))
    uri = save_attestation(data_dir, document)
    ensure_enclave_bound(attestia, enclave.address, measurement_id(result),
                         attestation_hash(document), uri, operator)
    log.warning("SIMULATED TEE: enclave key %s bound to a simulated Nitro attestation "
                "(root %s); not a real enclave", enclave.address, enclave_dir / "root.pem")
    return TeeBinding(enclave.account, attestation_hash(document))


def serve_package(attestia: Attestia, path: Path, *, given: Sequence[bytes] = (),
                  project_dir: Path | None = None, account: str | None = None
                  ) -> InferenceEngine:
    """Load a package, find the on-chain model it serves and check the registration is this
    package's: same content (by the id), same contributor roster, same data root."""
    package = load_package(path)
    # --model-id values name registrations of any of the served packages: this one takes
    # those of its own content (none: it is resolved as usual).
    mine = [g for g in given if (m := attestia.registry.model(g)) is not None
            and m.contentHash == package.content_hash]
    resolved = resolve_model_id(attestia, package, given=mine, data_dir=project_dir,
                                account=account)
    model, mid = resolved.model, resolved.hex
    if model.contributorsHash != contributors_hash(package.roster):
        raise ConfigError(
            f"model {mid} was registered with another contributor roster than the one in "
            f"{path}/manifest.json ({len(package.roster)} contributors; on chain "
            f"{model.contributors}): records would be refused; serve the package it was "
            "registered from")
    if model.dataRoot != package.data_root():
        raise ConfigError(f"model {mid} was registered with data root "
                          f"0x{model.dataRoot.hex()}, but {path} has "
                          f"0x{package.data_root().hex()} (its attribution spec): serve the "
                          "package it was registered from")
    if not model.active:
        log.warning("model %s is %s: it takes no new requests", mid,
                    "revoked" if model.revokedAt else "deprecated")
    engine = InferenceEngine(package, resolved.model_id)
    if model.policy & policy_bit(PROOF_ZK) and engine.zk is None:
        log.warning("model %s accepts zk records but %s has no zk artifacts (attestia model "
                    "zk-setup): this worker makes signed/TEE records only", mid, path)
    engine.found_by = resolved.how
    return engine


def build_worker(
    attestia: Attestia, *, operator: LocalAccount, packages: list[Path], data_dir: Path,
    tee: str | None = None, options: WorkerOptions | None = None, stake: int | None = None,
    model_ids: Sequence[bytes] = (), project_dir: Path | None = None,
    key_file: Path | None = None, fleet_key: Path | None = None,
) -> WorkerSetup:
    """A worker for ``packages``, identity checked on chain (see ``registration.py``).

    ``model_ids`` (``--model-id``) name the registrations to serve when a package's id is
    ambiguous; ``project_dir`` is the data directory holding ``model register``'s id records;
    ``key_file`` is the operator's keystore file, if it came from one (locked beside it).
    Everything is validated before the first file or transaction; the key is locked
    (``KeyLock``) before its encryption key is read or rotated. ``fleet_key``: one process of
    a fleet on the shared queue (``offchain.queue``): the key is not locked (the fleet shares
    it; the queue's commit lock orders its nonces) and the encryption key is that file, the
    same for every process of the fleet.
    """
    if not packages:
        raise ConfigError("give at least one model package to serve (--model PATH)")
    if tee not in (None, "simulated"):
        raise ConfigError(f"unknown --tee {tee!r}: only 'simulated' runs on this machine")
    # A worker already running here is named before anything else is checked or sent; a new
    # directory is locked as soon as it is made (after everything is validated).
    lock = WorkerLock(data_dir)
    if data_dir.is_dir():
        lock.acquire()
    # A simulated enclave's key lives in the data directory, which ``lock`` already holds.
    held = () if tee is not None or fleet_key is not None else tuple(
        key_locks(attestia, operator.address, data_dir.parent, key_file))
    try:
        setup = _build_worker(attestia, operator=operator, packages=packages,
                              data_dir=data_dir, tee=tee, options=options, stake=stake,
                              model_ids=model_ids, project_dir=project_dir, lock=lock,
                              key_locks=held, fleet_key=fleet_key)
    except BaseException:
        for key_lock in held:
            key_lock.release()
        lock.release()
        raise
    setup.lock, setup.key_locks = lock, held
    for key_lock in held:  # an in-process worker dropped unclosed
        weakref.finalize(setup.node, key_lock.release)
    weakref.finalize(setup.node, lock.release)
    log_banner(attestia, setup, operator)
    return setup


def _build_worker(
    attestia: Attestia, *, operator: LocalAccount, packages: list[Path], data_dir: Path,
    tee: str | None, options: WorkerOptions | None, stake: int | None,
    model_ids: Sequence[bytes], project_dir: Path | None, lock: WorkerLock,
    key_locks: Sequence[KeyLock] = (), fleet_key: Path | None = None,
) -> WorkerSetup:
    if tee is None:  # the operator's own key: refuse before anything is written
        info = check_operator(attestia, operator.address, operator.address)
        refuse_dead_key(attestia, operator.address, info)
    engines: dict[bytes, InferenceEngine] = {}
    for path in packages:
        engine = serve_package(attestia, Path(path), given=model_ids, project_dir=project_dir,
                               account=operator.address)
        if engine.model_id in engines:
            raise ConfigError(f"model 0x{engine.model_id.hex()} is given twice")
        engines[engine.model_id] = engine
    unused = [g for g in model_ids if g not in engines]
    if unused:
        raise ConfigError(f"--model-id {', '.join('0x' + g.hex() for g in unused)} is not a "
                          "registration of any package given with --model")
    for key_lock in key_locks:  # before the encryption key is read, made or rotated
        key_lock.acquire()
    data_dir.mkdir(parents=True, exist_ok=True)
    lock.acquire()
    enc_key = _fleet_encryption_key(fleet_key) if fleet_key is not None else \
        EncryptionKey.load_or_create(data_dir / "encryption.key")
    binding = None
    if tee == "simulated":
        binding = simulated_tee(attestia, data_dir, operator, enc_key, stake)
    else:
        ensure_worker(attestia, operator, enc_key, operator, stake)
    options = options or WorkerOptions()
    options.start_block = max(options.start_block, attestia.first_block)
    journal = Journal(data_dir / "journal.sqlite")
    node = WorkerNode(attestia, operator=operator, enc_key=enc_key, engines=engines,
                      journal=journal, options=options, tee=binding)
    node.disputes = DisputeResponder(attestia, signer=node.signer.address, operator=operator,
                                     engines=engines, publish_dir=data_dir / "traces",
                                     start_block=options.start_block)
    root = data_dir / "simulated-enclave" / "root.pem" if binding else None
    return WorkerSetup(node, data_dir, node.signer.address, root)


def _fleet_encryption_key(path: Path) -> EncryptionKey:
    """The fleet's shared encryption key (made by the first process; two first processes
    racing both read the one that was written)."""
    try:
        return EncryptionKey.load_or_create(path)
    except FileExistsError:
        return EncryptionKey.load_or_create(path)


def log_banner(attestia: Attestia, setup: WorkerSetup, operator: LocalAccount) -> None:
    """One block of start-up lines: who serves what, with which proofs, on which chain."""
    node, chain = setup.node, attestia.chain
    url = urllib.parse.urlsplit(chain.url)
    rpc = f"{url.scheme}://{url.netloc}" if url.netloc else chain.url  # no path: keys hide there
    lines = [f"worker {node.signer.address}"
             + (" (SIMULATED TEE enclave key)" if node.tee is not None else ""),
             f"  operator   {operator.address}"]
    for model_id, engine in node.engines.items():
        model = attestia.registry.model(model_id)
        policy = model.policy if model is not None else 0
        makes = [name for kind, name, able in (
            (PROOF_ZK, "zk", engine.zk is not None), (PROOF_TEE, "tee", node.tee is not None),
            (PROOF_SIGNED, "signed", True)) if able and policy & policy_bit(kind)]
        lines.append(f"  model      0x{model_id.hex()} {engine.package.manifest.name} "
                     f"(id found by {engine.found_by}; proofs: {', '.join(makes) or 'none'})")
    lines += [f"  chain      {chain.chain_id} at {rpc}",
              f"  registry   {attestia.registry.address}",
              f"  data dir   {setup.data_dir} (pid {os.getpid()})"]
    log.info("\n".join(lines))
