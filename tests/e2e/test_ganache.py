"""The same contracts and client code on Ganache (chain id 1337, newest hardfork shanghai).

On any chain but 31337 there is no default key: the test passes its keys explicitly, as a
user would with ATTESTIA_PRIVATE_KEY.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from offchain.chain.accounts import ANVIL_DEV_KEYS, dev_account
from offchain.chain.anvil import free_port, rpc_call
from offchain.chain.connection import connect
from offchain.chain.deploy import deploy
from offchain.config import REPO_ROOT, load_settings
from offchain.demo.flow import advance_time, end_challenge_windows
from offchain.errors import ConfigError
from offchain.models.onchain import register_model
from offchain.registry import Attestia
from offchain.request.client import wait_for_outcomes
from offchain.rewards.chain import claim, settle
from tests.worker.helpers import make_worker, send_demo_requests

GANACHE = REPO_ROOT / "node_modules" / ".bin" / "ganache"
MNEMONIC = "test test test test test test test test test test test junk"


@pytest.fixture(scope="module")
def ganache_url():
    if not GANACHE.exists() or shutil.which("node") is None:
        pytest.skip("npm ganache is not installed (npm ci)")
    port = free_port()
    proc = subprocess.Popen(
        [str(GANACHE), "--port", str(port), "--chain.hardfork", "shanghai", "--chain.chainId",
         "1337", "--wallet.mnemonic", MNEMONIC, "--logging.quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            rpc_call(url, "eth_chainId")
            break
        except Exception:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_no_default_key_on_ganache(ganache_url, tmp_path: Path) -> None:
    chain = connect(load_settings(home=tmp_path, rpc_url=ganache_url))
    assert chain.chain_id == 1337
    with pytest.raises(ConfigError, match="no signing key for chain id 1337"):
        chain.account()


def test_full_flow_on_ganache(ganache_url, project_home: Path, demo_package,
                              demo_package_dir) -> None:
    tmp_path = project_home
    settings = load_settings(home=tmp_path, rpc_url=ganache_url, private_key=ANVIL_DEV_KEYS[0])
    chain = connect(settings)
    deployment, _ = deploy(chain)
    attestia = Attestia(chain, deployment)
    registration = register_model(attestia, demo_package, fee=10**15, account=dev_account(0))
    node = make_worker(attestia, demo_package_dir, tmp_path / "worker")
    sent = send_demo_requests(attestia, demo_package, tmp_path, 3, worker=node.signer.address)
    assert node.run(until_idle=True).recorded == 3
    outcomes = wait_for_outcomes(attestia, sent, timeout=30)
    assert all(o.output is not None for o in outcomes.values())
    assert {o.inference.modelId for o in outcomes.values()} == {registration.model_id}
    end_challenge_windows(attestia)
    s = settle(attestia, tmp_path / "rewards", account=dev_account(0))
    advance_time(chain, attestia.distributor.timelock() + 1)
    paid = sum(claim(attestia, a, tmp_path / "rewards", dev_account(0)) for a in s.cumulative)
    assert paid == s.total > 0
