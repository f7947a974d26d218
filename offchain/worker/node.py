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

from offchain.chain.contracts import Attestia
from offchain.chain.eip712 import (
    PROOF_SIGNED,
    PROOF_TEE,
    PROOF_ZK,
    inference_digest,
    policy_bit,
    sign_digest,
)
from offchain.chain.events import (
    iter_events,
    request_from_event,
    request_hash,
    request_tuple,
)
from offchain.chain.tx import Call, Sender
from offchain.errors import AttestiaError, ChainError, TransactionReverted
from offchain.models.encoding import commit
from offchain.privacy import EncryptionKey, open_request, seal_result
from offchain.worker import journal as J
from offchain.worker.engine import InferenceEngine

log = logging.getLogger("attestia.worker")
ZERO = "0x" + "00" * 20
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
        self.registry = attestia.registry
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
            tx_hash = bytes.fromhex(entry.tx_hash[2:])
            if self._receipt(tx_hash) is None:
                try:
                    self.sender.broadcast(tx_hash, bytes.fromhex(entry.raw_tx[2:]))
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
        for event in iter_events(self.registry, "InferenceRequested", start, latest):
            args = event["args"]
            if bytes(args["modelId"]) not in self.engines:
                continue
            if args["worker"] not in (ZERO, self.signer.address):
                continue
            request = request_from_event(args)
            request["payload"] = "0x" + bytes(args["payload"]).hex()
            found.append(("0x" + bytes(args["requestId"]).hex(), event["blockNumber"], request))
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
        state = bytes(self.registry.functions.requestState(entry.request_id).call())
        if state == request_hash(entry.request):
            return True
        reason = {0: "unknown request", 1: "cancelled", 2: "rejected"}.get(
            int.from_bytes(state, "big"), "recorded by another worker"
        )
        self.journal.update(entry.request_id, J.SKIPPED, reason=reason)
        self.stats.skipped += 1
        return False

    def _payload_blob(self, request: dict) -> bytes:
        payload = bytes.fromhex(request["payload"][2:])
        if request["worker"] != ZERO:
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
        request = entry.request
        model_id = bytes.fromhex(request["modelId"][2:])
        engine = self.engines[model_id]
        try:
            payload = open_request(self.enc_key, self._payload_blob(request))
        except AttestiaError as exc:
            raise Rejection(f"undecryptable payload: {exc}") from None
        if commit(payload.salt, payload.input_bytes).hex() != request["inputCommitment"][2:]:
            raise Rejection("input does not match its commitment")
        try:
            raw = engine.decode_input(payload.input_bytes)
        except AttestiaError as exc:
            raise Rejection(f"malformed input: {exc}") from None
        evaluation = engine.evaluate(raw)
        kind, proof_hash, zk_proof = self._proof_for(engine, raw)
        record = engine.record(
            evaluation, request_id=bytes.fromhex(entry.request_id[2:]),
            input_salt=payload.salt, worker=self.signer.address,
            timestamp=max(int(time.time()), int(request["createdAt"])), proof_kind=kind,
            proof_hash=proof_hash,
            output_commitment=zk_proof.output_commitment if zk_proof else None,
        )
        sealed = seal_result(payload.reply_key, evaluation.output_bytes)
        shares = [tuple(s) for s in evaluation.shares]
        fn = self.registry.functions
        if kind == PROOF_ZK:
            args = (zk_proof.proof, list(zk_proof.instances))
            gas = GAS_ZK
        else:
            args = ()
            gas = fulfill_gas(len(shares))
        req = request_tuple(request)
        if self.signer.address == self.operator.address:
            name = "fulfillZk" if kind == PROOF_ZK else "fulfill"
            call = getattr(fn, name)(req, record.as_tuple(), shares, *args, sealed)
        else:  # an enclave key signs, the operator relays and pays the gas
            signature = sign_digest(
                self.signer, inference_digest(record, self.chain.chain_id, self.registry.address)
            )
            name = "fulfillZkBySig" if kind == PROOF_ZK else "fulfillBySig"
            call = getattr(fn, name)(req, record.as_tuple(), shares, signature, *args, sealed)
        journal_record = {"inference": record.to_json(), "shares": shares,
                          "label": evaluation.label}
        return Prepared(entry, Call.of(call, gas=gas), record=journal_record)

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
            self._policies[model_id] = self.registry.functions.getModel(model_id).call()[1]
        return self._policies[model_id]

    def _reject(self, entry: J.JournalEntry, reason: str) -> Prepared:
        call = self.registry.functions.rejectRequest(request_tuple(entry.request), reason[:200])
        return Prepared(entry, Call.of(call, gas=GAS_REJECT), rejected=reason)

    # -- confirmation ---------------------------------------------------------------------------
    def _receipt(self, tx_hash: bytes) -> Any:
        try:
            return self.chain.w3.eth.get_transaction_receipt(tx_hash)
        except Exception:  # TransactionNotFound and transient errors alike: not mined yet
            return None

    def _confirm(self, entries: list[J.JournalEntry]) -> None:
        # Outcomes are journaled in one transaction: after a crash inside it, recovery reads
        # the receipts again and reaches the same states.
        with self.journal.transaction():
            self._confirm_each(entries)

    def _confirm_each(self, entries: list[J.JournalEntry]) -> None:
        for entry in entries:
            tx_hash = bytes.fromhex(entry.tx_hash[2:])
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
                        len(rec.get("shares", [])), receipt["gasUsed"], entry.tx_hash[:12],
                    )
            else:
                try:
                    self.sender.check(receipt, Call(to=self.registry.address, data=b""))
                    reason = "reverted"
                except TransactionReverted as exc:
                    reason = str(exc)
                if self._still_open_quiet(entry):
                    self.journal.update(entry.request_id, J.FAILED, reason=reason)
                    self.stats.failed += 1
                    log.warning("failed %s: %s", short, reason)
                else:
                    self.journal.update(entry.request_id, J.SKIPPED, reason="no longer open")
                    self.stats.skipped += 1
            if self.on_progress:
                self.on_progress(self.stats)

    def _still_open_quiet(self, entry: J.JournalEntry) -> bool:
        state = bytes(self.registry.functions.requestState(entry.request_id).call())
        return state == request_hash(entry.request)
