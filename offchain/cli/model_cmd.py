"""``attestia model register|show|zk-setup``."""

from __future__ import annotations

from pathlib import Path

import typer

from offchain.cli.common import attestia_of, console, dev_account_option, eth, print_json
from offchain.ids import parse_bytes32

model_app = typer.Typer(help="Register and inspect model packages.", no_args_is_help=True)


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

    try:
        parts = tuple(int(p) for p in split.split(","))
    except ValueError:
        raise ConfigError(f"--split must be three integers, got {split!r}") from None
    if len(parts) != 3 or sum(parts) != 10_000:
        raise ConfigError(f"--split must be three bps values summing to 10000, got {split!r}")
    attestia = attestia_of(ctx)
    pkg = load_package(package)
    model, new = register_model(
        attestia, pkg, fee=int(fee * 1e18), split=parts,  # type: ignore[arg-type]
        kinds=[k.strip() for k in proofs.split(",")], account=attestia.chain.account(dev_account),
    )
    state = "registered" if new else "already registered"
    console.print(
        f"model 0x{model.model_id.hex()} {state}: owner {model.owner}, fee {eth(model.fee)} ETH, "
        f"{model.contributors} contributors, roster root 0x{model.data_root.hex()}"
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
    from offchain.models.onchain import get_model, kinds_of

    attestia = attestia_of(ctx)
    model = get_model(attestia, parse_bytes32(model_id, "model id"))
    if model is None:
        raise ConfigError(f"model {model_id} is not registered")
    data = {
        "modelId": "0x" + model.model_id.hex(), "owner": model.owner,
        "proofKinds": kinds_of(model.policy), "feeWei": model.fee,
        "split": [model.worker_bps, model.owner_bps, model.contributor_bps],
        "deprecated": model.deprecated, "revokedAt": model.revoked_at,
        "verifier": model.verifier, "rosterRoot": "0x" + model.data_root.hex(),
        "contributors": model.contributors, "metadataURI": model.metadata_uri,
    }
    if as_json:
        print_json(data)
    else:
        for key, value in data.items():
            console.print(f"{key:>12}: {value}")




def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
