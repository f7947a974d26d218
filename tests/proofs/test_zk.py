"""EZKL proofs end to end: setup, prove, verify off-chain and with the verifier on Anvil.

The circuit is set up once per module for two 30-16-2 MLPs of the demo's shape (same graph,
different fixed weights), so a proof from one can be replayed against the other's verifier.
Model B uses a caller-provided SRS on a non-dev chain id: that is the production path (a
locally generated file stands in for a ceremony SRS).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
from pathlib import Path

import ezkl
import numpy as np
import onnx
import pytest
from eth_abi.packed import encode_packed
from eth_account import Account
from eth_utils import keccak
from onnx import TensorProto, helper, numpy_helper
from web3 import Web3
from web3.exceptions import ContractLogicError

from offchain.proofs import zk

DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
SHAPE = (30, 16, 2)


def mlp_onnx(path: Path, seed: int) -> Path:
    """A Gemm/Relu/Gemm MLP with the demo model's shape and fixed random weights."""
    rng = np.random.default_rng(seed)
    n_in, n_hidden, n_out = SHAPE
    arrays = {
        "W0": rng.normal(0, 0.3, (n_in, n_hidden)), "B0": rng.normal(0, 0.1, n_hidden),
        "W1": rng.normal(0, 0.3, (n_hidden, n_out)), "B1": rng.normal(0, 0.1, n_out),
    }
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["input", "W0", "B0"], ["h"]),
         helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("Gemm", ["r", "W1", "B1"], ["logits"])],
        "mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, n_in])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, n_out])],
        initializer=[numpy_helper.from_array(a.astype(np.float32), name)
                     for name, a in arrays.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def onnx_logits(path: Path, x: np.ndarray) -> np.ndarray:
    """Float reference: the same network evaluated with numpy from the ONNX weights."""
    w = {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    hidden = np.maximum(x.reshape(1, -1) @ w["W0"] + w["B0"], 0)
    return hidden @ w["W1"] + w["B1"]


SAMPLE = np.random.default_rng(7).normal(0, 1, (8, SHAPE[0])).astype(np.float32)
X = np.random.default_rng(8).normal(0, 1, SHAPE[0]).astype(np.float32)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("zk")


@pytest.fixture(scope="module")
def artifacts(workdir: Path) -> zk.ZkArtifacts:
    model = mlp_onnx(workdir / "a.onnx", seed=1)
    return zk.zk_setup(model, workdir / "a", chain_id=31337, sample_input=SAMPLE)


@pytest.fixture(scope="module")
def ceremony_srs(workdir: Path) -> Path:
    """Stand-in for a ceremony file: the production path takes any SRS given to it."""
    path = workdir / "ceremony.srs"
    ezkl.gen_srs(str(path), 11)
    return path


@pytest.fixture(scope="module")
def other_artifacts(workdir: Path, ceremony_srs: Path) -> zk.ZkArtifacts:
    model = mlp_onnx(workdir / "b.onnx", seed=2)
    return zk.zk_setup(model, workdir / "b", srs_path=ceremony_srs, chain_id=1,
                       sample_input=SAMPLE)


@pytest.fixture(scope="module")
def proof(artifacts: zk.ZkArtifacts) -> zk.ZkProof:
    return zk.prove(artifacts, X)


@pytest.fixture(scope="module")
def other_proof(other_artifacts: zk.ZkArtifacts) -> zk.ZkProof:
    return zk.prove(other_artifacts, X)


@pytest.fixture(scope="module")
def w3(session_chain) -> Web3:
    """The suite's Anvil (tests/conftest.py)."""
    return session_chain.w3


def send(w3: Web3, tx: dict) -> dict:
    account = Account.from_key(DEV_KEY)
    tx = {**tx, "nonce": w3.eth.get_transaction_count(account.address), "gas": 10_000_000,
          "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1, "chainId": w3.eth.chain_id}
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=0.005)


@pytest.fixture(scope="module")
def verifier(w3: Web3, artifacts: zk.ZkArtifacts) -> str:
    receipt = send(w3, {"data": artifacts.verifier_bytecode})
    assert receipt["status"] == 1
    return receipt["contractAddress"]


def onchain_accepts(w3: Web3, address: str, proof_bytes: bytes, instances: list[int]) -> bool:
    """True only if verifyProof returns true; a revert or false both mean rejected."""
    contract = w3.eth.contract(address=address, abi=[{
        "type": "function", "name": "verifyProof", "stateMutability": "nonpayable",
        "inputs": [{"name": "proof", "type": "bytes"}, {"name": "instances", "type": "uint256[]"}],
        "outputs": [{"name": "", "type": "bool"}],
    }])
    try:
        return bool(contract.functions.verifyProof(proof_bytes, instances).call())
    except ContractLogicError:
        return False


# ----------------------------------------------------------------------------- setup


def test_setup_records_a_loud_test_only_srs_and_the_circuit(artifacts: zk.ZkArtifacts) -> None:
    m = artifacts.manifest
    assert m["srs"] == "LOCAL TEST-ONLY SRS — NOT SECURE" and artifacts.test_only_srs
    assert m["visibility"] == {"input": "hashed", "params": "fixed", "output": "public"}
    assert m["circuit_args"] == {"num_inner_cols": 1, "decomp_base": 1024, "decomp_legs": 2}
    assert artifacts.logrows <= 11
    assert [e["name"] for e in m["instance_layout"]] == ["input_hash", "output0[0]", "output0[1]"]
    assert m["content_hash"] == "0x" + zk._sha256_file(artifacts.path("onnx"))
    assert artifacts.content_hash == bytes.fromhex(zk._sha256_file(artifacts.path("onnx")))
    assert m["format"] == "attestia-zk/2"
    assert 0 < m["verifier"]["runtime_bytes"] <= zk.EIP170_LIMIT
    assert "function verifyProof" in artifacts.path("verifier_sol").read_text()
    settings = json.loads(artifacts.path("settings").read_text())
    assert settings["run_args"]["input_visibility"] == {
        "Hashed": {"hash_is_public": True, "outlets": []}}
    assert settings["run_args"]["param_visibility"] == "Fixed"
    assert zk.load_artifacts(artifacts.directory).manifest == m


def test_setup_with_a_provided_srs_is_not_marked_test_only(
    other_artifacts: zk.ZkArtifacts, ceremony_srs: Path
) -> None:
    assert not other_artifacts.test_only_srs
    assert other_artifacts.manifest["srs"] == f"provided: {ceremony_srs.resolve()}"
    assert other_artifacts.path("srs").read_bytes() == ceremony_srs.read_bytes()
    zk.require_secure_srs(other_artifacts, chain_id=1)


def test_local_srs_is_refused_on_any_chain_but_anvil(tmp_path: Path) -> None:
    with pytest.raises(zk.SrsError, match="--srs"):
        zk.zk_setup(mlp_onnx(tmp_path / "m.onnx", 1), tmp_path / "out", chain_id=1,
                    sample_input=SAMPLE)
    assert not (tmp_path / "out").exists()


def test_test_only_artifacts_are_refused_on_a_real_chain(artifacts: zk.ZkArtifacts) -> None:
    zk.require_secure_srs(artifacts, chain_id=31337)
    with pytest.raises(zk.SrsError, match="can forge"):
        zk.require_secure_srs(artifacts, chain_id=11155111)


def test_srs_smaller_than_the_circuit_is_refused(tmp_path: Path) -> None:
    small = tmp_path / "k8.srs"
    ezkl.gen_srs(str(small), 8)
    with pytest.raises(zk.SrsError, match="needs 2\\^11"):
        zk.zk_setup(mlp_onnx(tmp_path / "m.onnx", 1), tmp_path / "out", srs_path=small,
                    chain_id=1, sample_input=SAMPLE[:2])
    assert not (tmp_path / "out" / zk.MANIFEST_NAME).exists()


def test_missing_srs_file_and_missing_model_are_clear_errors(tmp_path: Path) -> None:
    model = mlp_onnx(tmp_path / "m.onnx", 1)
    with pytest.raises(zk.SrsError, match="not found"):
        zk.zk_setup(model, tmp_path / "o", srs_path=tmp_path / "nope", chain_id=1,
                    sample_input=SAMPLE)
    with pytest.raises(zk.ZkSetupError, match="not found"):
        zk.zk_setup(tmp_path / "nope.onnx", tmp_path / "o", chain_id=31337, sample_input=SAMPLE)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(zk.ZkSetupError, match="not a readable ONNX"):
        zk.zk_setup(tmp_path / "junk.onnx", tmp_path / "o", chain_id=31337, sample_input=SAMPLE)


def test_sample_input_must_be_whole_finite_rows(tmp_path: Path) -> None:
    model = mlp_onnx(tmp_path / "m.onnx", 1)
    with pytest.raises(zk.ZkInputError, match="rows of 30"):
        zk.zk_setup(model, tmp_path / "o", chain_id=31337, sample_input=SAMPLE[:, :29])
    with pytest.raises(zk.ZkInputError, match="NaN"):
        zk.zk_setup(model, tmp_path / "o", chain_id=31337,
                    sample_input=np.full((2, 30), np.nan, dtype=np.float32))
    assert not (tmp_path / "o").exists()


def test_altered_or_missing_artifacts_are_detected(
    artifacts: zk.ZkArtifacts, tmp_path: Path
) -> None:
    copy = Path(shutil.copytree(artifacts.directory, tmp_path / "copy"))
    assert zk.load_artifacts(copy).manifest == artifacts.manifest
    with (copy / "vk.key").open("r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 1]))
    with pytest.raises(zk.ZkArtifactsError, match="vk.key does not match"):
        zk.load_artifacts(copy)
    (copy / "pk.key").unlink()
    (copy / "vk.key").write_bytes(artifacts.path("vk").read_bytes())
    with pytest.raises(zk.ZkArtifactsError, match="pk file is missing"):
        zk.load_artifacts(copy)
    (copy / zk.MANIFEST_NAME).write_text(json.dumps({**artifacts.manifest, "format": "x/0"}))
    with pytest.raises(zk.ZkArtifactsError, match="has format 'x/0'"):
        zk.load_artifacts(copy)
    (copy / zk.MANIFEST_NAME).write_text("{")
    with pytest.raises(zk.ZkArtifactsError, match="not valid JSON"):
        zk.load_artifacts(copy)
    (copy / zk.MANIFEST_NAME).unlink()
    with pytest.raises(zk.ZkArtifactsError, match="run the ZK setup"):
        zk.load_artifacts(copy)


def test_setup_fails_clearly_when_ezkl_writes_no_verifier(
    artifacts: zk.ZkArtifacts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(error: type[zk.ZkError], name: str, *args: object, **kwargs: object) -> None:
        raise error(f"ezkl.{name} failed: svm error")

    monkeypatch.setattr(zk, "_call", offline)
    paths = {kind: artifacts.path(kind) for kind in ("vk", "settings", "srs")}
    paths["verifier_sol"] = tmp_path / "Verifier.sol"
    with pytest.raises(zk.ZkSetupError, match="wrote no Solidity verifier"):
        zk._build_verifier(paths)


def test_oversized_verifier_is_refused(
    artifacts: zk.ZkArtifacts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sol = tmp_path / "Verifier.sol"
    shutil.copyfile(artifacts.path("verifier_sol"), sol)
    monkeypatch.setattr(zk, "_call", lambda *a, **k: True)
    huge = "00" * (zk.EIP170_LIMIT + 1)
    monkeypatch.setattr(zk, "compile_verifier", lambda _: {
        "abi": [], "evm": {"bytecode": {"object": huge}, "deployedBytecode": {"object": huge}}})
    with pytest.raises(zk.ZkSetupError, match="EIP-170"):
        zk._build_verifier({"vk": tmp_path, "settings": tmp_path, "srs": tmp_path,
                            "verifier_sol": sol})


def test_solidity_errors_surface_as_compile_errors(tmp_path: Path) -> None:
    broken = tmp_path / "Broken.sol"
    broken.write_text("pragma solidity ^0.8.0; contract Halo2Verifier { function f( }")
    with pytest.raises(zk.CompileError):
        zk.compile_verifier(broken)


# ----------------------------------------------------------------------------- prove


def test_proof_outputs_match_the_float_model(
    artifacts: zk.ZkArtifacts, proof: zk.ZkProof
) -> None:
    np.testing.assert_allclose(proof.outputs, onnx_logits(artifacts.path("onnx"), X), atol=5e-3)
    assert proof.outputs.shape == (1, 2)
    assert len(proof.instances) == 3
    assert all(0 <= v < zk.FIELD_MODULUS for v in proof.instances)
    assert proof.prove_s > 0 and len(proof.proof) > 1000


def test_calldata_is_what_ezkl_encodes_for_the_verifier(proof: zk.ZkProof) -> None:
    assert proof.calldata()[:4] == keccak(text="verifyProof(bytes,uint256[])")[:4]
    assert zk.decode_verifier_calldata(proof.calldata()) == (proof.proof, proof.instances)
    with pytest.raises(ValueError, match="selector"):
        zk.decode_verifier_calldata(b"\x00" * 4 + proof.calldata()[4:])


def test_inputs_that_cannot_be_proved_are_rejected(artifacts: zk.ZkArtifacts) -> None:
    with pytest.raises(zk.ZkInputError, match="rows of 30"):
        zk.prove(artifacts, X[:29])
    with pytest.raises(zk.ZkInputError, match="NaN"):
        zk.prove(artifacts, np.where(np.arange(30) == 3, np.inf, X))
    with pytest.raises(zk.ZkInputError, match="one input row"):
        zk.prove(artifacts, SAMPLE[:2])
    with pytest.raises(zk.ZkInputError, match="does not fit the circuit"):
        zk.prove(artifacts, np.full(30, 1e4, dtype=np.float32))


# ----------------------------------------------------------------------------- verify


def test_verify_local_accepts_the_proof_and_rejects_tampering(
    artifacts: zk.ZkArtifacts, proof: zk.ZkProof, other_proof: zk.ZkProof
) -> None:
    assert zk.verify_local(artifacts, proof)
    flipped = bytearray(proof.proof)
    flipped[-40] ^= 1
    assert not zk.verify_local(artifacts, dataclasses.replace(proof, proof=bytes(flipped)))
    changed = (proof.instances[0], proof.instances[1], (proof.instances[2] + 1))
    assert not zk.verify_local(artifacts, dataclasses.replace(proof, instances=changed))
    assert not zk.verify_local(artifacts, other_proof)
    outside = (zk.FIELD_MODULUS,) + proof.instances[1:]
    assert not zk.verify_local(artifacts, dataclasses.replace(proof, instances=outside))


def test_onchain_verifier_accepts_the_proof_in_a_transaction(
    w3: Web3, verifier: str, proof: zk.ZkProof
) -> None:
    assert onchain_accepts(w3, verifier, proof.proof, list(proof.instances))
    receipt = send(w3, {"to": verifier, "data": proof.calldata()})
    assert receipt["status"] == 1
    assert receipt["gasUsed"] <= 600_000


def test_onchain_verifier_rejects_a_tampered_proof(
    w3: Web3, verifier: str, proof: zk.ZkProof
) -> None:
    for index in (0, len(proof.proof) // 2, len(proof.proof) - 1):
        flipped = bytearray(proof.proof)
        flipped[index] ^= 1
        assert not onchain_accepts(w3, verifier, bytes(flipped), list(proof.instances))


def test_onchain_verifier_rejects_changed_instances(
    w3: Web3, verifier: str, proof: zk.ZkProof
) -> None:
    hash_, low, high = proof.instances
    for instances in ([hash_, low, (high + 1) % zk.FIELD_MODULUS],
                      [hash_, (low - 1) % zk.FIELD_MODULUS, high],
                      [(hash_ + 1) % zk.FIELD_MODULUS, low, high],
                      [hash_, low]):
        assert not onchain_accepts(w3, verifier, proof.proof, instances)


def test_onchain_verifier_rejects_a_proof_for_another_model(
    w3: Web3, verifier: str, proof: zk.ZkProof, other_proof: zk.ZkProof
) -> None:
    assert other_proof.instances[0] == proof.instances[0]  # same input, same hash
    assert other_proof.instances != proof.instances
    assert not onchain_accepts(w3, verifier, other_proof.proof, list(other_proof.instances))


# ----------------------------------------------------------------------------- bindings


def test_output_binding_is_keccak_of_packed_instances(proof: zk.ZkProof) -> None:
    packed = encode_packed(["uint256[]"], [list(proof.instances)])
    assert len(packed) == 32 * len(proof.instances)
    assert zk.output_binding(proof.instances) == keccak(packed) == proof.output_commitment
    assert zk.output_binding(proof.instances) == Web3.solidity_keccak(
        ["uint256[]"], [list(proof.instances)])
    assert zk.output_binding(proof.instances[:2]) != zk.output_binding(proof.instances)
    with pytest.raises(ValueError, match="uint256"):
        zk.output_binding([-1])
    with pytest.raises(ValueError, match="uint256"):
        zk.output_binding([2**256])


def test_input_hash_instance_ties_a_revealed_input_to_the_proof(
    artifacts: zk.ZkArtifacts, proof: zk.ZkProof
) -> None:
    assert zk.input_hash_instance(artifacts, X) == proof.instances[0] == proof.input_hash
    nudged = X.copy()
    nudged[5] += 0.01
    assert zk.input_hash_instance(artifacts, nudged) != proof.instances[0]
    with pytest.raises(zk.ZkInputError):
        zk.input_hash_instance(artifacts, X[:10])


def test_a_requests_zk_input_hash_is_the_proofs_first_instance(
    artifacts: zk.ZkArtifacts, proof: zk.ZkProof
) -> None:
    """What a client puts in Request.zkInputHash and what the registry compares with the
    proof's instances[0] (as bytes32) are the same value."""
    onchain = proof.onchain()
    assert onchain.proof == proof.proof and onchain.instances == proof.instances
    assert zk.zk_input_hash(artifacts, X) == onchain.input_hash == \
        proof.instances[0].to_bytes(32, "big")
    nudged = X.copy()
    nudged[0] += 0.5
    assert zk.zk_input_hash(artifacts, nudged) != onchain.input_hash


def test_ezkl_calls_work_inside_a_running_event_loop(
    artifacts: zk.ZkArtifacts, proof: zk.ZkProof
) -> None:
    async def from_async_code() -> int:
        return zk.input_hash_instance(artifacts, X)

    assert asyncio.run(from_async_code()) == proof.instances[0]


def test_field_element_conversions() -> None:
    assert zk.felt_to_uint((5).to_bytes(32, "little").hex()) == 5
    assert zk.felt_to_uint(zk.uint_to_felt(zk.FIELD_MODULUS - 1)) == zk.FIELD_MODULUS - 1
    with pytest.raises(ValueError, match="32 bytes"):
        zk.felt_to_uint("00")
    with pytest.raises(ValueError, match="field element"):
        zk.uint_to_felt(zk.FIELD_MODULUS)
    np.testing.assert_array_equal(
        zk.dequantize([zk.FIELD_MODULUS - 8192, 4096, 0], 13), [-1.0, 0.5, 0.0])
    assert zk.srs_logrows((11).to_bytes(4, "little") + b"rest") == 11
    with pytest.raises(ValueError, match="header"):
        zk.srs_logrows(b"\x0b")
