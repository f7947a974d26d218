// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IInferenceRegistry} from "./interfaces/IInferenceRegistry.sol";
import {IRewardDistributor} from "./interfaces/IRewardDistributor.sol";
import {IZkVerifier} from "./interfaces/IZkVerifier.sol";
import {IWorkerRegistry} from "./interfaces/IWorkerRegistry.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {WorkerRegistry} from "./WorkerRegistry.sol";
import {RegistryViews} from "./RegistryViews.sol";
import {
    Inference,
    Share,
    Request,
    ZkProof,
    Payout,
    Model,
    Worker,
    BPS,
    PROOF_SIGNED,
    PROOF_TEE,
    PROOF_ZK,
    TIMESTAMP_WINDOW,
    INFERENCE_TYPEHASH,
    EIP712_NAME,
    EIP712_VERSION,
    REQUEST_CANCELLED,
    REQUEST_REJECTED,
    termsHashOf,
    AlreadyExists,
    Unauthorized,
    ZeroAddress,
    IncorrectPayment,
    NothingToWithdraw,
    BATCH_TIME_SHIFT,
    BATCH_DEPOSIT_SHIFT,
    BATCH_SWEPT,
    batchStructHash,
    toBatchId,
    toRequestHash,
    toRequestId
} from "./Common.sol";

/// @title InferenceRegistry
/// @notice Requests, records, batches, fee split and epoch pools of Attestia; models and
///         workers are inherited so that the hot paths read their slots directly.
/// @dev Storage per item is one slot: a request slot (request hash, then the record's EIP-712
///      digest or a sentinel), a batch slot (deposit, committedAt, count, swept flag), and a
///      used flag per ZK proof. Everything else a consumer needs is in the events.
contract InferenceRegistry is IInferenceRegistry, ModelRegistry, WorkerRegistry {
    /// @inheritdoc IInferenceRegistry
    uint64 public immutable requestTimeout;
    /// @inheritdoc IInferenceRegistry
    uint64 public immutable genesis;
    /// @inheritdoc IInferenceRegistry
    uint64 public immutable epochLength;
    /// @inheritdoc IInferenceRegistry
    address public immutable rewardDistributor;
    /// @dev The cold views (IRegistryViews), run by DELEGATECALL from the fallback.
    address private immutable _views;

    /// @inheritdoc IInferenceRegistry
    mapping(address account => uint256) public balances;

    mapping(bytes32 requestId => bytes32) private _requests;
    /// @dev batchId -> swept << 255 | deposit << 96 | committedAt << 32 | count.
    mapping(bytes32 batchId => uint256) private _batches;
    mapping(uint64 epoch => uint256) private _epochPools;
    mapping(bytes32 proofHash => bool) private _usedProofs;

    /// @param admin Gets DEFAULT_ADMIN_ROLE and GOVERNANCE_ROLE (and sets the slasher once).
    /// @param distributor The ETH RewardDistributor ended epochs are swept to.
    /// @param minStake_ Minimum worker stake, in wei.
    /// @param unbondingDelay_ Seconds between beginUnbonding and withdrawStake
    ///        (>= challengeWindow_ + TIMESTAMP_WINDOW).
    /// @param challengeWindow_ Seconds after a record during which it may be challenged.
    /// @param requestTimeout_ Seconds after a request by which its record must be signed.
    /// @param genesis_ Start of epoch 0 (unix seconds, not in the future; 0 aligns to UTC).
    /// @param epochLength_ Epoch length in seconds (non-zero).
    constructor(
        address admin,
        address distributor,
        uint256 minStake_,
        uint64 unbondingDelay_,
        uint64 challengeWindow_,
        uint64 requestTimeout_,
        uint64 genesis_,
        uint64 epochLength_
    )
        EIP712(EIP712_NAME, EIP712_VERSION)
        WorkerRegistry(minStake_, unbondingDelay_, challengeWindow_)
    {
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
        _views = address(new RegistryViews());
    }

    /// @notice Serves IRegistryViews: any other selector runs in RegistryViews on this
    ///         registry's storage (it only reads), and reverts there if it is not a view.
    fallback() external {
        address views = _views;
        // Not memory-safe, and needs not be: the call ends here with return or revert.
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), views, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    // ------------------------------------------------------------------ requests

    /// @inheritdoc IInferenceRegistry
    function requestInference(
        bytes32 modelId,
        address worker,
        bytes32 inputCommitment,
        bytes32 zkInputHash,
        bytes32 termsHash,
        bytes calldata payload
    ) external payable returns (bytes32 requestId) {
        // The hot slot once (Common.Model): owner 0..159, policy 160..167, workerBps 168..183,
        // ownerBps 184..199, deprecated 200..207, revokedAt 208..255.
        Model storage model = _models[modelId];
        uint256 hot;
        assembly ("memory-safe") {
            hot := sload(model.slot)
        }
        if (uint160(hot) == 0) revert ModelNotFound(modelId);
        if (hot >> 200 != 0) revert ModelNotActive(modelId);
        uint256 fee = model.fee;
        address verifier = model.verifier;
        if (msg.value != fee) revert IncorrectPayment(fee, msg.value);
        // A named, active worker: the one whose encryption key the payload is sealed to, so
        // the only one that can read the input and the only one that may record it.
        if (worker == address(0)) revert WorkerRequired();
        _activeWorker(worker);
        // The terms the requester saw: a setTerms or setVerifier mined before this request
        // (a front-run included) makes it revert instead of paying under terms never agreed to.
        bytes32 terms =
            termsHashOf(fee, uint8(hot >> 160), uint16(hot >> 168), uint16(hot >> 184), verifier);
        if (terms != termsHash) revert TermsChanged(termsHash, terms);

        requestId = toRequestId(msg.sender, modelId, inputCommitment);
        if (_requests[requestId] != bytes32(0)) revert AlreadyExists();
        // The terms in force now travel with the request (abi.encode(Request) field by field).
        Request memory request = Request({
            requester: msg.sender,
            modelId: modelId,
            worker: worker,
            fee: fee,
            createdAt: uint64(block.timestamp),
            inputCommitment: inputCommitment,
            zkInputHash: zkInputHash,
            workerBps: uint16(hot >> 168),
            ownerBps: uint16(hot >> 184),
            policy: uint8(hot >> 160),
            verifier: verifier
        });
        _requests[requestId] = keccak256(abi.encode(request));
        emit InferenceRequested(requestId, modelId, worker, request, payload);
    }

    /// @inheritdoc IInferenceRegistry
    function cancelRequest(Request calldata request) external {
        bytes32 requestId = _openRequest(request);
        if (msg.sender != request.requester) revert Unauthorized();
        // The first second in which no record signed by the deadline can land any more.
        uint64 cancellableAt = request.createdAt + requestTimeout + TIMESTAMP_WINDOW + 1;
        if (block.timestamp < cancellableAt) revert RequestNotExpired(cancellableAt);

        _requests[requestId] = REQUEST_CANCELLED;
        balances[request.requester] += request.fee;
        emit RequestCancelled(requestId, request.requester, request.fee);
    }

    /// @inheritdoc IInferenceRegistry
    function rejectRequest(Request calldata request, string calldata reason) external {
        bytes32 requestId = _openRequest(request);
        address named = request.worker;
        if (msg.sender != named && msg.sender != _workers[named].operator) revert Unauthorized();

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
        address[] calldata roster,
        bytes calldata sealedResult
    ) external {
        _requireSender(inference.worker);
        _checkResult(inference, sealedResult);
        _requireNotZk(inference);
        _record(hashInference(inference), request, inference, shares, roster);
    }

    /// @inheritdoc IInferenceRegistry
    function fulfillBySig(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        address[] calldata roster,
        bytes calldata signature,
        bytes calldata sealedResult
    ) external {
        _checkResult(inference, sealedResult);
        _requireNotZk(inference);
        _record(_signedDigest(inference, signature), request, inference, shares, roster);
    }

    /// @inheritdoc IInferenceRegistry
    function fulfillZk(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        address[] calldata roster,
        ZkProof calldata zk,
        bytes calldata sealedResult
    ) external {
        _requireSender(inference.worker);
        _checkResult(inference, sealedResult);
        _useZkProof(request, inference, zk);
        _record(hashInference(inference), request, inference, shares, roster);
    }

    /// @inheritdoc IInferenceRegistry
    function fulfillZkBySig(
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        address[] calldata roster,
        bytes calldata signature,
        ZkProof calldata zk,
        bytes calldata sealedResult
    ) external {
        _checkResult(inference, sealedResult);
        _useZkProof(request, inference, zk);
        _record(_signedDigest(inference, signature), request, inference, shares, roster);
    }

    /// @inheritdoc IInferenceRegistry
    function commitBatch(
        bytes32 root,
        uint32 count,
        bytes32 modelId,
        uint64 epoch,
        string calldata dataURI,
        bytes32 dataHash
    ) external payable returns (bytes32 batchId) {
        return _commitBatch(root, count, modelId, epoch, dataURI, dataHash, msg.sender);
    }

    /// @inheritdoc IInferenceRegistry
    function commitBatchBySig(
        bytes32 root,
        uint32 count,
        bytes32 modelId,
        uint64 epoch,
        string calldata dataURI,
        bytes32 dataHash,
        address worker,
        bytes calldata signature
    ) external payable returns (bytes32 batchId) {
        bytes32 digest = _hashTypedDataV4(
            batchStructHash(
                root, count, modelId, epoch, keccak256(bytes(dataURI)), dataHash, worker, msg.value
            )
        );
        _checkSignature(digest, signature, worker);
        return _commitBatch(root, count, modelId, epoch, dataURI, dataHash, worker);
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

    /// @inheritdoc WorkerRegistry
    function nonces(address signer)
        public
        view
        override(IWorkerRegistry, WorkerRegistry)
        returns (uint256)
    {
        return super.nonces(signer);
    }

    /// @inheritdoc IInferenceRegistry
    function extsload(bytes32 slot) external view returns (bytes32 value) {
        assembly ("memory-safe") {
            value := sload(slot)
        }
    }

    /// @inheritdoc IInferenceRegistry
    function requestState(bytes32 requestId) external view returns (bytes32) {
        return _requests[requestId];
    }

    /// @inheritdoc IInferenceRegistry
    function currentEpoch() public view returns (uint64) {
        return _epochAt(uint64(block.timestamp));
    }

    /// @inheritdoc EIP712
    /// @dev The same answer as OpenZeppelin's, from the constants instead of its short-string
    ///      decoding with a storage fallback (never used: both fit in 31 bytes): 290 bytes of
    ///      code the registry needs under the EIP-170 limit.
    function eip712Domain()
        public
        view
        override
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        return (
            hex"0f", // name, version, chainId, verifyingContract
            EIP712_NAME,
            EIP712_VERSION,
            block.chainid,
            address(this),
            bytes32(0),
            new uint256[](0)
        );
    }

    /// @inheritdoc IInferenceRegistry
    function hashInference(Inference calldata inference) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(INFERENCE_TYPEHASH, inference)));
    }

    // ------------------------------------------------------------------ internals

    /// @dev SIGNED and TEE records; ZK records must carry their proof.
    function _requireNotZk(Inference calldata inference) private pure {
        if (inference.proofKind == PROOF_ZK) revert ZkProofRequired();
    }

    /// @dev The record's EIP-712 digest, signed by its worker.
    function _signedDigest(Inference calldata inference, bytes calldata signature)
        private
        view
        returns (bytes32 digest)
    {
        digest = hashInference(inference);
        _checkSignature(digest, signature, inference.worker);
    }

    /// @dev Checks a single record (its signer is already authenticated) and applies it: the
    ///      request slot becomes the EIP-712 digest, so a replay reverts; the fee is split by
    ///      the terms the request was paid under.
    function _record(
        bytes32 digest,
        Request calldata request,
        Inference calldata inference,
        Share[] calldata shares,
        address[] calldata roster
    ) private {
        _checkRecord(request, inference, digest);
        _checkShares(inference, shares, roster);
        _requests[inference.requestId] = digest;
        Payout memory payout = _splitFee(request, inference.worker);
        emit InferenceRecorded(
            inference.requestId, inference.modelId, inference.worker, inference, shares, digest, payout
        );
    }

    /// @dev Every check of a single record but the signer's, the sealed result's and the
    ///      attribution list's (digest = its EIP-712 digest).
    function _checkRecord(Request calldata request, Inference calldata inference, bytes32 digest)
        private
        view
    {
        bytes32 state = _requests[inference.requestId];
        if (state != toRequestHash(request)) {
            if (state == digest) revert AlreadyRecorded(digest);
            revert RequestNotOpen(inference.requestId);
        }
        _checkMatchesRequest(request, inference);
        Worker storage worker = _activeWorker(inference.worker);
        // The model must not be revoked now; the proof kind is judged by the policy paid for.
        _recordablePolicy(inference.modelId);
        _checkProof(request.policy, inference, worker);
    }

    /// @dev The signature covers the answer the requester will read.
    function _checkResult(Inference calldata inference, bytes calldata sealedResult)
        private
        pure
    {
        bytes32 actual = keccak256(sealedResult);
        if (actual != inference.resultHash) revert ResultHashMismatch(inference.resultHash, actual);
    }

    /// @dev proofHash == keccak256(proof) and unused; outputCommitment == keccak256(instances);
    ///      the first instance is the request's zk input binding; the verifier in force when
    ///      the request was paid (request.verifier, not a later setVerifier) accepts the proof
    ///      (STATICCALL). Then the proof is marked used.
    function _useZkProof(Request calldata request, Inference calldata inference, ZkProof calldata zk)
        private
    {
        bytes calldata proof = zk.proof;
        uint256[] calldata instances = zk.instances;
        if (inference.proofKind != PROOF_ZK) revert NotZkRecord(inference.proofKind);
        bytes32 proofHash = keccak256(proof);
        if (inference.proofHash != proofHash) {
            revert ProofHashMismatch(proofHash, inference.proofHash);
        }
        if (_usedProofs[proofHash]) revert ProofAlreadyUsed(proofHash);
        bytes32 outputCommitment = keccak256(abi.encodePacked(instances));
        if (inference.outputCommitment != outputCommitment) {
            revert OutputCommitmentMismatch(outputCommitment, inference.outputCommitment);
        }
        bytes32 zkInputHash = request.zkInputHash;
        bytes32 input = instances.length == 0 ? bytes32(0) : bytes32(instances[0]);
        if (zkInputHash == bytes32(0) || input != zkInputHash) {
            revert ZkInputMismatch(zkInputHash, input);
        }
        address verifier = request.verifier;
        if (verifier == address(0)) revert VerifierNotSet(inference.modelId);
        // STATICCALL (IZkVerifier.verifyProof is view): the verifier cannot re-enter.
        bool valid;
        try IZkVerifier(verifier).verifyProof(proof, instances) returns (bool ok) {
            valid = ok;
        } catch {}
        if (!valid) revert ZkProofInvalid();
        _usedProofs[proofHash] = true;
    }

    /// @dev Credits the worker's operator and the model owner by the request's bps, adds the
    ///      rest to the current epoch's pool (design.md: no dust lost).
    function _splitFee(Request calldata request, address worker)
        private
        returns (Payout memory payout)
    {
        uint256 fee = request.fee;
        payout.epoch = currentEpoch();
        payout.workerCut = fee * request.workerBps / BPS;
        payout.ownerCut = fee * request.ownerBps / BPS;
        payout.contributorCut = fee - payout.workerCut - payout.ownerCut;
        if (payout.workerCut != 0) balances[_workers[worker].operator] += payout.workerCut;
        if (payout.ownerCut != 0) balances[_models[request.modelId].owner] += payout.ownerCut;
        if (payout.contributorCut != 0) _epochPools[payout.epoch] += payout.contributorCut;
    }

    /// @dev One new slot and nothing else: the deposit stays in the batch slot until
    ///      sweepBatches (an epoch-pool write would cost 5,000 gas more). The worker is already
    ///      authenticated. dataHash is only emitted: settlement checks the file against it.
    function _commitBatch(
        bytes32 root,
        uint32 count,
        bytes32 modelId,
        uint64 epoch,
        string calldata dataURI,
        bytes32 dataHash,
        address worker
    ) private returns (bytes32 batchId) {
        if (count == 0) revert EmptyBatch();
        uint64 current = currentEpoch();
        if (epoch != current) revert EpochMismatch(current, epoch);
        _checkBatchWorker(modelId, worker);
        batchId = toBatchId(root, modelId, worker);
        if (_batches[batchId] != 0) revert AlreadyExists();
        _batches[batchId] = (uint256(SafeCast.toUint128(msg.value)) << BATCH_DEPOSIT_SHIFT)
            | (block.timestamp << BATCH_TIME_SHIFT) | count;
        emit BatchCommitted(
            batchId, modelId, worker, root, count, epoch, msg.value, dataURI, dataHash
        );
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

    /// @dev The request slot holds this request's hash; returns its id.
    function _openRequest(Request calldata request) private view returns (bytes32 requestId) {
        requestId = toRequestId(request.requester, request.modelId, request.inputCommitment);
        if (_requests[requestId] != toRequestHash(request)) revert RequestNotOpen(requestId);
    }

    function _checkMatchesRequest(Request calldata request, Inference calldata inference)
        private
        view
    {
        if (
            inference.modelId != request.modelId
                || inference.inputCommitment != request.inputCommitment
        ) revert RequestMismatch(inference.requestId);
        if (request.worker != inference.worker) {
            revert WorkerMismatch(request.worker, inference.worker);
        }
        uint64 timestamp = inference.timestamp;
        // Sums in uint256: a timestamp near type(uint64).max must revert with our error, not
        // with an arithmetic panic.
        if (
            timestamp < request.createdAt
                || uint256(timestamp) + TIMESTAMP_WINDOW < block.timestamp
                || timestamp > block.timestamp + TIMESTAMP_WINDOW
        ) revert TimestampOutOfWindow(timestamp);
        // Signed by the deadline; it may still land up to TIMESTAMP_WINDOW later, before the
        // requester can cancel (cancelRequest). In uint256 too: no panic for any timeout.
        uint256 deadline = uint256(request.createdAt) + requestTimeout;
        if (timestamp > deadline) revert RequestExpired(uint64(deadline));
    }

    /// @dev The policy the request was paid under accepts the proof kind, and proofHash is what
    ///      the kind requires. ZK proofs themselves are checked in _useZkProof.
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

    /// @dev The attribution list hashes to the signed attributionHash; it is sorted by strictly
    ///      ascending account (so no duplicates, no address(0)), has no zero bps and sums to
    ///      exactly BPS; `roster` is the model's registered roster (its hash, one SLOAD) and
    ///      every account is in it (a merge walk of the two ascending lists).
    function _checkShares(
        Inference calldata inference,
        Share[] calldata shares,
        address[] calldata roster
    ) private view {
        // Both hashes over the calldata as it is, without re-encoding: keccak256(abi.encode(
        // shares)) is 0x20, the length, then the (account, bps) words; keccak256(abi.encodePacked(
        // roster)) is the address words. A dirty word can't pass: the loop below reads every share
        // field with the compiler's checks, and a dirty roster word hashes differently from the
        // registered clean ones.
        bytes32 actual;
        bytes32 expected;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, 0x20)
            mstore(add(ptr, 0x20), shares.length)
            let size := shl(6, shares.length)
            calldatacopy(add(ptr, 0x40), shares.offset, size)
            actual := keccak256(ptr, add(size, 0x40))
        }
        expected = inference.attributionHash;
        if (actual != expected) revert AttributionHashMismatch(expected, actual);
        expected = _models[inference.modelId].contributorsHash;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            let size := shl(5, roster.length)
            calldatacopy(ptr, roster.offset, size)
            actual := keccak256(ptr, size)
        }
        if (actual != expected) revert RosterMismatch(expected, actual);

        uint256 sum;
        address previous;
        // Calldata position of the next roster word not yet passed, and of the end: the roster
        // matched the registered one, so its words are clean, ascending addresses.
        uint256 next;
        uint256 end;
        assembly ("memory-safe") {
            next := roster.offset
            end := add(next, shl(5, roster.length))
        }
        uint256 length = shares.length;
        for (uint256 i; i < length; ++i) {
            address account = shares[i].account;
            if (account <= previous) revert SharesNotSorted(i);
            uint256 bps = shares[i].bps;
            if (bps == 0) revert ZeroShare(i);
            sum += bps;
            previous = account;
            address member;
            do {
                if (next == end) revert NotAContributor(account);
                assembly ("memory-safe") {
                    member := calldataload(next)
                    next := add(next, 0x20)
                }
            } while (member < account);
            if (member != account) revert NotAContributor(account);
        }
        if (sum != BPS) revert SharesSumInvalid(sum);
    }
}
