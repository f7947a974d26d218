"""Every transaction Attestia sends goes through :class:`Sender`.

Local signing with eth-account (coincurve-backed), a local nonce counter, explicit gas and
fees, pipelined sends, receipt polling at 1 ms on a local chain, an optional dry run of each
write before it is signed, and revert data decoded from the contracts' custom errors into
readable messages (:class:`ErrorDecoder`, the one place reverts are decoded).

Retries: there is ONE retry layer, web3's own (``HTTPProvider``'s
``exception_retry_configuration``), configured where the provider is built
(``offchain.chain.connection.make_web3``): at most ``RPC_ATTEMPTS`` (3) attempts per RPC
request, on connection errors, timeouts and HTTP 429/502/503/504 only, for an explicit list
of methods; after the last attempt the request raises one ``RPCUnavailable`` (a
``ChainError``). Nothing here retries on top of it. Web3's layer was chosen over our own
because it sits below every RPC the code makes (contract views, event pages, receipts), not
only below the calls this module wraps. ``eth_sendRawTransaction`` is on the list on purpose:
resending the same signed bytes is idempotent (same hash, same nonce); if the first attempt
did reach the node the retry is answered "already known" or, once it is mined, "nonce too
low", and :meth:`Sender.broadcast` recognises both as our own transaction (it asks the node for
the hash) instead of signing it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from eth_abi import decode as abi_decode
from eth_abi.exceptions import EncodingError
from eth_utils import abi_to_signature, get_abi_input_types, keccak
from hexbytes import HexBytes

from offchain.chain.abi import abi_type, call_result, checksum
from offchain.chain.reverts import explain
from offchain.errors import ChainError, TransactionReverted

if TYPE_CHECKING:  # a Sender holds a Web3, so web3 is imported by then; the light read path
    # (offchain.chain.light) imports this module for Call and abi_type without importing web3
    from eth_account.signers.local import LocalAccount
    from web3 import Web3
    from web3.types import TxParams

GWEI = 10**9
BATCH_MAX = 100
"""JSON-RPC requests per batch (public endpoints commonly cap a batch at 100 or more)."""
_PANIC_REASONS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x32: "array index out of bounds",
    0x41: "out of memory",
}


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

    def explain(self, data: bytes) -> str | None:
        """What the custom error in revert ``data`` means and what to do, in words with its
        arguments decoded (``offchain.chain.reverts``); None when it is not a custom error."""
        try:
            name, args = self.decode(data)
        except ValueError:
            return None
        entry = self._errors.get(bytes(data[:4]))
        return explain(name, args, entry[2]) if entry else None


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


def _rpc_error(error: Any) -> Exception:
    """A JSON-RPC error object as the exception web3 raises for it: a ContractLogicError
    (carrying the revert data) for a revert, else a ValueError with the node's message."""
    from web3.exceptions import ContractLogicError  # a sender's: web3 is loaded by then

    if not isinstance(error, dict):
        return ValueError(str(error))
    message = str(error.get("message", error))
    if error.get("data") is not None or "revert" in message.lower():
        return ContractLogicError(message, data=error.get("data"))
    return ValueError(message)


# How nodes (geth, erigon, nethermind, reth, anvil) answer a resend of a transaction they hold.
_ALREADY_KNOWN = ("already known", "known transaction", "already imported", "alreadyknown")


def _out_of_gas(exc: BaseException) -> bool:
    """Whether a node's error says the call ran out of gas (geth: "out of gas", anvil:
    "EVM error OutOfGas", estimates: "gas required exceeds allowance")."""
    text = str(exc).lower().replace(" ", "")
    return "outofgas" in text or "gasrequiredexceeds" in text


class InsufficientFunds(ChainError):
    """The sending account cannot pay for the gas (and value) of a transaction."""


class NonceTooLow(ChainError):
    """The node already has a transaction with this nonce from this account."""


@dataclass
class Call:
    """A transaction to make: destination, calldata, value and an optional fixed gas limit.

    ``commit``, for a call that pays its sender (a challenge, a fraud proof, an equivocation
    report), builds the commitment it reveals for a given sender: :meth:`Sender.transact`
    mines that first, so the call lands in a later block (design.md "Rewards bound to their
    finder")."""

    to: str
    data: bytes
    value: int = 0
    gas: int | None = None
    label: str = ""
    commit: Callable[[str], Call] | None = None

    @classmethod
    def of(cls, fn: Any, *, value: int = 0, gas: int | None = None) -> Call:
        """From a bound web3 ContractFunction, e.g. ``registry.functions.withdraw()``."""
        return cls(to=fn.address, data=_calldata(fn), value=value, gas=gas, label=fn.fn_name)


def _calldata(fn: Any) -> bytes:
    """Selector + ABI-encoded arguments of a bound ContractFunction, by public APIs only.
    The direct encoding (w3.codec) is ~15x faster than web3's; arguments it does not take
    as they are (keyword arguments, hex strings for bytes) go through Contract.encode_abi."""
    if not fn.kwargs:
        try:
            args = fn.w3.codec.encode(get_abi_input_types(fn.abi), fn.args)
            return HexBytes(HexBytes(fn.selector) + args)
        except (EncodingError, TypeError, ValueError):
            pass
    factory = fn.w3.eth.contract(abi=fn.contract_abi)
    return HexBytes(factory.encode_abi(abi_to_signature(fn.abi), fn.args, fn.kwargs))


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
        self._batches = hasattr(w3.provider, "make_batch_request")

    # -- fees and nonces -------------------------------------------------------------
    def _max_fee(self) -> int:
        now = time.monotonic()
        if self._base_fee is None or now - self._base_fee[0] > 2.0:
            block = self.w3.eth.get_block("latest")
            self._base_fee = (now, int(block.get("baseFeePerGas", GWEI)))
        return 2 * self._base_fee[1] + self.priority_fee

    def _next_nonce(self) -> int:
        if self._nonce is None:
            self._nonce = self.w3.eth.get_transaction_count(self.address, "pending")
        nonce = self._nonce
        self._nonce += 1
        return nonce

    def resync(self) -> None:
        """Forget the local nonce (after an external send or a dropped transaction)."""
        with self._lock:
            self._nonce = None

    # -- building, estimating -------------------------------------------------------
    def _tx(self, call: Call) -> TxParams:
        tx: dict[str, Any] = {
            "from": self.address,
            "data": HexBytes(call.data),
            "value": call.value,
            "chainId": self.chain_id,
        }
        if call.to:  # an empty destination creates a contract
            tx["to"] = checksum(call.to)
        if call.gas is not None:
            tx["gas"] = call.gas
        return cast("TxParams", tx)

    def _revert_of(self, exc: BaseException, label: str, to: str | None = None
                   ) -> TransactionReverted | None:
        """The decoded revert an eth_call / gas estimate failed with; None if ``exc`` is not
        a revert (nor running out of gas). ``to``, the called contract, lets a missing role
        name who holds it."""
        from web3.exceptions import ContractLogicError

        prefix = f"{label}: " if label else ""
        data = revert_data(exc)
        if data is None and not isinstance(exc, ContractLogicError):
            if _out_of_gas(exc):
                return TransactionReverted(f"{prefix}ran out of gas")
            return None
        text, name, args = self.decoder.describe(data or b"")
        explanation = self.decoder.explain(data or b"")
        if name == "AccessControlUnauthorizedAccount" and to and explanation:
            holders = self._role_holders(to, bytes(args[1]))
            if holders is not None:
                explanation += (f" (held by {', '.join(holders)})" if holders
                                else " (no account holds it)")
        return TransactionReverted(f"{prefix}{text}", error=name, args=args,
                                   explanation=explanation)

    def _role_holders(self, contract: str, role: bytes) -> list[str] | None:
        """Who holds ``role`` on ``contract`` now, from its RoleGranted / RoleRevoked events
        (OpenZeppelin's AccessControl does not enumerate holders); None when the node will
        not answer the log query (public endpoints limit block ranges)."""
        from web3.exceptions import Web3RPCError

        topics = {keccak(text=f"{e}(bytes32,address,address)"): e
                  for e in ("RoleGranted", "RoleRevoked")}
        try:
            logs = self.w3.eth.get_logs({
                "address": checksum(contract), "fromBlock": 0,
                "toBlock": "latest",
                "topics": [[HexBytes(t) for t in topics], HexBytes(role)],
            })
        except (ValueError, Web3RPCError, OSError):
            return None
        holders: dict[str, bool] = {}
        for log in sorted(logs, key=lambda lg: (lg["blockNumber"], lg["logIndex"])):
            account = checksum("0x" + bytes(log["topics"][2])[-20:].hex())
            holders[account] = topics[bytes(log["topics"][0])] == "RoleGranted"
        return [account for account, held in holders.items() if held]

    def _raise_revert(self, exc: BaseException, call: Call) -> None:
        reverted = self._revert_of(exc, call.label, call.to)
        if reverted is None:
            self._raise_unfunded(exc, call)
            raise exc
        raise reverted from None

    def _raise_unfunded(self, exc: BaseException, call: Call | None = None) -> None:
        """A node's "insufficient funds" (geth, anvil: for gas * price + value) said in one
        line with the account's balance and what to do."""
        if "insufficientfunds" not in str(exc).lower().replace(" ", ""):
            return
        balance = self.w3.eth.get_balance(self.address)
        label = f"{call.label}: " if call is not None and call.label else ""
        value = call.value if call is not None else 0
        needs = f" plus {value / 10**18:.6f} ETH sent" if value else ""
        raise InsufficientFunds(
            f"{label}{self.address} holds {balance / 10**18:.6f} ETH, not enough for the gas"
            f"{needs}: fund it, or sign with a funded key (ATTESTIA_PRIVATE_KEY or "
            f"ATTESTIA_KEYSTORE); nothing was sent"
        ) from None

    def estimate(self, call: Call) -> int:
        from web3.exceptions import ContractLogicError, Web3RPCError

        try:
            if call.commit is not None:  # see commit_for
                return self.w3.eth.estimate_gas(self._tx(call), "pending")
            return self.w3.eth.estimate_gas(self._tx(call))
        except (ContractLogicError, ValueError, Web3RPCError) as exc:
            self._raise_revert(exc, call)
            raise

    def call(self, call: Call, block: Any = "latest") -> bytes:
        """eth_call with revert decoding (for views built as Calls and for dry runs)."""
        from web3.exceptions import ContractLogicError, Web3RPCError

        try:
            return bytes(self.w3.eth.call(self._tx(call), block))
        except (ContractLogicError, ValueError, Web3RPCError) as exc:
            self._raise_revert(exc, call)
            raise

    def simulate(self, call: Call) -> None:
        """Dry-run a write as it will be sent (same sender, destination, data, value and gas
        limit) on the pending block; a revert raises TransactionReverted naming the custom
        error before any gas is spent. Calls without a fixed gas need none: their gas
        estimate already runs them."""
        self.call(call, "pending")

    # -- sending ------------------------------------------------------------------------
    def sign(self, call: Call, *, simulate: bool = False) -> tuple[bytes, bytes]:
        """Assign a nonce (kept in ``last_nonce`` for journals), fees and gas; return
        (tx hash, raw signed tx). ``simulate`` dry-runs a call with a fixed gas limit first
        (a call without one is run by its gas estimate anyway); a revert raises
        TransactionReverted and uses no nonce."""
        if call.gas is None:
            gas = int(self.estimate(call) * self.gas_margin)
        else:
            gas = call.gas
            if simulate:
                self.simulate(call)
        with self._lock:
            self.last_nonce = self._next_nonce()
            tx = self._tx(call) | {
                "nonce": self.last_nonce,
                "gas": gas,
                "maxFeePerGas": self._max_fee(),
                "maxPriorityFeePerGas": self.priority_fee,
                "type": 2,
            }
        signed = self.account.sign_transaction(cast(dict[str, Any], tx))
        return bytes(signed.hash), bytes(signed.raw_transaction)

    def broadcast(self, tx_hash: bytes, raw: bytes) -> bytes:
        """Send signed bytes (web3's retry layer may resend them: same bytes, same hash)."""
        from web3.exceptions import Web3RPCError

        try:
            self.w3.eth.send_raw_transaction(raw)
        except (ValueError, Web3RPCError) as exc:
            self._refused(tx_hash, exc)
        return tx_hash

    def _refused(self, tx_hash: bytes, exc: BaseException) -> None:
        """A node's answer to a broadcast that was an error: returns if it says the bytes
        are already there (a resend), else raises NonceTooLow, InsufficientFunds or
        ChainError."""
        message = str(exc).lower()
        if any(known in message for known in _ALREADY_KNOWN):
            return  # a resend of bytes that did reach the node
        if "nonce too low" in message and self._known(tx_hash):
            return  # a resend of bytes that were mined in the meantime
        self.resync()
        self._raise_unfunded(exc)
        if "nonce too low" in message:
            raise NonceTooLow(
                "nonce too low: another process sent from this account; retry"
            ) from None
        raise ChainError(f"the node refused the transaction: {exc}") from None

    # -- many at once: one JSON-RPC batch (one HTTP round trip) per BATCH_MAX requests --------
    def _batch(self, method: str, params: Sequence[list[Any]]) -> list[dict[str, Any]]:
        """The raw JSON-RPC responses (``result`` or ``error``) to ``method`` called with
        each of ``params``, in order. A node that does not take batches gets them one by
        one. A lost transport raises RPCUnavailable (the provider's)."""
        responses: list[dict[str, Any]] = []
        provider: Any = self.w3.provider
        for start in range(0, len(params), BATCH_MAX):
            chunk = params[start:start + BATCH_MAX]
            answer: Any = None
            if self._batches and len(chunk) > 1:
                answer = provider.make_batch_request([(method, p) for p in chunk])
                if not isinstance(answer, list) or len(answer) != len(chunk):
                    self._batches = False  # the node refused the batch itself
                    answer = None
            if answer is None:
                answer = [provider.make_request(method, p) for p in chunk]
            responses += [dict(a) for a in answer]
        return responses

    def simulate_many(self, calls: Sequence[Call]) -> list[TransactionReverted | None]:
        """:meth:`simulate` of many calls at once, all on the same pending state (none of
        them is sent): for each, the decoded revert or None."""
        params = [[self._json_tx(call), "pending"] for call in calls]
        out: list[TransactionReverted | None] = []
        for call, response in zip(calls, self._batch("eth_call", params), strict=True):
            error = response.get("error")
            if error is None:
                out.append(None)
                continue
            exc = _rpc_error(error)
            reverted = self._revert_of(exc, call.label, call.to)
            if reverted is None:  # not a revert: an unfunded sender is said in one line
                self._raise_unfunded(exc, call)
                raise ChainError(f"{call.label or 'eth_call'}: {error}")
            out.append(reverted)
        return out

    def call_many(self, calls: Sequence[Call], block: str = "latest") -> list[bytes]:
        """The return data of many view calls at once; a revert raises (as :meth:`call`)."""
        params = [[self._json_tx(call), block] for call in calls]
        out = []
        for call, response in zip(calls, self._batch("eth_call", params), strict=True):
            error = response.get("error")
            if error is not None:
                self._raise_revert(_rpc_error(error), call)
            out.append(bytes.fromhex(str(response["result"])[2:]))
        return out

    def read_many(self, fns: Sequence[Any], block: str = "latest") -> list[Any]:
        """What ``fn.call()`` returns for each bound web3 ContractFunction, all read in one
        round trip (:meth:`call_many`): a function with one output gives it alone."""
        return [call_result(fn.abi.get("outputs", []), data)
                for fn, data in zip(fns, self.call_many([Call.of(fn) for fn in fns], block),
                                    strict=True)]

    def broadcast_many(self, signed: Sequence[tuple[bytes, bytes]]) -> None:
        """:meth:`broadcast` of many signed transactions in one round trip; a refusal is
        judged as there (a resend is fine) and the first real one raises after all were
        sent."""
        responses = self._batch("eth_sendRawTransaction", [["0x" + raw.hex()]
                                                           for _, raw in signed])
        first: Exception | None = None
        for (tx_hash, _), response in zip(signed, responses, strict=True):
            error = response.get("error")
            if error is None:
                continue
            try:
                self._refused(tx_hash, ChainError(str(error.get("message", error))))
            except ChainError as exc:
                first = first or exc
        if first is not None:
            raise first

    def wait_many(self, tx_hashes: Sequence[bytes], timeout: float = 120.0) -> list[Any]:
        """:meth:`wait` for many transactions: the unmined ones are polled together (one
        round trip a poll), then all receipts are read in one web3 batch (formatted as
        ``get_transaction_receipt`` gives them)."""
        deadline = time.monotonic() + timeout
        pending = list(dict.fromkeys(tx_hashes))
        while pending:
            answers = self._batch("eth_getTransactionReceipt",
                                  [["0x" + h.hex()] for h in pending])
            for response in answers:
                if response.get("error") is not None:
                    raise ChainError(f"eth_getTransactionReceipt: {response['error']}")
            pending = [h for h, a in zip(pending, answers, strict=True)
                       if a.get("result") is None]
            if not pending:
                break
            if time.monotonic() > deadline:
                raise ChainError(f"no receipt for 0x{pending[0].hex()} after {timeout:.0f} s")
            time.sleep(self.poll_interval)
        receipts: dict[bytes, Any] = {}
        unique = list(dict.fromkeys(tx_hashes))
        for start in range(0, len(unique), BATCH_MAX):
            chunk = unique[start:start + BATCH_MAX]
            if len(chunk) == 1 or not self._batches:
                found = [self.w3.eth.get_transaction_receipt(HexBytes(h)) for h in chunk]
            else:
                with self.w3.batch_requests() as batch:
                    for h in chunk:
                        batch.add(self.w3.eth.get_transaction_receipt(HexBytes(h)))
                    found = cast(list[Any], batch.execute())
            receipts.update(zip(chunk, found, strict=True))
        return [receipts[h] for h in tx_hashes]

    def _json_tx(self, call: Call) -> dict[str, Any]:
        """The call as an eth_call's JSON transaction object (what :meth:`_tx` gives web3)."""
        tx: dict[str, Any] = {"from": self.address, "data": "0x" + bytes(call.data).hex(),
                              "value": hex(call.value)}
        if call.to:
            tx["to"] = checksum(call.to)
        if call.gas is not None:
            tx["gas"] = hex(call.gas)
        return tx

    def _known(self, tx_hash: bytes) -> bool:
        from web3.exceptions import TransactionNotFound

        try:
            self.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
        return True

    def send(self, call: Call, *, simulate: bool = False) -> bytes:
        """Sign and broadcast; if another process used our nonce, resync and sign again once
        (safe here: nothing was journaled for the refused transaction)."""
        try:
            return self.broadcast(*self.sign(call, simulate=simulate))
        except NonceTooLow:
            return self.broadcast(*self.sign(call))

    def receipt(self, tx_hash: bytes) -> Any | None:
        """The transaction's receipt, or None while it is not mined (or not known). Only a
        missing receipt is None: a transport failure (RPCUnavailable once the retry layer
        gives up) propagates, so a caller never takes a lost node for an unmined transaction."""
        from web3.exceptions import TransactionNotFound

        try:
            return self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    def wait(self, tx_hash: bytes, timeout: float = 120.0) -> Any:
        """Poll for the receipt until ``timeout``; a transport failure that outlasts the
        retry layer raises RPCUnavailable (a ChainError) rather than being polled through."""
        deadline = time.monotonic() + timeout
        while True:
            receipt = self.receipt(tx_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() > deadline:
                raise ChainError(f"no receipt for 0x{tx_hash.hex()} after {timeout:.0f} s")
            time.sleep(self.poll_interval)

    def check(self, receipt: Any, call: Call | None = None) -> Any:
        """Raise TransactionReverted with the decoded reason if the receipt failed.

        The reason comes from replaying the mined transaction itself (its sender, destination,
        data, value and gas limit, read back from the node) as an eth_call, first on the state
        before its block, then, if that succeeds (the cause landed earlier in the same block),
        on the state after it. ``call`` only labels the message."""
        from web3.exceptions import ContractLogicError, Web3RPCError

        self.gas_used_total += int(receipt["gasUsed"])
        if receipt["status"] == 1:
            return receipt
        label = call.label if call is not None else ""
        mined = self.w3.eth.get_transaction(receipt["transactionHash"])
        replay = {"from": mined["from"], "data": HexBytes(mined["input"]),
                  "value": int(mined["value"]), "gas": int(mined["gas"])}
        if mined.get("to"):
            replay["to"] = mined["to"]
        block, why = int(receipt["blockNumber"]), "its replay does not revert"
        for at in (block - 1, block):
            try:
                self.w3.eth.call(cast("TxParams", replay), at)
            except (ContractLogicError, ValueError, Web3RPCError) as exc:
                reverted = self._revert_of(exc, label, mined.get("to"))
                if reverted is not None:
                    raise reverted from None
                why = f"its replay failed: {exc}"  # e.g. the node no longer has that state
                break
        prefix = f"{label}: " if label else ""
        raise TransactionReverted(
            f"{prefix}reverted (gas used {receipt['gasUsed']} of {mined['gas']}; {why})")

    def transact(self, call: Call, timeout: float = 120.0, *, simulate: bool = True,
                 committed: bool = False) -> Any:
        """Send one transaction and wait for a successful receipt. A call with a fixed gas
        limit is dry-run first (``simulate``), so a revert costs no gas. A call that reveals
        a commitment has it mined first, unless ``committed`` (:meth:`commit_for` was
        called for it already)."""
        if call.commit is not None and not committed:
            self.commit_for(call, timeout)
        return self.check(self.wait(self.send(call, simulate=simulate), timeout), call)

    def commit_for(self, call: Call, timeout: float = 120.0) -> Any:
        """Mine the commitment ``call`` reveals, from this account; returns its receipt. The
        call, sent after this receipt, can only land in a later block; its gas estimate runs
        on the pending block (:meth:`estimate`), since a node runs "latest" at the
        commitment's own block number, where the reveal is still RevealTooEarly."""
        assert call.commit is not None
        return self.transact(call.commit(self.address), timeout)

    def transact_many(self, calls: Sequence[Call], timeout: float = 300.0) -> list[Any]:
        """Pipelined: sign and send all, then collect receipts; raise on the first failure.
        Commitments of calls that reveal one are mined first (:meth:`commit_for`)."""
        for call in calls:
            if call.commit is not None:
                self.commit_for(call, timeout)
        signed = [self.sign(c) for c in calls]
        try:
            self.broadcast_many(signed)
        except NonceTooLow:  # another process used our nonces: sign again what did not land
            hashes = [h if self._known(h) else self.send(c)
                      for (h, _), c in zip(signed, calls, strict=True)]
        else:
            hashes = [h for h, _ in signed]
        receipts = self.wait_many(hashes, timeout)
        return [self.check(r, c) for r, c in zip(receipts, calls, strict=True)]
