// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {DataItem, TraceStep} from "../Common.sol";
import {IAttributionDisputes} from "./IAttributionDisputes.sol";

/// @title IDisputeProofs
/// @notice The proof half of the attribution-dispute game: the one-step fraud proofs and the
///         descent into a withheld trace (design.md "Disputes", "The descent"). Served at the
///         Slasher's address (its fallback runs DisputeProofs by DELEGATECALL on the Slasher's
///         storage), so callers call the Slasher; events and errors are IAttributionDisputes'.
interface IDisputeProofs {
    // Every prove* pays its sender the reporter's part of the stake, so it reveals the
    // sender's commitment findingCommitment(msg.sender, fraudEvidenceId(requestId, kind,
    // position), salt) made with commitFinding in an earlier block (FindingNotCommitted,
    // RevealTooEarly); kind is the FraudKind the call proves and position the one it names
    // (proveDuplicate: a.position; proveEnd: N - 1).

    /// @notice Fraud: the step names an item >= N, or its contributor, label or distance
    ///         differs from the roster item and the query.
    /// @param requestId The record's request id.
    /// @param opened The step, opened in the trace root.
    /// @param item The roster item the step names (ignored if the step's item >= N).
    /// @param itemProof Its proof in the items root.
    /// @param query The dispute's quantised input (DisputeOpened).
    /// @param salt The salt of the prover's commitment (see the prove* note below).
    function proveItem(
        bytes32 requestId,
        IAttributionDisputes.StepOpening calldata opened,
        DataItem calldata item,
        bytes32[] calldata itemProof,
        int256[] calldata query,
        bytes32 salt
    ) external;

    /// @notice Fraud: two adjacent steps (next.position == opened.position + 1) are not in
    ///         ascending (distance, item) order.
    /// @param requestId The record's request id.
    /// @param opened A step.
    /// @param next The step after it.
    /// @param salt The salt of the prover's commitment.
    function proveOrder(
        bytes32 requestId,
        IAttributionDisputes.StepOpening calldata opened,
        IAttributionDisputes.StepOpening calldata next,
        bytes32 salt
    ) external;

    /// @notice Fraud: a step's value does not follow from the next step's (or, for the last
    ///         step, is not s_N; `next` is then ignored).
    /// @param requestId The record's request id.
    /// @param opened A step.
    /// @param next The step after it (position + 1), unless `opened` is the last.
    /// @param salt The salt of the prover's commitment.
    function proveValue(
        bytes32 requestId,
        IAttributionDisputes.StepOpening calldata opened,
        IAttributionDisputes.StepOpening calldata next,
        bytes32 salt
    ) external;

    /// @notice Fraud: a step's sums root (the sums over positions >= its own) is not the next
    ///         step's (or zeroRoot at position N - 1) with the slot's sum increased by the
    ///         step's value, or the slot's account is not the step's contributor, or the slot
    ///         is >= C.
    /// @param requestId The record's request id.
    /// @param opened A step.
    /// @param next The step after it (ignored at position N - 1).
    /// @param account The account at the step's slot in the next step's sums root.
    /// @param sum Its sum there.
    /// @param sumsProof The proof of (account, sum) at the slot in that sums root.
    /// @param salt The salt of the prover's commitment.
    function proveSum(
        bytes32 requestId,
        IAttributionDisputes.StepOpening calldata opened,
        IAttributionDisputes.StepOpening calldata next,
        address account,
        int256 sum,
        bytes32[] calldata sumsProof,
        bytes32 salt
    ) external;

    /// @notice Fraud: the first step's sums root (the sums over the whole trace) is not
    ///         finalRoot.
    /// @param requestId The record's request id.
    /// @param first The step at position 0.
    /// @param salt The salt of the prover's commitment.
    function proveEnd(bytes32 requestId, IAttributionDisputes.StepOpening calldata first, bytes32 salt) external;

    /// @notice Fraud: a roster item lies strictly between two adjacent steps in (distance,
    ///         index) order, or strictly after the last step: the trace skipped it.
    /// @param requestId The record's request id.
    /// @param opened A step.
    /// @param next The step after it (ignored at position N - 1).
    /// @param item The skipped roster item.
    /// @param itemProof Its proof in the items root.
    /// @param query The dispute's quantised input.
    /// @param salt The salt of the prover's commitment.
    function proveSkip(
        bytes32 requestId,
        IAttributionDisputes.StepOpening calldata opened,
        IAttributionDisputes.StepOpening calldata next,
        DataItem calldata item,
        bytes32[] calldata itemProof,
        int256[] calldata query,
        bytes32 salt
    ) external;

    /// @notice Opens the caller's descent into the responded trace tree, posting disputeBond
    ///         (within responseWindow of the response; one per caller and round). The responder
    ///         side then reveals and the caller picks, each on its own chess clock of
    ///         responseWindow (design.md "The descent").
    function descend(bytes32 requestId) external payable;

    /// @notice Reveals the 2^min(DESCENT_BITS, height) nodes below `challenger`'s descent node
    ///         (anyone may: they are checked against the node).
    function revealNodes(bytes32 requestId, address challenger, bytes32[] calldata nodes)
        external;

    /// @notice Reveals the trace step whose leaf `challenger`'s descent reached (anyone may).
    function revealStep(bytes32 requestId, address challenger, TraceStep calldata step) external;

    /// @notice The caller's pick among the revealed nodes (resent: checked against the node).
    ///         A pick into padding (positions >= N) whose node is not the all-zero subtree is
    ///         fraud (PADDING: slash, the reward to the caller); into all-zero padding, NotFraud.
    function pick(bytes32 requestId, bytes32[] calldata nodes, uint256 choice) external;

    /// @notice Settles `challenger`'s descent (anyone may): voided by a reopen or an ended
    ///         dispute: bond back; else after its deadline the side to move lost: the
    ///         challenger (bond to the worker's operator) or the responder side (NO_REVEAL
    ///         fraud, reward and bond to the challenger).
    function settleDescent(bytes32 requestId, address challenger) external;

    /// @notice Fraud: two positions of the trace name the same item.
    /// @param requestId The record's request id.
    /// @param a A step.
    /// @param b Another step (another position) naming the same item.
    /// @param salt The salt of the prover's commitment.
    function proveDuplicate(
        bytes32 requestId,
        IAttributionDisputes.StepOpening calldata a,
        IAttributionDisputes.StepOpening calldata b,
        bytes32 salt
    ) external;

}
