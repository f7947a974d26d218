"""The typed client of ``RewardDistributor``: epoch roots, funding and cumulative claims."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from offchain.chain.tx import Call
from offchain.protocol import EpochRoot, from_abi
from offchain.registry.base import ContractClient
from offchain.registry.events import Claimed, RootProposed, decode_claimed, decode_root_proposed


@dataclass(frozen=True)
class ClaimableRoot:
    """The root claims are checked against now (``claimableRoot``)."""

    epoch: int
    root: bytes
    total: int


@dataclass(frozen=True)
class Funding:
    """What the distributor received (swept pools, direct funding) and what it paid out."""

    funded: int
    claimed: int

    @property
    def unclaimed(self) -> int:
        """What it still holds for contributors."""
        return self.funded - self.claimed


class Distributor(ContractClient):
    """Typed reads, call builders and decoded events of the deployed ``RewardDistributor``."""

    def epoch_root(self, epoch: int) -> EpochRoot:
        return from_abi(EpochRoot, self._fn.epochRoot(epoch).call())

    def claimable_root(self) -> ClaimableRoot | None:
        """The root claims are checked against now; None if none."""
        exists, epoch, root, total = self._fn.claimableRoot().call()
        return ClaimableRoot(int(epoch), bytes(root), int(total)) if exists else None

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

    def roots_proposed(self, from_block: int | None = None, to_block: int | None = None
                       ) -> list[RootProposed]:
        return [decode_root_proposed(e)
                for e in self._events("RootProposed", from_block, to_block)]

    def claims(self, from_block: int | None = None, to_block: int | None = None
               ) -> list[Claimed]:
        return [decode_claimed(e) for e in self._events("Claimed", from_block, to_block)]
