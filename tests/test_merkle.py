"""StandardMerkleTree: byte-for-byte agreement with @openzeppelin/merkle-tree, proofs, dumps,
the fast encoding path against eth_abi, and every error path."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from offchain.merkle import (
    InvalidArgumentError,
    InvariantError,
    MultiProof,
    StandardMerkleTree,
    verify_multi_proof,
    verify_proof,
)

REPO = Path(__file__).resolve().parents[1]
GOLDEN_SCRIPT = REPO / "tests" / "golden" / "merkle_vectors.js"
REWARDS = ["address", "uint256"]
INFERENCE = ["bytes32", "bytes32", "bytes32", "bytes32", "bytes32", "uint8", "bytes32", "address",
             "uint64"]


def rewards_values(n: int, seed: int) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    return [(to_checksum_address(rng.randbytes(20)), rng.getrandbits(96)) for _ in range(n)]


def inference_values(n: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    return [(*(rng.randbytes(32) for _ in range(5)), rng.choice([1, 2, 3]), rng.randbytes(32),
             to_checksum_address(rng.randbytes(20)), rng.getrandbits(64)) for _ in range(n)]


def golden_specs() -> list[tuple[list[str], list, bool]]:
    specs = []
    for n in (1, 2, 3, 7, 100):
        specs.append((REWARDS, rewards_values(n, n), True))
        specs.append((INFERENCE, inference_values(n, n), True))
    specs.append((REWARDS, rewards_values(7, 99), False))
    duplicated = rewards_values(3, 5)
    specs.append((REWARDS, [*duplicated, duplicated[1]], True))
    specs.append((["string", "bool", "uint256[]", "int32"],
                  [("hello", True, [1, 2], -5), ("", False, [], 2**31 - 1),
                   ("ünïcode", True, [2**256 - 1], -(2**31))], True))
    specs.append((["(uint256,bytes)", "bytes", "bytes32[2]"],
                  [((7, b"\x01\x02"), b"abc", [b"\x11" * 32, b"\x22" * 32]),
                   ((2**200, b""), b"", [b"\x33" * 32, b"\x00" * 32])], True))
    specs.append(([], [[], []], True))
    return specs


@pytest.fixture(scope="module")
def golden() -> list[tuple[StandardMerkleTree, dict]]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: cannot produce @openzeppelin/merkle-tree vectors")
    trees = [StandardMerkleTree.of(values, encoding, sort_leaves=sort)
             for encoding, values, sort in golden_specs()]
    request = [{"encoding": t.leaf_encoding, "values": [e["value"] for e in t.dump()["values"]],
                "sortLeaves": sort}
               for t, (_, _, sort) in zip(trees, golden_specs(), strict=True)]
    result = subprocess.run(["node", str(GOLDEN_SCRIPT)], input=json.dumps(request), cwd=REPO,
                            capture_output=True, text=True, check=True, timeout=60)
    return list(zip(trees, json.loads(result.stdout), strict=True))


def test_root_proofs_multiproof_render_and_dump_match_javascript(golden) -> None:
    for tree, js in golden:
        assert tree.root == js["root"]
        assert [tree.get_proof(i) for i in range(len(tree))] == js["proofs"]
        n = len(tree)
        multi = tree.get_multi_proof(list(dict.fromkeys([0, n - 1, n // 2])))
        assert multi.proof == js["multiProof"]["proof"]
        assert multi.proof_flags == js["multiProof"]["proofFlags"]
        assert [tree.leaf_hash(v) for v in multi.leaves] == \
            [tree.leaf_hash(v) for v in js["multiProof"]["leaves"]]
        assert tree.render() == js["render"]
        assert tree.dump() == js["dump"]


def test_loading_a_javascript_dump_gives_the_same_tree(golden) -> None:
    for tree, js in golden:
        loaded = StandardMerkleTree.load(js["dump"])
        assert loaded.root == tree.root
        assert [loaded.get_proof(i) for i in range(len(loaded))] == js["proofs"]
        assert loaded.dump() == js["dump"]


def test_openzeppelin_readme_vector() -> None:
    values = [["0x1111111111111111111111111111111111111111", "5000000000000000000"],
              ["0x2222222222222222222222222222222222222222", "2500000000000000000"]]
    tree = StandardMerkleTree.of(values, REWARDS)
    assert tree.root == "0xd4dee0beab2d53f2cc83e567171bd2820e49898130a22622b10ead383e90bd77"
    assert tree.get_proof(values[0]) == tree.get_proof(0)
    assert verify_proof(tree.root, REWARDS, [values[0][0], 5 * 10**18], tree.get_proof(0))


def test_fast_static_encoding_equals_eth_abi() -> None:
    rng = random.Random(11)
    types = ["address", "bool", "uint8", "uint64", "uint256", "int8", "int256", "bytes4",
             "bytes32", "uint", "int"]
    for _ in range(300):
        value = [to_checksum_address(rng.randbytes(20)), rng.random() < 0.5,
                 rng.randrange(256), rng.getrandbits(64), rng.getrandbits(256),
                 rng.randrange(-128, 128), rng.randrange(-(2**255), 2**255), rng.randbytes(4),
                 rng.randbytes(32), rng.getrandbits(200), -rng.getrandbits(200)]
        expected = "0x" + keccak(keccak(encode(types, value))).hex()
        tree = StandardMerkleTree.of([value], types)
        assert tree.root == tree.leaf_hash(value) == expected
        as_json = [value[0].lower(), value[1], str(value[2]), hex(value[3]), str(value[4]),
                   str(value[5]), str(value[6]), "0x" + value[7].hex(), "0x" + value[8].hex(),
                   value[9], value[10]]
        assert tree.leaf_hash(as_json) == expected


def test_bulk_and_per_value_encoding_agree() -> None:
    values = rewards_values(50, 3)
    bulk = StandardMerkleTree.of(values, REWARDS)
    mixed = StandardMerkleTree.of([(bytes.fromhex(a[2:]), str(v)) for a, v in values], REWARDS)
    assert bulk.root == mixed.root


def test_bulk_columns_equal_eth_abi_for_many_leaves() -> None:
    values = inference_values(300, 4)
    as_json = [[*("0x" + v.hex() for v in value[:5]), value[5], "0x" + value[6].hex(),
                *value[7:]] for value in values]
    leaves = [keccak(keccak(encode(INFERENCE, value))) for value in values]
    expected = StandardMerkleTree.of(values, INFERENCE)
    assert sorted(expected.leaf_hash(v) for v in values) == sorted("0x" + h.hex() for h in leaves)
    assert StandardMerkleTree.of(as_json, INFERENCE).root == expected.root
    numpy_ints = [[*value[:5], np.uint8(value[5]), *value[6:8], np.uint64(value[8])]
                  for value in values]
    tree = StandardMerkleTree.of(numpy_ints, INFERENCE)
    assert tree.root == expected.root
    assert [e["value"] for e in tree.dump()["values"]] == \
        [e["value"] for e in expected.dump()["values"]]


def _reference_tree(values: list, types: list[str]) -> tuple[list[bytes], list[int]]:
    """The JS library's algorithm, leaf by leaf with eth_abi: (nodes, tree index per value)."""
    hashes = [keccak(keccak(encode(types, value))) for value in values]
    order = sorted(range(len(values)), key=hashes.__getitem__)  # stable, as JS sort
    nodes = [b""] * (len(values) - 1) + [hashes[i] for i in reversed(order)]
    for i in range(len(values) - 2, -1, -1):
        a, b = nodes[2 * i + 1], nodes[2 * i + 2]
        nodes[i] = keccak(a + b if a <= b else b + a)
    index = [0] * len(values)
    for position, i in enumerate(order):
        index[i] = len(nodes) - 1 - position
    return nodes, index


@pytest.mark.parametrize("seed", range(6))
def test_bulk_tree_equals_the_reference_algorithm_on_random_leaves(seed: int) -> None:
    """The bulk path (numpy columns, one buffer hashed by views, numpy's stable argsort) gives
    the nodes and tree indices of the leaf-by-leaf algorithm: amounts either side of 2**64
    (numpy's uint64 path and to_bytes), addresses in any case, duplicated leaves (equal hashes
    keep their given order), sizes around the bulk threshold."""
    rng = random.Random(seed)
    types = ["address", "uint256", "bytes4", "uint64"]
    n = rng.choice([16, 17, 31, 64, 257, 1000])
    values = []
    for _ in range(n):
        account = "0x" + rng.randbytes(20).hex()
        account = rng.choice([account, account.upper().replace("0X", "0x"),
                              to_checksum_address(account)])
        amount = rng.choice([0, 1, 2**64 - 1, 2**64, rng.getrandbits(rng.choice([8, 64, 65,
                                                                                  256]))])
        values.append([account, amount, rng.randbytes(4), rng.getrandbits(64)])
    values += [list(values[0]), list(values[1])]  # duplicates
    rng.shuffle(values)
    if seed % 2:  # every amount below 2**64: the uint64 column path only
        values = [[a, v % 2**64, b, c] for a, v, b, c in values]
    tree = StandardMerkleTree.of(values, types)
    nodes, index = _reference_tree([[bytes.fromhex(v[0][2:]), *v[1:]] for v in values], types)
    assert tree.dump()["tree"] == ["0x" + node.hex() for node in nodes]
    assert [entry["treeIndex"] for entry in tree.dump()["values"]] == index
    for i in range(0, len(values), 37):
        assert verify_proof(tree.root, types, values[i], tree.get_proof(i))


@pytest.mark.parametrize("bad", ["0X" + "ab" * 32, "0x" + "ab" * 15 + "0x" + "ab" * 16,
                                 "0x" + "ab" * 31 + " a", "0x" + "ab" * 31 + "zz"])
def test_one_odd_hex_value_in_a_column_is_read_alone(bad: str) -> None:
    values = [[("0x" + f"{i:02x}" * 32)] for i in range(20)]
    values[7] = [bad]
    if bad.startswith("0X"):  # accepted, just not in bulk
        assert StandardMerkleTree.of(values, ["bytes32"]).root == StandardMerkleTree.of(
            [[bytes.fromhex(v[0][2:])] for v in values], ["bytes32"]).root
        return
    with pytest.raises(InvalidArgumentError, match=f"got '{bad}'"):
        StandardMerkleTree.of(values, ["bytes32"])


def test_empty_leaf_encoding_dumps_and_loads() -> None:
    tree = StandardMerkleTree.of([[], ()], [])
    assert tree.root == "0x" + keccak(keccak(keccak(b"")) * 2).hex()
    assert tree.dump()["values"] == [{"value": [], "treeIndex": 2}, {"value": [], "treeIndex": 1}]
    assert StandardMerkleTree.load(tree.dump()).root == tree.root


def test_proofs_verify_and_tampering_fails() -> None:
    values = rewards_values(13, 8)
    tree = StandardMerkleTree.of(values, REWARDS)
    for i, value in enumerate(values):
        proof = tree.get_proof(value)
        assert tree.verify(i, proof) and tree.verify(value, proof)
        assert verify_proof(tree.root, REWARDS, value, proof)
    proof = tree.get_proof(0)
    bad = [proof[0][:-1] + ("0" if proof[0][-1] != "0" else "1"), *proof[1:]]
    assert not tree.verify(0, bad)
    assert not tree.verify(values[1], proof)
    assert not verify_proof(tree.root, REWARDS, (values[0][0], values[0][1] + 1), proof)


def test_multiproofs() -> None:
    values = rewards_values(9, 9)
    tree = StandardMerkleTree.of(values, REWARDS)
    multi = tree.get_multi_proof([values[2], 5, 7])
    assert tree.verify_multi_proof(multi)
    assert verify_multi_proof(tree.root, REWARDS, multi)
    by_index = MultiProof([values.index(v) for v in multi.leaves], multi.proof,
                          multi.proof_flags)
    assert tree.verify_multi_proof(by_index)
    assert not verify_multi_proof(tree.root, REWARDS,
                                  MultiProof(multi.leaves[::-1][:1] + multi.leaves[1:],
                                             multi.proof, multi.proof_flags))
    empty = tree.get_multi_proof([])
    assert empty.proof == [tree.root] and empty.leaves == [] and empty.proof_flags == []
    with pytest.raises(InvalidArgumentError, match="duplicated index"):
        tree.get_multi_proof([1, values[1]])


def test_unsorted_leaves_keep_their_order() -> None:
    values = rewards_values(4, 12)
    tree = StandardMerkleTree.of(values, REWARDS, sort_leaves=False)
    assert [e["treeIndex"] for e in tree.dump()["values"]] == [6, 5, 4, 3]
    assert tree.at(-1) == values[-1] and tree.at(4) is None
    assert list(tree.entries()) == list(enumerate(values))
    assert tree.values == [{"value": v, "treeIndex": 6 - i} for i, v in enumerate(values)]


def test_single_leaf_tree() -> None:
    tree = StandardMerkleTree.of(rewards_values(1, 1), REWARDS)
    assert tree.root == tree.leaf_hash(tree.at(0))
    assert tree.get_proof(0) == []
    assert tree.render() == f"0) {tree.root}"


@pytest.mark.parametrize(
    ("types", "value", "message"),
    [
        (["uint8"], [256], "out of range"),
        (["uint8"], [-1], "out of range"),
        (["int8"], [128], "out of range"),
        (["uint256"], [True], "not a bool"),
        (["uint256"], ["12x"], "decimal/0x-hex"),
        (["uint256"], [1.5], "decimal/0x-hex"),
        (["bytes32"], ["0x1234"], "must be 32 bytes"),
        (["bytes32"], [b"\0" * 31], "must be 32 bytes"),
        (["bytes4"], ["1234abcd"], "must be 4 bytes"),
        (["address"], ["0xZZ11111111111111111111111111111111111111"], "must be 20 bytes"),
        (["bool"], [1], "True or False"),
        (["address", "uint256"], ["0x" + "11" * 20], "has 1 fields"),
        (["uint256"], 5, "list or tuple"),
        (["uint256"], "5", "list or tuple"),
        (["string"], [5], "cannot ABI-encode"),
    ],
)
def test_bad_leaf_values_are_rejected(types, value, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        StandardMerkleTree.of([value], types)
    good = {"uint8": 1, "int8": 1, "uint256": 1, "bytes32": b"\0" * 32, "bytes4": b"\0" * 4,
            "address": "0x" + "11" * 20, "bool": True, "string": "x"}
    with pytest.raises(InvalidArgumentError, match=message):  # many leaves: column by column
        StandardMerkleTree.of([[good[t] for t in types]] * 20 + [value], types)


def test_lookup_errors() -> None:
    values = rewards_values(3, 2)
    tree = StandardMerkleTree.of(values, REWARDS)
    with pytest.raises(InvalidArgumentError, match="Expected non-zero number of leaves"):
        StandardMerkleTree.of([], REWARDS)
    with pytest.raises(InvalidArgumentError, match="Leaf is not in tree"):
        tree.get_proof((values[0][0], values[0][1] + 1))
    for index in (3, -1):
        with pytest.raises(InvalidArgumentError, match="Index out of bounds"):
            tree.get_proof(index)
        with pytest.raises(InvalidArgumentError, match="Index out of bounds"):
            tree.verify(index, [])


def test_load_rejects_bad_dumps() -> None:
    dump = StandardMerkleTree.of(rewards_values(5, 6), REWARDS).dump()
    with pytest.raises(InvalidArgumentError, match="Unknown format 'v0'"):
        StandardMerkleTree.load({**dump, "format": "v0"})
    with pytest.raises(InvalidArgumentError, match="Expected leaf encoding"):
        StandardMerkleTree.load({k: v for k, v in dump.items() if k != "leafEncoding"})
    with pytest.raises(InvalidArgumentError, match="malformed tree dump"):
        StandardMerkleTree.load({k: v for k, v in dump.items() if k != "values"})
    with pytest.raises(InvalidArgumentError, match="32 bytes"):
        StandardMerkleTree.load({**dump, "tree": ["0x1234", *dump["tree"][1:]]})
    with pytest.raises(InvalidArgumentError, match="non-zero number of nodes"):
        StandardMerkleTree.load({**dump, "tree": [], "values": []})
    with pytest.raises(InvalidArgumentError, match="treeIndex must be an integer"):
        StandardMerkleTree.load({**dump, "values": [{"value": dump["values"][0]["value"],
                                                     "treeIndex": "4"}]})
    tampered_node = {**dump, "tree": ["0x" + "00" * 32, *dump["tree"][1:]]}
    with pytest.raises(InvariantError, match="Merkle tree is invalid"):
        StandardMerkleTree.load(tampered_node)
    moved = [dict(e) for e in dump["values"]]
    moved[0]["treeIndex"], moved[1]["treeIndex"] = moved[1]["treeIndex"], moved[0]["treeIndex"]
    with pytest.raises(InvariantError, match="does not contain the expected value"):
        StandardMerkleTree.load({**dump, "values": moved})
    outside = [dict(e) for e in dump["values"]]
    outside[0]["treeIndex"] = 99
    with pytest.raises(InvariantError, match="does not contain the expected value"):
        StandardMerkleTree.load({**dump, "values": outside})
    with pytest.raises(InvariantError, match="Merkle tree is invalid"):
        StandardMerkleTree.load({**dump, "tree": dump["tree"][:-1], "values": dump["values"][:1]})


def test_tree_with_a_corrupted_leaf_refuses_to_prove() -> None:
    tree = StandardMerkleTree.of(rewards_values(4, 7), REWARDS)
    leaf = tree._nodes[tree._tree_index[2]]  # simulate memory corruption of one leaf
    tree._nodes[tree._tree_index[2]] = bytes([leaf[0] ^ 1]) + leaf[1:]
    with pytest.raises(InvariantError, match="does not contain the expected value"):
        tree.get_proof(2)
    with pytest.raises(InvariantError):
        tree.validate()


def test_proof_format_errors() -> None:
    node = "0x" + "11" * 32
    leaf = rewards_values(1, 1)[0]
    with pytest.raises(InvalidArgumentError, match="Invalid multiproof format"):
        verify_multi_proof(node, REWARDS, MultiProof([leaf], [], [False]))
    with pytest.raises(InvalidArgumentError, match="not compatible"):
        verify_multi_proof(node, REWARDS, MultiProof([leaf, leaf], [node], [True]))
    with pytest.raises(InvalidArgumentError, match="32 bytes"):
        verify_proof(node, REWARDS, leaf, ["0x11"])
    with pytest.raises(InvalidArgumentError, match="32 bytes"):
        verify_proof("0x11", REWARDS, leaf, [])
    assert verify_multi_proof(node, REWARDS, MultiProof([], [node], []))


_TWO_PROCESSES = """
import os, random, sys, threading
from offchain import merkle
assert threading.active_count() == 1
rng = random.Random(5)
values = [["0x" + rng.randbytes(20).hex(), rng.getrandbits(100)] for _ in range(1001)]
serial = merkle.StandardMerkleTree.of(values, ["address", "uint256"]).dump()
merkle.PARALLEL_LEAVES = 16
parent = os.getpid()
real = merkle._double_hashes
calls = []
def spy(joined, size, start, stop):
    calls.append((start, stop))
    return real(joined, size, start, stop)
merkle._double_hashes = spy
assert merkle.StandardMerkleTree.of(values, ["address", "uint256"]).dump() == serial
assert calls == [(0, 500 * 64)]  # this process hashed the first half, the child the rest
def failing(joined, size, start, stop):
    if os.getpid() != parent:
        raise RuntimeError("the child fails")
    return real(joined, size, start, stop)
merkle._double_hashes = failing
joined = memoryview(b"".join(bytes([i % 256]) * 64 for i in range(1001)))
assert merkle._hash_in_two_processes(joined, 64) is None  # a failed child: no answer
assert merkle.StandardMerkleTree.of(values, ["address", "uint256"]).dump() == serial
print("ok")
"""


def test_leaves_hashed_in_two_processes_equal_one_process() -> None:
    """A settlement-sized tree hashes the second half of its leaves in a forked child; the
    tree is the one-process tree, and a child that fails leaves the work to the parent. In a
    fresh interpreter: the fork is used only with no other thread running."""
    done = subprocess.run([sys.executable, "-c", _TWO_PROCESSES], capture_output=True,
                          text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
