// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {IRegistryViews} from "../../contracts/interfaces/IRegistryViews.sol";
import {Attestia} from "./utils/Attestia.sol";
import {MerkleTree} from "./utils/MerkleTree.sol";
import {IInferenceRegistry} from "../../contracts/interfaces/IInferenceRegistry.sol";
import {IModelRegistry} from "../../contracts/interfaces/IModelRegistry.sol";
import {IWorkerRegistry} from "../../contracts/interfaces/IWorkerRegistry.sol";
import {
    Share,
    Inference,
    Request,
    Batch,
    Split,
    Model,
    BPS,
    PROOF_SIGNED,
    TIMESTAMP_WINDOW,
    REQUEST_CANCELLED,
    REQUEST_REJECTED,
    AlreadyExists,
    Unauthorized,
    InvalidSignature,
    IncorrectPayment,
    NothingToWithdraw
} from "../../contracts/Common.sol";

/// @notice Fuzz tests of the registry's key paths: requests, records (direct and relayed),
///         the fee split, attribution-list validation, finality of a record, cancels and
///         rejections, batches with real Merkle trees, epoch and batch sweeps, stakes.
contract InferenceRegistryFuzzTest is Fixture {
    bytes32 private constant DATA_HASH = keccak256("batch file");
    uint256 private constant SECP256K1_N =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    // ------------------------------------------------------------------ requests

    function testFuzz_requestInference_exactPayment(uint96 fee, uint96 paid, bytes32 input, bool exact)
        public
    {
        fee = uint96(bound(fee, 0, 100 ether));
        paid = exact ? fee : uint96(bound(paid, 0, 100 ether));
        _registerModel(MODEL, fee, 1_000, 1_000);
        if (paid != fee) {
            _requestReverts(
                MODEL, worker, input, paid, abi.encodeWithSelector(IncorrectPayment.selector, fee, paid)
            );
            return;
        }
        Request memory request = _request(MODEL, worker, input, paid);
        bytes32 requestId = IRegistryViews(address(registry)).requestIdOf(requester, MODEL, input);
        assertEq(requestId, keccak256(abi.encode(requester, MODEL, input)), "request id");
        assertEq(registry.requestState(requestId), IRegistryViews(address(registry)).hashRequest(request), "open slot");
        assertEq(address(registry).balance, Attestia.MIN_STAKE + fee, "fee escrowed");

        // The same (requester, model, input) can't be paid twice.
        _requestReverts(MODEL, worker, input, paid, abi.encodeWithSelector(AlreadyExists.selector));
    }

    function testFuzz_requestInference_namedWorkerMustBeActive(address named, bytes32 input) public {
        vm.assume(named != address(0) && named != worker);
        _registerModel(MODEL, FEE, 1_000, 1_000);
        _requestReverts(
            MODEL, named, input, FEE, abi.encodeWithSelector(IWorkerRegistry.WorkerNotFound.selector, named)
        );

        vm.prank(operator);
        registry.beginUnbonding(worker);
        _requestReverts(
            MODEL, worker, input, FEE, abi.encodeWithSelector(IWorkerRegistry.WorkerNotActive.selector, worker)
        );
    }

    // ------------------------------------------------------------------ records and the fee split

    function testFuzz_fulfill_splitsFeeExactly(
        uint96 fee,
        uint16 workerBps,
        uint16 ownerBps,
        uint256 seed,
        bool bySig
    ) public {
        fee = uint96(bound(fee, 0, 1_000 ether));
        workerBps = uint16(bound(workerBps, 0, BPS));
        ownerBps = uint16(bound(ownerBps, 0, BPS - workerBps));
        _registerModel(MODEL, fee, workerBps, ownerBps);
        Request memory request = _request(MODEL, worker, keccak256(abi.encode(seed)), fee);
        (Inference memory inference, Share[] memory list) = _record(request, seed);
        uint256 held = address(registry).balance;

        if (bySig) {
            bytes memory signature = _sign(inference);
            vm.prank(relayer);
            registry.fulfillBySig(request, inference, list, roster, signature, Attestia.SEALED);
        } else {
            vm.prank(worker);
            registry.fulfill(request, inference, list, roster, Attestia.SEALED);
        }

        (uint256 workerCut, uint256 ownerCut, uint256 contributorCut) =
            Attestia.split(fee, workerBps, ownerBps);
        assertEq(workerCut + ownerCut + contributorCut, fee, "cuts sum to the fee");
        assertEq(registry.balances(operator), workerCut, "worker cut goes to the operator");
        assertEq(registry.balances(worker), 0, "nothing to the signing key");
        assertEq(registry.balances(modelOwner), ownerCut, "owner cut");
        assertEq(IRegistryViews(address(registry)).epochPool(registry.currentEpoch()), contributorCut, "contributor cut pooled");
        assertEq(address(registry).balance, held, "a record moves no ETH");
        assertEq(
            registry.requestState(inference.requestId),
            registry.hashInference(inference),
            "the slot holds the record's digest"
        );
        // Rounding favours the contributors, by at most 2 wei.
        uint256 contributorShare = uint256(fee) * (BPS - workerBps - ownerBps) / BPS;
        assertGe(contributorCut, contributorShare, "contributors get at least their bps");
        assertLe(contributorCut, contributorShare + 2, "rounding is at most 2 wei");
    }

    /// @dev Attribution lists must be strictly ascending by account (no duplicates, no
    ///      address(0)), without zero bps, summing to BPS; and hash to the signed value.
    function testFuzz_fulfill_rejectsInvalidShares(uint256 seed, uint8 mode, uint16 delta) public {
        _registerModel(MODEL, FEE, 1_000, 1_000);
        Request memory request = _request(MODEL, worker, bytes32(seed), FEE);
        Share[] memory list = Attestia.shares(roster, seed);
        if (list.length < 2) list = Attestia.shares(roster, (1 << roster.length) - 2); // all five
        uint256 i = seed % (list.length - 1);
        bytes memory expected;
        mode = uint8(bound(mode, 0, 5));
        if (mode == 0) {
            // Two neighbours swapped.
            (list[i], list[i + 1]) = (list[i + 1], list[i]);
            expected = abi.encodeWithSelector(IInferenceRegistry.SharesNotSorted.selector, i + 1);
        } else if (mode == 1) {
            // One account twice.
            list[i + 1].account = list[i].account;
            expected = abi.encodeWithSelector(IInferenceRegistry.SharesNotSorted.selector, i + 1);
        } else if (mode == 2) {
            // A zero share, the sum kept at BPS.
            list[list.length - 1].bps += list[i].bps;
            list[i].bps = 0;
            expected = abi.encodeWithSelector(IInferenceRegistry.ZeroShare.selector, i);
        } else if (mode == 3) {
            // The sum off BPS.
            delta = uint16(bound(delta, 1, type(uint16).max - list[0].bps));
            list[0].bps += delta;
            expected =
                abi.encodeWithSelector(IInferenceRegistry.SharesSumInvalid.selector, uint256(BPS) + delta);
        } else if (mode == 4) {
            // The zero address (sorts first).
            list[0].account = address(0);
            expected = abi.encodeWithSelector(IInferenceRegistry.SharesNotSorted.selector, 0);
        }
        Inference memory inference =
            Attestia.signedRecord(request, worker, bytes32(seed), list, uint64(block.timestamp));
        if (mode == 5) {
            // A valid list other than the signed one.
            Share[] memory other = Attestia.shares(roster, seed + 1);
            vm.assume(Attestia.attributionHash(other) != inference.attributionHash);
            expected = abi.encodeWithSelector(
                IInferenceRegistry.AttributionHashMismatch.selector,
                inference.attributionHash,
                Attestia.attributionHash(other)
            );
            list = other;
        }
        vm.expectRevert(expected);
        vm.prank(worker);
        registry.fulfill(request, inference, list, roster, Attestia.SEALED);
    }

    function testFuzz_fulfill_onlyTheWorkerSigns(uint256 otherKey, uint256 seed, bytes32 output) public {
        otherKey = bound(otherKey, 1, SECP256K1_N - 1);
        vm.assume(otherKey != workerKey);
        _registerModel(MODEL, FEE, 1_000, 1_000);
        Request memory request = _request(MODEL, worker, bytes32(seed), FEE);
        (Inference memory inference, Share[] memory list) = _record(request, seed);

        // Another key's signature.
        bytes memory forged = Attestia.sign(otherKey, registry.hashInference(inference));
        vm.expectRevert(InvalidSignature.selector);
        vm.prank(relayer);
        registry.fulfillBySig(request, inference, list, roster, forged, Attestia.SEALED);

        // The worker's signature over a different record.
        Inference memory changed =
            Attestia.signedRecord(request, worker, output, list, uint64(block.timestamp));
        vm.assume(output != inference.outputCommitment);
        bytes memory signature = _sign(inference);
        vm.expectRevert(InvalidSignature.selector);
        vm.prank(relayer);
        registry.fulfillBySig(request, changed, list, roster, signature, Attestia.SEALED);

        // A direct record must come from the worker key itself (not even its operator).
        vm.expectRevert(Unauthorized.selector);
        vm.prank(operator);
        registry.fulfill(request, inference, list, roster, Attestia.SEALED);

        vm.prank(relayer);
        registry.fulfillBySig(request, inference, list, roster, signature, Attestia.SEALED);
    }

    /// @dev Once recorded, a request can be neither recorded again (same record or another),
    ///      nor cancelled, nor rejected, nor requested again; its slot keeps the digest.
    function testFuzz_recordedRequest_isFinal(uint256 seed, bytes32 otherOutput, uint256 wait) public {
        _registerModel(MODEL, FEE, 1_000, 1_000);
        Request memory request = _request(MODEL, worker, bytes32(seed), FEE);
        (Inference memory inference, Share[] memory list) = _record(request, seed);
        bytes memory signature = _sign(inference);
        vm.prank(worker);
        registry.fulfill(request, inference, list, roster, Attestia.SEALED);
        bytes32 digest = registry.hashInference(inference);
        uint256 operatorBalance = registry.balances(operator);

        vm.warp(block.timestamp + bound(wait, 0, 30 days));
        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.AlreadyRecorded.selector, digest));
        vm.prank(worker);
        registry.fulfill(request, inference, list, roster, Attestia.SEALED);
        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.AlreadyRecorded.selector, digest));
        vm.prank(relayer);
        registry.fulfillBySig(request, inference, list, roster, signature, Attestia.SEALED);

        vm.assume(otherOutput != inference.outputCommitment);
        Inference memory other =
            Attestia.signedRecord(request, worker, otherOutput, list, uint64(block.timestamp));
        bytes memory otherSignature = _sign(other);
        bytes memory notOpen =
            abi.encodeWithSelector(IInferenceRegistry.RequestNotOpen.selector, inference.requestId);
        vm.expectRevert(notOpen);
        vm.prank(relayer);
        registry.fulfillBySig(request, other, list, roster, otherSignature, Attestia.SEALED);
        vm.expectRevert(notOpen);
        vm.prank(requester);
        registry.cancelRequest(request);
        vm.expectRevert(notOpen);
        vm.prank(worker);
        registry.rejectRequest(request, "late");
        _requestReverts(MODEL, worker, bytes32(seed), FEE, abi.encodeWithSelector(AlreadyExists.selector));

        assertEq(registry.requestState(inference.requestId), digest, "slot unchanged");
        assertEq(registry.balances(operator), operatorBalance, "paid once");
        assertEq(registry.balances(requester), 0, "no refund");
    }

    function testFuzz_fulfill_timestampWindow(uint256 wait, uint256 skew) public {
        _registerModel(MODEL, FEE, 1_000, 1_000);
        Request memory request = _request(MODEL, worker, bytes32(wait), FEE);
        vm.warp(block.timestamp + bound(wait, 0, 2 hours));
        skew = bound(skew, 0, 80 minutes);
        uint64 timestamp = uint64(block.timestamp + skew - 40 minutes);
        Share[] memory list = Attestia.shares(roster, wait);
        Inference memory inference = Attestia.signedRecord(request, worker, bytes32(skew), list, timestamp);

        bool inWindow = timestamp >= request.createdAt && timestamp + TIMESTAMP_WINDOW >= block.timestamp
            && timestamp <= block.timestamp + TIMESTAMP_WINDOW;
        uint64 deadline = request.createdAt + Attestia.REQUEST_TIMEOUT;
        if (!inWindow) {
            vm.expectRevert(
                abi.encodeWithSelector(IInferenceRegistry.TimestampOutOfWindow.selector, timestamp)
            );
        } else if (timestamp > deadline) {
            // Signed after the request's deadline (issue 9, class 8).
            vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.RequestExpired.selector, deadline));
        }
        vm.prank(worker);
        registry.fulfill(request, inference, list, roster, Attestia.SEALED);
    }

    // ------------------------------------------------------------------ cancels and rejections

    function testFuzz_cancelRequest_onlyRequesterAfterTimeout(uint96 fee, uint256 wait) public {
        fee = uint96(bound(fee, 0, 100 ether));
        _registerModel(MODEL, fee, 1_000, 1_000);
        Request memory request = _request(MODEL, worker, bytes32(wait), fee);
        wait = bound(wait, 0, 3 hours);
        vm.warp(block.timestamp + wait);

        vm.expectRevert(Unauthorized.selector);
        vm.prank(relayer);
        registry.cancelRequest(request);
        // Cancellable from the first second in which no record signed by the deadline can land.
        uint64 cancellableAt = request.createdAt + Attestia.REQUEST_TIMEOUT + TIMESTAMP_WINDOW + 1;
        if (block.timestamp < cancellableAt) {
            vm.expectRevert(
                abi.encodeWithSelector(IInferenceRegistry.RequestNotExpired.selector, cancellableAt)
            );
            vm.prank(requester);
            registry.cancelRequest(request);
            return;
        }
        vm.prank(requester);
        registry.cancelRequest(request);
        assertEq(registry.requestState(_id(request)), REQUEST_CANCELLED, "cancelled");
        assertEq(registry.balances(requester), fee, "refund credited");

        uint256 before = requester.balance;
        if (fee == 0) vm.expectRevert(NothingToWithdraw.selector);
        vm.prank(requester);
        registry.withdraw();
        assertEq(requester.balance, before + fee, "refund paid");
        assertEq(address(registry).balance, Attestia.MIN_STAKE, "only the stake left");
    }

    /// @dev A request may be rejected by its worker key or that key's operator only (issue 9,
    ///      class 7); a request naming no worker does not exist (WorkerRequired, issue 17).
    function testFuzz_rejectRequest_whoMayRejectAndRefund(uint8 who, bool named) public {
        _registerModel(MODEL, FEE, 1_000, 1_000);
        (, uint256 otherKey) = makeAccount("otherWorker");
        address other = _registerWorker(otherKey, Attestia.MIN_STAKE);
        if (!named) {
            _requestReverts(
                MODEL, address(0), bytes32(uint256(who)), FEE,
                abi.encodeWithSelector(IInferenceRegistry.WorkerRequired.selector)
            );
            return;
        }
        Request memory request = _request(MODEL, worker, bytes32(uint256(who)), FEE);
        who = uint8(bound(who, 0, 3));
        address[4] memory callers = [worker, operator, other, relayer];
        bool allowed = who <= 1;

        if (!allowed) {
            vm.expectRevert(Unauthorized.selector);
        }
        vm.prank(callers[who]);
        registry.rejectRequest(request, "cannot serve");
        if (!allowed) return;
        assertEq(registry.requestState(_id(request)), REQUEST_REJECTED, "rejected");
        assertEq(registry.balances(requester), FEE, "refund credited");
    }

    // ------------------------------------------------------------------ batches

    function testFuzz_commitBatch_inclusionAndSweepOnce(
        uint96 deposit,
        uint8 leaves,
        uint256 seed,
        bool bySig
    ) public {
        _registerModel(MODEL, FEE, 1_000, 1_000);
        deposit = uint96(bound(deposit, 0, 100 ether));
        leaves = uint8(bound(leaves, 1, 8));
        Inference[] memory records = new Inference[](leaves);
        bytes32[] memory hashes = new bytes32[](leaves);
        for (uint256 i; i < leaves; ++i) {
            records[i] = _batchLeaf(seed, i);
            hashes[i] = lens.leafHash(records[i]);
            assertEq(hashes[i], keccak256(bytes.concat(keccak256(abi.encode(records[i])))), "leaf hash");
        }
        bytes32[] memory tree = MerkleTree.build(hashes);
        uint64 epoch = registry.currentEpoch();
        bytes32 batchId = _commit(tree[0], leaves, epoch, deposit, bySig);

        assertEq(batchId, keccak256(abi.encode(tree[0], MODEL, worker)), "batch id");
        (uint64 committedAt, uint32 count, uint256 held, bool swept) = IRegistryViews(address(registry)).batchInfo(batchId);
        assertEq(committedAt, block.timestamp, "committedAt");
        assertEq(count, leaves, "count");
        assertEq(held, deposit, "deposit kept in the batch slot");
        assertTrue(!swept, "not swept");
        _checkInclusion(batchId, records, hashes, tree);

        vm.expectRevert(AlreadyExists.selector);
        vm.prank(worker);
        registry.commitBatch(tree[0], leaves, MODEL, epoch, "ipfs://batch", DATA_HASH);
        _sweepBatchOnce(batchId, epoch, deposit);
    }

    function _checkInclusion(
        bytes32 batchId,
        Inference[] memory records,
        bytes32[] memory hashes,
        bytes32[] memory tree
    ) private view {
        for (uint256 i; i < records.length; ++i) {
            bytes32[] memory path = MerkleTree.proof(tree, hashes[i]);
            assertTrue(lens.verifyInclusion(batchId, records[i], path), "leaf included");
            records[i].outputCommitment = ~records[i].outputCommitment;
            assertTrue(!lens.verifyInclusion(batchId, records[i], path), "tampered leaf excluded");
        }
    }

    function _sweepBatchOnce(bytes32 batchId, uint64 epoch, uint256 deposit) private {
        bytes32[] memory ids = new bytes32[](1);
        ids[0] = batchId;
        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.EpochNotEnded.selector, epoch));
        registry.sweepBatches(ids);

        vm.warp(Attestia.START + (uint256(epoch) + 1) * Attestia.EPOCH_LENGTH);
        if (deposit == 0) {
            vm.expectRevert(IInferenceRegistry.NothingToSweepBatches.selector);
            registry.sweepBatches(ids);
            return;
        }
        uint256 funded = distributor.totalFunded();
        vm.prank(relayer);
        registry.sweepBatches(ids);
        assertEq(distributor.totalFunded(), funded + deposit, "deposit funded");
        assertEq(address(distributor).balance, funded + deposit, "deposit moved");
        assertEq(address(registry).balance, Attestia.MIN_STAKE, "registry keeps only the stake");
        (,,, bool swept) = IRegistryViews(address(registry)).batchInfo(batchId);
        assertTrue(swept, "swept");
        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.BatchAlreadySwept.selector, batchId));
        registry.sweepBatches(ids);
    }

    function testFuzz_commitBatch_rejectsInvalid(bytes32 root, uint32 count, uint64 epoch, uint256 otherKey)
        public
    {
        _registerModel(MODEL, FEE, 1_000, 1_000);
        uint64 current = registry.currentEpoch();
        count = uint32(bound(count, 1, type(uint32).max));

        vm.expectRevert(IInferenceRegistry.EmptyBatch.selector);
        vm.prank(worker);
        registry.commitBatch(root, 0, MODEL, current, "ipfs://batch", DATA_HASH);

        vm.assume(epoch != current);
        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.EpochMismatch.selector, current, epoch));
        vm.prank(worker);
        registry.commitBatch(root, count, MODEL, epoch, "ipfs://batch", DATA_HASH);

        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotFound.selector, ~MODEL));
        vm.prank(worker);
        registry.commitBatch(root, count, ~MODEL, current, "ipfs://batch", DATA_HASH);

        // A relayed commitment must carry the worker's signature over exactly these fields.
        otherKey = bound(otherKey, 1, SECP256K1_N - 1);
        vm.assume(otherKey != workerKey);
        Batch memory batch = Batch(root, count, MODEL, current, keccak256("ipfs://batch"), DATA_HASH, worker, 0);
        bytes memory forged = Attestia.sign(otherKey, lens.hashBatch(batch));
        vm.expectRevert(InvalidSignature.selector);
        vm.prank(relayer);
        registry.commitBatchBySig(root, count, MODEL, current, "ipfs://batch", DATA_HASH, worker, forged);
        bytes memory signature = Attestia.sign(workerKey, lens.hashBatch(batch));
        vm.deal(relayer, 1);
        vm.expectRevert(InvalidSignature.selector); // the deposit is part of what is signed
        vm.prank(relayer);
        registry.commitBatchBySig{value: 1}(root, count, MODEL, current, "ipfs://batch", DATA_HASH, worker, signature);

        vm.prank(operator);
        registry.beginUnbonding(worker);
        vm.expectRevert(abi.encodeWithSelector(IWorkerRegistry.WorkerNotActive.selector, worker));
        vm.prank(worker);
        registry.commitBatch(root, count, MODEL, current, "ipfs://batch", DATA_HASH);
    }

    // ------------------------------------------------------------------ epoch sweeps

    function testFuzz_sweepEpoch_fundsDistributorOnce(uint96 fee, uint8 records, uint256 wait) public {
        fee = uint96(bound(fee, 0, 10 ether));
        records = uint8(bound(records, 1, 4));
        _registerModel(MODEL, fee, 2_500, 1_500);
        uint64 epoch = registry.currentEpoch();
        for (uint256 i; i < records; ++i) {
            Request memory request = _request(MODEL, worker, bytes32(i), fee);
            (Inference memory inference, Share[] memory list) = _record(request, i);
            vm.prank(worker);
            registry.fulfill(request, inference, list, roster, Attestia.SEALED);
        }
        (,, uint256 contributorCut) = Attestia.split(fee, 2_500, 1_500);
        uint256 pool = contributorCut * records;
        assertEq(IRegistryViews(address(registry)).epochPool(epoch), pool, "pool");

        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.EpochNotEnded.selector, epoch));
        registry.sweepEpoch(epoch);
        vm.warp(Attestia.START + (uint256(epoch) + 1) * Attestia.EPOCH_LENGTH + bound(wait, 0, 30 days));
        if (pool == 0) {
            vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.NothingToSweep.selector, epoch));
            registry.sweepEpoch(epoch);
            return;
        }
        vm.prank(relayer);
        registry.sweepEpoch(epoch);
        assertEq(distributor.totalFunded(), pool, "pool funded");
        assertEq(address(distributor).balance, pool, "pool moved");
        assertEq(IRegistryViews(address(registry)).epochPool(epoch), 0, "pool emptied");
        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.NothingToSweep.selector, epoch));
        registry.sweepEpoch(epoch);
    }

    // ------------------------------------------------------------------ models and workers

    function testFuzz_registerModel_validatesPolicyAndSplit(
        uint8 policy,
        uint16 workerBps,
        uint16 ownerBps,
        uint16 contributorBps,
        bool completeSplit,
        bool validPolicyBits
    ) public {
        // Steer half the runs to valid inputs (7 of 256 policies are valid).
        if (validPolicyBits) policy = uint8(bound(policy, 1, 7) << 1);
        if (completeSplit) {
            workerBps = uint16(bound(workerBps, 0, BPS));
            ownerBps = uint16(bound(ownerBps, 0, BPS - workerBps));
            contributorBps = BPS - workerBps - ownerBps;
        }
        bool policyValid = policy != 0 && policy & ~uint8(0x0E) == 0;
        bool splitValid = uint256(workerBps) + ownerBps + contributorBps == BPS;
        Split memory split = Split(workerBps, ownerBps, contributorBps);
        if (!policyValid) {
            vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidPolicy.selector, policy));
        } else if (!splitValid) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IModelRegistry.InvalidSplit.selector, workerBps, ownerBps, contributorBps
                )
            );
        }
        vm.prank(modelOwner);
        registry.registerModel(CONTENT, "ipfs://m", bytes32(0), roster, policy, FEE, split);
        if (!policyValid || !splitValid) return;

        Model memory model = IRegistryViews(address(registry)).getModel(MODEL);
        assertEq(model.owner, modelOwner, "owner");
        assertEq(model.policy, policy, "policy");
        assertEq(model.workerBps, workerBps, "workerBps");
        assertEq(model.ownerBps, ownerBps, "ownerBps");
        assertEq(model.contentHash, CONTENT, "content hash");
        assertEq(model.contributors, roster.length, "roster length");
        assertEq(model.contributorsHash, keccak256(abi.encodePacked(roster)), "roster hash");
        // The same owner can't register the same content twice; anyone else gets its own id.
        vm.expectRevert(AlreadyExists.selector);
        vm.prank(modelOwner);
        registry.registerModel(CONTENT, "ipfs://m", bytes32(0), roster, policy, FEE, split);
        vm.prank(relayer);
        bytes32 other = registry.registerModel(CONTENT, "ipfs://m", bytes32(0), roster, policy, FEE, split);
        assertTrue(other != MODEL, "another owner gets another id");
        assertEq(IRegistryViews(address(registry)).getModel(MODEL).owner, modelOwner, "owner unchanged");
    }

    function testFuzz_workerStake_lifecycle(uint96 stake, uint96 extra, uint256 wait, bool tooLow)
        public
    {
        (address signer, uint256 signerKey) = makeAccount("worker2");
        stake = uint96(
            tooLow ? bound(stake, 0, Attestia.MIN_STAKE - 1) : bound(stake, Attestia.MIN_STAKE, 50 ether)
        );
        if (tooLow) {
            (bytes memory consent, uint256 deadline) = _consent(signerKey, operator, hex"04aa");
            vm.expectRevert(
                abi.encodeWithSelector(IWorkerRegistry.StakeTooLow.selector, Attestia.MIN_STAKE, stake)
            );
            vm.prank(operator);
            registry.registerWorker{value: stake}(signer, hex"04aa", deadline, consent);
            return;
        }
        _registerWorker(signerKey, stake);
        extra = uint96(bound(extra, 1, 10 ether));
        vm.prank(operator);
        registry.addStake{value: extra}(signer);
        assertEq(IRegistryViews(address(registry)).getWorker(signer).stake, uint256(stake) + extra, "stake");

        vm.expectRevert(Unauthorized.selector);
        vm.prank(relayer);
        registry.beginUnbonding(signer);
        vm.prank(operator);
        registry.beginUnbonding(signer);
        assertTrue(!IRegistryViews(address(registry)).isActiveWorker(signer), "unbonding key is inactive");
        vm.expectRevert(abi.encodeWithSelector(IWorkerRegistry.WorkerNotActive.selector, signer));
        vm.prank(operator);
        registry.addStake{value: 1}(signer);

        uint256 unbondingAt = block.timestamp;
        wait = bound(wait, 0, 14 days);
        vm.warp(block.timestamp + wait);
        if (wait < Attestia.UNBONDING_DELAY) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IWorkerRegistry.UnbondingNotElapsed.selector, unbondingAt + Attestia.UNBONDING_DELAY
                )
            );
            vm.prank(operator);
            registry.withdrawStake(signer);
            return;
        }
        uint256 before = operator.balance;
        vm.prank(operator);
        registry.withdrawStake(signer);
        assertEq(operator.balance, before + stake + extra, "stake returned to the operator");
        assertEq(IRegistryViews(address(registry)).getWorker(signer).stake, 0, "stake cleared");
        vm.expectRevert(IWorkerRegistry.ZeroAmount.selector);
        vm.prank(operator);
        registry.withdrawStake(signer);
    }

    // ------------------------------------------------------------------ helpers

    function _id(Request memory request) private pure returns (bytes32) {
        return keccak256(abi.encode(request.requester, request.modelId, request.inputCommitment));
    }

    function _batchLeaf(uint256 seed, uint256 i) private view returns (Inference memory) {
        Share[] memory list = Attestia.shares(roster, uint256(keccak256(abi.encode(seed, i))));
        return Inference({
            requestId: keccak256(abi.encode("request", seed, i)),
            modelId: MODEL,
            inputCommitment: keccak256(abi.encode("input", seed, i)),
            outputCommitment: keccak256(abi.encode("output", seed, i)),
            attributionHash: Attestia.attributionHash(list),
            proofKind: PROOF_SIGNED,
            proofHash: bytes32(0),
            worker: worker,
            timestamp: uint64(block.timestamp),
            resultHash: bytes32(0)
        });
    }

    function _commit(bytes32 root, uint32 count, uint64 epoch, uint256 deposit, bool bySig)
        private
        returns (bytes32)
    {
        if (!bySig) {
            vm.deal(worker, deposit);
            vm.prank(worker);
            return registry.commitBatch{value: deposit}(root, count, MODEL, epoch, "ipfs://batch", DATA_HASH);
        }
        Batch memory batch = Batch(root, count, MODEL, epoch, keccak256("ipfs://batch"), DATA_HASH, worker, deposit);
        bytes memory signature = Attestia.sign(workerKey, lens.hashBatch(batch));
        vm.deal(relayer, deposit);
        vm.prank(relayer);
        return registry.commitBatchBySig{value: deposit}(
            root, count, MODEL, epoch, "ipfs://batch", DATA_HASH, worker, signature
        );
    }
}
