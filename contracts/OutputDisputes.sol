// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IOutputDisputes} from "./interfaces/IOutputDisputes.sol";
import {IInferenceRegistry} from "./interfaces/IInferenceRegistry.sol";
import {IndexedMerkle} from "./libraries/IndexedMerkle.sol";
import {IntegerInference} from "./libraries/IntegerInference.sol";
import {SlasherCore} from "./SlasherCore.sol";
import {
    Inference,
    AttributionSpec,
    ModelSpec,
    NeuronRow,
    Share,
    PROOF_ZK,
    BATCHES_SLOT,
    BATCH_TIME_SHIFT,
    MODEL_CONTENT_HASH_WORD,
    Unauthorized,
    mappingSlot,
    batchLeafHash,
    toBatchId,
    toLeafDisputeId,
    toOutputDisputeId,
    fraudEvidenceId
} from "./Common.sol";

/// @title OutputDisputes
/// @notice The output-dispute game (IOutputDisputes, issue 18): challenge a record's answer,
///         the responder's hidden activations, the one-neuron check, timeouts. Deployed on its own,
///         handed to the Slasher's constructor, and run only by DELEGATECALL from its fallback (itself
///         run by the Slasher's), on the Slasher's storage (SlasherCore: one layout). Called
///         directly it sees its own empty storage: every dispute is NONE and every call
///         reverts.
contract OutputDisputes is IOutputDisputes, SlasherCore {
    constructor(
        IInferenceRegistry registry_,
        address treasury_,
        uint256 disputeBond_,
        uint64 responseWindow_
    ) SlasherCore(registry_, treasury_, disputeBond_, responseWindow_) {}

    /// @notice The registry whose records are disputed (checked by the Slasher's constructor).
    function registry() external view returns (IInferenceRegistry) {
        return _reg;
    }

    /// @notice Credited the non-reporter part of every slashed stake.
    function treasury() external view returns (address) {
        return _treasury;
    }

    // The attribution game's entry points are the Slasher's; left out here (size).

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

    // ------------------------------------------------------------------ the game

    /// @inheritdoc IOutputDisputes
    function challengeOutput(
        Inference calldata record,
        bytes calldata input,
        bytes32 salt,
        bytes calldata output,
        AttributionSpec calldata spec,
        ModelSpec calldata model
    ) external payable nonReentrant {
        bytes32 requestId = record.requestId;
        if (_reg.requestState(requestId) != _reg.hashInference(record)) {
            revert RecordNotFound(requestId);
        }
        _openOutput(requestId, record, record.timestamp, input, salt, output, spec, model);
    }

    /// @inheritdoc IOutputDisputes
    function challengeOutputLeaf(
        bytes32 batchId,
        Inference calldata leaf,
        bytes32[] calldata proof,
        bytes calldata input,
        bytes32 salt,
        bytes calldata output,
        AttributionSpec calldata spec,
        ModelSpec calldata model
    ) external payable nonReentrant {
        (bytes32 recordId, uint64 committedAt) = _leaf(batchId, leaf, proof);
        _openOutput(recordId, leaf, committedAt, input, salt, output, spec, model);
    }

    /// @inheritdoc IOutputDisputes
    function respondOutput(bytes32 disputeId, int256[][] calldata hidden)
        external
        payable
        nonReentrant
    {
        OutputDispute storage d = _outputIn(disputeId, OutputState.OPEN);
        if (block.timestamp > d.deadline) revert DeadlinePassed(d.deadline);
        address worker = d.worker;
        if (msg.sender != worker && msg.sender != _operatorOf(worker)) {
            // Defence by anyone: a bonded third party, once; a reopened dispute is the
            // worker's alone.
            if (d.round != 0 || msg.value != disputeBond) revert ThirdPartyResponse();
            d.defender = msg.sender;
        } else if (msg.value != 0) {
            revert IncorrectBond(0, msg.value);
        }
        uint256 packed = d.widths;
        uint256 layers = IntegerInference.layers(packed);
        if (hidden.length != layers - 1) revert BadTrace(hidden.length);
        for (uint256 l = 1; l < layers; ++l) {
            int256[] calldata values = hidden[l - 1];
            if (values.length != IntegerInference.widthAt(packed, l)) revert BadTrace(l);
            _layerHashes[disputeId][l] = keccak256(abi.encode(values));
        }
        uint64 proveBy = uint64(block.timestamp) + responseWindow;
        d.state = OutputState.RESPONDED;
        d.deadline = proveBy;
        emit OutputResponded(disputeId, msg.sender, hidden, proveBy);
    }

    /// @inheritdoc IOutputDisputes
    function proveNeuron(
        bytes32 disputeId,
        NeuronOpening calldata opening,
        NeuronRow calldata row,
        bytes32[] calldata rowProof,
        bytes32 salt
    ) external nonReentrant {
        OutputDispute storage d = _outputIn(disputeId, OutputState.RESPONDED);
        if (block.timestamp > d.deadline) revert DeadlinePassed(d.deadline);
        uint256 layer = opening.layer;
        uint256 neuron = opening.neuron;
        bool last = _checkOpening(disputeId, d, opening);
        _checkRow(d, layer, neuron, row, rowProof, opening.previous.length);
        if (IntegerInference.neuron(opening.previous, row, last) == opening.claimed[neuron]) {
            revert NotFraud();
        }
        _revealFinding(
            fraudEvidenceId(disputeId, uint8(OutputFraud.NEURON), layer << 32 | neuron), salt
        );
        _outputLost(disputeId, d, OutputFraud.NEURON, layer, neuron);
    }

    /// @inheritdoc IOutputDisputes
    function resolveOutput(bytes32 disputeId) external nonReentrant {
        OutputDispute storage d = _outputDisputes[disputeId];
        OutputState state = d.state;
        if (state != OutputState.OPEN && state != OutputState.RESPONDED) {
            revert WrongOutputState(disputeId, state);
        }
        uint64 deadline = d.deadline;
        if (block.timestamp <= deadline) revert DeadlineNotReached(deadline);
        if (state == OutputState.OPEN) {
            _outputLost(disputeId, d, OutputFraud.NO_RESPONSE, 0, 0);
            return;
        }
        d.state = OutputState.WORKER_WON;
        _credit(_operatorOf(d.worker), d.bond);
        address defender = d.defender;
        if (defender != address(0)) _credit(defender, disputeBond);
        emit OutputDisputeResolved(
            disputeId, d.recordId, OutputState.WORKER_WON, OutputFraud.NONE, 0, 0, msg.sender, 0
        );
    }

    /// @inheritdoc IOutputDisputes
    function getOutputDispute(bytes32 disputeId) external view returns (OutputDispute memory) {
        return _outputDisputes[disputeId];
    }

    /// @inheritdoc IOutputDisputes
    function outputLayerHash(bytes32 disputeId, uint256 layer) external view returns (bytes32) {
        return _layerHashes[disputeId][layer];
    }

    /// @inheritdoc IOutputDisputes
    function outputDisputeIdOf(bytes32 recordId) external pure returns (bytes32) {
        return toOutputDisputeId(recordId);
    }

    // ------------------------------------------------------------------ internals

    // A batch leaf shown to be in its committed batch: (its leaf dispute id, the commit time).
    function _leaf(bytes32 batchId, Inference calldata leaf, bytes32[] calldata proof)
        private
        view
        returns (bytes32, uint64)
    {
        uint256 packed = uint256(_reg.extsload(mappingSlot(batchId, BATCHES_SLOT)));
        if (packed == 0) revert BatchNotFound(batchId);
        bytes32 leafHash = batchLeafHash(leaf);
        bytes32 root = MerkleProof.processProofCalldata(proof, leafHash);
        if (toBatchId(root, leaf.modelId, leaf.worker) != batchId) revert LeafNotInBatch(batchId);
        return (toLeafDisputeId(batchId, leafHash), uint64(packed >> BATCH_TIME_SHIFT));
    }

    // What a challenge computes from the revealed input and output.
    struct Opened {
        uint256 widths;
        int256[] input;
        int256[] logits;
        bool wellFormed;
    }

    // Both challenges, once the record is shown to be the registry's: one output dispute per
    // record, inside its window, the challenger bound as a finder (the input salt is the
    // commitment's salt), the revealed input and output opening the record's commitments,
    // both specs the model's.
    function _openOutput(
        bytes32 recordId,
        Inference calldata record,
        uint64 from,
        bytes calldata input,
        bytes32 salt,
        bytes calldata output,
        AttributionSpec calldata spec,
        ModelSpec calldata model
    ) private {
        bytes32 disputeId = _admit(recordId, record, from, input, salt, output);
        Opened memory o = _evaluate(record.modelId, input, output, spec, model);
        uint64 respondBy = uint64(block.timestamp) + responseWindow;
        OutputDispute storage d = _outputDisputes[disputeId];
        d.challenger = msg.sender;
        d.state = OutputState.OPEN;
        d.deadline = respondBy;
        d.worker = record.worker;
        d.bond = uint96(msg.value);
        d.recordId = recordId;
        d.modelId = record.modelId;
        d.weightsRoot = model.weightsRoot;
        d.widths = o.widths;
        _layerHashes[disputeId][0] = keccak256(abi.encode(o.input));
        _layerHashes[disputeId][IntegerInference.layers(o.widths)] = keccak256(abi.encode(o.logits));
        emit OutputDisputeOpened(
            disputeId, recordId, record.worker, msg.sender, msg.value, o.input, o.logits, respondBy
        );
        // An answer that is not integer logits of the model's width is wrong on its face.
        if (!o.wellFormed) _outputLost(disputeId, d, OutputFraud.MALFORMED_OUTPUT, 0, 0);
    }

    // The bond, the finder, one dispute per record, the window, the two commitments; the
    // dispute id.
    function _admit(
        bytes32 recordId,
        Inference calldata record,
        uint64 from,
        bytes calldata input,
        bytes32 salt,
        bytes calldata output
    ) private returns (bytes32 disputeId) {
        if (msg.value != disputeBond) revert IncorrectBond(disputeBond, msg.value);
        if (record.proofKind == PROOF_ZK) revert ZkRecord();
        disputeId = toOutputDisputeId(recordId);
        _revealFinding(disputeId, salt);
        OutputState state = _outputDisputes[disputeId].state;
        if (state != OutputState.NONE) revert DisputeExists(disputeId);
        uint64 closesAt = from + _reg.challengeWindow();
        if (block.timestamp > closesAt) revert ChallengeWindowClosed(closesAt);
        if (keccak256(abi.encodePacked(salt, input)) != record.inputCommitment) {
            revert InputMismatch();
        }
        if (_outputCommitment(salt, output) != record.outputCommitment) revert OutputMismatch();
    }

    // The quantised input (layer 0) and the stated logits (the last layer), once both specs
    // are shown to be the model's.
    function _evaluate(
        bytes32 modelId,
        bytes calldata input,
        bytes calldata output,
        AttributionSpec calldata spec,
        ModelSpec calldata model
    ) private view returns (Opened memory o) {
        o.widths = _widths(modelId, model);
        o.input = _query(modelId, input, spec);
        if (o.input.length != IntegerInference.widthAt(o.widths, 0)) revert BadModelSpec();
        uint256 labels = IntegerInference.widthAt(o.widths, IntegerInference.layers(o.widths));
        (o.wellFormed, o.logits) = IntegerInference.logitsOf(output, labels);
    }

    // The model spec, shown to be the model's, as packed widths.
    function _widths(bytes32 modelId, ModelSpec calldata model) private view returns (uint256) {
        bytes32 contentHash = _modelWord(modelId, MODEL_CONTENT_HASH_WORD);
        bytes32 specHash = keccak256(abi.encode(model));
        if (specHash != contentHash) revert ModelSpecMismatch(contentHash, specHash);
        (bool ok, uint256 packed) = IntegerInference.packWidths(model.widths);
        if (!ok) revert BadModelSpec();
        return packed;
    }

    // The opening's neuron exists and its two layers are the committed ones; whether its
    // layer is the last (no ReLU).
    function _checkOpening(bytes32 disputeId, OutputDispute storage d, NeuronOpening calldata o)
        private
        view
        returns (bool last)
    {
        uint256 packed = d.widths;
        uint256 layers = IntegerInference.layers(packed);
        uint256 layer = o.layer;
        if (layer == 0 || layer > layers || o.neuron >= IntegerInference.widthAt(packed, layer)) {
            revert InvalidRow(layer, o.neuron);
        }
        mapping(uint256 => bytes32) storage hashes = _layerHashes[disputeId];
        if (keccak256(abi.encode(o.previous)) != hashes[layer - 1]) revert LayerMismatch(layer - 1);
        if (keccak256(abi.encode(o.claimed)) != hashes[layer]) revert LayerMismatch(layer);
        last = layer == layers;
    }

    // The neuron's row, proven at its position of the weights root, with one weight per input.
    function _checkRow(
        OutputDispute storage d,
        uint256 layer,
        uint256 neuron,
        NeuronRow calldata row,
        bytes32[] calldata rowProof,
        uint256 fanIn
    ) private view {
        (uint256 position, uint256 rows) =
            IntegerInference.rowPosition(d.widths, layer - 1, neuron);
        if (
            row.layer != layer - 1 || row.neuron != neuron || row.weights.length != fanIn
                || !IndexedMerkle.verify(
                    d.weightsRoot, rows, keccak256(abi.encode(row)), position, rowProof
                )
        ) revert InvalidRow(layer, neuron);
    }

    function _outputIn(bytes32 disputeId, OutputState wanted)
        private
        view
        returns (OutputDispute storage d)
    {
        d = _outputDisputes[disputeId];
        if (d.state != wanted) revert WrongOutputState(disputeId, d.state);
    }

    // The answer was proven wrong (or not defended) by `msg.sender`: a third party's defence
    // loses its bond to the prover and the dispute reopens for the worker alone; otherwise the
    // worker is slashed, the prover rewarded, the challenger's bond returned.
    function _outputLost(
        bytes32 disputeId,
        OutputDispute storage d,
        OutputFraud kind,
        uint256 layer,
        uint256 neuron
    ) private {
        address defender = d.defender;
        if (defender != address(0)) {
            _credit(msg.sender, disputeBond);
            uint64 respondBy = uint64(block.timestamp) + responseWindow;
            d.state = OutputState.OPEN;
            d.deadline = respondBy;
            d.defender = address(0);
            d.round = 1;
            emit OutputDisputeReopened(disputeId, defender, msg.sender, respondBy);
            return;
        }
        d.state = kind == OutputFraud.NO_RESPONSE ? OutputState.NO_RESPONSE : OutputState.FRAUD;
        d.kind = kind;
        address challenger = d.challenger;
        _credit(challenger, d.bond);
        // No response: the challenger is the finder (a timeout's sender found nothing).
        address by = kind == OutputFraud.NO_RESPONSE ? challenger : msg.sender;
        uint256 slashed = _slashFor(d.worker, by);
        emit OutputDisputeResolved(disputeId, d.recordId, d.state, kind, layer, neuron, by, slashed);
    }
}
