"""Money and admin commands on the suite's Anvil (inside the per-test snapshot): ``withdraw``,
``worker stake add|unbond|withdraw``, ``model deprecate|revoke``, ``rewards cancel-root``,
``governance measurements`` and ``--version``; one success and one refusal each.

A refusal on chain (not the operator, not the owner, not the guardian) is reported by the
transport's dry run, by the custom error's name, before anything is sent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offchain.chain.accounts import dev_account
from tests.cli.test_cli_errors import assert_one_line_error, run

STRANGER = "3"


def cli(home: Path, anvil, *args: str):
    return run(list(args), home, ATTESTIA_RPC_URL=anvil.url)


def _ok(result) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return str(result.stdout)


def _registered(home: Path, anvil, package_dir: Path):
    """Deploy (through the CLI) and register the demo model as dev account 0; returns the
    model id and the contracts as the CLI sees them."""
    from offchain.chain.connection import connect
    from offchain.config import load_settings
    from offchain.registry import Attestia

    data = json.loads(_ok(cli(home, anvil, "model", "register", str(package_dir), "--json")))
    attestia = Attestia.load(connect(load_settings(home=home, rpc_url=anvil.url)))
    return data["modelId"], attestia


def _nonce(attestia, index: int) -> int:
    return int(attestia.chain.w3.eth.get_transaction_count(dev_account(index).address))


def test_version() -> None:
    from offchain import __version__

    result = run(["--version"], Path("/nonexistent"))
    assert _ok(result).strip() == f"attestia {__version__}"


@pytest.mark.slow
def test_withdraw_and_worker_stake(
    project_home: Path, anvil, chain, demo_package_dir: Path
) -> None:
    from offchain.sealing import EncryptionKey

    home = project_home
    model_hex, attestia = _registered(home, anvil, demo_package_dir)
    reg = attestia.registry
    operator, requester = dev_account(1), dev_account(2)
    signer = operator.address
    attestia.send(reg.register_worker(signer, EncryptionKey.generate().public, reg.min_stake()),
                  account=operator)

    # A rejected request refunds the requester's fee into its registry balance.
    fee = 10**15
    model = reg.model(bytes.fromhex(model_hex[2:]))
    assert model is not None and model.fee == fee
    attestia.send(reg.request_inference(bytes.fromhex(model_hex[2:]), signer, b"\x01" * 32,
                                        b"payload", model), account=requester)
    [requested] = reg.requested()
    attestia.send(reg.reject_request(requested.request, "test"), account=operator)
    assert reg.balance(requester.address) == fee

    paid = json.loads(_ok(cli(home, anvil, "withdraw", "--dev-account", "2", "--json")))
    assert paid == {"account": requester.address, "registryWei": str(fee), "slasherWei": "0",
                    "totalWei": str(fee)}
    assert reg.balance(requester.address) == 0
    nonce = _nonce(attestia, 2)
    again = _ok(cli(home, anvil, "withdraw", "--dev-account", "2"))
    assert "nothing to withdraw" in again
    assert _nonce(attestia, 2) == nonce  # nothing sent

    # stake add: the operator only
    added = json.loads(_ok(cli(home, anvil, "worker", "stake", "add", "0.5", "--signer", signer,
                               "--json")))
    assert added["stakeWei"] == str(reg.min_stake() + 5 * 10**17)
    assert added["movedWei"] == str(5 * 10**17)
    nonce = _nonce(attestia, 3)
    refused = cli(home, anvil, "worker", "stake", "add", "0.5", "--signer", signer,
                  "--dev-account", STRANGER)
    assert_one_line_error(refused, "Unauthorized")
    assert _nonce(attestia, 3) == nonce

    # withdraw before unbonding: told what to do
    assert_one_line_error(cli(home, anvil, "worker", "stake", "withdraw", "--signer", signer),
                          "is not unbonding", "worker stake unbond")
    # unbond: the operator only, prints when the stake becomes withdrawable
    assert_one_line_error(cli(home, anvil, "worker", "stake", "unbond", "--signer", signer,
                              "--dev-account", STRANGER), "Unauthorized")
    unbonded = json.loads(_ok(cli(home, anvil, "worker", "stake", "unbond", "--signer", signer,
                                  "--json")))
    assert unbonded["withdrawableAt"] and unbonded["unbondingAt"]
    early = cli(home, anvil, "worker", "stake", "withdraw", "--signer", signer)
    assert_one_line_error(early, f"withdrawable from {unbonded['withdrawableAt']}", "not yet")

    w3 = attestia.chain.w3
    w3.provider.make_request("evm_increaseTime", [reg.unbonding_delay() + 1])
    w3.provider.make_request("evm_mine", [])
    assert_one_line_error(cli(home, anvil, "worker", "stake", "withdraw", "--signer", signer,
                              "--dev-account", STRANGER), "Unauthorized")
    out = _ok(cli(home, anvil, "worker", "stake", "withdraw", "--signer", signer))
    assert f"worker {signer}: withdrew {(reg.min_stake() + 5 * 10**17) / 1e18:.6f} ETH" in out
    worker = reg.worker(signer)
    assert worker is not None and worker.stake == 0


@pytest.mark.slow
def test_model_deprecate_and_revoke(
    project_home: Path, anvil, chain, demo_package_dir: Path
) -> None:
    home = project_home
    model_hex, attestia = _registered(home, anvil, demo_package_dir)
    assert_one_line_error(cli(home, anvil, "model", "deprecate", model_hex,
                              "--dev-account", STRANGER), "Unauthorized")
    done = json.loads(_ok(cli(home, anvil, "model", "deprecate", str(demo_package_dir),
                              "--json")))
    assert done == {"modelId": model_hex, "state": "deprecated"}

    nonce = _nonce(attestia, 0)
    assert_one_line_error(cli(home, anvil, "model", "revoke", model_hex), "one-way", "--yes")
    assert_one_line_error(cli(home, anvil, "model", "revoke", model_hex, "--yes",
                              "--dev-account", STRANGER), "Unauthorized")
    assert _nonce(attestia, 0) == nonce
    out = _ok(cli(home, anvil, "model", "revoke", model_hex, "--yes"))
    assert f"model {model_hex} revoked" in out
    model = attestia.registry.model(bytes.fromhex(model_hex[2:]))
    assert model is not None and model.revokedAt


@pytest.mark.slow
def test_cancel_root_and_measurements(
    project_home: Path, anvil, chain, demo_package_dir: Path, tmp_path: Path
) -> None:
    home = project_home
    _, attestia = _registered(home, anvil, demo_package_dir)
    epoch = attestia.registry.current_epoch()
    attestia.send(attestia.distributor.propose_root(epoch, b"\x11" * 32, 0), account=dev_account(0))

    assert_one_line_error(cli(home, anvil, "rewards", "cancel-root", str(epoch),
                              "--dev-account", STRANGER), "reverted with")
    done = json.loads(_ok(cli(home, anvil, "rewards", "cancel-root", str(epoch), "--json")))
    assert done == {"epoch": epoch, "root": "0x" + "11" * 32, "state": "cancelled"}
    assert_one_line_error(cli(home, anvil, "rewards", "cancel-root", str(epoch)),
                          "RootNotProposed")

    _ok(cli(home, anvil, "governance", "allow-measurement", "--simulated"))
    from offchain.proofs.tee.simulated import simulated_measurement

    value = "0x" + simulated_measurement().hex()
    _ok(cli(home, anvil, "governance", "revoke-measurement", value))
    listed = json.loads(_ok(cli(home, anvil, "governance", "measurements", "--json")))
    [entry] = listed
    assert entry["measurement"] == value and entry["state"] == "revoked"
    assert entry["allowedAt"] and entry["revokedAt"]
    text = _ok(cli(home, anvil, "governance", "measurements"))
    assert f"{value} revoked: allowed " in text

    # read-only: a home without a deployment gets one clear line, nothing is deployed
    empty = tmp_path / "empty-home"
    empty.mkdir()
    assert_one_line_error(cli(empty, anvil, "governance", "measurements"), "no deployment")
    assert not (empty / ".attestia" / "deployments").exists()
