// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ISlasher} from "./interfaces/ISlasher.sol";
import {IWorkerRegistry} from "./interfaces/IWorkerRegistry.sol";
import {IInferenceRegistry} from "./interfaces/IInferenceRegistry.sol";
import {AttributionDisputes} from "./AttributionDisputes.sol";
import {IOutputDisputes} from "./interfaces/IOutputDisputes.sol";
import {BPS, SLASH_REPORTER_BPS, ZeroAddress} from "./Common.sol";

/// @title SlasherCore
/// @notice What the Slasher, DisputeProofs and OutputDisputes (both run by DELEGATECALL on the
///         Slasher's storage) share: the dispute game's storage and internals (AttributionDisputes), the pull-payment
///         balances and the slashing. Neither adds a storage variable, so the layouts are one.
abstract contract SlasherCore is AttributionDisputes {
    IInferenceRegistry internal immutable _reg;
    address internal immutable _treasury;

    mapping(address account => uint256) internal _balances;

    // The output disputes (OutputDisputes, run by DELEGATECALL on the Slasher's storage) and
    // their committed layer hashes.
    mapping(bytes32 disputeId => IOutputDisputes.OutputDispute) internal _outputDisputes;
    mapping(bytes32 disputeId => mapping(uint256 layer => bytes32)) internal _layerHashes;

    constructor(
        IInferenceRegistry registry_,
        address treasury_,
        uint256 disputeBond_,
        uint64 responseWindow_
    ) AttributionDisputes(registry_, disputeBond_, responseWindow_) {
        if (address(registry_) == address(0) || treasury_ == address(0)) revert ZeroAddress();
        _reg = registry_;
        _treasury = treasury_;
    }

    function _registry() internal view override returns (IInferenceRegistry) {
        return _reg;
    }

    function _credit(address account, uint256 amount) internal override {
        _balances[account] += amount;
    }

    /// @dev Takes the worker's whole stake from the registry and shares it. Every trigger ends
    ///      here.
    function _slashFor(address worker, address reporter) internal override returns (uint256 amount) {
        // A worker already slashed (or with no stake left) still loses the dispute; any other
        // failure, out of gas included, reverts the whole proof, so nobody can prove fraud in a
        // way that skips the slash.
        try _reg.slashStake(worker) returns (uint256 slashed) {
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

    function _share(address worker, address reporter, uint256 amount) internal {
        // The registry is trusted (it named this contract its slasher) and sends the stake to
        // receive(), which does nothing else; nonReentrant guards every entry point.
        uint256 reward = amount * SLASH_REPORTER_BPS / BPS;
        _balances[reporter] += reward;
        _balances[_treasury] += amount - reward;
        emit ISlasher.Slashed(worker, reporter, amount, reward, amount - reward);
    }
}
