// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IRegistryLens} from "./interfaces/IRegistryLens.sol";
import {IInferenceRegistry} from "./interfaces/IInferenceRegistry.sol";
import {IRegistryViews} from "./interfaces/IRegistryViews.sol";
import {
    Inference,
    Batch,
    RecordStatus,
    Worker,
    PROOF_TEE,
    ZeroAddress,
    batchLeafHash,
    batchStructHash,
    toBatchId
} from "./Common.sol";

/// @title RegistryLens
/// @notice Status, inclusion and hashing views over one InferenceRegistry (no state of its own).
contract RegistryLens is IRegistryLens {
    /// @inheritdoc IRegistryLens
    IInferenceRegistry public immutable registry;

    /// @param registry_ The registry to read.
    constructor(IInferenceRegistry registry_) {
        if (address(registry_) == address(0)) revert ZeroAddress();
        registry = registry_;
    }

    /// @inheritdoc IRegistryLens
    function recordStatus(bytes32 requestId, Inference calldata inference)
        external
        view
        returns (RecordStatus memory status)
    {
        status.exists = inference.requestId == requestId
            && registry.requestState(requestId) == registry.hashInference(inference);
        status.recordedAt = inference.timestamp;
        _fillRevocations(
            status, inference.modelId, inference.worker, inference.proofKind == PROOF_TEE, 0
        );
    }

    /// @inheritdoc IRegistryLens
    function batchStatus(bytes32 root, bytes32 modelId, address worker)
        external
        view
        returns (RecordStatus memory status)
    {
        (uint64 committedAt, uint32 count,,) =
            _views().batchInfo(toBatchId(root, modelId, worker));
        status.exists = count != 0;
        status.recordedAt = committedAt;
        _fillRevocations(status, modelId, worker, true, committedAt);
    }

    /// @inheritdoc IRegistryLens
    function verifyInclusion(bytes32 batchId, Inference calldata inference, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 root = MerkleProof.processProofCalldata(proof, leafHash(inference));
        (, uint32 count,,) = _views().batchInfo(batchId);
        return count != 0 && toBatchId(root, inference.modelId, inference.worker) == batchId;
    }

    /// @inheritdoc IRegistryLens
    function hashBatch(Batch calldata batch) external view returns (bytes32) {
        return MessageHashUtils.toTypedDataHash(
            IRegistryViews(address(registry)).domainSeparator(),
            batchStructHash(
                batch.root,
                batch.count,
                batch.modelId,
                batch.epoch,
                batch.dataUriHash,
                batch.dataHash,
                batch.worker,
                batch.deposit
            )
        );
    }

    /// @inheritdoc IRegistryLens
    function leafHash(Inference calldata inference) public pure returns (bytes32) {
        return batchLeafHash(inference);
    }

    function _fillRevocations(
        RecordStatus memory status,
        bytes32 modelId,
        address signer,
        bool withEnclave,
        uint64 acceptedAt
    ) private view {
        IRegistryViews views = _views();
        Worker memory worker = views.getWorker(signer);
        status.workerRevokedAt = worker.revokedAt;
        status.modelRevokedAt = views.getModel(modelId).revokedAt;
        if (withEnclave && worker.measurement != bytes32(0)) {
            status.measurementRevokedAt = views.measurementStatus(worker.measurement).revokedAt;
        }
        status.revokedAfter = status.exists
            && (
                _after(status.workerRevokedAt, acceptedAt)
                    || _after(status.measurementRevokedAt, acceptedAt)
                    || _after(status.modelRevokedAt, acceptedAt)
            );
    }

    /// @dev The registry's cold views, served at its address (IRegistryViews).
    function _views() private view returns (IRegistryViews) {
        return IRegistryViews(address(registry));
    }

    function _after(uint64 revokedAt, uint64 recordedAt) private pure returns (bool) {
        return revokedAt != 0 && revokedAt >= recordedAt;
    }
}
