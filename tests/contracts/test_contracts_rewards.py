"""Rewards: epoch sweeps, the ETH distributor end to end (records -> sweep -> root ->
timelock -> claim), the ERC-20 distributor, and every revert of the distributor."""

from __future__ import annotations

from offchain.protocol import EpochRoot, RootStatus
from offchain.registry import ClaimableRoot
from offchain.rewards.settlement import PoolShare, cumulative_rewards
from tests.contracts.helpers import (
    ADMIN,
    OPERATOR,
    OUTSIDER,
    RELAYER,
    TIMELOCK,
    ZERO32,
    ZERO_ADDRESS,
    Harness,
    contributor,
    reverts,
    shares_for,
)


def served_pools(h: Harness, model_id: bytes, lists: list[list[tuple[str, int]]]) -> list:
    """Serve one request per attribution list; the PoolShare of each from its event."""
    pools = []
    for shares in lists:
        request = h.request(model_id)
        inference = h.record(request, shares)
        receipt = h.fulfill(request, inference, shares, by_sig=len(pools) % 2 == 1)
        payout = h.payout(receipt)
        pools.append(PoolShare(payout.epoch, payout.contributorCut, tuple(shares)))
    return pools


def claim(h: Harness, tree, account: str, distributor=None, sender=OUTSIDER) -> int:
    cumulative, proof = h.proof(tree, account)
    if distributor is None:  # the deployment's: the typed client
        receipt = h.send(h.attestia.distributor.claim(account, cumulative, proof), sender)
        distributor = h.distributor
    else:
        receipt = h.send(distributor.functions.claim(account, cumulative, proof), sender)
    return h.events(distributor, "Claimed", receipt)[0]["amount"]


def test_sweep_epoch(h: Harness) -> None:
    model_id = h.setup_signed(fee=1_000)
    h.serve(model_id)
    epoch = h.epoch()
    sweep = h.registry.sweep_epoch
    with reverts("EpochNotEnded", epoch):
        h.send(sweep(epoch), OUTSIDER)
    with reverts("EpochNotEnded", epoch + 5):
        h.send(sweep(epoch + 5), OUTSIDER)
    h.next_epoch()
    with reverts("NothingToSweep", epoch - 1):
        h.send(sweep(epoch - 1), OUTSIDER)
    h.send(sweep(epoch), OUTSIDER)
    assert h.registry.epoch_pool(epoch) == 0
    assert h.attestia.distributor.total_funded() == 700
    assert h.balance(h.distributor.address) == 700
    with reverts("NothingToSweep", epoch):
        h.send(sweep(epoch), OUTSIDER)


def test_eth_rewards_end_to_end(h: Harness) -> None:
    model_id = h.setup_signed(fee=10_001)
    a, b, c, d = (contributor(i) for i in range(4))
    lopsided = sorted([(a, 1), (c, 9_999)], key=lambda s: int(s[0], 16))
    pools = served_pools(h, model_id, [shares_for([a, b]), shares_for([a, b, c]), lopsided])
    # A batch of 3 leaves with deposit 3,001 (each leaf's pool: 1,000), all crediting d.
    batch_leaves = h.batch_leaves(model_id, 3, shares=[(d, 10_000)])
    batch_id = h.commit_batch(model_id, bytes.fromhex(h.tree(batch_leaves).root[2:]), 3,
                              deposit=3_001)
    epoch = h.epoch()
    pools += [PoolShare(epoch, 3_001 // 3, ((d, 10_000),)) for _ in batch_leaves]

    h.next_epoch()
    h.send(h.registry.sweep_epoch(epoch), OUTSIDER)
    h.send(h.registry.sweep_batches([batch_id]), OUTSIDER)
    funded = 3 * 7_001 + 3_001
    dist = h.attestia.distributor
    assert dist.total_funded() == funded == h.balance(h.distributor.address)

    cumulative = cumulative_rewards(pools, epoch)
    assert cumulative[d] == 3_000
    total = sum(cumulative.values())
    assert total <= funded  # floor rounding: dust stays in the distributor
    tree = h.rewards_tree(cumulative)
    with reverts("NoActiveRoot"):
        claim(h, tree, a)
    h.send(dist.propose_root(epoch, bytes.fromhex(tree.root[2:]), total), ADMIN)
    assert dist.claimable_root() is None
    with reverts("NoActiveRoot"):
        claim(h, tree, a)
    h.travel(TIMELOCK)
    assert dist.claimable_root() == ClaimableRoot(epoch, bytes.fromhex(tree.root[2:]), total)

    for account in (a, b, c, d):  # claim activates the ready root lazily; anyone may send
        before = h.balance(account)
        assert claim(h, tree, account) == cumulative[account]
        assert h.balance(account) == before + cumulative[account]
        assert dist.claimed(account) == cumulative[account]
    assert dist.total_claimed() == total
    assert h.balance(h.distributor.address) == funded - total
    with reverts("NothingToClaim", cumulative[a], cumulative[a]):  # nobody is paid twice
        claim(h, tree, a)

    # Next epoch: more records, a new cumulative root; claims pay only the difference.
    second = served_pools(h, model_id, [shares_for([a, d])])
    epoch2 = h.epoch()
    h.next_epoch()
    h.send(h.registry.sweep_epoch(epoch2), OUTSIDER)
    cumulative2 = cumulative_rewards(pools + second, epoch2)
    tree2 = h.rewards_tree(cumulative2)
    h.send(dist.propose_root(epoch2, bytes.fromhex(tree2.root[2:]), sum(cumulative2.values())),
           ADMIN)
    h.activate_after_timelock(epoch2)
    assert claim(h, tree2, a) == cumulative2[a] - cumulative[a] == 7_001 // 2
    with reverts("NothingToClaim", cumulative[b], cumulative[b]):  # b earned nothing new
        claim(h, tree2, b)
    # An old root's proof no longer verifies against the active root.
    with reverts("InvalidProof"):
        claim(h, tree, d)
    assert h.balance(h.distributor.address) == dist.funding().unclaimed


def test_claim_reverts(h: Harness) -> None:
    dist = h.attestia.distributor
    a, b = contributor(1), contributor(2)
    h.send(dist.fund(1_000), OUTSIDER)
    tree = h.rewards_tree({a: 100, b: 200})
    root = bytes.fromhex(tree.root[2:])
    h.send(dist.propose_root(1, root, 250), ADMIN)  # leaves sum to 300 > total: a bad root
    h.activate_after_timelock(1)
    amount_a, proof_a = h.proof(tree, a)
    with reverts("InvalidProof"):
        h.send(dist.claim(a, amount_a + 1, proof_a), OUTSIDER)
    with reverts("InvalidProof"):
        h.send(dist.claim(b, amount_a, proof_a), OUTSIDER)
    with reverts("InvalidProof"):
        h.send(dist.claim(a, amount_a, proof_a[:-1]), OUTSIDER)
    with reverts("InvalidProof"):
        h.send(dist.claim(a, amount_a, []), OUTSIDER)
    assert claim(h, tree, b) == 200
    with reverts("ExceedsRootTotal", 300, 250):  # the total caps what the root can pay
        claim(h, tree, a)
    with reverts("NothingToClaim", 200, 200):
        claim(h, tree, b)
    assert h.balance(h.distributor.address) == 800


def test_fund_reverts(h: Harness) -> None:
    dist = h.attestia.distributor
    with reverts("ZeroAmount"):
        h.send(dist.fund(0), OUTSIDER)
    with reverts("IncorrectValue", 10, 9):  # raw: the typed client always sends the amount
        h.send(h.distributor.contract.functions.fund(10), OUTSIDER, value=9)
    h.send(dist.fund(10), OUTSIDER)
    assert dist.total_funded() == 10


def test_propose_root_reverts(h: Harness) -> None:
    dist = h.attestia.distributor
    h.send(dist.fund(1_000), OUTSIDER)
    root = h.unique("root")
    settler = h.distributor.contract.functions.SETTLER_ROLE().call()
    with reverts("AccessControlUnauthorizedAccount", OUTSIDER.address, settler):
        h.send(dist.propose_root(1, root, 1), OUTSIDER)
    with reverts("EmptyRoot"):
        h.send(dist.propose_root(1, ZERO32, 1), ADMIN)
    with reverts("TotalExceedsFunded", 1_001, 1_000):
        h.send(dist.propose_root(1, root, 1_001), ADMIN)
    h.send(dist.propose_root(5, root, 600), ADMIN)
    with reverts("RootAlreadyProposed", 5):
        h.send(dist.propose_root(5, h.unique(), 600), ADMIN)
    h.activate_after_timelock(5)
    with reverts("EpochNotAfterActive", 5, 5):
        h.send(dist.propose_root(5, root, 600), ADMIN)
    with reverts("EpochNotAfterActive", 4, 5):
        h.send(dist.propose_root(4, root, 600), ADMIN)
    with reverts("TotalDecreased", 599, 600):
        h.send(dist.propose_root(6, root, 599), ADMIN)
    h.send(dist.propose_root(6, root, 600), ADMIN)


def test_cancel_and_activate_root(h: Harness) -> None:
    dist = h.attestia.distributor
    h.send(dist.fund(1_000), OUTSIDER)
    root, other = h.unique("root"), h.unique("other")
    guardian = h.distributor.contract.functions.GUARDIAN_ROLE().call()
    with reverts("RootNotProposed", 1):
        h.send(dist.cancel_root(1), ADMIN)
    with reverts("RootNotProposed", 1):
        h.send(dist.activate_root(1), OUTSIDER)
    h.send(dist.propose_root(1, root, 500), ADMIN)
    ready_at = h.now() + TIMELOCK
    assert dist.epoch_root(1) == EpochRoot(root, 500, ready_at, RootStatus.PROPOSED)
    with reverts("AccessControlUnauthorizedAccount", OUTSIDER.address, guardian):
        h.send(dist.cancel_root(1), OUTSIDER)
    with reverts("TimelockNotElapsed", ready_at):
        h.send(dist.activate_root(1), OUTSIDER)
    h.send(dist.cancel_root(1), ADMIN)
    assert dist.epoch_root(1).status == RootStatus.CANCELLED
    with reverts("RootNotProposed", 1):
        h.send(dist.cancel_root(1), ADMIN)
    h.travel(TIMELOCK)
    with reverts("RootNotProposed", 1):  # a cancelled root never activates
        h.send(dist.activate_root(1), OUTSIDER)
    assert dist.claimable_root() is None

    h.send(dist.propose_root(1, other, 700), ADMIN)  # a cancelled epoch may be proposed again
    h.travel(TIMELOCK)
    with reverts("TimelockElapsed", dist.epoch_root(1).readyAt):
        h.send(dist.cancel_root(1), ADMIN)
    h.send(dist.activate_root(1), OUTSIDER)
    assert dist.epoch_root(1).status == RootStatus.ACTIVATED
    assert dist.claimable_root() == ClaimableRoot(1, other, 700)
    with reverts("RootNotProposed", 1):
        h.send(dist.activate_root(1), OUTSIDER)

    # Two waiting proposals: activating the newer first leaves the older behind for good.
    h.send(dist.propose_root(2, h.unique(), 700), ADMIN)
    h.send(dist.propose_root(3, h.unique(), 800), ADMIN)
    h.travel(TIMELOCK)
    h.send(dist.activate_root(3), OUTSIDER)
    with reverts("EpochNotAfterActive", 2, 3):
        h.send(dist.activate_root(2), OUTSIDER)


def test_activate_refuses_a_lower_total(h: Harness) -> None:
    dist = h.attestia.distributor
    h.send(dist.fund(1_000), OUTSIDER)
    h.send(dist.propose_root(1, h.unique(), 900), ADMIN)
    h.send(dist.propose_root(2, h.unique(), 100), ADMIN)  # nothing active yet: accepted
    h.travel(TIMELOCK)
    h.send(dist.activate_root(1), OUTSIDER)
    with reverts("TotalDecreased", 100, 900):
        h.send(dist.activate_root(2), OUTSIDER)
    # Nor does a claim activate it lazily: the active root stays epoch 1's.
    assert (root := dist.claimable_root()) is not None and root.epoch == 1


def test_roles_are_separate(h: Harness) -> None:
    dist = h.deploy("RewardDistributor", ZERO_ADDRESS, 60, ADMIN.address, RELAYER.address,
                    OPERATOR.address)
    f = dist.functions
    h.send(f.fund(100), OUTSIDER, value=100)
    settler, guardian = f.SETTLER_ROLE().call(), f.GUARDIAN_ROLE().call()
    with reverts("AccessControlUnauthorizedAccount", ADMIN.address, settler):
        h.send(f.proposeRoot(1, h.unique(), 1), ADMIN)
    h.send(f.proposeRoot(1, h.unique(), 1), RELAYER)
    with reverts("AccessControlUnauthorizedAccount", RELAYER.address, guardian):
        h.send(f.cancelRoot(1), RELAYER)
    h.send(f.cancelRoot(1), OPERATOR)
    no_roles = h.deploy("RewardDistributor", ZERO_ADDRESS, 60, ADMIN.address, ZERO_ADDRESS,
                        ZERO_ADDRESS)
    assert no_roles.functions.hasRole(settler, ADMIN.address).call() is False
    with reverts("ZeroAddress"):
        h.deploy("RewardDistributor", ZERO_ADDRESS, 60, ZERO_ADDRESS, ADMIN.address,
                 ADMIN.address)


def test_erc20_distributor(h: Harness) -> None:
    token = h.deploy("MockERC20", "Reward", "RWD")
    dist = h.deploy("RewardDistributor", token.address, 600, ADMIN.address, ADMIN.address,
                    ADMIN.address)
    f = dist.functions
    assert f.asset().call() == token.address
    h.send(token.functions.mint(OPERATOR.address, 10_000), OPERATOR)
    with reverts("ERC20InsufficientAllowance"):
        h.send(f.fund(5_000), OPERATOR)
    h.send(token.functions.approve(dist.address, 10_000), OPERATOR)
    with reverts("IncorrectValue", 0, 1):
        h.send(f.fund(5_000), OPERATOR, value=1)
    with reverts("ZeroAmount"):
        h.send(f.fund(0), OPERATOR)
    h.send(f.fund(5_000), OPERATOR)
    assert f.totalFunded().call() == 5_000 == token.functions.balanceOf(dist.address).call()

    a, b = contributor(1), contributor(2)
    tree = h.rewards_tree({a: 1_234, b: 3_000})
    h.send(f.proposeRoot(9, bytes.fromhex(tree.root[2:]), 4_234), ADMIN)
    h.activate_after_timelock(9, dist)
    assert claim(h, tree, a, dist) == 1_234
    assert claim(h, tree, b, dist, sender=RELAYER) == 3_000
    assert token.functions.balanceOf(a).call() == 1_234
    assert token.functions.balanceOf(b).call() == 3_000
    with reverts("NothingToClaim", 1_234, 1_234):
        claim(h, tree, a, dist)
    assert token.functions.balanceOf(dist.address).call() == 5_000 - 4_234 == \
        f.totalFunded().call() - f.totalClaimed().call()
    assert h.balance(dist.address) == 0


def test_constructor_reverts(h: Harness) -> None:
    token = h.deploy("MockERC20", "Reward", "RWD")
    token_dist = h.deploy("RewardDistributor", token.address, 60, ADMIN.address, ADMIN.address,
                          ADMIN.address)
    eth_dist = h.distributor.address
    args = dict(admin=ADMIN.address, distributor=eth_dist, min_stake=1, unbonding=4_501,
                challenge=1, timeout=1, genesis=0, length=86_400)

    def registry(**changes):
        values = {**args, **changes}
        return h.deploy("InferenceRegistry", *values.values())

    with reverts("InvalidDistributor", token_dist.address):
        registry(distributor=token_dist.address)
    with reverts("ZeroAddress"):
        registry(admin=ZERO_ADDRESS)
    with reverts("ZeroAddress"):
        registry(distributor=ZERO_ADDRESS)
    with reverts("InvalidEpochConfig"):
        registry(length=0)
    with reverts("InvalidEpochConfig"):
        registry(genesis=h.now() + 10_000)
    deployed = registry(genesis=h.now() - 100, length=50)
    assert deployed.functions.currentEpoch().call() == 2
