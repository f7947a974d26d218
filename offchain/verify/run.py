"""``verify``: gather the evidence, recompute what can be recomputed, run every check."""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from offchain.errors import AttestiaError
from offchain.models import load_package
from offchain.models.encoding import commit, encode_tensor
from offchain.models.package import ModelPackage
from offchain.protocol import PROOF_ZK
from offchain.record.compute import Evaluation, InferenceEngine
from offchain.registry import Attestia
from offchain.request.client import load_local_request
from offchain.verify import checks as C
from offchain.verify.evidence import ChainOracle, Evidence, RecordRef, VerifyError, gather
from offchain.verify.result import Report

log = logging.getLogger("attestia.verify")


@dataclass(frozen=True)
class VerifyOptions:
    """What the verifier is given besides the chain.

    ``input_path`` + ``salt`` reveal the input (else the requester's local record under
    ``data_dir/requests`` is used if present); ``package_path`` is the public model package
    (else one under ``data_dir/models`` with the record's model id); ``tee_root`` is the
    PEM root the TEE attestation must chain to (never implied).
    """

    data_dir: Path | None = None
    local_roots: tuple[Path, ...] | None = None
    """A public service's home: ``file://`` URIs a record's parties name (batch file,
    attestation document) are read only under these. None: any (the verifier's machine)."""
    input_path: Path | None = None
    salt: bytes | None = None
    package_path: Path | None = None
    tee_root: Path | None = None


@dataclass(frozen=True)
class Recomputed:
    package: ModelPackage | None
    revealed: C.Revealed | None
    evaluation: Evaluation | None
    zk_instances: tuple[int, ...] | None
    artifacts: object | None
    why_not: str


def find_package(data_dir: Path | None, content_hash: bytes) -> ModelPackage | None:
    """This project's package with this content hash (see registrations.find_package)."""
    from offchain.models.registrations import find_package as find

    return find(data_dir, content_hash)


def reveal(ev: Evidence, options: VerifyOptions, package: ModelPackage | None
           ) -> C.Revealed | None:
    """The revealed input: --input/--salt, else the requester's local record, else the
    input a challenge published on chain (public from then on)."""
    if options.input_path is not None:
        if options.salt is None or len(options.salt) != 32:
            raise VerifyError("--input needs --salt HEX (the 32-byte commitment salt)")
        if package is None:
            raise VerifyError("--input needs the model package (--package PATH) to read the "
                              "feature names")
        try:
            payload = json.loads(options.input_path.read_text())
        except (OSError, ValueError) as exc:
            raise VerifyError(f"cannot read input {options.input_path}: {exc}") from None
        raw = package.parse_input(payload)
        return C.Revealed(encode_tensor(raw), options.salt, f"--input {options.input_path}")
    if ev.inference is None:
        return None
    local = (load_local_request(options.data_dir, "0x" + ev.inference.requestId.hex())
             if options.data_dir is not None else None)
    if local is not None:
        return C.Revealed(local.input_bytes, local.salt, "the requester's local record")
    if ev.challenge_reveal is not None:
        shown = ev.challenge_reveal
        return C.Revealed(shown.input_bytes, shown.salt,
                          f"the input the challenge in tx {shown.tx_hash} revealed on chain")
    return None


def recompute(ev: Evidence, options: VerifyOptions) -> Recomputed:
    """Load the package, reveal the input, re-run the model (and the circuit for ZK)."""
    inf = ev.inference
    if inf is None:
        return Recomputed(None, None, None, None, None, "no record")
    package: ModelPackage | None
    if options.package_path is not None:
        package = load_package(options.package_path)
    elif ev.model is not None:
        package = find_package(options.data_dir, ev.model.contentHash)
    else:
        package = None
    revealed = reveal(ev, options, package)
    if package is None or ev.model is None or package.content_hash != ev.model.contentHash:
        why = ("no model package given (--package PATH)" if package is None
               else "the package is another model (see package)")
        return Recomputed(package, revealed, None, None, None, why)
    engine = InferenceEngine(package, inf.modelId)
    artifacts, why = None, ""
    try:
        artifacts = engine.zk
    except AttestiaError as exc:
        why = f"the package's zk artifacts are unusable: {exc}"
    if revealed is None:
        return Recomputed(package, None, None, None, artifacts, "no revealed input")
    try:
        raw = engine.decode_input(revealed.input_bytes)
    except AttestiaError as exc:
        return Recomputed(package, revealed, None, None, artifacts,
                          f"the revealed input is not a valid input of this model: {exc}")
    try:  # the integer answer is the record's; ONNX Runtime's label is reported beside it
        evaluation = engine.evaluate(raw, cross_check=True)
    except AttestiaError:  # the float graph failed to run: the integer answer still stands
        evaluation = engine.evaluate(raw)
    recorded = ev.submission.zk_instances if ev.submission is not None else None
    if inf.proofKind == PROOF_ZK and recorded:  # its label is the instances' (design.md)
        # malformed instances keep the logits' label: the zk line fails the record anyway
        with contextlib.suppress(AttestiaError):
            evaluation = engine.for_zk_instances(evaluation, raw, recorded)
    instances = None
    if (inf.proofKind == PROOF_ZK and artifacts is not None
            and commit(revealed.salt, revealed.input_bytes) == inf.inputCommitment):
        from offchain.proofs.zk import ZkError, prove

        try:
            instances = prove(artifacts, package.model_input(raw)).instances
        except ZkError as exc:
            why = f"re-running the circuit on the revealed input failed: {exc}"
    return Recomputed(package, revealed, evaluation, instances, artifacts, why)


def run_checks(ev: Evidence, oracle: ChainOracle, r: Recomputed, tee_roots: bytes | None,
               roots_label: str = "") -> Report:
    """Every checklist line, in order (pure but for the oracle's two live questions)."""
    report = Report(ev.ref.label, ev.chain_id, ev.registry)
    report.checks = [
        C.check_record(ev),
        C.check_model(ev, r.package),
        C.check_worker(ev),
        C.check_signature(ev),
        C.check_inclusion(ev, oracle),
        C.check_attribution(ev, r.package),
        C.check_package(ev, r.package),
        C.check_input(ev, r.revealed),
        C.check_output(ev, r.revealed, r.evaluation, r.zk_instances, r.why_not),
        C.check_attribution_recompute(ev, r.revealed, r.evaluation, r.why_not),
        C.check_zk(ev, oracle, r.artifacts, r.package),  # type: ignore[arg-type]
        C.check_tee(ev, tee_roots, roots_label),
        C.check_dispute(ev, oracle),
    ]
    return report


def verify(attestia: Attestia, ref: RecordRef, options: VerifyOptions) -> Report:
    """Verify one record from an RPC connection, the public package and revealed data."""
    evidence = gather(attestia, ref, local_roots=options.local_roots)
    recomputed = recompute(evidence, options)
    roots = None
    if options.tee_root is not None:
        try:
            roots = options.tee_root.read_bytes()
        except OSError as exc:
            raise VerifyError(f"cannot read --tee-root {options.tee_root}: {exc}") from None
    return run_checks(evidence, ChainOracle(attestia), recomputed, roots,
                      str(options.tee_root) if options.tee_root else "")
