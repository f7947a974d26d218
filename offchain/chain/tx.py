"""Every transaction Attestia sends goes through :class:`Sender`.

Local signing with eth-account (coincurve-backed), a local nonce counter, explicit gas and
fees, pipelined sends, receipt polling at 1 ms on a local chain, retries on transient RPC
errors, and revert data decoded from the contracts' custom errors into readable messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    TransactionNotFound,
    Web3RPCError,
)

from offchain.errors import ChainError, TransactionReverted

T = TypeVar("T")
GWEI = 10**9
RETRIES = 3
_PANIC_REASONS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x32: "array index out of bounds",
    0x41: "out of memory",
}


def abi_type(param: dict) -> str:
    """The canonical ABI type string of an ABI parameter (tuples spelled out)."""
    if param["type"].startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param["components"])
        return f"({inner}){param['type'][5:]}"
    return param["type"]


class ErrorDecoder:
    """Maps 4-byte selectors of custom errors (from every artifact's ABI) to readable text."""

    def __init__(self, abis: Iterable[list[dict]] = ()) -> None:
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for abi in abis:
            self.add_abi(abi)

    def add_abi(self, abi: list[dict]) -> None:
        for item in abi:
            if item.get("type") != "error":
                continue
            types = [abi_type(p) for p in item["inputs"]]
            selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
            self._errors[selector] = (item["name"], types, [p["name"] for p in item["inputs"]])

    def decode(self, data: bytes) -> tuple[str, tuple]:
        """(error name, args) for revert data; raises ValueError if it cannot be decoded."""
        selector, body = bytes(data[:4]), bytes(data[4:])
        if selector == keccak(text="Error(string)")[:4]:
            return "Error", abi_decode(["string"], body)
        if selector == keccak(text="Panic(uint256)")[:4]:
            return "Panic", abi_decode(["uint256"], body)
        if selector not in self._errors:
            raise ValueError(f"unknown error selector 0x{selector.hex()}")
        name, types, _ = self._errors[selector]
        return name, tuple(abi_decode(types, body))

    def describe(self, data: bytes) -> tuple[str, str | None, tuple]:
        if not data:
            return "reverted without data (out of gas, or a plain revert())", None, ()
        try:
            name, args = self.decode(data)
        except ValueError as exc:
            return f"reverted with undecodable data 0x{bytes(data).hex()} ({exc})", None, ()
        if name == "Panic":
            code = int(args[0])
            return f"panic 0x{code:02x} ({_PANIC_REASONS.get(code, 'unknown')})", name, args
        if name == "Error":
            return f"reverted: {args[0]}", name, args
        shown = ", ".join(_show(a) for a in args)
        return f"reverted with {name}({shown})", name, args


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


def revert_data(exc: BaseException) -> bytes | None:
    """Extract raw revert bytes from the exceptions web3 and nodes produce."""
    candidates: list[Any] = [getattr(exc, "data", None)]
    candidates += list(getattr(exc, "args", ()))
    for cand in candidates:
        if isinstance(cand, dict):
            cand = cand.get("data")
        if isinstance(cand, bytes | HexBytes):
            return bytes(cand)
        if isinstance(cand, str) and cand.startswith("0x"):
            try:
                return bytes.fromhex(cand[2:])
            except ValueError:
                continue
    return None


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, requests.ConnectionError | requests.Timeout | ConnectionError):
        return True
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return exc.response.status_code in (429, 502, 503, 504)
    return False


def with_retries(fn: Callable[[], T], what: str) -> T:
    """Run an idempotent RPC operation, retrying transient transport failures."""
    for attempt in range(RETRIES):
        try:
            return fn()
        except Exception as exc:
            if not _transient(exc):
                raise
            if attempt == RETRIES - 1:
                raise ChainError(f"{what}: the RPC endpoint is unreachable ({exc})") from None
            time.sleep(0.1 * 3**attempt)
    raise AssertionError("unreachable")


class NonceTooLow(ChainError):
    """The node already has a transaction with this nonce from this account."""


@dataclass
class Call:
    """A transaction to make: destination, calldata, value and an optional fixed gas limit."""

    to: str
    data: bytes
    value: int = 0
    gas: int | None = None
    label: str = ""

    @classmethod
    def of(cls, fn: Any, *, value: int = 0, gas: int | None = None) -> Call:
        """From a bound web3 ContractFunction, e.g. ``registry.functions.withdraw()``."""
        return cls(
            to=fn.address,
            data=HexBytes(fn._encode_transaction_data()),
            value=value,
            gas=gas,
            label=fn.fn_name,
        )


class Sender:
    """Signs and sends transactions for one account, tracking its nonce locally."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        *,
        chain_id: int,
        decoder: ErrorDecoder | None = None,
        poll_interval: float | None = None,
        priority_fee: int = GWEI,
        gas_margin: float = 1.25,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.address = account.address
        self.chain_id = chain_id
        self.decoder = decoder or ErrorDecoder()
        uri = str(getattr(w3.provider, "endpoint_uri", ""))
        local = "127.0.0.1" in uri or "localhost" in uri
        self.poll_interval = poll_interval if poll_interval is not None else (
            0.001 if local else 0.5
        )
        self.priority_fee = priority_fee
        self.gas_margin = gas_margin
        self._nonce: int | None = None
        self.last_nonce: int | None = None
        self._lock = threading.Lock()
        self._base_fee: tuple[float, int] | None = None
        self.gas_used_total = 0

    # -- fees and nonces -------------------------------------------------------------
    def _max_fee(self) -> int:
        now = time.monotonic()
        if self._base_fee is None or now - self._base_fee[0] > 2.0:
            block = with_retries(lambda: self.w3.eth.get_block("latest"), "read base fee")
            self._base_fee = (now, int(block.get("baseFeePerGas", GWEI)))
        return 2 * self._base_fee[1] + self.priority_fee

    def _next_nonce(self) -> int:
        if self._nonce is None:
            self._nonce = with_retries(
                lambda: self.w3.eth.get_transaction_count(self.address, "pending"), "read nonce"
            )
        nonce = self._nonce
        self._nonce += 1
        return nonce

    def resync(self) -> None:
        """Forget the local nonce (after an external send or a dropped transaction)."""
        with self._lock:
            self._nonce = None

    # -- building, estimating -------------------------------------------------------
    def _tx(self, call: Call) -> dict:
        tx = {
            "from": self.address,
            "data": HexBytes(call.data),
            "value": call.value,
            "chainId": self.chain_id,
        }
        if call.to:  # an empty destination creates a contract
            tx["to"] = Web3.to_checksum_address(call.to)
        return tx

    def _raise_revert(self, exc: BaseException, call: Call) -> None:
        data = revert_data(exc)
        if data is None and not isinstance(exc, ContractLogicError | ContractCustomError):
            raise exc
        text, name, args = self.decoder.describe(data or b"")
        label = f"{call.label}: " if call.label else ""
        raise TransactionReverted(f"{label}{text}", error=name, args=args) from None

    def estimate(self, call: Call) -> int:
        try:
            return with_retries(lambda: self.w3.eth.estimate_gas(self._tx(call)), "estimate gas")
        except (ContractLogicError, ContractCustomError, ValueError) as exc:
            self._raise_revert(exc, call)
            raise

    def call(self, call: Call, block: Any = "latest") -> bytes:
        """eth_call with revert decoding (for views built as Calls and for dry runs)."""
        try:
            return bytes(self.w3.eth.call(self._tx(call), block))
        except (ContractLogicError, ContractCustomError, ValueError) as exc:
            self._raise_revert(exc, call)
            raise

    # -- sending ------------------------------------------------------------------------
    def sign(self, call: Call) -> tuple[bytes, bytes]:
        """Assign a nonce (kept in ``last_nonce`` for journals), fees and gas; return
        (tx hash, raw signed tx)."""
        gas = call.gas if call.gas is not None else int(self.estimate(call) * self.gas_margin)
        with self._lock:
            self.last_nonce = self._next_nonce()
            tx = self._tx(call) | {
                "nonce": self.last_nonce,
                "gas": gas,
                "maxFeePerGas": self._max_fee(),
                "maxPriorityFeePerGas": self.priority_fee,
                "type": 2,
            }
        signed = self.account.sign_transaction(tx)
        return bytes(signed.hash), bytes(signed.raw_transaction)

    def broadcast(self, tx_hash: bytes, raw: bytes) -> bytes:
        try:
            with_retries(lambda: self.w3.eth.send_raw_transaction(raw), "send transaction")
        except (ValueError, Web3RPCError) as exc:
            message = str(exc).lower()
            if "already known" in message:
                return tx_hash  # a retry of a send that did reach the node
            self.resync()
            if "nonce too low" in message:
                raise NonceTooLow(
                    "nonce too low: another process sent from this account; retry"
                ) from None
            raise ChainError(f"the node refused the transaction: {exc}") from None
        return tx_hash

    def send(self, call: Call) -> bytes:
        """Sign and broadcast; if another process used our nonce, resync and sign again once
        (safe here: nothing was journaled for the refused transaction)."""
        try:
            return self.broadcast(*self.sign(call))
        except NonceTooLow:
            return self.broadcast(*self.sign(call))

    def wait(self, tx_hash: bytes, timeout: float = 120.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                receipt = self.w3.eth.get_transaction_receipt(tx_hash)
                if receipt is not None:
                    return receipt
            except TransactionNotFound:
                pass
            except Exception as exc:
                if not _transient(exc):
                    raise
            if time.monotonic() > deadline:
                raise ChainError(f"no receipt for 0x{tx_hash.hex()} after {timeout:.0f} s")
            time.sleep(self.poll_interval)

    def check(self, receipt: Any, call: Call) -> Any:
        """Raise TransactionReverted with the decoded reason if the receipt failed."""
        self.gas_used_total += int(receipt["gasUsed"])
        if receipt["status"] == 1:
            return receipt
        tx = self._tx(call) | {"gas": receipt["gasUsed"] + 100_000}
        try:
            self.w3.eth.call(tx, receipt["blockNumber"] - 1)
        except (ContractLogicError, ContractCustomError, ValueError) as exc:
            self._raise_revert(exc, call)
        label = f"{call.label}: " if call.label else ""
        raise TransactionReverted(f"{label}reverted (gas used {receipt['gasUsed']})")

    def transact(self, call: Call, timeout: float = 120.0) -> Any:
        """Send one transaction and wait for a successful receipt."""
        return self.check(self.wait(self.send(call), timeout), call)

    def transact_many(self, calls: Sequence[Call], timeout: float = 300.0) -> list[Any]:
        """Pipelined: sign and send all, then collect receipts; raise on the first failure."""
        hashes = [self.send(c) for c in calls]
        receipts = [self.wait(h, timeout) for h in hashes]
        return [self.check(r, c) for r, c in zip(receipts, calls, strict=True)]
