// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Inference, Share, Request, Payout, ZkProof} from "../Common.sol";
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
///
///      Timing of a request created at `createdAt`: its record must be signed by
///      `deadline = createdAt + requestTimeout()` (and lands while within TIMESTAMP_WINDOW of
///      the block time); the requester may cancel from `deadline + TIMESTAMP_WINDOW + 1`, the
///      first second in which no record signed by the deadline can still land.
interface IInferenceRegistry is IModelRegistry, IWorkerRegistry {
    /// @notice A request was paid into escrow. Workers follow this event.
    /// @param requestId requestIdOf(requester, modelId, inputCommitment).
    /// @param modelId The model.
    /// @param worker The worker the payload is encrypted to (the only one that may record it).
    /// @param request The request with the terms it was paid under, exactly as callers pass it
    ///        back (cancelRequest, rejectRequest, fulfill*).
    /// @param payload The input, encrypted to the worker's registered encryption key.
    event InferenceRequested(
        bytes32 indexed requestId,
        bytes32 indexed modelId,
        address indexed worker,
        Request request,
        bytes payload
    );

    /// @notice The requester cancelled an expired request; the fee is credited back.
    /// @param requestId The request.
    /// @param requester Who is refunded.
    /// @param refund The fee credited back, in wei.
    event RequestCancelled(bytes32 indexed requestId, address indexed requester, uint256 refund);

    /// @notice The named worker rejected a request; the fee is credited back to the requester.
    /// @param requestId The request.
    /// @param rejectedBy The worker key or its operator.
    /// @param refund The fee credited back, in wei.
    /// @param reason Why (free text).
    event RequestRejected(
        bytes32 indexed requestId, address indexed rejectedBy, uint256 refund, string reason
    );

    /// @notice A request was fulfilled with a record.
    /// @param requestId The request.
    /// @param modelId The model.
    /// @param worker The worker key that signed the record.
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
    /// @param modelId The model of every leaf.
    /// @param worker The worker key of every leaf.
    /// @param root The StandardMerkleTree root over the leaves.
    /// @param count The number of leaves (settlement checks the file holds exactly this many).
    /// @param epoch The epoch the batch (and its deposit) belongs to.
    /// @param deposit Fees of the batch's (off-chain paid) inferences for the contributors of
    ///        `epoch`; held in the batch slot until sweepBatches.
    /// @param dataURI Where the batch's leaves and attribution lists are published.
    /// @param dataHash The content hash of the published batch file: settlement refuses a file
    ///        that does not match it.
    event BatchCommitted(
        bytes32 indexed batchId,
        bytes32 indexed modelId,
        address indexed worker,
        bytes32 root,
        uint32 count,
        uint64 epoch,
        uint256 deposit,
        string dataURI,
        bytes32 dataHash
    );

    /// @notice An account withdrew its credited balance.
    /// @param account Who.
    /// @param amount Wei sent.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice An ended epoch's contributor pool was sent to the reward distributor.
    /// @param epoch The epoch.
    /// @param amount Wei sent.
    event EpochSwept(uint64 indexed epoch, uint256 amount);

    /// @notice A batch's deposit (for the contributors of `epoch`) was sent to the reward
    ///         distributor.
    /// @param batchId The batch.
    /// @param epoch Its epoch.
    /// @param deposit Wei sent.
    event BatchSwept(bytes32 indexed batchId, uint64 indexed epoch, uint256 deposit);

    /// @notice The request is not open (never made, already recorded, cancelled or rejected),
    ///         or the Request struct passed does not hash to the stored value.
    /// @param requestId The request.
    error RequestNotOpen(bytes32 requestId);
    /// @notice This record was already made (replay).
    /// @param digest The record's EIP-712 digest.
    error AlreadyRecorded(bytes32 digest);
    /// @notice The record's modelId or inputCommitment differs from the request's.
    /// @param requestId The request.
    error RequestMismatch(bytes32 requestId);
    /// @notice The record's worker is not the worker the request names.
    /// @param expected The named worker.
    /// @param actual The record's worker.
    error WorkerMismatch(address expected, address actual);
    /// @notice The request cannot be cancelled yet.
    /// @param cancellableAt createdAt + requestTimeout + TIMESTAMP_WINDOW + 1.
    error RequestNotExpired(uint64 cancellableAt);
    /// @notice The record was signed after the request's deadline.
    /// @param deadline createdAt + requestTimeout.
    error RequestExpired(uint64 deadline);
    /// @notice A request must name its worker (address(0) is refused): a request any worker
    ///         could take would let a worker that cannot read the input capture it with junk,
    ///         or copy the named worker's pending record (design.md "Requests name their worker").
    error WorkerRequired();
    /// @notice The model's terms (fee, policy, split, ZK verifier) changed since the requester
    ///         read them: the request is not stored and nothing is paid.
    /// @param expected The requester's termsHash.
    /// @param actual termsHashOf(the model's terms now).
    error TermsChanged(bytes32 expected, bytes32 actual);
    /// @notice The record's timestamp is before the request or too far from the block time.
    /// @param timestamp The record's timestamp.
    error TimestampOutOfWindow(uint64 timestamp);
    /// @notice The policy the request was paid under (batches: the model's policy) does not
    ///         accept this proof kind.
    /// @param proofKind The record's proof kind.
    error ProofKindNotAllowed(uint8 proofKind);
    /// @notice proofHash is not what the proof kind requires (SIGNED: 0; TEE: the worker's
    ///         attestation hash; ZK: keccak256(proof)).
    /// @param expected What it must be.
    /// @param actual The record's proofHash.
    error ProofHashMismatch(bytes32 expected, bytes32 actual);
    /// @notice A ZK record must go through fulfillZk / fulfillZkBySig.
    error ZkProofRequired();
    /// @notice fulfillZk was called with a non-ZK record.
    /// @param proofKind The record's proof kind.
    error NotZkRecord(uint8 proofKind);
    /// @notice outputCommitment != keccak256(abi.encodePacked(instances)).
    /// @param expected keccak256(abi.encodePacked(instances)).
    /// @param actual The record's outputCommitment.
    error OutputCommitmentMismatch(bytes32 expected, bytes32 actual);
    /// @notice The proof's first public instance is not the request's zkInputHash (or the
    ///         request committed none: expected == 0, no ZK record can fulfill it).
    /// @param expected The request's zkInputHash.
    /// @param actual bytes32(instances[0]) (0 if there is no instance).
    error ZkInputMismatch(bytes32 expected, bytes32 actual);
    /// @notice This ZK proof already fulfilled a request.
    /// @param proofHash keccak256(proof).
    error ProofAlreadyUsed(bytes32 proofHash);
    /// @notice The model had no ZK verifier set when the request was paid.
    /// @param modelId The model.
    error VerifierNotSet(bytes32 modelId);
    /// @notice The request's verifier (the model's when it was paid) rejected the proof
    ///         (returned false or reverted).
    error ZkProofInvalid();
    /// @notice keccak256(sealedResult) != inference.resultHash.
    /// @param expected The record's resultHash.
    /// @param actual keccak256(sealedResult).
    error ResultHashMismatch(bytes32 expected, bytes32 actual);
    /// @notice keccak256(abi.encode(shares)) != attributionHash.
    /// @param expected The record's attributionHash.
    /// @param actual keccak256(abi.encode(shares)).
    error AttributionHashMismatch(bytes32 expected, bytes32 actual);
    /// @notice The roster passed is not the model's registered roster.
    /// @param expected The model's contributorsHash.
    /// @param actual keccak256(abi.encodePacked(roster)).
    error RosterMismatch(bytes32 expected, bytes32 actual);
    /// @notice An attribution entry names an account outside the model's roster.
    /// @param account The account.
    error NotAContributor(address account);
    /// @notice The attribution list is not strictly sorted by account, or has a zero address.
    /// @param index The first entry out of order.
    error SharesNotSorted(uint256 index);
    /// @notice An attribution entry has zero bps.
    /// @param index The entry.
    error ZeroShare(uint256 index);
    /// @notice The attribution list does not sum to 10,000 bps.
    /// @param sum Its sum.
    error SharesSumInvalid(uint256 sum);
    /// @notice A batch must hold at least one leaf.
    error EmptyBatch();
    /// @notice The batch's epoch is not the current epoch.
    /// @param expected currentEpoch().
    /// @param actual The epoch given.
    error EpochMismatch(uint64 expected, uint64 actual);
    /// @notice The epoch has not ended yet.
    /// @param epoch The epoch.
    error EpochNotEnded(uint64 epoch);
    /// @notice The epoch pool is empty (or already swept).
    /// @param epoch The epoch.
    error NothingToSweep(uint64 epoch);
    /// @notice The listed batches hold no deposit.
    error NothingToSweepBatches();
    /// @notice No batch is committed under this id.
    /// @param batchId The id.
    error BatchNotFound(bytes32 batchId);
    /// @notice The batch's deposit was already swept.
    /// @param batchId The batch.
    error BatchAlreadySwept(bytes32 batchId);
    /// @notice The reward distributor is not an ETH distributor.
    /// @param distributor The address given.
    error InvalidDistributor(address distributor);
    /// @notice Epoch length must be non-zero and genesis not in the future.
    error InvalidEpochConfig();

    // ---------------------------------------------------------------- requests

    /// @notice Requests an inference, paying exactly the model's fee into escrow.
    /// @dev requestId = keccak256(abi.encode(msg.sender, modelId, inputCommitment)); the
    ///      commitment is salted, so a repeat reverts with AlreadyExists. The model must be
    ///      registered, not deprecated and not revoked; the named worker must be active. The
    ///      model's fee, split (workerBps, ownerBps), policy and ZK verifier now must hash to
    ///      termsHash (TermsChanged otherwise: an owner's setTerms or setVerifier mined first
    ///      cannot re-price a pending request); they are stored with the request (in its hash)
    ///      and govern its record, whatever the owner changes later.
    /// @param modelId The model.
    /// @param worker The worker whose encryption key the payload is encrypted to: the only one
    ///        that may record or reject the request (address(0): WorkerRequired).
    /// @param inputCommitment keccak256(salt || canonical input bytes).
    /// @param zkInputHash For a ZK record: the value its first public instance must hold (EZKL
    ///        "hashed" input visibility: the Poseidon hash of the quantized input). 0 if the
    ///        request is not to be served by a ZK record.
    /// @param termsHash termsHashOf(fee, policy, workerBps, ownerBps, verifier) of the terms the
    ///        requester read (Common.sol).
    /// @param payload The input encrypted to the worker's key; only emitted.
    /// @return requestId The id of the new request.
    function requestInference(
        bytes32 modelId,
        address worker,
        bytes32 inputCommitment,
        bytes32 zkInputHash,
        bytes32 termsHash,
        bytes calldata payload
    ) external payable returns (bytes32 requestId);

    /// @notice Cancels an unfulfilled request (requester only) from
    ///         createdAt + requestTimeout() + TIMESTAMP_WINDOW + 1, and credits the fee back
    ///         to the requester's balance.
    /// @param request The request as emitted in InferenceRequested.
    function cancelRequest(Request calldata request) external;

    /// @notice The named worker refuses a request: the fee is credited back to the requester.
    /// @dev Only the named worker key or its operator (Unauthorized otherwise).
    /// @param request The request as emitted in InferenceRequested.
    /// @param reason Why (emitted).
    function rejectRequest(Request calldata request, string calldata reason) external;

    // ---------------------------------------------------------------- records

    /// @notice The worker (msg.sender == inference.worker) fulfills a request with a SIGNED or
    ///         TEE record.
    /// @dev Checks: keccak256(sealedResult) == resultHash; the request is open and matches;
    ///      the record was signed between createdAt and createdAt + requestTimeout and within
    ///      TIMESTAMP_WINDOW of the block time; the worker is active (TEE: enclave-bound,
    ///      measurement allowed and not revoked, proofHash = its attestation hash; SIGNED:
    ///      proofHash = 0); the model is not revoked and the request's policy accepts the kind;
    ///      `roster` is the model's registered roster and the attribution list is valid with
    ///      every account in it. Then the request slot becomes the record's EIP-712 digest and
    ///      the request's fee is split by the request's bps: worker cut to the worker's operator
    ///      and owner cut to the model owner (withdrawable balances), the rest to the current
    ///      epoch's pool.
    /// @param request The request as emitted in InferenceRequested.
    /// @param inference The record; inference.requestId names the request.
    /// @param shares The attribution list hashing to inference.attributionHash.
    /// @param roster The model's contributor roster as registered (ModelRegistered).
    /// @param sealedResult The output sealed to the requester's one-time reply key. Not stored
    ///        or emitted (the requester reads it from the transaction); the worker's signature
    ///        covers it through resultHash, so nobody can swap it.
    function fulfill(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        address[] calldata roster,
        bytes calldata sealedResult
    ) external;

    /// @notice The same, submitted by anyone with the worker's EIP-712 signature of the record.
    /// @param request The request as emitted in InferenceRequested.
    /// @param inference The record.
    /// @param shares The attribution list.
    /// @param roster The model's contributor roster as registered.
    /// @param signature The worker's 65-byte signature of hashInference(inference).
    /// @param sealedResult The sealed output (keccak256 == inference.resultHash).
    function fulfillBySig(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        address[] calldata roster,
        bytes calldata signature,
        bytes calldata sealedResult
    ) external;

    /// @notice The worker fulfills a request with a ZK record, verified by the model's
    ///         verifier; otherwise as fulfill.
    /// @dev Also checks proofHash == keccak256(proof) and that proof was never used before,
    ///      outputCommitment == keccak256(abi.encodePacked(instances)), and
    ///      bytes32(instances[0]) == request.zkInputHash != 0. The proof is then marked used.
    /// @param request The request as emitted in InferenceRequested.
    /// @param inference The record (proofKind ZK).
    /// @param shares The attribution list.
    /// @param roster The model's contributor roster as registered.
    /// @param zk The EZKL proof bytes and all its public instances (the input binding first,
    ///        then the outputs).
    /// @param sealedResult The sealed output (keccak256 == inference.resultHash).
    function fulfillZk(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        address[] calldata roster,
        ZkProof calldata zk,
        bytes calldata sealedResult
    ) external;

    /// @notice fulfillZk submitted by anyone with the worker's EIP-712 signature of the record.
    /// @param request The request as emitted in InferenceRequested.
    /// @param inference The record (proofKind ZK).
    /// @param shares The attribution list.
    /// @param roster The model's contributor roster as registered.
    /// @param signature The worker's 65-byte signature of hashInference(inference).
    /// @param zk The EZKL proof and its public instances.
    /// @param sealedResult The sealed output (keccak256 == inference.resultHash).
    function fulfillZkBySig(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        address[] calldata roster,
        bytes calldata signature,
        ZkProof calldata zk,
        bytes calldata sealedResult
    ) external;

    /// @notice The worker (msg.sender) commits a Merkle root over `count` inference leaves
    ///         (StandardMerkleTree, design.md; leaves have resultHash 0); msg.value is the
    ///         deposit for the epoch pool.
    /// @dev One storage slot per batch (deposit, committedAt, count), whatever count.
    ///      The worker must be active; the model registered, not revoked, and accepting SIGNED
    ///      records (or TEE records, then the worker's enclave binding must be valid).
    /// @param root The tree's root.
    /// @param count The number of leaves.
    /// @param modelId The model of every leaf.
    /// @param epoch Must equal currentEpoch().
    /// @param dataURI Where the leaves and their attribution lists are published.
    /// @param dataHash The content hash of the published file (emitted; settlement checks it).
    /// @return batchId keccak256(abi.encode(root, modelId, worker)).
    function commitBatch(
        bytes32 root,
        uint32 count,
        bytes32 modelId,
        uint64 epoch,
        string calldata dataURI,
        bytes32 dataHash
    ) external payable returns (bytes32 batchId);

    /// @notice The same, submitted by anyone with the worker's EIP-712 Batch signature
    ///         (dataUriHash = keccak256(bytes(dataURI)), deposit = msg.value).
    /// @param root The tree's root.
    /// @param count The number of leaves.
    /// @param modelId The model of every leaf.
    /// @param epoch Must equal currentEpoch().
    /// @param dataURI Where the leaves are published.
    /// @param dataHash The content hash of the published file.
    /// @param worker The worker key that signed the Batch.
    /// @param signature Its 65-byte signature of hashBatch(batch).
    /// @return batchId keccak256(abi.encode(root, modelId, worker)).
    function commitBatchBySig(
        bytes32 root,
        uint32 count,
        bytes32 modelId,
        uint64 epoch,
        string calldata dataURI,
        bytes32 dataHash,
        address worker,
        bytes calldata signature
    ) external payable returns (bytes32 batchId);

    // ---------------------------------------------------------------- payments

    /// @notice Sends the caller's whole credited balance to the caller.
    function withdraw() external;

    /// @notice Sends an ended epoch's contributor pool (single-record fees) to the reward
    ///         distributor (anyone).
    /// @param epoch The epoch.
    function sweepEpoch(uint64 epoch) external;

    /// @notice Sends the deposits of batches committed in ended epochs to the reward
    ///         distributor (anyone), marking each batch swept. Batch deposits stay in their
    ///         batch slot until then, which keeps commitBatch at one storage write.
    /// @param batchIds The batches (from BatchCommitted events).
    function sweepBatches(bytes32[] calldata batchIds) external;

    // ---------------------------------------------------------------- views


    /// @notice The raw request slot (see the contract notes for its encoding).
    /// @param requestId The request.
    /// @return The slot's value.
    function requestState(bytes32 requestId) external view returns (bytes32);


    /// @notice The current epoch: (block.timestamp - genesis) / epochLength.
    /// @return The epoch.
    function currentEpoch() external view returns (uint64);


    /// @notice The credited, withdrawable balance of an account, in wei.
    /// @param account The account.
    /// @return Wei.
    function balances(address account) external view returns (uint256);

    /// @notice One word of the registry's storage, for contracts that need a single field of a
    ///         model or worker without a cross-contract struct copy (the Slasher; slots in
    ///         Common.sol "registry storage").
    /// @param slot The storage slot.
    /// @return value The word stored there.
    function extsload(bytes32 slot) external view returns (bytes32 value);


    /// @notice The EIP-712 digest of an Inference record.
    /// @param inference The record.
    /// @return The digest.
    function hashInference(Inference calldata inference) external view returns (bytes32);




    /// @notice Seconds after a request by which its record must be signed.
    /// @return Seconds.
    function requestTimeout() external view returns (uint64);

    /// @notice Epoch 0 start time.
    /// @return Unix seconds.
    function genesis() external view returns (uint64);

    /// @notice Epoch length, in seconds.
    /// @return Seconds.
    function epochLength() external view returns (uint64);

    /// @notice The ETH RewardDistributor that ended epochs are swept to.
    /// @return The distributor.
    function rewardDistributor() external view returns (address);
}
