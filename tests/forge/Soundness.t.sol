// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {IRegistryViews} from "../../contracts/interfaces/IRegistryViews.sol";
import {Attestia} from "./utils/Attestia.sol";
import {LOGS, VmLogs, lastLog} from "./utils/Cheats.sol";
import {IInferenceRegistry} from "../../contracts/interfaces/IInferenceRegistry.sol";
import {IModelRegistry} from "../../contracts/interfaces/IModelRegistry.sol";
import {IWorkerRegistry} from "../../contracts/interfaces/IWorkerRegistry.sol";
import {InferenceRegistry} from "../../contracts/InferenceRegistry.sol";
import {MockZkVerifier} from "../../contracts/test/MockZkVerifier.sol";
import {
    Share,
    Inference,
    Request,
    Split,
    Model,
    Worker,
    ZkProof,
    BPS,
    PROOF_SIGNED,
    PROOF_ZK,
    TIMESTAMP_WINDOW,
    MAX_CONTRIBUTORS,
    REQUEST_CANCELLED,
    REQUEST_REJECTED,
    AlreadyExists,
    Unauthorized,
    InvalidSignature,
    SignatureExpired
} from "../../contracts/Common.sol";

/// @notice Issue 9, attack classes 1-8: each test performs the attack the issue describes (or a
///         family of it, fuzzed) against the contracts and shows it fails with the intended
///         custom error, and that the honest path still works.
contract SoundnessTest is Fixture {
    address internal accomplice;

    function setUp() public override {
        super.setUp();
        accomplice = makeAddr("accomplice");
        _registerModel(MODEL, FEE, 1_000, 1_000);
    }

    // ================================================================== class 1: roster payees

    /// @dev The issue's attack: a staked worker records `[(accomplice, 10000)]` with the real
    ///      roster. The registry refuses it, direct or relayed.
    function test_class1_soleOutsiderPayeeIsRefused() public {
        Request memory request = _request(MODEL, worker, "input", FEE);
        Share[] memory list = new Share[](1);
        list[0] = Share(accomplice, uint16(BPS));
        Inference memory inference = _signedRecord(request, list);

        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.NotAContributor.selector, accomplice));
        vm.prank(worker);
        registry.fulfill(request, inference, list, roster, Attestia.SEALED);

        bytes memory signature = _sign(inference);
        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.NotAContributor.selector, accomplice));
        vm.prank(relayer);
        registry.fulfillBySig(request, inference, list, roster, signature, Attestia.SEALED);
        assertEq(registry.requestState(inference.requestId), IRegistryViews(address(registry)).hashRequest(request), "still open");
    }

    /// @dev An outsider slipped anywhere into an otherwise valid list of roster accounts.
    function testFuzz_class1_outsiderAmongContributorsIsRefused(address outsider, uint256 seed) public {
        vm.assume(outsider != address(0));
        for (uint256 i; i < roster.length; ++i) {
            vm.assume(outsider != roster[i]);
        }
        Request memory request = _request(MODEL, worker, bytes32(seed), FEE);
        Share[] memory members = Attestia.shares(roster, seed);
        // Insert the outsider at its sorted place, taking 1 bps from the largest share.
        Share[] memory list = new Share[](members.length + 1);
        uint256 largest;
        for (uint256 i = 1; i < members.length; ++i) {
            if (members[i].bps > members[largest].bps) largest = i;
        }
        vm.assume(members[largest].bps > 1);
        members[largest].bps -= 1;
        uint256 j;
        bool placed;
        for (uint256 i; i < members.length; ++i) {
            if (!placed && outsider < members[i].account) {
                list[j++] = Share(outsider, 1);
                placed = true;
            }
            list[j++] = members[i];
        }
        if (!placed) list[j] = Share(outsider, 1);
        Inference memory inference = _signedRecord(request, list);

        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.NotAContributor.selector, outsider));
        vm.prank(worker);
        registry.fulfill(request, inference, list, roster, Attestia.SEALED);
    }

    /// @dev The roster passed must be the registered one: a roster naming the accomplice (added,
    ///      or in place of a member), a shorter one, an empty one, or the right accounts out of
    ///      order are all refused before any share is looked at.
    function testFuzz_class1_wrongRosterIsRefused(uint8 mode, uint256 seed) public {
        Request memory request = _request(MODEL, worker, bytes32(seed), FEE);
        mode = uint8(bound(mode, 0, 4));
        address[] memory forged;
        if (mode == 0) {
            forged = _withAccount(roster, accomplice);
        } else if (mode == 1) {
            forged = _copy(roster);
            forged[seed % forged.length] = accomplice;
            forged = Attestia.sort(forged);
        } else if (mode == 2) {
            forged = new address[](roster.length - 1);
            for (uint256 i; i < forged.length; ++i) {
                forged[i] = roster[i];
            }
        } else if (mode == 3) {
            forged = new address[](0);
        } else {
            forged = _copy(roster);
            (forged[0], forged[1]) = (forged[1], forged[0]);
        }
        Share[] memory list = new Share[](1);
        list[0] = Share(mode <= 1 ? accomplice : roster[0], uint16(BPS));
        Inference memory inference = _signedRecord(request, list);

        vm.expectRevert(
            abi.encodeWithSelector(
                IInferenceRegistry.RosterMismatch.selector,
                keccak256(abi.encodePacked(roster)),
                keccak256(abi.encodePacked(forged))
            )
        );
        vm.prank(worker);
        registry.fulfill(request, inference, list, forged, Attestia.SEALED);
    }

    /// @dev A roster word with dirty high bits (an address plus garbage above bit 160) can't pass
    ///      for the registered roster, and a list with a dirty account can't pass for the signed
    ///      one: calldata is hashed as it is.
    function test_class1_dirtyCalldataIsRefused() public {
        Request memory request = _request(MODEL, worker, "dirty", FEE);
        (Inference memory inference, Share[] memory list) = _record(request, 7);
        bytes memory call = abi.encodeCall(
            registry.fulfill, (request, inference, list, roster, Attestia.SEALED)
        );
        // The roster's first word sits after the head (5 words: 4 offsets... found by value).
        bytes memory dirty = _dirtyFirst(call, roster[0]);
        vm.prank(worker);
        (bool ok, bytes memory reason) = address(registry).call(dirty);
        assertTrue(!ok, "dirty roster accepted");
        assertEq(bytes4(reason), IInferenceRegistry.RosterMismatch.selector, "roster mismatch");

        // A dirty share account, even under an attributionHash signed over the dirty bytes:
        // the compiler's read of the account reverts.
        Share[] memory one = new Share[](1);
        one[0] = Share(roster[0], uint16(BPS));
        Inference memory signedDirty = _signedRecord(request, one);
        bytes memory dirtyList = abi.encode(one);
        assembly {
            let p := add(dirtyList, 0x60) // 0x20 length prefix, then offset, length, account
            mstore(p, or(mload(p), shl(200, 1)))
        }
        signedDirty.attributionHash = keccak256(dirtyList);
        bytes memory good = abi.encodeCall(registry.fulfill, (request, signedDirty, one, roster, Attestia.SEALED));
        // Dirty the share's account word: the first occurrence of roster[0] (shares come first).
        bytes memory bad = _dirtyAt(good, roster[0], true);
        vm.prank(worker);
        (ok,) = address(registry).call(bad);
        assertTrue(!ok, "dirty share accepted");
        assertEq(registry.requestState(inference.requestId), IRegistryViews(address(registry)).hashRequest(request), "still open");
    }

    /// @dev Registration checks the roster: sorted strictly ascending (so no duplicate and no
    ///      address(0)), 1 to MAX_CONTRIBUTORS accounts; the full list is in ModelRegistered.
    function test_class1_registerModel_checksAndEmitsRoster() public {
        Split memory split = Split(1_000, 1_000, 8_000);
        address[] memory unsorted = _copy(roster);
        (unsorted[2], unsorted[3]) = (unsorted[3], unsorted[2]);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.RosterNotSorted.selector, 3));
        vm.prank(relayer);
        registry.registerModel("c", "", 0, unsorted, POLICY_SIGNED, FEE, split);

        address[] memory duplicate = _copy(roster);
        duplicate[1] = duplicate[0];
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.RosterNotSorted.selector, 1));
        vm.prank(relayer);
        registry.registerModel("c", "", 0, duplicate, POLICY_SIGNED, FEE, split);

        address[] memory zero = new address[](1);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.RosterNotSorted.selector, 0));
        vm.prank(relayer);
        registry.registerModel("c", "", 0, zero, POLICY_SIGNED, FEE, split);

        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidRosterLength.selector, 0));
        vm.prank(relayer);
        registry.registerModel("c", "", 0, new address[](0), POLICY_SIGNED, FEE, split);

        address[] memory tooMany = new address[](MAX_CONTRIBUTORS + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IModelRegistry.InvalidRosterLength.selector, MAX_CONTRIBUTORS + 1)
        );
        vm.prank(relayer);
        registry.registerModel("c", "", 0, tooMany, POLICY_SIGNED, FEE, split);

        // The largest roster registers, and records against it work.
        address[] memory full = new address[](MAX_CONTRIBUTORS);
        for (uint256 i; i < full.length; ++i) {
            full[i] = address(uint160(0x1000 + i));
        }
        LOGS.recordLogs();
        vm.prank(relayer);
        bytes32 big = registry.registerModel("big", "ipfs://big", "root", full, POLICY_SIGNED, FEE, split);
        bytes memory data = lastLog(
            LOGS.getRecordedLogs(),
            address(registry),
            IModelRegistry.ModelRegistered.selector
        );
        (, , address[] memory emitted,,,) =
            abi.decode(data, (string, bytes32, address[], uint8, uint96, Split));
        assertEq(keccak256(abi.encode(emitted)), keccak256(abi.encode(full)), "roster emitted in full");
        Model memory model = IRegistryViews(address(registry)).getModel(big);
        assertEq(model.contributors, MAX_CONTRIBUTORS, "count");
        assertEq(model.contributorsHash, keccak256(abi.encodePacked(full)), "hash");

        Request memory request = _request(big, worker, "big", FEE);
        Share[] memory list = new Share[](2);
        list[0] = Share(full[3], 4_000);
        list[1] = Share(full[MAX_CONTRIBUTORS - 1], 6_000);
        Inference memory inference = _signedRecord(request, list);
        vm.prank(worker);
        registry.fulfill(request, inference, list, full, Attestia.SEALED);
        assertEq(registry.requestState(inference.requestId), registry.hashInference(inference), "recorded");
    }

    // ================================================================== class 4b: model squatting

    /// @dev The issue's attack: a front-runner registers the honest owner's model (same content,
    ///      same arguments) first. It gets its own id; the honest registration still succeeds
    ///      under the honest id, whose requests pay the honest owner; the squatter can't re-price
    ///      or revoke the honest model.
    function test_class4_squattedModelGainsNothing() public {
        bytes32 content = keccak256("honest onnx");
        address squatter = makeAddr("squatter");
        Split memory split = Split(1_000, 2_000, 7_000);

        vm.prank(squatter);
        bytes32 squatted = registry.registerModel(content, "ipfs://m", "root", roster, POLICY_SIGNED, FEE, split);
        vm.prank(modelOwner);
        bytes32 honest = registry.registerModel(content, "ipfs://m", "root", roster, POLICY_SIGNED, FEE, split);

        assertTrue(squatted != honest, "different ids");
        assertEq(honest, IRegistryViews(address(registry)).modelIdOf(modelOwner, content), "honest id");
        assertEq(squatted, keccak256(abi.encode(squatter, content)), "squatter's id");
        assertEq(IRegistryViews(address(registry)).getModel(honest).owner, modelOwner, "honest owner");
        assertEq(IRegistryViews(address(registry)).getModel(honest).contentHash, content, "content hash stored");

        vm.expectRevert(Unauthorized.selector);
        vm.prank(squatter);
        registry.setTerms(honest, 0, POLICY_SIGNED, Split(0, 10_000, 0));
        vm.expectRevert(Unauthorized.selector);
        vm.prank(squatter);
        registry.revokeModel(honest);

        Request memory request = _request(honest, worker, "honest", FEE);
        (Inference memory inference, Share[] memory list) = _record(request, 1);
        vm.prank(worker);
        registry.fulfill(request, inference, list, roster, Attestia.SEALED);
        assertEq(registry.balances(modelOwner), FEE * 2_000 / BPS, "honest owner paid");
        assertEq(registry.balances(squatter), 0, "squatter paid nothing");
    }

    // ================================================================== class 4a: worker consent

    /// @dev The issue's attack: the attacker front-runs registerWorker naming the honest signing
    ///      key. Without the key's signature, with the key's signature for the honest operator
    ///      (copied from the mempool), or with a signature over another encryption key, it fails;
    ///      the honest operator's registration then succeeds.
    function test_class4_workerRegistrationNeedsTheKeysConsent() public {
        (address honest, uint256 honestKey) = makeAccount("honestWorker");
        address attacker = makeAddr("attacker");
        vm.deal(attacker, 10 ether);
        (bytes memory consent, uint256 deadline) = _consent(honestKey, operator, hex"04bb");

        vm.expectRevert(InvalidSignature.selector);
        vm.prank(attacker);
        registry.registerWorker{value: 1 ether}(honest, hex"04bb", deadline, "");

        vm.expectRevert(InvalidSignature.selector);
        vm.prank(attacker);
        registry.registerWorker{value: 1 ether}(honest, hex"04bb", deadline, consent);

        vm.expectRevert(InvalidSignature.selector);
        vm.prank(operator);
        registry.registerWorker{value: 1 ether}(honest, hex"04cc", deadline, consent);

        vm.prank(operator);
        registry.registerWorker{value: 1 ether}(honest, hex"04bb", deadline, consent);
        Worker memory registered = IRegistryViews(address(registry)).getWorker(honest);
        assertEq(registered.operator, operator, "the consented operator");
        assertEq(keccak256(registered.encryptionKey), keccak256(hex"04bb"), "the consented key");
        assertEq(registry.nonces(honest), 1, "nonce used");
    }

    function test_class4_expiredOrReplayedConsentIsRefused() public {
        (address honest, uint256 honestKey) = makeAccount("honestWorker");
        (bytes memory consent, uint256 deadline) = _consent(honestKey, operator, hex"04bb");

        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(SignatureExpired.selector, deadline));
        vm.prank(operator);
        registry.registerWorker{value: 1 ether}(honest, hex"04bb", deadline, consent);

        vm.warp(deadline); // the deadline itself is still valid
        vm.prank(operator);
        registry.registerWorker{value: 1 ether}(honest, hex"04bb", deadline, consent);

        // The same consent again: the key is taken, and as a key rotation its nonce is used up.
        vm.expectRevert(AlreadyExists.selector);
        vm.prank(operator);
        registry.registerWorker{value: 1 ether}(honest, hex"04bb", deadline, consent);
        vm.expectRevert(InvalidSignature.selector);
        vm.prank(operator);
        registry.setEncryptionKey(honest, hex"04bb", deadline, consent);
    }

    /// @dev A consent signed for another registry (another EIP-712 domain) is refused here.
    function test_class4_consentForAnotherRegistryIsRefused() public {
        (address honest, uint256 honestKey) = makeAccount("honestWorker");
        InferenceRegistry other = Attestia.deployRegistry(admin, address(distributor));
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 typeHash = keccak256(
            "WorkerRegistration(address signer,address operator,bytes32 encryptionKeyHash,uint256 nonce,uint256 deadline)"
        );
        bytes32 structHash = keccak256(abi.encode(typeHash, honest, operator, keccak256(hex"04bb"), 0, deadline));
        bytes memory forOther = Attestia.sign(
            honestKey, keccak256(abi.encodePacked("\x19\x01", IRegistryViews(address(other)).domainSeparator(), structHash))
        );
        vm.expectRevert(InvalidSignature.selector);
        vm.prank(operator);
        registry.registerWorker{value: 1 ether}(honest, hex"04bb", deadline, forOther);
    }

    /// @dev The key may register itself (it is its own operator), with no signature at all.
    function test_class4_keyRegistersItself() public {
        (address self,) = makeAccount("selfWorker");
        vm.deal(self, 2 ether);
        vm.prank(self);
        registry.registerWorker{value: 1 ether}(self, hex"04dd", 0, "");
        assertEq(IRegistryViews(address(registry)).getWorker(self).operator, self, "own operator");
        assertEq(registry.nonces(self), 0, "no nonce used");
    }

    /// @dev A restarted worker rotates its encryption key: the operator sends the key's fresh
    ///      consent; without it, or from anyone but the operator, it fails.
    function test_class4_encryptionKeyRotationNeedsConsent() public {
        (bytes memory consent, uint256 deadline) = _consent(workerKey, operator, hex"04ee");

        vm.expectRevert(Unauthorized.selector);
        vm.prank(relayer);
        registry.setEncryptionKey(worker, hex"04ee", deadline, consent);
        vm.expectRevert(InvalidSignature.selector);
        vm.prank(operator);
        registry.setEncryptionKey(worker, hex"04ee", deadline, "");
        vm.expectRevert(IWorkerRegistry.EmptyEncryptionKey.selector);
        vm.prank(operator);
        registry.setEncryptionKey(worker, "", deadline, consent);

        LOGS.recordLogs();
        vm.prank(operator);
        registry.setEncryptionKey(worker, hex"04ee", deadline, consent);
        bytes memory data = lastLog(
            LOGS.getRecordedLogs(), address(registry), IWorkerRegistry.EncryptionKeyUpdated.selector
        );
        assertEq(keccak256(abi.decode(data, (bytes))), keccak256(hex"04ee"), "event carries the key");
        assertEq(keccak256(IRegistryViews(address(registry)).getWorker(worker).encryptionKey), keccak256(hex"04ee"), "stored");
    }

    // ================================================================== class 5: terms at payment

    /// @dev The issue's attack: after a request is paid, the owner takes the whole fee (split
    ///      0/100/0), raises the fee and drops the SIGNED policy. The paid request is still
    ///      recorded with SIGNED and split 10/10/80; a request paid afterwards gets the new terms.
    function testFuzz_class5_termsChangedAfterPaymentDontApply(uint96 fee, uint256 seed) public {
        fee = uint96(bound(fee, 0, 10 ether));
        seed = bound(seed, 0, type(uint128).max);
        vm.prank(modelOwner);
        registry.setTerms(MODEL, fee, POLICY_SIGNED, Split(1_000, 1_000, 8_000));
        Request memory paid = _request(MODEL, worker, bytes32(seed), fee);

        vm.prank(modelOwner);
        registry.setTerms(MODEL, fee + 1, uint8(1 << PROOF_ZK), Split(0, 10_000, 0));

        // The caller can't pass the new terms off as the paid ones.
        Request memory lying = abi.decode(abi.encode(paid), (Request));
        lying.workerBps = 0;
        lying.ownerBps = 10_000;
        (Inference memory inference, Share[] memory list) = _record(paid, seed);
        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.RequestNotOpen.selector, inference.requestId));
        vm.prank(worker);
        registry.fulfill(lying, inference, list, roster, Attestia.SEALED);

        vm.prank(worker);
        registry.fulfill(paid, inference, list, roster, Attestia.SEALED);
        (uint256 workerCut, uint256 ownerCut, uint256 contributorCut) = Attestia.split(fee, 1_000, 1_000);
        assertEq(registry.balances(operator), workerCut, "worker cut at the paid split");
        assertEq(registry.balances(modelOwner), ownerCut, "owner cut at the paid split");
        assertEq(IRegistryViews(address(registry)).epochPool(registry.currentEpoch()), contributorCut, "contributors at the paid split");

        // A request paid now carries the new terms: ZK only, so a SIGNED record is refused.
        Request memory later = _request(MODEL, worker, bytes32(seed + 1), fee + 1);
        assertEq(later.policy, uint8(1 << PROOF_ZK), "new policy");
        assertEq(later.ownerBps, 10_000, "new split");
        (Inference memory next, Share[] memory nextList) = _record(later, seed + 1);
        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.ProofKindNotAllowed.selector, PROOF_SIGNED));
        vm.prank(worker);
        registry.fulfill(later, next, nextList, roster, Attestia.SEALED);
    }

    /// @dev The request event carries the request exactly as callers pass it back.
    function test_class5_requestEventCarriesTheTerms() public {
        LOGS.recordLogs();
        Request memory request = _request(MODEL, worker, "terms", FEE);
        bytes memory data = lastLog(
            LOGS.getRecordedLogs(), address(registry), IInferenceRegistry.InferenceRequested.selector
        );
        (Request memory emitted, bytes memory payload) = abi.decode(data, (Request, bytes));
        assertEq(IRegistryViews(address(registry)).hashRequest(emitted), IRegistryViews(address(registry)).hashRequest(request), "emitted request");
        assertEq(keccak256(payload), keccak256(hex"c0ffee"), "payload");
        assertEq(
            registry.requestState(IRegistryViews(address(registry)).requestIdOf(requester, MODEL, "terms")),
            keccak256(abi.encode(request)),
            "slot = keccak256(abi.encode(Request))"
        );
    }

    // ================================================================== class 3: zk binding

    /// @dev The issue's attack: one valid proof recorded for request #1 is offered again for
    ///      request #2 (another requester's input). Refused as used; and a fresh proof of
    ///      request #1's input still names the wrong input for request #2. The honest worker
    ///      then proves request #2's input and is recorded.
    function test_class3_zkProofIsBoundToItsRequest() public {
        (bytes32 zkModel,) = _zkModel();
        bytes32 inputA = keccak256("poseidon(input A)");
        bytes32 inputB = keccak256("poseidon(input B)");
        ZkProof memory proof = _zkProof("proof #1", inputA);
        _recordZk(_requestZk(zkModel, worker, "A", inputA, FEE), proof);
        assertTrue(IRegistryViews(address(registry)).proofUsed(keccak256(proof.proof)), "marked used");

        Request memory second = _requestZk(zkModel, worker, "B", inputB, FEE);
        Inference memory replay = _zkRecord(second, proof);
        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.ProofAlreadyUsed.selector, keccak256(proof.proof)));
        vm.prank(worker);
        registry.fulfillZk(second, replay, _soleShare(), roster, proof, Attestia.SEALED);

        ZkProof memory fresh = _zkProof("proof #2", inputA);
        Inference memory wrongInput = _zkRecord(second, fresh);
        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.ZkInputMismatch.selector, inputB, inputA));
        vm.prank(worker);
        registry.fulfillZk(second, wrongInput, _soleShare(), roster, fresh, Attestia.SEALED);

        ZkProof memory honest = _zkProof("proof #3", inputB);
        Inference memory recordB = _zkRecord(second, honest);
        bytes memory signature = _sign(recordB);
        vm.prank(relayer);
        registry.fulfillZkBySig(second, recordB, _soleShare(), roster, signature, honest, Attestia.SEALED);
    }

    /// @dev Even for the same input (another request of it), a used proof is refused, relayed
    ///      or direct: each proof makes one record.
    function test_class3_zkProofIsSingleUse() public {
        (bytes32 zkModel,) = _zkModel();
        bytes32 input = keccak256("poseidon(input)");
        ZkProof memory proof = _zkProof("proof", input);
        _recordZk(_requestZk(zkModel, worker, "first", input, FEE), proof);

        Request memory again = _requestZk(zkModel, worker, "again", input, FEE);
        Inference memory record = _zkRecord(again, proof);
        bytes memory signature = _sign(record);
        bytes memory used = abi.encodeWithSelector(IInferenceRegistry.ProofAlreadyUsed.selector, keccak256(proof.proof));
        vm.expectRevert(used);
        vm.prank(relayer);
        registry.fulfillZkBySig(again, record, _soleShare(), roster, signature, proof, Attestia.SEALED);
        vm.expectRevert(used);
        vm.prank(worker);
        registry.fulfillZk(again, record, _soleShare(), roster, proof, Attestia.SEALED);
    }

    /// @dev A request that committed no zk input (zkInputHash 0) can't take a ZK record, and a
    ///      proof without instances can't match any.
    function test_class3_zkRecordNeedsAnInputBinding() public {
        (bytes32 zkModel,) = _zkModel();
        bytes32 input = keccak256("poseidon(input)");
        Request memory unbound = _requestZk(zkModel, worker, "unbound", bytes32(0), FEE);
        ZkProof memory proof = _zkProof("proof", input);
        Inference memory record = _zkRecord(unbound, proof);
        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.ZkInputMismatch.selector, bytes32(0), input));
        vm.prank(worker);
        registry.fulfillZk(unbound, record, _soleShare(), roster, proof, Attestia.SEALED);

        Request memory bound = _requestZk(zkModel, worker, "bound", input, FEE);
        ZkProof memory empty = ZkProof("no instances", new uint256[](0));
        Inference memory emptyRecord = _zkRecord(bound, empty);
        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.ZkInputMismatch.selector, input, bytes32(0)));
        vm.prank(worker);
        registry.fulfillZk(bound, emptyRecord, _soleShare(), roster, empty, Attestia.SEALED);
    }

    /// @dev Existing ZK checks still hold: proof hash, output commitment, verifier answer, and a
    ///      rejected proof is not marked used.
    function test_class3_zkExistingChecksHold() public {
        (bytes32 zkModel, MockZkVerifier verifier) = _zkModel();
        bytes32 input = keccak256("poseidon(input)");
        Request memory request = _requestZk(zkModel, worker, "checks", input, FEE);
        ZkProof memory proof = _zkProof("proof", input);
        Inference memory record = _zkRecord(request, proof);

        verifier.configure(false, false);
        vm.expectRevert(IInferenceRegistry.ZkProofInvalid.selector);
        vm.prank(worker);
        registry.fulfillZk(request, record, _soleShare(), roster, proof, Attestia.SEALED);
        assertTrue(!IRegistryViews(address(registry)).proofUsed(keccak256(proof.proof)), "not used by a failed record");

        verifier.configure(true, false);
        Inference memory badHash = _copy(record);
        badHash.proofHash = keccak256("other");
        vm.expectRevert(
            abi.encodeWithSelector(IInferenceRegistry.ProofHashMismatch.selector, keccak256(proof.proof), badHash.proofHash)
        );
        vm.prank(worker);
        registry.fulfillZk(request, badHash, _soleShare(), roster, proof, Attestia.SEALED);

        Inference memory badOutput = _copy(record);
        badOutput.outputCommitment = keccak256("other");
        vm.expectRevert(
            abi.encodeWithSelector(
                IInferenceRegistry.OutputCommitmentMismatch.selector,
                keccak256(abi.encodePacked(proof.instances)),
                badOutput.outputCommitment
            )
        );
        vm.prank(worker);
        registry.fulfillZk(request, badOutput, _soleShare(), roster, proof, Attestia.SEALED);

        vm.prank(worker);
        registry.fulfillZk(request, record, _soleShare(), roster, proof, Attestia.SEALED);
    }

    // ================================================================== class 6: sealed result

    /// @dev The issue's attack: a mempool observer re-sends the relayed record with an empty or
    ///      another sealed result. Refused: the signature covers resultHash. The worker's own
    ///      transaction is held to it too.
    function test_class6_swappedSealedResultIsRefused() public {
        Request memory request = _request(MODEL, worker, "sealed", FEE);
        (Inference memory inference, Share[] memory list) = _record(request, 3);
        bytes memory signature = _sign(inference);

        vm.expectRevert(
            abi.encodeWithSelector(
                IInferenceRegistry.ResultHashMismatch.selector, keccak256(Attestia.SEALED), keccak256("")
            )
        );
        vm.prank(relayer);
        registry.fulfillBySig(request, inference, list, roster, signature, "");

        vm.expectRevert(
            abi.encodeWithSelector(
                IInferenceRegistry.ResultHashMismatch.selector, keccak256(Attestia.SEALED), keccak256("garbage")
            )
        );
        vm.prank(relayer);
        registry.fulfillBySig(request, inference, list, roster, signature, "garbage");

        // Re-pointing resultHash at the attacker's blob breaks the worker's signature.
        Inference memory repointed = _copy(inference);
        repointed.resultHash = keccak256("garbage");
        vm.expectRevert(InvalidSignature.selector);
        vm.prank(relayer);
        registry.fulfillBySig(request, repointed, list, roster, signature, "garbage");

        vm.expectRevert(
            abi.encodeWithSelector(
                IInferenceRegistry.ResultHashMismatch.selector, keccak256(Attestia.SEALED), keccak256("x")
            )
        );
        vm.prank(worker);
        registry.fulfill(request, inference, list, roster, "x");

        vm.prank(relayer);
        registry.fulfillBySig(request, inference, list, roster, signature, Attestia.SEALED);
    }

    // ================================================================== class 7: rejection

    /// @dev Issue 9's attack on open requests (a worker the request did not address rejects
    ///      it) has no target left: a request must name its worker (WorkerRequired, issue 17).
    ///      A named request: only its worker key or operator rejects it (below).
    function test_class7_requestMustNameItsWorker() public {
        _requestReverts(MODEL, address(0), "open", FEE, abi.encodeWithSelector(IInferenceRegistry.WorkerRequired.selector));
        assertEq(registry.requestState(IRegistryViews(address(registry)).requestIdOf(requester, MODEL, "open")), bytes32(0), "nothing stored");
    }

    function test_class7_onlyTheNamedWorkerRejects() public {
        (, uint256 otherKey) = makeAccount("otherWorker");
        address other = _registerWorker(otherKey, Attestia.MIN_STAKE);
        Request memory named = _request(MODEL, worker, "named", FEE);
        vm.expectRevert(Unauthorized.selector);
        vm.prank(other);
        registry.rejectRequest(named, "not mine");
        vm.expectRevert(Unauthorized.selector);
        vm.prank(requester);
        registry.rejectRequest(named, "requester");

        vm.prank(worker);
        registry.rejectRequest(named, "poison input");
        assertEq(registry.requestState(IRegistryViews(address(registry)).requestIdOf(requester, MODEL, "named")), REQUEST_REJECTED, "rejected");
        assertEq(registry.balances(requester), FEE, "refunded");
    }

    // ================================================================== class 8: cancel vs late fulfill

    /// @dev The issue's attack: a record signed by the deadline is sent just after it, and the
    ///      requester tries to front-run it with cancelRequest. Within the grace period the
    ///      cancel is refused and the record lands.
    function test_class8_recordSignedByDeadlineWinsTheGracePeriod() public {
        Request memory request = _request(MODEL, worker, "late", FEE);
        uint64 deadline = request.createdAt + Attestia.REQUEST_TIMEOUT;
        uint64 cancellableAt = deadline + TIMESTAMP_WINDOW + 1;
        vm.warp(deadline);
        (Inference memory inference, Share[] memory list) = _record(request, 5);
        bytes memory signature = _sign(inference);

        vm.warp(deadline + TIMESTAMP_WINDOW); // the last second of the grace period
        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.RequestNotExpired.selector, cancellableAt));
        vm.prank(requester);
        registry.cancelRequest(request);
        vm.prank(relayer);
        registry.fulfillBySig(request, inference, list, roster, signature, Attestia.SEALED);
        assertEq(registry.requestState(inference.requestId), registry.hashInference(inference), "recorded");
    }

    /// @dev After the grace period the cancel wins, and the record signed at the deadline can no
    ///      longer land; a record signed after the deadline never lands.
    function test_class8_cancelAfterGraceAndNoLateSignature() public {
        Request memory request = _request(MODEL, worker, "late", FEE);
        uint64 deadline = request.createdAt + Attestia.REQUEST_TIMEOUT;
        vm.warp(deadline + 1);
        Share[] memory list = Attestia.shares(roster, 9);
        Inference memory tooLate =
            Attestia.signedRecord(request, worker, "out", list, uint64(block.timestamp));
        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.RequestExpired.selector, deadline));
        vm.prank(worker);
        registry.fulfill(request, tooLate, list, roster, Attestia.SEALED);

        Inference memory atDeadline = Attestia.signedRecord(request, worker, "out", list, deadline);
        vm.warp(deadline + TIMESTAMP_WINDOW + 1);
        vm.prank(requester);
        registry.cancelRequest(request);
        assertEq(registry.requestState(atDeadline.requestId), REQUEST_CANCELLED, "cancelled");
        vm.expectRevert(abi.encodeWithSelector(IInferenceRegistry.RequestNotOpen.selector, atDeadline.requestId));
        vm.prank(worker);
        registry.fulfill(request, atDeadline, list, roster, Attestia.SEALED);
    }

    /// @dev At no second can both a cancel and a record (any signing time) succeed: whichever
    ///      is tried first, the other must have been impossible at that block time.
    function testFuzz_class8_cancelAndRecordNeverBothPossible(uint256 signedAfter, uint256 sentAfter) public {
        Request memory request = _request(MODEL, worker, "race", FEE);
        uint256 signedAt = request.createdAt + bound(signedAfter, 0, 2 * Attestia.REQUEST_TIMEOUT);
        uint256 sentAt = signedAt + bound(sentAfter, 0, 2 * TIMESTAMP_WINDOW);
        Share[] memory list = Attestia.shares(roster, signedAfter);
        Inference memory inference =
            Attestia.signedRecord(request, worker, "out", list, uint64(signedAt));
        vm.warp(sentAt);

        uint256 snapshotBalance = registry.balances(requester);
        vm.prank(worker);
        (bool recorded,) = address(registry).call(
            abi.encodeCall(registry.fulfill, (request, inference, list, roster, Attestia.SEALED))
        );
        if (recorded) {
            // Undo nothing: just check the cancel would have been refused at this second.
            assertTrue(
                sentAt < uint256(request.createdAt) + Attestia.REQUEST_TIMEOUT + TIMESTAMP_WINDOW + 1,
                "a record landed when a cancel was allowed"
            );
        } else {
            vm.prank(requester);
            (bool cancelled,) = address(registry).call(abi.encodeCall(registry.cancelRequest, (request)));
            if (cancelled) assertEq(registry.balances(requester), snapshotBalance + FEE, "refund");
            // Exactly one outcome is reachable for an honest record signed by the deadline and
            // sent within the window: it must have been recorded.
            bool honest = signedAt <= uint256(request.createdAt) + Attestia.REQUEST_TIMEOUT
                && sentAt <= signedAt + TIMESTAMP_WINDOW;
            assertTrue(!honest, "an honest record signed by the deadline was refused");
        }
    }

    // ================================================================== helpers

    function _signedRecord(Request memory request, Share[] memory list)
        internal
        view
        returns (Inference memory)
    {
        return Attestia.signedRecord(request, worker, "output", list, uint64(block.timestamp));
    }

    function _soleShare() internal view returns (Share[] memory list) {
        list = new Share[](1);
        list[0] = Share(roster[0], uint16(BPS));
    }

    /// @dev A ZK-and-SIGNED model of modelOwner with a mock verifier that accepts everything.
    function _zkModel() internal returns (bytes32 zkModel, MockZkVerifier verifier) {
        verifier = new MockZkVerifier(true);
        vm.startPrank(modelOwner);
        zkModel = registry.registerModel(
            "zk model", "ipfs://zk", "root", roster, uint8(1 << PROOF_ZK | 1 << PROOF_SIGNED), FEE, Split(1_000, 1_000, 8_000)
        );
        registry.setVerifier(zkModel, address(verifier));
        vm.stopPrank();
    }

    function _zkProof(bytes memory bytes_, bytes32 input) internal pure returns (ZkProof memory proof) {
        proof.proof = bytes_;
        proof.instances = new uint256[](2);
        proof.instances[0] = uint256(input);
        proof.instances[1] = 42;
    }

    function _recordZk(Request memory request, ZkProof memory proof) internal {
        Inference memory record = _zkRecord(request, proof);
        vm.prank(worker);
        registry.fulfillZk(request, record, _soleShare(), roster, proof, Attestia.SEALED);
    }

    function _zkRecord(Request memory request, ZkProof memory proof) internal view returns (Inference memory record) {
        record = Attestia.signedRecord(request, worker, "", _soleShare(), uint64(block.timestamp));
        record.proofKind = PROOF_ZK;
        record.proofHash = keccak256(proof.proof);
        record.outputCommitment = keccak256(abi.encodePacked(proof.instances));
    }

    function _copy(Inference memory record) internal pure returns (Inference memory) {
        return abi.decode(abi.encode(record), (Inference));
    }

    function _copy(address[] memory list) internal pure returns (address[] memory out) {
        out = new address[](list.length);
        for (uint256 i; i < list.length; ++i) {
            out[i] = list[i];
        }
    }

    function _withAccount(address[] memory list, address extra) internal pure returns (address[] memory out) {
        out = new address[](list.length + 1);
        for (uint256 i; i < list.length; ++i) {
            out[i] = list[i];
        }
        out[list.length] = extra;
        out = Attestia.sort(out);
    }

    /// @dev `data` with garbage set above bit 160 of the last word equal to `account` (the
    ///      roster's copy: the roster is encoded after the shares).
    function _dirtyFirst(bytes memory data, address account) internal pure returns (bytes memory) {
        return _dirtyAt(data, account, false);
    }

    /// @dev `data` with garbage above bit 160 of the first (or last) word equal to `account`.
    function _dirtyAt(bytes memory data, address account, bool first) internal pure returns (bytes memory) {
        uint256 found = type(uint256).max;
        for (uint256 offset = 4; offset + 32 <= data.length; offset += 32) {
            uint256 word;
            assembly {
                word := mload(add(add(data, 0x20), offset))
            }
            if (word == uint256(uint160(account))) {
                found = offset;
                if (first) break;
            }
        }
        require(found != type(uint256).max, "account not in calldata");
        assembly {
            let p := add(add(data, 0x20), found)
            mstore(p, or(mload(p), shl(200, 1)))
        }
        return data;
    }
}
