// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IWorkerRegistry
/// @notice Staked worker keys, their encryption keys, their optional binding to a TEE enclave
///         whose measurement governance allows, governance revocations, and slashing.
/// @dev A worker is identified by its signing address (the key that signs records). The
///      operator (msg.sender at registration) owns the stake and receives the worker's fees.
///      Registering a key, and changing its encryption key, needs the key's consent: the key
///      sends the call itself, or signs the EIP-712 message
///      `WorkerRegistration(address signer,address operator,bytes32 encryptionKeyHash,uint256 nonce,uint256 deadline)`
///      (domain: name "Attestia", version "1", chain id, this registry), single-use by the
///      signer's nonce (nonces(signer)). encryptionKeyHash = keccak256(encryptionKey).
///
///      Slashing: the slasher contract (set once by the admin, setSlasher) proves misbehaviour
///      (Slasher.sol; equivocation now, attribution disputes later) and calls slashStake: the
///      whole stake is removed and sent to the slasher, the key is revoked for good; the
///      slasher credits SLASH_REPORTER_BPS (50%) of it to the reporter's withdrawable balance
///      and the rest to its treasury's.
///      unbondingDelay() >= challengeWindow() + TIMESTAMP_WINDOW + WINDOW_MARGIN, so a stake
///      never leaves while a record its key made can still be challenged, with a margin.
interface IWorkerRegistry {
    /// @notice An operator registered a worker key with a stake.
    /// @param signer The worker's signing key.
    /// @param operator Who owns the stake and receives the worker's cut (msg.sender).
    /// @param stake The stake, in wei.
    /// @param encryptionKey The public key requesters encrypt payloads to.
    event WorkerRegistered(
        address indexed signer, address indexed operator, uint256 stake, bytes encryptionKey
    );

    /// @notice The operator changed the worker's encryption key (with the key's consent).
    /// @param signer The worker's signing key.
    /// @param operator The operator that sent it.
    /// @param encryptionKey The new public key requesters encrypt payloads to.
    event EncryptionKeyUpdated(address indexed signer, address indexed operator, bytes encryptionKey);

    /// @notice The operator added stake to a worker.
    /// @param signer The worker.
    /// @param amount Wei added.
    /// @param stake The stake now.
    event StakeAdded(address indexed signer, uint256 amount, uint256 stake);

    /// @notice The operator started unbonding: the worker is inactive from now on.
    /// @param signer The worker.
    /// @param withdrawableAt When withdrawStake becomes possible.
    event UnbondingStarted(address indexed signer, uint64 withdrawableAt);

    /// @notice The operator withdrew the stake after the unbonding delay.
    /// @param signer The worker.
    /// @param operator Who received it.
    /// @param amount Wei withdrawn.
    event StakeWithdrawn(address indexed signer, address indexed operator, uint256 amount);

    /// @notice The worker key was bound to a TEE enclave.
    /// @param signer The worker.
    /// @param measurement The enclave measurement.
    /// @param attestationHash sha256 of the attestation document.
    /// @param attestationURI Where the attestation document is published.
    event EnclaveBound(
        address indexed signer,
        bytes32 indexed measurement,
        bytes32 attestationHash,
        string attestationURI
    );

    /// @notice Governance allowed an enclave measurement.
    /// @param measurement The measurement.
    /// @param timestamp When.
    event MeasurementAllowed(bytes32 indexed measurement, uint64 timestamp);

    /// @notice Governance revoked an enclave measurement (one-way).
    /// @param measurement The measurement.
    /// @param timestamp When.
    event MeasurementRevoked(bytes32 indexed measurement, uint64 timestamp);

    /// @notice The worker was revoked (one-way): by governance, or by being slashed.
    /// @param signer The worker.
    /// @param timestamp When.
    event WorkerRevoked(address indexed signer, uint64 timestamp);

    /// @notice The admin set the slasher contract (once).
    /// @param slasher The only account that may call slashStake.
    event SlasherSet(address indexed slasher);

    /// @notice A worker's whole stake was slashed and sent to the slasher (which emits who
    ///         proved what and how the stake is shared).
    /// @param signer The worker.
    /// @param slasher The slasher contract that received the stake.
    /// @param amount The whole stake removed, in wei.
    event WorkerSlashed(address indexed signer, address indexed slasher, uint256 amount);

    /// @notice No worker is registered under this signer.
    /// @param signer The key asked for.
    error WorkerNotFound(address signer);
    /// @notice The worker is unbonding, unbonded or revoked.
    /// @param signer The worker.
    error WorkerNotActive(address signer);
    /// @notice The stake sent is below the minimum.
    /// @param minimum minStake().
    /// @param sent msg.value.
    error StakeTooLow(uint256 minimum, uint256 sent);
    /// @notice An amount of zero was sent or asked for.
    error ZeroAmount();
    /// @notice The encryption public key is empty.
    error EmptyEncryptionKey();
    /// @notice The worker is not unbonding.
    /// @param signer The worker.
    error NotUnbonding(address signer);
    /// @notice The unbonding delay has not passed yet.
    /// @param withdrawableAt When it will have.
    error UnbondingNotElapsed(uint64 withdrawableAt);
    /// @notice The worker key is already bound to an enclave (a binding is for life).
    /// @param signer The worker.
    error EnclaveAlreadyBound(address signer);
    /// @notice The worker key is not bound to an enclave.
    /// @param signer The worker.
    error EnclaveNotBound(address signer);
    /// @notice The measurement is not on the allowlist.
    /// @param measurement The measurement.
    error MeasurementNotAllowed(bytes32 measurement);
    /// @notice The measurement was revoked.
    /// @param measurement The measurement.
    error MeasurementIsRevoked(bytes32 measurement);
    /// @notice The attestation hash is zero.
    error EmptyAttestationHash();
    /// @notice The worker or measurement is already revoked.
    error AlreadyRevoked();
    /// @notice The worker was already slashed.
    /// @param signer The worker.
    error AlreadySlashed(address signer);
    /// @notice The worker has no stake left to slash (withdrawn).
    /// @param signer The worker.
    error NothingToSlash(address signer);
    /// @notice unbondingDelay must be at least challengeWindow + TIMESTAMP_WINDOW +
    ///         WINDOW_MARGIN (Common.sol): an equality would leave a second in which a record is
    ///         still challengeable and its stake already withdrawable.
    /// @param minimum challengeWindow + TIMESTAMP_WINDOW + WINDOW_MARGIN.
    /// @param unbondingDelay The delay given.
    error InvalidUnbondingDelay(uint256 minimum, uint64 unbondingDelay);

    /// @notice Registers a worker key, staking msg.value (at least minStake()); msg.sender
    ///         becomes its operator.
    /// @dev Reverts with AlreadyExists if the key is taken. If msg.sender != signer, `signature`
    ///      must be the signer's EIP-712 WorkerRegistration(signer, operator = msg.sender,
    ///      keccak256(encryptionKey), nonces(signer), deadline) (InvalidSignature;
    ///      SignatureExpired after `deadline`); its nonce is used up. If the key sends the call
    ///      itself, `deadline` and `signature` are ignored.
    /// @param signer The address whose signatures make the worker's records.
    /// @param encryptionKey The public key requesters encrypt payloads to.
    /// @param deadline Last second (unix) the signature is valid.
    /// @param signature The signer's 65-byte ECDSA signature (empty if signer sends).
    function registerWorker(
        address signer,
        bytes calldata encryptionKey,
        uint256 deadline,
        bytes calldata signature
    ) external payable;

    /// @notice Replaces the worker's encryption key (operator only), with the key's consent
    ///         exactly as in registerWorker (a restarted worker may have a new key).
    /// @param signer The worker.
    /// @param encryptionKey The new public key.
    /// @param deadline Last second (unix) the signature is valid.
    /// @param signature The signer's EIP-712 WorkerRegistration signature naming msg.sender and
    ///        this key (empty if the operator is the signer itself).
    function setEncryptionKey(
        address signer,
        bytes calldata encryptionKey,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Adds msg.value to the worker's stake (operator only, worker active).
    /// @param signer The worker.
    function addStake(address signer) external payable;

    /// @notice Starts unbonding (operator only): the worker is inactive at once, the stake is
    ///         withdrawable after unbondingDelay().
    /// @param signer The worker.
    function beginUnbonding(address signer) external;

    /// @notice Sends the whole stake to the operator once unbonding has elapsed (operator only).
    /// @param signer The worker.
    function withdrawStake(address signer) external;

    /// @notice Binds the worker key to a TEE enclave (operator only, once per key).
    /// @dev The measurement must be allowed and not revoked. The attestation document itself is
    ///      checked off-chain; its hash becomes the proofHash of the worker's TEE records.
    /// @param signer The worker.
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
    /// @param measurement The measurement.
    function allowMeasurement(bytes32 measurement) external;

    /// @notice Revokes a measurement, timestamped and one-way (GOVERNANCE_ROLE).
    /// @param measurement The measurement.
    function revokeMeasurement(bytes32 measurement) external;

    /// @notice Revokes a worker, timestamped and one-way (GOVERNANCE_ROLE). The operator can
    ///         still unbond and withdraw the stake (unless it is slashed first).
    /// @param signer The worker.
    function revokeWorker(address signer) external;

    /// @notice Sets the slasher contract, once (DEFAULT_ADMIN_ROLE; AlreadyExists after).
    /// @param slasher_ The only account that may call slashStake.
    function setSlasher(address slasher_) external;

    /// @notice Slashes a worker's whole stake (slasher() only) and sends it to the slasher,
    ///         which pays the reporter and the treasury (Slasher.sol). The key is revoked (if
    ///         not already) and can never be active again.
    /// @dev Reverts WorkerNotFound, AlreadySlashed, NothingToSlash (stake withdrawn).
    /// @param signer The worker.
    /// @return amount The stake slashed, in wei.
    function slashStake(address signer) external returns (uint256 amount);




    /// @notice The next WorkerRegistration nonce of a signing key.
    /// @param signer The worker key.
    /// @return The nonce its next consent signature must carry.
    function nonces(address signer) external view returns (uint256);

    /// @notice The minimum stake, in wei (constructor parameter).
    /// @return Wei.
    function minStake() external view returns (uint256);

    /// @notice The unbonding delay, in seconds (constructor parameter, >= challengeWindow() +
    ///         TIMESTAMP_WINDOW + WINDOW_MARGIN).
    /// @return Seconds.
    function unbondingDelay() external view returns (uint64);

    /// @notice How long after a record (its signed timestamp) it may still be challenged, in
    ///         seconds (constructor parameter; attribution disputes build on it).
    /// @return Seconds.
    function challengeWindow() external view returns (uint64);

    /// @notice The slasher contract (address(0) until setSlasher).
    /// @return The only account that may call slashStake.
    function slasher() external view returns (address);

    /// @notice The role that keeps the measurement allowlist and revokes workers.
    /// @return keccak256("GOVERNANCE_ROLE").
    function GOVERNANCE_ROLE() external view returns (bytes32);
}
