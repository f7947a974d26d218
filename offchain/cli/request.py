"""``attestia request status|wait|cancel|list``: follow a paid request (offchain.request.status)."""

from __future__ import annotations

from typing import Any

import typer

from offchain.cli.common import (
    attestia_of,
    console,
    dev_account_option,
    err_console,
    eth,
    print_json,
    reader_of,
    settings_of,
)

request_app = typer.Typer(help="Follow, wait for, list and cancel inference requests; submit "
                          "off-chain ones to a batching worker.", no_args_is_help=True)

_STYLE = {"open": "cyan", "recorded": "green", "rejected": "red", "cancelled": "yellow",
          "expired": "bold yellow"}


def _request_id(text: str) -> bytes:
    from offchain.ids import parse_bytes32

    return parse_bytes32(text, "request id")


def _print_status(status: Any) -> None:
    data = status.to_json()
    console.print(f"request {data['requestId']}: [{_STYLE[status.state]}]{status.state}[/]",
                  highlight=False, soft_wrap=True)
    lines = [("model", data["modelId"]), ("worker", data["worker"]),
             ("fee", f"{eth(status.request.fee)} ETH"), ("paid at", data["createdAt"]),
             ("deadline", data["deadline"])]
    if status.state in ("open", "expired"):
        lines.append(("cancellable", f"from {data['cancellableAt']}"))
    if status.record_tx:
        lines.append(("closed by tx", status.record_tx))
    if status.reason:
        lines.append(("reason", status.reason))
    if status.refund is not None:
        lines.append(("refund", f"{eth(status.refund)} ETH"))
    for key, value in lines:
        console.print(f"  {key:>12}: {value}", highlight=False, soft_wrap=True)


@request_app.command("status")
def status_cmd(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="The request id (0x + 64 hex digits)."),
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Show where a request stands: open, recorded, rejected, cancelled or expired; for an
    off-chain request this home submitted (request submit): queued, batched or committed,
    with its batch, leaf and inclusion proof.

    Example: attestia request status 0x5f3a…
    """
    from offchain.request.status import request_status
    from offchain.request.submit import batched_status, load_submission

    rid = _request_id(request_id)
    submission = load_submission(settings_of(ctx).data_dir, rid)
    if submission is not None:
        batched = batched_status(reader_of(ctx, light=True), submission)
        if as_json:
            print_json(batched.to_json())
        else:
            _print_batched(batched)
        return
    status = request_status(reader_of(ctx, light=True), rid)
    if as_json:
        print_json(status.to_json())
    else:
        _print_status(status)


def _print_batched(status: Any) -> None:
    data = status.to_json()
    console.print(f"off-chain request {data['requestId']}: {status.state}", highlight=False,
                  soft_wrap=True)
    lines = [("model", data["modelId"]), ("worker", data["worker"]),
             ("fee", f"{eth(status.submission.fee)} ETH")]
    if status.batch_id is not None:
        lines.append(("batch", data["batchId"]))
    if status.leaf is not None:
        lines += [("leaf", f"{status.leaf} of {status.count} (root {data['root']}, epoch "
                           f"{status.epoch})"),
                  ("committed", f"tx {status.tx_hash}"),
                  ("inclusion", f"{len(status.proof)}-hash proof "
                                f"{', '.join(p[:10] + '…' for p in data['inclusionProof'])}"),
                  ("verify", f"attestia verify {status.ref}")]
    elif status.state == "queued":
        lines.append(("gateway", status.submission.gateway) if status.submission.gateway
                     else ("inbox", status.submission.inbox_file))
    if status.reason:
        lines.append(("reason", status.reason))
    for key, value in lines:
        console.print(f"  {key:>12}: {value}", highlight=False, soft_wrap=True)


@request_app.command("submit")
def submit_cmd(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", help="Model id (0x...) or model package "
                              "directory."),
    input_path: str = typer.Option(..., "--input", help="Input JSON: {\"features\": {...}}."),
    package: str = typer.Option(None, "--package", help="Model package (for feature names), "
                                "when --model is an id."),
    worker: str = typer.Option(None, "--worker", help="The batching worker's address "
                               "(default: one running in this home that serves the model)."),
    gateway: str = typer.Option(None, "--gateway", metavar="URL", help="Submit through a "
                                "worker fleet's gateway (attestia gateway) instead of a worker "
                                "of this home, e.g. http://127.0.0.1:8700."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until the batch holding "
                              "the request is committed on chain."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait for the batch."),
    as_json: bool = typer.Option(False, "--json", help="Print the request as JSON."),
    dev_account: int = dev_account_option(2, "requester"),
) -> None:
    """Submit an off-chain request to a batching worker (worker run --batch-size N): it goes
    to the worker's inbox, and is recorded as a leaf of a committed Merkle batch. With
    --gateway URL it goes to a worker fleet's gateway instead, from any home: the input is
    sealed to the worker's on-chain encryption key and the worker's signed receipt checked.

    Shows the batch, the leaf and its inclusion proof once committed; `attestia verify
    batch:0x<batchId>:<leaf>` checks it. Nothing is paid on chain for the request itself
    (the worker deposits the contributors' cut with the batch).

    Example: attestia request submit --model .attestia/models/demo --input x.json
    """
    import json
    from pathlib import Path

    from offchain.cli.common import check_model_ref, model_ref, parse_address
    from offchain.errors import ConfigError
    from offchain.models import load_package
    from offchain.models.encoding import parse_input
    from offchain.request.submit import COMMITTED, submit, submit_via_gateway, wait_batched

    if not timeout > 0:
        raise ConfigError(f"--timeout must be a positive number of seconds, got {timeout}")
    named = parse_address(worker, "--worker") if worker is not None else None
    if gateway is not None and named is not None:
        raise ConfigError("--worker and --gateway: the gateway names its worker; give one")
    if gateway is not None and not gateway.startswith(("http://", "https://")):
        raise ConfigError(f"--gateway must be an http:// or https:// URL, got {gateway!r}")
    check_model_ref(model)
    try:
        payload = json.loads(Path(input_path).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read input {input_path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"input {input_path} is not JSON ({exc}); give "
                          "{\"features\": {\"name\": value, ...}}") from None
    settings = settings_of(ctx)
    attestia = reader_of(ctx)
    account = attestia.chain.account(dev_account)
    model_id, pkg = model_ref(attestia, model, data_dir=settings.data_dir,
                              account=account.address)
    if pkg is None and package is None:
        raise ConfigError("--model is an id: pass --package PATH for its feature names")
    pkg = pkg or load_package(Path(package))
    registered = attestia.registry.model(model_id)
    if registered is None:
        raise ConfigError(f"model 0x{model_id.hex()} is not registered")
    if pkg.content_hash != registered.contentHash:
        raise ConfigError(f"{pkg.path} is not model 0x{model_id.hex()} (another ONNX file)")
    x = parse_input(payload, pkg.feature_names)
    if gateway is not None:
        sub = submit_via_gateway(attestia, model_id, x, account=account,
                                 data_dir=settings.data_dir, gateway=gateway)
    else:
        sub = submit(attestia, model_id, x, requester=account.address,
                     data_dir=settings.data_dir, worker=named)
    rid = "0x" + sub.request_id.hex()
    if sub.receipt is not None:
        err_console.print(f"receipt signed by worker {sub.worker}: batch committed by "
                          f"{sub.receipt.get('commitBy')}", highlight=False, soft_wrap=True)
    err_console.print(f"queued off-chain request {rid} for batching worker {sub.worker}"
                      + (f"; waiting up to {timeout:.0f} s for its batch" if wait else "")
                      + f" (attestia request status {rid})", highlight=False, soft_wrap=True)
    if not wait:
        if as_json:
            kept = sub.to_json()  # the file's content, less the secrets it keeps
            print_json({k: v for k, v in kept.items()
                        if k not in ("replySecret", "readSignature")} | {"state": "queued"})
        return
    status = wait_batched(attestia, sub, timeout=timeout, on_poll=_batched_waiting(rid))
    assert status.state == COMMITTED
    if as_json:
        print_json(status.to_json())
        return
    label = (pkg.labels[status.label] if status.label is not None
             and 0 <= status.label < len(pkg.labels) else "?")
    console.print(f"answer: [bold]{label}[/]", highlight=False)
    _print_batched(status)


def _batched_waiting(rid: str) -> Any:
    last = {"at": 0.0}

    def on_poll(status: Any, waited: float) -> None:
        if waited - last["at"] >= 10:
            last["at"] = waited
            err_console.print(f"still waiting for {rid[:18]}… ({status.state}, {waited:.0f} s)",
                              highlight=False)

    return on_poll


@request_app.command("wait")
def wait_cmd(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="The request id (0x + 64 hex digits)."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait (> 0)."),
    as_json: bool = typer.Option(False, "--json", help="Print the final status as JSON."),
) -> None:
    """Wait until a request is recorded, rejected or cancelled (exit 1 unless recorded); for
    an off-chain request this home submitted, until its batch is committed.

    Example: attestia request wait 0x5f3a… --timeout 300
    """
    import offchain.cli
    from offchain.errors import ConfigError

    rid = _request_id(request_id)
    if not timeout > 0:
        raise ConfigError(f"--timeout must be a positive number of seconds, got {timeout}")
    from offchain.request.status import wait_request
    from offchain.request.submit import load_submission, wait_batched

    attestia = reader_of(ctx, light=True)
    submission = load_submission(settings_of(ctx).data_dir, rid)
    if submission is not None:  # an off-chain request this home submitted (inbox or gateway)
        batched = wait_batched(attestia, submission, timeout=timeout,
                               on_poll=None if as_json else _batched_waiting("0x" + rid.hex()))
        if as_json:
            print_json(batched.to_json())
        else:
            _print_batched(batched)
        return
    status = wait_request(attestia, rid, timeout=timeout, started=offchain.cli.STARTED,
                          on_poll=None if as_json else waiting_line(rid))
    if as_json:
        print_json(status.to_json())
    else:
        _print_status(status)
    if status.state != "recorded":
        raise typer.Exit(1)


def waiting_line(rid: bytes) -> Any:
    """An on_poll callback printing a visible wait on stderr (every 5 s, and once at once)."""
    shown = {"last": -5.0}

    def on_poll(status: Any, waited: float) -> None:
        if status.state in ("open", "expired") and waited - shown["last"] >= 5.0:
            shown["last"] = waited
            err_console.print(f"waiting for 0x{rid.hex()[:16]}… ({status.state}, worker "
                              f"{status.request.worker}, {waited:.0f} s)", highlight=False,
                              soft_wrap=True)

    return on_poll


@request_app.command("cancel")
def cancel_cmd(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="The request id (0x + 64 hex digits)."),
    as_json: bool = typer.Option(False, "--json", help="Print the final status as JSON."),
    dev_account: int = dev_account_option(2, "requester"),
) -> None:
    """Cancel an expired request and refund its fee (only the home that paid, only after
    the registry's cancellable time: deadline + 15 min).

    Example: attestia request cancel 0x5f3a…
    """
    from offchain.request.status import cancel_request, local_request

    settings = settings_of(ctx)
    rid = _request_id(request_id)
    local_request(settings.data_dir, rid)  # before connecting or resolving a key
    attestia = attestia_of(ctx)
    status = cancel_request(attestia, rid, settings.data_dir, attestia.chain.account(dev_account))
    if as_json:
        print_json(status.to_json())
    else:
        _print_status(status)
        console.print(f"the fee is credited to {status.request.requester}'s balance in the "
                      "registry (InferenceRegistry.withdraw pays it out)", highlight=False,
                      soft_wrap=True)


@request_app.command("list")
def list_cmd(
    ctx: typer.Context,
    mine: bool = typer.Option(False, "--mine", help="Only requests this home paid for (a "
                              "local request file under .attestia/requests)."),
    state: str = typer.Option(None, "--state", help="Only requests in this state: open, "
                              "recorded, rejected, cancelled or expired."),
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """List paid requests with their states (oldest first).

    Example: attestia request list --mine --state expired
    """
    from rich.table import Table

    from offchain.errors import ConfigError
    from offchain.request.status import STATES, list_requests

    if state is not None and state not in STATES:
        raise ConfigError(f"--state must be one of {', '.join(STATES)}, got {state!r}")
    settings = settings_of(ctx)
    rows = list_requests(reader_of(ctx, light=True), data_dir=settings.data_dir if mine else None)
    if state is not None:
        rows = [r for r in rows if r.state == state]
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    if not rows:
        console.print("no requests" + (" paid from this home" if mine else ""))
        return
    table = Table(title=f"{len(rows)} request(s)")
    table.add_column("request", no_wrap=True)
    for col in ("state", "model", "worker", "fee (ETH)", "paid at"):
        table.add_column(col)
    for r in rows:
        data = r.to_json()
        table.add_row(data["requestId"], f"[{_STYLE[r.state]}]{r.state}[/]",
                      data["modelId"][:10] + "…", r.request.worker[:10] + "…",
                      eth(r.request.fee), data["createdAt"][:19].replace("T", " "))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(request_app, name="request")
