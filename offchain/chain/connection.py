"""Connect to the configured chain, or to the embedded Anvil (starting it if needed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import requests
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from offchain.build import compile_contracts
from offchain.chain.accounts import resolve_account
from offchain.chain.anvil import EmbeddedChain
from offchain.chain.tx import ErrorDecoder, Sender
from offchain.config import Settings
from offchain.errors import ChainError, ConfigError


def make_web3(url: str) -> Web3:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return Web3(HTTPProvider(url, session=session, request_kwargs={"timeout": 30}))


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


def connect(settings: Settings) -> Chain:
    """Open the configured RPC, or start/attach the embedded Anvil when none is configured."""
    if settings.embedded:
        status = EmbeddedChain(settings.data_dir, settings.port).up()
        url = f"http://127.0.0.1:{status.port}"
    else:
        url = str(settings.rpc_url)
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"RPC URL must start with http:// or https://, got {url!r}")
    w3 = make_web3(url)
    try:
        chain_id = int(w3.eth.chain_id)
    except (requests.RequestException, OSError, ValueError) as exc:
        raise ChainError(
            f"cannot reach the RPC endpoint {url}: {type(exc).__name__}; check the URL "
            "(ATTESTIA_RPC_URL) or unset it to use the embedded chain"
        ) from None
    return Chain(settings=settings, url=url, w3=w3, chain_id=chain_id)
