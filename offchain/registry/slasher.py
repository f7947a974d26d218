"""The typed client of the ``Slasher``: equivocation slashing, the attribution-dispute game
(IAttributionDisputes), the output-dispute game (IOutputDisputes, served at the Slasher's
address) and the slashed stake they credit."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from eth_utils import to_checksum_address
from hexbytes import HexBytes

from offchain.chain.tx import Call
from offchain.protocol import (
    AttributionSpec,
    DataItem,
    Descent,
    Dispute,
    FraudKind,
    Inference,
    ModelSpec,
    NeuronOpening,
    NeuronRow,
    OutputDispute,
    Share,
    StepOpening,
    TraceStep,
    equivocation_evidence_id,
    finding_commitment,
    fraud_evidence_id,
    from_abi,
    inference_digest,
    layer_hash,
    leaf_dispute_id,
    leaf_hash,
    neuron_evidence_id,
    output_dispute_id,
)
from offchain.registry.base import ContractClient
from offchain.registry.events import (
    DescentOpened,
    DisputeOpened,
    DisputeResolved,
    DisputeResponded,
    LeafChallenged,
    NodesRevealed,
    OutputDisputeOpened,
    OutputDisputeResolved,
    OutputResponded,
    StepRevealed,
    decode_descent_opened,
    decode_dispute_opened,
    decode_dispute_resolved,
    decode_dispute_responded,
    decode_leaf_challenged,
    decode_nodes_revealed,
    decode_output_opened,
    decode_output_resolved,
    decode_output_responded,
    decode_step_revealed,
)


@dataclass(frozen=True)
class RevealedInput:
    """A record's input as a challenge published it on chain (``challenge`` calldata)."""

    input_bytes: bytes
    salt: bytes
    tx_hash: str


def new_salt() -> bytes:
    """A finder's fresh commitment salt."""
    return os.urandom(32)


class Slasher(ContractClient):
    """Typed reads, call builders and decoded events of the deployed ``Slasher``.

    Every call that pays its sender (``challenge``, ``prove_*``, ``slash_equivocation``)
    comes back with its ``commit``: the sender's commitment to the evidence, which
    ``Sender.transact`` mines a block before it (design.md "Rewards bound to their finder").
    ``salt`` defaults to a fresh random one; a challenge's is the input salt."""

    # finders -------------------------------------------------------------------------------
    def commit_finding(self, commitment: bytes) -> Call:
        return Call.of(self._fn.commitFinding(commitment))

    def finding_committed_at(self, commitment: bytes) -> int:
        """The block a commitment was recorded in (0: none, or already revealed)."""
        return int(self._fn.findingCommittedAt(commitment).call())

    def _bound(self, fn: Any, evidence_id: bytes, salt: bytes, value: int = 0) -> Call:
        call = Call.of(fn, value=value)
        call.commit = lambda finder: self.commit_finding(
            finding_commitment(finder, evidence_id, salt))
        return call

    def _fraud(self, fn: Any, request_id: bytes, kind: FraudKind, position: int,
               salt: bytes) -> Call:
        return self._bound(fn, fraud_evidence_id(request_id, kind, position), salt)

    @cached_property
    def _domain(self) -> tuple[int, str]:
        """(chain id, registry): the EIP-712 domain the records are signed in."""
        return int(self.contract.w3.eth.chain_id), str(self._fn.registry().call())

    # equivocation --------------------------------------------------------------------------
    def slash_equivocation(self, a: Inference, signature_a: bytes, b: Inference,
                           signature_b: bytes, *, salt: bytes | None = None) -> Call:
        """Evidence that a worker signed two conflicting records for one request (a record
        the registry already holds needs no signature: pass b"")."""
        salt = new_salt() if salt is None else salt
        chain_id, registry = self._domain
        evidence = equivocation_evidence_id(inference_digest(a, chain_id, registry),
                                            inference_digest(b, chain_id, registry))
        return self._bound(self._fn.slashEquivocation(a.as_tuple(), signature_a, b.as_tuple(),
                                                      signature_b, salt), evidence, salt)

    def balance(self, account: str) -> int:
        """Slashed stake and bonds credited to a reporter, a prover or the treasury, pulled
        with :meth:`withdraw`."""
        return int(self._fn.balances(account).call())

    def withdraw(self) -> Call:
        return Call.of(self._fn.withdraw())

    # the dispute game: reads --------------------------------------------------------------
    def dispute(self, request_id: bytes) -> Dispute:
        return from_abi(Dispute, self._fn.getDispute(request_id).call())

    def descent(self, request_id: bytes, challenger: str) -> Descent:
        return from_abi(Descent, self._fn.getDescent(request_id, challenger).call())

    def dispute_bond(self) -> int:
        return int(self._fn.disputeBond().call())

    def response_window(self) -> int:
        return int(self._fn.responseWindow().call())

    # the dispute game: writes -------------------------------------------------------------
    def challenge(self, record: Inference, input_bytes: bytes, salt: bytes, output: bytes,
                  spec: AttributionSpec, bond: int) -> Call:
        """The challenge reveals the input salt: it is also the commitment's salt (secret until
        this call, so nobody else can have committed to it)."""
        return self._bound(self._fn.challenge(record.as_tuple(), input_bytes, salt, output,
                                              spec.as_tuple()), record.requestId, salt, bond)

    def challenge_leaf(self, batch: bytes, leaf: Inference, proof: Sequence[bytes],
                       input_bytes: bytes, salt: bytes, output: bytes, spec: AttributionSpec,
                       bond: int) -> Call:
        """A batch leaf's challenge (its proof in the batch root); the dispute then goes by
        ``leaf_dispute_id(batch, leaf_hash(leaf))``, which is also the commitment's evidence
        id (the input salt its salt, as for a single record)."""
        dispute_id = leaf_dispute_id(batch, leaf_hash(leaf))
        return self._bound(self._fn.challengeLeaf(batch, leaf.as_tuple(), list(proof),
                                                  input_bytes, salt, output, spec.as_tuple()),
                           dispute_id, salt, bond)

    def respond(self, request_id: bytes, trace_root: bytes, trace_uri: str,
                totals: Sequence[int], roster: Sequence[str], shares: Sequence[Share], *,
                bond: int = 0) -> Call:
        """The worker's signer or operator sends no value; a third party defending the record
        posts ``bond`` (the dispute bond)."""
        return Call.of(self._fn.respond(request_id, trace_root, trace_uri, list(totals),
                                        list(roster), [tuple(x) for x in shares]), value=bond)

    def prove_item(self, request_id: bytes, opened: StepOpening, item: DataItem,
                   item_proof: Sequence[bytes], query: Sequence[int], *,
                   salt: bytes | None = None) -> Call:
        salt = new_salt() if salt is None else salt
        return self._fraud(self._fn.proveItem(request_id, opened.as_tuple(), item.as_tuple(),
                                              list(item_proof), list(query), salt),
                           request_id, FraudKind.ITEM, opened.position, salt)

    def prove_order(self, request_id: bytes, opened: StepOpening, following: StepOpening, *,
                    salt: bytes | None = None) -> Call:
        salt = new_salt() if salt is None else salt
        return self._fraud(self._fn.proveOrder(request_id, opened.as_tuple(),
                                               following.as_tuple(), salt),
                           request_id, FraudKind.ORDER, opened.position, salt)

    def prove_value(self, request_id: bytes, opened: StepOpening, following: StepOpening, *,
                    salt: bytes | None = None) -> Call:
        salt = new_salt() if salt is None else salt
        return self._fraud(self._fn.proveValue(request_id, opened.as_tuple(),
                                               following.as_tuple(), salt),
                           request_id, FraudKind.VALUE, opened.position, salt)

    def prove_sum(self, request_id: bytes, opened: StepOpening, following: StepOpening,
                  account: str, total: int, sums_proof: Sequence[bytes], *,
                  salt: bytes | None = None) -> Call:
        """``following``: the step after ``opened`` (ignored for the last step); (account,
        total) at the step's slot in its sums root (suffix sums)."""
        salt = new_salt() if salt is None else salt
        return self._fraud(self._fn.proveSum(request_id, opened.as_tuple(),
                                             following.as_tuple(), account, total,
                                             list(sums_proof), salt),
                           request_id, FraudKind.SUM, opened.position, salt)

    def prove_end(self, request_id: bytes, first: StepOpening, *,
                  salt: bytes | None = None) -> Call:
        salt = new_salt() if salt is None else salt
        return self._fraud(self._fn.proveEnd(request_id, first.as_tuple(), salt),
                           request_id, FraudKind.END, first.position, salt)

    def prove_skip(self, request_id: bytes, opened: StepOpening, following: StepOpening,
                   item: DataItem, item_proof: Sequence[bytes], query: Sequence[int], *,
                   salt: bytes | None = None) -> Call:
        """Roster ``item`` lies strictly between ``opened`` and ``following`` (or after the
        last step) in (distance, index) order."""
        salt = new_salt() if salt is None else salt
        return self._fraud(self._fn.proveSkip(request_id, opened.as_tuple(),
                                              following.as_tuple(), item.as_tuple(),
                                              list(item_proof), list(query), salt),
                           request_id, FraudKind.SKIP, opened.position, salt)

    # the descent (design.md "The descent") -------------------------------------------------
    def descend(self, request_id: bytes, bond: int) -> Call:
        """Open the sender's descent into the responded trace tree, posting ``bond``."""
        return Call.of(self._fn.descend(request_id), value=bond)

    def reveal_nodes(self, request_id: bytes, challenger: str, nodes: Sequence[bytes]) -> Call:
        return Call.of(self._fn.revealNodes(request_id, challenger, list(nodes)))

    def reveal_step(self, request_id: bytes, challenger: str, step: TraceStep) -> Call:
        return Call.of(self._fn.revealStep(request_id, challenger, step.as_tuple()))

    def pick(self, request_id: bytes, nodes: Sequence[bytes], choice: int) -> Call:
        return Call.of(self._fn.pick(request_id, list(nodes), choice))

    def settle_descent(self, request_id: bytes, challenger: str) -> Call:
        return Call.of(self._fn.settleDescent(request_id, challenger))

    def prove_duplicate(self, request_id: bytes, a: StepOpening, b: StepOpening, *,
                        salt: bytes | None = None) -> Call:
        salt = new_salt() if salt is None else salt
        return self._fraud(self._fn.proveDuplicate(request_id, a.as_tuple(), b.as_tuple(), salt),
                           request_id, FraudKind.DUPLICATE, a.position, salt)

    def resolve(self, request_id: bytes) -> Call:
        return Call.of(self._fn.resolve(request_id))

    # the dispute game: events --------------------------------------------------------------
    def opened(self, from_block: int | None = None, to_block: int | None = None, *,
               request_id: bytes | None = None, worker: str | None = None
               ) -> list[DisputeOpened]:
        filters: dict[str, Any] = {}
        if request_id is not None:
            filters["requestId"] = request_id
        if worker is not None:
            filters["worker"] = worker
        return [decode_dispute_opened(e)
                for e in self._events("DisputeOpened", from_block, to_block, filters or None)]

    def leaves_challenged(self, from_block: int | None = None, to_block: int | None = None,
                          *, dispute_id: bytes | None = None, batch_id: bytes | None = None
                          ) -> list[LeafChallenged]:
        """Which batch leaf each leaf dispute is of (single records' disputes have none)."""
        filters: dict[str, Any] = {}
        if dispute_id is not None:
            filters["disputeId"] = dispute_id
        if batch_id is not None:
            filters["batchId"] = batch_id
        return [decode_leaf_challenged(e)
                for e in self._events("LeafChallenged", from_block, to_block, filters or None)]

    def revealed_input(self, request_id: bytes) -> RevealedInput | None:
        """The input and salt a challenge of ``request_id`` published: the arguments of the
        ``challenge`` transaction behind its DisputeOpened event (None: never challenged, or
        the challenge was relayed by a contract, whose calldata is not the call's)."""
        for opened in reversed(self.opened(request_id=request_id)):
            tx = self.contract.w3.eth.get_transaction(HexBytes(opened.meta.tx_hash))
            to = tx.get("to")
            if to is None or to_checksum_address(to) != self.address:
                continue
            try:
                fn, args = self.contract.decode_function_input(tx["input"])
            except ValueError:
                continue
            if fn.fn_name in ("challenge", "challengeLeaf"):
                return RevealedInput(bytes(args["input"]), bytes(args["salt"]),
                                     opened.meta.tx_hash)
        return None

    def responded(self, from_block: int | None = None, to_block: int | None = None, *,
                  request_id: bytes | None = None) -> list[DisputeResponded]:
        filters = {"requestId": request_id} if request_id is not None else None
        return [decode_dispute_responded(e)
                for e in self._events("DisputeResponded", from_block, to_block, filters)]

    def descents_opened(self, from_block: int | None = None, to_block: int | None = None, *,
                        request_id: bytes | None = None) -> list[DescentOpened]:
        filters = {"requestId": request_id} if request_id is not None else None
        return [decode_descent_opened(e)
                for e in self._events("DescentOpened", from_block, to_block, filters)]

    def nodes_revealed(self, request_id: bytes, challenger: str | None = None
                       ) -> list[NodesRevealed]:
        filters: dict[str, Any] = {"requestId": request_id}
        if challenger is not None:
            filters["challenger"] = challenger
        return [decode_nodes_revealed(e)
                for e in self._events("NodesRevealed", None, None, filters)]

    def steps_revealed(self, request_id: bytes, challenger: str | None = None
                       ) -> list[StepRevealed]:
        filters: dict[str, Any] = {"requestId": request_id}
        if challenger is not None:
            filters["challenger"] = challenger
        return [decode_step_revealed(e)
                for e in self._events("StepRevealed", None, None, filters)]

    def resolved(self, from_block: int | None = None, to_block: int | None = None, *,
                 request_id: bytes | None = None) -> list[DisputeResolved]:
        filters = {"requestId": request_id} if request_id is not None else None
        return [decode_dispute_resolved(e)
                for e in self._events("DisputeResolved", from_block, to_block, filters)]

    # the output-dispute game (IOutputDisputes) ------------------------------------------
    def output_dispute(self, dispute_id: bytes) -> OutputDispute:
        """An output dispute by its id (:func:`offchain.protocol.output_dispute_id` of the
        record's request id or leaf dispute id)."""
        return from_abi(OutputDispute, self._fn.getOutputDispute(dispute_id).call())

    def output_layer_hash(self, dispute_id: bytes, layer: int) -> bytes:
        return bytes(self._fn.outputLayerHash(dispute_id, layer).call())

    def challenge_output(self, record: Inference, input_bytes: bytes, salt: bytes,
                         output: bytes, spec: AttributionSpec, model: ModelSpec,
                         bond: int) -> Call:
        """Challenge a single record's answer; the commitment's evidence is its output
        dispute id, its salt the input salt (revealed by this call)."""
        return self._bound(self._fn.challengeOutput(record.as_tuple(), input_bytes, salt, output,
                                                    spec.as_tuple(), model.as_tuple()),
                           output_dispute_id(record.requestId), salt, bond)

    def challenge_output_leaf(self, batch: bytes, leaf: Inference, proof: Sequence[bytes],
                              input_bytes: bytes, salt: bytes, output: bytes,
                              spec: AttributionSpec, model: ModelSpec, bond: int) -> Call:
        """A batch leaf's output challenge (its proof in the batch root)."""
        dispute_id = output_dispute_id(leaf_dispute_id(batch, leaf_hash(leaf)))
        return self._bound(self._fn.challengeOutputLeaf(batch, leaf.as_tuple(), list(proof),
                                                        input_bytes, salt, output,
                                                        spec.as_tuple(), model.as_tuple()),
                           dispute_id, salt, bond)

    def respond_output(self, dispute_id: bytes, hidden: Sequence[Sequence[int]], *,
                       bond: int = 0) -> Call:
        """The hidden layers' activations (layers 1 .. layers - 1); a third party defending
        posts ``bond``."""
        return Call.of(self._fn.respondOutput(dispute_id,
                                              [[int(v) for v in layer] for layer in hidden]),
                       value=bond)

    def prove_neuron(self, dispute_id: bytes, opening: NeuronOpening, row: NeuronRow,
                     row_proof: Sequence[bytes], *, salt: bytes | None = None) -> Call:
        salt = new_salt() if salt is None else salt
        return self._bound(self._fn.proveNeuron(dispute_id, opening.as_tuple(), row.as_tuple(),
                                                list(row_proof), salt),
                           neuron_evidence_id(dispute_id, opening.layer, opening.neuron), salt)

    def resolve_output(self, dispute_id: bytes) -> Call:
        return Call.of(self._fn.resolveOutput(dispute_id))

    def outputs_opened(self, from_block: int | None = None, to_block: int | None = None, *,
                       dispute_id: bytes | None = None, worker: str | None = None
                       ) -> list[OutputDisputeOpened]:
        filters: dict[str, Any] = {}
        if dispute_id is not None:
            filters["disputeId"] = dispute_id
        if worker is not None:
            filters["worker"] = worker
        return [decode_output_opened(e) for e in
                self._events("OutputDisputeOpened", from_block, to_block, filters or None)]

    def outputs_responded(self, from_block: int | None = None, to_block: int | None = None, *,
                          dispute_id: bytes | None = None) -> list[OutputResponded]:
        filters = {"disputeId": dispute_id} if dispute_id is not None else None
        return [decode_output_responded(e)
                for e in self._events("OutputResponded", from_block, to_block, filters)]

    def outputs_resolved(self, from_block: int | None = None, to_block: int | None = None, *,
                         dispute_id: bytes | None = None) -> list[OutputDisputeResolved]:
        filters = {"disputeId": dispute_id} if dispute_id is not None else None
        return [decode_output_resolved(e)
                for e in self._events("OutputDisputeResolved", from_block, to_block, filters)]

    def committed_layers(self, dispute_id: bytes) -> list[tuple[int, ...]] | None:
        """Every layer of a responded output dispute (input, hidden, logits), from its events,
        checked against the stored layer hashes (None: not responded, or the events do not
        match: a reopened dispute not yet answered again)."""
        opened = self.outputs_opened(dispute_id=dispute_id)
        responded = self.outputs_responded(dispute_id=dispute_id)
        if not opened or not responded:
            return None
        layers = [opened[-1].input, *responded[-1].hidden, opened[-1].logits]
        for index, values in enumerate(layers):
            if layer_hash(values) != self.output_layer_hash(dispute_id, index):
                return None
        return layers
