"""``attestia model register|show|zk-setup``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from offchain.cli.common import (
    attestia_of,
    console,
    dev_account_option,
    err_console,
    eth,
    print_json,
)
from offchain.ids import parse_bytes32

model_app = typer.Typer(help="Register and inspect model packages.", no_args_is_help=True)

CALIBRATION_ROWS = 14


@model_app.command("register")
def register_cmd(
    ctx: typer.Context,
    package: Path = typer.Argument(..., help="Model package directory (model.onnx + manifest)."),
    fee: float = typer.Option(0.001, help="Fee per inference, in ETH."),
    split: str = typer.Option("2000,2000,6000", help="worker,owner,contributors in bps."),
    proofs: str = typer.Option("signed,tee", help="Accepted proof kinds: signed,tee,zk."),
    dev_account: int = dev_account_option(0, "model owner"),
) -> None:
    """Register a model package on chain with its data roster root (idempotent).

    Example: attestia model register .attestia/models/demo --fee 0.001 --proofs signed,tee
    """
    from offchain.errors import ConfigError
    from offchain.models import load_package
    from offchain.models.onchain import register_model
    from offchain.protocol import BPS, Split

    try:
        parts = tuple(int(p) for p in split.split(","))
    except ValueError:
        raise ConfigError(f"--split must be three integers, got {split!r}") from None
    try:
        if len(parts) != 3:
            raise ValueError(split)
        fee_split = Split(*parts)
    except ValueError:
        raise ConfigError(f"--split must be three bps values summing to {BPS}, "
                          f"got {split!r}") from None
    attestia = attestia_of(ctx)
    pkg = load_package(package)
    model, new = register_model(
        attestia, pkg, fee=int(fee * 1e18), split=fee_split,
        kinds=[k.strip() for k in proofs.split(",")], account=attestia.chain.account(dev_account),
    )
    state = "registered" if new else "already registered"
    console.print(
        f"model 0x{pkg.model_id.hex()} {state}: owner {model.owner}, fee {eth(model.fee)} ETH, "
        f"{model.contributors} contributors, roster root 0x{model.dataRoot.hex()}"
    )


@model_app.command("show")
def show(
    ctx: typer.Context,
    model_id: str = typer.Argument(..., help="Model id (0x sha-256 of the ONNX file)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show a registered model.

    Example: attestia model show 0xc227f191...
    """
    from offchain.errors import ConfigError

    attestia = attestia_of(ctx)
    model_id_bytes = parse_bytes32(model_id, "model id")
    model = attestia.reg.model(model_id_bytes)
    if model is None:
        raise ConfigError(f"model {model_id} is not registered")
    data = {
        "modelId": "0x" + model_id_bytes.hex(), "owner": model.owner,
        "proofKinds": model.kinds, "feeWei": model.fee,
        "split": list(model.split.as_tuple()),
        "deprecated": model.deprecated, "revokedAt": model.revokedAt,
        "verifier": model.verifier, "rosterRoot": "0x" + model.dataRoot.hex(),
        "contributors": model.contributors, "metadataURI": model.metadataURI,
    }
    if as_json:
        print_json(data)
    else:
        for key, value in data.items():
            console.print(f"{key:>12}: {value}")


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
    from offchain.models.onchain import enable_zk
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
        "proofKinds": model.kinds, "logrows": artifacts.logrows,
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
    app.add_typer(model_app, name="model")
