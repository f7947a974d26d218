"""``attestia status`` (what this home uses: chain, deployment, keys, workers, database) and
``attestia accounts`` (the addresses this home can sign with, the dev accounts by index).

Both only read: the chain through plain JSON-RPC with a short timeout (never started, never
web3), files of the home, and the keystore's public address field (no password asked).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from offchain.cli.common import console, print_json, settings_of
from offchain.config import ANVIL_CHAIN_ID, Settings

# The roles the commands' --dev-account defaults give each dev account (offchain.cli.*:
# dev_account_option(N, role)); only on chain id 31337.
DEV_ROLES = {
    0: "deployer, model owner, governance, rewards settle, withdraw",
    1: "worker operator and signer",
    2: "requester, challenger",
}
RPC_TIMEOUT_S = 2.0
DB_FILE = "explorer.sqlite"
"""offchain.indexer.schema.DB_FILE, named again: importing the indexer costs a second."""


def _chain_view(settings: Settings) -> dict[str, Any]:
    """Which chain this home talks to, whether it answers, and where it is."""
    from offchain.chain.anvil import EmbeddedChain, rpc_call

    view: dict[str, Any] = {"rpcUrl": settings.rpc_url, "embedded": settings.embedded,
                            "port": settings.port if settings.embedded else None,
                            "running": False, "chainId": None, "block": None}
    if settings.embedded:
        chain = EmbeddedChain(settings.data_dir, settings.port)
        view["stateFile"] = str(chain.state_file)
        if not chain.running():
            return view
        url = chain.url
    else:
        url = str(settings.rpc_url)
    try:
        view["chainId"] = int(str(rpc_call(url, "eth_chainId", timeout=RPC_TIMEOUT_S)), 16)
        view["block"] = int(str(rpc_call(url, "eth_blockNumber", timeout=RPC_TIMEOUT_S)), 16)
        view["running"] = True
    except Exception as exc:  # noqa: BLE001 -- any failure is "does not answer", said below
        view["error"] = type(exc).__name__
    return view


def _deployment_view(settings: Settings, chain_id: int | None) -> dict[str, Any]:
    files = sorted(settings.deployments_dir.glob("*.json")) \
        if settings.deployments_dir.is_dir() else []
    chosen = settings.deployments_dir / f"{chain_id}.json" if chain_id is not None else None
    view: dict[str, Any] = {"file": str(chosen) if chosen else None,
                            "exists": bool(chosen and chosen.is_file()),
                            "files": [str(f) for f in files], "contracts": {}}
    if chosen is not None and chosen.is_file():
        try:
            data = json.loads(chosen.read_text())
            view["contracts"] = {name: entry.get("address")
                                 for name, entry in data.get("contracts", {}).items()}
        except (OSError, ValueError, AttributeError):
            view["error"] = "not a deployment file (invalid JSON)"
    return view


def _key_view(settings: Settings, chain_id: int | None) -> dict[str, Any]:
    """Which key signs, without decrypting anything."""
    if settings.private_key:
        from offchain.chain.accounts import resolve_account
        from offchain.errors import ConfigError

        try:
            address: str | None = resolve_account(settings, chain_id or 0).address
        except ConfigError:
            address = None
        return {"source": "ATTESTIA_PRIVATE_KEY", "address": address}
    if settings.keystore:
        return {"source": f"keystore {settings.keystore}",
                "address": _keystore_address(settings.keystore)}
    if chain_id == ANVIL_CHAIN_ID or (chain_id is None and settings.embedded):
        return {"source": "Anvil dev accounts (--dev-account N; attestia accounts)",
                "address": None}
    return {"source": None, "address": None}


def _keystore_address(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text())
        raw = str(data["address"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    from eth_utils import is_address, to_checksum_address

    return str(to_checksum_address(raw)) if is_address(raw) else None


def _workers_view(settings: Settings) -> list[dict[str, Any]]:
    from offchain.request.heartbeat import read_heartbeats

    workers_dir = settings.data_dir / "workers"
    beats = {Path(b.data_dir).name: b for b in read_heartbeats(workers_dir)}
    names = sorted(p.name for p in workers_dir.iterdir() if p.is_dir()) \
        if workers_dir.is_dir() else []
    out = []
    for name in names:
        beat = beats.get(name)
        out.append({"name": name, "dataDir": str(workers_dir / name),
                    "running": bool(beat and beat.fresh()),
                    "signer": beat.signer if beat else None,
                    "pid": beat.pid if beat and beat.fresh() else None,
                    "models": list(beat.models) if beat else []})
    return out


def home_status(settings: Settings) -> dict[str, Any]:
    from offchain.build import shared_cache_dir

    chain = _chain_view(settings)
    db = settings.data_dir / DB_FILE
    return {
        "home": str(settings.home), "chain": chain,
        "deployment": _deployment_view(settings, chain["chainId"]),
        "key": _key_view(settings, chain["chainId"]),
        "workers": _workers_view(settings),
        "database": {"url": f"sqlite:///{db.resolve()}", "exists": db.is_file()},
        "build": {"dir": str(settings.build_dir),
                  "current": (settings.build_dir / "manifest.json").is_file(),
                  "sharedCache": str(shared_cache_dir())},
    }


def status_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Show what this home uses: chain, deployment, keys, workers and database.

    Reads only (the chain through one JSON-RPC call, never started; no key is decrypted).

    Example: attestia status --json
    """
    data = home_status(settings_of(ctx))
    if as_json:
        print_json(data)
        return
    chain, dep, key = data["chain"], data["deployment"], data["key"]
    where = (f"embedded Anvil on port {chain['port']}" if chain["embedded"]
             else f"RPC {chain['rpcUrl']}")
    state = (f"chain id {chain['chainId']}, block {chain['block']}" if chain["running"] else
             "not running (attestia chain up)" if chain["embedded"] else
             f"does not answer ({chain.get('error')})")
    lines = [f"home        {data['home']}", f"chain       {where}: {state}"]
    if dep["exists"]:
        contracts = ", ".join(f"{n} {a}" for n, a in dep["contracts"].items())
        lines.append(f"deployment  {dep['file']}: {contracts}")
    elif dep["file"]:
        lines.append(f"deployment  none for chain {chain['chainId']} (attestia deploy, or "
                     "--registry / --deployment)")
    else:
        lines.append("deployment  unknown until the chain answers"
                     + (f" (files: {', '.join(dep['files'])})" if dep["files"] else ""))
    if key["source"] is None:
        lines.append("key         none (ATTESTIA_PRIVATE_KEY or ATTESTIA_KEYSTORE)")
    else:
        lines.append(f"key         {key['source']}"
                     + (f": {key['address']}" if key["address"] else ""))
    if not data["workers"]:
        lines.append("workers     none in this home")
    for w in data["workers"]:
        run = f"running (pid {w['pid']})" if w["running"] else "not running"
        signer = f" signer {w['signer']}," if w["signer"] else ""
        lines.append(f"worker      {w['name']}:{signer} {run}, {w['dataDir']}")
    db = data["database"]
    lines.append(f"database    {db['url']}" + ("" if db["exists"] else " (not created yet: "
                                                "attestia index)"))
    build = data["build"]
    lines.append(f"build       {build['dir']}" + ("" if build["current"] else
                                                 " (not built yet: attestia build)")
                 + f"; shared cache {build['sharedCache']}")
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)


def accounts_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the accounts as JSON."),
) -> None:
    """List the addresses this home signs with, and the dev accounts by index, with balances.

    The addresses: this home's key, its workers' signers and, on a local chain (id 31337),
    the Anvil dev accounts by index (what --dev-account N means). Reads only; a keystore's
    address is read from the file, no password asked.

    Example: attestia accounts   (which address is "dev account 4"?)
    """
    from offchain.chain.accounts import ANVIL_DEV_ACCOUNTS
    from offchain.chain.anvil import rpc_call

    settings = settings_of(ctx)
    chain = _chain_view(settings)
    url = f"http://127.0.0.1:{settings.port}" if settings.embedded else str(settings.rpc_url)

    def balance(address: str) -> int | None:
        if not chain["running"]:
            return None
        try:
            return int(str(rpc_call(url, "eth_getBalance", [address, "latest"],
                                    timeout=RPC_TIMEOUT_S)), 16)
        except Exception:  # noqa: BLE001 -- shown as unknown
            return None

    rows: list[dict[str, Any]] = []
    key = _key_view(settings, chain["chainId"])
    if key["address"]:
        rows.append({"account": key["source"], "address": key["address"],
                     "role": "every command's signer (the dev accounts are not used)"})
    for w in _workers_view(settings):
        if w["signer"]:
            rows.append({"account": f"worker {w['name']}", "address": w["signer"],
                         "role": "worker signing key"})
    dev = chain["chainId"] == ANVIL_CHAIN_ID or (settings.embedded and not chain["running"])
    if dev and not settings.private_key and not settings.keystore:
        for index, account in enumerate(ANVIL_DEV_ACCOUNTS):
            rows.append({"account": f"dev account {index}", "address": account.address,
                         "role": DEV_ROLES.get(index, "")})
    for row in rows:
        wei = balance(row["address"])
        row["balanceWei"] = str(wei) if wei is not None else None
    if as_json:
        print_json({"chainId": chain["chainId"], "accounts": rows})
        return
    if not rows:
        console.print("no account: set ATTESTIA_PRIVATE_KEY or ATTESTIA_KEYSTORE (Anvil's dev "
                      "accounts are used only on chain id 31337)", highlight=False)
    from offchain.cli.common import eth

    for row in rows:
        money = f"{eth(int(row['balanceWei']))} ETH" if row["balanceWei"] is not None else "?"
        role = f"  ({row['role']})" if row["role"] else ""
        console.print(f"{row['account']:<16} {row['address']}  {money:>22}{role}",
                      highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("status")(status_cmd)
    app.command("accounts")(accounts_cmd)
