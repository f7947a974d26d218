// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IZkVerifier} from "../interfaces/IZkVerifier.sol";

/// @title MockZkVerifier
/// @notice Test-only verifier answering a fixed result (or reverting), to exercise the
///         registry's ZK paths without a real EZKL verifier. Verifies nothing.
contract MockZkVerifier is IZkVerifier {
    /// @notice What verifyProof answers.
    bool public result;
    /// @notice If set, verifyProof reverts instead of answering.
    bool public reverts;

    /// @notice The mock was told to revert.
    error MockVerifierReverted();

    constructor(bool result_) {
        result = result_;
    }

    /// @notice Sets the answer and whether to revert (test only, unrestricted).
    function configure(bool result_, bool reverts_) external {
        result = result_;
        reverts = reverts_;
    }

    /// @inheritdoc IZkVerifier
    function verifyProof(bytes calldata, uint256[] calldata) external view returns (bool) {
        if (reverts) revert MockVerifierReverted();
        return result;
    }
}
