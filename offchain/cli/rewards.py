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


def _iso(timestamp: int | None) -> str:
    from offchain.timefmt import iso_if_set

    return iso_if_set(timestamp) or "-"


def _advance_hint(attestia, seconds: int) -> str:
    """How to get there on a local dev chain (``attestia chain advance``), or ''."""
    if not attestia.chain.is_local_dev or seconds <= 0:
        return ""
    minutes = -(-seconds // 60)
    span = f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"
    return f"; on this local chain: attestia chain advance {span}"


@rewards_app.command("settle")
def settle_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the settlement as JSON."),
    dev_account: int = dev_account_option(0, "settler"),
) -> None:
    """Sweep ended epochs, recompute cumulative rewards from chain data, propose the root.

    Nothing to settle (no epoch ended yet, or nothing earned in the ended ones) is said with
    the current epoch's end and exits 0 (nothing is sent).

    Example: attestia rewards settle
    """
    from offchain.protocol import RootStatus
    from offchain.rewards.chain import Clock, SettlementError, compute, settle, settleable_from

    attestia = attestia_of(ctx)
    clock = Clock.of(attestia)
    before = attestia.distributor.epoch_root(clock.epoch - 1).status if clock.epoch else None
    try:
        s = settle(attestia, settings_of(ctx).data_dir / "rewards",
                   account=attestia.chain.account(dev_account))
    except SettlementError as exc:
        if "already has a different root" in str(exc):
            raise
        try:  # records settle in the epoch their challenge window closes: this or the next
            current = compute(attestia, clock.epoch + 1).total
        except SettlementError:
            current = 0
        start = settleable_from(attestia, clock) if current else clock.epoch_ends_at
        data = {"settled": False, "epoch": clock.epoch - 1 if clock.epoch else None,
                "currentEpoch": clock.epoch, "currentEpochEndsAt": _iso(clock.epoch_ends_at),
                "earnedNotSettledWei": current, "settleableAt": _iso(start) if current else None,
                "reason": str(exc)}
        if as_json:
            print_json(data)
            return
        later = (f"{eth(current)} ETH earned so far (epoch {clock.epoch} now) can be settled "
                 f"from {_iso(start)}, once its records' challenge windows have closed and "
                 "their epoch has ended" if current else
                 f"nothing earned yet (epoch {clock.epoch} ends {_iso(clock.epoch_ends_at)})")
        console.print(f"nothing to settle: {exc}; {later}"
                      f"{_advance_hint(attestia, start - clock.now) if current else ''}",
                      highlight=False, soft_wrap=True)
        return
    root = attestia.distributor.epoch_root(s.epoch)
    ready, status = root.readyAt, root.status
    proposed_now = before not in (RootStatus.PROPOSED, RootStatus.ACTIVATED)
    claimable = status == RootStatus.ACTIVATED or ready <= clock.now
    if as_json:
        print_json({"settled": True, "proposedNow": proposed_now, "epoch": s.epoch,
                    "root": s.root, "total": s.total, "claimableAt": ready,
                    "state": "claimable" if claimable else "pending",
                    "tree": str(s.path), "cumulative": s.cumulative, "funded": s.funded,
                    "unallocated": s.unallocated,
                    "batches": [b.to_json() for b in s.batches],
                    "quarantined": [b.to_json() for b in s.quarantined],
                    "flaggedRecords": [f.to_json() for f in s.flagged],
                    "deferred": ["0x" + b.hex() for b in s.excluded]})
        return
    what = "proposed" if proposed_now else "already proposed"
    when = (f"claimable now (since {_iso(ready)})" if claimable else
            f"pending until {_iso(ready)}, then claimable"
            f"{_advance_hint(attestia, ready - clock.now)}")
    console.print(f"epoch {s.epoch}: root {s.root} {what}: {eth(s.total)} ETH to "
                  f"{len(s.cumulative)} contributors, {when}", highlight=False, soft_wrap=True)
    console.print(f"tree {s.path}", highlight=False, soft_wrap=True)
    settled = len(s.batches) - len(s.quarantined)
    console.print(f"{settled} batch(es) settled, {len(s.quarantined)} quarantined; "
                  f"{eth(s.unallocated)} ETH of the pools unallocated", highlight=False)
    _print_held(s.batches, s.flagged)
    for batch_id in s.excluded:
        console.print(f"batch 0x{batch_id.hex()} checks out now but was quarantined when this "
                      "epoch's root was proposed: the next epoch's settlement includes it",
                      highlight=False, soft_wrap=True)


def _account_line(attestia, r) -> str:
    """Where an account's rewards stand, in one line (amounts in ETH, dates ISO local)."""
    clock = r.clock
    parts = []
    if r.claimable:
        parts.append(f"{eth(r.claimable)} ETH claimable now (epoch {r.claimable_epoch}'s root)")
    if r.pending:
        parts.append(f"{eth(r.pending)} ETH pending under epoch {r.pending_epoch}'s root, "
                     f"claimable from {_iso(r.pending_ready_at)}"
                     f"{_advance_hint(attestia, (r.pending_ready_at or 0) - clock.now)}")
    if r.unsettled:
        if r.unsettled_ended:
            parts.append(f"{eth(r.unsettled)} ETH earned in ended epochs not settled yet "
                         "(attestia rewards settle)")
        else:
            at = r.settleable_at or clock.epoch_ends_at
            parts.append(f"{eth(r.unsettled)} ETH earned, not settled yet: it can be settled "
                         f"from {_iso(at)}{_advance_hint(attestia, at - clock.now)}")
    parts.append(f"{eth(r.claimed)} ETH claimed so far")
    if r.state == "nothing":
        parts = [f"nothing earned yet (current epoch {clock.epoch} ends "
                 f"{_iso(clock.epoch_ends_at)})"]
    return "; ".join(parts)


@rewards_app.command("claim")
def claim_cmd(
    ctx: typer.Context,
    account: str = typer.Option(..., "--account", help="Contributor address to claim for."),
    as_json: bool = typer.Option(False, "--json", help="Print the claim as JSON."),
    dev_account: int = dev_account_option(0, "transaction sender"),
) -> None:
    """Claim a contributor's rewards with its Merkle proof (anyone may send it).

    Nothing claimable now (no root yet, or everything under it claimed) exits 0 and says
    what is pending and from when, or in which epoch it was earned and when that ends.

    Example: attestia rewards claim --account 0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc
    """
    from offchain.cli.common import parse_address
    from offchain.rewards.chain import account_rewards, claim

    who = parse_address(account, "--account")
    attestia = attestia_of(ctx)
    out_dir = settings_of(ctx).data_dir / "rewards"
    paid = 0
    if account_rewards(attestia, who, out_dir).claimable:
        paid = claim(attestia, who, out_dir, sender_account=attestia.chain.account(dev_account))
    after = account_rewards(attestia, who, out_dir)
    if as_json:
        print_json({"claimedNowWei": paid, **after.to_json()})
        return
    head = f"{who}: claimed {eth(paid)} ETH" if paid else f"{who}: nothing to claim now"
    console.print(f"{head}; {_account_line(attestia, after)}", highlight=False, soft_wrap=True)


@rewards_app.command("status")
def status_cmd(
    ctx: typer.Context,
    account: str = typer.Option(None, "--account", help="Also show where this account's "
                                "rewards stand: claimable now, pending and from when, "
                                "unsettled, claimed."),
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Show epochs, reward roots (pending until when, claimable, superseded, cancelled),
    funded, claimed and unclaimed amounts, and every batch of the ended epochs that
    settlement quarantines (with the reason).

    Example: attestia rewards status --account 0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc
    """
    from offchain.cli.common import parse_address
    from offchain.protocol import RootStatus
    from offchain.rewards.chain import Clock, account_rewards, batch_cache
    from offchain.rewards.chain import status as ledger_status

    who = parse_address(account, "--account") if account else None
    attestia = reader_of(ctx, light=True)
    dist = attestia.distributor
    clock = Clock.of(attestia)
    claimable_now = dist.claimable_root()
    epochs = []
    for event in dist.roots_proposed():
        root = dist.epoch_root(event.epoch)
        if root.status == RootStatus.CANCELLED:
            state = "cancelled"
        elif claimable_now is not None and claimable_now.epoch == event.epoch:
            state = "claimable"
        elif root.status == RootStatus.PROPOSED and root.readyAt > clock.now:
            state = "pending"
        else:
            state = "superseded"  # roots are cumulative: a newer claimable root covers it
        epochs.append({"epoch": event.epoch, "root": "0x" + root.root.hex(),
                       "total": root.total, "claimableAt": root.readyAt, "state": state})
    claimed = {claim.account: claim.cumulative for claim in dist.claims()}
    funding = dist.funding()
    funded, total_claimed = funding.funded, funding.claimed
    out_dir = settings_of(ctx).data_dir / "rewards"
    ledger = ledger_status(attestia, cache=batch_cache(out_dir))
    batches = list(ledger.batches) if ledger else []
    flagged = list(ledger.flagged) if ledger else []
    mine = account_rewards(attestia, who, out_dir) if who else None
    data = {"currentEpoch": clock.epoch, "currentEpochEndsAt": _iso(clock.epoch_ends_at),
            "totalFunded": funded, "totalClaimed": total_claimed,
            "unclaimed": funding.unclaimed, "roots": epochs, "claimedByAccount": claimed,
            "batches": [b.to_json() for b in batches],
            "quarantined": [b.to_json() for b in batches if b.quarantined],
            "flaggedRecords": [f.to_json() for f in flagged],
            "account": mine.to_json() if mine else None}
    if as_json:
        print_json(data)
        return
    table = Table(title=f"reward roots (current epoch {clock.epoch}, ends "
                        f"{_iso(clock.epoch_ends_at)})")
    for col in ("epoch", "state", "total (ETH)", "claimable from", "root"):
        table.add_column(col)
    for e in epochs:
        table.add_row(str(e["epoch"]), e["state"], eth(e["total"]), _iso(e["claimableAt"]),
                      e["root"][:18] + "…")
    if epochs:
        console.print(table)
    else:
        console.print(f"no reward root yet: the first settlement (attestia rewards settle) "
                      f"can run once epoch {clock.epoch} ends {_iso(clock.epoch_ends_at)}",
                      highlight=False, soft_wrap=True)
    console.print(f"funded {eth(funded)} ETH, claimed {eth(total_claimed)} ETH, "
                  f"unclaimed {eth(funding.unclaimed)} ETH")
    quarantined = [b for b in batches if b.quarantined]
    console.print(f"batches of ended epochs: {len(batches) - len(quarantined)} settle, "
                  f"{len(quarantined)} quarantined", highlight=False)
    _print_held(batches, flagged)
    if mine is not None:
        console.print(f"{mine.account}: {mine.state}; {_account_line(attestia, mine)}",
                      highlight=False, soft_wrap=True)


NOT_SETTLED = 3
"""``rewards verify``'s exit code for an epoch with no root to check (not a FAIL)."""


@rewards_app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    epoch: int = typer.Argument(None, help="Epoch to check (default: the newest epoch with a "
                                "root)."),
    as_json: bool = typer.Option(False, "--json", help="Print the check as JSON."),
) -> None:
    """Recompute an epoch's reward root from chain data and compare with the one on chain;
    list the batches quarantined (not paid) and why.

    Exit 0: PASS; 1: FAIL (the chain's root is not what chain data gives); 3: the epoch is
    not settled yet (no root proposed, or it was cancelled): nothing to check.

    Example: attestia rewards verify 20782
    """
    from offchain.errors import ConfigError
    from offchain.protocol import RootStatus
    from offchain.rewards.chain import Clock, batch_cache, verify

    if epoch is not None and not 0 <= epoch < 2**64:  # epochs are uint64 on chain
        raise ConfigError(f"epoch must be a whole number from 0 to {2**64 - 1}, got {epoch} "
                          "(attestia rewards status lists the epochs)")
    attestia = reader_of(ctx)
    if epoch is None:
        proposed = [e.epoch for e in attestia.distributor.roots_proposed()
                    if attestia.distributor.epoch_root(e.epoch).status != RootStatus.CANCELLED]
        epoch = max(proposed) if proposed else None
    onchain = attestia.distributor.epoch_root(epoch) if epoch is not None else None
    if onchain is None or onchain.status in (RootStatus.NONE, RootStatus.CANCELLED):
        clock = Clock.of(attestia)
        which = "no epoch" if epoch is None else f"epoch {epoch}"
        why = ("its root was cancelled" if onchain is not None and
               onchain.status == RootStatus.CANCELLED else "no root proposed")
        ended = epoch is not None and epoch < clock.epoch
        todo = ("attestia rewards settle proposes it" if ended else
                f"epoch {clock.epoch} ends {_iso(clock.epoch_ends_at)}, then attestia rewards "
                "settle")
        if as_json:
            print_json({"epoch": epoch, "result": "not-settled", "reason": why})
        else:
            console.print(f"{which} settled yet ({why}): nothing to check; {todo}"
                          if epoch is None else
                          f"epoch {epoch}: not settled yet ({why}): nothing to check; {todo}",
                          highlight=False, soft_wrap=True)
        raise typer.Exit(NOT_SETTLED)
    check = verify(attestia, epoch, cache=batch_cache(settings_of(ctx).data_dir / "rewards"))
    s = check.settlement
    if as_json:
        print_json({"epoch": epoch, "result": "pass" if check.ok else "fail",
                    "onchainRoot": check.onchain_root, "recomputedRoot": s.root,
                    "contributors": len(s.cumulative), "totalWei": s.total,
                    "quarantined": [b.to_json() for b in check.quarantined],
                    "leftOut": ["0x" + b.hex() for b in s.excluded]})
        if not check.ok:
            raise typer.Exit(1)
        return
    _print_held(check.quarantined, s.flagged)
    if check.ok:
        console.print(f"epoch {epoch}: PASS, recomputed root {s.root} equals the on-chain root "
                      f"({len(s.cumulative)} contributors, {eth(s.total)} ETH; "
                      f"{len(check.quarantined)} batch(es) quarantined)", soft_wrap=True)
        for batch_id in s.excluded:
            console.print(f"  batch 0x{batch_id.hex()} is left out: quarantined when the root "
                          "was settled, valid now (a later epoch includes it)", highlight=False)
        return
    console.print(f"epoch {epoch}: FAIL, recomputed {s.root} but the chain has "
                  f"{check.onchain_root}", soft_wrap=True)
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
        print_json({"epoch": epoch, "root": "0x" + root.hex(), "state": "cancelled"})
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
