// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Split} from "../Common.sol";

/// @title IModelRegistry
/// @notice Models registered by (owner, content hash): who owns them, what they cost, how the fee
///         is split, which proof kinds their records may carry, and the roster of data
///         contributors who alone may receive the contributors' cut.
/// @dev modelId = keccak256(abi.encode(owner, contentHash)) (modelIdOf): a front-runner that
///      registers the same content gets its own id, never the honest owner's. The roster is
///      fixed at registration: only its hash (contributorsHash) and length are stored; the
///      full list is in ModelRegistered, and every single record passes it back in calldata.
interface IModelRegistry {
    /// @notice A model was registered.
    /// @param modelId keccak256(abi.encode(owner, contentHash)).
    /// @param owner The registering account (msg.sender).
    /// @param contentHash sha256 of the ONNX file.
    /// @param metadataURI Where the model card lives.
    /// @param dataRoot keccak256(abi.encode(AttributionSpec)): the roster items in the model's
    ///        quantised space and the quantisation (design.md "Integer attribution"); what
    ///        attribution disputes check a record against.
    /// @param contributors The contributor roster, sorted strictly ascending; readers rebuild
    ///        it from this event (only its hash is stored).
    /// @param policy Bitmask of accepted proof kinds (1 << kind).
    /// @param fee Fee per inference, in wei.
    /// @param split Fee split in bps between worker, owner and data contributors.
    event ModelRegistered(
        bytes32 indexed modelId,
        address indexed owner,
        bytes32 indexed contentHash,
        string metadataURI,
        bytes32 dataRoot,
        address[] contributors,
        uint8 policy,
        uint96 fee,
        Split split
    );

    /// @notice The owner changed the model's terms. Requests already paid keep the terms they
    ///         were paid under; new requests, and batches committed from now on (policy), use
    ///         these.
    /// @param modelId The model.
    /// @param fee The fee per inference, in wei.
    /// @param policy The proof-kind policy bitmask.
    /// @param split The fee split.
    event ModelTermsUpdated(bytes32 indexed modelId, uint96 fee, uint8 policy, Split split);

    /// @notice The owner set the ZK verifier contract of the model.
    /// @param modelId The model.
    /// @param verifier The verifier contract.
    event ModelVerifierUpdated(bytes32 indexed modelId, address verifier);

    /// @notice The owner deprecated the model: no new requests, open ones can still be fulfilled.
    /// @param modelId The model.
    /// @param timestamp When.
    event ModelDeprecated(bytes32 indexed modelId, uint64 timestamp);

    /// @notice The owner revoked the model: no new requests and no new records.
    /// @param modelId The model.
    /// @param timestamp When.
    event ModelRevoked(bytes32 indexed modelId, uint64 timestamp);

    /// @notice No model is registered under this id.
    /// @param modelId The id asked for.
    error ModelNotFound(bytes32 modelId);
    /// @notice A model's content hash must be non-zero.
    error InvalidModelId();
    /// @notice The model is deprecated or revoked and takes no new requests.
    /// @param modelId The model.
    error ModelNotActive(bytes32 modelId);
    /// @notice The model is revoked and takes no new records.
    /// @param modelId The model.
    error ModelIsRevoked(bytes32 modelId);
    /// @notice The policy is empty or sets bits other than SIGNED, TEE and ZK.
    /// @param policy The policy given.
    error InvalidPolicy(uint8 policy);
    /// @notice The split does not sum to 10,000 bps.
    /// @param workerBps The worker part given.
    /// @param ownerBps The owner part given.
    /// @param contributorBps The contributors' part given.
    error InvalidSplit(uint16 workerBps, uint16 ownerBps, uint16 contributorBps);
    /// @notice The verifier is not a contract.
    /// @param verifier The address given.
    error InvalidVerifier(address verifier);
    /// @notice The roster must hold 1 to MAX_CONTRIBUTORS (1,024) accounts.
    /// @param length The length given.
    error InvalidRosterLength(uint256 length);
    /// @notice The roster is not sorted strictly ascending (so no duplicate, no address(0)).
    /// @param index The first entry out of order.
    error RosterNotSorted(uint256 index);

    /// @notice Registers a model; msg.sender becomes its owner.
    /// @dev Reverts with AlreadyExists if this owner registered this content before. The ZK
    ///      verifier, if the policy accepts ZK, is set afterwards with setVerifier. The roster
    ///      cannot change later: a paid request is recorded against the roster it was paid for.
    /// @param contentHash sha256 of the ONNX file (must be non-zero).
    /// @param metadataURI Where the model card lives.
    /// @param dataRoot keccak256(abi.encode(AttributionSpec)) (design.md "Integer attribution").
    /// @param contributors The data contributors, sorted strictly ascending, 1 to 1,024 of them:
    ///        no account outside this list can ever be credited a contributor share by a
    ///        single record. Stored as keccak256(abi.encodePacked(contributors)) (each address
    ///        as a 32-byte word) and its length.
    /// @param policy Bitmask of accepted proof kinds: SIGNED 0x02, TEE 0x04, ZK 0x08.
    /// @param fee Fee per inference in wei; requesters pay exactly this.
    /// @param split Fee split in bps (worker, owner, contributors), summing to 10,000.
    /// @return modelId keccak256(abi.encode(msg.sender, contentHash)).
    function registerModel(
        bytes32 contentHash,
        string calldata metadataURI,
        bytes32 dataRoot,
        address[] calldata contributors,
        uint8 policy,
        uint96 fee,
        Split calldata split
    ) external returns (bytes32 modelId);

    /// @notice Sets the model's terms: fee, policy and split (owner only). A request carries
    ///         the terms in force when it was paid, so this never changes a paid request.
    /// @param modelId The model.
    /// @param fee The fee per inference, in wei.
    /// @param policy Bitmask of accepted proof kinds: SIGNED 0x02, TEE 0x04, ZK 0x08.
    /// @param split Fee split in bps (worker, owner, contributors), summing to 10,000.
    function setTerms(bytes32 modelId, uint96 fee, uint8 policy, Split calldata split) external;

    /// @notice Sets the EZKL verifier contract used for ZK records (owner only).
    /// @param modelId The model.
    /// @param verifier A contract exposing IZkVerifier.verifyProof.
    function setVerifier(bytes32 modelId, address verifier) external;

    /// @notice Deprecates the model (owner only, one-way): no new requests.
    /// @param modelId The model.
    function deprecateModel(bytes32 modelId) external;

    /// @notice Revokes the model (owner only, one-way, timestamped): no new requests or records.
    /// @param modelId The model.
    function revokeModel(bytes32 modelId) external;



}
