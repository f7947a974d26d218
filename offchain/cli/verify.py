"""``attestia verify INFERENCE_ID``: the stranger's checklist for one record."""

from __future__ import annotations

from pathlib import Path

import typer

from offchain.cli.common import console, print_json, reader_of, settings_of

_STYLE = {"PASS": "green", "FAIL": "bold red", "SKIPPED": "yellow"}


def verify_cmd(
    ctx: typer.Context,
    inference_id: str = typer.Argument(
        ..., help="The record: its request id (0x…), or batch:0x<batchId>:<leaf index>."),
    batch: str = typer.Option(None, "--batch", help="Batch id, when INFERENCE_ID is the "
                              "request id of a batch leaf."),
    input_path: Path = typer.Option(None, "--input", help="Revealed input JSON "
                                    "({\"features\": …}); needs --salt and a package. Not "
                                    "needed on the requester's machine, nor once a challenge "
                                    "revealed the input on chain."),
    salt: str = typer.Option(None, "--salt", help="The input commitment's 32-byte salt (hex)."),
    package: Path = typer.Option(None, "--package", help="The public model package "
                                 "(default: one under .attestia/models with the record's id)."),
    tee_root: Path = typer.Option(None, "--tee-root", help="PEM root the enclave attestation "
                                  "must chain to (AWS Nitro root, or a simulated root.pem)."),
    as_json: bool = typer.Option(False, "--json", help="Print the checklist as JSON."),
) -> None:
    """Check a record trusting only the chain: one line per check, exit 1 on any FAIL.

    Example: attestia verify 0x5f3a… --tee-root .attestia/workers/tee/simulated-enclave/root.pem

    Also: attestia verify batch:0x9c1e…:3 | attestia verify 0x5f3a… --input x.json --salt 0x…
    """
    from offchain.verify import RecordRef, VerifyError, VerifyOptions, verify

    salt_bytes = None
    if salt is not None:
        try:
            salt_bytes = bytes.fromhex(salt.removeprefix("0x"))
        except ValueError:
            raise VerifyError(f"--salt must be hex, got {salt!r}") from None
    ref = RecordRef.parse(inference_id, batch)
    settings = settings_of(ctx)
    report = verify(reader_of(ctx, light=True), ref, VerifyOptions(
        data_dir=settings.data_dir, input_path=input_path, salt=salt_bytes,
        package_path=package, tee_root=tee_root))
    if as_json:
        print_json(report.to_json())
    else:
        console.print(f"[bold]verify[/] {report.record_id} on chain {report.chain_id} "
                      f"(registry {report.registry})", highlight=False, soft_wrap=True)
        for check in report.checks:
            status = check.status.value
            console.print(f"[{_STYLE[status]}]{status:<7}[/] {check.name:<22} {check.reason}",
                          highlight=False, soft_wrap=True)
        verdict = "every check passed" if report.ok else "at least one check FAILED"
        console.print(f"[{'green' if report.ok else 'bold red'}]{verdict}[/]")
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("verify")(verify_cmd)
