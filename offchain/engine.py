"""What a worker computes for one request, with no I/O: run, attribute, commit, describe.

The same code serves the worker (to make a record) and the verifier (to recompute one), so
a stranger re-running an inference gets the very bytes the worker committed to. It sits
below both (``offchain.worker`` and ``offchain.verify`` import it; it imports neither).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from offchain.attribution import ContributorMap, KnnShapley, attribution_hash
from offchain.models import ModelPackage
from offchain.models.encoding import commit, decode_tensor, encode_tensor
from offchain.models.runtime import open_session, predicted_label
from offchain.privacy import output_salt
from offchain.protocol import PROOF_ZK, ZERO32, Inference, Share

# The declared attribution policy: exact KNN-Shapley with K = 5 over the package's
# standardised training set, y_query = the model's predicted label; shares by largest
# remainder, equal split over the roster if every value is 0. Anyone recomputing gets the
# same list because every one of these choices is fixed here.
ATTRIBUTION_K = 5


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
        self.knn = KnnShapley(package.training.X, package.training.y, k)
        self.contributors = ContributorMap(package.row_owners())
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

    def decode_input(self, input_bytes: bytes) -> np.ndarray:
        """Canonical input bytes -> raw float32 features; raises EncodingError if malformed."""
        return decode_tensor(input_bytes, shape=self.input_shape)

    def evaluate(self, raw: np.ndarray) -> Evaluation:
        logits = self.session.run(self.package.model_input(raw))
        label = predicted_label(logits)
        standardised = self.package.standardise(raw)[0]
        values = self.knn.values(standardised, label)
        return Evaluation(
            input_bytes=encode_tensor(raw),
            logits=logits,
            label=label,
            output_bytes=encode_tensor(logits),
            shares=tuple(self.contributors.shares(values)),
        )

    def evaluate_batch(self, raws: list[np.ndarray], *, workers: int = 1,
                       chunk_size: int = 16) -> list[Evaluation]:
        """Many inputs: the model runs one row at a time (bytes must not depend on batch
        size); attribution runs as one batched KNN-Shapley pass, streamed ``chunk_size``
        queries at a time (memory stays at a few chunks of per-point values, not
        ``len(raws) * N``) on ``workers`` threads. Results do not depend on either knob."""
        if not raws:
            return []
        logits = [self.session.run(self.package.model_input(raw)) for raw in raws]
        labels = np.array([predicted_label(v) for v in logits])
        queries = np.vstack([self.package.standardise(raw) for raw in raws])
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
        timestamp: int, proof_kind: int, proof_hash: bytes = bytes(32),
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
