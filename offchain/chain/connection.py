"""Connect to the configured chain, or to the embedded Anvil (starting it if needed).

The RPC transport has one retry layer, web3's own, configured here (see ``make_web3`` and the
reasoning in ``offchain.chain.tx``): ``RPC_ATTEMPTS`` attempts in total per request.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import requests
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.providers.rpc.utils import ExceptionRetryConfiguration

from offchain.build import compile_contracts
from offchain.chain.accounts import resolve_account
from offchain.chain.anvil import EmbeddedChain
from offchain.chain.tx import ErrorDecoder, Sender
from offchain.config import Settings
from offchain.errors import ChainError, ConfigError

# Attempts per RPC request in total (first try included), and the backoff before each retry:
# sleeps of RPC_BACKOFF * 2**i, so 0.1 s then 0.2 s. With the 30 s timeout, a dead endpoint
# costs at most 3 timeouts + 0.3 s before one RPCUnavailable.
RPC_ATTEMPTS = 3
RPC_BACKOFF = 0.1
RPC_TIMEOUT = 30
RETRY_STATUS = frozenset({429, 502, 503, 504})
# Methods web3 may resend. All are reads except eth_sendRawTransaction, which is idempotent
# (same signed bytes, same hash; Sender.broadcast recognises its own resent transaction).
# Not listed, so never resent: eth_sendTransaction (node-side signing) and dev-node methods
# (evm_*, anvil_*), which change state.
RETRY_METHODS = (
    "web3_clientVersion", "net_version", "eth_chainId", "eth_blockNumber", "eth_gasPrice",
    "eth_maxPriorityFeePerGas", "eth_feeHistory", "eth_getBlockByNumber", "eth_getBlockByHash",
    "eth_getBalance", "eth_getCode", "eth_getStorageAt", "eth_getTransactionCount",
    "eth_getTransactionByHash", "eth_getTransactionReceipt", "eth_call", "eth_estimateGas",
    "eth_getLogs", "eth_sendRawTransaction",
)


class RetryableStatus(requests.HTTPError):
    """An HTTP status worth another attempt (rate limited, or a gateway error)."""


class RPCUnavailable(ChainError):
    """An RPC request failed at the transport level (after web3's retries, if it retries
    that method and that error)."""


def _raise_retryable_status(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    if response.status_code in RETRY_STATUS:
        raise RetryableStatus(f"HTTP {response.status_code} {response.reason}",
                              response=response)


class RPCProvider(HTTPProvider):
    """web3's HTTPProvider; a transport failure that outlasts its retries is one ChainError."""

    def make_request(self, method: Any, params: Any) -> Any:
        try:
            return super().make_request(method, params)
        except requests.RequestException as exc:
            config, attempts = self.exception_retry_configuration, 1
            if (config is not None and method in config.method_allowlist
                    and isinstance(exc, tuple(config.errors))):
                attempts = config.retries
            raise self._unavailable(method, attempts, exc) from exc

    def make_batch_request(self, batch_requests: Any) -> Any:
        try:  # web3 never retries a batch
            return super().make_batch_request(batch_requests)
        except requests.RequestException as exc:
            raise self._unavailable("batch request", 1, exc) from exc

    def _unavailable(self, what: str, attempts: int, exc: Exception) -> RPCUnavailable:
        host = urllib.parse.urlsplit(str(self.endpoint_uri)).netloc  # no path: keys hide there
        return RPCUnavailable(
            f"{what}: the RPC endpoint {host} failed {attempts} attempt(s): {_what(exc)}")


def _what(exc: Exception) -> str:
    """The failure without the URL (requests puts it, path and any API key, in messages)."""
    response = getattr(exc, "response", None)
    if response is not None:
        return f"HTTP {response.status_code} {response.reason}"
    return type(exc).__name__


def make_web3(url: str, *, attempts: int = RPC_ATTEMPTS, backoff: float = RPC_BACKOFF) -> Web3:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.hooks["response"].append(_raise_retryable_status)
    retry = ExceptionRetryConfiguration(
        errors=(requests.ConnectionError, requests.Timeout, RetryableStatus),
        retries=attempts, backoff_factor=backoff, method_allowlist=list(RETRY_METHODS),
    )
    # web3's validation middleware asks for the chain id before every eth_call and gas
    # estimate (two requests each); the chain id of an endpoint does not change, so cache it.
    provider = RPCProvider(url, session=session, request_kwargs={"timeout": RPC_TIMEOUT},
                           exception_retry_configuration=retry, cache_allowed_requests=True,
                           cacheable_requests={"eth_chainId"})
    return Web3(provider)


@dataclass
class Chain:
    """A live connection: web3, chain id, settings, and senders keyed by account."""

    settings: Settings
    url: str
    w3: Web3
    chain_id: int
    _senders: dict[str, Sender] = field(default_factory=dict)

    @property
    def is_local_dev(self) -> bool:
        return self.chain_id in (31337, 1337)

    @cached_property
    def decoder(self) -> ErrorDecoder:
        settings = self.settings
        artifacts, _, _ = compile_contracts(
            settings.build_dir, contracts_dir=settings.contracts_dir
        )
        return ErrorDecoder(a.abi for a in artifacts.values())

    def account(self, dev_index: int = 0) -> LocalAccount:
        return resolve_account(self.settings, self.chain_id, dev_index)

    def sender(self, account: LocalAccount | None = None) -> Sender:
        account = account or self.account()
        if account.address not in self._senders:
            self._senders[account.address] = Sender(
                self.w3, account, chain_id=self.chain_id, decoder=self.decoder
            )
        return self._senders[account.address]


def connect(settings: Settings, *, start: bool = True) -> Chain:
    """Open the configured RPC, or attach the embedded Anvil when none is configured (starting
    it unless ``start`` is False: then a chain that is not running is a ConfigError)."""
    if settings.embedded:
        embedded = EmbeddedChain(settings.data_dir, settings.port)
        if not start:
            if not embedded.running():
                raise ConfigError(
                    f"no chain to read: the embedded chain of this home is not running on "
                    f"port {settings.port} (a read never starts one); start it with "
                    "`attestia chain up`, or read another chain with --rpc-url URL (or "
                    "ATTESTIA_RPC_URL)")
            url = embedded.url
        else:
            url = f"http://127.0.0.1:{embedded.up().port}"
    else:
        url = str(settings.rpc_url)
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"RPC URL must start with http:// or https://, got {url!r}")
    w3 = make_web3(url)
    try:
        chain_id = int(w3.eth.chain_id)
    except (RPCUnavailable, OSError, ValueError) as exc:
        raise ChainError(
            f"cannot reach the RPC endpoint {url}: {type(exc).__name__}; check the URL "
            "(ATTESTIA_RPC_URL) or unset it to use the embedded chain"
        ) from None
    return Chain(settings=settings, url=url, w3=w3, chain_id=chain_id)
