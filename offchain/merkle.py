"""OpenZeppelin's ``StandardMerkleTree`` in Python, byte for byte.

Mirrors ``@openzeppelin/merkle-tree`` 1.0.8 (``dist/{standard,merkletree,core,hashes}.js``) so
that a tree built here has the same root, proofs, multiproofs and ``dump()`` JSON as one built
in JavaScript, and ``MerkleProof.verify`` in Solidity accepts its proofs:

* leaf hash ``keccak256(keccak256(abi.encode(types, value)))``; node hash ``keccak256`` of the
  two children in ascending byte order;
* the tree is an array in which node ``i`` has children ``2i+1`` and ``2i+2``; the sorted leaf
  ``j`` sits at ``len(tree) - 1 - j`` (leaves sorted by hash unless ``sort_leaves=False``).

Why not just ``eth_abi`` + ``eth_utils.keccak`` per node: a 1,000,000-leaf tree (the gas
benchmark) needs 3 million keccak calls. Leaves whose types are all static (address, bool,
uintN, intN, bytesN: every leaf type Attestia uses) are encoded column-wise straight into one
buffer, and hashing calls pycryptodome's C keccak directly over that buffer, about 2.5x faster
than ``eth_utils.keccak`` per call. Any other type falls back to ``eth_abi.encode`` per leaf.

Values are kept as given; ``dump()`` writes them JSON-safe the way the JS library expects them
(integers as decimal strings, bytes as ``0x`` hex), and :meth:`StandardMerkleTree.load` accepts
that form back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from eth_abi import encode as abi_encode
from eth_abi.grammar import TupleType
from eth_abi.grammar import parse as parse_abi_type
from eth_utils import keccak

from offchain.errors import AttestiaError

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


# -- hashing -------------------------------------------------------------------------------------

try:  # pycryptodome's C keccak, driven through cffi without per-call Python objects
    from Crypto.Hash.keccak import _raw_keccak_lib as _KECCAK_LIB
    from Crypto.Util._raw_api import backend as _RAW_BACKEND
    from Crypto.Util._raw_api import ffi as _FFI

    _FAST_KECCAK = _RAW_BACKEND == "cffi"
except ImportError:  # pragma: no cover - depends on the installed pycryptodome
    _FAST_KECCAK = False


def keccak_rows(rows: np.ndarray) -> np.ndarray:
    """keccak256 of every row of a C-contiguous ``(m, L)`` uint8 array, shape ``(m, 32)``."""
    rows = np.ascontiguousarray(rows, dtype=np.uint8)
    count, width = rows.shape
    out = np.empty((count, 32), dtype=np.uint8)
    if not _FAST_KECCAK:
        for i in range(count):
            out[i] = np.frombuffer(keccak(rows[i].tobytes()), dtype=np.uint8)
        return out
    state_ref = _FFI.new("void **")
    if _KECCAK_LIB.keccak_init(state_ref, 64, 24):
        raise MerkleTreeError("could not initialise keccak256 (pycryptodome)")
    state = state_ref[0]
    try:
        src, dst = _FFI.from_buffer(rows), _FFI.from_buffer(out)
        absorb, digest, reset = (_KECCAK_LIB.keccak_absorb, _KECCAK_LIB.keccak_digest,
                                 _KECCAK_LIB.keccak_reset)
        for i in range(count):
            absorb(state, src + i * width, width)
            digest(state, dst + 32 * i, 32, 1)  # padding byte 0x01: Keccak, not SHA3
            reset(state)
    finally:
        _KECCAK_LIB.keccak_destroy(state)
    return out


def _hash_pairs(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Node hashes of many sibling pairs: keccak256 of the two in ascending order."""
    swap = _lex_less(right, left)
    low = np.where(swap[:, None], right, left)
    high = np.where(swap[:, None], left, right)
    return keccak_rows(np.concatenate((low, high), axis=1))


def _lex_less(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise ``a < b`` for ``(m, 32)`` byte arrays read as big-endian integers."""
    differs = a != b
    first = differs.argmax(axis=1)
    rows = np.arange(a.shape[0])
    return differs[rows, first] & (a[rows, first] < b[rows, first])


def standard_node_hash(a: bytes, b: bytes) -> bytes:
    """keccak256 of the two children concatenated in ascending order (OpenZeppelin)."""
    return keccak(a + b if a <= b else b + a)


def standard_leaf_hash(leaf_encoding: Sequence[str], value: LeafValue) -> bytes:
    """``keccak256(keccak256(abi.encode(leaf_encoding, value)))``."""
    return bytes(_leaf_hashes(leaf_encoding, [value])[0])


# -- leaf encoding --------------------------------------------------------------------------------

_WORD = 32
_INT_TYPE = re.compile(r"^(u?)int(\d*)$")
_BYTES_TYPE = re.compile(r"^bytes(\d+)$")


def _as_int(value: Any, abi_type: str) -> int:
    if isinstance(value, bool):
        raise InvalidArgumentError(f"{abi_type} value must be an integer, not a bool ({value})")
    if isinstance(value, int | np.integer):
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


def _word_encoder(abi_type: str) -> Any:
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


def _check_leaf(leaf_encoding: Sequence[str], value: Any) -> None:
    if type(value) not in (list, tuple) and (
            isinstance(value, str | bytes | int | float) or not isinstance(value, Sequence)):
        raise InvalidArgumentError(f"a leaf value must be a list or tuple; got {value!r}")
    if len(value) != len(leaf_encoding):
        raise InvalidArgumentError(
            f"leaf {value!r} has {len(value)} fields but the encoding has {len(leaf_encoding)}"
        )


def _encode_column(abi_type: str, column: list[Any]) -> np.ndarray | None:
    """ABI words of one field across all leaves, ``(n, 32)``; None if the type is not static.

    The common shapes (all hex strings, all plain ints in range) take a bulk path; anything
    else goes value by value, which also produces the precise error message.
    """
    encoder = _word_encoder(abi_type)
    if encoder is None:
        return None
    n = len(column)
    size = 20 if abi_type == "address" else _fixed_bytes_size(abi_type)
    if size and all(type(v) is str and len(v) == 2 + 2 * size and v[:2] in ("0x", "0X")
                    for v in column):
        try:
            raw = np.frombuffer(bytes.fromhex("".join([v[2:] for v in column])), dtype=np.uint8)
        except ValueError:
            raw = None
        if raw is not None:
            words = np.zeros((n, _WORD), dtype=np.uint8)
            if abi_type == "address":
                words[:, 12:] = raw.reshape(n, 20)
            else:
                words[:, :size] = raw.reshape(n, size)
            return words
    match = _INT_TYPE.match(abi_type)
    if match and match.group(1) and all(type(v) is int for v in column):
        bits = int(match.group(2) or 256)
        if min(column) >= 0 and max(column) < (1 << bits):
            data = b"".join([v.to_bytes(_WORD, "big") for v in column])
            return np.frombuffer(data, dtype=np.uint8).reshape(n, _WORD)
    return np.frombuffer(b"".join([encoder(v) for v in column]), dtype=np.uint8).reshape(n, _WORD)


def _fixed_bytes_size(abi_type: str) -> int:
    match = _BYTES_TYPE.match(abi_type)
    return int(match.group(1)) if match else 0


def _leaf_hashes(leaf_encoding: Sequence[str], values: Sequence[LeafValue]) -> np.ndarray:
    """Leaf hashes of many values, shape ``(n, 32)``."""
    for value in values:
        _check_leaf(leaf_encoding, value)
    if values and leaf_encoding and all(_word_encoder(t) for t in leaf_encoding):
        columns = [_encode_column(t, [value[col] for value in values])
                   for col, t in enumerate(leaf_encoding)]
        return keccak_rows(keccak_rows(np.concatenate(columns, axis=1)))
    inner = np.empty((len(values), _WORD), dtype=np.uint8)
    for i, value in enumerate(values):
        try:
            nodes = [parse_abi_type(t) for t in leaf_encoding]
            fields = [_abi_friendly(n, v) for n, v in zip(nodes, value, strict=True)]
            data = abi_encode(list(leaf_encoding), fields)
        except Exception as exc:  # eth_abi raises many unrelated types for bad input
            raise InvalidArgumentError(f"cannot ABI-encode leaf {value!r}: {exc}") from exc
        inner[i] = np.frombuffer(keccak(data), dtype=np.uint8)
    return keccak_rows(inner)


def _json_value(value: Any) -> Any:
    """A leaf field as the JS library stores it in JSON (big ints as decimal strings)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int or isinstance(value, np.integer):
        return str(int(value))
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


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


def _json_rows(values: Sequence[LeafValue]) -> list[Any]:
    """``_json_value`` of every leaf, a column at a time (plain str and int columns in bulk)."""
    if not values or not all(type(v) in (list, tuple) for v in values) or \
            len({len(v) for v in values}) != 1:
        return [_json_value(v) for v in values]
    columns = []
    for column in zip(*values, strict=True):
        kinds = set(map(type, column))
        if kinds == {str}:
            columns.append(column)
        elif kinds == {int}:
            columns.append(tuple(map(str, column)))
        else:
            columns.append(tuple(map(_json_value, column)))
    return [list(row) for row in zip(*columns, strict=True)]


# -- proofs ---------------------------------------------------------------------------------------

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


def _nodes_from_hex(tree: Sequence[Any]) -> np.ndarray:
    """Parse a JS ``tree`` array of 0x-hex nodes into ``(m, 32)`` bytes (bulk when well-formed)."""
    if all(type(node) is str and len(node) == 66 and node[:2] == "0x" for node in tree):
        try:
            raw = bytes.fromhex("".join([node[2:] for node in tree]))
            return np.frombuffer(raw, dtype=np.uint8).reshape(len(tree), _WORD).copy()
        except ValueError:
            pass
    nodes = b"".join([_node(node) for node in tree])
    return np.frombuffer(nodes, dtype=np.uint8).reshape(len(tree), _WORD).copy()


def _hex(node: bytes) -> str:
    return "0x" + node.hex()


def process_proof(leaf_hash: bytes | str, proof: Sequence[bytes | str]) -> str:
    """The root a proof leads to from a leaf hash (hex, like the JS ``processProof``)."""
    node = _node(leaf_hash)
    for sibling in proof:
        node = standard_node_hash(node, _node(sibling))
    return _hex(node)


def process_multi_proof(leaf_hashes: Sequence[bytes | str], proof: Sequence[bytes | str],
                        proof_flags: Sequence[bool]) -> str:
    """The root a multiproof leads to (hex), with the JS library's format checks."""
    stack = [_node(leaf) for leaf in leaf_hashes]
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
        stack.append(standard_node_hash(a, b))
    remaining = len(stack) - stack_pos + len(nodes) - proof_pos
    if remaining != 1:
        raise InvariantError("multiproof did not reduce to a single root")
    return _hex(stack[-1] if len(stack) > stack_pos else nodes[proof_pos])


def verify_proof(root: bytes | str, leaf_encoding: Sequence[str], leaf: LeafValue,
                 proof: Sequence[bytes | str]) -> bool:
    """JS ``StandardMerkleTree.verify``: does ``proof`` take ``leaf`` to ``root``?"""
    return _hex(_node(root)) == process_proof(standard_leaf_hash(leaf_encoding, leaf), proof)


def verify_multi_proof(root: bytes | str, leaf_encoding: Sequence[str],
                       multiproof: MultiProof) -> bool:
    """JS ``StandardMerkleTree.verifyMultiProof``."""
    hashes = [standard_leaf_hash(leaf_encoding, leaf) for leaf in multiproof.leaves]
    return _hex(_node(root)) == process_multi_proof(hashes, multiproof.proof,
                                                    multiproof.proof_flags)


# -- the tree -------------------------------------------------------------------------------------

def _build_internal_nodes(nodes: np.ndarray, n_leaves: int) -> None:
    """Fill nodes ``0 .. n_leaves-2`` from their children, many independent nodes per batch.

    Node ``i`` depends on ``2i+1`` and ``2i+2``; every node in ``[b // 2, b)`` has both
    children at ``>= b``, so the range can be hashed as one batch.
    """
    stop = n_leaves - 1
    while stop > 0:
        start = stop // 2
        nodes[start:stop] = _hash_pairs(nodes[2 * start + 1:2 * stop:2],
                                        nodes[2 * start + 2:2 * stop + 1:2])
        stop = start


class StandardMerkleTree:
    """A Merkle tree of ABI-encoded leaves, compatible with OpenZeppelin's JS library.

    Build with :meth:`of` or :meth:`load`; the constructor takes already-built parts.
    """

    def __init__(self, nodes: np.ndarray, values: Sequence[LeafValue],
                 tree_indices: Sequence[int], leaf_encoding: Sequence[str]) -> None:
        self._nodes = nodes
        self._values = list(values)
        self._tree_index = [int(i) for i in tree_indices]
        self.leaf_encoding: list[str] = list(leaf_encoding)
        self._lookup: dict[bytes, int] | None = None

    @classmethod
    def of(cls, values: Sequence[LeafValue], leaf_encoding: Sequence[str],
           sort_leaves: bool = True) -> StandardMerkleTree:
        """Build a tree over ``values`` (JS ``StandardMerkleTree.of``)."""
        values = list(values)
        if not values:
            raise InvalidArgumentError("Expected non-zero number of leaves")
        hashes = _leaf_hashes(leaf_encoding, values)
        n = len(values)
        if sort_leaves:
            words = hashes.view(">u8").astype(np.uint64)
            order = np.lexsort(words.T[::-1])  # stable, like Array.prototype.sort
        else:
            order = np.arange(n)
        nodes = np.empty((2 * n - 1, _WORD), dtype=np.uint8)
        nodes[n - 1:] = hashes[order][::-1]
        _build_internal_nodes(nodes, n)
        tree_index = np.empty(n, dtype=np.int64)
        tree_index[order] = len(nodes) - 1 - np.arange(n)
        return cls(nodes, values, tree_index.tolist(), leaf_encoding)

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> StandardMerkleTree:
        """Rebuild a tree from :meth:`dump` output (or the JS library's), then validate it."""
        if data.get("format") != FORMAT:
            raise InvalidArgumentError(f"Unknown format '{data.get('format')}'")
        if data.get("leafEncoding") is None:
            raise InvalidArgumentError("Expected leaf encoding")
        try:
            tree = _nodes_from_hex(data["tree"])
            values = [entry["value"] for entry in data["values"]]
            indices = [entry["treeIndex"] for entry in data["values"]]
        except (KeyError, TypeError) as exc:
            raise InvalidArgumentError(f"malformed tree dump: {exc!r}") from exc
        if not len(tree):
            raise InvalidArgumentError("Expected non-zero number of nodes")
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in indices):
            raise InvalidArgumentError("every treeIndex must be an integer")
        loaded = cls(tree, values, indices, data["leafEncoding"])
        loaded.validate()
        return loaded

    @property
    def root(self) -> str:
        """The root as 0x-hex, like the JS ``root``."""
        return _hex(self._nodes[0].tobytes())

    @property
    def values(self) -> list[dict[str, Any]]:
        """JS ``values``: ``{"value", "treeIndex"}`` for each value, in the order given."""
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
        return _hex(standard_leaf_hash(self.leaf_encoding, value))

    def get_proof(self, leaf: int | LeafValue) -> list[str]:
        """Sibling hashes from the leaf up to the root; ``leaf`` is a value index or a value."""
        index = self._value_index(leaf)
        tree_index = self._tree_index[index]
        proof = []
        while tree_index > 0:
            proof.append(_hex(self._nodes[tree_index - (-1) ** (tree_index % 2)].tobytes()))
            tree_index = (tree_index - 1) // 2
        if not self._verify_hash(self._nodes[self._tree_index[index]].tobytes(), proof):
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
                proof.append(_hex(self._nodes[sibling].tobytes()))
            stack.append(parent)
        if not indices:
            proof.append(self.root)
        leaf_hashes = [self._nodes[i].tobytes() for i in indices]
        if process_multi_proof(leaf_hashes, proof, flags) != self.root:
            raise InvariantError("Unable to prove values")
        lookup = self._hash_lookup()
        return MultiProof(leaves=[self._values[lookup[h]] for h in leaf_hashes], proof=proof,
                          proof_flags=flags)

    def verify(self, leaf: int | LeafValue, proof: Sequence[bytes | str]) -> bool:
        """Does ``proof`` take the leaf (value index or value) to this tree's root?"""
        if isinstance(leaf, int) and not isinstance(leaf, bool):
            self._check_index(leaf)
            leaf = self._values[leaf]
        return self._verify_hash(standard_leaf_hash(self.leaf_encoding, leaf), proof)

    def verify_multi_proof(self, multiproof: MultiProof) -> bool:
        """Does the multiproof take its leaves to this tree's root?"""
        leaves = [self._values[leaf] if isinstance(leaf, int) and not isinstance(leaf, bool)
                  else leaf for leaf in multiproof.leaves]
        return verify_multi_proof(self.root, self.leaf_encoding,
                                  MultiProof(leaves, multiproof.proof, multiproof.proof_flags))

    def validate(self) -> None:
        """Check every value sits at its leaf and every node hashes its children."""
        if len(self._values) != len(self._tree_index):
            raise InvariantError("values and tree indices differ in length")
        if self._values:
            hashes = _leaf_hashes(self.leaf_encoding, self._values)
            for index, tree_index in enumerate(self._tree_index):
                if not 0 <= tree_index < len(self._nodes) or not np.array_equal(
                        self._nodes[tree_index], hashes[index]):
                    raise InvariantError("Merkle tree does not contain the expected value")
        if not self._is_valid_tree():
            raise InvariantError("Merkle tree is invalid")

    def dump(self) -> dict[str, Any]:
        """The JSON-ready form the JS ``dump()`` produces (format ``standard-v1``)."""
        return {
            "format": FORMAT,
            "leafEncoding": list(self.leaf_encoding),
            "tree": self.tree_hex(),
            "values": [{"value": value, "treeIndex": tree_index}
                       for value, tree_index in zip(_json_rows(self._values), self._tree_index,
                                                    strict=True)],
        }

    def tree_hex(self) -> list[str]:
        """Every node as 0x-hex, root first (the JS ``tree`` array)."""
        text = self._nodes.tobytes().hex()
        return ["0x" + text[i:i + 64] for i in range(0, len(text), 64)]

    def render(self) -> str:
        """The ASCII drawing of the JS ``render()``."""
        lines = []
        stack: list[tuple[int, list[int]]] = [(0, [])]
        size = len(self._nodes)
        while stack:
            i, path = stack.pop()
            prefix = "".join(["   ", "│  "][p] for p in path[:-1])
            prefix += "".join(["└─ ", "├─ "][p] for p in path[-1:])
            lines.append(f"{prefix}{i}) {_hex(self._nodes[i].tobytes())}")
            if 2 * i + 2 < size:
                stack.append((2 * i + 2, [*path, 0]))
                stack.append((2 * i + 1, [*path, 1]))
        return "\n".join(lines)

    # -- internals ----------------------------------------------------------------------------

    def _hash_lookup(self) -> dict[bytes, int]:
        if self._lookup is None:  # built on first use: a million-leaf tree rarely needs it
            self._lookup = {self._nodes[t].tobytes(): i for i, t in enumerate(self._tree_index)}
        return self._lookup

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self._values):
            raise InvalidArgumentError("Index out of bounds")

    def _value_index(self, leaf: int | LeafValue) -> int:
        if isinstance(leaf, int) and not isinstance(leaf, bool):
            index = leaf
        else:
            index = self._hash_lookup().get(standard_leaf_hash(self.leaf_encoding, leaf), -1)
            if index < 0:
                raise InvalidArgumentError("Leaf is not in tree")
        self._check_index(index)
        expected = standard_leaf_hash(self.leaf_encoding, self._values[index])
        if self._nodes[self._tree_index[index]].tobytes() != expected:
            raise InvariantError("Merkle tree does not contain the expected value")
        return index

    def _verify_hash(self, leaf_hash: bytes, proof: Sequence[bytes | str]) -> bool:
        return self.root == process_proof(leaf_hash, proof)

    def _is_valid_tree(self) -> bool:
        size = len(self._nodes)
        if size % 2 == 0:  # a node with a left child but no right child
            return False
        internal = (size - 1) // 2
        if internal == 0:
            return True
        expected = _hash_pairs(self._nodes[1:2 * internal:2], self._nodes[2:2 * internal + 1:2])
        return bool(np.array_equal(expected, self._nodes[:internal]))
