// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ISlasher} from "./interfaces/ISlasher.sol";
import {IWorkerRegistry} from "./interfaces/IWorkerRegistry.sol";
import {AttributionDisputes} from "./AttributionDisputes.sol";
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
contract Slasher is ISlasher, AttributionDisputes {
    /// @inheritdoc ISlasher
    IInferenceRegistry public immutable registry;
    /// @inheritdoc ISlasher
    address public immutable treasury;

    /// @inheritdoc ISlasher
    mapping(address account => uint256) public balances;

    /// @param registry_ The registry (its admin must then call setSlasher(this), once).
    /// @param treasury_ Credited the non-reporter part of every slashed stake.
    constructor(
        IInferenceRegistry registry_,
        address treasury_,
        uint256 disputeBond_,
        uint64 responseWindow_
    ) AttributionDisputes(registry_, disputeBond_, responseWindow_) {
        if (address(registry_) == address(0) || treasury_ == address(0)) revert ZeroAddress();
        registry = registry_;
        treasury = treasury_;
    }

    /// @dev Slashed stakes arrive from the registry only.
    receive() external payable {
        if (msg.sender != address(registry)) revert Unauthorized();
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
        amount = registry.slashStake(a.worker);
        _share(a.worker, msg.sender, amount);
    }

    /// @inheritdoc ISlasher
    function withdraw() external nonReentrant {
        uint256 amount = balances[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        balances[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        Address.sendValue(payable(msg.sender), amount);
    }

    /// @dev Takes the worker's whole stake from the registry (which reverts if there is none
    ///      or it was slashed before) and shares it. Every trigger ends here.
    function _registry() internal view override returns (IInferenceRegistry) {
        return registry;
    }

    function _credit(address account, uint256 amount) internal override {
        balances[account] += amount;
    }

    function _slashFor(address worker, address reporter) internal override returns (uint256 amount) {
        // A worker already slashed (or with no stake left) still loses the dispute; any other
        // failure, out of gas included, reverts the whole proof, so nobody can prove fraud in a
        // way that skips the slash.
        try registry.slashStake(worker) returns (uint256 slashed) {
            amount = slashed;
        } catch (bytes memory reason) {
            bytes4 selector = bytes4(reason);
            if (
                selector != IWorkerRegistry.AlreadySlashed.selector
                    && selector != IWorkerRegistry.NothingToSlash.selector
            ) {
                assembly ("memory-safe") {
                    revert(add(reason, 0x20), mload(reason))
                }
            }
            return 0;
        }
        _share(worker, reporter, amount);
    }

    function _share(address worker, address reporter, uint256 amount) private {
        // The registry is trusted (it named this contract its slasher) and sends the stake to
        // receive(), which does nothing else; nonReentrant guards every entry point.
        uint256 reward = amount * SLASH_REPORTER_BPS / BPS;
        balances[reporter] += reward;
        balances[treasury] += amount - reward;
        emit Slashed(worker, reporter, amount, reward, amount - reward);
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
        digest = registry.hashInference(record);
        if (signature.length == 0) {
            if (registry.requestState(record.requestId) != digest) revert NotRecorded(record.requestId);
            return digest;
        }
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != record.worker) revert InvalidSignature();
    }
}
