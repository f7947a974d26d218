"""The requester's side: seal an input, pay for a request, wait for and open the record.

The requester keeps the input, its salt, the reply key and the request as the chain stored it
(terms fixed at payment, read back from ``InferenceRequested``) locally
(``requests/<id>.json`` in the data directory) so it can later reveal them to a verifier,
prove them, or cancel. A request for a model whose policy takes ZK records names its
``zkInputHash`` (the Poseidon hash of the quantized input, from the package's zk artifacts)
so only a proof on this very input can record it. The answer is read from the record's
sealed result, which the worker's signature covers (``resultHash``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from offchain.attribution.onchain import FeeShare, fee_shares
from offchain.chain.tx import Call
from offchain.errors import AttestiaError, ConfigError
from offchain.models.encoding import commit, decode_tensor, encode_tensor, new_salt
from offchain.models.package import ModelPackage
from offchain.protocol import (
    PROOF_ZK,
    ZERO32,
    Inference,
    Payout,
    Request,
    Share,
    attribution_hash,
    policy_bit,
    request_id,
    result_hash,
)
from offchain.registry import Attestia, InferenceRecorded
from offchain.sealing import (
    EncryptionKey,
    RequestPayload,
    open_result,
    output_salt,
    seal_request,
)
from offchain.storage.atomic import atomic_write_json

GAS_REQUEST = 200_000


class RequestFailed(AttestiaError):
    """The request was rejected or cancelled, or no record arrived in time."""


@dataclass
class LocalRequest:
    """What the requester keeps to reveal or prove its input later."""

    request_id: bytes
    model_id: bytes
    worker: str
    input_bytes: bytes
    salt: bytes
    reply_secret: bytes
    tx_hash: str
    block: int
    zk_input_hash: bytes = ZERO32
    request: Request | None = None
    """The request as the chain stored it (from InferenceRequested), once it is paid."""

    def to_json(self) -> dict:
        return {
            "requestId": "0x" + self.request_id.hex(), "modelId": "0x" + self.model_id.hex(),
            "worker": self.worker, "input": "0x" + self.input_bytes.hex(),
            "salt": "0x" + self.salt.hex(), "replySecret": "0x" + self.reply_secret.hex(),
            "txHash": self.tx_hash, "block": self.block,
            "zkInputHash": "0x" + self.zk_input_hash.hex(),
            "request": self.request.to_json() if self.request is not None else None,
        }

    @classmethod
    def from_json(cls, d: dict) -> LocalRequest:
        h = bytes.fromhex
        request = d.get("request")
        return cls(h(d["requestId"][2:]), h(d["modelId"][2:]), d["worker"], h(d["input"][2:]),
                   h(d["salt"][2:]), h(d["replySecret"][2:]), d["txHash"], int(d["block"]),
                   h(d["zkInputHash"][2:]) if "zkInputHash" in d else ZERO32,
                   Request.from_json(request) if request else None)

    def save(self, data_dir: Path) -> Path:
        path = data_dir / "requests" / f"0x{self.request_id.hex()}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_json(path, self.to_json(), indent=1)


def load_local_request(data_dir: Path, request_id: str) -> LocalRequest | None:
    path = data_dir / "requests" / f"{request_id.lower()}.json"
    if not path.exists():
        return None
    try:
        return LocalRequest.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ConfigError(f"local request file {path} is corrupt ({type(exc).__name__}: {exc}): "
                          "restore it from a backup, or move it away to go on without the "
                          "request's input, salt and reply key") from None


def active_workers(attestia: Attestia) -> list[tuple[str, bytes]]:
    """(signer, current encryption key) of every active worker, newest registration first
    (the key is read from the worker's slot: a worker may have rotated it since)."""
    signers = list(dict.fromkeys(e.signer for e in attestia.registry.workers_registered()))
    out = []
    for signer in reversed(signers):
        info = attestia.registry.worker(signer)
        if info is not None and info.active:
            out.append((signer, info.encryptionKey))
    return out


def worker_key(attestia: Attestia, worker: str) -> bytes:
    info = attestia.registry.worker(worker)
    if info is None:
        raise ConfigError(f"{worker} is not a registered worker")
    return info.encryptionKey


def zk_artifacts_of(package: ModelPackage | None) -> Any:
    """The package's zk artifacts (checked: same ONNX file), or None if it has none."""
    if package is None or not (package.path / "zk" / "zk.json").exists():
        return None
    from offchain.proofs.zk import ZkArtifactsError, load_artifacts

    artifacts = load_artifacts(package.path / "zk")
    if artifacts.content_hash != package.onnx_sha256:
        raise ZkArtifactsError(f"{package.path}/zk was set up for another ONNX file: run the "
                               "zk setup again")
    return artifacts


def zk_input_hash_for(artifacts: Any, package: ModelPackage, raw: np.ndarray) -> bytes:
    """A request's ``zkInputHash``: the Poseidon hash of the quantized model input (what the
    proof's first instance must be), or zero when the input cannot be hashed (it then
    cannot be proved either, and a worker rejects it)."""
    from offchain.proofs.zk import ZkError, zk_input_hash

    try:
        return zk_input_hash(artifacts, package.model_input(raw))
    except ZkError:
        return ZERO32


def build_requests(
    attestia: Attestia, model_id: bytes, inputs: list[np.ndarray], *, requester: str,
    worker: str | None = None, package: ModelPackage | None = None,
) -> list[tuple[LocalRequest, Call]]:
    """Seal each input and build its paid requestInference call (not yet sent).

    When the model takes ZK records and ``package`` has zk artifacts, each request names its
    ``zkInputHash`` (:func:`zk_input_hash_for`); otherwise zero (no ZK record possible)."""
    model = attestia.registry.model(model_id)
    if model is None:
        raise ConfigError(f"model 0x{model_id.hex()} is not registered: attestia model register")
    if not model.active:
        raise ConfigError(f"model 0x{model_id.hex()} no longer takes requests")
    if worker is None:
        workers = active_workers(attestia)
        if not workers:
            raise ConfigError("no active worker is registered: start one with attestia worker run")
        worker, key = workers[0]
    else:
        key = worker_key(attestia, worker)
    if package is not None and package.content_hash != model.contentHash:
        raise ConfigError(f"{package.path} is not model 0x{model_id.hex()} (another ONNX file)")
    artifacts = zk_artifacts_of(package) if model.policy & policy_bit(PROOF_ZK) else None
    out = []
    for raw in inputs:
        raw32 = np.asarray(raw, dtype=np.float32)
        input_bytes = encode_tensor(raw32)
        salt = new_salt()
        reply = EncryptionKey.generate()
        commitment = commit(salt, input_bytes)
        zk_hash = (zk_input_hash_for(artifacts, package, raw32)
                   if artifacts is not None and package is not None else ZERO32)
        payload = seal_request(key, RequestPayload(input_bytes, salt, reply.public))
        call = attestia.registry.request_inference(model_id, worker, commitment, payload, model,
                                                   zk_input_hash=zk_hash, gas=GAS_REQUEST)
        local = LocalRequest(request_id(requester, model_id, commitment), model_id, worker,
                             input_bytes, salt, reply.secret, "", 0, zk_hash)
        out.append((local, call))
    return out


def send_requests(attestia: Attestia, built: list[tuple[LocalRequest, Call]], account: Any,
                  data_dir: Path) -> list[LocalRequest]:
    """Pay for the built requests (each dry-run first: a revert is reported by its custom
    error before any is sent), keep each locally with the Request the chain stored."""
    sender = attestia.sender(account)
    for reverted in sender.simulate_many([call for _, call in built]):  # one round trip
        if reverted is not None:
            raise reverted
    receipts = sender.transact_many([call for _, call in built])
    done = []
    for (local, _), receipt in zip(built, receipts, strict=True):
        local.tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        local.block = receipt["blockNumber"]
        for requested in attestia.registry.requested_in(receipt):
            if requested.request_id == local.request_id:
                local.request = requested.request
        local.save(data_dir)
        done.append(local)
    return done


@dataclass
class Outcome:
    """A request's end: its record (with the opened output) or the rejection reason."""

    request_id: bytes
    inference: Inference | None = None
    shares: list[Share] | None = None
    payout: Payout | None = None
    tx_hash: str = ""
    output: np.ndarray | None = None
    rejected: str | None = None

    def fee_shares(self) -> list[FeeShare]:
        """Each contributor's bps and its wei of this record's contributor cut."""
        if self.shares is None or self.payout is None:
            return []
        return fee_shares(self.shares, self.payout.contributorCut)


def wait_for_outcomes(
    attestia: Attestia, requests: list[LocalRequest], timeout: float = 120.0,
    poll: float = 0.05, on_poll: Callable[[int], None] | None = None,
) -> dict[bytes, Outcome]:
    """Follow InferenceRecorded / RequestRejected until every request has an outcome.

    ``on_poll(n_done)`` runs after every poll (progress display; it may raise to abort).
    """
    pending = {r.request_id: r for r in requests}
    outcomes: dict[bytes, Outcome] = {}
    start_block = min(r.block for r in requests) if requests else 0
    deadline = time.monotonic() + timeout
    while pending:
        latest = attestia.chain.w3.eth.block_number
        for record in attestia.registry.recorded(start_block, latest):
            if record.request_id in pending:
                outcomes[record.request_id] = outcome_from_record(
                    attestia, record, pending.pop(record.request_id))
        for rejection in attestia.registry.rejected(start_block, latest):
            rid = rejection.request_id
            if rid in pending:
                pending.pop(rid)
                outcomes[rid] = Outcome(rid, rejected=rejection.reason)
        start_block = latest + 1
        if on_poll:
            on_poll(len(outcomes))
        if not pending:
            break
        if time.monotonic() > deadline:
            raise RequestFailed(f"{len(pending)} request(s) got no record within {timeout:.0f} s:"
                                " is a worker running (attestia worker run)?")
        time.sleep(poll)
    return outcomes


def outcome_from_record(attestia: Attestia, record: InferenceRecorded,
                        local: LocalRequest | None) -> Outcome:
    inference = record.inference
    outcome = Outcome(record.request_id, inference, list(record.shares), record.payout,
                      record.meta.tx_hash)
    if local is not None:
        sealed = attestia.registry.sealed_result(outcome.tx_hash)
        if result_hash(sealed) != inference.resultHash:
            raise RequestFailed("the sealed result in the record's transaction is not the one "
                                "the worker signed (resultHash differs)")
        output_bytes = open_result(EncryptionKey(local.reply_secret), sealed)
        if inference.proofKind != PROOF_ZK and \
                commit(output_salt(local.salt), output_bytes) != inference.outputCommitment:
            raise RequestFailed("the worker's sealed output does not match its signed commitment")
        if attribution_hash(record.shares) != inference.attributionHash:
            raise RequestFailed("the attribution list does not match the record's hash")
        outcome.output = decode_tensor(output_bytes)
    return outcome
