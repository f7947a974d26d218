// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Inference, Share, AttributionSpec, DataItem, TraceStep} from "../Common.sol";

/// @title IAttributionDisputes
/// @notice Anyone holding a record's input can dispute its attribution list; the worker must
///         then commit to its whole integer KNN-Shapley computation (a trace root and the
///         contributor totals the recorded basis points follow from), and anyone can prove one
///         wrong step: from the published trace, or, if it is withheld, at the end of a descent
///         into the committed tree (IDisputeProofs: the responder side reveals, the challenger
///         picks, each on a chess clock). Proven fraud or no response: the worker's stake is slashed (Slasher's
///         second trigger) and the record's contributor share is re-attributed by the equal
///         split over the model's roster. design.md "Disputes" states the rules.
/// @dev Lives in the Slasher (the registry's set-once slashing hook). Every balance is a pull
///      payment (ISlasher.withdraw).
interface IAttributionDisputes {
    /// @notice Where a record's dispute stands. NONE: never challenged. OPEN: waiting for the
    ///         worker's response. RESPONDED: waiting for a fraud proof. FRAUD, NO_RESPONSE:
    ///         the worker lost. WORKER_WON: no fraud proven in time.
    enum DisputeState {
        NONE,
        OPEN,
        RESPONDED,
        FRAUD,
        NO_RESPONSE,
        WORKER_WON
    }

    /// @notice Which one-step check proved the fraud (design.md "Disputes").
    enum FraudKind {
        NONE,
        ITEM,
        ORDER,
        VALUE,
        SUM,
        END,
        DUPLICATE,
        NO_RESPONSE,
        SKIP,
        PADDING,
        NO_REVEAL
    }

    /// @notice One record's dispute.
    /// @param challenger Who opened it and posted the bond.
    /// @param state Where it stands.
    /// @param kind The fraud proven (NONE otherwise).
    /// @param deadline Respond by (OPEN) or prove fraud by (RESPONDED); unix seconds.
    /// @param worker The record's worker key.
    /// @param bond The challenger's bond, in wei.
    /// @param modelId The record's model.
    /// @param attributionHash The record's attribution list hash.
    /// @param queryHash keccak256(abi.encode(int256[] query)) of the quantised input.
    /// @param itemsRoot The model's roster-items root (from its attribution spec).
    /// @param n Roster items N.
    /// @param k The K of the KNN utility.
    /// @param label The label the record's committed output states.
    /// @param contributors The roster size C (set by the response).
    /// @param traceRoot The worker's trace root (set by the response).
    /// @param zeroRoot The running-sums root with every sum 0 (set by the response).
    /// @param finalRoot The running-sums root of the worker's totals (set by the response).
    /// @param defender A third party that responded for the worker with a bond (0: the worker's
    ///        own response, or none yet).
    /// @param round 0; 1 once a third party's response was proven wrong and the dispute
    ///        reopened for the worker alone.
    /// @param descents Descents of this round not settled yet.
    struct Dispute {
        address challenger;
        DisputeState state;
        FraudKind kind;
        uint64 deadline;
        address worker;
        uint96 bond;
        bytes32 modelId;
        bytes32 attributionHash;
        bytes32 queryHash;
        bytes32 itemsRoot;
        uint64 n;
        uint64 k;
        uint64 label;
        uint64 contributors;
        bytes32 traceRoot;
        bytes32 zeroRoot;
        bytes32 finalRoot;
        address defender;
        uint8 round;
        uint32 descents;
    }

    /// @notice One challenger's descent into the worker's trace tree (design.md "The descent").
    /// @param node The current node of the worker's tree.
    /// @param index The node's index at its height (the leaf's position at height 0).
    /// @param height Levels above the leaves (the tree's depth at the root).
    /// @param challengerTurn The node's nodes below (or, at a leaf, its step) were revealed:
    ///        the challenger picks (or proves); otherwise the responder side reveals.
    /// @param open Not settled yet.
    /// @param round The dispute round it plays against (a reopened dispute voids it).
    /// @param deadline The side to move must move by this (its chess clock runs out).
    /// @param otherClock Seconds left on the waiting side's clock.
    struct Descent {
        bytes32 node;
        uint64 index;
        uint8 height;
        bool challengerTurn;
        bool open;
        uint8 round;
        uint64 deadline;
        uint64 otherClock;
    }

    /// @notice A trace step with its position and its proof in the trace root.
    /// @param position The step's position (its rank minus one).
    /// @param step The step.
    /// @param proof The siblings from the leaf up (indexed Merkle proof).
    struct StepOpening {
        uint256 position;
        TraceStep step;
        bytes32[] proof;
    }

    /// @notice A record's attribution was challenged; its input is now public.
    /// @param requestId The record's request id.
    /// @param worker The record's worker key.
    /// @param challenger Who posted the bond.
    /// @param bond Wei.
    /// @param label The label the committed output states.
    /// @param query The quantised input the attribution is recomputed from.
    /// @param respondBy The worker must respond by this time.
    event DisputeOpened(
        bytes32 indexed requestId,
        address indexed worker,
        address indexed challenger,
        uint256 bond,
        uint256 label,
        int256[] query,
        uint64 respondBy
    );

    /// @notice A batch leaf was challenged (DisputeOpened follows, under disputeId).
    /// @param disputeId toLeafDisputeId(batchId, leafHash): the id every later call of the
    ///        game takes in place of a request id.
    /// @param batchId The leaf's committed batch.
    /// @param leafHash The leaf's StandardMerkleTree hash (Common.batchLeafHash).
    event LeafChallenged(bytes32 indexed disputeId, bytes32 indexed batchId, bytes32 leafHash);

    /// @notice The worker committed to its computation.
    /// @param requestId The record's request id.
    /// @param traceRoot Indexed Merkle root over the N trace steps.
    /// @param traceURI Where the trace is published (file, http(s), ipfs).
    /// @param totals The contributor totals (roster order) the recorded bps follow from.
    /// @param proveBy Fraud can be proven until this time.
    event DisputeResponded(
        bytes32 indexed requestId, bytes32 traceRoot, string traceURI, int256[] totals, uint64 proveBy
    );

    /// @notice A dispute ended. FRAUD and NO_RESPONSE: the stake was slashed (slashed wei; 0 if
    ///         the worker had already been slashed) and the record's contributor share is
    ///         re-attributed by the equal split over the roster. WORKER_WON: the record stands
    ///         and the bond went to the worker's operator.
    /// @param requestId The record's request id.
    /// @param outcome FRAUD, NO_RESPONSE or WORKER_WON.
    /// @param kind The fraud proven (NO_RESPONSE for a missed response; NONE if the worker won).
    /// @param position The trace position the proof pointed at (0 when not applicable).
    /// @param by Who proved the fraud or called resolve.
    /// @param slashed Wei slashed.
    event DisputeResolved(
        bytes32 indexed requestId,
        DisputeState outcome,
        FraudKind kind,
        uint256 position,
        address by,
        uint256 slashed
    );

    /// @notice A challenger opened a descent (posting disputeBond): the responder side reveals.
    event DescentOpened(bytes32 indexed requestId, address indexed challenger, uint64 revealBy);

    /// @notice The responder side revealed the nodes below a descent's node (left to right).
    /// @param index The node's index at its height before the reveal.
    /// @param height Its height.
    event NodesRevealed(
        bytes32 indexed requestId, address indexed challenger, uint256 index, uint256 height,
        bytes32[] nodes
    );

    /// @notice The responder side revealed the trace step of the leaf a descent reached.
    event StepRevealed(
        bytes32 indexed requestId, address indexed challenger, uint256 position, TraceStep step
    );

    /// @notice A descent ended. challengerLost: its clock ran out (bond to the worker's
    ///         operator); otherwise its bond went back to the challenger.
    event DescentSettled(bytes32 indexed requestId, address indexed challenger, bool challengerLost);

    /// @notice A third party's response was proven wrong: its bond went to `by` and the
    ///         dispute is OPEN again for the worker (or its operator) alone, until respondBy.
    event DisputeReopened(
        bytes32 indexed requestId, address defender, FraudKind kind, address by, uint64 respondBy
    );

    /// @notice A finder committed to evidence it will reveal (commitFinding).
    /// @param commitment findingCommitment(finder, evidenceId, salt).
    /// @param sender Who sent it (not necessarily the finder).
    event FindingCommitted(bytes32 indexed commitment, address indexed sender);

    /// @notice msg.sender has no commitment to this evidence with this salt (a copy of another
    ///         finder's call, or a call without its commitFinding).
    error FindingNotCommitted(bytes32 commitment);
    /// @notice The commitment was made in this block: the reveal must come in a later one.
    error RevealTooEarly(uint256 committedAt);

    /// @notice The record is not the one the registry holds for its request (a batch leaf is
    ///         challenged with challengeLeaf).
    error RecordNotFound(bytes32 requestId);
    /// @notice No batch with this id is committed on the registry.
    error BatchNotFound(bytes32 batchId);
    /// @notice The leaf and its proof do not rebuild the root of batch `batchId` (a wrong
    ///         proof, or a leaf of another batch, model or worker).
    error LeafNotInBatch(bytes32 batchId);
    /// @notice The record already has a dispute.
    error DisputeExists(bytes32 requestId);
    /// @notice The dispute is not in the state this call needs.
    error WrongDisputeState(bytes32 requestId, DisputeState state);
    /// @notice The challenge window (a single record's timestamp, or a batch's commit time,
    ///         + challengeWindow) has closed.
    error ChallengeWindowClosed(uint64 closedAt);
    /// @notice The response or proof deadline has passed.
    error DeadlinePassed(uint64 deadline);
    /// @notice The response or proof deadline has not passed yet.
    error DeadlineNotReached(uint64 deadline);
    /// @notice msg.value is not the dispute bond.
    error IncorrectBond(uint256 expected, uint256 paid);
    /// @notice The revealed input and salt do not open the record's input commitment.
    error InputMismatch();
    /// @notice The revealed output does not open the record's output commitment.
    error OutputMismatch();
    /// @notice keccak256(abi.encode(spec)) is not the model's registered dataRoot.
    error SpecMismatch(bytes32 expected, bytes32 actual);
    /// @notice The response's roster is not the model's registered roster.
    error RosterMismatch();
    /// @notice The response's totals are not one per roster contributor.
    error TotalsLengthMismatch(uint256 expected, uint256 actual);
    /// @notice The shares are not the record's attribution list.
    error SharesMismatch();
    /// @notice The record's attribution list does not follow from the response's totals.
    error BpsDoNotFollow();
    /// @notice A trace step is not at the given position of the trace root.
    error InvalidStepProof(uint256 position);
    /// @notice A roster item is not at its index of the model's items root.
    error InvalidItemProof(uint256 index);
    /// @notice A running-sums leaf is not at the slot of the previous sums root.
    error InvalidSumsProof(uint256 slot);
    /// @notice The query does not match the dispute's quantised input.
    error QueryMismatch();
    /// @notice A position is outside the trace, or two positions are not as the proof needs.
    error BadPosition(uint256 position);
    /// @notice The checked step is correct: no fraud.
    error NotFraud();
    /// @notice The caller has an open descent in this round already.
    error DescentExists(address challenger);
    /// @notice Descents of this round are still open: settle them first (settleDescent).
    error DescentsOpen(uint256 count);
    /// @notice No open descent of this challenger in the dispute's round.
    error NoDescent(address challenger);
    /// @notice It is the other side's turn in the descent, or the descent is at its leaf.
    error NotYourTurn();
    /// @notice The revealed nodes do not hash to the descent's node (or are not 2^bits).
    error BadReveal();
    /// @notice A third party may respond only once per dispute, with disputeBond.
    error ThirdPartyResponse();

    /// @notice Records a finder's commitment (Common.findingCommitment: keccak256(abi.encode(
    ///         finder, evidenceId, salt))) at this block. Every call that pays its sender
    ///         (challenge, the prove* family, ISlasher.slashEquivocation) reveals one made in an
    ///         earlier block by that sender, so a copy of the pending call from another account
    ///         pays nothing (design.md "Rewards bound to their finder"). Anyone may send it; a
    ///         commitment already recorded keeps its first block.
    /// @param commitment The commitment.
    function commitFinding(bytes32 commitment) external;

    /// @notice The block a commitment was recorded in (0: none, or already revealed).
    /// @param commitment The commitment.
    /// @return The block number.
    function findingCommittedAt(bytes32 commitment) external view returns (uint256);

    /// @notice Challenges a single record's attribution, posting disputeBond() and revealing
    ///         its input (this makes the input public, by the challenger's choice).
    /// @dev Within record.timestamp + challengeWindow. Checks: the record is the one the
    ///      registry holds; keccak256(salt || input) == inputCommitment; the output opens
    ///      outputCommitment (SIGNED/TEE: keccak256(outputSalt || tensor bytes), outputSalt =
    ///      keccak256("attestia.output-salt.v1" || salt); ZK: keccak256(packed instances));
    ///      keccak256(abi.encode(spec)) == the model's dataRoot. Stores the query hash and label.
    ///      The challenger is paid on NO_RESPONSE, so it must have committed
    ///      findingCommitment(msg.sender, record.requestId, salt) (the input salt) in an
    ///      earlier block (FindingNotCommitted, RevealTooEarly).
    /// @param record The record, as signed.
    /// @param input The canonical (1, d) float32 input tensor bytes.
    /// @param salt The input commitment's salt.
    /// @param output SIGNED/TEE: the canonical (1, L) logits tensor bytes; ZK:
    ///        abi.encodePacked(uint256[] instances).
    /// @param spec The model's attribution spec.
    function challenge(
        Inference calldata record,
        bytes calldata input,
        bytes32 salt,
        bytes calldata output,
        AttributionSpec calldata spec
    ) external payable;

    /// @notice Challenges a batch leaf's attribution, as `challenge` a single record's; the
    ///         dispute's id is toLeafDisputeId(batchId, batchLeafHash(leaf)) (DisputeOpened,
    ///         LeafChallenged), which respond, the prove* family and resolve then take.
    /// @dev Within the batch's commit time + challengeWindow (the registry's time, not the
    ///      leaf's timestamp, which nobody checks on chain: a worker could backdate it). Checks:
    ///      the batch is committed (BatchNotFound); the leaf and proof rebuild a root whose
    ///      toBatchId(root, leaf.modelId, leaf.worker) is batchId (LeafNotInBatch); no dispute
    ///      of this leaf yet; then the input, output and spec checks of `challenge`. The
    ///      challenger must have committed findingCommitment(msg.sender, disputeId, salt) (the
    ///      input salt) in an earlier block.
    /// @param batchId The committed batch (toBatchId(root, modelId, worker)).
    /// @param leaf The leaf, as published in the batch file (resultHash 0).
    /// @param proof Its StandardMerkleTree proof (sorted pairs) in the batch root.
    /// @param input The canonical (1, d) float32 input tensor bytes.
    /// @param salt The input commitment's salt.
    /// @param output As for `challenge`.
    /// @param spec The model's attribution spec.
    function challengeLeaf(
        bytes32 batchId,
        Inference calldata leaf,
        bytes32[] calldata proof,
        bytes calldata input,
        bytes32 salt,
        bytes calldata output,
        AttributionSpec calldata spec
    ) external payable;

    /// @notice Commits to the computation (before the deadline). The worker's signer or
    ///         operator sends no value; anyone else defends the record with disputeBond, once
    ///         (round 0): if that response is proven wrong its bond goes to the prover and the
    ///         dispute reopens for the worker alone (design.md "Defence by anyone").
    /// @param requestId The record's request id.
    /// @param traceRoot Indexed Merkle root over the N trace steps.
    /// @param traceURI Where the trace is published.
    /// @param totals Contributor totals in roster order (unclipped).
    /// @param roster The model's sorted roster (checked against contributorsHash).
    /// @param shares The record's attribution list (checked against its hash); must follow
    ///        from totals by the largest-remainder rule.
    function respond(
        bytes32 requestId,
        bytes32 traceRoot,
        string calldata traceURI,
        int256[] calldata totals,
        address[] calldata roster,
        Share[] calldata shares
    ) external payable;

    /// @notice A challenger's descent in a record's dispute.
    function getDescent(bytes32 requestId, address challenger)
        external
        view
        returns (Descent memory);

    /// @notice Ends a dispute whose deadline passed: OPEN -> NO_RESPONSE (slash; the reward
    ///         and the bond go to the challenger), RESPONDED -> WORKER_WON (the bond goes to the
    ///         worker's operator). Anyone may call.
    function resolve(bytes32 requestId) external;

    /// @notice A record's dispute (state NONE if never challenged).
    function getDispute(bytes32 requestId) external view returns (Dispute memory);

    /// @notice The bond a challenge posts, in wei.
    function disputeBond() external view returns (uint256);

    /// @notice How long the worker has to respond (seconds); then descents open for as long,
    ///         each side of one has a chess clock of as long, and fraud can be proven until
    ///         three windows after the response.
    function responseWindow() external view returns (uint64);
}
