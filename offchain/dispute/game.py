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
from typing import TYPE_CHECKING, Any, Protocol

from offchain.errors import AttestiaError
from offchain.protocol import (
    DESCENT_BITS,
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
        return disputes.prove_end(request_id, published.opening(0))
    return _sum_proof(disputes, request_id, published, honest)


def _sum_proof(disputes: Any, request_id: bytes, published: Trace, honest: Trace) -> Any:
    """The last step whose slot or sums root differs from the honest trace: every root
    after it is honest (suffix sums), so the slot's leaf opens in the honest tree of the
    sums after it."""
    roster = honest.roster
    for p in range(published.n - 1, -1, -1):
        slot = published.slots[p]
        wrong_slot = not 0 <= slot < len(roster) or roster[slot] != published.contributors[p]
        if wrong_slot or published.sums_roots[p] != honest.sums_roots[p]:
            break
    else:
        raise DisputeError("no step of the published trace has a wrong sum")
    following = published.opening(p + 1) if p + 1 < published.n else _NO_STEP
    if not 0 <= slot < len(roster):
        return disputes.prove_sum(request_id, published.opening(p), following,
                                  ZERO_ADDRESS, 0, [])
    account, total, proof = honest.sums_before(p, slot)
    return disputes.prove_sum(request_id, published.opening(p), following, account, total,
                              proof)


# -- the descent (design.md "The descent") -----------------------------------------------------

def _hash_pair(a: bytes, b: bytes) -> bytes:
    from sha3 import keccak_256

    return keccak_256(a + b).digest()


class RevealedTree:
    """The nodes of a worker's trace tree that reveals made public, by (height, index): the
    revealed ones and every node they hash to below the descent's node."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}

    def add(self, index: int, height: int, nodes: tuple[bytes, ...]) -> None:
        bits = len(nodes).bit_length() - 1
        level, h, base = list(nodes), height - bits, index << bits
        while True:
            for k, node in enumerate(level):
                self.nodes[(h, base + k)] = node
            if len(level) == 1:
                return
            level = [_hash_pair(level[i], level[i + 1]) for i in range(0, len(level), 2)]
            h, base = h + 1, base >> 1

    def opening(self, position: int, step: TraceStep, honest: Trace) -> StepOpening:
        """Step ``position`` opened in the worker's root: each sibling is a revealed node,
        else the honest one (every node right of the descent's path agrees with it)."""
        siblings = []
        for h in range(honest.tree.depth):
            at = (h, (position >> h) ^ 1)
            siblings.append(self.nodes[at] if at in self.nodes else honest.node(*at))
        return StepOpening(position, step, tuple(siblings))


def _account(attestia: Attestia, account: Any) -> str:
    return str(attestia.sender(account).address)


def play_descent(attestia: Attestia, model: AttributionModel, request_id: bytes, *,
                 account: Any = None, receipts: list[Any] | None = None) -> str:
    """One move of the challenger side of a responded dispute whose trace it cannot read:
    open its descent, pick the last revealed node that differs from the honest tree, or at
    the leaf prove the step wrong; settle the descent once a clock ran out. Returns what it
    did ("descended", "picked", "proved", "settled", "waiting", "honest"); idempotent, so a
    loop calls it every pass. The receipt of the move sent (if any) is appended to
    ``receipts``."""
    from offchain.attribution.trace import first_fraud, leaf_fraud

    current = view(attestia, request_id)
    if current.state != DisputeState.RESPONDED or current.opened is None \
            or current.responded is None:
        raise DisputeError(f"request 0x{request_id.hex()} has no responded dispute "
                           f"(state {current.state.name.lower()})")
    dispute = current.dispute
    honest = model.trace(current.opened.query, current.opened.label)
    disputes = attestia.slasher
    if dispute.traceRoot == honest.root:
        # The honest steps: only the posted totals can be wrong (END), proven from our copy.
        from dataclasses import replace

        posted = replace(honest, totals=list(current.responded.totals))
        fraud = first_fraud(posted, honest)
        if fraud is None:
            return "honest"
        call = _proof_call(attestia, model, request_id, fraud, posted, honest,
                           current.opened.query)
        _sent(receipts, attestia.send(call, account=account))
        return "proved"
    me = _account(attestia, account)
    descent = disputes.descent(request_id, me)
    now = int(attestia.chain.w3.eth.get_block("latest")["timestamp"])
    if descent.open and descent.round == dispute.round and now > descent.deadline:
        # A clock ran out: the responder side's (NO_REVEAL: the liar is slashed) or ours.
        _sent(receipts, attestia.send(disputes.settle_descent(request_id, me),
                                      account=account))
        return "settled"
    if not descent.open or descent.round != dispute.round:
        call = disputes.descend(request_id, disputes.dispute_bond())
        _sent(receipts, attestia.send(call, account=account))
        return "descended"
    if not descent.challengerTurn:
        return "waiting"
    if descent.height > 0:
        reveals = [r for r in disputes.nodes_revealed(request_id, me)
                   if (r.index, r.height) == (descent.index, descent.height)]
        if not reveals:
            raise DisputeError("the reveal of the descent's node is not in the chain's logs")
        nodes = reveals[-1].nodes
        bits = len(nodes).bit_length() - 1
        below, base = descent.height - bits, descent.index << bits
        differing = [k for k, node in enumerate(nodes) if node != honest.node(below, base + k)]
        if not differing:
            raise DisputeError("every revealed node agrees with the honest trace")
        call = disputes.pick(request_id, nodes, differing[-1])
        _sent(receipts, attestia.send(call, account=account))
        return "picked"
    position = descent.index
    steps = [r for r in disputes.steps_revealed(request_id, me) if r.position == position]
    if not steps:
        raise DisputeError("the revealed step is not in the chain's logs")
    step = steps[-1].step
    tree = RevealedTree()
    for r in disputes.nodes_revealed(request_id, me):
        tree.add(r.index, r.height, r.nodes)
    fraud = leaf_fraud(step, position, honest)
    opened = tree.opening(position, step, honest)
    following = (tree.opening(position + 1, honest.step(position + 1), honest)
                 if position + 1 < honest.n else _NO_STEP)
    call = _leaf_call(disputes, model, request_id, fraud, opened, following, honest,
                      current.opened.query)
    _sent(receipts, attestia.send(call, account=account))
    return "proved"


def _sent(receipts: list[Any] | None, receipt: Any) -> Any:
    if receipts is not None:
        receipts.append(receipt)
    return receipt


def _leaf_call(disputes: Any, model: AttributionModel, request_id: bytes, fraud: Fraud,
               opened: StepOpening, following: StepOpening, honest: Trace,
               query: tuple[int, ...]) -> Any:
    step = opened.step
    kind = fraud.kind
    if kind == FraudKind.ITEM:
        if step.item >= honest.n:
            return disputes.prove_item(request_id, opened, _NO_ITEM, [], query)
        return disputes.prove_item(request_id, opened, model.items.item(step.item),
                                   model.items.proof(step.item), query)
    if kind == FraudKind.ORDER:
        return disputes.prove_order(request_id, opened, following)
    if kind == FraudKind.SKIP:
        skipped = honest.items[opened.position]
        return disputes.prove_skip(request_id, opened, following, model.items.item(skipped),
                                   model.items.proof(skipped), query)
    if kind == FraudKind.VALUE:
        return disputes.prove_value(request_id, opened, following)
    slot = step.slot
    if not 0 <= slot < len(honest.roster):
        return disputes.prove_sum(request_id, opened, following, ZERO_ADDRESS, 0, [])
    account, total, proof = honest.sums_before(opened.position, slot)
    return disputes.prove_sum(request_id, opened, following, account, total, proof)


class RevealSource(Protocol):
    """What a reveal is read from: the committed tree's nodes and steps (a Trace has them)."""

    @property
    def root(self) -> bytes: ...

    def node(self, height: int, index: int) -> bytes: ...

    def step(self, position: int) -> TraceStep: ...


def answer_reveals(attestia: Attestia, request_id: bytes, trace: RevealSource, *,
                   account: Any = None, receipts: list[Any] | None = None) -> int:
    """The responder side of every descent of a responded dispute that waits for a reveal:
    the nodes below its node (or, at a leaf, the step) from ``trace`` (the one whose root was
    posted; anyone holding it may send them). How many reveals were sent."""
    disputes = attestia.slasher
    dispute = disputes.dispute(request_id)
    if dispute.state != DisputeState.RESPONDED or dispute.traceRoot != trace.root:
        return 0
    sent = 0
    now = int(attestia.chain.w3.eth.get_block("latest")["timestamp"])
    for challenger in sorted({e.challenger for e in disputes.descents_opened(
            request_id=request_id)}):
        descent = disputes.descent(request_id, challenger)
        if not descent.open or descent.round != dispute.round or descent.challengerTurn \
                or now > descent.deadline:
            continue
        if descent.height == 0:
            call = disputes.reveal_step(request_id, challenger, trace.step(descent.index))
        else:
            bits = min(DESCENT_BITS, descent.height)
            below, base = descent.height - bits, descent.index << bits
            call = disputes.reveal_nodes(request_id, challenger,
                                         [trace.node(below, base + k) for k in range(1 << bits)])
        _sent(receipts, attestia.send(call, account=account))
        sent += 1
    return sent


def defend(attestia: Attestia, model: AttributionModel, request_id: bytes, publish_dir: Path,
           *, account: Any = None, early: bool = False) -> str:
    """Defence by anyone (design.md "Defence by anyone"): for an honest record of a model
    whose package this side holds, respond with the honest trace (posting the dispute bond)
    when the worker has not by half its window (at once with ``early``), and answer every
    descent's reveal of a responded honest root. Returns what it did ("responded",
    "revealed", "lie": the record is not honest, never defended; "" otherwise)."""
    from offchain.attribution.integer import shares_from_int_totals

    current = view(attestia, request_id)
    dispute = current.dispute
    if current.opened is None or dispute.state not in (DisputeState.OPEN,
                                                       DisputeState.RESPONDED):
        return ""
    honest = model.trace(current.opened.query, current.opened.label)
    if dispute.state == DisputeState.RESPONDED:
        sent = answer_reveals(attestia, request_id, honest, account=account)
        return "revealed" if sent else ""
    record = recorded(attestia, request_id)
    if tuple(shares_from_int_totals(honest.totals, list(honest.roster))) != \
            tuple(record.shares):
        return "lie"
    now = int(attestia.chain.w3.eth.get_block("latest")["timestamp"])
    window = attestia.slasher.response_window()
    if dispute.round != 0 or now > dispute.deadline \
            or (not early and dispute.deadline - now > window // 2):
        return ""
    where = publish_trace(honest, publish_dir, request_id)
    attestia.send(attestia.slasher.respond(request_id, honest.root, where, honest.totals,
                                           list(honest.roster), record.shares,
                                           bond=attestia.slasher.dispute_bond()),
                  account=account)
    return "responded"
