// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IAttributionDisputes} from "./interfaces/IAttributionDisputes.sol";
import {IInferenceRegistry} from "./interfaces/IInferenceRegistry.sol";
import {IndexedMerkle} from "./libraries/IndexedMerkle.sol";
import {IntegerAttribution} from "./libraries/IntegerAttribution.sol";
import {
    Inference,
    Share,
    AttributionSpec,
    DataItem,
    TraceStep,
    PROOF_ZK,
    TIMESTAMP_WINDOW,
    WINDOW_MARGIN,
    MIN_RESPONSE_WINDOW,
    DISPUTE_WINDOWS,
    DESCENT_BITS,
    MAX_ROSTER_ITEMS,
    Unauthorized,
    ZeroAddress,
    MODELS_SLOT,
    WORKERS_SLOT,
    BATCHES_SLOT,
    BATCH_TIME_SHIFT,
    MODEL_CONTRIBUTORS_HASH_WORD,
    MODEL_DATA_ROOT_WORD,
    mappingSlot,
    batchLeafHash,
    toBatchId,
    toLeafDisputeId,
    sumsLeaf,
    findingCommitment,
    fraudEvidenceId
} from "./Common.sol";

/// @title AttributionDisputes
/// @notice The attribution-dispute game (IAttributionDisputes): challenge, response, one-step
///         fraud proofs, timeouts. Abstract: the Slasher inherits it and supplies the slashing
///         and the pull-payment balances.
abstract contract AttributionDisputes is IAttributionDisputes, ReentrancyGuard {
    /// @inheritdoc IAttributionDisputes
    uint256 public immutable disputeBond;
    /// @inheritdoc IAttributionDisputes
    uint64 public immutable responseWindow;

    // offchain.privacy: outputSalt = keccak256("attestia.output-salt.v1" || input salt).
    bytes23 private constant OUTPUT_SALT_DOMAIN = "attestia.output-salt.v1";

    mapping(bytes32 requestId => Dispute) internal _disputes;

    mapping(bytes32 requestId => mapping(address challenger => Descent)) internal _descents;

    // The block of each finder's commitment (Common.findingCommitment); 0: none.
    mapping(bytes32 commitment => uint256 blockNumber) private _findings;

    constructor(IInferenceRegistry registry_, uint256 disputeBond_, uint64 responseWindow_) {
        if (address(registry_) == address(0)) revert ZeroAddress();
        // Every record's dispute must end while the worker's stake is still slashable: a
        // worker records only while bonded, so its last record's dispute ends by
        // timestamp(<= unbonding start + 15 min) + challengeWindow + DISPUTE_WINDOWS *
        // responseWindow; WINDOW_MARGIN more so that the last second of a proof is never a
        // second in which the stake can leave (issue 17, attack 4).
        uint256 needed = uint256(registry_.challengeWindow()) + TIMESTAMP_WINDOW
            + DISPUTE_WINDOWS * uint256(responseWindow_) + WINDOW_MARGIN;
        if (responseWindow_ < MIN_RESPONSE_WINDOW) {
            revert ResponseWindowTooShort(MIN_RESPONSE_WINDOW, responseWindow_);
        }
        if (registry_.unbondingDelay() < needed) {
            revert ResponseWindowTooLong(needed, registry_.unbondingDelay());
        }
        if (disputeBond_ == 0 || disputeBond_ > type(uint96).max) revert BadBond(disputeBond_);
        disputeBond = disputeBond_;
        responseWindow = responseWindow_;
    }

    /// @notice The registry's unbonding delay does not cover the challenge window, the dispute
    ///         windows and WINDOW_MARGIN (needed = challengeWindow + TIMESTAMP_WINDOW +
    ///         DISPUTE_WINDOWS * responseWindow + WINDOW_MARGIN).
    error ResponseWindowTooLong(uint256 needed, uint256 unbondingDelay);
    /// @notice The response window is shorter than MIN_RESPONSE_WINDOW: a finder's commitment
    ///         and its reveal need two inclusions inside it.
    error ResponseWindowTooShort(uint256 minimum, uint256 responseWindow);
    /// @notice The dispute bond must be positive and fit 96 bits.
    error BadBond(uint256 bond);

    // ------------------------------------------------------------------ finders

    /// @inheritdoc IAttributionDisputes
    function commitFinding(bytes32 commitment) external {
        // The first block counts: a copy of the commitment (anyone may send one) changes
        // nothing, as the finder's address is inside it.
        if (_findings[commitment] != 0) return;
        _findings[commitment] = block.number;
        emit FindingCommitted(commitment, msg.sender);
    }

    /// @inheritdoc IAttributionDisputes
    function findingCommittedAt(bytes32 commitment) external view returns (uint256) {
        return _findings[commitment];
    }

    // ------------------------------------------------------------------ the game

    /// @inheritdoc IAttributionDisputes
    function challenge(
        Inference calldata record,
        bytes calldata input,
        bytes32 salt,
        bytes calldata output,
        AttributionSpec calldata spec
    ) external payable virtual nonReentrant {
        IInferenceRegistry registry = _registry();
        bytes32 requestId = record.requestId;
        if (registry.requestState(requestId) != registry.hashInference(record)) {
            revert RecordNotFound(requestId);
        }
        _openDispute(requestId, record, record.timestamp, input, salt, output, spec);
    }

    /// @inheritdoc IAttributionDisputes
    function challengeLeaf(
        bytes32 batchId,
        Inference calldata leaf,
        bytes32[] calldata proof,
        bytes calldata input,
        bytes32 salt,
        bytes calldata output,
        AttributionSpec calldata spec
    ) external payable virtual nonReentrant {
        // The batch slot (Common: deposit << 96 | committedAt << 32 | count) is non-zero once
        // committed (count > 0), and the batch id binds the root to the leaf's model and worker.
        uint256 packed = uint256(_registry().extsload(mappingSlot(batchId, BATCHES_SLOT)));
        if (packed == 0) revert BatchNotFound(batchId);
        bytes32 leafHash = batchLeafHash(leaf);
        bytes32 root = MerkleProof.processProofCalldata(proof, leafHash);
        if (toBatchId(root, leaf.modelId, leaf.worker) != batchId) revert LeafNotInBatch(batchId);
        bytes32 disputeId = toLeafDisputeId(batchId, leafHash);
        // The window runs from the commit (the registry's clock), as a single record's from a
        // timestamp the registry bounded: the worker was active then, so the window closes
        // inside the stake's unbonding delay (the constructor's inequality).
        _openDispute(
            disputeId, leaf, uint64(packed >> BATCH_TIME_SHIFT), input, salt, output, spec
        );
        emit LeafChallenged(disputeId, batchId, leafHash);
    }

    /// @inheritdoc IAttributionDisputes
    function respond(
        bytes32 requestId,
        bytes32 traceRoot,
        string calldata traceURI,
        int256[] calldata totals,
        address[] calldata roster,
        Share[] calldata shares
    ) external payable virtual nonReentrant {
        Dispute storage dispute = _inState(requestId, DisputeState.OPEN);
        if (block.timestamp > dispute.deadline) revert DeadlinePassed(dispute.deadline);
        address worker = dispute.worker;
        if (msg.sender != worker && msg.sender != _operatorOf(worker)) {
            // Defence by anyone (design.md): a bonded third party, once; a reopened dispute
            // is the worker's alone.
            if (dispute.round != 0 || msg.value != disputeBond) revert ThirdPartyResponse();
            dispute.defender = msg.sender;
        } else if (msg.value != 0) {
            revert IncorrectBond(0, msg.value);
        }
        _checkTotals(dispute, totals, roster, shares);
        (bytes32 zeroRoot, bytes32 finalRoot) = _sumsRoots(roster, totals);
        // Descents open until one window from now; each ends within its two chess clocks.
        uint64 proveBy = uint64(block.timestamp) + 3 * responseWindow;
        dispute.state = DisputeState.RESPONDED;
        dispute.deadline = proveBy;
        dispute.contributors = uint64(roster.length);
        dispute.traceRoot = traceRoot;
        dispute.zeroRoot = zeroRoot;
        dispute.finalRoot = finalRoot;
        emit DisputeResponded(requestId, traceRoot, traceURI, totals, proveBy);
    }

    /// @inheritdoc IAttributionDisputes
    function resolve(bytes32 requestId) external nonReentrant {
        Dispute storage dispute = _disputes[requestId];
        DisputeState state = dispute.state;
        if (state != DisputeState.OPEN && state != DisputeState.RESPONDED) {
            revert WrongDisputeState(requestId, state);
        }
        uint64 deadline = dispute.deadline;
        if (block.timestamp <= deadline) revert DeadlineNotReached(deadline);
        uint256 bond = dispute.bond;
        if (state == DisputeState.OPEN) {
            dispute.state = DisputeState.NO_RESPONSE;
            dispute.kind = FraudKind.NO_RESPONSE;
            address challenger = dispute.challenger;
            _credit(challenger, bond);
            uint256 slashed = _slashFor(dispute.worker, challenger);
            emit DisputeResolved(
                requestId, DisputeState.NO_RESPONSE, FraudKind.NO_RESPONSE, 0, msg.sender, slashed
            );
        } else {
            if (dispute.descents != 0) revert DescentsOpen(dispute.descents);
            dispute.state = DisputeState.WORKER_WON;
            _credit(_operatorOf(dispute.worker), bond);
            address defender = dispute.defender;
            if (defender != address(0)) _credit(defender, disputeBond);
            emit DisputeResolved(requestId, DisputeState.WORKER_WON, FraudKind.NONE, 0, msg.sender, 0);
        }
    }

    /// @inheritdoc IAttributionDisputes
    function getDescent(bytes32 requestId, address challenger)
        external
        view
        returns (Descent memory)
    {
        return _descents[requestId][challenger];
    }

    /// @inheritdoc IAttributionDisputes
    function getDispute(bytes32 requestId) external view returns (Dispute memory) {
        return _disputes[requestId];
    }

    // ------------------------------------------------------------------ hooks (Slasher)

    /// @dev The registry whose records are disputed.
    function _registry() internal view virtual returns (IInferenceRegistry);

    /// @dev Slashes the worker's whole stake, rewarding `reporter`; returns the wei slashed
    ///      (0 when there is nothing left to slash: the dispute still ends).
    function _slashFor(address worker, address reporter) internal virtual returns (uint256);

    /// @dev Credits a withdrawable balance.
    function _credit(address account, uint256 amount) internal virtual;

    /// @dev Spends msg.sender's commitment to `evidenceId` (Common.findingCommitment): it must
    ///      exist and be from an earlier block. Every call that pays its sender starts here.
    function _revealFinding(bytes32 evidenceId, bytes32 salt) internal {
        bytes32 commitment = findingCommitment(msg.sender, evidenceId, salt);
        uint256 committedAt = _findings[commitment];
        if (committedAt == 0) revert FindingNotCommitted(commitment);
        if (block.number <= committedAt) revert RevealTooEarly(committedAt);
        delete _findings[commitment];
    }

    // ------------------------------------------------------------------ internals

    // The body of both challenges, once the record is shown to be the registry's: one
    // dispute per id, inside the window from `from`, the challenger bound as a finder, the
    // revealed input and output opening the record's commitments.
    function _openDispute(
        bytes32 disputeId,
        Inference calldata record,
        uint64 from,
        bytes calldata input,
        bytes32 salt,
        bytes calldata output,
        AttributionSpec calldata spec
    ) private {
        if (msg.value != disputeBond) revert IncorrectBond(disputeBond, msg.value);
        // The challenger is paid on NO_RESPONSE: bound like any finder, with the input salt as
        // the commitment's salt (secret until this call reveals it, so nobody else can have
        // committed to it).
        _revealFinding(disputeId, salt);
        Dispute storage dispute = _disputes[disputeId];
        if (dispute.state != DisputeState.NONE) revert DisputeExists(disputeId);
        uint64 closesAt = from + _registry().challengeWindow();
        if (block.timestamp > closesAt) revert ChallengeWindowClosed(closesAt);
        if (keccak256(abi.encodePacked(salt, input)) != record.inputCommitment) {
            revert InputMismatch();
        }
        uint256 label = _label(record, salt, output);
        int256[] memory query = _query(record.modelId, input, spec);

        uint64 respondBy = uint64(block.timestamp) + responseWindow;
        dispute.challenger = msg.sender;
        dispute.state = DisputeState.OPEN;
        dispute.deadline = respondBy;
        dispute.worker = record.worker;
        dispute.bond = uint96(msg.value);
        dispute.modelId = record.modelId;
        dispute.attributionHash = record.attributionHash;
        dispute.queryHash = keccak256(abi.encode(query));
        dispute.itemsRoot = spec.itemsRoot;
        dispute.n = uint64(spec.n);
        dispute.k = uint64(spec.k);
        dispute.label = uint64(label);
        emit DisputeOpened(
            disputeId, record.worker, msg.sender, msg.value, label, query, respondBy
        );
    }

    // The quantised input, once the spec is shown to be the model's.
    function _query(bytes32 modelId, bytes calldata input, AttributionSpec calldata spec)
        internal
        view
        returns (int256[] memory)
    {
        bytes32 dataRoot = _modelWord(modelId, MODEL_DATA_ROOT_WORD);
        bytes32 specHash = keccak256(abi.encode(spec));
        if (specHash != dataRoot) revert SpecMismatch(dataRoot, specHash);
        if (spec.n > MAX_ROSTER_ITEMS) revert IntegerAttribution.BadSpec();
        return IntegerAttribution.quantize(input, spec);
    }

    function _label(Inference calldata record, bytes32 salt, bytes calldata output)
        internal
        pure
        returns (uint256)
    {
        if (record.proofKind == PROOF_ZK) {
            if (keccak256(output) != record.outputCommitment) revert OutputMismatch();
            return IntegerAttribution.labelOfInstances(output);
        }
        if (_outputCommitment(salt, output) != record.outputCommitment) revert OutputMismatch();
        return IntegerAttribution.labelOfTensor(output);
    }

    // A SIGNED/TEE record's output commitment of `output` under the input salt `salt`.
    function _outputCommitment(bytes32 salt, bytes calldata output)
        internal
        pure
        returns (bytes32)
    {
        bytes32 outputSalt = keccak256(abi.encodePacked(OUTPUT_SALT_DOMAIN, salt));
        return keccak256(abi.encodePacked(outputSalt, output));
    }

    function _inState(bytes32 requestId, DisputeState wanted)
        internal
        view
        returns (Dispute storage dispute)
    {
        dispute = _disputes[requestId];
        if (dispute.state != wanted) revert WrongDisputeState(requestId, dispute.state);
    }

    function _provable(bytes32 requestId) internal view returns (Dispute storage dispute) {
        dispute = _inState(requestId, DisputeState.RESPONDED);
        if (block.timestamp > dispute.deadline) revert DeadlinePassed(dispute.deadline);
    }

    // The response's roster is the model's, its shares the record's, and they follow from
    // its totals.
    function _checkTotals(
        Dispute storage dispute,
        int256[] calldata totals,
        address[] calldata roster,
        Share[] calldata shares
    ) internal view {
        bytes32 contributorsHash = _modelWord(dispute.modelId, MODEL_CONTRIBUTORS_HASH_WORD);
        if (keccak256(abi.encodePacked(roster)) != contributorsHash) revert RosterMismatch();
        if (totals.length != roster.length) {
            revert TotalsLengthMismatch(roster.length, totals.length);
        }
        if (keccak256(abi.encode(shares)) != dispute.attributionHash) revert SharesMismatch();
        if (!IntegerAttribution.sharesFollow(totals, roster, shares)) revert BpsDoNotFollow();
    }

    // One word of a registered model (the single field read, not a copy of the whole struct).
    function _modelWord(bytes32 modelId, uint256 word) internal view returns (bytes32) {
        return _registry().extsload(
            bytes32(uint256(mappingSlot(modelId, MODELS_SLOT)) + word)
        );
    }

    // A worker's operator: the low 160 bits of its first word (Common.Worker).
    function _operatorOf(address worker) internal view returns (address) {
        bytes32 slot = mappingSlot(bytes32(uint256(uint160(worker))), WORKERS_SLOT);
        return address(uint160(uint256(_registry().extsload(slot))));
    }

    // Running-sums roots with every sum 0 and with the totals.
    function _sumsRoots(address[] calldata roster, int256[] calldata totals)
        internal
        pure
        returns (bytes32 zeroRoot, bytes32 finalRoot)
    {
        uint256 c = roster.length;
        bytes32[] memory zeros = new bytes32[](c);
        bytes32[] memory finals = new bytes32[](c);
        for (uint256 i; i < c; ++i) {
            address account = roster[i];
            zeros[i] = sumsLeaf(account, 0);
            finals[i] = sumsLeaf(account, totals[i]);
        }
        zeroRoot = IndexedMerkle.rootOf(zeros);
        finalRoot = IndexedMerkle.rootOf(finals);
    }

    // The opened step, checked to be at its position of the trace root.
    function _open(Dispute storage dispute, StepOpening calldata opened)
        internal
        view
        returns (TraceStep calldata step)
    {
        uint256 position = opened.position;
        if (position >= dispute.n) revert BadPosition(position);
        step = opened.step;
        if (
            !IndexedMerkle.verify(
                dispute.traceRoot, dispute.n, keccak256(abi.encode(step)), position, opened.proof
            )
        ) revert InvalidStepProof(position);
    }

    function _openNext(
        Dispute storage dispute,
        StepOpening calldata opened,
        StepOpening calldata next
    ) internal view returns (TraceStep calldata) {
        if (next.position != opened.position + 1) revert BadPosition(next.position);
        return _open(dispute, next);
    }

    function _fraud(
        bytes32 requestId,
        Dispute storage dispute,
        FraudKind kind,
        uint256 position,
        bytes32 salt
    ) internal {
        _revealFinding(fraudEvidenceId(requestId, uint8(kind), position), salt);
        Descent storage d = _descents[requestId][msg.sender];
        if (d.open && d.round == dispute.round) _settle(requestId, d, msg.sender);
        _lost(requestId, dispute, kind, position, msg.sender);
    }

    // The response was proven wrong (by `by`, who is paid): a third party's loses its bond and
    // the dispute reopens for the worker alone; the worker's own is slashed.
    function _lost(
        bytes32 requestId,
        Dispute storage dispute,
        FraudKind kind,
        uint256 position,
        address by
    ) internal {
        address defender = dispute.defender;
        if (defender != address(0)) {
            _credit(by, disputeBond);
            uint64 respondBy = uint64(block.timestamp) + responseWindow;
            dispute.state = DisputeState.OPEN;
            dispute.deadline = respondBy;
            dispute.defender = address(0);
            dispute.round = 1;
            dispute.descents = 0;
            dispute.traceRoot = bytes32(0);
            emit DisputeReopened(requestId, defender, kind, by, respondBy);
            return;
        }
        dispute.state = DisputeState.FRAUD;
        dispute.kind = kind;
        _credit(dispute.challenger, dispute.bond);
        uint256 slashed = _slashFor(dispute.worker, by);
        emit DisputeResolved(requestId, DisputeState.FRAUD, kind, position, by, slashed);
    }

    // A descent won by its challenger: closed, its bond back.
    function _settle(bytes32 requestId, Descent storage d, address challenger) internal {
        d.open = false;
        --_disputes[requestId].descents;
        _credit(challenger, disputeBond);
        emit DescentSettled(requestId, challenger, false);
    }

    // The open descent of this round whose side to move is `challengerTurn`, before its clock
    // runs out.
    function _moving(bytes32 requestId, address challenger, bool challengerTurn)
        internal
        view
        returns (Descent storage d)
    {
        Dispute storage dispute = _inState(requestId, DisputeState.RESPONDED);
        d = _descents[requestId][challenger];
        if (!d.open || d.round != dispute.round) revert NoDescent(challenger);
        if (d.challengerTurn != challengerTurn) revert NotYourTurn();
        if (block.timestamp > d.deadline) revert DeadlinePassed(d.deadline);
    }

    // The chess clocks: the mover keeps what it did not spend; the other side's starts.
    function _moved(Descent storage d) internal {
        uint64 left = d.deadline - uint64(block.timestamp);
        d.deadline = uint64(block.timestamp) + d.otherClock;
        d.otherClock = left;
        d.challengerTurn = !d.challengerTurn;
    }

    // Nodes a reveal at `height` shows: 2^min(DESCENT_BITS, height).
    function _width(uint256 height) internal pure returns (uint256) {
        return uint256(1) << (height < DESCENT_BITS ? height : DESCENT_BITS);
    }

    function _log2(uint256 width) internal pure returns (uint256 bits) {
        while (width > 1) {
            width >>= 1;
            ++bits;
        }
    }

    function _rootOf(bytes32[] calldata nodes) internal pure returns (bytes32) {
        return IndexedMerkle.rootOf(nodes);
    }

    // (distance, index) order: a strictly before b.
    function _before(uint256 distanceA, uint256 indexA, uint256 distanceB, uint256 indexB)
        internal
        pure
        returns (bool)
    {
        return distanceA < distanceB || (distanceA == distanceB && indexA < indexB);
    }

    // A roster item, shown to be at its index of the items root, and its distance to the query.
    function _distance(
        Dispute storage dispute,
        DataItem calldata item,
        bytes32[] calldata itemProof,
        int256[] calldata query
    ) internal view returns (uint256) {
        if (
            !IndexedMerkle.verify(
                dispute.itemsRoot, dispute.n, keccak256(abi.encode(item)), item.index, itemProof
            )
        ) revert InvalidItemProof(item.index);
        if (keccak256(abi.encode(query)) != dispute.queryHash) revert QueryMismatch();
        // A roster item of the wrong width is the model owner's fault, not the worker's.
        if (item.features.length != query.length) revert InvalidItemProof(item.index);
        return IntegerAttribution.squaredDistance(item.features, query);
    }
}
