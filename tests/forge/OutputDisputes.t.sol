// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Attestia} from "./utils/Attestia.sol";
import {DisputeGame} from "./utils/DisputeGame.sol";
import {IOutputDisputes} from "../../contracts/interfaces/IOutputDisputes.sol";
import {IAttributionDisputes} from "../../contracts/interfaces/IAttributionDisputes.sol";
import {IRegistryViews} from "../../contracts/interfaces/IRegistryViews.sol";
import {IndexedMerkle} from "../../contracts/libraries/IndexedMerkle.sol";
import {
    Inference,
    Request,
    Share,
    Split,
    Model,
    AttributionSpec,
    DataItem,
    ModelSpec,
    NeuronRow,
    termsHashOf,
    findingCommitment,
    fraudEvidenceId,
    toOutputDisputeId
} from "../../contracts/Common.sol";

/// @notice The output dispute (issue 18) fuzzed on a tiny network whose answers the test can
///         compute by hand: 2 inputs (the quantisation is the identity: features 0..7), a hidden
///         layer that copies them (W = I, B = 0, s = 0), logits L = 2^16 h (W = 2^16 I), so the
///         record's logits tensor holds h. Any hidden vector the worker posts that is not the
///         input is provable at its first wrong neuron and slashes; the honest trace survives
///         every proof and the worker takes the bond; no response slashes at the deadline.
contract OutputDisputesTest is Fixture {
    uint256 internal constant N = 2; // inputs = hidden = logits
    IOutputDisputes internal outputs;
    bytes32 internal model;
    AttributionSpec internal spec;
    ModelSpec internal mspec;
    NeuronRow[] internal rows;
    bytes32[] internal leaves;
    uint256 internal nonce;

    function setUp() public override {
        super.setUp();
        outputs = IOutputDisputes(address(slasher));
        for (uint256 layer; layer < 2; ++layer) {
            for (uint256 i; i < N; ++i) {
                int256[] memory w = new int256[](N);
                w[i] = layer == 0 ? int256(1) : int256(1 << 16);
                rows.push(NeuronRow(layer, i, w, 0, 0));
                leaves.push(keccak256(abi.encode(rows[rows.length - 1])));
            }
        }
        uint256[] memory widths = new uint256[](3);
        widths[0] = widths[1] = widths[2] = N;
        mspec = ModelSpec(keccak256("onnx"), IndexedMerkle.rootOf(leaves), widths);
        DataItem[] memory items = new DataItem[](2);
        for (uint256 i; i < 2; ++i) {
            items[i] = DataItem(i, roster[i], i, new int256[](DisputeGame.FEATURES));
        }
        spec = DisputeGame.spec(items, 1);
        vm.prank(modelOwner);
        model = registry.registerModel(
            keccak256(abi.encode(mspec)),
            "ipfs://output-model",
            keccak256(abi.encode(spec)),
            roster,
            POLICY_SIGNED,
            0,
            Split(1_000, 1_000, 8_000)
        );
    }

    struct Case {
        Inference record;
        bytes input;
        bytes output;
        bytes32 salt;
        int256[] z;
        int256[] logits;
    }

    /// @dev A record of input `features` whose answer is the logits of hidden vector `stated`.
    function _record(uint256[] memory features, uint256[] memory stated) internal returns (Case memory c) {
        c.input = DisputeGame.tensor(features);
        c.output = DisputeGame.tensor(stated);
        c.salt = keccak256(abi.encode("salt", ++nonce));
        c.z = DisputeGame.query(features);
        c.logits = new int256[](N);
        for (uint256 i; i < N; ++i) c.logits[i] = int256(stated[i] % 8) << 16;
        bytes32 commitment = DisputeGame.inputCommitment(c.salt, c.input);
        Model memory terms = IRegistryViews(address(registry)).getModel(model);
        vm.prank(requester);
        registry.requestInference(
            model, worker, commitment, bytes32(0),
            termsHashOf(0, terms.policy, terms.workerBps, terms.ownerBps, terms.verifier), hex"c0ffee"
        );
        Request memory request = Request(
            requester, model, worker, 0, uint64(block.timestamp), commitment, bytes32(0), terms.workerBps,
            terms.ownerBps, terms.policy, terms.verifier
        );
        Share[] memory list = Attestia.shares(roster, nonce);
        c.record = Attestia.signedRecord(
            request, worker, DisputeGame.outputCommitment(c.salt, c.output), list, uint64(block.timestamp)
        );
        address[] memory r = roster;
        vm.prank(worker);
        registry.fulfill(request, c.record, list, r, Attestia.SEALED);
    }

    function _challenge(Case memory c) internal returns (bytes32 id) {
        id = toOutputDisputeId(c.record.requestId);
        vm.prank(requester);
        slasher.commitFinding(findingCommitment(requester, id, c.salt));
        vm.roll(block.number + 1);
        uint256 bond = slasher.disputeBond();
        vm.prank(requester);
        outputs.challengeOutput{value: bond}(c.record, c.input, c.salt, c.output, spec, mspec);
    }

    function _respond(bytes32 id, int256[] memory hidden) internal {
        int256[][] memory layers = new int256[][](1);
        layers[0] = hidden;
        vm.prank(worker);
        outputs.respondOutput(id, layers);
    }

    function _prove(bytes32 id, address prover, uint256 layer, uint256 neuron, int256[] memory previous, int256[] memory claimed)
        internal
    {
        bytes32 salt = keccak256(abi.encode("prove", layer, neuron));
        vm.prank(prover);
        slasher.commitFinding(
            findingCommitment(prover, fraudEvidenceId(id, uint8(IOutputDisputes.OutputFraud.NEURON), layer << 32 | neuron), salt)
        );
        vm.roll(block.number + 1);
        uint256 position = (layer - 1) * N + neuron;
        vm.prank(prover);
        outputs.proveNeuron(
            id,
            IOutputDisputes.NeuronOpening(layer, neuron, previous, claimed),
            rows[position],
            DisputeGame.proof(leaves, position),
            salt
        );
    }

    function _features(uint256 seed) internal pure returns (uint256[] memory f) {
        f = new uint256[](N);
        for (uint256 i; i < N; ++i) f[i] = (seed >> (8 * i)) % 8;
    }

    function _ints(uint256[] memory v) internal pure returns (int256[] memory out) {
        out = new int256[](v.length);
        for (uint256 i; i < v.length; ++i) out[i] = int256(v[i] % 8);
    }

    function testFuzz_anyWrongHiddenVectorIsProvenAndSlashes(uint256 inputSeed, uint256 lieSeed) public {
        uint256[] memory features = _features(inputSeed);
        uint256[] memory stated = _features(lieSeed);
        uint256 first = N;
        for (uint256 i; i < N; ++i) {
            if (stated[i] != features[i]) {
                first = i;
                break;
            }
        }
        vm.assume(first < N); // the worker's answer is wrong
        Case memory c = _record(features, stated);
        bytes32 id = _challenge(c);
        int256[] memory hidden = _ints(stated); // consistent with the stated logits
        _respond(id, hidden);
        address prover = makeAddr("prover");
        // The logits follow from the posted hidden layer: no fraud there.
        vm.expectRevert(IAttributionDisputes.NotFraud.selector);
        this.proveExternal(id, prover, 2, 0, hidden, c.logits);
        _prove(id, prover, 1, first, c.z, hidden);
        IOutputDisputes.OutputDispute memory d = outputs.getOutputDispute(id);
        assertTrue(d.state == IOutputDisputes.OutputState.FRAUD, "fraud");
        assertEq(IRegistryViews(address(registry)).getWorker(worker).stake, 0, "slashed");
        assertEq(slasher.balances(prover), Attestia.MIN_STAKE / 2, "the prover's half");
        assertEq(slasher.balances(requester), slasher.disputeBond(), "bond back");
    }

    function proveExternal(bytes32 id, address prover, uint256 layer, uint256 neuron, int256[] memory previous, int256[] memory claimed)
        external
    {
        _prove(id, prover, layer, neuron, previous, claimed);
    }

    function testFuzz_anHonestAnswerSurvivesEveryProofAndTheWorkerTakesTheBond(uint256 inputSeed) public {
        uint256[] memory features = _features(inputSeed);
        Case memory c = _record(features, features);
        bytes32 id = _challenge(c);
        _respond(id, c.z);
        address prover = makeAddr("prover");
        for (uint256 layer = 1; layer <= 2; ++layer) {
            for (uint256 i; i < N; ++i) {
                vm.expectRevert(IAttributionDisputes.NotFraud.selector);
                this.proveExternal(id, prover, layer, i, c.z, layer == 1 ? c.z : c.logits);
            }
        }
        IOutputDisputes.OutputDispute memory d = outputs.getOutputDispute(id);
        vm.warp(d.deadline + 1);
        outputs.resolveOutput(id);
        assertTrue(outputs.getOutputDispute(id).state == IOutputDisputes.OutputState.WORKER_WON, "worker won");
        assertEq(slasher.balances(operator), slasher.disputeBond(), "the operator takes the bond");
        assertEq(IRegistryViews(address(registry)).getWorker(worker).stake, Attestia.MIN_STAKE, "stake kept");
    }

    function test_noResponseSlashesAtTheDeadline() public {
        Case memory c = _record(_features(3), _features(5));
        bytes32 id = _challenge(c);
        uint64 deadline = outputs.getOutputDispute(id).deadline;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(IAttributionDisputes.DeadlineNotReached.selector, deadline));
        outputs.resolveOutput(id);
        vm.warp(deadline + 1);
        outputs.resolveOutput(id);
        assertTrue(outputs.getOutputDispute(id).state == IOutputDisputes.OutputState.NO_RESPONSE, "no response");
        assertEq(IRegistryViews(address(registry)).getWorker(worker).stake, 0, "slashed");
        assertEq(slasher.balances(requester), slasher.disputeBond() + Attestia.MIN_STAKE / 2, "challenger paid");
    }
}
