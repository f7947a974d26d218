"""The RPC transport: one retry layer (web3's, configured in make_web3), bounded attempts,
one ChainError after them; a resent raw transaction is not sent twice; writes are dry-run.

A small HTTP server between web3 and Anvil fails chosen requests: it answers 503 or 401, or
drops the connection before forwarding ("drop") or after forwarding ("lose": the node got
the request, the client never gets the answer).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from offchain.chain.accounts import dev_account
from offchain.chain.connection import RPC_ATTEMPTS, RPCUnavailable, make_web3
from offchain.chain.tx import Call, Sender
from offchain.errors import ChainError, TransactionReverted


class FlakyRPC(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.faults: dict[str, list[str]] = {}  # RPC method -> actions for its next requests
        self.seen: list[str] = []  # RPC method of every request that arrived

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FlakyRPC

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        parsed = json.loads(body)
        method = (f"batch:{parsed[0]['method']}x{len(parsed)}" if isinstance(parsed, list)
                  else parsed["method"])  # a JSON-RPC batch: "batch:<first method>x<count>"
        self.server.seen.append(method)
        queue = self.server.faults.get(method.split("x")[0] if method.startswith("batch:")
                                       else method, [])
        action = queue.pop(0) if queue else "forward"
        if action == "no-batches":  # a node that takes no batches: one error object
            answer = b'{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"no batch"}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            return
        if action in ("503", "401"):
            self.send_response(int(action))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if action == "drop":
            self.close_connection = True
            return
        answer = requests.post(self.server.upstream, data=body, timeout=10,
                               headers={"Content-Type": "application/json"}).content
        if action == "lose":
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky(chain) -> Iterator[FlakyRPC]:
    server = FlakyRPC(chain.url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _bounded_retries(flaky: FlakyRPC, w3: Any, latest: int, exhausted: type[Exception],
                     exhausted_match: str) -> Exception:
    """What both read paths do: fewer failures than attempts, the read succeeds after exactly
    that many retries; as many as attempts, one ``exhausted`` error and no more requests;
    not transient (HTTP 401), one attempt. Returns the exhausted error."""
    flaky.faults["eth_blockNumber"] = ["drop", "503"]
    assert w3.eth.block_number == latest
    assert flaky.seen.count("eth_blockNumber") == 3
    flaky.seen.clear()
    flaky.faults["eth_getBalance"] = ["503"] * (RPC_ATTEMPTS + 5)
    with pytest.raises(exhausted, match=exhausted_match) as failed:
        w3.eth.get_balance(dev_account(0).address)
    assert flaky.seen == ["eth_getBalance"] * RPC_ATTEMPTS
    flaky.seen.clear()
    flaky.faults["eth_chainId"] = ["401"]
    with pytest.raises(RPCUnavailable, match="failed 1 attempt.*HTTP 401"):
        w3.eth.chain_id  # noqa: B018
    assert flaky.seen == ["eth_chainId"]
    return failed.value


def test_transient_errors_are_retried_a_bounded_number_of_times_then_one_chain_error(
    flaky: FlakyRPC, chain
) -> None:
    w3 = make_web3(flaky.url)
    latest = chain.w3.eth.block_number
    _bounded_retries(flaky, w3, latest, ChainError,
                     rf"eth_getBalance: .* failed {RPC_ATTEMPTS} attempt")
    # A method that changes state and is not idempotent (evm_mine) is never resent.
    flaky.seen.clear()
    flaky.faults["evm_mine"] = ["lose"]
    with pytest.raises(RPCUnavailable, match="evm_mine: .* failed 1 attempt"):
        w3.provider.make_request("evm_mine", [])
    assert flaky.seen == ["evm_mine"]
    assert chain.w3.eth.block_number == latest + 1


def test_the_light_read_path_retries_the_same_way(flaky: FlakyRPC, chain) -> None:
    """offchain.chain.light (the everyday reads, without web3): the same bounded retries on a
    dropped connection or HTTP 503, one attempt on HTTP 401, one RPCUnavailable naming the
    host only; a JSON-RPC error answer is one RPCError, never retried."""
    from offchain.chain.light import LightWeb3, RPCError

    w3 = LightWeb3(flaky.url + "/secret-api-key")
    failed = _bounded_retries(flaky, w3, chain.w3.eth.block_number, RPCUnavailable,
                              rf"eth_getBalance: .* failed {RPC_ATTEMPTS} "
                              r"attempt\(s\): HTTP 503")
    assert "secret-api-key" not in str(failed)
    flaky.seen.clear()
    with pytest.raises(RPCError, match="eth_getBlockByNumber"):
        w3.eth.get_block("not-a-block")
    assert flaky.seen == ["eth_getBlockByNumber"]


def test_a_send_whose_answer_was_lost_is_resent_as_the_same_transaction(
    flaky: FlakyRPC, chain
) -> None:
    w3 = make_web3(flaky.url)
    account = dev_account(5)
    sender = Sender(w3, account, chain_id=chain.chain_id)
    nonce = chain.w3.eth.get_transaction_count(account.address)
    # The node receives (and Anvil mines) the first send; its answer is lost, web3 resends
    # the same bytes and the node says "nonce too low": the Sender recognises its own hash.
    flaky.faults["eth_sendRawTransaction"] = ["lose"]
    receipt = sender.transact(Call(to=dev_account(6).address, data=b"", value=1, gas=21_000))
    assert receipt["status"] == 1
    assert flaky.seen.count("eth_sendRawTransaction") == 2
    assert chain.w3.eth.get_transaction_count(account.address) == nonce + 1
    # The next transaction takes the next nonce.
    sender.transact(Call(to=dev_account(6).address, data=b"", value=1, gas=21_000))
    assert chain.w3.eth.get_transaction_count(account.address) == nonce + 2


def test_writes_are_dry_run_so_a_revert_names_its_error_before_gas_is_spent(attestia) -> None:
    account = dev_account(7)
    sender = attestia.sender(account)
    w3 = attestia.chain.w3
    withdraw = Call.of(attestia.registry.contract.functions.withdraw(), gas=100_000)
    nonce = w3.eth.get_transaction_count(account.address)
    with pytest.raises(TransactionReverted, match=r"withdraw: reverted with NothingToWithdraw\(\)"
                       ) as caught:
        sender.transact(withdraw)
    assert caught.value.error == "NothingToWithdraw"
    assert w3.eth.get_transaction_count(account.address) == nonce  # nothing was sent
    # Without the dry run the transaction is mined and fails; its receipt is decoded the
    # same way (the mined transaction is replayed).
    with pytest.raises(TransactionReverted, match=r"withdraw: reverted with NothingToWithdraw"
                       ) as caught:
        sender.transact(withdraw, simulate=False)
    assert caught.value.error == "NothingToWithdraw"
    assert w3.eth.get_transaction_count(account.address) == nonce + 1


def test_a_gas_limit_too_low_is_reported_as_out_of_gas(attestia) -> None:
    account = dev_account(7)
    sender = attestia.sender(account)
    w3 = attestia.chain.w3
    starved = Call.of(attestia.registry.contract.functions.withdraw(), gas=21_500)
    nonce = w3.eth.get_transaction_count(account.address)
    with pytest.raises(TransactionReverted, match="withdraw: ran out of gas"):
        sender.transact(starved)  # the dry run runs out
    assert w3.eth.get_transaction_count(account.address) == nonce
    with pytest.raises(TransactionReverted, match="withdraw: ran out of gas"):
        sender.transact(starved, simulate=False)  # mined, failed, replayed
    assert w3.eth.get_transaction_count(account.address) == nonce + 1


def test_many_calls_sends_and_receipts_are_one_round_trip_each_judged_one_by_one(
    flaky: FlakyRPC, attestia
) -> None:
    """The worker's and the client's rounds: dry runs, state reads, broadcasts and receipts
    of many transactions go as one JSON-RPC batch each, and each answer is judged alone."""
    chain = attestia.chain
    account = dev_account(8)
    sender = Sender(make_web3(flaky.url), account, chain_id=chain.chain_id,
                    decoder=chain.decoder)
    functions = attestia.registry.contract.functions
    withdraw = Call.of(functions.withdraw(), gas=100_000)
    starved = Call.of(functions.withdraw(), gas=21_500)
    pay = Call(to=dev_account(9).address, data=b"", value=1, gas=21_000)
    # dry runs: a revert by name, a success, running out of gas; one request
    flaky.seen.clear()
    reverted, fine, out_of_gas = sender.simulate_many([withdraw, pay, starved])
    assert reverted is not None and reverted.error == "NothingToWithdraw"
    assert fine is None
    assert out_of_gas is not None and "ran out of gas" in str(out_of_gas)
    assert flaky.seen == ["batch:eth_callx3"]
    # views: the return data of each, one request
    flaky.seen.clear()
    states = sender.call_many([attestia.registry.request_state_call(bytes([i]) * 32)
                               for i in range(3)])
    assert states == [b"\0" * 32] * 3
    assert flaky.seen == ["batch:eth_callx3"]
    # broadcasts: three transfers and a resend of the first (already known: not an error)
    nonce = chain.w3.eth.get_transaction_count(account.address)
    signed = [sender.sign(pay) for _ in range(3)]
    flaky.seen.clear()
    sender.broadcast_many([*signed, signed[0]])
    # the resend is "already known", or "nonce too low" once Anvil mined the first (then
    # recognised by its hash)
    assert flaky.seen[0] == "batch:eth_sendRawTransactionx4"
    assert flaky.seen[1:] in ([], ["eth_getTransactionByHash"])
    receipts = sender.wait_many([h for h, _ in signed])
    assert [bytes(r["transactionHash"]) for r in receipts] == [h for h, _ in signed]
    assert all(r["status"] == 1 for r in receipts)
    assert chain.w3.eth.get_transaction_count(account.address) == nonce + 3
    # a refused one (a nonce already used, not by these bytes) raises once all were sent
    sender._nonce = nonce  # as if another process had sent from this account
    stale = sender.sign(Call(to=dev_account(9).address, data=b"", value=2, gas=21_000))
    sender.resync()
    fresh = sender.sign(pay)
    with pytest.raises(ChainError, match="nonce too low"):
        sender.broadcast_many([stale, fresh])
    assert sender.wait_many([fresh[0]])[0]["status"] == 1  # the good one was sent
    # a node that takes no batches: the same answers, one request at a time
    flaky.faults["batch:eth_call"] = ["no-batches"]
    flaky.seen.clear()
    assert [r is None for r in sender.simulate_many([withdraw, pay])] == [False, True]
    assert flaky.seen == ["batch:eth_callx2", "eth_call", "eth_call"]
    flaky.seen.clear()
    sender.simulate_many([withdraw, pay])
    assert flaky.seen == ["eth_call", "eth_call"]  # not asked again
