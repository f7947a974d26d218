"""What a worker computes for one request, with no I/O: run, attribute, commit, describe.

The same code serves the worker (to make a record) and the verifier (to recompute one), so
a stranger re-running an inference gets the very bytes the worker committed to. It sits
below both (``offchain.worker`` and ``offchain.verify`` import it; it imports neither).

The answer is the package's integer network (design.md "Integer inference"): the same bits
on every CPU. The output tensor a record commits to holds its logits as float32 ``L / 2**16``
(exact), so the tensor format, the commitment and the attribution dispute's label rule are
unchanged. ONNX Runtime's float32 answer is computed only when asked (``cross_check``: the
verifier reports it beside the integer one); it is not reproducible bit for bit across CPUs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from offchain.attribution import label_of_instances
from offchain.models import ModelPackage
from offchain.models.encoding import commit, decode_tensor, encode_tensor, encode_tensors
from offchain.models.network import logits_to_float32
from offchain.models.package import ATTRIBUTION_K
from offchain.models.runtime import ModelSession, open_session, predicted_label
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
    """The output tensor: float32 ``(1, n_labels)``, the integer logits over 2**16."""
    label: int
    output_bytes: bytes
    shares: tuple[Share, ...]
    integer_logits: np.ndarray | None = None
    """The integer network's int64 logits (units 2**-16)."""
    float_logits: np.ndarray | None = None
    """ONNX Runtime's float32 logits, when a cross-check was asked for."""

    @property
    def float_label(self) -> int | None:
        """ONNX Runtime's label (the float cross-check), or None if it was not run."""
        return None if self.float_logits is None else predicted_label(self.float_logits)

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
        self.network = package.network
        """The integer network (``offchain.models.network``): what a record's output is."""
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
        if artifacts.content_hash != self.package.onnx_sha256:
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

    @cached_property
    def session(self) -> ModelSession:
        """ONNX Runtime on model.onnx: the float cross-check (opened on first use)."""
        return open_session(self.package.onnx_path)

    def float_logits(self, raw: np.ndarray) -> np.ndarray:
        """ONNX Runtime's float32 logits of one raw input (CPU-dependent bits)."""
        return self.session.run(self.package.model_input(raw))

    def evaluate(self, raw: np.ndarray, *, cross_check: bool = False) -> Evaluation:
        """The integer network's answer to one raw input and its attribution; with
        ``cross_check`` ONNX Runtime's float logits too."""
        integer = self.package.integer_logits(raw)[0]
        logits = self.package.output_tensor(integer)
        label = int(np.argmax(integer))
        return Evaluation(
            input_bytes=encode_tensor(raw),
            logits=logits,
            label=label,
            output_bytes=encode_tensor(logits),
            shares=self.attribute(raw, label),
            integer_logits=integer,
            float_logits=self.float_logits(raw) if cross_check else None,
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
                       chunk_size: int | None = None,
                       input_bytes: Sequence[bytes | None] | None = None) -> list[Evaluation]:
        """Many inputs: the integer network runs on all of them at once (integer results do
        not depend on the batch size, unlike a float kernel's); attribution runs as one
        batched integer KNN-Shapley pass, streamed ``chunk_size`` queries at a time
        (default: about 2**16 roster items' worth, at least 16 queries; memory stays at a
        few chunks of per-point values, not ``len(raws) * N``) on ``workers`` threads.
        Results do not depend on either knob.
        ``input_bytes``: each raw's canonical tensor bytes where already known (the request
        carried them and ``decode_tensor`` accepts only canonical bytes), else None."""
        if not raws:
            return []
        queries = self.package.quantise(np.vstack([np.asarray(raw).reshape(1, -1)
                                                   for raw in raws]))
        integer = self.network.logits(queries)
        labels = np.argmax(integer, axis=1)
        # One conversion for the batch (elementwise: each row as output_tensor makes it).
        tensors = logits_to_float32(integer).reshape(
            (len(raws), *self.package.manifest.output.shape))
        outputs, logits = encode_tensors(tensors), list(tensors)
        if chunk_size is None:  # small rosters: many queries per numpy call
            chunk_size = max(16, 2**16 // self.knn.n)
        shares = [
            tuple(self.contributors.shares_of_totals(row))
            for block in self.knn.iter_totals(queries, labels, self.contributors,
                                              chunk_size=chunk_size, workers=workers)
            for row in block
        ]
        given = list(input_bytes) if input_bytes is not None else [None] * len(raws)
        return [
            Evaluation(
                input_bytes=encode_tensor(raw) if known is None else known,
                logits=out,
                label=int(label),
                output_bytes=output,
                shares=share_list,
                integer_logits=row,
            )
            for raw, known, out, output, label, share_list, row in zip(
                raws, given, logits, outputs, labels, shares, integer, strict=True)
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
