// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Inference, Share, AttributionSpec, DataItem, TraceStep} from "../Common.sol";

/// @title IAttributionDisputes
/// @notice Anyone holding a record's input can dispute its attribution list; the worker must
///         then commit to its whole integer KNN-Shapley computation (a trace root and the
///         contributor totals the recorded basis points follow from), and anyone can prove one
///         wrong step. Proven fraud or no response: the worker's stake is slashed (Slasher's
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
        NO_RESPONSE
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

    /// @notice The worker commits to its computation (signer or operator, before the deadline).
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
    ) external;

    // Every prove* pays its sender the reporter's part of the stake, so it reveals the
    // sender's commitment findingCommitment(msg.sender, fraudEvidenceId(requestId, kind,
    // position), salt) made with commitFinding in an earlier block (FindingNotCommitted,
    // RevealTooEarly); kind is the FraudKind the call proves and position the one it names
    // (proveDuplicate: a.position; proveEnd: N - 1).

    /// @notice Fraud: the step names an item >= N, or its contributor, label or distance
    ///         differs from the roster item and the query.
    /// @param requestId The record's request id.
    /// @param opened The step, opened in the trace root.
    /// @param item The roster item the step names (ignored if the step's item >= N).
    /// @param itemProof Its proof in the items root.
    /// @param query The dispute's quantised input (DisputeOpened).
    /// @param salt The salt of the prover's commitment (see the prove* note below).
    function proveItem(
        bytes32 requestId,
        StepOpening calldata opened,
        DataItem calldata item,
        bytes32[] calldata itemProof,
        int256[] calldata query,
        bytes32 salt
    ) external;

    /// @notice Fraud: two adjacent steps (next.position == opened.position + 1) are not in
    ///         ascending (distance, item) order.
    /// @param requestId The record's request id.
    /// @param opened A step.
    /// @param next The step after it.
    /// @param salt The salt of the prover's commitment.
    function proveOrder(
        bytes32 requestId,
        StepOpening calldata opened,
        StepOpening calldata next,
        bytes32 salt
    ) external;

    /// @notice Fraud: a step's value does not follow from the next step's (or, for the last
    ///         step, is not s_N; `next` is then ignored).
    /// @param requestId The record's request id.
    /// @param opened A step.
    /// @param next The step after it (position + 1), unless `opened` is the last.
    /// @param salt The salt of the prover's commitment.
    function proveValue(
        bytes32 requestId,
        StepOpening calldata opened,
        StepOpening calldata next,
        bytes32 salt
    ) external;

    /// @notice Fraud: a step's sums root is not the previous one (the step before it, or
    ///         zeroRoot at position 0) with the slot's sum increased by the step's value, or
    ///         the slot's account is not the step's contributor, or the slot is >= C.
    /// @param requestId The record's request id.
    /// @param opened A step.
    /// @param previous The step before it (ignored at position 0).
    /// @param account The account at the step's slot in the previous sums root.
    /// @param sum Its sum there.
    /// @param sumsProof The proof of (account, sum) at the slot in the previous sums root.
    /// @param salt The salt of the prover's commitment.
    function proveSum(
        bytes32 requestId,
        StepOpening calldata opened,
        StepOpening calldata previous,
        address account,
        int256 sum,
        bytes32[] calldata sumsProof,
        bytes32 salt
    ) external;

    /// @notice Fraud: the last step's sums root is not finalRoot.
    /// @param requestId The record's request id.
    /// @param last The step at position N - 1.
    /// @param salt The salt of the prover's commitment.
    function proveEnd(bytes32 requestId, StepOpening calldata last, bytes32 salt) external;

    /// @notice Fraud: two positions of the trace name the same item.
    /// @param requestId The record's request id.
    /// @param a A step.
    /// @param b Another step (another position) naming the same item.
    /// @param salt The salt of the prover's commitment.
    function proveDuplicate(
        bytes32 requestId,
        StepOpening calldata a,
        StepOpening calldata b,
        bytes32 salt
    ) external;

    /// @notice Ends a dispute whose deadline passed: OPEN -> NO_RESPONSE (slash; the reward
    ///         and the bond go to the challenger), RESPONDED -> WORKER_WON (the bond goes to the
    ///         worker's operator). Anyone may call.
    function resolve(bytes32 requestId) external;

    /// @notice A record's dispute (state NONE if never challenged).
    function getDispute(bytes32 requestId) external view returns (Dispute memory);

    /// @notice The bond a challenge posts, in wei.
    function disputeBond() external view returns (uint256);

    /// @notice How long the worker has to respond, and then anyone to prove fraud (seconds).
    function responseWindow() external view returns (uint64);
}
