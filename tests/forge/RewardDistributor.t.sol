// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Base} from "./Base.sol";
import {Attestia} from "./utils/Attestia.sol";
import {MerkleTree} from "./utils/MerkleTree.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {RewardDistributor} from "../../contracts/RewardDistributor.sol";
import {IRewardDistributor} from "../../contracts/interfaces/IRewardDistributor.sol";

/// @notice Fuzz tests of the ETH distributor: cumulative claims with real StandardMerkleTree
///         proofs built in Solidity, the root total cap, the timelock, the guardian, funding.
contract RewardDistributorFuzzTest is Base {
    RewardDistributor internal distributor;
    address internal admin;
    address internal settler;
    address internal guardian;
    address internal funder;
    address internal relayer;

    function setUp() public {
        vm.warp(Attestia.START);
        admin = makeAddr("admin");
        settler = makeAddr("settler");
        guardian = makeAddr("guardian");
        funder = makeAddr("funder");
        relayer = makeAddr("relayer");
        distributor = new RewardDistributor(address(0), Attestia.TIMELOCK, admin, settler, guardian);
    }

    /// @dev Golden vector from @openzeppelin/merkle-tree 1.0.8 (StandardMerkleTree.of(values,
    ///      ["address", "uint256"])): our Solidity tree is the one the settler publishes.
    function test_merkleTree_matchesOpenZeppelinJs() public pure {
        bytes32[] memory leaves = new bytes32[](3);
        leaves[0] = MerkleTree.claimLeaf(0x1111111111111111111111111111111111111111, 1000);
        leaves[1] = MerkleTree.claimLeaf(0x2222222222222222222222222222222222222222, 2.5 ether);
        leaves[2] = MerkleTree.claimLeaf(0x3333333333333333333333333333333333333333, 7);
        bytes32[] memory tree = MerkleTree.build(leaves);
        assertEq(tree[0], 0xacc218dbb90f3c06f4fa139acea6640b93a8aa9ef69dd6ee920a3b6617a01997, "root");
        bytes32[] memory proof = MerkleTree.proof(tree, leaves[0]);
        assertEq(proof.length, 1, "proof 0 length");
        assertEq(proof[0], 0x1d079e8489684395a2a7a25ec7ee7c2b84871c4c44e8105ffef65c5b40526c88, "proof 0");
        proof = MerkleTree.proof(tree, leaves[1]);
        assertEq(proof.length, 2, "proof 1 length");
        assertEq(proof[0], 0xbe3b42a05702c04893d953884f1140495cc5b2fea835e19e0bb1d150bd5f9c6a, "proof 1[0]");
        assertEq(proof[1], 0xf62c10519787ef50d0b8b94ab8a951f39f74c5768c245b60a8c8b2a4880bb239, "proof 1[1]");
        proof = MerkleTree.proof(tree, leaves[2]);
        assertEq(proof[0], 0xb92c48e9d7abe27fd8dfd6b5dfdbfb1c9a463f80c712b66f3a5180a090cccafc, "proof 2[0]");
        assertEq(proof[1], 0xf62c10519787ef50d0b8b94ab8a951f39f74c5768c245b60a8c8b2a4880bb239, "proof 2[1]");
    }

    /// @dev Two rounds of cumulative amounts for up to 8 accounts: each claim pays what the
    ///      newest active root adds, whoever sends it; the balance is always funded - claimed.
    function testFuzz_claim_cumulativeAcrossRoots(uint256 seed, uint8 n, uint256 surplus) public {
        n = uint8(bound(n, 1, 8));
        address[] memory accounts = new address[](n);
        uint256[] memory first = new uint256[](n);
        uint256[] memory second = new uint256[](n);
        uint256 total1;
        uint256 total2;
        for (uint256 i; i < n; ++i) {
            accounts[i] = _account(i);
            first[i] = bound(uint256(keccak256(abi.encode(seed, i, 1))), 0, 10 ether);
            second[i] = first[i] + bound(uint256(keccak256(abi.encode(seed, i, 2))), 0, 10 ether);
            total1 += first[i];
            total2 += second[i];
        }
        _fund(total1 + bound(surplus, 0, 10 ether));

        _propose(1, accounts, first, total1);
        vm.expectRevert(IRewardDistributor.NoActiveRoot.selector);
        distributor.claim(accounts[0], first[0], new bytes32[](0));
        vm.warp(block.timestamp + Attestia.TIMELOCK);
        _claimAll(accounts, first, new uint256[](n));
        assertEq(distributor.totalClaimed(), total1, "first round claimed");

        if (total2 > distributor.totalFunded()) _fund(total2 - distributor.totalFunded());
        _propose(2, accounts, second, total2);
        vm.warp(block.timestamp + Attestia.TIMELOCK);
        _claimAll(accounts, second, first);
        assertEq(distributor.totalClaimed(), total2, "second round claimed");
        assertEq(
            address(distributor).balance,
            distributor.totalFunded() - distributor.totalClaimed(),
            "balance == funded - claimed"
        );
    }

    function testFuzz_claim_rejectsForgedClaims(uint256 a, uint256 b, uint256 bump) public {
        a = bound(a, 1, 100 ether);
        b = bound(b, 1, 100 ether);
        address[] memory accounts = new address[](2);
        uint256[] memory amounts = new uint256[](2);
        (accounts[0], accounts[1], amounts[0], amounts[1]) = (_account(0), _account(1), a, b);
        _fund(a + b);
        bytes32[] memory tree = _propose(1, accounts, amounts, a + b);
        vm.warp(block.timestamp + Attestia.TIMELOCK);
        bytes32[] memory proof0 = MerkleTree.proof(tree, MerkleTree.claimLeaf(accounts[0], a));

        bump = bound(bump, 1, 100 ether);
        vm.expectRevert(IRewardDistributor.InvalidProof.selector); // a larger amount
        distributor.claim(accounts[0], a + bump, proof0);
        vm.expectRevert(IRewardDistributor.InvalidProof.selector); // someone else's proof
        distributor.claim(accounts[1], a, proof0);
        vm.expectRevert(IRewardDistributor.InvalidProof.selector); // an outsider
        distributor.claim(relayer, a, proof0);

        distributor.claim(accounts[0], a, proof0);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.NothingToClaim.selector, a, a));
        distributor.claim(accounts[0], a, proof0);
        assertEq(accounts[0].balance, a, "paid once");
    }

    /// @dev A root whose leaves add up to more than its total (a settler bug) can never pay
    ///      out more than the total.
    function testFuzz_claim_neverExceedsRootTotal(uint256 a, uint256 b, uint256 total) public {
        a = bound(a, 1, 100 ether);
        b = bound(b, 1, 100 ether);
        total = bound(total, a > b ? a : b, a + b);
        address[] memory accounts = new address[](2);
        uint256[] memory amounts = new uint256[](2);
        (accounts[0], accounts[1], amounts[0], amounts[1]) = (_account(0), _account(1), a, b);
        _fund(a + b);
        bytes32[] memory tree = _propose(1, accounts, amounts, total);
        vm.warp(block.timestamp + Attestia.TIMELOCK);

        (address firstAccount, uint256 firstAmount, address secondAccount, uint256 secondAmount) =
            a >= b ? (accounts[0], a, accounts[1], b) : (accounts[1], b, accounts[0], a);
        distributor.claim(
            firstAccount, firstAmount, MerkleTree.proof(tree, MerkleTree.claimLeaf(firstAccount, firstAmount))
        );
        bytes32[] memory proof = MerkleTree.proof(tree, MerkleTree.claimLeaf(secondAccount, secondAmount));
        if (a + b > total) {
            vm.expectRevert(
                abi.encodeWithSelector(IRewardDistributor.ExceedsRootTotal.selector, a + b, total)
            );
        }
        distributor.claim(secondAccount, secondAmount, proof);
        assertLe(distributor.totalClaimed(), total, "claimed <= root total");
    }

    function testFuzz_proposeRoot_bounds(uint256 funded, uint256 total, uint64 epoch, bytes32 root) public {
        vm.assume(root != bytes32(0));
        funded = bound(funded, 1, 1_000 ether);
        _fund(funded);
        total = bound(total, 0, 2_000 ether);

        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, relayer, distributor.SETTLER_ROLE()
            )
        );
        vm.prank(relayer);
        distributor.proposeRoot(epoch, root, total);

        vm.expectRevert(IRewardDistributor.EmptyRoot.selector);
        vm.prank(settler);
        distributor.proposeRoot(epoch, bytes32(0), total);

        if (total > funded) {
            vm.expectRevert(
                abi.encodeWithSelector(IRewardDistributor.TotalExceedsFunded.selector, total, funded)
            );
            vm.prank(settler);
            distributor.proposeRoot(epoch, root, total);
            return;
        }
        vm.prank(settler);
        distributor.proposeRoot(epoch, root, total);
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.RootAlreadyProposed.selector, epoch));
        vm.prank(settler);
        distributor.proposeRoot(epoch, root, total);

        vm.warp(block.timestamp + Attestia.TIMELOCK);
        distributor.activateRoot(epoch);
        // Only later epochs, and never a smaller total, may follow the active root.
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.EpochNotAfterActive.selector, epoch, epoch));
        vm.prank(settler);
        distributor.proposeRoot(epoch, root, total);
        if (epoch < type(uint64).max && total > 0) {
            vm.expectRevert(
                abi.encodeWithSelector(IRewardDistributor.TotalDecreased.selector, total - 1, total)
            );
            vm.prank(settler);
            distributor.proposeRoot(epoch + 1, root, total - 1);
        }
    }

    function testFuzz_timelock_andGuardian(uint256 wait, bytes32 root) public {
        vm.assume(root != bytes32(0));
        _fund(1 ether);
        vm.prank(settler);
        distributor.proposeRoot(7, root, 1 ether);
        uint64 readyAt = uint64(block.timestamp) + Attestia.TIMELOCK;
        wait = bound(wait, 0, 2 * uint256(Attestia.TIMELOCK));
        vm.warp(block.timestamp + wait);

        if (wait < Attestia.TIMELOCK) {
            vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.TimelockNotElapsed.selector, readyAt));
            distributor.activateRoot(7);
            vm.expectRevert(
                abi.encodeWithSelector(
                    IAccessControl.AccessControlUnauthorizedAccount.selector, settler, distributor.GUARDIAN_ROLE()
                )
            );
            vm.prank(settler);
            distributor.cancelRoot(7);
            vm.prank(guardian);
            distributor.cancelRoot(7);
            vm.warp(readyAt);
            vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.RootNotProposed.selector, 7));
            distributor.activateRoot(7);
            vm.expectRevert(IRewardDistributor.NoActiveRoot.selector);
            distributor.claim(relayer, 1, new bytes32[](0));
            return;
        }
        vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.TimelockElapsed.selector, readyAt));
        vm.prank(guardian);
        distributor.cancelRoot(7);
        distributor.activateRoot(7);
        (bool exists, uint64 epoch, bytes32 active, uint256 total) = distributor.claimableRoot();
        assertTrue(exists, "active");
        assertEq(epoch, 7, "epoch");
        assertEq(active, root, "root");
        assertEq(total, 1 ether, "total");
    }

    function testFuzz_fund_exactValue(uint256 amount, uint256 value) public {
        amount = bound(amount, 0, 100 ether);
        value = bound(value, 0, 100 ether);
        vm.deal(funder, value);
        if (amount == 0) {
            vm.expectRevert(IRewardDistributor.ZeroAmount.selector);
        } else if (value != amount) {
            vm.expectRevert(abi.encodeWithSelector(IRewardDistributor.IncorrectValue.selector, amount, value));
        }
        vm.prank(funder);
        distributor.fund{value: value}(amount);
        if (amount != 0 && value == amount) assertEq(distributor.totalFunded(), amount, "funded");
    }

    // ------------------------------------------------------------------ helpers

    /// @dev Account i: a plain EOA (no code), so ETH transfers to it always succeed.
    function _account(uint256 i) private pure returns (address) {
        return vm.addr(0xC1A1 + i);
    }

    function _fund(uint256 amount) private {
        if (amount == 0) return;
        vm.deal(funder, amount);
        vm.prank(funder);
        distributor.fund{value: amount}(amount);
    }

    function _propose(uint64 epoch, address[] memory accounts, uint256[] memory amounts, uint256 total)
        private
        returns (bytes32[] memory tree)
    {
        bytes32[] memory leaves = new bytes32[](accounts.length);
        for (uint256 i; i < accounts.length; ++i) {
            leaves[i] = MerkleTree.claimLeaf(accounts[i], amounts[i]);
        }
        tree = MerkleTree.build(leaves);
        vm.prank(settler);
        distributor.proposeRoot(epoch, tree[0], total);
    }

    function _claimAll(address[] memory accounts, uint256[] memory cumulative, uint256[] memory already)
        private
    {
        bytes32[] memory leaves = new bytes32[](accounts.length);
        for (uint256 i; i < accounts.length; ++i) {
            leaves[i] = MerkleTree.claimLeaf(accounts[i], cumulative[i]);
        }
        bytes32[] memory tree = MerkleTree.build(leaves);
        for (uint256 i; i < accounts.length; ++i) {
            bytes32[] memory proof = MerkleTree.proof(tree, leaves[i]);
            uint256 before = accounts[i].balance;
            if (cumulative[i] == already[i]) {
                vm.expectRevert(
                    abi.encodeWithSelector(
                        IRewardDistributor.NothingToClaim.selector, cumulative[i], already[i]
                    )
                );
            }
            vm.prank(relayer);
            distributor.claim(accounts[i], cumulative[i], proof);
            assertEq(accounts[i].balance, before + cumulative[i] - already[i], "paid the difference");
            assertEq(distributor.claimed(accounts[i]), cumulative[i], "claimed is cumulative");
        }
    }
}
