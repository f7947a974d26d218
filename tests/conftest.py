"""Shared fixtures: one Anvil for the whole suite, each test inside evm_snapshot/evm_revert.

Tests talk to 127.0.0.1 only. The suite's Attestia home (build/, deployments/, data) is a
temporary directory, so running the tests never touches a developer's own chain.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from offchain.build import compile_contracts
from offchain.chain.anvil import EmbeddedChain, free_port, rpc_call
from offchain.chain.connection import Chain, connect
from offchain.chain.plan import DeployParams
from offchain.config import REPO_ROOT, Settings, load_settings

# Hypothesis's per-example deadline (200 ms) measures the machine's load as much as the code:
# on a busy 2-core machine a 25 ms example took 404 ms once and failed the run. No deadline;
# each test's own max_examples bounds its time, and pytest-timeout bounds a hung one.
settings.register_profile("attestia", deadline=None)
settings.load_profile("attestia")

# The shared build cache (offchain.build.shared_cache_dir) of this test run: never the user's.
os.environ["ATTESTIA_CACHE_DIR"] = tempfile.mkdtemp(prefix="attestia-test-cache-")


@pytest.fixture(scope="session")
def attestia_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("attestia-home")
    # Compile once into the repository's build/ (a no-op when current); every test home links
    # to it, so no test pays for another solc run. Under pytest-xdist every worker process gets
    # here: the lock lets one compile while the others wait and then find it current.
    with open(REPO_ROOT / "build.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        compile_contracts(REPO_ROOT / "build")
    (home / "build").symlink_to(REPO_ROOT / "build", target_is_directory=True)
    return home


@pytest.fixture(scope="session")
def anvil(attestia_home: Path) -> Iterator[EmbeddedChain]:
    node = EmbeddedChain(attestia_home / ".attestia", free_port())
    node.up()
    yield node
    node.down()


@pytest.fixture(scope="module", autouse=True)
def _modules_start_late_in_an_epoch(request: pytest.FixtureRequest) -> None:
    """Every module on the suite's chain starts half a challenge window before an epoch
    (a UTC day) ends, by the chain's clock: a test that only passes early in an epoch fails
    every run, not in the runs that happen to start in a day's last hour (CI failed so at
    23:05 UTC: a batch committed then was final only the next day). The whole suite passed
    with modules starting 30 min and 20 s before the end (2026-12-07)."""
    module = request.module
    if not any("anvil" in item.fixturenames for item in request.session.items
               if item.module is module):
        return
    anvil = request.getfixturevalue("anvil")
    plan = DeployParams()
    latest = rpc_call(anvil.url, "eth_getBlockByNumber", ["latest", False])
    now = int(latest["timestamp"], 16)  # type: ignore[index]
    to_end = plan.epoch_length - now % plan.epoch_length  # the plan's genesis is 0 (UTC)
    rpc_call(anvil.url, "evm_increaseTime",
             [(to_end - plan.challenge_window // 2) % plan.epoch_length])
    rpc_call(anvil.url, "evm_mine", [])


@pytest.fixture(scope="session")
def settings(attestia_home: Path, anvil: EmbeddedChain) -> Settings:
    return load_settings(home=attestia_home, rpc_url=anvil.url)


@pytest.fixture(scope="session")
def session_chain(settings: Settings) -> Chain:
    return connect(settings)


@pytest.fixture
def chain(session_chain: Chain) -> Iterator[Chain]:
    """The suite's chain, reverted to its state before the test afterwards."""
    w3 = session_chain.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    for sender in session_chain._senders.values():
        sender.resync()
    yield session_chain
    w3.provider.make_request("evm_revert", [snapshot])
    # Anvil's revert also resets its clock to the snapshot's block time, so the chain would
    # fall behind the wall clock by every test's duration (and more after a test travelled):
    # over a long run, records signed at wall-clock time land outside the 15-minute window.
    # Put the clock back on the wall clock (never before the latest block).
    # A block is mined at that time, so the next test's "now" (the latest block) is it too.
    latest = int(w3.eth.get_block("latest")["timestamp"])
    w3.provider.make_request("evm_setTime", [max(latest, int(time.time()))])
    w3.provider.make_request("evm_mine", [])
    for sender in session_chain._senders.values():
        sender.resync()


@pytest.fixture(scope="session")
def session_attestia(session_chain: Chain):
    """The contract set, deployed once per test session (fresh)."""
    from offchain.chain.deploy import deploy
    from offchain.registry import Attestia

    deployment, _ = deploy(session_chain, fresh=True)
    return Attestia(session_chain, deployment)


@pytest.fixture
def attestia(session_attestia, chain: Chain):
    """The deployed contracts inside this test's snapshot (reverted afterwards)."""
    return session_attestia


@pytest.fixture(scope="session")
def demo_package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model package, built once per session."""
    from offchain.models.demo import build_demo_package

    return build_demo_package(tmp_path_factory.mktemp("models") / "demo")


@pytest.fixture(scope="session")
def demo_package(demo_package_dir: Path):
    from offchain.models import load_package

    return load_package(demo_package_dir)


@pytest.fixture
def served_model(attestia, demo_package):
    """The demo model registered by dev account 0 (fee 0.001 ETH, split 20/20/60) inside this
    test: an ``offchain.models.onchain.Registration`` (``.model_id`` is the on-chain id,
    ``.model`` the registered Model; ``demo_package.content_hash`` is only the file's hash)."""
    from offchain.chain.accounts import dev_account
    from offchain.models.onchain import register_model

    return register_model(attestia, demo_package, fee=10**15, kinds=["signed", "tee"],
                          account=dev_account(0))


@pytest.fixture
def project_home(tmp_path: Path, attestia_home: Path) -> Path:
    """An empty Attestia home (for CLI runs) sharing the compiled build/."""
    (tmp_path / "build").symlink_to(REPO_ROOT / "build", target_is_directory=True)
    return tmp_path


@pytest.fixture(scope="session")
def zk_package_dir(demo_package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo package with EZKL artifacts (local test SRS, ~5 s)."""
    import shutil

    from offchain.cli.model import calibration_sample
    from offchain.models import load_package
    from offchain.proofs.zk import zk_setup

    path = Path(shutil.copytree(demo_package_dir, tmp_path_factory.mktemp("zk") / "demo"))
    package = load_package(path)
    zk_setup(package.onnx_path, path / "zk", chain_id=31337,
             sample_input=calibration_sample(package))
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``--dist loadgroup``, ``make test``): a test module runs in one
    worker process (its module fixtures made once), and the modules that share the explorer's
    session flow (a whole demo run) run in one worker together, so it is made once too."""
    shared = {item.path for item in items if "explorer_flow" in item.fixturenames}
    for item in items:
        group = "explorer-flow" if item.path in shared else str(item.path)
        item.add_marker(pytest.mark.xdist_group(group))
