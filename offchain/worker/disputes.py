"""A running worker answers challenges to its records by itself (design.md "Disputes"), and
the reveals of every descent into a trace it posted (design.md "The descent"); and output
challenges (design.md "The output dispute") with the hidden activations of the revealed input.

Each round the worker looks for ``DisputeOpened`` events naming its key, and for every
dispute still OPEN before its deadline it builds the honest trace of the revealed query (the
event carries the quantised input and label; the worker needs nothing else), publishes it
under ``<data dir>/traces/`` and sends ``respond`` from its operator account. Missing the
response window loses the whole stake, so a failure is retried every ``RETRY_SECONDS`` until
the deadline; a response is idempotent on chain (a second one reverts), so a restart simply
re-checks. One challenge that cannot be answered (whatever the reason: a query the model
cannot trace, a file that cannot be written, a reverted call) is one log line and is retried
on its own: the challenges after it are answered as usual.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from offchain.attribution.trace import AttributionModel, Trace
from offchain.dispute.game import answer_reveals, respond
from offchain.dispute.output import respond_output
from offchain.protocol import ZERO_ADDRESS, DisputeState
from offchain.registry import Attestia

log = logging.getLogger("attestia.worker")
RETRY_SECONDS = 10.0
"""Between two tries at a challenge not answered yet (each try rebuilds its trace)."""
_ANSWERED, _DONE, _LATER = "answered", "done", "later"
_NOT_SERVED = "model not served"


class DisputeResponder:
    """Answers open challenges to one worker key's records, once per round."""

    def __init__(self, attestia: Attestia, *, signer: str, operator: Any,
                 engines: dict[bytes, Any], publish_dir: Path, start_block: int) -> None:
        self.attestia = attestia
        self.signer = signer
        self.operator = operator
        self.engines = engines
        self.publish_dir = publish_dir
        self.cursor = start_block - 1
        self.answered: set[bytes] = set()
        self._due: dict[bytes, float] = {}  # challenge not answered yet -> next try (monotonic)
        self._failed: dict[bytes, str] = {}  # last failure logged per challenge
        self._models: dict[bytes, AttributionModel] = {}
        self._traces: dict[bytes, Trace] = {}  # answered challenge -> the trace posted
        self._outputs: set[bytes] = set()  # keys of _due that are output dispute ids

    def check(self) -> int:
        """Answer every open challenge seen since the last round, and retry the ones whose
        next try is due; how many were answered."""
        latest = int(self.attestia.chain.w3.eth.block_number)
        if latest > self.cursor:
            opened = self.attestia.slasher.opened(self.cursor + 1, latest, worker=self.signer)
            outputs = self.attestia.slasher.outputs_opened(self.cursor + 1, latest,
                                                           worker=self.signer)
            self.cursor = latest
            now = time.monotonic()
            for event in opened:
                if event.request_id not in self.answered:
                    self._due.setdefault(event.request_id, now)
            for output in outputs:
                if output.dispute_id not in self.answered:
                    self._outputs.add(output.dispute_id)
                    self._due.setdefault(output.dispute_id, now)
        now = time.monotonic()
        answered = 0
        for request_id in [r for r, at in self._due.items() if at <= now]:
            answer = self._answer_output if request_id in self._outputs else self._answer
            if self._try(request_id, answer):
                answered += 1
        for request_id in list(self._traces):
            self._reveal(request_id)
        return answered

    def _reveal(self, request_id: bytes) -> None:
        """Answer the descents into a trace this worker posted (design.md "The descent");
        forgotten once the dispute is over. A failure is one line and retried next round."""
        try:
            if self.attestia.slasher.dispute(request_id).state != DisputeState.RESPONDED:
                del self._traces[request_id]
                return
            sent = answer_reveals(self.attestia, request_id, self._traces[request_id],
                                  account=self.operator)
        except Exception as exc:  # noqa: BLE001 - one dispute never stops the others
            why = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            if self._failed.get(request_id) != why:  # the same failure again: said already
                log.error("revealing the trace of record 0x%s failed: %s (retrying every "
                          "round)", request_id.hex(), why)
            self._failed[request_id] = why
            return
        self._failed.pop(request_id, None)
        if sent:
            log.info("revealed %d node set(s) of the trace of record 0x%s", sent,
                     request_id.hex())

    def _try(self, request_id: bytes, answer: Any) -> bool:
        """One try at one challenge (True if it was answered now); its failure is its own:
        one line, retried later."""
        try:
            outcome = answer(request_id)
        except Exception as exc:  # noqa: BLE001 - one challenge never stops the others
            why = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            if self._failed.get(request_id) != why:  # the same failure again: said already
                log.error("answering the challenge to record 0x%s failed: %s (retrying every "
                          "%.0f s until its deadline)", request_id.hex(), why, RETRY_SECONDS)
            self._failed[request_id] = why
            outcome = _LATER
        if outcome == _LATER:
            self._due[request_id] = time.monotonic() + RETRY_SECONDS
            return False
        self._due.pop(request_id, None)
        self._failed.pop(request_id, None)
        self.answered.add(request_id)
        return outcome == _ANSWERED

    def _model(self, model_id: bytes) -> AttributionModel | None:
        engine = self.engines.get(model_id)
        if engine is None:
            return None
        if model_id not in self._models:
            self._models[model_id] = AttributionModel.of_package(engine.package)
        return self._models[model_id]

    def _needs_no_answer(self, dispute: Any, what: str) -> str | None:
        """``_LATER`` or ``_DONE`` when ``dispute`` (an attribution or output dispute) wants no
        answer now: defended by a third party (answered if that defence is disproven), no
        longer open, or past its deadline (one error line); None when it is to be answered."""
        if dispute.state == DisputeState.RESPONDED and dispute.round == 0 \
                and dispute.defender != ZERO_ADDRESS:
            return _LATER
        if dispute.state != DisputeState.OPEN:
            return _DONE
        now = int(self.attestia.chain.w3.eth.get_block("latest")["timestamp"])
        if now > dispute.deadline:
            log.error("%s was not answered by its deadline %d: it can no longer be answered",
                      what, dispute.deadline)
            return _DONE
        return None

    def _answer(self, request_id: bytes) -> str:
        """Answer the challenge to ``request_id``: ``_ANSWERED`` now, ``_DONE`` when there is
        nothing left to do (no longer open, or past its deadline), ``_LATER`` to try again;
        raises on failure."""
        dispute = self.attestia.slasher.dispute(request_id)
        rid = "0x" + request_id.hex()
        skip = self._needs_no_answer(dispute, f"the challenge to record {rid}")
        if skip is not None:
            return skip
        model = self._model(dispute.modelId)
        if model is None:
            if self._failed.get(request_id) != _NOT_SERVED:
                log.error("challenge to record %s of model 0x%s, which this worker does not "
                          "serve now: start it with that model's package before %d or lose "
                          "the stake", rid, dispute.modelId.hex(), dispute.deadline)
            self._failed[request_id] = _NOT_SERVED
            return _LATER
        opened = self.attestia.slasher.opened(request_id=request_id)[-1]
        trace = model.trace(opened.query, opened.label)
        respond(self.attestia, model, request_id, self.publish_dir, account=self.operator,
                trace=trace)
        self._traces[request_id] = trace
        log.info("answered the challenge to record %s with its trace (published in %s)", rid,
                 self.publish_dir)
        return _ANSWERED

    def _answer_output(self, dispute_id: bytes) -> str:
        """Answer an output challenge with the honest hidden layers of its revealed input (the
        OutputDisputeOpened event carries the quantised input); as :meth:`_answer`."""
        dispute = self.attestia.slasher.output_dispute(dispute_id)
        did = "0x" + dispute_id.hex()
        skip = self._needs_no_answer(dispute, f"the output challenge {did}")
        if skip is not None:
            return skip
        engine = self.engines.get(dispute.modelId)
        if engine is None:
            if self._failed.get(dispute_id) != _NOT_SERVED:
                log.error("output challenge %s to a record of model 0x%s, which this worker "
                          "does not serve now: start it with that model's package before %d "
                          "or lose the stake", did, dispute.modelId.hex(), dispute.deadline)
            self._failed[dispute_id] = _NOT_SERVED
            return _LATER
        respond_output(self.attestia, engine.package.network, dispute_id, account=self.operator)
        log.info("answered the output challenge %s (record 0x%s) with its hidden activations",
                 did, dispute.recordId.hex())
        return _ANSWERED
