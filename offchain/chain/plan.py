"""What gets deployed, in which order, with which constructor arguments.

Pure (standard library only) so that both deployment paths share it: the main package's
``attestia deploy`` and Ape's ``ape run deploy`` (whose venv pins older eth libraries).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from offchain.errors import ConfigError
from offchain.protocol import ZERO_ADDRESS


@dataclass(frozen=True)
class DeployParams:
    """Constructor parameters of the registry and distributor (seconds, wei)."""

    min_stake: int = 10**17
    unbonding_delay: int = 7 * 86400
    # Records can be challenged (slashing evidence, attribution disputes) for this long; the
    # registry requires unbonding_delay >= challenge_window + 15 min + 1 h (WINDOW_MARGIN), so a
    # stake outlives every record's window with a margin.
    challenge_window: int = 3600
    request_timeout: int = 3600
    epoch_length: int = 86400
    root_timelock: int = 3600
    # Attribution disputes (Slasher): a challenge posts this bond; the worker (or anyone
    # defending it, with the same bond) then has response_window to respond; descents open
    # within a window of the response, each side of one on a chess clock of a window. The
    # Slasher requires unbonding_delay >= challenge_window + 15 min + 8 * response_window
    # (DISPUTE_WINDOWS) + 1 h, and response_window >= 10 min (MIN_RESPONSE_WINDOW).
    # 6 h (design.md "Defence by anyone"): an operator paged at night answers within it, and
    # its worker's reveals are one clock of 6 h; anyone holding the package defends meanwhile
    # (watch --defend responds at half the window). 8 windows (48 h) + 2 h 15 min fit the 7-day
    # unbonding delay with days to spare.
    dispute_bond: int = 10**16
    response_window: int = 6 * 3600
    reward_token: str | None = None


@dataclass
class Deployment:
    chain_id: int
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    deployer: str = ""
    created_at: int = 0

    def address(self, name: str) -> str:
        if name not in self.contracts:
            raise ConfigError(
                f"{name} is not deployed on chain {self.chain_id}: run `attestia deploy`"
            )
        return self.contracts[name]["address"]

    def to_json(self) -> dict:
        fields = {k: v for k, v in asdict(self).items() if k != "chain_id"}
        return {"chainId": self.chain_id, **fields}


# name -> constructor-argument builder (deployment so far, deployer address, params), in
# deployment order. The deployer holds every admin role on a fresh deployment (settler and
# guardian too); production deployments hand them to a multisig afterwards.
ArgsFn = Callable[[Deployment, str, DeployParams], list]
PLAN: list[tuple[str, ArgsFn]] = [
    (
        "RewardDistributor",
        lambda d, me, p: [
            ZERO_ADDRESS, p.root_timelock, me, me, me,
        ],
    ),
    (
        "InferenceRegistry",
        lambda d, me, p: [
            me, d.address("RewardDistributor"), p.min_stake, p.unbonding_delay,
            p.challenge_window, p.request_timeout, 0, p.epoch_length,
        ],
    ),
    # Slashing evidence (equivocation, attribution disputes) lives beside the registry; half of
    # a slashed stake goes to the reporter, the rest to the treasury (the deployer here; a
    # multisig in production).
    # The output-dispute game runs on the Slasher's storage (DELEGATECALL from DisputeProofs'
    # fallback); deployed on its own for the EIP-3860 initcode limit, with the same parameters.
    ("OutputDisputes", lambda d, me, p: [d.address("InferenceRegistry"), me, p.dispute_bond,
                                         p.response_window]),
    ("Slasher", lambda d, me, p: [d.address("InferenceRegistry"), me, p.dispute_bond,
                                  p.response_window, d.address("OutputDisputes")]),
    # Read-only views moved out of the registry for its size (record/batch status, inclusion).
    ("RegistryLens", lambda d, me, p: [d.address("InferenceRegistry")]),
]

# After every contract exists: (contract, function, argument builder), sent by the deployer.
WIRING: list[tuple[str, str, ArgsFn]] = [
    ("InferenceRegistry", "setSlasher", lambda d, me, p: [d.address("Slasher")]),
]
