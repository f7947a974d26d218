"""``attestia rewards settle|claim|status|verify|cancel-root`` and ``attestia withdraw``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from offchain.cli.common import (
    attestia_of,
    console,
    dev_account_option,
    eth,
    print_json,
    reader_of,
    settings_of,
)

if TYPE_CHECKING:
    from offchain.rewards.chain import BatchOutcome, FlaggedRecord

rewards_app = typer.Typer(help="Settle and claim data contributors' rewards.",
                          no_args_is_help=True)


def _print_held(batches: Iterable[BatchOutcome], flagged: Iterable[FlaggedRecord] = ()
                ) -> None:
    """Quarantined batches and unpaid outsider shares, one line each (never fatal)."""
    from offchain.rewards.chain import describe

    for outcome in batches:
        if outcome.quarantined:
            console.print(f"[yellow]{describe(outcome)}[/]", highlight=False, soft_wrap=True)
    for record in flagged:
        outside = ", ".join(account for account, _ in record.outside)
        console.print(f"[yellow]record 0x{record.request_id.hex()}: shares to {outside} (not in "
                      f"the model's roster) not paid: {record.unallocated} wei unallocated[/]",
                      highlight=False, soft_wrap=True)


@rewards_app.command("settle")
def settle_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json"),
    dev_account: int = dev_account_option(0, "settler"),
) -> None:
    """Sweep ended epochs, recompute cumulative rewards from chain data, propose the root.

    Example: attestia rewards settle
    """
    from offchain.rewards.chain import settle

    attestia = attestia_of(ctx)
    s = settle(attestia, settings_of(ctx).data_dir / "rewards",
               account=attestia.chain.account(dev_account))
    ready = attestia.dist.epoch_root(s.epoch).readyAt
    if as_json:
        print_json({"epoch": s.epoch, "root": s.root, "total": s.total, "readyAt": ready,
                    "tree": str(s.path), "cumulative": s.cumulative, "funded": s.funded,
                    "unallocated": s.unallocated,
                    "batches": [b.to_json() for b in s.batches],
                    "quarantined": [b.to_json() for b in s.quarantined],
                    "flaggedRecords": [f.to_json() for f in s.flagged],
                    "deferred": ["0x" + b.hex() for b in s.excluded]})
        return
    console.print(f"epoch {s.epoch}: root {s.root} proposed for {eth(s.total)} ETH over "
                  f"{len(s.cumulative)} contributors; claimable from {ready} (unix); tree {s.path}")
    settled = len(s.batches) - len(s.quarantined)
    console.print(f"{settled} batch(es) settled, {len(s.quarantined)} quarantined; "
                  f"{eth(s.unallocated)} ETH of the pools unallocated", highlight=False)
    _print_held(s.batches, s.flagged)
    for batch_id in s.excluded:
        console.print(f"batch 0x{batch_id.hex()} checks out now but was quarantined when this "
                      "epoch's root was proposed: the next epoch's settlement includes it",
                      highlight=False, soft_wrap=True)


@rewards_app.command("claim")
def claim_cmd(
    ctx: typer.Context,
    account: str = typer.Option(..., "--account", help="Contributor address to claim for."),
    dev_account: int = dev_account_option(0, "transaction sender"),
) -> None:
    """Claim a contributor's rewards with its Merkle proof (anyone may send it).

    Example: attestia rewards claim --account 0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc
    """
    from offchain.cli.common import parse_address
    from offchain.rewards.chain import claim

    who = parse_address(account, "--account")
    attestia = attestia_of(ctx)
    paid = claim(attestia, who, settings_of(ctx).data_dir / "rewards",
                 sender_account=attestia.chain.account(dev_account))
    console.print(f"{who}: claimed {eth(paid)} ETH" if paid else f"{who}: nothing new to claim")


@rewards_app.command("status")
def status_cmd(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show epochs, proposed and active roots, funded, claimed and unclaimed amounts, and
    every batch of the ended epochs that settlement quarantines (with the reason).

    Example: attestia rewards status --json
    """
    from offchain.protocol import RootStatus
    from offchain.rewards.chain import batch_cache
    from offchain.rewards.chain import status as ledger_status

    labels = {RootStatus.NONE: "none", RootStatus.PROPOSED: "proposed",
              RootStatus.CANCELLED: "cancelled", RootStatus.ACTIVATED: "active"}
    attestia = reader_of(ctx)
    dist = attestia.dist
    epochs = []
    for event in dist.roots_proposed():
        root = dist.epoch_root(event.epoch)
        epochs.append({"epoch": event.epoch, "root": "0x" + root.root.hex(), "total": root.total,
                       "readyAt": root.readyAt, "status": labels[root.status]})
    claimed = {claim.account: claim.cumulative for claim in dist.claims()}
    funding = dist.funding()
    funded, total_claimed = funding.funded, funding.claimed
    ledger = ledger_status(attestia, cache=batch_cache(settings_of(ctx).data_dir / "rewards"))
    batches = list(ledger.batches) if ledger else []
    flagged = list(ledger.flagged) if ledger else []
    data = {"currentEpoch": attestia.reg.current_epoch(), "totalFunded": funded,
            "totalClaimed": total_claimed, "unclaimed": funding.unclaimed,
            "roots": epochs, "claimedByAccount": claimed,
            "batches": [b.to_json() for b in batches],
            "quarantined": [b.to_json() for b in batches if b.quarantined],
            "flaggedRecords": [f.to_json() for f in flagged]}
    if as_json:
        print_json(data)
        return
    table = Table(title=f"reward roots (current epoch {data['currentEpoch']})")
    for col in ("epoch", "status", "total (ETH)", "root"):
        table.add_column(col)
    for e in epochs:
        table.add_row(str(e["epoch"]), e["status"], eth(e["total"]), e["root"][:18] + "…")
    console.print(table)
    console.print(f"funded {eth(funded)} ETH, claimed {eth(total_claimed)} ETH, "
                  f"unclaimed {eth(funding.unclaimed)} ETH")
    quarantined = [b for b in batches if b.quarantined]
    console.print(f"batches of ended epochs: {len(batches) - len(quarantined)} settle, "
                  f"{len(quarantined)} quarantined", highlight=False)
    _print_held(batches, flagged)


@rewards_app.command("verify")
def verify_cmd(
    ctx: typer.Context, epoch: int = typer.Argument(..., help="Epoch to check.")
) -> None:
    """Recompute an epoch's reward root from chain data and compare with the one on chain;
    list the batches quarantined (not paid) and why.

    Example: attestia rewards verify 20782
    """
    from offchain.errors import ConfigError
    from offchain.rewards.chain import batch_cache, verify

    if not 0 <= epoch < 2**64:  # epochs are uint64 on chain
        raise ConfigError(f"epoch must be a whole number from 0 to {2**64 - 1}, got {epoch} "
                          "(attestia rewards status lists the epochs)")
    check = verify(reader_of(ctx), epoch,
                   cache=batch_cache(settings_of(ctx).data_dir / "rewards"))
    s = check.settlement
    _print_held(check.quarantined, s.flagged)
    if check.ok:
        console.print(f"epoch {epoch}: PASS, recomputed root {s.root} equals the on-chain root "
                      f"({len(s.cumulative)} contributors, {eth(s.total)} ETH; "
                      f"{len(check.quarantined)} batch(es) quarantined)")
        for batch_id in s.excluded:
            console.print(f"  batch 0x{batch_id.hex()} is left out: quarantined when the root "
                          "was settled, valid now (a later epoch includes it)", highlight=False)
        return
    console.print(f"epoch {epoch}: FAIL, recomputed {s.root} but the chain has "
                  f"{check.onchain_root}")
    raise typer.Exit(1)


@rewards_app.command("cancel-root")
def cancel_root_cmd(
    ctx: typer.Context,
    epoch: int = typer.Argument(..., help="Epoch whose proposed root to cancel."),
    as_json: bool = typer.Option(False, "--json", help="Print the cancelled root as JSON."),
    dev_account: int = dev_account_option(0, "guardian"),
) -> None:
    """Cancel an epoch's proposed reward root during its timelock (GUARDIAN_ROLE only); the
    next settlement proposes it again.

    Example: attestia rewards cancel-root 20782
    """
    from offchain.admin import cancel_root

    attestia = attestia_of(ctx)
    root = cancel_root(attestia, epoch, attestia.chain.account(dev_account))
    if as_json:
        print_json({"epoch": epoch, "root": "0x" + root.hex(), "status": "cancelled"})
        return
    console.print(f"epoch {epoch}: root 0x{root.hex()} cancelled", highlight=False)


def withdraw_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the amounts as JSON."),
    dev_account: int = dev_account_option(0, "account withdrawing"),
) -> None:
    """Withdraw your registry balance (earnings, refunds) and any Slasher balance.

    The registry balance holds worker and model-owner earnings and refunds of rejected or
    cancelled requests.

    Paid to the signing key (ATTESTIA_PRIVATE_KEY, the keystore, or --dev-account). With
    nothing to withdraw it says so and exits 0 (nothing is sent).

    Example: attestia withdraw --dev-account 1
    """
    from offchain.admin import withdraw

    attestia = attestia_of(ctx)
    done = withdraw(attestia, attestia.chain.account(dev_account))
    if as_json:
        print_json(done.to_json())
        return
    if not done.total:
        console.print(f"{done.account}: nothing to withdraw (registry and Slasher balances "
                      "are 0)", highlight=False)
        return
    console.print(f"{done.account}: withdrew {eth(done.total)} ETH ({eth(done.registry)} from "
                  f"the registry, {eth(done.slasher)} from the Slasher)", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(rewards_app, name="rewards")
    app.command("withdraw")(withdraw_cmd)
