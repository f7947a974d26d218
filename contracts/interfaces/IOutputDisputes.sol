// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Inference, AttributionSpec, ModelSpec, NeuronRow} from "../Common.sol";

/// @title IOutputDisputes
/// @notice Anyone holding a record's input can dispute its answer (issue 18, design.md "The
///         output dispute"): the contract quantises the revealed input and reads the integer
///         logits from the revealed output; the worker (or anyone, with a bond, once) must
///         then post its hidden layers' activations, whose hashes the contract keeps; anyone
///         proves one neuron wrong from the previous layer and the neuron's row proven against
///         the model's weights root. Proven wrong or no response: the worker's stake is
///         slashed and the record's attribution is void (its contributor share goes by the
///         equal split, as for a lost attribution dispute).
/// @dev Served by the Slasher (through DisputeProofs' fallback, on the Slasher's storage).
interface IOutputDisputes {
    /// @notice Where an output dispute stands (as IAttributionDisputes.DisputeState).
    enum OutputState {
        NONE,
        OPEN,
        RESPONDED,
        FRAUD,
        NO_RESPONSE,
        WORKER_WON
    }

    /// @notice How the worker lost. NEURON: one neuron of its activations is not the
    ///         network's; MALFORMED_OUTPUT: its committed output is not a tensor of integer
    ///         logits of the model's width (proven by the challenge itself).
    enum OutputFraud {
        NONE,
        NO_RESPONSE,
        NEURON,
        MALFORMED_OUTPUT
    }

    /// @notice One record's output dispute. Layer hashes (keccak256(abi.encode(int256[])) of
    ///         layer l's activations; 0 the quantised input, the last the record's logits) are
    ///         kept beside it (outputLayerHash).
    struct OutputDispute {
        address challenger;
        uint64 deadline;
        OutputState state;
        OutputFraud kind;
        uint8 round;
        address worker;
        uint96 bond;
        address defender;
        bytes32 recordId;
        bytes32 modelId;
        bytes32 weightsRoot;
        uint256 widths;
    }

    /// @notice One neuron of a responded dispute and the two layers it is checked between.
    struct NeuronOpening {
        uint256 layer;
        uint256 neuron;
        int256[] previous;
        int256[] claimed;
    }

    /// @notice An output challenge: `input` the quantised input (layer 0), `logits` the
    ///         record's (the last layer). `disputeId` = outputDisputeIdOf(recordId).
    event OutputDisputeOpened(
        bytes32 indexed disputeId,
        bytes32 indexed recordId,
        address indexed worker,
        address challenger,
        uint256 bond,
        int256[] input,
        int256[] logits,
        uint64 respondBy
    );
    /// @notice The hidden layers (1 .. layers - 1) the responder posted; proofs are due by
    ///         proveBy.
    event OutputResponded(
        bytes32 indexed disputeId, address indexed responder, int256[][] hidden, uint64 proveBy
    );
    /// @notice A third party's defence was proven wrong: its bond went to the prover and the
    ///         worker alone may respond, by respondBy.
    event OutputDisputeReopened(
        bytes32 indexed disputeId, address indexed defender, address by, uint64 respondBy
    );
    /// @notice The dispute ended. layer/neuron: the neuron proven wrong (NEURON), else 0.
    event OutputDisputeResolved(
        bytes32 indexed disputeId,
        bytes32 indexed recordId,
        OutputState outcome,
        OutputFraud kind,
        uint256 layer,
        uint256 neuron,
        address by,
        uint256 slashed
    );

    /// @notice The record is a ZK record: its proof already binds its output.
    error ZkRecord();
    /// @notice keccak256(abi.encode(ModelSpec)) is not the model's registered contentHash.
    error ModelSpecMismatch(bytes32 expected, bytes32 actual);
    /// @notice The model's spec is outside the integer network's bounds, or its input width
    ///         is not its attribution spec's (the owner's fault: nothing to dispute).
    error BadModelSpec();
    /// @notice The output dispute is not in the state the call needs.
    error WrongOutputState(bytes32 disputeId, OutputState state);
    /// @notice The response's hidden layers do not have the model's widths.
    error BadTrace(uint256 layer);
    /// @notice The activations given are not the ones committed for this layer.
    error LayerMismatch(uint256 layer);
    /// @notice No such neuron, or its row is not proven at its position of the weights root.
    error InvalidRow(uint256 layer, uint256 neuron);

    /// @notice Challenge a single record's answer (the record as the registry holds it), within
    ///         its challenge window, posting disputeBond. Finder-bound: the sender committed
    ///         (commitFinding) to findingCommitment(sender, outputDisputeIdOf(requestId), salt)
    ///         in an earlier block. `spec` must be the model's dataRoot (the input's
    ///         quantisation), `model` its contentHash (weights root and widths).
    function challengeOutput(
        Inference calldata record,
        bytes calldata input,
        bytes32 salt,
        bytes calldata output,
        AttributionSpec calldata spec,
        ModelSpec calldata model
    ) external payable;

    /// @notice The same for a batch leaf with its inclusion proof; recordId = its leaf
    ///         dispute id.
    function challengeOutputLeaf(
        bytes32 batchId,
        Inference calldata leaf,
        bytes32[] calldata proof,
        bytes calldata input,
        bytes32 salt,
        bytes calldata output,
        AttributionSpec calldata spec,
        ModelSpec calldata model
    ) external payable;

    /// @notice The worker (or its operator; or anyone with disputeBond, once) posts the
    ///         activations of every hidden layer, by the deadline.
    function respondOutput(bytes32 disputeId, int256[][] calldata hidden) external payable;

    /// @notice Prove neuron `opening.neuron` of layer `opening.layer` (1 .. layers) wrong:
    ///         `opening.previous` and `opening.claimed` are the committed activations of layers
    ///         layer - 1 and layer, `row` the neuron's row (NeuronRow.layer = layer - 1) with its
    ///         weights-root proof. Finder-bound: evidence fraudEvidenceId(disputeId, NEURON,
    ///         layer << 32 | neuron).
    function proveNeuron(
        bytes32 disputeId,
        NeuronOpening calldata opening,
        NeuronRow calldata row,
        bytes32[] calldata rowProof,
        bytes32 salt
    ) external;

    /// @notice After the deadline: no response (the worker is slashed, the challenger's bond
    ///         back) or no proof (the worker's operator takes the bond).
    function resolveOutput(bytes32 disputeId) external;

    function getOutputDispute(bytes32 disputeId) external view returns (OutputDispute memory);

    /// @notice keccak256(abi.encode(int256[])) of layer `layer`'s committed activations.
    function outputLayerHash(bytes32 disputeId, uint256 layer) external view returns (bytes32);

    /// @notice keccak256(abi.encode(recordId, OUTPUT_DISPUTE_TAG)).
    function outputDisputeIdOf(bytes32 recordId) external pure returns (bytes32);
}
