"""Shared builders for the contract tests: one place that registers models and workers, makes
requests, builds and signs records, commits batches and travels in time.

Every test gets a :class:`Harness` over the session's deployment (inside the test's
evm_snapshot); the encodings come from ``offchain`` (EIP-712, attribution hash, Merkle trees),
never from here.

Roles are Anvil's public dev accounts (the only keys the project may use); data contributors
are plain derived addresses, since nobody needs their keys: claims pay the account whoever
sends them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.contract import Contract
from web3.logs import DISCARD

from offchain.attribution.shares import attribution_hash
from offchain.build import load_artifact
from offchain.chain.accounts import dev_account
from offchain.chain.contracts import Attestia
from offchain.chain.eip712 import sign_digest
from offchain.chain.tx import Call
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
    ZERO32,
    ZERO_ADDRESS,
    Batch,
    Inference,
    Request,
    batch_digest,
    batch_id,
    inference_digest,
    policy_bit,
)

ADMIN = dev_account(0)  # deployer: admin, governance, settler, guardian
OWNER = dev_account(1)  # model owner
OPERATOR = dev_account(2)  # worker operator (stake, fee cuts)
WORKER = dev_account(3)  # worker signing key
REQUESTER = dev_account(4)
RELAYER = dev_account(5)  # submits signed records and batches for others
WORKER_B = dev_account(6)  # a second worker key (same operator)
OUTSIDER = dev_account(7)  # holds no role and is no worker

SIGNED = policy_bit(PROOF_SIGNED)
TEE = policy_bit(PROOF_TEE)
ZK = policy_bit(PROOF_ZK)
FEE = 10**15
SPLIT = (2_000, 1_000, 7_000)  # worker, owner, contributors (bps)
MIN_STAKE = 10**17  # DeployParams default
EPOCH = 86_400  # DeployParams default
TIMEOUT = 3_600  # DeployParams default request timeout
TIMELOCK = 3_600  # DeployParams default root timelock
INFERENCE_LEAF = list(INFERENCE_ABI_TYPES)
REWARD_LEAF = list(CLAIM_LEAF_TYPES)


def contributor(i: int) -> str:
    """A deterministic data-contributor address (no key: nobody signs as a contributor)."""
    return to_checksum_address(keccak(f"contributor-{i}".encode())[12:])


def shares_for(accounts: Sequence[str]) -> list[tuple[str, int]]:
    """An even, valid attribution list over ``accounts``: sorted, positive, summing to BPS."""
    ordered = sorted({to_checksum_address(a) for a in accounts}, key=lambda a: int(a, 16))
    base, rest = divmod(BPS, len(ordered))
    return [(a, base + (1 if i < rest else 0)) for i, a in enumerate(ordered)]


def contributors_shares(n: int, offset: int = 0) -> list[tuple[str, int]]:
    return shares_for([contributor(offset + i) for i in range(n)])


def raw_attribution_hash(entries: Sequence[tuple[str, int]]) -> bytes:
    """keccak256(abi.encode(Share[])) of ANY list, valid or not.

    ``offchain.attribution.shares.attribution_hash`` refuses invalid lists (as it should); the
    contract's own checks on unsorted, zero or mis-summed lists can only be reached with a hash
    that matches such a list.
    """
    return keccak(encode([SHARES_ABI_TYPE], [list(entries)]))


@dataclass
class Reverted:
    """What a reverted call raised: the custom error name and its decoded arguments."""

    error: str | None = None
    args: tuple = ()


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


@dataclass
class Harness:
    """The deployed contracts plus the builders every contract test shares."""

    attestia: Attestia
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def w3(self) -> Any:
        return self.attestia.chain.w3

    @property
    def chain_id(self) -> int:
        return self.attestia.chain.chain_id

    @property
    def registry(self) -> Contract:
        return self.attestia.registry

    @property
    def distributor(self) -> Contract:
        return self.attestia.distributor

    # -- transactions, time ---------------------------------------------------------------
    def send(self, fn: Any, account: LocalAccount = ADMIN, value: int = 0,
             gas: int | None = None) -> Any:
        """Send a bound contract function; raises TransactionReverted with the custom error."""
        return self.attestia.transact(fn, value=value, gas=gas, account=account)

    def deploy(self, name: str, *args: Any, account: LocalAccount = ADMIN) -> Contract:
        """Deploy a compiled contract (mocks, a second distributor) and bind it."""
        artifact = load_artifact(self.attestia.chain.settings.build_dir, name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        data = bytes.fromhex(factory.constructor(*args).data_in_transaction[2:])
        receipt = self.attestia.sender(account).transact(Call(to="", data=data, label=name))
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)

    @staticmethod
    def events(contract: Contract, name: str, receipt: Any) -> list[Any]:
        """The decoded args of ``contract``'s ``name`` events in a receipt (others skipped)."""
        event = getattr(contract.events, name)()
        return [log["args"] for log in event.process_receipt(receipt, errors=DISCARD)]

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

    def next_epoch(self) -> int:
        """Travel to just after the start of the next epoch; returns the epoch that ended."""
        ended = self.epoch()
        length = int(self.registry.functions.epochLength().call())
        self.travel(length - (self.now() - self.genesis()) % length + 1)
        assert self.epoch() == ended + 1
        return ended

    def epoch(self) -> int:
        return int(self.registry.functions.currentEpoch().call())

    def genesis(self) -> int:
        return int(self.registry.functions.genesis().call())

    def balance(self, address: str) -> int:
        return int(self.w3.eth.get_balance(to_checksum_address(address)))

    def unique(self, label: str = "id") -> bytes:
        return keccak(f"{label}-{next(self._ids)}".encode())

    # -- models and workers -------------------------------------------------------------------
    def register_model(self, *, policy: int = SIGNED, fee: int = FEE,
                       split: tuple[int, int, int] = SPLIT, owner: LocalAccount = OWNER,
                       model_id: bytes | None = None) -> bytes:
        model_id = model_id or self.unique("model")
        self.send(self.registry.functions.registerModel(
            model_id, "ipfs://model-card", self.unique("data-root"), 5, policy, fee, split,
        ), owner)
        return model_id

    def register_worker(self, signer: LocalAccount = WORKER, *,
                        operator: LocalAccount = OPERATOR, stake: int = MIN_STAKE) -> str:
        self.send(self.registry.functions.registerWorker(signer.address, b"\x04" + b"\x11" * 64),
                  operator, value=stake)
        return signer.address

    def bind_enclave(self, signer: LocalAccount = WORKER, *,
                     operator: LocalAccount = OPERATOR) -> tuple[bytes, bytes]:
        """Allow a fresh measurement and bind ``signer`` to it; (measurement, attestation hash)."""
        measurement, attestation = self.unique("measurement"), self.unique("attestation")
        self.send(self.registry.functions.allowMeasurement(measurement), ADMIN)
        self.send(self.registry.functions.bindEnclave(
            signer.address, measurement, attestation, "https://attestations/doc"), operator)
        return measurement, attestation

    def setup_signed(self, **model_kwargs: Any) -> bytes:
        """A SIGNED model and the default worker; returns the model id."""
        model_id = self.register_model(**model_kwargs)
        self.register_worker()
        return model_id

    # -- requests ---------------------------------------------------------------------------
    def request(self, model_id: bytes, *, worker: str | None = WORKER.address,
                requester: LocalAccount = REQUESTER, fee: int | None = None,
                payload: bytes = b"sealed-input", input_commitment: bytes | None = None,
                ) -> Request:
        """Pay for a request (named worker by default; ``worker=None`` for an open one)."""
        if fee is None:
            fee = self.attestia.reg.model(model_id).fee
        commitment = input_commitment or self.unique("input")
        receipt = self.send(self.registry.functions.requestInference(
            model_id, worker or ZERO_ADDRESS, commitment, payload), requester, value=fee)
        created = int(self.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
        request = Request(requester.address, model_id, to_checksum_address(worker or ZERO_ADDRESS),
                          fee, created, commitment)
        assert self.registry.functions.requestState(request.request_id).call() == \
            self.registry.functions.hashRequest(request.as_tuple()).call()
        return request

    # -- records -------------------------------------------------------------------------------
    def record(self, request: Request, shares: Sequence[tuple[str, int]], *,
               worker: str | None = None, proof_kind: int = PROOF_SIGNED,
               proof_hash: bytes = ZERO32, output_commitment: bytes | None = None,
               timestamp: int | None = None, attribution: bytes | None = None,
               **overrides: Any) -> Inference:
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
        }
        fields.update(overrides)
        return Inference(**fields)

    def digest(self, inference: Inference) -> bytes:
        return inference_digest(inference, self.chain_id, self.registry.address)

    def sign(self, inference: Inference, signer: LocalAccount = WORKER) -> bytes:
        return sign_digest(signer, self.digest(inference))

    def fulfill(self, request: Request, inference: Inference,
                shares: Sequence[tuple[str, int]], *, by_sig: bool = False,
                signer: LocalAccount | None = None, sender: LocalAccount | None = None,
                sealed: bytes = b"sealed-result") -> Any:
        """Submit a SIGNED/TEE record: directly by the worker key, or relayed with a signature."""
        worker = signer or _dev_for(inference.worker)
        if by_sig:
            signature = self.sign(inference, worker)
            fn = self.registry.functions.fulfillBySig(
                request.as_tuple(), inference.as_tuple(), list(shares), signature, sealed)
            return self.send(fn, sender or RELAYER)
        fn = self.registry.functions.fulfill(
            request.as_tuple(), inference.as_tuple(), list(shares), sealed)
        return self.send(fn, sender or worker)

    def serve(self, model_id: bytes, shares: Sequence[tuple[str, int]] | None = None, *,
              by_sig: bool = False) -> tuple[Request, Inference]:
        """Request and fulfill in one go (the happy path other tests build on)."""
        shares = shares or contributors_shares(3)
        request = self.request(model_id)
        inference = self.record(request, shares)
        self.fulfill(request, inference, shares, by_sig=by_sig)
        return request, inference

    # -- batches -------------------------------------------------------------------------------
    def batch_leaves(self, model_id: bytes, n: int, worker: str = WORKER.address,
                     shares: Sequence[tuple[str, int]] | None = None) -> list[Inference]:
        """N inference leaves of one worker and model (off-chain paid, hence no request slot)."""
        attribution = attribution_hash(shares or contributors_shares(2))
        now = self.now()
        return [
            Inference(self.unique("leaf-request"), model_id, self.unique("leaf-input"),
                      self.unique("leaf-output"), attribution, PROOF_SIGNED, ZERO32, worker,
                      now - i)
            for i in range(n)
        ]

    @staticmethod
    def tree(leaves: Sequence[Inference]) -> StandardMerkleTree:
        return StandardMerkleTree.of([leaf.as_tuple() for leaf in leaves], INFERENCE_LEAF)

    def commit_batch(self, model_id: bytes, root: bytes, count: int, *, deposit: int = 0,
                     worker: LocalAccount = WORKER, epoch: int | None = None,
                     uri: str = "ipfs://batch") -> bytes:
        """The worker commits a batch; returns the batch id."""
        epoch = self.epoch() if epoch is None else epoch
        self.send(self.registry.functions.commitBatch(root, count, model_id, epoch, uri),
                  worker, value=deposit)
        return self.batch_id(root, model_id, worker.address)

    def batch_signature(self, batch: Batch, signer: LocalAccount = WORKER) -> bytes:
        return sign_digest(signer, batch_digest(batch, self.chain_id, self.registry.address))

    @staticmethod
    def batch_id(root: bytes, model_id: bytes, worker: str) -> bytes:
        return batch_id(root, model_id, worker)

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
        distributor = contract or self.distributor
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

