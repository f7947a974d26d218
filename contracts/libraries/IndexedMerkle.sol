// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IndexedMerkle
/// @notice Position-bound binary Merkle trees (design.md "Indexed Merkle trees"): leaves at
///         positions 0..n-1 padded with bytes32(0) to 2^depth, depth = ceil(log2(max(n, 1))),
///         inner node keccak256(left || right). A proof is the depth siblings from the leaf
///         up; the side of each is given by the position's bits, so a leaf proven at position p
///         is the p-th leaf. (OpenZeppelin's MerkleProof sorts pairs and cannot bind a position.)
library IndexedMerkle {
    /// @notice ceil(log2(max(n, 1))): the depth of a tree over n leaves.
    function depthOf(uint256 n) internal pure returns (uint256 depth) {
        while ((uint256(1) << depth) < n) ++depth;
    }

    /// @notice Whether `leaf` is the leaf at `position` of the n-leaf tree with `root`.
    /// @dev The proof must have exactly depthOf(n) siblings and position must be < n.
    function verify(bytes32 root, uint256 n, bytes32 leaf, uint256 position, bytes32[] calldata proof)
        internal
        pure
        returns (bool)
    {
        if (position >= n || proof.length != depthOf(n)) return false;
        return processProof(leaf, position, proof) == root;
    }

    /// @notice The root a proof leads to from `leaf` at `position`.
    function processProof(bytes32 leaf, uint256 position, bytes32[] calldata proof)
        internal
        pure
        returns (bytes32 node)
    {
        node = leaf;
        for (uint256 i; i < proof.length; ++i) {
            node = (position >> i) & 1 == 0 ? _hash(node, proof[i]) : _hash(proof[i], node);
        }
    }

    /// @notice The root over `leaves` (padded with zeros to a power of two). Overwrites nothing
    ///         the caller can see: works on a copy.
    function rootOf(bytes32[] memory leaves) internal pure returns (bytes32) {
        uint256 n = leaves.length;
        uint256 width = uint256(1) << depthOf(n);
        bytes32[] memory level = new bytes32[](width);
        for (uint256 i; i < n; ++i) level[i] = leaves[i];
        while (width > 1) {
            width >>= 1;
            for (uint256 i; i < width; ++i) level[i] = _hash(level[2 * i], level[2 * i + 1]);
        }
        return level[0];
    }

    /// @notice keccak256(abi.encode(a, b)) of two words, in scratch space: trees of a
    ///         thousand leaves are hashed without growing memory (whose cost is quadratic).
    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32 value) {
        assembly ("memory-safe") {
            mstore(0x00, a)
            mstore(0x20, b)
            value := keccak256(0x00, 0x40)
        }
    }

    function _hash(bytes32 left, bytes32 right) private pure returns (bytes32) {
        return hashPair(left, right);
    }
}
