"""``attestia request status|wait|cancel|list``: follow a paid request (offchain.requests)."""

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

request_app = typer.Typer(help="Follow, wait for, list and cancel paid inference requests.",
                          no_args_is_help=True)

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
    """Show where a request stands: open, recorded, rejected, cancelled or expired.

    Example: attestia request status 0x5f3a…
    """
    from offchain.requests import request_status

    rid = _request_id(request_id)
    status = request_status(reader_of(ctx), rid)
    if as_json:
        print_json(status.to_json())
    else:
        _print_status(status)


@request_app.command("wait")
def wait_cmd(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="The request id (0x + 64 hex digits)."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait (> 0)."),
    as_json: bool = typer.Option(False, "--json", help="Print the final status as JSON."),
) -> None:
    """Wait until a request is recorded, rejected or cancelled (exit 1 unless recorded).

    Example: attestia request wait 0x5f3a… --timeout 300
    """
    from offchain.errors import ConfigError
    from offchain.requests import wait_request

    rid = _request_id(request_id)
    if not timeout > 0:
        raise ConfigError(f"--timeout must be a positive number of seconds, got {timeout}")
    attestia = reader_of(ctx)
    status = wait_request(attestia, rid, timeout=timeout,
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
    from offchain.requests import cancel_request, local_request

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
    from offchain.requests import STATES, list_requests

    if state is not None and state not in STATES:
        raise ConfigError(f"--state must be one of {', '.join(STATES)}, got {state!r}")
    settings = settings_of(ctx)
    rows = list_requests(reader_of(ctx), data_dir=settings.data_dir if mine else None)
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
