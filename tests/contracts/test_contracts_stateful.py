"""A stateful property test: random sequences of requests, records (on time or too late),
rejections, cancellations, re-pricing by the model owner, batches, sweeps, root proposals,
cancellations, activations, claims, withdrawals, and an equivocation slash with the slasher's
payouts, with the whole money flow modelled in Python and the conservation invariants checked
after every step.

Time is handled so that every outcome is predictable: each clock jump is longer than the root
timelock and a request's cancel time (deadline + grace), so a jump makes every earlier proposal
ready and every earlier request expired, and the clock never rests within a few minutes before
an epoch boundary (so a record's epoch is the one read just before it).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from offchain.merkle import StandardMerkleTree
from offchain.protocol import BPS, SLASH_REPORTER_BPS, Split, sorted_roster, split_fee
from offchain.rewards.settlement import PoolShare, cumulative_rewards
from tests.contracts.helpers import (
    ADMIN,
    GRACE,
    MIN_STAKE,
    OPERATOR,
    OUTSIDER,
    OWNER,
    RELAYER,
    REQUESTER,
    SIGNED,
    TIMELOCK,
    TIMEOUT,
    WORKER,
    WORKER_B,
    WORKER_C,
    Harness,
    Request,
    contributor,
    reverts,
    root_bytes,
    shares_for,
)

# Every clock jump outlasts the timelock and a request's cancel time (deadline + grace).
JUMP = max(TIMELOCK, TIMEOUT + GRACE) + 120
SAFE_BEFORE_BOUNDARY = 600  # never rest this close before an epoch boundary
CONTRIBUTORS = sorted_roster(contributor(100 + i) for i in range(4))  # both models' roster
PAYEES = [REQUESTER, OUTSIDER, OPERATOR, OWNER]
REPORTERS = [RELAYER, OUTSIDER]  # who may report an equivocation
SLASH_PAYEES = [RELAYER, OUTSIDER, ADMIN]  # reporters and the slasher's treasury (the deployer)
STAKES = 3 * MIN_STAKE  # WORKER, WORKER_B and WORKER_C (the one that equivocates)
EPOCH, GENESIS = 86_400, 0  # DeployParams defaults (checked in the test)
MODELS: list[tuple[bytes, int, tuple[int, int, int]]] = []  # (id, fee, split), set per test
TERMS = [(10_001, (2_000, 1_000, 7_000)), (999, (3_333, 3_333, 3_334)), (5_000, (0, 0, 10_000)),
         (1, (10_000, 0, 0)), (0, (5_000, 5_000, 0))]


@dataclass
class Proposal:
    epoch: int
    tree: StandardMerkleTree
    cumulative: dict[str, int]
    total: int
    status: str = "proposed"  # proposed | cancelled | activated
    ready: bool = False


class MoneyFlow(RuleBasedStateMachine):
    """The registry's and distributor's money, modelled exactly."""

    h: Harness  # set by the test before running
    seen: Counter[str] = Counter()  # outcomes reached, over all examples (checked at the end)

    requests = Bundle("requests")
    recorded = Bundle("recorded")

    def __init__(self) -> None:
        super().__init__()
        h = self.h
        self.snapshot = h.w3.provider.make_request("evm_snapshot", [])["result"]
        self._align()
        self.open: dict[bytes, Request] = {}
        self.balances: dict[str, int] = defaultdict(int)
        self.pools: dict[int, int] = defaultdict(int)
        self.pool_shares: dict[int, list[PoolShare]] = defaultdict(list)
        self.batches: dict[bytes, tuple[int, int, int, tuple]] = {}  # deposit, epoch, count, shares
        self.swept_batches: set[bytes] = set()
        self.funded_shares: list[PoolShare] = []
        self.earned: dict[str, int] = {}  # cumulative_rewards(funded_shares), kept current
        self.funded_pool_total = 0
        self.stakes = STAKES
        self.models = list(MODELS)  # the current terms (set_terms changes them)
        self.slashed = False
        self.slasher_balances: dict[str, int] = defaultdict(int)
        self.total_funded = h.attestia.distributor.total_funded()
        self.total_claimed = h.attestia.distributor.total_claimed()
        self.claimed: dict[str, int] = defaultdict(int)
        self.proposals: dict[int, Proposal] = {}
        self.active: Proposal | None = None
        self.latest: int | None = None
        self.next_root_epoch = 1
        assert h.balance(h.registry.address) == self.stakes  # the three workers' stakes only
        assert h.balance(h.slasher.address) == 0

    def teardown(self) -> None:
        """Whatever happened, a final settlement pays every contributor exactly what it
        earned; then the chain goes back to the snapshot."""
        try:
            self.settle()
            if any(p.status == "proposed" for p in self.proposals.values()):
                self._jump(JUMP)
            for account in CONTRIBUTORS:
                self.claim(account, tamper=False, wait=False)
            assert self.active is not None and self.active.cumulative == self.earned
            assert {a: v for a, v in self.claimed.items() if v} == self.earned
            self.money_is_conserved()
        finally:
            self.h.w3.provider.make_request("evm_revert", [self.snapshot])
            for sender in self.h.attestia.chain._senders.values():
                sender.resync()

    # -- time -------------------------------------------------------------------------------
    def _align(self) -> None:
        """Leave the clock well away from the end of an epoch (drift never crosses one), and
        note the epoch, which therefore stays current until the next jump."""
        into = (self.h.now() - GENESIS) % EPOCH
        if into > EPOCH - SAFE_BEFORE_BOUNDARY:
            self.h.travel(EPOCH - into + 60)
        self.epoch = self.h.epoch()

    def _jump(self, seconds: int) -> None:
        self.h.travel(seconds)
        self._align()
        for proposal in self.proposals.values():
            proposal.ready = True

    # -- registry rules -----------------------------------------------------------------------
    @rule(target=requests, model=st.integers(0, 1), named=st.booleans(),
          requester=st.sampled_from([REQUESTER, OUTSIDER]))
    def request(self, model: int, named: bool, requester) -> Request:
        model_id, fee, (worker_bps, owner_bps, _) = self.models[model]
        # Every request names its worker (issue 17): WORKER, or the second worker WORKER_B.
        request = self.h.request(model_id, worker=WORKER.address if named else WORKER_B.address,
                                 requester=requester, fee=fee)
        # The request carries the terms in force now.
        assert (request.fee, request.workerBps, request.ownerBps) == (fee, worker_bps, owner_bps)
        self.open[request.request_id] = request
        return request

    @rule(model=st.integers(0, 1), terms=st.sampled_from(TERMS))
    def set_terms(self, model: int, terms) -> None:
        """The owner re-prices and re-splits: open requests keep the terms they were paid
        under (fulfill below splits by the request, and the chain must agree)."""
        model_id, _, _ = self.models[model]
        fee, split = terms
        self.h.send(self.h.registry.set_terms(model_id, fee, SIGNED, Split(*split)), OWNER)
        self.models[model] = (model_id, fee, split)
        self.seen["set_terms"] += 1

    @initialize(target=recorded, model=st.integers(0, 1),
                who=st.sets(st.sampled_from(CONTRIBUTORS), min_size=1))
    def first_record(self, model: int, who: set[str]):
        """Every run starts with one record, so the reward path has something to settle."""
        return self.fulfill(self.request(model, True, REQUESTER), False, False, who)

    @rule(target=recorded, request=consumes(requests), by_sig=st.booleans(),
          second_worker=st.booleans(), who=st.sets(st.sampled_from(CONTRIBUTORS), min_size=1))
    def fulfill(self, request: Request, by_sig: bool, second_worker: bool, who: set[str]):
        h = self.h
        worker = WORKER_B if request.worker == WORKER_B.address else WORKER
        shares = shares_for(sorted(who))
        inference = h.record(request, shares, worker=worker.address)
        if inference.timestamp > h.deadline(request):
            # Signed after the deadline: refused; the requester takes the refund instead.
            with reverts("RequestExpired", h.deadline(request)):
                h.fulfill(request, inference, shares, by_sig=by_sig)
            self.seen["expired"] += 1
            self._cancel(request)
            return multiple()
        epoch = self.epoch
        receipt = h.fulfill(request, inference, shares, by_sig=by_sig)
        # Split by the terms the request was paid under, whatever the model says now.
        expected = split_fee(request.fee, request.workerBps, request.ownerBps, epoch)
        assert h.payout(receipt) == expected
        del self.open[request.request_id]
        self.balances[OPERATOR.address] += expected.workerCut
        self.balances[OWNER.address] += expected.ownerCut
        cut = expected.contributorCut
        self.pools[epoch] += cut
        self.pool_shares[epoch].append(PoolShare(epoch, cut, tuple(shares)))
        self.seen["fulfill"] += 1
        return (request, inference, shares)

    @rule(item=recorded, by_sig=st.booleans())
    def replay(self, item, by_sig: bool) -> None:
        request, inference, shares = item
        with reverts("AlreadyRecorded", self.h.digest(inference)):
            self.h.fulfill(request, inference, shares, by_sig=by_sig)

    @rule(target=requests, request=consumes(requests), by_operator=st.booleans())
    def reject(self, request: Request, by_operator: bool):
        h = self.h
        named = WORKER_B if request.worker == WORKER_B.address else WORKER
        h.send(h.registry.reject_request(request, "no"), OPERATOR if by_operator else named)
        del self.open[request.request_id]
        self.balances[request.requester] += request.fee
        self.seen["reject"] += 1
        return multiple()

    @rule(request=consumes(requests))
    def cancel(self, request: Request) -> None:
        self._cancel(request)

    def _cancel(self, request: Request) -> None:
        h = self.h
        cancel = h.registry.cancel_request(request)
        cancellable_at = h.cancellable_at(request)
        if h.now() + 5 < cancellable_at:
            with reverts("RequestNotExpired", cancellable_at):
                h.send(cancel, _account(request.requester))
            self._jump(JUMP)
        elif h.now() <= cancellable_at + 5:
            self._jump(10)
        h.send(cancel, _account(request.requester))
        del self.open[request.request_id]
        self.balances[request.requester] += request.fee
        self.seen["cancel"] += 1

    @precondition(lambda self: len(self.batches) < 3)  # batches need no set-up: cap them
    @rule(deposit=st.sampled_from([0, 1, 999, 10**6 + 1]), count=st.integers(1, 4),
          second_worker=st.booleans(), who=st.sets(st.sampled_from(CONTRIBUTORS), min_size=1))
    def commit_batch(self, deposit: int, count: int, second_worker: bool, who: set[str]) -> None:
        h = self.h
        worker = WORKER_B if second_worker else WORKER
        epoch = self.epoch
        batch_id = h.commit_batch(MODELS[0][0], h.unique("root"), count, deposit=deposit,
                                  worker=worker, epoch=epoch)
        self.batches[batch_id] = (deposit, epoch, count, tuple(shares_for(sorted(who))))
        self.seen["batch"] += 1

    @rule()
    def advance_epoch(self) -> None:
        self._jump(EPOCH - (self.h.now() - GENESIS) % EPOCH + JUMP)

    @rule()
    def settle(self) -> None:
        """A whole settlement round, as the settler runs it: end the epoch, sweep, propose."""
        self.advance_epoch()
        if self._sweepable_epochs() or self._sweepable_batches():
            self.sweep()
        latest = self.proposals.get(self.latest) if self.latest is not None else None
        if self.earned and (latest is None or latest.cumulative != self.earned
                            or latest.status == "cancelled"):
            self.propose_root()

    @precondition(lambda self: self._sweepable_epochs() or self._sweepable_batches())
    @rule()
    def sweep(self) -> None:
        h = self.h
        for epoch in self._sweepable_epochs():
            h.send(h.registry.sweep_epoch(epoch), RELAYER)
            self.total_funded += self.pools.pop(epoch)
            self.funded_shares += self.pool_shares.pop(epoch)
        batch_ids = self._sweepable_batches()
        if batch_ids:
            h.send(h.registry.sweep_batches(batch_ids), RELAYER)
            for batch_id in batch_ids:
                deposit, epoch, count, shares = self.batches[batch_id]
                self.swept_batches.add(batch_id)
                self.total_funded += deposit
                self.funded_shares += [PoolShare(epoch, deposit // count, shares)] * count
        self.earned = cumulative_rewards(self.funded_shares, 2**64)
        self.funded_pool_total = sum(s.pool for s in self.funded_shares)
        self.seen["sweep"] += 1
        with reverts("EpochNotEnded", self.epoch):
            h.send(h.registry.sweep_epoch(self.epoch), RELAYER)

    def _sweepable_epochs(self) -> list[int]:
        return sorted(e for e, amount in self.pools.items() if e < self.epoch and amount)

    def _sweepable_batches(self) -> list[bytes]:
        ready = [b for b, (_, e, _, _) in self.batches.items()
                 if e < self.epoch and b not in self.swept_batches]
        return ready if any(self.batches[b][0] for b in ready) else []

    # -- slashing -------------------------------------------------------------------------
    @precondition(lambda self: not self.slashed)
    @rule(reporter=st.sampled_from(REPORTERS), model=st.integers(0, 1))
    def slash(self, reporter, model: int) -> None:
        """WORKER_C signs two different records for one request: whoever reports it gets half
        its stake, the treasury the rest; the key is revoked and cannot be slashed twice."""
        h = self.h
        evidence = h.conflicting(h.unique("request"), self.models[model][0], worker=WORKER_C)
        h.send(h.slasher.slash_equivocation(*evidence), reporter)
        reward = MIN_STAKE * SLASH_REPORTER_BPS // BPS
        self.slasher_balances[reporter.address] += reward
        self.slasher_balances[ADMIN.address] += MIN_STAKE - reward
        self.stakes -= MIN_STAKE
        self.slashed = True
        worker = h.registry.worker(WORKER_C.address)
        assert worker.slashed and worker.stake == 0 and not worker.active
        with reverts("AlreadySlashed", WORKER_C.address):
            h.send(h.slasher.slash_equivocation(*h.conflicting(
                h.unique("request"), self.models[model][0], worker=WORKER_C)), reporter)
        self.seen["slash"] += 1

    @rule(payee=st.sampled_from(SLASH_PAYEES))
    def withdraw_slashed(self, payee) -> None:
        h = self.h
        amount = self.slasher_balances[payee.address]
        if amount == 0:
            with reverts("NothingToWithdraw"):
                h.send(h.slasher.withdraw(), payee)
            return
        before = h.balance(payee.address)
        receipt = h.send(h.slasher.withdraw(), payee)
        fee = receipt["gasUsed"] * receipt["effectiveGasPrice"]
        assert h.balance(payee.address) == before + amount - fee
        self.slasher_balances[payee.address] = 0
        self.seen["withdraw_slashed"] += 1

    @rule(payee=st.sampled_from(PAYEES))
    def withdraw(self, payee) -> None:
        h = self.h
        amount = self.balances[payee.address]
        if amount == 0:
            with reverts("NothingToWithdraw"):
                h.send(h.registry.withdraw(), payee)
            return
        before = h.balance(payee.address)
        receipt = h.send(h.registry.withdraw(), payee)
        fee = receipt["gasUsed"] * receipt["effectiveGasPrice"]
        assert h.balance(payee.address) == before + amount - fee
        self.balances[payee.address] = 0
        self.seen["withdraw"] += 1

    # -- distributor rules ------------------------------------------------------------------
    def _lazy_activate(self) -> None:
        """The distributor's _activateLatestIfReady, in the model."""
        if self.latest is None:
            return
        latest = self.proposals[self.latest]
        if self.active is not None and latest.epoch <= self.active.epoch:
            return
        if latest.status == "proposed" and latest.ready and \
                latest.total >= (self.active.total if self.active else 0):
            latest.status = "activated"
            self.active = latest

    @precondition(lambda self: self.earned)
    @rule()
    def propose_root(self) -> None:
        h = self.h
        cumulative = dict(self.earned)
        total = sum(cumulative.values())
        assert total <= self.total_funded
        tree = h.rewards_tree(cumulative)
        epoch = self.next_root_epoch
        self.next_root_epoch += 1
        h.send(h.attestia.distributor.propose_root(epoch, root_bytes(tree), total), ADMIN)
        self._lazy_activate()
        assert self.active is None or total >= self.active.total
        self.proposals[epoch] = Proposal(epoch, tree, cumulative, total)
        self.latest = epoch
        self.seen["propose"] += 1

    @precondition(lambda self: any(p.status == "proposed" and not p.ready
                                   for p in self.proposals.values()))
    @rule()
    def cancel_root(self) -> None:
        epoch = max(e for e, p in self.proposals.items() if p.status == "proposed" and not p.ready)
        self.h.send(self.h.attestia.distributor.cancel_root(epoch), ADMIN)
        self.proposals[epoch].status = "cancelled"
        self.seen["cancel_root"] += 1

    @precondition(lambda self: any(p.status == "proposed" for p in self.proposals.values()))
    @rule(data=st.data())
    def activate(self, data) -> None:
        h = self.h
        waiting = sorted(e for e, p in self.proposals.items() if p.status == "proposed")
        proposal = self.proposals[data.draw(st.sampled_from(waiting))]
        if not proposal.ready:
            with reverts("TimelockNotElapsed"):
                h.send(h.attestia.distributor.activate_root(proposal.epoch), RELAYER)
            self._jump(JUMP)
        activate = h.attestia.distributor.activate_root(proposal.epoch)
        if self.active is not None and proposal.epoch <= self.active.epoch:
            with reverts("EpochNotAfterActive", proposal.epoch, self.active.epoch):
                h.send(activate, RELAYER)
            return
        if self.active is not None and proposal.total < self.active.total:
            with reverts("TotalDecreased", proposal.total, self.active.total):
                h.send(activate, RELAYER)
            return
        h.send(activate, RELAYER)
        proposal.status = "activated"
        self.active = proposal
        self.seen["activate"] += 1

    @rule(account=st.sampled_from(CONTRIBUTORS), tamper=st.booleans(), wait=st.booleans())
    def claim(self, account: str, tamper: bool, wait: bool) -> None:
        h = self.h
        claim = h.attestia.distributor.claim
        if wait and any(not p.ready for p in self.proposals.values()):
            self._jump(JUMP)  # past the timelock: the claim activates the newest root lazily
        saved = (self.active, {e: p.status for e, p in self.proposals.items()})
        self._lazy_activate()
        active = self.active
        if active is None:
            with reverts("NoActiveRoot"):
                h.send(claim(account, 1, []), RELAYER)
            return
        if account not in active.cumulative:
            with reverts("InvalidProof"):
                h.send(claim(account, 1, []), RELAYER)
            self._restore(saved)
            return
        cumulative, proof = h.proof(active.tree, account)
        if tamper:
            with reverts("InvalidProof"):
                h.send(claim(account, cumulative + 1, proof), RELAYER)
        already = self.claimed[account]
        if cumulative <= already:
            with reverts("NothingToClaim", cumulative, already):
                h.send(claim(account, cumulative, proof), RELAYER)
            self._restore(saved)
            return
        before = h.balance(account)
        h.send(claim(account, cumulative, proof), RELAYER)
        paid = cumulative - already
        assert h.balance(account) == before + paid
        self.claimed[account] = cumulative
        self.total_claimed += paid
        self.seen["claim_paid"] += 1
        with reverts("NothingToClaim", cumulative, cumulative):  # never paid twice
            h.send(claim(account, cumulative, proof), RELAYER)

    def _restore(self, saved) -> None:
        """A reverted claim also reverts its lazy activation."""
        self.active, statuses = saved
        for epoch, status in statuses.items():
            self.proposals[epoch].status = status

    # -- invariants -----------------------------------------------------------------------------
    @invariant()
    def money_is_conserved(self) -> None:
        """One batched read of every figure, then the conservation laws."""
        h = self.h
        f, d = h.registry.contract.functions, h.distributor.contract.functions
        s = h.slasher.contract.functions
        pools = sorted(self.pools)
        reads = [h.registry.address, h.distributor.address, d.totalFunded(), d.totalClaimed(),
                 h.slasher.address]
        reads += [s.balances(p.address) for p in SLASH_PAYEES]
        reads += [f.balances(p.address) for p in PAYEES]
        reads += [f.epochPool(e) for e in pools]
        reads += [d.claimed(a) for a in CONTRIBUTORS]
        values = h.read_uints(reads)
        registry, distributor, funded, claimed_total, slasher = values[:5]
        values = values[5:]
        slash_balances, values = values[:len(SLASH_PAYEES)], values[len(SLASH_PAYEES):]
        balances, values = values[:len(PAYEES)], values[len(PAYEES):]
        epoch_pools, claimed = values[:len(pools)], values[len(pools):]

        # The registry holds exactly what it owes: escrow, credits, pools, batch deposits, stakes.
        escrow = sum(r.fee for r in self.open.values())
        unswept = sum(deposit for b, (deposit, _, _, _) in self.batches.items()
                      if b not in self.swept_batches)
        owed = escrow + sum(self.balances.values()) + sum(self.pools.values()) + unswept + \
            self.stakes
        assert registry == owed
        assert balances == [self.balances[p.address] for p in PAYEES]
        # The slasher holds exactly the unwithdrawn reporter and treasury credits.
        assert slash_balances == [self.slasher_balances[p.address] for p in SLASH_PAYEES]
        assert slasher == sum(self.slasher_balances.values())
        assert epoch_pools == [self.pools[e] for e in pools]

        # The distributor holds what was funded minus what was claimed.
        assert (funded, claimed_total) == (self.total_funded, self.total_claimed)
        assert distributor == funded - claimed_total
        # Nobody is paid more than its pools gave it, nor than the active root says.
        assert claimed == [self.claimed[a] for a in CONTRIBUTORS]
        for account, amount in zip(CONTRIBUTORS, claimed, strict=True):
            assert amount <= self.earned.get(account, 0)
            if amount:
                assert self.active is not None and amount <= self.active.cumulative[account]
        assert claimed_total <= self.funded_pool_total <= funded


def _account(address: str):
    return next(a for a in (REQUESTER, OUTSIDER) if a.address == address)


@pytest.mark.slow  # in `make test-slow` (CI runs it): keeps `make test` under 12 min
def test_money_flow_state_machine(h: Harness) -> None:
    MODELS.clear()
    for fee, split in TERMS[:2]:
        MODELS.append((h.register_model(fee=fee, split=split, contributors=CONTRIBUTORS), fee,
                       split))
    h.register_worker(WORKER)
    h.register_worker(WORKER_B)
    h.register_worker(WORKER_C)
    assert (h.registry.epoch_length(), h.genesis()) == (EPOCH, GENESIS)
    MoneyFlow.h = h
    MoneyFlow.seen.clear()
    run_state_machine_as_test(MoneyFlow, settings=settings(
        max_examples=16, stateful_step_count=40, deadline=None, database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    ))
    # The runs reached every outcome that matters (the final settlement guarantees claims).
    assert MoneyFlow.seen["fulfill"] and MoneyFlow.seen["sweep"] and MoneyFlow.seen["claim_paid"]
    assert MoneyFlow.seen["slash"] and MoneyFlow.seen["set_terms"]
