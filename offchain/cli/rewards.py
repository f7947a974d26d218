"""``attestia rewards settle|claim|status|verify``."""

from __future__ import annotations

import typer
from rich.table import Table

from offchain.cli.common import (
    attestia_of,
    console,
    dev_account_option,
    eth,
    print_json,
    settings_of,
)

rewards_app = typer.Typer(help="Settle and claim data contributors' rewards.",
                          no_args_is_help=True)


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
                    "tree": str(s.path), "cumulative": s.cumulative})
        return
    console.print(f"epoch {s.epoch}: root {s.root} proposed for {eth(s.total)} ETH over "
                  f"{len(s.cumulative)} contributors; claimable from {ready} (unix); tree {s.path}")


@rewards_app.command("claim")
def claim_cmd(
    ctx: typer.Context,
    account: str = typer.Option(..., "--account", help="Contributor address to claim for."),
    dev_account: int = dev_account_option(0, "transaction sender"),
) -> None:
    """Claim a contributor's rewards with its Merkle proof (anyone may send it).

    Example: attestia rewards claim --account 0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc
    """
    from eth_utils import to_checksum_address

    from offchain.rewards.chain import claim

    attestia = attestia_of(ctx)
    who = to_checksum_address(account)
    paid = claim(attestia, who, settings_of(ctx).data_dir / "rewards",
                 sender_account=attestia.chain.account(dev_account))
    console.print(f"{who}: claimed {eth(paid)} ETH" if paid else f"{who}: nothing new to claim")


@rewards_app.command("status")
def status_cmd(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show epochs, proposed and active roots, funded, claimed and unclaimed amounts.

    Example: attestia rewards status --json
    """
    from offchain.protocol import RootStatus

    labels = {RootStatus.NONE: "none", RootStatus.PROPOSED: "proposed",
              RootStatus.CANCELLED: "cancelled", RootStatus.ACTIVATED: "active"}
    attestia = attestia_of(ctx)
    dist = attestia.dist
    epochs = []
    for event in dist.roots_proposed():
        root = dist.epoch_root(event.epoch)
        epochs.append({"epoch": event.epoch, "root": "0x" + root.root.hex(), "total": root.total,
                       "readyAt": root.readyAt, "status": labels[root.status]})
    claimed = {claim.account: claim.cumulative for claim in dist.claims()}
    funding = dist.funding()
    funded, total_claimed = funding.funded, funding.claimed
    data = {"currentEpoch": attestia.reg.current_epoch(), "totalFunded": funded,
            "totalClaimed": total_claimed, "unclaimed": funding.unclaimed,
            "roots": epochs, "claimedByAccount": claimed}
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


@rewards_app.command("verify")
def verify_cmd(
    ctx: typer.Context, epoch: int = typer.Argument(..., help="Epoch to check.")
) -> None:
    """Recompute an epoch's reward root from chain data and compare with the one on chain.

    Example: attestia rewards verify 20782
    """
    from offchain.rewards.chain import verify

    ok, s, onchain = verify(attestia_of(ctx), epoch)
    if ok:
        console.print(f"epoch {epoch}: PASS, recomputed root {s.root} equals the on-chain root "
                      f"({len(s.cumulative)} contributors, {eth(s.total)} ETH)")
        return
    console.print(f"epoch {epoch}: FAIL, recomputed {s.root} but the chain has {onchain}")
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(rewards_app, name="rewards")
