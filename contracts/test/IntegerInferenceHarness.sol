// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {NeuronRow} from "../Common.sol";
import {IntegerInference} from "../libraries/IntegerInference.sol";
import {IndexedMerkle} from "../libraries/IndexedMerkle.sol";

/// @notice TEST ONLY: exposes the integer-inference library so the Python suite can compare it
///         with offchain.models.network bit for bit, and the output dispute's one-neuron check
///         (OutputDisputes.proveNeuron's arithmetic and row proof) on any network.
contract IntegerInferenceHarness {
    function neuron(int256[] calldata previous, NeuronRow calldata row, bool last)
        external
        pure
        returns (int256)
    {
        return IntegerInference.neuron(previous, row, last);
    }

    function logitsOf(bytes calldata output, uint256 count)
        external
        pure
        returns (bool ok, int256[] memory logits)
    {
        return IntegerInference.logitsOf(output, count);
    }

    function packWidths(uint256[] calldata widths) external pure returns (bool ok, uint256 packed) {
        return IntegerInference.packWidths(widths);
    }

    /// @notice Whether proveNeuron would find neuron `neuron` of layer `layer` (1-based) wrong
    ///         (reverts InvalidRow like it when the row is not proven).
    function isFraud(
        bytes32 weightsRoot,
        uint256 packed,
        uint256 layer,
        uint256 neuron_,
        int256[] calldata previous,
        int256[] calldata claimed,
        NeuronRow calldata row,
        bytes32[] calldata rowProof
    ) external pure returns (bool) {
        (uint256 position, uint256 rows) = IntegerInference.rowPosition(packed, layer - 1, neuron_);
        if (
            row.layer != layer - 1 || row.neuron != neuron_ || row.weights.length != previous.length
                || !IndexedMerkle.verify(weightsRoot, rows, keccak256(abi.encode(row)), position, rowProof)
        ) revert InvalidRow();
        bool last = layer == IntegerInference.layers(packed);
        return IntegerInference.neuron(previous, row, last) != claimed[neuron_];
    }

    error InvalidRow();
}
