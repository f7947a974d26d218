"""Settlement from chain data: sweep, propose, timelock, claim, verify."""

from __future__ import annotations

import json

import pytest
from eth_utils import to_checksum_address

from offchain.batchfile import write_batch_file
from offchain.chain.accounts import dev_account
from offchain.demo import advance_time
from offchain.models.encoding import encode_tensor
from offchain.protocol import batch_deposit
from offchain.rewards.chain import SettlementError, claim, compute, settle, verify
from offchain.rewards.settlement import PoolShare, cumulative_rewards, leaf_pool, pool_total
from offchain.worker.batch import batch_file, build_batch
from offchain.worker.inbox import offchain_request, parse_request
from tests.http_server import Route, serving
from tests.worker.helpers import demo_inputs, make_worker, send_demo_requests

A = "0x" + "aa" * 20
B = "0x" + "bb" * 20


def test_cumulative_rewards_floor_and_never_exceed_pools() -> None:
    records = [PoolShare(1, 1001, ((A, 3333), (B, 6667))), PoolShare(2, 999, ((A, 10_000),)),
               PoolShare(3, 500, ((B, 10_000),))]
    got = cumulative_rewards(records, through_epoch=2)
    assert got == {to_checksum_address(A): 1001 * 3333 // 10_000 + 999,
                   to_checksum_address(B): 1001 * 6667 // 10_000}
    assert sum(got.values()) <= pool_total(records, 2)


def _records_then_new_epoch(attestia, demo_package, demo_package_dir, tmp_path, n=5):
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    send_demo_requests(attestia, demo_package, tmp_path, n, worker=node.signer.address)
    assert node.run(until_idle=True).recorded == n
    advance_time(attestia.chain, attestia.registry.functions.epochLength().call())


def test_settle_claim_verify(attestia, served_model, demo_package, demo_package_dir,
                             tmp_path) -> None:
    with pytest.raises(SettlementError, match="no contributor has earned"):
        compute(attestia, attestia.registry.functions.currentEpoch().call())
    _records_then_new_epoch(attestia, demo_package, demo_package_dir, tmp_path)
    out = tmp_path / "rewards"
    s = settle(attestia, out, account=dev_account(0))
    dist = attestia.distributor.functions
    assert dist.totalFunded().call() == 5 * 6 * 10**14
    assert s.total <= dist.totalFunded().call()
    assert (out / f"epoch-{s.epoch}.json").exists()
    ok, again, onchain = verify(attestia, s.epoch)
    assert ok and onchain == s.root.lower()
    # Before the timelock nothing is claimable.
    account = next(iter(s.cumulative))
    with pytest.raises(SettlementError, match="no root is claimable"):
        claim(attestia, account, out, sender_account=dev_account(0))
    advance_time(attestia.chain, dist.timelock().call() + 1)
    before = {a: attestia.chain.w3.eth.get_balance(a) for a in s.cumulative}
    for a in s.cumulative:  # anyone may send the claim; the funds go to the account
        assert claim(attestia, a, out, sender_account=dev_account(0)) == s.cumulative[a]
        assert attestia.chain.w3.eth.get_balance(a) - before[a] == s.cumulative[a]
        assert claim(attestia, a, out, sender_account=dev_account(0)) == 0  # nothing twice
    assert dist.totalClaimed().call() == s.total
    # Settling again in the same epoch proposes nothing new and keeps the root.
    assert settle(attestia, out, account=dev_account(0)).root == s.root


def test_claim_recomputes_when_the_local_tree_is_missing(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    _records_then_new_epoch(attestia, demo_package, demo_package_dir, tmp_path)
    s = settle(attestia, tmp_path / "rewards", account=dev_account(0))
    advance_time(attestia.chain, attestia.distributor.functions.timelock().call() + 1)
    account = next(iter(s.cumulative))
    assert claim(attestia, account, tmp_path / "elsewhere", dev_account(0)) == \
        s.cumulative[account]


def test_verify_fails_for_a_root_that_chain_data_does_not_give(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    _records_then_new_epoch(attestia, demo_package, demo_package_dir, tmp_path)
    from offchain.rewards.chain import sweep_ended

    sweep_ended(attestia, dev_account(0))
    epoch = attestia.registry.functions.currentEpoch().call() - 1
    attestia.transact(attestia.distributor.functions.proposeRoot(epoch, b"\x42" * 32, 1),
                      account=dev_account(0))
    ok, recomputed, onchain = verify(attestia, epoch)
    assert not ok and onchain == "0x" + "42" * 32 and recomputed.root != onchain


def test_batch_deposits_are_settled_by_their_published_attribution(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    from offchain.worker.batch import run_batch_mode
    from offchain.worker.inbox import submit_offchain

    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    requests = [offchain_request(demo_package.model_id, encode_tensor(raw), fee=10**15,
                                 requester=dev_account(2).address) for raw in demo_inputs(4)]
    submit_offchain(tmp_path / "w" / "inbox", requests)
    run_batch_mode(node, tmp_path / "w", batch_size=4, max_latency=30, until_idle=True)
    advance_time(attestia.chain, attestia.registry.functions.epochLength().call())
    s = settle(attestia, tmp_path / "rewards", account=dev_account(0))
    deposit = 4 * 6 * 10**14
    assert attestia.distributor.functions.totalFunded().call() == deposit
    assert deposit - 5 * 4 <= s.total <= deposit  # per-leaf floor rounding only
    assert verify(attestia, s.epoch)[0]
    # A tampered batch file no longer settles: the leaves must match the committed root.
    [path] = (tmp_path / "w" / "batches").glob("*.json")
    doc = path.read_text()
    path.write_text(doc.replace(requests[0]["requestId"][2:12], "0123456789"))
    with pytest.raises(SettlementError, match="batch data at"):
        compute(attestia, s.epoch)


def test_a_batch_published_over_http_settles_and_a_lying_server_is_refused(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    """A worker publishing its batch file on a web server: settlement reads it over HTTP
    through the same checked loader as a local file, and pays by its attribution lists."""
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    requests = [offchain_request(demo_package.model_id, encode_tensor(raw), fee=10**15,
                                 requester=dev_account(2).address) for raw in demo_inputs(4)]
    now = attestia.chain.w3.eth.get_block("latest")["timestamp"]
    built = build_batch(node.engines[demo_package.model_id],
                        [(r["requestId"], parse_request(r)) for r in requests],
                        worker=node.signer.address, timestamp=now)
    model = attestia.reg.model(demo_package.model_id)
    deposit = batch_deposit(built.fees, model.workerBps, model.ownerBps)
    epoch = attestia.reg.current_epoch()
    published = batch_file(built, epoch=epoch, deposit=deposit)
    name = f"batches/{published.tree.root}.json"
    write_batch_file(tmp_path / "site" / name, published)
    with serving(tmp_path / "site") as server:
        uri = server.url(name)
        assert uri.startswith("http://127.0.0.1:")
        attestia.send(attestia.reg.commit_batch(published.root, published.count,
                                                demo_package.model_id, epoch, uri, deposit),
                      account=node.operator)
        advance_time(attestia.chain, attestia.reg.epoch_length())

        s = settle(attestia, tmp_path / "rewards", account=dev_account(0))

        assert f"/{name}" in server.requests
        assert attestia.dist.total_funded() == deposit == 4 * 6 * 10**14
        pools = [PoolShare(epoch, leaf_pool(deposit, 4), leaf.shares)
                 for leaf in published.leaves]
        assert s.cumulative == cumulative_rewards(pools, s.epoch)
        assert verify(attestia, s.epoch)[0]
        # The server now serves another attribution for leaf 0: nobody can settle by it.
        doc = published.to_json()
        doc["leaves"][0]["shares"][0][1] -= 1
        doc["leaves"][0]["shares"][-1][1] += 1
        server.routes[f"/{name}"] = Route(json.dumps(doc).encode())
        with pytest.raises(SettlementError, match="leaf 0's attribution list hashes to"):
            compute(attestia, s.epoch)
        server.routes[f"/{name}"] = Route(b"gone", status=404)
        with pytest.raises(SettlementError, match="HTTP 404"):
            compute(attestia, s.epoch)
