// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IZkVerifier
/// @notice The call an EZKL Halo2 verifier contract answers. The verification key is fixed in
///         the contract, so a verifier is bound to one model's weights.
interface IZkVerifier {
    /// @notice Verifies a proof against its public instances.
    /// @dev Declared view: the registry calls it with STATICCALL, so a verifier can never
    ///      re-enter or change state. EZKL's generated verifiers only read memory and call
    ///      precompiles, which STATICCALL allows.
    /// @param proof The proof bytes.
    /// @param instances All public instances (Poseidon hash of the input, then the outputs).
    /// @return True if the proof is valid.
    function verifyProof(bytes calldata proof, uint256[] calldata instances)
        external
        view
        returns (bool);
}
