"""What a worker computes for one request, with no I/O: run, attribute, commit, describe.

The same code serves the worker (to make a record) and the verifier (to recompute one), so
a stranger re-running an inference gets the very bytes the worker committed to. It sits
below both (``offchain.worker`` and ``offchain.verify`` import it; it imports neither).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from offchain.attribution import label_of_instances
from offchain.models import ModelPackage
from offchain.models.encoding import commit, decode_tensor, encode_tensor
from offchain.models.package import ATTRIBUTION_K
from offchain.models.runtime import open_session, predicted_label
from offchain.protocol import PROOF_ZK, ZERO32, Inference, Share, attribution_hash
from offchain.sealing import output_salt

if TYPE_CHECKING:
    from offchain.attribution.trace import Trace

# The declared attribution policy (design.md "Integer attribution", attestia-attribution/1):
# integer KNN-Shapley with K = ATTRIBUTION_K (5) over the package's quantised roster, the
# query label = the label the committed output states (argmax of the logits; for a ZK record
# of its output instances); shares by largest remainder on exact integer totals, equal split
# over the model's roster if every clipped total is 0. Anyone recomputing gets the same list
# because every one of these choices is fixed here and in the package's AttributionSpec.
__all__ = ["ATTRIBUTION_K", "Evaluation", "InferenceEngine"]


@dataclass(frozen=True)
class Evaluation:
    """The model's answer to one input and the attribution that goes with it."""

    input_bytes: bytes
    logits: np.ndarray
    label: int
    output_bytes: bytes
    shares: tuple[Share, ...]

    @property
    def attribution_hash(self) -> bytes:
        return attribution_hash(self.shares)


class InferenceEngine:
    """A loaded model package serving one on-chain model, ready to evaluate inputs and to
    attribute them.

    ``model_id`` is the registration the records name (``keccak256(owner, contentHash)``:
    one package can be registered by several owners, so the package alone does not say it;
    ``offchain.models.registrations.resolve_model_id`` finds it).
    """

    def __init__(self, package: ModelPackage, model_id: bytes, k: int = ATTRIBUTION_K) -> None:
        if len(model_id) != 32:
            raise ValueError(f"a model id is 32 bytes, got {len(model_id)}")
        self.package = package
        self.model_id = bytes(model_id)
        self.session = open_session(package.onnx_path)
        self.knn = package.integer_index(k)
        """The prepared integer KNN-Shapley index (``IntegerKnnShapley``) over the roster."""
        self.contributors = package.integer_contributors()
        self.input_shape = (1, len(package.feature_names))
        self.roster = package.roster
        """The model's contributor roster, sorted: every single record passes it back."""
        self.found_by = "given"
        """How the worker found ``model_id`` for the package (registrations.ResolvedModel)."""

    @cached_property
    def zk(self) -> Any:  # the package's EZKL artifacts, if it was set up for zk
        from offchain.proofs.zk import load_artifacts

        directory = self.package.path / "zk"
        if not (directory / "zk.json").exists():
            return None
        artifacts = load_artifacts(directory)
        if artifacts.content_hash != self.package.content_hash:
            from offchain.proofs.zk import ZkArtifactsError

            raise ZkArtifactsError(f"{directory} was set up for another ONNX file "
                                   f"(0x{artifacts.content_hash.hex()[:12]}…): run the zk "
                                   "setup again")
        return artifacts

    def refresh_zk(self) -> bool:
        """Look for zk artifacts again (``model zk-setup`` ran while the worker was serving);
        True when the package has them now."""
        if self.zk is not None:
            return True
        if not (self.package.path / "zk" / "zk.json").exists():
            return False
        del self.__dict__["zk"]  # the cached None
        return self.zk is not None

    def decode_input(self, input_bytes: bytes) -> np.ndarray:
        """Canonical input bytes -> raw float32 features; raises EncodingError if malformed."""
        return decode_tensor(input_bytes, shape=self.input_shape)

    def evaluate(self, raw: np.ndarray) -> Evaluation:
        logits = self.session.run(self.package.model_input(raw))
        label = predicted_label(logits)
        return Evaluation(
            input_bytes=encode_tensor(raw),
            logits=logits,
            label=label,
            output_bytes=encode_tensor(logits),
            shares=self.attribute(raw, label),
        )

    def attribute(self, raw: np.ndarray, label: int) -> tuple[Share, ...]:
        """The attribution list of one raw input for a query label (integer KNN-Shapley)."""
        values = self.knn.values(self.package.quantise(raw).reshape(-1), label)
        return tuple(self.contributors.shares(values))

    def for_zk_instances(self, evaluation: Evaluation, raw: np.ndarray,
                         instances: Any) -> Evaluation:
        """The evaluation a ZK record states: its label is the argmax of the proof's output
        instances (what a dispute derives), which can differ from the float logits' on a
        near tie; the attribution follows that label."""
        label = label_of_instances(instances)
        if label == evaluation.label:
            return evaluation
        return replace(evaluation, label=label, shares=self.attribute(raw, label))

    def trace(self, raw: np.ndarray, label: int, *, meta: dict[str, Any] | None = None
              ) -> Trace:
        """The honest attribution trace of one input (what a challenged worker publishes)."""
        from offchain.attribution.trace import build_trace

        return build_trace(self.knn, self.contributors, self.package.quantise(raw).reshape(-1),
                           label, meta=meta)

    def evaluate_batch(self, raws: list[np.ndarray], *, workers: int = 1,
                       chunk_size: int = 16) -> list[Evaluation]:
        """Many inputs: the model runs one row at a time (bytes must not depend on batch
        size); attribution runs as one batched integer KNN-Shapley pass, streamed ``chunk_size``
        queries at a time (memory stays at a few chunks of per-point values, not
        ``len(raws) * N``) on ``workers`` threads. Results do not depend on either knob."""
        if not raws:
            return []
        logits = [self.session.run(self.package.model_input(raw)) for raw in raws]
        labels = np.array([predicted_label(v) for v in logits])
        queries = self.package.quantise(np.vstack([np.asarray(raw).reshape(1, -1)
                                                   for raw in raws]))
        shares = [
            tuple(self.contributors.shares(row))
            for block in self.knn.iter_values(queries, labels, chunk_size=chunk_size,
                                              workers=workers)
            for row in block
        ]
        return [
            Evaluation(
                input_bytes=encode_tensor(raw),
                logits=out,
                label=int(label),
                output_bytes=encode_tensor(out),
                shares=share_list,
            )
            for raw, out, label, share_list in zip(raws, logits, labels, shares, strict=True)
        ]

    def record(
        self, evaluation: Evaluation, *, request_id: bytes, input_salt: bytes, worker: str,
        timestamp: int, proof_kind: int, proof_hash: bytes = ZERO32,
        output_commitment: bytes | None = None, result_hash: bytes = ZERO32,
    ) -> Inference:
        """The Inference record for an evaluation (ZK records pass their own output binding).

        ``result_hash``: keccak256 of the sealed result a single record delivers
        (``protocol.result_hash``); zero for batch leaves."""
        if output_commitment is None:
            if proof_kind == PROOF_ZK:
                raise ValueError("a ZK record's output commitment is the proof's binding")
            output_commitment = commit(output_salt(input_salt), evaluation.output_bytes)
        return Inference(
            requestId=request_id,
            modelId=self.model_id,
            inputCommitment=commit(input_salt, evaluation.input_bytes),
            outputCommitment=output_commitment,
            attributionHash=evaluation.attribution_hash,
            proofKind=proof_kind,
            proofHash=proof_hash,
            worker=worker,
            timestamp=timestamp,
            resultHash=result_hash,
        )
