"""The worker's main loop: follow requests, prepare records, journal, send, confirm.

Exactly once: the journal (``journal.py``) stores every signed transaction before it is
broadcast; on start-up the worker first settles what it journaled (re-broadcasting the same
bytes), then resumes from its block cursor. The contract refuses a second record for a
request, and the worker checks the request is still open before preparing one, so several
workers can serve the same model.

One request never stops the worker: whatever fails for it (payload, input, model,
attribution, zk input hash, witness, proof, or the record's dry run naming a custom error)
rejects it on chain with the reason, which refunds the requester. Every request names its
worker (the registry refuses one that does not): this worker serves only those naming it. A
record carries the model's contributor roster, and its signed ``resultHash``
covers the sealed answer delivered with it.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from offchain.chain.connection import RPCUnavailable
from offchain.chain.eip712 import sign_digest
from offchain.chain.tx import Call, Sender
from offchain.errors import AttestiaError, ChainError, TransactionReverted
from offchain.models.encoding import commit
from offchain.protocol import (
    PROOF_SIGNED,
    PROOF_TEE,
    PROOF_ZK,
    REQUEST_CANCELLED,
    REQUEST_REJECTED,
    ZERO32,
    Request,
    inference_digest,
    policy_bit,
    proof_kind_name,
    result_hash,
)
from offchain.record.compute import InferenceEngine
from offchain.registry import Attestia
from offchain.sealing import EncryptionKey, open_request, seal_result
from offchain.worker import journal as J

log = logging.getLogger("attestia.worker")
GAS_REJECT = 150_000
GAS_ZK = 1_500_000
ROSTER_GAS = 1_500
"""Gas limit added per roster entry (calldata, hashing and the membership walk)."""
MAX_REASON = 200
# Waiting for a lost chain: retry after 1 s, doubling up to 10 s; a reminder every minute.
RETRY_FIRST = 1.0
RETRY_MAX = 10.0
RETRY_REMIND = 60.0


def crash_point(name: str) -> None:
    """Fault injection for the exactly-once tests: ATTESTIA_WORKER_CRASH_AT=<name> makes the
    process die at that point, as a power cut would (no cleanup, no flush)."""
    if os.environ.get("ATTESTIA_WORKER_CRASH_AT") == name:
        os._exit(97)


def fulfill_gas(n_shares: int) -> int:
    return 160_000 + 12_000 * n_shares


class Rejection(Exception):
    """The request cannot be served: it is rejected on-chain with this reason."""


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


def freeze_heap() -> None:
    """Collect once, then move every object still alive (modules, web3 and its ABIs, the
    served models and their rosters: what start-up built) out of the cyclic collector's
    sight (``gc.freeze``). A full collection then scans only what serving made since, not the
    whole start-up heap: measured in a batch worker, a full collection in the middle of a
    1,000-request batch took 110-130 ms, a third of the batch. Objects stay freed by their
    reference counts; only garbage cycles alive at the freeze would stay (none after the
    collection). Called again after each recovery, it also sets aside what serving has kept
    since (caches)."""
    gc.collect()
    gc.freeze()


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
        self._timeout: int | None = None
        self._failures = 0  # rounds failed in a row (not counting a lost chain)
        self.heartbeat: Any = None
        """A ``heartbeat.Heartbeater`` (set by ``attestia worker run``): clients of the home
        see the worker is running."""
        self.disputes: Any = None
        """A ``disputes.DisputeResponder`` (set by ``build_worker``): answers challenges to
        this worker's records each round."""

    def beat(self) -> None:
        """Say "running" to clients (throttled: a file write every few seconds at most)."""
        if self.heartbeat is not None:
            self.heartbeat.beat()

    # -- public ---------------------------------------------------------------------------
    def run(self, *, until_idle: bool = False, max_seconds: float | None = None) -> WorkerStats:
        """Serve until stopped (SIGTERM sets ``stop_event``), or until nothing is left.

        A lost chain never ends the run: the worker waits for it (``wait_for_chain``), then
        settles what it journaled and goes on from its cursor (see ``round_failed``)."""
        deadline = time.monotonic() + max_seconds if max_seconds else None
        recovered = False
        while not self.stop_event.is_set():
            self.beat()
            try:
                if not recovered:
                    self.recover()
                    recovered = True
                new = self.poll()
                if self.disputes is not None:
                    self.disputes.check()
                entries = self.journal.entries(J.NEW)[: self.options.pipeline]
                if entries:
                    self.process(entries)
                elif until_idle and not new:
                    break
                else:
                    self.stop_event.wait(self.options.poll_interval)
                self.round_succeeded()
            except Exception as exc:  # a long-running process outlives one failed round
                self.round_failed(exc)
                recovered = False
            if deadline and time.monotonic() > deadline:
                break
        return self.stats

    def round_succeeded(self) -> None:
        """A round went through: a later failure starts its backoff from the shortest."""
        self._failures = 0

    def round_failed(self, exc: Exception) -> None:
        """After a round failed: wait until the chain answers again (a lost connection is
        one log line, no traceback; anything else is logged with its traceback, since it is
        a bug), then resume from the journal. Exactly once still holds: every transaction was
        journaled before its broadcast, so the next ``recover`` re-broadcasts the same bytes
        and reads their receipts; requests not yet signed are still NEW and are prepared
        again; the cursor only moved past blocks whose requests are journaled. The local
        nonce is forgotten (a round cut short may have counted nonces it never used).
        Whatever the error, if the chain does not answer now it is the chain going away."""
        if not isinstance(exc, RPCUnavailable) and self._chain_answers():
            if isinstance(exc, ChainError):
                log.error("round failed: %s", exc)
            else:
                log.exception("round failed (a bug): %s: %s", type(exc).__name__, exc)
            # The same failure again and again is retried ever slower (1 s doubling to 10 s).
            self.stop_event.wait(min(RETRY_FIRST * 2 ** self._failures, RETRY_MAX))
            self._failures += 1
        self.wait_for_chain(f"{type(exc).__name__}: {exc}")
        self.sender.resync()

    def _chain_answers(self) -> bool:
        try:
            self.chain.w3.eth.block_number  # noqa: B018 (the request is the point)
        except Exception:  # whatever it is, the chain did not answer
            return False
        return True

    def wait_for_chain(self, why: str) -> int | None:
        """Block until the chain answers (retrying with backoff from ``RETRY_FIRST`` to
        ``RETRY_MAX`` seconds, one log line when it goes and one when it is back), or until
        stopped. The latest block number, or None if stopped first. ``why`` is the failure
        that started the wait (logged if the chain is indeed gone)."""
        url = _safe_url(self.chain.url)
        delay = RETRY_FIRST
        waiting_since: float | None = None
        reminded = time.monotonic()
        while not self.stop_event.is_set():
            self.beat()
            try:
                latest = int(self.chain.w3.eth.block_number)
                problem = self._chain_problem()
            except Exception:  # whatever it is, the chain did not answer
                latest, problem = None, None
            if latest is not None and problem is None:
                if waiting_since is not None:
                    log.info("chain back at block %d: resuming (down %.0f s)", latest,
                             time.monotonic() - waiting_since)
                    if latest < self.journal.cursor:
                        log.warning("the chain is at block %d, behind this worker's cursor "
                                    "(block %d): it lost blocks (was it restarted without its "
                                    "state?); requests in blocks %d-%d are not seen again",
                                    latest, self.journal.cursor, latest + 1,
                                    self.journal.cursor)
                return latest
            if waiting_since is None:
                waiting_since = time.monotonic()
                if problem is not None:
                    log.error("chain at %s is not usable: %s: waiting, retrying every %.0f-%.0f s",
                              url, problem, RETRY_FIRST, RETRY_MAX)
                else:
                    log.warning("chain unreachable at %s: waiting, retrying every %.0f-%.0f s "
                                "(%s)", url, RETRY_FIRST, RETRY_MAX, why)
            elif time.monotonic() - reminded >= RETRY_REMIND:
                reminded = time.monotonic()
                log.warning("still waiting for the chain at %s (%.0f s)", url,
                            time.monotonic() - waiting_since)
            self.stop_event.wait(delay)
            delay = min(delay * 2, RETRY_MAX)
        return None

    def _chain_problem(self) -> str | None:
        """Why the chain that answers is not the one this worker serves (another chain id,
        or no registry code at its address: a chain restarted without its state), or None."""
        chain_id = int(self.chain.w3.eth.chain_id)
        if chain_id != self.chain.chain_id:
            return f"chain id {chain_id}, not {self.chain.chain_id}"
        if not self.chain.w3.eth.get_code(Web3.to_checksum_address(self.registry.address)):
            return f"no registry contract at {self.registry.address} (chain reset?)"
        return None

    def recover(self) -> None:
        """Settle journaled transactions left by a previous run (same bytes, same nonce);
        then set the start-up heap aside from the garbage collector (``freeze_heap``)."""
        in_flight = self.journal.entries(*J.IN_FLIGHT)
        if in_flight:
            log.info("recovering %d journaled transaction(s)", len(in_flight))
            for entry in in_flight:
                tx_hash = entry.signed_hash
                if self.sender.receipt(tx_hash) is None:
                    try:
                        self.sender.broadcast(tx_hash, entry.signed_raw)
                    except ChainError as exc:
                        log.warning("re-broadcast of %s failed: %s", entry.request_id, exc)
            self.sender.resync()
            self._confirm(in_flight)
        freeze_heap()

    def poll(self) -> int:
        """Journal requests from new blocks for the models we serve. Returns how many."""
        latest = self.chain.w3.eth.block_number
        start = max(self.journal.cursor + 1, self.options.start_block)
        if start > latest:
            return 0
        found: list[tuple[str, int, dict]] = []
        for event in self.registry.requested(start, latest):
            if event.request.modelId not in self.engines:
                continue
            if event.request.worker != self.signer.address:
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
        # One round trip each for the round's state reads and for its dry runs (JSON-RPC
        # batches): all run on the same state, since nothing of the round is sent before.
        open_now = [entry for entry, state in zip(
            entries, self.sender.call_many([self._state_call(e) for e in entries]),
            strict=True) if self._still_open(entry, state)]
        items = [item for item in map(self._prepare_or_reject, open_now) if item is not None]
        prepared: list[Prepared] = []
        for item, error in zip(items, self._simulate_many(items), strict=True):
            checked = item if error is None or item.rejected else self._refused(item, error)
            if checked is not None:
                prepared.append(checked)
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
        half = len(signed) // 2 + 1
        self.sender.broadcast_many([(tx_hash, raw) for _, tx_hash, raw in signed[:half]])
        crash_point("mid-broadcast")
        self.sender.broadcast_many([(tx_hash, raw) for _, tx_hash, raw in signed[half:]])
        with self.journal.transaction():
            for item, _, _ in signed:
                state = J.REJECT_SENT if item.rejected else J.SENT
                self.journal.update(item.entry.request_id, state)
        crash_point("after-send")
        self._confirm(self.journal.entries(J.SENT, J.REJECT_SENT, J.SIGNED, J.REJECT_SIGNED))

    def _prepare_or_reject(self, entry: J.JournalEntry) -> Prepared | None:
        """The transaction this request gets: its record (dry-run by the caller:
        :meth:`_refused` when it would revert), or (when anything about this one request
        fails: payload, input, model, attribution, witness, proof) its rejection with the
        reason, which refunds the requester. Only a lost chain connection escapes: one
        request never stops the worker."""
        short = entry.request_id[:10]
        try:
            return self._prepare(entry)
        except Rejection as exc:
            return self._reject(entry, str(exc))
        except ChainError:
            raise
        except Exception as exc:  # a bug or an input nobody foresaw: this request only
            log.exception("preparing %s failed", short)
            return self._reject(entry, f"worker error: {type(exc).__name__}: {exc}")

    def _refused(self, item: Prepared, error: str) -> Prepared | None:
        """A record whose dry run reverted: skipped if its request is no longer open, else
        the request is rejected with the reason."""
        entry = item.entry
        if not self._still_open_quiet(entry):
            self.journal.update(entry.request_id, J.SKIPPED,
                                reason=f"no longer open: not sent: {error}")
            self.stats.skipped += 1
            log.info("skipped %s: no longer open: %s", entry.request_id[:10], error)
            return None
        return self._reject(entry, f"record refused: {error}")

    def _simulate_many(self, items: list[Prepared]) -> list[str | None]:
        """:meth:`_simulate` of many items in one round trip (rejections were dry-run when
        they were made: None for them)."""
        if not self.options.simulate:
            return [None] * len(items)
        records = [item for item in items if not item.rejected]
        errors = iter(self.sender.simulate_many([item.call for item in records]))
        out: list[str | None] = []
        for item in items:
            error = None if item.rejected else next(errors)
            out.append(None if error is None else str(error))
        return out

    def _state_call(self, entry: J.JournalEntry) -> Call:
        return self.registry.request_state_call(_request_id(entry))

    def _still_open(self, entry: J.JournalEntry, state: bytes | None = None) -> bool:
        """Whether the request is still open (``state``: its requestState, read already);
        if not, it is journaled as skipped with the reason."""
        if state is None:
            state = self.registry.request_state(_request_id(entry))
        if state == Request.from_json(entry.request).hash:
            return True
        reason = {ZERO32: "unknown request", REQUEST_CANCELLED: "cancelled",
                  REQUEST_REJECTED: "rejected"}.get(state, "recorded by another worker")
        self.journal.update(entry.request_id, J.SKIPPED, reason=reason)
        self.stats.skipped += 1
        return False

    def _simulate(self, item: Prepared) -> str | None:
        """Why the item's transaction would revert now (the custom error by name), or None
        if it would succeed (or dry runs are off)."""
        if not self.options.simulate:
            return None
        try:
            self.sender.simulate(item.call)
        except TransactionReverted as exc:
            return str(exc)
        return None

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

    def _prepare(self, entry: J.JournalEntry) -> Prepared:
        request = Request.from_json(entry.request)
        engine = self.engines[request.modelId]
        try:
            payload = open_request(self.enc_key, bytes.fromhex(entry.request["payload"][2:]))
        except AttestiaError as exc:
            raise Rejection(f"undecryptable payload: {exc}") from None
        except ValueError as exc:  # e.g. a sealed copy that is not hex
            raise Rejection(f"undecryptable payload: {exc}") from None
        if commit(payload.salt, payload.input_bytes) != request.inputCommitment:
            raise Rejection("input does not match its commitment")
        try:
            raw = engine.decode_input(payload.input_bytes)
        except AttestiaError as exc:
            raise Rejection(f"malformed input: {exc}") from None
        timestamp = max(int(time.time()), request.createdAt)
        deadline = request.createdAt + self._request_timeout()
        if timestamp > deadline:  # no record can be signed any more: refund at once
            raise Rejection(f"expired: a record had to be signed by {deadline} (createdAt + "
                            "requestTimeout)")
        kind = self._kind_for(request, engine)
        try:
            evaluation = engine.evaluate(raw)
        except ChainError:
            raise
        except Exception as exc:
            raise Rejection(f"model or attribution failed: {type(exc).__name__}: {exc}") from None
        zk_proof = self._prove(engine, request, raw) if kind == PROOF_ZK else None
        if zk_proof is not None:  # a ZK record's label is its instances' (what disputes use)
            evaluation = engine.for_zk_instances(evaluation, raw, zk_proof.instances)
        proof_hash = (zk_proof.proof_hash if zk_proof is not None else
                      self.tee.attestation_hash if kind == PROOF_TEE and self.tee else ZERO32)
        sealed = seal_result(payload.reply_key, evaluation.output_bytes)
        record = engine.record(
            evaluation, request_id=_request_id(entry),
            input_salt=payload.salt, worker=self.signer.address,
            timestamp=timestamp, proof_kind=kind,
            proof_hash=proof_hash,
            output_commitment=zk_proof.output_commitment if zk_proof else None,
            result_hash=result_hash(sealed),
        )
        shares, roster, reg = evaluation.shares, engine.roster, self.registry
        gas = (GAS_ZK if zk_proof is not None else fulfill_gas(len(shares))) \
            + ROSTER_GAS * len(roster)
        if self.signer.address == self.operator.address:
            if zk_proof is not None:
                call = reg.fulfill_zk(request, record, shares, roster, zk_proof.onchain(),
                                      sealed, gas=gas)
            else:
                call = reg.fulfill(request, record, shares, roster, sealed, gas=gas)
        else:  # an enclave key signs, the operator relays and pays the gas
            signature = sign_digest(
                self.signer, inference_digest(record, self.chain.chain_id, reg.address)
            )
            if zk_proof is not None:
                call = reg.fulfill_zk_by_sig(request, record, shares, roster, signature,
                                             zk_proof.onchain(), sealed, gas=gas)
            else:
                call = reg.fulfill_by_sig(request, record, shares, roster, signature, sealed,
                                          gas=gas)
        journal_record = {"inference": record.to_json(), "shares": [tuple(s) for s in shares],
                          "label": evaluation.label}
        return Prepared(entry, call, record=journal_record)

    def _request_timeout(self) -> int:
        if self._timeout is None:
            self._timeout = self.registry.request_timeout()
        return self._timeout

    def _kind_for(self, request: Request, engine: InferenceEngine) -> int:
        """The proof kind this worker makes for a request, judged by the policy the request
        was paid under: ZK when the model takes it, this worker can prove it and the request
        names its zkInputHash; else TEE (enclave-bound key) or SIGNED as the policy allows."""
        policy = request.policy
        if policy & policy_bit(PROOF_ZK) and request.zkInputHash != ZERO32 \
                and engine.zk is None:
            self._pick_up_zk(engine)
        if policy & policy_bit(PROOF_ZK) and engine.zk is not None \
                and request.zkInputHash != ZERO32:
            return PROOF_ZK
        if self.tee is not None and policy & policy_bit(PROOF_TEE):
            return PROOF_TEE
        if policy & policy_bit(PROOF_SIGNED):
            return PROOF_SIGNED
        if policy & policy_bit(PROOF_ZK):
            if engine.zk is None:
                raise Rejection("the model takes only zk records and this worker has no zk "
                                "artifacts for it")
            raise Rejection("the model takes only zk records and the request names no "
                            "zkInputHash")
        raise Rejection("the model takes only TEE records and this worker's key is not "
                        "enclave-bound")

    def _pick_up_zk(self, engine: InferenceEngine) -> None:
        """A zk request for a model this worker started without zk artifacts: if ``model
        zk-setup`` has made them since, serve zk from now on (no restart needed)."""
        from offchain.proofs.zk import ZkError

        try:
            found = engine.refresh_zk()
        except ZkError as exc:
            log.warning("model 0x%s: the package's zk artifacts are unusable (%s): making "
                        "signed/TEE records", engine.model_id.hex()[:8], exc)
            return
        if found:
            log.info("model 0x%s: zk artifacts found in %s (model zk-setup): making zk "
                     "proofs from now on", engine.model_id.hex()[:8], engine.package.path / "zk")

    def _prove(self, engine: InferenceEngine, request: Request, raw: Any) -> Any:
        """An EZKL proof for the request's input, bound to its zkInputHash (checked before
        proving: a request naming another input's hash is rejected without a proof)."""
        from offchain.proofs.zk import ZkError, prove, zk_input_hash

        x = engine.package.model_input(raw)
        try:
            expected = zk_input_hash(engine.zk, x)
        except ZkError as exc:
            raise Rejection(f"zk input hash failed: {exc}") from None
        if expected != request.zkInputHash:
            raise Rejection(f"zkInputHash 0x{request.zkInputHash.hex()} is not the Poseidon "
                            f"hash of the input (0x{expected.hex()})")
        try:
            proof = prove(engine.zk, x)
        except ZkError as exc:
            raise Rejection(f"zk proof failed: {exc}") from None
        if proof.onchain().input_hash != request.zkInputHash:
            raise Rejection("the proof's input instance differs from the request's zkInputHash")
        return proof

    def _reject(self, entry: J.JournalEntry, reason: str) -> Prepared | None:
        """A rejection on chain (refund) for a request naming this worker."""
        request = Request.from_json(entry.request)
        short = entry.request_id[:10]
        log.info("rejecting %s: %s", short, reason)
        item = Prepared(entry, self.registry.reject_request(request, reason[:MAX_REASON],
                                                       gas=GAS_REJECT), rejected=reason)
        error = self._simulate(item)
        if error is not None:
            self._failed(entry, f"not sent: {error}")
            return None
        return item

    # -- confirmation ---------------------------------------------------------------------------
    def _confirm(self, entries: list[J.JournalEntry]) -> None:
        # Outcomes are journaled in one transaction: after a crash inside it, recovery reads
        # the receipts again and reaches the same states.
        with self.journal.transaction():
            self._confirm_each(entries)

    def _confirm_each(self, entries: list[J.JournalEntry]) -> None:
        receipts = self.sender.wait_many([entry.signed_hash for entry in entries], timeout=120)
        for entry, receipt in zip(entries, receipts, strict=True):
            tx_hash = entry.signed_hash
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
                        entry.request["modelId"][:10],
                        proof_kind_name(int(rec.get("inference", {}).get("proofKind", 0))),
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
        state = self.registry.request_state(_request_id(entry))
        return state == Request.from_json(entry.request).hash


def _safe_url(url: str) -> str:
    """The RPC URL without path or query (API keys hide there)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def _request_id(entry: J.JournalEntry) -> bytes:
    return bytes.fromhex(entry.request_id[2:])
