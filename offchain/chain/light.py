"""The light read path: JSON-RPC over the standard library and eth_abi, without web3.

Importing web3 costs most of a second (it imports aiohttp, requests, eth-account and its
providers), several times what an everyday read (``model list``, ``worker list``, ``rewards
status``...) spends on the chain. Read-only commands therefore talk to the node through
:class:`LightWeb3`, which answers the part of web3's interface the typed clients
(:mod:`offchain.registry`) use to READ: ``w3.eth.chain_id / block_number / get_code /
get_block / get_logs / get_transaction / call`` and, for a contract, ``functions.f(...).call()``,
``events.E.get_logs(...)`` / ``process_log`` and ``decode_function_input``, with the values in
web3's shapes (view results as with ``decode_tuples=True``; event arguments by name, structs
as mappings, addresses checksummed; block and log fields as ints and bytes). Nothing here
signs or sends: a light contract has no ``Call`` encoding, so a write through it fails at once.
``tests/chain/test_light.py`` checks every typed read against web3's answer.

Transport: like the web3 provider (``offchain.chain.connection.make_web3``), ``RPC_ATTEMPTS``
attempts in all per request on a connection error, a timeout or HTTP 429/502/503/504 (every
method here is a read), then one :class:`RPCUnavailable` naming the host only (a URL's path
may hold an API key); connections are kept alive, one per thread, like web3's session.
"""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_utils import function_abi_to_4byte_selector, keccak
from hexbytes import HexBytes

from offchain.chain.abi import EventType, abi_type, call_result, checksum, named_values
from offchain.errors import ChainError

# Attempts per RPC request in total (first try included), and the backoff before each retry:
# sleeps of RPC_BACKOFF * 2**i, so 0.1 s then 0.2 s. With the 30 s timeout, a dead endpoint
# costs at most 3 timeouts + 0.3 s before one RPCUnavailable.
RPC_ATTEMPTS = 3
RPC_BACKOFF = 0.1
RPC_TIMEOUT = 30
RETRY_STATUS = frozenset({429, 502, 503, 504})


class RPCUnavailable(ChainError):
    """An RPC request failed at the transport level (after the retries, if that method and
    that error are retried)."""


class RPCError(ChainError):
    """The node answered a request with a JSON-RPC error (a reverted view call, a bad
    parameter, a range the node will not scan), or a view call with nothing its ABI decodes
    (no contract there: web3's BadFunctionCallOutput)."""

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.data = data


class AttrDict(dict[str, Any]):
    """A dict whose keys also read as attributes (web3's AttributeDict, for reading)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class JsonRpc:
    """One JSON-RPC endpoint: HTTP/1.1 over ``http.client``, one kept-alive connection per
    thread (a remote https endpoint costs one TLS handshake, not one a call), or urllib when
    the environment names a proxy for the endpoint's host."""

    def __init__(self, url: str, *, attempts: int = RPC_ATTEMPTS, backoff: float = RPC_BACKOFF,
                 timeout: float = RPC_TIMEOUT) -> None:
        self.url = url
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        parts = urllib.parse.urlsplit(url)
        self._https = parts.scheme == "https"
        self._address = (parts.hostname or "", parts.port)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if parts.username is not None:  # user:password@host, as requests would send it
            token = f"{urllib.parse.unquote(parts.username)}:" \
                    f"{urllib.parse.unquote(parts.password or '')}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
        self._proxied = bool(urllib.request.getproxies()) and not urllib.request.proxy_bypass(
            parts.hostname or "")
        self._shown = parts.hostname + (f":{parts.port}" if parts.port else "") \
            if parts.hostname else "?"  # no path (keys hide there), no user or password
        self._local = threading.local()
        self._ids = itertools.count(1)

    def request(self, method: str, params: Sequence[Any] = ()) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method,
                           "params": list(params)}).encode()
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                status, reason, answer = self._post(body)
            except (OSError, http.client.HTTPException, urllib.error.URLError) as exc:
                failure: Exception = exc
                continue
            if status == 200:
                break
            failure = _HttpStatus(status, reason)
            if status not in RETRY_STATUS:
                raise self._unavailable(method, attempt + 1, failure) from None
        else:
            raise self._unavailable(method, self.attempts, failure) from None
        try:
            reply = json.loads(answer)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise RPCError(f"{method}: the node's answer is not a JSON-RPC reply")
        if reply.get("error"):
            error = reply["error"]
            raise RPCError(f"{method}: {error.get('message', error)}", error.get("data"))
        return reply.get("result")

    def _post(self, body: bytes) -> tuple[int, str, bytes]:
        if self._proxied:
            return self._post_via_urllib(body)
        kept = getattr(self._local, "connection", None)
        try:
            return self._exchange(kept or self._connect(), body)
        except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
            if kept is None:
                raise
        # the server closed the kept-alive connection while it was idle: that is no attempt
        # at this request, which is sent once more on a new connection
        return self._exchange(self._connect(), body)

    def _connect(self) -> http.client.HTTPConnection:
        host, port = self._address
        connection: http.client.HTTPConnection
        if self._https:
            import ssl

            connection = http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=ssl.create_default_context())
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
        self._local.connection = connection
        return connection

    def _exchange(self, connection: http.client.HTTPConnection, body: bytes
                  ) -> tuple[int, str, bytes]:
        try:
            connection.request("POST", self._path, body, self._headers)
            response = connection.getresponse()
            answer = response.read()
        except BaseException:
            connection.close()
            self._local.connection = None
            raise
        if response.will_close:
            connection.close()
            self._local.connection = None
        return response.status, response.reason, answer

    def _post_via_urllib(self, body: bytes) -> tuple[int, str, bytes]:
        request = urllib.request.Request(self.url, data=body, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return int(response.status), str(response.reason), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, str(exc.reason), b""

    def _unavailable(self, what: str, attempts: int, exc: Exception) -> RPCUnavailable:
        why = (str(exc) if isinstance(exc, _HttpStatus)
               else type(getattr(exc, "reason", None) or exc).__name__)
        return RPCUnavailable(
            f"{what}: the RPC endpoint {self._shown} failed {attempts} attempt(s): {why}")


class _HttpStatus(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status} {reason}")


# web3's result formatters, for the fields a read looks at: quantities become ints, hashes and
# byte strings HexBytes, addresses checksummed.
_INTS = frozenset({"number", "timestamp", "gasLimit", "gasUsed", "baseFeePerGas", "size",
                   "difficulty", "blockNumber", "logIndex", "transactionIndex", "nonce",
                   "gas", "gasPrice", "value", "chainId", "type", "maxFeePerGas",
                   "maxPriorityFeePerGas", "v", "yParity", "status", "cumulativeGasUsed",
                   "effectiveGasPrice"})
_BYTES = frozenset({"hash", "parentHash", "blockHash", "transactionHash", "input", "data",
                    "stateRoot", "receiptsRoot", "transactionsRoot", "logsBloom", "r", "s",
                    "mixHash", "sha3Uncles", "extraData"})
_ADDRESSES = frozenset({"to", "from", "address", "miner", "contractAddress"})


def _formatted(raw: Mapping[str, Any]) -> AttrDict:
    out = AttrDict()
    for key, value in raw.items():
        if value is None:
            out[key] = None
        elif key in _INTS and isinstance(value, str):
            out[key] = int(value, 16)
        elif key in _BYTES and isinstance(value, str):
            out[key] = HexBytes(value)
        elif key in _ADDRESSES and isinstance(value, str):
            out[key] = checksum(value)
        elif key == "topics":
            out[key] = [HexBytes(t) for t in value]
        elif key == "logs":
            out[key] = [_formatted(log) for log in value]
        else:
            out[key] = value
    return out


def _block_id(block: Any) -> Any:
    if isinstance(block, int) and not isinstance(block, bool):
        return hex(block)
    if isinstance(block, bytes):
        return "0x" + block.hex()
    return block if block is not None else "latest"


def _hex(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int) and not isinstance(value, bool):
        return hex(value)
    if isinstance(value, list | tuple):
        return [_hex(v) for v in value]
    return value


class LightEth:
    """``w3.eth`` for reading."""

    def __init__(self, rpc: JsonRpc) -> None:
        self.rpc = rpc
        self._chain_id: int | None = None

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:  # an endpoint's chain id does not change
            self._chain_id = int(self.rpc.request("eth_chainId"), 16)
        return self._chain_id

    @property
    def block_number(self) -> int:
        return int(self.rpc.request("eth_blockNumber"), 16)

    def get_code(self, address: str, block_identifier: Any = "latest") -> HexBytes:
        return HexBytes(self.rpc.request("eth_getCode", [address, _block_id(block_identifier)]))

    def get_balance(self, address: str, block_identifier: Any = "latest") -> int:
        return int(self.rpc.request("eth_getBalance", [address, _block_id(block_identifier)]),
                   16)

    def get_block(self, block_identifier: Any, full_transactions: bool = False) -> AttrDict:
        method = ("eth_getBlockByHash" if isinstance(block_identifier, bytes)
                  or (isinstance(block_identifier, str) and len(block_identifier) == 66)
                  else "eth_getBlockByNumber")
        block = self.rpc.request(method, [_block_id(block_identifier), full_transactions])
        if block is None:
            raise ChainError(f"block {block_identifier!r} not found")
        return _formatted(block)

    def get_transaction(self, tx_hash: Any) -> AttrDict:
        tx = self.rpc.request("eth_getTransactionByHash", [_hex(bytes(HexBytes(tx_hash)))])
        if tx is None:
            raise ChainError(f"transaction {HexBytes(tx_hash).to_0x_hex()} not found")
        return _formatted(tx)

    def get_logs(self, query: Mapping[str, Any]) -> list[AttrDict]:
        params = {k: (_block_id(v) if k in ("fromBlock", "toBlock") else _hex(v))
                  for k, v in query.items()}
        return [_formatted(log) for log in self.rpc.request("eth_getLogs", [params])]

    def call(self, transaction: Mapping[str, Any], block_identifier: Any = "latest") -> HexBytes:
        tx = {k: _hex(v) for k, v in transaction.items()}
        return HexBytes(self.rpc.request("eth_call", [tx, _block_id(block_identifier)]))


class LightWeb3:
    """The part of ``web3.Web3`` a read uses (see the module's docstring)."""

    def __init__(self, url: str, **transport: Any) -> None:
        self.rpc = JsonRpc(url, **transport)
        self.eth = LightEth(self.rpc)


def _arg(param: Mapping[str, Any], value: Any) -> Any:
    """An argument as web3 takes it -> as eth_abi encodes it (structs given as mappings are
    ordered by component name; hex strings for byte types become bytes)."""
    kind = str(param["type"])
    if kind.endswith("]"):
        item = dict(param, type=kind[:kind.rindex("[")])
        return [_arg(item, v) for v in value]
    if kind == "tuple":
        components = param["components"]
        if isinstance(value, Mapping):
            value = [value[c["name"]] for c in components]
        return tuple(_arg(c, v) for c, v in zip(components, value, strict=True))
    if kind.startswith("bytes") and isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    return value


class LightFunction:
    """A bound view call, like web3's ``ContractFunction`` for ``call()``."""

    def __init__(self, contract: LightContract, abi: Mapping[str, Any], args: Sequence[Any]
                 ) -> None:
        self.contract = contract
        self.abi = abi
        self.fn_name = str(abi["name"])
        self.args = tuple(args)
        self.kwargs: dict[str, Any] = {}
        self.address = contract.address
        self.selector = bytes(function_abi_to_4byte_selector(dict(abi)))  # type: ignore[arg-type]

    def calldata(self) -> bytes:
        inputs = self.abi["inputs"]
        values = [_arg(p, v) for p, v in zip(inputs, self.args, strict=True)]
        return self.selector + encode([abi_type(p) for p in inputs], values)

    def call(self, transaction: Mapping[str, Any] | None = None,
             block_identifier: Any = "latest") -> Any:
        tx = {**(transaction or {}), "to": self.address, "data": self.calldata()}
        data = bytes(self.contract.w3.eth.call(tx, block_identifier))
        outputs = self.abi.get("outputs", [])
        try:
            return call_result(outputs, data)
        except DecodingError:
            raise RPCError(f"{self.fn_name}: {len(data)} bytes from {self.address} do not "
                           "decode as its outputs (is the contract deployed there, on this "
                           "chain?)") from None


class _Functions:
    def __init__(self, contract: LightContract) -> None:
        self._contract = contract

    def __getattr__(self, name: str) -> Any:
        entries = [e for e in self._contract.abi
                   if e.get("type") == "function" and e.get("name") == name]
        if not entries:
            raise AttributeError(f"the ABI has no function {name!r}")

        def bound(*args: Any) -> LightFunction:
            matching = [e for e in entries if len(e.get("inputs", [])) == len(args)]
            if len(matching) != 1:
                raise ValueError(f"{name}: {len(matching)} ABI entries take {len(args)} "
                                 "argument(s)")
            return LightFunction(self._contract, matching[0], args)
        return bound


def _topic_of(param: Mapping[str, Any], value: Any) -> Any:
    """A value of an indexed parameter as the topic it is logged as (a list: any of them)."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return [_topic_of(param, v) for v in value]
    kind = abi_type(param)
    if kind in ("string", "bytes") or kind.startswith("(") or kind.endswith("]"):
        raw = value.encode() if isinstance(value, str) and kind == "string" else value
        return keccak(raw if isinstance(raw, bytes) else encode([kind], [raw]))
    if kind.startswith("bytes") and isinstance(value, str):
        value = bytes.fromhex(value.removeprefix("0x"))
    if kind.startswith("bytes"):
        return bytes(value).ljust(32, b"\0")
    return encode([kind], [value])


def arg_matches(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, list | tuple):
        return any(arg_matches(value, w) for w in wanted)
    if isinstance(value, str) and isinstance(wanted, str):
        return value.lower() == wanted.lower()
    return bool(value == wanted)


class LightEvent:
    """An event of a light contract, like web3's ``ContractEvent`` for reading logs."""

    def __init__(self, contract: Any, abi: Mapping[str, Any]) -> None:
        self.contract = contract  # a LightContract, or a web3 contract (event_reader)
        self.type = EventType(abi)
        self.event_name = self.type.name
        self.abi = abi
        self.topic = "0x" + self.type.topic.hex()

    def __call__(self) -> LightEvent:
        return self

    def process_log(self, log: Mapping[str, Any]) -> AttrDict:
        if not log["topics"] or bytes(log["topics"][0]) != self.type.topic:
            raise ValueError(f"the log is not a {self.event_name} event")
        decoded = self.type.decode(log)
        return AttrDict(decoded, args=AttrDict(decoded["args"]), event=self.event_name,
                        address=checksum(log["address"]), blockHash=log.get("blockHash"),
                        transactionIndex=log.get("transactionIndex"))

    def get_logs(self, from_block: int | None = None, to_block: Any = None,
                 argument_filters: Mapping[str, Any] | None = None) -> list[AttrDict]:
        filters = dict(argument_filters or {})
        topics: list[Any] = [self.topic]
        for param in self.type.indexed:
            topics.append(_topic_of(param, filters.pop(param["name"], None)))
        while topics[-1] is None:
            topics.pop()
        unknown = set(filters) - {p["name"] for p in self.type.data}
        if unknown:
            raise ValueError(f"{self.event_name} has no argument {sorted(unknown)}")
        logs = self.contract.w3.eth.get_logs({
            "address": self.contract.address,
            "fromBlock": from_block if from_block is not None else "earliest",
            "toBlock": to_block if to_block is not None else "latest", "topics": topics})
        events = [self.process_log(log) for log in logs]
        return [e for e in events
                if all(arg_matches(e["args"].get(k), v) for k, v in filters.items())]


def event_reader(contract: Any, name: str) -> LightEvent:
    """A :class:`LightEvent` over any contract with ``w3``, ``address`` and ``abi`` (a web3
    contract too: its logs are then fetched by web3 and decoded here, ~10x cheaper than
    web3's own event decoding, in the same shapes)."""
    for entry in contract.abi:
        if entry.get("type") == "event" and entry.get("name") == name:
            return LightEvent(contract, entry)
    raise AttributeError(f"the ABI has no event {name!r}")


def receipt_events(contract: Any, name: str, receipt: Mapping[str, Any]) -> list[AttrDict]:
    """The ``name`` events ``contract`` emitted in a transaction receipt, decoded; other
    logs, and logs that do not decode, are skipped (web3's ``process_receipt`` with
    ``errors=DISCARD``)."""
    reader = event_reader(contract, name)
    address = str(contract.address).lower()
    out = []
    for entry in receipt["logs"]:
        if str(entry["address"]).lower() != address:
            continue
        try:  # process_log refuses another event's log (ValueError)
            out.append(reader.process_log(entry))
        except (DecodingError, ValueError):
            continue
    return out


class _Events:
    def __init__(self, contract: LightContract) -> None:
        self._contract = contract

    def __getattr__(self, name: str) -> LightEvent:
        return event_reader(self._contract, name)


class LightContract:
    """A deployed contract for reading, like the web3 contract ``offchain.chain.contracts``
    binds (with ``decode_tuples=True``)."""

    def __init__(self, w3: LightWeb3, address: str, abi: Sequence[Mapping[str, Any]]) -> None:
        self.w3 = w3
        self.address = checksum(address)
        self.abi = list(abi)
        self.functions = _Functions(self)
        self.events = _Events(self)

    def decode_function_input(self, data: Any) -> tuple[LightFunction, dict[str, Any]]:
        """(the function, its arguments by name) of calldata to this contract; ValueError if
        no function of the ABI has its selector."""
        raw = bytes(HexBytes(data))
        for entry in self.abi:
            if entry.get("type") != "function":
                continue
            fn = LightFunction(self, entry, ())
            if raw[:4] == fn.selector:
                params = entry.get("inputs", [])
                values = decode([abi_type(p) for p in params], raw[4:])
                return fn, named_values(params, values)
        raise ValueError("the calldata calls no function of this contract's ABI")
