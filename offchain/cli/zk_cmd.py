"""``attestia model zk-setup PACKAGE``: EZKL circuit, keys and on-chain verifier for a model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from offchain.cli.common import attestia_of, console, dev_account_option, err_console, print_json
from offchain.cli.model_cmd import model_app

CALIBRATION_ROWS = 14


def calibration_sample(package) -> np.ndarray:
    """Standardised training rows the circuit's fixed-point scales are calibrated on: the
    per-feature minimum and maximum rows (so every training-range input fits) and the first
    rows of the training set (typical values)."""
    X = np.asarray(package.training.X, dtype=np.float32)
    return np.vstack([X.min(axis=0), X.max(axis=0), X[:CALIBRATION_ROWS]])


def _reusable(directory: Path, model_id: bytes, srs: Path | None):
    """Existing artifacts for this model made with the same kind of SRS, else None."""
    from offchain.proofs.zk import MANIFEST_NAME, ZkError, load_artifacts

    if not (directory / MANIFEST_NAME).exists():
        return None
    try:
        artifacts = load_artifacts(directory)
    except ZkError:
        return None
    same_srs = (artifacts.test_only_srs if srs is None else
                artifacts.manifest["srs"] == f"provided: {srs.resolve()}")
    return artifacts if artifacts.model_id == model_id and same_srs else None


@model_app.command("zk-setup")
def zk_setup_cmd(
    ctx: typer.Context,
    package: Path = typer.Argument(..., help="Model package directory (registered model)."),
    srs: Path = typer.Option(None, "--srs", help="KZG SRS file from a public ceremony. "
                             "Without it a LOCAL TEST-ONLY SRS is made (chain 31337 only)."),
    as_json: bool = typer.Option(False, "--json"),
    dev_account: int = dev_account_option(0, "model owner"),
) -> None:
    """EZKL circuit and keys in PACKAGE/zk, its own Halo2Verifier on chain, ZK in the policy.

    Deploys the per-model verifier, calls setVerifier and adds the zk bit to the model's
    policy (model owner). Re-running reuses the artifacts and the verifier.

    Example: attestia model zk-setup .attestia/models/demo
    """
    from offchain.config import ANVIL_CHAIN_ID
    from offchain.models import load_package
    from offchain.models.onchain import enable_zk, kinds_of
    from offchain.proofs.zk import LOCAL_SRS_NOTICE, SrsError, zk_setup

    attestia = attestia_of(ctx)
    chain_id = attestia.chain.chain_id
    if srs is None and chain_id != ANVIL_CHAIN_ID:
        raise SrsError(
            f"chain {chain_id} needs a ceremony SRS (--srs PATH): a locally generated SRS lets "
            f"whoever made it forge proofs, so it is only used on chain {ANVIL_CHAIN_ID}")
    pkg = load_package(package)
    directory = pkg.path / "zk"
    artifacts = _reusable(directory, pkg.model_id, srs)
    if artifacts is None:
        with console.status("EZKL: settings, calibration, circuit, keys, verifier"):
            artifacts = zk_setup(pkg.onnx_path, directory, srs_path=srs, chain_id=chain_id,
                                 sample_input=calibration_sample(pkg))
    model, deployed = enable_zk(attestia, pkg, artifacts,
                                account=attestia.chain.account(dev_account))
    data = {
        "modelId": "0x" + pkg.model_id.hex(), "artifacts": str(directory),
        "verifier": model.verifier, "newVerifier": deployed,
        "proofKinds": kinds_of(model.policy), "logrows": artifacts.logrows,
        "srs": artifacts.manifest["srs"], "testOnlySrs": artifacts.test_only_srs,
    }
    if artifacts.test_only_srs:
        err_console.print(f"[bold red]WARNING: {LOCAL_SRS_NOTICE}[/]: this circuit's SRS was "
                          "generated here, so whoever holds it can forge proofs. FOR TESTING "
                          f"ON CHAIN {ANVIL_CHAIN_ID} ONLY; use --srs PATH for a real chain.",
                          soft_wrap=True, highlight=False)
    if as_json:
        print_json(data)
        return
    console.print(f"model {data['modelId']}: verifier {model.verifier} "
                  f"({'deployed' if deployed else 'already set'}), proof kinds "
                  f"{','.join(data['proofKinds'])}, logrows {artifacts.logrows}, SRS: "
                  f"{data['srs']}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """The command lives on the ``model`` group (registered by the decorator above)."""
