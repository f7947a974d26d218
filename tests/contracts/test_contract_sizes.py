"""Every deployed contract keeps room under the EIP-170 code size limit (issue 16): at least
ROOM bytes, so the next change to a contract does not have to start by moving code out of it.
Reads the compiled artifacts; no chain needed. contracts/README.md lists the sizes.

Also pins the registry storage slots that code outside the registry reads (Common.sol "registry
storage": RegistryViews by DELEGATECALL, the Slasher through extsload) to the compiler's
storage layout, so a new state variable cannot shift them silently."""

from __future__ import annotations

import json
import re

import pytest

from offchain.build import Artifact, compile_contracts
from offchain.chain.plan import PLAN
from offchain.config import REPO_ROOT

EIP170_LIMIT = 24_576  # bytes of deployed (runtime) code, EIP-170
ROOM = 3_000

# The plan's contracts, and RegistryViews and DisputeProofs, which the registry's and the
# Slasher's constructors deploy.
DEPLOYED = [name for name, _ in PLAN] + ["RegistryViews", "DisputeProofs"]


def _artifacts() -> dict[str, Artifact]:
    artifacts, _, _ = compile_contracts(REPO_ROOT / "build")
    return artifacts


def test_the_contracts_measured_are_the_deployed_ones() -> None:
    assert set(DEPLOYED) == {"RewardDistributor", "InferenceRegistry", "Slasher",
                             "RegistryLens", "RegistryViews", "DisputeProofs", "OutputDisputes"}
    assert "new RegistryViews()" in (REPO_ROOT / "contracts/InferenceRegistry.sol").read_text()
    assert "new DisputeProofs(" in (REPO_ROOT / "contracts/Slasher.sol").read_text()


@pytest.mark.parametrize("name", DEPLOYED)
def test_deployed_contract_has_room_under_eip170(name: str) -> None:
    size = len(bytes.fromhex(_artifacts()[name].deployed_bytecode))
    assert size <= EIP170_LIMIT - ROOM, (
        f"{name} is {size:,} B of runtime code: {EIP170_LIMIT - size:,} B under the EIP-170 "
        f"limit ({EIP170_LIMIT:,} B), fewer than {ROOM:,}; move cold views to RegistryViews or "
        "RegistryLens, pure logic to free functions or libraries, or split the contract")


def test_registry_slots_read_from_outside_match_the_storage_layout() -> None:
    _artifacts()
    layout = json.loads((REPO_ROOT / "build" / "InferenceRegistry.json").read_text())
    slots = {item["label"]: int(item["slot"]) for item in layout["storageLayout"]["storage"]}
    common = (REPO_ROOT / "contracts" / "Common.sol").read_text()
    constants = {m[1]: int(m[2]) for m in re.finditer(r"uint256 constant (\w+_SLOT) = (\d+);",
                                                      common)}
    assert constants == {
        "MODELS_SLOT": slots["_models"],
        "WORKERS_SLOT": slots["_workers"],
        "MEASUREMENTS_SLOT": slots["_measurements"],
        "BATCHES_SLOT": slots["_batches"],
        "EPOCH_POOLS_SLOT": slots["_epochPools"],
        "USED_PROOFS_SLOT": slots["_usedProofs"],
    }
