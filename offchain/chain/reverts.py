"""Every custom error of the contracts said in words, with its arguments decoded.

:class:`offchain.chain.tx.ErrorDecoder` names a revert (``DeadlineNotReached(1797403529)``);
this module says what it means and what to do (``the deadline is 2026-12-14T09:25:29+00:00:
wait until then``). A sentence is a template over the error's own parameter names, with a
format spec saying how to show a value: ``time`` (a unix time as ISO 8601), ``eth`` (wei as
ETH and wei), ``role`` (an AccessControl role id as its name), ``dispute`` (a dispute state),
``proof`` (a proof kind) and ``policy`` (a proof-kind bitmask). tests/chain/test_reverts.py
fails when an error of the compiled ABIs has no sentence here.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

from eth_utils import keccak, to_checksum_address

from offchain.protocol import ZERO32, DisputeState, kinds_of, proof_kind_name
from offchain.timefmt import iso_if_set

ROLES = ("DEFAULT_ADMIN_ROLE", "GOVERNANCE_ROLE", "SETTLER_ROLE", "GUARDIAN_ROLE")
ROLE_NAMES = {ZERO32: "DEFAULT_ADMIN_ROLE"} | {keccak(text=r): r for r in ROLES[1:]}
"""AccessControl role ids (OpenZeppelin: ``keccak256("NAME")``, the admin role is zero)."""

_ADVANCE = " (on a local chain, `attestia chain advance` moves time forward)"

SENTENCES: dict[str, str] = {
    # access control and accounts
    "AccessControlUnauthorizedAccount":
        "{account} does not hold {neededRole:role}; send this from an account that holds it",
    "AccessControlBadConfirmation":
        "an account can only renounce a role for itself: confirm with its own address",
    "Unauthorized": "this account may not do this: only the owner of what it acts on (the "
                    "model's owner, the worker's operator, the dispute's challenger) may",
    "InvalidAccountNonce": "the signature's nonce is stale for {account} (the next one is "
                           "{currentNonce}): sign again",
    "InvalidSignature": "the signature does not recover the expected signer: sign again with "
                        "the right key",
    "SignatureExpired": "the signature expired at {deadline:time}: sign again",
    "ZeroAddress": "an address given is the zero address: give a real account or contract",
    "FailedCall": "a call made by the contract failed (a transfer to a contract that refuses "
                  "ETH, or a callee that reverted)",
    "ReentrancyGuardReentrantCall": "the contract was called again from within one of its own "
                                    "calls; call it directly",
    "SafeCastOverflowedUintDowncast": "{value} does not fit in {bits} bits",
    "StringTooLong": "the text {str!r} is too long",
    # payments and balances
    "IncorrectPayment": "the transaction must pay exactly {expected:eth}; it paid {paid:eth}",
    "IncorrectValue": "the transaction must send exactly {expected:eth}; it sent {sent:eth}",
    "IncorrectBond": "a challenge's bond is exactly {expected:eth}; it paid {paid:eth}",
    "InsufficientBalance": "the contract holds {balance:eth} but {needed:eth} is needed",
    "NothingToWithdraw": "this account has nothing to withdraw here",
    "ZeroAmount": "the amount is zero: give a positive amount",
    # models
    "AlreadyExists": "it exists already (the same model or batch was registered before): "
                     "use the existing one",
    "ModelNotFound": "model {modelId} is not registered on this registry: check the id "
                     "(`attestia model list`)",
    "InvalidModelId": "the model id is not the one the registry derives from the model's "
                      "content hash and owner",
    "ModelNotActive": "model {modelId} is deprecated or revoked and takes no new requests: "
                      "choose an active model (`attestia model list`)",
    "ModelIsRevoked": "model {modelId} is revoked: nothing more can be done with it",
    "InvalidPolicy": "the proof policy {policy:policy} names no proof kind or an unknown "
                     "one: use some of signed, tee, zk",
    "InvalidSplit": "the fee split {workerBps},{ownerBps},{contributorBps} (worker, owner, "
                    "contributors) must sum to 10000 bps",
    "InvalidVerifier": "{verifier} is not a usable zk verifier contract",
    "InvalidRosterLength": "a roster of {length} items is empty or longer than the registry "
                           "allows",
    "RosterNotSorted": "roster item {index} is out of order: the package's roster must be "
                       "sorted as the packager writes it",
    "VerifierNotSet": "model {modelId} has no zk verifier: run `attestia model zk-setup` "
                      "first",
    # workers
    "WorkerNotFound": "{signer} is not a registered worker: register it (`attestia worker "
                      "run` registers its key) or check the address (`attestia worker list`)",
    "WorkerNotActive": "worker {signer} is not active (unbonding, withdrawn, revoked or "
                       "slashed): it can neither serve nor be staked again; use another "
                       "worker key (`attestia worker run --name NEW`) and see `attestia "
                       "worker list`",
    "StakeTooLow": "the stake must be at least {minimum:eth}; {sent:eth} was sent",
    "EmptyEncryptionKey": "the worker's encryption key is empty",
    "NotUnbonding": "worker {signer} is not unbonding: run `attestia worker stake unbond` "
                    "first",
    "UnbondingNotElapsed": "the stake can be withdrawn from {withdrawableAt:time}: wait "
                           "until then" + _ADVANCE,
    "EnclaveAlreadyBound": "worker {signer} already has an enclave bound",
    "EnclaveNotBound": "worker {signer} has no enclave bound: start it with --tee",
    "MeasurementNotAllowed": "the enclave measurement {measurement} is not allowed: governance "
                             "must run `attestia governance allow-measurement` for it",
    "MeasurementIsRevoked": "the enclave measurement {measurement} was revoked by governance",
    "EmptyAttestationHash": "the enclave attestation's hash is empty",
    "AlreadyRevoked": "it is revoked already",
    "AlreadySlashed": "worker {signer} has been slashed already",
    "NothingToSlash": "worker {signer} has no stake left to slash",
    "InvalidUnbondingDelay": "the unbonding delay {unbondingDelay} s is shorter than the "
                             "minimum {minimum} s",
    # requests and records
    "RequestNotOpen": "request {requestId} is not open (recorded, cancelled or rejected "
                      "already): see `attestia request status`",
    "AlreadyRecorded": "this record (digest {digest}) is on chain already",
    "RequestMismatch": "the record does not match request {requestId} (its model, requester "
                       "or input commitment differ)",
    "WorkerMismatch": "the request names worker {expected}, not {actual}",
    "WorkerRequired": "a request must name the worker its input is sealed to (there are no "
                      "open requests): pick one with `attestia worker list`",
    "TermsChanged": "the model's terms (fee, split, proof policy or zk verifier) changed after "
                    "you read them (you saw {expected}, they are now {actual}): nothing was "
                    "paid; read them again (`attestia model show`) and resend",
    "RequestNotExpired": "the request can be cancelled from {cancellableAt:time}: wait until "
                         "then" + _ADVANCE,
    "RequestExpired": "the request expired at {deadline:time}: cancel it for a refund "
                      "(`attestia request cancel`)",
    "TimestampOutOfWindow": "the record's signing time {timestamp:time} is too far from the "
                            "chain's time: check the worker's clock",
    "ProofKindNotAllowed": "the model does not accept {proofKind:proof} proofs",
    "ProofHashMismatch": "the proof's hash {actual} is not the committed {expected}",
    "ZkProofRequired": "this model requires a zk proof for its records",
    "NotZkRecord": "the record's proof kind is {proofKind:proof}, not zk",
    "OutputCommitmentMismatch": "the output commitment {actual} is not the committed "
                                "{expected}",
    "ZkInputMismatch": "the zk proof's input hash {actual} is not the request's {expected}",
    "ProofAlreadyUsed": "the proof {proofHash} was used for another record already",
    "ZkProofInvalid": "the zk verifier rejected the proof",
    "ResultHashMismatch": "the result hash {actual} is not the signed {expected}",
    "AttributionHashMismatch": "the attribution hash {actual} is not the signed {expected}",
    "RosterMismatch": "the attribution's roster is not the model's registered roster",
    "NotAContributor": "{account} is not in the model's roster",
    "SharesNotSorted": "attribution share {index} is out of order",
    "ZeroShare": "attribution share {index} is zero",
    "SharesSumInvalid": "the attribution shares sum to {sum} bps, not 10000",
    # batches, epochs, settlement
    "EmptyBatch": "a batch must hold at least one leaf",
    "EpochMismatch": "the batch is for epoch {actual} but the chain is in epoch {expected}: "
                     "build it again for the current epoch",
    "EpochNotEnded": "epoch {epoch} has not ended: settle it after it ends" + _ADVANCE,
    "NothingToSweep": "epoch {epoch} has no fees left to sweep: it was settled already",
    "NothingToSweepBatches": "no batch has fees left to sweep",
    "BatchNotFound": "batch {batchId} is not committed on this registry",
    "BatchAlreadySwept": "batch {batchId} was settled already",
    "InvalidDistributor": "{distributor} is not a usable reward distributor",
    "InvalidEpochConfig": "the epoch length or timelock is invalid",
    # reward roots and claims
    "EmptyRoot": "a reward root must not be empty",
    "EpochNotAfterActive": "epoch {epoch} is not after the active root's epoch "
                           "{activeEpoch}: roots only move forward",
    "RootAlreadyProposed": "a root for epoch {epoch} is proposed already: wait for its "
                           "timelock, or cancel it (`attestia rewards cancel-root`)",
    "TotalExceedsFunded": "the root's total {total:eth} is more than the {totalFunded:eth} "
                          "funded",
    "TotalDecreased": "the root's total {total:eth} is below the active root's "
                      "{activeTotal:eth}: totals are cumulative",
    "RootNotProposed": "no reward root is proposed for epoch {epoch}: see `attestia rewards "
                       "status`",
    "TimelockNotElapsed": "the root becomes active at {readyAt:time}: wait until then"
                          + _ADVANCE,
    "TimelockElapsed": "the root's timelock ended at {readyAt:time}: it can no longer be "
                       "cancelled",
    "NoActiveRoot": "no reward root is active yet: wait for `attestia rewards settle` and "
                    "its timelock (`attestia rewards status`)",
    "InvalidProof": "the claim's Merkle proof does not match the active root: fetch the "
                    "current one (`attestia rewards claim` builds it)",
    "NothingToClaim": "nothing to claim: {claimed:eth} of the {cumulative:eth} earned is "
                      "claimed already",
    "ExceedsRootTotal": "claims would total {totalClaimed:eth}, more than the root's "
                        "{total:eth}",
    "SafeERC20FailedOperation": "the token {token} refused the transfer",
    # disputes
    "ResponseWindowTooLong": "the dispute windows ({needed} s) must be shorter than the "
                             "unbonding delay ({unbondingDelay} s)",
    "ResponseWindowTooShort": "the response window ({responseWindow} s) is shorter than "
                              "{minimum} s: a finder's commitment and its reveal must fit in it",
    "BadBond": "the challenge bond {bond:eth} is not allowed",
    "FindingNotCommitted": "this sender has no commitment to this evidence from an earlier "
                           "block: the client commits before every challenge, proof and "
                           "report (a copy of another finder's call is refused)",
    "RevealTooEarly": "the commitment was made in block {committedAt}: send the call in a "
                      "later block" + _ADVANCE,
    "RecordNotFound": "request {requestId} has no record on chain to dispute",
    "DisputeExists": "{requestId} (a request id, or a batch leaf's dispute id) is disputed "
                     "already: see `attestia dispute status`",
    "LeafNotInBatch": "the leaf and its proof do not rebuild the root of batch {batchId} "
                      "(a wrong proof, or a leaf of another batch): take both from the "
                      "batch's published file",
    "WrongDisputeState": "the dispute of {requestId} is {state:dispute}, so this step does "
                         "not apply: see `attestia dispute status`",
    "ChallengeWindowClosed": "the challenge window closed at {closedAt:time} (a single "
                             "record's timestamp, or a batch's commit, + the challenge "
                             "window)",
    "DeadlinePassed": "the deadline passed at {deadline:time}",
    "DeadlineNotReached": "the deadline is {deadline:time}: wait until then" + _ADVANCE,
    "InputMismatch": "the revealed input is not the one the request committed to: check "
                     "--input and --salt",
    "OutputMismatch": "the output given is not the recorded one",
    "SpecMismatch": "the attribution spec {actual} is not the model's {expected}",
    "TotalsLengthMismatch": "{actual} label totals were given, the model has {expected}",
    "SharesMismatch": "the shares given are not the recorded attribution",
    "BpsDoNotFollow": "the claimed shares do not follow from the response's totals",
    "InvalidStepProof": "the proof of step {position} does not open the response's trace",
    "InvalidItemProof": "the proof of training item {index} does not open the data root",
    "InvalidSumsProof": "the proof of sums slot {slot} does not open the response's sums",
    "QueryMismatch": "the query is not the request's revealed input",
    "BadPosition": "position {position} is outside the response's trace",
    "NotFraud": "the step checks out: the worker's claim is right there, so it is no fraud",
    "RequestIdMismatch": "the two records name different requests ({expected}, {actual})",
    "RecordsDoNotConflict": "the two records of {requestId} agree: there is nothing to slash",
    "NotRecorded": "request {requestId} has no record on chain",
    "DescentExists": "{challenger} already has a descent in this dispute's round",
    "DescentsOpen": "{count} descents of this dispute are not settled yet: settle them "
                    "first (`attestia dispute settle`)",
    "NoDescent": "{challenger} has no open descent in this dispute's round",
    "NotYourTurn": "it is the other side's turn in this descent",
    "BadReveal": "the nodes or step given are not the ones below the descent's node",
    "ThirdPartyResponse": "only the worker or its operator responds without a bond; anyone "
                          "else defends once, with the dispute bond",
    # output disputes (OutputDisputes)
    "OutputsMismatch": "the OutputDisputes contract given to the Slasher was deployed with "
                       "other parameters (registry, treasury, bond or window)",
    "ZkRecord": "a ZK record's proof already binds its output: it has no output dispute",
    "ModelSpecMismatch": "the model spec {actual} is not the model's registered content hash "
                         "{expected}: use the model's own package",
    "BadModelSpec": "the model's spec is outside the integer network's bounds or does not fit "
                    "its attribution spec: its answers cannot be disputed on chain",
    "WrongOutputState": "the output dispute {disputeId} is {state}, so this step does not "
                        "apply: see `attestia dispute status --output`",
    "BadTrace": "hidden layer {layer} of the response does not have the model's width",
    "LayerMismatch": "the activations given for layer {layer} are not the committed ones",
    "InvalidRow": "neuron {neuron} of layer {layer} does not exist, or its row is not proven "
                  "at its place in the model's weights root",
    # the integer attribution library and test contracts
    "BadTensor": "a tensor does not have the shape the attribution spec gives",
    "BadSpec": "the attribution spec is malformed",
    "MockVerifierReverted": "the mock zk verifier was set to fail",
    # the ERC-20 used in tests
    "ERC20InsufficientAllowance": "{spender} may spend {allowance} of the {needed} tokens "
                                  "needed: approve more",
    "ERC20InsufficientBalance": "{sender} holds {balance} of the {needed} tokens needed",
    "ERC20InvalidApprover": "{approver} cannot approve",
    "ERC20InvalidReceiver": "{receiver} cannot receive tokens",
    "ERC20InvalidSender": "{sender} cannot send tokens",
    "ERC20InvalidSpender": "{spender} cannot be a spender",
}


class _Formatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec == "time":
            try:
                return iso_if_set(int(value)) or "never"
            except (OverflowError, OSError, ValueError):  # no date a calendar can show
                return f"unix time {int(value)}"
        if format_spec == "eth":
            return f"{int(value) / 10**18:.6f} ETH ({int(value)} wei)"
        if format_spec == "role":
            name = ROLE_NAMES.get(bytes(value))
            return name or f"the role 0x{bytes(value).hex()}"
        if format_spec == "dispute":
            try:
                return DisputeState(int(value)).name.lower().replace("_", " ")
            except ValueError:
                return f"in state {int(value)}"
        if format_spec == "proof":
            return proof_kind_name(int(value))
        if format_spec == "policy":
            return f"{int(value)} ({','.join(kinds_of(int(value))) or 'none'})"
        return super().format_field(_shown(value), format_spec)


def _shown(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    return value


def explain(name: str, args: Sequence[Any], names: Sequence[str]) -> str | None:
    """The sentence of custom error ``name`` with its decoded ``args`` (parameter ``names``
    from the ABI), or None for an error without one."""
    template = SENTENCES.get(name)
    if template is None:
        return None
    values: Mapping[str, Any] = dict(zip(names, args, strict=False))
    try:
        return _Formatter().format(template, **values)
    except (KeyError, IndexError, ValueError):
        # the same name with other parameters (Slasher's RosterMismatch() beside the
        # registry's RosterMismatch(expected, actual)): the words without the values
        return _FIELD.sub("?", template)


_FIELD = re.compile(r"\{\w+(![rsa])?(:\w+)?\}")
