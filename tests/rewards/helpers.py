"""A small market on the suite's Anvil for settlement tests, built straight through the typed
client: a model registered with its contributor roster, a worker key registered by itself,
single records (request + fulfill) and batches (a published file, committed by hand with its
dataHash, or with whatever count, deposit, URI or hash an attacker picks).

Contributors are derived addresses (nobody needs their keys: anyone may send a claim, the
funds go to the account). Real transactions only; every test runs inside the suite's
evm_snapshot.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.logs import DISCARD

from offchain.chain.accounts import dev_account
from offchain.config import REPO_ROOT
from offchain.demo.flow import end_challenge_windows
from offchain.protocol import (
    BPS,
    PROOF_SIGNED,
    ZERO32,
    Inference,
    Request,
    Share,
    Split,
    attribution_hash,
    batch_deposit,
    model_id,
    policy_bit,
    result_hash,
    sorted_roster,
)
from offchain.record.batch_file import BatchFile, BatchLeaf, Published, write_batch_file
from offchain.registry import (
    Attestia,
    BatchCommitted,
    InferenceRecorded,
    decode_recorded,
    decode_requested,
)

SETTLER = dev_account(0)  # the deployer holds the settler and guardian roles
OWNER = dev_account(1)
WORKER = dev_account(3)  # registers itself: its own operator
REQUESTER = dev_account(4)
FEE = 10**15
SPLIT = Split(2_000, 1_000, 7_000)  # worker, owner, contributors
CUT = FEE * 7_000 // BPS  # the contributors' cut of one FEE
SEALED = b"sealed-result"


def contributor(i: int) -> str:
    return to_checksum_address(keccak(f"rewards-contributor-{i}".encode())[12:])


ROSTER = sorted_roster(contributor(i) for i in range(5))
OUTSIDER = contributor(99)  # in no roster


def shares_of(accounts: Sequence[str]) -> tuple[Share, ...]:
    """An even, valid attribution list over ``accounts``."""
    ordered = sorted({to_checksum_address(a) for a in accounts}, key=lambda a: int(a, 16))
    base, rest = divmod(BPS, len(ordered))
    return tuple(Share(a, base + (1 if i < rest else 0)) for i, a in enumerate(ordered))


@dataclass
class Market:
    attestia: Attestia
    model_id: bytes = b""
    _ids: itertools.count = field(default_factory=itertools.count)

    @classmethod
    def open(cls, attestia: Attestia) -> Market:
        market = cls(attestia)
        reg = attestia.registry
        content = market.unique("model")
        attestia.send(reg.register_model(content, "ipfs://card", market.unique("data"),
                                         ROSTER, policy_bit(PROOF_SIGNED), FEE, SPLIT),
                      account=OWNER)
        market.model_id = model_id(OWNER.address, content)
        attestia.send(reg.register_worker(WORKER.address, b"\x04" + b"\x11" * 64,
                                          reg.min_stake()), account=WORKER)
        return market

    def unique(self, label: str) -> bytes:
        return keccak(f"{label}-{next(self._ids)}".encode())

    def now(self) -> int:
        return int(self.attestia.chain.w3.eth.get_block("latest")["timestamp"])

    def next_epoch(self) -> int:
        """Travel past every record's challenge window, then into the next epoch; returns the
        epoch that ended (every record so far is final in it or before)."""
        return end_challenge_windows(self.attestia)

    def travel(self, seconds: int) -> None:
        w3 = self.attestia.chain.w3
        w3.provider.make_request("evm_increaseTime", [int(seconds)])
        w3.provider.make_request("evm_mine", [])

    # -- single records ---------------------------------------------------------------------
    def single(self, shares: Sequence[tuple[str, int]]) -> InferenceRecorded:
        """A paid request, fulfilled by the worker with ``shares``."""
        reg = self.attestia.registry
        receipt = self.attestia.send(reg.request_inference(
            self.model_id, WORKER.address, self.unique("input"), b"payload",
            reg.model(self.model_id)),
            account=REQUESTER)
        (log,) = self.attestia.registry.contract.events.InferenceRequested().process_receipt(
            receipt, errors=DISCARD)
        request: Request = decode_requested(log).request
        inference = Inference(request.request_id, self.model_id, request.inputCommitment,
                              self.unique("output"), attribution_hash(shares), PROOF_SIGNED,
                              ZERO32, WORKER.address, self.now(), result_hash(SEALED))
        receipt = self.attestia.send(reg.fulfill(request, inference, list(shares), ROSTER,
                                                 SEALED), account=WORKER)
        (recorded,) = [decode_recorded(e) for e in self.attestia.registry.contract.events
                       .InferenceRecorded().process_receipt(receipt, errors=DISCARD)]
        return recorded

    # -- batches ---------------------------------------------------------------------------
    def batch(self, n: int, *, fee: int = FEE, worker: str = WORKER.address,
              shares: Sequence[Sequence[tuple[str, int]]] | None = None) -> BatchFile:
        """A batch file of ``n`` leaves (default lists: rotating pairs of roster accounts)."""
        now = self.now()
        leaves = []
        for i in range(n):
            listed = tuple(shares[i]) if shares is not None else shares_of(
                [ROSTER[i % 5], ROSTER[(i + 1) % 5]])
            record = Inference(self.unique("leaf"), self.model_id, self.unique("in"),
                               self.unique("out"), attribution_hash(listed), PROOF_SIGNED,
                               ZERO32, worker, now - i, ZERO32)
            leaves.append(BatchLeaf(record, tuple(Share(*s) for s in listed), fee))
        return BatchFile.of(leaves, model_id=self.model_id, worker=worker,
                            epoch=self.attestia.registry.current_epoch(),
                            deposit=self.deposit_for(n, fee))

    @staticmethod
    def deposit_for(n: int, fee: int = FEE) -> int:
        return batch_deposit([fee] * n, SPLIT.workerBps, SPLIT.ownerBps)

    @staticmethod
    def publish(batch: BatchFile, directory: Path) -> Published:
        return write_batch_file(directory / f"{batch.tree.root}.json", batch)

    def commit(self, batch: BatchFile, uri: str, data_hash: bytes, *,
               count: int | None = None, deposit: int | None = None,
               account: LocalAccount = WORKER) -> BatchCommitted:
        """The worker commits ``batch`` (any count or deposit: the attacker's choice)."""
        reg = self.attestia.registry
        receipt = self.attestia.send(reg.commit_batch(
            batch.root, batch.count if count is None else count, batch.model_id,
            reg.current_epoch(), uri, data_hash,
            batch.deposit if deposit is None else deposit), account=account)
        (event,) = [e for e in reg.batches(receipt["blockNumber"], receipt["blockNumber"])
                    if e.root == batch.root]
        return event


def cli_home(settings, home: Path) -> Path:
    """An Attestia home for CLI runs on the suite's chain: the session's build and
    deployment, its own data directory."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "build").symlink_to(REPO_ROOT / "build", target_is_directory=True)
    (home / "deployments").symlink_to(settings.home / "deployments", target_is_directory=True)
    return home


def cli(settings, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    full |= {"ATTESTIA_HOME": str(home), "ATTESTIA_RPC_URL": settings.rpc_url,
             "COLUMNS": "250", **env}
    return subprocess.run([sys.executable, "-m", "offchain.cli.main", *args], cwd=REPO_ROOT,
                          env=full, capture_output=True, text=True, timeout=120)
