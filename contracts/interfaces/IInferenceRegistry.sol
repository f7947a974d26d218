// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Inference, Share, Request, Batch, Payout, RecordStatus} from "../Common.sol";
import {IModelRegistry} from "./IModelRegistry.sol";
import {IWorkerRegistry} from "./IWorkerRegistry.sol";

/// @title IInferenceRegistry
/// @notice Paid inference requests, their signed records (single, or Merkle-batched), the fee
///         split, the per-epoch contributor pools and the revocation view consumers rely on.
/// @dev Models and workers live in the same contract (see IModelRegistry, IWorkerRegistry) so
///      the hot paths make no cross-contract calls.
///
///      Request slot (requestState): 0 = none, keccak256(abi.encode(Request)) = open, the
///      EIP-712 digest of the Inference = recorded, 1 = cancelled, 2 = rejected.
interface IInferenceRegistry is IModelRegistry, IWorkerRegistry {
    /// @notice A request was paid into escrow. Workers follow this event.
    /// @param worker The worker the payload is encrypted to, or address(0) for any worker.
    /// @param payload Encrypted input for a named worker, or a URI for an open request.
    event InferenceRequested(
        bytes32 indexed requestId,
        bytes32 indexed modelId,
        address indexed worker,
        address requester,
        uint256 fee,
        uint64 createdAt,
        bytes32 inputCommitment,
        bytes payload
    );

    /// @notice The requester cancelled an expired request; the fee is credited back.
    event RequestCancelled(bytes32 indexed requestId, address indexed requester, uint256 refund);

    /// @notice A worker rejected a request; the fee is credited back to the requester.
    event RequestRejected(
        bytes32 indexed requestId, address indexed rejectedBy, uint256 refund, string reason
    );

    /// @notice A request was fulfilled with a record.
    /// @param inference The full record.
    /// @param shares The attribution list (hashes to inference.attributionHash).
    /// @param digest The EIP-712 digest of the record (now the request slot's value).
    /// @param payout How the request's fee was split, and into which epoch's pool.
    event InferenceRecorded(
        bytes32 indexed requestId,
        bytes32 indexed modelId,
        address indexed worker,
        Inference inference,
        Share[] shares,
        bytes32 digest,
        Payout payout
    );

    /// @notice A worker committed a batch of inference records.
    /// @param batchId keccak256(abi.encode(root, modelId, worker)).
    /// @param epoch The epoch the batch (and its deposit) belongs to.
    /// @param deposit Fees of the batch's (off-chain paid) inferences for the contributors of
    ///        `epoch`; held in the batch slot until sweepBatches.
    /// @param dataURI Where the batch's leaves and attribution lists are published.
    event BatchCommitted(
        bytes32 indexed batchId,
        bytes32 indexed modelId,
        address indexed worker,
        bytes32 root,
        uint32 count,
        uint64 epoch,
        uint256 deposit,
        string dataURI
    );

    /// @notice An account withdrew its credited balance.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice An ended epoch's contributor pool was sent to the reward distributor.
    event EpochSwept(uint64 indexed epoch, uint256 amount);

    /// @notice A batch's deposit (for the contributors of `epoch`) was sent to the reward
    ///         distributor.
    event BatchSwept(bytes32 indexed batchId, uint64 indexed epoch, uint256 deposit);

    /// @notice The request is not open (never made, already recorded, cancelled or rejected),
    ///         or the Request struct passed does not hash to the stored value.
    error RequestNotOpen(bytes32 requestId);
    /// @notice This record was already made (replay).
    error AlreadyRecorded(bytes32 digest);
    /// @notice The record's modelId or inputCommitment differs from the request's.
    error RequestMismatch(bytes32 requestId);
    /// @notice The record's worker is not the worker the request names.
    error WorkerMismatch(address expected, address actual);
    /// @notice The request timeout has not passed yet.
    error RequestNotExpired(uint64 expiresAt);
    /// @notice The record's timestamp is before the request or too far from the block time.
    error TimestampOutOfWindow(uint64 timestamp);
    /// @notice The model's policy does not accept this proof kind.
    error ProofKindNotAllowed(uint8 proofKind);
    /// @notice proofHash is not what the proof kind requires (SIGNED: 0; TEE: the worker's
    ///         attestation hash; ZK: keccak256(proof)).
    error ProofHashMismatch(bytes32 expected, bytes32 actual);
    /// @notice A ZK record must go through fulfillZk / fulfillZkBySig.
    error ZkProofRequired();
    /// @notice fulfillZk was called with a non-ZK record.
    error NotZkRecord(uint8 proofKind);
    /// @notice outputCommitment != keccak256(abi.encodePacked(instances)).
    error OutputCommitmentMismatch(bytes32 expected, bytes32 actual);
    /// @notice The model has no ZK verifier set.
    error VerifierNotSet(bytes32 modelId);
    /// @notice The model's verifier rejected the proof (returned false or reverted).
    error ZkProofInvalid();
    /// @notice keccak256(abi.encode(shares)) != attributionHash.
    error AttributionHashMismatch(bytes32 expected, bytes32 actual);
    /// @notice The attribution list is not strictly sorted by account, or has a zero address.
    error SharesNotSorted(uint256 index);
    /// @notice An attribution entry has zero bps.
    error ZeroShare(uint256 index);
    /// @notice The attribution list does not sum to 10,000 bps.
    error SharesSumInvalid(uint256 sum);
    /// @notice A batch must hold at least one leaf.
    error EmptyBatch();
    /// @notice The batch's epoch is not the current epoch.
    error EpochMismatch(uint64 expected, uint64 actual);
    /// @notice The epoch has not ended yet.
    error EpochNotEnded(uint64 epoch);
    /// @notice The epoch pool is empty (or already swept).
    error NothingToSweep(uint64 epoch);
    /// @notice The listed batches hold no deposit.
    error NothingToSweepBatches();
    /// @notice No batch is committed under this id.
    error BatchNotFound(bytes32 batchId);
    /// @notice The batch's deposit was already swept.
    error BatchAlreadySwept(bytes32 batchId);
    /// @notice The reward distributor is not an ETH distributor.
    error InvalidDistributor(address distributor);
    /// @notice Epoch length must be non-zero and genesis not in the future.
    error InvalidEpochConfig();

    // ---------------------------------------------------------------- requests

    /// @notice Requests an inference, paying exactly the model's fee into escrow.
    /// @dev requestId = keccak256(abi.encode(msg.sender, modelId, inputCommitment)); the
    ///      commitment is salted, so a repeat reverts with AlreadyExists. The model must be
    ///      registered, not deprecated and not revoked; a named worker must be active.
    /// @param worker The worker whose encryption key the payload is encrypted to, or
    ///        address(0) for any worker serving the model.
    /// @param inputCommitment keccak256(salt || canonical input bytes).
    /// @param payload Encrypted input (named worker) or a URI (open request); only emitted.
    /// @return requestId The id of the new request.
    function requestInference(
        bytes32 modelId,
        address worker,
        bytes32 inputCommitment,
        bytes calldata payload
    ) external payable returns (bytes32 requestId);

    /// @notice Cancels an unfulfilled request after requestTimeout() (requester only) and
    ///         credits the fee back to the requester's balance.
    /// @param request The request as emitted in InferenceRequested.
    function cancelRequest(Request calldata request) external;

    /// @notice Rejects an open request and credits the fee back to the requester's balance.
    /// @dev Callable by the named worker (its key or its operator), or for an open request
    ///      by any active worker key.
    function rejectRequest(Request calldata request, string calldata reason) external;

    // ---------------------------------------------------------------- records

    /// @notice The worker (msg.sender == inference.worker) fulfills a request with a SIGNED or
    ///         TEE record.
    /// @dev Checks the request is open and matches, the timestamp window, the worker is active
    ///      (TEE: enclave-bound, measurement allowed and not revoked, proofHash = its
    ///      attestation hash; SIGNED: proofHash = 0), the model's policy and non-revocation,
    ///      and the attribution list. Then the request slot becomes the record's EIP-712
    ///      digest and the request's fee is split: worker cut to the worker's operator and
    ///      owner cut to the model owner (withdrawable balances), the rest to the current
    ///      epoch's pool.
    /// @param request The request as emitted in InferenceRequested.
    /// @param inference The record; inference.requestId names the request.
    /// @param shares The attribution list hashing to inference.attributionHash.
    /// @dev Every fulfill variant takes `sealedResult`: the output sealed to the requester's
    ///      one-time reply key. The contract neither stores nor emits it (it is only calldata,
    ///      read by the requester from the transaction); the signed outputCommitment binds it.
    function fulfill(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        bytes calldata sealedResult
    ) external;

    /// @notice The same, submitted by anyone with the worker's EIP-712 signature of the record.
    function fulfillBySig(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        bytes calldata signature,
        bytes calldata sealedResult
    ) external;

    /// @notice The worker fulfills a request with a ZK record, verified by the model's
    ///         verifier; otherwise as fulfill.
    /// @dev Also checks proofHash == keccak256(proof) and
    ///      outputCommitment == keccak256(abi.encodePacked(instances)).
    function fulfillZk(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        bytes calldata proof,
        uint256[] calldata instances,
        bytes calldata sealedResult
    ) external;

    /// @notice The same, submitted by anyone with the worker's EIP-712 signature of the record.
    function fulfillZkBySig(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        bytes calldata signature,
        bytes calldata proof,
        uint256[] calldata instances,
        bytes calldata sealedResult
    ) external;

    /// @notice The worker (msg.sender) commits a Merkle root over `count` inference leaves
    ///         (StandardMerkleTree, design.md); msg.value is the deposit for the epoch pool.
    /// @dev One storage slot per batch (deposit, committedAt, count), whatever count.
    ///      The worker must be active; the model registered, not revoked, and accepting SIGNED
    ///      records (or TEE records, then the worker's enclave binding must be valid).
    /// @param epoch Must equal currentEpoch().
    /// @param dataURI Where the leaves and their attribution lists are published.
    /// @return batchId keccak256(abi.encode(root, modelId, worker)).
    function commitBatch(
        bytes32 root,
        uint32 count,
        bytes32 modelId,
        uint64 epoch,
        string calldata dataURI
    ) external payable returns (bytes32 batchId);

    /// @notice The same, submitted by anyone with the worker's EIP-712 Batch signature
    ///         (dataUriHash = keccak256(bytes(dataURI)), deposit = msg.value).
    function commitBatchBySig(
        bytes32 root,
        uint32 count,
        bytes32 modelId,
        uint64 epoch,
        string calldata dataURI,
        address worker,
        bytes calldata signature
    ) external payable returns (bytes32 batchId);

    /// @notice True if `inference` is a leaf of the committed batch `batchId`.
    /// @dev The root is rebuilt from the leaf and the proof, then
    ///      keccak256(abi.encode(root, inference.modelId, inference.worker)) must be batchId.
    function verifyInclusion(bytes32 batchId, Inference calldata inference, bytes32[] calldata proof)
        external
        view
        returns (bool);

    // ---------------------------------------------------------------- payments

    /// @notice Sends the caller's whole credited balance to the caller.
    function withdraw() external;

    /// @notice Sends an ended epoch's contributor pool (single-record fees) to the reward
    ///         distributor (anyone).
    function sweepEpoch(uint64 epoch) external;

    /// @notice Sends the deposits of batches committed in ended epochs to the reward
    ///         distributor (anyone), marking each batch swept. Batch deposits stay in their
    ///         batch slot until then, which keeps commitBatch at one storage write.
    function sweepBatches(bytes32[] calldata batchIds) external;

    // ---------------------------------------------------------------- views

    /// @notice Whether the worker, its enclave measurement (TEE records) or the model of a
    ///         single record was revoked, with timestamps. recordedAt = inference.timestamp.
    function recordStatus(bytes32 requestId, Inference calldata inference)
        external
        view
        returns (RecordStatus memory);

    /// @notice The same for a batch (the batch id is computed from root, modelId and worker;
    ///         the measurement is the worker's enclave measurement if bound).
    ///         recordedAt = the commit block's timestamp.
    function batchStatus(bytes32 root, bytes32 modelId, address worker)
        external
        view
        returns (RecordStatus memory);

    /// @notice The batch's commit time, leaf count, deposit and whether the deposit was swept
    ///         (all zero if none).
    function batchInfo(bytes32 batchId)
        external
        view
        returns (uint64 committedAt, uint32 count, uint256 deposit, bool swept);

    /// @notice The raw request slot (see the contract notes for its encoding).
    function requestState(bytes32 requestId) external view returns (bytes32);

    /// @notice The current epoch: (block.timestamp - genesis) / epochLength.
    function currentEpoch() external view returns (uint64);

    /// @notice The unswept contributor pool of an epoch from single records, in wei (batch
    ///         deposits are in batchInfo).
    function epochPool(uint64 epoch) external view returns (uint256);

    /// @notice The credited, withdrawable balance of an account, in wei.
    function balances(address account) external view returns (uint256);

    /// @notice The EIP-712 domain separator (name "Attestia", version "1").
    function domainSeparator() external view returns (bytes32);

    /// @notice The EIP-712 digest of an Inference record.
    function hashInference(Inference calldata inference) external view returns (bytes32);

    /// @notice The EIP-712 digest of a Batch commitment.
    function hashBatch(Batch calldata batch) external view returns (bytes32);

    /// @notice keccak256(abi.encode(request)): the value an open request's slot holds.
    function hashRequest(Request calldata request) external pure returns (bytes32);

    /// @notice The StandardMerkleTree leaf hash of an Inference.
    function leafHash(Inference calldata inference) external pure returns (bytes32);

    /// @notice keccak256(abi.encode(requester, modelId, inputCommitment)).
    function requestIdOf(address requester, bytes32 modelId, bytes32 inputCommitment)
        external
        pure
        returns (bytes32);

    /// @notice keccak256(abi.encode(root, modelId, worker)).
    function batchIdOf(bytes32 root, bytes32 modelId, address worker)
        external
        pure
        returns (bytes32);

    /// @notice Seconds after which a requester may cancel an unfulfilled request.
    function requestTimeout() external view returns (uint64);

    /// @notice Epoch 0 start time.
    function genesis() external view returns (uint64);

    /// @notice Epoch length, in seconds.
    function epochLength() external view returns (uint64);

    /// @notice The ETH RewardDistributor that ended epochs are swept to.
    function rewardDistributor() external view returns (address);
}
