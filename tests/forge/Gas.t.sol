// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Attestia} from "./utils/Attestia.sol";
import {IRegistryViews} from "../../contracts/interfaces/IRegistryViews.sol";
import {Share, Inference, Request, Split, BPS} from "../../contracts/Common.sol";

/// @notice The gas budget of issue 9, in the shape of bench/gas.py (steady state: each measured
///         call follows a warm-up of the same call; 5 contributors; 160-byte payload; 64-byte
///         sealed result; 63-character URI). Run with `forge test --isolate --mc GasTest
///         --gas-report` for transaction-level figures (--isolate runs every top-level call as
///         its own transaction, intrinsic gas included), comparable to Anvil receipts.
contract GasTest is Fixture {
    string internal constant URI = "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";
    bytes internal constant SEALED64 =
        hex"01010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101";
    uint96 internal constant BENCH_FEE = 1e15;

    Share[] internal fiveShares;
    uint256 internal counter;

    function setUp() public override {
        super.setUp();
        _registerModel(MODEL, BENCH_FEE, 2_000, 1_000);
        for (uint256 i; i < roster.length; ++i) {
            fiveShares.push(Share(roster[i], 2_000));
        }
    }

    /// @dev requestInference, named worker, 160-byte payload; then fulfill (worker sends) and
    ///      fulfillBySig (relayer sends) with 5 contributors, each after a warm-up.
    function test_gas_requestAndFulfill() public {
        _fulfill(false);
        _fulfill(false);
        _fulfill(true);
    }

    /// @dev commitBatch with a deposit and a 63-character URI, after a warm-up.
    function test_gas_commitBatch() public {
        uint64 epoch = registry.currentEpoch();
        vm.deal(worker, 1 ether);
        vm.prank(worker);
        registry.commitBatch{value: 1e15}(keccak256("warm-up"), 1_000, MODEL, epoch, URI, keccak256("f0"));
        vm.prank(worker);
        registry.commitBatch{value: 1e15}(keccak256("root"), 1_000, MODEL, epoch, URI, keccak256("f1"));
    }

    /// @dev slashEquivocation with two signed, conflicting records.
    function test_gas_slashEquivocation() public {
        Request memory request = _benchRequest();
        Share[] memory list = fiveShares;
        Inference memory a = Attestia.signedRecord(request, worker, "A", list, uint64(block.timestamp));
        Inference memory b = Attestia.signedRecord(request, worker, "B", list, uint64(block.timestamp));
        bytes memory sigA = _sign(a);
        bytes memory sigB = _sign(b);
        _commitReport(relayer, a, b);
        vm.prank(relayer);
        slasher.slashEquivocation(a, sigA, b, sigB, Attestia.REPORT_SALT);
    }

    function _benchRequest() internal returns (Request memory) {
        bytes32 input = keccak256(abi.encode("bench", ++counter));
        bytes32 terms = _terms(IRegistryViews(address(registry)).getModel(MODEL));
        vm.prank(requester);
        registry.requestInference{value: BENCH_FEE}(MODEL, worker, input, bytes32(0), terms, _payload());
        return Request(
            requester, MODEL, worker, BENCH_FEE, uint64(block.timestamp), input, bytes32(0), 2_000, 1_000, POLICY_SIGNED, address(0)
        );
    }

    /// @dev 160 bytes of 0xab, as bench/gas.py sends.
    function _payload() internal pure returns (bytes memory payload) {
        payload = new bytes(160);
        for (uint256 i; i < 160; ++i) {
            payload[i] = 0xab;
        }
    }

    function _fulfill(bool bySig) internal {
        Request memory request = _benchRequest();
        Share[] memory list = fiveShares;
        Inference memory inference = Attestia.signedRecord(
            request, worker, keccak256(abi.encode("out", counter)), list, uint64(block.timestamp)
        );
        inference.resultHash = keccak256(SEALED64);
        if (bySig) {
            bytes memory signature = _sign(inference);
            vm.prank(relayer);
            registry.fulfillBySig(request, inference, list, roster, signature, SEALED64);
        } else {
            vm.prank(worker);
            registry.fulfill(request, inference, list, roster, SEALED64);
        }
    }
}
