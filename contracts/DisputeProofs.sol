// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDisputeProofs} from "./interfaces/IDisputeProofs.sol";
import {IInferenceRegistry} from "./interfaces/IInferenceRegistry.sol";
import {IndexedMerkle} from "./libraries/IndexedMerkle.sol";
import {IntegerAttribution} from "./libraries/IntegerAttribution.sol";
import {SlasherCore} from "./SlasherCore.sol";
import {OutputDisputes} from "./OutputDisputes.sol";
import {DataItem, TraceStep, Inference, AttributionSpec, Share, Unauthorized, sumsLeaf} from "./Common.sol";

/// @title DisputeProofs
/// @notice The proof half of the attribution-dispute game (IDisputeProofs): the one-step fraud
///         proofs and the descent into the worker's trace tree. Deployed by the Slasher's
///         constructor and run only by DELEGATECALL from the Slasher's fallback, on the
///         Slasher's storage (both are SlasherCore: one storage layout, no variable of their
///         own). Called directly it sees its own empty storage: every dispute is NONE and
///         every call reverts (WrongDisputeState). Its fallback serves the output disputes
///         (OutputDisputes) the same way, one DELEGATECALL further.
contract DisputeProofs is IDisputeProofs, SlasherCore {
    // OutputDisputes (IOutputDisputes): deployed on its own (the Slasher's initcode, which
    // holds this contract's, would pass the EIP-3860 limit with it) with the same parameters.
    address private immutable _outputs;

    constructor(
        IInferenceRegistry registry_,
        address treasury_,
        uint256 disputeBond_,
        uint64 responseWindow_,
        OutputDisputes outputs_
    ) SlasherCore(registry_, treasury_, disputeBond_, responseWindow_) {
        // Same parameters, or its slashing and bonds would not be this game's.
        if (
            address(outputs_.registry()) != address(registry_) || outputs_.treasury() != treasury_
                || outputs_.disputeBond() != disputeBond_
                || outputs_.responseWindow() != responseWindow_
        ) revert OutputsMismatch();
        _outputs = address(outputs_);
    }

    /// @notice The OutputDisputes given to the constructor was built with other parameters.
    error OutputsMismatch();

    /// @dev Plain transfers are refused (the fallback serves calls only).
    receive() external payable {
        revert Unauthorized();
    }

    /// @notice Serves IOutputDisputes: any other selector runs in OutputDisputes, on the
    ///         storage this call runs on (the Slasher's, reached by its own fallback).
    fallback() external payable {
        address outputs = _outputs;
        // Not memory-safe, and needs not be: the call ends here with return or revert.
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), outputs, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    // The Slasher serves these itself; here they would only be dead weight (their code is most
    // of the challenge's and the response's checks), so they are left out of this contract.

    /// @dev Not served here: call the Slasher.
    function challenge(Inference calldata, bytes calldata, bytes32, bytes calldata, AttributionSpec calldata)
        external
        payable
        override
    {
        revert Unauthorized();
    }

    /// @dev Not served here: call the Slasher.
    function challengeLeaf(
        bytes32,
        Inference calldata,
        bytes32[] calldata,
        bytes calldata,
        bytes32,
        bytes calldata,
        AttributionSpec calldata
    ) external payable override {
        revert Unauthorized();
    }

    /// @dev Not served here: call the Slasher.
    function respond(bytes32, bytes32, string calldata, int256[] calldata, address[] calldata, Share[] calldata)
        external
        payable
        override
    {
        revert Unauthorized();
    }

    /// @inheritdoc IDisputeProofs
    function proveItem(
        bytes32 requestId,
        StepOpening calldata opened,
        DataItem calldata item,
        bytes32[] calldata itemProof,
        int256[] calldata query,
        bytes32 salt
    ) external nonReentrant {
        Dispute storage dispute = _provable(requestId);
        TraceStep calldata step = _open(dispute, opened);
        if (step.item < dispute.n) {
            if (item.index != step.item) revert InvalidItemProof(step.item);
            uint256 distance = _distance(dispute, item, itemProof, query);
            if (
                item.contributor == step.contributor && item.label == step.label
                    && distance == step.distance
            ) revert NotFraud();
        }
        _fraud(requestId, dispute, FraudKind.ITEM, opened.position, salt);
    }

    /// @inheritdoc IDisputeProofs
    function proveSkip(
        bytes32 requestId,
        StepOpening calldata opened,
        StepOpening calldata next,
        DataItem calldata item,
        bytes32[] calldata itemProof,
        int256[] calldata query,
        bytes32 salt
    ) external nonReentrant {
        Dispute storage dispute = _provable(requestId);
        TraceStep calldata step = _open(dispute, opened);
        uint256 distance = _distance(dispute, item, itemProof, query);
        // Strictly after the step, and strictly before the next one (if any): honest adjacent
        // steps are adjacent in the whole roster's (distance, index) order.
        if (!_before(step.distance, step.item, distance, item.index)) revert NotFraud();
        if (opened.position + 1 != dispute.n) {
            TraceStep calldata after_ = _openNext(dispute, opened, next);
            if (!_before(distance, item.index, after_.distance, after_.item)) revert NotFraud();
        }
        _fraud(requestId, dispute, FraudKind.SKIP, opened.position, salt);
    }

    /// @inheritdoc IDisputeProofs
    function proveOrder(
        bytes32 requestId,
        StepOpening calldata opened,
        StepOpening calldata next,
        bytes32 salt
    ) external nonReentrant {
        Dispute storage dispute = _provable(requestId);
        TraceStep calldata step = _open(dispute, opened);
        TraceStep calldata after_ = _openNext(dispute, opened, next);
        if (_before(step.distance, step.item, after_.distance, after_.item)) revert NotFraud();
        _fraud(requestId, dispute, FraudKind.ORDER, opened.position, salt);
    }

    /// @inheritdoc IDisputeProofs
    function proveValue(
        bytes32 requestId,
        StepOpening calldata opened,
        StepOpening calldata next,
        bytes32 salt
    ) external nonReentrant {
        Dispute storage dispute = _provable(requestId);
        TraceStep calldata step = _open(dispute, opened);
        uint256 label = dispute.label;
        bool matches = step.label == label;
        int256 expected;
        if (opened.position + 1 == dispute.n) {
            expected = IntegerAttribution.farValue(matches, dispute.n, dispute.k);
        } else {
            TraceStep calldata after_ = _openNext(dispute, opened, next);
            expected = after_.value
                + IntegerAttribution.stepDelta(
                    matches, after_.label == label, opened.position + 1, dispute.k
                );
        }
        if (step.value == expected) revert NotFraud();
        _fraud(requestId, dispute, FraudKind.VALUE, opened.position, salt);
    }

    /// @inheritdoc IDisputeProofs
    function proveSum(
        bytes32 requestId,
        StepOpening calldata opened,
        StepOpening calldata next,
        address account,
        int256 sum,
        bytes32[] calldata sumsProof,
        bytes32 salt
    ) external nonReentrant {
        Dispute storage dispute = _provable(requestId);
        TraceStep calldata step = _open(dispute, opened);
        // Suffix sums: a step's root is the next step's (zeroRoot after the last) updated.
        bytes32 before = dispute.zeroRoot;
        if (opened.position + 1 != dispute.n) before = _openNext(dispute, opened, next).sumsRoot;
        uint256 c = dispute.contributors;
        if (step.slot < c) {
            if (
                !IndexedMerkle.verify(before, c, sumsLeaf(account, sum), step.slot, sumsProof)
            ) revert InvalidSumsProof(step.slot);
            bytes32 afterRoot = IndexedMerkle.processProof(
                sumsLeaf(account, sum + step.value), step.slot, sumsProof
            );
            if (account == step.contributor && afterRoot == step.sumsRoot) revert NotFraud();
        }
        _fraud(requestId, dispute, FraudKind.SUM, opened.position, salt);
    }

    /// @inheritdoc IDisputeProofs
    function proveEnd(bytes32 requestId, StepOpening calldata first, bytes32 salt)
        external
        nonReentrant
    {
        Dispute storage dispute = _provable(requestId);
        if (first.position != 0) revert BadPosition(first.position);
        if (_open(dispute, first).sumsRoot == dispute.finalRoot) revert NotFraud();
        _fraud(requestId, dispute, FraudKind.END, 0, salt);
    }

    /// @inheritdoc IDisputeProofs
    function proveDuplicate(
        bytes32 requestId,
        StepOpening calldata a,
        StepOpening calldata b,
        bytes32 salt
    ) external nonReentrant {
        Dispute storage dispute = _provable(requestId);
        if (a.position == b.position) revert BadPosition(b.position);
        if (_open(dispute, a).item != _open(dispute, b).item) revert NotFraud();
        _fraud(requestId, dispute, FraudKind.DUPLICATE, a.position, salt);
    }

    // ------------------------------------------------------------------ the descent

    /// @inheritdoc IDisputeProofs
    function descend(bytes32 requestId) external payable nonReentrant {
        Dispute storage dispute = _provable(requestId);
        if (msg.value != disputeBond) revert IncorrectBond(disputeBond, msg.value);
        uint64 window = responseWindow;
        // Opened within one window of the response: it ends by the proof deadline.
        if (block.timestamp + 2 * uint256(window) > dispute.deadline) {
            revert DeadlinePassed(dispute.deadline - 2 * window);
        }
        Descent storage d = _descents[requestId][msg.sender];
        uint8 round = dispute.round;
        if (d.open) {
            if (d.round == round) revert DescentExists(msg.sender);
            _credit(msg.sender, disputeBond); // a voided descent of the round before
        }
        uint64 revealBy = uint64(block.timestamp) + window;
        d.node = dispute.traceRoot;
        d.index = 0;
        d.height = uint8(IndexedMerkle.depthOf(dispute.n));
        d.challengerTurn = false;
        d.open = true;
        d.round = round;
        d.deadline = revealBy;
        d.otherClock = window;
        ++dispute.descents;
        emit DescentOpened(requestId, msg.sender, revealBy);
    }

    /// @inheritdoc IDisputeProofs
    function revealNodes(bytes32 requestId, address challenger, bytes32[] calldata nodes)
        external
        nonReentrant
    {
        Descent storage d = _moving(requestId, challenger, false);
        uint256 height = d.height;
        if (height == 0 || nodes.length != _width(height) || _rootOf(nodes) != d.node) {
            revert BadReveal();
        }
        emit NodesRevealed(requestId, challenger, d.index, height, nodes);
        _moved(d);
    }

    /// @inheritdoc IDisputeProofs
    function revealStep(bytes32 requestId, address challenger, TraceStep calldata step)
        external
        nonReentrant
    {
        Descent storage d = _moving(requestId, challenger, false);
        if (d.height != 0 || keccak256(abi.encode(step)) != d.node) revert BadReveal();
        emit StepRevealed(requestId, challenger, d.index, step);
        _moved(d);
    }

    /// @inheritdoc IDisputeProofs
    function pick(bytes32 requestId, bytes32[] calldata nodes, uint256 choice)
        external
        nonReentrant
    {
        Descent storage d = _moving(requestId, msg.sender, true);
        uint256 height = d.height;
        uint256 width = _width(height);
        if (height == 0 || nodes.length != width || choice >= width || _rootOf(nodes) != d.node) {
            revert BadReveal();
        }
        bytes32 node = nodes[choice];
        height -= _log2(width);
        uint256 index = d.index * width + choice;
        if (index << height >= _disputes[requestId].n) {
            // All padding: the honest subtree is all zeros.
            bytes32 zero = bytes32(0);
            for (uint256 h; h < height; ++h) zero = IndexedMerkle.hashPair(zero, zero);
            if (node == zero) revert NotFraud();
            _settle(requestId, d, msg.sender);
            _lost(requestId, _disputes[requestId], FraudKind.PADDING, index << height, msg.sender);
            return;
        }
        d.node = node;
        d.index = uint64(index);
        d.height = uint8(height);
        _moved(d);
    }

    /// @inheritdoc IDisputeProofs
    function settleDescent(bytes32 requestId, address challenger) external nonReentrant {
        Descent storage d = _descents[requestId][challenger];
        if (!d.open) revert NoDescent(challenger);
        Dispute storage dispute = _disputes[requestId];
        if (d.round != dispute.round || dispute.state != DisputeState.RESPONDED) {
            d.open = false; // voided: a reopen, or the dispute ended
            _credit(challenger, disputeBond);
            emit DescentSettled(requestId, challenger, false);
            return;
        }
        if (block.timestamp <= d.deadline) revert DeadlineNotReached(d.deadline);
        if (d.challengerTurn) {
            d.open = false;
            --dispute.descents;
            _credit(_operatorOf(dispute.worker), disputeBond);
            emit DescentSettled(requestId, challenger, true);
        } else {
            _settle(requestId, d, challenger);
            _lost(requestId, dispute, FraudKind.NO_REVEAL, d.index << d.height, challenger);
        }
    }
}
