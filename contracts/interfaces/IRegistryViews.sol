// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Model, Worker, MeasurementStatus, Request} from "../Common.sol";

/// @title IRegistryViews
/// @notice The InferenceRegistry's cold views, answered AT THE REGISTRY'S ADDRESS: the
///         registry's fallback runs them by DELEGATECALL in RegistryViews, a contract its
///         constructor deploys, so they read the registry's own storage and cost its code no
///         bytes (EIP-170 room, design.md). Call them as `IRegistryViews(address(registry))`;
///         the registry's compiled ABI (build/InferenceRegistry.json) lists them too.
interface IRegistryViews {
    /// @notice The model registered under modelId.
    /// @param modelId The model.
    /// @return The model (owner == address(0) if none).
    function getModel(bytes32 modelId) external view returns (Model memory);

    /// @notice The id a model of `contentHash` registered by `owner` gets.
    /// @param owner The registering account.
    /// @param contentHash sha256 of the ONNX file.
    /// @return keccak256(abi.encode(owner, contentHash)).
    function modelIdOf(address owner, bytes32 contentHash) external pure returns (bytes32);

    /// @notice The worker registered under signer.
    /// @param signer The worker.
    /// @return The worker (operator == address(0) if none).
    function getWorker(address signer) external view returns (Worker memory);

    /// @notice Whether a worker may make records.
    /// @param signer The worker.
    /// @return True if the worker is registered, not unbonding and not revoked (or slashed).
    function isActiveWorker(address signer) external view returns (bool);

    /// @notice The allowlist status of a measurement.
    /// @param measurement The measurement.
    /// @return Its status (zero timestamps = never).
    function measurementStatus(bytes32 measurement)
        external
        view
        returns (MeasurementStatus memory);

    /// @notice Whether a ZK proof already fulfilled a request.
    /// @param proofHash keccak256(proof).
    /// @return True if used.
    function proofUsed(bytes32 proofHash) external view returns (bool);

    /// @notice A committed batch (all zero if none).
    /// @param batchId The batch.
    /// @return committedAt The commit block's timestamp.
    /// @return count The number of leaves.
    /// @return deposit The deposit, in wei.
    /// @return swept Whether the deposit was swept.
    function batchInfo(bytes32 batchId)
        external
        view
        returns (uint64 committedAt, uint32 count, uint256 deposit, bool swept);

    /// @notice The unswept contributor pool of an epoch from single records, in wei (batch
    ///         deposits are in batchInfo).
    /// @param epoch The epoch.
    /// @return Wei.
    function epochPool(uint64 epoch) external view returns (uint256);

    /// @notice A request's id.
    /// @param requester Who pays.
    /// @param modelId The model.
    /// @param inputCommitment The salted input commitment.
    /// @return keccak256(abi.encode(requester, modelId, inputCommitment)).
    function requestIdOf(address requester, bytes32 modelId, bytes32 inputCommitment)
        external
        pure
        returns (bytes32);

    /// @notice A batch's id.
    /// @param root The batch root.
    /// @param modelId The model.
    /// @param worker The worker.
    /// @return keccak256(abi.encode(root, modelId, worker)).
    function batchIdOf(bytes32 root, bytes32 modelId, address worker)
        external
        pure
        returns (bytes32);

    /// @notice keccak256(abi.encode(request)): the value an open request's slot holds.
    /// @param request The request.
    /// @return The hash.
    function hashRequest(Request calldata request) external pure returns (bytes32);

    /// @notice The EIP-712 domain separator (name "Attestia", version "1").
    /// @return The separator.
    function domainSeparator() external view returns (bytes32);
}
