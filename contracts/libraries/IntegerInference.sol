// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {NeuronRow, ACTIVATION_LIMIT, MAX_NETWORK_LAYERS, MAX_LAYER_WIDTH} from "../Common.sol";

/// @title IntegerInference
/// @notice The pure arithmetic of the integer network (design.md "Integer inference") that the
///         output dispute's one-step check needs: one neuron from the previous layer, the
///         integer logits a committed float32 output tensor states, and the layer widths of a
///         ModelSpec packed into one word. offchain.models.network computes the same bits.
library IntegerInference {
    // "ATTN", format 1, dtype float32 (1), ndim 2, reserved 0, then dims (1, n) big-endian.
    uint256 private constant HEADER = 0x4154544e01010200;
    uint256 private constant WIDTH_BITS = 12;

    /// @notice One neuron: acc = bias + sum_j weights[j] * previous[j] (exact), v = acc >>
    ///         shift (floor), clamped to +-ACTIVATION_LIMIT, then ReLU unless `last`.
    /// @dev The caller checks weights.length == previous.length. Checked arithmetic: a row
    ///      outside the packaging bound can only revert, never wrap.
    function neuron(int256[] calldata previous, NeuronRow calldata row, bool last)
        internal
        pure
        returns (int256 v)
    {
        int256 acc = row.bias;
        int256[] calldata w = row.weights;
        uint256 n = previous.length;
        for (uint256 j; j < n; ++j) {
            acc += w[j] * previous[j];
        }
        v = acc >> row.shift; // arithmetic: floor(acc / 2^shift), any shift
        if (v > ACTIVATION_LIMIT) v = ACTIVATION_LIMIT;
        if (v < -ACTIVATION_LIMIT) v = -ACTIVATION_LIMIT;
        if (!last && v < 0) v = 0;
    }

    /// @notice The integer logits L_i = x_i * 2^16 of a canonical (1, count) float32 tensor
    ///         whose values are all integer multiples of 2^-16 within +-ACTIVATION_LIMIT /
    ///         2^16; ok = false for any other bytes (a malformed or non-integer answer).
    function logitsOf(bytes calldata output, uint256 count)
        internal
        pure
        returns (bool ok, int256[] memory logits)
    {
        if (output.length != 16 + 4 * count) return (false, logits);
        if (uint256(uint64(bytes8(output[0:8]))) != HEADER) return (false, logits);
        if (uint32(bytes4(output[8:12])) != 1 || uint32(bytes4(output[12:16])) != count) {
            return (false, logits);
        }
        logits = new int256[](count);
        for (uint256 i; i < count; ++i) {
            uint256 offset = 16 + 4 * i;
            uint256 bits = uint256(uint8(output[offset])) | uint256(uint8(output[offset + 1])) << 8
                | uint256(uint8(output[offset + 2])) << 16 | uint256(uint8(output[offset + 3])) << 24;
            uint256 exponent = (bits >> 23) & 0xff;
            if (exponent == 0xff) return (false, logits);
            uint256 mantissa = bits & 0x7fffff;
            if (exponent == 0) exponent = 1;
            else mantissa |= 1 << 23;
            // value = mantissa * 2^(exponent - 150); times 2^16: mantissa * 2^(exponent - 134).
            uint256 magnitude = 0;
            if (exponent >= 134) {
                if (exponent - 134 > 24) return (false, logits); // far beyond the limit
                magnitude = mantissa << (exponent - 134);
            } else {
                uint256 down = 134 - exponent;
                if (down > 24) {
                    if (mantissa != 0) return (false, logits);
                } else {
                    if (mantissa & ((uint256(1) << down) - 1) != 0) return (false, logits);
                    magnitude = mantissa >> down;
                }
            }
            if (magnitude > uint256(ACTIVATION_LIMIT)) return (false, logits);
            logits[i] = bits >> 31 == 1 ? -int256(magnitude) : int256(magnitude);
        }
        ok = true;
    }

    /// @notice The widths packed into one word: the count in the low 8 bits, widths[i] - 1 in
    ///         the 12 bits from 8 + 12 i. ok = false unless 2 <= count <= MAX_NETWORK_LAYERS + 1
    ///         and every width is 1..MAX_LAYER_WIDTH.
    function packWidths(uint256[] calldata widths) internal pure returns (bool ok, uint256 packed) {
        uint256 count = widths.length;
        if (count < 2 || count > MAX_NETWORK_LAYERS + 1) return (false, 0);
        packed = count;
        for (uint256 i; i < count; ++i) {
            uint256 w = widths[i];
            if (w == 0 || w > MAX_LAYER_WIDTH) return (false, 0);
            packed |= (w - 1) << (8 + WIDTH_BITS * i);
        }
        ok = true;
    }

    /// @notice Dense layers in a packed word (widths count - 1).
    function layers(uint256 packed) internal pure returns (uint256) {
        return (packed & 0xff) - 1;
    }

    /// @notice Width i of a packed word (0: the input).
    function widthAt(uint256 packed, uint256 i) internal pure returns (uint256) {
        return ((packed >> (8 + WIDTH_BITS * i)) & 0xfff) + 1;
    }

    /// @notice The weights-tree position of neuron `neuron` of dense layer `layer` (0-based),
    ///         and the tree's leaf count (every neuron of every dense layer).
    function rowPosition(uint256 packed, uint256 layer, uint256 neuron_)
        internal
        pure
        returns (uint256 position, uint256 rows)
    {
        uint256 count = layers(packed);
        for (uint256 l; l < count; ++l) {
            uint256 w = widthAt(packed, l + 1);
            if (l < layer) position += w;
            rows += w;
        }
        position += neuron_;
    }
}
