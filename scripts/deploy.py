"""Deploy the Attestia contract set and print one ``<Contract> <address>`` line per contract.

Two ways in, one set of constructor arguments:

- ``ape run deploy`` (in .venv-ape): Ape calls :func:`main`, which deploys with
  ``project.<Contract>.deploy(...)`` from Anvil dev account 0 (Ape's test accounts use
  Anvil's public dev mnemonic). Nothing is written to ``deployments/``.
- ``python scripts/deploy.py [--fresh]`` (main venv): :func:`deploy_with_main_package` runs
  ``offchain.chain.deploy.deploy`` exactly as ``attestia deploy`` does, including the
  record in ``deployments/<chain-id>.json`` and its reuse unless ``--fresh``.

Both read the contract order and constructor arguments from ``offchain.chain.deploy``
(``PLAN`` and ``DeployParams``), so the two deployments cannot drift apart.

Ape picks its command by scanning this module's top-level names: keep ``main`` defined and
never bind a top-level name ``cli`` (Ape would then expect a click command).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict

# Under `ape run` the repository root is on sys.path only while this module is imported,
# not while main() runs: what the Ape path needs from offchain is imported here. The web3
# shell (connection, deploy()) is imported lazily by the main-package path alone.
from offchain.chain.plan import PLAN, WIRING, Deployment, DeployParams
from offchain.errors import AttestiaError, ConfigError


def main() -> None:
    """`ape run deploy`: deploy PLAN with Ape and print the addresses."""
    from ape import accounts, chain, project

    if not PLAN:
        raise ConfigError("offchain.chain.deploy.PLAN is empty: there is nothing to deploy")
    deployer = accounts.test_accounts[0]
    params = DeployParams()
    deployment = Deployment(
        chain_id=chain.chain_id, params=asdict(params), deployer=deployer.address,
        created_at=int(time.time()),
    )
    instances = {}
    for name, args_fn in PLAN:
        container = project.get_contract(name)  # None when Ape compiled no such contract
        if container is None:
            raise ConfigError(
                f"Ape's project has no contract {name} (named in offchain.chain.deploy.PLAN): "
                "check contracts/ and run `.venv-ape/bin/ape compile`"
            )
        args = args_fn(deployment, deployer.address, params)
        instance = container.deploy(*args, sender=deployer)
        deployment.contracts[name] = {"address": instance.address, "txHash": instance.txn_hash}
        instances[name] = instance
        print(name, instance.address, flush=True)
    for name, function, args_fn in WIRING:
        getattr(instances[name], function)(*args_fn(deployment, deployer.address, params),
                                           sender=deployer)
        print(f"{name}.{function}", flush=True)


def deploy_with_main_package(argv: list[str] | None = None) -> int:
    """`python scripts/deploy.py [--fresh]`: deploy through the main package; exit code."""
    from offchain.chain.connection import connect
    from offchain.chain.deploy import deploy
    from offchain.config import load_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fresh", action="store_true", help="deploy anew even if a deployment is recorded"
    )
    options = parser.parse_args(argv)
    try:
        chain = connect(load_settings())
        deployment, reused = deploy(chain, fresh=options.fresh)
    except AttestiaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if not deployment.contracts:
        print("error: no contract was deployed: offchain.chain.deploy.PLAN is empty or names "
              "contracts the build did not produce", file=sys.stderr)
        return 1
    note = "reused the recorded deployment" if reused else "deployed"
    print(f"# chain {deployment.chain_id}: {note}", file=sys.stderr)
    for name, entry in deployment.contracts.items():
        print(name, entry["address"])
    return 0


if __name__ == "__main__":
    sys.exit(deploy_with_main_package())
