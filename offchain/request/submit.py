"""Off-chain requests to a batching worker, and where each one stands (``attestia request
submit`` / ``request status``).

A batching worker (``attestia worker run --batch-size N``) drains an inbox directory
(:mod:`offchain.request.inbox`) into Merkle-batched records: one ``commitBatch`` per batch.
A client of the same home finds such a worker through its heartbeat
(:mod:`offchain.request.heartbeat`: it names the models served and the inbox), drops the
request there (the request id is :func:`offchain.protocol.request_id`, as on chain) and keeps
what it sent under ``<data dir>/offchain-requests/<id>.json``: the input, the salt, the worker
and its data directory. The request then goes

    queued  ->  batched (the worker's results name its batch and leaf; commit not seen yet)
            ->  committed (``BatchCommitted`` on chain; the published batch file, checked
                against the commitment, gives the leaf and its inclusion proof)

and ``attestia verify batch:0x<batchId>:<leaf>`` checks the record as anyone can.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offchain.errors import AttestiaError, ConfigError
from offchain.registry import Attestia
from offchain.request.heartbeat import Heartbeat, fresh_heartbeats
from offchain.storage.atomic import atomic_write_json

if TYPE_CHECKING:
    import numpy as np

FOLDER = "offchain-requests"
QUEUED, BATCHED, COMMITTED = "queued", "batched", "committed"
REJECTED, FAILED = "rejected", "failed"
"""Gateway requests only: never batched (a sealed payload or input the worker refused), or
in a batch that could not be committed."""


@dataclass(frozen=True)
class Submission:
    """What the client kept of an off-chain request it submitted."""

    request_id: bytes
    model_id: bytes
    worker: str
    worker_dir: str
    inbox_file: str
    input_bytes: bytes
    salt: bytes
    fee: int
    requester: str
    submitted_at: float
    gateway: str | None = None
    """A request sent through a gateway (its URL); None: dropped into a local inbox."""
    reply_secret: bytes | None = None
    """Gateway requests: the one-time key the sealed result is sealed to."""
    read_signature: bytes | None = None
    """Gateway requests: the requester's signature that lets it read the request's state."""
    receipt: dict[str, Any] | None = None
    """Gateway requests: the worker key's signed receipt, as the gateway answered it."""

    def to_json(self) -> dict[str, Any]:
        out = {"requestId": "0x" + self.request_id.hex(), "modelId": "0x" + self.model_id.hex(),
               "worker": self.worker, "workerDir": self.worker_dir,
               "inboxFile": self.inbox_file, "input": "0x" + self.input_bytes.hex(),
               "salt": "0x" + self.salt.hex(), "feeWei": self.fee, "requester": self.requester,
               "submittedAt": self.submitted_at}
        if self.gateway is not None:
            assert self.reply_secret is not None and self.read_signature is not None
            out |= {"gateway": self.gateway, "replySecret": "0x" + self.reply_secret.hex(),
                    "readSignature": "0x" + self.read_signature.hex(),
                    "receipt": self.receipt}
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Submission:
        h = bytes.fromhex
        gateway = d.get("gateway")
        return cls(h(d["requestId"][2:]), h(d["modelId"][2:]), str(d["worker"]),
                   str(d["workerDir"]), str(d["inboxFile"]), h(d["input"][2:]),
                   h(d["salt"][2:]), int(d["feeWei"]), str(d["requester"]),
                   float(d["submittedAt"]), gateway,
                   h(d["replySecret"][2:]) if gateway else None,
                   h(d["readSignature"][2:]) if gateway else None,
                   d.get("receipt") if gateway else None)

    def save(self, data_dir: Path) -> Path:
        path = data_dir / FOLDER / f"0x{self.request_id.hex()}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_json(path, self.to_json(), indent=1)


def load_submission(data_dir: Path, request_id: bytes) -> Submission | None:
    """The off-chain request this home submitted with that id (None if it did not)."""
    path = data_dir / FOLDER / f"0x{request_id.hex()}.json"
    if not path.exists():
        return None
    try:
        return Submission.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ConfigError(f"off-chain request file {path} is corrupt ({type(exc).__name__}: "
                          f"{exc}): restore it or move it away") from None


def batching_worker(attestia: Attestia, model_id: bytes, data_dir: Path,
                    named: str | None = None) -> Heartbeat:
    """A running batching worker of this home that serves ``model_id`` (``named`` if given);
    ConfigError naming what to start otherwise."""
    beats = fresh_heartbeats(data_dir / "workers", attestia.chain.chain_id,
                             attestia.registry.address)
    mid = "0x" + model_id.hex()
    if named is not None:
        beat = next((b for s, b in beats.items() if s.lower() == named.lower()), None)
        if beat is None:
            raise ConfigError(f"worker {named} is not running in this home (no fresh "
                              "heartbeat): start it with attestia worker run --model PACKAGE "
                              "--batch-size N")
        if not beat.batch_size or not beat.inbox:
            raise ConfigError(f"worker {named} does not batch (it runs without --batch-size): "
                              "use attestia infer, or start a batching worker")
        if not beat.serves(model_id):
            raise ConfigError(f"worker {named} does not serve model {mid}")
        return beat
    for beat in beats.values():
        if beat.batch_size and beat.inbox and beat.serves(model_id):
            return beat
    raise ConfigError(f"no batching worker serving model {mid} runs in this home: start one "
                      "with attestia worker run --model PACKAGE --batch-size N; nothing was "
                      "submitted")


def submit(attestia: Attestia, model_id: bytes, raw: np.ndarray, *, requester: str,
           data_dir: Path, worker: str | None = None) -> Submission:
    """Drop one off-chain request for ``model_id`` into a batching worker's inbox and keep
    it under ``<data_dir>/offchain-requests``. The fee named is the model's current fee."""
    # here, not at the top: `request status` reads submissions without numpy or the models
    import numpy as np

    from offchain.models.encoding import encode_tensor
    from offchain.request.inbox import offchain_request, submit_offchain

    model = attestia.registry.model(model_id)
    if model is None:
        raise ConfigError(f"model 0x{model_id.hex()} is not registered")
    if not model.active:
        raise ConfigError(f"model 0x{model_id.hex()} no longer takes requests")
    beat = batching_worker(attestia, model_id, data_dir, worker)
    input_bytes = encode_tensor(np.asarray(raw, dtype=np.float32))
    entry = offchain_request(model_id, input_bytes, fee=model.fee, requester=requester)
    assert beat.inbox is not None
    path = submit_offchain(Path(beat.inbox), entry)
    sub = Submission(bytes.fromhex(entry["requestId"][2:]), model_id, beat.signer,
                     beat.data_dir, str(path), input_bytes, bytes.fromhex(entry["salt"][2:]),
                     model.fee, requester, time.time())
    sub.save(data_dir)
    return sub


def submit_via_gateway(attestia: Attestia, model_id: bytes, raw: np.ndarray, *,
                       account: Any, data_dir: Path, gateway: str) -> Submission:
    """Send one off-chain request through a worker's gateway (from any home) and keep it
    under ``<data_dir>/offchain-requests``, as :func:`submit` does for a local one.

    Trusts the gateway for nothing it could lie about: the deployment it names must be this
    one; the input is sealed to the worker's encryption key as published *on chain*; the
    receipt must be signed by that worker key over this request. The fee named is the
    model's current fee."""
    import numpy as np

    from offchain.models.encoding import commit, encode_tensor, new_salt
    from offchain.request.gateway import (
        GatewayClient,
        make_submission,
        read_message,
        receipt_message,
        sign_message,
        signer_of,
    )
    from offchain.sealing import EncryptionKey, RequestPayload, seal_request

    client = GatewayClient(gateway)
    info = client.info()
    chain_id, registry = attestia.chain.chain_id, str(attestia.registry.address)
    if info.get("chainId") != chain_id or str(info.get("registry", "")).lower() != \
            registry.lower():
        raise ConfigError(f"gateway {gateway} serves chain {info.get('chainId')} registry "
                          f"{info.get('registry')}, not chain {chain_id} registry {registry}: "
                          "nothing was sent")
    model = attestia.registry.model(model_id)
    if model is None:
        raise ConfigError(f"model 0x{model_id.hex()} is not registered")
    if not model.active:
        raise ConfigError(f"model 0x{model_id.hex()} no longer takes requests")
    if "0x" + model_id.hex() not in [str(m).lower() for m in info.get("models", [])]:
        raise ConfigError(f"gateway {gateway} does not serve model 0x{model_id.hex()}")
    worker = str(info.get("worker"))
    slot = attestia.registry.worker(worker)
    if slot is None or not slot.active:
        raise ConfigError(f"the gateway's worker {worker} is not an active registered worker "
                          "on this chain: nothing was sent")
    input_bytes = encode_tensor(np.asarray(raw, dtype=np.float32))
    salt, reply = new_salt(), EncryptionKey.generate()
    sealed = seal_request(slot.encryptionKey, RequestPayload(input_bytes, salt, reply.public))
    body = make_submission(account, chain_id=chain_id, registry=registry, model_id=model_id,
                           worker=worker, fee=model.fee,
                           input_commitment=commit(salt, input_bytes), sealed=sealed)
    _, answer = client.submit(body)
    receipt = answer.get("receipt") or {}
    try:  # the worker signed the unix second that commitBy writes in ISO 8601
        commit_by = int(dt.datetime.fromisoformat(str(receipt["commitBy"])).timestamp())
        signed = signer_of(receipt_message(chain_id, registry, body.request_id, model_id,
                                           worker, commit_by),
                           bytes.fromhex(str(receipt["signature"])[2:]))
    except (KeyError, TypeError, ValueError):
        signed = None
    if signed != worker:
        raise ConfigError(f"gateway {gateway} answered a receipt that worker {worker} did not "
                          f"sign for request 0x{body.request_id.hex()}: do not rely on it")
    sub = Submission(body.request_id, model_id, worker, "", "", input_bytes, salt, model.fee,
                     account.address, time.time(), gateway.rstrip("/"), reply.secret,
                     sign_message(account, read_message(chain_id, registry, body.request_id)),
                     receipt)
    sub.save(data_dir)
    return sub


@dataclass(frozen=True)
class BatchedStatus:
    """Where an off-chain request stands."""

    submission: Submission
    state: str
    batch_id: bytes | None = None
    leaf: int | None = None
    count: int | None = None
    root: bytes | None = None
    tx_hash: str | None = None
    epoch: int | None = None
    proof: tuple[bytes, ...] = ()
    label: int | None = None
    reason: str | None = None

    @property
    def ref(self) -> str | None:
        """The ``verify`` reference of the batched record."""
        if self.batch_id is None or self.leaf is None:
            return None
        return f"batch:0x{self.batch_id.hex()}:{self.leaf}"

    def to_json(self) -> dict[str, Any]:
        s = self.submission
        return {"requestId": "0x" + s.request_id.hex(), "state": self.state,
                "offchain": True, "modelId": "0x" + s.model_id.hex(), "worker": s.worker,
                "feeWei": s.fee, "batchId": "0x" + self.batch_id.hex() if self.batch_id
                else None, "leaf": self.leaf, "count": self.count,
                "root": "0x" + self.root.hex() if self.root else None,
                "commitTx": self.tx_hash, "epoch": self.epoch,
                "inclusionProof": ["0x" + p.hex() for p in self.proof],
                "label": self.label, "verify": self.ref, "gateway": s.gateway,
                "reason": self.reason}


def _result(worker_dir: Path, request_id: bytes) -> tuple[bytes, dict[str, Any]] | None:
    """(batch id, the request's entry) from the worker's results documents
    (``outbox/<root>.json``: leaf, label and output per request)."""
    from offchain.request.inbox import OUTBOX

    key = "0x" + request_id.hex()
    outbox = worker_dir / OUTBOX
    for path in sorted(outbox.glob("*.json")) if outbox.is_dir() else []:
        try:
            document = json.loads(path.read_text())
            found = document["results"].get(key)
            if isinstance(found, dict):
                return bytes.fromhex(document["batchId"][2:]), found
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return None


def _results(worker_dir: Path, request_id: bytes) -> tuple[bytes, int | None] | None:
    """(batch id, label) from the worker's results documents."""
    found = _result(worker_dir, request_id)
    return None if found is None else (found[0], found[1].get("label"))


def batched_output(sub: Submission) -> bytes | None:
    """The output the worker delivered for an off-chain request (its results document), what
    a challenge of the request's batch leaf reveals; None if it delivered none."""
    found = _result(Path(sub.worker_dir), sub.request_id)
    if found is None:
        return None
    try:
        return bytes.fromhex(str(found[1]["output"]).removeprefix("0x"))
    except (KeyError, ValueError):
        return None


def submissions(data_dir: Path) -> list[Submission]:
    """Every off-chain request this home submitted (a corrupt file is skipped)."""
    out = []
    for path in sorted((data_dir / FOLDER).glob("0x*.json")):
        try:
            out.append(Submission.from_json(json.loads(path.read_text())))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            continue
    return sorted(out, key=lambda sub: sub.submitted_at)


def _gateway_results(attestia: Attestia, sub: Submission
                     ) -> tuple[bytes, bytes | None] | BatchedStatus | None:
    """(batch id, the output opened from the sealed result, None if it does not open) from
    the gateway's answer; a final status when the gateway rejected the request; None while
    it is queued."""
    from offchain.request.gateway import GatewayClient
    from offchain.sealing import EncryptionKey, PayloadError, open_result

    assert sub.gateway is not None and sub.read_signature is not None
    answer = GatewayClient(sub.gateway).status(sub.request_id, sub.read_signature)
    state = answer.get("state")
    if state in (REJECTED, FAILED):
        return BatchedStatus(sub, str(state), reason=str(answer.get("reason") or ""))
    if not answer.get("batchId"):
        return None
    sealed, output = answer.get("sealedResult"), None
    if isinstance(sealed, str) and sub.reply_secret is not None:
        try:
            output = open_result(EncryptionKey(sub.reply_secret), bytes.fromhex(sealed[2:]))
        except (PayloadError, ValueError):
            output = None
    return bytes.fromhex(str(answer["batchId"])[2:]), output


def _label_of(sub: Submission, output: bytes | None, committed: bytes) -> int | None:
    """The label the committed output states (argmax), once the output the gateway handed
    over is checked against the leaf's output commitment."""
    from offchain.attribution.integer import label_of_output
    from offchain.models.encoding import commit, decode_tensor
    from offchain.sealing import output_salt

    if output is None:
        return None
    if commit(output_salt(sub.salt), output) != committed:
        raise ConfigError(f"the sealed result of 0x{sub.request_id.hex()} is not the output "
                          "its leaf commits to: the gateway or the worker lied")
    try:
        return label_of_output(decode_tensor(output))
    except AttestiaError:  # committed, but not one row of logits: no label to state
        return None


def _load_batch_file(sub: Submission, event: Any) -> Any:
    """The committed batch file, checked against the event; through the gateway's copy when
    the published URI cannot be read from here (the gateway is trusted for availability
    only: the bytes must hash to the committed dataHash)."""
    from offchain.record import batch_file
    from offchain.storage.uri import UriError

    try:
        return batch_file.load(event.data_uri, event, roster=None)
    except UriError:
        if sub.gateway is None:
            raise
    from offchain.request.gateway import GatewayClient

    data = GatewayClient(sub.gateway).batch_file(event.batch_id)
    return batch_file.load_bytes(data, event, roster=None, source=f"{sub.gateway} (copy)")


def batched_status(attestia: Attestia, sub: Submission) -> BatchedStatus:
    """Queued, batched or committed (with the leaf and its inclusion proof, read from the
    published batch file checked against the on-chain commitment); for a gateway request
    also rejected or failed (with the reason). A gateway request's answer is checked: its
    leaf's output commitment must be the commitment of the sealed result's output."""
    found: Any = _gateway_results(attestia, sub) if sub.gateway else \
        _results(Path(sub.worker_dir), sub.request_id)
    if isinstance(found, BatchedStatus):
        return found
    if found is None:
        return BatchedStatus(sub, QUEUED)
    batch_id, label = found
    events = attestia.registry.batches(batch_id=batch_id)
    if not events:
        return BatchedStatus(sub, BATCHED, batch_id=batch_id,
                             label=None if sub.gateway else label)
    event = events[-1]
    published = _load_batch_file(sub, event)
    leaf = published.index_of(sub.request_id)
    if leaf is None:
        raise ConfigError(f"batch 0x{batch_id.hex()} does not hold request "
                          f"0x{sub.request_id.hex()} (the worker's results disagree with its "
                          "published batch file)")
    if sub.gateway:
        label = _label_of(sub, label, published.leaves[leaf].inference.outputCommitment)
    return BatchedStatus(sub, COMMITTED, batch_id, leaf, published.count, published.root,
                         event.meta.tx_hash, event.epoch, tuple(published.proof(leaf)), label)


def wait_batched(attestia: Attestia, sub: Submission, *, timeout: float, poll: float = 0.5,
                 on_poll: Callable[[BatchedStatus, float], None] | None = None
                 ) -> BatchedStatus:
    """Poll until the request's batch is committed; ConfigError after ``timeout``."""
    start = time.monotonic()
    while True:
        status = batched_status(attestia, sub)
        waited = time.monotonic() - start
        if on_poll is not None:
            on_poll(status, waited)
        if status.state == COMMITTED:
            return status
        if status.state in (REJECTED, FAILED):
            raise ConfigError(f"off-chain request 0x{sub.request_id.hex()} was {status.state}"
                              f": {status.reason}")
        if waited >= timeout:
            raise ConfigError(f"off-chain request 0x{sub.request_id.hex()} is still "
                              f"{status.state} after {timeout:.0f} s: is worker {sub.worker} "
                              "running? (attestia worker list); attestia request status "
                              f"0x{sub.request_id.hex()} follows it")
        time.sleep(poll)
