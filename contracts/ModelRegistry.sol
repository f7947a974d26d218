// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {Model, Split, BPS, POLICY_MASK, AlreadyExists, Unauthorized} from "./Common.sol";

/// @title ModelRegistry
/// @notice Models by content hash. Abstract: InferenceRegistry inherits it so that requests
///         and records read a model's hot slot without a cross-contract call.
abstract contract ModelRegistry is IModelRegistry {
    mapping(bytes32 modelId => Model) internal _models;

    modifier onlyModelOwner(bytes32 modelId) {
        address owner = _models[modelId].owner;
        if (owner == address(0)) revert ModelNotFound(modelId);
        if (owner != msg.sender) revert Unauthorized();
        _;
    }

    /// @inheritdoc IModelRegistry
    function registerModel(
        bytes32 modelId,
        string calldata metadataURI,
        bytes32 dataRoot,
        uint32 contributors,
        uint8 policy,
        uint96 fee,
        Split calldata split
    ) external {
        if (modelId == bytes32(0)) revert InvalidModelId();
        Model storage model = _models[modelId];
        if (model.owner != address(0)) revert AlreadyExists();
        _checkPolicy(policy);
        _checkSplit(split);

        model.owner = msg.sender;
        model.policy = policy;
        model.workerBps = split.workerBps;
        model.ownerBps = split.ownerBps;
        model.fee = fee;
        model.dataRoot = dataRoot;
        model.contributors = contributors;
        model.registeredAt = uint48(block.timestamp);
        model.metadataURI = metadataURI;
        emit ModelRegistered(
            modelId, msg.sender, metadataURI, dataRoot, contributors, policy, fee, split
        );
    }

    /// @inheritdoc IModelRegistry
    function setFee(bytes32 modelId, uint96 fee) external onlyModelOwner(modelId) {
        _models[modelId].fee = fee;
        emit ModelFeeUpdated(modelId, fee);
    }

    /// @inheritdoc IModelRegistry
    function setSplit(bytes32 modelId, Split calldata split) external onlyModelOwner(modelId) {
        _checkSplit(split);
        Model storage model = _models[modelId];
        model.workerBps = split.workerBps;
        model.ownerBps = split.ownerBps;
        emit ModelSplitUpdated(modelId, split);
    }

    /// @inheritdoc IModelRegistry
    function setPolicy(bytes32 modelId, uint8 policy) external onlyModelOwner(modelId) {
        _checkPolicy(policy);
        _models[modelId].policy = policy;
        emit ModelPolicyUpdated(modelId, policy);
    }

    /// @inheritdoc IModelRegistry
    function setVerifier(bytes32 modelId, address verifier) external onlyModelOwner(modelId) {
        if (verifier.code.length == 0) revert InvalidVerifier(verifier);
        _models[modelId].verifier = verifier;
        emit ModelVerifierUpdated(modelId, verifier);
    }

    /// @inheritdoc IModelRegistry
    function deprecateModel(bytes32 modelId) external onlyModelOwner(modelId) {
        Model storage model = _models[modelId];
        if (model.deprecated) revert ModelNotActive(modelId);
        model.deprecated = true;
        emit ModelDeprecated(modelId, uint64(block.timestamp));
    }

    /// @inheritdoc IModelRegistry
    function revokeModel(bytes32 modelId) external onlyModelOwner(modelId) {
        Model storage model = _models[modelId];
        if (model.revokedAt != 0) revert ModelIsRevoked(modelId);
        model.revokedAt = uint48(block.timestamp);
        emit ModelRevoked(modelId, uint64(block.timestamp));
    }

    /// @inheritdoc IModelRegistry
    function getModel(bytes32 modelId) external view returns (Model memory) {
        return _models[modelId];
    }

    /// @dev A model that may take new records (registered, not revoked); returns its policy.
    ///      One SLOAD of the hot slot, decoded by hand because the compiler would load it once
    ///      per field: owner = bits 0..159, policy = 160..167, revokedAt = 208..255 (Common.Model).
    function _recordablePolicy(bytes32 modelId) internal view returns (uint8 policy) {
        Model storage model = _models[modelId];
        uint256 hot;
        assembly ("memory-safe") {
            hot := sload(model.slot)
        }
        if (uint160(hot) == 0) revert ModelNotFound(modelId);
        if (hot >> 208 != 0) revert ModelIsRevoked(modelId);
        return uint8(hot >> 160);
    }

    function _checkPolicy(uint8 policy) private pure {
        if (policy == 0 || policy & ~POLICY_MASK != 0) revert InvalidPolicy(policy);
    }

    function _checkSplit(Split calldata split) private pure {
        if (uint256(split.workerBps) + split.ownerBps + split.contributorBps != BPS) {
            revert InvalidSplit(split.workerBps, split.ownerBps, split.contributorBps);
        }
    }
}
