"""The requester's side: check one's own records and challenge a wrong attribution by itself.

A home that paid for a request keeps its input, salt and reply key (``offchain.request.client``), so
it can recompute the record's integer attribution exactly and, if the worker recorded another
list, open a dispute, prove the lie in the worker's published trace, and resolve it when the
deadline passes. ``attestia watch`` runs :func:`watch_once` in a loop; one bad request is
reported and skipped, never fatal: whatever a worker sealed or recorded (a result that does
not open, an output that is not a tensor) is one line for that request, and the requests
after it, in the order they were paid, are still checked (a poisoned record must not shield
a later lie until its window closes). Off-chain requests this home submitted to a batching
worker are checked the same way once their batch is committed: the leaf is read from the
checked batch file, the output from the worker's results, and a wrong list is challenged with
the leaf's inclusion proof (``challengeLeaf``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
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
    DisputedLeaf,
    DisputeError,
    batch_leaf,
    challenge_closes_at,
    defend,
    find_fraud,
    leaf_challenge_closes_at,
    open_challenge,
    open_leaf_challenge,
    play_descent,
    resolve,
)
from offchain.errors import AttestiaError
from offchain.models.encoding import commit, decode_tensor
from offchain.protocol import PROOF_ZK, Dispute, DisputeState, Inference, Share
from offchain.registry import Attestia, InferenceRecorded
from offchain.request.client import LocalRequest
from offchain.request.submit import (
    COMMITTED,
    Submission,
    batched_output,
    batched_status,
    submissions,
)
from offchain.sealing import EncryptionKey, open_result, output_salt

log = logging.getLogger("attestia.watch")


@dataclass(frozen=True)
class Material:
    """What a challenge reveals: the input bytes, its salt, and the committed output;
    ``label`` is the query label the output states, None when the output is not a tensor of
    logits at all (its answer is then wrong on its face: an output dispute slashes it at the
    challenge, and its attribution has no label to be checked against)."""

    input_bytes: bytes
    salt: bytes
    output: bytes
    label: int | None


NOT_A_TENSOR = ("its output is not a tensor of logits: there is no label to check its "
                "attribution against (its answer is wrong on its face: dispute open --output)")


def _stated_label(output: bytes) -> int | None:
    try:
        return label_of_output(decode_tensor(output)[0])
    except AttestiaError:  # not a canonical tensor, or not one row of finite logits
        return None


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
    return Material(local.input_bytes, local.salt, output, _stated_label(output))


def leaf_material(sub: Submission, leaf: Inference) -> Material:
    """The challenge material of a batch leaf this home submitted off chain: its input and
    salt as kept, the output the worker delivered (its results document), checked against
    the leaf's output commitment before anything is revealed."""
    output = batched_output(sub)
    if output is None:
        raise DisputeError(f"the worker delivered no output for off-chain request "
                           f"0x{sub.request_id.hex()}: it cannot be revealed")
    if commit(output_salt(sub.salt), output) != leaf.outputCommitment:
        raise DisputeError(f"the output delivered for off-chain request "
                           f"0x{sub.request_id.hex()} is not the one its batch leaf commits "
                           "to: it cannot be revealed")
    if commit(sub.salt, sub.input_bytes) != leaf.inputCommitment:
        raise DisputeError(f"batch leaf of 0x{sub.request_id.hex()} commits to another input "
                           "than the one this home sent")
    return Material(sub.input_bytes, sub.salt, output, _stated_label(output))


def submitted_leaf(attestia: Attestia, sub: Submission) -> DisputedLeaf | None:
    """The committed batch leaf of an off-chain request (None while it is not committed)."""
    status = batched_status(attestia, sub)
    if status.state != COMMITTED or status.batch_id is None or status.leaf is None:
        return None
    return batch_leaf(attestia, status.batch_id, status.leaf)


def honest_shares(model: AttributionModel, package: Any, found: Material) -> list[Share]:
    """The attribution list the record should carry (the integer KNN-Shapley)."""
    if found.label is None:
        raise DisputeError(NOT_A_TENSOR)
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
    output_challenged: list[str] = field(default_factory=list)
    output_proved: list[str] = field(default_factory=list)
    output_resolved: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "correct": self.correct,
                "challenged": self.challenged, "proved": self.proved,
                "resolved": self.resolved, "descent": self.descent,
                "defended": self.defended,
                "outputChallenged": self.output_challenged,
                "outputProved": self.output_proved, "outputResolved": self.output_resolved,
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
    registered = attestia.registry.model(model_id)
    # Answers are checked (output disputes) when the package is the registered model's.
    answers = registered is not None and registered.contentHash == package.content_hash
    for local in local_requests(data_dir):
        if local.model_id != model_id:
            continue
        _guarded("0x" + local.request_id.hex(), report, note, partial(
            _both, answers, partial(_watch_one, attestia, package, model, local, now, account,
                                    report, note),
            partial(_watch_answer, attestia, package, local, None, now, account, report,
                    note)))
    for sub in submissions(data_dir):  # off-chain requests: their batch leaves
        if sub.model_id != model_id:
            continue
        _guarded("0x" + sub.request_id.hex(), report, note, partial(
            _both, answers, partial(_watch_leaf, attestia, package, model, sub, now, account,
                                    report, note),
            partial(_watch_answer, attestia, package, None, sub, now, account, report,
                    note)))
    return report


def _both(answers: bool, attribution: Callable[[], None], answer: Callable[[], None]) -> None:
    """One request's checks, under one guard (a request that cannot be read is one line):
    its attribution, then (when the package is the registered model's) its answer."""
    attribution()
    if answers:
        answer()


def _watch_answer(attestia: Attestia, package: Any, local: LocalRequest | None,
                  sub: Submission | None, now: int, account: Any, report: WatchReport,
                  note: Callable[[str], None]) -> None:
    """The record's ANSWER (issue 18): re-executed in integers; a wrong one is challenged
    (an output dispute), a responded output dispute proven at its first wrong neuron, one
    past its deadline resolved."""
    from offchain.dispute.output import (
        find_wrong_neuron,
        honest_output,
        open_output_challenge,
        open_output_leaf_challenge,
    )
    from offchain.dispute.output import resolve_output as resolve_out
    from offchain.protocol import output_dispute_id

    leaf = None
    if sub is not None:
        leaf = submitted_leaf(attestia, sub)
        if leaf is None:
            return
        inference, record_id, name = leaf.inference, leaf.dispute_id, leaf.ref
        closes = leaf_challenge_closes_at(attestia, leaf)
    else:
        assert local is not None
        records = attestia.registry.recorded(from_block=local.block,
                                             request_id=local.request_id)
        if not records:
            return
        inference, record_id = records[-1].inference, local.request_id
        name = "0x" + record_id.hex()
        closes = challenge_closes_at(attestia, inference)
    if inference.proofKind == PROOF_ZK:
        return  # its proof binds the output
    dispute_id = output_dispute_id(record_id)
    dispute = attestia.slasher.output_dispute(dispute_id)
    if dispute.state == DisputeState.NONE:
        found = (leaf_material(sub, inference) if sub is not None
                 else material(attestia, local, records[-1]))  # type: ignore[arg-type]
        if honest_output(package, found.input_bytes, found.output):
            return
        if now > closes:
            note(f"{name}: WRONG answer, but its challenge window closed at {closes}")
            report.skipped.append((name, "wrong answer, window closed"))
            return
        spec, model_spec = package.attribution_spec(), package.model_spec()
        if leaf is not None:
            open_output_leaf_challenge(attestia, leaf, found.input_bytes, found.salt,
                                       found.output, spec, model_spec, account=account)
        else:
            open_output_challenge(attestia, inference, found.input_bytes, found.salt,
                                  found.output, spec, model_spec, account=account)
        report.output_challenged.append(name)
        note(f"{name}: WRONG answer: output challenged (its input is now public)")
        return
    if dispute.state == DisputeState.RESPONDED and now <= dispute.deadline:
        proof = find_wrong_neuron(attestia, package.network, dispute_id)
        if proof is not None:
            attestia.send(proof.call, account=account)
            report.output_proved.append(name)
            note(f"{name}: proved neuron {proof.neuron} of layer {proof.layer} wrong")
        return
    if dispute.state in (DisputeState.OPEN, DisputeState.RESPONDED) and now > dispute.deadline:
        resolve_out(attestia, dispute_id, account=account)
        report.output_resolved.append(name)
        note(f"{name}: output dispute resolved after its deadline")


def _not_a_tensor(name: str, report: WatchReport, note: Callable[[str], None]) -> None:
    """A record whose output is not a tensor: its attribution is not checked (one line); its
    answer is, next (``_both``), when the package is the registered model's."""
    report.skipped.append((name, NOT_A_TENSOR))
    note(f"{name}: skipped: {NOT_A_TENSOR}")


def _guarded(rid: str, report: WatchReport, note: Callable[[str], None],
             check: Callable[[], None]) -> None:
    """One request checked; whatever it raises is one line, and the watch goes on."""
    try:
        check()
    except AttestiaError as exc:  # one bad request never stops the watch
        report.skipped.append((rid, str(exc)))
        note(f"{rid}: skipped: {exc}")
    except Exception as exc:  # noqa: BLE001 - bytes nobody foresaw: this request only
        why = f"cannot check it: {type(exc).__name__}: {exc}"
        report.skipped.append((rid, why))
        note(f"{rid}: skipped: {why}")


def _watch_leaf(attestia: Attestia, package: Any, model: AttributionModel, sub: Submission,
                now: int, account: Any, report: WatchReport,
                note: Callable[[str], None]) -> None:
    leaf = submitted_leaf(attestia, sub)
    if leaf is None:
        return
    dispute = attestia.slasher.dispute(leaf.dispute_id)
    if dispute.state != DisputeState.NONE:
        _follow(attestia, model, leaf.dispute_id, leaf.ref, dispute, now, account, report, note)
        return
    found = leaf_material(sub, leaf.inference)
    if found.label is None:
        _not_a_tensor(leaf.ref, report, note)
        return
    report.checked += 1
    if tuple(honest_shares(model, package, found)) == tuple(leaf.leaf.shares):
        report.correct += 1
        return
    closes = leaf_challenge_closes_at(attestia, leaf)
    if now > closes:
        note(f"{leaf.ref}: WRONG attribution, but its challenge window closed at {closes}")
        report.skipped.append((leaf.ref, "wrong attribution, window closed"))
        return
    open_leaf_challenge(attestia, leaf, found.input_bytes, found.salt, found.output,
                        model.spec, account=account)
    report.challenged.append(leaf.ref)
    note(f"{leaf.ref}: WRONG attribution: challenged (its input is now public)")


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
        found = material(attestia, local, record)
        if found.label is None:
            _not_a_tensor(rid_hex, report, note)
            return
        report.checked += 1
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
    _follow(attestia, model, local.request_id, rid_hex, dispute, now, account, report, note)


def _follow(attestia: Attestia, model: AttributionModel, dispute_id: bytes, name: str,
            dispute: Dispute, now: int, account: Any, report: WatchReport,
            note: Callable[[str], None]) -> None:
    """A dispute under way: prove the lie in its response, or resolve it past its deadline."""
    if dispute.state == DisputeState.RESPONDED and now <= dispute.deadline:
        try:
            proof = find_fraud(attestia, model, dispute_id)
        except DisputeError as exc:
            # The trace cannot be read (withheld, or not the committed one): descend into the
            # committed tree instead, one move per pass (design.md "The descent").
            did = play_descent(attestia, model, dispute_id, account=account)
            if did == "waiting":
                return
            report.descent.append({"requestId": name, "move": did})
            note(f"{name}: the worker's trace cannot be read ({exc}); descent: {did}")
            if did == "proved":
                report.proved.append(name)
            return
        if proof is not None:
            attestia.send(proof.call, account=account)
            report.proved.append(name)
            note(f"{name}: proved {proof.fraud.kind.name.lower()} fraud: {proof.fraud.reason}")
        return
    if dispute.state in (DisputeState.OPEN, DisputeState.RESPONDED) and now > dispute.deadline:
        me = attestia.sender(account).address
        mine = attestia.slasher.descent(dispute_id, me)
        if mine.open:  # a descent of ours still counts against resolve: settle it first
            attestia.send(attestia.slasher.settle_descent(dispute_id, me),
                          account=account)
        resolve(attestia, dispute_id, account=account)
        report.resolved.append(name)
        note(f"{name}: dispute resolved after its deadline")


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
    _defend_outputs(attestia, package, model_id, account, note, report)
    return report


def _defend_outputs(attestia: Attestia, package: Any, model_id: bytes, account: Any,
                    note: Callable[[str], None], report: WatchReport) -> None:
    """``watch --defend`` for output disputes: respond for an honest answer whose worker has
    not by half its window (:func:`offchain.dispute.output.defend_output`)."""
    from offchain.dispute.output import defend_output

    registered = attestia.registry.model(model_id)
    if registered is None or registered.contentHash != package.content_hash:
        return
    seen: set[bytes] = set()
    for opened in attestia.slasher.outputs_opened():
        did = opened.dispute_id
        if did in seen:
            continue
        seen.add(did)
        name = "0x" + opened.record_id.hex()
        try:
            if attestia.slasher.output_dispute(did).modelId != model_id:
                continue
            move = defend_output(attestia, package.network, did, account=account)
        except Exception as exc:  # noqa: BLE001 - one dispute never stops the defence
            why = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            report.skipped.append((name, f"cannot defend its answer: {why}"))
            note(f"{name}: cannot defend its answer: {why}")
            continue
        if move == "responded":
            report.defended.append({"requestId": name, "move": "responded (answer)"})
            note(f"{name}: defended the honest answer: responded")
