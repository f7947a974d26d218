"""The requester's side: check one's own records and challenge a wrong attribution by itself.

A home that paid for a request keeps its input, salt and reply key (``offchain.request.client``), so
it can recompute the record's integer attribution exactly and, if the worker recorded another
list, open a dispute, prove the lie in the worker's published trace, and resolve it when the
deadline passes. ``attestia watch`` runs :func:`watch_once` in a loop; one bad request is
reported and skipped, never fatal: whatever a worker sealed or recorded (a result that does
not open, an output that is not a tensor) is one line for that request, and the requests
after it, in the order they were paid, are still checked (a poisoned record must not shield
a later lie until its window closes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from offchain.attribution.integer import (
    label_of_instances,
    label_of_output,
    shares_from_int_totals,
)
from offchain.attribution.trace import AttributionModel
from offchain.dispute.game import (
    DisputeError,
    challenge_closes_at,
    defend,
    find_fraud,
    open_challenge,
    play_descent,
    resolve,
)
from offchain.errors import AttestiaError
from offchain.models.encoding import commit, decode_tensor
from offchain.protocol import PROOF_ZK, DisputeState, Share
from offchain.registry import Attestia, InferenceRecorded
from offchain.request.client import LocalRequest
from offchain.sealing import EncryptionKey, open_result, output_salt

log = logging.getLogger("attestia.watch")


@dataclass(frozen=True)
class Material:
    """What a challenge reveals: the input bytes, its salt, and the committed output."""

    input_bytes: bytes
    salt: bytes
    output: bytes
    label: int


def material(attestia: Attestia, local: LocalRequest, record: InferenceRecorded) -> Material:
    """The challenge material of a record this home requested."""
    inference = record.inference
    if inference.proofKind == PROOF_ZK:
        from offchain.verify.evidence import read_submission

        submission = read_submission(attestia, record.meta.tx_hash,
                                     ("fulfillZk", "fulfillZkBySig"))
        if submission.zk_instances is None:
            raise DisputeError(f"cannot read the ZK instances of record "
                               f"0x{record.request_id.hex()}: {submission.error}")
        instances = list(submission.zk_instances)
        output = b"".join(int(v).to_bytes(32, "big") for v in instances)
        return Material(local.input_bytes, local.salt, output, label_of_instances(instances))
    sealed = attestia.registry.sealed_result(record.meta.tx_hash)
    output = open_result(EncryptionKey(local.reply_secret), sealed)
    if commit(output_salt(local.salt), output) != inference.outputCommitment:
        raise DisputeError(f"the output sealed in record 0x{record.request_id.hex()} is not "
                           "the one its worker committed to: it cannot be revealed")
    label = label_of_output(decode_tensor(output)[0])
    return Material(local.input_bytes, local.salt, output, label)


def honest_shares(model: AttributionModel, package: Any, found: Material) -> list[Share]:
    """The attribution list the record should carry (the integer KNN-Shapley)."""
    raw = decode_tensor(found.input_bytes).astype(np.float32)
    query = package.quantise(raw)[0]
    trace = model.trace(query, found.label)
    return shares_from_int_totals(trace.totals, list(trace.roster))


@dataclass
class WatchReport:
    """What one pass did, per request id (hex)."""

    checked: int = 0
    correct: int = 0
    challenged: list[str] = field(default_factory=list)
    proved: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    descent: list[dict[str, str]] = field(default_factory=list)
    defended: list[dict[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "correct": self.correct,
                "challenged": self.challenged, "proved": self.proved,
                "resolved": self.resolved, "descent": self.descent,
                "defended": self.defended,
                "skipped": [{"requestId": r, "reason": why} for r, why in self.skipped]}


def local_requests(data_dir: Path) -> list[LocalRequest]:
    from offchain.request.client import load_local_request

    out = []
    for path in sorted((data_dir / "requests").glob("0x*.json")):
        try:
            found = load_local_request(data_dir, path.stem)
        except AttestiaError as exc:
            log.warning("skipping %s: %s", path.name, exc)
            continue
        if found is not None:
            out.append(found)
    out.sort(key=lambda found: (found.block, found.request_id))  # in the order they were paid
    return out


def watch_once(attestia: Attestia, package: Any, model_id: bytes, data_dir: Path, *,
               account: Any = None, note: Callable[[str], None] = log.info) -> WatchReport:
    """Check every record of ``model_id`` this home requested; challenge wrong attributions
    (revealing their inputs), prove the lies in responded disputes this home opened, resolve
    disputes past their deadline."""
    report = WatchReport()
    model = AttributionModel.of_package(package)
    now = int(attestia.chain.w3.eth.get_block("latest")["timestamp"])
    for local in local_requests(data_dir):
        if local.model_id != model_id:
            continue
        rid = "0x" + local.request_id.hex()
        try:
            _watch_one(attestia, package, model, local, now, account, report, note)
        except AttestiaError as exc:  # one bad request never stops the watch
            report.skipped.append((rid, str(exc)))
            note(f"{rid}: skipped: {exc}")
        except Exception as exc:  # noqa: BLE001 - bytes nobody foresaw: this request only
            why = f"cannot check it: {type(exc).__name__}: {exc}"
            report.skipped.append((rid, why))
            note(f"{rid}: skipped: {why}")
    return report


def _watch_one(attestia: Attestia, package: Any, model: AttributionModel,
               local: LocalRequest, now: int, account: Any,
               report: WatchReport, note: Callable[[str], None]) -> None:
    rid_hex = "0x" + local.request_id.hex()
    records = attestia.registry.recorded(from_block=local.block, request_id=local.request_id)
    if not records:
        return
    record = records[-1]
    dispute = attestia.slasher.dispute(local.request_id)
    if dispute.state == DisputeState.NONE:
        report.checked += 1
        found = material(attestia, local, record)
        if tuple(honest_shares(model, package, found)) == tuple(record.shares):
            report.correct += 1
            return
        closes = challenge_closes_at(attestia, record.inference)
        if now > closes:
            note(f"{rid_hex}: WRONG attribution, but its challenge window closed at {closes}")
            report.skipped.append((rid_hex, "wrong attribution, window closed"))
            return
        open_challenge(attestia, record.inference, found.input_bytes, found.salt,
                       found.output, model.spec, account=account)
        report.challenged.append(rid_hex)
        note(f"{rid_hex}: WRONG attribution: challenged (its input is now public)")
        return
    if dispute.state == DisputeState.RESPONDED and now <= dispute.deadline:
        try:
            proof = find_fraud(attestia, model, local.request_id)
        except DisputeError as exc:
            # The trace cannot be read (withheld, or not the committed one): descend into the
            # committed tree instead, one move per pass (design.md "The descent").
            did = play_descent(attestia, model, local.request_id, account=account)
            if did == "waiting":
                return
            report.descent.append({"requestId": rid_hex, "move": did})
            note(f"{rid_hex}: the worker's trace cannot be read ({exc}); descent: {did}")
            if did == "proved":
                report.proved.append(rid_hex)
            return
        if proof is not None:
            attestia.send(proof.call, account=account)
            report.proved.append(rid_hex)
            note(f"{rid_hex}: proved {proof.fraud.kind.name.lower()} fraud: {proof.fraud.reason}")
        return
    if dispute.state in (DisputeState.OPEN, DisputeState.RESPONDED) and now > dispute.deadline:
        me = attestia.sender(account).address
        mine = attestia.slasher.descent(local.request_id, me)
        if mine.open:  # a descent of ours still counts against resolve: settle it first
            attestia.send(attestia.slasher.settle_descent(local.request_id, me),
                          account=account)
        resolve(attestia, local.request_id, account=account)
        report.resolved.append(rid_hex)
        note(f"{rid_hex}: dispute resolved after its deadline")


def defend_once(attestia: Attestia, package: Any, model_id: bytes, publish_dir: Path, *,
                account: Any = None, note: Callable[[str], None] = log.info,
                report: WatchReport | None = None) -> WatchReport:
    """``watch --defend``: every pending dispute of ``model_id`` (anyone's record): respond
    for an honest record whose worker has not by half its window, and answer the reveals of
    responded honest roots (:func:`offchain.dispute.game.defend`). One dispute that cannot be
    handled is one line; the others go on."""
    report = report if report is not None else WatchReport()
    model = AttributionModel.of_package(package)
    slasher = attestia.slasher
    seen: set[bytes] = set()
    for opened in slasher.opened():
        rid = opened.request_id
        if rid in seen:
            continue
        seen.add(rid)
        rid_hex = "0x" + rid.hex()
        try:
            if slasher.dispute(rid).modelId != model_id:
                continue
            did = defend(attestia, model, rid, publish_dir, account=account)
        except Exception as exc:  # noqa: BLE001 - one dispute never stops the defence
            why = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            report.skipped.append((rid_hex, f"cannot defend it: {why}"))
            note(f"{rid_hex}: cannot defend it: {why}")
            continue
        if did in ("responded", "revealed"):
            report.defended.append({"requestId": rid_hex, "move": did})
            note(f"{rid_hex}: defended the honest record: {did}")
    return report
