"""The deployed contracts' events, decoded: one frozen dataclass per event, named as the
contract names it, with its fields mapped by argument name (structs through
:func:`offchain.protocol.from_abi`).

Pure: a decoder takes a web3 event (``args``, ``blockNumber``, ``transactionHash``,
``logIndex``), wherever it came from: the typed clients' paged scans, a receipt, or the
indexer's own log decoding (``offchain.indexer.project``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from offchain.protocol import (
    DisputeState,
    FraudKind,
    Inference,
    Payout,
    Request,
    Share,
    Split,
    TraceStep,
    from_abi,
)


@dataclass(frozen=True)
class EventMeta:
    """Where an event was emitted."""

    block: int
    tx_hash: str
    log_index: int

    @classmethod
    def of(cls, event: Any) -> EventMeta:
        return cls(int(event["blockNumber"]), "0x" + bytes(event["transactionHash"]).hex(),
                   int(event["logIndex"]))


# -- InferenceRegistry ------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelRegistered:
    """``ModelRegistered``: the model's content, roster (only its hash is stored) and terms."""

    model_id: bytes
    owner: str
    content_hash: bytes
    metadata_uri: str
    data_root: bytes
    contributors: tuple[str, ...]
    policy: int
    fee: int
    split: Split
    meta: EventMeta


@dataclass(frozen=True)
class ModelTermsUpdated:
    """``ModelTermsUpdated``: new fee, policy and split (requests already paid keep theirs)."""

    model_id: bytes
    fee: int
    policy: int
    split: Split
    meta: EventMeta


@dataclass(frozen=True)
class InferenceRequested:
    """``InferenceRequested``: the request as stored (hashed) and its payload."""

    request_id: bytes
    request: Request
    payload: bytes
    meta: EventMeta


@dataclass(frozen=True)
class InferenceRecorded:
    """``InferenceRecorded``: a single record, its attribution list and fee split."""

    request_id: bytes
    inference: Inference
    shares: tuple[Share, ...]
    digest: bytes
    payout: Payout
    meta: EventMeta

    @property
    def block(self) -> int:
        return self.meta.block

    @property
    def tx_hash(self) -> str:
        return self.meta.tx_hash


@dataclass(frozen=True)
class RequestRejected:
    """``RequestRejected``."""

    request_id: bytes
    rejected_by: str
    refund: int
    reason: str
    meta: EventMeta


@dataclass(frozen=True)
class RequestCancelled:
    """``RequestCancelled``."""

    request_id: bytes
    requester: str
    refund: int
    meta: EventMeta


@dataclass(frozen=True)
class BatchCommitted:
    """``BatchCommitted``: a batch root, its deposit and where its file is published."""

    batch_id: bytes
    model_id: bytes
    worker: str
    root: bytes
    count: int
    epoch: int
    deposit: int
    data_uri: str
    data_hash: bytes
    """keccak256 of the published batch file's bytes: settlement refuses a file that differs."""
    meta: EventMeta


@dataclass(frozen=True)
class WorkerRegistered:
    """``WorkerRegistered``."""

    signer: str
    operator: str
    stake: int
    encryption_key: bytes
    meta: EventMeta


@dataclass(frozen=True)
class MeasurementEvent:
    """``MeasurementAllowed`` (allowed=True) or ``MeasurementRevoked`` (allowed=False): one
    type for both, since readers replay them in chain order as one allow-list history."""

    measurement: bytes
    allowed: bool
    timestamp: int
    meta: EventMeta


def decode_model_registered(event: Any) -> ModelRegistered:
    a = event["args"]
    return ModelRegistered(bytes(a["modelId"]), to_checksum_address(a["owner"]),
                           bytes(a["contentHash"]), str(a["metadataURI"]), bytes(a["dataRoot"]),
                           tuple(to_checksum_address(c) for c in a["contributors"]),
                           int(a["policy"]), int(a["fee"]), from_abi(Split, a["split"]),
                           EventMeta.of(event))


def decode_model_terms_updated(event: Any) -> ModelTermsUpdated:
    a = event["args"]
    return ModelTermsUpdated(bytes(a["modelId"]), int(a["fee"]), int(a["policy"]),
                             from_abi(Split, a["split"]), EventMeta.of(event))


def decode_requested(event: Any) -> InferenceRequested:
    a = event["args"]
    request = from_abi(Request, a["request"])
    return InferenceRequested(bytes(a["requestId"]), request, bytes(a["payload"]),
                              EventMeta.of(event))


def decode_recorded(event: Any) -> InferenceRecorded:
    a = event["args"]
    shares = tuple(Share(to_checksum_address(s["account"]), int(s["bps"])) for s in a["shares"])
    return InferenceRecorded(bytes(a["requestId"]), from_abi(Inference, a["inference"]), shares,
                             bytes(a["digest"]), from_abi(Payout, a["payout"]),
                             EventMeta.of(event))


def decode_rejected(event: Any) -> RequestRejected:
    a = event["args"]
    return RequestRejected(bytes(a["requestId"]), a["rejectedBy"], int(a["refund"]),
                           str(a["reason"]), EventMeta.of(event))


def decode_cancelled(event: Any) -> RequestCancelled:
    a = event["args"]
    return RequestCancelled(bytes(a["requestId"]), a["requester"], int(a["refund"]),
                            EventMeta.of(event))


def decode_batch_committed(event: Any) -> BatchCommitted:
    a = event["args"]
    return BatchCommitted(bytes(a["batchId"]), bytes(a["modelId"]),
                          to_checksum_address(a["worker"]), bytes(a["root"]), int(a["count"]),
                          int(a["epoch"]), int(a["deposit"]),
                          str(a["dataURI"]), bytes(a["dataHash"]), EventMeta.of(event))


def decode_worker_registered(event: Any) -> WorkerRegistered:
    a = event["args"]
    return WorkerRegistered(a["signer"], a["operator"], int(a["stake"]),
                            bytes(a["encryptionKey"]), EventMeta.of(event))


def decode_measurement(event: Any) -> MeasurementEvent:
    return MeasurementEvent(bytes(event["args"]["measurement"]),
                            event["event"] == "MeasurementAllowed",
                            int(event["args"]["timestamp"]), EventMeta.of(event))


# -- Slasher (the attribution-dispute game) ------------------------------------------------

@dataclass(frozen=True)
class DisputeOpened:
    """``DisputeOpened``: a challenge; the quantised input and label are now public."""

    request_id: bytes
    worker: str
    challenger: str
    bond: int
    label: int
    query: tuple[int, ...]
    respond_by: int
    meta: EventMeta


@dataclass(frozen=True)
class DisputeResponded:
    """``DisputeResponded``: the worker's trace root, where the trace is, and its totals."""

    request_id: bytes
    trace_root: bytes
    trace_uri: str
    totals: tuple[int, ...]
    prove_by: int
    meta: EventMeta


@dataclass(frozen=True)
class DisputeResolved:
    """``DisputeResolved``: how a dispute ended (FRAUD/NO_RESPONSE: equal split)."""

    request_id: bytes
    outcome: DisputeState
    kind: FraudKind
    position: int
    by: str
    slashed: int
    meta: EventMeta


@dataclass(frozen=True)
class LeafChallenged:
    """``LeafChallenged``: the dispute ``dispute_id`` is of the leaf ``leaf_hash`` of batch
    ``batch_id`` (its DisputeOpened and every later event go by ``dispute_id``)."""

    dispute_id: bytes
    batch_id: bytes
    leaf_hash: bytes
    meta: EventMeta


def decode_leaf_challenged(event: Any) -> LeafChallenged:
    a = event["args"]
    return LeafChallenged(bytes(a["disputeId"]), bytes(a["batchId"]), bytes(a["leafHash"]),
                          EventMeta.of(event))


def decode_dispute_opened(event: Any) -> DisputeOpened:
    a = event["args"]
    return DisputeOpened(bytes(a["requestId"]), a["worker"], a["challenger"], int(a["bond"]),
                         int(a["label"]), tuple(int(v) for v in a["query"]),
                         int(a["respondBy"]), EventMeta.of(event))


def decode_dispute_responded(event: Any) -> DisputeResponded:
    a = event["args"]
    return DisputeResponded(bytes(a["requestId"]), bytes(a["traceRoot"]), str(a["traceURI"]),
                            tuple(int(v) for v in a["totals"]), int(a["proveBy"]),
                            EventMeta.of(event))


def decode_dispute_resolved(event: Any) -> DisputeResolved:
    a = event["args"]
    return DisputeResolved(bytes(a["requestId"]), DisputeState(int(a["outcome"])),
                           FraudKind(int(a["kind"])), int(a["position"]), a["by"],
                           int(a["slashed"]), EventMeta.of(event))


@dataclass(frozen=True)
class NodesRevealed:
    """``NodesRevealed``: the nodes below a descent's node (``index`` at ``height``), left to
    right, as the responder side revealed them."""

    request_id: bytes
    challenger: str
    index: int
    height: int
    nodes: tuple[bytes, ...]
    meta: EventMeta


@dataclass(frozen=True)
class StepRevealed:
    """``StepRevealed``: the trace step of the leaf a descent reached."""

    request_id: bytes
    challenger: str
    position: int
    step: TraceStep
    meta: EventMeta


@dataclass(frozen=True)
class DescentOpened:
    """``DescentOpened``: a challenger's descent began; the responder side reveals by
    ``reveal_by``."""

    request_id: bytes
    challenger: str
    reveal_by: int
    meta: EventMeta


def decode_nodes_revealed(event: Any) -> NodesRevealed:
    a = event["args"]
    return NodesRevealed(bytes(a["requestId"]), to_checksum_address(a["challenger"]),
                         int(a["index"]), int(a["height"]),
                         tuple(bytes(n) for n in a["nodes"]), EventMeta.of(event))


def decode_step_revealed(event: Any) -> StepRevealed:
    a = event["args"]
    return StepRevealed(bytes(a["requestId"]), to_checksum_address(a["challenger"]),
                        int(a["position"]), from_abi(TraceStep, a["step"]),
                        EventMeta.of(event))


def decode_descent_opened(event: Any) -> DescentOpened:
    a = event["args"]
    return DescentOpened(bytes(a["requestId"]), to_checksum_address(a["challenger"]),
                         int(a["revealBy"]), EventMeta.of(event))


# -- RewardDistributor ------------------------------------------------------------------------

@dataclass(frozen=True)
class RootProposed:
    """``RootProposed`` (distributor)."""

    epoch: int
    root: bytes
    total: int
    ready_at: int
    meta: EventMeta


@dataclass(frozen=True)
class Claimed:
    """``Claimed`` (distributor)."""

    account: str
    epoch: int
    amount: int
    cumulative: int
    meta: EventMeta


def decode_root_proposed(event: Any) -> RootProposed:
    a = event["args"]
    return RootProposed(int(a["epoch"]), bytes(a["root"]), int(a["total"]), int(a["readyAt"]),
                        EventMeta.of(event))


def decode_claimed(event: Any) -> Claimed:
    a = event["args"]
    return Claimed(a["account"], int(a["epoch"]), int(a["amount"]), int(a["cumulative"]),
                   EventMeta.of(event))


# -- output disputes (IOutputDisputes) --------------------------------------------------------

@dataclass(frozen=True)
class OutputDisputeOpened:
    """``OutputDisputeOpened``: an output challenge; the quantised input (layer 0) and the
    record's integer logits (the last layer) are now public."""

    dispute_id: bytes
    record_id: bytes
    worker: str
    challenger: str
    bond: int
    input: tuple[int, ...]
    logits: tuple[int, ...]
    respond_by: int
    meta: EventMeta


@dataclass(frozen=True)
class OutputResponded:
    """``OutputResponded``: the responder's hidden layers (1 .. layers - 1)."""

    dispute_id: bytes
    responder: str
    hidden: tuple[tuple[int, ...], ...]
    prove_by: int
    meta: EventMeta


@dataclass(frozen=True)
class OutputDisputeResolved:
    """``OutputDisputeResolved``: how an output dispute ended (FRAUD/NO_RESPONSE: the record's
    attribution is void, its contributor share goes by the equal split)."""

    dispute_id: bytes
    record_id: bytes
    outcome: DisputeState
    kind: int
    layer: int
    neuron: int
    by: str
    slashed: int
    meta: EventMeta


def decode_output_opened(event: Any) -> OutputDisputeOpened:
    a = event["args"]
    return OutputDisputeOpened(bytes(a["disputeId"]), bytes(a["recordId"]), a["worker"],
                               a["challenger"], int(a["bond"]),
                               tuple(int(v) for v in a["input"]),
                               tuple(int(v) for v in a["logits"]), int(a["respondBy"]),
                               EventMeta.of(event))


def decode_output_responded(event: Any) -> OutputResponded:
    a = event["args"]
    return OutputResponded(bytes(a["disputeId"]), a["responder"],
                           tuple(tuple(int(v) for v in layer) for layer in a["hidden"]),
                           int(a["proveBy"]), EventMeta.of(event))


def decode_output_resolved(event: Any) -> OutputDisputeResolved:
    a = event["args"]
    return OutputDisputeResolved(bytes(a["disputeId"]), bytes(a["recordId"]),
                                 DisputeState(int(a["outcome"])), int(a["kind"]),
                                 int(a["layer"]), int(a["neuron"]), a["by"], int(a["slashed"]),
                                 EventMeta.of(event))
