"""``attestia infer`` and ``attestia attribution``: the requester's commands."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from offchain.cli.common import (
    attestia_of,
    console,
    dev_account_option,
    eth,
    model_ref,
    print_json,
    settings_of,
)
from offchain.ids import parse_bytes32


def infer(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", help="Model id (0x...) or model package "
                              "directory."),
    input_path: Path = typer.Option(..., "--input", help="Input JSON: {\"features\": {...}}."),
    package: Path = typer.Option(None, help="Model package (for feature names, labels and zk "
                                 "input hashes), when --model is an id."),
    worker: str = typer.Option(None, help="Worker address (default: the newest live worker "
                               "serving the model, see attestia worker list)."),
    force: bool = typer.Option(False, "--force", help="Pay the named --worker even if it "
                               "shows no sign of running."),
    timeout: float = typer.Option(120.0, help="Seconds to wait for the record."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer and record as JSON."),
    dev_account: int = dev_account_option(2, "requester"),
) -> None:
    """Encrypt an input, pay for an inference, wait for its record and check the answer.

    The request goes to a live worker serving the model (a worker running in this home, or
    one with a record in the last 10 min; attestia worker list): with none, nothing is paid.
    The answer is opened from the record's sealed result, whose hash the worker signed.

    Example: attestia infer --model .attestia/models/demo --input x.json
    """
    from offchain.cli.common import parse_address
    from offchain.errors import ChainError, ConfigError
    from offchain.models import load_package
    from offchain.models.encoding import parse_input
    from offchain.models.runtime import predicted_label
    from offchain.protocol import proof_kind_name
    from offchain.request.client import build_requests, send_requests
    from offchain.request.market import choose_worker

    if not timeout > 0:  # checked before anything is paid
        raise ConfigError(f"--timeout must be a positive number of seconds, got {timeout}")
    if worker is not None:
        worker = parse_address(worker, "--worker")
    settings = settings_of(ctx)
    try:
        payload = json.loads(input_path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read input {input_path}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"input {input_path} is not JSON ({exc}); give "
                          "{\"features\": {\"name\": value, ...}}") from None
    attestia = attestia_of(ctx)
    account = attestia.chain.account(dev_account)
    model_id, pkg = model_ref(attestia, model, data_dir=settings.data_dir,
                              account=account.address)
    registered = attestia.registry.model(model_id)
    if registered is None:
        raise ConfigError(f"model 0x{model_id.hex()} is not registered")
    if pkg is None:
        pkg = (load_package(package) if package else
               _find_package(settings.data_dir, registered.contentHash))
    if pkg is None:
        raise ConfigError(f"no local package for model {model}: pass --package PATH")
    if pkg.content_hash != registered.contentHash:
        raise ConfigError(f"{pkg.path} is not model 0x{model_id.hex()} (another ONNX file)")
    x = parse_input(payload, pkg.feature_names)
    chosen = choose_worker(attestia, model_id, data_dir=settings.data_dir, named=worker,
                           force=force)
    built = build_requests(attestia, model_id, [x], requester=account.address,
                           worker=chosen.signer, package=pkg)
    [local] = send_requests(attestia, built, account, settings.data_dir)
    outcome = _wait_visibly(attestia, local, timeout)
    if outcome.rejected:
        raise ConfigError(f"request 0x{local.request_id.hex()} was rejected: {outcome.rejected}")
    if outcome.inference is None or outcome.output is None:
        raise ChainError(f"request 0x{local.request_id.hex()} has no readable record yet")
    logits = [float(v) for v in outcome.output.reshape(-1)]
    labels = list(pkg.labels)
    label = labels[predicted_label(outcome.output)]
    rows = _share_rows(outcome.fee_shares())
    kept = settings.data_dir / "requests" / f"0x{local.request_id.hex()}.json"
    result = {"requestId": "0x" + local.request_id.hex(), "txHash": outcome.tx_hash,
              "label": label, "logits": dict(zip(labels, logits, strict=True)),
              "proofKind": proof_kind_name(outcome.inference.proofKind),
              "worker": outcome.inference.worker,
              "attribution": rows,
              "localRecord": str(kept)}
    if as_json:
        print_json(result)
        return
    console.print(f"answer: [bold]{label}[/] (logits {', '.join(f'{v:.3f}' for v in logits)})")
    console.print(f"record: {result['requestId']} (tx {outcome.tx_hash}, proof "
                  f"{result['proofKind']})", soft_wrap=True,
                  highlight=False)
    console.print(_share_table(rows, "attribution", _names(pkg)))
    console.print(f"input, salt and reply key kept in {result['localRecord']}", soft_wrap=True,
                  highlight=False)


def _wait_visibly(attestia, local, timeout: float):
    """Wait for the paid request's record, saying on stderr which request it is (at once)
    and how long it has waited (every 10 s); a timeout names the request and what to do."""
    import time

    from offchain.cli.common import err_console
    from offchain.request.client import RequestFailed, wait_for_outcomes

    rid = "0x" + local.request_id.hex()
    err_console.print(f"paid request {rid} (worker {local.worker}); waiting up to "
                      f"{timeout:.0f} s for its record (attestia request status {rid})",
                      highlight=False, soft_wrap=True)
    start = last = time.monotonic()

    def on_poll(done: int) -> None:
        nonlocal last
        if not done and time.monotonic() - last >= 10:
            last = time.monotonic()
            err_console.print(f"still waiting for {rid[:18]}… ({last - start:.0f} s)",
                              highlight=False, soft_wrap=True)

    try:
        return wait_for_outcomes(attestia, [local], timeout=timeout, poll=0.2,
                                 on_poll=on_poll)[local.request_id]
    except RequestFailed:
        raise RequestFailed(
            f"request {rid} got no record within {timeout:.0f} s from worker {local.worker}: "
            f"is it running? (attestia worker list shows its latest record); keep waiting "
            f"with `attestia request wait {rid}`, or get the fee back after the deadline "
            f"with `attestia request cancel {rid}`") from None


def _find_package(data_dir: Path, content_hash: bytes):
    """This project's package with this content hash: one it registered (wherever it lives),
    else one under <data dir>/models (design.md "Integer inference": the ModelSpec hash)."""
    from offchain.models.registrations import find_package

    return find_package(data_dir, content_hash)


def _share_rows(shares) -> list[dict]:
    return [{"contributor": s.account, "bps": s.bps, "feeShareWei": s.wei} for s in shares]


def _roster_names(data_dir: Path, content_hash: bytes) -> dict[str, str]:
    """Contributor address -> name from the manifest of a package under <data dir>/models
    that declares this content hash: the names only label a table, so the package is not
    loaded nor its content hash recomputed (that costs numpy and onnx, most of a read's
    second)."""
    import json

    models = data_dir / "models"
    for path in sorted(models.glob("*")) if models.exists() else []:
        try:
            manifest = json.loads((path / "manifest.json").read_text())
            if manifest["model"]["contentHash"] != "0x" + content_hash.hex():
                continue
            return {str(c["address"]).lower(): str(c["name"])
                    for c in manifest["contributors"]}
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return {}


def _names(package) -> dict[str, str]:
    """Contributor address -> name, from a package's manifest (empty without a package)."""
    if package is None:
        return {}
    return {c.address.lower(): c.name for c in package.manifest.contributors}


def _share_table(rows: list[dict], title: str, names: dict[str, str] | None = None) -> Table:
    """Contributors (by their roster name when the package names them), bps and wei."""
    table = Table(title=title)
    named = bool(names)
    columns = (["contributor"] if named else []) + ["address", "bps", "share of fee (ETH)"]
    for col in columns:
        table.add_column(col, justify="right" if col in ("bps", "share of fee (ETH)")
                         else "left", no_wrap=col == "address")
    for row in rows:
        cells = [row["contributor"], f"{row['bps']:,}", eth(row["feeShareWei"])]
        if named:
            cells.insert(0, (names or {}).get(row["contributor"].lower(), "-"))
        table.add_row(*cells)
    return table


def attribution(
    ctx: typer.Context,
    inference_id: str = typer.Argument(None, help="Record id: the request id (0x...), or a "
                                       "batch leaf, batch:0x<batchId>:<leaf index>."),
    contributor: str = typer.Option(None, help="Totals of one contributor over all records."),
    as_json: bool = typer.Option(False, "--json", help="Print the attribution as JSON."),
) -> None:
    """Read a record's attribution from chain, check it against the on-chain hash.

    Records are single records and the leaves of batches whose published file passes its
    checks, as the explorer counts them.

    Example: attestia attribution 0x5f3a...   |   attestia attribution --contributor 0x9965...
    """
    from offchain.attribution.onchain import (
        all_recorded,
        contributor_totals,
        recorded_attribution,
    )
    from offchain.cli.common import parse_address, reader_of
    from offchain.errors import ConfigError
    from offchain.rewards.chain import batch_cache, batch_outcomes

    who = parse_address(contributor, "--contributor") if contributor else None
    if not who and not inference_id:
        raise ConfigError("give an INFERENCE_ID or --contributor ADDR")
    leaf_ref = None
    if not who and inference_id.startswith("batch:"):
        from offchain.verify.evidence import RecordRef

        leaf_ref = RecordRef.parse(inference_id)
    record_id = (parse_bytes32(inference_id, "inference id") if not who and leaf_ref is None
                 else b"")
    attestia = reader_of(ctx, light=True)
    cache = batch_cache(settings_of(ctx).data_dir / "rewards")
    if who:
        from offchain.request.market import mean_attribution_bps

        records = all_recorded(attestia)
        leaves = [leaf for outcome in batch_outcomes(attestia, cache=cache)
                  if outcome.included for leaf in outcome.leaves]
        totals = contributor_totals(records, who, leaves)
        mean = mean_attribution_bps([*(r.shares for r in records),
                                     *(leaf.shares for leaf in leaves)], who)
        data = {"contributor": totals.contributor, "records": totals.records,
                "batchLeaves": totals.batch_leaves,
                "recordsWithShare": totals.records_with_share, "meanBps": mean,
                "totalFeeShareWei": totals.total_fee_share,
                "allHashesMatch": totals.all_verified}
        if as_json:
            print_json(data)
        else:
            leaves_part = (f" ({totals.batch_leaves} of them batch leaves)"
                           if totals.batch_leaves else "")
            console.print(f"{totals.contributor}: share in {totals.records_with_share} of "
                          f"{totals.records} records{leaves_part}, mean attribution "
                          f"{mean:.0f} bps over all records, earned "
                          f"{eth(totals.total_fee_share)} ETH", highlight=False, soft_wrap=True)
        return
    if leaf_ref is not None:
        _leaf_attribution(ctx, attestia, leaf_ref, cache, as_json)
        return
    rec = recorded_attribution(attestia, record_id)
    rows = _share_rows(rec.fee_shares())
    data = {"requestId": inference_id, "modelId": "0x" + rec.inference.modelId.hex(),
            "epoch": rec.epoch, "contributorCutWei": rec.contributor_cut,
            "attributionHash": "0x" + rec.inference.attributionHash.hex(),
            "hashMatches": rec.hash_matches, "recordMatchesChain": rec.digest_matches,
            "attribution": rows}
    if as_json:
        print_json(data)
    else:
        registered = attestia.registry.model(rec.inference.modelId)
        names = (_roster_names(settings_of(ctx).data_dir, registered.contentHash)
                 if registered is not None else {})
        console.print(_share_table(rows, f"attribution of {inference_id[:18]}…", names))
        console.print("[green]list matches the on-chain hash[/]" if rec.verified else
                       "[red]list does NOT match the on-chain record[/]")
    if not rec.verified:
        raise typer.Exit(1)


def _leaf_attribution(ctx: typer.Context, attestia, ref, cache: Path, as_json: bool) -> None:
    """``attestia attribution batch:0x<id>:<index>``: a batch leaf's list, from the batch's
    published file once it passes every check against the commitment (root, data hash,
    roster, attribution hashes)."""
    from offchain.attribution.onchain import fee_shares
    from offchain.errors import ConfigError
    from offchain.protocol import attribution_hash
    from offchain.rewards.chain import batch_outcomes, describe

    found = batch_outcomes(attestia, batch_id=ref.batch_id, cache=cache)
    if not found:
        raise ConfigError(f"no batch 0x{ref.batch_id.hex()} committed on chain "
                          f"{attestia.chain.chain_id}")
    [outcome] = found
    if not outcome.included:
        raise ConfigError(f"{describe(outcome)}; its leaves cannot be read back")
    if not 0 <= ref.index < len(outcome.leaves):
        raise ConfigError(f"batch 0x{ref.batch_id.hex()} has {len(outcome.leaves)} leaves "
                          f"(0 to {len(outcome.leaves) - 1}), not {ref.index}")
    leaf, inference = outcome.leaves[ref.index], outcome.inferences[ref.index]
    rows = _share_rows(fee_shares(leaf.shares, leaf.pool))
    data = {"requestId": "0x" + inference.requestId.hex(), "batch": ref.label,
            "modelId": "0x" + inference.modelId.hex(), "epoch": leaf.epoch,
            "contributorCutWei": leaf.pool,
            "attributionHash": "0x" + inference.attributionHash.hex(),
            "hashMatches": attribution_hash(leaf.shares) == inference.attributionHash,
            "recordMatchesChain": True, "attribution": rows}
    if as_json:
        print_json(data)
        return
    registered = attestia.registry.model(inference.modelId)
    local = (_find_package(settings_of(ctx).data_dir, registered.contentHash)
             if registered is not None else None)
    console.print(_share_table(rows, f"attribution of {ref.label[:24]}…", _names(local)))
    console.print("[green]leaf of the committed batch root; list matches its hash[/]")


def register(app: typer.Typer) -> None:
    app.command("infer")(infer)
    app.command("attribution")(attribution)
