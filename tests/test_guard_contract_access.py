"""A guard, not a promise: only ``offchain/registry/`` touches the deployed contracts raw.

Every read, write and event of the deployed contracts goes through the typed clients
(``attestia.registry``, ``.lens``, ``.slasher``, ``.distributor``), so a struct is mapped by
field name and an event decoded under its own name in one place. This test parses every module
of ``offchain/``, ``bench/`` and ``scripts/`` and fails on raw web3 contract use anywhere else:
a bound contract's ``.functions`` / ``.events.Name`` / ``.abi`` / ``.contract``,
``decode_function_input``, ``process_receipt``, ``get_logs``, ``encode_abi``, the raw binding
(``offchain.chain.contracts``, ``offchain.chain.events``, ``web3.contract``).

The named exceptions: the layer the clients are built on (``offchain/chain``'s binding, paged
log reader, calldata of a bound function, custom-error decoding, and the light read path that
answers the clients' reads without web3), the bootstrap that deploys
and wires the contracts, the generic log follower that decodes every event of every ABI in one
``eth_getLogs`` window, and a bench that deploys a model's own zk verifier (not a contract of
the deployment). Tests are not scanned: contract tests send what the typed clients refuse, raw,
through ``client.contract``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from offchain.config import REPO_ROOT

SCANNED = ("offchain", "bench", "scripts")
CLIENT_PACKAGE = "offchain/registry/"
EXCEPTIONS = {
    "offchain/chain/contracts.py": "the raw binding (ABI + address) the typed clients hold",
    "offchain/chain/events.py": "the paged get_logs reader the typed clients scan events with",
    "offchain/chain/tx.py": "Call.of: calldata of a bound function a typed client built",
    "offchain/chain/connection.py": "decodes custom errors with every artifact's ABI",
    "offchain/chain/deploy.py": "the bootstrap: deploys and wires the contracts",
    "offchain/indexer/follower.py": "the generic log follower (every event of every ABI)",
    "offchain/chain/light.py": "the light read path: the web3 contract interface the clients "
                               "read through, without web3",
    "offchain/chain/abi.py": "decodes an event or a view's outputs by its ABI entry",
    "bench/zk.py": "binds a model's own Halo2 verifier, not a contract of the deployment",
}

RAW_ATTRIBUTES = {
    "functions": "a bound contract's functions",
    "_fn": "a typed client's bound functions",
    "contract": "a typed client's raw contract (or w3.eth.contract)",
    "_contract": "the deployment handle's raw binding",
    "abi": "a contract's ABI",
    "contract_abi": "a contract's ABI",
    "decode_function_input": "calldata decoded by hand",
    "process_receipt": "a receipt's logs decoded by hand",
    "get_logs": "logs read by hand",
    "encode_abi": "calldata encoded by hand",
}
RAW_MODULES = {"offchain.chain.contracts", "offchain.chain.events", "web3.contract"}


def raw_accesses(source: str, filename: str = "<source>") -> list[str]:
    """Each raw contract access in ``source``, as "line: what"."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Attribute):
            if node.attr in RAW_ATTRIBUTES:
                found.append(f"{node.lineno}: .{node.attr} ({RAW_ATTRIBUTES[node.attr]})")
            elif (isinstance(node.value, ast.Attribute) and node.value.attr == "events"
                  and node.attr[:1].isupper()):
                found.append(f"{node.lineno}: .events.{node.attr} (an event read by hand)")
        elif isinstance(node, ast.ImportFrom) and node.module in RAW_MODULES:
            found.append(f"{node.lineno}: from {node.module} import (the raw binding)")
        elif isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name} (the raw binding)"
                      for a in node.names if a.name in RAW_MODULES]
    return found


def _scanned_files() -> list[Path]:
    return sorted(p for top in SCANNED for p in (REPO_ROOT / top).rglob("*.py"))


def test_no_raw_contract_access_outside_the_typed_clients() -> None:
    offenders = []
    for path in _scanned_files():
        rel = path.relative_to(REPO_ROOT).as_posix()
        if rel.startswith(CLIENT_PACKAGE) or rel in EXCEPTIONS:
            continue
        offenders += [f"{rel}:{hit}" for hit in raw_accesses(path.read_text(), rel)]
    assert not offenders, (
        "raw contract access outside offchain/registry (add a method to the typed client "
        "instead):\n" + "\n".join(offenders))


def test_every_exception_exists_and_still_needs_to_be_one() -> None:
    """An exception that no longer touches a contract raw is a hole: remove it."""
    for rel, why in EXCEPTIONS.items():
        path = REPO_ROOT / rel
        assert path.is_file(), f"{rel} ({why}) is gone: drop it from EXCEPTIONS"
        assert raw_accesses(path.read_text(), rel), (
            f"{rel} ({why}) no longer touches a contract raw: drop it from EXCEPTIONS")


@pytest.mark.parametrize("snippet", [
    "attestia.registry.contract.functions.getModel(m).call()",
    "reg._fn.getModel(m).call()",
    "event = c.events.InferenceRequested()",
    "fn, args = c.decode_function_input(data)",
    "logs = event.process_receipt(receipt)",
    "w3.eth.contract(address=a, abi=abi)",
    "from offchain.chain.events import iter_events",
    "from offchain.chain.contracts import bind",
    "import web3.contract",
])
def test_the_guard_sees_each_kind_of_raw_access(snippet: str) -> None:
    assert raw_accesses(snippet)


@pytest.mark.parametrize("snippet", [
    "attestia.registry.model(model_id)",
    "attestia.send(attestia.slasher.withdraw(), account=a)",
    "rows = select(S.events.c.block)",
    "from offchain.registry import Attestia",
])
def test_the_guard_lets_typed_use_through(snippet: str) -> None:
    assert raw_accesses(snippet) == []
