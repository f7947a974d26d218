"""Money and admin tasks (``attestia withdraw``, ``worker stake …``, ``model deprecate|revoke``,
``rewards cancel-root``, ``governance measurements``), on top of the typed client
(:mod:`offchain.registry`).

Every write is dry-run by the transport first, so a refusal on chain (``Unauthorized``,
``NothingToWithdraw``, ``RootNotProposed``…) is reported by its custom error's name before any
gas is spent. Checks a user can act on (nothing to withdraw, stake not yet withdrawable) are
made here first, with a message saying what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from offchain.errors import ConfigError
from offchain.registry import Attestia
from offchain.request.market import dead_key_reason, model_state
from offchain.timefmt import iso_if_set


@dataclass(frozen=True)
class Withdrawal:
    """What ``withdraw`` paid out to ``account``: its registry balance (worker and owner
    earnings, refunds) and its Slasher balance (reporter rewards, treasury)."""

    account: str
    registry: int
    slasher: int

    @property
    def total(self) -> int:
        return self.registry + self.slasher

    def to_json(self) -> dict[str, Any]:
        return {"account": self.account, "registryWei": self.registry,
                "slasherWei": self.slasher, "totalWei": self.total}


def withdraw(attestia: Attestia, account: Any) -> Withdrawal:
    """Pull every balance ``account`` (a LocalAccount) holds; a zero balance sends nothing."""
    address = str(account.address)
    registry = attestia.registry.balance(address)
    slasher = attestia.slasher.balance(address)
    if registry:
        attestia.send(attestia.registry.withdraw(), account=account)
    if slasher:
        attestia.send(attestia.slasher.withdraw(), account=account)
    return Withdrawal(address, registry, slasher)


def _worker(attestia: Attestia, signer: str) -> Any:
    worker = attestia.registry.worker(signer)
    if worker is None:
        raise ConfigError(f"worker {signer} is not registered (attestia worker list)")
    return worker


@dataclass(frozen=True)
class StakeState:
    """A worker key's stake after a stake command."""

    signer: str
    stake: int
    unbonding_at: int | None
    withdrawable_at: int | None
    moved: int = 0  # wei added or withdrawn by the command

    def to_json(self) -> dict[str, Any]:
        return {"signer": self.signer, "stakeWei": self.stake, "movedWei": self.moved,
                "unbondingAt": iso_if_set(self.unbonding_at),
                "withdrawableAt": iso_if_set(self.withdrawable_at)}


def stake_state(attestia: Attestia, signer: str, moved: int = 0) -> StakeState:
    worker = _worker(attestia, signer)
    unbonding = int(worker.unbondingAt) or None
    ready = unbonding + attestia.registry.unbonding_delay() if unbonding else None
    return StakeState(signer, int(worker.stake), unbonding, ready, moved)


def add_stake(attestia: Attestia, signer: str, amount: int, account: Any) -> StakeState:
    if amount <= 0:
        raise ConfigError("the amount to stake must be more than 0 ETH")
    worker = _worker(attestia, signer)
    dead = dead_key_reason(worker)
    if dead is not None:  # the registry would revert WorkerNotActive: say what to do instead
        from offchain.worker.registration import another_key_advice  # (imports eth-account)

        raise ConfigError(f"worker {signer} is {dead}: a key that stopped being active takes "
                          f"no stake and never records again; nothing was sent. To keep "
                          f"serving, {another_key_advice(attestia.chain.is_local_dev)}")
    attestia.send(attestia.registry.add_stake(signer, amount), account=account)
    return stake_state(attestia, signer, amount)


def begin_unbonding(attestia: Attestia, signer: str, account: Any) -> StakeState:
    """Start the unbonding delay (the key stops serving); the state says when the stake can
    be withdrawn."""
    worker = _worker(attestia, signer)
    if worker.unbondingAt:
        state = stake_state(attestia, signer)
        raise ConfigError(f"worker {signer} is already unbonding: its stake is withdrawable "
                          f"from {iso_if_set(state.withdrawable_at)} "
                          "(attestia worker stake withdraw)")
    attestia.send(attestia.registry.begin_unbonding(signer), account=account)
    return stake_state(attestia, signer)


def withdraw_stake(attestia: Attestia, signer: str, account: Any) -> StakeState:
    """Withdraw the whole stake once the unbonding delay has passed."""
    state = stake_state(attestia, signer)
    if state.withdrawable_at is None:
        raise ConfigError(f"worker {signer} is not unbonding: run attestia worker stake unbond "
                          f"--signer {signer} first")
    now = int(attestia.chain.w3.eth.get_block("latest")["timestamp"])
    if now < state.withdrawable_at:
        raise ConfigError(f"worker {signer}'s stake is withdrawable from "
                          f"{iso_if_set(state.withdrawable_at)}, not yet")
    if state.stake == 0:
        raise ConfigError(f"worker {signer} has no stake left to withdraw")
    attestia.send(attestia.registry.withdraw_stake(signer), account=account)
    return stake_state(attestia, signer, state.stake)


def set_model_state(attestia: Attestia, model_id: bytes, action: str, account: Any) -> str:
    """``deprecate`` (no new requests; reversible only by registering again) or ``revoke``
    (one-way) a model; returns its new state."""
    model = attestia.registry.model(model_id)
    if model is None:
        raise ConfigError(f"model 0x{model_id.hex()} is not registered (attestia model list)")
    state = model_state(model)
    if action == "deprecate":
        if state != "active":
            raise ConfigError(f"model 0x{model_id.hex()} is already {state}")
        attestia.send(attestia.registry.deprecate_model(model_id), account=account)
    elif action == "revoke":
        if state == "revoked":
            raise ConfigError(f"model 0x{model_id.hex()} is already revoked")
        attestia.send(attestia.registry.revoke_model(model_id), account=account)
    else:
        raise ValueError(action)
    new = attestia.registry.model(model_id)
    assert new is not None
    return model_state(new)


def cancel_root(attestia: Attestia, epoch: int, account: Any) -> bytes:
    """Cancel an epoch's proposed reward root during its timelock (GUARDIAN_ROLE); returns
    the cancelled root."""
    if not 0 <= epoch < 2**64:
        raise ConfigError(f"epoch must be a whole number from 0 to {2**64 - 1}, got {epoch}")
    root = attestia.distributor.epoch_root(epoch)
    attestia.send(attestia.distributor.cancel_root(epoch), account=account)
    return bytes(root.root)


@dataclass(frozen=True)
class MeasurementEntry:
    """An enclave measurement governance allowed, and when it was revoked (if it was)."""

    measurement: bytes
    allowed_at: int | None
    revoked_at: int | None

    @property
    def state(self) -> str:
        return "revoked" if self.revoked_at else "allowed"

    def to_json(self) -> dict[str, Any]:
        return {"measurement": "0x" + self.measurement.hex(), "state": self.state,
                "allowedAt": iso_if_set(self.allowed_at), "revokedAt": iso_if_set(self.revoked_at)}


def measurements(attestia: Attestia) -> list[MeasurementEntry]:
    """Every measurement from the MeasurementAllowed / MeasurementRevoked events, in the order
    first seen (read-only)."""
    allowed: dict[bytes, int] = {}
    revoked: dict[bytes, int] = {}
    for event in attestia.registry.measurement_events():
        (allowed if event.allowed else revoked).setdefault(event.measurement, event.timestamp)
    return [MeasurementEntry(m, allowed.get(m), revoked.get(m))
            for m in dict.fromkeys([*allowed, *revoked])]
