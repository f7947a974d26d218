"""The checklist: one pure function per line, each returning a CheckResult.

Inputs are the evidence read from the chain (``evidence.py``), the revealed input, the model
package's recomputation (``Evaluation``, re-proved ZK instances) and, for the two questions
only the chain can answer about given data, a ``ChainOracle``. Nothing here trusts the
worker: every value is either read from the chain or recomputed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from eth_keys import keys
from eth_utils import keccak, to_checksum_address

from offchain.attribution.errors import InvalidSharesError
from offchain.chain.eip712 import recover_signer
from offchain.config import ANVIL_CHAIN_ID
from offchain.merkle import verify_proof
from offchain.models.encoding import commit
from offchain.models.package import ModelPackage, onnx_sha256
from offchain.proofs.tee import AttestationError, check_key_binding, verify_attestation
from offchain.proofs.tee.nitro import parse_nitro_document
from offchain.proofs.tee.pki import Roots
from offchain.proofs.tee.result import measurement_id
from offchain.proofs.zk import LOCAL_SRS_NOTICE, ZkArtifacts, output_binding
from offchain.protocol import (
    INFERENCE_ABI_TYPES,
    PROOF_KIND_NAMES,
    PROOF_TEE,
    PROOF_ZK,
    TIMESTAMP_WINDOW,
    Batch,
    DisputeState,
    FraudKind,
    attribution_hash,
    batch_digest,
    batch_id,
    check_shares,
    contributors_hash,
    data_uri_hash,
    inference_digest,
    leaf_dispute_id,
    leaf_hash,
    model_id,
    model_spec_hash,
    result_hash,
)
from offchain.record.compute import Evaluation
from offchain.sealing import output_salt
from offchain.verify.evidence import ChainOracle, Evidence
from offchain.verify.result import CheckResult, failed, passed, skipped, utc

CHECKS = ("record", "model", "worker", "signature", "inclusion", "attribution", "package",
          "input", "output", "attribution-recompute", "zk", "tee", "dispute")
# How much later than the binding an attestation document may claim to be made (the chain
# accepts record timestamps within the same window).
ATTESTATION_SKEW = TIMESTAMP_WINDOW


@dataclass(frozen=True)
class Revealed:
    """The input a requester reveals: canonical bytes and the commitment salt."""

    input_bytes: bytes
    salt: bytes
    source: str


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _short(value: bytes) -> str:
    return _hex(value)[:12] + "…"


def _later(revoked_at: int, recorded_at: int, what: str) -> str | None:
    """None if never revoked; a note if revoked after the record; raises nothing."""
    if not revoked_at:
        return None
    return f"{what} revoked later, at {utc(revoked_at)} (after this record of {utc(recorded_at)})"


def check_record(ev: Evidence) -> CheckResult:
    """The record exists on chain, and the record shown is the one the chain holds."""
    name = "record"
    if not ev.found or ev.inference is None:
        return failed(name, ev.missing_reason or "record not found")
    inf = ev.inference
    if ev.batch is None:
        digest = inference_digest(inf, ev.chain_id, ev.registry)
        if ev.ref.request_id is not None and inf.requestId != ev.ref.request_id:
            return failed(name, f"the record names request {_hex(inf.requestId)}, not "
                          f"{ev.ref.label}")
        if ev.request_slot != digest or ev.event_digest != digest:
            return failed(name, f"the request slot holds {_hex(ev.request_slot or b'')}, not "
                          f"this record's EIP-712 digest {_hex(digest)}: the record shown is "
                          "not the one recorded")
        if ev.sealed_result is None:
            return failed(name, f"cannot read the sealed result from tx {ev.tx_hash}"
                          + (f": {ev.sealed_result_error}" if ev.sealed_result_error else ""))
        sealed = result_hash(ev.sealed_result)
        if sealed != inf.resultHash:
            return failed(name, f"the sealed result in tx {ev.tx_hash} hashes to {_hex(sealed)}, "
                          f"the record's resultHash is {_hex(inf.resultHash)}: the answer "
                          "delivered is not the one the worker signed")
        return passed(name, f"recorded at {utc(ev.recorded_at)} in tx {ev.tx_hash}; the "
                      f"request slot holds its EIP-712 digest {_short(digest)}; the "
                      f"transaction's sealed result ({len(ev.sealed_result)} bytes) hashes to "
                      "its resultHash")
    batch = ev.batch
    if not batch.committed_at:
        return failed(name, f"batch {_hex(batch.batch_id)} is not committed (batchInfo is empty)")
    if batch.tree_root != batch.root or batch.tree_size != batch.count:
        return failed(name, f"the published tree (root {_hex(batch.tree_root or b'')}, "
                      f"{batch.tree_size} leaves) is not the committed one (root "
                      f"{_hex(batch.root)}, {batch.count} leaves)")
    if batch_id(batch.root, inf.modelId, inf.worker) != batch.batch_id:
        return failed(name, "the leaf's model and worker do not belong to this batch id")
    return passed(name, f"leaf of batch {_short(batch.batch_id)} ({batch.count} leaves) "
                  f"committed at {utc(ev.recorded_at)} in tx {ev.tx_hash}; published at "
                  f"{batch.data_uri}, whose bytes hash to the committed dataHash "
                  f"{_short(batch.data_hash)}")


def check_model(ev: Evidence, package: ModelPackage | None = None) -> CheckResult:
    """The model is registered, its id is ``modelIdOf(owner, contentHash)``, it was not
    revoked before the record, and (given the package) its content hash is the package's
    ``ModelSpec`` hash over sha-256 of its model.onnx and its integer network's weights
    root."""
    name = "model"
    if ev.inference is None:
        return skipped(name, "no record")
    model = ev.model
    mid = _hex(ev.inference.modelId)
    if model is None:
        return failed(name, f"model {mid} is not registered")
    expected = model_id(model.owner, model.contentHash)
    if expected != ev.inference.modelId:
        return failed(name, f"model {mid} is not modelIdOf(owner {model.owner}, contentHash "
                      f"{_hex(model.contentHash)}) = {_hex(expected)}")
    if model.registeredAt > ev.recorded_at:
        return failed(name, f"model {mid} was registered at {utc(model.registeredAt)}, "
                      "after the record")
    if model.revokedAt and model.revokedAt < ev.recorded_at:
        return failed(name, f"model {mid} was revoked at {utc(model.revokedAt)}, before "
                      f"this record ({utc(ev.recorded_at)})")
    file_note = "no package given to hash"
    if package is not None:
        spec = replace(package.model_spec(), onnxSha256=onnx_sha256(package.onnx_path))
        actual = model_spec_hash(spec)
        if actual != model.contentHash:
            return failed(name, f"the ModelSpec of {package.path} (sha-256 of model.onnx, "
                          f"weights root {_short(spec.weightsRoot)}) hashes to {_hex(actual)}, "
                          f"the model's registered contentHash is {_hex(model.contentHash)}")
        file_note = ("contentHash is the package's ModelSpec (model.onnx and the integer "
                     "network's weights root)")
    note = _later(model.revokedAt, ev.recorded_at, "model") or "not revoked"
    return passed(name, f"model {_short(ev.inference.modelId)} = modelIdOf(owner, contentHash) "
                  f"registered at {utc(model.registeredAt)} by {model.owner}; {file_note}; "
                  f"{note}")


def check_worker(ev: Evidence) -> CheckResult:
    name = "worker"
    if ev.inference is None:
        return skipped(name, "no record")
    w = ev.worker
    signer = ev.inference.worker
    if w is None or not w.exists:
        return failed(name, f"{signer} is not a registered worker key")
    role = "enclave key" if w.enclaveBoundAt else "worker key"
    when = utc(ev.recorded_at)
    if w.registeredAt > ev.recorded_at:
        return failed(name, f"{role} {signer} was registered at {utc(w.registeredAt)}, after "
                      f"the record ({when})")
    if w.revokedAt and w.revokedAt < ev.recorded_at:
        return failed(name, f"{role} {signer} was revoked at {utc(w.revokedAt)}, before the "
                      f"record ({when})")
    if w.unbondingAt and w.unbondingAt < ev.recorded_at:
        return failed(name, f"{role} {signer} was unbonding since {utc(w.unbondingAt)}, before "
                      f"the record ({when})")
    if ev.inference.proofKind == PROOF_TEE and not (
            w.enclaveBoundAt and w.enclaveBoundAt <= ev.recorded_at):
        return failed(name, f"a TEE record, but {signer} was not enclave-bound at {when}")
    notes = [n for n in (_later(w.revokedAt, ev.recorded_at, "worker"),
                         _later(w.unbondingAt, ev.recorded_at, "unbonding started; key"))
             if n]
    return passed(name, f"{role} {signer} (operator {w.operator}) registered at "
                  f"{utc(w.registeredAt)}, active at {when}"
                  + ("; " + "; ".join(notes) if notes else ""))


def check_signature(ev: Evidence) -> CheckResult:
    """The worker key authenticated the record: it sent the transaction, or signed it."""
    name = "signature"
    if ev.inference is None:
        return skipped(name, "no record")
    sub = ev.submission
    inf = ev.inference
    if sub is None or sub.error:
        return failed(name, f"cannot re-check who authenticated the record: "
                      f"{sub.error if sub else 'no transaction'}")
    if ev.batch is None:
        if sub.inference != inf:
            return failed(name, "the transaction's calldata carries a different record than "
                          "the one being verified")
        digest = inference_digest(inf, ev.chain_id, ev.registry)
        what = "record"
    else:
        b = ev.batch
        digest = batch_digest(Batch(b.root, b.count, inf.modelId, b.epoch,
                                    data_uri_hash(b.data_uri), b.data_hash, inf.worker,
                                    sub.value),
                              ev.chain_id, ev.registry)
        what = "batch"
    if sub.signature is None:
        if sub.sender == inf.worker:
            return passed(name, f"the worker key sent the {what} itself ({sub.method}: "
                          f"msg.sender == {inf.worker})")
        return failed(name, f"{sub.method} was sent by {sub.sender}, not by the worker key "
                      f"{inf.worker}")
    try:
        signer = recover_signer(digest, sub.signature)
    except Exception as exc:  # eth-account raises several types for malformed signatures
        return failed(name, f"the {what}'s EIP-712 signature is malformed ({exc})")
    if signer != inf.worker:
        return failed(name, f"the EIP-712 signature on the {what} recovers to {signer}, not "
                      f"to the worker {inf.worker}")
    return passed(name, f"EIP-712 {'Batch' if ev.batch else 'Inference'} signature "
                  f"({sub.method}, relayed by {sub.sender}) recovers to the worker {signer}")


def check_inclusion(ev: Evidence, oracle: ChainOracle) -> CheckResult:
    name = "inclusion"
    if ev.inference is None:
        return skipped(name, "no record")
    if ev.batch is None:
        return skipped(name, "a single record, not a batch leaf")
    b = ev.batch
    leaf = list(ev.inference.as_tuple())
    if not b.proof and b.count > 1:
        return failed(name, "the leaf is not in the published tree")
    if not verify_proof(b.root, INFERENCE_ABI_TYPES, leaf, list(b.proof)):
        return failed(name, f"the inclusion proof does not lead to the committed root "
                      f"{_hex(b.root)}")
    if not oracle.verify_inclusion(b.batch_id, ev.inference, b.proof):
        return failed(name, "verifyInclusion(batchId, leaf, proof) is false on chain")
    return passed(name, f"proof of {len(b.proof)} hashes leads to root {_short(b.root)}; "
                  "verifyInclusion is true on chain")


def check_attribution(ev: Evidence, package: ModelPackage | None = None) -> CheckResult:
    """The list is valid, hashes to the record's attributionHash, and pays only accounts in
    the model's registered roster (and in the package's, when one is given)."""
    name = "attribution"
    if ev.inference is None:
        return skipped(name, "no record")
    try:
        shares = check_shares(ev.shares)
    except InvalidSharesError as exc:
        return failed(name, f"the attribution list is invalid: {exc}")
    actual = attribution_hash(shares)
    if actual != ev.inference.attributionHash:
        return failed(name, f"the attribution list hashes to {_hex(actual)}, not the record's "
                      f"attributionHash {_hex(ev.inference.attributionHash)}")
    if ev.roster is None or ev.model is None:
        return failed(name, "cannot read the model's registered contributor roster")
    try:
        registered = contributors_hash(ev.roster)
    except ValueError as exc:
        return failed(name, f"the registered roster is malformed: {exc}")
    if registered != ev.model.contributorsHash:
        return failed(name, f"the roster in ModelRegistered hashes to {_hex(registered)}, not "
                      f"the model's contributorsHash {_hex(ev.model.contributorsHash)}")
    rosters = [("the model's registered contributor roster", frozenset(ev.roster))]
    if package is not None:
        rosters.append((f"the package's roster ({package.path})", frozenset(package.roster)))
    for what, members in rosters:
        outsiders = [(account, bps) for account, bps in shares if account not in members]
        if outsiders:
            listed = ", ".join(f"{account} ({bps} bps)" for account, bps in outsiders)
            return failed(name, f"the list pays {listed}, not in {what}")
    checked = "registered and package rosters" if package is not None else "registered roster"
    return passed(name, f"{len(shares)} contributors, 10,000 bps, keccak256(abi.encode(shares))"
                  f" is the record's attributionHash; every account is in the model's {checked} "
                  f"({len(ev.roster)} contributors)")


def check_package(ev: Evidence, package: ModelPackage | None) -> CheckResult:
    name = "package"
    if ev.inference is None:
        return skipped(name, "no record")
    if package is None:
        return skipped(name, "no model package given (--package PATH)")
    if ev.model is None:
        return failed(name, "the record's model is not registered")
    if package.content_hash != ev.model.contentHash:
        return failed(name, f"the package is content {_hex(package.content_hash)}, the record's "
                      f"model {_hex(ev.inference.modelId)} was registered for "
                      f"{_hex(ev.model.contentHash)}")
    root = package.data_root()
    if root != ev.model.dataRoot:
        return failed(name, f"the package's data root (attribution spec hash) {_hex(root)} is "
                      f"not the registered dataRoot {_hex(ev.model.dataRoot)}")
    roster = contributors_hash(package.roster)
    if roster != ev.model.contributorsHash:
        return failed(name, f"the package's contributors hash to {_hex(roster)}, not the "
                      f"registered contributorsHash {_hex(ev.model.contributorsHash)}")
    return passed(name, f"the package's model.onnx is the registered content; data root "
                  f"{_short(root)} ({len(package.manifest.roster)} items) and its "
                  f"{len(package.roster)} contributors match the chain")


def check_input(ev: Evidence, revealed: Revealed | None) -> CheckResult:
    name = "input"
    if ev.inference is None:
        return skipped(name, "no record")
    if revealed is None:
        return skipped(name, "no revealed input: pass --input FILE --salt HEX, or run on the "
                       "requester's machine (its local record); a challenge reveals it on "
                       "chain")
    actual = commit(revealed.salt, revealed.input_bytes)
    if actual != ev.inference.inputCommitment:
        return failed(name, f"keccak256(salt || input) = {_hex(actual)}, the record commits to "
                      f"{_hex(ev.inference.inputCommitment)} ({revealed.source})")
    return passed(name, f"the revealed input ({revealed.source}) reproduces the input "
                  "commitment")


def _input_ok(ev: Evidence, revealed: Revealed | None) -> bool:
    return (revealed is not None and ev.inference is not None
            and commit(revealed.salt, revealed.input_bytes) == ev.inference.inputCommitment)


def check_output(ev: Evidence, revealed: Revealed | None, evaluation: Evaluation | None,
                 zk_instances: Sequence[int] | None = None, why_not: str = "") -> CheckResult:
    """Re-running the model reproduces the output commitment.

    SIGNED/TEE: re-executing the integer network (design.md "Integer inference") gives
    keccak256(output_salt(salt) || canonical logits): the same verdict on every CPU. ONNX
    Runtime's float label is reported beside it ("float check"), never decides it. ZK:
    re-running the circuit on the revealed input gives exactly the recorded public instances
    (Poseidon input hash, quantized logits), whose keccak256 is the output commitment.
    """
    name = "output"
    if ev.inference is None:
        return skipped(name, "no record")
    if evaluation is None:
        return skipped(name, why_not or "no revealed input and package to re-run")
    if not _input_ok(ev, revealed):
        return skipped(name, "the revealed input is not the committed one (see input)")
    inf = ev.inference
    logits = ", ".join(f"{v:.4f}" for v in evaluation.logits.reshape(-1))
    if inf.proofKind == PROOF_ZK:
        recorded = ev.submission.zk_instances if ev.submission else None
        if zk_instances is None:
            return skipped(name, why_not or "a ZK record, and the package has no zk artifacts")
        if recorded is None or tuple(zk_instances) != tuple(recorded):
            return failed(name, "re-running the circuit on the revealed input gives other "
                          "public instances than the recorded proof's")
        if output_binding(zk_instances) != inf.outputCommitment:
            return failed(name, "keccak256(instances) of the re-run is not the record's "
                          "output commitment")
        return passed(name, f"re-running the circuit reproduces the instances (input hash and "
                      f"quantized logits) and the output commitment; model logits {logits}")
    assert revealed is not None  # _input_ok
    actual = commit(output_salt(revealed.salt), evaluation.output_bytes)
    integer = ", ".join(str(int(v)) for v in np.asarray(evaluation.integer_logits).reshape(-1))
    if actual != inf.outputCommitment:
        return failed(name, f"re-executing the integer network gives label {evaluation.label} "
                      f"(integer logits {integer}) and output commitment {_hex(actual)}, the "
                      f"record has {_hex(inf.outputCommitment)}; {_float_check(evaluation)}")
    return passed(name, f"re-executing the integer network gives label {evaluation.label} "
                  f"(integer logits {integer}, units 2^-16) and reproduces the output "
                  f"commitment; {_float_check(evaluation)}")


def _float_check(evaluation: Evaluation) -> str:
    """ONNX Runtime's label beside the integer one (a cross-check: float bits vary by CPU)."""
    float_label = evaluation.float_label
    if float_label is None:
        return "float check: not run"
    if float_label == evaluation.label:
        return "float check: same label"
    return f"float check: ONNX Runtime says label {float_label} (a near tie)"


def check_attribution_recompute(ev: Evidence, revealed: Revealed | None,
                                evaluation: Evaluation | None, why_not: str = ""
                                ) -> CheckResult:
    name = "attribution-recompute"
    if ev.inference is None:
        return skipped(name, "no record")
    if evaluation is None:
        return skipped(name, why_not or "no revealed input and package to recompute from")
    if not _input_ok(ev, revealed):
        return skipped(name, "the revealed input is not the committed one (see input)")
    mine = [(to_checksum_address(a), int(b)) for a, b in evaluation.shares]
    theirs = [(to_checksum_address(a), int(b)) for a, b in ev.shares]
    if mine != theirs:
        diff = sorted(set(mine) ^ set(theirs))
        return failed(name, f"recomputing the integer KNN-Shapley (attestia-attribution/1) "
                      f"from the package gives another list; "
                      f"differing entries {diff[:4]}")
    return passed(name, f"integer KNN-Shapley over the package's roster gives exactly the "
                  f"recorded list ({len(mine)} entries)")


def check_zk(ev: Evidence, oracle: ChainOracle, artifacts: ZkArtifacts | None,
             package: ModelPackage | None = None) -> CheckResult:
    name = "zk"
    if ev.inference is None:
        return skipped(name, "no record")
    inf = ev.inference
    if inf.proofKind != PROOF_ZK:
        return skipped(name, f"not a zk record (proof kind "
                       f"{PROOF_KIND_NAMES.get(inf.proofKind, inf.proofKind)})")
    sub = ev.submission
    if sub is None or sub.zk_proof is None or sub.zk_instances is None:
        return failed(name, "the record's transaction carries no proof")
    proof, instances = sub.zk_proof, sub.zk_instances
    if keccak(proof) != inf.proofHash:
        return failed(name, f"keccak256(proof) is {_hex(keccak(proof))}, the record's proofHash "
                      f"is {_hex(inf.proofHash)}")
    if output_binding(instances) != inf.outputCommitment:
        return failed(name, "keccak256(abi.encodePacked(instances)) is not the record's output "
                      "commitment")
    model = ev.model
    if model is None or not model.has_verifier:
        return failed(name, "the model has no registered verifier")
    ok, said = oracle.verify_zk(model.verifier, proof, instances)
    if not ok:
        return failed(name, f"the model's verifier {model.verifier} rejects the proof ({said})")
    note = "the verifier's code was not compared with zk artifacts (no package zk/ given)"
    if artifacts is not None:
        # the circuit is per ONNX file; the registered content is the ModelSpec over it
        if (package is None or artifacts.content_hash != package.onnx_sha256
                or package.content_hash != model.contentHash):
            return failed(name, f"the package's zk artifacts are for model file "
                          f"{_hex(artifacts.content_hash)}, not the ONNX file of the registered "
                          f"content {_hex(model.contentHash)}")
        if oracle.runtime_of(artifacts.verifier_bytecode) != oracle.code_at(model.verifier):
            return failed(name, f"the registered verifier {model.verifier} is not the package's "
                          "circuit (its code differs from the zk artifacts' verifier)")
        note = "its code is the package's circuit"
        if artifacts.test_only_srs:
            if ev.chain_id != ANVIL_CHAIN_ID:
                return failed(name, f"the circuit was set up with a {LOCAL_SRS_NOTICE} on chain "
                              f"{ev.chain_id}: its maker can forge proofs")
            note += f"; {LOCAL_SRS_NOTICE}: FOR TESTING ONLY"
    return passed(name, f"the model's verifier {model.verifier} accepts the proof "
                  f"({len(instances)} public instances); {note}")


def check_tee(ev: Evidence, roots: Roots | None, roots_label: str = "") -> CheckResult:
    """The attestation behind an enclave-bound key verifies, binds the key, is allowlisted.

    The document is verified as of its own timestamp (when the enclave made it), which must
    not be later than the on-chain binding: certificates of an enclave leaf live hours, a
    record is checked for years.
    """
    name = "tee"
    if ev.inference is None:
        return skipped(name, "no record")
    inf, w = ev.inference, ev.worker
    if w is None or not w.exists or not w.enclaveBoundAt:
        if inf.proofKind == PROOF_TEE:
            return failed(name, f"a TEE record, but {inf.worker} is not enclave-bound")
        return skipped(name, "the worker key is not enclave-bound")
    if ev.attestation is None:
        return failed(name, ev.attestation_error or "the attestation document was not fetched")
    doc = ev.attestation
    doc_hash = hashlib.sha256(doc).digest()
    if doc_hash != w.attestationHash:
        return failed(name, f"sha256 of the document at {w.attestationURI} is {_hex(doc_hash)}, "
                      f"the registered attestation hash is {_hex(w.attestationHash)}")
    if inf.proofKind == PROOF_TEE and inf.proofHash != w.attestationHash:
        return failed(name, "the record's proofHash is not the registered attestation hash")
    if roots is None:
        return failed(name, "no trusted root: pass --tee-root PATH (the AWS Nitro root, or "
                      "for a simulated enclave its root.pem); the document is untrusted")
    try:
        made = parse_nitro_document(doc).timestamp
        result = verify_attestation("nitro", doc, roots=roots, now=made)
    except AttestationError as exc:
        return failed(name, f"the attestation document does not verify: {exc}")
    except ValueError as exc:
        return failed(name, f"the trusted root cannot be used: {exc}")
    if made > dt.datetime.fromtimestamp(w.enclaveBoundAt + ATTESTATION_SKEW, dt.UTC):
        return failed(name, f"the document claims to be made at {made:%Y-%m-%d %H:%M:%S} UTC, "
                      f"after the key was bound ({utc(w.enclaveBoundAt)})")
    pubkey = result.details.get("public_key")
    if not isinstance(pubkey, bytes) or len(pubkey) != 64:
        return failed(name, "the document carries no 64-byte enclave public key")
    address = keys.PublicKey(pubkey).to_checksum_address()
    if address != inf.worker:
        return failed(name, f"the attested key is {address}, not the worker {inf.worker}")
    try:
        check_key_binding(result, pubkey, ev.chain_id, ev.registry)
    except AttestationError as exc:
        return failed(name, str(exc))
    if measurement_id(result) != w.measurement:
        return failed(name, f"the document's measurement id {_hex(measurement_id(result))} is "
                      f"not the registered {_hex(w.measurement)}")
    m = ev.measurement
    if m is None or not m.allowedAt or m.allowedAt > w.enclaveBoundAt:
        return failed(name, f"measurement {_hex(w.measurement)} was not allowlisted when the key "
                      "was bound")
    if m.revokedAt and m.revokedAt < ev.recorded_at:
        return failed(name, f"measurement {_hex(w.measurement)} was revoked at "
                      f"{utc(m.revokedAt)}, before the record")
    note = _later(m.revokedAt, ev.recorded_at, "measurement") or "not revoked"
    prefix = ("SIMULATED enclave (root trusted only because you passed it"
              f"{' as ' + roots_label if roots_label else ''}; proves nothing about hardware): "
              if result.simulated else "")
    return passed(name, f"{prefix}Nitro document {_short(doc_hash)} verifies; it binds "
                  f"{address} to chain {ev.chain_id} and registry {ev.registry}; measurement "
                  f"{_short(w.measurement)} allowlisted at {utc(m.allowedAt)}, {note}")


def check_dispute(ev: Evidence, oracle: ChainOracle) -> CheckResult:
    """Where the record's (or batch leaf's) attribution dispute stands (design.md
    "Disputes"): FAIL only when its worker lost one (the recorded list is then not the one
    settlement pays)."""
    name = "dispute"
    if ev.inference is None:
        return skipped(name, "no record")
    if ev.batch is not None:  # a leaf: its dispute id, its window from the batch's commit
        record_id = leaf_dispute_id(ev.batch.batch_id, leaf_hash(ev.inference))
        state = oracle.dispute_state(record_id, ev.batch.committed_at)
    else:
        record_id = ev.inference.requestId
        state = oracle.dispute_state(record_id, ev.inference.timestamp)
    output = oracle.output_dispute(record_id)
    if output is not None and output.worker_lost:
        how = ("no response" if output.state == DisputeState.NO_RESPONSE
               else f"{output.kind.name.lower()} fraud proven")
        return failed(name, f"the worker lost an OUTPUT dispute ({how}): its answer is not the "
                      "integer network's, its stake was slashed, and this record's output and "
                      "attribution are void (its contributor share is paid by the equal split)")
    if output is not None and output.pending:
        return passed(name, f"its ANSWER is CHALLENGED by {output.challenger} (an output "
                      f"dispute, {output.state.name.lower()} until {utc(output.deadline)}): "
                      "settlement waits")
    if state is None:
        return skipped(name, "this deployment's Slasher has no attribution disputes")
    dispute, closes, now = state
    kind = DisputeState(dispute.state)
    when = utc(closes)
    if kind == DisputeState.NONE:
        if now <= closes:
            return passed(name, f"not challenged; anyone holding the input can challenge the "
                          f"attribution until {when}")
        return passed(name, f"not challenged; the challenge window closed at {when}: the "
                      "attribution is final")
    if kind == DisputeState.OPEN:
        return passed(name, f"CHALLENGED by {dispute.challenger}: the worker must answer with "
                      f"its trace by {utc(dispute.deadline)} (settlement waits)")
    if kind == DisputeState.RESPONDED:
        return passed(name, f"CHALLENGED and answered: fraud can be proven until "
                      f"{utc(dispute.deadline)} (settlement waits)")
    if kind == DisputeState.WORKER_WON:
        return passed(name, "challenged; no fraud was proven: the attribution stands")
    how = ("no response" if kind == DisputeState.NO_RESPONSE
           else f"{FraudKind(dispute.kind).name.lower()} fraud proven")
    return failed(name, f"the worker lost an attribution dispute ({how}): its stake was "
                  "slashed and this record's contributor share is paid by the equal split over "
                  "the roster, not by the recorded list")
