"""Settlement from chain data: sweep, propose, timelock, claim, verify; batches paid at most
their deposit; a bad or unreadable batch quarantined without stalling anyone else."""

from __future__ import annotations

import json

import pytest
from eth_utils import to_checksum_address

from offchain.protocol import contributors_cut, share_of
from offchain.rewards.chain import (
    SettlementError,
    claim,
    compute,
    read_ledger,
    settle,
    settlement_of,
    sweep_ended,
    verify,
)
from offchain.rewards.settlement import (
    PoolShare,
    cumulative_rewards,
    leaf_pools,
    pool_total,
    split_by_roster,
)
from tests.http_server import Route, serving
from tests.rewards.helpers import (
    CUT,
    FEE,
    OUTSIDER,
    OWNER,
    ROSTER,
    SETTLER,
    SPLIT,
    Market,
    cli,
    cli_home,
    shares_of,
)

A = "0x" + "aa" * 20
B = "0x" + "bb" * 20


# -- the pure core ------------------------------------------------------------------------------

def test_cumulative_rewards_floor_and_never_exceed_pools() -> None:
    records = [PoolShare(1, 1001, ((A, 3333), (B, 6667))), PoolShare(2, 999, ((A, 10_000),)),
               PoolShare(3, 500, ((B, 10_000),))]
    got = cumulative_rewards(records, through_epoch=2)
    assert got == {to_checksum_address(A): 1001 * 3333 // 10_000 + 999,
                   to_checksum_address(B): 1001 * 6667 // 10_000}
    assert sum(got.values()) <= pool_total(records, 2)


def test_leaf_pools_are_each_fees_cut_capped_pro_rata_at_the_deposit() -> None:
    fees = [FEE, FEE + 7, 3, 0]
    cuts = [contributors_cut(f, 2_000, 1_000) for f in fees]
    assert leaf_pools(fees, 2_000, 1_000, sum(cuts)) == (cuts, False)  # the honest deposit
    assert leaf_pools(fees, 2_000, 1_000, sum(cuts) + 10**18) == (cuts, False)  # excess kept
    deposit = sum(cuts) // 3  # the file claims three times what was deposited
    pools, capped = leaf_pools(fees, 2_000, 1_000, deposit)
    assert capped and pools == [c * deposit // sum(cuts) for c in cuts]
    assert sum(pools) <= deposit and pools[-1] == 0
    assert leaf_pools([FEE] * 40, 2_000, 1_000, CUT) == ([CUT // 40] * 40, True)
    assert leaf_pools([FEE] * 3, 2_000, 1_000, 1) == ([0, 0, 0], True)  # 1 wei pays no one
    kept, outside = split_by_roster([(A, 4_000), (B, 6_000)], {to_checksum_address(A)})
    assert (kept, outside) == (((A, 4_000),), ((B, 6_000),))


# -- settle, claim, verify ----------------------------------------------------------------------

def _singles(market: Market, n: int = 3) -> None:
    for i in range(n):
        market.single(shares_of(ROSTER[i:i + 3]))


def test_settle_claim_verify(attestia, tmp_path) -> None:
    market = Market.open(attestia)
    with pytest.raises(SettlementError, match="no contributor has earned"):
        compute(attestia, attestia.registry.current_epoch())
    _singles(market, 5)
    market.next_epoch()
    out = tmp_path / "rewards"
    s = settle(attestia, out, account=SETTLER)
    dist = attestia.distributor
    assert dist.total_funded() == s.funded == 5 * CUT
    assert s.total <= s.funded and s.unallocated == s.funded - s.total
    assert s.batches == () and s.quarantined == [] and s.flagged == ()
    assert (out / f"epoch-{s.epoch}.json").exists()
    check = verify(attestia, s.epoch)
    assert check.ok and check.onchain_root == s.root.lower() and check.quarantined == []
    # Before the timelock nothing is claimable.
    account = next(iter(s.cumulative))
    with pytest.raises(SettlementError, match="no root is claimable"):
        claim(attestia, account, out, sender_account=SETTLER)
    market.travel(dist.timelock() + 1)
    w3 = attestia.chain.w3
    before = {a: w3.eth.get_balance(a) for a in s.cumulative}
    for a in s.cumulative:  # anyone may send the claim; the funds go to the account
        assert claim(attestia, a, out, sender_account=SETTLER) == s.cumulative[a]
        assert w3.eth.get_balance(a) - before[a] == s.cumulative[a]
        assert claim(attestia, a, out, sender_account=SETTLER) == 0  # nothing twice
    assert dist.total_claimed() == s.total
    # Settling again in the same epoch proposes nothing new and keeps the root.
    assert settle(attestia, out, account=SETTLER).root == s.root


def test_claim_recomputes_when_the_local_tree_is_missing(attestia, tmp_path) -> None:
    market = Market.open(attestia)
    _singles(market)
    market.next_epoch()
    s = settle(attestia, tmp_path / "rewards", account=SETTLER)
    market.travel(attestia.distributor.timelock() + 1)
    account = next(iter(s.cumulative))
    assert claim(attestia, account, tmp_path / "elsewhere", SETTLER) == s.cumulative[account]


def test_verify_fails_for_a_root_that_chain_data_does_not_give(attestia, tmp_path) -> None:
    market = Market.open(attestia)
    _singles(market)
    market.next_epoch()
    sweep_ended(attestia, SETTLER)
    epoch = attestia.registry.current_epoch() - 1
    attestia.send(attestia.distributor.propose_root(epoch, b"\x42" * 32, 1), account=SETTLER)
    check = verify(attestia, epoch)
    assert not check.ok and check.onchain_root == "0x" + "42" * 32
    assert check.settlement.root != check.onchain_root
    with pytest.raises(SettlementError, match="different root on chain"):
        settle(attestia, tmp_path / "rewards", account=SETTLER)


def test_an_honest_batch_pays_each_leaf_its_fees_cut(attestia, tmp_path) -> None:
    market = Market.open(attestia)
    fees = [FEE, 2 * FEE, 12_345, 0]
    batch = market.batch(4)
    leaves = tuple(type(leaf)(leaf.inference, leaf.shares, fee)
                   for leaf, fee in zip(batch.leaves, fees, strict=True))
    batch = type(batch).of(leaves, model_id=batch.model_id, worker=batch.worker,
                           epoch=batch.epoch, deposit=sum(
                               contributors_cut(f, 2_000, 1_000) for f in fees))
    written = market.publish(batch, tmp_path / "site")
    event = market.commit(batch, written.path.as_uri(), written.data_hash)
    market.next_epoch()
    s = settle(attestia, tmp_path / "rewards", account=SETTLER)
    (outcome,) = s.batches
    assert outcome.included and not outcome.capped and s.quarantined == []
    pools = [contributors_cut(f, 2_000, 1_000) for f in fees]
    assert [leaf.pool for leaf in outcome.leaves] == pools
    expected = cumulative_rewards(
        [PoolShare(event.epoch, p, leaf.shares) for p, leaf in zip(pools, leaves, strict=True)],
        event.epoch)
    assert s.cumulative == expected
    assert attestia.distributor.total_funded() == event.deposit >= s.total >= event.deposit - 16
    assert verify(attestia, s.epoch).ok


# -- class 2: one bad batch never stalls or inflates settlement ---------------------------------

def test_a_short_count_batch_is_quarantined_and_everyone_else_claims(attestia, tmp_path) -> None:
    """(a) count = 1 committed over a valid 40-leaf file, with one leaf's deposit: it used to
    pay the whole deposit to each of the 40 leaves (a proposal above the funds, no claim
    ever again). Now it is quarantined; a valid batch and the single records of the same
    epoch settle, and every contributor claims."""
    market = Market.open(attestia)
    _singles(market, 2)
    site = tmp_path / "site"
    short = market.batch(40)
    written = market.publish(short, site)
    bad = market.commit(short, written.path.as_uri(), written.data_hash, count=1, deposit=CUT)
    good_file = market.batch(10)
    written_good = market.publish(good_file, site)
    good = market.commit(good_file, written_good.path.as_uri(), written_good.data_hash)
    assert bad.epoch == good.epoch
    market.next_epoch()

    out = tmp_path / "rewards"
    s = settle(attestia, out, account=SETTLER)

    (held,) = s.quarantined
    assert held.batch.batch_id == bad.batch_id and held.check == "count"
    assert "it has 40 leaves, the chain committed 1" in held.reason
    (settled,) = [b for b in s.batches if b.included]
    assert settled.batch.batch_id == good.batch_id and settled.allocated <= good.deposit
    assert s.funded == 2 * CUT + CUT + good.deposit == attestia.distributor.total_funded()
    assert s.total == sum(r.allocated() for r in read_ledger(attestia, s.epoch).shares())
    assert s.total <= s.funded - bad.deposit  # the quarantined deposit stays unallocated
    assert attestia.distributor.epoch_root(s.epoch).total == s.total
    market.travel(attestia.distributor.timelock() + 1)
    for account, amount in s.cumulative.items():
        assert claim(attestia, account, out, sender_account=SETTLER) == int(amount)
    assert attestia.distributor.total_claimed() == s.total
    check = verify(attestia, s.epoch)
    assert check.ok and [b.batch.batch_id for b in check.quarantined] == [bad.batch_id]


@pytest.mark.slow
def test_an_unreadable_batch_is_quarantined_then_settled_once_readable(
    attestia, settings, tmp_path
) -> None:
    """(b) A 1-wei batch at ipfs:// with no gateway, and a batch at a file:// path the
    settler cannot read: `rewards settle` exits 0 and reports both; once the files are
    readable (a gateway serves the CID, the file appears) a later settlement includes them,
    and the first root still verifies (as settled while they were quarantined)."""
    market = Market.open(attestia)
    home = cli_home(settings, tmp_path / "home")
    market.single(shares_of(ROSTER[:2]))
    site = tmp_path / "site"
    one_wei = market.batch(3)
    cid = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
    written_wei = market.publish(one_wei, site / "ipfs" / cid)
    wei = market.commit(one_wei, f"ipfs://{cid}/{written_wei.path.name}", written_wei.data_hash,
                        deposit=1)
    missing = market.batch(6)
    target = tmp_path / "published-later" / "batch.json"
    later = market.publish(missing, tmp_path / "staging")
    gone = market.commit(missing, target.as_uri(), later.data_hash)
    first = market.next_epoch()
    closed = "http://127.0.0.1:9/ipfs/"  # nothing listens on the discard port

    done = cli(settings, home, "rewards", "settle", "--json", ATTESTIA_IPFS_GATEWAY=closed)

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    held = {q["batchId"]: q for q in report["quarantined"]}
    assert set(held) == {"0x" + wei.batch_id.hex(), "0x" + gone.batch_id.hex()}
    assert all(q["check"] == "unreadable" for q in held.values())
    assert "cannot connect" in held["0x" + wei.batch_id.hex()]["reason"]
    assert "no file at" in held["0x" + gone.batch_id.hex()]["reason"]
    assert int(report["total"]) == sum(share_of(CUT, bps) for _, bps in shares_of(ROSTER[:2]))
    assert int(report["unallocated"]) == 1 + gone.deposit + CUT - int(report["total"])
    text = cli(settings, home, "rewards", "settle", ATTESTIA_IPFS_GATEWAY=closed)
    assert text.returncode == 0 and "2 quarantined" in text.stdout
    assert f"batch 0x{gone.batch_id.hex()}" in text.stdout and "unreadable" in text.stdout
    status = cli(settings, home, "rewards", "status", "--json", ATTESTIA_IPFS_GATEWAY=closed)
    assert status.returncode == 0, status.stderr
    assert {q["batchId"] for q in json.loads(status.stdout)["quarantined"]} == set(held)

    # The files become readable: a gateway serves the CID, the file appears at its path.
    target.parent.mkdir()
    later.path.rename(target)
    with serving(site) as gateway:
        market.single(shares_of(ROSTER[3:]))
        second = market.next_epoch()
        env = {"ATTESTIA_IPFS_GATEWAY": gateway.url("ipfs/")}
        done = cli(settings, home, "rewards", "settle", "--json", **env)
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert report["epoch"] == second and report["quarantined"] == []
        by_id = {b["batchId"]: b for b in report["batches"]}
        assert by_id["0x" + wei.batch_id.hex()] | {"state": "settled", "capped": True,
                                                   "allocated": "0"} == by_id[
            "0x" + wei.batch_id.hex()]
        assert by_id["0x" + gone.batch_id.hex()]["allocated"] != "0"
        assert f"/ipfs/{cid}/{written_wei.path.name}" in gateway.requests
        # The first root, settled while both were quarantined, still verifies.
        older = cli(settings, home, "rewards", "verify", str(first), **env)
        assert older.returncode == 0, older.stdout + older.stderr
        assert "PASS" in older.stdout and f"0x{gone.batch_id.hex()} is left out" in older.stdout
    newer = verify(attestia, second, cache=home / ".attestia" / "rewards" / "batches")
    assert newer.ok  # the settler's cache keeps both files once they passed
    target.unlink()
    stranger = verify(attestia, second)  # no cache, no gateway: cannot reproduce it
    assert not stranger.ok
    assert {b.batch.batch_id for b in stranger.quarantined} == {wei.batch_id, gone.batch_id}
    market.travel(attestia.distributor.timelock() + 1)
    for account, amount in report["cumulative"].items():
        assert claim(attestia, account, home / ".attestia" / "rewards", SETTLER) == int(amount)


def test_a_file_whose_bytes_differ_from_the_data_hash_is_refused(attestia, tmp_path) -> None:
    """(c) The same document re-serialised, and a worker's later edit of its published file:
    neither is the committed file (quarantined, check dataHash); the original bytes settle."""
    market = Market.open(attestia)
    market.single(shares_of(ROSTER[:1]))
    batch = market.batch(5)
    written = market.publish(batch, tmp_path / "site")
    original = written.path.read_bytes()
    event = market.commit(batch, written.path.as_uri(), written.data_hash)
    written.path.write_text(json.dumps(json.loads(original), indent=2))
    market.next_epoch()
    s = settle(attestia, tmp_path / "rewards", account=SETTLER)
    (held,) = s.quarantined
    assert held.batch.batch_id == event.batch_id and held.check == "dataHash"
    assert "0x" + event.data_hash.hex() in held.reason
    written.path.write_bytes(original)
    market.next_epoch()
    assert settle(attestia, tmp_path / "rewards", account=SETTLER).quarantined == []


def test_a_batch_leaf_paying_outside_the_roster_is_quarantined(attestia, tmp_path) -> None:
    """(d) A worker pays an accomplice from one leaf of a batch (a valid list, honestly
    hashed): the registry cannot see batch leaves, settlement refuses the batch."""
    market = Market.open(attestia)
    market.single(shares_of(ROSTER[:2]))
    lists = [shares_of(ROSTER[:2])] * 8
    lists[5] = shares_of([ROSTER[0], OUTSIDER])
    batch = market.batch(8, shares=lists)
    written = market.publish(batch, tmp_path / "site")
    event = market.commit(batch, written.path.as_uri(), written.data_hash)
    market.next_epoch()
    s = settle(attestia, tmp_path / "rewards", account=SETTLER)
    (held,) = s.quarantined
    assert held.batch.batch_id == event.batch_id and held.check == "roster"
    assert f"leaf 5 pays {OUTSIDER}" in held.reason
    assert OUTSIDER not in s.cumulative and s.total <= s.funded - event.deposit
    assert verify(attestia, s.epoch).ok


def test_a_single_record_share_outside_the_roster_is_not_paid(
    attestia, tmp_path, monkeypatch
) -> None:
    """Defence in depth: the registry refuses such records, so the roster settlement reads
    is narrowed here; the share is flagged and left unallocated, the rest is paid."""
    market = Market.open(attestia)
    recorded = market.single(shares_of(ROSTER[:2]))
    market.next_epoch()
    narrowed = ROSTER[1:]
    monkeypatch.setattr(type(attestia.registry), "contributors", lambda self, model: narrowed)
    s = settle(attestia, tmp_path / "rewards", account=SETTLER)
    (flag,) = s.flagged
    dropped = recorded.shares[0] if recorded.shares[0][0] == ROSTER[0] else recorded.shares[1]
    assert flag.request_id == recorded.request_id and flag.outside == (tuple(dropped),)
    assert flag.unallocated == share_of(CUT, dropped[1])
    assert ROSTER[0] not in s.cumulative and s.total == CUT - flag.unallocated
    assert verify(attestia, s.epoch).ok


def test_a_batch_published_over_http_settles_and_a_lying_server_is_refused(
    attestia, tmp_path
) -> None:
    """A worker publishing its batch file on a web server: settlement reads it over HTTP
    through the same checked loader as a local file, and pays by its attribution lists; a
    server that later serves other bytes, or nothing, is quarantined (never fatal)."""
    market = Market.open(attestia)
    market.single(shares_of(ROSTER[:3]))
    batch = market.batch(4)
    name = f"batches/{batch.tree.root}.json"
    written = market.publish(batch, tmp_path / "site" / "batches")
    with serving(tmp_path / "site") as server:
        uri = server.url(name)
        assert uri.startswith("http://127.0.0.1:")
        event = market.commit(batch, uri, written.data_hash)
        market.next_epoch()

        s = settle(attestia, tmp_path / "rewards", account=SETTLER)

        assert f"/{name}" in server.requests and s.quarantined == []
        assert attestia.distributor.total_funded() == event.deposit + CUT == 4 * CUT + CUT
        pools = [PoolShare(event.epoch, CUT, leaf.shares) for leaf in batch.leaves]
        single = [PoolShare(event.epoch, CUT, r.shares) for r in attestia.registry.recorded()]
        assert s.cumulative == cumulative_rewards(pools + single, s.epoch)
        assert verify(attestia, s.epoch).ok
        # The server now serves another attribution for leaf 0: nobody settles by it.
        doc = batch.to_json()
        doc["leaves"][0]["shares"][0][1] -= 1
        doc["leaves"][0]["shares"][-1][1] += 1
        server.routes[f"/{name}"] = Route(json.dumps(doc, separators=(",", ":")).encode())
        ledger = read_ledger(attestia, s.epoch)
        (held,) = ledger.quarantined
        assert held.check == "dataHash"
        server.routes[f"/{name}"] = Route(b"gone", status=404)
        (held,) = read_ledger(attestia, s.epoch).quarantined
        assert held.check == "unreadable" and "HTTP 404" in held.reason
        # The settler's cache still has the file it settled: its view does not change.
        cached = read_ledger(attestia, s.epoch, cache=tmp_path / "rewards" / "batches")
        assert cached.quarantined == [] and settlement_of(cached).root == s.root


def test_split_in_force_at_the_commit_prices_the_leaves(attestia, tmp_path) -> None:
    """The owner changes the split after a batch was committed: its leaves are still priced
    by the split the worker deposited under."""
    market = Market.open(attestia)
    batch = market.batch(3)
    written = market.publish(batch, tmp_path)
    market.commit(batch, written.path.as_uri(), written.data_hash)
    attestia.send(attestia.registry.set_terms(market.model_id, FEE, 0x02,
                                         type(SPLIT).of(1_000, 1_000)), account=OWNER)
    market.next_epoch()
    s = settle(attestia, tmp_path / "rewards", account=SETTLER)
    (outcome,) = s.batches
    assert [leaf.pool for leaf in outcome.leaves] == [CUT] * 3 and not outcome.capped


def test_settle_when_only_a_quarantined_batch_exists_names_it(attestia, tmp_path) -> None:
    market = Market.open(attestia)
    batch = market.batch(2)
    event = market.commit(batch, (tmp_path / "nowhere.json").as_uri(), b"\x01" * 32)
    market.next_epoch()
    with pytest.raises(SettlementError, match=f"0x{event.batch_id.hex()}.*unreadable"):
        settle(attestia, tmp_path / "rewards", account=SETTLER)
