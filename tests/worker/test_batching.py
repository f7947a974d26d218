"""Batch mode: off-chain requests are committed as Merkle roots, exactly once, with deposits."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from eth_utils import keccak

from offchain.chain.accounts import dev_account
from offchain.chain.tx import Sender
from offchain.demo.flow import advance_time, end_challenge_windows, seconds_to_next_epoch
from offchain.models.demo import holdout
from offchain.models.encoding import commit, encode_tensor, new_salt
from offchain.protocol import (
    PROOF_SIGNED,
    PROOF_TEE,
    Inference,
    attribution_hash,
    batch_deposit,
    contributors_cut,
)
from offchain.record import batch_file
from offchain.registry import BatchCommitted
from offchain.request.inbox import offchain_request, submit_offchain
from offchain.rewards.chain import settle
from offchain.sealing import output_salt
from offchain.worker import batching as B
from offchain.worker import journal as J
from offchain.worker.batching import BatchError, BatchOptions, BatchWorker, run_batch_mode
from offchain.worker.node import WorkerOptions
from offchain.worker.service import build_worker

FEE = 10**15
CLIENT = dev_account(2)


class Crash(BaseException):
    """A simulated power cut: nothing in the worker catches a BaseException."""


def make_node(attestia, package_dir: Path, data_dir: Path, **kwargs):
    return build_worker(attestia, operator=dev_account(1), packages=[package_dir],
                        data_dir=data_dir, options=WorkerOptions(poll_interval=0.01),
                        **kwargs).node


def rows(count: int, offset: int = 0) -> list[np.ndarray]:
    X, _ = holdout()
    return [X[(offset + i) % len(X)][None, :].astype(np.float32) for i in range(count)]


def requests_for(model, count: int, *, fee: int = FEE, offset: int = 0) -> list[dict]:
    """Off-chain requests for a registration (``served_model``)."""
    return [offchain_request(model.model_id, encode_tensor(raw), fee=fee,
                             requester=CLIENT.address) for raw in rows(count, offset)]


def committed_batches(attestia) -> list[BatchCommitted]:
    return attestia.registry.batches(0)


def published(attestia, event: BatchCommitted) -> batch_file.BatchFile:
    """A committed batch's file, through every check settlement runs (dataHash, roster)."""
    return batch_file.load(event.data_uri, event,
                          roster=attestia.registry.contributors(event.model_id))


def recorded_ids(attestia) -> list[str]:
    """Every request id in every committed batch's published leaves (duplicates kept)."""
    return ["0x" + leaf.inference.requestId.hex()
            for event in committed_batches(attestia)
            for leaf in published(attestia, event).leaves]


def test_batch_commits_and_every_leaf_verifies_on_chain(
    attestia, served_model, demo_package, demo_package_dir, tmp_path, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="attestia.worker")
    node = make_node(attestia, demo_package_dir, tmp_path / "w")
    requests = requests_for(served_model, 6)
    features = rows(2, offset=6)
    for raw in features:  # the other input form: features in schema order
        entry = offchain_request(served_model.model_id, encode_tensor(raw), fee=FEE,
                                 requester=CLIENT.address)
        del entry["inputBytes"]
        entry["input"] = {"features": [float(v) for v in raw[0]]}
        requests.append(entry)
    inbox = tmp_path / "w" / "inbox"
    submitted = submit_offchain(inbox, requests)

    stats = run_batch_mode(node, tmp_path / "w", batch_size=8, max_latency=30, until_idle=True)

    assert (stats.recorded, stats.rejected, stats.failed) == (8, 0, 0)
    (event,) = committed_batches(attestia)
    assert event.count == 8 and event.worker == node.signer.address
    assert event.deposit == 8 * contributors_cut(FEE, 2_000, 2_000) == 8 * 6 * 10**14
    info = attestia.registry.batch_info(event.batch_id)
    assert (info.count, info.deposit, info.swept) == (8, event.deposit, False)
    path = Path(event.data_uri.removeprefix("file://"))
    assert path == tmp_path.resolve() / "w" / "batches" / f"0x{event.root.hex()}.json"
    assert event.data_hash == keccak(path.read_bytes())  # the bytes written are committed
    batch = published(attestia, event)
    assert batch.batch_id == event.batch_id and batch.epoch == event.epoch
    assert batch.deposit == event.deposit
    document = json.loads(path.read_text())
    assert "label" not in document["leaves"][0]  # the predicted label is an output: private
    results = json.loads((path.parent.parent / "outbox" / path.name).read_text())["results"]
    by_id = {r["requestId"]: r for r in requests}
    for index, leaf in enumerate(batch.leaves):
        record = leaf.inference
        proof = batch.proof(index)
        assert attestia.lens.verify_inclusion(event.batch_id, record, proof) is True
        forged = Inference(**{**record.__dict__, "timestamp": record.timestamp + 1})
        assert attestia.lens.verify_inclusion(event.batch_id, forged, proof) is False
        request_id = "0x" + record.requestId.hex()
        request = by_id[request_id]
        salt = bytes.fromhex(request["salt"][2:])
        raw = rows(8)[requests.index(request)]
        assert record.inputCommitment == commit(salt, encode_tensor(raw))
        output = bytes.fromhex(results[request_id]["output"][2:])
        assert record.outputCommitment == commit(output_salt(salt), output)
        assert record.attributionHash == attribution_hash(leaf.shares)
        assert (record.proofKind, record.proofHash) == (PROOF_SIGNED, bytes(32))
        assert record.resultHash == bytes(32)  # batch leaves: the answer stays off chain
        assert record.worker == node.signer.address and leaf.fee == FEE
    assert sorted(recorded_ids(attestia)) == sorted(by_id)
    assert node.journal.offchain_counts() == {J.RECORDED: 8}
    assert not submitted.exists() and (inbox / "done" / submitted.name).exists()
    assert any(f"count 8 deposit {event.deposit}" in r.message for r in caplog.records)
    # Nothing left: another run commits nothing and sends nothing.
    w3 = attestia.chain.w3
    nonce = w3.eth.get_transaction_count(node.operator.address)
    run_batch_mode(node, tmp_path / "w", batch_size=8, max_latency=30, until_idle=True)
    assert w3.eth.get_transaction_count(node.operator.address) == nonce


def test_max_latency_commits_a_partial_batch(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    node = make_node(attestia, demo_package_dir, tmp_path / "w")
    submit_offchain(tmp_path / "w" / "inbox", requests_for(served_model, 3))
    started = time.monotonic()
    run_batch_mode(node, tmp_path / "w", batch_size=100, max_latency=0.4, max_seconds=1.2)
    assert time.monotonic() - started >= 1.2  # it kept serving after the batch
    (event,) = committed_batches(attestia)
    assert event.count == 3
    (batch,) = node.journal.batches(J.COMMITTED)
    received = min(e.received_at for e in node.journal.offchain(J.RECORDED))
    waited = node.journal.db.execute("SELECT updated_at FROM batches").fetchone()[0] - received
    assert waited >= 0.4


def test_start_up_heap_is_set_aside_from_the_collector_before_serving(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    """Recovery ends with ``gc.freeze``: what start-up built is set aside, so full
    collections in a batch scan only what serving made; garbage cycles made before it are
    collected first, not frozen."""
    import gc
    import weakref

    class Cycle:
        pass

    gc.unfreeze()
    node = make_node(attestia, demo_package_dir, tmp_path / "w")
    cycle = Cycle()
    cycle.me = cycle  # type: ignore[attr-defined]
    dead = weakref.ref(cycle)
    del cycle
    try:
        assert gc.get_freeze_count() == 0
        submit_offchain(tmp_path / "w" / "inbox", requests_for(served_model, 2))
        stats = run_batch_mode(node, tmp_path / "w", batch_size=2, max_latency=30,
                               until_idle=True)
        assert stats.recorded == 2
        frozen = gc.get_freeze_count()
        assert frozen > 10_000, frozen
        assert dead() is None  # collected before the freeze, not kept by it
        gc.collect()
        assert gc.get_freeze_count() == frozen  # a full collection leaves them aside
    finally:
        gc.unfreeze()


def test_a_batch_reads_the_split_and_epoch_in_one_round_trip(
    attestia, served_model, demo_package_dir, tmp_path
) -> None:
    """``model_and_epoch`` (one JSON-RPC batch) answers what ``model`` and ``current_epoch``
    answer, one by one; an unknown model reads as None."""
    node = make_node(attestia, demo_package_dir, tmp_path / "w")
    model, epoch = attestia.registry.model_and_epoch(served_model.model_id, node.sender)
    assert model == attestia.registry.model(served_model.model_id) == served_model.model
    assert epoch == attestia.registry.current_epoch()
    assert attestia.registry.model_and_epoch(b"\x01" * 32, node.sender) == (None, epoch)


def test_full_batches_are_cut_at_batch_size(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    node = make_node(attestia, demo_package_dir, tmp_path / "w")
    submit_offchain(tmp_path / "w" / "inbox", requests_for(served_model, 5))
    stats = run_batch_mode(node, tmp_path / "w", batch_size=2, max_latency=30, until_idle=True)
    assert stats.recorded == 5
    assert sorted(e.count for e in committed_batches(attestia)) == [1, 2, 2]
    assert len(set(recorded_ids(attestia))) == 5


def test_bad_requests_are_dropped_with_a_reason_and_journaled_as_rejected(
    attestia, served_model, demo_package, demo_package_dir, tmp_path, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="attestia.worker")
    node = make_node(attestia, demo_package_dir, tmp_path / "w")
    good = requests_for(served_model, 2)
    good_bytes = encode_tensor(rows(1)[0])
    nan = bytearray(good_bytes)
    nan[-4:] = struct.pack("<f", float("nan"))

    def variant(**changes) -> dict:
        base = offchain_request(served_model.model_id, good_bytes, fee=FEE,
                                requester=CLIENT.address, salt=new_salt())
        base.update(changes)
        return {k: v for k, v in base.items() if v is not None}

    wrong_shape = encode_tensor(np.ones((1, 29), dtype=np.float32))
    bad = {
        "nan": variant(inputBytes="0x" + bytes(nan).hex()),
        "shape": variant(inputBytes="0x" + wrong_shape.hex()),
        "features": variant(inputBytes=None, input={"features": [1.0] * 29}),
        "nan-feature": variant(inputBytes=None, input={"features": [math.nan] * 30}),
        "overflow": variant(inputBytes="0x" + encode_tensor(
            np.full((1, 30), 3e38, dtype=np.float32)).hex()),
        "model": variant(modelId="0x" + "ab" * 32),
        "salt": variant(salt="0x1234"),
        "fee": variant(fee=-1),
    }
    inbox = tmp_path / "w" / "inbox"
    path = inbox / "00-requests.json"
    inbox.mkdir(parents=True)
    path.write_text(json.dumps([*good, *bad.values(), 42]))  # json allows NaN tokens
    (inbox / "01-garbage.json").write_text("{not json")

    stats = run_batch_mode(node, tmp_path / "w", batch_size=50, max_latency=30, until_idle=True)

    assert stats.recorded == 2 and stats.rejected == len(bad) + 1
    (event,) = committed_batches(attestia)
    assert event.count == 2
    assert event.deposit == 2 * contributors_cut(FEE, 2_000, 2_000)
    reasons = {e.request_id: e.reason for e in node.journal.offchain(J.REJECTED)}
    expected = {"nan": "NaN", "shape": "shape", "features": "expected 30",
                "nan-feature": "finite", "overflow": "overflows", "model": "not served",
                "salt": "salt must be 32 bytes", "fee": "fee must be"}
    for name, needle in expected.items():
        assert needle in reasons[bad[name]["requestId"]], (name, reasons[bad[name]["requestId"]])
    assert "00-requests.json#10" in reasons  # no request id at all
    assert (inbox / "done" / path.name).exists()
    assert (inbox / "bad" / "01-garbage.json").exists()
    logged = " ".join(r.message for r in caplog.records)
    assert "rejected " + bad["nan"]["requestId"][:18] in logged and "01-garbage" in logged


def test_deposit_is_the_contributors_cut_of_each_fee(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    fees = [0, 1, 9_999, 12_345, FEE + 7]
    assert contributors_cut(12_345, 2_000, 2_000) == 12_345 - 2_469 - 2_469
    assert batch_deposit(fees, 2_000, 2_000) == sum(f - f // 5 - f // 5 for f in fees)
    node = make_node(attestia, demo_package_dir, tmp_path / "w")
    requests = [r | {"fee": fee} for r, fee in zip(requests_for(served_model, 5), fees,
                                                       strict=True)]
    submit_offchain(tmp_path / "w" / "inbox", requests)
    w3 = attestia.chain.w3
    before = w3.eth.get_balance(attestia.registry.address)
    run_batch_mode(node, tmp_path / "w", batch_size=5, max_latency=30, until_idle=True)
    (event,) = committed_batches(attestia)
    assert event.deposit == batch_deposit(fees, 2_000, 2_000)
    assert w3.eth.get_balance(attestia.registry.address) - before == event.deposit


def test_duplicate_request_ids_are_recorded_once(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    node = make_node(attestia, demo_package_dir, tmp_path / "w")
    requests = requests_for(served_model, 3)
    inbox = tmp_path / "w" / "inbox"
    submit_offchain(inbox, requests)
    submit_offchain(inbox, [requests[1], requests[1]])
    stats = run_batch_mode(node, tmp_path / "w", batch_size=10, max_latency=30, until_idle=True)
    assert stats.recorded == 3
    assert sorted(recorded_ids(attestia)) == sorted(r["requestId"] for r in requests)
    assert not list(inbox.glob("*.json")) and len(list((inbox / "done").glob("*.json"))) == 2


def _crash_at(monkeypatch, point: str) -> None:
    """Make the worker die at one step of a batch's life (the first time it gets there)."""
    def once(target, name):
        original = getattr(target, name)
        fired = []

        def wrapper(*args, **kwargs):
            if not fired:
                fired.append(True)
                raise Crash(point)
            return original(*args, **kwargs)
        monkeypatch.setattr(target, name, wrapper)

    if point == "before-file":
        once(B, "write_json")  # requests assigned in the journal, no file written
    elif point == "before-sign":
        original = B.write_batch_file

        def write_then_crash(path, published):  # the batch file is written, never signed
            original(path, published)
            raise Crash(point)
        monkeypatch.setattr(B, "write_batch_file", write_then_crash)
    elif point == "before-broadcast":
        once(Sender, "broadcast")  # signed and journaled, never sent
    elif point == "before-confirm":
        once(Sender, "wait")  # sent, not confirmed
    elif point == "before-move":
        once(B, "move_file")  # committed, inbox file not moved yet
    else:
        raise AssertionError(point)


@pytest.mark.parametrize("point", ["before-file", "before-sign", "before-broadcast",
                                   "before-confirm", "before-move"])
def test_a_crash_anywhere_loses_nothing_and_commits_nothing_twice(
    attestia, served_model, demo_package, demo_package_dir, tmp_path, monkeypatch, point
) -> None:
    data_dir = tmp_path / "w"
    node = make_node(attestia, demo_package_dir, data_dir)
    requests = requests_for(served_model, 7)
    inbox = data_dir / "inbox"
    submit_offchain(inbox, requests[:4])
    submit_offchain(inbox, requests[4:])
    with monkeypatch.context() as patch:
        _crash_at(patch, point)
        with pytest.raises(Crash):
            run_batch_mode(node, data_dir, batch_size=4, max_latency=30, until_idle=True)
    journaled = {b.batch_id: b for b in node.journal.batches(J.SIGNED, J.SENT)}
    node.journal.close()

    again = make_node(attestia, demo_package_dir, data_dir)  # a fresh process, same data
    stats = run_batch_mode(again, data_dir, batch_size=4, max_latency=30, until_idle=True)

    ids = recorded_ids(attestia)
    assert sorted(ids) == sorted(r["requestId"] for r in requests)  # each exactly once
    assert again.journal.offchain_counts() == {J.RECORDED: 7}
    assert stats.failed == 0 and not list(inbox.glob("*.json"))
    assert len(list((inbox / "done").glob("*.json"))) == 2
    for batch_id, entry in journaled.items():  # re-broadcast: the very same transaction
        assert again.journal.batch(batch_id).tx_hash == entry.tx_hash
        receipt = attestia.chain.w3.eth.get_transaction_receipt(entry.tx_hash)
        assert receipt["status"] == 1


def test_a_commit_signed_before_the_epoch_turned_is_signed_again(
    attestia, served_model, demo_package, demo_package_dir, tmp_path, monkeypatch
) -> None:
    data_dir = tmp_path / "w"
    node = make_node(attestia, demo_package_dir, data_dir)
    submit_offchain(data_dir / "inbox", requests_for(served_model, 3))
    with monkeypatch.context() as patch:
        _crash_at(patch, "before-broadcast")
        with pytest.raises(Crash):
            run_batch_mode(node, data_dir, batch_size=3, max_latency=30, until_idle=True)
    (stale,) = node.journal.batches(J.SIGNED)
    w3 = attestia.chain.w3
    w3.provider.make_request("evm_increaseTime", [86_400])
    w3.provider.make_request("evm_mine", [])
    epoch = attestia.registry.contract.functions.currentEpoch().call()
    assert epoch == stale.epoch + 1

    stats = run_batch_mode(node, data_dir, batch_size=3, max_latency=30, until_idle=True)

    assert stats.recorded == 3 and stats.failed == 0
    assert w3.eth.get_transaction_receipt(stale.tx_hash)["status"] == 0  # EpochMismatch
    (event,) = committed_batches(attestia)
    assert event.epoch == epoch
    done = node.journal.batch(stale.batch_id)
    assert done.state == J.COMMITTED and done.attempts == 1 and done.tx_hash != stale.tx_hash
    # Rewritten for the new epoch before re-signing, and the new bytes' hash committed.
    assert published(attestia, event).epoch == epoch


def test_an_uncommittable_batch_fails_its_requests(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    data_dir = tmp_path / "w"
    node = make_node(attestia, demo_package_dir, data_dir)
    # The model stops accepting SIGNED records: commitBatch must refuse this worker.
    admin = dev_account(0)
    fn = attestia.registry.contract.functions
    attestia.transact(fn.revokeModel(served_model.model_id), account=admin)
    submit_offchain(data_dir / "inbox", requests_for(served_model, 2))
    stats = run_batch_mode(node, data_dir, batch_size=2, max_latency=30, until_idle=True)
    assert stats.recorded == 0 and stats.failed == 2
    assert committed_batches(attestia) == []
    (failed,) = node.journal.batches(J.FAILED)
    assert "ModelIsRevoked" in failed.reason
    assert node.journal.offchain_counts() == {J.FAILED: 2}
    assert not list((data_dir / "inbox").glob("*.json"))


def test_an_enclave_key_commits_by_signature(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    from offchain.proofs.tee.simulated import simulated_measurement

    attestia.transact(attestia.registry.contract.functions.allowMeasurement(simulated_measurement()),
                      account=dev_account(0))
    node = make_node(attestia, demo_package_dir, tmp_path / "w", tee="simulated")
    assert node.signer.address != node.operator.address
    submit_offchain(tmp_path / "w" / "inbox", requests_for(served_model, 3))
    w3 = attestia.chain.w3
    operator_before = w3.eth.get_balance(node.operator.address)
    stats = run_batch_mode(node, tmp_path / "w", batch_size=3, max_latency=30, until_idle=True)
    assert stats.recorded == 3
    (event,) = committed_batches(attestia)
    assert event.worker == node.signer.address
    batch = published(attestia, event)  # commitBatchBySig: the key signed the dataHash
    for index, leaf in enumerate(batch.leaves):
        record = leaf.inference
        assert (record.proofKind, record.proofHash) == (PROOF_TEE, node.tee.attestation_hash)
        assert attestia.lens.verify_inclusion(event.batch_id, record, batch.proof(index))
    assert operator_before - w3.eth.get_balance(node.operator.address) >= event.deposit


def test_stop_event_finishes_in_flight_work_and_returns(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    shared: dict = {}

    def serve() -> None:  # the journal's SQLite handle belongs to the thread that opens it
        node = make_node(attestia, demo_package_dir, tmp_path / "w")
        shared["worker"] = BatchWorker(node, tmp_path / "w",
                                       BatchOptions(batch_size=4, max_latency=0.05))
        shared["stats"] = shared["worker"].run()

    thread = threading.Thread(target=serve)
    thread.start()
    submit_offchain(tmp_path / "w" / "inbox", requests_for(served_model, 4))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
            "worker" not in shared or shared["worker"].batch_stats.batches == 0):
        time.sleep(0.02)
    shared["worker"].node.stop_event.set()  # what SIGTERM does
    thread.join(timeout=10)
    assert not thread.is_alive() and shared["stats"].recorded == 4


def test_onchain_requests_are_still_served_in_batch_mode(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    from offchain.request.client import build_requests, send_requests, wait_for_outcomes

    node = make_node(attestia, demo_package_dir, tmp_path / "w")
    built = build_requests(attestia, served_model.model_id, rows(2), requester=CLIENT.address,
                           worker=node.signer.address, package=demo_package)
    sent = send_requests(attestia, built, CLIENT, tmp_path / "client")
    submit_offchain(tmp_path / "w" / "inbox", requests_for(served_model, 2))
    stats = run_batch_mode(node, tmp_path / "w", batch_size=2, max_latency=30, until_idle=True)
    assert stats.recorded == 4
    assert len(wait_for_outcomes(attestia, sent, timeout=5)) == 2


def test_batch_options_are_checked(tmp_path) -> None:
    for options in (BatchOptions(batch_size=0), BatchOptions(max_latency=-1)):
        with pytest.raises(BatchError, match="batch size"):
            BatchWorker(None, tmp_path, options)  # type: ignore[arg-type]


def test_cli_batch_mode_commits_and_exits_cleanly_on_sigterm(
    attestia, served_model, demo_package, demo_package_dir, settings
) -> None:
    data_dir = settings.data_dir / "workers" / "batch-cli"
    submit_offchain(data_dir / "inbox", requests_for(served_model, 3))
    cmd = [sys.executable, "-m", "offchain.cli.main", "--rpc-url", attestia.chain.url, "worker",
           "run", "--model", str(demo_package_dir), "--name", "batch-cli", "--dev-account", "1",
           "--batch-size", "10", "--max-latency", "0.2"]
    env = {**os.environ, "ATTESTIA_HOME": str(settings.home)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while not committed_batches(attestia) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "3 recorded" in output and "count 3" in output
    (event,) = committed_batches(attestia)
    assert event.count == 3


def test_a_journaled_commit_that_reverts_fails_its_requests_with_the_reason(
    attestia, served_model, demo_package, demo_package_dir, tmp_path, monkeypatch
) -> None:
    data_dir = tmp_path / "w"
    node = make_node(attestia, demo_package_dir, data_dir)
    submit_offchain(data_dir / "inbox", requests_for(served_model, 2))
    with monkeypatch.context() as patch:
        _crash_at(patch, "before-broadcast")
        with pytest.raises(Crash):
            run_batch_mode(node, data_dir, batch_size=2, max_latency=30, until_idle=True)
    attestia.transact(attestia.registry.contract.functions.revokeModel(served_model.model_id),
                      account=dev_account(0))
    stats = run_batch_mode(node, data_dir, batch_size=2, max_latency=30, until_idle=True)
    assert stats.failed == 2 and committed_batches(attestia) == []
    (failed,) = node.journal.batches(J.FAILED)
    assert attestia.chain.w3.eth.get_transaction_receipt(failed.tx_hash)["status"] == 0
    assert "ModelIsRevoked" in failed.reason
    assert node.journal.offchain_counts() == {J.FAILED: 2}


def test_a_worker_batch_settles_and_every_leaf_pays_its_fees_cut(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    """The full flow: the worker's batch (file hashed and committed), the next epoch's
    settlement checks it (dataHash, count, roster...) and pays each leaf its fee's cut.
    Committed ten minutes before its epoch ends, inside the last challenge window: its
    leaves become final in the next epoch, which the settlement must wait for."""
    late = (seconds_to_next_epoch(attestia) - 601) % attestia.registry.epoch_length()
    advance_time(attestia.chain, late)
    node = make_node(attestia, demo_package_dir, tmp_path / "w")
    submit_offchain(tmp_path / "w" / "inbox", requests_for(served_model, 5))
    run_batch_mode(node, tmp_path / "w", batch_size=5, max_latency=30, until_idle=True)
    (event,) = committed_batches(attestia)
    end_challenge_windows(attestia)  # whenever in its epoch the batch was committed
    s = settle(attestia, tmp_path / "rewards", account=dev_account(0))
    (outcome,) = s.batches
    assert outcome.included and not outcome.capped and s.quarantined == []
    assert [leaf.pool for leaf in outcome.leaves] == [contributors_cut(FEE, 2_000, 2_000)] * 5
    assert event.deposit - 5 * 5 <= s.total <= event.deposit == s.funded
    assert set(s.cumulative) <= set(demo_package.roster)
