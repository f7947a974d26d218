// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ISlasher} from "./interfaces/ISlasher.sol";
import {IInferenceRegistry} from "./interfaces/IInferenceRegistry.sol";
import {
    Inference,
    BPS,
    SLASH_REPORTER_BPS,
    Unauthorized,
    ZeroAddress,
    InvalidSignature,
    NothingToWithdraw
} from "./Common.sol";

/// @title Slasher
/// @notice The evidence logic of slashing and the sharing of slashed stakes; the registry only
///         removes the stake and revokes the key (slashStake, callable only by this contract).
contract Slasher is ISlasher, ReentrancyGuard {
    /// @inheritdoc ISlasher
    IInferenceRegistry public immutable registry;
    /// @inheritdoc ISlasher
    address public immutable treasury;

    /// @inheritdoc ISlasher
    mapping(address account => uint256) public balances;

    /// @param registry_ The registry (its admin must then call setSlasher(this), once).
    /// @param treasury_ Credited the non-reporter part of every slashed stake.
    constructor(IInferenceRegistry registry_, address treasury_) {
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
        bytes calldata signatureB
    ) external nonReentrant returns (uint256 amount) {
        if (a.worker != b.worker) revert WorkerMismatch(a.worker, b.worker);
        if (a.requestId != b.requestId) revert RequestIdMismatch(a.requestId, b.requestId);
        if (_claim(a) == _claim(b)) revert RecordsDoNotConflict(a.requestId);
        bytes32 digestA = _attributed(a, signatureA);
        bytes32 digestB = _attributed(b, signatureB);
        emit EquivocationProven(a.worker, a.requestId, msg.sender, digestA, digestB);
        amount = _slash(a.worker);
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
    function _slash(address worker) internal returns (uint256 amount) {
        // The registry is trusted (it named this contract its slasher) and sends the stake to
        // receive(), which does nothing else; nonReentrant guards every entry point.
        amount = registry.slashStake(worker);
        uint256 reward = amount * SLASH_REPORTER_BPS / BPS;
        balances[msg.sender] += reward;
        balances[treasury] += amount - reward;
        emit Slashed(worker, msg.sender, amount, reward, amount - reward);
    }

    /// @dev What a record asserts: which model ran on which input, with which output and
    ///      attribution. Timestamp, proof and sealed result may differ between honest
    ///      re-signings of the same answer.
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
