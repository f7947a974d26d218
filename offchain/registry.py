"""The typed client of the deployed contracts: the only module that touches their ABI.

Every read returns a :mod:`offchain.protocol` dataclass (structs mapped by field name, never by
position), every write is a named method returning an unsent :class:`~offchain.chain.tx.Call`
(send it with ``Attestia.send`` or queue it in a worker's journal), and every event comes
decoded into a dataclass. Worker, client, settlement, verifier and CLI all go through here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import to_checksum_address
from hexbytes import HexBytes

from offchain.chain.contracts import Attestia
from offchain.chain.events import iter_events
from offchain.chain.tx import Call, abi_type
from offchain.protocol import (
    ZERO32,
    AttributionSpec,
    BatchInfo,
    DataItem,
    Dispute,
    DisputeState,
    EpochRoot,
    FraudKind,
    Inference,
    MeasurementStatus,
    Model,
    Payout,
    RecordStatus,
    Request,
    Share,
    Split,
    StepOpening,
    Worker,
    ZkProof,
    from_abi,
)

# -- events ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class EventMeta:
    """Where an event was emitted."""

    block: int
    tx_hash: str
    log_index: int

    @classmethod
    def of(cls, event: Any) -> EventMeta:
        return cls(int(event["blockNumber"]), "0x" + bytes(event["transactionHash"]).hex(),
                   int(event["logIndex"]))


@dataclass(frozen=True)
class Requested:
    """``InferenceRequested``: the request as stored (hashed) and its payload."""

    request_id: bytes
    request: Request
    payload: bytes
    meta: EventMeta


@dataclass(frozen=True)
class Recorded:
    """``InferenceRecorded``: a single record, its attribution list and fee split."""

    request_id: bytes
    inference: Inference
    shares: tuple[Share, ...]
    digest: bytes
    payout: Payout
    meta: EventMeta

    @property
    def block(self) -> int:
        return self.meta.block

    @property
    def tx_hash(self) -> str:
        return self.meta.tx_hash


@dataclass(frozen=True)
class Rejected:
    """``RequestRejected``."""

    request_id: bytes
    rejected_by: str
    refund: int
    reason: str
    meta: EventMeta


@dataclass(frozen=True)
class Cancelled:
    """``RequestCancelled``."""

    request_id: bytes
    requester: str
    refund: int
    meta: EventMeta


@dataclass(frozen=True)
class BatchCommitted:
    """``BatchCommitted``: a batch root, its deposit and where its file is published."""

    batch_id: bytes
    model_id: bytes
    worker: str
    root: bytes
    count: int
    epoch: int
    deposit: int
    data_uri: str
    data_hash: bytes
    """keccak256 of the published batch file's bytes: settlement refuses a file that differs."""
    meta: EventMeta


@dataclass(frozen=True)
class WorkerRegistered:
    """``WorkerRegistered``."""

    signer: str
    operator: str
    stake: int
    encryption_key: bytes
    meta: EventMeta


@dataclass(frozen=True)
class MeasurementEvent:
    """``MeasurementAllowed`` (allowed=True) or ``MeasurementRevoked`` (allowed=False)."""

    measurement: bytes
    allowed: bool
    timestamp: int
    meta: EventMeta


@dataclass(frozen=True)
class RootProposed:
    """``RootProposed`` (distributor)."""

    epoch: int
    root: bytes
    total: int
    ready_at: int
    meta: EventMeta


@dataclass(frozen=True)
class Claimed:
    """``Claimed`` (distributor)."""

    account: str
    epoch: int
    amount: int
    cumulative: int
    meta: EventMeta


def decode_requested(event: Any) -> Requested:
    a = event["args"]
    request = from_abi(Request, a["request"])
    return Requested(bytes(a["requestId"]), request, bytes(a["payload"]), EventMeta.of(event))


def decode_recorded(event: Any) -> Recorded:
    a = event["args"]
    shares = tuple(Share(to_checksum_address(s["account"]), int(s["bps"])) for s in a["shares"])
    return Recorded(bytes(a["requestId"]), from_abi(Inference, a["inference"]), shares,
                    bytes(a["digest"]), from_abi(Payout, a["payout"]), EventMeta.of(event))


def decode_batch_committed(event: Any) -> BatchCommitted:
    a = event["args"]
    return BatchCommitted(bytes(a["batchId"]), bytes(a["modelId"]),
                          to_checksum_address(a["worker"]), bytes(a["root"]), int(a["count"]),
                          int(a["epoch"]), int(a["deposit"]),
                          str(a["dataURI"]), bytes(a["dataHash"]), EventMeta.of(event))


# -- the registry ----------------------------------------------------------------------------

class Registry:
    """Typed reads, call builders and decoded events of the deployed ``InferenceRegistry``."""

    def __init__(self, attestia: Attestia) -> None:
        self.attestia = attestia
        self.contract = attestia.registry
        self._fn = self.contract.functions

    @property
    def address(self) -> str:
        return str(self.contract.address)

    # reads ---------------------------------------------------------------------------------
    def model(self, model_id: bytes) -> Model | None:
        """The registered model, or None when the id is not registered."""
        model = from_abi(Model, self._fn.getModel(model_id).call())
        return model if model.exists else None

    def worker(self, signer: str) -> Worker | None:
        """The registered worker key, or None when it never registered."""
        worker = from_abi(Worker, self._fn.getWorker(signer).call())
        return worker if worker.exists else None

    def is_active_worker(self, signer: str) -> bool:
        return bool(self._fn.isActiveWorker(signer).call())

    def measurement_status(self, measurement: bytes) -> MeasurementStatus:
        return from_abi(MeasurementStatus, self._fn.measurementStatus(measurement).call())

    def batch_info(self, batch_id: bytes) -> BatchInfo:
        committed_at, count, deposit, swept = self._fn.batchInfo(batch_id).call()
        return BatchInfo(int(committed_at), int(count), int(deposit), bool(swept))

    def request_state(self, request_id: bytes) -> bytes:
        return bytes(self._fn.requestState(request_id).call())

    def record_status(self, request_id: bytes, inference: Inference) -> RecordStatus:
        """Through the RegistryLens (the views live beside the registry, for its size)."""
        return from_abi(RecordStatus, self.attestia.lens.functions.recordStatus(
            request_id, inference.as_tuple()).call())

    def batch_status(self, root: bytes, model_id: bytes, worker: str) -> RecordStatus:
        return from_abi(RecordStatus, self.attestia.lens.functions.batchStatus(
            root, model_id, worker).call())

    def proof_used(self, proof_hash: bytes) -> bool:
        return bool(self._fn.proofUsed(proof_hash).call())

    def nonce(self, signer: str) -> int:
        """The worker key's EIP-712 nonce (consent signatures are single-use)."""
        return int(self._fn.nonces(signer).call())

    def challenge_window(self) -> int:
        return int(self._fn.challengeWindow().call())

    def model_id_of(self, owner: str, content_hash: bytes) -> bytes:
        return bytes(self._fn.modelIdOf(owner, content_hash).call())

    def contributors(self, model_id: bytes) -> list[str] | None:
        """The model's registered roster, from its ModelRegistered event (only its hash is
        stored); None when the model is not registered."""
        events = list(self._events("ModelRegistered", None, None, {"modelId": model_id}))
        if not events:
            return None
        return [to_checksum_address(a) for a in events[-1]["args"]["contributors"]]

    def sealed_result(self, tx_hash: str | bytes) -> bytes:
        """The ``sealedResult`` argument of a fulfill transaction (any of its four forms).

        It is every form's last argument; the implementation's ABI leaves it unnamed."""
        tx = self.attestia.chain.w3.eth.get_transaction(HexBytes(tx_hash))
        fn, _ = self.contract.decode_function_input(tx["input"])
        types = [abi_type(p) for p in fn.abi["inputs"]]
        *_, sealed_result = abi_decode(types, bytes(tx["input"])[4:])
        return bytes(sealed_result)

    def verify_inclusion(self, batch_id: bytes, inference: Inference,
                         proof: Sequence[bytes]) -> bool:
        return bool(self.attestia.lens.functions.verifyInclusion(
            batch_id, inference.as_tuple(), list(proof)).call())

    def current_epoch(self) -> int:
        return int(self._fn.currentEpoch().call())

    def epoch_pool(self, epoch: int) -> int:
        return int(self._fn.epochPool(epoch).call())

    def balance(self, account: str) -> int:
        return int(self._fn.balances(account).call())

    def min_stake(self) -> int:
        return int(self._fn.minStake().call())

    def unbonding_delay(self) -> int:
        return int(self._fn.unbondingDelay().call())

    def request_timeout(self) -> int:
        return int(self._fn.requestTimeout().call())

    def genesis(self) -> int:
        return int(self._fn.genesis().call())

    def epoch_length(self) -> int:
        return int(self._fn.epochLength().call())

    def governance_role(self) -> bytes:
        return bytes(self._fn.GOVERNANCE_ROLE().call())

    def has_role(self, role: bytes, account: str) -> bool:
        return bool(self._fn.hasRole(role, account).call())

    # writes (unsent calls) -----------------------------------------------------------------
    def register_model(self, content_hash: bytes, metadata_uri: str, data_root: bytes,
                       contributors: Sequence[str], policy: int, fee: int, split: Split) -> Call:
        """Registers under ``modelIdOf(sender, content_hash)`` (protocol.model_id)."""
        return Call.of(self._fn.registerModel(content_hash, metadata_uri, data_root,
                                              list(contributors), policy, fee,
                                              split.as_tuple()))

    def set_terms(self, model_id: bytes, fee: int, policy: int, split: Split) -> Call:
        """New fee, policy and split (owner only); requests already paid keep theirs."""
        return Call.of(self._fn.setTerms(model_id, fee, policy, split.as_tuple()))

    def set_verifier(self, model_id: bytes, verifier: str) -> Call:
        return Call.of(self._fn.setVerifier(model_id, verifier))

    def deprecate_model(self, model_id: bytes) -> Call:
        return Call.of(self._fn.deprecateModel(model_id))

    def revoke_model(self, model_id: bytes) -> Call:
        return Call.of(self._fn.revokeModel(model_id))

    def register_worker(self, signer: str, encryption_key: bytes, stake: int, *,
                        deadline: int = 0, signature: bytes = b"") -> Call:
        """Sent by the operator; ``signature`` is the key's WorkerRegistration consent
        (protocol.worker_registration_digest), unneeded when the key sends it itself."""
        return Call.of(self._fn.registerWorker(signer, encryption_key, deadline, signature),
                       value=stake)

    def set_encryption_key(self, signer: str, encryption_key: bytes, *, deadline: int = 0,
                           signature: bytes = b"") -> Call:
        return Call.of(self._fn.setEncryptionKey(signer, encryption_key, deadline, signature))

    def add_stake(self, signer: str, amount: int) -> Call:
        return Call.of(self._fn.addStake(signer), value=amount)

    def begin_unbonding(self, signer: str) -> Call:
        return Call.of(self._fn.beginUnbonding(signer))

    def withdraw_stake(self, signer: str) -> Call:
        return Call.of(self._fn.withdrawStake(signer))

    def bind_enclave(self, signer: str, measurement: bytes, attestation_hash: bytes,
                     attestation_uri: str) -> Call:
        return Call.of(self._fn.bindEnclave(signer, measurement, attestation_hash,
                                            attestation_uri))

    def allow_measurement(self, measurement: bytes) -> Call:
        return Call.of(self._fn.allowMeasurement(measurement))

    def revoke_measurement(self, measurement: bytes) -> Call:
        return Call.of(self._fn.revokeMeasurement(measurement))

    def revoke_worker(self, signer: str) -> Call:
        return Call.of(self._fn.revokeWorker(signer))

    def request_inference(self, model_id: bytes, worker: str, input_commitment: bytes,
                          payload: bytes, fee: int, *, zk_input_hash: bytes = ZERO32,
                          gas: int | None = None) -> Call:
        return Call.of(self._fn.requestInference(model_id, worker, input_commitment,
                                                 zk_input_hash, payload), value=fee, gas=gas)

    def cancel_request(self, request: Request) -> Call:
        return Call.of(self._fn.cancelRequest(request.as_tuple()))

    def reject_request(self, request: Request, reason: str, *, gas: int | None = None) -> Call:
        return Call.of(self._fn.rejectRequest(request.as_tuple(), reason), gas=gas)

    # Every single record carries the model's roster (the registry checks its hash and that
    # every payee is in it) and the sealed result its resultHash commits to.
    def fulfill(self, request: Request, inference: Inference, shares: Sequence[Share],
                roster: Sequence[str], sealed_result: bytes, *, gas: int | None = None) -> Call:
        return Call.of(self._fn.fulfill(request.as_tuple(), inference.as_tuple(),
                                        [tuple(s) for s in shares], list(roster), sealed_result),
                       gas=gas)

    def fulfill_by_sig(self, request: Request, inference: Inference, shares: Sequence[Share],
                       roster: Sequence[str], signature: bytes, sealed_result: bytes, *,
                       gas: int | None = None) -> Call:
        return Call.of(self._fn.fulfillBySig(request.as_tuple(), inference.as_tuple(),
                                             [tuple(s) for s in shares], list(roster), signature,
                                             sealed_result), gas=gas)

    def fulfill_zk(self, request: Request, inference: Inference, shares: Sequence[Share],
                   roster: Sequence[str], zk: ZkProof, sealed_result: bytes, *,
                   gas: int | None = None) -> Call:
        return Call.of(self._fn.fulfillZk(request.as_tuple(), inference.as_tuple(),
                                          [tuple(s) for s in shares], list(roster),
                                          zk.as_tuple(), sealed_result), gas=gas)

    def fulfill_zk_by_sig(self, request: Request, inference: Inference, shares: Sequence[Share],
                          roster: Sequence[str], signature: bytes, zk: ZkProof,
                          sealed_result: bytes, *, gas: int | None = None) -> Call:
        return Call.of(self._fn.fulfillZkBySig(request.as_tuple(), inference.as_tuple(),
                                               [tuple(s) for s in shares], list(roster),
                                               signature, zk.as_tuple(), sealed_result), gas=gas)

    def commit_batch(self, root: bytes, count: int, model_id: bytes, epoch: int, data_uri: str,
                     data_hash: bytes, deposit: int, *, gas: int | None = None) -> Call:
        return Call.of(self._fn.commitBatch(root, count, model_id, epoch, data_uri, data_hash),
                       value=deposit, gas=gas)

    def commit_batch_by_sig(self, root: bytes, count: int, model_id: bytes, epoch: int,
                            data_uri: str, data_hash: bytes, worker: str, signature: bytes,
                            deposit: int) -> Call:
        return Call.of(self._fn.commitBatchBySig(root, count, model_id, epoch, data_uri,
                                                 data_hash, worker, signature), value=deposit)

    def sweep_epoch(self, epoch: int) -> Call:
        return Call.of(self._fn.sweepEpoch(epoch))

    def sweep_batches(self, batch_ids: Sequence[bytes]) -> Call:
        return Call.of(self._fn.sweepBatches(list(batch_ids)))

    def withdraw(self) -> Call:
        return Call.of(self._fn.withdraw())

    def slash_equivocation(self, a: Inference, signature_a: bytes, b: Inference,
                           signature_b: bytes) -> Call:
        """Evidence that a worker signed two conflicting records for one request (sent to the
        Slasher; a record the registry already holds needs no signature: pass b"")."""
        return Call.of(self.attestia.slasher.functions.slashEquivocation(
            a.as_tuple(), signature_a, b.as_tuple(), signature_b))

    def slasher_balance(self, account: str) -> int:
        """Slashed stake credited to a reporter or the treasury, pulled with slasher_withdraw."""
        return int(self.attestia.slasher.functions.balances(account).call())

    def slasher_withdraw(self) -> Call:
        return Call.of(self.attestia.slasher.functions.withdraw())

    # events --------------------------------------------------------------------------------
    def _events(self, name: str, from_block: int | None, to_block: int | None,
                filters: dict[str, Any] | None = None) -> Iterator[Any]:
        start = self.attestia.first_block if from_block is None else from_block
        return iter_events(self.contract, name, start, to_block, argument_filters=filters)

    def requested(self, from_block: int | None = None, to_block: int | None = None, *,
                  request_id: bytes | None = None, worker: str | None = None
                  ) -> list[Requested]:
        filters: dict[str, Any] = {}
        if request_id is not None:
            filters["requestId"] = request_id
        if worker is not None:
            filters["worker"] = worker
        return [decode_requested(e) for e in self._events(
            "InferenceRequested", from_block, to_block, filters or None)]

    def recorded(self, from_block: int | None = None, to_block: int | None = None, *,
                 request_id: bytes | None = None) -> list[Recorded]:
        filters = {"requestId": request_id} if request_id is not None else None
        return [decode_recorded(e) for e in self._events(
            "InferenceRecorded", from_block, to_block, filters)]

    def rejected(self, from_block: int | None = None, to_block: int | None = None, *,
                 request_id: bytes | None = None) -> list[Rejected]:
        filters = {"requestId": request_id} if request_id is not None else None
        return [Rejected(bytes(e["args"]["requestId"]), e["args"]["rejectedBy"],
                         int(e["args"]["refund"]), str(e["args"]["reason"]), EventMeta.of(e))
                for e in self._events("RequestRejected", from_block, to_block, filters)]

    def cancelled(self, from_block: int | None = None, to_block: int | None = None, *,
                  request_id: bytes | None = None) -> list[Cancelled]:
        filters = {"requestId": request_id} if request_id is not None else None
        return [Cancelled(bytes(e["args"]["requestId"]), e["args"]["requester"],
                          int(e["args"]["refund"]), EventMeta.of(e))
                for e in self._events("RequestCancelled", from_block, to_block, filters)]

    def batches(self, from_block: int | None = None, to_block: int | None = None, *,
                batch_id: bytes | None = None) -> list[BatchCommitted]:
        filters = {"batchId": batch_id} if batch_id is not None else None
        return [decode_batch_committed(e) for e in self._events(
            "BatchCommitted", from_block, to_block, filters)]

    def measurement_events(self, from_block: int | None = None, to_block: int | None = None
                           ) -> list[MeasurementEvent]:
        """Governance's MeasurementAllowed and MeasurementRevoked events, in chain order."""
        out = [MeasurementEvent(bytes(e["args"]["measurement"]), name == "MeasurementAllowed",
                                int(e["args"]["timestamp"]), EventMeta.of(e))
               for name in ("MeasurementAllowed", "MeasurementRevoked")
               for e in self._events(name, from_block, to_block)]
        return sorted(out, key=lambda e: (e.meta.block, e.meta.log_index))

    def workers_registered(self, from_block: int | None = None, to_block: int | None = None
                           ) -> list[WorkerRegistered]:
        return [WorkerRegistered(e["args"]["signer"], e["args"]["operator"],
                                 int(e["args"]["stake"]), bytes(e["args"]["encryptionKey"]),
                                 EventMeta.of(e))
                for e in self._events("WorkerRegistered", from_block, to_block)]


# -- attribution disputes (the Slasher) -----------------------------------------------------

@dataclass(frozen=True)
class RevealedInput:
    """A record's input as a challenge published it on chain (``challenge`` calldata)."""

    input_bytes: bytes
    salt: bytes
    tx_hash: str


@dataclass(frozen=True)
class DisputeOpened:
    """``DisputeOpened``: a challenge; the quantised input and label are now public."""

    request_id: bytes
    worker: str
    challenger: str
    bond: int
    label: int
    query: tuple[int, ...]
    respond_by: int
    meta: EventMeta


@dataclass(frozen=True)
class DisputeResponded:
    """``DisputeResponded``: the worker's trace root, where the trace is, and its totals."""

    request_id: bytes
    trace_root: bytes
    trace_uri: str
    totals: tuple[int, ...]
    prove_by: int
    meta: EventMeta


@dataclass(frozen=True)
class DisputeResolved:
    """``DisputeResolved``: how a dispute ended (FRAUD/NO_RESPONSE: equal split)."""

    request_id: bytes
    outcome: DisputeState
    kind: FraudKind
    position: int
    by: str
    slashed: int
    meta: EventMeta


class Disputes:
    """Typed client of the attribution-dispute game (IAttributionDisputes, in the Slasher)."""

    def __init__(self, attestia: Attestia) -> None:
        self.attestia = attestia

    @property
    def contract(self) -> Any:
        return self.attestia.slasher

    @property
    def _fn(self) -> Any:
        return self.contract.functions

    @property
    def address(self) -> str:
        return str(self.contract.address)

    # reads ---------------------------------------------------------------------------------
    def get(self, request_id: bytes) -> Dispute:
        return from_abi(Dispute, self._fn.getDispute(request_id).call())

    def bond(self) -> int:
        return int(self._fn.disputeBond().call())

    def response_window(self) -> int:
        return int(self._fn.responseWindow().call())

    # writes --------------------------------------------------------------------------------
    def challenge(self, record: Inference, input_bytes: bytes, salt: bytes, output: bytes,
                  spec: AttributionSpec, bond: int) -> Call:
        return Call.of(self._fn.challenge(record.as_tuple(), input_bytes, salt, output,
                                          spec.as_tuple()), value=bond)

    def respond(self, request_id: bytes, trace_root: bytes, trace_uri: str,
                totals: Sequence[int], roster: Sequence[str], shares: Sequence[Share]) -> Call:
        return Call.of(self._fn.respond(request_id, trace_root, trace_uri, list(totals),
                                        list(roster), [tuple(x) for x in shares]))

    def prove_item(self, request_id: bytes, opened: StepOpening, item: DataItem,
                   item_proof: Sequence[bytes], query: Sequence[int]) -> Call:
        return Call.of(self._fn.proveItem(request_id, opened.as_tuple(), item.as_tuple(),
                                          list(item_proof), list(query)))

    def prove_order(self, request_id: bytes, opened: StepOpening, following: StepOpening
                    ) -> Call:
        return Call.of(self._fn.proveOrder(request_id, opened.as_tuple(), following.as_tuple()))

    def prove_value(self, request_id: bytes, opened: StepOpening, following: StepOpening
                    ) -> Call:
        return Call.of(self._fn.proveValue(request_id, opened.as_tuple(), following.as_tuple()))

    def prove_sum(self, request_id: bytes, opened: StepOpening, previous: StepOpening,
                  account: str, total: int, sums_proof: Sequence[bytes]) -> Call:
        return Call.of(self._fn.proveSum(request_id, opened.as_tuple(), previous.as_tuple(),
                                         account, total, list(sums_proof)))

    def prove_end(self, request_id: bytes, last: StepOpening) -> Call:
        return Call.of(self._fn.proveEnd(request_id, last.as_tuple()))

    def prove_duplicate(self, request_id: bytes, a: StepOpening, b: StepOpening) -> Call:
        return Call.of(self._fn.proveDuplicate(request_id, a.as_tuple(), b.as_tuple()))

    def resolve(self, request_id: bytes) -> Call:
        return Call.of(self._fn.resolve(request_id))

    # events --------------------------------------------------------------------------------
    def _events(self, name: str, from_block: int | None, to_block: int | None,
                filters: dict[str, Any] | None) -> Iterator[Any]:
        start = self.attestia.first_block if from_block is None else from_block
        return iter_events(self.contract, name, start, to_block, argument_filters=filters)

    def opened(self, from_block: int | None = None, to_block: int | None = None, *,
               request_id: bytes | None = None, worker: str | None = None
               ) -> list[DisputeOpened]:
        filters: dict[str, Any] = {}
        if request_id is not None:
            filters["requestId"] = request_id
        if worker is not None:
            filters["worker"] = worker
        out = []
        for e in self._events("DisputeOpened", from_block, to_block, filters or None):
            a = e["args"]
            out.append(DisputeOpened(bytes(a["requestId"]), a["worker"], a["challenger"],
                                     int(a["bond"]), int(a["label"]),
                                     tuple(int(v) for v in a["query"]), int(a["respondBy"]),
                                     EventMeta.of(e)))
        return out

    def revealed_input(self, request_id: bytes) -> RevealedInput | None:
        """The input and salt a challenge of ``request_id`` published: the arguments of the
        ``challenge`` transaction behind its DisputeOpened event (None: never challenged, or
        the challenge was relayed by a contract, whose calldata is not the call's)."""
        for opened in reversed(self.opened(request_id=request_id)):
            tx = self.attestia.chain.w3.eth.get_transaction(HexBytes(opened.meta.tx_hash))
            to = tx.get("to")
            if to is None or to_checksum_address(to) != self.address:
                continue
            try:
                fn, args = self.contract.decode_function_input(tx["input"])
            except ValueError:
                continue
            if fn.fn_name == "challenge":
                return RevealedInput(bytes(args["input"]), bytes(args["salt"]),
                                     opened.meta.tx_hash)
        return None

    def responded(self, from_block: int | None = None, to_block: int | None = None, *,
                  request_id: bytes | None = None) -> list[DisputeResponded]:
        filters = {"requestId": request_id} if request_id is not None else None
        out = []
        for e in self._events("DisputeResponded", from_block, to_block, filters):
            a = e["args"]
            out.append(DisputeResponded(bytes(a["requestId"]), bytes(a["traceRoot"]),
                                        str(a["traceURI"]), tuple(int(v) for v in a["totals"]),
                                        int(a["proveBy"]), EventMeta.of(e)))
        return out

    def resolved(self, from_block: int | None = None, to_block: int | None = None, *,
                 request_id: bytes | None = None) -> list[DisputeResolved]:
        filters = {"requestId": request_id} if request_id is not None else None
        out = []
        for e in self._events("DisputeResolved", from_block, to_block, filters):
            a = e["args"]
            out.append(DisputeResolved(bytes(a["requestId"]), DisputeState(int(a["outcome"])),
                                       FraudKind(int(a["kind"])), int(a["position"]), a["by"],
                                       int(a["slashed"]), EventMeta.of(e)))
        return out


# -- the distributor -------------------------------------------------------------------------

@dataclass(frozen=True)
class Funding:
    """What the distributor received (swept pools, direct funding) and what it paid out."""

    funded: int
    claimed: int

    @property
    def unclaimed(self) -> int:
        """What it still holds for contributors."""
        return self.funded - self.claimed


class Distributor:
    """Typed reads, call builders and decoded events of the deployed ``RewardDistributor``."""

    def __init__(self, attestia: Attestia) -> None:
        self.attestia = attestia
        self.contract = attestia.distributor
        self._fn = self.contract.functions

    @property
    def address(self) -> str:
        return str(self.contract.address)

    def epoch_root(self, epoch: int) -> EpochRoot:
        return from_abi(EpochRoot, self._fn.epochRoot(epoch).call())

    def claimable_root(self) -> tuple[int, bytes, int] | None:
        """(epoch, root, total) of the root claims are checked against now; None if none."""
        exists, epoch, root, total = self._fn.claimableRoot().call()
        return (int(epoch), bytes(root), int(total)) if exists else None

    def claimed(self, account: str) -> int:
        return int(self._fn.claimed(account).call())

    def total_funded(self) -> int:
        return int(self._fn.totalFunded().call())

    def total_claimed(self) -> int:
        return int(self._fn.totalClaimed().call())

    def funding(self) -> Funding:
        return Funding(self.total_funded(), self.total_claimed())

    def timelock(self) -> int:
        return int(self._fn.timelock().call())

    def asset(self) -> str:
        return str(self._fn.asset().call())

    def fund(self, amount: int, *, token: bool = False) -> Call:
        """Add ``amount`` to the rewards: sent as ETH, or pulled from the sender's token
        allowance when the distributor pays in a token."""
        return Call.of(self._fn.fund(amount), value=0 if token else amount)

    def propose_root(self, epoch: int, root: bytes, total: int) -> Call:
        return Call.of(self._fn.proposeRoot(epoch, root, total))

    def cancel_root(self, epoch: int) -> Call:
        return Call.of(self._fn.cancelRoot(epoch))

    def activate_root(self, epoch: int) -> Call:
        return Call.of(self._fn.activateRoot(epoch))

    def claim(self, account: str, cumulative: int, proof: Sequence[bytes]) -> Call:
        return Call.of(self._fn.claim(account, cumulative, list(proof)))

    def _events(self, name: str, from_block: int | None, to_block: int | None) -> Iterator[Any]:
        start = self.attestia.first_block if from_block is None else from_block
        return iter_events(self.contract, name, start, to_block)

    def roots_proposed(self, from_block: int | None = None, to_block: int | None = None
                       ) -> list[RootProposed]:
        return [RootProposed(int(e["args"]["epoch"]), bytes(e["args"]["root"]),
                             int(e["args"]["total"]), int(e["args"]["readyAt"]), EventMeta.of(e))
                for e in self._events("RootProposed", from_block, to_block)]

    def claims(self, from_block: int | None = None, to_block: int | None = None
               ) -> list[Claimed]:
        return [Claimed(e["args"]["account"], int(e["args"]["epoch"]), int(e["args"]["amount"]),
                        int(e["args"]["cumulative"]), EventMeta.of(e))
                for e in self._events("Claimed", from_block, to_block)]
