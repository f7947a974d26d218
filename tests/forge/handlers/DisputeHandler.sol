// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {VM} from "../Base.sol";
import {Attestia} from "../utils/Attestia.sol";
import {DisputeGame} from "../utils/DisputeGame.sol";
import {AttestiaHandler} from "./AttestiaHandler.sol";
import {InferenceRegistry} from "../../../contracts/InferenceRegistry.sol";
import {Slasher} from "../../../contracts/Slasher.sol";
import {IAttributionDisputes} from "../../../contracts/interfaces/IAttributionDisputes.sol";
import {IDisputeProofs} from "../../../contracts/interfaces/IDisputeProofs.sol";
import {IndexedMerkle} from "../../../contracts/libraries/IndexedMerkle.sol";
import {IRegistryViews} from "../../../contracts/interfaces/IRegistryViews.sol";
import {
    Share,
    Inference,
    Request,
    Split,
    Model,
    AttributionSpec,
    DataItem,
    TraceStep,
    PROOF_SIGNED,
    termsHashOf,
    findingCommitment,
    fraudEvidenceId
} from "../../../contracts/Common.sol";

/// @notice Drives the attribution-dispute game (issue 17) beside AttestiaHandler: records that
///         are honest or lie about their attribution (the handler signs them, so it knows
///         which), challenges, responses that are honest or lie (three kinds of lie: totals
///         that do not end the trace, a running-sums root that does not follow, values that do
///         not follow the recursion), the fraud proof of each lie (commit, a block, reveal),
///         false proofs against honest responses, and resolution after the deadlines.
///         Slashes and bond credits are reported to AttestiaHandler, which keeps the ghost
///         accounting of stakes and slasher balances. Calls that do not do what the model
///         predicts are counted in `unexpected` (an invariant requires 0).
/// @dev Dispute models charge no fee, so these records move no registry balances: the
///      registry invariants are unchanged, the slasher's now hold bonds as well.
contract DisputeHandler {
    using DisputeGame for *;

    enum Response {
        NONE,
        HONEST,
        LIE_END, // the trace is honest, the totals are not its end
        LIE_SUM, // the last step's sums root is the lying totals', not its sums'
        LIE_VALUE // values changed so the sums reach the lying totals
    }

    struct DisputeModel {
        bytes32 id;
        uint256 k;
        bytes items; // abi.encode(DataItem[])
    }

    struct Record {
        Inference inference;
        bytes input;
        bytes32 salt;
        bytes output;
        uint256 model;
        uint256 label;
        uint256[] features;
        bool honest;
        bool challenged;
        bytes totals; // abi.encode(int256[]): the totals its shares follow (honest or not)
        bytes shares; // abi.encode(Share[]): the record's attribution list
    }

    struct Game {
        uint256 record;
        Response response;
        bool slashed; // this dispute's resolution slashed (or found nothing left to slash)
    }

    AttestiaHandler public immutable main;
    InferenceRegistry public immutable registry;
    Slasher public immutable slasher;
    address public immutable requester;
    address public immutable modelOwner;

    /// @dev The main handler's roster (every model's), copied once.
    address[] private _roster;
    DisputeModel[] private _models;
    Record[] private _records;
    Game[] private _games;
    uint256[] private _unchallenged; // indexes into _records

    // ------------------------------------------------------------------ ghost and findings
    /// @notice Bonds of disputes not yet ended (OPEN or RESPONDED).
    uint256 public liveBonds;
    uint256 public unexpected;
    string public firstUnexpected;
    /// @notice Proofs that succeeded against an honest response (invariant: 0).
    uint256 public falseProofsAccepted;
    /// @notice Honest records answered honestly whose dispute slashed their worker (invariant: 0).
    uint256 public honestSlashed;
    mapping(bytes32 action => uint256) public successes;
    uint256 private _nonce;

    constructor(AttestiaHandler main_, InferenceRegistry registry_, Slasher slasher_) {
        main = main_;
        registry = registry_;
        slasher = slasher_;
        requester = VM.addr(0xD15E);
        modelOwner = VM.addr(0xD0E);
        address[] memory roster = main_.rosterList();
        _roster = roster;
        // Two datasets: 5 items with k = 3 and 3 items with k = 1; contributors cover at least
        // two roster slots, so a lying total always has a step to hide in.
        _addModel(roster, 5, 3, 0xA);
        _addModel(roster, 3, 1, 0xB);
    }

    function selectors() external pure returns (bytes4[] memory s) {
        s = new bytes4[](6);
        s[0] = this.record.selector;
        s[1] = this.challenge.selector;
        s[2] = this.respond.selector;
        s[3] = this.prove.selector;
        s[4] = this.resolve.selector;
        s[5] = this.descend.selector;
    }

    modifier step() {
        VM.warp(main.now_());
        _;
    }

    // ================================================================== actions

    /// @notice A disputable record by an active worker: honest, or with shares of lying totals.
    function record(uint256 workerSeed, uint256 modelSeed, uint256 inputSeed, bool honest) external step {
        _record(workerSeed, modelSeed, inputSeed, honest);
    }

    /// @notice A challenger commits to the record's request id under its input salt, waits a
    ///         block and challenges with the bond (`fresh`, or nothing to challenge: a new record
    ///         first). Must succeed iff the challenge window is open.
    function challenge(uint256 recordSeed, uint256 challengerSeed, bool fresh, bool honest) external step {
        _challenge(recordSeed, challengerSeed, fresh, honest);
    }

    function _challenge(uint256 recordSeed, uint256 challengerSeed, bool fresh, bool honest) private {
        if (fresh || _unchallenged.length == 0) {
            if (!_record(recordSeed, challengerSeed >> 8, recordSeed >> 8, honest)) return;
        }
        if (_unchallenged.length == 0) return;
        uint256 slot = recordSeed % _unchallenged.length;
        uint256 index = _unchallenged[slot];
        Record storage r = _records[index];
        address challenger = main.reporters(challengerSeed % 2);
        uint256 bond = slasher.disputeBond();
        AttributionSpec memory spec = _spec(r.model);
        bool expected = main.now_() <= uint256(r.inference.timestamp) + registry.challengeWindow();
        VM.prank(challenger);
        slasher.commitFinding(findingCommitment(challenger, r.inference.requestId, r.salt));
        VM.roll(block.number + 1);
        VM.deal(challenger, challenger.balance + bond);
        Inference memory inference = r.inference;
        VM.prank(challenger);
        try slasher.challenge{value: bond}(inference, r.input, r.salt, r.output, spec) {
            _outcome("challenge", expected, true, "");
            liveBonds += bond;
            _games.push(Game(index, Response.NONE, false));
        } catch (bytes memory err) {
            _outcome("challenge", expected, false, err);
        }
        // Challenged or expired: either way it leaves the queue.
        r.challenged = true;
        _unchallenged[slot] = _unchallenged[_unchallenged.length - 1];
        _unchallenged.pop();
    }

    /// @notice The worker (or its operator) responds: honestly (only possible when the record
    ///         is honest) or with one of the lies. Must succeed iff OPEN and before the deadline.
    ///         With no dispute open in time, 7 in 8 seeds first challenge a fresh record (honest
    ///         or not from `mode`'s top bit), so most sequences play whole games.
    function respond(uint256 gameSeed, uint8 mode, bool byOperator) external step {
        if ((gameSeed >> 8) % 8 != 0 && !_anyLive(IAttributionDisputes.DisputeState.OPEN)) {
            _challenge(gameSeed, gameSeed >> 16, true, mode < 0x80);
        }
        if (_games.length == 0) return;
        _respond(_pickGame(gameSeed, IAttributionDisputes.DisputeState.OPEN, IAttributionDisputes.DisputeState.OPEN, true), mode, byOperator);
    }

    function _respond(Game storage g, uint8 mode, bool byOperator) private {
        Record storage r = _records[g.record];
        IAttributionDisputes.Dispute memory d = slasher.getDispute(r.inference.requestId);
        Response response = Response(1 + mode % 4);
        if (response == Response.HONEST && !r.honest) response = Response.LIE_END;
        (TraceStep[] memory steps, int256[] memory totals) = _responseTrace(r, response);
        address[] memory roster = _roster;
        Share[] memory list = _recordShares(r);
        bool expected = d.state == IAttributionDisputes.DisputeState.OPEN && main.now_() <= d.deadline;
        address caller = byOperator ? IRegistryViews(address(registry)).getWorker(r.inference.worker).operator : r.inference.worker;
        bytes32 root = DisputeGame.traceRoot(steps);
        VM.prank(caller);
        try slasher.respond(r.inference.requestId, root, "ipfs://trace", totals, roster, list) {
            _outcome("respond", expected, true, "");
            g.response = response;
        } catch (bytes memory err) {
            _outcome("respond", expected, false, err);
        }
    }

    /// @notice A prover proves the response's lie (or, against an honest response, tries a
    ///         false proof of a kind and position from `pick`, which must fail). Commit, a
    ///         block, reveal. A lie must be provable until the deadline.
    ///         With no response to prove in time, 7 in 8 seeds first play the game up to one
    ///         (a fresh challenge if none is open, then a response of the kind `pick` names).
    function prove(uint256 gameSeed, uint256 proverSeed, uint256 pick) external step {
        IAttributionDisputes.DisputeState responded = IAttributionDisputes.DisputeState.RESPONDED;
        IAttributionDisputes.DisputeState open = IAttributionDisputes.DisputeState.OPEN;
        if ((gameSeed >> 8) % 8 != 0 && !_anyLive(responded)) {
            if (!_anyLive(open)) _challenge(gameSeed, gameSeed >> 16, true, (pick >> 32) % 2 == 0);
            if (_anyLive(open)) _respond(_pickGame(gameSeed, open, open, true), uint8(pick >> 24), (proverSeed >> 8) % 2 == 0);
        }
        if (_games.length == 0) return;
        _prove(_pickGame(gameSeed, responded, responded, true), proverSeed, pick);
    }

    function _prove(Game storage g, uint256 proverSeed, uint256 pick) private {
        if (g.response == Response.NONE) return;
        Record storage r = _records[g.record];
        IAttributionDisputes.Dispute memory d = slasher.getDispute(r.inference.requestId);
        address prover = main.reporters(proverSeed % 2);
        bool live = d.state == IAttributionDisputes.DisputeState.RESPONDED && main.now_() <= d.deadline;
        (bool ok, bytes memory err, uint256 moved) = _sendProof(r, g.response, prover, pick);
        if (g.response == Response.HONEST) {
            if (ok) ++falseProofsAccepted;
            _outcome("falseProof", false, ok, err);
            // While the dispute is live, refused as no fraud: the proof itself was well formed
            // (its openings and proofs valid), so the honest trace is what kept it out.
            if (live && !ok && bytes4(err) != IAttributionDisputes.NotFraud.selector) {
                _outcome("falseProofRefusedAsNotFraud", true, false, err);
            }
            return;
        }
        _outcome("proveLie", live, ok, err);
        if (!ok) return;
        liveBonds -= d.bond;
        main.noteBondCredit(d.challenger, d.bond);
        _slashed(g, r, prover, moved);
    }

    /// @dev Commit, a block, reveal; `moved`: the stake that reached the slasher.
    function _sendProof(Record storage r, Response response, address prover, uint256 pick)
        private
        returns (bool ok, bytes memory err, uint256 moved)
    {
        bytes32 salt = keccak256(abi.encode("prove", ++_nonce));
        (bytes memory call, uint8 kind, uint256 position) = _proofCall(r, response, pick, salt);
        VM.prank(prover);
        slasher.commitFinding(findingCommitment(prover, fraudEvidenceId(r.inference.requestId, kind, position), salt));
        VM.roll(block.number + 1);
        uint256 before = address(slasher).balance;
        VM.prank(prover);
        (ok, err) = address(slasher).call(call);
        moved = address(slasher).balance - before;
    }

    /// @notice A challenger that cannot read the trace plays a whole descent (issue 17, attack
    ///         1): it posts the bond; the responder side reveals the leaves (anyone may: here
    ///         the model owner, not the worker); the challenger picks the last leaf that
    ///         differs from the honest trace (any leaf when none does); the step is revealed.
    ///         A lie there is proven (commit, a block, reveal) and slashes, the descent's bond
    ///         back; otherwise the challenger cannot prove anything, its clock runs out and
    ///         the descent is settled: its bond to the worker's operator. Must open iff the
    ///         dispute is RESPONDED within a window of its response.
    function descend(uint256 gameSeed, uint256 challengerSeed, uint256 pick) external step {
        if (_games.length == 0) return;
        IAttributionDisputes.DisputeState responded = IAttributionDisputes.DisputeState.RESPONDED;
        Game storage g = _pickGame(gameSeed, responded, responded, true);
        if (g.response == Response.NONE) return;
        Record storage r = _records[g.record];
        bytes32 rid = r.inference.requestId;
        IAttributionDisputes.Dispute memory d = slasher.getDispute(rid);
        address challenger = main.reporters(challengerSeed % 2);
        uint256 bond = slasher.disputeBond();
        bool expected = d.state == responded
            && main.now_() + 2 * uint256(slasher.responseWindow()) <= d.deadline
            && !slasher.getDescent(rid, challenger).open;
        VM.deal(challenger, challenger.balance + bond);
        VM.prank(challenger);
        try IDisputeProofs(address(slasher)).descend{value: bond}(rid) {
            _outcome("descend", expected, true, "");
        } catch (bytes memory err) {
            _outcome("descend", expected, false, err);
            return;
        }
        liveBonds += bond;
        (uint256 j, bool lie, bytes32[] memory leaves, TraceStep memory leaf) = _descentEnd(r, g.response, pick);
        VM.prank(modelOwner);
        IDisputeProofs(address(slasher)).revealNodes(rid, challenger, leaves);
        VM.prank(challenger);
        IDisputeProofs(address(slasher)).pick(rid, leaves, j);
        VM.prank(modelOwner);
        IDisputeProofs(address(slasher)).revealStep(rid, challenger, leaf);
        if (lie) {
            (bool ok, bytes memory err, uint256 moved) = _sendProof(r, g.response, challenger, 0);
            _outcome("descentLie", true, ok, err);
            if (!ok) return;
            liveBonds -= d.bond + bond;
            main.noteBondCredit(d.challenger, d.bond);
            main.noteBondCredit(challenger, bond);
            _slashed(g, r, challenger, moved);
            return;
        }
        main.advanceTo(uint256(slasher.getDescent(rid, challenger).deadline) + 1);
        VM.warp(main.now_());
        try IDisputeProofs(address(slasher)).settleDescent(rid, challenger) {
            _outcome("descentHonest", true, true, "");
            liveBonds -= bond;
            main.noteBondCredit(IRegistryViews(address(registry)).getWorker(d.worker).operator, bond);
        } catch (bytes memory err) {
            _outcome("descentHonest", true, false, err);
        }
    }

    /// @dev Where the descent ends: the last leaf where the response's tree differs from the
    ///      honest one (`lie`), else a leaf from `pick`; the response's leaves (padded) and
    ///      the step there.
    function _descentEnd(Record storage r, Response response, uint256 pick)
        private
        view
        returns (uint256 j, bool lie, bytes32[] memory leaves, TraceStep memory leaf)
    {
        (TraceStep[] memory steps,) = _responseTrace(r, response);
        (TraceStep[] memory honestSteps,,) = _honest(r);
        uint256 n = steps.length;
        leaves = new bytes32[](uint256(1) << IndexedMerkle.depthOf(n));
        bytes32[] memory mine = DisputeGame.traceLeaves(steps);
        bytes32[] memory honest = DisputeGame.traceLeaves(honestSteps);
        j = pick % n;
        for (uint256 i; i < n; ++i) {
            leaves[i] = mine[i];
            if (mine[i] != honest[i]) (j, lie) = (i, true);
        }
        leaf = steps[j];
    }

    /// @notice Anyone resolves after the deadline (`wait`: first move the clock past it): no
    ///         response slashes the worker and returns the bond; a response nobody proved
    ///         wrong pays the bond to the worker's operator.
    function resolve(uint256 gameSeed, bool wait) external step {
        if (_games.length == 0) return;
        Game storage g = _pickGame(gameSeed, IAttributionDisputes.DisputeState.OPEN, IAttributionDisputes.DisputeState.RESPONDED, false);
        Record storage r = _records[g.record];
        IAttributionDisputes.Dispute memory d = slasher.getDispute(r.inference.requestId);
        if (wait && main.now_() <= d.deadline) main.advanceTo(uint256(d.deadline) + 1);
        bool live = d.state == IAttributionDisputes.DisputeState.OPEN
            || d.state == IAttributionDisputes.DisputeState.RESPONDED;
        bool expected = live && main.now_() > d.deadline;
        uint256 before = address(slasher).balance;
        try slasher.resolve(r.inference.requestId) {
            _outcome("resolve", expected, true, "");
            liveBonds -= d.bond;
            if (d.state == IAttributionDisputes.DisputeState.OPEN) {
                main.noteBondCredit(d.challenger, d.bond);
                _slashed(g, r, d.challenger, address(slasher).balance - before);
            } else {
                main.noteBondCredit(IRegistryViews(address(registry)).getWorker(d.worker).operator, d.bond);
            }
        } catch (bytes memory err) {
            _outcome("resolve", expected, false, err);
        }
    }

    // ================================================================== views for invariants

    struct GameView {
        bytes32 requestId;
        address worker;
        bool honestRecord;
        Response response;
    }

    function games() external view returns (GameView[] memory out) {
        out = new GameView[](_games.length);
        for (uint256 i; i < _games.length; ++i) {
            Record storage r = _records[_games[i].record];
            out[i] = GameView(r.inference.requestId, r.inference.worker, r.honest, _games[i].response);
        }
    }

    function successCount(string calldata action) external view returns (uint256) {
        return successes[keccak256(bytes(action))];
    }

    // ================================================================== internals

    /// @dev The first game from `seed % games` whose dispute is in state `a` or `b` (and
    ///      `inTime`: before its deadline), if any; 1 in 8 seeds (and no such game) the game at
    ///      `seed % games` whatever its state, so calls in the wrong state or too late are made
    ///      too (and must fail).
    function _pickGame(uint256 seed, IAttributionDisputes.DisputeState a, IAttributionDisputes.DisputeState b, bool inTime)
        private
        view
        returns (Game storage)
    {
        uint256 count = _games.length;
        uint256 start = seed % count;
        if ((seed >> 8) % 8 != 0) {
            for (uint256 i; i < count; ++i) {
                Game storage g = _games[(start + i) % count];
                IAttributionDisputes.Dispute memory d = slasher.getDispute(_records[g.record].inference.requestId);
                if ((d.state == a || d.state == b) && (!inTime || main.now_() <= d.deadline)) return g;
            }
        }
        return _games[start];
    }

    /// @dev Whether some dispute is in `state` before its deadline.
    function _anyLive(IAttributionDisputes.DisputeState state) private view returns (bool) {
        for (uint256 i; i < _games.length; ++i) {
            IAttributionDisputes.Dispute memory d = slasher.getDispute(_records[_games[i].record].inference.requestId);
            if (d.state == state && main.now_() <= d.deadline) return true;
        }
        return false;
    }

    function _addModel(address[] memory roster, uint256 n, uint256 k, uint256 seed) private {
        DataItem[] memory items = new DataItem[](n);
        for (uint256 i; i < n; ++i) {
            int256[] memory features = new int256[](DisputeGame.FEATURES);
            for (uint256 j; j < DisputeGame.FEATURES; ++j) {
                features[j] = int256(uint256(keccak256(abi.encode(seed, i, j))) % 8);
            }
            items[i] = DataItem(i, roster[(i + seed) % roster.length], uint256(keccak256(abi.encode(seed, i))) % 2, features);
        }
        AttributionSpec memory spec = DisputeGame.spec(items, k);
        VM.prank(modelOwner);
        bytes32 id = registry.registerModel(
            keccak256(abi.encode("dispute model", seed)),
            "ipfs://dispute-model",
            keccak256(abi.encode(spec)),
            roster,
            uint8(1 << PROOF_SIGNED),
            0,
            Split(1_000, 1_000, 8_000)
        );
        _models.push(DisputeModel(id, k, abi.encode(items)));
    }

    function _items(uint256 model) private view returns (DataItem[] memory) {
        return abi.decode(_models[model].items, (DataItem[]));
    }

    function _spec(uint256 model) private view returns (AttributionSpec memory) {
        return DisputeGame.spec(_items(model), _models[model].k);
    }

    /// @dev Requests (no fee) and records as an active worker; false when none is active.
    function _record(uint256 workerSeed, uint256 modelSeed, uint256 inputSeed, bool honest) private returns (bool) {
        (bool found, address signer) = _activeWorker(workerSeed);
        if (!found) return false;
        Record storage r = _records.push();
        r.model = modelSeed % _models.length;
        r.honest = honest;
        r.features = new uint256[](DisputeGame.FEATURES);
        for (uint256 j; j < DisputeGame.FEATURES; ++j) r.features[j] = uint256(keccak256(abi.encode(inputSeed, j))) % 8;
        r.label = (inputSeed >> 128) % 2;
        r.input = DisputeGame.tensor(r.features);
        r.output = DisputeGame.logits(r.label);
        r.salt = keccak256(abi.encode("input salt", ++_nonce));
        bytes32 commitment = DisputeGame.inputCommitment(r.salt, r.input);
        bytes32 modelId = _models[r.model].id;
        Model memory terms = IRegistryViews(address(registry)).getModel(modelId);
        VM.prank(requester);
        registry.requestInference(
            modelId,
            signer,
            commitment,
            bytes32(0),
            termsHashOf(0, terms.policy, terms.workerBps, terms.ownerBps, terms.verifier),
            hex"c0ffee"
        );
        Request memory request = Request(
            requester, modelId, signer, 0, uint64(main.now_()), commitment, bytes32(0), terms.workerBps,
            terms.ownerBps, terms.policy, terms.verifier
        );
        (TraceStep[] memory steps, int256[] memory totals,) = _honest(r);
        if (!honest) totals = _lie(steps, totals);
        Share[] memory list = DisputeGame.shares(totals, _roster);
        r.totals = abi.encode(totals);
        r.shares = abi.encode(list);
        Inference memory inference = Attestia.signedRecord(
            request, signer, DisputeGame.outputCommitment(r.salt, r.output), list, uint64(main.now_())
        );
        address[] memory roster = _roster;
        VM.prank(signer);
        try registry.fulfill(request, inference, list, roster, Attestia.SEALED) {
            _outcome("disputableRecord", true, true, "");
        } catch (bytes memory err) {
            _outcome("disputableRecord", true, false, err);
            _records.pop();
            return false;
        }
        r.inference = inference;
        _unchallenged.push(_records.length - 1);
        return true;
    }

    function _activeWorker(uint256 seed) private view returns (bool, address) {
        for (uint256 i; i < 5; ++i) {
            (, address signer,, bool registered, uint256 unbondingAt, bool revoked,,) = main.workers((seed % 5 + i) % 5);
            if (registered && unbondingAt == 0 && !revoked) return (true, signer);
        }
        return (false, address(0));
    }

    function _honest(Record storage r)
        private
        view
        returns (TraceStep[] memory steps, int256[] memory totals, DataItem[] memory items)
    {
        items = _items(r.model);
        (steps, totals) = DisputeGame.honestTrace(
            items, _roster, DisputeGame.query(r.features), r.label, _models[r.model].k
        );
    }

    function _recordShares(Record storage r) private view returns (Share[] memory) {
        return abi.decode(r.shares, (Share[]));
    }

    /// @dev The totals a lying record's shares follow: a single contributor with a step of its
    ///      own, whose sole share the honest totals do not give.
    function _lie(TraceStep[] memory steps, int256[] memory totals) private view returns (int256[] memory lie) {
        address[] memory roster = _roster;
        Share[] memory honestShares = DisputeGame.shares(totals, roster);
        lie = new int256[](roster.length);
        for (uint256 p; p < steps.length; ++p) {
            lie[steps[p].slot] = 1;
            if (!DisputeGame.sameShares(DisputeGame.shares(lie, roster), honestShares)) return lie;
            lie[steps[p].slot] = 0;
        }
        revert("no lie found");
    }

    /// @dev Totals other than the honest ones with the same shares (a lie about an honest
    ///      record): one more below zero at a contributor with a step and a total <= 0 (clipped
    ///      anyway), else every total doubled.
    function _sameSharesTotals(TraceStep[] memory steps, int256[] memory totals) private pure returns (int256[] memory lie) {
        lie = new int256[](totals.length);
        for (uint256 i; i < totals.length; ++i) lie[i] = totals[i];
        for (uint256 p; p < steps.length; ++p) {
            if (totals[steps[p].slot] <= 0) {
                lie[steps[p].slot] -= 1;
                return lie;
            }
        }
        for (uint256 i; i < totals.length; ++i) lie[i] = 2 * totals[i];
    }

    /// @dev The trace and totals of a response.
    function _responseTrace(Record storage r, Response response)
        private
        view
        returns (TraceStep[] memory steps, int256[] memory totals)
    {
        int256[] memory honestTotals;
        (steps, honestTotals,) = _honest(r);
        if (response == Response.HONEST) return (steps, honestTotals);
        totals = r.honest ? _sameSharesTotals(steps, honestTotals) : abi.decode(r.totals, (int256[]));
        if (response == Response.LIE_SUM) {
            steps[0].sumsRoot = DisputeGame.sumsRoot(_roster, totals); // suffix sums: the first
        } else if (response == Response.LIE_VALUE) {
            // Each contributor's difference goes into the value of its last step.
            for (uint256 slot; slot < totals.length; ++slot) {
                int256 diff = totals[slot] - honestTotals[slot];
                if (diff == 0) continue;
                for (uint256 p = steps.length; p > 0; --p) {
                    if (steps[p - 1].slot == slot) {
                        steps[p - 1].value += diff;
                        break;
                    }
                }
            }
            DisputeGame.recomputeSums(steps, _roster);
        }
    }

    /// @dev The proof call, its fraud kind and position.
    function _proofCall(Record storage r, Response response, uint256 pick, bytes32 salt)
        private
        view
        returns (bytes memory call, uint8 kind, uint256 position)
    {
        (TraceStep[] memory steps,) = _responseTrace(r, response);
        uint256 n = steps.length;
        bytes32 requestId = r.inference.requestId;
        if (response == Response.LIE_END) return _proveEnd(requestId, steps, salt);
        if (response == Response.LIE_SUM) return _proveSum(r, steps, 0, salt);
        if (response == Response.LIE_VALUE) {
            (TraceStep[] memory honestSteps,,) = _honest(r);
            position = n;
            for (uint256 p = n; p > 0; --p) {
                if (steps[p - 1].value != honestSteps[p - 1].value) {
                    position = p - 1;
                    break;
                }
            }
            return _proveValue(requestId, steps, position, salt);
        }
        // An honest response: any proof must fail.
        position = (pick >> 8) % n;
        uint256 which = pick % 6;
        if (which == 0) return _proveEnd(requestId, steps, salt);
        if (which == 1) return _proveSum(r, steps, position, salt);
        if (which == 2) return _proveValue(requestId, steps, position, salt);
        if (which == 3) {
            if (position + 1 == n) position = n > 1 ? n - 2 : 0;
            IAttributionDisputes.StepOpening memory next = DisputeGame.opening(steps, position + 1 < n ? position + 1 : position);
            call = abi.encodeCall(IDisputeProofs.proveOrder, (requestId, DisputeGame.opening(steps, position), next, salt));
            return (call, uint8(IAttributionDisputes.FraudKind.ORDER), position);
        }
        if (which == 4) return _proveItem(r, steps, position, salt);
        uint256 other = (position + 1 + (pick >> 16) % (n > 1 ? n - 1 : 1)) % n;
        call = abi.encodeCall(
            IDisputeProofs.proveDuplicate,
            (requestId, DisputeGame.opening(steps, position), DisputeGame.opening(steps, other), salt)
        );
        return (call, uint8(IAttributionDisputes.FraudKind.DUPLICATE), position);
    }

    function _proveItem(Record storage r, TraceStep[] memory steps, uint256 position, bytes32 salt)
        private
        view
        returns (bytes memory call, uint8 kind, uint256 position_)
    {
        DataItem[] memory items = _items(r.model);
        uint256 item = steps[position].item;
        call = abi.encodeCall(
            IDisputeProofs.proveItem,
            (
                r.inference.requestId,
                DisputeGame.opening(steps, position),
                items[item],
                DisputeGame.proof(DisputeGame.itemLeaves(items), item),
                DisputeGame.query(r.features),
                salt
            )
        );
        return (call, uint8(IAttributionDisputes.FraudKind.ITEM), position);
    }

    function _proveEnd(bytes32 requestId, TraceStep[] memory steps, bytes32 salt)
        private
        pure
        returns (bytes memory call, uint8 kind, uint256 position)
    {
        position = 0; // suffix sums: the first step's root holds the totals
        call = abi.encodeCall(IDisputeProofs.proveEnd, (requestId, DisputeGame.opening(steps, position), salt));
        kind = uint8(IAttributionDisputes.FraudKind.END);
    }

    function _proveValue(bytes32 requestId, TraceStep[] memory steps, uint256 position, bytes32 salt)
        private
        pure
        returns (bytes memory call, uint8 kind, uint256 position_)
    {
        uint256 next = position + 1 < steps.length ? position + 1 : position;
        call = abi.encodeCall(
            IDisputeProofs.proveValue,
            (requestId, DisputeGame.opening(steps, position), DisputeGame.opening(steps, next), salt)
        );
        return (call, uint8(IAttributionDisputes.FraudKind.VALUE), position);
    }

    /// @dev SUM at `position`: the step's contributor's sum over the positions after it, proven
    ///      in the next step's sums root (the zero root at the last position; suffix sums).
    function _proveSum(Record storage r, TraceStep[] memory steps, uint256 position, bytes32 salt)
        private
        view
        returns (bytes memory call, uint8 kind, uint256 position_)
    {
        SumProof memory p = _sumProof(steps, position);
        call = abi.encodeCall(
            IDisputeProofs.proveSum,
            (r.inference.requestId, p.opened, p.previous, p.account, p.sum, p.proof, salt)
        );
        return (call, uint8(IAttributionDisputes.FraudKind.SUM), position);
    }

    struct SumProof {
        IAttributionDisputes.StepOpening opened;
        IAttributionDisputes.StepOpening previous;
        address account;
        int256 sum;
        bytes32[] proof;
    }

    function _sumProof(TraceStep[] memory steps, uint256 position) private view returns (SumProof memory p) {
        address[] memory roster = _roster;
        TraceStep memory s = steps[position];
        int256[] memory before = DisputeGame.sumsBefore(steps, roster.length, position);
        p.opened = DisputeGame.opening(steps, position);
        p.previous = DisputeGame.opening(steps, position + 1 < steps.length ? position + 1 : position);
        p.account = s.contributor;
        p.sum = before[s.slot];
        p.proof = DisputeGame.proof(DisputeGame.sumsLeaves(roster, before), s.slot);
    }

    /// @dev A dispute ended against the worker: the main handler checks and books the slash.
    /// @dev A dispute ended against the worker; `amount` is the stake that reached the slasher
    ///      (the main handler checks it against its model and books it).
    function _slashed(Game storage g, Record storage r, address reporter, uint256 amount) private {
        g.slashed = true;
        if (r.honest && g.response == Response.HONEST) ++honestSlashed;
        main.noteDisputeSlash(r.inference.worker, reporter, amount);
    }

    function _outcome(string memory action, bool expected, bool succeeded, bytes memory err) private {
        if (succeeded) ++successes[keccak256(bytes(action))];
        if (expected == succeeded) return;
        ++unexpected;
        if (bytes(firstUnexpected).length == 0) {
            firstUnexpected = string.concat(action, expected ? " reverted" : " succeeded unexpectedly", _hex(err));
        }
    }

    function _hex(bytes memory data) private pure returns (string memory) {
        bytes memory digits = "0123456789abcdef";
        uint256 n = data.length < 36 ? data.length : 36;
        bytes memory out = new bytes(2 * n + 3);
        (out[0], out[1], out[2]) = (" ", "0", "x");
        for (uint256 i; i < n; ++i) {
            out[3 + 2 * i] = digits[uint8(data[i]) >> 4];
            out[4 + 2 * i] = digits[uint8(data[i]) & 0x0f];
        }
        return string(out);
    }
}
