"""``attestia model register|show|set-terms|zk-setup|list|deprecate|revoke``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from offchain.cli.common import (
    attestia_of,
    console,
    dev_account_option,
    err_console,
    eth,
    model_ref,
    parse_eth,
    parse_kinds,
    parse_split,
    print_json,
    settings_of,
)

if TYPE_CHECKING:
    import numpy as np

model_app = typer.Typer(help="Register and inspect model packages.", no_args_is_help=True)

CALIBRATION_ROWS = 14


@model_app.command("register")
def register_cmd(
    ctx: typer.Context,
    package: Path = typer.Argument(..., help="Model package directory (model.onnx + manifest)."),
    fee: str = typer.Option("0.001", help="Fee per inference, in ETH."),
    split: str = typer.Option("2000,2000,6000", help="worker,owner,contributors in bps."),
    proofs: str = typer.Option("signed,tee", help="Accepted proof kinds: signed,tee,zk."),
    as_json: bool = typer.Option(False, "--json", help="Print the registration as JSON."),
    dev_account: int = dev_account_option(0, "model owner"),
) -> None:
    """Register a model package on chain: its content hash, contributor roster, data root and
    terms, under your account. Prints the model id (keccak256(owner, content hash)) and
    records it in the project's data directory. Running it again with the same parameters
    does nothing; with other parameters it fails and says what differs.

    Example: attestia model register .attestia/models/demo --fee 0.001 --proofs signed,tee
    """
    from offchain.models import load_package
    from offchain.models.onchain import register_model
    from offchain.models.registrations import store_path
    from offchain.protocol import kinds_of

    wei = parse_eth(fee)
    fee_split = parse_split(split)
    policy = parse_kinds(proofs)
    pkg = load_package(package)
    settings = settings_of(ctx)
    attestia = attestia_of(ctx)
    registration = register_model(
        attestia, pkg, fee=wei, split=fee_split, kinds=kinds_of(policy),
        account=attestia.chain.account(dev_account), data_dir=settings.data_dir,
    )
    model = registration.model
    data = {"modelId": registration.hex, "registered": registration.new,
            "owner": model.owner, "contentHash": "0x" + pkg.content_hash.hex(),
            "feeWei": model.fee, "proofKinds": model.kinds,
            "split": list(model.split.as_tuple()), "contributors": model.contributors,
            "dataRoot": "0x" + model.dataRoot.hex(),
            "recordedIn": str(store_path(settings.data_dir))}
    if as_json:
        print_json(data)
        return
    state = "registered" if registration.new else "already registered (same owner and terms)"
    console.print(
        f"model {registration.hex} {state}: owner {model.owner}, fee {eth(model.fee)} ETH, "
        f"{model.contributors} contributors, data root 0x{model.dataRoot.hex()}",
        highlight=False, soft_wrap=True)
    console.print(f"model id recorded in {data['recordedIn']}", highlight=False, soft_wrap=True)


@model_app.command("show")
def show(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Model id (0x...) or model package directory."),
    as_json: bool = typer.Option(False, "--json", help="Print the model as JSON."),
) -> None:
    """Show a registered model (by id, or the registration of a package).

    Example: attestia model show 0xc227f191...
    """
    from offchain.cli.common import check_model_ref, reader_of
    from offchain.errors import ConfigError
    from offchain.timefmt import iso_if_set

    check_model_ref(model)
    settings = settings_of(ctx)
    attestia = reader_of(ctx)
    model_id_bytes, _ = model_ref(attestia, model, data_dir=settings.data_dir)
    registered = attestia.registry.model(model_id_bytes)
    if registered is None:
        raise ConfigError(f"model 0x{model_id_bytes.hex()} is not registered")
    data = {
        "modelId": "0x" + model_id_bytes.hex(), "owner": registered.owner,
        "contentHash": "0x" + registered.contentHash.hex(),
        "proofKinds": registered.kinds, "feeWei": registered.fee,
        "split": list(registered.split.as_tuple()),
        "deprecated": registered.deprecated, "revokedAt": iso_if_set(registered.revokedAt),
        "verifier": registered.verifier, "dataRoot": "0x" + registered.dataRoot.hex(),
        "contributors": registered.contributors, "metadataURI": registered.metadataURI,
    }
    if as_json:
        print_json(data)
    else:
        for key, value in data.items():
            console.print(f"{key:>12}: {value}", highlight=False, soft_wrap=True)


@model_app.command("schema")
def schema_cmd(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Model package directory, or model id (0x...) of a "
                                "package under .attestia/models."),
    package: Path = typer.Option(None, "--package", help="The model's package, when MODEL is "
                                 "an id and its package is elsewhere."),
    as_json: bool = typer.Option(False, "--json", help="Print the schema as JSON."),
) -> None:
    """Show the input a model takes: its features in order (the keys of an input file's
    {"features": {...}}), each one's training mean and spread, and the output labels.

    Example: attestia model schema .attestia/models/demo
    """
    from rich.table import Table

    from offchain.cli.client import _find_package
    from offchain.cli.common import check_model_ref, reader_of
    from offchain.errors import ConfigError
    from offchain.models import load_package

    check_model_ref(model)
    if Path(model).is_dir():
        pkg = load_package(Path(model))
    elif package is not None:
        pkg = load_package(package)
    else:  # an id: its content hash from the chain, the package from this home
        attestia = reader_of(ctx)
        model_id_bytes, _ = model_ref(attestia, model)
        registered = attestia.registry.model(model_id_bytes)
        if registered is None:
            raise ConfigError(f"model 0x{model_id_bytes.hex()} is not registered")
        pkg = _find_package(settings_of(ctx).data_dir, registered.contentHash)
        if pkg is None:
            raise ConfigError(f"no package of model {model} under "
                              f"{settings_of(ctx).data_dir / 'models'}: pass --package PATH")
    m = pkg.manifest
    rows = list(zip(pkg.feature_names, m.preprocessing.mean, m.preprocessing.std, strict=True))
    features = [{"name": name, "mean": float(mean), "std": float(std)}
                for name, mean, std in rows]
    data = {"name": m.name, "version": m.version, "contentHash": "0x" + pkg.content_hash.hex(),
            "dtype": "float32", "features": features, "labels": list(pkg.labels),
            "example": {"features": {name: round(float(mean), 6) for name, mean, _ in rows}}}
    if as_json:
        print_json(data)
        return
    console.print(f"model {m.name}@{m.version}: {len(rows)} float32 features, labels "
                  f"{','.join(pkg.labels)}", highlight=False, soft_wrap=True)
    console.print('input file: {"features": {"<name>": value, ...}} with every name below '
                  f"(or a list of {len(rows)} values in this order)", highlight=False,
                  soft_wrap=True)
    table = Table(title=None)
    for col in ("#", "feature", "training mean", "std"):
        table.add_column(col, justify="left" if col == "feature" else "right")
    for index, (name, mean, std) in enumerate(rows):
        table.add_row(str(index), name, f"{mean:.6g}", f"{std:.6g}")
    console.print(table)


@model_app.command("set-terms")
def set_terms_cmd(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Model id (0x...) or model package directory."),
    fee: str = typer.Option(None, help="New fee per inference, in ETH."),
    split: str = typer.Option(None, help="New worker,owner,contributors split in bps."),
    proofs: str = typer.Option(None, help="New accepted proof kinds: signed,tee,zk."),
    as_json: bool = typer.Option(False, "--json", help="Print the model's terms as JSON."),
    dev_account: int = dev_account_option(0, "model owner"),
) -> None:
    """Change a model's fee, split or proof kinds (owner only; setTerms). Requests already
    paid keep the terms they were paid under.

    Example: attestia model set-terms 0xc227f191... --fee 0.002
    """
    from offchain.errors import ConfigError
    from offchain.models.onchain import set_terms

    if fee is None and split is None and proofs is None:
        raise ConfigError("give at least one of --fee, --split, --proofs")
    wei = parse_eth(fee) if fee is not None else None
    new_split = parse_split(split) if split is not None else None
    policy = parse_kinds(proofs) if proofs is not None else None
    settings = settings_of(ctx)
    attestia = attestia_of(ctx)
    account = attestia.chain.account(dev_account)
    model_id_bytes, _ = model_ref(attestia, model, data_dir=settings.data_dir,
                                  account=account.address)
    updated, changed = set_terms(attestia, model_id_bytes, fee=wei, policy=policy,
                                 split=new_split, account=account)
    if as_json:
        print_json({"modelId": "0x" + model_id_bytes.hex(), "changed": changed,
                    "feeWei": updated.fee, "split": list(updated.split.as_tuple()),
                    "proofKinds": updated.kinds})
        return
    console.print(f"model 0x{model_id_bytes.hex()} {'updated' if changed else 'unchanged'}: fee "
                  f"{eth(updated.fee)} ETH, split {'/'.join(map(str, updated.split.as_tuple()))}"
                  f", proofs {','.join(updated.kinds)}", highlight=False, soft_wrap=True)


def calibration_sample(package) -> np.ndarray:
    """Standardised training rows the circuit's fixed-point scales are calibrated on: the
    per-feature minimum and maximum rows (so every training-range input fits) and the first
    rows of the training set (typical values)."""
    import numpy as np

    X = np.asarray(package.training.X, dtype=np.float32)
    return np.vstack([X.min(axis=0), X.max(axis=0), X[:CALIBRATION_ROWS]])


def _reusable(directory: Path, content_hash: bytes, srs: Path | None):
    """Existing artifacts for this ONNX file made with the same kind of SRS, else None."""
    from offchain.proofs.zk import MANIFEST_NAME, ZkError, load_artifacts

    if not (directory / MANIFEST_NAME).exists():
        return None
    try:
        artifacts = load_artifacts(directory)
    except ZkError:
        return None
    same_srs = (artifacts.test_only_srs if srs is None else
                artifacts.manifest["srs"] == f"provided: {srs.resolve()}")
    return artifacts if artifacts.content_hash == content_hash and same_srs else None


@model_app.command("zk-setup")
def zk_setup_cmd(
    ctx: typer.Context,
    package: Path = typer.Argument(..., help="Model package directory (registered model)."),
    srs: Path = typer.Option(None, "--srs", help="KZG SRS file from a public ceremony. "
                             "Without it a LOCAL TEST-ONLY SRS is made (chain 31337 only)."),
    model_id: str = typer.Option(None, "--model-id", help="The registration to enable ZK for "
                                 "(default: your registration of PACKAGE)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    dev_account: int = dev_account_option(0, "model owner"),
) -> None:
    """EZKL circuit and keys in PACKAGE/zk, its own Halo2Verifier on chain, ZK in the policy.

    Deploys the per-model verifier, calls setVerifier and adds the zk bit to the model's
    policy (model owner). Re-running reuses the artifacts and the verifier.

    Example: attestia model zk-setup .attestia/models/demo
    """
    from offchain.config import ANVIL_CHAIN_ID
    from offchain.errors import ConfigError
    from offchain.ids import parse_bytes32
    from offchain.models import load_package
    from offchain.models.onchain import enable_zk, owned_model
    from offchain.proofs.zk import LOCAL_SRS_NOTICE, SrsError, check_srs_file, zk_setup
    from offchain.protocol import model_id as own_model_id

    if srs is not None:
        check_srs_file(srs)  # a bad --srs is refused before anything connects or is written
    attestia = attestia_of(ctx)
    chain_id = attestia.chain.chain_id
    if srs is None and chain_id != ANVIL_CHAIN_ID:
        raise SrsError(
            f"chain {chain_id} needs a ceremony SRS (--srs PATH): a locally generated SRS lets "
            f"whoever made it forge proofs, so it is only used on chain {ANVIL_CHAIN_ID}")
    pkg = load_package(package)
    account = attestia.chain.account(dev_account)
    given = parse_bytes32(model_id, "model id") if model_id else None
    # Registered and owned by us, before EZKL writes anything.
    target = given if given is not None else own_model_id(account.address, pkg.content_hash)
    if attestia.registry.model(target) is None:
        raise ConfigError(f"{pkg.path} is not registered by {account.address} (model "
                          f"0x{target.hex()}): run attestia model register {pkg.path}")
    owned = owned_model(attestia, target, account)
    if owned.contentHash != pkg.content_hash:
        raise ConfigError(f"model 0x{target.hex()} is not a registration of {pkg.path}")
    directory = pkg.path / "zk"
    artifacts = _reusable(directory, pkg.onnx_sha256, srs)
    if artifacts is None:
        with err_console.status("EZKL: settings, calibration, circuit, keys, verifier "
                                f"(its output: {directory / 'ezkl.log'})"):
            artifacts = zk_setup(pkg.onnx_path, directory, srs_path=srs, chain_id=chain_id,
                                 sample_input=calibration_sample(pkg))
    mid, model, deployed = enable_zk(attestia, pkg, artifacts, account=account,
                                     model_id_=target)
    data = {
        "modelId": "0x" + mid.hex(), "artifacts": str(directory),
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


def _set_state(ctx: typer.Context, model: str, action: str, as_json: bool,
               dev_account: int) -> None:
    from offchain.admin import set_model_state
    from offchain.cli.common import check_model_ref

    check_model_ref(model)
    settings = settings_of(ctx)
    attestia = attestia_of(ctx)
    account = attestia.chain.account(dev_account)
    model_id_bytes, _ = model_ref(attestia, model, data_dir=settings.data_dir,
                                  account=account.address)
    state = set_model_state(attestia, model_id_bytes, action, account)
    if as_json:
        print_json({"modelId": "0x" + model_id_bytes.hex(), "state": state})
        return
    console.print(f"model 0x{model_id_bytes.hex()} {state}", highlight=False, soft_wrap=True)


@model_app.command("deprecate")
def deprecate_cmd(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Model id (0x...) or model package directory."),
    as_json: bool = typer.Option(False, "--json", help="Print the new state as JSON."),
    dev_account: int = dev_account_option(0, "model owner"),
) -> None:
    """Deprecate a model (owner only): it takes no new requests; records stay verifiable.

    Example: attestia model deprecate 0xc227f191...
    """
    _set_state(ctx, model, "deprecate", as_json, dev_account)


@model_app.command("revoke")
def revoke_cmd(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Model id (0x...) or model package directory."),
    yes: bool = typer.Option(False, "--yes", help="Confirm: revocation is one-way."),
    as_json: bool = typer.Option(False, "--json", help="Print the new state as JSON."),
    dev_account: int = dev_account_option(0, "model owner"),
) -> None:
    """Revoke a model (owner only; one-way, needs --yes): it takes no new requests, ever.

    Example: attestia model revoke 0xc227f191... --yes
    """
    from offchain.errors import ConfigError

    if not yes:
        raise ConfigError("revoking a model is one-way: run it again with --yes to confirm")
    _set_state(ctx, model, "revoke", as_json, dev_account)


@model_app.command("list")
def list_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the models as JSON."),
) -> None:
    """List every registered model: state (active, deprecated, revoked), fee, proof kinds.

    Example: attestia model list --json
    """
    from rich.table import Table

    from offchain.cli.common import reader_of
    from offchain.request.market import list_models

    entries = list_models(reader_of(ctx, light=True))
    if as_json:
        print_json([e.to_json() for e in entries])
        return
    if not entries:
        console.print("no model is registered: attestia model register PACKAGE")
        return
    table = Table(title=f"{len(entries)} model(s)")
    table.add_column("model", no_wrap=True)
    for col in ("state", "owner", "fee (ETH)", "proofs", "registered"):
        table.add_column(col)
    for e in entries:
        data = e.to_json()
        table.add_row(data["modelId"], e.state, e.model.owner[:10] + "…", eth(e.model.fee),
                      ",".join(e.model.kinds), (data["registeredAt"] or "")[:19]
                      .replace("T", " "))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")


# `attestia model package` (bring your own model) lives in its own module.
from offchain.cli.model_package import package_cmd  # noqa: E402

model_app.command("package")(package_cmd)
