"""Shared builders for the contract tests: one place that registers models and workers, makes
requests, builds and signs records, commits batches, slashes, races transactions in one block
and travels in time.

Every test gets a :class:`Harness` over the session's deployment (inside the test's
evm_snapshot). Writes go through the typed client (``attestia.registry`` / ``attestia.distributor``:
unsent :class:`~offchain.chain.tx.Call` objects), reads come back as ``offchain.protocol``
dataclasses (by field name, never by position), and the encodings come from ``offchain``
(EIP-712, attribution hash, roster hash, Merkle trees), never from here.

Roles are Anvil's public dev accounts (the only keys the project may use); data contributors
are plain derived addresses, since nobody needs their keys: claims pay the account whoever
sends them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.contract import Contract
from web3.logs import DISCARD

from offchain.build import load_artifact
from offchain.chain.accounts import dev_account
from offchain.chain.eip712 import sign_digest
from offchain.chain.tx import Call
from offchain.demo.flow import seconds_to_next_epoch
from offchain.errors import TransactionReverted
from offchain.merkle import StandardMerkleTree
from offchain.protocol import (
    BPS,
    CLAIM_LEAF_TYPES,
    INFERENCE_ABI_TYPES,
    PROOF_SIGNED,
    PROOF_TEE,
    PROOF_ZK,
    SHARES_ABI_TYPE,
    TIMESTAMP_WINDOW,
    ZERO32,
    ZERO_ADDRESS,
    Batch,
    Inference,
    Model,
    Payout,
    Request,
    Split,
    ZkProof,
    attribution_hash,
    batch_digest,
    batch_id,
    inference_digest,
    model_id,
    policy_bit,
    result_hash,
    sorted_roster,
    worker_registration_digest,
)
from offchain.registry import (
    Attestia,
    Distributor,
    InferenceRecorded,
    Registry,
    RegistryLens,
    Slasher,
)
from offchain.registry.base import ContractClient

ADMIN = dev_account(0)  # deployer: admin, governance, settler, guardian, slasher treasury
OWNER = dev_account(1)  # model owner
OPERATOR = dev_account(2)  # worker operator (stake, fee cuts)
WORKER = dev_account(3)  # worker signing key
REQUESTER = dev_account(4)
RELAYER = dev_account(5)  # submits signed records and batches for others
WORKER_B = dev_account(6)  # a second worker key (same operator)
OUTSIDER = dev_account(7)  # holds no role and is no worker
WORKER_C = dev_account(8)  # a third worker key (the stateful test slashes it)
ATTACKER = dev_account(9)  # the security tests' adversary (funded, no role)

SIGNED = policy_bit(PROOF_SIGNED)
TEE = policy_bit(PROOF_TEE)
ZK = policy_bit(PROOF_ZK)
FEE = 10**15
SPLIT = (2_000, 1_000, 7_000)  # worker, owner, contributors (bps)
MIN_STAKE = 10**17  # DeployParams default
EPOCH = 86_400  # DeployParams default
TIMEOUT = 3_600  # DeployParams default request timeout
CHALLENGE_WINDOW = 3_600  # DeployParams default
# The terms of a model that is not registered (getModel's zero struct, with the usual fee).
NO_MODEL = Model(ZERO_ADDRESS, 0, 0, 0, False, 0, FEE, ZERO_ADDRESS, ZERO32, ZERO32, ZERO32, 0,
                 0, "")
UNBONDING = 7 * 86_400  # DeployParams default
TIMELOCK = 3_600  # DeployParams default root timelock
GRACE = TIMESTAMP_WINDOW + 1  # a cancel opens this long after a request's deadline
ENCRYPTION_KEY = b"\x04" + b"\x11" * 64
SEALED = b"sealed-result"  # the default sealed answer; records commit to result_hash(SEALED)
INFERENCE_LEAF = list(INFERENCE_ABI_TYPES)
REWARD_LEAF = list(CLAIM_LEAF_TYPES)


def contributor(i: int) -> str:
    """A deterministic data-contributor address (no key: nobody signs as a contributor)."""
    return to_checksum_address(keccak(f"contributor-{i}".encode())[12:])


ROSTER = sorted_roster(contributor(i) for i in range(12))
"""The default model's registered contributors (every contributor(i) with i < 12)."""


def shares_for(accounts: Sequence[str]) -> list[tuple[str, int]]:
    """An even, valid attribution list over ``accounts``: sorted, positive, summing to BPS."""
    ordered = sorted({to_checksum_address(a) for a in accounts}, key=lambda a: int(a, 16))
    base, rest = divmod(BPS, len(ordered))
    return [(a, base + (1 if i < rest else 0)) for i, a in enumerate(ordered)]


def contributors_shares(n: int, offset: int = 0) -> list[tuple[str, int]]:
    return shares_for([contributor(offset + i) for i in range(n)])


def raw_attribution_hash(entries: Sequence[tuple[str, int]]) -> bytes:
    """keccak256(abi.encode(Share[])) of ANY list, valid or not.

    ``offchain.protocol.attribution_hash`` refuses invalid lists (as it should); the
    contract's own checks on unsorted, zero or mis-summed lists can only be reached with a hash
    that matches such a list.
    """
    return keccak(encode([SHARES_ABI_TYPE], [list(entries)]))


def raw_roster_hash(roster: Sequence[str]) -> bytes:
    """keccak256(abi.encodePacked(address[])) of ANY list (protocol.contributors_hash refuses
    unsorted ones): what the registry computes over the roster a record passes."""
    return keccak(b"".join(bytes(12) + bytes.fromhex(a[2:]) for a in roster))


@dataclass
class Reverted:
    """What a reverted call raised: the custom error name and its decoded arguments."""

    error: str | None = None
    args: tuple = ()


HONEST_TIP, ATTACKER_TIP = 1, 50
"""Priority fees (gwei) of a mempool race: the attacker's transaction is mined first."""


@contextmanager
def reverts(error: str, *args: Any) -> Iterator[Reverted]:
    """Assert the block raises TransactionReverted with custom error ``error`` (and, if given,
    exactly these arguments)."""
    seen = Reverted()
    try:
        yield seen
    except TransactionReverted as exc:
        seen.error, seen.args = exc.error, tuple(exc.error_args)
        assert exc.error == error, f"expected {error}, got: {exc}"
        if args:
            assert tuple(_plain(a) for a in exc.error_args) == tuple(_plain(a) for a in args), (
                f"{error} args {exc.error_args!r} != {args!r}"
            )
        return
    raise AssertionError(f"expected a revert with {error}, but the call succeeded")


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    return value



def failed_with(h: Harness, receipt: Any, error: str, *args: Any) -> None:
    """The mined transaction (an attacker's, or a copy from the mempool) failed, with this
    custom error (and these arguments)."""
    assert receipt["status"] == 0, "the attack's transaction succeeded"
    with reverts(error, *args):
        h.check(receipt)


def succeeded(receipt: Any) -> None:
    assert receipt["status"] == 1, "the honest transaction failed"


@dataclass
class Harness:
    """The deployed contracts plus the builders every contract test shares."""

    attestia: Attestia
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    rosters: dict[bytes, list[str]] = field(default_factory=dict)
    """The roster each model registered here (fulfill passes it unless told otherwise)."""

    @property
    def w3(self) -> Any:
        return self.attestia.chain.w3

    @property
    def chain_id(self) -> int:
        return self.attestia.chain.chain_id

    # The typed clients; a test that must send what they refuse (a bad split, an unsorted
    # list) reaches the raw contract as ``h.registry.contract``.
    @property
    def registry(self) -> Registry:
        return self.attestia.registry

    @property
    def distributor(self) -> Distributor:
        return self.attestia.distributor

    @property
    def slasher(self) -> Slasher:
        return self.attestia.slasher

    @property
    def lens(self) -> RegistryLens:
        return self.attestia.lens

    # -- transactions, time ---------------------------------------------------------------
    def send(self, fn: Any, account: LocalAccount = ADMIN, value: int = 0,
             gas: int | None = None) -> Any:
        """Send an unsent Call (typed client) or a bound contract function (mocks, role
        admin); raises TransactionReverted with the custom error."""
        if isinstance(fn, Call):
            return self.attestia.send(fn, account=account)
        return self.attestia.transact(fn, value=value, gas=gas, account=account)

    def deploy(self, name: str, *args: Any, account: LocalAccount = ADMIN) -> Contract:
        """Deploy a compiled contract (mocks, a second distributor or registry) and bind it."""
        artifact = load_artifact(self.attestia.chain.settings.build_dir, name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        data = bytes.fromhex(factory.constructor(*args).data_in_transaction[2:])
        receipt = self.attestia.sender(account).transact(Call(to="", data=data, label=name))
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi,
                                    decode_tuples=True)

    def deploy_slasher(self, registry: str, treasury: str, bond: int, window: int) -> Contract:
        """A Slasher with its OutputDisputes (deployed first with the same parameters). When
        OutputDisputes' constructor refuses them, the Slasher gets a placeholder instead: its
        own base constructor (the same checks) refuses them first, with the error a test
        expects."""
        try:
            outputs = self.deploy("OutputDisputes", registry, treasury, bond, window).address
        except TransactionReverted:
            outputs = ZERO_ADDRESS
        return self.deploy("Slasher", registry, treasury, bond, window, outputs)

    @staticmethod
    def events(contract: Contract | ContractClient, name: str, receipt: Any) -> list[Any]:
        """The decoded args of ``contract``'s ``name`` events in a receipt (others skipped):
        a typed client's contract, or a raw one (a mock deployed here)."""
        if isinstance(contract, ContractClient):
            contract = contract.contract
        event = getattr(contract.events, name)()
        return [log["args"] for log in event.process_receipt(receipt, errors=DISCARD)]

    def recorded(self, receipt: Any) -> list[InferenceRecorded]:
        """The InferenceRecorded events of a receipt, typed (offchain.registry)."""
        return self.registry.recorded_in(receipt)

    def payout(self, receipt: Any) -> Payout:
        (recorded,) = self.recorded(receipt)
        return recorded.payout

    def read_uints(self, reads: Sequence[Any]) -> list[int]:
        """Many single-uint reads in ONE JSON-RPC batch (the invariant checks run after every
        step of the stateful test). Each read is a bound contract function returning one
        uint, or an address string for its ETH balance."""
        batch = []
        for read in reads:
            if isinstance(read, str):
                batch.append(("eth_getBalance", [read, "latest"]))
            else:
                data = "0x" + Call.of(read).data.hex()
                batch.append(("eth_call", [{"to": read.address, "data": data}, "latest"]))
        responses = self.w3.provider.make_batch_request(batch)
        assert isinstance(responses, list), f"batch read failed: {responses}"
        return [int(r["result"], 16) for r in responses]

    def now(self) -> int:
        """Timestamp of the latest block."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def travel(self, seconds: int) -> None:
        """Move the chain's clock forward and mine a block at the new time."""
        self.w3.provider.make_request("evm_increaseTime", [int(seconds)])
        self.w3.provider.make_request("evm_mine", [])

    def travel_to(self, timestamp: int) -> None:
        """Mine the next block at exactly ``timestamp`` (the one after it is a second later
        at the earliest: tests then send their transaction into ``timestamp + 1``)."""
        self.w3.provider.make_request("evm_mine", [int(timestamp)])

    def next_epoch(self) -> int:
        """Travel to just after the start of the next epoch; returns the epoch that ended."""
        ended = self.epoch()
        self.travel(seconds_to_next_epoch(self.attestia))
        assert self.epoch() == ended + 1
        return ended

    def epoch(self) -> int:
        return self.registry.current_epoch()

    def genesis(self) -> int:
        return self.registry.genesis()

    def balance(self, address: str) -> int:
        return int(self.w3.eth.get_balance(to_checksum_address(address)))

    def unique(self, label: str = "id") -> bytes:
        return keccak(f"{label}-{next(self._ids)}".encode())

    # -- mempool races -------------------------------------------------------------------------
    def signed_tx(self, call: Call, account: LocalAccount, *, tip_gwei: int = 1,
                  gas: int = 2_000_000) -> bytes:
        """A raw signed transaction for ``call`` (not sent): fixed gas, so nothing is simulated
        (the mempool does not simulate either), and a priority fee that orders it in a block
        (Anvil orders pending transactions by fee)."""
        nonce = self.w3.eth.get_transaction_count(account.address, "pending")
        base = int(self.w3.eth.get_block("latest")["baseFeePerGas"])
        tx = {"to": to_checksum_address(call.to), "data": call.data, "value": call.value,
              "gas": gas, "nonce": nonce, "chainId": self.chain_id, "type": 2,
              "maxPriorityFeePerGas": tip_gwei * 10**9,
              "maxFeePerGas": 2 * base + tip_gwei * 10**9}
        return bytes(account.sign_transaction(tx).raw_transaction)

    @contextmanager
    def mempool(self) -> Iterator[None]:
        """Automine off for the block: transactions wait in the mempool (where anyone can read
        them) until :meth:`mine`; automine back on afterwards."""
        self.w3.provider.make_request("evm_setAutomine", [False])
        try:
            yield
        finally:
            self.w3.provider.make_request("evm_setAutomine", [True])
            for sender in self.attestia.chain._senders.values():
                sender.resync()

    def submit(self, raw_tx: bytes) -> bytes:
        """Broadcast a raw transaction; its hash."""
        return bytes(self.w3.eth.send_raw_transaction(raw_tx))

    def mine(self, timestamp: int | None = None) -> None:
        """Mine one block with every pending transaction (at ``timestamp`` if given)."""
        self.w3.provider.make_request("evm_mine", [] if timestamp is None else [int(timestamp)])

    def receipts(self, tx_hashes: Sequence[bytes], *, same_block: bool = True) -> list[Any]:
        receipts = [self.w3.eth.get_transaction_receipt(tx) for tx in tx_hashes]
        if same_block:
            assert len({r["blockNumber"] for r in receipts}) == 1, "the race spanned blocks"
        return receipts

    def race(self, *raw_txs: bytes, timestamp: int | None = None) -> list[Any]:
        """Put raw transactions in the mempool with automine off, then mine ONE block (at
        ``timestamp`` if given); the receipts in the order given (each mined, successful or
        not: read a failure's custom error with :meth:`check`)."""
        with self.mempool():
            hashes = [self.submit(raw) for raw in raw_txs]
            self.mine(timestamp)
        return self.receipts(hashes)

    def send_at(self, timestamp: int, call: Call, account: LocalAccount) -> Any:
        """Mine ``call`` alone in a block stamped exactly ``timestamp`` (no dry run: it would
        run at the previous block's time); returns the receipt, or raises TransactionReverted
        naming the custom error."""
        (receipt,) = self.race(self.signed_tx(call, account), timestamp=timestamp)
        return self.check(receipt)

    def check(self, receipt: Any) -> Any:
        """The receipt of a successful transaction; for a failed one, raise TransactionReverted
        naming the custom error it hit, read from the node's trace of the mined transaction
        itself (a replay as an eth_call would run with another block's timestamp and could
        report a different error at a time boundary)."""
        if receipt["status"] == 1:
            return receipt
        trace = self.w3.provider.make_request(
            "debug_traceTransaction",
            ["0x" + bytes(receipt["transactionHash"]).hex(), {"tracer": "callTracer"}])
        output = trace["result"].get("output") or "0x"
        text, name, args = self.attestia.chain.decoder.describe(bytes.fromhex(output[2:]))
        raise TransactionReverted(text, error=name, args=args)

    # -- models and workers -------------------------------------------------------------------
    def register_model(self, *, policy: int = SIGNED, fee: int = FEE,
                       split: tuple[int, int, int] = SPLIT, owner: LocalAccount = OWNER,
                       content_hash: bytes | None = None,
                       contributors: Sequence[str] | None = None,
                       data_root: bytes | None = None) -> bytes:
        """Register a model; returns its id, modelIdOf(owner, content_hash) (protocol)."""
        content_hash = content_hash or self.unique("model")
        roster = list(ROSTER if contributors is None else contributors)
        self.send(self.registry.register_model(content_hash, "ipfs://model-card",
                                          data_root or self.unique("data-root"), roster,
                                          policy, fee,
                                          Split(*split)), owner)
        new_id = model_id(owner.address, content_hash)
        self.rosters[new_id] = roster
        return new_id

    def consent(self, signer: LocalAccount, operator: str, *, key: bytes = ENCRYPTION_KEY,
                deadline: int | None = None, nonce: int | None = None) -> tuple[int, bytes]:
        """(deadline, signature): the key's EIP-712 WorkerRegistration consent to ``operator``
        running it with ``key`` (protocol.worker_registration_digest)."""
        deadline = self.now() + 3_600 if deadline is None else deadline
        nonce = self.registry.nonce(signer.address) if nonce is None else nonce
        digest = worker_registration_digest(signer.address, operator, key, nonce, deadline,
                                            self.chain_id, self.registry.address)
        return deadline, sign_digest(signer, digest)

    def register_worker(self, signer: LocalAccount = WORKER, *,
                        operator: LocalAccount = OPERATOR, stake: int = MIN_STAKE,
                        key: bytes = ENCRYPTION_KEY) -> str:
        """The operator registers the key with the key's signed consent."""
        deadline, signature = self.consent(signer, operator.address, key=key)
        self.send(self.registry.register_worker(signer.address, key, stake, deadline=deadline,
                                           signature=signature), operator)
        return signer.address

    def bind_enclave(self, signer: LocalAccount = WORKER, *,
                     operator: LocalAccount = OPERATOR) -> tuple[bytes, bytes]:
        """Allow a fresh measurement and bind ``signer`` to it; (measurement, attestation hash)."""
        measurement, attestation = self.unique("measurement"), self.unique("attestation")
        self.send(self.registry.allow_measurement(measurement), ADMIN)
        self.send(self.registry.bind_enclave(signer.address, measurement, attestation,
                                        "https://attestations/doc"), operator)
        return measurement, attestation

    def setup_signed(self, **model_kwargs: Any) -> bytes:
        """A SIGNED model and the default worker; returns the model id."""
        model = self.register_model(**model_kwargs)
        self.register_worker()
        return model

    def roster(self, model: bytes) -> list[str]:
        """A model's registered roster (from this harness, else its ModelRegistered event)."""
        if model not in self.rosters:
            registered = self.registry.contributors(model)
            assert registered is not None, "unknown model"
            self.rosters[model] = registered
        return self.rosters[model]

    # -- requests ---------------------------------------------------------------------------
    def request(self, model: bytes, *, worker: str | None = WORKER.address,
                requester: LocalAccount = REQUESTER, fee: int | None = None,
                payload: bytes = b"sealed-input", input_commitment: bytes | None = None,
                zk_input_hash: bytes = ZERO32) -> Request:
        """Pay for a request (named worker by default; ``worker=None`` tries one naming none,
        which the registry refuses); the Request as the registry emitted it (its terms are the
        model's at this moment)."""
        # The terms as read now (an unknown model: none, the registry reverts ModelNotFound);
        # another fee pays that fee under the same terms (IncorrectPayment comes first).
        terms = self.registry.model(model) or NO_MODEL
        if fee is not None:
            terms = replace(terms, fee=fee)
        commitment = input_commitment or self.unique("input")
        receipt = self.send(self.registry.request_inference(
            model, worker or ZERO_ADDRESS, commitment, payload, terms,
            zk_input_hash=zk_input_hash), requester)
        (requested,) = self.registry.requested_in(receipt)
        request = requested.request
        created = int(self.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
        assert (request.requester, request.createdAt, request.inputCommitment) == (
            requester.address, created, commitment)
        assert self.registry.request_state(request.request_id) == request.hash
        return request

    @staticmethod
    def deadline(request: Request) -> int:
        """The last second a record may be signed at."""
        return request.createdAt + TIMEOUT

    @staticmethod
    def cancellable_at(request: Request) -> int:
        """The first second the requester may cancel (no record signed in time can land)."""
        return request.createdAt + TIMEOUT + GRACE

    # -- records -------------------------------------------------------------------------------
    def record(self, request: Request, shares: Sequence[tuple[str, int]], *,
               worker: str | None = None, proof_kind: int = PROOF_SIGNED,
               proof_hash: bytes = ZERO32, output_commitment: bytes | None = None,
               timestamp: int | None = None, attribution: bytes | None = None,
               sealed: bytes = SEALED, **overrides: Any) -> Inference:
        """The Inference answering ``request``; any field can be overridden to break it."""
        fields = {
            "requestId": request.request_id,
            "modelId": request.modelId,
            "inputCommitment": request.inputCommitment,
            "outputCommitment": output_commitment or self.unique("output"),
            "attributionHash": attribution if attribution is not None
            else attribution_hash(shares),
            "proofKind": proof_kind,
            "proofHash": proof_hash,
            "worker": worker or (request.worker if int(request.worker, 16) else WORKER.address),
            "timestamp": timestamp if timestamp is not None else self.now(),
            "resultHash": result_hash(sealed),
        }
        fields.update(overrides)
        return Inference(**fields)

    def digest(self, inference: Inference) -> bytes:
        return inference_digest(inference, self.chain_id, self.registry.address)

    def sign(self, inference: Inference, signer: LocalAccount = WORKER) -> bytes:
        return sign_digest(signer, self.digest(inference))

    def fulfill_call(self, request: Request, inference: Inference,
                     shares: Sequence[tuple[str, int]], *, by_sig: bool = False,
                     signer: LocalAccount | None = None, roster: Sequence[str] | None = None,
                     sealed: bytes = SEALED, signature: bytes | None = None) -> Call:
        """The unsent fulfill (direct) or fulfillBySig (with the worker's signature)."""
        roster = list(self.roster(request.modelId) if roster is None else roster)
        shares = [tuple(s) for s in shares]
        if by_sig:
            if signature is None:
                signature = self.sign(inference, signer or _dev_for(inference.worker))
            return self.registry.fulfill_by_sig(request, inference, shares, roster, signature,
                                           sealed)
        return self.registry.fulfill(request, inference, shares, roster, sealed)

    def fulfill(self, request: Request, inference: Inference,
                shares: Sequence[tuple[str, int]], *, by_sig: bool = False,
                signer: LocalAccount | None = None, sender: LocalAccount | None = None,
                roster: Sequence[str] | None = None, sealed: bytes = SEALED,
                signature: bytes | None = None) -> Any:
        """Submit a SIGNED/TEE record: directly by the worker key, or relayed with a signature;
        the roster is the model's unless given."""
        call = self.fulfill_call(request, inference, shares, by_sig=by_sig, signer=signer,
                                 roster=roster, sealed=sealed, signature=signature)
        if by_sig:
            return self.send(call, sender or RELAYER)
        return self.send(call, sender or signer or _dev_for(inference.worker))

    def fulfill_zk(self, request: Request, inference: Inference,
                   shares: Sequence[tuple[str, int]], zk: ZkProof, *, by_sig: bool = False,
                   signer: LocalAccount | None = None, sender: LocalAccount | None = None,
                   roster: Sequence[str] | None = None, sealed: bytes = SEALED) -> Any:
        roster = list(self.roster(request.modelId) if roster is None else roster)
        shares = [tuple(s) for s in shares]
        if by_sig:
            signature = self.sign(inference, signer or _dev_for(inference.worker))
            return self.send(self.registry.fulfill_zk_by_sig(request, inference, shares, roster,
                                                        signature, zk, sealed),
                             sender or RELAYER)
        return self.send(self.registry.fulfill_zk(request, inference, shares, roster, zk, sealed),
                         sender or signer or _dev_for(inference.worker))

    def serve(self, model: bytes, shares: Sequence[tuple[str, int]] | None = None, *,
              by_sig: bool = False) -> tuple[Request, Inference]:
        """Request and fulfill in one go (the happy path other tests build on)."""
        shares = shares or contributors_shares(3)
        request = self.request(model)
        inference = self.record(request, shares)
        self.fulfill(request, inference, shares, by_sig=by_sig)
        return request, inference

    # -- slashing ------------------------------------------------------------------------------
    def conflicting(self, request_id: bytes, model: bytes, *, worker: LocalAccount = WORKER,
                    shares: Sequence[tuple[str, int]] | None = None
                    ) -> tuple[Inference, bytes, Inference, bytes]:
        """Two records one worker signed for one request id, claiming different outputs:
        (a, signature a, b, signature b), equivocation evidence."""
        shares = shares or contributors_shares(2)
        common = dict(requestId=request_id, modelId=model, inputCommitment=self.unique("in"),
                      attributionHash=attribution_hash(shares), proofKind=PROOF_SIGNED,
                      proofHash=ZERO32, worker=worker.address, timestamp=self.now(),
                      resultHash=result_hash(SEALED))
        a = Inference(outputCommitment=self.unique("output-a"), **common)
        b = Inference(outputCommitment=self.unique("output-b"), **common)
        return a, self.sign(a, worker), b, self.sign(b, worker)

    # -- batches -------------------------------------------------------------------------------
    def batch_leaves(self, model: bytes, n: int, worker: str = WORKER.address,
                     shares: Sequence[tuple[str, int]] | None = None) -> list[Inference]:
        """N inference leaves of one worker and model (off-chain paid, hence no request slot;
        resultHash 0 as for every batch leaf)."""
        attribution = attribution_hash(shares or contributors_shares(2))
        now = self.now()
        return [
            Inference(self.unique("leaf-request"), model, self.unique("leaf-input"),
                      self.unique("leaf-output"), attribution, PROOF_SIGNED, ZERO32, worker,
                      now - i, ZERO32)
            for i in range(n)
        ]

    @staticmethod
    def tree(leaves: Sequence[Inference]) -> StandardMerkleTree:
        return StandardMerkleTree.of([leaf.as_tuple() for leaf in leaves], INFERENCE_LEAF)

    def commit_batch(self, model: bytes, root: bytes, count: int, *, deposit: int = 0,
                     worker: LocalAccount = WORKER, epoch: int | None = None,
                     uri: str = "ipfs://batch", data_hash: bytes | None = None) -> bytes:
        """The worker commits a batch; returns the batch id."""
        epoch = self.epoch() if epoch is None else epoch
        data_hash = keccak(b"batch-file:" + root) if data_hash is None else data_hash
        self.send(self.registry.commit_batch(root, count, model, epoch, uri, data_hash, deposit),
                  worker)
        return self.batch_id(root, model, worker.address)

    def batch_signature(self, batch: Batch, signer: LocalAccount = WORKER) -> bytes:
        return sign_digest(signer, batch_digest(batch, self.chain_id, self.registry.address))

    @staticmethod
    def batch_id(root: bytes, model: bytes, worker: str) -> bytes:
        return batch_id(root, model, worker)

    # -- rewards ----------------------------------------------------------------------------------
    @staticmethod
    def rewards_tree(cumulative: dict[str, int]) -> StandardMerkleTree:
        return StandardMerkleTree.of(sorted(cumulative.items()), REWARD_LEAF)

    @staticmethod
    def proof(tree: StandardMerkleTree, account: str) -> tuple[int, list[bytes]]:
        """(cumulative, proof) of ``account`` in a rewards tree."""
        for index, (leaf_account, amount) in tree.entries():
            if leaf_account.lower() == account.lower():
                return int(amount), [bytes.fromhex(p[2:]) for p in tree.get_proof(index)]
        raise KeyError(account)

    def activate_after_timelock(self, epoch: int, contract: Contract | None = None) -> None:
        distributor = contract or self.distributor.contract
        self.travel(int(distributor.functions.timelock().call()) + 1)
        self.send(distributor.functions.activateRoot(epoch), OUTSIDER)


def _dev_for(address: str) -> LocalAccount:
    for i in range(10):
        if dev_account(i).address.lower() == address.lower():
            return dev_account(i)
    raise KeyError(f"{address} is not an Anvil dev account")


def root_bytes(tree: StandardMerkleTree) -> bytes:
    return bytes.fromhex(tree.root[2:])


def proof_bytes(proof: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(p[2:]) for p in proof]
