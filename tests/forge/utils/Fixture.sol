// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Base} from "../Base.sol";
import {Attestia} from "./Attestia.sol";
import {InferenceRegistry} from "../../../contracts/InferenceRegistry.sol";
import {RewardDistributor} from "../../../contracts/RewardDistributor.sol";
import {Share, Inference, Request, Split, PROOF_SIGNED} from "../../../contracts/Common.sol";

/// @notice A fresh ETH RewardDistributor and InferenceRegistry wired together, with named
///         actors, one SIGNED-policy model and one staked worker key.
abstract contract Fixture is Base {
    uint8 internal constant POLICY_SIGNED = uint8(1 << PROOF_SIGNED);
    bytes32 internal constant MODEL = keccak256("model");
    uint96 internal constant FEE = 0.01 ether;

    InferenceRegistry internal registry;
    RewardDistributor internal distributor;

    address internal admin;
    address internal settler;
    address internal guardian;
    address internal modelOwner;
    address internal operator;
    address internal requester;
    address internal relayer;
    address internal worker;
    uint256 internal workerKey;
    /// @dev The model's contributors, sorted ascending (attribution lists must be).
    address[] internal roster;

    function setUp() public virtual {
        vm.warp(Attestia.START);
        admin = makeAddr("admin");
        settler = makeAddr("settler");
        guardian = makeAddr("guardian");
        modelOwner = makeAddr("modelOwner");
        operator = makeAddr("operator");
        requester = makeAddr("requester");
        relayer = makeAddr("relayer");
        (worker, workerKey) = makeAccount("worker");
        for (uint256 i; i < 5; ++i) {
            roster.push(makeAddr(string.concat("contributor", vm.toString(i))));
        }
        roster = Attestia.sort(roster);

        distributor = new RewardDistributor(address(0), Attestia.TIMELOCK, admin, settler, guardian);
        registry = new InferenceRegistry(
            admin,
            address(distributor),
            Attestia.MIN_STAKE,
            Attestia.UNBONDING_DELAY,
            Attestia.REQUEST_TIMEOUT,
            uint64(Attestia.START),
            Attestia.EPOCH_LENGTH
        );
        vm.deal(operator, 100 ether);
        vm.deal(requester, 100_000 ether);
        _registerWorker(worker, Attestia.MIN_STAKE);
    }

    function _registerModel(bytes32 modelId, uint96 fee, uint16 workerBps, uint16 ownerBps) internal {
        vm.prank(modelOwner);
        registry.registerModel(
            modelId,
            "ipfs://model",
            keccak256("data"),
            uint32(roster.length),
            POLICY_SIGNED,
            fee,
            Split(workerBps, ownerBps, 10_000 - workerBps - ownerBps)
        );
    }

    function _registerWorker(address signer, uint256 stake) internal {
        vm.prank(operator);
        registry.registerWorker{value: stake}(signer, hex"04aa");
    }

    /// @dev Pays for a request from `requester`; returns the struct the event carries.
    function _request(bytes32 modelId, address named, bytes32 input, uint256 fee)
        internal
        returns (Request memory request)
    {
        vm.prank(requester);
        registry.requestInference{value: fee}(modelId, named, input, hex"c0ffee");
        request = Request(requester, modelId, named, fee, uint64(block.timestamp), input);
    }

    /// @dev A valid SIGNED record of `request` by the fixture's worker, now.
    function _record(Request memory request, uint256 seed)
        internal
        view
        returns (Inference memory inference, Share[] memory list)
    {
        list = Attestia.shares(roster, seed);
        inference = Attestia.signedRecord(
            request, worker, keccak256(abi.encode("output", seed)), list, uint64(block.timestamp)
        );
    }

    function _sign(Inference memory inference) internal view returns (bytes memory) {
        return Attestia.sign(workerKey, registry.hashInference(inference));
    }
}
