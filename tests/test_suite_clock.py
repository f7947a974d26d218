"""The suite's own clock rule (tests/conftest.py ``_modules_start_late_in_an_epoch``)."""

from __future__ import annotations

from offchain.chain.anvil import rpc_call
from offchain.chain.plan import DeployParams


def test_a_module_on_the_suites_chain_starts_in_its_epochs_last_challenge_window(anvil) -> None:
    plan = DeployParams()
    latest = rpc_call(anvil.url, "eth_getBlockByNumber", ["latest", False])
    now = int(latest["timestamp"], 16)  # type: ignore[index]
    left = plan.epoch_length - now % plan.epoch_length
    # half a window before the end, plus this module's few seconds so far
    assert plan.challenge_window // 2 - 60 <= left <= plan.challenge_window // 2, left
