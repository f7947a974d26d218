// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAttributionDisputes} from "../../../contracts/interfaces/IAttributionDisputes.sol";
import {IntegerAttribution} from "../../../contracts/libraries/IntegerAttribution.sol";
import {IndexedMerkle} from "../../../contracts/libraries/IndexedMerkle.sol";
import {
    Share, AttributionSpec, DataItem, TraceStep, BPS, sumsLeaf
} from "../../../contracts/Common.sol";

/// @notice The honest side of the attribution-dispute game, computed in Solidity for the
///         fuzz and invariant suites (offchain.dispute.game computes the same in Python): canonical
///         tensors, the model's spec, the integer KNN-Shapley trace with its running-sums roots,
///         the totals, the largest-remainder shares, and indexed Merkle proofs.
/// @dev Datasets are tiny (a few items of small integer features): quantisation with mu = 0
///      and rho = 2^32 maps a float32 feature x to floor(x), so items and queries are plain
///      integers 0..7 and a test can reason about distances by hand.
library DisputeGame {
    uint256 internal constant FEATURES = 2;
    // "ATTN", format 1, dtype float32, ndim 2, reserved 0 (IntegerAttribution.HEADER).
    bytes8 private constant HEADER = 0x4154544e01010200;
    bytes23 private constant OUTPUT_SALT_DOMAIN = "attestia.output-salt.v1";

    /// @dev The float32 bit pattern of v = 0..7.
    function float32(uint256 v) internal pure returns (uint32) {
        uint32[8] memory table =
            [uint32(0), 0x3f800000, 0x40000000, 0x40400000, 0x40800000, 0x40a00000, 0x40c00000, 0x40e00000];
        return table[v % 8];
    }

    /// @dev A canonical (1, values.length) float32 tensor of the integers `values` (0..7).
    function tensor(uint256[] memory values) internal pure returns (bytes memory out) {
        out = abi.encodePacked(HEADER, uint32(1), uint32(values.length));
        for (uint256 i; i < values.length; ++i) {
            uint32 bits = float32(values[i]);
            // Little-endian.
            out = abi.encodePacked(out, uint8(bits), uint8(bits >> 8), uint8(bits >> 16), uint8(bits >> 24));
        }
    }

    /// @dev Logits whose argmax is `label` (of two classes).
    function logits(uint256 label) internal pure returns (bytes memory) {
        uint256[] memory values = new uint256[](2);
        values[label % 2] = 1;
        return tensor(values);
    }

    /// @dev The record's inputCommitment for `input` under `salt`.
    function inputCommitment(bytes32 salt, bytes memory input) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(salt, input));
    }

    /// @dev The record's SIGNED outputCommitment (offchain.privacy's output salt from the input's).
    function outputCommitment(bytes32 salt, bytes memory output) internal pure returns (bytes32) {
        bytes32 outputSalt = keccak256(abi.encodePacked(OUTPUT_SALT_DOMAIN, salt));
        return keccak256(abi.encodePacked(outputSalt, output));
    }

    /// @dev The model's spec over `items` (dataRoot = keccak256(abi.encode(spec))).
    function spec(DataItem[] memory items, uint256 k) internal pure returns (AttributionSpec memory s) {
        s.itemsRoot = IndexedMerkle.rootOf(itemLeaves(items));
        s.n = items.length;
        s.k = k;
        s.mu = new int256[](FEATURES);
        s.rho = new int256[](FEATURES);
        for (uint256 j; j < FEATURES; ++j) s.rho[j] = int256(1 << 32);
    }

    function itemLeaves(DataItem[] memory items) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](items.length);
        for (uint256 i; i < items.length; ++i) leaves[i] = keccak256(abi.encode(items[i]));
    }

    /// @dev The quantised query of the integer input features (mu 0, rho 2^32: the identity).
    function query(uint256[] memory features) internal pure returns (int256[] memory z) {
        z = new int256[](features.length);
        for (uint256 j; j < features.length; ++j) z[j] = int256(features[j] % 8);
    }

    /// @dev The honest trace: items by (distance, index) ascending, values by the recursion
    ///      from the far end, running sums per roster slot; and the totals.
    function honestTrace(
        DataItem[] memory items,
        address[] memory roster,
        int256[] memory z,
        uint256 label,
        uint256 k
    ) internal pure returns (TraceStep[] memory steps, int256[] memory totals) {
        uint256 n = items.length;
        steps = new TraceStep[](n);
        for (uint256 i; i < n; ++i) {
            DataItem memory item = items[i];
            steps[i] = TraceStep({
                item: i,
                contributor: item.contributor,
                slot: slotOf(roster, item.contributor),
                label: item.label,
                distance: _distance(item.features, z),
                value: 0,
                sumsRoot: bytes32(0)
            });
        }
        // Insertion sort by (distance, item).
        for (uint256 i = 1; i < n; ++i) {
            TraceStep memory v = steps[i];
            uint256 j = i;
            while (j > 0 && _after(steps[j - 1], v)) {
                steps[j] = steps[j - 1];
                --j;
            }
            steps[j] = v;
        }
        steps[n - 1].value = IntegerAttribution.farValue(steps[n - 1].label == label, n, k);
        for (uint256 p = n - 1; p > 0; --p) {
            TraceStep memory step = steps[p - 1];
            step.value = steps[p].value
                + IntegerAttribution.stepDelta(step.label == label, steps[p].label == label, p, k);
        }
        totals = recomputeSums(steps, roster);
    }

    /// @dev Sets every step's sumsRoot from the values (suffix sums: step p's root holds the
    ///      sums over positions p..n-1, built from the far end); returns the final sums.
    function recomputeSums(TraceStep[] memory steps, address[] memory roster)
        internal
        pure
        returns (int256[] memory sums)
    {
        sums = new int256[](roster.length);
        for (uint256 p = steps.length; p > 0; --p) {
            sums[steps[p - 1].slot] += steps[p - 1].value;
            steps[p - 1].sumsRoot = sumsRoot(roster, sums);
        }
    }

    /// @dev The sums step p starts from: over the positions after p (of the values, whatever
    ///      the sumsRoots say).
    function sumsBefore(TraceStep[] memory steps, uint256 slots, uint256 p) internal pure returns (int256[] memory sums) {
        sums = new int256[](slots);
        for (uint256 i = p + 1; i < steps.length; ++i) sums[steps[i].slot] += steps[i].value;
    }

    function sumsLeaves(address[] memory roster, int256[] memory sums) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](roster.length);
        for (uint256 i; i < roster.length; ++i) leaves[i] = sumsLeaf(roster[i], sums[i]);
    }

    function sumsRoot(address[] memory roster, int256[] memory sums) internal pure returns (bytes32) {
        return IndexedMerkle.rootOf(sumsLeaves(roster, sums));
    }

    /// @dev The largest-remainder shares of `totals` over `roster` (clipped at 0; all zero: an
    ///      equal split; equal remainders to the lower slot), zero shares left out.
    function shares(int256[] memory totals, address[] memory roster) internal pure returns (Share[] memory out) {
        uint256 c = roster.length;
        uint256[] memory weight = new uint256[](c);
        uint256 whole;
        for (uint256 i; i < c; ++i) {
            if (totals[i] > 0) weight[i] = uint256(totals[i]);
            whole += weight[i];
        }
        if (whole == 0) {
            for (uint256 i; i < c; ++i) weight[i] = 1;
            whole = c;
        }
        uint256[] memory bps = new uint256[](c);
        uint256[] memory rem = new uint256[](c);
        uint256 left = BPS;
        for (uint256 i; i < c; ++i) {
            bps[i] = weight[i] * BPS / whole;
            rem[i] = weight[i] * BPS % whole;
            left -= bps[i];
        }
        bool[] memory bumped = new bool[](c);
        for (; left > 0; --left) {
            uint256 best = type(uint256).max;
            for (uint256 i; i < c; ++i) {
                if (!bumped[i] && (best == type(uint256).max || rem[i] > rem[best])) best = i;
            }
            bumped[best] = true;
            ++bps[best];
        }
        uint256 count;
        for (uint256 i; i < c; ++i) if (bps[i] != 0) ++count;
        out = new Share[](count);
        uint256 j;
        for (uint256 i; i < c; ++i) {
            if (bps[i] != 0) out[j++] = Share(roster[i], uint16(bps[i]));
        }
    }

    function traceLeaves(TraceStep[] memory steps) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](steps.length);
        for (uint256 i; i < steps.length; ++i) leaves[i] = keccak256(abi.encode(steps[i]));
    }

    function traceRoot(TraceStep[] memory steps) internal pure returns (bytes32) {
        return IndexedMerkle.rootOf(traceLeaves(steps));
    }

    /// @dev Step p of the trace with its proof in the trace root.
    function opening(TraceStep[] memory steps, uint256 p)
        internal
        pure
        returns (IAttributionDisputes.StepOpening memory)
    {
        return IAttributionDisputes.StepOpening(p, steps[p], proof(traceLeaves(steps), p));
    }

    /// @dev The indexed Merkle proof of leaf `position` (siblings from the leaf up).
    function proof(bytes32[] memory leaves, uint256 position) internal pure returns (bytes32[] memory siblings) {
        uint256 depth = IndexedMerkle.depthOf(leaves.length);
        uint256 width = uint256(1) << depth;
        bytes32[] memory level = new bytes32[](width);
        for (uint256 i; i < leaves.length; ++i) level[i] = leaves[i];
        siblings = new bytes32[](depth);
        for (uint256 d; d < depth; ++d) {
            siblings[d] = level[position ^ 1];
            width >>= 1;
            for (uint256 i; i < width; ++i) level[i] = IndexedMerkle.hashPair(level[2 * i], level[2 * i + 1]);
            position >>= 1;
        }
    }

    function slotOf(address[] memory roster, address account) internal pure returns (uint256) {
        for (uint256 i; i < roster.length; ++i) {
            if (roster[i] == account) return i;
        }
        revert("not in roster");
    }

    function sameShares(Share[] memory a, Share[] memory b) internal pure returns (bool) {
        return keccak256(abi.encode(a)) == keccak256(abi.encode(b));
    }

    function _distance(int256[] memory a, int256[] memory b) private pure returns (uint256 sum) {
        for (uint256 j; j < a.length; ++j) {
            int256 diff = a[j] - b[j];
            sum += uint256(diff * diff);
        }
    }

    function _after(TraceStep memory a, TraceStep memory b) private pure returns (bool) {
        return a.distance > b.distance || (a.distance == b.distance && a.item > b.item);
    }
}
