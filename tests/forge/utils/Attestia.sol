// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {VM} from "../Base.sol";
import {
    Share,
    Inference,
    Request,
    BPS,
    PROOF_SIGNED,
    findingCommitment,
    equivocationEvidenceId
} from "../../../contracts/Common.sol";
import {InferenceRegistry} from "../../../contracts/InferenceRegistry.sol";
import {Slasher} from "../../../contracts/Slasher.sol";
import {OutputDisputes} from "../../../contracts/OutputDisputes.sol";

/// @notice Test helpers shared by the fuzz tests and the invariant handler: deployment
///         parameters, attribution lists, records, fee split, signatures.
library Attestia {
    uint256 internal constant START = 1_750_000_000; // block time at set-up, and epoch 0 start
    uint256 internal constant MIN_STAKE = 1 ether;
    uint64 internal constant UNBONDING_DELAY = 7 days;
    /// @dev UNBONDING_DELAY >= CHALLENGE_WINDOW + TIMESTAMP_WINDOW + WINDOW_MARGIN, as the
    ///      registry requires.
    uint64 internal constant CHALLENGE_WINDOW = 3 days;
    uint64 internal constant REQUEST_TIMEOUT = 1 hours;
    /// @dev Attribution disputes: UNBONDING_DELAY >= CHALLENGE_WINDOW + 15 min + 8 * RESPONSE_WINDOW
    ///      (DISPUTE_WINDOWS) + WINDOW_MARGIN: 3 d + 15 min + 80 h + 1 h <= 7 d.
    uint256 internal constant DISPUTE_BOND = 0.1 ether;
    uint64 internal constant RESPONSE_WINDOW = 10 hours;
    uint64 internal constant EPOCH_LENGTH = 1 days;
    uint64 internal constant TIMELOCK = 1 days;
    /// @dev The sealed result every test record carries (its hash is the record's resultHash).
    bytes internal constant SEALED = hex"5ea1ed0000c0ffee";

    /// @dev A registry with the test parameters above (the one place every suite deploys it).
    function deployRegistry(address admin, address distributor) internal returns (InferenceRegistry) {
        return deployRegistry(admin, distributor, UNBONDING_DELAY, CHALLENGE_WINDOW);
    }

    /// @dev The same, with the unbonding delay and challenge window under test.
    function deployRegistry(address admin, address distributor, uint64 unbondingDelay, uint64 challengeWindow)
        internal
        returns (InferenceRegistry)
    {
        return new InferenceRegistry(
            admin, distributor, MIN_STAKE, unbondingDelay, challengeWindow, REQUEST_TIMEOUT, uint64(START), EPOCH_LENGTH
        );
    }

    /// @dev The Slasher (equivocation and attribution disputes) with the test parameters.
    function deploySlasher(InferenceRegistry registry, address treasury) internal returns (Slasher) {
        OutputDisputes outputs = new OutputDisputes(registry, treasury, DISPUTE_BOND, RESPONSE_WINDOW);
        return new Slasher(registry, treasury, DISPUTE_BOND, RESPONSE_WINDOW, outputs);
    }

    /// @dev The salt of every test reporter's commitment.
    bytes32 internal constant REPORT_SALT = keccak256("report salt");

    /// @dev What a reporter does a block before slashEquivocation(a, _, b, _, REPORT_SALT)
    ///      (issue 17, attack 2): commit to the evidence, then let one block pass.
    function commitReport(
        Slasher slasher,
        InferenceRegistry registry,
        address reporter,
        Inference memory a,
        Inference memory b
    ) internal {
        bytes32 evidence = equivocationEvidenceId(registry.hashInference(a), registry.hashInference(b));
        VM.prank(reporter);
        slasher.commitFinding(findingCommitment(reporter, evidence, REPORT_SALT));
        VM.roll(block.number + 1);
    }

    /// @dev A valid attribution list over a non-empty subset of `roster` (which must be sorted
    ///      ascending): strictly ascending accounts, no zero bps, sum exactly BPS.
    function shares(address[] memory roster, uint256 seed) internal pure returns (Share[] memory out) {
        uint256 mask = seed % ((1 << roster.length) - 1) + 1; // 1 .. 2^n - 1: never empty
        uint256 k;
        for (uint256 i; i < roster.length; ++i) {
            if (mask & (1 << i) != 0) ++k;
        }
        out = new Share[](k);
        uint256 remaining = BPS;
        uint256 j;
        for (uint256 i; i < roster.length; ++i) {
            if (mask & (1 << i) == 0) continue;
            uint256 bps;
            if (j == k - 1) {
                bps = remaining;
            } else {
                // Leave at least 1 bps for each later share.
                uint256 room = remaining - (k - 1 - j);
                bps = 1 + uint256(keccak256(abi.encode(seed, i))) % room;
            }
            out[j] = Share(roster[i], uint16(bps));
            remaining -= bps;
            ++j;
        }
    }

    function attributionHash(Share[] memory list) internal pure returns (bytes32) {
        return keccak256(abi.encode(list));
    }

    /// @dev The registry's split (design.md): worker and owner cuts round down, contributors
    ///      get the rest, so nothing is lost.
    function split(uint256 fee, uint16 workerBps, uint16 ownerBps)
        internal
        pure
        returns (uint256 workerCut, uint256 ownerCut, uint256 contributorCut)
    {
        workerCut = fee * workerBps / BPS;
        ownerCut = fee * ownerBps / BPS;
        contributorCut = fee - workerCut - ownerCut;
    }

    /// @dev A SIGNED record answering `request`, signed by `worker` at `timestamp`, carrying the
    ///      sealed result SEALED.
    function signedRecord(
        Request memory request,
        address worker,
        bytes32 outputCommitment,
        Share[] memory list,
        uint64 timestamp
    ) internal pure returns (Inference memory) {
        return Inference({
            requestId: keccak256(abi.encode(request.requester, request.modelId, request.inputCommitment)),
            modelId: request.modelId,
            inputCommitment: request.inputCommitment,
            outputCommitment: outputCommitment,
            attributionHash: attributionHash(list),
            proofKind: PROOF_SIGNED,
            proofHash: bytes32(0),
            worker: worker,
            timestamp: timestamp,
            resultHash: keccak256(SEALED)
        });
    }

    /// @dev A 65-byte (r, s, v) ECDSA signature over `digest`.
    function sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = VM.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev Sorts addresses ascending, in place (insertion sort: lists here are tiny).
    function sort(address[] memory list) internal pure returns (address[] memory) {
        for (uint256 i = 1; i < list.length; ++i) {
            address v = list[i];
            uint256 j = i;
            while (j > 0 && list[j - 1] > v) {
                list[j] = list[j - 1];
                --j;
            }
            list[j] = v;
        }
        return list;
    }
}
