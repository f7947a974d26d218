// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Base} from "../Base.sol";
import {IRegistryViews} from "../../../contracts/interfaces/IRegistryViews.sol";
import {Attestia} from "./Attestia.sol";
import {InferenceRegistry} from "../../../contracts/InferenceRegistry.sol";
import {RewardDistributor} from "../../../contracts/RewardDistributor.sol";
import {Slasher} from "../../../contracts/Slasher.sol";
import {RegistryLens} from "../../../contracts/RegistryLens.sol";
import {
    Share, Inference, Request, Split, Model, PROOF_SIGNED, termsHashOf
} from "../../../contracts/Common.sol";

/// @notice A fresh ETH RewardDistributor, InferenceRegistry, Slasher (set as the registry's
///         slasher) and RegistryLens wired together, with named actors, one staked worker key
///         and a five-account roster for the models the tests register.
abstract contract Fixture is Base {
    uint8 internal constant POLICY_SIGNED = uint8(1 << PROOF_SIGNED);
    /// @dev The content hash of the fixture's model; its id is modelIdOf(modelOwner, CONTENT).
    bytes32 internal constant CONTENT = keccak256("model");
    uint96 internal constant FEE = 0.01 ether;

    InferenceRegistry internal registry;
    RewardDistributor internal distributor;
    Slasher internal slasher;
    RegistryLens internal lens;

    /// @dev The fixture model's id (modelOwner registering CONTENT).
    bytes32 internal MODEL;

    address internal admin;
    address internal settler;
    address internal guardian;
    address internal treasury;
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
        treasury = makeAddr("treasury");
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
        registry = Attestia.deployRegistry(admin, address(distributor));
        slasher = Attestia.deploySlasher(registry, treasury);
        vm.prank(admin);
        registry.setSlasher(address(slasher));
        lens = new RegistryLens(registry);
        MODEL = IRegistryViews(address(registry)).modelIdOf(modelOwner, CONTENT);
        vm.deal(operator, 100 ether);
        vm.deal(requester, 100_000 ether);
        _registerWorker(workerKey, Attestia.MIN_STAKE);
    }

    /// @dev modelOwner registers CONTENT with the fixture roster and a SIGNED policy; `modelId`
    ///      must be the id that gets (MODEL), which keeps call sites readable.
    function _registerModel(bytes32 modelId, uint96 fee, uint16 workerBps, uint16 ownerBps) internal {
        vm.prank(modelOwner);
        bytes32 id = registry.registerModel(
            CONTENT,
            "ipfs://model",
            keccak256("data"),
            roster,
            POLICY_SIGNED,
            fee,
            Split(workerBps, ownerBps, 10_000 - workerBps - ownerBps)
        );
        assertEq(id, modelId, "model id");
    }

    /// @dev `operator` registers the key `key` (with its EIP-712 consent) staking `stake`.
    function _registerWorker(uint256 key, uint256 stake) internal returns (address signer) {
        signer = vm.addr(key);
        (bytes memory consent, uint256 deadline) = _consent(key, operator, hex"04aa");
        vm.prank(operator);
        registry.registerWorker{value: stake}(signer, hex"04aa", deadline, consent);
    }

    /// @dev The key's WorkerRegistration consent for `operator_` and `encryptionKey`, with its
    ///      next nonce and a deadline an hour from now.
    function _consent(uint256 key, address operator_, bytes memory encryptionKey)
        internal
        view
        returns (bytes memory signature, uint256 deadline)
    {
        address signer = vm.addr(key);
        deadline = block.timestamp + 1 hours;
        signature = Attestia.sign(
            key, _registrationDigest(signer, operator_, encryptionKey, registry.nonces(signer), deadline)
        );
    }

    /// @dev The EIP-712 WorkerRegistration digest, built here from the type string (so a test
    ///      signing it ties the registry's encoding to the documented one).
    function _registrationDigest(
        address signer,
        address operator_,
        bytes memory encryptionKey,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes32) {
        bytes32 typeHash = keccak256(
            "WorkerRegistration(address signer,address operator,bytes32 encryptionKeyHash,uint256 nonce,uint256 deadline)"
        );
        bytes32 structHash =
            keccak256(abi.encode(typeHash, signer, operator_, keccak256(encryptionKey), nonce, deadline));
        return keccak256(abi.encodePacked("\x19\x01", IRegistryViews(address(registry)).domainSeparator(), structHash));
    }

    /// @dev Pays for a request from `requester`; returns the struct the event carries (with the
    ///      model's terms now).
    function _request(bytes32 modelId, address named, bytes32 input, uint256 fee)
        internal
        returns (Request memory request)
    {
        return _requestZk(modelId, named, input, bytes32(0), fee);
    }

    function _requestZk(bytes32 modelId, address named, bytes32 input, bytes32 zkInputHash, uint256 fee)
        internal
        returns (Request memory request)
    {
        // The terms the requester reads (a view call: a test's expectRevert would apply to it,
        // so revert tests use _requestReverts).
        Model memory model = IRegistryViews(address(registry)).getModel(modelId);
        vm.prank(requester);
        registry.requestInference{value: fee}(modelId, named, input, zkInputHash, _terms(model), hex"c0ffee");
        request = Request({
            requester: requester,
            modelId: modelId,
            worker: named,
            fee: fee,
            createdAt: uint64(block.timestamp),
            inputCommitment: input,
            zkInputHash: zkInputHash,
            workerBps: model.workerBps,
            ownerBps: model.ownerBps,
            policy: model.policy,
            verifier: model.verifier
        });
    }

    /// @dev A request (terms read first) expected to revert with `err`.
    function _requestReverts(bytes32 modelId, address named, bytes32 input, uint256 fee, bytes memory err)
        internal
    {
        bytes32 terms = _terms(IRegistryViews(address(registry)).getModel(modelId));
        vm.expectRevert(err);
        vm.prank(requester);
        registry.requestInference{value: fee}(modelId, named, input, bytes32(0), terms, hex"c0ffee");
    }

    function _terms(Model memory model) internal pure returns (bytes32) {
        return termsHashOf(model.fee, model.policy, model.workerBps, model.ownerBps, model.verifier);
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

    /// @dev The reporter's commitment to the evidence (a, b), a block before its report.
    function _commitReport(address reporter, Inference memory a, Inference memory b) internal {
        Attestia.commitReport(slasher, registry, reporter, a, b);
    }

    function _sign(Inference memory inference) internal view returns (bytes memory) {
        return Attestia.sign(workerKey, registry.hashInference(inference));
    }
}
