// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IInferenceRegistry} from "./interfaces/IInferenceRegistry.sol";
import {IRewardDistributor} from "./interfaces/IRewardDistributor.sol";
import {IZkVerifier} from "./interfaces/IZkVerifier.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {WorkerRegistry} from "./WorkerRegistry.sol";
import {
    Inference,
    Share,
    Request,
    Batch,
    Payout,
    Model,
    Worker,
    RecordStatus,
    BPS,
    PROOF_SIGNED,
    PROOF_TEE,
    PROOF_ZK,
    TIMESTAMP_WINDOW,
    REQUEST_CANCELLED,
    REQUEST_REJECTED,
    AlreadyExists,
    Unauthorized,
    ZeroAddress,
    InvalidSignature,
    IncorrectPayment,
    NothingToWithdraw
} from "./Common.sol";

/// @title InferenceRegistry
/// @notice Requests, records, batches, fee split and epoch pools of Attestia; models and
///         workers are inherited so that the hot paths read their slots directly.
/// @dev Storage per item is one slot: a request slot (request hash, then the record's EIP-712
///      digest or a sentinel), a batch slot (deposit, committedAt, count, swept flag).
///      Everything else a consumer needs is in the events.
contract InferenceRegistry is IInferenceRegistry, ModelRegistry, WorkerRegistry, EIP712 {
    bytes32 private constant INFERENCE_TYPEHASH = keccak256(
        "Inference(bytes32 requestId,bytes32 modelId,bytes32 inputCommitment,bytes32 outputCommitment,bytes32 attributionHash,uint8 proofKind,bytes32 proofHash,address worker,uint64 timestamp)"
    );
    bytes32 private constant BATCH_TYPEHASH = keccak256(
        "Batch(bytes32 root,uint32 count,bytes32 modelId,uint64 epoch,bytes32 dataUriHash,address worker,uint256 deposit)"
    );

    uint256 private constant BATCH_TIME_SHIFT = 32;
    uint256 private constant BATCH_DEPOSIT_SHIFT = 96;
    uint256 private constant BATCH_SWEPT = 1 << 255;

    /// @inheritdoc IInferenceRegistry
    uint64 public immutable requestTimeout;
    /// @inheritdoc IInferenceRegistry
    uint64 public immutable genesis;
    /// @inheritdoc IInferenceRegistry
    uint64 public immutable epochLength;
    /// @inheritdoc IInferenceRegistry
    address public immutable rewardDistributor;

    /// @inheritdoc IInferenceRegistry
    mapping(address account => uint256) public balances;

    mapping(bytes32 requestId => bytes32) private _requests;
    /// @dev batchId -> swept << 255 | deposit << 96 | committedAt << 32 | count.
    mapping(bytes32 batchId => uint256) private _batches;
    mapping(uint64 epoch => uint256) private _epochPools;

    /// @param admin Gets DEFAULT_ADMIN_ROLE and GOVERNANCE_ROLE.
    /// @param distributor The ETH RewardDistributor ended epochs are swept to.
    /// @param minStake_ Minimum worker stake, in wei.
    /// @param unbondingDelay_ Seconds between beginUnbonding and withdrawStake.
    /// @param requestTimeout_ Seconds after which a requester may cancel a request.
    /// @param genesis_ Start of epoch 0 (unix seconds, not in the future; 0 aligns to UTC).
    /// @param epochLength_ Epoch length in seconds (non-zero).
    constructor(
        address admin,
        address distributor,
        uint256 minStake_,
        uint64 unbondingDelay_,
        uint64 requestTimeout_,
        uint64 genesis_,
        uint64 epochLength_
    ) EIP712("Attestia", "1") WorkerRegistry(minStake_, unbondingDelay_) {
        if (admin == address(0) || distributor == address(0)) revert ZeroAddress();
        if (IRewardDistributor(distributor).asset() != address(0)) {
            revert InvalidDistributor(distributor);
        }
        if (epochLength_ == 0 || genesis_ > block.timestamp) revert InvalidEpochConfig();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNANCE_ROLE, admin);
        rewardDistributor = distributor;
        requestTimeout = requestTimeout_;
        genesis = genesis_;
        epochLength = epochLength_;
    }

    // ------------------------------------------------------------------ requests

    /// @inheritdoc IInferenceRegistry
    function requestInference(
        bytes32 modelId,
        address worker,
        bytes32 inputCommitment,
        bytes calldata payload
    ) external payable returns (bytes32 requestId) {
        Model storage model = _models[modelId];
        if (model.owner == address(0)) revert ModelNotFound(modelId);
        if (model.deprecated || model.revokedAt != 0) revert ModelNotActive(modelId);
        uint256 fee = model.fee;
        if (msg.value != fee) revert IncorrectPayment(fee, msg.value);
        if (worker != address(0)) _activeWorker(worker);

        requestId = keccak256(abi.encode(msg.sender, modelId, inputCommitment));
        if (_requests[requestId] != bytes32(0)) revert AlreadyExists();
        uint64 createdAt = uint64(block.timestamp);
        _requests[requestId] = keccak256(
            abi.encode(msg.sender, modelId, worker, fee, createdAt, inputCommitment)
        );
        emit InferenceRequested(
            requestId, modelId, worker, msg.sender, fee, createdAt, inputCommitment, payload
        );
    }

    /// @inheritdoc IInferenceRegistry
    function cancelRequest(Request calldata request) external {
        bytes32 requestId = _openRequest(request);
        if (msg.sender != request.requester) revert Unauthorized();
        uint64 expiresAt = request.createdAt + requestTimeout;
        if (block.timestamp < expiresAt) revert RequestNotExpired(expiresAt);

        _requests[requestId] = REQUEST_CANCELLED;
        balances[request.requester] += request.fee;
        emit RequestCancelled(requestId, request.requester, request.fee);
    }

    /// @inheritdoc IInferenceRegistry
    function rejectRequest(Request calldata request, string calldata reason) external {
        bytes32 requestId = _openRequest(request);
        address named = request.worker;
        if (named != address(0)) {
            if (msg.sender != named && msg.sender != _workers[named].operator) {
                revert Unauthorized();
            }
        } else if (!isActiveWorker(msg.sender)) {
            revert Unauthorized();
        }

        _requests[requestId] = REQUEST_REJECTED;
        balances[request.requester] += request.fee;
        emit RequestRejected(requestId, msg.sender, request.fee, reason);
    }

    // ------------------------------------------------------------------ records

    /// @inheritdoc IInferenceRegistry
    function fulfill(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        bytes calldata /* sealedResult: for the requester, see IInferenceRegistry */
    )
        external
    {
        _requireSender(inference.worker);
        _fulfill(request, inference, shares, hashInference(inference));
    }

    /// @inheritdoc IInferenceRegistry
    function fulfillBySig(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        bytes calldata signature,
        bytes calldata /* sealedResult: for the requester, see IInferenceRegistry */
    ) external {
        bytes32 digest = hashInference(inference);
        _checkSignature(digest, signature, inference.worker);
        _fulfill(request, inference, shares, digest);
    }

    /// @inheritdoc IInferenceRegistry
    function fulfillZk(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        bytes calldata proof,
        uint256[] calldata instances,
        bytes calldata /* sealedResult: for the requester, see IInferenceRegistry */
    ) external {
        _requireSender(inference.worker);
        _checkZkProof(inference, proof, instances);
        _record(request, inference, shares, hashInference(inference));
    }

    /// @inheritdoc IInferenceRegistry
    function fulfillZkBySig(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        bytes calldata signature,
        bytes calldata proof,
        uint256[] calldata instances,
        bytes calldata /* sealedResult: for the requester, see IInferenceRegistry */
    ) external {
        bytes32 digest = hashInference(inference);
        _checkSignature(digest, signature, inference.worker);
        _checkZkProof(inference, proof, instances);
        _record(request, inference, shares, digest);
    }

    /// @inheritdoc IInferenceRegistry
    function commitBatch(
        bytes32 root,
        uint32 count,
        bytes32 modelId,
        uint64 epoch,
        string calldata dataURI
    ) external payable returns (bytes32 batchId) {
        return _commitBatch(root, count, modelId, epoch, dataURI, msg.sender);
    }

    /// @inheritdoc IInferenceRegistry
    function commitBatchBySig(
        bytes32 root,
        uint32 count,
        bytes32 modelId,
        uint64 epoch,
        string calldata dataURI,
        address worker,
        bytes calldata signature
    ) external payable returns (bytes32 batchId) {
        bytes32 digest =
            _batchDigest(root, count, modelId, epoch, keccak256(bytes(dataURI)), worker);
        _checkSignature(digest, signature, worker);
        return _commitBatch(root, count, modelId, epoch, dataURI, worker);
    }

    /// @inheritdoc IInferenceRegistry
    function verifyInclusion(bytes32 batchId, Inference calldata inference, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 root = MerkleProof.processProofCalldata(proof, leafHash(inference));
        return _batches[batchId] != 0 && batchIdOf(root, inference.modelId, inference.worker) == batchId;
    }

    // ------------------------------------------------------------------ payments

    /// @inheritdoc IInferenceRegistry
    function sweepBatches(bytes32[] calldata batchIds) external nonReentrant {
        uint256 total;
        uint64 current = currentEpoch();
        for (uint256 i; i < batchIds.length; ++i) {
            bytes32 batchId = batchIds[i];
            uint256 packed = _batches[batchId];
            if (packed == 0) revert BatchNotFound(batchId);
            if (packed & BATCH_SWEPT != 0) revert BatchAlreadySwept(batchId);
            uint64 epoch = _epochAt(uint64(packed >> BATCH_TIME_SHIFT));
            if (epoch >= current) revert EpochNotEnded(epoch);
            uint256 deposit = uint128(packed >> BATCH_DEPOSIT_SHIFT);
            _batches[batchId] = packed | BATCH_SWEPT;
            total += deposit;
            emit BatchSwept(batchId, epoch, deposit);
        }
        if (total == 0) revert NothingToSweepBatches();
        IRewardDistributor(rewardDistributor).fund{value: total}(total);
    }

    /// @inheritdoc IInferenceRegistry
    function withdraw() external nonReentrant {
        uint256 amount = balances[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        balances[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @inheritdoc IInferenceRegistry
    function sweepEpoch(uint64 epoch) external nonReentrant {
        if (epoch >= currentEpoch()) revert EpochNotEnded(epoch);
        uint256 amount = _epochPools[epoch];
        if (amount == 0) revert NothingToSweep(epoch);
        _epochPools[epoch] = 0;
        emit EpochSwept(epoch, amount);
        IRewardDistributor(rewardDistributor).fund{value: amount}(amount);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IInferenceRegistry
    function recordStatus(bytes32 requestId, Inference calldata inference)
        external
        view
        returns (RecordStatus memory status)
    {
        status.exists =
            inference.requestId == requestId && _requests[requestId] == hashInference(inference);
        status.recordedAt = inference.timestamp;
        // A single record was accepted only while worker, model and measurement were
        // unrevoked, so every revocation reported now came after it.
        _fillRevocations(
            status, inference.modelId, inference.worker, inference.proofKind == PROOF_TEE, 0
        );
    }

    /// @inheritdoc IInferenceRegistry
    function batchStatus(bytes32 root, bytes32 modelId, address worker)
        external
        view
        returns (RecordStatus memory status)
    {
        uint256 packed = _batches[batchIdOf(root, modelId, worker)];
        status.exists = packed != 0;
        status.recordedAt = uint64(packed >> BATCH_TIME_SHIFT);
        _fillRevocations(status, modelId, worker, true, status.recordedAt);
    }

    /// @inheritdoc IInferenceRegistry
    function batchInfo(bytes32 batchId)
        external
        view
        returns (uint64 committedAt, uint32 count, uint256 deposit, bool swept)
    {
        uint256 packed = _batches[batchId];
        return (
            uint64(packed >> BATCH_TIME_SHIFT),
            uint32(packed),
            uint128(packed >> BATCH_DEPOSIT_SHIFT),
            packed & BATCH_SWEPT != 0
        );
    }

    /// @inheritdoc IInferenceRegistry
    function requestState(bytes32 requestId) external view returns (bytes32) {
        return _requests[requestId];
    }

    /// @inheritdoc IInferenceRegistry
    function currentEpoch() public view returns (uint64) {
        return _epochAt(uint64(block.timestamp));
    }

    /// @inheritdoc IInferenceRegistry
    function epochPool(uint64 epoch) external view returns (uint256) {
        return _epochPools[epoch];
    }

    /// @inheritdoc IInferenceRegistry
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IInferenceRegistry
    function hashInference(Inference calldata inference) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(INFERENCE_TYPEHASH, inference)));
    }

    /// @inheritdoc IInferenceRegistry
    function hashBatch(Batch calldata batch) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(BATCH_TYPEHASH, batch)));
    }

    /// @inheritdoc IInferenceRegistry
    function hashRequest(Request calldata request) public pure returns (bytes32) {
        return keccak256(abi.encode(request));
    }

    /// @inheritdoc IInferenceRegistry
    function leafHash(Inference calldata inference) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(inference))));
    }

    /// @inheritdoc IInferenceRegistry
    function requestIdOf(address requester, bytes32 modelId, bytes32 inputCommitment)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(requester, modelId, inputCommitment));
    }

    /// @inheritdoc IInferenceRegistry
    function batchIdOf(bytes32 root, bytes32 modelId, address worker)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(root, modelId, worker));
    }

    // ------------------------------------------------------------------ internals

    ///      replay reverts), the fee is split. Shared by fulfill and fulfillZk.
    /// @dev SIGNED and TEE records; ZK records must carry their proof.
    function _fulfill(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        bytes32 digest
    ) private {
        if (inference.proofKind == PROOF_ZK) revert ZkProofRequired();
        _record(request, inference, shares, digest);
    }

    /// @dev Checks a single record (its signer is already authenticated) and applies it: the
    ///      request slot becomes the EIP-712 digest, so a replay reverts; the fee is split.
    function _record(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        bytes32 digest
    ) private {
        _checkRecord(request, inference, shares, digest);
        _requests[inference.requestId] = digest;
        Payout memory payout = _splitFee(request.fee, inference);
        emit InferenceRecorded(
            inference.requestId, inference.modelId, inference.worker, inference, shares, digest, payout
        );
    }

    /// @dev Every check of a single record but the signer's (digest = its EIP-712 digest).
    function _checkRecord(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        bytes32 digest
    ) private view {
        bytes32 state = _requests[inference.requestId];
        if (state != hashRequest(request)) {
            if (state == digest) revert AlreadyRecorded(digest);
            revert RequestNotOpen(inference.requestId);
        }
        _checkMatchesRequest(request, inference);
        Worker storage worker = _activeWorker(inference.worker);
        _checkProof(_recordablePolicy(inference.modelId), inference, worker);
        _checkShares(shares, inference.attributionHash);
    }

    /// @dev proofHash == keccak256(proof), outputCommitment == keccak256(instances), and the
    ///      model's verifier accepts the proof. Runs before any state change.
    function _checkZkProof(
        Inference calldata inference,
        bytes calldata proof,
        uint256[] calldata instances
    ) private view {
        if (inference.proofKind != PROOF_ZK) revert NotZkRecord(inference.proofKind);
        bytes32 proofHash = keccak256(proof);
        if (inference.proofHash != proofHash) {
            revert ProofHashMismatch(proofHash, inference.proofHash);
        }
        bytes32 outputCommitment = keccak256(abi.encodePacked(instances));
        if (inference.outputCommitment != outputCommitment) {
            revert OutputCommitmentMismatch(outputCommitment, inference.outputCommitment);
        }
        address verifier = _models[inference.modelId].verifier;
        if (verifier == address(0)) revert VerifierNotSet(inference.modelId);
        // STATICCALL (IZkVerifier.verifyProof is view): the verifier cannot re-enter.
        bool valid;
        try IZkVerifier(verifier).verifyProof(proof, instances) returns (bool ok) {
            valid = ok;
        } catch {}
        if (!valid) revert ZkProofInvalid();
    }

    /// @dev Credits the worker's operator and the model owner, adds the rest to the current
    ///      epoch's pool (design.md: no dust lost).
    function _splitFee(uint256 fee, Inference calldata inference)
        private
        returns (Payout memory payout)
    {
        Model storage model = _models[inference.modelId];
        payout.epoch = currentEpoch();
        payout.workerCut = fee * model.workerBps / BPS;
        payout.ownerCut = fee * model.ownerBps / BPS;
        payout.contributorCut = fee - payout.workerCut - payout.ownerCut;
        if (payout.workerCut != 0) {
            balances[_workers[inference.worker].operator] += payout.workerCut;
        }
        if (payout.ownerCut != 0) balances[model.owner] += payout.ownerCut;
        if (payout.contributorCut != 0) _epochPools[payout.epoch] += payout.contributorCut;
    }

    /// @dev One new slot and nothing else: the deposit stays in the batch slot until
    ///      sweepBatches (an epoch-pool write would cost 5,000 gas more). The worker is already
    ///      authenticated.
    function _commitBatch(
        bytes32 root,
        uint32 count,
        bytes32 modelId,
        uint64 epoch,
        string calldata dataURI,
        address worker
    ) private returns (bytes32 batchId) {
        if (count == 0) revert EmptyBatch();
        uint64 current = currentEpoch();
        if (epoch != current) revert EpochMismatch(current, epoch);
        _checkBatchWorker(modelId, worker);
        batchId = keccak256(abi.encode(root, modelId, worker));
        if (_batches[batchId] != 0) revert AlreadyExists();
        _batches[batchId] = (uint256(SafeCast.toUint128(msg.value)) << BATCH_DEPOSIT_SHIFT)
            | (block.timestamp << BATCH_TIME_SHIFT) | count;
        emit BatchCommitted(batchId, modelId, worker, root, count, epoch, msg.value, dataURI);
    }

    function _epochAt(uint64 timestamp) private view returns (uint64) {
        return (timestamp - genesis) / epochLength;
    }

    function _requireSender(address worker) private view {
        if (msg.sender != worker) revert Unauthorized();
    }

    /// @dev Batch leaves are worker-signed: the model (registered, not revoked) must accept
    ///      SIGNED records, or TEE records from an enclave-bound key; the worker must be active.
    function _checkBatchWorker(bytes32 modelId, address worker) private view {
        uint8 policy = _recordablePolicy(modelId);
        Worker storage signer = _activeWorker(worker);
        if (policy & (1 << PROOF_SIGNED) == 0) {
            if (policy & (1 << PROOF_TEE) == 0) revert ProofKindNotAllowed(PROOF_SIGNED);
            _activeEnclave(worker, signer);
        }
    }

    function _batchDigest(
        bytes32 root,
        uint32 count,
        bytes32 modelId,
        uint64 epoch,
        bytes32 dataUriHash,
        address worker
    ) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(BATCH_TYPEHASH, root, count, modelId, epoch, dataUriHash, worker, msg.value)
            )
        );
    }

    /// @dev The request slot holds this request's hash; returns its id.
    function _openRequest(Request calldata request) private view returns (bytes32 requestId) {
        requestId = requestIdOf(request.requester, request.modelId, request.inputCommitment);
        if (_requests[requestId] != hashRequest(request)) revert RequestNotOpen(requestId);
    }

    function _checkMatchesRequest(Request calldata request, Inference calldata inference)
        private
        view
    {
        if (
            inference.modelId != request.modelId
                || inference.inputCommitment != request.inputCommitment
        ) revert RequestMismatch(inference.requestId);
        address named = request.worker;
        if (named != address(0) && named != inference.worker) {
            revert WorkerMismatch(named, inference.worker);
        }
        uint64 timestamp = inference.timestamp;
        // Sums in uint256: a timestamp near type(uint64).max must revert with our error, not
        // with an arithmetic panic.
        if (
            timestamp < request.createdAt
                || uint256(timestamp) + TIMESTAMP_WINDOW < block.timestamp
                || timestamp > block.timestamp + TIMESTAMP_WINDOW
        ) revert TimestampOutOfWindow(timestamp);
    }

    /// @dev The model accepts the proof kind, and proofHash is what the kind requires. ZK
    ///      proofs themselves are checked in fulfillZk.
    function _checkProof(uint8 policy, Inference calldata inference, Worker storage worker)
        private
        view
    {
        uint8 kind = inference.proofKind;
        if (kind > PROOF_ZK || policy & (1 << kind) == 0) revert ProofKindNotAllowed(kind);
        if (kind == PROOF_SIGNED) {
            if (inference.proofHash != bytes32(0)) {
                revert ProofHashMismatch(bytes32(0), inference.proofHash);
            }
        } else if (kind == PROOF_TEE) {
            bytes32 attestationHash = _activeEnclave(inference.worker, worker);
            if (inference.proofHash != attestationHash) {
                revert ProofHashMismatch(attestationHash, inference.proofHash);
            }
        }
    }

    /// @dev Sorted by strictly ascending account (so no duplicates, no address(0)), no zero
    ///      bps, sum exactly BPS, and hashing to the signed attributionHash.
    function _checkShares(Share[] calldata shares, bytes32 attributionHash) private pure {
        bytes32 actual = keccak256(abi.encode(shares));
        if (actual != attributionHash) revert AttributionHashMismatch(attributionHash, actual);
        uint256 sum;
        address previous;
        uint256 length = shares.length;
        for (uint256 i; i < length; ++i) {
            address account = shares[i].account;
            if (account <= previous) revert SharesNotSorted(i);
            uint256 bps = shares[i].bps;
            if (bps == 0) revert ZeroShare(i);
            sum += bps;
            previous = account;
        }
        if (sum != BPS) revert SharesSumInvalid(sum);
    }

    function _checkSignature(bytes32 digest, bytes calldata signature, address signer)
        private
        pure
    {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || recovered != signer) revert InvalidSignature();
    }

    function _fillRevocations(
        RecordStatus memory status,
        bytes32 modelId,
        address signer,
        bool withEnclave,
        uint64 acceptedAt
    ) private view {
        Worker storage worker = _workers[signer];
        status.workerRevokedAt = worker.revokedAt;
        status.modelRevokedAt = _models[modelId].revokedAt;
        bytes32 measurement = worker.measurement;
        if (withEnclave && measurement != bytes32(0)) {
            status.measurementRevokedAt = _measurements[measurement].revokedAt;
        }
        status.revokedAfter = status.exists
            && (
                _after(status.workerRevokedAt, acceptedAt)
                    || _after(status.measurementRevokedAt, acceptedAt)
                    || _after(status.modelRevokedAt, acceptedAt)
            );
    }

    function _after(uint64 revokedAt, uint64 recordedAt) private pure returns (bool) {
        return revokedAt != 0 && revokedAt >= recordedAt;
    }
}
