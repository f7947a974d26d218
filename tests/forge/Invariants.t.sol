// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Base} from "./Base.sol";
import {IRegistryViews} from "../../contracts/interfaces/IRegistryViews.sol";
import {Attestia} from "./utils/Attestia.sol";
import {AttestiaHandler} from "./handlers/AttestiaHandler.sol";
import {DisputeHandler} from "./handlers/DisputeHandler.sol";
import {IAttributionDisputes} from "../../contracts/interfaces/IAttributionDisputes.sol";
import {Worker} from "../../contracts/Common.sol";
import {InferenceRegistry} from "../../contracts/InferenceRegistry.sol";
import {RewardDistributor} from "../../contracts/RewardDistributor.sol";
import {Slasher} from "../../contracts/Slasher.sol";
import {RegistryLens} from "../../contracts/RegistryLens.sol";
import {Request} from "../../contracts/Common.sol";

/// @notice Stateful invariants of the registry and the distributor (issue 9, "Tools"), over
///         random sequences of the handler's actions (foundry.toml: runs x depth per invariant).
contract AttestiaInvariantTest is Base {
    InferenceRegistry internal registry;
    RewardDistributor internal distributor;
    Slasher internal slasher;
    AttestiaHandler internal handler;
    DisputeHandler internal disputes;

    function setUp() public {
        vm.warp(Attestia.START);
        address admin = makeAddr("admin");
        address settler = makeAddr("settler");
        address guardian = makeAddr("guardian");
        distributor = new RewardDistributor(address(0), Attestia.TIMELOCK, admin, settler, guardian);
        registry = Attestia.deployRegistry(admin, address(distributor));
        slasher = Attestia.deploySlasher(registry, makeAddr("treasury"));
        vm.prank(admin);
        registry.setSlasher(address(slasher));
        handler = new AttestiaHandler(
            registry, distributor, slasher, new RegistryLens(registry), admin, settler, guardian
        );
        // Start from two models and three staked keys, so most sequences reach records,
        // batches, sweeps and claims (every later action may still add, retire or unbond).
        handler.manageModel(0, 0, 0.01 ether, 1_000 << 16 | 2_000);
        handler.manageModel(0, 1, 0.3 ether, 0xff << 32 | 500 << 16 | 7_000);
        for (uint256 i; i < 3; ++i) {
            handler.manageWorker(0, i, i << 128 | Attestia.MIN_STAKE, false);
        }
        disputes = new DisputeHandler(handler, registry, slasher);
        handler.setDisputes(address(disputes));
        targetContract(address(handler));
        targetSelector(address(handler), handler.selectors());
        targetContract(address(disputes));
        targetSelector(address(disputes), disputes.selectors());
    }

    /// @notice (a) The registry holds exactly what it owes: open-request escrow + withdrawable
    ///         balances + unswept epoch pools + unswept batch deposits + worker stakes. Every
    ///         term but the escrow is read from the registry's own views; the escrow is the sum
    ///         of the fees of the open requests, each checked to still hold its request hash.
    function invariant_registryBalanceEqualsLiabilities() public view {
        AttestiaHandler.Snapshot memory snap = handler.snapshot();
        uint256 owed = _openEscrow(snap) + _balances(snap) + _pools(snap) + _unsweptDeposits(snap) + _stakes(snap);
        assertEq(
            address(registry).balance,
            owed,
            "registry ETH != escrow + balances + epoch pools + unswept batch deposits + stakes"
        );
    }

    /// @notice (b) The distributor holds exactly funded - claimed, and never pays more than the
    ///         active root's total.
    function invariant_distributorBalanceEqualsFundedMinusClaimed() public view {
        uint256 funded = distributor.totalFunded();
        uint256 claimed = distributor.totalClaimed();
        assertEq(address(distributor).balance, funded - claimed, "distributor ETH != funded - claimed");
        assertEq(funded, handler.ghostFunded(), "funded != swept pools + swept deposits + direct funding");
        assertEq(claimed, handler.ghostClaimed(), "claimed != sum of the claims paid");
        (bool exists,,, uint256 total) = distributor.claimableRoot();
        if (exists) assertLe(claimed, total, "claimed more than the root's total");
    }

    /// @notice (c) No contributor share is credited to an account outside the model's roster.
    /// @dev (1) On chain, at record time: the handler keeps sending validly signed records that
    ///      name an outsider (alone, among roster accounts, or with a forged roster that
    ///      includes it: fulfillOutsider), and every record the registry accepted is checked
    ///      share by share against the roster; none may name the outsider (issue 9 class 1).
    ///      (2) At payout: the distributor paid nobody but roster accounts (the outsider's claims
    ///      with a valid roster proof were all refused; the roster's claims add up to
    ///      totalClaimed).
    function invariant_contributorSharesOnlyToRoster() public view {
        assertEq(handler.nonRosterShares(), 0, "an accepted record named an account outside the roster");
        assertEq(handler.outsiderPaid(), 0, "the distributor paid an outsider");
        assertEq(distributor.claimed(handler.outsider()), 0, "outsider has a claimed amount");
        address[] memory roster = handler.rosterList();
        uint256 rosterClaimed;
        for (uint256 i; i < roster.length; ++i) {
            rosterClaimed += distributor.claimed(roster[i]);
        }
        assertEq(rosterClaimed, distributor.totalClaimed(), "someone outside the roster was paid");
    }

    /// @notice (d) The slasher holds exactly the slashed stakes not yet withdrawn, credited half
    ///         to reporters and half to the treasury (issue 9 class 10), plus the dispute bonds:
    ///         those credited back and not withdrawn, and those of live disputes (issue 17:
    ///         bonds and stakes conserved); a slash moves exactly the stake out of the registry
    ///         (invariant (a) counts the stakes left).
    function invariant_slasherHoldsWhatItOwes() public view {
        address[] memory accounts = handler.slashPayeeList();
        uint256 credited;
        for (uint256 i; i < accounts.length; ++i) {
            uint256 balance = slasher.balances(accounts[i]);
            assertEq(balance, handler.ghostSlashBalance(accounts[i]), "slasher credit");
            credited += balance;
        }
        assertEq(
            address(slasher).balance, credited + _liveBonds(), "slasher ETH != credits + bonds of live disputes"
        );
        assertEq(disputes.liveBonds(), _liveBonds(), "live bonds");
        assertEq(
            credited,
            handler.ghostSlashed() + handler.ghostBondsCredited() - handler.ghostSlashWithdrawn(),
            "slashed + bonds credited - withdrawn"
        );
    }

    /// @notice Issue 17: a proven lie always slashes. Every dispute that ended against the
    ///         worker (FRAUD, NO_RESPONSE) left its key slashed with no stake; every lie the
    ///         handler responded with was provable until its deadline, and every call of the
    ///         game did what the handler's model predicted.
    function invariant_provenLieAlwaysSlashes() public view {
        assertEq(disputes.unexpected(), 0, string.concat("unexpected outcome: ", disputes.firstUnexpected()));
        DisputeHandler.GameView[] memory games = disputes.games();
        for (uint256 i; i < games.length; ++i) {
            IAttributionDisputes.Dispute memory d = slasher.getDispute(games[i].requestId);
            if (d.state == IAttributionDisputes.DisputeState.FRAUD) {
                assertTrue(games[i].response > DisputeHandler.Response.HONEST, "FRAUD proven against an honest response");
            }
            if (d.state == IAttributionDisputes.DisputeState.FRAUD || d.state == IAttributionDisputes.DisputeState.NO_RESPONSE) {
                Worker memory w = IRegistryViews(address(registry)).getWorker(games[i].worker);
                assertEq(w.stake, 0, "the loser keeps stake");
                // Slashed by this dispute or before it. A proof lands before its deadline, when
                // the stake cannot have left yet: FRAUD always finds the key slashed. A
                // no-response may be resolved late, after a withdrawal the registry allowed.
                if (d.state == IAttributionDisputes.DisputeState.FRAUD) {
                    assertTrue(w.slashedAt != 0, "a proven liar was not slashed");
                } else {
                    assertTrue(w.slashedAt != 0 || w.unbondingAt != 0, "a silent worker was not slashed");
                }
            }
        }
    }

    /// @notice Issue 17: an honest record answered honestly is never slashed: no proof against
    ///         its response succeeds (the handler keeps trying all six kinds at any position),
    ///         its dispute never ends FRAUD or NO_RESPONSE, and no dispute of the game ever
    ///         slashed its worker for it.
    function invariant_honestRecordNeverSlashed() public view {
        assertEq(disputes.falseProofsAccepted(), 0, "a proof against an honest response succeeded");
        assertEq(disputes.honestSlashed(), 0, "an honest record answered honestly slashed its worker");
        DisputeHandler.GameView[] memory games = disputes.games();
        for (uint256 i; i < games.length; ++i) {
            if (!games[i].honestRecord || games[i].response != DisputeHandler.Response.HONEST) continue;
            IAttributionDisputes.DisputeState state = slasher.getDispute(games[i].requestId).state;
            assertTrue(
                state == IAttributionDisputes.DisputeState.RESPONDED || state == IAttributionDisputes.DisputeState.WORKER_WON,
                "an honestly answered honest record lost its dispute"
            );
        }
    }

    function _liveBonds() private view returns (uint256 total) {
        DisputeHandler.GameView[] memory games = disputes.games();
        for (uint256 i; i < games.length; ++i) {
            IAttributionDisputes.Dispute memory d = slasher.getDispute(games[i].requestId);
            if (d.state == IAttributionDisputes.DisputeState.OPEN || d.state == IAttributionDisputes.DisputeState.RESPONDED) {
                total += d.bond;
            }
        }
    }

    /// @notice A recorded request can't be recorded again (same record or another, direct or
    ///         relayed), cancelled or rejected: its slot keeps the record's digest for good.
    function invariant_recordedRequestIsFinal() public view {
        assertEq(handler.doubleRecords(), 0, "a recorded request was recorded, cancelled or rejected again");
        (bytes32[] memory ids, bytes32[] memory digests) = handler.recorded();
        for (uint256 i; i < ids.length; ++i) {
            assertEq(registry.requestState(ids[i]), digests[i], "a recorded slot changed");
        }
    }

    /// @notice The handler's independent model of every bucket matches the chain, and every call
    ///         succeeded or reverted as the model predicted (fee split, refunds, sweeps, claims).
    function invariant_handlerModelMatchesChain() public view {
        assertEq(handler.unexpected(), 0, string.concat("unexpected outcome: ", handler.firstUnexpected()));
        AttestiaHandler.Snapshot memory snap = handler.snapshot();
        assertEq(handler.ghostEscrow(), _openEscrow(snap), "escrow");
        for (uint256 i; i < snap.payees.length; ++i) {
            assertEq(registry.balances(snap.payees[i]), snap.ghostBalances[i], "balance");
        }
        for (uint256 i; i < snap.poolEpochs.length; ++i) {
            assertEq(IRegistryViews(address(registry)).epochPool(snap.poolEpochs[i]), snap.ghostPools[i], "epoch pool");
        }
        assertEq(_unsweptDeposits(snap), handler.ghostUnsweptDeposits(), "unswept batch deposits");
        uint256 stakes;
        for (uint256 i; i < snap.workerSigners.length; ++i) {
            uint256 stake = IRegistryViews(address(registry)).getWorker(snap.workerSigners[i]).stake;
            assertEq(stake, snap.workerStakes[i], "stake");
            stakes += stake;
        }
        assertEq(stakes, handler.ghostStakes(), "stakes");
    }

    // ------------------------------------------------------------------ sums read from the chain

    function _openEscrow(AttestiaHandler.Snapshot memory snap) private view returns (uint256 escrow) {
        for (uint256 i; i < snap.open.length; ++i) {
            Request memory request = snap.open[i];
            bytes32 requestId =
                keccak256(abi.encode(request.requester, request.modelId, request.inputCommitment));
            assertEq(registry.requestState(requestId), keccak256(abi.encode(request)), "open request slot");
            escrow += request.fee;
        }
    }

    function _balances(AttestiaHandler.Snapshot memory snap) private view returns (uint256 total) {
        for (uint256 i; i < snap.payees.length; ++i) {
            total += registry.balances(snap.payees[i]);
        }
    }

    function _pools(AttestiaHandler.Snapshot memory snap) private view returns (uint256 total) {
        for (uint256 i; i < snap.poolEpochs.length; ++i) {
            total += IRegistryViews(address(registry)).epochPool(snap.poolEpochs[i]);
        }
    }

    function _unsweptDeposits(AttestiaHandler.Snapshot memory snap) private view returns (uint256 total) {
        for (uint256 i; i < snap.batchIds.length; ++i) {
            (,, uint256 deposit, bool swept) = IRegistryViews(address(registry)).batchInfo(snap.batchIds[i]);
            if (!swept) total += deposit;
        }
    }

    function _stakes(AttestiaHandler.Snapshot memory snap) private view returns (uint256 total) {
        for (uint256 i; i < snap.workerSigners.length; ++i) {
            total += IRegistryViews(address(registry)).getWorker(snap.workerSigners[i]).stake;
        }
    }
}
