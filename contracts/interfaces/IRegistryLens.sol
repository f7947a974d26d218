// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Inference, Batch, RecordStatus} from "../Common.sol";
import {IInferenceRegistry} from "./IInferenceRegistry.sol";

/// @title IRegistryLens
/// @notice Read-only helpers over one InferenceRegistry for consumers and off-chain mirrors:
///         revocation status of records and batches, batch inclusion, and the Batch and leaf
///         hashes. Kept out of the registry to keep it under the EIP-170 code size limit; all
///         answers come from the registry's own state and views.
interface IRegistryLens {
    /// @notice Whether the worker, its enclave measurement (TEE records) or the model of a
    ///         single record was revoked (or the worker slashed), with timestamps.
    /// @dev recordedAt = inference.timestamp. A single record was accepted only while worker,
    ///      model and measurement were unrevoked, so every revocation reported came after it.
    /// @param requestId The request.
    /// @param inference The record.
    /// @return status exists = the registry holds this record for requestId.
    function recordStatus(bytes32 requestId, Inference calldata inference)
        external
        view
        returns (RecordStatus memory status);

    /// @notice The same for a batch (the measurement is the worker's enclave measurement if
    ///         bound). recordedAt = the commit block's timestamp.
    /// @param root The batch root.
    /// @param modelId The model.
    /// @param worker The worker.
    /// @return status exists = the batch is committed.
    function batchStatus(bytes32 root, bytes32 modelId, address worker)
        external
        view
        returns (RecordStatus memory status);

    /// @notice Whether `inference` is a leaf of the committed batch `batchId`.
    /// @dev The root is rebuilt from the leaf and the proof, then
    ///      keccak256(abi.encode(root, inference.modelId, inference.worker)) must be batchId.
    /// @param batchId The batch.
    /// @param inference The leaf.
    /// @param proof Its Merkle proof (StandardMerkleTree, sorted pairs).
    /// @return True if included.
    function verifyInclusion(bytes32 batchId, Inference calldata inference, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice The EIP-712 digest of a Batch commitment in the registry's domain (what
    ///         commitBatchBySig checks).
    /// @param batch The commitment.
    /// @return The digest.
    function hashBatch(Batch calldata batch) external view returns (bytes32);

    /// @notice The StandardMerkleTree leaf hash of an Inference.
    /// @param inference The leaf.
    /// @return keccak256(bytes.concat(keccak256(abi.encode(inference)))).
    function leafHash(Inference calldata inference) external pure returns (bytes32);

    /// @notice The registry read.
    /// @return The registry.
    function registry() external view returns (IInferenceRegistry);
}
