"""Batches: commit (direct and relayed, with the batch file's dataHash), inclusion proofs over
a real StandardMerkleTree (RegistryLens.verifyInclusion), batchInfo/batchStatus, and sweeping
their deposits."""

from __future__ import annotations

from dataclasses import replace

from eth_utils import keccak

from offchain.protocol import PROOF_SIGNED, Batch, BatchInfo, RecordStatus, data_uri_hash
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
    data_hash = keccak(b"the batch file's bytes")
    batch_id = h.commit_batch(model_id, root, len(leaves), deposit=13_000,
                              uri="ipfs://batch-13", data_hash=data_hash)
    committed_at = int(h.w3.eth.get_block(receipt_block)["timestamp"])
    assert h.registry.batch_info(batch_id) == BatchInfo(committed_at, 13, 13_000, False)
    (event,) = h.registry.batches(batch_id=batch_id)
    assert (event.model_id, event.worker, event.root, event.count, event.epoch, event.deposit,
            event.data_uri, event.data_hash) == (
        model_id, WORKER.address, root, 13, h.epoch(), 13_000, "ipfs://batch-13", data_hash)
    for index, leaf in enumerate(leaves):
        proof = proof_bytes(tree.get_proof(index))
        assert h.lens.verify_inclusion(batch_id, leaf, proof) is True
    assert h.lens.batch_status(root, model_id, WORKER.address) == RecordStatus(
        True, committed_at, 0, 0, 0, False)


def test_inclusion_is_false_for_tampered_leaf_wrong_proof_or_wrong_batch(h: Harness) -> None:
    model_id = h.setup_signed()
    leaves = h.batch_leaves(model_id, 8)
    tree = h.tree(leaves)
    batch_id = h.commit_batch(model_id, root_bytes(tree), 8)
    other_leaves = h.batch_leaves(model_id, 4)
    other_tree = h.tree(other_leaves)
    other_id = h.commit_batch(model_id, root_bytes(other_tree), 4)
    verify = h.lens.verify_inclusion
    leaf, proof = leaves[3], proof_bytes(tree.get_proof(3))
    tampered = [
        replace(leaf, outputCommitment=keccak(b"other output")),
        replace(leaf, attributionHash=keccak(b"other list")),
        replace(leaf, timestamp=leaf.timestamp + 1),
        replace(leaf, proofKind=2),
        replace(leaf, resultHash=keccak(b"a sealed result")),  # batch leaves carry 0
        replace(leaf, worker=WORKER_B.address),  # same leaf claimed for another worker
    ]
    for bad in tampered:
        assert verify(batch_id, bad, proof) is False
    assert verify(batch_id, leaf, proof_bytes(tree.get_proof(4))) is False
    assert verify(batch_id, leaf, proof[:-1]) is False
    assert verify(batch_id, leaf, []) is False
    assert verify(other_id, leaf, proof) is False
    assert verify(h.unique(), leaf, proof) is False
    # The leaf's own model id is part of the batch id: a leaf of another model fails.
    moved = replace(leaf, modelId=h.unique())
    assert verify(batch_id, moved, proof) is False
    # A single-leaf batch: the root is the leaf hash, the proof is empty.
    single = h.batch_leaves(model_id, 1)
    single_id = h.commit_batch(model_id, root_bytes(h.tree(single)), 1)
    assert verify(single_id, single[0], []) is True
    assert verify(other_id, other_leaves[0], proof_bytes(other_tree.get_proof(0))) is True


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
    h.send(h.registry.revoke_worker(WORKER_B.address), ADMIN)
    with reverts("WorkerNotActive", WORKER_B.address):
        h.commit_batch(model_id, h.unique(), 1, worker=WORKER_B)
    h.send(h.registry.revoke_model(model_id), OWNER)
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
    h.send(h.registry.revoke_measurement(measurement), ADMIN)
    revoked_at = h.now()
    with reverts("MeasurementIsRevoked", measurement):
        h.commit_batch(tee_only, h.unique(), 1)
    status = h.lens.batch_status(root, tee_only, WORKER.address)
    assert (status.exists, status.measurementRevokedAt, status.revokedAfter) == (
        True, revoked_at, True)


def test_commit_batch_by_sig(h: Harness) -> None:
    model_id = h.setup_signed()
    root, uri, epoch = h.unique("root"), "ipfs://batch-by-sig", h.epoch()
    data_hash = keccak(b"batch file")
    batch = Batch(root, 7, model_id, epoch, data_uri_hash(uri), data_hash, WORKER.address, 5_000)
    signature = h.batch_signature(batch)
    reg = h.registry

    def by_sig(*, count=7, uri_=uri, data=data_hash, worker=WORKER.address, sig=signature,
               deposit=5_000):
        return reg.commit_batch_by_sig(root, count, model_id, epoch, uri_, data, worker, sig,
                                       deposit)

    with reverts("InvalidSignature"):  # the deposit is signed: a relayer may not change it
        h.send(by_sig(deposit=4_999), RELAYER)
    with reverts("InvalidSignature"):  # nor the data URI
        h.send(by_sig(uri_=uri + "x"), RELAYER)
    with reverts("InvalidSignature"):  # nor the batch file's hash
        h.send(by_sig(data=keccak(b"another file")), RELAYER)
    with reverts("InvalidSignature"):  # nor the count
        h.send(by_sig(count=8), RELAYER)
    with reverts("InvalidSignature"):  # signed by someone other than the named worker
        h.send(by_sig(sig=h.batch_signature(batch, OUTSIDER)), RELAYER)
    receipt = h.send(by_sig(), RELAYER)
    event = h.events(h.registry, "BatchCommitted", receipt)[0]
    batch_id = h.batch_id(root, model_id, WORKER.address)
    assert batch.batch_id == batch_id
    assert (event["batchId"], event["worker"], event["count"], event["deposit"],
            event["dataURI"], event["dataHash"]) == (batch_id, WORKER.address, 7, 5_000, uri,
                                                     data_hash)
    with reverts("AlreadyExists"):  # the same signature cannot commit twice
        h.send(by_sig(), RELAYER)
    # A non-worker's own signature is valid, but it is no worker.
    stranger = replace(batch, worker=OUTSIDER.address, deposit=0)
    with reverts("WorkerNotFound", OUTSIDER.address):
        h.send(by_sig(worker=OUTSIDER.address, sig=h.batch_signature(stranger, OUTSIDER),
                      deposit=0), RELAYER)


def test_batch_status_reports_later_revocations(h: Harness) -> None:
    model_id = h.setup_signed()
    root = h.unique("root")
    h.commit_batch(model_id, root, 3)
    committed_at = h.now()
    h.travel(5)
    h.send(h.registry.revoke_worker(WORKER.address), ADMIN)
    worker_revoked = h.now()
    h.send(h.registry.revoke_model(model_id), OWNER)
    model_revoked = h.now()
    assert h.lens.batch_status(root, model_id, WORKER.address) == RecordStatus(
        True, committed_at, worker_revoked, 0, model_revoked, True)
    assert h.lens.batch_status(h.unique(), model_id, WORKER.address) == RecordStatus(
        False, 0, worker_revoked, 0, model_revoked, False)


def test_sweep_batches(h: Harness) -> None:
    model_id = h.setup_signed()
    funded = h.commit_batch(model_id, h.unique(), 10, deposit=7_000)
    also = h.commit_batch(model_id, h.unique(), 10, deposit=3_000)
    empty = h.commit_batch(model_id, h.unique(), 10)
    later = h.commit_batch(model_id, h.unique(), 2, deposit=1)
    sweep = h.registry.sweep_batches
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
    assert h.attestia.distributor.total_funded() == 10_000
    assert h.balance(h.distributor.address) == 10_000
    swept = h.events(h.registry, "BatchSwept", receipt)
    assert [(e["batchId"], e["epoch"], e["deposit"]) for e in swept] == [
        (funded, epoch, 7_000), (also, epoch, 3_000), (empty, epoch, 0)]
    assert h.registry.batch_info(funded).swept is True
    with reverts("BatchAlreadySwept", also):
        h.send(sweep([also]), OUTSIDER)
    with reverts("BatchAlreadySwept", later):  # a duplicate inside one call
        h.send(sweep([later, later]), OPERATOR)
    assert h.registry.batch_info(later).swept is False
