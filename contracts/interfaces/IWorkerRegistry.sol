// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Worker, MeasurementStatus} from "../Common.sol";

/// @title IWorkerRegistry
/// @notice Staked worker keys, their encryption keys, their optional binding to a TEE enclave
///         whose measurement governance allows, and governance revocations.
/// @dev A worker is identified by its signing address (the key that signs records). The
///      operator (msg.sender at registration) owns the stake and receives the worker's fees.
interface IWorkerRegistry {
    /// @notice An operator registered a worker key with a stake.
    event WorkerRegistered(
        address indexed signer, address indexed operator, uint256 stake, bytes encryptionKey
    );

    /// @notice The operator added stake to a worker.
    event StakeAdded(address indexed signer, uint256 amount, uint256 stake);

    /// @notice The operator started unbonding: the worker is inactive from now on.
    event UnbondingStarted(address indexed signer, uint64 withdrawableAt);

    /// @notice The operator withdrew the stake after the unbonding delay.
    event StakeWithdrawn(address indexed signer, address indexed operator, uint256 amount);

    /// @notice The worker key was bound to a TEE enclave.
    event EnclaveBound(
        address indexed signer,
        bytes32 indexed measurement,
        bytes32 attestationHash,
        string attestationURI
    );

    /// @notice Governance allowed an enclave measurement.
    event MeasurementAllowed(bytes32 indexed measurement, uint64 timestamp);

    /// @notice Governance revoked an enclave measurement (one-way).
    event MeasurementRevoked(bytes32 indexed measurement, uint64 timestamp);

    /// @notice Governance revoked a worker (one-way).
    event WorkerRevoked(address indexed signer, uint64 timestamp);

    /// @notice No worker is registered under this signer.
    error WorkerNotFound(address signer);
    /// @notice The worker is unbonding, unbonded or revoked.
    error WorkerNotActive(address signer);
    /// @notice The stake sent is below the minimum.
    error StakeTooLow(uint256 minimum, uint256 sent);
    /// @notice An amount of zero was sent or asked for.
    error ZeroAmount();
    /// @notice The encryption public key is empty.
    error EmptyEncryptionKey();
    /// @notice The worker is not unbonding.
    error NotUnbonding(address signer);
    /// @notice The unbonding delay has not passed yet.
    error UnbondingNotElapsed(uint64 withdrawableAt);
    /// @notice The worker key is already bound to an enclave (a binding is for life).
    error EnclaveAlreadyBound(address signer);
    /// @notice The worker key is not bound to an enclave.
    error EnclaveNotBound(address signer);
    /// @notice The measurement is not on the allowlist.
    error MeasurementNotAllowed(bytes32 measurement);
    /// @notice The measurement was revoked.
    error MeasurementIsRevoked(bytes32 measurement);
    /// @notice The attestation hash is zero.
    error EmptyAttestationHash();
    /// @notice The worker or measurement is already revoked.
    error AlreadyRevoked();

    /// @notice Registers a worker key, staking msg.value (at least minStake()).
    /// @dev msg.sender becomes the operator. Reverts with AlreadyExists if the key is taken.
    /// @param signer The address whose signatures make the worker's records.
    /// @param encryptionKey The public key requesters encrypt payloads to.
    function registerWorker(address signer, bytes calldata encryptionKey) external payable;

    /// @notice Adds msg.value to the worker's stake (operator only, worker active).
    function addStake(address signer) external payable;

    /// @notice Starts unbonding (operator only): the worker is inactive at once, the stake is
    ///         withdrawable after unbondingDelay().
    function beginUnbonding(address signer) external;

    /// @notice Sends the whole stake to the operator once unbonding has elapsed (operator only).
    function withdrawStake(address signer) external;

    /// @notice Binds the worker key to a TEE enclave (operator only, once per key).
    /// @dev The measurement must be allowed and not revoked. The attestation document itself is
    ///      checked off-chain; its hash becomes the proofHash of the worker's TEE records.
    /// @param measurement The enclave measurement (e.g. Nitro PCR0 digest, SGX MRENCLAVE).
    /// @param attestationHash sha256 of the attestation document binding the key.
    /// @param attestationURI Where the attestation document is published.
    function bindEnclave(
        address signer,
        bytes32 measurement,
        bytes32 attestationHash,
        string calldata attestationURI
    ) external;

    /// @notice Adds a measurement to the allowlist (GOVERNANCE_ROLE).
    function allowMeasurement(bytes32 measurement) external;

    /// @notice Revokes a measurement, timestamped and one-way (GOVERNANCE_ROLE).
    function revokeMeasurement(bytes32 measurement) external;

    /// @notice Revokes a worker, timestamped and one-way (GOVERNANCE_ROLE). The operator can
    ///         still unbond and withdraw the stake.
    function revokeWorker(address signer) external;

    /// @notice Returns the worker registered under signer (operator == address(0) if none).
    function getWorker(address signer) external view returns (Worker memory);

    /// @notice True if the worker is registered, not unbonding and not revoked.
    function isActiveWorker(address signer) external view returns (bool);

    /// @notice Returns the allowlist status of a measurement.
    function measurementStatus(bytes32 measurement)
        external
        view
        returns (MeasurementStatus memory);

    /// @notice The minimum stake, in wei (constructor parameter).
    function minStake() external view returns (uint256);

    /// @notice The unbonding delay, in seconds (constructor parameter).
    function unbondingDelay() external view returns (uint64);

    /// @notice The role that keeps the measurement allowlist and revokes workers.
    function GOVERNANCE_ROLE() external view returns (bytes32);
}
