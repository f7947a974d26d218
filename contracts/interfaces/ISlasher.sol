// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Inference} from "../Common.sol";
import {IInferenceRegistry} from "./IInferenceRegistry.sol";
import {IAttributionDisputes} from "./IAttributionDisputes.sol";

/// @title ISlasher
/// @notice Proves a worker's misbehaviour on chain and slashes its whole stake: the registry
///         sends the stake here (InferenceRegistry.slashStake, callable only by this contract)
///         and revokes the key; SLASH_REPORTER_BPS (50%) is credited to the reporter, the rest
///         to the treasury, both as withdrawable balances here (pull payments).
/// @dev Trigger 1, equivocation: two records by the same worker for the same request id that
///      make conflicting claims. Trigger 2, attribution disputes (IAttributionDisputes): a
///      proven wrong step of the worker's attribution trace, or no response to a challenge.
///      The treasury is a constructor parameter: a multisig or contract able to call withdraw().
interface ISlasher is IAttributionDisputes {
    /// @notice A worker was proven to have equivocated.
    /// @param worker The worker key.
    /// @param requestId The request both records answer.
    /// @param reporter Who proved it (msg.sender).
    /// @param digestA The EIP-712 digest of the first record.
    /// @param digestB The EIP-712 digest of the second record.
    event EquivocationProven(
        address indexed worker,
        bytes32 indexed requestId,
        address indexed reporter,
        bytes32 digestA,
        bytes32 digestB
    );

    /// @notice A worker's stake was slashed and shared between the reporter and the treasury.
    /// @param worker The worker key.
    /// @param reporter Who proved the misbehaviour.
    /// @param amount The whole stake received from the registry, in wei.
    /// @param reporterReward amount * SLASH_REPORTER_BPS / 10,000, credited to the reporter.
    /// @param treasuryAmount The rest, credited to the treasury.
    event Slashed(
        address indexed worker,
        address indexed reporter,
        uint256 amount,
        uint256 reporterReward,
        uint256 treasuryAmount
    );

    /// @notice An account withdrew its credited balance.
    /// @param account Who.
    /// @param amount Wei sent.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice The two records are by different workers.
    /// @param expected The first record's worker.
    /// @param actual The second record's worker.
    error WorkerMismatch(address expected, address actual);
    /// @notice The two records answer different requests.
    /// @param expected The first record's request id.
    /// @param actual The second record's request id.
    error RequestIdMismatch(bytes32 expected, bytes32 actual);
    /// @notice The two records claim the same thing (same model, input, output and
    ///         attribution): a re-signed record (new timestamp, re-sealed result, new proof)
    ///         is not equivocation.
    /// @param requestId The request.
    error RecordsDoNotConflict(bytes32 requestId);
    /// @notice A record given without a signature is not the record the registry holds for
    ///         its request.
    /// @param requestId The request.
    error NotRecorded(bytes32 requestId);

    /// @notice Slashes a worker that made two conflicting records for one request, rewarding
    ///         msg.sender as reporter.
    /// @dev Conflicting: same worker and requestId, different
    ///      keccak256(abi.encode(modelId, inputCommitment, outputCommitment, attributionHash)).
    ///      Each record is attributed to the worker by its EIP-712 signature in the registry's
    ///      domain (hashInference), or, with an empty signature, by being the record the
    ///      registry holds for the request (the worker sent or signed it). Reverts from the
    ///      registry: WorkerNotFound, AlreadySlashed, NothingToSlash. The reporter must have
    ///      committed findingCommitment(msg.sender, equivocationEvidenceId(digestA, digestB),
    ///      salt) with commitFinding in an earlier block (FindingNotCommitted, RevealTooEarly):
    ///      a copy of the pending report from another account pays nobody.
    /// @param a The first record.
    /// @param signatureA The worker's 65-byte signature of a (or empty if a is recorded).
    /// @param b The second record.
    /// @param signatureB The worker's 65-byte signature of b (or empty if b is recorded).
    /// @param salt The salt of the reporter's commitment.
    /// @return amount The stake slashed, in wei.
    function slashEquivocation(
        Inference calldata a,
        bytes calldata signatureA,
        Inference calldata b,
        bytes calldata signatureB,
        bytes32 salt
    ) external returns (uint256 amount);

    /// @notice Sends the caller's whole credited balance (reporter rewards, treasury share).
    function withdraw() external;

    /// @notice The credited, withdrawable balance of an account, in wei.
    /// @param account The account.
    /// @return Wei.
    function balances(address account) external view returns (uint256);

    /// @notice The registry whose workers this contract slashes.
    /// @return The registry.
    function registry() external view returns (IInferenceRegistry);

    /// @notice Who is credited the non-reporter part of slashed stakes.
    /// @return The treasury (constructor parameter).
    function treasury() external view returns (address);
}
