// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {
    Model,
    Split,
    BPS,
    POLICY_MASK,
    MAX_CONTRIBUTORS,
    AlreadyExists,
    Unauthorized,
    toModelId
} from "./Common.sol";

/// @title ModelRegistry
/// @notice Models by (owner, content hash), each with its contributor roster. Abstract:
///         InferenceRegistry inherits it so that requests and records read a model's hot slots
///         without a cross-contract call.
abstract contract ModelRegistry is IModelRegistry {
    mapping(bytes32 modelId => Model) internal _models;

    modifier onlyModelOwner(bytes32 modelId) {
        _requireModelOwner(modelId);
        _;
    }

    /// @inheritdoc IModelRegistry
    function registerModel(
        bytes32 contentHash,
        string calldata metadataURI,
        bytes32 dataRoot,
        address[] calldata contributors,
        uint8 policy,
        uint96 fee,
        Split calldata split
    ) external returns (bytes32 modelId) {
        if (contentHash == bytes32(0)) revert InvalidModelId();
        _checkPolicy(policy);
        _checkSplit(split);
        _checkContributors(contributors);
        // Namespaced by owner: a front-runner registering the same content gets its own id.
        modelId = toModelId(msg.sender, contentHash);
        Model storage model = _models[modelId];
        if (model.owner != address(0)) revert AlreadyExists();

        model.owner = msg.sender;
        model.policy = policy;
        model.workerBps = split.workerBps;
        model.ownerBps = split.ownerBps;
        model.fee = fee;
        model.contributorsHash = keccak256(abi.encodePacked(contributors));
        model.contentHash = contentHash;
        model.dataRoot = dataRoot;
        model.contributors = uint32(contributors.length);
        model.registeredAt = uint48(block.timestamp);
        model.metadataURI = metadataURI;
        emit ModelRegistered(
            modelId,
            msg.sender,
            contentHash,
            metadataURI,
            dataRoot,
            contributors,
            policy,
            fee,
            split
        );
    }

    /// @inheritdoc IModelRegistry
    function setTerms(bytes32 modelId, uint96 fee, uint8 policy, Split calldata split)
        external
        onlyModelOwner(modelId)
    {
        _checkPolicy(policy);
        _checkSplit(split);
        Model storage model = _models[modelId];
        model.policy = policy;
        model.workerBps = split.workerBps;
        model.ownerBps = split.ownerBps;
        model.fee = fee;
        emit ModelTermsUpdated(modelId, fee, policy, split);
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

    function _requireModelOwner(bytes32 modelId) private view {
        address owner = _models[modelId].owner;
        if (owner == address(0)) revert ModelNotFound(modelId);
        if (owner != msg.sender) revert Unauthorized();
    }

    function _checkContributors(address[] calldata contributors) private pure {
        uint256 length = contributors.length;
        if (length == 0 || length > MAX_CONTRIBUTORS) revert InvalidRosterLength(length);
        address previous;
        for (uint256 i; i < length; ++i) {
            address account = contributors[i];
            if (account <= previous) revert RosterNotSorted(i);
            previous = account;
        }
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
