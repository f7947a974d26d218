// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Attestia} from "./utils/Attestia.sol";
import {MerkleTree} from "./utils/MerkleTree.sol";
import {RegistryLens} from "../../contracts/RegistryLens.sol";
import {IInferenceRegistry} from "../../contracts/interfaces/IInferenceRegistry.sol";
import {IRegistryViews} from "../../contracts/interfaces/IRegistryViews.sol";
import {
    Share, Inference, Request, Batch, RecordStatus, PROOF_SIGNED, ZeroAddress
} from "../../contracts/Common.sol";

/// @notice The lens answers from the registry's state: record and batch status with
///         revocations, batch inclusion, and the Batch digest commitBatchBySig checks.
contract RegistryLensTest is Fixture {
    function setUp() public override {
        super.setUp();
        _registerModel(MODEL, FEE, 1_000, 1_000);
    }

    function test_recordStatus_existsAndRevocations() public {
        Request memory request = _request(MODEL, worker, "lens", FEE);
        (Inference memory inference, Share[] memory list) = _record(request, 2);
        RecordStatus memory before = lens.recordStatus(inference.requestId, inference);
        assertTrue(!before.exists, "not yet recorded");

        vm.prank(worker);
        registry.fulfill(request, inference, list, roster, Attestia.SEALED);
        RecordStatus memory status = lens.recordStatus(inference.requestId, inference);
        assertTrue(status.exists, "recorded");
        assertEq(status.recordedAt, inference.timestamp, "recordedAt");
        assertTrue(!status.revokedAfter, "nothing revoked");
        assertTrue(!lens.recordStatus(keccak256("other id"), inference).exists, "wrong id");

        vm.warp(block.timestamp + 10);
        vm.prank(modelOwner);
        registry.revokeModel(MODEL);
        status = lens.recordStatus(inference.requestId, inference);
        assertEq(status.modelRevokedAt, block.timestamp, "model revoked at");
        assertTrue(status.revokedAfter, "revoked after the record");
    }

    function test_batch_statusInclusionAndDigest() public {
        Inference[] memory leaves = new Inference[](3);
        bytes32[] memory hashes = new bytes32[](3);
        for (uint256 i; i < 3; ++i) {
            Share[] memory list = Attestia.shares(roster, i);
            leaves[i] = Inference(
                keccak256(abi.encode("r", i)), MODEL, keccak256(abi.encode("i", i)), keccak256(abi.encode("o", i)),
                Attestia.attributionHash(list), PROOF_SIGNED, bytes32(0), worker, uint64(block.timestamp), bytes32(0)
            );
            hashes[i] = lens.leafHash(leaves[i]);
            assertEq(hashes[i], keccak256(bytes.concat(keccak256(abi.encode(leaves[i])))), "leaf hash");
        }
        bytes32[] memory tree = MerkleTree.build(hashes);
        uint64 epoch = registry.currentEpoch();
        Batch memory batch = Batch(tree[0], 3, MODEL, epoch, keccak256("ipfs://b"), keccak256("file"), worker, 0);
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                IRegistryViews(address(registry)).domainSeparator(),
                keccak256(
                    abi.encode(
                        keccak256(
                            "Batch(bytes32 root,uint32 count,bytes32 modelId,uint64 epoch,bytes32 dataUriHash,bytes32 dataHash,address worker,uint256 deposit)"
                        ),
                        batch
                    )
                )
            )
        );
        assertEq(lens.hashBatch(batch), digest, "Batch digest from the documented type string");
        assertTrue(!lens.batchStatus(tree[0], MODEL, worker).exists, "not committed");

        bytes memory signature = Attestia.sign(workerKey, digest);
        vm.prank(relayer);
        bytes32 batchId =
            registry.commitBatchBySig(tree[0], 3, MODEL, epoch, "ipfs://b", keccak256("file"), worker, signature);
        RecordStatus memory status = lens.batchStatus(tree[0], MODEL, worker);
        assertTrue(status.exists, "committed");
        assertEq(status.recordedAt, block.timestamp, "recordedAt = commit time");
        for (uint256 i; i < 3; ++i) {
            assertTrue(lens.verifyInclusion(batchId, leaves[i], MerkleTree.proof(tree, hashes[i])), "included");
        }
        assertTrue(!lens.verifyInclusion(keccak256("no batch"), leaves[0], MerkleTree.proof(tree, hashes[0])), "no batch");

        vm.prank(admin);
        registry.revokeWorker(worker);
        status = lens.batchStatus(tree[0], MODEL, worker);
        assertEq(status.workerRevokedAt, block.timestamp, "worker revoked at");
        assertTrue(status.revokedAfter, "revoked at or after the commit");
    }

    function test_constructor_needsARegistry() public {
        vm.expectRevert(ZeroAddress.selector);
        new RegistryLens(IInferenceRegistry(address(0)));
    }
}
