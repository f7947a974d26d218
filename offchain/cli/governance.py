"""``attestia governance …``: the enclave-measurement allowlist and revocations."""

from __future__ import annotations

import typer

from offchain.cli.common import attestia_of, console, dev_account_option, print_json
from offchain.ids import parse_bytes32

governance_app = typer.Typer(help="Governance: enclave measurements and revocations "
                             "(GOVERNANCE_ROLE).", no_args_is_help=True)


@governance_app.command("allow-measurement")
def allow_measurement(
    ctx: typer.Context,
    measurement: str = typer.Argument(None, help="Measurement id: keccak256(PCR0||PCR1||PCR2)."),
    simulated: bool = typer.Option(False, "--simulated", help="Allow the SIMULATED enclave's "
                                   "measurement (local testing only)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    dev_account: int = dev_account_option(0, "governance"),
) -> None:
    """Add an enclave measurement to the allowlist.

    Example: attestia governance allow-measurement --simulated
    """
    from offchain.errors import ConfigError
    from offchain.proofs.tee.simulated import simulated_measurement

    if (measurement is None) == (not simulated):
        raise ConfigError("give a MEASUREMENT or --simulated (one of them)")
    value = simulated_measurement() if simulated else parse_bytes32(measurement, "measurement id")
    attestia = attestia_of(ctx)
    already = bool(attestia.registry.measurement_status(value).allowedAt)
    if not already:
        attestia.send(attestia.registry.allow_measurement(value),
                      account=attestia.chain.account(dev_account))
    if as_json:
        print_json({"measurement": "0x" + value.hex(), "state": "allowed",
                    "changed": not already, "simulated": simulated})
        return
    if already:
        console.print(f"measurement 0x{value.hex()} is already allowed")
        return
    label = " (SIMULATED enclave: testing only)" if simulated else ""
    console.print(f"measurement 0x{value.hex()} allowed{label}")


@governance_app.command("revoke-measurement")
def revoke_measurement(
    ctx: typer.Context,
    measurement: str = typer.Argument(..., help="Measurement id (0x…)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    dev_account: int = dev_account_option(0, "governance"),
) -> None:
    """Revoke an enclave measurement (one-way; records made before stay verifiable).

    Example: attestia governance revoke-measurement 0x18c9…
    """
    attestia = attestia_of(ctx)
    value = parse_bytes32(measurement, "measurement id")
    attestia.send(attestia.registry.revoke_measurement(value),
                  account=attestia.chain.account(dev_account))
    if as_json:
        print_json({"measurement": "0x" + value.hex(), "state": "revoked"})
        return
    console.print(f"measurement 0x{value.hex()} revoked")


@governance_app.command("revoke-worker")
def revoke_worker(
    ctx: typer.Context,
    signer: str = typer.Argument(..., help="Worker signing address."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    dev_account: int = dev_account_option(0, "governance"),
) -> None:
    """Revoke a worker key (one-way; records made before stay verifiable).

    Example: attestia governance revoke-worker 0x7099…
    """
    from offchain.cli.common import parse_address

    address = parse_address(signer, "SIGNER")
    attestia = attestia_of(ctx)
    attestia.send(attestia.registry.revoke_worker(address),
                  account=attestia.chain.account(dev_account))
    if as_json:
        print_json({"signer": address, "state": "revoked"})
        return
    console.print(f"worker {address} revoked")


@governance_app.command("measurements")
def measurements_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the measurements as JSON."),
) -> None:
    """List the enclave measurements governance allowed or revoked, with dates (read-only).

    Example: attestia governance measurements --json
    """
    from offchain.admin import measurements
    from offchain.cli.common import print_json, reader_of

    entries = measurements(reader_of(ctx, light=True))
    if as_json:
        print_json([e.to_json() for e in entries])
        return
    if not entries:
        console.print("no measurement was ever allowed: attestia governance allow-measurement")
        return
    for e in entries:
        data = e.to_json()
        when = f"allowed {data['allowedAt'] or '?'}"
        if data["revokedAt"]:
            when += f", revoked {data['revokedAt']}"
        console.print(f"{data['measurement']} {e.state}: {when}", highlight=False,
                      soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(governance_app, name="governance")
