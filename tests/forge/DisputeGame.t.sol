// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Base} from "./Base.sol";
import {Attestia} from "./utils/Attestia.sol";
import {AttestiaHandler} from "./handlers/AttestiaHandler.sol";
import {DisputeHandler} from "./handlers/DisputeHandler.sol";
import {InferenceRegistry} from "../../contracts/InferenceRegistry.sol";
import {RewardDistributor} from "../../contracts/RewardDistributor.sol";
import {Slasher} from "../../contracts/Slasher.sol";
import {RegistryLens} from "../../contracts/RegistryLens.sol";
import {IAttributionDisputes} from "../../contracts/interfaces/IAttributionDisputes.sol";
import {IRegistryViews} from "../../contracts/interfaces/IRegistryViews.sol";

/// @notice The invariant suite's dispute handler played through every path once, in order, so
///         the invariants cannot hold vacuously: the handler's honest trace is the one the
///         contract accepts (no proof against it succeeds, the worker wins), each of its three
///         lies is proven and slashes, a lie about an honest record too, and no response
///         slashes at the deadline.
contract DisputeGameTest is Base {
    InferenceRegistry internal registry;
    Slasher internal slasher;
    AttestiaHandler internal handler;
    DisputeHandler internal disputes;

    function setUp() public {
        vm.warp(Attestia.START);
        address admin = makeAddr("admin");
        RewardDistributor distributor =
            new RewardDistributor(address(0), Attestia.TIMELOCK, admin, makeAddr("settler"), makeAddr("guardian"));
        registry = Attestia.deployRegistry(admin, address(distributor));
        slasher = Attestia.deploySlasher(registry, makeAddr("treasury"));
        vm.prank(admin);
        registry.setSlasher(address(slasher));
        handler = new AttestiaHandler(
            registry, distributor, slasher, new RegistryLens(registry), admin, makeAddr("settler"), makeAddr("guardian")
        );
        disputes = new DisputeHandler(handler, registry, slasher);
        handler.setDisputes(address(disputes));
        for (uint256 i; i < 5; ++i) {
            handler.manageWorker(0, i, (i % 2) << 128 | Attestia.MIN_STAKE, false);
        }
    }

    function test_everyPathOfTheGame() public {
        // Records by workers 0..4, then one more by worker 1 (a liar, slashed before that
        // record's deadline: its no-response finds nothing left to slash), all challenged first.
        bool[6] memory honestRecord = [true, true, false, false, true, false];
        for (uint256 i; i < 6; ++i) {
            disputes.challenge(i == 5 ? 1 : i, i << 8, true, honestRecord[i]);
        }
        assertEq(disputes.successCount("challenge"), 6, "challenges");
        // Game 0: honest record, honest response; every false proof fails; the worker wins.
        disputes.respond(0, 0, false);
        for (uint256 pick; pick < 6; ++pick) {
            disputes.prove(0, pick, pick | (pick % 3) << 8 | 1 << 16);
        }
        assertEq(disputes.successCount("falseProof"), 0, "no false proof succeeded");
        // Games 1..4: one lie each (END about an honest record, SUM and VALUE about lying records,
        // VALUE about an honest record), each proven: FRAUD, the worker slashed.
        uint8[4] memory lie = [1, 2, 3, 3];
        for (uint256 g = 1; g < 5; ++g) {
            disputes.respond(g, lie[g - 1], g % 2 == 0);
            disputes.prove(g, g, 0);
            _assertState(g, IAttributionDisputes.DisputeState.FRAUD);
            assertEq(IRegistryViews(address(registry)).getWorker(_worker(g)).stake, 0, "liar slashed");
        }
        assertEq(disputes.successCount("proveLie"), 4, "every lie proven");
        // Game 5: no response; game 0 answered: both resolve after their deadlines.
        disputes.resolve(5, true);
        disputes.resolve(0, true);
        _assertState(5, IAttributionDisputes.DisputeState.NO_RESPONSE);
        _assertState(0, IAttributionDisputes.DisputeState.WORKER_WON);
        assertTrue(IRegistryViews(address(registry)).getWorker(_worker(0)).stake != 0, "honest worker keeps its stake");

        assertEq(disputes.unexpected(), 0, disputes.firstUnexpected());
        assertEq(handler.unexpected(), 0, handler.firstUnexpected());
        assertEq(disputes.liveBonds(), 0, "no live bond");
        // Every credit withdrawn empties the slasher.
        for (uint256 i; i < 6; ++i) handler.withdrawSlashed(i);
        assertEq(address(slasher).balance, 0, "slasher empty");
        assertEq(handler.unexpected(), 0, handler.firstUnexpected());
    }

    /// @dev Issue 17, attack 1 (the trace withheld): a SUM lie and a VALUE lie about lying
    ///      records, each found by a played descent and proven at its leaf; a descent into an
    ///      honest response ends at a leaf nothing proves and its clock settles it (bond to the
    ///      operator); the honest worker wins.
    function test_descentPaths() public {
        bool[3] memory honestRecord = [true, false, false];
        for (uint256 i; i < 3; ++i) disputes.challenge(i, i << 8, true, honestRecord[i]);
        assertEq(disputes.successCount("challenge"), 3, "challenges");
        for (uint256 g; g < 3; ++g) disputes.respond(g, uint8(g == 0 ? 0 : g + 1), false); // HONEST, LIE_SUM, LIE_VALUE
        for (uint256 g = 1; g < 3; ++g) {
            disputes.descend(g, g, 0);
            _assertState(g, IAttributionDisputes.DisputeState.FRAUD);
            assertEq(IRegistryViews(address(registry)).getWorker(_worker(g)).stake, 0, "liar slashed");
        }
        assertEq(disputes.successCount("descentLie"), 2, "every descended lie proven");
        disputes.descend(0, 1, 3);
        assertEq(disputes.successCount("descentHonest"), 1, "the descent into an honest trace lost");
        disputes.resolve(0, true);
        _assertState(0, IAttributionDisputes.DisputeState.WORKER_WON);
        assertTrue(IRegistryViews(address(registry)).getWorker(_worker(0)).stake != 0, "honest worker keeps its stake");
        assertEq(disputes.unexpected(), 0, disputes.firstUnexpected());
        assertEq(handler.unexpected(), 0, handler.firstUnexpected());
        assertEq(disputes.liveBonds(), 0, "no live bond");
        for (uint256 i; i < 6; ++i) handler.withdrawSlashed(i);
        assertEq(address(slasher).balance, 0, "slasher empty");
    }

    function _assertState(uint256 game, IAttributionDisputes.DisputeState state) private view {
        assertEq(uint256(slasher.getDispute(disputes.games()[game].requestId).state), uint256(state), "state");
    }

    function _worker(uint256 game) private view returns (address) {
        return disputes.games()[game].worker;
    }
}
