"""Shared CLI plumbing: settings from the global options, the console, JSON output."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from offchain.config import Settings, load_settings

if TYPE_CHECKING:  # web3 is imported by the commands that connect, not by `attestia --help`
    from offchain.chain.connection import Chain

# Tables stay readable when stdout is a pipe or a CI log (Rich would assume 80 columns).
console = Console(width=None if sys.stdout.isatty() else 130)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 130)


def settings_of(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj or {}
    return load_settings(rpc_url=obj.get("rpc_url"), port=obj.get("port"))


def chain_of(ctx: typer.Context) -> Chain:
    from offchain.chain.connection import connect

    return connect(settings_of(ctx))


# The --json wire format (docs/json.md): an amount of wei is a decimal string (a JavaScript
# number loses precision above 2**53 wei, about 0.009 ETH), a moment is ISO 8601. An amount is
# a key ending in "Wei" or one of MONEY_KEYS; a moment a key ending in "At" or "By" or one of
# TIME_KEYS. print_json applies it, so no command can print a bare unix time or a wei number.
MONEY_KEYS = frozenset({"allocated", "amount", "balance", "bond", "claimed", "claimedByAccount",
                        "cumulative",
                        "deposit", "fee", "funded", "refund", "slashed", "stake", "total",
                        "totalClaimed", "totalFunded", "unallocated", "unclaimed", "value"})
TIME_KEYS = frozenset({"deadline", "timestamp"})


def is_money_key(key: str) -> bool:
    return key.endswith("Wei") or key in MONEY_KEYS


def is_time_key(key: str) -> bool:
    return key.endswith(("At", "By")) or key in TIME_KEYS


def wire(data: Any, key: str = "") -> Any:
    """``data`` in the --json wire format (see MONEY_KEYS): wei as strings, times as ISO."""
    if isinstance(data, dict):
        # an amount's map (account -> wei) holds amounts under keys that are addresses
        return {k: wire(v, key if is_money_key(key) else k) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [wire(v, key) for v in data]
    if isinstance(data, int) and not isinstance(data, bool):
        if is_money_key(key):
            return str(data)
        if is_time_key(key):
            from offchain.timefmt import iso_if_set

            return iso_if_set(data)
    return data


def read_chain_of(ctx: typer.Context, *, light: bool = False) -> Chain:
    """The chain a read-only command reads: never starts one. Contracts named by --registry or
    --deployment live on some chain the user must name: without an RPC URL that is one error
    line saying to add it (not a start of this home's embedded chain). ``light``: read without
    web3 (offchain.chain.light), for the everyday reads that must answer fast."""
    from offchain.chain.connection import connect
    from offchain.errors import ConfigError

    settings = settings_of(ctx)
    obj = ctx.find_root().obj or {}
    given = "--registry" if obj.get("registry") else "--deployment" if obj.get(
        "deployment") else None
    if settings.embedded and given:
        raise ConfigError(f"{given} names contracts on a chain this home cannot guess: add "
                          "--rpc-url URL before the command (or set ATTESTIA_RPC_URL), e.g. "
                          f"attestia --rpc-url http://127.0.0.1:8545 {given} … verify 0x…")
    return connect(settings, start=False, light=light)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(wire(data), indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dev_account_option(default: int, role: str) -> Any:
    return typer.Option(
        default, "--dev-account",
        help=f"Anvil dev account index for the {role} (only on chain id 31337 when no "
        "ATTESTIA_PRIVATE_KEY / keystore is set).",
    )


def _located(ctx: typer.Context, chain: Any) -> Any:
    """The contracts the global --deployment FILE / --registry ADDRESS [--lens ADDRESS] name,
    or None when neither is given."""
    from pathlib import Path

    from offchain.errors import ConfigError
    from offchain.registry import Attestia

    obj = ctx.find_root().obj or {}
    if obj.get("deployment") and obj.get("registry"):
        raise ConfigError("give --deployment FILE or --registry ADDRESS, not both")
    if obj.get("deployment"):
        return Attestia.load(chain, Path(obj["deployment"]))
    if obj.get("registry"):
        return Attestia.from_registry(chain, obj["registry"], obj.get("lens"))
    if obj.get("lens"):
        raise ConfigError("--lens needs --registry ADDRESS")
    return None


def reader_of(ctx: typer.Context, *, light: bool = False):
    """Chain + deployed contracts for a read-only command: never starts a chain, never
    deploys, never needs a key (none is resolved: nothing here signs or asks for a keystore
    password). The contracts
    are the global --deployment FILE, else --registry ADDRESS, else this home's
    deployments/<chain id>.json. ``light``: through offchain.chain.light (no web3 import;
    tests/test_import_graph.py keeps web3 out of the commands that pass it)."""
    from offchain.chain.deploy import deployment_path
    from offchain.errors import ConfigError
    from offchain.registry import Attestia

    chain = read_chain_of(ctx, light=light)
    located = _located(ctx, chain)
    if located is not None:
        return located
    if not deployment_path(chain).exists():
        raise ConfigError(f"no deployment of chain {chain.chain_id} in this home: pass "
                          "--registry ADDRESS (e.g. attestia --registry 0x… verify ID) or "
                          "--deployment FILE")
    return Attestia.load(chain)


def attestia_of(ctx: typer.Context):
    """Chain + deployed contracts (deploying first on a local dev chain if needed, unless
    --deployment / --registry name existing contracts)."""
    from offchain.chain.deploy import deployment_path
    from offchain.errors import ConfigError
    from offchain.registry import Attestia

    chain = chain_of(ctx)
    located = _located(ctx, chain)
    if located is not None:
        return located
    if not deployment_path(chain).exists():
        if not chain.is_local_dev:
            raise ConfigError(f"no deployment for chain {chain.chain_id}: run attestia deploy")
        from offchain.chain.deploy import deploy

        deploy(chain)
    return Attestia.load(chain)


def eth(wei: int) -> str:
    return f"{wei / 1e18:.6f}"


def parse_eth(text: str, what: str = "--fee") -> int:
    """An ETH amount as typed (``0.001``) -> wei, exactly (no float rounding); raises
    ConfigError for anything that is not a non-negative amount of at most 18 decimals that
    fits a uint96."""
    from decimal import Decimal, InvalidOperation

    from offchain.errors import ConfigError

    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        value = Decimal("NaN")
    wei = value * 10**18 if value.is_finite() else value
    if not wei.is_finite() or wei < 0 or wei != wei.to_integral_value() or wei >= 2**96:
        raise ConfigError(f"{what} must be an amount of ETH from 0 to {(2**96 - 1) / 1e18:.0f} "
                          f"with at most 18 decimals, got {text!r}")
    return int(wei)


def parse_address(text: str, what: str) -> str:
    """An EVM address as typed -> its checksummed form; ConfigError naming the option for
    anything that is not 0x + 40 hex digits (a mixed-case address must have a valid
    checksum)."""
    from eth_utils import is_address, to_checksum_address

    from offchain.errors import ConfigError

    value = str(text).strip()
    if not is_address(value):
        raise ConfigError(f"{what} must be an address (0x + 40 hex digits, a mixed-case one "
                          f"with a valid checksum), got {text!r}")
    return str(to_checksum_address(value))


def parse_split(text: str) -> Any:
    """``worker,owner,contributors`` bps -> protocol.Split; ConfigError if malformed."""
    from offchain.errors import ConfigError
    from offchain.protocol import BPS, Split

    try:
        parts = tuple(int(p) for p in text.split(","))
        if len(parts) != 3:
            raise ValueError(text)
        return Split(*parts)
    except ValueError:
        raise ConfigError(f"--split must be three bps values (worker,owner,contributors) "
                          f"summing to {BPS}, got {text!r}") from None


def parse_kinds(text: str) -> int:
    """``signed,tee,zk`` -> a policy bitmask; ConfigError naming unknown kinds."""
    from offchain.errors import ConfigError
    from offchain.protocol import policy_of

    try:
        return policy_of([k.strip() for k in text.split(",") if k.strip()])
    except ValueError as exc:
        raise ConfigError(f"--proofs: {exc}") from None


def check_model_ref(ref: str) -> None:
    """Fail on a malformed model reference (see model_ref) before anything connects."""
    from pathlib import Path

    text = ref.strip()
    if (text.lower().startswith("0x") and not Path(text).exists()) or not Path(text).is_dir():
        model_ref(None, ref)  # an id is only parsed; anything else but a directory fails


def model_ref(attestia: Any, ref: str, *, data_dir: Any = None, account: str | None = None,
              model_ids: Any = ()) -> tuple[bytes, Any]:
    """A model as users name it: its on-chain id (``0x`` + 64 hex digits) or a PACKAGE
    directory, whose id is resolved (offchain.models.registrations). Returns (model id,
    the loaded package or None)."""
    from pathlib import Path

    from offchain.errors import ConfigError
    from offchain.ids import parse_bytes32

    text = ref.strip()
    if text.lower().startswith("0x") and not Path(text).exists():
        return parse_bytes32(text, "model id"), None
    path = Path(text)
    if not path.is_dir():
        raise ConfigError(f"a model is named by its on-chain id (0x + 64 hex digits) or its "
                          f"package directory; {ref!r} is neither")
    from offchain.models import load_package
    from offchain.models.registrations import resolve_model_id

    package = load_package(path)
    resolved = resolve_model_id(attestia, package, given=model_ids, data_dir=data_dir,
                                account=account)
    return resolved.model_id, package
