"""Attribution disputes, off chain: challenge a record, answer a challenge, prove one lie.

The contract side is ``IAttributionDisputes`` (in the Slasher); the rules are in design.md
"Disputes". This module is the thin shell around the pure trace code
(:mod:`offchain.attribution.trace`): it reads the dispute's public data from chain events,
builds the honest trace of the revealed query, publishes or fetches a trace file and turns
the first fraud :func:`~offchain.attribution.trace.first_fraud` finds into the one call that
proves it. Challenger, worker, watcher and CLI all go through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offchain.errors import AttestiaError
from offchain.protocol import (
    ZERO32,
    ZERO_ADDRESS,
    AttributionSpec,
    DataItem,
    Dispute,
    DisputeState,
    FraudKind,
    Inference,
    Share,
    StepOpening,
    TraceStep,
    leaf_dispute_id,
    leaf_hash,
)
from offchain.protocol import (
    challenge_closes_at as closes_at,
)
from offchain.record.batch_file import BatchFileError, BatchLeaf
from offchain.record.batch_file import load as load_batch_file
from offchain.registry import Attestia, DisputeOpened, DisputeResponded, InferenceRecorded
from offchain.storage.atomic import atomic_write_bytes
from offchain.storage.uri import UriError, read_uri

if TYPE_CHECKING:  # imported where used: `dispute status` reads the chain, not numpy
    from offchain.attribution.trace import AttributionModel, Fraud, Trace

TRACE_MAX_BYTES = 256 * 1024 * 1024
"""Largest published trace a challenger reads (N = 100,000 is ~20 MB)."""


class DisputeError(AttestiaError):
    """A dispute action cannot be taken (wrong state, missing data, unreadable trace)."""


# -- reading the game's state ----------------------------------------------------------------

@dataclass(frozen=True)
class DisputeView:
    """One record's dispute as the chain tells it: state plus the public events."""

    request_id: bytes
    dispute: Dispute
    opened: DisputeOpened | None
    responded: DisputeResponded | None

    @property
    def state(self) -> DisputeState:
        return self.dispute.state


def view(attestia: Attestia, request_id: bytes) -> DisputeView:
    disputes = attestia.slasher
    state = disputes.dispute(request_id)
    opened = disputes.opened(request_id=request_id) if state.state != DisputeState.NONE else []
    responded = (disputes.responded(request_id=request_id)
                 if state.state not in (DisputeState.NONE, DisputeState.OPEN) else [])
    return DisputeView(request_id, state, opened[-1] if opened else None,
                       responded[-1] if responded else None)


def recorded(attestia: Attestia, request_id: bytes) -> InferenceRecorded:
    records = attestia.registry.recorded(request_id=request_id)
    if not records:
        raise DisputeError(f"request 0x{request_id.hex()} has no single record on chain (a "
                           "batch leaf is named batch:0x<batchId>:<index>)")
    return records[-1]


def challenge_closes_at(attestia: Attestia, record: Inference) -> int:
    """The last second a record can be challenged (its timestamp + challengeWindow)."""
    return closes_at(record.timestamp, attestia.registry.challenge_window())


# -- batch leaves (design.md "Disputes": a leaf is disputed like a single record) ------------

@dataclass(frozen=True)
class DisputedLeaf:
    """A leaf of a committed batch, read from its published file checked against the
    commitment, with its inclusion proof: what ``challengeLeaf`` takes."""

    batch_id: bytes
    index: int
    leaf: BatchLeaf
    proof: tuple[bytes, ...]
    committed_at: int
    """The commit's block time: the leaf's challenge window runs from it."""

    @property
    def inference(self) -> Inference:
        return self.leaf.inference

    @property
    def dispute_id(self) -> bytes:
        """``toLeafDisputeId(batchId, leafHash)``: the id the game knows this leaf by."""
        return leaf_dispute_id(self.batch_id, leaf_hash(self.leaf.inference))

    @property
    def ref(self) -> str:
        return f"batch:0x{self.batch_id.hex()}:{self.index}"


def batch_leaf(attestia: Attestia, batch_id: bytes, index: int | None = None, *,
               hashed: bytes | None = None) -> DisputedLeaf:
    """Leaf ``index`` of batch ``batch_id`` (or the leaf whose hash is ``hashed``), from the
    batch's published file once it passes the loader's checks against the commitment."""
    from offchain.storage.uri import UriError

    events = attestia.registry.batches(batch_id=batch_id)
    if not events:
        raise DisputeError(f"no batch 0x{batch_id.hex()} is committed on this registry")
    event = events[-1]
    try:
        published = load_batch_file(event.data_uri, event, roster=None)
    except (UriError, BatchFileError) as exc:
        raise DisputeError(f"batch 0x{batch_id.hex()}'s file at {event.data_uri} cannot be "
                           f"used: {exc}") from exc
    if hashed is not None:
        index = next((i for i, leaf in enumerate(published.leaves)
                      if leaf_hash(leaf.inference) == hashed), None)
        if index is None:
            raise DisputeError(f"batch 0x{batch_id.hex()} has no leaf 0x{hashed.hex()}")
    if index is None or not 0 <= index < published.count:
        raise DisputeError(f"batch 0x{batch_id.hex()} has {published.count} leaves "
                           f"(0 to {published.count - 1}), not {index}")
    block = attestia.chain.w3.eth.get_block(event.meta.block)
    return DisputedLeaf(batch_id, index, published.leaves[index],
                        tuple(published.proof(index)), int(block["timestamp"]))


def leaf_of_dispute(attestia: Attestia, dispute_id: bytes) -> DisputedLeaf | None:
    """The batch leaf a dispute is of (None: a single record's dispute, or none)."""
    found = attestia.slasher.leaves_challenged(dispute_id=dispute_id)
    if not found:
        return None
    return batch_leaf(attestia, found[-1].batch_id, hashed=found[-1].leaf_hash)


def disputed_shares(attestia: Attestia, dispute_id: bytes) -> tuple[Share, ...]:
    """The attribution list a dispute is about: the single record's, or the leaf's."""
    records = attestia.registry.recorded(request_id=dispute_id)
    if records:
        return tuple(records[-1].shares)
    leaf = leaf_of_dispute(attestia, dispute_id)
    if leaf is None:
        raise DisputeError(f"dispute 0x{dispute_id.hex()} is of no single record nor batch "
                           "leaf on chain")
    return tuple(Share(account, bps) for account, bps in leaf.leaf.shares)


def leaf_challenge_closes_at(attestia: Attestia, leaf: DisputedLeaf) -> int:
    """The last second a batch leaf can be challenged (its batch's commit + challengeWindow)."""
    return closes_at(leaf.committed_at, attestia.registry.challenge_window())


# -- the three parties -----------------------------------------------------------------------

def open_challenge(attestia: Attestia, record: Inference, input_bytes: bytes, salt: bytes,
                   output: bytes, spec: AttributionSpec, *, account: Any = None) -> Any:
    """Challenge ``record``'s attribution: posts the bond and makes its input public."""
    bond = attestia.slasher.dispute_bond()
    return attestia.send(attestia.slasher.challenge(record, input_bytes, salt, output, spec,
                                                     bond), account=account)


def open_leaf_challenge(attestia: Attestia, leaf: DisputedLeaf, input_bytes: bytes,
                        salt: bytes, output: bytes, spec: AttributionSpec, *,
                        account: Any = None) -> Any:
    """Challenge a batch leaf's attribution (``challengeLeaf``, with its inclusion proof)."""
    bond = attestia.slasher.dispute_bond()
    return attestia.send(attestia.slasher.challenge_leaf(leaf.batch_id, leaf.inference,
                                                          leaf.proof, input_bytes, salt,
                                                          output, spec, bond),
                         account=account)


def publish_trace(trace: Trace, directory: Path, request_id: bytes) -> str:
    """Write the trace file under ``directory`` (atomically) and return its file:// URI."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"trace-0x{request_id.hex()}.json"
    atomic_write_bytes(path, trace.dumps())
    return path.resolve().as_uri()


def respond(attestia: Attestia, model: AttributionModel, request_id: bytes, publish_dir: Path,
            *, account: Any = None, trace: Trace | None = None, uri: str | None = None) -> Any:
    """Answer an open challenge with the honest trace of the revealed query (or ``trace``,
    which tests use to play a lying worker) published under ``publish_dir``."""
    current = view(attestia, request_id)
    if current.state != DisputeState.OPEN or current.opened is None:
        raise DisputeError(f"request 0x{request_id.hex()} has no open challenge "
                           f"(state {current.state.name.lower()})")
    shares = disputed_shares(attestia, request_id)
    if trace is None:
        trace = model.trace(current.opened.query, current.opened.label)
    where = uri if uri is not None else publish_trace(trace, publish_dir, request_id)
    call = attestia.slasher.respond(request_id, trace.root, where, trace.totals,
                                     list(trace.roster), shares)
    return attestia.send(call, account=account)


@dataclass(frozen=True)
class Proof:
    """A fraud found in a published trace and the call that proves it on chain."""

    fraud: Fraud
    call: Any


def find_fraud(attestia: Attestia, model: AttributionModel, request_id: bytes, *,
               timeout: float = 30.0) -> Proof | None:
    """Read the worker's published trace, compare it with the honest one, and return the
    proof of its first lie (None if it is honest)."""

    from offchain.attribution.trace import TraceError, first_fraud, parse_trace

    current = view(attestia, request_id)
    if current.state != DisputeState.RESPONDED or current.responded is None \
            or current.opened is None:
        raise DisputeError(f"request 0x{request_id.hex()} has no responded dispute "
                           f"(state {current.state.name.lower()})")
    try:
        data = read_uri(current.responded.trace_uri, max_bytes=TRACE_MAX_BYTES,
                        timeout=timeout)
        published = parse_trace(data, root=current.dispute.traceRoot)
    except (UriError, TraceError) as exc:
        raise DisputeError(f"the worker's trace at {current.responded.trace_uri} cannot be "
                           f"used: {exc}") from exc
    honest = model.trace(current.opened.query, current.opened.label)
    fraud = first_fraud(published, honest)
    if fraud is None:
        return None
    return Proof(fraud, _proof_call(attestia, model, request_id, fraud, published, honest,
                                    current.opened.query))


def prove(attestia: Attestia, model: AttributionModel, request_id: bytes, *,
          account: Any = None) -> tuple[Proof | None, Any]:
    """Find and submit the proof of the worker's first lie; (proof, receipt) or (None,
    None) when the trace is honest."""
    proof = find_fraud(attestia, model, request_id)
    if proof is None:
        return None, None
    return proof, attestia.send(proof.call, account=account)


def resolve(attestia: Attestia, request_id: bytes, *, account: Any = None) -> Any:
    """End a dispute whose deadline passed (no response: slash; no fraud: the worker wins)."""
    return attestia.send(attestia.slasher.resolve(request_id), account=account)


# -- building the proof of one lie -----------------------------------------------------------

_NO_STEP = StepOpening(0, TraceStep(0, ZERO_ADDRESS, 0, 0, 0, 0, ZERO32), ())
_NO_ITEM = DataItem(0, ZERO_ADDRESS, 0, ())


def _proof_call(attestia: Attestia, model: AttributionModel, request_id: bytes, fraud: Fraud,
                published: Trace, honest: Trace, query: tuple[int, ...]) -> Any:
    disputes = attestia.slasher
    kind = fraud.kind
    if kind == FraudKind.DUPLICATE:
        a, b = fraud.positions
        return disputes.prove_duplicate(request_id, published.opening(a), published.opening(b))
    if kind == FraudKind.ITEM:
        (p,) = fraud.positions
        item_index = published.items[p]
        if item_index >= model.index.n:
            return disputes.prove_item(request_id, published.opening(p), _NO_ITEM, [], query)
        return disputes.prove_item(request_id, published.opening(p),
                                   model.items.item(item_index), model.items.proof(item_index),
                                   query)
    if kind == FraudKind.ORDER:
        p, q = fraud.positions
        return disputes.prove_order(request_id, published.opening(p), published.opening(q))
    if kind == FraudKind.VALUE:
        p = fraud.positions[0]
        following = published.opening(p + 1) if p + 1 < published.n else _NO_STEP
        return disputes.prove_value(request_id, published.opening(p), following)
    if kind == FraudKind.END:
        return disputes.prove_end(request_id, published.opening(published.n - 1))
    return _sum_proof(disputes, request_id, published, honest)


def _sum_proof(disputes: Any, request_id: bytes, published: Trace, honest: Trace) -> Any:
    """The first step whose slot or sums root differs from the honest trace: every root
    before it is honest, so the slot's leaf opens in the honest tree of the sums so far."""
    roster = honest.roster
    for p in range(published.n):
        slot = published.slots[p]
        wrong_slot = not 0 <= slot < len(roster) or roster[slot] != published.contributors[p]
        if wrong_slot or published.sums_roots[p] != honest.sums_roots[p]:
            break
    else:
        raise DisputeError("no step of the published trace has a wrong sum")
    previous = published.opening(p - 1) if p > 0 else _NO_STEP
    if not 0 <= slot < len(roster):
        return disputes.prove_sum(request_id, published.opening(p), previous,
                                  ZERO_ADDRESS, 0, [])
    account, total, proof = honest.sums_before(p, slot)
    return disputes.prove_sum(request_id, published.opening(p), previous, account, total,
                              proof)
