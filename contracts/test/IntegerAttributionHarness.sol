// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Share, AttributionSpec} from "../Common.sol";
import {IntegerAttribution} from "../libraries/IntegerAttribution.sol";
import {IndexedMerkle} from "../libraries/IndexedMerkle.sol";

/// @notice TEST ONLY: exposes the pure integer-attribution and indexed-Merkle library functions
///         so the Python suite can compare them with offchain.attribution bit for bit.
contract IntegerAttributionHarness {
    function quantize(bytes calldata input, AttributionSpec calldata spec)
        external
        pure
        returns (int256[] memory)
    {
        return IntegerAttribution.quantize(input, spec);
    }

    function labelOfTensor(bytes calldata output) external pure returns (uint256) {
        return IntegerAttribution.labelOfTensor(output);
    }

    function labelOfInstances(bytes calldata packed) external pure returns (uint256) {
        return IntegerAttribution.labelOfInstances(packed);
    }

    function sharesFollow(int256[] calldata totals, address[] calldata roster, Share[] calldata shares)
        external
        pure
        returns (bool)
    {
        return IntegerAttribution.sharesFollow(totals, roster, shares);
    }

    function farValue(bool matches, uint256 n, uint256 k) external pure returns (int256) {
        return IntegerAttribution.farValue(matches, n, k);
    }

    function stepDelta(bool matches, bool nextMatches, uint256 rank, uint256 k)
        external
        pure
        returns (int256)
    {
        return IntegerAttribution.stepDelta(matches, nextMatches, rank, k);
    }

    function rootOf(bytes32[] calldata leaves) external pure returns (bytes32) {
        return IndexedMerkle.rootOf(leaves);
    }

    function verify(bytes32 root, uint256 n, bytes32 leaf, uint256 position, bytes32[] calldata proof)
        external
        pure
        returns (bool)
    {
        return IndexedMerkle.verify(root, n, leaf, position, proof);
    }
}
