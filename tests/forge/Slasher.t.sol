// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {IRegistryViews} from "../../contracts/interfaces/IRegistryViews.sol";
import {Attestia} from "./utils/Attestia.sol";
import {IInferenceRegistry} from "../../contracts/interfaces/IInferenceRegistry.sol";
import {IWorkerRegistry} from "../../contracts/interfaces/IWorkerRegistry.sol";
import {ISlasher} from "../../contracts/interfaces/ISlasher.sol";
import {InferenceRegistry} from "../../contracts/InferenceRegistry.sol";
import {Slasher} from "../../contracts/Slasher.sol";
import {OutputDisputes} from "../../contracts/OutputDisputes.sol";
import {
    Share,
    Inference,
    Request,
    Worker,
    RecordStatus,
    BPS,
    SLASH_REPORTER_BPS,
    TIMESTAMP_WINDOW,
    WINDOW_MARGIN,
    AlreadyExists,
    Unauthorized,
    ZeroAddress,
    InvalidSignature,
    NothingToWithdraw,
    findingCommitment,
    equivocationEvidenceId
} from "../../contracts/Common.sol";
import {IAttributionDisputes} from "../../contracts/interfaces/IAttributionDisputes.sol";

/// @notice Issue 9, class 10: a worker's stake is at risk. Equivocation (two conflicting records
///         for one request) is proven by anyone and slashes the whole stake: half to the
///         reporter, half to the treasury; the key is revoked for good; a stake can't leave
///         before every record's challenge window has closed (unbonding configuration).
contract SlasherTest is Fixture {
    address internal reporter;

    function setUp() public override {
        super.setUp();
        reporter = makeAddr("reporter");
        _registerModel(MODEL, FEE, 1_000, 1_000);
    }

    // ------------------------------------------------------------------ equivocation

    /// @dev The worker signs two records with different outputs for one request: anyone proves
    ///      it; the stake goes half to the reporter, half to the treasury (pull balances); the
    ///      key is revoked, inactive, and can record nothing more; the registry's ETH drops by
    ///      exactly the stake.
    function testFuzz_slashEquivocation_paysReporterAndTreasury(uint96 extra, bytes32 outputA, bytes32 outputB)
        public
    {
        vm.assume(outputA != outputB);
        extra = uint96(bound(extra, 0, 50 ether));
        if (extra > 0) {
            vm.prank(operator);
            registry.addStake{value: extra}(worker);
        }
        uint256 stake = Attestia.MIN_STAKE + extra;
        Request memory request = _request(MODEL, worker, "equivocate", FEE);
        (Inference memory a, bytes memory sigA, Inference memory b, bytes memory sigB) =
            _conflicting(request, outputA, outputB);
        uint256 registryBefore = address(registry).balance;

        _commitReport(reporter, a, b);
        vm.prank(reporter);
        uint256 amount = slasher.slashEquivocation(a, sigA, b, sigB, Attestia.REPORT_SALT);

        uint256 reward = stake * SLASH_REPORTER_BPS / BPS;
        assertEq(amount, stake, "whole stake");
        assertEq(slasher.balances(reporter), reward, "reporter reward");
        assertEq(slasher.balances(treasury), stake - reward, "treasury share");
        assertEq(address(slasher).balance, stake, "slasher holds the stake");
        assertEq(address(registry).balance, registryBefore - stake, "registry gave exactly the stake");
        Worker memory slashed = IRegistryViews(address(registry)).getWorker(worker);
        assertEq(slashed.stake, 0, "stake removed");
        assertEq(slashed.slashedAt, block.timestamp, "slashedAt");
        assertEq(slashed.revokedAt, block.timestamp, "revoked");
        assertTrue(!IRegistryViews(address(registry)).isActiveWorker(worker), "inactive");

        // The slashed key records nothing more (the request is still open).
        vm.expectRevert(abi.encodeWithSelector(IWorkerRegistry.WorkerNotActive.selector, worker));
        vm.prank(worker);
        registry.fulfill(request, a, _list(), roster, Attestia.SEALED);
        // Nor can its operator unbond anything out of it.
        vm.prank(operator);
        registry.beginUnbonding(worker);
        vm.warp(block.timestamp + Attestia.UNBONDING_DELAY);
        vm.expectRevert(IWorkerRegistry.ZeroAmount.selector);
        vm.prank(operator);
        registry.withdrawStake(worker);

        // Pull payments.
        uint256 before = reporter.balance;
        vm.prank(reporter);
        slasher.withdraw();
        assertEq(reporter.balance, before + reward, "reporter paid");
        vm.prank(treasury);
        slasher.withdraw();
        assertEq(treasury.balance, stake - reward, "treasury paid");
        assertEq(address(slasher).balance, 0, "slasher empty");
        vm.expectRevert(NothingToWithdraw.selector);
        vm.prank(reporter);
        slasher.withdraw();
    }

    /// @dev A record that landed on chain counts as the worker's without a signature: the
    ///      worker fulfilled directly (no EIP-712 signature exists), then signed a conflicting
    ///      record elsewhere.
    function test_slashEquivocation_recordedRecordNeedsNoSignature() public {
        Request memory request = _request(MODEL, worker, "landed", FEE);
        (Inference memory a,, Inference memory b, bytes memory sigB) = _conflicting(request, "A", "B");
        vm.prank(worker);
        registry.fulfill(request, a, _list(), roster, Attestia.SEALED);

        _commitReport(reporter, a, b);
        vm.prank(reporter);
        slasher.slashEquivocation(a, "", b, sigB, Attestia.REPORT_SALT);
        assertEq(IRegistryViews(address(registry)).getWorker(worker).stake, 0, "slashed");

        // The lens now reports the record's worker as revoked after it.
        RecordStatus memory status = lens.recordStatus(a.requestId, a);
        assertTrue(status.exists, "recorded");
        assertEq(status.workerRevokedAt, block.timestamp, "revoked at the slash");
        assertTrue(status.revokedAfter, "revoked after the record");
    }

    function test_slashEquivocation_unsignedRecordMustBeTheRecordedOne() public {
        Request memory request = _request(MODEL, worker, "unsigned", FEE);
        (Inference memory a,, Inference memory b, bytes memory sigB) = _conflicting(request, "A", "B");
        _commitReport(reporter, a, b);
        vm.expectRevert(abi.encodeWithSelector(ISlasher.NotRecorded.selector, a.requestId));
        vm.prank(reporter);
        slasher.slashEquivocation(a, "", b, sigB, Attestia.REPORT_SALT);
    }

    /// @dev Not equivocation: the same answer re-signed (new timestamp, re-sealed result), two
    ///      workers, two requests, or a forged signature.
    function test_slashEquivocation_refusesWhatIsNotEquivocation() public {
        Request memory request = _request(MODEL, worker, "honest", FEE);
        (Inference memory a, bytes memory sigA,,) = _conflicting(request, "A", "B");

        Inference memory resigned = _copy(a);
        resigned.timestamp += 60;
        resigned.resultHash = keccak256("re-sealed");
        resigned.proofHash = bytes32(0);
        bytes memory sigResigned = _sign(resigned);
        _commitReport(reporter, a, resigned);
        vm.expectRevert(abi.encodeWithSelector(ISlasher.RecordsDoNotConflict.selector, a.requestId));
        vm.prank(reporter);
        slasher.slashEquivocation(a, sigA, resigned, sigResigned, Attestia.REPORT_SALT);

        (address other, uint256 otherKey) = makeAccount("otherWorker");
        _registerWorker(otherKey, Attestia.MIN_STAKE);
        Inference memory byOther = _copy(a);
        byOther.worker = other;
        byOther.outputCommitment = "B";
        bytes memory sigOther = Attestia.sign(otherKey, registry.hashInference(byOther));
        _commitReport(reporter, a, byOther);
        vm.expectRevert(abi.encodeWithSelector(ISlasher.WorkerMismatch.selector, worker, other));
        vm.prank(reporter);
        slasher.slashEquivocation(a, sigA, byOther, sigOther, Attestia.REPORT_SALT);

        Inference memory otherRequest = _copy(a);
        otherRequest.requestId = keccak256("another request");
        otherRequest.outputCommitment = "B";
        bytes memory sigOtherRequest = _sign(otherRequest);
        _commitReport(reporter, a, otherRequest);
        vm.expectRevert(
            abi.encodeWithSelector(ISlasher.RequestIdMismatch.selector, a.requestId, otherRequest.requestId)
        );
        vm.prank(reporter);
        slasher.slashEquivocation(a, sigA, otherRequest, sigOtherRequest, Attestia.REPORT_SALT);

        // A conflicting record "signed" by another key is not the worker's.
        Inference memory forgedB = _copy(a);
        forgedB.outputCommitment = "B";
        bytes memory forged = Attestia.sign(otherKey, registry.hashInference(forgedB));
        _commitReport(reporter, a, forgedB);
        vm.expectRevert(InvalidSignature.selector);
        vm.prank(reporter);
        slasher.slashEquivocation(a, sigA, forgedB, forged, Attestia.REPORT_SALT);
        // A signature in another domain (e.g. the raw struct hash) is not the worker's either.
        bytes memory raw = Attestia.sign(workerKey, keccak256(abi.encode(forgedB)));
        _commitReport(reporter, a, forgedB);
        vm.expectRevert(InvalidSignature.selector);
        vm.prank(reporter);
        slasher.slashEquivocation(a, sigA, forgedB, raw, Attestia.REPORT_SALT);

        assertEq(IRegistryViews(address(registry)).getWorker(worker).stake, Attestia.MIN_STAKE, "nothing slashed");
    }

    /// @dev An unknown key, a key slashed already, and a key whose stake was withdrawn.
    function test_slash_unknownDoubleAndEmpty() public {
        (address ghost, uint256 ghostKey) = makeAccount("ghost");
        Request memory request = _request(MODEL, worker, "ghost", FEE);
        (Inference memory a, Inference memory b) = _pair(request, ghost, "A", "B");
        bytes memory sigA = Attestia.sign(ghostKey, registry.hashInference(a));
        bytes memory sigB = Attestia.sign(ghostKey, registry.hashInference(b));
        _commitReport(reporter, a, b);
        vm.expectRevert(abi.encodeWithSelector(IWorkerRegistry.WorkerNotFound.selector, ghost));
        vm.prank(reporter);
        slasher.slashEquivocation(a, sigA, b, sigB, Attestia.REPORT_SALT);

        (Inference memory c, bytes memory sigC, Inference memory d, bytes memory sigD) =
            _conflicting(request, "C", "D");
        _commitReport(reporter, c, d);
        vm.prank(reporter);
        slasher.slashEquivocation(c, sigC, d, sigD, Attestia.REPORT_SALT);
        _commitReport(relayer, c, d);
        vm.expectRevert(abi.encodeWithSelector(IWorkerRegistry.AlreadySlashed.selector, worker));
        vm.prank(relayer);
        slasher.slashEquivocation(c, sigC, d, sigD, Attestia.REPORT_SALT);

        // A worker that unbonded and withdrew has nothing left to slash.
        (address gone, uint256 goneKey) = makeAccount("gone");
        _registerWorker(goneKey, Attestia.MIN_STAKE);
        vm.prank(operator);
        registry.beginUnbonding(gone);
        vm.warp(block.timestamp + Attestia.UNBONDING_DELAY);
        vm.prank(operator);
        registry.withdrawStake(gone);
        (Inference memory e, Inference memory f) = _pair(request, gone, "E", "F");
        bytes memory sigE = Attestia.sign(goneKey, registry.hashInference(e));
        bytes memory sigF = Attestia.sign(goneKey, registry.hashInference(f));
        _commitReport(reporter, e, f);
        vm.expectRevert(abi.encodeWithSelector(IWorkerRegistry.NothingToSlash.selector, gone));
        vm.prank(reporter);
        slasher.slashEquivocation(e, sigE, f, sigF, Attestia.REPORT_SALT);
    }

    /// @dev Issue 17, attack 2: a report pays only the account that committed to its evidence
    ///      in an earlier block; a copy from another account, a report in the commitment's own
    ///      block and a report with another salt are refused, and nothing is slashed by them.
    function test_slashEquivocation_paysOnlyItsCommittedReporter() public {
        Request memory request = _request(MODEL, worker, "copied", FEE);
        (Inference memory a, bytes memory sigA, Inference memory b, bytes memory sigB) =
            _conflicting(request, "A", "B");
        bytes32 evidence = equivocationEvidenceId(registry.hashInference(a), registry.hashInference(b));
        bytes32 commitment = findingCommitment(reporter, evidence, Attestia.REPORT_SALT);
        vm.prank(reporter);
        slasher.commitFinding(commitment);
        assertEq(slasher.findingCommittedAt(commitment), block.number, "committed");

        vm.expectRevert(abi.encodeWithSelector(IAttributionDisputes.RevealTooEarly.selector, block.number));
        vm.prank(reporter);
        slasher.slashEquivocation(a, sigA, b, sigB, Attestia.REPORT_SALT);
        vm.roll(block.number + 1);
        bytes32 copied = findingCommitment(relayer, evidence, Attestia.REPORT_SALT);
        vm.expectRevert(abi.encodeWithSelector(IAttributionDisputes.FindingNotCommitted.selector, copied));
        vm.prank(relayer);
        slasher.slashEquivocation(a, sigA, b, sigB, Attestia.REPORT_SALT);
        bytes32 otherSalt = findingCommitment(reporter, evidence, keccak256("other"));
        vm.expectRevert(abi.encodeWithSelector(IAttributionDisputes.FindingNotCommitted.selector, otherSalt));
        vm.prank(reporter);
        slasher.slashEquivocation(a, sigA, b, sigB, keccak256("other"));
        assertEq(IRegistryViews(address(registry)).getWorker(worker).stake, Attestia.MIN_STAKE, "nothing slashed");

        vm.prank(reporter);
        slasher.slashEquivocation(a, sigA, b, sigB, Attestia.REPORT_SALT);
        assertEq(slasher.balances(reporter), Attestia.MIN_STAKE / 2, "the committed reporter is paid");
        assertEq(slasher.balances(relayer), 0, "the copier is not");
        assertEq(slasher.findingCommittedAt(commitment), 0, "spent");
    }

    /// @dev A governance-revoked or unbonding worker can still be slashed (revocation or
    ///      unbonding must not be an escape from a pending challenge).
    function test_slash_revokedOrUnbondingWorkerIsStillSlashable() public {
        Request memory request = _request(MODEL, worker, "escape", FEE);
        (Inference memory a, bytes memory sigA, Inference memory b, bytes memory sigB) =
            _conflicting(request, "A", "B");
        vm.prank(admin);
        registry.revokeWorker(worker);
        vm.prank(operator);
        registry.beginUnbonding(worker);
        uint64 revokedAt = IRegistryViews(address(registry)).getWorker(worker).revokedAt;
        vm.warp(block.timestamp + Attestia.UNBONDING_DELAY - 1);
        _commitReport(reporter, a, b);
        vm.prank(reporter);
        slasher.slashEquivocation(a, sigA, b, sigB, Attestia.REPORT_SALT);
        assertEq(IRegistryViews(address(registry)).getWorker(worker).revokedAt, revokedAt, "first revocation kept");
        assertEq(slasher.balances(reporter), Attestia.MIN_STAKE / 2, "reporter paid");
    }

    // ------------------------------------------------------------------ the hook and its wiring

    function test_slashStake_onlyTheSlasher() public {
        vm.expectRevert(Unauthorized.selector);
        vm.prank(admin);
        registry.slashStake(worker);
        vm.expectRevert(Unauthorized.selector);
        vm.prank(worker);
        registry.slashStake(worker);
    }

    function test_setSlasher_onceByTheAdmin() public {
        InferenceRegistry fresh = Attestia.deployRegistry(admin, address(distributor));
        assertEq(fresh.slasher(), address(0), "unset");
        vm.expectRevert(); // AccessControlUnauthorizedAccount
        vm.prank(relayer);
        fresh.setSlasher(address(slasher));
        vm.expectRevert(ZeroAddress.selector);
        vm.prank(admin);
        fresh.setSlasher(address(0));
        vm.prank(admin);
        fresh.setSlasher(address(slasher));
        assertEq(fresh.slasher(), address(slasher), "set");
        vm.expectRevert(AlreadyExists.selector);
        vm.prank(admin);
        fresh.setSlasher(relayer);
    }

    /// @dev The slasher takes ETH from its registry only.
    function test_slasher_receivesFromTheRegistryOnly() public {
        vm.deal(relayer, 1 ether);
        vm.prank(relayer);
        (bool ok,) = address(slasher).call{value: 1 ether}("");
        assertTrue(!ok, "stranger's ETH accepted");
        // The Slasher's own base constructor refuses it (its OutputDisputes would too, first).
        vm.expectRevert(ZeroAddress.selector);
        new Slasher(registry, address(0), Attestia.DISPUTE_BOND, Attestia.RESPONSE_WINDOW, OutputDisputes(address(0)));
    }

    // ------------------------------------------------------------------ stake vs challenge window

    /// @dev unbondingDelay must cover challengeWindow + TIMESTAMP_WINDOW + WINDOW_MARGIN: a
    ///      record lands only while its worker is active and carries a timestamp at most TIMESTAMP_WINDOW past the
    ///      block time, so every record's challenge window closes before its stake can leave.
    function testFuzz_unbondingDelayCoversTheChallengeWindow(uint64 challengeWindow, uint64 unbondingDelay) public {
        challengeWindow = uint64(bound(challengeWindow, 0, 365 days));
        unbondingDelay = uint64(bound(unbondingDelay, 0, 400 days));
        uint256 minimum = uint256(challengeWindow) + TIMESTAMP_WINDOW + WINDOW_MARGIN;
        if (unbondingDelay < minimum) {
            vm.expectRevert(
                abi.encodeWithSelector(IWorkerRegistry.InvalidUnbondingDelay.selector, minimum, unbondingDelay)
            );
        }
        InferenceRegistry fresh = Attestia.deployRegistry(admin, address(distributor), unbondingDelay, challengeWindow);
        if (unbondingDelay < minimum) return;
        assertEq(fresh.challengeWindow(), challengeWindow, "challengeWindow()");
        assertEq(fresh.unbondingDelay(), unbondingDelay, "unbondingDelay()");
    }

    /// @dev The worker's last record (signed TIMESTAMP_WINDOW ahead of the block, the moment it
    ///      begins unbonding) is still challengeable until its window closes, and the stake
    ///      can't be withdrawn until then.
    function test_stakeStaysUntilTheLastRecordsWindowCloses() public {
        Request memory request = _request(MODEL, worker, "last", FEE);
        Share[] memory list = _list();
        uint64 signedAt = uint64(block.timestamp + TIMESTAMP_WINDOW);
        vm.warp(block.timestamp + 1); // createdAt <= signedAt <= deadline
        Inference memory last = Attestia.signedRecord(request, worker, "A", list, signedAt);
        vm.prank(worker);
        registry.fulfill(request, last, list, roster, Attestia.SEALED);
        vm.prank(operator);
        registry.beginUnbonding(worker);
        uint256 windowClosesAt = uint256(signedAt) + Attestia.CHALLENGE_WINDOW;
        uint256 withdrawableAt = block.timestamp + Attestia.UNBONDING_DELAY;
        assertGe(withdrawableAt, windowClosesAt, "stake outlives the challenge window");

        vm.warp(windowClosesAt);
        Inference memory conflicting = Attestia.signedRecord(request, worker, "B", list, signedAt);
        bytes memory sig = _sign(conflicting);
        vm.expectRevert(
            abi.encodeWithSelector(IWorkerRegistry.UnbondingNotElapsed.selector, uint64(withdrawableAt))
        );
        vm.prank(operator);
        registry.withdrawStake(worker);
        _commitReport(reporter, last, conflicting);
        vm.prank(reporter);
        slasher.slashEquivocation(last, "", conflicting, sig, Attestia.REPORT_SALT);
        assertEq(slasher.balances(reporter), Attestia.MIN_STAKE / 2, "still slashable");
    }

    // ------------------------------------------------------------------ helpers

    function _list() internal view returns (Share[] memory) {
        return Attestia.shares(roster, 1);
    }

    function _pair(Request memory request, address signer, bytes32 outputA, bytes32 outputB)
        internal
        view
        returns (Inference memory a, Inference memory b)
    {
        a = Attestia.signedRecord(request, signer, outputA, _list(), uint64(block.timestamp));
        b = Attestia.signedRecord(request, signer, outputB, _list(), uint64(block.timestamp));
    }

    function _conflicting(Request memory request, bytes32 outputA, bytes32 outputB)
        internal
        view
        returns (Inference memory a, bytes memory sigA, Inference memory b, bytes memory sigB)
    {
        (a, b) = _pair(request, worker, outputA, outputB);
        sigA = _sign(a);
        sigB = _sign(b);
    }

    function _copy(Inference memory record) internal pure returns (Inference memory) {
        return abi.decode(abi.encode(record), (Inference));
    }
}
