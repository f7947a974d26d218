// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice OpenZeppelin StandardMerkleTree (@openzeppelin/merkle-tree 1.0.8, sortLeaves = true)
///         rebuilt in Solidity for tests: leaves sorted by hash, the tree stored as a complete
///         binary tree in an array (tree[0] the root, leaf i at tree[length - 1 - i]), pairs
///         hashed sorted (OZ Hashes.commutativeKeccak256). A golden test ties it to the JS library.
library MerkleTree {
    /// @dev The distributor's claim leaf: StandardMerkleTree over (address, uint256).
    function claimLeaf(address account, uint256 cumulative) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, cumulative))));
    }

    /// @dev The whole tree over `leaves` (leaf hashes, any order, at least one).
    function build(bytes32[] memory leaves) internal pure returns (bytes32[] memory tree) {
        uint256 n = leaves.length;
        require(n > 0, "MerkleTree: no leaves");
        bytes32[] memory sorted = _sorted(leaves);
        tree = new bytes32[](2 * n - 1);
        for (uint256 i; i < n; ++i) {
            tree[tree.length - 1 - i] = sorted[i];
        }
        for (uint256 i = n - 1; i > 0;) {
            --i;
            tree[i] = hashPair(tree[2 * i + 1], tree[2 * i + 2]);
        }
    }

    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        return build(leaves)[0];
    }

    /// @dev The proof of `leaf` in `tree` (from build); reverts if the leaf is not in it.
    function proof(bytes32[] memory tree, bytes32 leaf) internal pure returns (bytes32[] memory) {
        uint256 n = (tree.length + 1) / 2;
        uint256 index = type(uint256).max;
        for (uint256 i = n - 1; i < tree.length; ++i) {
            if (tree[i] == leaf) {
                index = i;
                break;
            }
        }
        require(index != type(uint256).max, "MerkleTree: leaf not in tree");
        uint256 depth;
        for (uint256 i = index; i > 0; i = (i - 1) / 2) {
            ++depth;
        }
        bytes32[] memory siblings = new bytes32[](depth);
        for (uint256 k; index > 0; ++k) {
            siblings[k] = tree[index % 2 == 1 ? index + 1 : index - 1];
            index = (index - 1) / 2;
        }
        return siblings;
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    function _sorted(bytes32[] memory values) private pure returns (bytes32[] memory out) {
        out = new bytes32[](values.length);
        for (uint256 i; i < values.length; ++i) {
            bytes32 v = values[i];
            uint256 j = i;
            while (j > 0 && out[j - 1] > v) {
                out[j] = out[j - 1];
                --j;
            }
            out[j] = v;
        }
    }
}
