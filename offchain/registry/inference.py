"""The typed client of ``InferenceRegistry``: models, workers, requests, records, batches and
epochs, with their events."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_abi_to_4byte_selector
from hexbytes import HexBytes

from offchain.chain.light import receipt_events
from offchain.chain.tx import Call, Sender, abi_type
from offchain.protocol import (
    ZERO32,
    BatchInfo,
    Inference,
    MeasurementStatus,
    Model,
    Request,
    Share,
    Split,
    Worker,
    ZkProof,
    from_abi,
)
from offchain.registry.base import ContractClient
from offchain.registry.events import (
    BatchCommitted,
    InferenceRecorded,
    InferenceRequested,
    MeasurementEvent,
    ModelRegistered,
    ModelTermsUpdated,
    RequestCancelled,
    RequestRejected,
    WorkerRegistered,
    decode_batch_committed,
    decode_cancelled,
    decode_measurement,
    decode_model_registered,
    decode_model_terms_updated,
    decode_recorded,
    decode_rejected,
    decode_requested,
    decode_worker_registered,
)


@dataclass(frozen=True)
class SubmittedRecord:
    """What a transaction to the registry submitted, decoded from its calldata."""

    method: str
    inference: Inference | None
    signature: bytes | None
    zk: ZkProof | None


class Registry(ContractClient):
    """Typed reads, call builders and decoded events of the deployed ``InferenceRegistry``."""

    # reads ---------------------------------------------------------------------------------
    def model(self, model_id: bytes) -> Model | None:
        """The registered model, or None when the id is not registered."""
        model = from_abi(Model, self._fn.getModel(model_id).call())
        return model if model.exists else None

    def model_and_epoch(self, model_id: bytes, reader: Sender) -> tuple[Model | None, int]:
        """:meth:`model` and :meth:`current_epoch` in one round trip (``reader``'s JSON-RPC
        batch): what a batch commit needs, read per batch."""
        model, epoch = reader.read_many([self._fn.getModel(model_id), self._fn.currentEpoch()])
        found = from_abi(Model, model)
        return (found if found.exists else None), int(epoch)

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

    def request_state_call(self, request_id: bytes) -> Call:
        """``requestState`` as a Call (for ``Sender.call_many``: many read in one round
        trip); its return data is the bytes32 itself."""
        return Call.of(self._fn.requestState(request_id))

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
        events = self.models_registered(model_id=model_id)
        return list(events[-1].contributors) if events else None

    def sealed_result(self, tx_hash: str | bytes) -> bytes:
        """The ``sealedResult`` argument of a fulfill transaction (any of its four forms).

        It is every form's last argument; the implementation's ABI leaves it unnamed."""
        tx = self.contract.w3.eth.get_transaction(HexBytes(tx_hash))
        fn, _ = self.contract.decode_function_input(tx["input"])
        types = [abi_type(p) for p in fn.abi["inputs"]]
        *_, sealed_result = abi_decode(types, bytes(tx["input"])[4:])
        return bytes(sealed_result)

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
                          payload: bytes, terms: Model, *, zk_input_hash: bytes = ZERO32,
                          gas: int | None = None) -> Call:
        """Pays ``terms.fee`` under the terms read in ``terms`` (the model as the requester saw
        it): if the owner changes fee, split, policy or verifier first, it reverts
        (TermsChanged) and nothing is paid."""
        return Call.of(self._fn.requestInference(model_id, worker, input_commitment,
                                                 zk_input_hash, terms.terms_hash, payload),
                       value=terms.fee, gas=gas)

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

    # calldata ------------------------------------------------------------------------------
    def submitted(self, calldata: bytes) -> SubmittedRecord:
        """The record a registry call submitted (its method, Inference, signature and ZkProof,
        each None when the method takes none); ValueError when the calldata is no call of
        this registry's ABI."""
        fn, args = self.contract.decode_function_input(calldata)
        inference = _inference_arg(args["inference"]) if "inference" in args else None
        signature = bytes(args["signature"]) if "signature" in args else None
        zk = _zk_arg(args["zk"]) if "zk" in args else None
        return SubmittedRecord(str(fn.fn_name), inference, signature, zk)

    def calldata_encoder(self, name: str) -> Callable[[Sequence[Any]], bytes]:
        """calldata of function ``name`` from ABI-ordered arguments, encoded by eth_abi
        directly (web3's encode_abi validates against the whole ABI on every call, ~10 ms:
        the bench that signs thousands of raw transactions cannot afford it)."""
        abi: dict[str, Any] = next(dict(e) for e in self.contract.abi
                                   if e.get("type") == "function" and e.get("name") == name)
        types = [abi_type(p) for p in abi["inputs"]]
        selector = function_abi_to_4byte_selector(cast(Any, abi))

        def encode(args: Sequence[Any]) -> bytes:
            return selector + abi_encode(types, list(args))
        return encode

    # events --------------------------------------------------------------------------------
    def requested_in(self, receipt: Any) -> list[InferenceRequested]:
        """The ``InferenceRequested`` events of a transaction receipt (other logs skipped)."""
        return [decode_requested(log)
                for log in receipt_events(self.contract, "InferenceRequested", receipt)]

    def recorded_in(self, receipt: Any) -> list[InferenceRecorded]:
        """The ``InferenceRecorded`` events of a transaction receipt (other logs skipped)."""
        return [decode_recorded(log)
                for log in receipt_events(self.contract, "InferenceRecorded", receipt)]

    def models_registered(self, from_block: int | None = None, to_block: int | None = None, *,
                          model_id: bytes | None = None, content_hash: bytes | None = None
                          ) -> list[ModelRegistered]:
        filters: dict[str, Any] = {}
        if model_id is not None:
            filters["modelId"] = model_id
        if content_hash is not None:
            filters["contentHash"] = content_hash
        return [decode_model_registered(e) for e in self._events(
            "ModelRegistered", from_block, to_block, filters or None)]

    def terms_updated(self, from_block: int | None = None, to_block: int | None = None, *,
                      model_id: bytes | None = None) -> list[ModelTermsUpdated]:
        filters = {"modelId": model_id} if model_id is not None else None
        return [decode_model_terms_updated(e) for e in self._events(
            "ModelTermsUpdated", from_block, to_block, filters)]

    def requested(self, from_block: int | None = None, to_block: int | None = None, *,
                  request_id: bytes | None = None, worker: str | None = None
                  ) -> list[InferenceRequested]:
        filters: dict[str, Any] = {}
        if request_id is not None:
            filters["requestId"] = request_id
        if worker is not None:
            filters["worker"] = worker
        return [decode_requested(e) for e in self._events(
            "InferenceRequested", from_block, to_block, filters or None)]

    def recorded(self, from_block: int | None = None, to_block: int | None = None, *,
                 request_id: bytes | None = None) -> list[InferenceRecorded]:
        filters = {"requestId": request_id} if request_id is not None else None
        return [decode_recorded(e) for e in self._events(
            "InferenceRecorded", from_block, to_block, filters)]

    def rejected(self, from_block: int | None = None, to_block: int | None = None, *,
                 request_id: bytes | None = None) -> list[RequestRejected]:
        filters = {"requestId": request_id} if request_id is not None else None
        return [decode_rejected(e)
                for e in self._events("RequestRejected", from_block, to_block, filters)]

    def cancelled(self, from_block: int | None = None, to_block: int | None = None, *,
                  request_id: bytes | None = None) -> list[RequestCancelled]:
        filters = {"requestId": request_id} if request_id is not None else None
        return [decode_cancelled(e)
                for e in self._events("RequestCancelled", from_block, to_block, filters)]

    def batches(self, from_block: int | None = None, to_block: int | None = None, *,
                batch_id: bytes | None = None) -> list[BatchCommitted]:
        filters = {"batchId": batch_id} if batch_id is not None else None
        return [decode_batch_committed(e) for e in self._events(
            "BatchCommitted", from_block, to_block, filters)]

    def measurement_events(self, from_block: int | None = None, to_block: int | None = None
                           ) -> list[MeasurementEvent]:
        """Governance's MeasurementAllowed and MeasurementRevoked events, in chain order."""
        out = [decode_measurement(e)
               for name in ("MeasurementAllowed", "MeasurementRevoked")
               for e in self._events(name, from_block, to_block)]
        return sorted(out, key=lambda e: (e.meta.block, e.meta.log_index))

    def workers_registered(self, from_block: int | None = None, to_block: int | None = None
                           ) -> list[WorkerRegistered]:
        return [decode_worker_registered(e)
                for e in self._events("WorkerRegistered", from_block, to_block)]


def _inference_arg(value: Any) -> Inference:
    """A decoded ``Inference`` call argument, mapped by field name when it carries names."""
    if isinstance(value, Mapping) or hasattr(value, "_asdict"):
        return from_abi(Inference, value)
    return Inference.from_tuple(value)


def _zk_arg(value: Any) -> ZkProof:
    """A decoded ``ZkProof`` call argument."""
    if hasattr(value, "_asdict"):
        value = value._asdict()
    if isinstance(value, Mapping):
        proof, instances = value["proof"], value["instances"]
    else:
        proof, instances = value
    return ZkProof(bytes(proof), tuple(int(v) for v in instances))
