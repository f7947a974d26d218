// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {VM} from "../Base.sol";
import {Attestia} from "../utils/Attestia.sol";
import {MerkleTree} from "../utils/MerkleTree.sol";
import {InferenceRegistry} from "../../../contracts/InferenceRegistry.sol";
import {RewardDistributor} from "../../../contracts/RewardDistributor.sol";
import {Slasher} from "../../../contracts/Slasher.sol";
import {RegistryLens} from "../../../contracts/RegistryLens.sol";
import {IRewardDistributor} from "../../../contracts/interfaces/IRewardDistributor.sol";
import {IRegistryViews} from "../../../contracts/interfaces/IRegistryViews.sol";
import {
    Share,
    Inference,
    Request,
    Batch,
    Split,
    Model,
    BPS,
    PROOF_SIGNED,
    PROOF_TEE,
    PROOF_ZK,
    TIMESTAMP_WINDOW,
    SLASH_REPORTER_BPS,
    termsHashOf
} from "../../../contracts/Common.sol";

/// @notice Drives the registry and the distributor through every money path with bounded,
///         mostly valid inputs, and keeps an independent model (ghost state) of where every wei
///         should be. Each action predicts whether its call must succeed; a call that does the
///         other thing is counted in `unexpected` (an invariant requires 0), because with
///         fail_on_revert = false forge would otherwise ignore a call that wrongly reverts.
/// @dev Only the external functions listed in selectors() are fuzzed. Calls are made with
///      vm.prank from the actor the contract requires; every argument is computed before the
///      prank (an external call in an argument would consume it).
contract AttestiaHandler {
    uint256 private constant WORKERS = 5;
    uint256 private constant MAX_MODELS = 6;

    struct ModelInfo {
        bytes32 id;
        address owner;
        uint96 fee;
        uint16 workerBps;
        uint16 ownerBps;
        uint8 policy;
        bool deprecated;
        bool revoked;
    }

    struct WorkerInfo {
        uint256 key;
        address signer;
        address operator;
        bool registered;
        uint256 unbondingAt;
        bool revoked;
        bool slashed;
        uint256 stake;
    }

    struct Recorded {
        Request request;
        Inference inference;
        bytes shares; // abi.encode(Share[]): memory struct arrays can't be copied to storage
        bytes signature;
        bytes32 digest;
    }

    struct Attempt {
        Request request;
        Inference inference;
        Share[] list;
        bytes signature;
        bytes32 digest;
        WorkerInfo w;
        ModelInfo m;
    }

    struct BatchInfo {
        bytes32 id;
        uint64 epoch;
        uint256 deposit;
        bool swept;
    }

    InferenceRegistry public immutable registry;
    RewardDistributor public immutable distributor;
    Slasher public immutable slasher;
    RegistryLens public immutable lens;
    /// @notice Credited the non-reporter half of slashed stakes (slasher.treasury()).
    address public immutable treasury;
    address public immutable admin;
    address public immutable settler;
    address public immutable guardian;
    address public immutable relayer;
    address public immutable funder;
    /// @notice Never in any roster: no record may credit it, the distributor must never pay it.
    address public immutable outsider;
    /// @notice Who proves equivocations (credited the reporter half of slashed stakes).
    address[] public reporters;

    /// @notice The block time every action runs at (re-applied with vm.warp at each call).
    uint256 public now_;

    address[] public owners;
    address[] public operators;
    address[] public requesters;
    /// @notice The contributors of every model, sorted ascending.
    address[] public roster;
    mapping(address account => bool) public inRoster;

    ModelInfo[] public models;
    mapping(bytes32 modelId => uint256) private _modelIndex; // index + 1
    WorkerInfo[WORKERS] public workers;
    mapping(address signer => uint256) private _workerIndex; // index + 1

    Request[] private _open;
    Recorded[] private _recorded;
    mapping(bytes32 requestId => bool) public requestIdUsed;
    BatchInfo[] public batches;
    mapping(bytes32 batchId => bool) public batchIdUsed;
    uint64[] public poolEpochs;
    mapping(uint64 epoch => bool) private _poolEpochSeen;

    // Distributor: cumulative amounts per roster account, per proposed epoch.
    uint64 public lastProposedEpoch;
    uint64[] public proposedEpochs;
    mapping(uint64 epoch => uint256[]) private _cumulativeAt;
    uint256[] private _nextCumulative;

    // ------------------------------------------------------------------ ghost accounting
    uint256 public ghostEscrow;
    mapping(address account => uint256) public ghostBalance;
    mapping(uint64 epoch => uint256) public ghostPool;
    uint256 public ghostUnsweptDeposits;
    uint256 public ghostStakes;
    uint256 public ghostFunded;
    uint256 public ghostClaimed;
    mapping(address account => uint256) public ghostClaimedOf;
    /// @notice Slashed stakes credited in the slasher, per account, and what was withdrawn.
    mapping(address account => uint256) public ghostSlashBalance;
    uint256 public ghostSlashed;
    uint256 public ghostSlashWithdrawn;
    /// @notice Dispute bonds credited back (to challengers, or to operators whose worker won).
    uint256 public ghostBondsCredited;

    /// @notice The DisputeHandler (set once): it reports the slashes and bond credits of the
    ///         dispute game, which this handler books in the same ghost state as its own.
    address public disputes;

    // ------------------------------------------------------------------ findings
    /// @notice Calls whose outcome (success or revert) differed from the handler's prediction.
    uint256 public unexpected;
    string public firstUnexpected;
    /// @notice Times a recorded request was accepted again (recorded, cancelled or rejected).
    uint256 public doubleRecords;
    /// @notice Shares naming an account outside the roster in a record the registry accepted
    ///         (fulfillOutsider keeps trying: issue 9 class 1).
    uint256 public nonRosterShares;
    /// @notice Times the distributor paid an account that is not in any root the settler made.
    uint256 public outsiderPaid;
    mapping(bytes32 action => uint256) public successes;

    modifier step() {
        VM.warp(now_);
        _;
    }

    constructor(
        InferenceRegistry registry_,
        RewardDistributor distributor_,
        Slasher slasher_,
        RegistryLens lens_,
        address admin_,
        address settler_,
        address guardian_
    ) {
        registry = registry_;
        distributor = distributor_;
        slasher = slasher_;
        lens = lens_;
        treasury = slasher_.treasury();
        admin = admin_;
        settler = settler_;
        guardian = guardian_;
        relayer = VM.addr(0x5E1A7);
        funder = VM.addr(0xF0D);
        outsider = VM.addr(0x0B5);
        now_ = block.timestamp;
        for (uint256 i; i < 2; ++i) {
            owners.push(VM.addr(0x0E00 + i));
            operators.push(VM.addr(0x0F00 + i));
        }
        for (uint256 i; i < 3; ++i) {
            requesters.push(VM.addr(0x1E00 + i));
        }
        for (uint256 i; i < 2; ++i) {
            reporters.push(VM.addr(0x2E00 + i));
        }
        address[] memory list = new address[](4);
        for (uint256 i; i < 4; ++i) {
            list[i] = VM.addr(0xC0 + i);
        }
        list = Attestia.sort(list);
        for (uint256 i; i < 4; ++i) {
            roster.push(list[i]);
            inRoster[list[i]] = true;
            _nextCumulative.push(0);
        }
        for (uint256 i; i < WORKERS; ++i) {
            uint256 key = 0xA11CE + i;
            workers[i].key = key;
            workers[i].signer = VM.addr(key);
            _workerIndex[workers[i].signer] = i + 1;
        }
    }

    /// @notice The actions forge calls (everything else here is a view for the invariants).
    ///         Money paths have a selector each; model, worker and root management share three
    ///         dispatchers, so forge (which picks selectors uniformly) spends most calls on
    ///         requests, records, batches, sweeps, withdrawals and claims.
    function selectors() external pure returns (bytes4[] memory s) {
        s = new bytes4[](18);
        s[0] = this.manageModel.selector;
        s[1] = this.manageWorker.selector;
        s[2] = this.manageRoots.selector;
        s[3] = this.requestInference.selector;
        s[4] = this.fulfill.selector;
        s[5] = this.replayRecord.selector;
        s[6] = this.rejectRequest.selector;
        s[7] = this.cancelRequest.selector;
        s[8] = this.commitBatch.selector;
        s[9] = this.sweepEpoch.selector;
        s[10] = this.sweepBatches.selector;
        s[11] = this.withdraw.selector;
        s[12] = this.proposeRoot.selector;
        s[13] = this.claim.selector;
        s[14] = this.warp.selector;
        s[15] = this.fulfillOutsider.selector;
        s[16] = this.slash.selector;
        s[17] = this.withdrawSlashed.selector;
    }

    // ================================================================== dispatchers

    /// @notice kind % 5: register a model, change its fee, change its split (both setTerms),
    ///         deprecate or revoke it.
    function manageModel(uint8 kind, uint256 seed, uint256 a, uint256 b) external step {
        kind %= 5;
        if (kind == 0) _registerModel(seed, uint96(a), uint16(b), uint16(b >> 16), uint8(b >> 32));
        else if (kind == 1) _setModelFee(seed, uint96(a));
        else if (kind == 2) _setModelSplit(seed, uint16(a), uint16(b));
        else _retireModel(seed, kind == 4);
    }

    /// @notice kind % 5: register a key (with its consent, or 1 in 4 times without: refused),
    ///         add stake, begin unbonding, withdraw the stake (`flag`: after waiting out the
    ///         delay) or revoke the key (governance).
    function manageWorker(uint8 kind, uint256 seed, uint256 a, bool flag) external step {
        kind %= 5;
        if (kind == 0) _registerWorker(seed, a >> 128, a);
        else if (kind == 1) _addStake(seed, a);
        else if (kind == 2) _beginUnbonding(seed);
        else if (kind == 3) _withdrawStake(seed, flag);
        else _revokeWorker(seed);
    }

    /// @notice kind % 3: fund the distributor directly, cancel the newest root (guardian),
    ///         activate a proposed root (anyone).
    function manageRoots(uint8 kind, uint256 seed) external step {
        kind %= 3;
        if (kind == 0) _fundDistributor(seed);
        else if (kind == 1) _cancelRoot();
        else _activateRoot(seed);
    }

    /// @dev `input` is drawn from 32 values so the same (requester, model, input) recurs.
    function requestInference(uint256 requesterSeed, uint256 modelSeed, uint256 workerSeed, bool named, uint8 input)
        external
        step
    {
        _requestInference(requesterSeed, modelSeed, workerSeed, named, input);
    }

    // ================================================================== models

    function _registerModel(uint256 ownerSeed, uint96 fee, uint16 workerBps, uint16 ownerBps, uint8 extraPolicy) private {
        if (models.length >= MAX_MODELS) return;
        ModelInfo memory m;
        bytes32 content = keccak256(abi.encode("model", models.length));
        m.owner = owners[ownerSeed % owners.length];
        m.id = keccak256(abi.encode(m.owner, content));
        m.fee = uint96(_bound(fee, 0, 2 ether));
        m.workerBps = uint16(_bound(workerBps, 0, BPS));
        m.ownerBps = uint16(_bound(ownerBps, 0, BPS - m.workerBps));
        // Always SIGNED (the records this handler makes), sometimes TEE and ZK too.
        m.policy = uint8(1 << PROOF_SIGNED) | (extraPolicy & uint8((1 << PROOF_TEE) | (1 << PROOF_ZK)));
        Split memory split = Split(m.workerBps, m.ownerBps, BPS - m.workerBps - m.ownerBps);
        address[] memory contributors = roster;
        VM.prank(m.owner);
        try registry.registerModel(content, "ipfs://model", bytes32(0), contributors, m.policy, m.fee, split) returns (bytes32 id) {
            _outcome("registerModel", true, true);
            _check(id == m.id, "registerModel: id is not modelIdOf(owner, content)");
            models.push(m);
            _modelIndex[m.id] = models.length;
        } catch (bytes memory err) {
            _outcome("registerModel", true, false, err);
        }
    }

    /// @dev setTerms with a new fee, the rest unchanged. Paid requests keep their fee.
    function _setModelFee(uint256 modelSeed, uint96 fee) private {
        if (models.length == 0) return;
        ModelInfo storage m = models[modelSeed % models.length];
        fee = uint96(_bound(fee, 0, 2 ether));
        Split memory split = Split(m.workerBps, m.ownerBps, BPS - m.workerBps - m.ownerBps);
        VM.prank(m.owner);
        try registry.setTerms(m.id, fee, m.policy, split) {
            _outcome("setModelFee", true, true);
            m.fee = fee;
        } catch (bytes memory err) {
            _outcome("setModelFee", true, false, err);
        }
    }

    /// @dev setTerms with a new split (and policy bits), the fee unchanged. A request carries the
    ///      split in force when it was paid (issue 9 class 5): the ghost split of a record is
    ///      the request's, whatever is set here between payment and record.
    function _setModelSplit(uint256 modelSeed, uint16 workerBps, uint16 ownerBps) private {
        if (models.length == 0) return;
        ModelInfo storage m = models[modelSeed % models.length];
        workerBps = uint16(_bound(workerBps, 0, BPS));
        ownerBps = uint16(_bound(ownerBps, 0, BPS - workerBps));
        uint8 policy = uint8(1 << PROOF_SIGNED) | (uint8(workerBps) & uint8((1 << PROOF_TEE) | (1 << PROOF_ZK)));
        Split memory split = Split(workerBps, ownerBps, BPS - workerBps - ownerBps);
        VM.prank(m.owner);
        try registry.setTerms(m.id, m.fee, policy, split) {
            _outcome("setModelSplit", true, true);
            (m.workerBps, m.ownerBps, m.policy) = (workerBps, ownerBps, policy);
        } catch (bytes memory err) {
            _outcome("setModelSplit", true, false, err);
        }
    }

    /// @dev Deprecates or revokes a model, keeping at least one usable model.
    function _retireModel(uint256 modelSeed, bool revoke) private {
        if (_usableModels() < 2) return;
        ModelInfo storage m = models[modelSeed % models.length];
        VM.prank(m.owner);
        if (revoke) {
            try registry.revokeModel(m.id) {
                _outcome("revokeModel", !m.revoked, true);
                m.revoked = true;
            } catch (bytes memory err) {
                _outcome("revokeModel", !m.revoked, false, err);
            }
        } else {
            try registry.deprecateModel(m.id) {
                _outcome("deprecateModel", !m.deprecated, true);
                m.deprecated = true;
            } catch (bytes memory err) {
                _outcome("deprecateModel", !m.deprecated, false, err);
            }
        }
    }

    // ================================================================== workers

    function _registerWorker(uint256 workerSeed, uint256 operatorSeed, uint256 stake) private {
        WorkerInfo storage w = workers[workerSeed % WORKERS];
        address operator = operators[operatorSeed % operators.length];
        stake = _bound(stake, Attestia.MIN_STAKE, 3 ether);
        // 1 in 4: a front-runner without the key's consent (issue 9 class 4).
        bool consented = (operatorSeed >> 64) % 4 != 3;
        uint256 deadline = now_ + 1 hours;
        bytes memory consent = consented ? _consent(w, operator, deadline) : bytes("");
        VM.deal(operator, operator.balance + stake);
        VM.prank(operator);
        try registry.registerWorker{value: stake}(w.signer, hex"04aa", deadline, consent) {
            _outcome("registerWorker", !w.registered && consented, true);
            (w.registered, w.operator, w.stake) = (true, operator, stake);
            ghostStakes += stake;
        } catch (bytes memory err) {
            _outcome("registerWorker", !w.registered && consented, false, err);
        }
    }

    /// @dev The key's EIP-712 WorkerRegistration consent for `operator` (its next nonce).
    function _consent(WorkerInfo storage w, address operator, uint256 deadline) private view returns (bytes memory) {
        bytes32 typeHash = keccak256(
            "WorkerRegistration(address signer,address operator,bytes32 encryptionKeyHash,uint256 nonce,uint256 deadline)"
        );
        bytes32 structHash = keccak256(
            abi.encode(typeHash, w.signer, operator, keccak256(hex"04aa"), registry.nonces(w.signer), deadline)
        );
        return Attestia.sign(w.key, keccak256(abi.encodePacked("\x19\x01", IRegistryViews(address(registry)).domainSeparator(), structHash)));
    }

    function _addStake(uint256 workerSeed, uint256 amount) private {
        WorkerInfo storage w = workers[workerSeed % WORKERS];
        if (!w.registered) return;
        amount = _bound(amount, 1, 1 ether);
        VM.deal(w.operator, w.operator.balance + amount);
        VM.prank(w.operator);
        try registry.addStake{value: amount}(w.signer) {
            _outcome("addStake", _active(w), true);
            w.stake += amount;
            ghostStakes += amount;
        } catch (bytes memory err) {
            _outcome("addStake", _active(w), false, err);
        }
    }

    /// @dev Keeps at least one active worker key, so records stay possible.
    function _beginUnbonding(uint256 workerSeed) private {
        WorkerInfo storage w = workers[workerSeed % WORKERS];
        if (!w.registered || _activeWorkers() < 2) return;
        VM.prank(w.operator);
        try registry.beginUnbonding(w.signer) {
            _outcome("beginUnbonding", w.unbondingAt == 0, true);
            w.unbondingAt = now_;
        } catch (bytes memory err) {
            _outcome("beginUnbonding", w.unbondingAt == 0, false, err);
        }
    }

    /// @dev `wait`: first move the clock to the end of the unbonding delay.
    function _withdrawStake(uint256 workerSeed, bool wait) private {
        WorkerInfo storage w = _pickUnbonding(workerSeed);
        if (!w.registered) return;
        uint256 withdrawableAt = w.unbondingAt + Attestia.UNBONDING_DELAY;
        if (wait && w.unbondingAt != 0 && now_ < withdrawableAt) _setTime(withdrawableAt);
        bool expected = w.unbondingAt != 0 && now_ >= withdrawableAt && w.stake != 0;
        uint256 before = w.operator.balance;
        VM.prank(w.operator);
        try registry.withdrawStake(w.signer) {
            _outcome("withdrawStake", expected, true);
            _check(w.operator.balance == before + w.stake, "withdrawStake: operator not paid the stake");
            ghostStakes -= w.stake;
            w.stake = 0;
        } catch (bytes memory err) {
            _outcome("withdrawStake", expected, false, err);
        }
    }

    /// @dev Governance revokes a key, keeping at least one active worker key.
    function _revokeWorker(uint256 workerSeed) private {
        WorkerInfo storage w = workers[workerSeed % WORKERS];
        if (!w.registered || _activeWorkers() < 2) return;
        VM.prank(admin);
        try registry.revokeWorker(w.signer) {
            _outcome("revokeWorker", !w.revoked, true);
            w.revoked = true;
        } catch (bytes memory err) {
            _outcome("revokeWorker", !w.revoked, false, err);
        }
    }

    // ================================================================== requests and records

    function _requestInference(uint256 requesterSeed, uint256 modelSeed, uint256 workerSeed, bool named, uint8 input)
        private
        returns (bool ok)
    {
        if (models.length == 0) return false;
        ModelInfo storage m = models[modelSeed % models.length];
        address requester = requesters[requesterSeed % requesters.length];
        WorkerInfo storage w = _pickWorker(workerSeed);
        address worker = named ? w.signer : address(0);
        bytes32 inputCommitment = keccak256(abi.encode("input", input % 32));
        bytes32 requestId = keccak256(abi.encode(requester, m.id, inputCommitment));
        // A request naming no worker is refused (WorkerRequired, issue 17).
        bool expected = named && !m.deprecated && !m.revoked && _active(w) && !requestIdUsed[requestId];
        uint256 fee = m.fee;
        VM.deal(requester, requester.balance + fee);
        Model memory terms = IRegistryViews(address(registry)).getModel(m.id);
        bytes32 termsHash = termsHashOf(fee, terms.policy, terms.workerBps, terms.ownerBps, terms.verifier);
        VM.prank(requester);
        try registry.requestInference{value: fee}(m.id, worker, inputCommitment, bytes32(0), termsHash, hex"c0ffee") returns (bytes32 id) {
            _outcome("requestInference", expected, true);
            ok = true;
            _check(id == requestId, "requestInference: unexpected request id");
            requestIdUsed[requestId] = true;
            // The terms in force now travel with the request (issue 9 class 5).
            _open.push(
                Request(requester, m.id, worker, fee, uint64(now_), inputCommitment, bytes32(0), m.workerBps, m.ownerBps, m.policy, terms.verifier)
            );
            ghostEscrow += fee;
        } catch (bytes memory err) {
            _outcome("requestInference", expected, false, err);
        }
    }

    /// @dev A SIGNED record of an open request by its named worker, with a valid attribution
    ///      list over the roster, sent by the worker or relayed. With no open request it first
    ///      pays for one (from the same seeds).
    function fulfill(uint256 openSeed, uint256 workerSeed, uint256 shareSeed, bool bySig) external step {
        if (_open.length == 0 && !_requestInference(openSeed, shareSeed, workerSeed, true, uint8(shareSeed))) {
            return;
        }
        uint256 index = openSeed % _open.length;
        Attempt memory a = _prepareRecord(_open[index], workerSeed, shareSeed);
        (bool ok, bytes memory err) = _submitRecord(a.request, a.inference, a.list, roster, a.signature, bySig);
        // Signed now: it must be no later than the request's deadline (issue 9 class 8).
        bool inTime = now_ <= uint256(a.request.createdAt) + Attestia.REQUEST_TIMEOUT;
        _outcome("fulfill", _active(a.w) && !a.m.revoked && inTime, ok, err);
        if (ok) _applyRecord(index, a);
    }

    /// @dev A record whose attribution list names the outsider (issue 9 class 1), validly
    ///      signed by an active worker: alone with the real roster (mode 0), slipped among
    ///      roster accounts (mode 1), or with a forged roster that includes it (mode 2). The
    ///      registry must refuse every one; if it ever accepts, the record is applied to the
    ///      ghost state and counted in nonRosterShares (an invariant requires 0).
    function fulfillOutsider(uint256 openSeed, uint256 workerSeed, uint256 shareSeed, uint8 mode) external step {
        if (_open.length == 0) return;
        uint256 index = openSeed % _open.length;
        Attempt memory a = _prepareRecord(_open[index], workerSeed, shareSeed);
        mode %= 3;
        address[] memory passed = roster;
        if (mode == 0) {
            a.list = new Share[](1);
            a.list[0] = Share(outsider, uint16(BPS));
        } else {
            a.list = _withOutsider(a.list);
            if (mode == 2) passed = _rosterWithOutsider();
        }
        a.inference.attributionHash = Attestia.attributionHash(a.list);
        a.digest = registry.hashInference(a.inference);
        a.signature = Attestia.sign(a.w.key, a.digest);
        (bool ok,) = _submitRecord(a.request, a.inference, a.list, passed, a.signature, shareSeed % 2 == 0);
        if (!ok) {
            ++successes[keccak256("outsiderRefused")];
            return;
        }
        _applyRecord(index, a);
    }

    /// @dev The record is the named worker's (every request names one, issue 17); the second
    ///      argument (a worker seed) is kept for the callers' seeds.
    function _prepareRecord(Request memory request, uint256, uint256 shareSeed)
        private
        view
        returns (Attempt memory a)
    {
        a.request = request;
        a.w = workers[_workerIndex[request.worker] - 1];
        a.m = models[_modelIndex[request.modelId] - 1];
        a.list = Attestia.shares(roster, shareSeed);
        a.inference = Attestia.signedRecord(
            request, a.w.signer, keccak256(abi.encode("output", shareSeed)), a.list, uint64(now_)
        );
        a.digest = registry.hashInference(a.inference);
        a.signature = Attestia.sign(a.w.key, a.digest);
    }

    function _applyRecord(uint256 index, Attempt memory a) private {
        // Every share of an accepted record must name a roster account: fulfillOutsider sends
        // records that don't, and the registry's roster check must refuse them.
        for (uint256 i; i < a.list.length; ++i) {
            if (!inRoster[a.list[i].account]) ++nonRosterShares;
        }
        // Split by the terms the request was paid under, not the model's current ones.
        (uint256 workerCut, uint256 ownerCut, uint256 contributorCut) =
            Attestia.split(a.request.fee, a.request.workerBps, a.request.ownerBps);
        ghostEscrow -= a.request.fee;
        ghostBalance[a.w.operator] += workerCut;
        ghostBalance[a.m.owner] += ownerCut;
        _addToPool(_epoch(), contributorCut);
        _removeOpen(index);
        Recorded storage r = _recorded.push();
        r.request = a.request;
        r.inference = a.inference;
        r.shares = abi.encode(a.list);
        r.signature = a.signature;
        r.digest = a.digest;
    }

    /// @dev Tries to record an already recorded request again (the same record, direct or
    ///      relayed, or a fresh signed one), to cancel it or to reject it: all must revert.
    function replayRecord(uint256 recordedSeed, uint8 mode, uint256 outputSeed) external step {
        if (_recorded.length == 0) return;
        Recorded storage r = _recorded[recordedSeed % _recorded.length];
        Request memory request = r.request;
        Inference memory inference = r.inference;
        Share[] memory list = abi.decode(r.shares, (Share[]));
        bytes memory signature = r.signature;
        WorkerInfo memory w = workers[_workerIndex[inference.worker] - 1];
        bool accepted;
        mode = mode % 5;
        if (mode == 0 || mode == 1) {
            (accepted,) = _submitRecord(request, inference, list, roster, signature, mode == 1);
        } else if (mode == 2) {
            inference.outputCommitment = keccak256(abi.encode("other output", outputSeed));
            inference.timestamp = uint64(now_);
            signature = Attestia.sign(w.key, registry.hashInference(inference));
            (accepted,) = _submitRecord(request, inference, list, roster, signature, true);
        } else if (mode == 3) {
            VM.prank(request.requester);
            try registry.cancelRequest(request) {
                accepted = true;
            } catch {}
        } else {
            VM.prank(inference.worker);
            try registry.rejectRequest(request, "replay") {
                accepted = true;
            } catch {}
        }
        if (accepted) ++doubleRecords;
        else ++successes[keccak256("replayRefused")];
    }

    function rejectRequest(uint256 openSeed, uint256 callerSeed) external step {
        if (_open.length == 0) return;
        uint256 index = openSeed % _open.length;
        Request memory request = _open[index];
        // The named key or its operator, whatever the key's state (every request names one).
        WorkerInfo storage w = workers[_workerIndex[request.worker] - 1];
        address caller = callerSeed % 2 == 0 ? w.signer : w.operator;
        VM.prank(caller);
        try registry.rejectRequest(request, "cannot serve") {
            _outcome("rejectRequest", true, true);
            _refund(index, request);
        } catch (bytes memory err) {
            _outcome("rejectRequest", true, false, err);
        }
    }

    /// @dev `wait`: first move the clock to the first second a cancel is allowed (the
    ///      deadline, plus the grace period in which a record signed by it may still land).
    function cancelRequest(uint256 openSeed, bool wait) external step {
        if (_open.length == 0) return;
        uint256 index = openSeed % _open.length;
        Request memory request = _open[index];
        uint256 cancellableAt = uint256(request.createdAt) + Attestia.REQUEST_TIMEOUT + TIMESTAMP_WINDOW + 1;
        if (wait && now_ < cancellableAt) _setTime(cancellableAt);
        bool expected = now_ >= cancellableAt;
        VM.prank(request.requester);
        try registry.cancelRequest(request) {
            _outcome("cancelRequest", expected, true);
            _refund(index, request);
        } catch (bytes memory err) {
            _outcome("cancelRequest", expected, false, err);
        }
    }

    // ================================================================== batches

    /// @dev `root` is drawn from 64 values so a duplicate commitment recurs.
    function commitBatch(uint256 workerSeed, uint256 modelSeed, uint32 count, uint256 deposit, bool bySig, uint8 root)
        external
        step
    {
        if (models.length == 0) return;
        WorkerInfo memory w = _pickWorker(workerSeed);
        ModelInfo memory m = models[modelSeed % models.length];
        Batch memory batch = Batch({
            root: keccak256(abi.encode("root", root % 64)),
            count: uint32(_bound(count, 1, 1_000)),
            modelId: m.id,
            epoch: _epoch(),
            dataUriHash: keccak256("ipfs://batch"),
            dataHash: keccak256(abi.encode("batch file", root % 64)),
            worker: w.signer,
            deposit: _bound(deposit, 0, 1 ether)
        });
        bytes32 batchId = keccak256(abi.encode(batch.root, m.id, w.signer));
        bool expected = _active(w) && !m.revoked && !batchIdUsed[batchId];
        (bool ok, bytes memory err) = bySig ? _commitBySig(batch, w.key) : _commit(batch);
        _outcome("commitBatch", expected, ok, err);
        if (!ok) return;
        batchIdUsed[batchId] = true;
        batches.push(BatchInfo(batchId, batch.epoch, batch.deposit, false));
        ghostUnsweptDeposits += batch.deposit;
    }

    function _commit(Batch memory b) private returns (bool ok, bytes memory err) {
        VM.deal(b.worker, b.worker.balance + b.deposit);
        VM.prank(b.worker);
        try registry.commitBatch{value: b.deposit}(b.root, b.count, b.modelId, b.epoch, "ipfs://batch", b.dataHash) {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
    }

    function _commitBySig(Batch memory b, uint256 key) private returns (bool ok, bytes memory err) {
        bytes memory signature = Attestia.sign(key, lens.hashBatch(b));
        VM.deal(relayer, relayer.balance + b.deposit);
        VM.prank(relayer);
        try registry.commitBatchBySig{value: b.deposit}(
            b.root, b.count, b.modelId, b.epoch, "ipfs://batch", b.dataHash, b.worker, signature
        ) {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
    }

    // ================================================================== sweeps and withdrawals

    function sweepEpoch(uint256 epochSeed) external step {
        if (poolEpochs.length == 0) return;
        uint64 epoch = poolEpochs[epochSeed % poolEpochs.length];
        uint256 amount = ghostPool[epoch];
        bool expected = epoch < _epoch() && amount != 0;
        VM.prank(relayer);
        try registry.sweepEpoch(epoch) {
            _outcome("sweepEpoch", expected, true);
            ghostPool[epoch] = 0;
            ghostFunded += amount;
        } catch (bytes memory err) {
            _outcome("sweepEpoch", expected, false, err);
        }
    }

    /// @dev Sweeps `n` consecutive batches from `startSeed`, in whatever state they are: the
    ///      call must succeed iff all have ended, none is swept and their deposits are non-zero.
    function sweepBatches(uint256 startSeed, uint8 n) external step {
        if (batches.length == 0) return;
        n = uint8(_bound(n, 1, batches.length < 4 ? batches.length : 4));
        bytes32[] memory ids = new bytes32[](n);
        uint256[] memory picked = new uint256[](n);
        bool expected = true;
        uint256 total;
        uint64 current = _epoch();
        for (uint256 i; i < n; ++i) {
            uint256 k = (startSeed % batches.length + i) % batches.length;
            BatchInfo storage b = batches[k];
            (ids[i], picked[i]) = (b.id, k);
            if (b.swept || b.epoch >= current) expected = false;
            total += b.deposit;
        }
        if (total == 0) expected = false;
        VM.prank(relayer);
        try registry.sweepBatches(ids) {
            _outcome("sweepBatches", expected, true);
            for (uint256 i; i < n; ++i) {
                batches[picked[i]].swept = true;
            }
            ghostUnsweptDeposits -= total;
            ghostFunded += total;
        } catch (bytes memory err) {
            _outcome("sweepBatches", expected, false, err);
        }
    }

    function withdraw(uint256 accountSeed) external step {
        address[] memory payees = payeeList();
        address account = payees[accountSeed % payees.length];
        uint256 amount = ghostBalance[account];
        uint256 before = account.balance;
        VM.prank(account);
        try registry.withdraw() {
            _outcome("withdraw", amount != 0, true);
            _check(account.balance == before + amount, "withdraw: paid another amount");
            ghostBalance[account] = 0;
        } catch (bytes memory err) {
            _outcome("withdraw", amount != 0, false, err);
        }
    }

    // ================================================================== slashing

    /// @dev A reporter proves that a key signed two conflicting records for one request id
    ///      (issue 9 class 10). Must succeed iff the key is registered, not slashed and has stake
    ///      left; the stake moves to the slasher, half credited to the reporter, half to the
    ///      treasury. Keeps at least one active key, so records stay possible.
    function slash(uint256 workerSeed, uint256 reporterSeed, bytes32 requestId) external step {
        WorkerInfo storage w = workers[workerSeed % WORKERS];
        if (_active(w) && _activeWorkers() < 2) return;
        address reporter = reporters[reporterSeed % reporters.length];
        (Inference memory a, bytes memory sigA) = _equivocation(w, requestId, "output A", reporterSeed);
        (Inference memory b, bytes memory sigB) = _equivocation(w, requestId, "output B", reporterSeed);
        bool expected = w.registered && !w.slashed && w.stake != 0;
        Attestia.commitReport(slasher, registry, reporter, a, b);
        VM.prank(reporter);
        try slasher.slashEquivocation(a, sigA, b, sigB, Attestia.REPORT_SALT) returns (uint256 amount) {
            _outcome("slash", expected, true);
            _applySlash(w, reporter, amount);
        } catch (bytes memory err) {
            _outcome("slash", expected, false, err);
        }
    }

    function _equivocation(WorkerInfo storage w, bytes32 requestId, bytes32 output, uint256 seed)
        private
        view
        returns (Inference memory record, bytes memory signature)
    {
        record = Inference(
            requestId, bytes32(0), bytes32(0), output, Attestia.attributionHash(Attestia.shares(roster, seed)),
            PROOF_SIGNED, bytes32(0), w.signer, uint64(now_), bytes32(0)
        );
        signature = Attestia.sign(w.key, registry.hashInference(record));
    }

    function _applySlash(WorkerInfo storage w, address reporter, uint256 amount) private {
        uint256 stake = w.stake;
        _check(amount == stake, "slash: not the whole stake");
        uint256 reward = stake * SLASH_REPORTER_BPS / BPS;
        ghostSlashBalance[reporter] += reward;
        ghostSlashBalance[treasury] += stake - reward;
        ghostSlashed += stake;
        ghostStakes -= stake;
        w.stake = 0;
        w.slashed = true;
        w.revoked = true;
    }

    /// @dev A reporter or the treasury withdraws its credit from the slasher.
    function withdrawSlashed(uint256 accountSeed) external step {
        address[] memory accounts = slashPayeeList();
        address account = accounts[accountSeed % accounts.length];
        uint256 amount = ghostSlashBalance[account];
        uint256 before = account.balance;
        VM.prank(account);
        try slasher.withdraw() {
            _outcome("withdrawSlashed", amount != 0, true);
            _check(account.balance == before + amount, "withdrawSlashed: paid another amount");
            ghostSlashBalance[account] = 0;
            ghostSlashWithdrawn += amount;
        } catch (bytes memory err) {
            _outcome("withdrawSlashed", amount != 0, false, err);
        }
    }

    // ================================================================== dispute game hooks

    function setDisputes(address disputes_) external {
        require(disputes == address(0), "disputes already set");
        disputes = disputes_;
    }

    modifier onlyDisputes() {
        require(msg.sender == disputes, "not the dispute handler");
        _;
    }

    /// @notice A dispute ended against `signer`, `amount` reaching the slasher: it must be the
    ///         whole stake this model holds for the key (0 once slashed or withdrawn).
    function noteDisputeSlash(address signer, address reporter, uint256 amount) external onlyDisputes {
        WorkerInfo storage w = workers[_workerIndex[signer] - 1];
        uint256 expected = w.slashed ? 0 : w.stake;
        _check(amount == expected, "dispute slash: not the worker's whole stake");
        if (expected != 0) _applySlash(w, reporter, amount);
    }

    function noteBondCredit(address account, uint256 amount) external onlyDisputes {
        ghostSlashBalance[account] += amount;
        ghostBondsCredited += amount;
    }

    /// @notice The dispute handler waits out a deadline: every later action runs from then.
    function advanceTo(uint256 t) external onlyDisputes {
        if (t > now_) _setTime(t);
    }

    // ================================================================== distributor

    /// @dev Anyone may fund the ETH distributor directly.
    function _fundDistributor(uint256 amount) private {
        amount = _bound(amount, 1, 1 ether);
        VM.deal(funder, funder.balance + amount);
        VM.prank(funder);
        try distributor.fund{value: amount}(amount) {
            _outcome("fundDistributor", true, true);
            ghostFunded += amount;
        } catch (bytes memory err) {
            _outcome("fundDistributor", true, false, err);
        }
    }

    /// @dev A new root over the roster with cumulative amounts that only grow and add up to
    ///      at most what was funded (an OZ StandardMerkleTree built in Solidity).
    ///      Like a settler, it mostly waits until the pending proposal's timelock is over (a
    ///      newer proposal would supersede it before anyone could claim); 1 in 4 calls doesn't.
    function proposeRoot(uint256 seed) external step {
        if (seed % 4 != 0 && _pendingReadyAt() > now_) return;
        uint256 headroom = ghostFunded - _sum(_nextCumulative);
        uint256[] memory cumulative = new uint256[](roster.length);
        for (uint256 i; i < roster.length; ++i) {
            cumulative[i] = _nextCumulative[i]
                + _bound(uint256(keccak256(abi.encode(seed, i))), 0, headroom / roster.length);
        }
        uint64 epoch = lastProposedEpoch + 1;
        bytes32 root = _tree(cumulative)[0];
        uint256 total = _sum(cumulative);
        VM.prank(settler);
        try distributor.proposeRoot(epoch, root, total) {
            _outcome("proposeRoot", true, true);
            lastProposedEpoch = epoch;
            proposedEpochs.push(epoch);
            _cumulativeAt[epoch] = cumulative;
            _nextCumulative = cumulative;
        } catch (bytes memory err) {
            _outcome("proposeRoot", true, false, err);
        }
    }

    /// @dev The guardian cancels the newest proposal; must succeed iff it is still proposed
    ///      (not activated, lazily or not) and inside its timelock.
    function _cancelRoot() private {
        if (proposedEpochs.length == 0) return;
        uint64 epoch = lastProposedEpoch;
        IRewardDistributor.EpochRoot memory proposal = distributor.epochRoot(epoch);
        bool expected = proposal.status == IRewardDistributor.RootStatus.Proposed && now_ < proposal.readyAt;
        VM.prank(guardian);
        try distributor.cancelRoot(epoch) {
            _outcome("cancelRoot", expected, true);
        } catch (bytes memory err) {
            _outcome("cancelRoot", expected, false, err);
        }
    }

    /// @dev Anyone activates a proposal once its timelock has passed (no prediction: whether
    ///      an older one may still be activated depends on lazy activation by claims).
    function _activateRoot(uint256 epochSeed) private {
        if (proposedEpochs.length == 0) return;
        uint64 epoch = proposedEpochs[epochSeed % proposedEpochs.length];
        try distributor.activateRoot(epoch) {
            ++successes[keccak256("activateRoot")];
        } catch {}
    }

    /// @dev Claims a roster account's cumulative amount under the root a claim would use, with
    ///      a real proof; also tries to have the outsider paid with that proof.
    ///      `wait`: first move the clock to the end of a pending proposal's timelock.
    function claim(uint256 accountSeed, bool wait) external step {
        uint256 readyAt = _pendingReadyAt();
        if (wait && readyAt > now_) _setTime(readyAt);
        (bool exists, uint64 epoch,,) = distributor.claimableRoot();
        if (!exists) return;
        uint256[] memory cumulative = _cumulativeAt[epoch];
        bytes32[] memory tree = _tree(cumulative);
        uint256 i = accountSeed % roster.length;
        address account = roster[i];
        bytes32[] memory proof = MerkleTree.proof(tree, MerkleTree.claimLeaf(account, cumulative[i]));

        try distributor.claim(outsider, cumulative[i], proof) {
            ++outsiderPaid;
        } catch {}

        uint256 already = ghostClaimedOf[account];
        bool expected = cumulative[i] > already;
        uint256 before = account.balance;
        VM.prank(relayer);
        try distributor.claim(account, cumulative[i], proof) returns (uint256 amount) {
            _outcome("claim", expected, true);
            _check(amount == cumulative[i] - already && account.balance == before + amount, "claim: wrong amount paid");
            ghostClaimed += amount;
            ghostClaimedOf[account] = cumulative[i];
        } catch (bytes memory err) {
            _outcome("claim", expected, false, err);
        }
    }

    // ================================================================== time

    function warp(uint256 seconds_) external step {
        _setTime(now_ + _bound(seconds_, 1, 2 days));
        ++successes[keccak256("warp")];
    }

    // ================================================================== views for invariants

    /// @notice Every account the registry may credit (operators, owners, requesters) and the
    ///         worker keys (never credited: worker cuts go to operators).
    function payeeList() public view returns (address[] memory list) {
        list = new address[](owners.length + operators.length + requesters.length + WORKERS);
        uint256 k;
        for (uint256 i; i < owners.length; ++i) list[k++] = owners[i];
        for (uint256 i; i < operators.length; ++i) list[k++] = operators[i];
        for (uint256 i; i < requesters.length; ++i) list[k++] = requesters[i];
        for (uint256 i; i < WORKERS; ++i) list[k++] = workers[i].signer;
    }

    /// @notice The accounts the slasher may credit: the reporters (who also challenge and
    ///         prove), the treasury, and the operators (a bond when their worker wins a dispute).
    function slashPayeeList() public view returns (address[] memory list) {
        list = new address[](reporters.length + 1 + operators.length);
        for (uint256 i; i < reporters.length; ++i) list[i] = reporters[i];
        list[reporters.length] = treasury;
        for (uint256 i; i < operators.length; ++i) list[reporters.length + 1 + i] = operators[i];
    }

    /// @notice Everything the invariants read, in one call.
    struct Snapshot {
        Request[] open;
        address[] payees;
        uint256[] ghostBalances;
        uint64[] poolEpochs;
        uint256[] ghostPools;
        bytes32[] batchIds;
        address[] workerSigners;
        uint256[] workerStakes;
    }

    function snapshot() external view returns (Snapshot memory snap) {
        snap.open = _open;
        snap.payees = payeeList();
        snap.ghostBalances = new uint256[](snap.payees.length);
        for (uint256 i; i < snap.payees.length; ++i) {
            snap.ghostBalances[i] = ghostBalance[snap.payees[i]];
        }
        snap.poolEpochs = poolEpochs;
        snap.ghostPools = new uint256[](poolEpochs.length);
        for (uint256 i; i < poolEpochs.length; ++i) {
            snap.ghostPools[i] = ghostPool[poolEpochs[i]];
        }
        snap.batchIds = new bytes32[](batches.length);
        for (uint256 i; i < batches.length; ++i) {
            snap.batchIds[i] = batches[i].id;
        }
        snap.workerSigners = new address[](WORKERS);
        snap.workerStakes = new uint256[](WORKERS);
        for (uint256 i; i < WORKERS; ++i) {
            (snap.workerSigners[i], snap.workerStakes[i]) = (workers[i].signer, workers[i].stake);
        }
    }

    /// @notice The request id and record digest of every record the registry accepted.
    function recorded() external view returns (bytes32[] memory ids, bytes32[] memory digests) {
        ids = new bytes32[](_recorded.length);
        digests = new bytes32[](_recorded.length);
        for (uint256 i; i < _recorded.length; ++i) {
            (ids[i], digests[i]) = (_recorded[i].inference.requestId, _recorded[i].digest);
        }
    }

    function rosterList() external view returns (address[] memory) {
        return roster;
    }

    function successCount(string calldata action) external view returns (uint256) {
        return successes[keccak256(bytes(action))];
    }

    // ================================================================== internals

    function _submitRecord(
        Request memory request,
        Inference memory inference,
        Share[] memory list,
        address[] memory passedRoster,
        bytes memory signature,
        bool bySig
    ) private returns (bool ok, bytes memory err) {
        if (bySig) {
            VM.prank(relayer);
            try registry.fulfillBySig(request, inference, list, passedRoster, signature, Attestia.SEALED) {
                ok = true;
            } catch (bytes memory e) {
                err = e;
            }
        } else {
            VM.prank(inference.worker);
            try registry.fulfill(request, inference, list, passedRoster, Attestia.SEALED) {
                ok = true;
            } catch (bytes memory e) {
                err = e;
            }
        }
    }

    /// @dev `list` with the outsider inserted at its sorted place (1 bps taken from the largest
    ///      share), so only the roster check can refuse it.
    function _withOutsider(Share[] memory list) private view returns (Share[] memory out) {
        uint256 largest;
        for (uint256 i = 1; i < list.length; ++i) {
            if (list[i].bps > list[largest].bps) largest = i;
        }
        list[largest].bps -= 1; // a list sums to BPS over at most 4 accounts: the largest has > 1
        out = new Share[](list.length + 1);
        uint256 j;
        bool placed;
        for (uint256 i; i < list.length; ++i) {
            if (!placed && outsider < list[i].account) {
                out[j++] = Share(outsider, 1);
                placed = true;
            }
            out[j++] = list[i];
        }
        if (!placed) out[j] = Share(outsider, 1);
    }

    function _rosterWithOutsider() private view returns (address[] memory out) {
        out = new address[](roster.length + 1);
        for (uint256 i; i < roster.length; ++i) out[i] = roster[i];
        out[roster.length] = outsider;
        out = Attestia.sort(out);
    }

    function _refund(uint256 index, Request memory request) private {
        ghostEscrow -= request.fee;
        ghostBalance[request.requester] += request.fee;
        _removeOpen(index);
    }

    function _removeOpen(uint256 index) private {
        _open[index] = _open[_open.length - 1];
        _open.pop();
    }

    function _addToPool(uint64 epoch, uint256 amount) private {
        ghostPool[epoch] += amount;
        if (!_poolEpochSeen[epoch]) {
            _poolEpochSeen[epoch] = true;
            poolEpochs.push(epoch);
        }
    }

    /// @dev readyAt of the newest proposal if it is still only proposed, else 0.
    function _pendingReadyAt() private view returns (uint256) {
        if (proposedEpochs.length == 0) return 0;
        IRewardDistributor.EpochRoot memory proposal = distributor.epochRoot(lastProposedEpoch);
        return proposal.status == IRewardDistributor.RootStatus.Proposed ? proposal.readyAt : 0;
    }

    function _tree(uint256[] memory cumulative) private view returns (bytes32[] memory) {
        bytes32[] memory leaves = new bytes32[](roster.length);
        for (uint256 i; i < roster.length; ++i) {
            leaves[i] = MerkleTree.claimLeaf(roster[i], cumulative[i]);
        }
        return MerkleTree.build(leaves);
    }

    function _sum(uint256[] memory values) private pure returns (uint256 total) {
        for (uint256 i; i < values.length; ++i) total += values[i];
    }

    function _epoch() private view returns (uint64) {
        return uint64((now_ - Attestia.START) / Attestia.EPOCH_LENGTH);
    }

    function _setTime(uint256 t) private {
        now_ = t;
        VM.warp(t);
    }

    function _active(WorkerInfo memory w) private pure returns (bool) {
        return w.registered && w.unbondingAt == 0 && !w.revoked;
    }

    /// @dev Worker `seed % WORKERS` when the seed's low bits are 0 (1 in 8: exercises the
    ///      inactive-key paths), else the first active key from there, if any.
    function _pickWorker(uint256 seed) private view returns (WorkerInfo storage) {
        uint256 start = seed % WORKERS;
        if ((seed >> 8) % 8 != 0) {
            for (uint256 i; i < WORKERS; ++i) {
                WorkerInfo storage w = workers[(start + i) % WORKERS];
                if (_active(w)) return w;
            }
        }
        return workers[start];
    }

    /// @dev The first key from `seed % WORKERS` on that is unbonding with stake left, if any.
    function _pickUnbonding(uint256 seed) private view returns (WorkerInfo storage) {
        uint256 start = seed % WORKERS;
        for (uint256 i; i < WORKERS; ++i) {
            WorkerInfo storage w = workers[(start + i) % WORKERS];
            if (w.unbondingAt != 0 && w.stake != 0) return w;
        }
        return workers[start];
    }

    function _activeWorkers() private view returns (uint256 n) {
        for (uint256 i; i < WORKERS; ++i) {
            if (_active(workers[i])) ++n;
        }
    }

    function _usableModels() private view returns (uint256 n) {
        for (uint256 i; i < models.length; ++i) {
            if (!models[i].deprecated && !models[i].revoked) ++n;
        }
    }

    function _outcome(string memory action, bool expected, bool succeeded) private {
        _outcome(action, expected, succeeded, "");
    }

    function _outcome(string memory action, bool expected, bool succeeded, bytes memory err) private {
        if (succeeded) ++successes[keccak256(bytes(action))];
        if (expected == succeeded) return;
        ++unexpected;
        if (bytes(firstUnexpected).length == 0) {
            firstUnexpected = string.concat(
                action, expected ? " reverted, revert data 0x" : " succeeded unexpectedly", _hex(err)
            );
        }
    }

    function _check(bool condition, string memory what) private {
        if (condition) return;
        ++unexpected;
        if (bytes(firstUnexpected).length == 0) firstUnexpected = what;
    }

    function _hex(bytes memory data) private pure returns (string memory) {
        bytes memory digits = "0123456789abcdef";
        uint256 n = data.length < 36 ? data.length : 36;
        bytes memory out = new bytes(2 * n);
        for (uint256 i; i < n; ++i) {
            out[2 * i] = digits[uint8(data[i]) >> 4];
            out[2 * i + 1] = digits[uint8(data[i]) & 0x0f];
        }
        return string(out);
    }

    function _bound(uint256 x, uint256 min, uint256 max) private pure returns (uint256) {
        if (x >= min && x <= max) return x;
        return min + x % (max - min + 1);
    }
}
