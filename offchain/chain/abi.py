"""ABI values by name, decoded with eth_abi alone (no web3): event logs for the indexer and the
light read path, and view-call results shaped as web3 shapes them.

web3's ``process_log`` is general (normalisers, validation, AttributeDicts) and costs ~2 ms a
log; the indexer reads tens of thousands, so :class:`EventType` decodes each event's topics
and data once per type with ``eth_abi`` and names every value by the ABI (structs become dicts
by component name, addresses are checksummed), which is what ``offchain.registry``'s decoders
and ``protocol.from_abi`` read. :func:`call_result` gives a view's outputs the shape a web3
contract built with ``decode_tuples=True`` returns (structs as named tuples, arrays as lists,
addresses checksummed, one output unwrapped), so the typed clients read either the same way.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from eth_abi import decode
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address
from eth_utils.abi import event_abi_to_log_topic


def abi_type(param: Mapping[str, Any]) -> str:
    """The canonical ABI type string of an ABI parameter (tuples spelled out)."""
    if param["type"].startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param["components"])
        return f"({inner}){param['type'][5:]}"
    return str(param["type"])


@lru_cache(maxsize=65_536)
def checksum(address: str) -> ChecksumAddress:
    return to_checksum_address(address)


def _named(param: Mapping[str, Any], value: Any) -> Any:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        components = param["components"]
        if kind.endswith("]"):
            inner = dict(param, type="tuple")
            return [_named(inner, item) for item in value]
        return {c["name"]: _named(c, v) for c, v in zip(components, value, strict=True)}
    if kind == "address":
        return checksum(value)
    if kind == "address[]":
        return [checksum(v) for v in value]
    return value


def named_values(params: Sequence[Mapping[str, Any]], values: Sequence[Any]) -> dict[str, Any]:
    """ABI-ordered values by parameter name (structs as dicts, addresses checksummed): what
    web3's ``decode_function_input`` gives for a call's arguments."""
    return {p["name"]: _named(p, v) for p, v in zip(params, values, strict=True)}


@lru_cache(maxsize=1024)
def _tuple_class(names: tuple[str, ...]) -> Any:
    return namedtuple("ABIDecodedNamedTuple", names, rename=True)  # type: ignore[misc]


def _shaped(param: Mapping[str, Any], value: Any) -> Any:
    kind = str(param["type"])
    if kind.endswith("]"):
        item = dict(param, type=kind[:kind.rindex("[")])
        return [_shaped(item, v) for v in value]
    if kind == "tuple":
        components = param["components"]
        names = tuple(str(c.get("name", "")) for c in components)
        return _tuple_class(names)(*(_shaped(c, v) for c, v in zip(components, value,
                                                                      strict=True)))
    if kind == "address":
        return checksum(value)
    return value


def call_result(outputs: Sequence[Mapping[str, Any]], data: bytes) -> Any:
    """A view's return data as web3 returns it with ``decode_tuples=True``: one output is
    returned alone; several come as a named tuple of the outputs."""
    values = decode([abi_type(p) for p in outputs], data)
    shaped = [_shaped(p, v) for p, v in zip(outputs, values, strict=True)]
    if len(shaped) == 1:
        return shaped[0]
    names = tuple(str(p.get("name", "")) for p in outputs)
    return _tuple_class(names)(*shaped)


def _topic(kind: str, word: bytes) -> Any:
    """An indexed value from its 32-byte topic (the static types, read directly; a dynamic
    value is logged as its hash, which is what a topic holds)."""
    if kind == "address":
        return checksum("0x" + word[12:].hex())
    if kind.startswith("uint"):
        return int.from_bytes(word, "big")
    if kind.startswith("int"):
        return int.from_bytes(word, "big", signed=True)
    if kind == "bool":
        return word[-1] == 1
    if kind.startswith("bytes") and kind != "bytes":
        return word[:int(kind[5:])]
    return word


class EventType:
    """One event of one contract: its topic and how to name its values."""

    def __init__(self, abi: Mapping[str, Any]) -> None:
        self.name = str(abi["name"])
        self.abi = abi
        self.topic = bytes(event_abi_to_log_topic(dict(abi)))  # type: ignore[arg-type]
        inputs = list(abi["inputs"])
        self.indexed = [p for p in inputs if p.get("indexed")]
        self.data = [p for p in inputs if not p.get("indexed")]
        self.data_types = [abi_type(p) for p in self.data]
        self.order = [p["name"] for p in inputs]

    def decode(self, log: Mapping[str, Any]) -> dict[str, Any]:
        """``{"args": {...}, "blockNumber", "transactionHash", "logIndex"}`` of a raw log."""
        args: dict[str, Any] = {}
        topics = log["topics"][1:]
        if len(topics) != len(self.indexed):
            raise ValueError(f"{self.name}: {len(topics)} indexed topics, the ABI has "
                             f"{len(self.indexed)}")
        for param, topic in zip(self.indexed, topics, strict=True):
            args[param["name"]] = _topic(abi_type(param), bytes(topic))
        values = decode(self.data_types, bytes(log["data"]))
        for param, value in zip(self.data, values, strict=True):
            args[param["name"]] = _named(param, value)
        return {"args": {name: args[name] for name in self.order},
                "blockNumber": log["blockNumber"], "transactionHash": log["transactionHash"],
                "logIndex": log["logIndex"]}
