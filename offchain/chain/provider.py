"""web3's HTTP provider with the one retry layer (see ``offchain.chain.tx``): built by
``offchain.chain.connection.make_web3``, imported only by what makes a Web3 (a read goes
through ``offchain.chain.light`` instead)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from typing import Any

import requests
from web3 import HTTPProvider, Web3
from web3.providers.rpc.utils import ExceptionRetryConfiguration

from offchain.chain.light import RETRY_STATUS, RPCUnavailable


class RetryableStatus(requests.HTTPError):
    """An HTTP status worth another attempt (rate limited, or a gateway error)."""


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


def make_web3(url: str, *, attempts: int, backoff: float, timeout: float,
              methods: Sequence[str]) -> Web3:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.hooks["response"].append(_raise_retryable_status)
    retry = ExceptionRetryConfiguration(
        errors=(requests.ConnectionError, requests.Timeout, RetryableStatus),
        retries=attempts, backoff_factor=backoff, method_allowlist=list(methods),
    )
    # web3's validation middleware asks for the chain id before every eth_call and gas
    # estimate (two requests each); the chain id of an endpoint does not change, so cache it.
    provider = RPCProvider(url, session=session, request_kwargs={"timeout": timeout},
                           exception_retry_configuration=retry, cache_allowed_requests=True,
                           cacheable_requests={"eth_chainId"})
    return Web3(provider)
