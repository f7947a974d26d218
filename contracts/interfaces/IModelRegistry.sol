// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Model, Split} from "../Common.sol";

/// @title IModelRegistry
/// @notice Models registered by content hash: who owns them, what they cost, how the fee is
///         split and which proof kinds their records may carry.
interface IModelRegistry {
    /// @notice A model was registered.
    /// @param modelId sha256 of the ONNX file.
    /// @param owner The registering account (msg.sender).
    /// @param metadataURI Where the model card lives.
    /// @param dataRoot Merkle root over the training-data roster (contributor, item hash).
    /// @param contributors Number of data contributors in the roster.
    /// @param policy Bitmask of accepted proof kinds (1 << kind).
    /// @param fee Fee per inference, in wei.
    /// @param split Fee split in bps between worker, owner and data contributors.
    event ModelRegistered(
        bytes32 indexed modelId,
        address indexed owner,
        string metadataURI,
        bytes32 dataRoot,
        uint32 contributors,
        uint8 policy,
        uint96 fee,
        Split split
    );

    /// @notice The owner changed the fee per inference (applies to new requests).
    event ModelFeeUpdated(bytes32 indexed modelId, uint96 fee);

    /// @notice The owner changed the fee split (applies to records made from now on).
    event ModelSplitUpdated(bytes32 indexed modelId, Split split);

    /// @notice The owner changed the proof-kind policy (applies to records made from now on).
    event ModelPolicyUpdated(bytes32 indexed modelId, uint8 policy);

    /// @notice The owner set the ZK verifier contract of the model.
    event ModelVerifierUpdated(bytes32 indexed modelId, address verifier);

    /// @notice The owner deprecated the model: no new requests, open ones can still be fulfilled.
    event ModelDeprecated(bytes32 indexed modelId, uint64 timestamp);

    /// @notice The owner revoked the model: no new requests and no new records.
    event ModelRevoked(bytes32 indexed modelId, uint64 timestamp);

    /// @notice No model is registered under this id.
    error ModelNotFound(bytes32 modelId);
    /// @notice A model id must be non-zero.
    error InvalidModelId();
    /// @notice The model is deprecated or revoked and takes no new requests.
    error ModelNotActive(bytes32 modelId);
    /// @notice The model is revoked and takes no new records.
    error ModelIsRevoked(bytes32 modelId);
    /// @notice The policy is empty or sets bits other than SIGNED, TEE and ZK.
    error InvalidPolicy(uint8 policy);
    /// @notice The split does not sum to 10,000 bps.
    error InvalidSplit(uint16 workerBps, uint16 ownerBps, uint16 contributorBps);
    /// @notice The verifier is not a contract.
    error InvalidVerifier(address verifier);

    /// @notice Registers a model under its content hash; msg.sender becomes its owner.
    /// @dev Reverts with AlreadyExists if the id is taken. The ZK verifier, if the policy
    ///      accepts ZK, is set afterwards with setVerifier.
    /// @param modelId sha256 of the ONNX file (must be non-zero).
    /// @param metadataURI Where the model card lives.
    /// @param dataRoot Merkle root over the training-data roster.
    /// @param contributors Number of data contributors in the roster.
    /// @param policy Bitmask of accepted proof kinds: SIGNED 0x02, TEE 0x04, ZK 0x08.
    /// @param fee Fee per inference in wei; requesters pay exactly this.
    /// @param split Fee split in bps (worker, owner, contributors), summing to 10,000.
    function registerModel(
        bytes32 modelId,
        string calldata metadataURI,
        bytes32 dataRoot,
        uint32 contributors,
        uint8 policy,
        uint96 fee,
        Split calldata split
    ) external;

    /// @notice Sets the fee per inference (owner only; requests already paid keep their fee).
    function setFee(bytes32 modelId, uint96 fee) external;

    /// @notice Sets the fee split (owner only; applies to records made from now on).
    function setSplit(bytes32 modelId, Split calldata split) external;

    /// @notice Sets the proof-kind policy (owner only; applies to records made from now on).
    function setPolicy(bytes32 modelId, uint8 policy) external;

    /// @notice Sets the EZKL verifier contract used for ZK records (owner only).
    /// @param verifier A contract exposing IZkVerifier.verifyProof.
    function setVerifier(bytes32 modelId, address verifier) external;

    /// @notice Deprecates the model (owner only, one-way): no new requests.
    function deprecateModel(bytes32 modelId) external;

    /// @notice Revokes the model (owner only, one-way, timestamped): no new requests or records.
    function revokeModel(bytes32 modelId) external;

    /// @notice Returns the model registered under modelId (owner == address(0) if none).
    function getModel(bytes32 modelId) external view returns (Model memory);
}
