"""The worker records each request exactly once, rejects bad input, and shares models."""

from __future__ import annotations

import logging
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from offchain.chain.accounts import dev_account
from offchain.config import REPO_ROOT
from offchain.errors import TransactionReverted
from offchain.models.encoding import commit, encode_tensor, new_salt
from offchain.protocol import BPS, ZERO32, ZERO_ADDRESS, Request, request_id, result_hash
from offchain.request.client import wait_for_outcomes
from offchain.sealing import (
    MAX_PAYLOAD_BYTES,
    EncryptionKey,
    RequestPayload,
    seal_request,
)
from offchain.worker import journal as J
from tests.worker.helpers import CLIENT, make_worker, send_demo_requests


def test_requests_are_recorded_with_attribution_and_fee_split(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    sent = send_demo_requests(attestia, demo_package, tmp_path, 6, worker=node.signer.address)
    stats = node.run(until_idle=True)
    assert stats.recorded == 6 and stats.failed == 0 and stats.rejected == 0
    outcomes = wait_for_outcomes(attestia, sent, timeout=5)
    assert len(outcomes) == 6
    for local in sent:
        outcome = outcomes[local.request_id]
        assert outcome.output is not None and outcome.output.shape == (1, 2)
        assert sum(b for _, b in outcome.shares) == BPS
        assert outcome.inference.inputCommitment == commit(local.salt, local.input_bytes)
        assert outcome.inference.modelId == served_model.model_id != demo_package.content_hash
        # The worker signed the sealed answer the client opened.
        assert outcome.inference.resultHash == result_hash(
            attestia.registry.sealed_result(outcome.tx_hash)) != ZERO32
        assert {a for a, _ in outcome.shares} <= set(demo_package.roster)
        assert outcome.payout.workerCut == 2 * 10**14
        # The client kept the request as the chain stored it (terms fixed at payment).
        assert local.request is not None and local.request.request_id == local.request_id
        assert (local.request.fee, local.request.workerBps) == (10**15, 2_000)
    reg = attestia.registry
    assert reg.balance(node.operator.address) == 6 * 2 * 10**14
    assert reg.epoch_pool(reg.current_epoch()) == 6 * 6 * 10**14
    assert node.journal.counts() == {J.DONE: 6}
    [entry, *_] = node.journal.entries(J.DONE)
    # The journal keeps the Request's JSON form (plus the payload): it reads back exactly.
    request = Request.from_json(entry.request)
    assert request.to_json() == {k: v for k, v in entry.request.items() if k != "payload"}
    assert request.hash == bytes(
        attestia.registry.contract.functions.hashRequest(request.as_tuple()).call())
    # Nothing left: running again records nothing and sends nothing.
    nonce = attestia.chain.w3.eth.get_transaction_count(node.operator.address)
    assert node.run(until_idle=True).recorded == 6
    assert attestia.chain.w3.eth.get_transaction_count(node.operator.address) == nonce


def _raw_request(attestia, model_id: bytes, payload: bytes, commitment: bytes, worker: str,
                 zk_input_hash: bytes = ZERO32):
    client = dev_account(CLIENT)
    terms = attestia.registry.model(model_id)
    attestia.send(attestia.registry.request_inference(model_id, worker, commitment, payload, terms,
                                                 zk_input_hash=zk_input_hash), account=client)
    return request_id(client.address, model_id, commitment)


def test_bad_input_is_rejected_on_chain_and_refunded(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    key = node.enc_key.public
    reply = EncryptionKey.generate().public
    model_id, fee = served_model.model_id, served_model.model.fee

    def sealed(input_bytes: bytes, salt: bytes | None = None) -> tuple[bytes, bytes]:
        salt = salt or new_salt()
        return seal_request(key, RequestPayload(input_bytes, salt, reply)), commit(salt,
                                                                                   input_bytes)

    good = encode_tensor(demo_package.parse_input({"features": [1.0] * 30}))
    nan = bytearray(good)
    nan[-4:] = struct.pack("<f", float("nan"))
    cases = {
        "undecryptable": (b"\x04" + b"\x11" * 200, new_salt()),
        "wrong shape": sealed(encode_tensor(demo_package.parse_input(
            {"features": [1.0] * 30}))[:8] + b"\x00" * 4),
        "nan": sealed(bytes(nan)),
        "oversize": (b"\x00" * (MAX_PAYLOAD_BYTES + 1), new_salt()),
        "commitment": (sealed(good)[0], new_salt()),
    }
    ids = {name: _raw_request(attestia, model_id, payload, commitment, node.signer.address)
           for name, (payload, commitment) in cases.items()}
    fine = send_demo_requests(attestia, demo_package, tmp_path, 1, worker=node.signer.address)
    stats = node.run(until_idle=True)
    assert stats.rejected == len(cases) and stats.recorded == 1 and stats.failed == 0
    rejected = {e.request_id: e.reason for e in attestia.registry.rejected()}
    assert "undecryptable" in rejected[ids["undecryptable"]]
    assert "malformed input" in rejected[ids["wrong shape"]]
    assert "malformed input" in rejected[ids["nan"]]
    assert "exceeds" in rejected[ids["oversize"]]
    assert "does not match its commitment" in rejected[ids["commitment"]]
    refund = attestia.registry.balance(dev_account(CLIENT).address)
    assert refund == len(cases) * fee
    assert {r.request_id for r in attestia.registry.recorded()} == {fine[0].request_id}


def test_two_workers_each_serve_only_the_requests_naming_them(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    """Every request names its worker (issue 17: requests naming none are refused on chain,
    WorkerRequired): two workers of one model each record exactly the requests sealed to them
    and never touch the other's."""
    first = make_worker(attestia, demo_package_dir, tmp_path / "w1", operator_index=1)
    second = make_worker(attestia, demo_package_dir, tmp_path / "w2", operator_index=3)
    to_first = send_demo_requests(attestia, demo_package, tmp_path, 2,
                                  worker=first.signer.address)
    to_second = send_demo_requests(attestia, demo_package, tmp_path, 2,
                                   worker=second.signer.address, offset=2)
    a = first.run(until_idle=True)
    b = second.run(until_idle=True)
    records = attestia.registry.recorded()
    assert sorted(r.request_id for r in records) == sorted(
        r.request_id for r in to_first + to_second)
    assert {r.request_id: r.inference.worker for r in records} == {
        **{r.request_id: first.signer.address for r in to_first},
        **{r.request_id: second.signer.address for r in to_second}}
    assert a.recorded == b.recorded == 2 and a.skipped == b.skipped == 0
    assert a.failed == b.failed == 0
    with pytest.raises(TransactionReverted, match="WorkerRequired"):
        _raw_request(attestia, served_model.model_id, b"sealed", commit(new_salt(), b"x"),
                     ZERO_ADDRESS)


def _closed_while_in_flight(attestia, node) -> None:
    """Make the request close between the worker's check that it is open and its send: the
    operator rejects it right after the record is prepared."""
    prepare = node._prepare

    def prepare_then_close(entry):
        prepared = prepare(entry)
        attestia.send(attestia.registry.reject_request(
            Request.from_json(entry.request), "closed under the worker"), account=node.operator)
        return prepared

    node._prepare = prepare_then_close


def test_a_record_that_reverts_on_chain_journals_its_custom_error(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    node.options.simulate = False  # the fulfill is sent, mined, and reverts
    [sent] = send_demo_requests(attestia, demo_package, tmp_path, 1, worker=node.signer.address)
    _closed_while_in_flight(attestia, node)
    stats = node.run(until_idle=True)
    assert stats.recorded == 0 and stats.skipped == 1
    [entry] = node.journal.entries(J.SKIPPED)
    receipt = attestia.chain.w3.eth.get_transaction_receipt(entry.tx_hash)
    assert receipt["status"] == 0  # the failed fulfill was mined
    error = f"RequestNotOpen(0x{sent.request_id.hex()})"
    assert entry.reason == f"no longer open: reverted with {error}"


def test_a_record_that_would_revert_is_not_sent_and_journals_its_custom_error(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    assert node.options.simulate
    [sent] = send_demo_requests(attestia, demo_package, tmp_path, 1, worker=node.signer.address)
    _closed_while_in_flight(attestia, node)
    w3 = attestia.chain.w3
    nonce = w3.eth.get_transaction_count(node.operator.address)
    stats = node.run(until_idle=True)
    assert stats.recorded == 0 and stats.skipped == 1
    [entry] = node.journal.entries(J.SKIPPED)
    assert entry.tx_hash is None
    error = f"RequestNotOpen(0x{sent.request_id.hex()})"
    assert entry.reason == f"no longer open: not sent: fulfill: reverted with {error}"
    assert w3.eth.get_transaction_count(node.operator.address) == nonce + 1  # the reject only


def test_journal_survives_reopen(tmp_path: Path) -> None:
    journal = J.Journal(tmp_path / "j.sqlite")
    assert journal.add_requests([("0x01", 5, {"a": 1}), ("0x02", 6, {"b": 2})], 6) == 2
    assert journal.add_requests([("0x01", 5, {"a": 1})], 7) == 0
    journal.update("0x01", J.SIGNED, raw_tx="0xaa", tx_hash="0xbb", nonce=3, record={"x": 1})
    journal.close()
    again = J.Journal(tmp_path / "j.sqlite")
    assert again.cursor == 7
    [entry] = again.entries(J.SIGNED)
    assert entry.nonce == 3 and entry.record == {"x": 1} and entry.request == {"a": 1}
    assert again.max_nonce() == 3


# -- the worker's key on chain (issue 9 class 4a, issue 10 blocker 1) ------------------------

def _register_key_for(attestia, signer, operator, encryption_key: bytes) -> None:
    """Register ``signer``'s key with ``operator`` as its operator, with the key's consent."""
    from offchain.worker.registration import consent

    deadline, signature = consent(attestia, signer, operator.address, encryption_key)
    attestia.send(attestia.registry.register_worker(
        signer.address, encryption_key, attestia.registry.min_stake(), deadline=deadline,
        signature=signature), account=operator)


def test_worker_refuses_to_start_when_another_operator_holds_its_key(
    attestia, served_model, demo_package_dir, tmp_path
) -> None:
    from offchain.worker.registration import WorkerKeyConflict

    ours, theirs = dev_account(1), dev_account(3)
    _register_key_for(attestia, ours, theirs, EncryptionKey.generate().public)
    nonce = attestia.chain.w3.eth.get_transaction_count(ours.address)
    with pytest.raises(WorkerKeyConflict) as raised:
        make_worker(attestia, demo_package_dir, tmp_path / "w", operator_index=1)
    message = str(raised.value)
    assert f"worker key {ours.address} is registered on chain 31337 by operator " \
        f"{theirs.address}, not by this worker's operator {ours.address}" in message
    assert not (tmp_path / "w").exists()  # nothing written
    assert attestia.chain.w3.eth.get_transaction_count(ours.address) == nonce  # nothing sent
    assert attestia.registry.worker(ours.address).operator == theirs.address


def test_worker_run_exits_with_one_error_line_when_its_key_is_someone_elses(
    attestia, settings, served_model, demo_package_dir
) -> None:
    ours, theirs = dev_account(1), dev_account(3)
    _register_key_for(attestia, ours, theirs, EncryptionKey.generate().public)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    env |= {"ATTESTIA_HOME": str(settings.home), "COLUMNS": "300"}
    result = subprocess.run(
        [sys.executable, "-m", "offchain.cli.main", "--rpc-url", settings.rpc_url, "worker",
         "run", "--model", str(demo_package_dir), "--name", "front-run", "--dev-account", "1",
         "--until-idle"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: worker key ") and theirs.address in lines[0]
    assert ours.address in lines[0] and "Traceback" not in result.stderr
    assert not (settings.data_dir / "workers" / "front-run").exists()


def test_worker_rotates_a_stale_encryption_key_of_its_own(
    attestia, served_model, demo_package, demo_package_dir, tmp_path, caplog
) -> None:
    operator = dev_account(1)
    stale = EncryptionKey.generate()
    _register_key_for(attestia, operator, operator, stale.public)  # e.g. an earlier data dir
    with caplog.at_level(logging.WARNING, logger="attestia.worker"):
        node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    assert node.enc_key.public != stale.public
    assert attestia.registry.worker(operator.address).encryptionKey == node.enc_key.public
    assert any("rotated the encryption key" in r.getMessage() for r in caplog.records)
    # Requests sealed to the published key are now ones this worker can open.
    sent = send_demo_requests(attestia, demo_package, tmp_path, 2, worker=operator.address)
    stats = node.run(until_idle=True)
    assert stats.recorded == 2 and stats.rejected == 0
    assert {r.request_id for r in attestia.registry.recorded()} == {s.request_id for s in sent}
    # A restart with the same data directory changes nothing on chain.
    nonce = attestia.chain.w3.eth.get_transaction_count(operator.address)
    make_worker(attestia, demo_package_dir, tmp_path / "w")
    assert attestia.chain.w3.eth.get_transaction_count(operator.address) == nonce


def test_an_enclave_key_registers_with_its_consent_and_checks_its_operator(
    attestia, served_model, demo_package, demo_package_dir, tmp_path
) -> None:
    from offchain.proofs.tee.simulated import simulated_measurement
    from offchain.worker.registration import WorkerKeyConflict

    attestia.send(attestia.registry.allow_measurement(simulated_measurement()),
                  account=dev_account(0))
    node = make_worker(attestia, demo_package_dir, tmp_path / "tee", tee="simulated")
    info = attestia.registry.worker(node.signer.address)
    assert node.signer.address != node.operator.address  # relayed by the operator
    assert info.operator == node.operator.address and info.enclave_bound
    assert attestia.registry.nonce(node.signer.address) == 1  # its consent was used
    [sent] = send_demo_requests(attestia, demo_package, tmp_path, 1, worker=node.signer.address)
    assert node.run(until_idle=True).recorded == 1
    [record] = attestia.registry.recorded()
    assert record.inference.proofKind == 2 and record.inference.worker == node.signer.address
    # The same enclave run by another operator is refused.
    with pytest.raises(WorkerKeyConflict, match=node.operator.address):
        make_worker(attestia, demo_package_dir, tmp_path / "tee", operator_index=3,
                    tee="simulated")


# -- class 9: a poison input must not stop a (zk) worker -------------------------------------

def test_a_poison_input_is_rejected_and_the_running_zk_worker_serves_the_next(
    attestia, settings, zk_package_dir, tmp_path
) -> None:
    from offchain.models import load_package
    from offchain.models.onchain import enable_zk, register_model
    from offchain.proofs.zk import load_artifacts, zk_input_hash
    from tests.worker.helpers import demo_inputs

    owner, operator, client = dev_account(0), dev_account(1), dev_account(CLIENT)
    package = load_package(zk_package_dir)
    artifacts = load_artifacts(zk_package_dir / "zk")
    registration = register_model(attestia, package, fee=10**15, kinds=["signed"],
                                  account=owner)
    model_id, model, _ = enable_zk(attestia, package, artifacts, account=owner)
    assert model_id == registration.model_id and "zk" in model.kinds and model.has_verifier
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    env["ATTESTIA_HOME"] = str(settings.home)
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "offchain.cli.main", "--rpc-url", settings.rpc_url, "worker",
             "run", "--model", str(zk_package_dir), "--name", "zk-poison", "--dev-account",
             "1"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while attestia.registry.worker(operator.address) is None:
            assert worker.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        honest = demo_inputs(2)
        # 1. A well-formed input far outside the circuit's calibrated range: its Poseidon hash
        # exists (so the request is a valid zk request), its witness does not.
        poison = (honest[0] * 100).astype(np.float32)
        [bad] = send_demo_requests(attestia, package, tmp_path, 1, worker=operator.address,
                                   model_id=model_id, inputs=[poison])
        assert bad.zk_input_hash == zk_input_hash(artifacts, package.model_input(poison))
        # 2. A request binding another input's hash: rejected before any proof is made.
        input_bytes, salt = encode_tensor(honest[1]), new_salt()
        key = attestia.registry.worker(operator.address).encryptionKey
        payload = seal_request(key, RequestPayload(input_bytes, salt,
                                                   EncryptionKey.generate().public))
        mismatch = _raw_request(attestia, model_id, payload, commit(salt, input_bytes),
                                operator.address,
                                zk_input_hash=zk_input_hash(artifacts,
                                                            package.model_input(honest[0])))
        outcomes = wait_for_outcomes(attestia, [bad], timeout=120)
        assert "zk proof failed" in outcomes[bad.request_id].rejected
        assert "does not fit the circuit" in outcomes[bad.request_id].rejected
        deadline = time.monotonic() + 60
        while not attestia.registry.rejected(request_id=mismatch):
            assert worker.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        [rejection] = attestia.registry.rejected(request_id=mismatch)
        assert "is not the Poseidon hash of the input" in rejection.reason
        assert attestia.registry.balance(client.address) == 2 * 10**15  # both refunded
        # 3. The worker is still running and serves the next honest request with a proof.
        assert worker.poll() is None, log_path.read_text()
        [good] = send_demo_requests(attestia, package, tmp_path, 1, worker=operator.address,
                                    model_id=model_id, inputs=[honest[0]])
        outcome = wait_for_outcomes(attestia, [good], timeout=120)[good.request_id]
        assert outcome.rejected is None and outcome.output is not None
        assert outcome.inference.proofKind == 3  # ZK
        assert attestia.registry.proof_used(outcome.inference.proofHash)
        assert worker.poll() is None
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    assert code == 0, log_path.read_text()
    assert "stopped: 1 recorded, 2 rejected" in log_path.read_text()


def test_an_expired_request_is_rejected_before_the_model_runs(
    attestia, served_model, demo_package, demo_package_dir, tmp_path, monkeypatch
) -> None:
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    [sent] = send_demo_requests(attestia, demo_package, tmp_path, 1, worker=node.signer.address)
    timeout = attestia.registry.request_timeout()
    later = max(time.time(), sent.request.createdAt) + timeout + 1
    monkeypatch.setattr("offchain.worker.node.time.time", lambda: later)
    ran = []
    engine = next(iter(node.engines.values()))
    monkeypatch.setattr(engine, "evaluate", lambda raw: ran.append(raw))
    stats = node.run(until_idle=True)
    assert stats.rejected == 1 and not ran
    [rejection] = attestia.registry.rejected()
    assert rejection.reason.startswith("expired: a record had to be signed by")
    assert attestia.registry.balance(dev_account(CLIENT).address) == served_model.model.fee


def test_worker_refuses_to_serve_a_registration_with_another_roster(
    attestia, demo_package, demo_package_dir, tmp_path
) -> None:
    """A registration of the same ONNX file whose roster is not the package's: every record
    would be refused (or pay the wrong accounts), so the worker does not start."""
    from offchain.errors import ConfigError
    from offchain.models.onchain import DEFAULT_SPLIT
    from offchain.protocol import policy_of, sorted_roster

    roster = sorted_roster([*demo_package.roster, "0x" + "11" * 20])
    attestia.send(attestia.registry.register_model(
        demo_package.content_hash, "attestia:other", demo_package.data_root(), roster,
        policy_of(["signed"]), 10**15, DEFAULT_SPLIT), account=dev_account(0))
    with pytest.raises(ConfigError, match="another contributor roster"):
        make_worker(attestia, demo_package_dir, tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_worker_given_a_package_registered_by_two_owners_needs_a_model_id(
    attestia, demo_package, demo_package_dir, tmp_path
) -> None:
    from offchain.errors import ConfigError
    from offchain.models.onchain import register_model
    from offchain.models.registrations import ModelIdUnknown

    theirs = register_model(attestia, demo_package, fee=1, account=dev_account(5))
    ours = register_model(attestia, demo_package, fee=10**15, account=dev_account(0),
                          data_dir=tmp_path / "project")
    with pytest.raises(ModelIdUnknown, match="--model-id 0x"):
        make_worker(attestia, demo_package_dir, tmp_path / "w")
    named = make_worker(attestia, demo_package_dir, tmp_path / "w", model_ids=[ours.model_id])
    assert list(named.engines) == [ours.model_id]
    recorded = make_worker(attestia, demo_package_dir, tmp_path / "w",
                           project_dir=tmp_path / "project")  # model register's record
    assert list(recorded.engines) == [ours.model_id] != [theirs.model_id]
    with pytest.raises(ConfigError, match="is not a registration of any package"):
        make_worker(attestia, demo_package_dir, tmp_path / "w",
                    model_ids=[ours.model_id, b"\x07" * 32])
