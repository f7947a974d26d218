"""``attestia dispute open|respond|prove|resolve|status`` and ``attestia watch``: attribution
disputes (offchain.dispute; rules in docs/design.md "Disputes")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from offchain.cli.common import (
    attestia_of,
    console,
    dev_account_option,
    eth,
    print_json,
    reader_of,
    settings_of,
)

dispute_app = typer.Typer(help="Challenge a record's attribution, answer a challenge, prove "
                               "a lie, resolve, and see where a dispute stands.",
                          no_args_is_help=True)

_PACKAGE_HELP = "The model's package directory (its dataRoot must be the registered one)."
_STYLE = {"none": "dim", "open": "cyan", "responded": "cyan", "fraud": "bold red",
          "no_response": "bold red", "worker_won": "green"}


_RECORD_HELP = "The record: its request id (0x…), or a batch leaf, batch:0x<batchId>:<index>."


def _request_id(text: str) -> bytes:
    from offchain.ids import parse_bytes32

    return parse_bytes32(text, "request id")


def _target(attestia: Any, text: str) -> tuple[bytes, Any]:
    """(dispute id, the batch leaf or None) of a record named on the command line: a single
    record's dispute goes by its request id, a batch leaf's by its leaf dispute id."""
    if not text.startswith("batch:"):
        return _request_id(text), None
    from offchain.dispute.game import batch_leaf
    from offchain.errors import ConfigError
    from offchain.verify.evidence import RecordRef, VerifyError

    try:
        ref = RecordRef.parse(text)
    except VerifyError as exc:
        raise ConfigError(str(exc)) from None
    assert ref.batch_id is not None and ref.index is not None
    leaf = batch_leaf(attestia, ref.batch_id, ref.index)
    return leaf.dispute_id, leaf


def _package(path: Path) -> Any:
    from offchain.errors import ConfigError
    from offchain.models import load_package

    if not Path(path).is_dir():
        raise ConfigError(f"--model {path}: not a package directory")
    return load_package(path)


def _model_for(attestia: Any, package: Any, model_id: bytes) -> Any:
    """The dispute view of ``package``, refused unless it is the record's model."""
    from offchain.attribution.trace import AttributionModel
    from offchain.errors import ConfigError

    registered = attestia.registry.model(model_id)
    if registered is None:
        raise ConfigError(f"model 0x{model_id.hex()} is not registered on this chain")
    if registered.dataRoot != package.data_root():
        raise ConfigError(f"the package at {package.path} is not model 0x{model_id.hex()[:16]}…'s"
                          " (its attribution spec hashes to another dataRoot)")
    return AttributionModel.of_package(package)


def _network_for(attestia: Any, package: Any, model_id: bytes) -> Any:
    """The package's integer network, refused unless its ModelSpec is the record's model's
    registered contentHash."""
    from offchain.errors import ConfigError

    registered = attestia.registry.model(model_id)
    if registered is None:
        raise ConfigError(f"model 0x{model_id.hex()} is not registered on this chain")
    if registered.contentHash != package.content_hash:
        raise ConfigError(f"the package at {package.path} is not model 0x{model_id.hex()[:16]}…'s"
                          " (its ModelSpec hashes to another contentHash)")
    return package.network


def _open_fields(d: Any) -> dict[str, Any]:
    """An attribution or output dispute's next deadline (``respondBy`` while open,
    ``proveBy`` once responded), its third-party defender and whether it was reopened."""
    from offchain.protocol import ZERO_ADDRESS
    from offchain.timefmt import iso_if_set

    data: dict[str, Any] = {}
    if d.state.name == "OPEN":
        data["respondBy"] = iso_if_set(d.deadline)
    elif d.state.name == "RESPONDED":
        data["proveBy"] = iso_if_set(d.deadline)
    if d.defender != ZERO_ADDRESS:
        data["defender"] = d.defender
    if d.round:
        data["reopened"] = True
    return data


def output_status_json(attestia: Any, record_id: bytes) -> dict[str, Any]:
    """A record's output dispute (``record_id``: request id or leaf dispute id)."""
    from offchain.protocol import output_dispute_id, unpack_widths

    did = output_dispute_id(record_id)
    d = attestia.slasher.output_dispute(did)
    data: dict[str, Any] = {"recordId": "0x" + record_id.hex(), "outputDisputeId": "0x" + did.hex(),
                            "state": d.state.name.lower()}
    if d.state.name == "NONE":
        return data
    data.update({"worker": d.worker, "challenger": d.challenger, "bond": str(d.bond),
                 "widths": list(unpack_widths(d.widths))})
    data.update(_open_fields(d))
    if d.state.name in ("FRAUD", "NO_RESPONSE", "WORKER_WON"):
        (resolved, *_) = reversed(attestia.slasher.outputs_resolved(dispute_id=did))
        data["fraud"] = d.kind.name.lower() if d.kind.name != "NONE" else None
        if d.kind.name == "NEURON":
            data["neuron"] = {"layer": resolved.layer, "neuron": resolved.neuron}
        data["slashed"] = str(resolved.slashed)
        data["resolvedBy"] = resolved.by
        data["answer"] = ("wrong: the record's output and attribution are void (equal split)"
                          if d.worker_lost else "stands as recorded")
    return data


def _print_output_status(data: dict[str, Any]) -> None:
    _print_dispute(f"output dispute of {data['recordId']}", data, (
        "outputDisputeId", "worker", "challenger", "respondBy", "proveBy", "fraud", "neuron",
        "slashed", "answer"))


def _print_dispute(title: str, data: dict[str, Any], keys: tuple[str, ...]) -> None:
    """A dispute's state on one line, then its ``keys`` that are set (amounts in ETH)."""
    state = data["state"]
    console.print(f"{title}: [{_STYLE.get(state, '')}]{state.replace('_', ' ')}[/]",
                  highlight=False, soft_wrap=True)
    for key in keys:
        if data.get(key) is not None:
            value = data[key]
            if key == "slashed":
                value = f"{eth(int(value))} ETH"
            console.print(f"  {key:>24}: {value}", highlight=False, soft_wrap=True)


def status_json(attestia: Any, rid: bytes, leaf: Any = None) -> dict[str, Any]:
    """A record's (or, given ``leaf``, a batch leaf's: ``rid`` is then its dispute id)
    dispute state, with dates (ISO, local time) and names (stable keys)."""
    from offchain.dispute.game import challenge_closes_at, leaf_challenge_closes_at, view
    from offchain.timefmt import iso_if_set

    current = view(attestia, rid)
    d = current.dispute
    data: dict[str, Any] = {"requestId": "0x" + rid.hex(), "state": d.state.name.lower()}
    if leaf is not None:
        data = {"requestId": "0x" + leaf.inference.requestId.hex(), "leaf": leaf.ref,
                "disputeId": "0x" + rid.hex(), "state": d.state.name.lower(),
                "challengeWindowClosesAt": iso_if_set(leaf_challenge_closes_at(attestia,
                                                                               leaf))}
    elif records := attestia.registry.recorded(request_id=rid):
        closes = challenge_closes_at(attestia, records[-1].inference)
        data["challengeWindowClosesAt"] = iso_if_set(closes)
    if d.state.name == "NONE":
        return data
    data.update({"worker": d.worker, "challenger": d.challenger, "bond": str(d.bond),
                 "label": d.label, "items": d.n, "k": d.k})
    data.update(_open_fields(d))
    if d.state.name == "RESPONDED":
        data["descents"] = d.descents
    if current.responded is not None:
        data["traceRoot"] = "0x" + current.responded.trace_root.hex()
        data["traceUri"] = current.responded.trace_uri
    if d.state.name in ("FRAUD", "NO_RESPONSE", "WORKER_WON"):
        (resolved, *_) = reversed(attestia.slasher.resolved(request_id=rid))
        data["fraud"] = resolved.kind.name.lower() if resolved.kind.name != "NONE" else None
        data["slashed"] = str(resolved.slashed)
        data["resolvedBy"] = resolved.by
        data["attribution"] = ("re-attributed by the equal split over the roster"
                               if d.worker_lost else "stands as recorded")
    return data


def _print_status(data: dict[str, Any]) -> None:
    _print_dispute(f"dispute of {data.get('leaf') or data['requestId']}", data, (
        "disputeId", "challengeWindowClosesAt", "worker", "challenger", "respondBy", "proveBy",
        "traceUri", "fraud", "slashed", "attribution"))


@dispute_app.command("status")
def status_cmd(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help=_RECORD_HELP),
    output: bool = typer.Option(False, "--output", help="Show the record's output dispute."),
    as_json: bool = typer.Option(False, "--json", help="Print the dispute as JSON."),
) -> None:
    """Show a record's dispute: none, open, responded, fraud, no response or worker won.

    Example: attestia dispute status 0x5f3a…   |   attestia dispute status batch:0x91c2…:3
    """
    from offchain.errors import ConfigError
    from offchain.protocol import ZERO32

    attestia = reader_of(ctx, light=True)
    rid, leaf = _target(attestia, request_id)
    if output:
        found = output_status_json(attestia, rid)
        if as_json:
            print_json(found)
        else:
            _print_output_status(found)
        return
    data = status_json(attestia, rid, leaf)
    if leaf is None and data["state"] == "none" and "challengeWindowClosesAt" not in data \
            and attestia.registry.request_state(rid) == ZERO32:
        raise ConfigError(f"no request 0x{rid.hex()} on registry {attestia.registry.address} "
                          f"(chain {attestia.chain.chain_id}): check the id (`attestia "
                          f"request list`)")
    if as_json:
        print_json(data)
    else:
        _print_status(data)


@dispute_app.command("open")
def open_cmd(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="A request this home paid for (its request "
                                     "id), or the batch leaf of an off-chain request it "
                                     "submitted (batch:0x<batchId>:<index>)."),
    model: Path = typer.Option(..., "--model", help=_PACKAGE_HELP),
    yes: bool = typer.Option(False, "--yes", help="Confirm: the challenge makes this "
                             "request's input public, on chain, for good."),
    force: bool = typer.Option(False, "--force", help="Challenge even though the recorded "
                               "attribution (or, with --output, answer) is the honest one "
                               "(the bond is then lost)."),
    output: bool = typer.Option(False, "--output", help="Challenge the record's ANSWER (an "
                                "output dispute: the worker must post its hidden activations, "
                                "one wrong neuron slashes it) instead of its attribution."),
    as_json: bool = typer.Option(False, "--json", help="Print the dispute as JSON."),
    dev_account: int = dev_account_option(2, "challenger"),
) -> None:
    """Challenge a record's attribution (or, with --output, its answer): posts the bond and
    REVEALS the input.

    The input becomes public by your choice, for this one request. The worker must answer
    with its trace; a lie in it, or no answer, slashes its stake.

    A batch leaf is challenged the same way, with its inclusion proof in the batch's
    published file (checked against the commitment).

    Example: attestia dispute open 0x5f3a… --model ./my-package --yes
             attestia dispute open 0x5f3a… --output --model ./my-package --yes
    """
    from offchain.errors import ConfigError

    settings = settings_of(ctx)
    leaf_named = request_id.startswith("batch:")
    rid = b"" if leaf_named else _request_id(request_id)
    if not yes:  # before anything heavy is imported or connected
        raise ConfigError("a challenge publishes this request's input and salt on chain for "
                          "good: add --yes to confirm")
    from offchain.dispute.game import recorded
    from offchain.dispute.watch import honest_shares, leaf_material, material

    package = _package(model)
    attestia = attestia_of(ctx)
    account = attestia.chain.account(dev_account)
    bond = attestia.slasher.dispute_bond()
    leaf = None
    if leaf_named:
        from offchain.request.submit import load_submission

        rid, leaf = _target(attestia, request_id)
        inference = leaf.inference
        sub = load_submission(settings.data_dir, inference.requestId)
        if sub is None:
            raise ConfigError(f"{leaf.ref} is off-chain request 0x{inference.requestId.hex()}, "
                              "which this home did not submit: only its requester holds the "
                              "input a challenge reveals")
        found = leaf_material(sub, inference)
        shares = tuple(leaf.leaf.shares)
    else:
        from offchain.request.status import local_request

        local = local_request(settings.data_dir, rid)
        record = recorded(attestia, rid)
        inference = record.inference
        found = material(attestia, local, record)
        shares = tuple(record.shares)
    if output:
        _open_output(attestia, package, inference, found, leaf, rid, force=force,
                     account=account, as_json=as_json)
        return
    dispute_model = _model_for(attestia, package, inference.modelId)
    if tuple(honest_shares(dispute_model, package, found)) == shares and not force:
        raise ConfigError("the recorded attribution is the honest one: a challenge would "
                          "lose the bond (add --force to challenge anyway)")
    if leaf is not None:
        call = attestia.slasher.challenge_leaf(leaf.batch_id, inference, leaf.proof,
                                               found.input_bytes, found.salt, found.output,
                                               dispute_model.spec, bond)
    else:
        call = attestia.slasher.challenge(inference, found.input_bytes, found.salt,
                                          found.output, dispute_model.spec, bond)
    attestia.send(call, account=account)
    data = status_json(attestia, rid, leaf)
    if as_json:
        print_json(data)
        return
    console.print(f"challenged {data.get('leaf') or data['requestId']} with a bond of "
                  f"{eth(bond)} ETH; its input "
                  "is now public", highlight=False, soft_wrap=True)
    _print_status(data)


def _open_output(attestia: Any, package: Any, inference: Any, found: Any, leaf: Any,
                 record_id: bytes, *, force: bool, account: Any, as_json: bool) -> None:
    """``dispute open --output``: challenge the record's answer."""
    from offchain.errors import ConfigError

    _network_for(attestia, package, inference.modelId)
    from offchain.dispute.output import honest_output

    if honest_output(package, found.input_bytes, found.output) and not force:
        raise ConfigError("the recorded answer is the integer network's: an output challenge "
                          "would lose the bond (add --force to challenge anyway)")
    bond = attestia.slasher.dispute_bond()
    spec, model_spec = package.attribution_spec(), package.model_spec()
    if leaf is not None:
        call = attestia.slasher.challenge_output_leaf(leaf.batch_id, inference, leaf.proof,
                                                      found.input_bytes, found.salt,
                                                      found.output, spec, model_spec, bond)
    else:
        call = attestia.slasher.challenge_output(inference, found.input_bytes, found.salt,
                                                 found.output, spec, model_spec, bond)
    attestia.send(call, account=account)
    data = output_status_json(attestia, record_id)
    if as_json:
        print_json(data)
        return
    console.print(f"challenged the answer of {leaf.ref if leaf is not None else data['recordId']}"
                  f" with a bond of {eth(bond)} ETH; its input is now public", highlight=False,
                  soft_wrap=True)
    _print_output_status(data)


@dispute_app.command("respond")
def respond_cmd(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="A challenged record of your worker (request "
                                     "id or batch:0x<batchId>:<index>)."),
    model: Path = typer.Option(..., "--model", help=_PACKAGE_HELP),
    publish_dir: Path = typer.Option(None, "--publish-dir", help="Where to write the trace "
                                     "file (default: <home>/traces); its file:// URI is "
                                     "posted."),
    as_json: bool = typer.Option(False, "--json", help="Print the dispute as JSON."),
    dev_account: int = dev_account_option(1, "worker operator"),
) -> None:
    """Answer a challenge with the honest trace (a running worker does this by itself).

    Example: attestia dispute respond 0x5f3a… --model ./my-package
    """
    from offchain.dispute.game import respond

    settings = settings_of(ctx)
    package = _package(model)
    attestia = attestia_of(ctx)
    rid, leaf = _target(attestia, request_id)
    dispute = attestia.slasher.dispute(rid)
    dispute_model = _model_for(attestia, package, dispute.modelId)
    respond(attestia, dispute_model, rid, publish_dir or settings.data_dir / "traces",
            account=attestia.chain.account(dev_account))
    data = status_json(attestia, rid, leaf)
    if as_json:
        print_json(data)
    else:
        _print_status(data)


def _prove_output(attestia: Any, package: Any, record_id: bytes, *, account: Any,
                  as_json: bool) -> None:
    """``dispute prove --output``: the first wrong neuron of the responded trace."""
    from offchain.dispute.output import find_wrong_neuron
    from offchain.protocol import output_dispute_id

    did = output_dispute_id(record_id)
    dispute = attestia.slasher.output_dispute(did)
    net = _network_for(attestia, package, dispute.modelId)
    proof = find_wrong_neuron(attestia, net, did)
    if proof is None:
        if as_json:
            print_json({"recordId": "0x" + record_id.hex(), "fraud": None})
        else:
            console.print("every neuron of the worker's activations is the network's: there is "
                          "nothing to prove", highlight=False)
        raise typer.Exit(1)
    attestia.send(proof.call, account=account)
    data = output_status_json(attestia, record_id)
    if as_json:
        print_json(data)
        return
    console.print(f"proved neuron {proof.neuron} of layer {proof.layer} wrong", highlight=False)
    _print_output_status(data)


@dispute_app.command("prove")
def prove_cmd(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="A record whose dispute has a response "
                                     "(request id or batch:0x<batchId>:<index>)."),
    model: Path = typer.Option(..., "--model", help=_PACKAGE_HELP),
    output: bool = typer.Option(False, "--output", help="Prove the first wrong neuron of the "
                                "record's OUTPUT dispute (the responder's posted activations) "
                                "instead."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
    dev_account: int = dev_account_option(2, "prover"),
) -> None:
    """Find the first lie in the worker's published trace (or, with --output, its first wrong
    neuron) and prove it on chain.

    Anyone may: the input is public once challenged. Exit 1 if the trace is honest. When the
    trace cannot be read (withheld), plays ONE move of the descent into the committed trace
    tree instead (open it, pick, or prove at the leaf) and says so: run it again after the
    worker's next reveal (`attestia watch` plays every move by itself).

    Example: attestia dispute prove 0x5f3a… --model ./my-package
    """
    from offchain.dispute.game import DisputeError, find_fraud, play_descent

    package = _package(model)
    attestia = attestia_of(ctx)
    rid, leaf = _target(attestia, request_id)
    account = attestia.chain.account(dev_account)
    if output:
        _prove_output(attestia, package, rid, account=account, as_json=as_json)
        return
    dispute = attestia.slasher.dispute(rid)
    dispute_model = _model_for(attestia, package, dispute.modelId)
    try:
        proof = find_fraud(attestia, dispute_model, rid)
    except DisputeError as exc:
        if dispute.state.name != "RESPONDED":
            raise
        did = play_descent(attestia, dispute_model, rid, account=account)
        data = status_json(attestia, rid, leaf)
        data["descent"] = did
        if as_json:
            print_json(data)
        else:
            console.print(f"{exc}; descent: {did}", highlight=False, soft_wrap=True)
            _print_status(data)
        if did == "honest":
            raise typer.Exit(1) from None
        return
    if proof is None:
        if as_json:
            print_json({"requestId": "0x" + rid.hex(), "fraud": None})
        else:
            console.print("the worker's trace is honest: there is nothing to prove",
                          highlight=False)
        raise typer.Exit(1)
    attestia.send(proof.call, account=account)
    data = status_json(attestia, rid, leaf)
    data["reason"] = proof.fraud.reason
    if as_json:
        print_json(data)
        return
    console.print(f"proved {proof.fraud.kind.name.lower()} fraud: {proof.fraud.reason}",
                  highlight=False, soft_wrap=True)
    _print_status(data)


@dispute_app.command("settle")
def settle_cmd(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="A record whose dispute has descents."),
    challenger: str = typer.Argument(..., help="The descent's challenger (0x address)."),
    as_json: bool = typer.Option(False, "--json", help="Print the dispute as JSON."),
    dev_account: int = dev_account_option(2, "caller"),
) -> None:
    """Settle a descent whose clock ran out, or that a reopen or the dispute's end voided
    (anyone may): the side that did not move in time loses.

    Example: attestia dispute settle 0x5f3a… 0x70997970C51812dc3A010C7d01b50e0d17dc79C8
    """
    from eth_utils import is_address, to_checksum_address

    from offchain.errors import ConfigError

    if not is_address(challenger):
        raise ConfigError(f"the challenger must be a 0x-prefixed 20-byte address, got "
                          f"{challenger!r}")
    rid = _request_id(request_id)
    attestia = attestia_of(ctx)
    attestia.send(attestia.slasher.settle_descent(rid, to_checksum_address(challenger)),
                  account=attestia.chain.account(dev_account))
    data = status_json(attestia, rid)
    if as_json:
        print_json(data)
    else:
        _print_status(data)


@dispute_app.command("resolve")
def resolve_cmd(
    ctx: typer.Context,
    request_id: str = typer.Argument(..., help="A record whose dispute deadline passed "
                                     "(request id or batch:0x<batchId>:<index>)."),
    output: bool = typer.Option(False, "--output", help="End the record's output dispute."),
    as_json: bool = typer.Option(False, "--json", help="Print the dispute as JSON."),
    dev_account: int = dev_account_option(2, "caller"),
) -> None:
    """End a dispute after its deadline (anyone may).

    No response slashes the worker; no fraud proven gives the bond to the worker.

    Example: attestia dispute resolve 0x5f3a…   |   attestia dispute resolve 0x5f3a… --output
    """
    from offchain.dispute.game import resolve

    attestia = attestia_of(ctx)
    rid, leaf = _target(attestia, request_id)
    if output:
        from offchain.dispute.output import resolve_output
        from offchain.protocol import output_dispute_id

        resolve_output(attestia, output_dispute_id(rid),
                       account=attestia.chain.account(dev_account))
        found = output_status_json(attestia, rid)
        if as_json:
            print_json(found)
        else:
            _print_output_status(found)
        return
    resolve(attestia, rid, account=attestia.chain.account(dev_account))
    data = status_json(attestia, rid, leaf)
    if as_json:
        print_json(data)
    else:
        _print_status(data)


def watch_cmd(
    ctx: typer.Context,
    model: Path = typer.Option(..., "--model", help=_PACKAGE_HELP),
    once: bool = typer.Option(False, "--once", help="One pass, then exit."),
    interval: float = typer.Option(10.0, "--interval", help="Seconds between passes (> 0)."),
    as_json: bool = typer.Option(False, "--json", help="Print each pass as a JSON line."),
    defend: bool = typer.Option(False, "--defend", help="Also defend honest records of the "
                                "model (anyone's): respond for a worker that has not by half "
                                "its window (posting the dispute bond) and answer reveals."),
    dev_account: int = dev_account_option(2, "requester"),
) -> None:
    """Watch this home's own records of a model and dispute a wrong attribution by itself.

    Each pass checks every record of the model this home requested (it holds their inputs),
    challenges a wrong attribution (revealing that request's input), proves the lie in the
    worker's answer (descending into its trace tree, one move a pass, if the trace is
    withheld), and resolves disputes past their deadline. With --defend it also defends
    honest records of the model. Runs until interrupted.

    Example: attestia watch --model ./my-package --once
    """
    import time

    from offchain.dispute.watch import defend_once, watch_once
    from offchain.errors import ConfigError
    from offchain.models.registrations import resolve_model_id

    if not interval > 0:
        raise ConfigError(f"--interval must be a positive number of seconds, got {interval}")
    settings = settings_of(ctx)
    package = _package(model)
    attestia = attestia_of(ctx)
    account = attestia.chain.account(dev_account)
    model_id = resolve_model_id(attestia, package, data_dir=settings.data_dir).model_id
    note = (lambda _text: None) if as_json else (
        lambda text: console.print(text, highlight=False, soft_wrap=True))
    while True:
        try:
            report = watch_once(attestia, package, model_id, settings.data_dir,
                                account=account, note=note)
            if defend:
                defend_once(attestia, package, model_id, settings.data_dir / "traces",
                            account=account, note=note, report=report)
        except Exception as exc:  # a lost chain or a bad pass never ends the watch
            if once:
                raise
            console.print(f"watch pass failed: {type(exc).__name__}: {exc} (retrying)",
                          highlight=False, soft_wrap=True)
        else:
            if as_json:
                print_json(report.to_json())
            else:
                answers = (report.output_challenged, report.output_proved,
                           report.output_resolved)
                extra = ("" if not any(answers) else
                         f"; wrong answers: {len(answers[0])} challenged, {len(answers[1])} "
                         f"proved, {len(answers[2])} resolved")
                console.print(f"checked {report.checked} record(s): {report.correct} correct, "
                              f"{len(report.challenged)} challenged, {len(report.proved)} "
                              f"proved, {len(report.resolved)} resolved{extra}",
                              highlight=False)
        if once:
            return
        time.sleep(interval)


def register(app: typer.Typer) -> None:
    app.add_typer(dispute_app, name="dispute")
    app.command("watch")(watch_cmd)
