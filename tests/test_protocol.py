"""offchain.protocol against the compiled contracts on Anvil: every constant, struct layout and
derivation the Python side states is checked against what the registry computes or enforces.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import fields

import numpy as np
import pytest
from eth_abi import encode
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain import protocol as P
from offchain.build import load_artifact
from offchain.errors import InvalidSharesError
from tests.contracts.helpers import (
    OPERATOR,
    OWNER,
    REQUESTER,
    WORKER,
    Harness,
    contributors_shares,
    reverts,
)

b32 = st.binary(min_size=32, max_size=32)
address = st.binary(min_size=20, max_size=20).map(lambda b: P.Inference.from_tuple(
    [bytes(32)] * 5 + [0, bytes(32), "0x" + b.hex(), 0, bytes(32)]).worker)
uint64 = st.integers(0, 2**64 - 1)
inference = st.builds(P.Inference, b32, b32, b32, b32, b32, st.integers(0, 255), b32, address,
                      uint64, b32)
_MODELS = itertools.count()
SLOW = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _abi(build_dir, name: str) -> list[dict]:
    return load_artifact(build_dir, name).abi


def _function(abi: list[dict], name: str) -> dict:
    (entry,) = [e for e in abi if e.get("type") == "function" and e["name"] == name]
    return entry


def _event(abi: list[dict], name: str) -> dict:
    (entry,) = [e for e in abi if e.get("type") == "event" and e["name"] == name]
    return entry


def _names(components: list[dict]) -> list[str]:
    return [c["name"] for c in components]


@pytest.fixture(scope="module")
def abis(attestia_home):
    build = attestia_home / "build"
    return (_abi(build, "InferenceRegistry"), _abi(build, "RewardDistributor"),
            _abi(build, "RegistryLens"))


def test_every_struct_mirrors_its_solidity_field_order(abis) -> None:
    """Field names AND order equal the ABI's: a reordered struct fails here, not in production."""
    reg, dist, lens = abis
    expected = {
        P.Model: _function(reg, "getModel")["outputs"][0]["components"],
        P.Worker: _function(reg, "getWorker")["outputs"][0]["components"],
        P.RecordStatus: _function(lens, "recordStatus")["outputs"][0]["components"],
        P.MeasurementStatus: _function(reg, "measurementStatus")["outputs"][0]["components"],
        P.Inference: _function(reg, "hashInference")["inputs"][0]["components"],
        P.Batch: _function(lens, "hashBatch")["inputs"][0]["components"],
        P.Request: _function(reg, "hashRequest")["inputs"][0]["components"],
        P.Split: _function(reg, "registerModel")["inputs"][6]["components"],
        P.ZkProof: _function(reg, "fulfillZk")["inputs"][4]["components"],
        P.Payout: [i for i in _event(reg, "InferenceRecorded")["inputs"]
                   if i["name"] == "payout"][0]["components"],
        P.EpochRoot: _function(dist, "epochRoot")["outputs"][0]["components"],
    }
    for cls, components in expected.items():
        assert [f.name for f in fields(cls)] == _names(components), cls.__name__
    shares = [i for i in _event(reg, "InferenceRecorded")["inputs"] if i["name"] == "shares"][0]
    assert list(P.Share._fields) == _names(shares["components"])
    info = _function(reg, "batchInfo")["outputs"]
    assert [f.name for f in fields(P.BatchInfo)] == _names(info)
    # The ABI type strings used for encodings are the contract's.
    assert tuple(c["type"] for c in expected[P.Inference]) == P.INFERENCE_ABI_TYPES
    assert tuple(c["type"] for c in expected[P.Batch]) == P.BATCH_ABI_TYPES
    assert tuple(c["type"] for c in expected[P.Request]) == P.REQUEST_ABI_TYPES
    assert "(" + ",".join(c["type"] for c in shares["components"]) + ")[]" == P.SHARES_ABI_TYPE


def test_from_abi_refuses_a_struct_with_other_fields() -> None:
    with pytest.raises(ValueError, match="do not match"):
        P.from_abi(P.MeasurementStatus, {"allowedAt": 1, "revokedAt": 2, "extra": 3})
    with pytest.raises(TypeError):
        P.from_abi(P.MeasurementStatus, (1, 2))


@SLOW
@given(record=inference)
def test_eip712_and_leaf_hashes_equal_the_contract(attestia, record: P.Inference) -> None:
    fn = attestia.registry.contract.functions
    chain_id = attestia.chain.chain_id
    assert P.domain_separator(chain_id, attestia.registry.address) == fn.domainSeparator().call()
    assert P.inference_digest(record, chain_id, attestia.registry.address) == \
        fn.hashInference(record.as_tuple()).call()
    lens = attestia.lens.contract.functions
    assert P.leaf_hash(record) == lens.leafHash(record.as_tuple()).call()


@SLOW
@given(root=b32, model_id=b32, worker=address, count=st.integers(1, 2**32 - 1),
       epoch=uint64, uri=st.text(max_size=40), deposit=st.integers(0, 2**128))
def test_batch_ids_and_digests_equal_the_contract(attestia, root, model_id, worker, count, epoch,
                                                  uri, deposit) -> None:
    fn = attestia.registry.contract.functions
    batch = P.Batch(root, count, model_id, epoch, P.data_uri_hash(uri), keccak(root), worker,
                    deposit)
    assert batch.batch_id == P.batch_id(root, model_id, worker) == \
        fn.batchIdOf(root, model_id, worker).call()
    assert P.batch_digest(batch, attestia.chain.chain_id, attestia.registry.address) == \
        attestia.lens.contract.functions.hashBatch(batch.as_tuple()).call()
    assert P.data_uri_hash(uri) == keccak(uri.encode())


@SLOW
@given(requester=address, model_id=b32, worker=address, fee=st.integers(0, 2**96),
       created=uint64, commitment=b32, zk=b32, worker_bps=st.integers(0, P.BPS),
       owner_bps=st.integers(0, P.BPS), policy=st.integers(0, 255))
def test_request_id_and_hash_equal_the_contract(attestia, requester, model_id, worker, fee,
                                                created, commitment, zk, worker_bps, owner_bps,
                                                policy) -> None:
    fn = attestia.registry.contract.functions
    request = P.Request(requester, model_id, worker, fee, created, commitment, zk, worker_bps,
                        owner_bps, policy)
    assert request.request_id == fn.requestIdOf(requester, model_id, commitment).call()
    assert request.hash == fn.hashRequest(request.as_tuple()).call()
    assert P.Request.from_json(request.to_json()) == request


@SLOW
@given(owner=address, content=b32)
def test_model_ids_are_namespaced_by_owner_as_the_contract_computes(attestia, owner, content
                                                                    ) -> None:
    assert P.model_id(owner, content) == attestia.registry.contract.functions.modelIdOf(
        owner, content).call()


def test_roster_rules_and_hash() -> None:
    roster = P.sorted_roster(["0x" + "22" * 20, "0x" + "11" * 20, "0x" + "22" * 20])
    assert [int(a, 16) for a in roster] == sorted(int(a, 16) for a in roster)
    assert len(roster) == 2
    # abi.encodePacked(address[]) pads each element to a 32-byte word.
    assert P.contributors_hash(roster) == keccak(encode(["address"] * 2, roster))
    for bad in ([], list(reversed(roster)), [roster[0], roster[0]], ["0x" + "00" * 20],
                ["0x%040x" % (i + 1) for i in range(P.MAX_CONTRIBUTORS + 1)]):
        with pytest.raises(ValueError):
            P.check_roster(bad)


@SLOW
@given(accounts=st.lists(address.filter(lambda a: int(a, 16) != 0), min_size=1, max_size=12,
                         unique=True))
def test_roster_hash_is_what_the_registry_stores_and_checks(attestia, accounts) -> None:
    """protocol.contributors_hash of a roster == the registered contributorsHash, and the same
    roster passed with a record is accepted (a wrong hash would be RosterMismatch)."""
    h = Harness(attestia)
    roster = P.sorted_roster(accounts)
    # Examples share one chain snapshot: every model needs its own content hash.
    model_id = h.register_model(contributors=roster,
                                content_hash=keccak(f"roster-{next(_MODELS)}".encode()))
    model = attestia.registry.model(model_id)
    assert model is not None and model.contributorsHash == P.contributors_hash(roster)
    assert model.contributors == len(roster)
    assert attestia.registry.contributors(model_id) == roster
    if not attestia.registry.is_active_worker(WORKER.address):
        h.register_worker()
    shares = [(roster[0], P.BPS)]
    request = h.request(model_id)
    h.fulfill(request, h.record(request, shares), shares, roster=roster)


def test_result_hash_is_what_the_registry_checks(attestia) -> None:
    h = Harness(attestia)
    model_id = h.setup_signed()
    shares = contributors_shares(2)
    request = h.request(model_id)
    sealed = b"\x00ciphertext\xff" * 20
    record = h.record(request, shares, sealed=sealed)
    assert record.resultHash == P.result_hash(sealed) == keccak(sealed)
    with reverts("ResultHashMismatch", P.result_hash(sealed), P.result_hash(sealed[:-1])):
        h.fulfill(request, record, shares, sealed=sealed[:-1])
    receipt = h.fulfill(request, record, shares, sealed=sealed)
    assert attestia.registry.sealed_result(receipt["transactionHash"]) == sealed


def test_zk_proof_input_hash_is_the_first_instance() -> None:
    proof = P.ZkProof(b"p", (7, 8))
    assert proof.input_hash == (7).to_bytes(32, "big")
    assert proof.as_tuple() == (b"p", [7, 8])
    assert P.ZkProof(b"p", ()).input_hash == P.ZERO32


def test_slash_reporter_share_is_the_slashers(attestia) -> None:
    h = Harness(attestia)
    model_id = h.setup_signed()
    stake = attestia.registry.worker(WORKER.address).stake
    evidence = h.conflicting(h.unique("request"), model_id)
    attestia.send(attestia.slasher.slash_equivocation(*evidence), account=REQUESTER)
    reward = stake * P.SLASH_REPORTER_BPS // P.BPS
    assert attestia.slasher.balance(REQUESTER.address) == reward
    treasury = attestia.slasher.contract.functions.treasury().call()
    assert attestia.slasher.balance(treasury) == stake - reward
    assert attestia.registry.worker(WORKER.address).slashed


@given(n=st.integers(0, 8), data=st.data())
def test_attribution_hash_is_abi_encode_of_the_share_list(n: int, data) -> None:
    accounts = sorted({data.draw(address) for _ in range(n)}, key=lambda a: int(a, 16))
    shares = [P.Share(a, data.draw(st.integers(0, 2**16 - 1))) for a in accounts]
    assert P.encode_shares_unchecked(shares) == encode([P.SHARES_ABI_TYPE], [shares])
    assert P.attribution_hash_unchecked(shares) == keccak(encode([P.SHARES_ABI_TYPE], [shares]))


@given(n=st.integers(1, 5), data=st.data())
def test_check_shares_is_the_registrys_rule(n: int, data) -> None:
    """Sorted strictly ascending, no zero, sum = BPS (``_checkShares``); the checked encoders
    refuse what it refuses and hash what it accepts as the unchecked ones do."""
    accounts = [data.draw(address) for _ in range(n)]
    if data.draw(st.booleans()):
        accounts.sort(key=lambda a: int(a, 16))
    bps = [data.draw(st.integers(0, P.BPS)) for _ in range(n)]
    if data.draw(st.booleans()):
        bps[-1] = P.BPS - sum(bps[:-1])
    entries = list(zip(accounts, bps, strict=True))
    valid = (all(int(a, 16) < int(b, 16) for a, b in itertools.pairwise(accounts))
             and all(0 < b <= P.BPS for b in bps) and sum(bps) == P.BPS)
    if valid:
        assert P.check_shares(entries) == entries
        assert P.encode_shares(entries) == P.encode_shares_unchecked(entries)
        assert P.attribution_hash(entries) == P.attribution_hash_unchecked(entries)
    else:
        for checked in (P.check_shares, P.encode_shares, P.attribution_hash):
            with pytest.raises(InvalidSharesError):
                checked(entries)


def test_check_shares_takes_numpy_integers_and_byte_addresses_and_gives_canonical_shares() -> None:
    """What a worker hands over (numpy integers, lower-case or 20-byte addresses) comes back
    as ``Share``s of checksummed addresses and Python ints; a bool, a float, a short address
    or a wrong-length entry is refused by name."""
    low, high = "0x" + "0a" * 20, "0x" + "fb" * 20
    got = P.check_shares([(low, np.int64(4_000)), (bytes.fromhex("fb" * 20), np.uint16(6_000))])
    assert got == [(P.canonical_address(low), 4_000), (P.canonical_address(high), 6_000)]
    assert all(type(s) is P.Share and type(s.bps) is int for s in got)
    assert P.check_shares(got) is not got and P.check_shares(got) == got
    for entries, needle in (([(low, True), (high, 9_999)], "must be an int"),
                            ([(low, 4_000.0), (high, 6_000)], "must be an int"),
                            ([("0x" + "0a" * 19, 10_000)], "20-byte hex address"),
                            ([(bytes(19), 10_000)], "20-byte hex address"),
                            ([(low, 4_000, 1)], "must be (address, bps)"),
                            ([(high, 4_000), (low, 6_000)], "sorted ascending"),
                            ([(low, 4_000), (low.upper().replace("0X", "0x"), 6_000)],
                             "sorted ascending")):
        with pytest.raises(InvalidSharesError, match=re.escape(needle)):
            P.check_shares(entries)


small_uint = st.integers(0, 2**62)
uint256 = st.one_of(small_uint, st.integers(0, 2**256 - 1))
int256 = st.one_of(st.integers(-(2**62), 2**62), st.integers(-(2**255), 2**255 - 1))


@given(steps=st.lists(st.builds(P.TraceStep, uint256, address, uint256, uint256, uint256,
                                int256, b32), min_size=1, max_size=6))
def test_trace_step_leaves_are_the_protocol_leaf(steps: list[P.TraceStep]) -> None:
    columns = [list(column) for column in zip(*(s.as_tuple() for s in steps), strict=True)]
    assert P.trace_step_leaves(*columns) == [P.trace_step_leaf(s) for s in steps]


@given(pairs=st.lists(st.tuples(address, int256), max_size=6))
def test_sums_leaves_are_the_protocol_leaf(pairs: list[tuple[str, int]]) -> None:
    accounts, totals = [a for a, _ in pairs], [t for _, t in pairs]
    assert P.sums_leaves(accounts, totals) == [P.sums_leaf(a, t) for a, t in pairs]


@given(n=st.integers(0, 5), d=st.integers(1, 4), data=st.data())
def test_data_item_leaves_are_the_protocol_leaf(n: int, d: int, data) -> None:
    z = [[data.draw(st.integers(-(2**63), 2**63 - 1)) for _ in range(d)] for _ in range(n)]
    labels = [data.draw(st.integers(0, 2**63 - 1)) for _ in range(n)]
    owners = [data.draw(address) for _ in range(n)]
    leaves = P.data_item_leaves(np.asarray(z, dtype=np.int64).reshape(n, d),
                                np.asarray(labels, dtype=np.int64), owners)
    assert leaves == [P.data_item_leaf(P.DataItem(i, owners[i], labels[i], tuple(z[i])))
                      for i in range(n)]


@given(fee=st.integers(0, 2**96), worker_bps=st.integers(0, P.BPS), data=st.data())
def test_fee_split_loses_no_wei(fee: int, worker_bps: int, data) -> None:
    owner_bps = data.draw(st.integers(0, P.BPS - worker_bps))
    payout = P.split_fee(fee, worker_bps, owner_bps)
    assert payout.workerCut + payout.ownerCut + payout.contributorCut == fee
    assert payout.contributorCut == P.contributors_cut(fee, worker_bps, owner_bps)


def test_recorded_payout_shares_and_epoch_follow_the_python_rules(attestia) -> None:
    h = Harness(attestia)
    split = P.Split(1_234, 567, P.BPS - 1_234 - 567)
    fee = 10**15 + 7
    model_id = h.register_model(split=split.as_tuple(), fee=fee)
    h.register_worker()
    shares = [P.Share(a, b) for a, b in contributors_shares(5)]
    # web3 rebuilds tuples with type(value)(generator): the typed client passes plain tuples.
    request, record = h.serve(model_id, [tuple(s) for s in shares])
    reg = attestia.registry
    (event,) = reg.recorded(request_id=request.request_id)
    assert event.inference.as_tuple() == record.as_tuple()
    assert event.shares == tuple(shares)
    assert P.attribution_hash(event.shares) == record.attributionHash
    assert event.digest == P.inference_digest(record, attestia.chain.chain_id, reg.address)
    assert reg.request_state(request.request_id) == event.digest
    expected = P.split_fee(fee, split.workerBps, split.ownerBps,
                           P.epoch_at(h.now(), reg.genesis(), reg.epoch_length()))
    assert event.payout == expected
    assert reg.current_epoch() == expected.epoch
    model = reg.model(model_id)
    assert model is not None and model.split == split and model.fee == fee
    assert model.owner == OWNER.address and model.kinds == ["signed"]
    worker = reg.worker(WORKER.address)
    assert worker is not None and worker.operator == OPERATOR.address and worker.active
    assert reg.model(keccak(b"never registered")) is None
    assert reg.worker(REQUESTER.address) is None


def test_an_epoch_ends_where_the_registry_starts_the_next(attestia) -> None:
    h = Harness(attestia)
    genesis, length = h.genesis(), h.registry.epoch_length()
    epoch = h.epoch() + 1  # a whole epoch ahead: its last second is surely still to come
    end = P.epoch_end(epoch, genesis, length)
    h.travel_to(end - 1)
    assert h.epoch() == epoch == P.epoch_at(end - 1, genesis, length)
    h.travel_to(end)
    assert h.epoch() == epoch + 1 == P.epoch_at(end, genesis, length)


def test_bps_and_policy_constants_are_what_the_registry_enforces(attestia) -> None:
    h = Harness(attestia)
    assert sum(P.policy_bit(k) for k in P.PROOF_KIND_NAMES) == P.POLICY_MASK
    bad_split = (P.BPS // 2, P.BPS // 2, 1)
    with pytest.raises(ValueError):  # protocol.Split refuses it in Python already...
        P.Split(*bad_split)
    with reverts("InvalidSplit", *bad_split):  # ...and the registry for the same reason
        h.send(attestia.registry.contract.functions.registerModel(
            h.unique(), "", P.ZERO32, [OWNER.address], P.policy_bit(P.PROOF_SIGNED), 1,
            bad_split), OWNER)
    model_id = h.register_model(split=(0, 0, P.BPS), policy=P.POLICY_MASK)
    reg = attestia.registry
    model = reg.model(model_id)
    assert model is not None and model.kinds == ["signed", "tee", "zk"]
    for bad in (0, P.POLICY_MASK | 1, 0x10):
        with reverts("InvalidPolicy", bad):
            attestia.send(reg.set_terms(model_id, 1, bad, P.Split(0, 0, P.BPS)), account=OWNER)
    assert P.policy_of(["signed", "zk"]) == P.policy_bit(P.PROOF_SIGNED) | P.policy_bit(P.PROOF_ZK)
    assert P.kinds_of(P.policy_of(["tee"])) == ["tee"]
    with pytest.raises(ValueError, match="unknown proof kinds"):
        P.policy_of(["magic"])


def test_timestamp_window_is_the_registry_window(attestia) -> None:
    h = Harness(attestia)
    model_id = h.setup_signed()
    shares = contributors_shares(2)
    request = h.request(model_id)
    h.travel(P.TIMESTAMP_WINDOW + 10)
    now = h.now()
    late = h.record(request, shares, timestamp=now - P.TIMESTAMP_WINDOW - 5)
    with reverts("TimestampOutOfWindow"):
        h.fulfill(request, late, shares)
    early = h.record(request, shares, timestamp=now + P.TIMESTAMP_WINDOW + 30)
    with reverts("TimestampOutOfWindow"):
        h.fulfill(request, early, shares)
    inside = h.record(request, shares, timestamp=now - P.TIMESTAMP_WINDOW + 30)
    h.fulfill(request, inside, shares)


def test_request_slot_sentinels_are_the_registry_sentinels(attestia) -> None:
    h = Harness(attestia)
    model_id = h.setup_signed()
    reg = attestia.registry
    rejected = h.request(model_id)
    attestia.send(reg.reject_request(P.Request(*rejected.as_tuple()), "no"), account=WORKER)
    assert reg.request_state(rejected.request_id) == P.REQUEST_REJECTED
    cancelled = h.request(model_id)
    h.travel(reg.request_timeout() + P.TIMESTAMP_WINDOW + 1)
    attestia.send(reg.cancel_request(P.Request(*cancelled.as_tuple())), account=REQUESTER)
    assert reg.request_state(cancelled.request_id) == P.REQUEST_CANCELLED
    (event,) = reg.rejected(request_id=rejected.request_id)
    assert event.reason == "no" and event.rejected_by == WORKER.address
    (event,) = reg.cancelled(request_id=cancelled.request_id)
    assert event.requester == REQUESTER.address
