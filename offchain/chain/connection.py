"""Connect to the configured chain, or to the embedded Anvil (starting it if needed).

The RPC transport has one retry layer, web3's own, configured here (see ``make_web3`` and the
reasoning in ``offchain.chain.tx``): ``RPC_ATTEMPTS`` attempts in total per request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from offchain.chain.anvil import EmbeddedChain
from offchain.chain.light import (
    RETRY_STATUS,
    RPC_ATTEMPTS,
    RPC_BACKOFF,
    RPC_TIMEOUT,
    LightWeb3,
    RPCUnavailable,
)
from offchain.config import Settings
from offchain.errors import ChainError, ConfigError

if TYPE_CHECKING:  # web3 is imported when a Web3 is made, not by a read (offchain.chain.light)
    from eth_account.signers.local import LocalAccount
    from web3 import Web3

    from offchain.chain.tx import ErrorDecoder, Sender

__all__ = ["RETRY_METHODS", "RETRY_STATUS", "RPC_ATTEMPTS", "RPC_BACKOFF", "RPC_TIMEOUT", "Chain",
           "RPCUnavailable", "connect", "make_web3"]

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


def make_web3(url: str, *, attempts: int = RPC_ATTEMPTS, backoff: float = RPC_BACKOFF) -> Web3:
    """A web3 over ``url`` with the one retry layer (offchain.chain.provider)."""
    from offchain.chain.provider import make_web3 as make

    return make(url, attempts=attempts, backoff=backoff, timeout=RPC_TIMEOUT,
                methods=RETRY_METHODS)


@dataclass
class Chain:
    """A live connection: web3, chain id, settings, and senders keyed by account. A chain
    opened ``light`` (see :func:`connect`) holds a :class:`~offchain.chain.light.LightWeb3`:
    it reads, it never signs."""

    settings: Settings
    url: str
    w3: Web3
    chain_id: int
    _senders: dict[str, Sender] = field(default_factory=dict)

    @property
    def is_local_dev(self) -> bool:
        return self.chain_id in (31337, 1337)

    @property
    def is_light(self) -> bool:
        return isinstance(self.w3, LightWeb3)

    def light(self) -> Chain:
        """The same endpoint read through offchain.chain.light (no web3; it never sends)."""
        if self.is_light:
            return self
        return Chain(settings=self.settings, url=self.url, w3=cast("Web3", LightWeb3(self.url)),
                     chain_id=self.chain_id)

    @cached_property
    def decoder(self) -> ErrorDecoder:
        from offchain.build import compile_contracts
        from offchain.chain.tx import ErrorDecoder

        settings = self.settings
        artifacts, _, _ = compile_contracts(
            settings.build_dir, contracts_dir=settings.contracts_dir
        )
        return ErrorDecoder(a.abi for a in artifacts.values())

    def account(self, dev_index: int = 0) -> LocalAccount:
        from offchain.chain.accounts import resolve_account

        return resolve_account(self.settings, self.chain_id, dev_index)

    def sender(self, account: LocalAccount | None = None) -> Sender:
        from offchain.chain.tx import Sender

        if self.is_light:
            raise ChainError("a light (read-only) connection cannot send: connect without "
                             "light=True")
        account = account or self.account()
        if account.address not in self._senders:
            self._senders[account.address] = Sender(
                self.w3, account, chain_id=self.chain_id, decoder=self.decoder
            )
        return self._senders[account.address]


def connect(settings: Settings, *, start: bool = True, light: bool = False) -> Chain:
    """Open the configured RPC, or attach the embedded Anvil when none is configured (starting
    it unless ``start`` is False: then a chain that is not running is a ConfigError).
    ``light``: read through :mod:`offchain.chain.light` (no web3 import; nothing can be
    sent)."""
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
    w3: Any = LightWeb3(url) if light else make_web3(url)
    try:
        chain_id = int(w3.eth.chain_id)
    except (RPCUnavailable, OSError, ValueError) as exc:
        raise ChainError(
            f"cannot reach the RPC endpoint {url}: {type(exc).__name__}; check the URL "
            "(ATTESTIA_RPC_URL) or unset it to use the embedded chain"
        ) from None
    return Chain(settings=settings, url=url, w3=w3, chain_id=chain_id)
