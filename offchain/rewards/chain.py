"""Settlement against the chain: sweep pools, recompute from events, propose, claim.

Every figure is recomputed from on-chain data (InferenceRecorded payouts and attribution
lists; batch deposits split by the leaves published at each batch's committed URI, read and
checked against the commitment by :mod:`offchain.record.batch_file`), so ``verify`` can be run by
anyone, and a batch published over https or IPFS settles like a local one.

One bad batch never stalls or inflates a settlement (docs/design.md, "Settlement"):

* a batch pays at most its deposit: each leaf's pool is the contributor cut of its
  published fee under the split in force at the commit, scaled down pro rata if the leaves
  claim more than the deposit (:func:`offchain.rewards.settlement.leaf_pools`);
* a batch whose file cannot be read (any :class:`~offchain.storage.uri.UriError`: no gateway, a
  timeout, a missing file) or fails any loader check (dataHash, root, count, model, worker,
  attribution, roster) is **quarantined**: its deposit is swept like any other but stays
  unallocated, the settlement reports it with the reason, and every other record settles.
  Roots are cumulative, so a later settlement that can read and check the file simply adds
  its leaves;
* a single record's share to an account outside the model's roster (the registry refuses
  those at record time; this is defence in depth) is not paid and is reported.

A file that passed is kept in the settler's cache (``<rewards dir>/batches/<dataHash>.json``:
the content hash makes any copy of the same bytes the same file), so a batch once settled
stays settled when its server later goes away.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from offchain.attribution.shares import shares_from_totals
from offchain.errors import AttestiaError
from offchain.merkle import StandardMerkleTree
from offchain.protocol import (
    DisputeState,
    Inference,
    RootStatus,
    Split,
    challenge_closes_at,
    epoch_at,
    epoch_end,
    leaf_dispute_id,
    leaf_hash,
    share_of,
)
from offchain.record.batch_file import BatchFileError, DataHashMismatch, load_bytes
from offchain.registry import Attestia, BatchCommitted, ModelRegistered, ModelTermsUpdated, Registry
from offchain.rewards.settlement import (
    PoolShare,
    build_tree,
    cumulative_rewards,
    leaf_pools,
    proof_for,
    split_by_roster,
)
from offchain.storage.atomic import atomic_write_bytes, atomic_write_json
from offchain.storage.uri import DEFAULT_TIMEOUT, UriError, read_uri
from offchain.timefmt import iso_if_set

FETCH_THREADS = 8
"""Batch files fetched at once (a slow server holds one thread for at most its timeout)."""
EXPLAIN_MAX_BATCHES = 16
"""Largest number of settled batches ``verify`` searches to explain an older root."""
UNREADABLE = "unreadable"
"""The ``check`` of a batch whose file could not be fetched (a UriError)."""


class SettlementError(AttestiaError):
    """Settlement cannot proceed (nothing to settle, a root on chain it cannot reproduce)."""


# -- what a settlement is computed from ---------------------------------------------------------

@dataclass(frozen=True)
class BatchOutcome:
    """A deposited batch in a settlement: settled by its leaves, or quarantined."""

    batch: BatchCommitted
    included: bool
    check: str = ""
    """The failed check (a batch_file check name, ``unreadable``, or ``terms``)."""
    reason: str = ""
    leaves: tuple[PoolShare, ...] = ()
    capped: bool = False
    """The file's fees claim more than the deposit: its leaves are paid pro rata."""
    inferences: tuple[Inference, ...] = ()
    """The leaves' records as published (beside ``leaves``, position for position)."""

    @property
    def quarantined(self) -> bool:
        return not self.included

    @property
    def allocated(self) -> int:
        """What the batch pays its contributors in all (never above its deposit)."""
        return sum(leaf.allocated() for leaf in self.leaves)

    def to_json(self) -> dict[str, Any]:
        b = self.batch
        data: dict[str, Any] = {
            "batchId": "0x" + b.batch_id.hex(), "epoch": b.epoch, "deposit": b.deposit,
            "count": b.count, "worker": b.worker, "dataURI": b.data_uri,
            "dataHash": "0x" + b.data_hash.hex(),
            "state": "settled" if self.included else "quarantined"}
        if self.included:
            data |= {"allocated": self.allocated, "capped": self.capped}
        else:
            data |= {"check": self.check, "reason": self.reason}
        return data


@dataclass(frozen=True)
class FlaggedRecord:
    """A single record whose list pays accounts outside its model's roster (not paid)."""

    request_id: bytes
    model_id: bytes
    outside: tuple[tuple[str, int], ...]
    unallocated: int

    def to_json(self) -> dict[str, Any]:
        return {"requestId": "0x" + self.request_id.hex(),
                "modelId": "0x" + self.model_id.hex(),
                "outside": [[a, b] for a, b in self.outside], "unallocated": self.unallocated}


@dataclass(frozen=True)
class Ledger:
    """Every record and deposited batch through an epoch, as this settler can check them."""

    through_epoch: int
    singles: tuple[PoolShare, ...]
    batches: tuple[BatchOutcome, ...]
    flagged: tuple[FlaggedRecord, ...]

    @property
    def quarantined(self) -> list[BatchOutcome]:
        return [b for b in self.batches if b.quarantined]

    @property
    def funded(self) -> int:
        """What the pools of these epochs hold: single-record cuts plus every deposit."""
        return sum(s.pool for s in self.singles) + sum(b.batch.deposit for b in self.batches)

    def shares(self, exclude: Collection[bytes] = ()) -> list[PoolShare]:
        """The records paid: single records, then the leaves of every settled batch
        except those in ``exclude`` (batch ids)."""
        records = list(self.singles)
        for outcome in self.batches:
            if outcome.included and outcome.batch.batch_id not in exclude:
                records += outcome.leaves
        return records


def _split_history(attestia: Attestia, model_id: bytes) -> list[tuple[tuple[int, int], Split]]:
    """The model's split as registered and after each ``setTerms``, by log position.

    Read from ModelRegistered and ModelTermsUpdated, so every settler agrees on the split a
    batch was committed under.
    """
    registry = attestia.registry
    events: list[ModelRegistered | ModelTermsUpdated] = [
        *registry.models_registered(model_id=model_id), *registry.terms_updated(model_id=model_id)]
    history = [((e.meta.block, e.meta.log_index), e.split) for e in events]
    return sorted(history, key=lambda item: item[0])


def _fetch(batch: BatchCommitted, timeout: float) -> bytes | UriError:
    try:
        return read_uri(batch.data_uri, timeout=timeout)
    except UriError as exc:
        return exc


def _cached(cache: Path | None, batch: BatchCommitted) -> Path | None:
    return None if cache is None else cache / f"0x{batch.data_hash.hex()}.json"


@dataclass(frozen=True)
class Finality:
    """When each single record's contributor share becomes payable (design.md "Disputes").

    A record is final once its challenge window has closed without a challenge (its signed
    timestamp + challengeWindow) or its disputes have been resolved (attribution and output:
    the last resolving block's time); it is paid in the settlement of the epoch it became
    final in. A record whose worker lost either dispute is paid by the equal split over the
    model's roster. Everything here is chain data, so every settler (and ``rewards verify``)
    decides alike.
    """

    challenge_window: int
    genesis: int
    epoch_length: int
    disputed: frozenset[bytes]
    resolved: dict[bytes, tuple[int, bool]]

    @classmethod
    def read(cls, attestia: Attestia) -> Finality:
        reg = attestia.registry
        disputes = attestia.slasher
        # A record can have two disputes (its attribution's and its output's, issue 18), both
        # known by its record id (request id or leaf dispute id): it is final once every one
        # opened has resolved (at the last resolution), and lost if its worker lost either.
        opened = ([e.request_id for e in disputes.opened()]
                  + [e.record_id for e in disputes.outputs_opened()])
        ended = ([(e.request_id, e.outcome, e.meta.block) for e in disputes.resolved()]
                 + [(e.record_id, e.outcome, e.meta.block) for e in disputes.outputs_resolved()])
        count = Counter(opened)
        done: dict[bytes, list[tuple[int, bool]]] = {}
        for record, outcome, block_number in ended:
            block = attestia.chain.w3.eth.get_block(block_number)
            lost = outcome in (DisputeState.FRAUD, DisputeState.NO_RESPONSE)
            done.setdefault(record, []).append((int(block["timestamp"]), lost))
        resolved = {record: (max(t for t, _ in ends), any(lost for _, lost in ends))
                    for record, ends in done.items() if len(ends) >= count.get(record, 0)}
        return cls(reg.challenge_window(), reg.genesis(), reg.epoch_length(),
                   frozenset(opened), resolved)

    def of(self, record: Inference) -> tuple[int | None, bool]:
        """(epoch the record became final in, or None while it is not; whether its worker
        lost a dispute)."""
        return self.of_dispute(record.requestId, record.timestamp)

    def of_leaf(self, batch_id: bytes, leaf: Inference, committed_at: int
                ) -> tuple[int | None, bool]:
        """The same for a batch leaf: its window runs from its batch's commit (the chain's
        time, as ``challengeLeaf`` counts it) and its dispute goes by its leaf dispute id."""
        return self.of_dispute(leaf_dispute_id(batch_id, leaf_hash(leaf)), committed_at)

    def of_dispute(self, dispute_id: bytes, window_from: int) -> tuple[int | None, bool]:
        if dispute_id in self.resolved:
            when, lost = self.resolved[dispute_id]
            return epoch_at(when, self.genesis, self.epoch_length), lost
        if dispute_id in self.disputed:
            return None, False
        final_from = challenge_closes_at(window_from, self.challenge_window) + 1
        return epoch_at(final_from, self.genesis, self.epoch_length), False


def _rosters(reg: Registry) -> Callable[[bytes], frozenset[str]]:
    """Each model's registered roster, read from the chain once per model."""
    rosters: dict[bytes, frozenset[str]] = {}

    def roster(model_id: bytes) -> frozenset[str]:
        if model_id not in rosters:
            rosters[model_id] = frozenset(reg.contributors(model_id) or ())
        return rosters[model_id]
    return roster


def read_ledger(attestia: Attestia, through_epoch: int, *, cache: Path | None = None,
                timeout: float = DEFAULT_TIMEOUT) -> Ledger:
    """Read and check everything settled through ``through_epoch``.

    ``cache`` is the settler's directory of batch files that passed (read first, written
    after a file passes); None reads every file from its URI.
    """
    reg = attestia.registry
    roster = _rosters(reg)

    singles: list[PoolShare] = []
    flagged: list[FlaggedRecord] = []
    finality = Finality.read(attestia)
    for r in reg.recorded():
        if r.payout.epoch > through_epoch:
            continue
        final_epoch, worker_lost = finality.of(r.inference)
        if final_epoch is None or final_epoch > through_epoch:
            continue  # still challengeable or under dispute: a later settlement pays it
        cut = r.payout.contributorCut
        model_roster = roster(r.inference.modelId)
        shares = tuple(r.shares)
        if worker_lost:
            shares = tuple(shares_from_totals({}, roster=sorted(model_roster)))
        kept, outside = split_by_roster(shares, model_roster)
        if outside:
            unpaid = sum(share_of(cut, bps) for _, bps in outside)
            flagged.append(FlaggedRecord(r.request_id, r.inference.modelId, outside, unpaid))
        singles.append(PoolShare(final_epoch, cut, kept, "0x" + r.request_id.hex()))

    deposited = [b for b in reg.batches() if b.epoch <= through_epoch and b.deposit > 0]
    outcomes = [_final_leaves(attestia, outcome, finality, roster, through_epoch)
                for outcome in checked_batches(attestia, deposited, roster, cache=cache,
                                               timeout=timeout)]
    return Ledger(through_epoch, tuple(singles), tuple(outcomes), tuple(flagged))


def _final_leaves(attestia: Attestia, outcome: BatchOutcome, finality: Finality,
                  roster: Callable[[bytes], frozenset[str]], through_epoch: int
                  ) -> BatchOutcome:
    """A settled batch's leaves that are final through ``through_epoch``, each in the epoch
    it became final in and, if its worker lost the leaf's dispute, by the equal split over
    the roster (design.md "Disputes"): a leaf under dispute is held alone, the batch's other
    leaves are paid as their window closes."""
    if not outcome.included:
        return outcome
    batch = outcome.batch
    committed_at = int(attestia.chain.w3.eth.get_block(batch.meta.block)["timestamp"])
    leaves: list[PoolShare] = []
    inferences: list[Inference] = []
    for leaf, inference in zip(outcome.leaves, outcome.inferences, strict=True):
        final_epoch, worker_lost = finality.of_leaf(batch.batch_id, inference, committed_at)
        if final_epoch is None or final_epoch > through_epoch:
            continue  # still challengeable or under dispute: a later settlement pays it
        shares = leaf.shares
        if worker_lost:
            shares = tuple(shares_from_totals({}, roster=sorted(roster(batch.model_id))))
        leaves.append(replace(leaf, epoch=final_epoch, shares=shares))
        inferences.append(inference)
    return replace(outcome, leaves=tuple(leaves), inferences=tuple(inferences))


def batch_outcomes(attestia: Attestia, *, batch_id: bytes | None = None,
                   cache: Path | None = None, timeout: float = DEFAULT_TIMEOUT
                   ) -> list[BatchOutcome]:
    """Every committed batch (or the one ``batch_id``), any epoch, checked: its leaves with
    their contributor pools when its file passes (``record`` is ``batch:0x<id>:<index>``),
    else why not. The leaves are the records the explorer's indexer adds beside the single
    ones (``attestia attribution`` counts them too)."""
    reg = attestia.registry
    roster = _rosters(reg)

    batches = [b for b in reg.batches() if batch_id is None or b.batch_id == batch_id]
    return checked_batches(attestia, batches, roster, cache=cache, timeout=timeout)


def checked_batches(attestia: Attestia, deposited: Sequence[BatchCommitted],
                    roster: Callable[[bytes], frozenset[str]], *, cache: Path | None = None,
                    timeout: float = DEFAULT_TIMEOUT) -> list[BatchOutcome]:
    """Each batch's file read (the cache first), checked and priced, or quarantined: the
    settlement's batches, and the batch leaves ``attestia attribution --contributor`` counts
    as the explorer does."""
    cached: dict[bytes, bytes] = {}
    for batch in deposited:
        path = _cached(cache, batch)
        if path is not None and path.is_file():
            cached[batch.batch_id] = path.read_bytes()
    wanted = [b for b in deposited if b.batch_id not in cached]
    with ThreadPoolExecutor(max_workers=FETCH_THREADS) as fetchers:
        fetched = dict(zip((b.batch_id for b in wanted),
                           fetchers.map(lambda b: _fetch(b, timeout), wanted), strict=True))

    splits: dict[bytes, list[tuple[tuple[int, int], Split]]] = {}
    outcomes = []
    for batch in deposited:
        if batch.model_id not in splits:
            splits[batch.model_id] = _split_history(attestia, batch.model_id)
        outcome = None
        if batch.batch_id in cached:
            outcome = _check(batch, cached[batch.batch_id], roster(batch.model_id),
                             splits[batch.model_id], f"{batch.data_uri} (cached copy)")
            if outcome.check == DataHashMismatch.check:  # a damaged cache entry: refetch
                outcome = None
                fetched[batch.batch_id] = _fetch(batch, timeout)
        if outcome is None:
            data = fetched[batch.batch_id]
            if isinstance(data, UriError):
                outcome = BatchOutcome(batch, False, UNREADABLE, str(data))
            else:
                outcome = _check(batch, data, roster(batch.model_id), splits[batch.model_id],
                                 batch.data_uri)
                path = _cached(cache, batch)
                if outcome.included and path is not None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    atomic_write_bytes(path, data)
        outcomes.append(outcome)
    return outcomes


def _check(batch: BatchCommitted, data: bytes, roster: frozenset[str],
           history: list[tuple[tuple[int, int], Split]], source: str) -> BatchOutcome:
    """Check one batch's bytes and price its leaves (or say why it is quarantined)."""
    try:
        published = load_bytes(data, batch, roster=roster, source=source)
    except BatchFileError as exc:
        return BatchOutcome(batch, False, exc.check, str(exc))
    position = (batch.meta.block, batch.meta.log_index)
    in_force = [split for at, split in history if at < position]
    if not in_force:
        return BatchOutcome(batch, False, "terms", f"no registration of model "
                            f"0x{batch.model_id.hex()} before the commit")
    split = in_force[-1]
    pools, capped = leaf_pools([leaf.fee for leaf in published.leaves], split.workerBps,
                               split.ownerBps, batch.deposit)
    leaves = tuple(PoolShare(batch.epoch, pool, leaf.shares,
                             f"batch:0x{batch.batch_id.hex()}:{index}")
                   for index, (pool, leaf) in enumerate(zip(pools, published.leaves,
                                                            strict=True)))
    outcome = BatchOutcome(batch, True, leaves=leaves, capped=capped,
                           inferences=tuple(leaf.inference for leaf in published.leaves))
    assert outcome.allocated <= batch.deposit
    return outcome


# -- settlements ---------------------------------------------------------------------------------

@dataclass
class Settlement:
    epoch: int
    root: str
    total: int
    cumulative: dict[str, int]
    tree: StandardMerkleTree
    path: Path | None = None
    batches: tuple[BatchOutcome, ...] = ()
    flagged: tuple[FlaggedRecord, ...] = ()
    funded: int = 0
    """What the pools of epochs <= ``epoch`` received (swept or to be swept)."""
    excluded: tuple[bytes, ...] = ()
    """Batches valid now that this root leaves out: it reproduces a root settled while they
    were quarantined (a later epoch's settlement includes them)."""

    @property
    def quarantined(self) -> list[BatchOutcome]:
        return [b for b in self.batches if b.quarantined]

    @property
    def unallocated(self) -> int:
        return self.funded - self.total


def describe(outcome: BatchOutcome) -> str:
    """One line about a quarantined batch, for the CLI and errors."""
    b = outcome.batch
    return (f"batch 0x{b.batch_id.hex()} (epoch {b.epoch}, deposit {b.deposit} wei) "
            f"quarantined: {outcome.check}: {outcome.reason}")


def settlement_of(ledger: Ledger, exclude: Iterable[bytes] = ()) -> Settlement:
    """The settlement of a ledger (leaving out the settled batches in ``exclude``)."""
    left_out = tuple(exclude)
    records = ledger.shares(frozenset(left_out))
    cumulative = cumulative_rewards(records, ledger.through_epoch)
    if not cumulative:
        held = "".join(f"; {describe(b)}" for b in ledger.quarantined)
        raise SettlementError(f"no contributor has earned anything through epoch "
                              f"{ledger.through_epoch}{held}")
    tree = build_tree(cumulative)
    total = sum(cumulative.values())
    assert total == sum(r.allocated() for r in records)
    assert total <= ledger.funded
    return Settlement(ledger.through_epoch, tree.root, total, cumulative, tree,
                      batches=ledger.batches, flagged=ledger.flagged, funded=ledger.funded,
                      excluded=left_out)


def compute(attestia: Attestia, through_epoch: int, *, cache: Path | None = None
            ) -> Settlement:
    """Recompute every contributor's cumulative reward through ``through_epoch``."""
    return settlement_of(read_ledger(attestia, through_epoch, cache=cache))


def explain(ledger: Ledger, root: str, total: int) -> Settlement | None:
    """The settlement of ``ledger`` whose root is ``root``: all of it, or all but some
    batches valid now that were quarantined when ``root`` was settled. None if neither.

    Each batch's allocation is additive, so the batches left out must allocate exactly
    what the recomputed total exceeds ``total`` by; only those subsets are tried.
    """
    full = settlement_of(ledger)
    if full.root.lower() == root.lower():
        return full
    excess = full.total - total
    candidates = [b for b in ledger.batches if b.included and b.allocated > 0]
    if excess <= 0 or len(candidates) > EXPLAIN_MAX_BATCHES:
        return None
    for size in range(1, len(candidates) + 1):
        for subset in itertools.combinations(candidates, size):
            if sum(b.allocated for b in subset) != excess:
                continue
            try:
                again = settlement_of(ledger, [b.batch.batch_id for b in subset])
            except SettlementError:
                continue
            if again.root.lower() == root.lower():
                return again
    return None


def sweep_ended(attestia: Attestia, account: Any = None) -> int:
    """Send every ended, unswept epoch pool and batch deposit to the distributor (quarantined
    batches too: their deposits wait there, unallocated, until their files check out)."""
    reg = attestia.registry
    current = reg.current_epoch()
    swept = 0
    epochs = {record.payout.epoch for record in reg.recorded()}
    for epoch in sorted(e for e in epochs if e < current):
        if reg.epoch_pool(epoch) > 0:
            attestia.send(reg.sweep_epoch(epoch), account=account)
            swept += 1
    pending = [b.batch_id for b in reg.batches()
               if b.epoch < current and b.deposit > 0 and not reg.batch_info(b.batch_id).swept]
    if pending:
        attestia.send(reg.sweep_batches(pending), account=account)
        swept += len(pending)
    return swept


def batch_cache(out_dir: Path) -> Path:
    """Where a settler keeps the batch files that passed (by dataHash)."""
    return out_dir / "batches"


def settle(attestia: Attestia, out_dir: Path, account: Any = None) -> Settlement:
    """Sweep, recompute every contributor's cumulative reward, write the tree, propose it.

    Quarantined batches are reported on the result (``quarantined``), never fatal. If this
    epoch already has a root on chain, it is kept when it is this settlement or one that
    left out batches quarantined at the time (``excluded``: the next epoch includes them).
    """
    through = attestia.registry.current_epoch() - 1
    if through < 0:
        raise SettlementError("no epoch has ended yet")
    sweep_ended(attestia, account)
    ledger = read_ledger(attestia, through, cache=batch_cache(out_dir))
    existing = attestia.distributor.epoch_root(through)
    if existing.status in (RootStatus.PROPOSED, RootStatus.ACTIVATED):
        kept = explain(ledger, "0x" + existing.root.hex(), existing.total)
        if kept is None:
            raise SettlementError(f"epoch {through} already has a different root on chain "
                                  f"(0x{existing.root.hex()}) that these records do not give")
        _write(kept, out_dir)
        return kept
    settlement = settlement_of(ledger)
    _write(settlement, out_dir)
    attestia.send(attestia.distributor.propose_root(through, bytes.fromhex(settlement.root[2:]),
                                             settlement.total), account=account)
    return settlement


def _write(settlement: Settlement, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"epoch-{settlement.epoch}.json"
    atomic_write_json(path, settlement.tree.dump(), indent=1)
    settlement.path = path


def load_tree(out_dir: Path, epoch: int) -> StandardMerkleTree | None:
    path = out_dir / f"epoch-{epoch}.json"
    return StandardMerkleTree.load(json.loads(path.read_text())) if path.exists() else None


def claim(attestia: Attestia, account_address: str, out_dir: Path,
          sender_account: Any = None) -> int:
    """Claim everything ``account_address`` is owed under the claimable root. Returns wei."""
    dist = attestia.distributor
    claimable = dist.claimable_root()
    if claimable is None:
        raise SettlementError("no root is claimable yet (proposed roots wait for the timelock)")
    epoch, root = claimable.epoch, claimable.root
    tree = load_tree(out_dir, epoch)
    if tree is None or tree.root.lower() != "0x" + root.hex():
        check = verify(attestia, epoch, cache=batch_cache(out_dir))  # recompute from chain
        if not check.ok:
            raise SettlementError(
                f"cannot reproduce epoch {epoch}'s root 0x{root.hex()} from chain data and the "
                f"batch files readable now" + "".join(f"; {describe(b)}"
                                                      for b in check.settlement.quarantined))
        tree = check.settlement.tree
    try:
        cumulative, proof = proof_for(tree, account_address)
    except KeyError:
        raise SettlementError(f"{account_address} has no reward under epoch {epoch}") from None
    already = dist.claimed(account_address)
    if cumulative <= already:
        return 0
    attestia.send(dist.claim(account_address, cumulative,
                             [bytes.fromhex(p[2:]) for p in proof]), account=sender_account)
    return cumulative - already


@dataclass
class RootCheck:
    """``rewards verify``: an epoch's root on chain against the recomputed one."""

    epoch: int
    onchain_root: str
    onchain_total: int
    settlement: Settlement
    """The matching settlement if ``ok`` (perhaps with ``excluded`` batches), else the
    full recomputation."""
    ok: bool
    quarantined: list[BatchOutcome] = field(default_factory=list)


def verify(attestia: Attestia, epoch: int, *, cache: Path | None = None) -> RootCheck:
    """Recompute epoch ``epoch`` from chain data and the batch files readable now; compare
    with the root on chain. A root that left out batches quarantined when it was settled,
    and valid now, still matches (``settlement.excluded`` names them)."""
    onchain = attestia.distributor.epoch_root(epoch)
    root = "0x" + onchain.root.hex()
    ledger = read_ledger(attestia, epoch, cache=cache)
    matched = explain(ledger, root, onchain.total)
    settlement = matched or settlement_of(ledger)
    return RootCheck(epoch, root, onchain.total, settlement, matched is not None,
                     ledger.quarantined)


def status(attestia: Attestia, *, cache: Path | None = None) -> Ledger | None:
    """Every deposited batch of the ended epochs, settled or quarantined (None before the
    first epoch has ended)."""
    through = attestia.registry.current_epoch() - 1
    return None if through < 0 else read_ledger(attestia, through, cache=cache)


# -- where an account's rewards stand (``rewards status --account``, ``rewards claim``) ---------

@dataclass(frozen=True)
class Clock:
    """The registry's epoch clock as the chain sees it now."""

    now: int
    """The latest block's timestamp."""
    epoch: int
    """The current (not yet ended) epoch."""
    epoch_ends_at: int
    timelock: int
    """Seconds a proposed root waits before it is claimable."""
    genesis: int
    epoch_length: int

    @classmethod
    def of(cls, attestia: Attestia) -> Clock:
        reg = attestia.registry
        now = int(attestia.chain.w3.eth.get_block("latest")["timestamp"])
        genesis, length = reg.genesis(), reg.epoch_length()
        epoch = epoch_at(now, genesis, length)
        return cls(now, epoch, epoch_end(epoch, genesis, length), attestia.distributor.timelock(),
                   genesis, length)

    def end_of(self, epoch: int) -> int:
        """When ``epoch`` ends (a settlement can cover it from then on)."""
        return epoch_end(epoch, self.genesis, self.epoch_length)


def settleable_from(attestia: Attestia, clock: Clock, account: str | None = None) -> int:
    """When everything earned so far (by ``account``, or by anyone) can be settled: the end of
    the epoch in which the last of those records becomes final (its challenge window closes
    in this epoch or the next)."""
    def total(through: int) -> int:
        try:
            s = compute(attestia, through)
        except SettlementError:
            return 0
        if account is None:
            return s.total
        return {a.lower(): v for a, v in s.cumulative.items()}.get(account.lower(), 0)

    later = total(clock.epoch + 1) > total(clock.epoch)
    return clock.end_of(clock.epoch + 1 if later else clock.epoch)


@dataclass(frozen=True)
class AccountRewards:
    """One account's rewards: claimed, claimable now, pending under a root in its timelock
    (claimable from ``pending_ready_at``), and earned in records no root covers yet (the
    current epoch's, or ended epochs not settled yet)."""

    account: str
    clock: Clock
    claimed: int
    claimable: int
    claimable_epoch: int | None
    pending: int
    pending_epoch: int | None
    pending_ready_at: int | None
    unsettled: int
    unsettled_ended: bool
    """Whether the unsettled records include ended epochs (``rewards settle`` covers them)."""
    settleable_at: int | None = None
    """When the unsettled amount can be settled (None when nothing is unsettled)."""

    @property
    def state(self) -> str:
        """``claimable``, ``pending``, ``unsettled`` (earned, no root yet), ``claimed``
        (everything earned is claimed) or ``nothing`` (nothing earned yet)."""
        if self.claimable:
            return "claimable"
        if self.pending:
            return "pending"
        if self.unsettled:
            return "unsettled"
        return "claimed" if self.claimed else "nothing"

    def to_json(self) -> dict[str, Any]:
        return {"account": self.account, "state": self.state, "claimedWei": self.claimed,
                "claimableWei": self.claimable, "claimableEpoch": self.claimable_epoch,
                "pendingWei": self.pending, "pendingEpoch": self.pending_epoch,
                "pendingClaimableAt": iso_if_set(self.pending_ready_at),
                "unsettledWei": self.unsettled,
                "settleableAt": iso_if_set(self.settleable_at) if self.unsettled else None,
                "currentEpoch": self.clock.epoch,
                "currentEpochEndsAt": iso_if_set(self.clock.epoch_ends_at)}


def _cumulative_under(attestia: Attestia, epoch: int, root: bytes, out_dir: Path | None
                      ) -> dict[str, int]:
    """Every account's cumulative amount under epoch ``epoch``'s root: from the settler's
    tree when it is this root, else recomputed from chain data (``verify``)."""
    tree = load_tree(out_dir, epoch) if out_dir is not None else None
    if tree is not None and tree.root.lower() == "0x" + root.hex():
        out = {}
        for value in tree.values:
            leaf = value["value"] if isinstance(value, dict) else value
            out[str(leaf[0]).lower()] = int(leaf[1])
        return out
    check = verify(attestia, epoch, cache=batch_cache(out_dir) if out_dir else None)
    if not check.ok:
        raise SettlementError(f"cannot reproduce epoch {epoch}'s root 0x{root.hex()} from chain "
                              "data and the batch files readable now")
    return {a.lower(): v for a, v in check.settlement.cumulative.items()}


def _earned(attestia: Attestia, through_epoch: int) -> dict[str, int]:
    """Cumulative rewards through an epoch (empty when nobody earned anything)."""
    if through_epoch < 0:
        return {}
    try:
        return compute(attestia, through_epoch).cumulative
    except SettlementError:
        return {}


def account_rewards(attestia: Attestia, account: str, out_dir: Path | None = None
                    ) -> AccountRewards:
    """Where ``account``'s rewards stand now (read-only: nothing is sent)."""
    dist, key = attestia.distributor, account.lower()
    clock = Clock.of(attestia)
    claimed = dist.claimed(account)
    claimable_now = dist.claimable_root()
    under_claimable = 0
    if claimable_now is not None:
        under_claimable = _cumulative_under(attestia, claimable_now.epoch, claimable_now.root,
                                            out_dir).get(key, 0)
    pending, pending_epoch, ready_at = 0, None, None
    covered = max(under_claimable, claimed)
    for event in sorted(dist.roots_proposed(), key=lambda e: e.epoch, reverse=True):
        onchain = dist.epoch_root(event.epoch)
        if onchain.status != RootStatus.PROPOSED or onchain.readyAt <= clock.now:
            continue
        amount = _cumulative_under(attestia, event.epoch, onchain.root, out_dir).get(key, 0)
        pending, pending_epoch, ready_at = max(0, amount - covered), event.epoch, onchain.readyAt
        covered = max(covered, amount)
        break
    # Through the next epoch: a record is settled in the epoch its challenge window closes
    # in, which for a record made now is this epoch or the next.
    earned, earned_ended = (_earned(attestia, clock.epoch + 1),
                            _earned(attestia, clock.epoch - 1))
    lowered = {a.lower(): v for a, v in earned.items()}
    ended = {a.lower(): v for a, v in earned_ended.items()}
    unsettled = max(0, lowered.get(key, 0) - covered)
    return AccountRewards(account, clock, claimed,
                          claimable=max(0, under_claimable - claimed),
                          claimable_epoch=claimable_now.epoch if claimable_now else None,
                          pending=pending, pending_epoch=pending_epoch,
                          pending_ready_at=ready_at, unsettled=unsettled,
                          unsettled_ended=ended.get(key, 0) > covered,
                          settleable_at=(settleable_from(attestia, clock, account)
                                         if unsettled else None))
