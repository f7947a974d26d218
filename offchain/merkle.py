"""Merkle trees: OpenZeppelin's ``StandardMerkleTree`` in Python, byte for byte, and the
position-bound ``IndexedTree`` of attribution disputes (at the end of this module).

Attestia commits to batches of inference records and to reward distributions with Merkle roots
that Solidity checks with OpenZeppelin's ``MerkleProof``, and publishes the trees as JSON that
anyone can reload with the JavaScript library ``@openzeppelin/merkle-tree``. This module
mirrors that library's ``StandardMerkleTree`` (version 1.0.8): the same root, proofs,
multiproofs, ``render()`` and ``dump()`` JSON for the same input. Its format:

* **Leaves are hashed twice**: ``keccak256(keccak256(abi.encode(leaf_encoding, value)))``.
  An inner node hashes 64 bytes (two children); a leaf's outer hash hashes 32, so no leaf
  encoding can be passed off as a pair of inner nodes (a second-preimage attack).
* **Pairs are sorted**: an inner node is ``keccak256`` of its two children in ascending byte
  order, so a proof is just the list of sibling hashes, with no left/right flags; that is
  what ``MerkleProof.verify`` takes.
* **Leaves are sorted by hash** (unless ``sort_leaves=False``), so a contract that rebuilds
  leaf hashes can order them for a multiproof without knowing the tree. The tree is a flat
  array, root first: node ``i`` has children ``2i+1`` and ``2i+2``; the ``j``-th sorted leaf
  sits at ``len(tree) - 1 - j``.

Public API (the JavaScript name in brackets):

* :meth:`StandardMerkleTree.of` [``of``] and :meth:`StandardMerkleTree.load` [``load``],
  which validates what it loads;
* on a tree: ``root``, ``len()`` [``length``], ``at``, ``entries``, ``leaf_encoding``,
  ``values`` (``{"value", "treeIndex"}`` per value, as in the dump), ``leaf_hash``
  [``leafHash``], ``get_proof``, ``get_multi_proof``, ``verify``, ``verify_multi_proof``,
  ``validate``, ``dump`` and ``render``; a leaf is named by its value index or its value;
* :func:`verify_proof` and :func:`verify_multi_proof`, the static ``StandardMerkleTree.verify``
  and ``StandardMerkleTree.verifyMultiProof``;
* :class:`MultiProof` and the errors :class:`MerkleTreeError`, :class:`InvalidArgumentError`
  and :class:`InvariantError`.

Hashes and proof nodes are returned as ``0x``-hex strings and accepted as hex or bytes.
Values are kept as given; ``dump()`` writes them JSON-safe as the JS library expects them
(integers as decimal strings, bytes as ``0x`` hex) and :meth:`StandardMerkleTree.load`
accepts that form back.

Speed: an ``n``-leaf tree takes ``3n - 1`` keccak256 calls and they dominate the cost, so
they go straight to ``safe-pysha3``'s ``keccak_256`` (a declared dependency; ~1-2 us a call)
rather than through ``eth_hash``'s pycryptodome backend (~6 us a call, measured: a
1,000-leaf tree 7 ms against 20 ms). Leaves whose types are all static
(address, bool, uintN, intN, bytesN: every leaf type Attestia uses) are ABI-encoded without
``eth_abi``: a column at a time for many leaves, with the common value shapes (``0x``-hex
strings, in-range ints) converted in bulk. Any other type goes through ``eth_abi.encode``,
one leaf at a time.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import numbers
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_abi import encode as abi_encode
from eth_abi.grammar import TupleType
from eth_abi.grammar import parse as parse_abi_type
from sha3 import keccak_256

from offchain.errors import AttestiaError
from offchain.protocol import ZERO32

if TYPE_CHECKING:
    import numpy as np

FORMAT = "standard-v1"


class MerkleTreeError(AttestiaError):
    """Base of Merkle tree errors."""


class InvalidArgumentError(MerkleTreeError):
    """A caller passed something the tree cannot use (bad value, index, proof or dump)."""


class InvariantError(MerkleTreeError):
    """The tree is internally inconsistent (a tampered dump, a leaf that does not match)."""


LeafValue = Sequence[Any]


@dataclass(frozen=True)
class MultiProof:
    """A multiproof as the JS library returns it: leaves (values), proof nodes, flags."""

    leaves: list[LeafValue]
    proof: list[str]
    proof_flags: list[bool]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector in the block (restored after). Building
    millions of small lists and tuples (leaf values, sorted pairs) otherwise runs a
    collection every few hundred allocations over everything alive: at a million leaves
    that was a third of a settlement's time. Only acyclic objects are made there, so nothing
    is left for the collector afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# -- leaf encoding --------------------------------------------------------------------------------

_WORD = 32
_INT_TYPE = re.compile(r"^(u?)int(\d*)$")
_BYTES_TYPE = re.compile(r"^bytes(\d+)$")


def _as_int(value: Any, abi_type: str) -> int:
    if isinstance(value, bool):
        raise InvalidArgumentError(f"{abi_type} value must be an integer, not a bool ({value})")
    if isinstance(value, numbers.Integral):  # int, and numpy integers
        return int(value)
    if isinstance(value, str):
        try:
            return int(value, 16) if value[:2].lower() == "0x" else int(value, 10)
        except ValueError:
            pass
    raise InvalidArgumentError(
        f"{abi_type} value must be an int or a decimal/0x-hex string; got {value!r}"
    )


def _as_bytes(value: Any, size: int, abi_type: str) -> bytes:
    raw = None
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
    elif isinstance(value, str) and value[:2].lower() == "0x":
        try:
            raw = bytes.fromhex(value[2:])
        except ValueError:
            raw = None
    if raw is None or len(raw) != size:
        raise InvalidArgumentError(
            f"{abi_type} value must be {size} bytes (bytes or 0x-hex); got {value!r}"
        )
    return raw


def _unhex_column(column: Sequence[Any], size: int) -> bytes | None:
    """The bytes of values that are all ``0x`` + ``2 * size`` hex digits, joined; else None.

    One ``bytes.fromhex`` for the whole column. Every value has the same length and starts
    with ``0x``, so a stray ``0x`` or space inside a value makes the result too short.
    """
    width, count = 2 + 2 * size, len(column)
    if set(map(type, column)) != {str} or set(map(len, column)) != {width}:
        return None
    text = "".join(column)
    if text[0::width] != "0" * count or text[1::width] != "x" * count:
        return None
    try:
        raw = bytes.fromhex(text.replace("0x", ""))
    except ValueError:
        return None
    return raw if len(raw) == count * size else None


@functools.cache
def _word_encoder(abi_type: str) -> Callable[[Any], bytes] | None:
    """A function value -> 32-byte ABI word for a static elementary type, or None."""
    if abi_type == "address":
        def address(value: Any) -> bytes:
            return b"\0" * 12 + _as_bytes(value, 20, "address")
        return address
    if abi_type == "bool":
        def boolean(value: Any) -> bytes:
            if not isinstance(value, bool):
                raise InvalidArgumentError(f"bool value must be True or False; got {value!r}")
            return int(value).to_bytes(_WORD, "big")
        return boolean
    match = _INT_TYPE.match(abi_type)
    if match:
        bits = int(match.group(2) or 256)
        if bits % 8 or not 8 <= bits <= 256:
            return None
        low, high = (0, 1 << bits) if match.group(1) else (-(1 << (bits - 1)), 1 << (bits - 1))

        def integer(value: Any) -> bytes:
            number = _as_int(value, abi_type)
            if not low <= number < high:
                raise InvalidArgumentError(f"{abi_type} value {number} is out of range")
            return (number % (1 << 256)).to_bytes(_WORD, "big")
        return integer
    match = _BYTES_TYPE.match(abi_type)
    if match and 1 <= int(match.group(1)) <= 32:
        size = int(match.group(1))

        def fixed_bytes(value: Any) -> bytes:
            return _as_bytes(value, size, abi_type).ljust(_WORD, b"\0")
        return fixed_bytes
    return None


def _encode_column(abi_type: str, encoder: Callable[[Any], bytes],
                   column: Sequence[Any]) -> np.ndarray:
    """The ABI words of one static field across all leaves: an (n, 32) array of bytes.

    All ``0x``-hex strings (address, bytesN) and all plain ints in range (uintN) take a bulk
    path; anything else goes value by value, which also gives the precise error message.
    """
    import numpy as np  # here: importing this module stays cheap for the CLI

    count = len(column)
    match = _BYTES_TYPE.match(abi_type)
    size = 20 if abi_type == "address" else int(match.group(1)) if match else 0
    if size:
        raw = _unhex_column(column, size)
        if raw is not None:
            words = np.zeros((count, _WORD), dtype=np.uint8)
            start = _WORD - 20 if abi_type == "address" else 0  # address: left-padded
            words[:, start:start + size] = np.frombuffer(raw, dtype=np.uint8).reshape(count, size)
            return words
    match = _INT_TYPE.match(abi_type)
    if match and match.group(1) and set(map(type, column)) == {int}:
        bits = int(match.group(2) or 256)
        low, high = min(column), max(column)
        if low >= 0 and high < (1 << bits):
            if high < (1 << 64):  # the usual amounts: numpy writes them big-endian in bulk
                words = np.zeros((count, _WORD), dtype=np.uint8)
                big = np.array(column, dtype=">u8")
                words[:, _WORD - 8:] = big.view(np.uint8).reshape(count, 8)
                return words
            joined = b"".join([v.to_bytes(_WORD, "big") for v in column])
            return np.frombuffer(joined, dtype=np.uint8).reshape(count, _WORD)
    joined = b"".join([encoder(v) for v in column])
    return np.frombuffer(joined, dtype=np.uint8).reshape(count, _WORD)


def _check_leaf(leaf_encoding: Sequence[str], value: Any) -> None:
    if type(value) not in (list, tuple) and (
            isinstance(value, str | bytes | int | float) or not isinstance(value, Sequence)):
        raise InvalidArgumentError(f"a leaf value must be a list or tuple; got {value!r}")
    if len(value) != len(leaf_encoding):
        raise InvalidArgumentError(
            f"leaf {value!r} has {len(value)} fields but the encoding has {len(leaf_encoding)}"
        )


def _abi_friendly(node: Any, value: Any) -> Any:
    """Undo the JSON form for eth_abi: decimal/hex strings to ints, 0x strings to bytes."""
    if node.is_array or isinstance(node, TupleType):
        if not isinstance(value, list | tuple):
            return value
        if node.is_array:
            return [_abi_friendly(node.item_type, v) for v in value]
        return tuple(_abi_friendly(c, v) for c, v in zip(node.components, value, strict=False))
    if node.base in ("uint", "int") and isinstance(value, str):
        return _as_int(value, node.to_type_str())
    if node.base == "bytes" and isinstance(value, str) and value[:2].lower() == "0x":
        return bytes.fromhex(value[2:])
    return value


def _abi_encode(leaf_encoding: Sequence[str], value: LeafValue) -> bytes:
    try:
        nodes = [parse_abi_type(t) for t in leaf_encoding]
        fields = [_abi_friendly(n, v) for n, v in zip(nodes, value, strict=True)]
        return abi_encode(list(leaf_encoding), fields)
    except Exception as exc:  # eth_abi raises many unrelated types for bad input
        raise InvalidArgumentError(f"cannot ABI-encode leaf {value!r}: {exc}") from exc


def _static_encoders(leaf_encoding: Sequence[str], values: Sequence[LeafValue]
                     ) -> list[Callable[[Any], bytes]] | None:
    """Check the values' shapes (raising for a bad one, with its message); the word encoder
    of each field when every field type is static, else None."""
    width = len(leaf_encoding)
    if not (set(map(type, values)) <= {list, tuple} and set(map(len, values)) <= {width}):
        for value in values:
            _check_leaf(leaf_encoding, value)  # raises for a bad one, with its message
    encoders = [e for e in map(_word_encoder, leaf_encoding) if e is not None]
    return encoders if encoders and len(encoders) == width else None


def _encode_bulk(leaf_encoding: Sequence[str], encoders: Sequence[Callable[[Any], bytes]],
                 values: Sequence[LeafValue]) -> bytes:
    """The encodings of many leaves of static fields, concatenated (``32 * width`` bytes
    each): a column at a time into one array."""
    import numpy as np

    fields = zip(*values, strict=True)  # one column per field
    columns = [_encode_column(abi_type, encoder, column)
               for abi_type, encoder, column in zip(leaf_encoding, encoders, fields, strict=True)]
    return np.hstack(columns).tobytes()


_BULK = 16
"""From this many leaves on, static leaves are encoded a column at a time (below it, a
proof's or a check's single leaf: the bulk checks cost more)."""


def _encode_leaves(leaf_encoding: Sequence[str], values: Sequence[LeafValue]) -> list[bytes]:
    """``abi.encode(leaf_encoding, value)`` of every value."""
    encoders = _static_encoders(leaf_encoding, values)
    if not values:
        return []
    if encoders is None:
        return [_abi_encode(leaf_encoding, value) for value in values]
    if len(values) < _BULK:
        return [b"".join([encoder(field) for encoder, field in zip(encoders, value, strict=True)])
                for value in values]
    joined, size = _encode_bulk(leaf_encoding, encoders, values), _WORD * len(encoders)
    return [joined[i:i + size] for i in range(0, len(joined), size)]


# -- hashing --------------------------------------------------------------------------------------

def keccak(data: bytes) -> bytes:
    return keccak_256(data).digest()


def _leaf_hashes(leaf_encoding: Sequence[str], values: Sequence[LeafValue]) -> list[bytes]:
    # keccak(keccak(data)), inlined: at a million leaves the call per hash is a second
    k = keccak_256
    encoders = _static_encoders(leaf_encoding, values) if len(values) >= _BULK else None
    if encoders is None:
        return [k(k(data).digest()).digest() for data in _encode_leaves(leaf_encoding, values)]
    # many static leaves: hash views into one buffer (no bytes object per encoding)
    joined = memoryview(_encode_bulk(leaf_encoding, encoders, values))
    size = _WORD * len(encoders)
    if len(values) >= PARALLEL_LEAVES:
        hashed = _hash_in_two_processes(joined, size)
        if hashed is not None:
            return hashed
    return _double_hashes(joined, size, 0, len(joined))


def _double_hashes(joined: memoryview, size: int, start: int, stop: int) -> list[bytes]:
    """keccak(keccak(leaf)) of the ``size``-byte leaves in ``joined[start:stop]``."""
    k = keccak_256
    return [k(k(joined[i:i + size]).digest()).digest() for i in range(start, stop, size)]


PARALLEL_LEAVES = 200_000
"""From this many leaves on (a settlement's reward tree), a forked child hashes the second
half of the leaves while this process hashes the first."""


def _hash_in_two_processes(joined: memoryview, size: int) -> list[bytes] | None:
    """The leaf hashes with the second half computed by a forked child (it writes them
    into a shared anonymous mapping and exits), or None when that cannot be done safely
    here: one CPU, no ``fork``, or other threads running (a fork copies only the calling
    thread, so locks they hold would stay held in the child). A child that fails also
    gives None, and the caller hashes everything itself."""
    import mmap
    import os
    import threading

    if (os.cpu_count() or 1) < 2 or not hasattr(os, "fork") \
            or threading.active_count() > 1:
        return None
    count = len(joined) // size
    middle = (count // 2) * size
    theirs = count - count // 2
    shared = mmap.mmap(-1, theirs * _WORD)
    try:
        pid = os.fork()
    except OSError:
        shared.close()
        return None
    if pid == 0:  # the child: hash the second half, nothing else (no flush, no cleanup)
        status = 1
        try:
            shared[:] = b"".join(_double_hashes(joined, size, middle, len(joined)))
            status = 0
        finally:
            os._exit(status)
    try:
        first = _double_hashes(joined, size, 0, middle)
    finally:  # the child is always reaped
        _, status = os.waitpid(pid, 0)
    try:
        if status != 0:
            return None
        second = bytes(shared)
    finally:
        shared.close()
    return first + [second[i:i + _WORD] for i in range(0, len(second), _WORD)]


def _leaf_hash(leaf_encoding: Sequence[str], value: LeafValue) -> bytes:
    return _leaf_hashes(leaf_encoding, [value])[0]


def _node_hash(a: bytes, b: bytes) -> bytes:
    return keccak(a + b if a <= b else b + a)


def _hash_inner_nodes(nodes: list[bytes], inner: int) -> None:
    """Fill ``nodes[0:inner]`` (node i's children are 2i+1 and 2i+2, as in the JS array),
    a level at a time from the deepest: each level's children are one contiguous run, so a
    level is one comprehension (at a million leaves, twice as fast as a loop per node)."""
    k = keccak_256
    hi = inner
    while hi > 0:
        lo = (1 << ((hi).bit_length() - 1)) - 1  # first index of the level holding hi - 1
        lo = min(lo, hi - 1)
        nodes[lo:hi] = [k(a + b if a <= b else b + a).digest()
                        for a, b in zip(nodes[2 * lo + 1:2 * hi:2], nodes[2 * lo + 2:2 * hi + 1:2],
                                        strict=True)]
        hi = lo


def _node(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray) and len(value) == 32:
        return bytes(value)
    if isinstance(value, str):
        try:
            raw = bytes.fromhex(value[2:] if value[:2].lower() == "0x" else value)
        except ValueError:
            raw = b""
        if len(raw) == 32:
            return raw
    raise InvalidArgumentError(f"Merkle tree nodes must be 32 bytes (0x-hex); got {value!r}")


def _nodes(values: Sequence[Any]) -> list[bytes]:
    """Parse many nodes (the JS ``tree`` array), in bulk when they are well-formed hex."""
    raw = _unhex_column(values, _WORD) if values else None
    if raw is None:
        return [_node(value) for value in values]
    return [raw[i:i + _WORD] for i in range(0, len(raw), _WORD)]


def _hex(node: bytes) -> str:
    return "0x" + node.hex()


def _process_proof(leaf_hash: bytes, proof: Sequence[bytes | str]) -> bytes:
    node = leaf_hash
    for sibling in proof:
        node = _node_hash(node, _node(sibling))
    return node


def _process_multi_proof(leaf_hashes: Sequence[bytes], proof: Sequence[bytes | str],
                         proof_flags: Sequence[bool]) -> bytes:
    """The root a multiproof leads to, with the JS library's format checks."""
    stack = list(leaf_hashes)
    nodes = [_node(p) for p in proof]
    if len(nodes) < sum(1 for flag in proof_flags if not flag):
        raise InvalidArgumentError("Invalid multiproof format")
    if len(stack) + len(nodes) != len(proof_flags) + 1:
        raise InvalidArgumentError("Provided leaves and multiproof are not compatible")
    stack_pos, proof_pos = 0, 0
    for flag in proof_flags:
        a = stack[stack_pos]
        stack_pos += 1
        if flag:
            b = stack[stack_pos]
            stack_pos += 1
        else:
            b = nodes[proof_pos]
            proof_pos += 1
        stack.append(_node_hash(a, b))
    if len(stack) - stack_pos + len(nodes) - proof_pos != 1:
        raise InvariantError("multiproof did not reduce to a single root")
    return stack[-1] if len(stack) > stack_pos else nodes[proof_pos]


def verify_proof(root: bytes | str, leaf_encoding: Sequence[str], leaf: LeafValue,
                 proof: Sequence[bytes | str]) -> bool:
    """JS ``StandardMerkleTree.verify``: does ``proof`` take ``leaf`` to ``root``?"""
    return _node(root) == _process_proof(_leaf_hash(leaf_encoding, leaf), proof)


def verify_multi_proof(root: bytes | str, leaf_encoding: Sequence[str],
                       multiproof: MultiProof) -> bool:
    """JS ``StandardMerkleTree.verifyMultiProof``."""
    hashes = _leaf_hashes(leaf_encoding, multiproof.leaves)
    return _node(root) == _process_multi_proof(hashes, multiproof.proof, multiproof.proof_flags)


# -- JSON form of values --------------------------------------------------------------------------

def _json_value(value: Any) -> Any:
    """A leaf field as the JS library stores it in JSON (big ints as decimal strings)."""
    if isinstance(value, str | bool) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def _json_values(values: Sequence[LeafValue], width: int) -> list[Any]:
    """``_json_value`` of every leaf, a column at a time (plain str and int columns in bulk)."""
    if not width:
        return [[] for _ in values]
    columns = []
    for column in zip(*values, strict=True):
        kinds = set(map(type, column))
        columns.append(column if kinds == {str} else tuple(map(str, column)) if kinds == {int}
                       else tuple(map(_json_value, column)))
    return [list(row) for row in zip(*columns, strict=True)]


# -- the tree -------------------------------------------------------------------------------------

class StandardMerkleTree:
    """A Merkle tree of ABI-encoded leaves, compatible with OpenZeppelin's JS library.

    Build with :meth:`of` or :meth:`load`; the constructor takes already-built parts.
    """

    def __init__(self, nodes: Sequence[bytes], values: Sequence[LeafValue],
                 tree_indices: Sequence[int], leaf_encoding: Sequence[str]) -> None:
        self._nodes = list(nodes)
        self._values = list(values)
        self._tree_index = list(tree_indices)
        self.leaf_encoding: list[str] = list(leaf_encoding)
        self._lookup: dict[bytes, int] | None = None

    @classmethod
    def of(cls, values: Sequence[LeafValue], leaf_encoding: Sequence[str],
           sort_leaves: bool = True) -> StandardMerkleTree:
        """Build a tree over ``values`` (JS ``StandardMerkleTree.of``)."""
        with gc_paused():
            return cls._of(list(values), leaf_encoding, sort_leaves)

    @classmethod
    def _of(cls, values: list[LeafValue], leaf_encoding: Sequence[str],
            sort_leaves: bool) -> StandardMerkleTree:
        if not values:
            raise InvalidArgumentError("Expected non-zero number of leaves")
        hashes = _leaf_hashes(leaf_encoding, values)
        n = len(values)
        if n >= _BULK:
            import numpy as np

            # a stable sort, like Array.prototype.sort: equal hashes keep the given order;
            # fixed-width bytes compare as memcmp does (all are 32 bytes)
            order = (np.argsort(np.frombuffer(b"".join(hashes), dtype="S32"), kind="stable")
                     if sort_leaves else np.arange(n))
            nodes = [b""] * (n - 1) + [hashes[i] for i in order[::-1].tolist()]
            tree_index_array = np.empty(n, dtype=np.int64)
            tree_index_array[order] = np.arange(2 * n - 2, n - 2, -1)
            tree_index = tree_index_array.tolist()
        else:
            # sorted() is stable, like Array.prototype.sort: equal hashes keep the given order
            order_list = sorted(range(n), key=hashes.__getitem__) if sort_leaves \
                else list(range(n))
            nodes = [b""] * (n - 1) + [hashes[i] for i in reversed(order_list)]
            tree_index = [0] * n
            for position, index in enumerate(order_list):
                tree_index[index] = len(nodes) - 1 - position
        _hash_inner_nodes(nodes, n - 1)
        return cls(nodes, values, tree_index, leaf_encoding)

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> StandardMerkleTree:
        """Rebuild a tree from :meth:`dump` output (or the JS library's), then validate it."""
        if data.get("format") != FORMAT:
            raise InvalidArgumentError(f"Unknown format '{data.get('format')}'")
        if data.get("leafEncoding") is None:
            raise InvalidArgumentError("Expected leaf encoding")
        try:
            tree = _nodes(data["tree"])
            values = [entry["value"] for entry in data["values"]]
            indices = [entry["treeIndex"] for entry in data["values"]]
        except (KeyError, TypeError) as exc:
            raise InvalidArgumentError(f"malformed tree dump: {exc!r}") from exc
        if not tree:
            raise InvalidArgumentError("Expected non-zero number of nodes")
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in indices):
            raise InvalidArgumentError("every treeIndex must be an integer")
        loaded = cls(tree, values, indices, data["leafEncoding"])
        loaded.validate()
        return loaded

    @property
    def root(self) -> str:
        """The root as 0x-hex, like the JS ``root``."""
        return _hex(self._nodes[0])

    @property
    def values(self) -> list[dict[str, Any]]:
        """``{"value", "treeIndex"}`` for each value, in the order given (as in the dump)."""
        return [{"value": value, "treeIndex": tree_index}
                for value, tree_index in zip(self._values, self._tree_index, strict=True)]

    def __len__(self) -> int:
        return len(self._values)

    def at(self, index: int) -> LeafValue | None:
        """The value at ``index`` (negative counts from the end), or None, like ``Array.at``."""
        try:
            return self._values[index]
        except IndexError:
            return None

    def entries(self) -> Iterator[tuple[int, LeafValue]]:
        """``(value index, value)`` pairs in the order the values were given."""
        yield from enumerate(self._values)

    def leaf_hash(self, value: LeafValue) -> str:
        """The leaf hash of a value under this tree's encoding (0x-hex)."""
        return _hex(_leaf_hash(self.leaf_encoding, value))

    def get_proof(self, leaf: int | LeafValue) -> list[str]:
        """Sibling hashes from the leaf up to the root; ``leaf`` is a value index or a value."""
        tree_index = self._tree_index[self._value_index(leaf)]
        leaf_hash = self._nodes[tree_index]
        proof = []
        while tree_index > 0:
            proof.append(_hex(self._nodes[tree_index - (-1) ** (tree_index % 2)]))
            tree_index = (tree_index - 1) // 2
        if _process_proof(leaf_hash, proof) != self._nodes[0]:
            raise InvariantError("Unable to prove value")
        return proof

    def get_multi_proof(self, leaves: Sequence[int | LeafValue]) -> MultiProof:
        """A multiproof for several leaves (value indices or values), as the JS library does."""
        indices = [self._tree_index[self._value_index(leaf)] for leaf in leaves]
        indices.sort(reverse=True)
        if any(a == b for a, b in zip(indices, indices[1:], strict=False)):
            raise InvalidArgumentError("Cannot prove duplicated index")
        stack = list(indices)
        proof: list[str] = []
        flags: list[bool] = []
        head = 0
        while head < len(stack) and stack[head] > 0:
            j = stack[head]
            head += 1
            sibling, parent = j - (-1) ** (j % 2), (j - 1) // 2
            if head < len(stack) and sibling == stack[head]:
                flags.append(True)
                head += 1
            else:
                flags.append(False)
                proof.append(_hex(self._nodes[sibling]))
            stack.append(parent)
        if not indices:
            proof.append(self.root)
        leaf_hashes = [self._nodes[i] for i in indices]
        if _process_multi_proof(leaf_hashes, proof, flags) != self._nodes[0]:
            raise InvariantError("Unable to prove values")
        lookup = self._hash_lookup()
        return MultiProof(leaves=[self._values[lookup[h]] for h in leaf_hashes], proof=proof,
                          proof_flags=flags)

    def verify(self, leaf: int | LeafValue, proof: Sequence[bytes | str]) -> bool:
        """Does ``proof`` take the leaf (value index or value) to this tree's root?"""
        if isinstance(leaf, int) and not isinstance(leaf, bool):
            self._check_index(leaf)
            value = self._values[leaf]
        else:
            value = leaf  # type: ignore[assignment]  # a bool is a (bad) value, not an index
        return _process_proof(_leaf_hash(self.leaf_encoding, value), proof) == self._nodes[0]

    def verify_multi_proof(self, multiproof: MultiProof) -> bool:
        """Does the multiproof (leaves as values or value indices) lead to this tree's root?"""
        leaves = [self._values[leaf] if isinstance(leaf, int) and not isinstance(leaf, bool)
                  else leaf for leaf in multiproof.leaves]
        return verify_multi_proof(self._nodes[0], self.leaf_encoding,
                                  MultiProof(leaves, multiproof.proof, multiproof.proof_flags))

    def validate(self) -> None:
        """Check every value sits at its leaf and every node hashes its children."""
        if len(self._values) != len(self._tree_index):
            raise InvariantError("values and tree indices differ in length")
        hashes = _leaf_hashes(self.leaf_encoding, self._values)
        for leaf_hash, tree_index in zip(hashes, self._tree_index, strict=True):
            if not 0 <= tree_index < len(self._nodes) or self._nodes[tree_index] != leaf_hash:
                raise InvariantError("Merkle tree does not contain the expected value")
        if not self._is_valid_tree():
            raise InvariantError("Merkle tree is invalid")

    def dump(self) -> dict[str, Any]:
        """The JSON-ready form the JS ``dump()`` produces (format ``standard-v1``)."""
        values = _json_values(self._values, len(self.leaf_encoding))
        return {
            "format": FORMAT,
            "leafEncoding": list(self.leaf_encoding),
            "tree": [_hex(node) for node in self._nodes],
            "values": [{"value": value, "treeIndex": tree_index}
                       for value, tree_index in zip(values, self._tree_index, strict=True)],
        }

    def render(self) -> str:
        """The ASCII drawing of the JS ``render()``."""
        lines = []
        stack: list[tuple[int, list[int]]] = [(0, [])]
        size = len(self._nodes)
        while stack:
            i, path = stack.pop()
            prefix = "".join(["   ", "│  "][p] for p in path[:-1])
            prefix += "".join(["└─ ", "├─ "][p] for p in path[-1:])
            lines.append(f"{prefix}{i}) {_hex(self._nodes[i])}")
            if 2 * i + 2 < size:
                stack.append((2 * i + 2, [*path, 0]))
                stack.append((2 * i + 1, [*path, 1]))
        return "\n".join(lines)

    # -- internals ----------------------------------------------------------------------------

    def _hash_lookup(self) -> dict[bytes, int]:
        if self._lookup is None:  # built on first use: a million-leaf tree rarely needs it
            self._lookup = {self._nodes[t]: i for i, t in enumerate(self._tree_index)}
        return self._lookup

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self._values):
            raise InvalidArgumentError("Index out of bounds")

    def _value_index(self, leaf: int | LeafValue) -> int:
        if isinstance(leaf, int) and not isinstance(leaf, bool):
            index = leaf
        else:
            value: LeafValue = leaf  # type: ignore[assignment]  # a bool is a value, not an index
            index = self._hash_lookup().get(_leaf_hash(self.leaf_encoding, value), -1)
            if index < 0:
                raise InvalidArgumentError("Leaf is not in tree")
        self._check_index(index)
        if self._nodes[self._tree_index[index]] != _leaf_hash(self.leaf_encoding,
                                                              self._values[index]):
            raise InvariantError("Merkle tree does not contain the expected value")
        return index

    def _is_valid_tree(self) -> bool:
        size = len(self._nodes)
        if size % 2 == 0:  # a node with a left child but no right child
            return False
        return all(self._nodes[i] == _node_hash(self._nodes[2 * i + 1], self._nodes[2 * i + 2])
                   for i in range((size - 1) // 2))


# -- indexed trees (design.md "Indexed Merkle trees") ---------------------------------------------

ZERO_LEAF = ZERO32


def _zero_nodes(depth: int) -> list[bytes]:
    """The root of an all-padding subtree at each height 0..depth."""
    nodes = [ZERO_LEAF]
    for _ in range(depth):
        nodes.append(keccak_256(nodes[-1] + nodes[-1]).digest())
    return nodes


def _depth_for(n: int) -> int:
    return max(n - 1, 0).bit_length()  # ceil(log2(max(n, 1)))


class IndexedTree:
    """A Merkle tree whose leaves sit at fixed positions (design.md "Indexed Merkle trees").

    Leaves ``0..n-1`` are padded with ``bytes32(0)`` to ``2**depth``, ``depth =
    ceil(log2(max(n, 1)))``; an inner node is ``keccak256(left || right)``, unsorted, so a
    proof binds the position (a trace step's rank, a roster item's index, a contributor's
    slot). Subtrees made only of padding are never hashed twice: they are the same node at
    each height. Used for roster items, trace steps and running contributor sums;
    Solidity's ``IndexedMerkle`` checks its proofs.
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        n = len(leaves)
        self.n = n
        self.depth = _depth_for(n)
        self._zeros = _zero_nodes(self.depth)
        level = [bytes(leaf) for leaf in leaves]
        if any(len(leaf) != _WORD for leaf in level):
            raise InvalidArgumentError("indexed tree leaves must be 32 bytes each")
        # levels[h] holds the nodes at height h that cover at least one real leaf.
        self._levels: list[list[bytes]] = [level]
        for height in range(self.depth):
            if len(level) % 2:
                level = [*level, self._zeros[height]]
            joined = b"".join(level)
            level = [keccak_256(joined[i:i + 64]).digest() for i in range(0, len(joined), 64)]
            self._levels.append(level)

    @property
    def root(self) -> bytes:
        top = self._levels[-1]
        return top[0] if top else ZERO_LEAF

    def leaf(self, position: int) -> bytes:
        self._check(position)
        return self._levels[0][position]

    def proof(self, position: int) -> list[bytes]:
        """The ``depth`` sibling nodes from the leaf up to the root."""
        self._check(position)
        siblings = []
        for height in range(self.depth):
            level = self._levels[height]
            sibling = position ^ 1
            siblings.append(level[sibling] if sibling < len(level) else self._zeros[height])
            position >>= 1
        return siblings

    def update(self, position: int, leaf: bytes) -> bytes:
        """Set one leaf and rehash its path (running sums change one leaf a step); the new
        root."""
        self._check(position)
        if len(leaf) != _WORD:
            raise InvalidArgumentError("indexed tree leaves must be 32 bytes each")
        node = bytes(leaf)
        levels, zeros = self._levels, self._zeros
        levels[0][position] = node
        for height in range(self.depth):
            level = levels[height]
            sibling = position ^ 1
            other = level[sibling] if sibling < len(level) else zeros[height]
            node = keccak_256(node + other if position & 1 == 0 else other + node).digest()
            position >>= 1
            levels[height + 1][position] = node
        return node

    def _check(self, position: int) -> None:
        if not 0 <= position < self.n:
            raise InvalidArgumentError(f"position {position} is outside 0..{self.n - 1}")


def indexed_root(leaves: Sequence[bytes]) -> bytes:
    """Root of the indexed tree over ``leaves``."""
    return IndexedTree(leaves).root


def process_indexed(leaf: bytes, position: int, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` (siblings bottom-up) leads ``leaf`` at ``position`` to."""
    node = bytes(leaf)
    for sibling in proof:
        node = keccak_256(node + sibling if position & 1 == 0 else sibling + node).digest()
        position >>= 1
    return node


def verify_indexed(leaf: bytes, position: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Does ``proof`` take ``leaf`` at ``position`` to ``root``? The proof's length is the
    tree's depth, so ``position`` must be below ``2**len(proof)``."""
    if position < 0 or position >> len(proof) or len(leaf) != _WORD:
        return False
    if any(len(sibling) != _WORD for sibling in proof):
        return False
    return process_indexed(leaf, position, proof) == bytes(root)
