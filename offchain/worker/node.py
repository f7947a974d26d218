"""The worker's main loop: follow requests, prepare records, journal, send, confirm.

Exactly once: the journal (``journal.py``) stores every signed transaction before it is
broadcast; on start-up the worker first settles what it journaled (re-broadcasting the same
bytes), then resumes from its block cursor. The contract refuses a second record for a
request, and the worker checks the request is still open before preparing one, so several
workers can serve the same model.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes

from offchain.chain.contracts import Attestia
from offchain.chain.eip712 import sign_digest
from offchain.chain.tx import Call, Sender
from offchain.engine import InferenceEngine
from offchain.errors import AttestiaError, ChainError, TransactionReverted
from offchain.models.encoding import commit
from offchain.privacy import EncryptionKey, open_request, seal_result
from offchain.protocol import (
    PROOF_SIGNED,
    PROOF_TEE,
    PROOF_ZK,
    REQUEST_CANCELLED,
    REQUEST_REJECTED,
    ZERO32,
    ZERO_ADDRESS,
    Request,
    inference_digest,
    policy_bit,
)
from offchain.worker import journal as J

log = logging.getLogger("attestia.worker")
OPEN_REQUEST_PREFIX = b"uri:"
GAS_REJECT = 150_000
GAS_ZK = 1_500_000


def crash_point(name: str) -> None:
    """Fault injection for the exactly-once tests: ATTESTIA_WORKER_CRASH_AT=<name> makes the
    process die at that point, as a power cut would (no cleanup, no flush)."""
    if os.environ.get("ATTESTIA_WORKER_CRASH_AT") == name:
        os._exit(97)


def fulfill_gas(n_shares: int) -> int:
    return 160_000 + 12_000 * n_shares


class Rejection(Exception):
    """The request cannot be served: it is rejected on-chain with this reason."""


class NotForUs(Exception):
    """An open request whose payload holds no copy sealed to this worker."""


@dataclass
class Prepared:
    entry: J.JournalEntry
    call: Call
    record: dict | None = None
    rejected: str | None = None


@dataclass
class TeeBinding:
    """The enclave identity records are made with (``--tee``)."""

    account: LocalAccount
    attestation_hash: bytes
    simulated: bool = True


@dataclass
class WorkerOptions:
    poll_interval: float = 0.05
    pipeline: int = 64
    start_block: int = 0
    # Dry-run each record's transaction (eth_call, same sender and fields, pending block)
    # before signing it: a revert is journaled as its custom error and costs no gas.
    simulate: bool = True


@dataclass
class WorkerStats:
    recorded: int = 0
    rejected: int = 0
    skipped: int = 0
    failed: int = 0
    gas: int = 0
    seen: int = 0
    started: float = field(default_factory=time.time)


class WorkerNode:
    def __init__(
        self, attestia: Attestia, *, operator: LocalAccount, enc_key: EncryptionKey,
        engines: dict[bytes, InferenceEngine], journal: J.Journal,
        options: WorkerOptions | None = None, tee: TeeBinding | None = None,
        on_progress: Callable[[WorkerStats], None] | None = None,
    ) -> None:
        self.attestia = attestia
        self.reg = attestia.reg
        self.chain = attestia.chain
        self.operator = operator
        self.signer: LocalAccount = tee.account if tee else operator
        self.enc_key = enc_key
        self.engines = engines
        self.journal = journal
        self.options = options or WorkerOptions()
        self.tee = tee
        self.sender: Sender = attestia.sender(operator)
        self.stats = WorkerStats()
        self.on_progress = on_progress
        self.stop_event = threading.Event()
        self._policies: dict[bytes, int] = {}

    # -- public ---------------------------------------------------------------------------
    def run(self, *, until_idle: bool = False, max_seconds: float | None = None) -> WorkerStats:
        """Serve until stopped (SIGTERM sets ``stop_event``), or until nothing is left."""
        self.recover()
        deadline = time.monotonic() + max_seconds if max_seconds else None
        while not self.stop_event.is_set():
            new = self.poll()
            entries = self.journal.entries(J.NEW)[: self.options.pipeline]
            if entries:
                self.process(entries)
            elif until_idle and not new:
                break
            else:
                self.stop_event.wait(self.options.poll_interval)
            if deadline and time.monotonic() > deadline:
                break
        return self.stats

    def recover(self) -> None:
        """Settle journaled transactions left by a previous run (same bytes, same nonce)."""
        in_flight = self.journal.entries(*J.IN_FLIGHT)
        if not in_flight:
            return
        log.info("recovering %d journaled transaction(s)", len(in_flight))
        for entry in in_flight:
            tx_hash = entry.signed_hash
            if self._receipt(tx_hash) is None:
                try:
                    self.sender.broadcast(tx_hash, entry.signed_raw)
                except ChainError as exc:
                    log.warning("re-broadcast of %s failed: %s", entry.request_id, exc)
        self.sender.resync()
        self._confirm(in_flight)

    def poll(self) -> int:
        """Journal requests from new blocks for the models we serve. Returns how many."""
        latest = self.chain.w3.eth.block_number
        start = max(self.journal.cursor + 1, self.options.start_block)
        if start > latest:
            return 0
        found: list[tuple[str, int, dict]] = []
        for event in self.reg.requested(start, latest):
            if event.request.modelId not in self.engines:
                continue
            if event.request.worker not in (ZERO_ADDRESS, self.signer.address):
                continue
            # The journal keeps the Request's JSON form plus the payload it came with.
            request = event.request.to_json()
            request["payload"] = "0x" + event.payload.hex()
            found.append(("0x" + event.request_id.hex(), event.meta.block, request))
        crash_point("before-cursor")
        added = self.journal.add_requests(found, latest)
        self.stats.seen += added
        return added

    # -- one round --------------------------------------------------------------------------
    def process(self, entries: list[J.JournalEntry]) -> None:
        prepared: list[Prepared] = []
        for entry in entries:
            if not self._still_open(entry):
                continue
            try:
                prepared.append(self._prepare(entry))
            except NotForUs:
                self.journal.update(entry.request_id, J.SKIPPED, reason="not sealed to us")
                self.stats.skipped += 1
            except Rejection as exc:
                prepared.append(self._reject(entry, str(exc)))
        prepared = [item for item in prepared if self._simulates(item)]
        if not prepared:
            return
        # Journal every signed transaction before any is broadcast.
        # One journal transaction for the round: all signed or none (a crash inside it leaves
        # nothing broadcast and nothing journaled; the next run signs again).
        signed = []
        crash_point("before-sign")
        with self.journal.transaction():
            for item in prepared:
                tx_hash, raw = self.sender.sign(item.call)
                nonce = self.sender.last_nonce
                state = J.REJECT_SIGNED if item.rejected else J.SIGNED
                self.journal.update(
                    item.entry.request_id, state, record=item.record,
                    tx_hash="0x" + tx_hash.hex(), raw_tx="0x" + raw.hex(), nonce=nonce,
                    reason=item.rejected,
                )
                signed.append((item, tx_hash, raw))
        crash_point("after-journal")
        for index, (_, tx_hash, raw) in enumerate(signed):
            self.sender.broadcast(tx_hash, raw)
            if index == len(signed) // 2:
                crash_point("mid-broadcast")
        with self.journal.transaction():
            for item, _, _ in signed:
                state = J.REJECT_SENT if item.rejected else J.SENT
                self.journal.update(item.entry.request_id, state)
        crash_point("after-send")
        self._confirm(self.journal.entries(J.SENT, J.REJECT_SENT, J.SIGNED, J.REJECT_SIGNED))

    def _still_open(self, entry: J.JournalEntry) -> bool:
        state = self.reg.request_state(_request_id(entry))
        if state == Request.from_json(entry.request).hash:
            return True
        reason = {ZERO32: "unknown request", REQUEST_CANCELLED: "cancelled",
                  REQUEST_REJECTED: "rejected"}.get(state, "recorded by another worker")
        self.journal.update(entry.request_id, J.SKIPPED, reason=reason)
        self.stats.skipped += 1
        return False

    def _simulates(self, item: Prepared) -> bool:
        """Whether the item's transaction would succeed now; if not, its failure (the custom
        error by name) is journaled and nothing is signed."""
        if not self.options.simulate:
            return True
        try:
            self.sender.simulate(item.call)
        except TransactionReverted as exc:
            self._failed(item.entry, f"not sent: {exc}")
            return False
        return True

    def _failed(self, entry: J.JournalEntry, reason: str) -> None:
        """Journal a record or rejection that failed (or would fail) on chain: FAILED with the
        decoded reason, or SKIPPED when the request is no longer open (reason kept)."""
        short = entry.request_id[:10]
        if self._still_open_quiet(entry):
            self.journal.update(entry.request_id, J.FAILED, reason=reason)
            self.stats.failed += 1
            log.warning("failed %s: %s", short, reason)
        else:
            self.journal.update(entry.request_id, J.SKIPPED, reason=f"no longer open: {reason}")
            self.stats.skipped += 1
            log.info("skipped %s: no longer open: %s", short, reason)

    def _payload_blob(self, request: dict) -> bytes:
        payload = bytes.fromhex(request["payload"][2:])
        if request["worker"] != ZERO_ADDRESS:
            return payload
        if not payload.startswith(OPEN_REQUEST_PREFIX):
            raise Rejection("open request payload must be uri:<location>")
        uri = payload[len(OPEN_REQUEST_PREFIX):].decode(errors="replace")
        parsed = urllib.parse.urlparse(uri)
        if parsed.scheme != "file":
            raise NotForUs()  # other transports are served by other front ends
        try:
            sealed = json.loads(Path(parsed.path).read_text())["sealed"]
        except (OSError, ValueError, KeyError) as exc:
            raise Rejection(f"open request document unreadable: {exc}") from None
        blob = sealed.get(self.signer.address) or sealed.get(self.signer.address.lower())
        if blob is None:
            raise NotForUs()
        return bytes.fromhex(blob.removeprefix("0x"))

    def _prepare(self, entry: J.JournalEntry) -> Prepared:
        request = Request.from_json(entry.request)
        engine = self.engines[request.modelId]
        try:
            payload = open_request(self.enc_key, self._payload_blob(entry.request))
        except AttestiaError as exc:
            raise Rejection(f"undecryptable payload: {exc}") from None
        if commit(payload.salt, payload.input_bytes) != request.inputCommitment:
            raise Rejection("input does not match its commitment")
        try:
            raw = engine.decode_input(payload.input_bytes)
        except AttestiaError as exc:
            raise Rejection(f"malformed input: {exc}") from None
        evaluation = engine.evaluate(raw)
        kind, proof_hash, zk_proof = self._proof_for(engine, raw)
        record = engine.record(
            evaluation, request_id=_request_id(entry),
            input_salt=payload.salt, worker=self.signer.address,
            timestamp=max(int(time.time()), request.createdAt), proof_kind=kind,
            proof_hash=proof_hash,
            output_commitment=zk_proof.output_commitment if zk_proof else None,
        )
        sealed = seal_result(payload.reply_key, evaluation.output_bytes)
        shares = [tuple(s) for s in evaluation.shares]
        reg = self.reg
        if self.signer.address == self.operator.address:
            if kind == PROOF_ZK:
                call = reg.fulfill_zk(request, record, evaluation.shares, zk_proof.proof,
                                      zk_proof.instances, sealed, gas=GAS_ZK)
            else:
                call = reg.fulfill(request, record, evaluation.shares, sealed,
                                   gas=fulfill_gas(len(shares)))
        else:  # an enclave key signs, the operator relays and pays the gas
            signature = sign_digest(
                self.signer, inference_digest(record, self.chain.chain_id, reg.address)
            )
            if kind == PROOF_ZK:
                call = reg.fulfill_zk_by_sig(request, record, evaluation.shares, signature,
                                             zk_proof.proof, zk_proof.instances, sealed,
                                             gas=GAS_ZK)
            else:
                call = reg.fulfill_by_sig(request, record, evaluation.shares, signature, sealed,
                                          gas=fulfill_gas(len(shares)))
        journal_record = {"inference": record.to_json(), "shares": shares,
                          "label": evaluation.label}
        return Prepared(entry, call, record=journal_record)

    def _proof_for(self, engine: InferenceEngine, raw) -> tuple[int, bytes, Any]:
        policy = self._policy(engine.model_id)
        if policy & policy_bit(PROOF_ZK) and engine.zk is not None:
            from offchain.proofs.zk import prove

            proof = prove(engine.zk, engine.package.model_input(raw))
            return PROOF_ZK, proof.proof_hash, proof
        if self.tee is not None:
            return PROOF_TEE, self.tee.attestation_hash, None
        return PROOF_SIGNED, bytes(32), None

    def _policy(self, model_id: bytes) -> int:
        if model_id not in self._policies:
            model = self.reg.model(model_id)
            self._policies[model_id] = model.policy if model is not None else 0
        return self._policies[model_id]

    def _reject(self, entry: J.JournalEntry, reason: str) -> Prepared:
        call = self.reg.reject_request(Request.from_json(entry.request), reason[:200],
                                       gas=GAS_REJECT)
        return Prepared(entry, call, rejected=reason)

    # -- confirmation ---------------------------------------------------------------------------
    def _receipt(self, tx_hash: bytes) -> Any:
        try:
            return self.chain.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except Exception:  # TransactionNotFound and transient errors alike: not mined yet
            return None

    def _confirm(self, entries: list[J.JournalEntry]) -> None:
        # Outcomes are journaled in one transaction: after a crash inside it, recovery reads
        # the receipts again and reaches the same states.
        with self.journal.transaction():
            self._confirm_each(entries)

    def _confirm_each(self, entries: list[J.JournalEntry]) -> None:
        for entry in entries:
            tx_hash = entry.signed_hash
            receipt = self.sender.wait(tx_hash, timeout=120)
            rejecting = entry.state in (J.REJECT_SIGNED, J.REJECT_SENT)
            short = entry.request_id[:10]
            self.stats.gas += int(receipt["gasUsed"])
            if receipt["status"] == 1:
                if rejecting:
                    self.journal.update(entry.request_id, J.REJECTED)
                    self.stats.rejected += 1
                    log.info("rejected %s: %s", short, entry.reason)
                else:
                    self.journal.update(entry.request_id, J.DONE)
                    self.stats.recorded += 1
                    rec = entry.record or {}
                    log.info(
                        "recorded %s model %s kind %s shares %d gas %d tx %s", short,
                        entry.request["modelId"][:10], rec.get("inference", {}).get("proofKind"),
                        len(rec.get("shares", [])), receipt["gasUsed"], "0x" + tx_hash.hex()[:10],
                    )
            else:
                try:
                    self.sender.check(receipt)
                    reason = "reverted"
                except TransactionReverted as exc:
                    reason = str(exc)
                self._failed(entry, reason)
            if self.on_progress:
                self.on_progress(self.stats)

    def _still_open_quiet(self, entry: J.JournalEntry) -> bool:
        state = self.reg.request_state(_request_id(entry))
        return state == Request.from_json(entry.request).hash


def _request_id(entry: J.JournalEntry) -> bytes:
    return bytes.fromhex(entry.request_id[2:])
