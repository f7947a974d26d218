"""Gas of the hot paths, from the gasUsed of real receipts on a private Anvil. Prints ONE JSON
object on stdout; progress goes to stderr.

    .venv/bin/python bench/gas.py

Measured (each after a warm-up of the same call, so storage slots that stay non-zero in
normal operation are already non-zero: "steady state"):

* ``request``: requestInference with a 160-byte payload naming a worker (goal <= 70,000).
* ``fulfill_single_5_contributors``: fulfill of a SIGNED record with 5 contributors, sent by
  the worker key (goal <= 90,000); ``fulfill_by_sig_5_contributors``: the same relayed.
* ``commit_batch``: commitBatch of a real 1,000-leaf StandardMerkleTree root with a deposit
  and a 63-character URI (goal <= 60,000 whatever N); ``commit_batch_per_inference_n1000``;
  ``commit_batch_by_sig`` (relayed).
* ``claim_1m_tree_repeat``: a claim by an account that has claimed before, with a 20-element
  proof from a 1,000,000-leaf rewards tree, root already active (goal <= 90,000);
  ``claim_1m_tree_first`` (an empty recipient account: the worst case) and
  ``claim_1m_tree_first_funded_recipient`` (a recipient that already holds ETH).
* ``slash_equivocation``: Slasher.slashEquivocation with two signed, conflicting 5-contributor
  records of one worker (the first slash: reporter and treasury credited for the first time,
  as every report of a new reporter is); ``slash_equivocation_warm``: another worker's, with
  reporter and treasury already credited. Both are the reveal alone: ``commit_finding`` is the
  reporter's commitment mined a block before it (design.md "Rewards bound to their finder").

Records carry the model's 5-contributor roster and a 64-byte sealed result (resultHash);
workers register with their key's EIP-712 consent, sent by the operator.

The rewards tree is built with ``offchain.merkle.StandardMerkleTree`` itself (its column-wise
encoding and C keccak make 1,000,000 leaves take ~15 s here), and the contract accepting the
claims is the check that its leaves and proofs are the ones ``MerkleProof`` expects.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth_utils import keccak, to_checksum_address  # noqa: E402

from bench.private_chain import deployed  # noqa: E402
from offchain import protocol  # noqa: E402
from offchain.chain.accounts import dev_account  # noqa: E402
from offchain.chain.connection import Chain  # noqa: E402
from offchain.chain.eip712 import sign_digest  # noqa: E402
from offchain.chain.tx import Call  # noqa: E402
from offchain.merkle import StandardMerkleTree  # noqa: E402
from offchain.protocol import (  # noqa: E402
    BPS,
    CLAIM_LEAF_TYPES,
    INFERENCE_ABI_TYPES,
    PROOF_SIGNED,
    ZERO32,
    Batch,
    Inference,
    Request,
    Split,
    attribution_hash,
    batch_digest,
    batch_id,
    data_uri_hash,
    inference_digest,
    policy_bit,
    result_hash,
    worker_registration_digest,
)
from offchain.registry import Attestia  # noqa: E402

GOALS = {
    "request": 70_000,
    "fulfill_single_5_contributors": 90_000,
    "commit_batch": 60_000,
    "claim_1m_tree_repeat": 90_000,
}
ADMIN, OWNER, OPERATOR, WORKER, REQUESTER, RELAYER = (dev_account(i) for i in range(6))
SLASHED = (dev_account(6), dev_account(7))  # worker keys that equivocate (measured last)
FUNDED_CLAIMANT = dev_account(8)  # already holds ETH
SEALED = b"\x01" * 64
ENCRYPTION_KEY = b"\x04" + b"\x11" * 64
FEE = 10**15
INFERENCE_LEAF = list(INFERENCE_ABI_TYPES)
REWARD_LEAF = list(CLAIM_LEAF_TYPES)
TREE_LEAVES = 1_000_000
BATCH_LEAVES = 1_000
URI = "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"  # 63 characters

console = Console(stderr=True)


class Bench:
    """The deployed contracts and the few builders the measurements need."""

    def __init__(self, chain: Chain, attestia: Attestia) -> None:
        self.chain = chain
        self.attestia = attestia
        self.registry = attestia.registry
        self.distributor = attestia.distributor
        self.slasher = attestia.slasher
        self.counter = 0

    def unique(self) -> bytes:
        self.counter += 1
        return keccak(f"bench-{self.counter}".encode())

    def gas(self, call: Call, account: Any) -> int:
        return int(self.attestia.send(call, account=account)["gasUsed"])

    def now(self) -> int:
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    def travel(self, seconds: int) -> None:
        self.chain.w3.provider.make_request("evm_increaseTime", [seconds])
        self.chain.w3.provider.make_request("evm_mine", [])

    def register_worker(self, signer: Any) -> None:
        """The operator registers ``signer`` with the key's EIP-712 consent."""
        deadline = self.now() + 3_600
        digest = worker_registration_digest(signer.address, OPERATOR.address, ENCRYPTION_KEY,
                                            self.registry.nonce(signer.address), deadline,
                                            self.chain.chain_id, self.registry.address)
        self.attestia.send(self.registry.register_worker(
            signer.address, ENCRYPTION_KEY, 10**17, deadline=deadline,
            signature=sign_digest(signer, digest)), account=OPERATOR)

    def request(self, model_id: bytes) -> tuple[Request, int]:
        """(the Request as the registry emitted it, gas used)."""
        call = self.registry.request_inference(model_id, WORKER.address, self.unique(),
                                          b"\xab" * 160, self.registry.model(model_id))
        receipt = self.attestia.send(call, account=REQUESTER)
        (requested,) = self.registry.requested_in(receipt)
        return requested.request, int(receipt["gasUsed"])

    def record(self, request_id: bytes, model_id: bytes, input_commitment: bytes,
               shares: list[tuple[str, int]], worker: str = WORKER.address) -> Inference:
        return Inference(request_id, model_id, input_commitment, self.unique(),
                         attribution_hash(shares), PROOF_SIGNED, ZERO32, worker, self.now(),
                         result_hash(SEALED))

    def sign(self, record: Inference, signer: Any = WORKER) -> bytes:
        return sign_digest(signer, inference_digest(record, self.chain.chain_id,
                                                    self.registry.address))

    def fulfill(self, model_id: bytes, shares: list[tuple[str, int]], roster: list[str], *,
                by_sig: bool) -> int:
        request, _ = self.request(model_id)
        record = self.record(request.request_id, model_id, request.inputCommitment, shares)
        if by_sig:
            call = self.registry.fulfill_by_sig(request, record, shares, roster, self.sign(record),
                                           SEALED)
            return self.gas(call, RELAYER)
        return self.gas(self.registry.fulfill(request, record, shares, roster, SEALED), WORKER)


def contributors(n: int) -> list[tuple[str, int]]:
    accounts = sorted((to_checksum_address(keccak(f"c{i}".encode())[12:]) for i in range(n)),
                      key=lambda a: int(a, 16))
    base, rest = divmod(BPS, n)
    return [(a, base + (1 if i < rest else 0)) for i, a in enumerate(accounts)]


def roster_of(shares: list[tuple[str, int]]) -> list[str]:
    return [account for account, _ in shares]  # already sorted ascending


def measure_records(bench: Bench, model_id: bytes) -> dict[str, int]:
    bench.request(model_id)  # warm-up
    _, request_gas = bench.request(model_id)
    shares = contributors(5)
    roster = roster_of(shares)
    # Warm-up: balances and pool become non-zero.
    bench.fulfill(model_id, shares, roster, by_sig=False)
    direct = bench.fulfill(model_id, shares, roster, by_sig=False)
    relayed = bench.fulfill(model_id, shares, roster, by_sig=True)
    return {"request": request_gas, "fulfill_single_5_contributors": direct,
            "fulfill_by_sig_5_contributors": relayed}


def measure_batches(bench: Bench, model_id: bytes) -> dict[str, Any]:
    now = bench.now()
    leaves = [  # batch leaves: resultHash 0
        Inference(bench.unique(), model_id, bench.unique(), bench.unique(),
                  attribution_hash(contributors(3)), PROOF_SIGNED, ZERO32, WORKER.address,
                  now - i, ZERO32)
        for i in range(BATCH_LEAVES)
    ]
    tree = StandardMerkleTree.of([leaf.as_tuple() for leaf in leaves], INFERENCE_LEAF)
    root = bytes.fromhex(tree.root[2:])
    reg = bench.registry
    epoch = reg.current_epoch()
    bench.gas(reg.commit_batch(bench.unique(), BATCH_LEAVES, model_id, epoch, URI,
                               bench.unique(), 10**15), WORKER)
    data_hash = keccak(b"the batch file")
    gas = bench.gas(reg.commit_batch(root, BATCH_LEAVES, model_id, epoch, URI, data_hash,
                                     10**15), WORKER)
    proof = [bytes.fromhex(p[2:]) for p in tree.get_proof(BATCH_LEAVES // 2)]
    if not bench.attestia.lens.verify_inclusion(batch_id(root, model_id, WORKER.address),
                                leaves[BATCH_LEAVES // 2], proof):
        raise RuntimeError("verifyInclusion rejected a leaf of the committed batch")
    relayed_root = bench.unique()
    batch = Batch(relayed_root, BATCH_LEAVES, model_id, epoch, data_uri_hash(URI), data_hash,
                  WORKER.address, 10**15)
    signature = sign_digest(WORKER, batch_digest(batch, bench.chain.chain_id, reg.address))
    relayed = bench.gas(reg.commit_batch_by_sig(relayed_root, BATCH_LEAVES, model_id, epoch, URI,
                                                data_hash, WORKER.address, signature, 10**15),
                        RELAYER)
    return {"commit_batch": gas, "commit_batch_per_inference_n1000": gas / BATCH_LEAVES,
            "commit_batch_by_sig": relayed}


def measure_slashes(bench: Bench, model_id: bytes) -> dict[str, int]:
    """Each SLASHED key signs two records for one request that claim different outputs;
    RELAYER reports both pairs (the first slash credits reporter and treasury from zero)."""
    shares = contributors(5)
    figures = []
    for signer in SLASHED:
        request_id, commitment = bench.unique(), bench.unique()
        a = bench.record(request_id, model_id, commitment, shares, signer.address)
        b = bench.record(request_id, model_id, commitment, shares, signer.address)
        report = bench.slasher.slash_equivocation(a, bench.sign(a, signer), b,
                                                  bench.sign(b, signer))
        committed = bench.attestia.sender(RELAYER).commit_for(report)
        figures.append(int(bench.attestia.send(report, account=RELAYER,
                                               committed=True)["gasUsed"]))
        worker = bench.registry.worker(signer.address)
        if worker is None or not worker.slashed or worker.stake:
            raise RuntimeError(f"{signer.address} was not slashed")
    return {"slash_equivocation": figures[0], "slash_equivocation_warm": figures[1],
            "commit_finding": int(committed["gasUsed"])}


def measure_claims(bench: Bench) -> tuple[dict[str, int], float]:
    d = bench.distributor
    repeat = to_checksum_address(keccak(b"repeat-claimant")[12:])
    empty = to_checksum_address(keccak(b"empty-claimant")[12:])
    bench.gas(d.fund(10**18), RELAYER)
    timelock = d.timelock()

    # Round 1: the repeat claimant's first claim, under a small root.
    small = StandardMerkleTree.of([[repeat, 1], [empty, 0]], REWARD_LEAF)
    bench.gas(d.propose_root(1, bytes.fromhex(small.root[2:]), 1), ADMIN)
    bench.travel(timelock + 1)
    bench.gas(d.activate_root(1), RELAYER)
    bench.gas(d.claim(repeat, 1, [bytes.fromhex(p[2:]) for p in small.get_proof(0)]), RELAYER)

    # Round 2: a 1,000,000-leaf root with everyone's new cumulative amounts.
    started = time.monotonic()
    values: list[list[Any]] = [["0x%040x" % (0x10_0000_0000 + i), 1]
                               for i in range(TREE_LEAVES - 3)]
    values += [[repeat, 2], [empty, 1_000], [FUNDED_CLAIMANT.address, 1_000]]
    tree = StandardMerkleTree.of(values, REWARD_LEAF)
    tree_seconds = time.monotonic() - started
    total = TREE_LEAVES - 3 + 2 + 2_000
    bench.gas(d.propose_root(2, bytes.fromhex(tree.root[2:]), total), ADMIN)
    bench.travel(timelock + 1)
    bench.gas(d.activate_root(2), RELAYER)  # activated apart: the claims below measure claims

    def claim(index: int) -> int:
        account, cumulative = values[index]
        proof = [bytes.fromhex(p[2:]) for p in tree.get_proof(index)]
        if len(proof) < 19:
            raise RuntimeError(f"unexpectedly short proof ({len(proof)} nodes)")
        return bench.gas(d.claim(account, cumulative, proof), RELAYER)

    figures = {
        "claim_1m_tree_repeat": claim(TREE_LEAVES - 3),
        "claim_1m_tree_first": claim(TREE_LEAVES - 2),
        "claim_1m_tree_first_funded_recipient": claim(TREE_LEAVES - 1),
    }
    if bench.chain.w3.eth.get_balance(empty) != 1_000:
        raise RuntimeError("the first claim did not pay the empty account its 1,000 wei")
    return figures, tree_seconds


def main() -> int:
    started = time.monotonic()
    with deployed(console, "attestia-gas-") as (_, attestia):
        chain = attestia.chain
        bench = Bench(chain, attestia)
        content_hash = bench.unique()
        attestia.send(bench.registry.register_model(
            content_hash, "ipfs://model", bench.unique(), roster_of(contributors(5)),
            policy_bit(PROOF_SIGNED), FEE, Split(2_000, 1_000, 7_000)), account=OWNER)
        model_id = protocol.model_id(OWNER.address, content_hash)
        for signer in (WORKER, *SLASHED):
            bench.register_worker(signer)
        with console.status("requests and records"):
            result: dict[str, Any] = measure_records(bench, model_id)
        console.log(f"request {result['request']:,} gas, fulfill "
                    f"{result['fulfill_single_5_contributors']:,} gas")
        with console.status(f"a {BATCH_LEAVES:,}-leaf batch"):
            result |= measure_batches(bench, model_id)
        console.log(f"commitBatch {result['commit_batch']:,} gas")
        with console.status(f"a {TREE_LEAVES:,}-leaf rewards tree and claims"):
            claims, tree_seconds = measure_claims(bench)
        result |= claims
        console.log(f"claim (repeat) {result['claim_1m_tree_repeat']:,} gas; tree built in "
                    f"{tree_seconds:.1f} s")
        with console.status("equivocation slashes"):
            result |= measure_slashes(bench, model_id)
        console.log(f"slashEquivocation {result['slash_equivocation']:,} gas")
    result["targets_met"] = {key: result[key] <= goal for key, goal in GOALS.items()}
    result["goals"] = GOALS
    result["tree_1m_build_s"] = round(tree_seconds, 1)
    result["bench_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
