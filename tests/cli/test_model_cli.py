"""``attestia model register|show|set-terms`` and ``infer`` as a user runs them.

The model id is printed at registration and recorded in the project's data directory;
re-running with the same parameters is a no-op, with other parameters an error saying what
differs (issue 9 class 4b); every write is dry-run first, so a revert is reported by its custom
error's name before any gas is spent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offchain.chain.accounts import dev_account
from offchain.protocol import model_id
from tests.cli.test_cli_errors import assert_one_line_error, run


def cli(home: Path, anvil, *args: str):
    return run(list(args), home, ATTESTIA_RPC_URL=anvil.url)


@pytest.mark.slow
def test_register_prints_records_and_refuses_other_parameters(
    project_home: Path, anvil, chain, demo_package, demo_package_dir: Path
) -> None:
    home, package = project_home, str(demo_package_dir)
    expected = "0x" + model_id(dev_account(0).address, demo_package.content_hash).hex()
    first = cli(home, anvil, "model", "register", package)
    assert first.returncode == 0, first.stderr
    assert f"model {expected} registered: owner {dev_account(0).address}" in first.stdout
    record = json.loads((home / ".attestia" / "model-ids.json").read_text())
    [(_, by_content)] = record["registrations"].items()
    assert by_content["0x" + demo_package.content_hash.hex()]["modelId"] == expected

    again = cli(home, anvil, "model", "register", package, "--json")
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["modelId"] == expected and data["registered"] is False

    other = cli(home, anvil, "model", "register", package, "--fee", "0.002", "--proofs", "signed")
    assert_one_line_error(other, f"model {expected}", "already registered by",
                          "fee 0.001 ETH on chain, 0.002 ETH asked",
                          "proofs signed,tee on chain, signed asked", "model set-terms")

    shown = cli(home, anvil, "model", "show", package, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["modelId"] == expected

    changed = cli(home, anvil, "model", "set-terms", expected, "--fee", "0.002")
    assert changed.returncode == 0, changed.stderr
    assert f"model {expected} updated: fee 0.002000 ETH" in changed.stdout
    now_same = cli(home, anvil, "model", "register", package, "--fee", "0.002")
    assert now_same.returncode == 0 and "already registered" in now_same.stdout

    bad_fee = cli(home, anvil, "model", "register", package, "--fee", "-1")
    assert_one_line_error(bad_fee, "--fee must be an amount of ETH")


def test_another_owners_registration_is_its_own_model(
    project_home: Path, anvil, chain, demo_package_dir: Path
) -> None:
    home, package = project_home, str(demo_package_dir)
    theirs = cli(home, anvil, "model", "register", package, "--dev-account", "5", "--json")
    ours = cli(home, anvil, "model", "register", package, "--json")
    assert theirs.returncode == ours.returncode == 0, theirs.stderr + ours.stderr
    a, b = json.loads(theirs.stdout), json.loads(ours.stdout)
    assert a["modelId"] != b["modelId"] and a["registered"] and b["registered"]
    assert b["owner"] == dev_account(0).address


def test_infer_reports_the_custom_error_before_paying(
    project_home: Path, anvil, chain, demo_package_dir: Path, tmp_path: Path
) -> None:
    """A request to a worker that stopped being active reverts WorkerNotActive: the dry run
    names it and nothing is sent."""
    from offchain.chain.connection import connect
    from offchain.config import load_settings
    from offchain.models.demo import example_inputs
    from offchain.registry import Attestia
    from offchain.sealing import EncryptionKey

    home = project_home
    assert cli(home, anvil, "model", "register", str(demo_package_dir)).returncode == 0
    attestia = Attestia.load(connect(load_settings(home=home, rpc_url=anvil.url)))
    worker = dev_account(1)
    attestia.send(attestia.registry.register_worker(worker.address, EncryptionKey.generate().public,
                                               attestia.registry.min_stake()), account=worker)
    attestia.send(attestia.registry.begin_unbonding(worker.address), account=worker)
    (tmp_path / "x.json").write_text(json.dumps(example_inputs(1)[0]))
    requester = dev_account(2).address
    nonce = attestia.chain.w3.eth.get_transaction_count(requester)
    result = cli(home, anvil, "infer", "--model", str(demo_package_dir), "--input",
                 str(tmp_path / "x.json"), "--worker", worker.address, "--force")
    assert_one_line_error(result, "requestInference: reverted with WorkerNotActive(",
                          worker.address.lower())
    assert attestia.chain.w3.eth.get_transaction_count(requester) == nonce
