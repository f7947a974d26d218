// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ISlasher} from "./interfaces/ISlasher.sol";
import {IWorkerRegistry} from "./interfaces/IWorkerRegistry.sol";
import {SlasherCore} from "./SlasherCore.sol";
import {DisputeProofs} from "./DisputeProofs.sol";
import {OutputDisputes} from "./OutputDisputes.sol";
import {IInferenceRegistry} from "./interfaces/IInferenceRegistry.sol";
import {
    Inference,
    BPS,
    SLASH_REPORTER_BPS,
    Unauthorized,
    ZeroAddress,
    InvalidSignature,
    NothingToWithdraw,
    equivocationEvidenceId
} from "./Common.sol";

/// @title Slasher
/// @notice The evidence logic of slashing and the sharing of slashed stakes; the registry only
///         removes the stake and revokes the key (slashStake, callable only by this contract).
///         The dispute game's proofs and descent (IDisputeProofs) run in DisputeProofs, by
///         DELEGATECALL from the fallback, for this contract's size (EIP-170).
contract Slasher is ISlasher, SlasherCore {
    // DisputeProofs, deployed by the constructor with the same parameters.
    address private immutable _proofs;

    /// @param registry_ The registry (its admin must then call setSlasher(this), once).
    /// @param treasury_ Credited the non-reporter part of every slashed stake.
    /// @param outputs_ The output-dispute game (OutputDisputes), deployed with the same
    ///        parameters; served through DisputeProofs' fallback.
    constructor(
        IInferenceRegistry registry_,
        address treasury_,
        uint256 disputeBond_,
        uint64 responseWindow_,
        OutputDisputes outputs_
    ) SlasherCore(registry_, treasury_, disputeBond_, responseWindow_) {
        _proofs = address(
            new DisputeProofs(registry_, treasury_, disputeBond_, responseWindow_, outputs_)
        );
    }

    /// @inheritdoc ISlasher
    function registry() external view returns (IInferenceRegistry) {
        return _reg;
    }

    /// @inheritdoc ISlasher
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @inheritdoc ISlasher
    function balances(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @dev Slashed stakes arrive from the registry only.
    receive() external payable {
        if (msg.sender != address(_reg)) revert Unauthorized();
    }

    /// @notice Serves IDisputeProofs: any other selector runs in DisputeProofs on this
    ///         contract's storage (payable: a descent posts its bond).
    fallback() external payable {
        address proofs = _proofs;
        // Not memory-safe, and needs not be: the call ends here with return or revert.
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), proofs, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    /// @inheritdoc ISlasher
    function slashEquivocation(
        Inference calldata a,
        bytes calldata signatureA,
        Inference calldata b,
        bytes calldata signatureB,
        bytes32 salt
    ) external nonReentrant returns (uint256 amount) {
        if (a.worker != b.worker) revert WorkerMismatch(a.worker, b.worker);
        if (a.requestId != b.requestId) revert RequestIdMismatch(a.requestId, b.requestId);
        if (_claim(a) == _claim(b)) revert RecordsDoNotConflict(a.requestId);
        bytes32 digestA = _attributed(a, signatureA);
        bytes32 digestB = _attributed(b, signatureB);
        _revealFinding(equivocationEvidenceId(digestA, digestB), salt);
        emit EquivocationProven(a.worker, a.requestId, msg.sender, digestA, digestB);
        amount = _reg.slashStake(a.worker);
        _share(a.worker, msg.sender, amount);
    }

    /// @inheritdoc ISlasher
    function withdraw() external nonReentrant {
        uint256 amount = _balances[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        _balances[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    function _claim(Inference calldata record) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                record.modelId, record.inputCommitment, record.outputCommitment, record.attributionHash
            )
        );
    }

    /// @dev The record's digest, once it is shown to be the worker's: signed by its key, or
    ///      (empty signature) the record the registry holds for its request.
    function _attributed(Inference calldata record, bytes calldata signature)
        private
        view
        returns (bytes32 digest)
    {
        digest = _reg.hashInference(record);
        if (signature.length == 0) {
            if (_reg.requestState(record.requestId) != digest) revert NotRecorded(record.requestId);
            return digest;
        }
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != record.worker) revert InvalidSignature();
    }
}
