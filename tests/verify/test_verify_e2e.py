"""`attestia verify` end to end: the demo's signed records, a committed batch, a simulated-TEE
record and a zk-proven record all PASS; every tamper FAILs on its own line.

One module fixture runs the flow once on the suite's Anvil (inside an evm_snapshot that is
reverted afterwards): the demo with 2 requests, a batch of 3 leaves committed with
commitBatch, one request served by a `--tee simulated` worker, `attestia model zk-setup` on
the demo package, and one zk-proven request. Tampering happens to what the verifier is
given (a modified copy of the evidence, the attestation file on disk), since the chain holds
the truth; where the contract itself is the guard, the test asserts that it refuses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
from eth_account import Account
from eth_utils import keccak
from onnx import numpy_helper
from rich.console import Console

from offchain.chain.accounts import dev_account
from offchain.chain.connection import connect
from offchain.chain.eip712 import sign_digest
from offchain.cli.model import calibration_sample
from offchain.config import REPO_ROOT, load_settings
from offchain.demo.flow import run_demo
from offchain.errors import ConfigError, TransactionReverted
from offchain.models import load_package
from offchain.models.demo import holdout
from offchain.models.encoding import (
    commit,
    decode_tensor,
    encode_tensor,
    input_to_json,
    new_salt,
)
from offchain.models.onchain import enable_zk
from offchain.models.package import PACKAGE_FILES
from offchain.models.registrations import resolve_model_id
from offchain.proofs import zk
from offchain.proofs.tee.simulated import SimulatedNitroEnclave, simulated_measurement
from offchain.protocol import PROOF_SIGNED, PROOF_ZK, inference_digest, request_id, result_hash
from offchain.record.batch_file import BatchFile, BatchLeaf, write_batch_file
from offchain.record.compute import InferenceEngine
from offchain.registry import Attestia
from offchain.request.client import LocalRequest, build_requests, send_requests
from offchain.sealing import output_salt
from offchain.verify import (
    ChainOracle,
    RecordRef,
    Status,
    VerifyError,
    VerifyOptions,
    gather,
    recompute,
    run_checks,
    verify,
)
from offchain.verify.checks import check_model
from offchain.worker.service import build_worker

ADMIN, WORKER, CLIENT, TEE_OPERATOR = 0, 1, 2, 3
ALWAYS_PASS = ("record", "model", "worker", "signature", "attribution", "package", "input",
               "output", "attribution-recompute")


@dataclass
class Flow:
    settings: object
    attestia: Attestia
    model_id: bytes
    package_dir: Path
    nozk_dir: Path
    signed_ids: list[bytes]
    batch_id: bytes
    batch_request_ids: list[bytes]
    tee_id: bytes
    tee_root: Path
    zk_id: bytes
    other_proof: zk.ZkProof
    other_artifacts: zk.ZkArtifacts
    zk_open_request: dict
    timings: dict[str, float]


def cli(settings, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    env |= {"ATTESTIA_HOME": str(settings.home), "ATTESTIA_RPC_URL": settings.rpc_url}
    return subprocess.run([sys.executable, "-m", "offchain.cli.main", *args], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


def _chain_time(attestia: Attestia) -> int:
    return int(attestia.chain.w3.eth.get_block("latest")["timestamp"])


def _commit_batch(attestia: Attestia, package, model_id: bytes, data_dir: Path,
                  rows: np.ndarray) -> tuple[bytes, list[bytes]]:
    """A batch in the published format (tree dump + leaves), committed with commitBatch and
    its file's dataHash by the demo's worker key; the requester's local records are kept like
    a client's."""
    engine = InferenceEngine(package, model_id)
    operator, client = dev_account(WORKER), dev_account(CLIENT)
    now = _chain_time(attestia)
    leaves = []
    for raw in rows:
        evaluation = engine.evaluate(raw[None, :].astype(np.float32))
        salt = new_salt()
        rid = request_id(client.address, model_id, commit(salt, evaluation.input_bytes))
        record = engine.record(evaluation, request_id=rid, input_salt=salt,
                               worker=operator.address, timestamp=now, proof_kind=PROOF_SIGNED)
        LocalRequest(rid, model_id, operator.address, evaluation.input_bytes, salt,
                     bytes(32), "", 0).save(data_dir)
        leaves.append(BatchLeaf(record, tuple(evaluation.shares), 10**14 // len(rows)))
    epoch = attestia.registry.current_epoch()
    published = BatchFile.of(leaves, model_id=model_id, worker=operator.address,
                             epoch=epoch, deposit=10**14)
    path = data_dir / "batches" / f"{published.tree.root}.json"
    written = write_batch_file(path, published)
    attestia.send(attestia.registry.commit_batch(published.root, published.count, model_id,
                                            epoch, path.resolve().as_uri(), written.data_hash,
                                            10**14),
                  account=operator)
    return published.batch_id, [leaf.inference.requestId for leaf in leaves]


def _serve(attestia, settings, package_dir: Path, model_id: bytes, worker_name: str, operator,
           rows, tee: str | None = None) -> list[bytes]:
    """Requests named to a worker, served by that worker in-process until idle."""
    setup = build_worker(attestia, operator=operator, packages=[package_dir],
                         data_dir=settings.data_dir / "workers" / worker_name, tee=tee)
    package = load_package(package_dir)
    built = build_requests(attestia, model_id, [r[None, :] for r in rows],
                           requester=dev_account(CLIENT).address, worker=setup.signer,
                           package=package)
    sent = send_requests(attestia, built, dev_account(CLIENT), settings.data_dir)
    stats = setup.node.run(until_idle=True)
    setup.node.journal.close()
    assert stats.recorded == len(rows), stats
    return [s.request_id for s in sent]


def _other_model_proof(package, tmp: Path, raw: np.ndarray
                       ) -> tuple[zk.ZkProof, zk.ZkArtifacts]:
    """The same network with other weights, set up and proved: a proof for another model."""
    model = onnx.load(package.onnx_path)
    first = model.graph.initializer[0]
    first.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(first) + np.float32(0.05),
                                           first.name))
    path = tmp / "other.onnx"
    onnx.save(model, path)
    artifacts = zk.zk_setup(path, tmp / "other-zk", chain_id=31337,
                            sample_input=calibration_sample(package))
    return zk.prove(artifacts, package.model_input(raw)), artifacts


@pytest.fixture(scope="module")
def flow(session_chain, anvil, tmp_path_factory):
    w3 = session_chain.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    home = tmp_path_factory.mktemp("verify-home")
    if (REPO_ROOT / "build").is_dir():
        (home / "build").symlink_to(REPO_ROOT / "build", target_is_directory=True)
    settings = load_settings(home=home, rpc_url=anvil.url)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    run_demo(settings, requests=2, console=Console(quiet=True))
    timings["demo"] = time.perf_counter() - started
    attestia = Attestia.load(connect(settings))
    data_dir = settings.data_dir
    package_dir = data_dir / "models" / "demo"
    package = load_package(package_dir)
    model_id = resolve_model_id(attestia, package, data_dir=data_dir).model_id
    signed_ids = [bytes.fromhex(p.stem[2:]) for p in (data_dir / "requests").glob("*.json")]
    X, _ = holdout()

    mark = time.perf_counter()
    batch_id, batch_ids = _commit_batch(attestia, package, model_id, data_dir, X[10:13])
    timings["batch"] = time.perf_counter() - mark

    mark = time.perf_counter()
    fn = attestia.registry.contract.functions
    attestia.transact(fn.allowMeasurement(simulated_measurement()), account=dev_account(ADMIN))
    nozk_dir = home / "demo-without-zk"  # the same model, served by an enclave key
    nozk_dir.mkdir()
    for name in PACKAGE_FILES:
        shutil.copyfile(package_dir / name, nozk_dir / name)
    [tee_id] = _serve(attestia, settings, nozk_dir, model_id, "tee", dev_account(TEE_OPERATOR),
                      X[20:21], tee="simulated")
    timings["tee"] = time.perf_counter() - mark

    mark = time.perf_counter()
    setup = cli(settings, "model", "zk-setup", str(package_dir))
    assert setup.returncode == 0, setup.stderr
    assert "LOCAL TEST-ONLY SRS" in setup.stderr and "FOR TESTING" in setup.stderr
    timings["zk-setup"] = time.perf_counter() - mark
    mark = time.perf_counter()
    [zk_id] = _serve(attestia, settings, package_dir, model_id, "demo", dev_account(WORKER),
                     X[30:31])
    timings["zk-record"] = time.perf_counter() - mark

    mark = time.perf_counter()
    raw = X[40][None, :].astype(np.float32)
    other, other_artifacts = _other_model_proof(package, home, raw)
    built = build_requests(attestia, model_id, [raw], requester=dev_account(CLIENT).address,
                           worker=dev_account(WORKER).address, package=package)
    [local] = send_requests(attestia, built, dev_account(CLIENT), data_dir)
    assert local.request is not None  # as the chain stored it (InferenceRequested)
    open_request = {"request": local.request, "salt": local.salt, "input": local.input_bytes,
                    "requestId": local.request_id}
    timings["other-model"] = time.perf_counter() - mark
    root = data_dir / "workers" / "tee" / "simulated-enclave" / "root.pem"
    yield Flow(settings, attestia, model_id, package_dir, nozk_dir, signed_ids, batch_id, batch_ids,
               tee_id, root, zk_id, other, other_artifacts, open_request, timings)
    w3.provider.make_request("evm_revert", [snapshot])
    for sender in session_chain._senders.values():
        sender.resync()


def _options(flow: Flow, **kw) -> VerifyOptions:
    return VerifyOptions(data_dir=flow.settings.data_dir, **kw)


def _report(flow: Flow, evidence, *, roots: bytes | None = None, **kw):
    return run_checks(evidence, ChainOracle(flow.attestia), recompute(evidence, _options(
        flow, **kw)), roots)


def _statuses(report) -> dict[str, Status]:
    return {c.name: c.status for c in report.checks}


def _assert_all_pass(report, also: tuple[str, ...] = ()) -> None:
    statuses = _statuses(report)
    assert report.ok, [c for c in report.checks if c.status is Status.FAIL]
    for name in ALWAYS_PASS + also:
        assert statuses[name] is Status.PASS, report.check(name)


def _fails_on(report, name: str, *words: str) -> None:
    assert not report.ok
    result = report.check(name)
    assert result.status is Status.FAIL, result
    for word in words:
        assert word in result.reason, result.reason


# ----------------------------------------------------------------------------- all PASS


def test_signed_record_passes_via_cli(flow: Flow) -> None:
    rid = "0x" + flow.signed_ids[0].hex()
    done = cli(flow.settings, "verify", rid, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    statuses = {c["name"]: c["status"] for c in data["checks"]}
    assert data["ok"] and all(statuses[n] == "PASS" for n in ALWAYS_PASS)
    assert statuses["inclusion"] == statuses["zk"] == statuses["tee"] == "SKIPPED"
    text = cli(flow.settings, "verify", rid)
    assert text.returncode == 0 and "PASS    output" in text.stdout
    assert "every check passed" in text.stdout


def test_batched_record_passes_in_both_id_forms(flow: Flow) -> None:
    by_index = verify(flow.attestia, RecordRef.parse(f"batch:0x{flow.batch_id.hex()}:1"),
                      _options(flow))
    _assert_all_pass(by_index, also=("inclusion",))
    by_request = verify(flow.attestia, RecordRef.parse(
        "0x" + flow.batch_request_ids[2].hex(), "0x" + flow.batch_id.hex()), _options(flow))
    _assert_all_pass(by_request, also=("inclusion",))
    assert "verifyInclusion is true on chain" in by_request.check("inclusion").reason


def test_tee_record_passes_with_the_simulated_root_and_fails_without(flow: Flow) -> None:
    ref = RecordRef(request_id=flow.tee_id)
    report = verify(flow.attestia, ref, _options(flow, tee_root=flow.tee_root))
    _assert_all_pass(report, also=("tee",))
    assert "SIMULATED" in report.check("tee").reason
    assert "fulfillBySig" in report.check("signature").reason
    untrusted = verify(flow.attestia, ref, _options(flow))
    _fails_on(untrusted, "tee", "no trusted root", "--tee-root")


def test_zk_record_passes_and_says_test_srs(flow: Flow) -> None:
    report = verify(flow.attestia, RecordRef(request_id=flow.zk_id), _options(flow))
    _assert_all_pass(report, also=("zk",))
    assert "LOCAL TEST-ONLY SRS" in report.check("zk").reason
    assert "re-running the circuit" in report.check("output").reason


def test_revealed_input_from_flags(flow: Flow, tmp_path: Path) -> None:
    local = json.loads((flow.settings.data_dir / "requests" /
                        f"0x{flow.signed_ids[0].hex()}.json").read_text())
    package = load_package(flow.package_dir)
    engine = InferenceEngine(package, flow.model_id)
    raw = engine.decode_input(bytes.fromhex(local["input"][2:]))
    path = tmp_path / "x.json"
    path.write_text(json.dumps(input_to_json(raw, package.feature_names)))
    options = VerifyOptions(data_dir=tmp_path, input_path=path, package_path=flow.package_dir,
                            salt=bytes.fromhex(local["salt"][2:]))
    ref = RecordRef(request_id=flow.signed_ids[0])
    _assert_all_pass(verify(flow.attestia, ref, options))
    wrong = verify(flow.attestia, ref, replace(options, salt=bytes(32)))
    _fails_on(wrong, "input", "--input")
    assert wrong.check("output").status is Status.SKIPPED
    with pytest.raises(VerifyError, match="--salt"):
        verify(flow.attestia, ref, replace(options, salt=None))


def test_without_revealed_data_the_recomputations_are_skipped(flow: Flow, tmp_path) -> None:
    report = verify(flow.attestia, RecordRef(request_id=flow.signed_ids[0]),
                    VerifyOptions(data_dir=tmp_path))
    assert report.ok
    for name in ("package", "input", "output", "attribution-recompute"):
        assert report.check(name).status is Status.SKIPPED


# ----------------------------------------------------------------------------- tampering


def test_flipped_output_commitment_fails_output_and_record(flow: Flow) -> None:
    ev = gather(flow.attestia, RecordRef(request_id=flow.signed_ids[0]))
    flipped = bytes([ev.inference.outputCommitment[0] ^ 1]) + ev.inference.outputCommitment[1:]
    tampered = replace(ev, inference=replace(ev.inference, outputCommitment=flipped))
    report = _report(flow, tampered)
    _fails_on(report, "output", "re-executing the integer network gives label",
              "and output commitment")
    _fails_on(report, "record", "not the one recorded")
    assert report.check("input").status is Status.PASS


def test_the_worker_records_the_integer_answer_and_a_float_answer_fails_output(
        flow: Flow) -> None:
    """The worker (a real ``build_worker`` run) committed to the integer network's output
    tensor; verify re-executes it in integers and reports ONNX Runtime's label beside it. A
    record of ONNX Runtime's float logits instead (the old answer, CPU-dependent) fails."""
    ev = gather(flow.attestia, RecordRef(request_id=flow.signed_ids[0]))
    r = recompute(ev, _options(flow))
    assert r.evaluation is not None and r.revealed is not None
    line = run_checks(ev, ChainOracle(flow.attestia), r, None).check("output")
    assert line.status is Status.PASS, line
    assert "re-executing the integer network gives label" in line.reason
    assert line.reason.endswith("float check: same label")
    package = load_package(flow.package_dir)
    raw = decode_tensor(r.revealed.input_bytes)
    integer = package.integer_logits(raw)[0]
    assert r.evaluation.integer_logits.tolist() == integer.tolist()
    assert r.evaluation.output_bytes == encode_tensor(package.output_tensor(integer))
    salt = output_salt(r.revealed.salt)
    assert commit(salt, r.evaluation.output_bytes) == ev.inference.outputCommitment
    float_bytes = encode_tensor(r.evaluation.float_logits)
    assert float_bytes != r.evaluation.output_bytes
    lied = replace(ev, inference=replace(ev.inference,
                                         outputCommitment=commit(salt, float_bytes)))
    _fails_on(_report(flow, lied), "output", "re-executing the integer network gives label",
              "float check: same label")


def test_forged_signature_fails_signature(flow: Flow) -> None:
    ev = gather(flow.attestia, RecordRef(request_id=flow.tee_id))
    digest = inference_digest(ev.inference, ev.chain_id, ev.registry)
    forger = Account.create()
    forged = replace(ev, submission=replace(ev.submission, signature=sign_digest(forger, digest)))
    report = _report(flow, forged, roots=flow.tee_root.read_bytes())
    _fails_on(report, "signature", forger.address, "not to the worker")
    assert report.check("tee").status is Status.PASS
    # A signed record claimed to be sent by someone other than the worker key.
    signed = gather(flow.attestia, RecordRef(request_id=flow.signed_ids[0]))
    impostor = replace(signed, submission=replace(signed.submission, sender=forger.address))
    _fails_on(_report(flow, impostor), "signature", "not by the worker key")


def test_forged_signature_is_refused_by_the_contract(flow: Flow) -> None:
    req = flow.zk_open_request
    package = load_package(flow.nozk_dir)
    engine = InferenceEngine(package, flow.model_id)
    evaluation = engine.evaluate(engine.decode_input(req["input"]))
    record = engine.record(evaluation, request_id=req["requestId"], input_salt=req["salt"],
                           worker=dev_account(WORKER).address,
                           timestamp=_chain_time(flow.attestia), proof_kind=PROOF_SIGNED,
                           result_hash=result_hash(b"sealed"))
    chain = flow.attestia.chain
    forged = sign_digest(Account.create(), inference_digest(record, chain.chain_id,
                                                            flow.attestia.registry.address))
    call = flow.attestia.registry.fulfill_by_sig(req["request"], record, evaluation.shares,
                                            package.roster, forged, b"sealed")
    with pytest.raises(TransactionReverted) as caught:
        flow.attestia.send(call, account=dev_account(CLIENT))
    assert caught.value.error == "InvalidSignature"


def test_swapped_attribution_list_fails_attribution_lines(flow: Flow) -> None:
    ev = gather(flow.attestia, RecordRef(request_id=flow.signed_ids[0]))
    shares = list(ev.shares)
    assert len(shares) >= 2 and shares[0][1] != shares[1][1]
    shares[0], shares[1] = (shares[0][0], shares[1][1]), (shares[1][0], shares[0][1])
    report = _report(flow, replace(ev, shares=tuple(shares)))
    _fails_on(report, "attribution", "attributionHash")
    _fails_on(report, "attribution-recompute", "another list")


def test_proof_for_another_model_fails_zk_and_is_refused_on_chain(flow: Flow) -> None:
    other = flow.other_proof
    ev = gather(flow.attestia, RecordRef(request_id=flow.zk_id))
    swapped = replace(
        ev, inference=replace(ev.inference, proofHash=other.proof_hash,
                              outputCommitment=other.output_commitment),
        submission=replace(ev.submission, zk_proof=other.proof, zk_instances=other.instances))
    report = _report(flow, swapped)
    _fails_on(report, "zk", "rejects the proof")
    _fails_on(report, "output", "other public instances")
    # The registry refuses to record it in the first place.
    req = flow.zk_open_request
    package = load_package(flow.package_dir)
    engine = InferenceEngine(package, flow.model_id)
    evaluation = engine.evaluate(engine.decode_input(req["input"]))
    record = engine.record(evaluation, request_id=req["requestId"], input_salt=req["salt"],
                           worker=dev_account(WORKER).address,
                           timestamp=_chain_time(flow.attestia), proof_kind=PROOF_ZK,
                           proof_hash=other.proof_hash, output_commitment=other.output_commitment,
                           result_hash=result_hash(b"sealed"))
    call = flow.attestia.registry.fulfill_zk(req["request"], record, evaluation.shares,
                                        package.roster, other.onchain(), b"sealed")
    with pytest.raises(TransactionReverted) as caught:
        flow.attestia.send(call, account=dev_account(WORKER))
    assert caught.value.error == "ZkProofInvalid"


def test_tampered_attestation_document_fails_tee_via_cli(flow: Flow) -> None:
    path = flow.settings.data_dir / "workers" / "tee" / "attestation.cose"
    original = path.read_bytes()
    tampered = bytearray(original)
    tampered[len(tampered) // 2] ^= 0x01
    path.write_bytes(bytes(tampered))
    try:
        done = cli(flow.settings, "verify", "0x" + flow.tee_id.hex(), "--package",
                   str(flow.nozk_dir), "--tee-root", str(flow.tee_root))
    finally:
        path.write_bytes(original)
    assert done.returncode == 1, done.stdout
    line = next(x for x in done.stdout.splitlines() if x.split()[1:2] == ["tee"])
    assert line.startswith("FAIL") and "registered attestation hash" in line
    assert "at least one check FAILED" in done.stdout


def test_attestation_for_another_registry_fails_key_binding(flow: Flow) -> None:
    """A genuine document of the same enclave, hash registered, but bound elsewhere."""
    ev = gather(flow.attestia, RecordRef(request_id=flow.tee_id))
    enclave = SimulatedNitroEnclave.load(flow.tee_root.parent)
    other = enclave.attest(chain_id=1, registry="0x" + "11" * 20)
    digest = hashlib.sha256(other).digest()
    moved = replace(ev, attestation=other,
                    worker=replace(ev.worker, attestationHash=digest),
                    inference=replace(ev.inference, proofHash=digest))
    _fails_on(_report(flow, moved, roots=flow.tee_root.read_bytes()), "tee", "key binding")
    wrong_root = SimulatedNitroEnclave.create().root_pem
    _fails_on(_report(flow, ev, roots=wrong_root), "tee", "does not verify")


def test_leaf_not_in_the_committed_tree_fails_inclusion(flow: Flow) -> None:
    ev = gather(flow.attestia, RecordRef.parse(f"batch:0x{flow.batch_id.hex()}:0"))
    bad = replace(ev, batch=replace(ev.batch, proof=tuple(keccak(p) for p in ev.batch.proof)))
    _fails_on(_report(flow, bad), "inclusion", "committed root")
    missing = gather(flow.attestia, RecordRef.parse(f"batch:0x{flow.batch_id.hex()}:7"))
    assert not missing.found
    report = _report(flow, missing)
    _fails_on(report, "record", "no leaf")
    assert all(c.status is Status.SKIPPED for c in report.checks[1:])


def test_a_tampered_batch_file_fails_the_record_line_naming_the_check(flow: Flow) -> None:
    ref = RecordRef.parse(f"batch:0x{flow.batch_id.hex()}:0")
    path = Path(gather(flow.attestia, ref).batch.data_uri.removeprefix("file://"))
    original = path.read_bytes()
    doc = json.loads(original)
    shares = doc["leaves"][1]["shares"]  # another leaf's list: the whole file is refused
    if len(shares) > 1:
        shares[0][1] -= 1
        shares[-1][1] += 1
    else:
        shares[0][0] = "0x" + "11" * 20
    try:
        path.write_text(json.dumps(doc))
        tampered = gather(flow.attestia, ref)
    finally:
        path.write_bytes(original)
    assert not tampered.found and tampered.inference is None
    # Any other bytes are refused before parsing: they are not the committed dataHash.
    assert "its bytes hash to" in tampered.batch.file_error
    report = _report(flow, tampered)
    _fails_on(report, "record", "not the committed batch", "committed dataHash")
    assert all(c.status is Status.SKIPPED for c in report.checks[1:])


def test_unknown_record_fails_record_line_and_exits_non_zero(flow: Flow) -> None:
    done = cli(flow.settings, "verify", "0x" + "ab" * 32)
    assert done.returncode == 1
    line = next(x for x in done.stdout.splitlines() if x.split()[1:2] == ["record"])
    assert line.startswith("FAIL") and "no InferenceRecorded" in line
    bad = cli(flow.settings, "verify", "0x1234")
    assert bad.returncode == 1 and "32 bytes" in bad.stderr


def test_revocations_before_fail_and_after_pass_with_the_date(flow: Flow) -> None:
    ev = gather(flow.attestia, RecordRef(request_id=flow.signed_ids[0]))
    at = ev.recorded_at
    later = replace(ev, worker=replace(ev.worker, revokedAt=at + 3600),
                    model=replace(ev.model, revokedAt=at + 7200))
    report = _report(flow, later)
    assert report.ok
    assert "revoked later, at" in report.check("worker").reason
    assert "revoked later, at" in report.check("model").reason
    before = replace(ev, worker=replace(ev.worker, revokedAt=at - 1))
    _fails_on(_report(flow, before), "worker", "before the record")
    unbonding = replace(ev, worker=replace(ev.worker, unbondingAt=at - 1))
    _fails_on(_report(flow, unbonding), "worker", "unbonding")
    model_gone = replace(ev, model=replace(ev.model, revokedAt=at - 1))
    _fails_on(_report(flow, model_gone), "model", "before this record")
    unregistered = replace(ev, model=None)
    _fails_on(_report(flow, unregistered), "model", "not registered")


def _quick(flow: Flow, evidence, package: Path | None = None, roots: bytes | None = None):
    """All checks without revealed input (no model re-run, no re-proving)."""
    return run_checks(evidence, ChainOracle(flow.attestia), recompute(evidence, VerifyOptions(
        package_path=package)), roots)


def _zk_cases(ev):
    sub, inf = ev.submission, ev.inference
    return {
        "proofHash": replace(ev, submission=replace(sub, zk_proof=sub.zk_proof + b"\0")),
        "output commitment": replace(ev, submission=replace(
            sub, zk_instances=sub.zk_instances[:-1] + (sub.zk_instances[-1] ^ 1,))),
        "no registered verifier": replace(ev, model=replace(ev.model, verifier="0x" + "00" * 20)),
        "carries no proof": replace(ev, submission=replace(sub, zk_proof=None)),
        "forge proofs": replace(ev, chain_id=1),
        "different record": replace(ev, submission=replace(
            sub, inference=replace(inf, timestamp=inf.timestamp + 1))),
        "cannot re-check": replace(ev, submission=replace(sub, error="relayed by a contract")),
    }


def test_zk_and_submission_failure_paths(flow: Flow) -> None:
    ev = gather(flow.attestia, RecordRef(request_id=flow.zk_id))
    assert _quick(flow, ev, flow.package_dir).ok
    for words, tampered in _zk_cases(ev).items():
        report = _quick(flow, tampered, flow.package_dir)
        line = "signature" if words in ("different record", "cannot re-check") else "zk"
        _fails_on(report, line, words)
    # Another package's zk artifacts: the registered verifier is not that circuit.
    stranger = replace(ev, model=replace(ev.model, verifier=flow.attestia.registry.address))
    _fails_on(_quick(flow, stranger, flow.package_dir), "zk", "rejects the proof")


def test_tee_and_registry_failure_paths(flow: Flow) -> None:
    ev = gather(flow.attestia, RecordRef(request_id=flow.tee_id))
    roots = flow.tee_root.read_bytes()
    at = ev.recorded_at
    cases = {
        "cannot fetch": replace(ev, attestation=None, attestation_error="cannot fetch x: gone"),
        "not allowlisted": replace(ev, measurement=replace(ev.measurement, allowedAt=0)),
        "revoked at": replace(ev, measurement=replace(ev.measurement, revokedAt=at - 1)),
        "not enclave-bound": replace(ev, worker=replace(ev.worker, enclaveBoundAt=0)),
        "measurement id": replace(ev, worker=replace(ev.worker, measurement=bytes(32))),
        "proofHash": replace(ev, inference=replace(ev.inference, proofHash=bytes(32))),
    }
    for words, tampered in cases.items():
        _fails_on(_quick(flow, tampered, roots=roots), "tee", words)
    later = replace(ev, measurement=replace(ev.measurement, revokedAt=at + 60))
    report = _quick(flow, later, roots=roots)
    assert report.ok and "measurement revoked later, at" in report.check("tee").reason
    _fails_on(_quick(flow, ev, roots=b"not a pem"), "tee", "does not verify")


def test_batch_package_and_list_failure_paths(flow: Flow) -> None:
    ev = gather(flow.attestia, RecordRef.parse(f"batch:0x{flow.batch_id.hex()}:0"))
    other_root = replace(ev, batch=replace(ev.batch, tree_root=bytes(32)))
    _fails_on(_quick(flow, other_root), "record", "not the committed one")
    uncommitted = replace(ev, batch=replace(ev.batch, committed_at=0))
    _fails_on(_quick(flow, uncommitted), "record", "not committed")
    relayed = replace(ev, submission=replace(ev.submission, sender=dev_account(CLIENT).address))
    _fails_on(_quick(flow, relayed), "signature", "not by the worker key")
    roster = replace(ev, model=replace(ev.model, dataRoot=bytes(32)))
    _fails_on(_quick(flow, roster, flow.package_dir), "package", "data root")
    other_file = replace(ev, model=replace(ev.model, contentHash=bytes(32)))
    _fails_on(_quick(flow, other_file, flow.package_dir), "package", "was registered for")
    _fails_on(_quick(flow, other_file, flow.package_dir), "model", "is not modelIdOf")
    # The model line hashes the package's model.onnx (with the weights root: the ModelSpec)
    # against the registered contentHash.
    real = load_package(flow.package_dir)
    impostor = SimpleNamespace(onnx_path=flow.package_dir / "manifest.json", path=real.path,
                               model_spec=real.model_spec)
    line = check_model(ev, impostor)  # type: ignore[arg-type]
    assert line.status is Status.FAIL and "registered contentHash" in line.reason
    assert "contentHash is the package's ModelSpec (model.onnx and the integer network's " \
        "weights root)" in check_model(ev, real).reason
    other_roster = replace(ev, model=replace(ev.model, contributorsHash=bytes(32)))
    _fails_on(_quick(flow, other_roster, flow.package_dir), "package", "contributorsHash")
    short = replace(ev, shares=((ev.shares[0][0], 9_999),) + ev.shares[1:])
    _fails_on(_quick(flow, short), "attribution", "invalid")


def test_enable_zk_is_idempotent_and_refuses_wrong_artifacts_or_owner(flow: Flow) -> None:
    package = load_package(flow.package_dir)
    artifacts = zk.load_artifacts(flow.package_dir / "zk")
    mid, model, deployed = enable_zk(flow.attestia, package, artifacts,
                                     account=dev_account(ADMIN))
    assert mid == flow.model_id and not deployed and model.policy & 0x08
    with pytest.raises(ConfigError, match="are for the ONNX file"):
        enable_zk(flow.attestia, package, flow.other_artifacts, account=dev_account(ADMIN))
    with pytest.raises(ConfigError, match="is not registered by"):
        enable_zk(flow.attestia, package, artifacts, account=dev_account(CLIENT))
    with pytest.raises(ConfigError, match="only the model owner"):
        enable_zk(flow.attestia, package, artifacts, account=dev_account(CLIENT),
                  model_id_=flow.model_id)


def test_governance_allow_measurement_cli(flow: Flow) -> None:
    again = cli(flow.settings, "governance", "allow-measurement", "--simulated")
    assert again.returncode == 0 and "already allowed" in again.stdout
    assert simulated_measurement().hex() in again.stdout
    neither = cli(flow.settings, "governance", "allow-measurement")
    assert neither.returncode == 1 and "--simulated" in neither.stderr


def test_record_ref_parsing() -> None:
    rid = "0x" + "01" * 32
    assert RecordRef.parse(rid).request_id == bytes([1]) * 32
    assert RecordRef.parse(f"batch:{rid}:3").index == 3
    for bad in ("0x12", f"batch:{rid}", f"batch:{rid}:x", "batch:0x12:1"):
        with pytest.raises(VerifyError):
            RecordRef.parse(bad)


def test_flow_timings(flow: Flow) -> None:
    """Keeps the measured phases visible (pytest -s) and bounded."""
    print(json.dumps({k: round(v, 1) for k, v in flow.timings.items()}))
    assert sum(flow.timings.values()) < 120
    assert dataclasses.is_dataclass(flow)
    assert encode_tensor is not None  # imported for input round-trips above
