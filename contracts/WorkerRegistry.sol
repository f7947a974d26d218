// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IWorkerRegistry} from "./interfaces/IWorkerRegistry.sol";
import {
    Worker,
    MeasurementStatus,
    TIMESTAMP_WINDOW,
    WINDOW_MARGIN,
    WORKER_REGISTRATION_TYPEHASH,
    AlreadyExists,
    Unauthorized,
    ZeroAddress,
    InvalidSignature,
    SignatureExpired
} from "./Common.sol";

/// @title WorkerRegistry
/// @notice Staked worker keys (registered with the key's consent), their TEE bindings, and the
///         slashing hook. Abstract: InferenceRegistry inherits it so that records read a
///         worker's hot slot without a cross-contract call.
abstract contract WorkerRegistry is IWorkerRegistry, AccessControl, ReentrancyGuard, EIP712, Nonces {
    /// @inheritdoc IWorkerRegistry
    bytes32 public constant GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE");

    /// @inheritdoc IWorkerRegistry
    uint256 public immutable minStake;
    /// @inheritdoc IWorkerRegistry
    uint64 public immutable unbondingDelay;
    /// @inheritdoc IWorkerRegistry
    uint64 public immutable challengeWindow;

    /// @inheritdoc IWorkerRegistry
    address public slasher;

    mapping(address signer => Worker) internal _workers;
    mapping(bytes32 measurement => MeasurementStatus) internal _measurements;

    /// @dev Records land only while their worker is active, and a record's signed timestamp is
    ///      at most TIMESTAMP_WINDOW past the block time; so with unbondingDelay >=
    ///      challengeWindow + TIMESTAMP_WINDOW + WINDOW_MARGIN every record's challenge window
    ///      has closed, with a margin, before its worker's stake can be withdrawn.
    constructor(uint256 minStake_, uint64 unbondingDelay_, uint64 challengeWindow_) {
        uint256 minimum = uint256(challengeWindow_) + TIMESTAMP_WINDOW + WINDOW_MARGIN;
        if (unbondingDelay_ < minimum) revert InvalidUnbondingDelay(minimum, unbondingDelay_);
        minStake = minStake_;
        unbondingDelay = unbondingDelay_;
        challengeWindow = challengeWindow_;
    }

    modifier onlyOperator(address signer) {
        _requireOperator(signer);
        _;
    }

    /// @inheritdoc IWorkerRegistry
    function registerWorker(
        address signer,
        bytes calldata encryptionKey,
        uint256 deadline,
        bytes calldata signature
    ) external payable {
        if (signer == address(0)) revert ZeroAddress();
        if (encryptionKey.length == 0) revert EmptyEncryptionKey();
        if (msg.value < minStake || msg.value == 0) revert StakeTooLow(minStake, msg.value);
        Worker storage worker = _workers[signer];
        if (worker.operator != address(0)) revert AlreadyExists();
        _checkConsent(signer, encryptionKey, deadline, signature);

        worker.operator = msg.sender;
        worker.stake = SafeCast.toUint96(msg.value);
        worker.registeredAt = uint48(block.timestamp);
        worker.encryptionKey = encryptionKey;
        emit WorkerRegistered(signer, msg.sender, msg.value, encryptionKey);
    }

    /// @inheritdoc IWorkerRegistry
    function setEncryptionKey(
        address signer,
        bytes calldata encryptionKey,
        uint256 deadline,
        bytes calldata signature
    ) external onlyOperator(signer) {
        if (encryptionKey.length == 0) revert EmptyEncryptionKey();
        _checkConsent(signer, encryptionKey, deadline, signature);
        _workers[signer].encryptionKey = encryptionKey;
        emit EncryptionKeyUpdated(signer, msg.sender, encryptionKey);
    }

    /// @inheritdoc IWorkerRegistry
    function addStake(address signer) external payable onlyOperator(signer) {
        if (msg.value == 0) revert ZeroAmount();
        Worker storage worker = _activeWorker(signer);
        uint96 stake = SafeCast.toUint96(worker.stake + msg.value);
        worker.stake = stake;
        emit StakeAdded(signer, msg.value, stake);
    }

    /// @inheritdoc IWorkerRegistry
    function beginUnbonding(address signer) external onlyOperator(signer) {
        Worker storage worker = _workers[signer];
        if (worker.unbondingAt != 0) revert WorkerNotActive(signer);
        worker.unbondingAt = uint48(block.timestamp);
        emit UnbondingStarted(signer, uint64(block.timestamp) + unbondingDelay);
    }

    /// @inheritdoc IWorkerRegistry
    function withdrawStake(address signer) external nonReentrant onlyOperator(signer) {
        Worker storage worker = _workers[signer];
        uint64 unbondingAt = worker.unbondingAt;
        if (unbondingAt == 0) revert NotUnbonding(signer);
        uint64 withdrawableAt = unbondingAt + unbondingDelay;
        if (block.timestamp < withdrawableAt) revert UnbondingNotElapsed(withdrawableAt);
        uint256 amount = worker.stake;
        if (amount == 0) revert ZeroAmount();

        worker.stake = 0;
        emit StakeWithdrawn(signer, msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @inheritdoc IWorkerRegistry
    function bindEnclave(
        address signer,
        bytes32 measurement,
        bytes32 attestationHash,
        string calldata attestationURI
    ) external onlyOperator(signer) {
        Worker storage worker = _activeWorker(signer);
        if (worker.measurement != bytes32(0)) revert EnclaveAlreadyBound(signer);
        if (attestationHash == bytes32(0)) revert EmptyAttestationHash();
        _requireAllowedMeasurement(measurement);

        worker.measurement = measurement;
        worker.attestationHash = attestationHash;
        worker.attestationURI = attestationURI;
        worker.enclaveBoundAt = uint48(block.timestamp);
        emit EnclaveBound(signer, measurement, attestationHash, attestationURI);
    }

    /// @inheritdoc IWorkerRegistry
    function allowMeasurement(bytes32 measurement) external onlyRole(GOVERNANCE_ROLE) {
        MeasurementStatus storage status = _measurements[measurement];
        if (status.revokedAt != 0) revert MeasurementIsRevoked(measurement);
        if (status.allowedAt != 0) revert AlreadyExists();
        status.allowedAt = uint48(block.timestamp);
        emit MeasurementAllowed(measurement, uint64(block.timestamp));
    }

    /// @inheritdoc IWorkerRegistry
    function revokeMeasurement(bytes32 measurement) external onlyRole(GOVERNANCE_ROLE) {
        MeasurementStatus storage status = _measurements[measurement];
        if (status.allowedAt == 0) revert MeasurementNotAllowed(measurement);
        if (status.revokedAt != 0) revert AlreadyRevoked();
        status.revokedAt = uint48(block.timestamp);
        emit MeasurementRevoked(measurement, uint64(block.timestamp));
    }

    /// @inheritdoc IWorkerRegistry
    function revokeWorker(address signer) external onlyRole(GOVERNANCE_ROLE) {
        Worker storage worker = _workers[signer];
        if (worker.operator == address(0)) revert WorkerNotFound(signer);
        if (worker.revokedAt != 0) revert AlreadyRevoked();
        worker.revokedAt = uint48(block.timestamp);
        emit WorkerRevoked(signer, uint64(block.timestamp));
    }

    /// @inheritdoc IWorkerRegistry
    function setSlasher(address slasher_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (slasher_ == address(0)) revert ZeroAddress();
        if (slasher != address(0)) revert AlreadyExists();
        slasher = slasher_;
        emit SlasherSet(slasher_);
    }

    /// @inheritdoc IWorkerRegistry
    function slashStake(address signer) external nonReentrant returns (uint256 amount) {
        if (msg.sender != slasher) revert Unauthorized();
        Worker storage worker = _workers[signer];
        if (worker.operator == address(0)) revert WorkerNotFound(signer);
        if (worker.slashedAt != 0) revert AlreadySlashed(signer);
        amount = worker.stake;
        if (amount == 0) revert NothingToSlash(signer);

        worker.stake = 0;
        worker.slashedAt = uint48(block.timestamp);
        if (worker.revokedAt == 0) {
            worker.revokedAt = uint48(block.timestamp);
            emit WorkerRevoked(signer, uint64(block.timestamp));
        }
        emit WorkerSlashed(signer, msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }


    /// @inheritdoc IWorkerRegistry
    function nonces(address signer)
        public
        view
        virtual
        override(IWorkerRegistry, Nonces)
        returns (uint256)
    {
        return super.nonces(signer);
    }



    /// @dev A worker that may make records: registered, bonded, not revoked. One SLOAD of the
    ///      hot slot (operator = bits 0..159, unbondingAt and revokedAt above, Common.Worker):
    ///      active iff the operator is set and everything above it is zero.
    function _activeWorker(address signer) internal view returns (Worker storage worker) {
        worker = _workers[signer];
        uint256 hot;
        assembly ("memory-safe") {
            hot := sload(worker.slot)
        }
        if (hot == 0) revert WorkerNotFound(signer);
        if (hot >> 160 != 0) revert WorkerNotActive(signer);
    }

    /// @dev The worker's enclave binding is usable: bound, measurement allowed and not revoked.
    ///      Returns the attestation hash TEE records must carry as proofHash.
    function _activeEnclave(address signer, Worker storage worker)
        internal
        view
        returns (bytes32 attestationHash)
    {
        bytes32 measurement = worker.measurement;
        if (measurement == bytes32(0)) revert EnclaveNotBound(signer);
        _requireAllowedMeasurement(measurement);
        return worker.attestationHash;
    }

    function _requireOperator(address signer) private view {
        address operator = _workers[signer].operator;
        if (operator == address(0)) revert WorkerNotFound(signer);
        if (operator != msg.sender) revert Unauthorized();
    }

    /// @dev The signing key consents to msg.sender operating it with this encryption key: it
    ///      sends the call itself, or signed an EIP-712 WorkerRegistration naming msg.sender
    ///      (chain id and registry are in the domain; the nonce makes it single-use).
    function _checkConsent(
        address signer,
        bytes calldata encryptionKey,
        uint256 deadline,
        bytes calldata signature
    ) private {
        if (msg.sender == signer) return;
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        bytes32 digest = _hashTypedDataV4(
            keccak256(
                abi.encode(
                    WORKER_REGISTRATION_TYPEHASH,
                    signer,
                    msg.sender,
                    keccak256(encryptionKey),
                    _useNonce(signer),
                    deadline
                )
            )
        );
        _checkSignature(digest, signature, signer);
    }

    function _checkSignature(bytes32 digest, bytes calldata signature, address signer)
        internal
        pure
    {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || recovered != signer) revert InvalidSignature();
    }

    function _requireAllowedMeasurement(bytes32 measurement) private view {
        MeasurementStatus storage status = _measurements[measurement];
        if (status.revokedAt != 0) revert MeasurementIsRevoked(measurement);
        if (status.allowedAt == 0) revert MeasurementNotAllowed(measurement);
    }
}
