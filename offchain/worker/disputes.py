"""A running worker answers challenges to its records by itself (design.md "Disputes").

Each round the worker looks for ``DisputeOpened`` events naming its key, and for every
dispute still OPEN before its deadline it builds the honest trace of the revealed query (the
event carries the quantised input and label; the worker needs nothing else), publishes it
under ``<data dir>/traces/`` and sends ``respond`` from its operator account. Missing the
response window loses the whole stake, so a failure is logged and retried next round; a
response is idempotent on chain (a second one reverts), so a restart simply re-checks.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from offchain.attribution.trace import AttributionModel
from offchain.dispute.game import respond
from offchain.errors import AttestiaError
from offchain.protocol import DisputeState
from offchain.registry import Attestia

log = logging.getLogger("attestia.worker")


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
        self._models: dict[bytes, AttributionModel] = {}

    def check(self) -> int:
        """Answer every open challenge seen since the last round; how many were answered."""
        latest = int(self.attestia.chain.w3.eth.block_number)
        if latest <= self.cursor:
            return 0
        opened = self.attestia.slasher.opened(self.cursor + 1, latest, worker=self.signer)
        self.cursor = latest
        pending = [e for e in opened if e.request_id not in self.answered]
        answered = 0
        for event in pending:
            if self._answer(event.request_id):
                answered += 1
        return answered

    def _model(self, model_id: bytes) -> AttributionModel | None:
        engine = self.engines.get(model_id)
        if engine is None:
            return None
        if model_id not in self._models:
            self._models[model_id] = AttributionModel.of_package(engine.package)
        return self._models[model_id]

    def _answer(self, request_id: bytes) -> bool:
        disputes = self.attestia.slasher
        dispute = disputes.dispute(request_id)
        rid = "0x" + request_id.hex()
        if dispute.state != DisputeState.OPEN:
            self.answered.add(request_id)
            return False
        model = self._model(dispute.modelId)
        if model is None:
            log.error("challenge to record %s of model 0x%s, which this worker does not serve "
                      "now: start it with that model's package before %d or lose the stake",
                      rid, dispute.modelId.hex(), dispute.deadline)
            return False
        try:
            respond(self.attestia, model, request_id, self.publish_dir, account=self.operator)
        except AttestiaError as exc:
            # Retried next round: the cursor moved on, so put the challenge back.
            log.error("answering the challenge to record %s failed: %s (retrying)", rid, exc)
            self.cursor = min(self.cursor, self._opened_block(request_id) - 1)
            return False
        self.answered.add(request_id)
        log.info("answered the challenge to record %s with its trace (published in %s)", rid,
                 self.publish_dir)
        return True

    def _opened_block(self, request_id: bytes) -> int:
        events = self.attestia.slasher.opened(request_id=request_id)
        return events[-1].meta.block if events else self.cursor
