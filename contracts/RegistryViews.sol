// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IRegistryViews} from "./interfaces/IRegistryViews.sol";
import {
    Model,
    Worker,
    MeasurementStatus,
    MODELS_SLOT,
    WORKERS_SLOT,
    MEASUREMENTS_SLOT,
    BATCHES_SLOT,
    EPOCH_POOLS_SLOT,
    USED_PROOFS_SLOT,
    BATCH_TIME_SHIFT,
    BATCH_DEPOSIT_SHIFT,
    BATCH_SWEPT,
    toBatchId,
    toModelId,
    toRequestId,
    toRequestHash,
    Request,
    EIP712_NAME,
    EIP712_VERSION
} from "./Common.sol";

/// @title RegistryViews
/// @notice The InferenceRegistry's cold views. Deployed by the registry's constructor and run
///         only by DELEGATECALL from the registry's fallback: every read is of the REGISTRY's
///         storage, at the slots of Common.sol "registry storage". Called directly, it reads
///         its own empty storage (zero answers). No function writes.
contract RegistryViews is IRegistryViews {
    /// @inheritdoc IRegistryViews
    function getModel(bytes32 modelId) external view returns (Model memory) {
        return _models()[modelId];
    }

    /// @inheritdoc IRegistryViews
    function modelIdOf(address owner, bytes32 contentHash) external pure returns (bytes32) {
        return toModelId(owner, contentHash);
    }

    /// @inheritdoc IRegistryViews
    function getWorker(address signer) external view returns (Worker memory) {
        return _workers()[signer];
    }

    /// @inheritdoc IRegistryViews
    function isActiveWorker(address signer) external view returns (bool) {
        Worker storage worker = _workers()[signer];
        return worker.operator != address(0) && worker.unbondingAt == 0 && worker.revokedAt == 0;
    }

    /// @inheritdoc IRegistryViews
    function measurementStatus(bytes32 measurement)
        external
        view
        returns (MeasurementStatus memory)
    {
        return _measurements()[measurement];
    }

    /// @inheritdoc IRegistryViews
    function proofUsed(bytes32 proofHash) external view returns (bool) {
        return _used()[proofHash];
    }

    /// @inheritdoc IRegistryViews
    function batchInfo(bytes32 batchId)
        external
        view
        returns (uint64 committedAt, uint32 count, uint256 deposit, bool swept)
    {
        uint256 packed = _batches()[batchId];
        return (
            uint64(packed >> BATCH_TIME_SHIFT),
            uint32(packed),
            uint128(packed >> BATCH_DEPOSIT_SHIFT),
            packed & BATCH_SWEPT != 0
        );
    }

    /// @inheritdoc IRegistryViews
    function epochPool(uint64 epoch) external view returns (uint256) {
        return _pools()[epoch];
    }

    /// @inheritdoc IRegistryViews
    function hashRequest(Request calldata request) external pure returns (bytes32) {
        return toRequestHash(request);
    }

    /// @inheritdoc IRegistryViews
    /// @dev OpenZeppelin's EIP712 separator, computed here: run by DELEGATECALL, address(this)
    ///      is the registry (called directly it answers for this contract, as any other view).
    function domainSeparator() external view returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256(bytes(EIP712_NAME)),
                keccak256(bytes(EIP712_VERSION)),
                block.chainid,
                address(this)
            )
        );
    }

    /// @inheritdoc IRegistryViews
    function requestIdOf(address requester, bytes32 modelId, bytes32 inputCommitment)
        external
        pure
        returns (bytes32)
    {
        return toRequestId(requester, modelId, inputCommitment);
    }

    /// @inheritdoc IRegistryViews
    function batchIdOf(bytes32 root, bytes32 modelId, address worker)
        external
        pure
        returns (bytes32)
    {
        return toBatchId(root, modelId, worker);
    }

    function _workers() private pure returns (mapping(address => Worker) storage workers) {
        assembly ("memory-safe") {
            workers.slot := WORKERS_SLOT
        }
    }

    function _models() private pure returns (mapping(bytes32 => Model) storage models) {
        assembly ("memory-safe") {
            models.slot := MODELS_SLOT
        }
    }

    function _measurements()
        private
        pure
        returns (mapping(bytes32 => MeasurementStatus) storage measurements)
    {
        assembly ("memory-safe") {
            measurements.slot := MEASUREMENTS_SLOT
        }
    }

    function _used() private pure returns (mapping(bytes32 => bool) storage used) {
        assembly ("memory-safe") {
            used.slot := USED_PROOFS_SLOT
        }
    }

    function _batches() private pure returns (mapping(bytes32 => uint256) storage batches) {
        assembly ("memory-safe") {
            batches.slot := BATCHES_SLOT
        }
    }

    function _pools() private pure returns (mapping(uint64 => uint256) storage pools) {
        assembly ("memory-safe") {
            pools.slot := EPOCH_POOLS_SLOT
        }
    }
}
