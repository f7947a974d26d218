"""Keys (keystores, dev keys only on 31337), settings precedence, revert decoding.

The RPC retry layer is tested in test_transport.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import TransactionNotFound
from web3.providers.base import BaseProvider

from offchain.chain.accounts import ANVIL_DEV_KEYS, dev_account, load_keystore, resolve_account
from offchain.chain.tx import ErrorDecoder, Sender
from offchain.config import load_settings
from offchain.errors import ChainError, ConfigError


def test_keystore_is_decrypted_with_the_password_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = Account.create()
    path = tmp_path / "key.json"
    path.write_text(json.dumps(Account.encrypt(account.key, "correct horse")))
    monkeypatch.setenv("ATTESTIA_KEYSTORE_PASSWORD", "correct horse")
    settings = load_settings(home=tmp_path, keystore=str(path))
    assert resolve_account(settings, chain_id=1).address == account.address
    monkeypatch.setenv("ATTESTIA_KEYSTORE_PASSWORD", "wrong")
    with pytest.raises(ConfigError, match="wrong password or bad file"):
        load_keystore(path)
    with pytest.raises(ConfigError, match="cannot read keystore"):
        load_keystore(tmp_path / "missing.json")


def test_dev_keys_only_on_anvil_and_explicit_keys_everywhere(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    assert resolve_account(settings, 31337, dev_index=3).address == dev_account(3).address
    with pytest.raises(ConfigError, match="no signing key for chain id 1337"):
        resolve_account(settings, 1337)
    explicit = load_settings(home=tmp_path, private_key=ANVIL_DEV_KEYS[4])
    assert resolve_account(explicit, 1).address == dev_account(4).address
    with pytest.raises(ConfigError, match="not a valid 32-byte hex key"):
        resolve_account(load_settings(home=tmp_path, private_key="0x1234"), 1)


def test_attestia_toml_and_environment_precedence(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "attestia.toml").write_text('[chain]\nrpc_url = "http://10.0.0.1:1"\nport = 9000\n')
    assert load_settings(home=tmp_path).rpc_url == "http://10.0.0.1:1"
    monkeypatch.setenv("ATTESTIA_RPC_URL", "http://127.0.0.1:2")
    assert load_settings(home=tmp_path).rpc_url == "http://127.0.0.1:2"
    assert load_settings(home=tmp_path, rpc_url="http://127.0.0.1:3").rpc_url.endswith(":3")
    assert load_settings(home=tmp_path).port == 9000
    (tmp_path / "attestia.toml").write_text("[chain\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(home=tmp_path)


def test_error_decoder_names_custom_errors_and_panics() -> None:
    abi = [{"type": "error", "name": "StakeTooLow", "inputs": [
        {"name": "minimum", "type": "uint256"}, {"name": "sent", "type": "uint256"}]}]
    decoder = ErrorDecoder([abi])
    from eth_abi import encode
    from eth_utils import keccak

    data = keccak(text="StakeTooLow(uint256,uint256)")[:4] + encode(["uint256"] * 2, [10, 3])
    assert decoder.describe(data) == ("reverted with StakeTooLow(10, 3)", "StakeTooLow", (10, 3))
    panic = keccak(text="Panic(uint256)")[:4] + encode(["uint256"], [0x11])
    assert "arithmetic overflow" in decoder.describe(panic)[0]
    assert "undecodable" in decoder.describe(b"\xde\xad\xbe\xef")[0]
    assert "without data" in decoder.describe(b"")[0]


def test_a_receipt_is_none_only_while_missing_and_a_lost_node_propagates(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Recovery re-broadcasts a transaction whose receipt is missing; a node that does not
    answer must not read as "not mined" (the round fails and waits for the chain instead)."""
    sender = Sender(Web3(BaseProvider()), dev_account(0), chain_id=31337)
    answers: list[BaseException | dict] = [TransactionNotFound("not yet"),
                                           ChainError("RPC unavailable"), {"status": 1}]

    def get_transaction_receipt(tx_hash: object) -> dict:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    monkeypatch.setattr(sender.w3.eth, "get_transaction_receipt", get_transaction_receipt)
    assert sender.receipt(bytes(32)) is None
    with pytest.raises(ChainError, match="RPC unavailable"):
        sender.receipt(bytes(32))
    assert sender.receipt(bytes(32)) == {"status": 1}
