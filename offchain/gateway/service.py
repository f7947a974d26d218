"""What the gateway does, without HTTP: check a submission, queue it once, sign its receipt;
answer a request's state to its requester; hand out committed batch files.

The gateway holds the worker key only to sign receipts (the fleet's workers sign records and
commits with the same key). It never sees an input in clear, never opens a sealed blob, and
never fetches a URL a client names: it reads the chain (the model's fee, the worker's slot)
and the queue, nothing else.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount

from offchain.errors import AttestiaError, ConfigError
from offchain.queue.store import COMMITTED, LEASED, QUEUED, Queue
from offchain.registry import Attestia
from offchain.request.gateway import (
    MAX_BODY_BYTES,
    BadSubmission,
    parse_submission,
    read_message,
    receipt_message,
    sign_message,
    signer_of,
    submission_message,
)
from offchain.timefmt import iso

COMMIT_WITHIN = 300
"""Default promise of a receipt: the batch is committed within this many seconds."""
FEE_CACHE = 10.0
"""Seconds a model's fee read from the chain is reused."""


class Refused(AttestiaError):
    """A request the gateway answers with a 4xx: ``status`` and the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class GatewayConfig:
    models: tuple[bytes, ...]
    commit_within: int = COMMIT_WITHIN
    max_body: int = MAX_BODY_BYTES


class Gateway:
    def __init__(self, attestia: Attestia, queue: Queue, signer: LocalAccount,
                 config: GatewayConfig) -> None:
        if not config.models:
            raise ConfigError("the gateway needs at least one model to accept (--model)")
        self.attestia = attestia
        self.queue = queue
        self.signer = signer
        self.config = config
        self.chain_id = attestia.chain.chain_id
        self.registry = str(attestia.registry.address)
        self.models = {"0x" + m.hex() for m in config.models}
        self._fees: dict[bytes, tuple[float, int, bool]] = {}
        self._lock = threading.Lock()

    def check_ready(self) -> None:
        """At start: the key is an active worker and every model is registered and active
        (ConfigError naming what to do otherwise)."""
        info = self.attestia.registry.worker(self.signer.address)
        if info is None or not info.active:
            raise ConfigError(f"worker key {self.signer.address} is not an active registered "
                              "worker: start a worker with it first (attestia worker run "
                              "--queue URL ...), which registers it")
        for model_id in self.config.models:
            _, active = self._model(model_id, fresh=True)
            if not active:
                raise ConfigError(f"model 0x{model_id.hex()} takes no new requests")

    def _model(self, model_id: bytes, fresh: bool = False) -> tuple[int, bool]:
        now = time.monotonic()
        with self._lock:
            cached = self._fees.get(model_id)
        if cached is not None and not fresh and now - cached[0] < FEE_CACHE:
            return cached[1], cached[2]
        model = self.attestia.registry.model(model_id)
        if model is None:
            raise ConfigError(f"model 0x{model_id.hex()} is not registered on this chain")
        with self._lock:
            self._fees[model_id] = (now, int(model.fee), bool(model.active))
        return int(model.fee), bool(model.active)

    def info(self) -> dict[str, Any]:
        return {"chainId": self.chain_id, "registry": self.registry,
                "worker": self.signer.address, "models": sorted(self.models),
                "maxBodyBytes": self.config.max_body,
                "commitWithinSeconds": self.config.commit_within}

    # -- POST /v1/requests -------------------------------------------------------------------
    def submit(self, raw: bytes) -> tuple[int, dict[str, Any]]:
        """(200 for a replay of a stored request | 202 for a new one, the answer); Refused
        with the 4xx otherwise. Nothing is queued unless every check passed."""
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise Refused(400, "the body is not JSON") from None
        try:
            sub = parse_submission(body)
        except BadSubmission as exc:
            raise Refused(exc.status, str(exc)) from None
        if sub.worker != self.signer.address:
            raise Refused(400, f"the request is for worker {sub.worker}; this gateway serves "
                          f"worker {self.signer.address} (seal the input to its key)")
        model = "0x" + sub.model_id.hex()
        if model not in self.models:
            raise Refused(404, f"model {model} is not served by this gateway")
        message = submission_message(self.chain_id, self.registry, sub)
        if signer_of(message, sub.signature) != sub.requester:
            raise Refused(401, "the signature is not the requester's over this request (chain "
                          f"{self.chain_id}, registry {self.registry})")
        rid = "0x" + sub.request_id.hex()
        fee, active = self._model(sub.model_id)
        refusal = (f"model {model} takes no new requests" if not active else
                   f"fee {sub.fee} wei is below the model's fee {fee} wei" if sub.fee < fee
                   else None)
        if refusal is not None:
            # a replay of a request accepted before the terms changed is still a replay
            stored = self.queue.get(rid)
            if stored is None:
                raise Refused(400, refusal)
            outcome = "same" if stored.body == json.loads(sub.canonical()) else "conflict"
        else:  # the common case is one INSERT; a replay or a conflict is its IntegrityError
            outcome, stored = self.queue.accept(
                request_id=rid, model_id=model, requester=sub.requester, worker=sub.worker,
                fee=sub.fee, body=sub.canonical().decode(), body_hash=sub.body_hash(),
                receipt=self._receipt(sub.request_id, sub.model_id))
        if outcome == "conflict":
            raise Refused(409, f"request {rid} was already submitted with another body")
        answer = {"requestId": rid, "state": _shown(stored.state), "receipt": stored.receipt}
        return (202 if outcome == "new" else 200), answer

    def _receipt(self, request_id: bytes, model_id: bytes) -> dict[str, Any]:
        commit_by = int(time.time()) + self.config.commit_within
        signature = sign_message(self.signer, receipt_message(
            self.chain_id, self.registry, request_id, model_id, self.signer.address, commit_by))
        return {"requestId": "0x" + request_id.hex(), "modelId": "0x" + model_id.hex(),
                "worker": self.signer.address, "chainId": self.chain_id,
                "registry": self.registry, "commitBy": iso(commit_by),
                "signature": "0x" + signature.hex()}

    # -- GET /v1/requests/{id} -----------------------------------------------------------------
    def status(self, request_id: bytes, signature: str | None) -> dict[str, Any]:
        """The request's state and sealed result, to its requester only (401 without a read
        signature, 403 with another key's, 404 for an id never accepted)."""
        rid = "0x" + request_id.hex()
        if not signature:
            raise Refused(401, "sign read_message(chain, registry, request id) with the "
                          "requester's key and send it in the X-Attestia-Signature header")
        try:
            sig = bytes.fromhex(signature.removeprefix("0x"))
        except ValueError:
            raise Refused(401, "X-Attestia-Signature is not hex") from None
        stored = self.queue.get(rid)
        if stored is None:
            raise Refused(404, f"no request {rid} was accepted here")
        who = signer_of(read_message(self.chain_id, self.registry, request_id), sig)
        if who is None:
            raise Refused(401, "X-Attestia-Signature is not a valid signature")
        if who != stored.requester:
            raise Refused(403, f"only the requester ({stored.requester}) may read request "
                          f"{rid}")
        out: dict[str, Any] = {
            "requestId": rid, "state": _shown(stored.state), "modelId": stored.model_id,
            "worker": stored.worker, "feeWei": str(stored.fee),
            "acceptedAt": iso(int(stored.accepted_at)), "receipt": stored.receipt,
            "batchId": stored.batch_id, "leaf": stored.leaf, "count": None, "root": None,
            "inclusionProof": list(stored.proof), "commitTx": None,
            "sealedResult": stored.sealed_result, "reason": stored.reason}
        if stored.batch_id is not None:
            batch = self.queue.batch(stored.batch_id)
            if batch is not None:
                out |= {"count": batch.count, "root": batch.root,
                        "commitTx": batch.tx_hash if stored.state == COMMITTED else None}
        return out

    def batch_file(self, batch_id: bytes) -> bytes:
        """A committed batch's file bytes (public, as the file itself is)."""
        batch = self.queue.batch("0x" + batch_id.hex())
        if batch is None or batch.state != COMMITTED:
            raise Refused(404, f"no committed batch 0x{batch_id.hex()} here")
        return batch.file


def _shown(state: str) -> str:
    """A lease is the queue's business: to its requester a leased request is still queued."""
    return QUEUED if state == LEASED else state

