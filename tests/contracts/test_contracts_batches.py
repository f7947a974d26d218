"""Batches: commit (direct and relayed), inclusion proofs over a real StandardMerkleTree,
batchInfo/batchStatus, and sweeping their deposits."""

from __future__ import annotations

from dataclasses import replace

from eth_utils import keccak

from offchain.protocol import PROOF_SIGNED, Batch
from tests.contracts.helpers import (
    ADMIN,
    OPERATOR,
    OUTSIDER,
    OWNER,
    RELAYER,
    TEE,
    WORKER,
    WORKER_B,
    ZK,
    Harness,
    proof_bytes,
    reverts,
    root_bytes,
)


def test_commit_and_verify_every_leaf(h: Harness) -> None:
    model_id = h.setup_signed()
    leaves = h.batch_leaves(model_id, 13)
    tree = h.tree(leaves)
    root = root_bytes(tree)
    receipt_block = h.w3.eth.block_number + 1
    batch_id = h.commit_batch(model_id, root, len(leaves), deposit=13_000)
    committed_at = int(h.w3.eth.get_block(receipt_block)["timestamp"])
    f = h.registry.functions
    assert tuple(f.batchInfo(batch_id).call()) == (committed_at, 13, 13_000, False)
    for index, leaf in enumerate(leaves):
        proof = proof_bytes(tree.get_proof(index))
        assert f.verifyInclusion(batch_id, leaf.as_tuple(), proof).call() is True
    assert tuple(f.batchStatus(root, model_id, WORKER.address).call()) == (
        True, committed_at, 0, 0, 0, False)


def test_inclusion_is_false_for_tampered_leaf_wrong_proof_or_wrong_batch(h: Harness) -> None:
    model_id = h.setup_signed()
    leaves = h.batch_leaves(model_id, 8)
    tree = h.tree(leaves)
    batch_id = h.commit_batch(model_id, root_bytes(tree), 8)
    other_leaves = h.batch_leaves(model_id, 4)
    other_tree = h.tree(other_leaves)
    other_id = h.commit_batch(model_id, root_bytes(other_tree), 4)
    verify = h.registry.functions.verifyInclusion
    leaf, proof = leaves[3], proof_bytes(tree.get_proof(3))
    tampered = [
        replace(leaf, outputCommitment=keccak(b"other output")),
        replace(leaf, attributionHash=keccak(b"other list")),
        replace(leaf, timestamp=leaf.timestamp + 1),
        replace(leaf, proofKind=2),
        replace(leaf, worker=WORKER_B.address),  # same leaf claimed for another worker
    ]
    for bad in tampered:
        assert verify(batch_id, bad.as_tuple(), proof).call() is False
    assert verify(batch_id, leaf.as_tuple(), proof_bytes(tree.get_proof(4))).call() is False
    assert verify(batch_id, leaf.as_tuple(), proof[:-1]).call() is False
    assert verify(batch_id, leaf.as_tuple(), []).call() is False
    assert verify(other_id, leaf.as_tuple(), proof).call() is False
    assert verify(h.unique(), leaf.as_tuple(), proof).call() is False
    # The leaf's own model id is part of the batch id: a leaf of another model fails.
    moved = replace(leaf, modelId=h.unique())
    assert verify(batch_id, moved.as_tuple(), proof).call() is False
    # A single-leaf batch: the root is the leaf hash, the proof is empty.
    single = h.batch_leaves(model_id, 1)
    single_id = h.commit_batch(model_id, root_bytes(h.tree(single)), 1)
    assert verify(single_id, single[0].as_tuple(), []).call() is True
    assert verify(other_id, other_leaves[0].as_tuple(),
                  proof_bytes(other_tree.get_proof(0))).call() is True


def test_commit_batch_reverts(h: Harness) -> None:
    model_id = h.setup_signed()
    root = h.unique("root")
    epoch = h.epoch()
    with reverts("EmptyBatch"):
        h.commit_batch(model_id, root, 0)
    with reverts("EpochMismatch", epoch, epoch + 1):
        h.commit_batch(model_id, root, 1, epoch=epoch + 1)
    with reverts("EpochMismatch", epoch, epoch - 1):
        h.commit_batch(model_id, root, 1, epoch=epoch - 1)
    with reverts("WorkerNotFound", OUTSIDER.address):
        h.commit_batch(model_id, root, 1, worker=OUTSIDER)
    unknown = h.unique("unknown")
    with reverts("ModelNotFound", unknown):
        h.commit_batch(unknown, root, 1)
    h.commit_batch(model_id, root, 1)
    with reverts("AlreadyExists"):
        h.commit_batch(model_id, root, 5, deposit=1)
    h.register_worker(WORKER_B)
    h.commit_batch(model_id, root, 1, worker=WORKER_B)  # the batch id includes the worker
    h.send(h.registry.functions.revokeWorker(WORKER_B.address), ADMIN)
    with reverts("WorkerNotActive", WORKER_B.address):
        h.commit_batch(model_id, h.unique(), 1, worker=WORKER_B)
    h.send(h.registry.functions.revokeModel(model_id), OWNER)
    with reverts("ModelIsRevoked", model_id):
        h.commit_batch(model_id, h.unique(), 1)


def test_batch_policy(h: Harness) -> None:
    h.register_worker()
    zk_only = h.register_model(policy=ZK)
    with reverts("ProofKindNotAllowed", PROOF_SIGNED):
        h.commit_batch(zk_only, h.unique(), 1)
    tee_only = h.register_model(policy=TEE)
    with reverts("EnclaveNotBound", WORKER.address):
        h.commit_batch(tee_only, h.unique(), 1)
    measurement, _ = h.bind_enclave()
    root = h.unique()
    h.commit_batch(tee_only, root, 1)
    h.send(h.registry.functions.revokeMeasurement(measurement), ADMIN)
    revoked_at = h.now()
    with reverts("MeasurementIsRevoked", measurement):
        h.commit_batch(tee_only, h.unique(), 1)
    status = h.registry.functions.batchStatus(root, tee_only, WORKER.address).call()
    assert status[0] is True and status[3] == revoked_at and status[5] is True


def test_commit_batch_by_sig(h: Harness) -> None:
    model_id = h.setup_signed()
    root, uri, epoch = h.unique("root"), "ipfs://batch-by-sig", h.epoch()
    batch = Batch(root, 7, model_id, epoch, keccak(text=uri), WORKER.address, 5_000)
    signature = h.batch_signature(batch)
    by_sig = h.registry.functions.commitBatchBySig
    with reverts("InvalidSignature"):  # the deposit is signed: a relayer may not change it
        h.send(by_sig(root, 7, model_id, epoch, uri, WORKER.address, signature), RELAYER,
               value=4_999)
    with reverts("InvalidSignature"):  # nor the data URI
        h.send(by_sig(root, 7, model_id, epoch, uri + "x", WORKER.address, signature), RELAYER,
               value=5_000)
    with reverts("InvalidSignature"):  # nor the count
        h.send(by_sig(root, 8, model_id, epoch, uri, WORKER.address, signature), RELAYER,
               value=5_000)
    with reverts("InvalidSignature"):  # signed by someone other than the named worker
        h.send(by_sig(root, 7, model_id, epoch, uri, WORKER.address,
                      h.batch_signature(batch, OUTSIDER)), RELAYER, value=5_000)
    receipt = h.send(by_sig(root, 7, model_id, epoch, uri, WORKER.address, signature), RELAYER,
                     value=5_000)
    event = h.events(h.registry, "BatchCommitted", receipt)[0]
    batch_id = h.batch_id(root, model_id, WORKER.address)
    assert (event["batchId"], event["worker"], event["count"], event["deposit"],
            event["dataURI"]) == (batch_id, WORKER.address, 7, 5_000, uri)
    with reverts("AlreadyExists"):  # the same signature cannot commit twice
        h.send(by_sig(root, 7, model_id, epoch, uri, WORKER.address, signature), RELAYER,
               value=5_000)
    # A non-worker's own signature is valid, but it is no worker.
    stranger = Batch(root, 7, model_id, epoch, keccak(text=uri), OUTSIDER.address, 0)
    with reverts("WorkerNotFound", OUTSIDER.address):
        h.send(by_sig(root, 7, model_id, epoch, uri, OUTSIDER.address,
                      h.batch_signature(stranger, OUTSIDER)), RELAYER)


def test_batch_status_reports_later_revocations(h: Harness) -> None:
    model_id = h.setup_signed()
    root = h.unique("root")
    h.commit_batch(model_id, root, 3)
    committed_at = h.now()
    status = h.registry.functions.batchStatus
    h.travel(5)
    h.send(h.registry.functions.revokeWorker(WORKER.address), ADMIN)
    worker_revoked = h.now()
    h.send(h.registry.functions.revokeModel(model_id), OWNER)
    model_revoked = h.now()
    assert tuple(status(root, model_id, WORKER.address).call()) == (
        True, committed_at, worker_revoked, 0, model_revoked, True)
    assert tuple(status(h.unique(), model_id, WORKER.address).call()) == (
        False, 0, worker_revoked, 0, model_revoked, False)


def test_sweep_batches(h: Harness) -> None:
    model_id = h.setup_signed()
    funded = h.commit_batch(model_id, h.unique(), 10, deposit=7_000)
    also = h.commit_batch(model_id, h.unique(), 10, deposit=3_000)
    empty = h.commit_batch(model_id, h.unique(), 10)
    later = h.commit_batch(model_id, h.unique(), 2, deposit=1)
    sweep = h.registry.functions.sweepBatches
    epoch = h.epoch()
    with reverts("EpochNotEnded", epoch):
        h.send(sweep([funded]), OUTSIDER)
    h.next_epoch()
    ghost = h.unique()
    with reverts("BatchNotFound", ghost):
        h.send(sweep([funded, ghost]), OUTSIDER)
    with reverts("NothingToSweepBatches"):
        h.send(sweep([empty]), OUTSIDER)
    with reverts("NothingToSweepBatches"):
        h.send(sweep([]), OUTSIDER)
    registry_before = h.balance(h.registry.address)
    receipt = h.send(sweep([funded, also, empty]), OUTSIDER)
    assert h.balance(h.registry.address) == registry_before - 10_000
    assert h.distributor.functions.totalFunded().call() == 10_000
    assert h.balance(h.distributor.address) == 10_000
    swept = h.events(h.registry, "BatchSwept", receipt)
    assert [(e["batchId"], e["epoch"], e["deposit"]) for e in swept] == [
        (funded, epoch, 7_000), (also, epoch, 3_000), (empty, epoch, 0)]
    assert h.attestia.reg.batch_info(funded).swept is True
    with reverts("BatchAlreadySwept", also):
        h.send(sweep([also]), OUTSIDER)
    with reverts("BatchAlreadySwept", later):  # a duplicate inside one call
        h.send(sweep([later, later]), OPERATOR)
    assert h.attestia.reg.batch_info(later).swept is False
