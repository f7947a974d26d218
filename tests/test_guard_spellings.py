"""Guard: every protocol fact is spelled once, in its home (issue 16, item 7).

``offchain/protocol.py`` mirrors ``Common.sol``: the constants (``BPS``, ``TIMESTAMP_WINDOW``,
the zero address and bytes32), the EIP-712 type strings, the ABI types of every struct and
leaf, and the ids and leaves derived from them (``keccak256(abi.encode(...))``). A module that
needs one imports it. A second spelling compiles and passes every test until the day the two
disagree, so this test parses every Python file and fails on one:

* a *definition*: a module-level assignment to one of the home's constant names;
* a *value*: a constant expression (literals and arithmetic on them, folded) equal to the zero
  address or bytes32 (``"0x" + "00" * 20``, ``bytes(32)``), to ``TIMESTAMP_WINDOW``
  (``15 * 60``, wherever it is named or computed), to ``BPS`` where it takes part in
  arithmetic or a comparison, to an ABI type string of a struct or leaf, or containing an
  EIP-712 struct signature (``Inference(bytes32 ...``);
* a *derivation*: the fee split worked out by hand (``BPS - worker_bps - owner_bps``: the
  protocol's ``Split.of``), or a list of ABI types that is a struct's (anywhere), or that is
  an id's or a leaf's and is passed to an ``encode`` (the request, model and batch ids, the
  roster, claim and running-sums leaves, the query hash).

In ``tests/`` a literal zero or ``10_000`` is a test stating its expected value on its own
(which is what a test should do), so only the id and leaf derivations, the definitions and
the type strings are looked for there. Tests that restate one of those on purpose, to pin the
home to the contracts or to an independent encoder, are allowed by file below, each with its
reason; nothing else is.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from offchain import protocol as P
from offchain.config import REPO_ROOT

HOMES = {
    "offchain/protocol.py": "the home: mirrors Common.sol",
}
ALLOWED: dict[str, str] = {
    "tests/test_guard_spellings.py": "this guard names what it looks for",
    "tests/attribution/test_attribution_shares.py":
        "pins encode_shares to eth_abi's own encoding of (address,uint16)[]",
    "tests/worker/test_batch_hot_path.py":
        "pins the hot path's share encoding to eth_abi's (address,uint16)[]",
    "tests/contracts/test_contracts_eip712.py":
        "pins REQUEST_ABI_TYPES and hash_request to the compiled registry's hashRequest",
    "tests/chain/test_reverts.py":
        "builds revert data of custom errors with (address,bytes32) arguments, no model id",
    "tests/dispute/test_integer_onchain.py":
        "pins the trace's hand-made encoders to eth_abi (query hash, int256[])",
}
"""Files that may restate a protocol fact, and why (tests pinning the home only)."""

SCANNED = ("offchain", "bench", "scripts", "tests")

# -- what a second spelling looks like ------------------------------------------------------

CONSTANT_NAMES = frozenset(
    name for name, value in vars(P).items()
    if name.isupper() and not name.startswith("_") and isinstance(value, int | str | bytes | tuple)
)
"""The home's module-level constants: defining one of these names elsewhere is a copy."""

ZERO_VALUES: dict[Any, str] = {
    P.ZERO_ADDRESS: "ZERO_ADDRESS", P.ZERO32: "ZERO32", "0x" + P.ZERO32.hex(): "ZERO32",
}
STRUCT_SIGNATURE = re.compile(r"\b(?:Inference|Batch|WorkerRegistration|EIP712Domain)"
                              r"\((?:bytes32|address|string|uint\d+) ")
"""An EIP-712 struct type string, or a piece of one."""

ABI_TYPE_STRINGS = {
    P.SHARES_ABI_TYPE: "SHARES_ABI_TYPE",
    P.ATTRIBUTION_SPEC_ABI_TYPE: "ATTRIBUTION_SPEC_ABI_TYPE",
    P.DATA_ITEM_ABI_TYPE: "DATA_ITEM_ABI_TYPE",
    P.NEURON_ROW_ABI_TYPE: "NEURON_ROW_ABI_TYPE",
    P.MODEL_SPEC_ABI_TYPE: "MODEL_SPEC_ABI_TYPE",
}
STRUCT_TYPE_LISTS = {
    tuple(P.INFERENCE_ABI_TYPES): "INFERENCE_ABI_TYPES",
    tuple(P.BATCH_ABI_TYPES): "BATCH_ABI_TYPES",
    tuple(P.REQUEST_ABI_TYPES): "REQUEST_ABI_TYPES",
    tuple(P.WORKER_REGISTRATION_ABI_TYPES): "WORKER_REGISTRATION_ABI_TYPES",
    tuple(P.TRACE_STEP_ABI_TYPES): "TRACE_STEP_ABI_TYPES",
}
"""Long enough to be a struct wherever they appear."""
DERIVATION_TYPE_LISTS = {
    ("address", "bytes32", "bytes32"): "protocol.request_id",
    ("address", "bytes32"): "protocol.model_id / ROSTER_LEAF_TYPES",
    ("bytes32", "bytes32", "address"): "protocol.batch_id",
    tuple(P.CLAIM_LEAF_TYPES): "CLAIM_LEAF_TYPES",
    ("address", "int256"): "protocol.sums_leaf",
    ("int256[]",): "protocol.query_hash",
    (P.ATTRIBUTION_SPEC_ABI_TYPE,): "protocol.attribution_spec_hash",
    (P.DATA_ITEM_ABI_TYPE,): "protocol.data_item_leaf",
    (P.NEURON_ROW_ABI_TYPE,): "protocol.neuron_row_leaf",
    (P.MODEL_SPEC_ABI_TYPE,): "protocol.model_spec_hash",
}
"""Short: a copy only where they are ABI-encoded (an id or leaf derived again)."""
ENCODERS = frozenset({"encode", "abi_encode", "encode_abi", "encode_packed"})


@dataclass(frozen=True)
class Spelling:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


class _Unfoldable(Exception):
    pass


def fold(node: ast.expr) -> Any:
    """The value of a constant expression (literals, + - * // and ``bytes(n)``), else raise."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -fold(node.operand)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult |
                                                  ast.FloorDiv):
        left, right = fold(node.left), fold(node.right)
        if isinstance(node.op, ast.Mult) and any(isinstance(v, int) and v > 10**6
                                                  for v in (left, right)) and any(
                isinstance(v, str | bytes) for v in (left, right)):
            raise _Unfoldable  # a huge repeated string is not a constant worth building
        try:
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            return left // right
        except (TypeError, ZeroDivisionError):
            raise _Unfoldable from None
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "bytes" and len(node.args) == 1 and not node.keywords):
        size = fold(node.args[0])
        if isinstance(size, int) and not isinstance(size, bool) and 0 <= size <= 4096:
            return bytes(size)
    raise _Unfoldable


def _folds(node: ast.AST) -> tuple[bool, Any]:
    if not isinstance(node, ast.expr):
        return False, None
    try:
        return True, fold(node)
    except _Unfoldable:
        return False, None


def _str_list(node: ast.AST) -> tuple[str, ...] | None:
    if isinstance(node, ast.List | ast.Tuple) and node.elts and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return tuple(str(e.value).replace(" ", "") for e in node.elts)  # type: ignore[attr-defined]
    return None


def _callee(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _value_spelling(value: Any, node: ast.expr, parent: ast.AST | None, *, literals: bool
                    ) -> str | None:
    if literals and isinstance(value, str | bytes):
        key = value.lower() if isinstance(value, str) else value
        if key in ZERO_VALUES:
            return f"the {ZERO_VALUES[key]} spelled (import it from offchain.protocol)"
    if isinstance(value, str):
        if STRUCT_SIGNATURE.search(value):
            return "an EIP-712 type string spelled (use the protocol's *_TYPE / *_TYPEHASH)"
        if value.replace(" ", "") in ABI_TYPE_STRINGS:
            name = ABI_TYPE_STRINGS[value.replace(" ", "")]
            return f"the ABI type of {name} spelled (import it from offchain.protocol)"
    if literals and isinstance(value, int) and not isinstance(value, bool):
        computed = isinstance(node, ast.BinOp)
        named = isinstance(parent, ast.Assign | ast.AnnAssign | ast.keyword)
        in_arithmetic = isinstance(parent, ast.BinOp | ast.Compare | ast.AugAssign)
        if value == P.TIMESTAMP_WINDOW and (computed or named or in_arithmetic):
            return "TIMESTAMP_WINDOW spelled (import it from offchain.protocol)"
        if value == P.BPS and (in_arithmetic or (computed and named)):
            return "BPS spelled in arithmetic (import it, or use the protocol's fee split)"
    return None


def spellings(tree: ast.AST, path: str, *, literals: bool = True) -> Iterator[Spelling]:
    """Every second spelling of a protocol fact in one parsed module (``literals=False``:
    not the zero values, ``BPS`` or ``TIMESTAMP_WINDOW`` written as literals)."""
    if isinstance(tree, ast.Module):
        for stmt in tree.body:
            targets = (stmt.targets if isinstance(stmt, ast.Assign) else
                       [stmt.target] if isinstance(stmt, ast.AnnAssign) else [])
            for target in targets:
                if isinstance(target, ast.Name) and target.id in CONSTANT_NAMES:
                    yield Spelling(path, stmt.lineno, f"{target.id} defined again (import it "
                                   "from offchain.protocol)")
    yield from _walk(tree, None, path, literals)


def _walk(node: ast.AST, parent: ast.AST | None, path: str, literals: bool
          ) -> Iterator[Spelling]:
    ok, value = _folds(node)
    if ok:
        assert isinstance(node, ast.expr)
        what = _value_spelling(value, node, parent, literals=literals)
        if what:
            yield Spelling(path, node.lineno, what)
        return  # the parts of a folded expression are not spellings of their own
    if literals and _is_split(node):
        yield Spelling(path, node.lineno,  # type: ignore[attr-defined]
                       "the fee split derived again (use protocol.Split.of)")
        return
    types = _str_list(node)
    if types is not None:
        if types in STRUCT_TYPE_LISTS:
            yield Spelling(path, node.lineno,  # type: ignore[attr-defined]
                           f"the field types of {STRUCT_TYPE_LISTS[types]} spelled")
        elif (types in DERIVATION_TYPE_LISTS and isinstance(parent, ast.Call)
              and _callee(parent) in ENCODERS and parent.args and parent.args[0] is node):
            yield Spelling(path, node.lineno,  # type: ignore[attr-defined]
                           f"{DERIVATION_TYPE_LISTS[types]} derived again (call it)")
    for child in ast.iter_child_nodes(node):
        yield from _walk(child, node, path, literals)


def _is_split(node: ast.AST) -> bool:
    """``BPS - a - b``: the contributors' bps worked out by hand."""
    return (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub)
            and isinstance(node.left, ast.BinOp) and isinstance(node.left.op, ast.Sub)
            and isinstance(node.left.left, ast.Name) and node.left.left.id == "BPS")


def _python_files() -> Iterator[Path]:
    for top in SCANNED:
        for path in sorted((REPO_ROOT / top).rglob("*.py")):
            if not any(part in ("node_modules", "__pycache__") or part.startswith(".")
                       for part in path.relative_to(REPO_ROOT).parts):
                yield path


def find_all() -> list[Spelling]:
    found = []
    for path in _python_files():
        rel = path.relative_to(REPO_ROOT).as_posix()
        if rel in HOMES or rel in ALLOWED:
            continue
        found.extend(spellings(ast.parse(path.read_text(), rel), rel,
                               literals=not rel.startswith("tests/")))
    return found


# -- the guard --------------------------------------------------------------------------------

def test_no_protocol_fact_is_spelled_outside_its_home() -> None:
    found = find_all()
    assert not found, ("a protocol fact spelled outside offchain/protocol.py (import it from "
                       "there, or allow a pinning test in ALLOWED with its reason):\n"
                       + "\n".join(map(str, found)))


def test_allowed_files_exist_and_still_need_it() -> None:
    """An allowance outlives its reason silently: each allowed file must still exist and
    still restate something (else remove it from ALLOWED)."""
    for rel in [*HOMES, *ALLOWED]:
        path = REPO_ROOT / rel
        assert path.is_file(), f"{rel} is allowed but gone"
        if rel in ALLOWED and rel != "tests/test_guard_spellings.py":
            assert list(spellings(ast.parse(path.read_text()), rel, literals=False)), (
                f"{rel} no longer restates a protocol fact: remove it from ALLOWED")


# -- the guard catches what it should, and nothing else ---------------------------------------

CAUGHT = {
    "zero address": 'owner = "0x" + "00" * 20',
    "zero address, written out": 'x = f(a, "0x0000000000000000000000000000000000000000")',
    "zero bytes32": "proof_hash: bytes = bytes(32)",
    "zero bytes32, as bytes": 'h = b"\\x00" * 32',
    "zero bytes32, as hex": 'h = "0x" + "00" * 32',
    "timestamp window": "SKEW = 15 * 60",
    "timestamp window, compared": "late = now - ts > 900",
    "bps in arithmetic": "contributor_bps = 10_000 - worker_bps - owner_bps",
    "bps defined": "BPS = 10_000",
    "fee split": 'split = {"contributorBps": BPS - worker_bps - owner_bps}',
    "window defined": "TIMESTAMP_WINDOW = WINDOW",
    "eip-712 type": 'T = "Batch(bytes32 root,uint32 count)"',
    "abi type string": 'encode(["(address,uint16)[]"], [shares])',
    "struct types": 'T = ("bytes32", "uint32", "bytes32", "uint64", "bytes32", "bytes32", '
                    '"address", "uint256")',
    "request id": 'rid = keccak(encode(["address", "bytes32", "bytes32"], [a, m, c]))',
    "batch id": 'bid = keccak(abi.encode(("bytes32", "bytes32", "address"), (r, m, w)))',
    "sums leaf": 'leaf = keccak(eth_abi.encode(["address", "int256"], [a, t]))',
}
PASSED = {
    "imported": "from offchain.protocol import BPS, ZERO32, ZERO_ADDRESS, TIMESTAMP_WINDOW",
    "used": "split = Split.of(worker_bps, owner_bps); rest = BPS - first",
    "a count of ten thousand": 'parser.add_argument("--records", default=10_000)',
    "other bytes": "salt = bytes(16)",
    "other types decoded": 'a, b = decode(["address", "bytes32"], data)',
    "other encoding": 'encode(["bytes", "uint256[]"], [proof, instances])',
    "a type list not encoded": 'COLUMNS = ("address", "uint256")',
    "other seconds": "TIMEOUT = 30 * 60",
    "an epoch": "epoch_length = 3600",
}


@pytest.mark.parametrize("source", CAUGHT.values(), ids=CAUGHT.keys())
def test_the_guard_catches_a_second_spelling(source: str) -> None:
    assert list(spellings(ast.parse(source), "x.py")), source


IN_TESTS_TOO = ("eip-712 type", "abi type string", "struct types", "request id", "batch id",
                "sums leaf", "bps defined", "window defined")


@pytest.mark.parametrize("name", CAUGHT)
def test_in_tests_only_literal_values_pass(name: str) -> None:
    found = list(spellings(ast.parse(CAUGHT[name]), "tests/x.py", literals=False))
    assert bool(found) == (name in IN_TESTS_TOO), CAUGHT[name]


@pytest.mark.parametrize("source", PASSED.values(), ids=PASSED.keys())
def test_the_guard_passes_what_is_not_one(source: str) -> None:
    assert not list(spellings(ast.parse(source), "x.py")), source
