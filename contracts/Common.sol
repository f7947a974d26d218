// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

// Shared structs, constants and errors of the Attestia contracts. The encodings are fixed by
// docs/design.md; the off-chain package mirrors every one of them.

// Proof kind of a record (design.md): the value is the bit index in a model's policy.
uint8 constant PROOF_SIGNED = 1;
uint8 constant PROOF_TEE = 2;
uint8 constant PROOF_ZK = 3;

// Policy bits a model may set: (1 << PROOF_SIGNED) | (1 << PROOF_TEE) | (1 << PROOF_ZK).
uint8 constant POLICY_MASK = 0x0E;

// Basis points in a whole (fee splits and attribution lists sum to this).
uint16 constant BPS = 10_000;

// Largest distance between a record's signed timestamp and the block timestamp.
uint64 constant TIMESTAMP_WINDOW = 15 minutes;

// Slack kept by every "must end before" between windows (issue 17, attack 4): the unbonding
// delay exceeds the longest time a record can stay slashable by at least this, so a stake is
// never withdrawable in a second in which a fraud proof, a dispute timeout or an equivocation
// report against it is still valid, and a proof due at a window's last second has this long to
// be included (congestion, a censoring builder) before the stake could leave.
uint64 constant WINDOW_MARGIN = 1 hours;

// Shortest response window the Slasher accepts. Every reward-bearing call is the reveal of a
// commitment made in an earlier block (issue 17, attack 2: findingCommitment below), so a finder
// needs two inclusions inside a window the liar opens: this leaves room for both under
// congestion, and a liar cannot shorten it (each window runs from the block that opens it).
uint64 constant MIN_RESPONSE_WINDOW = 10 minutes;

// Response windows a dispute may span after its challenge (AttributionDisputes, design.md
// "The descent"): a response (W), descents opened within W of it, each ending within its two
// chess clocks (2 W); then once more if a third party's response was proven wrong (the worker's
// own response, W, and its descents, 3 W): 4 W + 4 W.
uint256 constant DISPUTE_WINDOWS = 8;

// A descent step reveals the 2^DESCENT_BITS nodes DESCENT_BITS levels below the current node
// of the worker's trace tree (fewer at the last step): 5 steps at N = 100,000 (depth 17).
uint256 constant DESCENT_BITS = 4;

// Largest contributor roster a model may register (the roster is passed with every single
// record: calldata grows with it).
uint256 constant MAX_CONTRIBUTORS = 1024;

// Part of a slashed stake credited to the reporter, in bps; the rest goes to the treasury.
uint16 constant SLASH_REPORTER_BPS = 5_000;

// Integer attribution (design.md "Integer attribution"): fixed-point constants.
uint256 constant FEATURE_FRAC_BITS = 32;
uint256 constant QUANT_SHIFT = 64;
int256 constant Z_LIMIT = 2 ** 24 - 1;
uint256 constant MAX_ATTRIBUTION_FEATURES = 4096;
uint256 constant MAX_ROSTER_ITEMS = 2 ** 22;
int256 constant VALUE_SCALE = 2 ** 40;
int256 constant MAX_MU = 2 ** 127;
int256 constant MAX_RHO = 2 ** 90;

// Integer inference (design.md "Integer inference"): every activation is clamped to +-this.
int256 constant ACTIVATION_LIMIT = 2 ** 24 - 1;
uint256 constant MAX_NETWORK_LAYERS = 16;
uint256 constant MAX_LAYER_WIDTH = 4096;
// The tag of output-dispute ids (toOutputDisputeId).
bytes32 constant OUTPUT_DISPUTE_TAG = "attestia.output-dispute.v1";

// EIP-712 domain of the InferenceRegistry: this name and version, the chain id, the registry.
string constant EIP712_NAME = "Attestia";
string constant EIP712_VERSION = "1";

// EIP-712 type hashes (domain: EIP712_NAME, EIP712_VERSION, chain id, the InferenceRegistry).
bytes32 constant INFERENCE_TYPEHASH = keccak256(
    "Inference(bytes32 requestId,bytes32 modelId,bytes32 inputCommitment,bytes32 outputCommitment,bytes32 attributionHash,uint8 proofKind,bytes32 proofHash,address worker,uint64 timestamp,bytes32 resultHash)"
);
bytes32 constant BATCH_TYPEHASH = keccak256(
    "Batch(bytes32 root,uint32 count,bytes32 modelId,uint64 epoch,bytes32 dataUriHash,bytes32 dataHash,address worker,uint256 deposit)"
);
bytes32 constant WORKER_REGISTRATION_TYPEHASH = keccak256(
    "WorkerRegistration(address signer,address operator,bytes32 encryptionKeyHash,uint256 nonce,uint256 deadline)"
);

// Request slot sentinels (see IInferenceRegistry.requestState).
bytes32 constant REQUEST_CANCELLED = bytes32(uint256(1));
bytes32 constant REQUEST_REJECTED = bytes32(uint256(2));

/// @notice One entry of an attribution list: who contributed and how many bps of the
///         contributors' cut they earn. Lists are sorted by ascending account, no zero bps,
///         sum exactly BPS; attributionHash = keccak256(abi.encode(Share[])).
struct Share {
    address account;
    uint16 bps;
}

/// @notice The signed record of one inference (EIP-712 type `Inference`, design.md). Also the
///         leaf value of a batch Merkle tree (StandardMerkleTree, same field order).
///         resultHash = keccak256(sealedResult) for single records (the signature covers the
///         answer the requester reads), bytes32(0) for batch leaves.
struct Inference {
    bytes32 requestId;
    bytes32 modelId;
    bytes32 inputCommitment;
    bytes32 outputCommitment;
    bytes32 attributionHash;
    uint8 proofKind;
    bytes32 proofHash;
    address worker;
    uint64 timestamp;
    bytes32 resultHash;
}

/// @notice A ZK proof of a record: the EZKL proof bytes (keccak256 = the record's proofHash) and
///         all its public instances (the input binding first, then the outputs; keccak256 of
///         abi.encodePacked(instances) = the record's outputCommitment).
struct ZkProof {
    bytes proof;
    uint256[] instances;
}

/// @notice The signed commitment of a batch of inferences (EIP-712 type `Batch`, design.md).
struct Batch {
    bytes32 root;
    uint32 count;
    bytes32 modelId;
    uint64 epoch;
    bytes32 dataUriHash;
    bytes32 dataHash;
    address worker;
    uint256 deposit;
}

/// @notice A paid request. Only keccak256(abi.encode(Request)) is stored; callers pass the
///         struct back (it is in the InferenceRequested event) and the contract checks the hash.
///         The terms in force when it was paid (fee, split, policy, ZK verifier) are part of it,
///         so a later change by the model owner does not touch a paid request; the requester
///         committed to them (termsHashOf) in requestInference. zkInputHash is the input
///         binding a ZK record's first public instance must equal (0: no ZK record possible).
struct Request {
    address requester;
    bytes32 modelId;
    address worker;
    uint256 fee;
    uint64 createdAt;
    bytes32 inputCommitment;
    bytes32 zkInputHash;
    uint16 workerBps;
    uint16 ownerBps;
    uint8 policy;
    address verifier;
}

/// @notice The terms a requester pays under, as it commits to them in requestInference:
///         keccak256(abi.encode(fee, policy, workerBps, ownerBps, verifier)).
function termsHashOf(uint256 fee, uint8 policy, uint16 workerBps, uint16 ownerBps, address verifier)
    pure
    returns (bytes32)
{
    return keccak256(abi.encode(fee, policy, workerBps, ownerBps, verifier));
}

/// @notice How a recorded request's fee was paid out: workerCut to the worker's operator,
///         ownerCut to the model owner (both withdrawable balances), contributorCut to the
///         pool of `epoch` (split off-chain by the record's attribution list).
struct Payout {
    uint64 epoch;
    uint256 workerCut;
    uint256 ownerCut;
    uint256 contributorCut;
}

/// @notice How the fee of one inference is split, in bps summing to BPS.
struct Split {
    uint16 workerBps;
    uint16 ownerBps;
    uint16 contributorBps;
}

/// @notice A registered model. Field order is the storage layout: the first slot is the one
///         every request and record reads.
struct Model {
    // slot 0: read by requestInference, fulfill and commitBatch
    address owner;
    uint8 policy;
    uint16 workerBps;
    uint16 ownerBps;
    bool deprecated;
    uint48 revokedAt;
    // slot 1: fee (read by requestInference) and ZK verifier (read by fulfillZk)
    uint96 fee;
    address verifier;
    // slot 2: read by single records (roster check)
    bytes32 contributorsHash;
    // slot 3..6: cold
    bytes32 contentHash;
    bytes32 dataRoot;
    uint32 contributors;
    uint48 registeredAt;
    string metadataURI;
}

/// @notice A registered worker key. Field order is the storage layout: the first slot is the
///         one every record reads.
struct Worker {
    // slot 0: read by fulfill and commitBatch
    address operator;
    uint48 unbondingAt;
    uint48 revokedAt;
    // slot 1
    uint96 stake;
    uint48 registeredAt;
    uint48 enclaveBoundAt;
    uint48 slashedAt;
    // slot 2..5: TEE binding and encryption key
    bytes32 measurement;
    bytes32 attestationHash;
    bytes encryptionKey;
    string attestationURI;
}

/// @notice Governance status of an enclave measurement (0 = never).
struct MeasurementStatus {
    uint48 allowedAt;
    uint48 revokedAt;
}

/// @notice What a consumer needs to decide whether to trust a record (0 timestamps = never).
///         revokedAfter: the record exists and a reported revocation came after it was
///         accepted (for single records every reported revocation did: they are accepted
///         only while nothing is revoked).
struct RecordStatus {
    bool exists;
    uint64 recordedAt;
    uint64 workerRevokedAt;
    uint64 measurementRevokedAt;
    uint64 modelRevokedAt;
    bool revokedAfter;
}

// ------------------------------------------------------------------ shared encodings
// Free functions: each encoding is spelled once, here, and compiled into the contracts that
// use it (no bytecode for the ones that don't, no external call for the ones that do).

/// @notice The EIP-712 struct hash of a `Batch` (design.md), before the domain is applied.
///         Field by field, so the registry hashes its calldata arguments and the lens a whole
///         `Batch` with the same words.
function batchStructHash(
    bytes32 root,
    uint32 count,
    bytes32 modelId,
    uint64 epoch,
    bytes32 dataUriHash,
    bytes32 dataHash,
    address worker,
    uint256 deposit
) pure returns (bytes32) {
    return keccak256(
        abi.encode(
            BATCH_TYPEHASH, root, count, modelId, epoch, dataUriHash, dataHash, worker, deposit
        )
    );
}

/// @notice A batch's id (`batchIdOf` of the interfaces):
///         keccak256(abi.encode(root, modelId, worker)).
function toBatchId(bytes32 root, bytes32 modelId, address worker) pure returns (bytes32) {
    return keccak256(abi.encode(root, modelId, worker));
}

/// @notice The StandardMerkleTree leaf of a batch record (design.md "Batch leaves"):
///         keccak256(bytes.concat(keccak256(abi.encode(inference)))).
function batchLeafHash(Inference calldata inference) pure returns (bytes32) {
    return keccak256(bytes.concat(keccak256(abi.encode(inference))));
}

/// @notice The dispute id of a batch leaf (`leafDisputeIdOf`): keccak256(abi.encode(batchId,
///         leafHash)). One per leaf of a batch (two leaves of a batch are two disputes; the
///         same leaf in two batches, two records); 64 bytes hashed, where a request id (the
///         dispute id of a single record) hashes 96, so the two never collide.
function toLeafDisputeId(bytes32 batchId, bytes32 leafHash) pure returns (bytes32) {
    return keccak256(abi.encode(batchId, leafHash));
}

/// @notice A request's id (`requestIdOf`): keccak256(abi.encode(requester, modelId,
///         inputCommitment)).
function toRequestId(address requester, bytes32 modelId, bytes32 inputCommitment)
    pure
    returns (bytes32)
{
    return keccak256(abi.encode(requester, modelId, inputCommitment));
}

/// @notice A model's id (`modelIdOf`): keccak256(abi.encode(owner, contentHash)).
function toModelId(address owner, bytes32 contentHash) pure returns (bytes32) {
    return keccak256(abi.encode(owner, contentHash));
}

/// @dev keccak256(abi.encode(request)): the value an open request's slot holds. A Request is
///      eleven static words, hashed as they are in calldata without re-encoding; a dirty word (a
///      value wider than its type) hashes differently from any request the registry stored, so
///      it is never taken for an open request.
function toRequestHash(Request calldata request) pure returns (bytes32 hash) {
    assembly ("memory-safe") {
        let ptr := mload(0x40)
        calldatacopy(ptr, request, 0x160)
        hash := keccak256(ptr, 0x160)
    }
}

// ------------------------------------------------------------------ registry storage
// The InferenceRegistry's storage slots read from outside its own code: by RegistryViews (run
// by DELEGATECALL on the registry's storage) and by the Slasher (through `extsload`).
// tests/contracts/test_contract_sizes.py pins them to the compiler's storage layout.

uint256 constant MODELS_SLOT = 0; // mapping(bytes32 modelId => Model)
uint256 constant WORKERS_SLOT = 7; // mapping(address signer => Worker)
uint256 constant MEASUREMENTS_SLOT = 8; // mapping(bytes32 measurement => MeasurementStatus)
uint256 constant BATCHES_SLOT = 11; // mapping(bytes32 batchId => uint256 packed)
uint256 constant EPOCH_POOLS_SLOT = 12; // mapping(uint64 epoch => uint256)
uint256 constant USED_PROOFS_SLOT = 13; // mapping(bytes32 proofHash => bool)

// Word offsets inside a Model and a Worker (Common.Model, Common.Worker).
uint256 constant MODEL_CONTRIBUTORS_HASH_WORD = 2;
uint256 constant MODEL_CONTENT_HASH_WORD = 3;
uint256 constant MODEL_DATA_ROOT_WORD = 4;

// A batch slot: swept << 255 | deposit << 96 | committedAt << 32 | count.
uint256 constant BATCH_TIME_SHIFT = 32;
uint256 constant BATCH_DEPOSIT_SHIFT = 96;
uint256 constant BATCH_SWEPT = 1 << 255;

/// @notice The first storage slot of the value at `key` of the mapping at `slot` (Solidity's
///         rule for value-type keys: keccak256(abi.encode(key, slot))).
function mappingSlot(bytes32 key, uint256 slot) pure returns (bytes32) {
    return keccak256(abi.encode(key, slot));
}

/// @notice A leaf of a dispute's running-sums tree (design.md "Indexed Merkle trees"):
///         keccak256(abi.encode(account, sum)), hashed in scratch space (the response hashes
///         two leaves per roster contributor, up to MAX_CONTRIBUTORS of them, without growing
///         memory).
function sumsLeaf(address account, int256 sum) pure returns (bytes32 leaf) {
    assembly ("memory-safe") {
        // An address read in assembly may carry dirty high bits: clean them as abi.encode does.
        mstore(0x00, and(account, 0xffffffffffffffffffffffffffffffffffffffff))
        mstore(0x20, sum)
        leaf := keccak256(0x00, 0x40)
    }
}

/// @notice What a finder commits to before a reward-bearing call (issue 17, attack 2):
///         keccak256(abi.encode(finder, evidenceId, salt)). The call reveals `salt` and pays
///         msg.sender only if msg.sender's commitment for its evidence was made in an earlier
///         block: a copy of the pending call from another account finds no commitment, and the
///         copier could not have committed first without knowing the evidence (the evidence ids
///         are fraudEvidenceId, equivocationEvidenceId, and a challenge's request id with the
///         input salt as its salt).
function findingCommitment(address finder, bytes32 evidenceId, bytes32 salt)
    pure
    returns (bytes32)
{
    return keccak256(abi.encode(finder, evidenceId, salt));
}

/// @notice The evidence id of a fraud proof: keccak256(abi.encode(requestId, kind, position)),
///         kind the IAttributionDisputes.FraudKind value, position the one the proof names.
function fraudEvidenceId(bytes32 requestId, uint8 kind, uint256 position) pure returns (bytes32) {
    return keccak256(abi.encode(requestId, kind, position));
}

/// @notice The evidence id of an equivocation report: keccak256(abi.encode(digestA, digestB)),
///         the EIP-712 digests of the two records in the order the report gives them.
function equivocationEvidenceId(bytes32 digestA, bytes32 digestB) pure returns (bytes32) {
    return keccak256(abi.encode(digestA, digestB));
}

/// @notice The id of a record's output dispute (`outputDisputeIdOf`): keccak256(abi.encode(
///         recordId, OUTPUT_DISPUTE_TAG)), recordId the record's attribution-dispute id (its
///         request id, or its leaf dispute id). Distinct from every attribution-dispute id, so
///         the two disputes of one record never share a finder's evidence id.
function toOutputDisputeId(bytes32 recordId) pure returns (bytes32) {
    return keccak256(abi.encode(recordId, OUTPUT_DISPUTE_TAG));
}

/// @notice The caller may not do this.
error Unauthorized();
/// @notice The id is already taken (a model, worker, request or batch).
error AlreadyExists();
/// @notice An address argument was address(0).
error ZeroAddress();
/// @notice The EIP-712 signature does not recover to the expected signer.
error InvalidSignature();
/// @notice The signature's deadline has passed.
error SignatureExpired(uint256 deadline);
/// @notice msg.value differs from what the call requires.
error IncorrectPayment(uint256 expected, uint256 paid);
/// @notice There is nothing to withdraw for the caller.
error NothingToWithdraw();

// A model's committed attribution inputs; keccak256(abi.encode(spec)) is its dataRoot.
struct AttributionSpec {
    bytes32 itemsRoot;
    uint256 n;
    uint256 k;
    int256[] mu;
    int256[] rho;
}

// One roster item in the model's quantised space (a leaf of itemsRoot).
struct DataItem {
    uint256 index;
    address contributor;
    uint256 label;
    int256[] features;
}

// One step of an attribution trace; its position in the trace is its rank minus one.
struct TraceStep {
    uint256 item;
    address contributor;
    uint256 slot;
    uint256 label;
    uint256 distance;
    int256 value;
    bytes32 sumsRoot;
}

// What a model's registered contentHash commits to: keccak256(abi.encode(ModelSpec)).
struct ModelSpec {
    bytes32 onnxSha256;
    bytes32 weightsRoot;
    uint256[] widths;
}

// One neuron of the integer network (a leaf of weightsRoot: keccak256(abi.encode(NeuronRow))).
struct NeuronRow {
    uint256 layer;
    uint256 neuron;
    int256[] weights;
    int256 bias;
    uint256 shift;
}
