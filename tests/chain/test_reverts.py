"""Every custom error of the compiled contracts has a sentence (offchain.chain.reverts) whose
placeholders are the error's own parameters, and the CLI-facing explanation decodes them:
a deadline as a date, a role as its name and holders, a dead worker with what to do."""

from __future__ import annotations

import re
import string

from eth_abi import encode
from eth_utils import keccak

from offchain.build import compile_contracts
from offchain.chain.accounts import dev_account
from offchain.chain.reverts import SENTENCES
from offchain.chain.tx import ErrorDecoder, abi_type
from offchain.config import REPO_ROOT
from offchain.errors import TransactionReverted
from offchain.timefmt import iso

SAMPLES = {"address": "0x" + "11" * 20, "bytes32": b"\x22" * 32, "string": "text",
           "uint8": 1, "uint16": 7, "uint64": 1797403529, "uint256": 10**15}


def _errors() -> list[dict]:
    artifacts, _, _ = compile_contracts(REPO_ROOT / "build",
                                        contracts_dir=REPO_ROOT / "contracts")
    seen: dict[str, dict] = {}
    for artifact in artifacts.values():
        for item in artifact.abi:
            if item.get("type") == "error":
                types = ",".join(abi_type(p) for p in item["inputs"])
                seen[f"{item['name']}({types})"] = item
    return list(seen.values())


def _revert(item: dict) -> bytes:
    types = [abi_type(p) for p in item["inputs"]]
    selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
    return selector + encode(types, [SAMPLES[t] for t in types])


def test_every_custom_error_of_the_compiled_abis_has_a_sentence() -> None:
    errors = _errors()
    assert len(errors) >= 100
    missing = sorted({e["name"] for e in errors} - set(SENTENCES))
    assert not missing, f"custom errors without a sentence in offchain/chain/reverts.py: {missing}"
    decoder = ErrorDecoder([errors])
    for item in errors:
        params = {p["name"] for p in item["inputs"]}
        fields = {f for _, f, _, _ in string.Formatter().parse(SENTENCES[item["name"]]) if f}
        # a sentence may leave parameters out, never name one the error does not carry
        # (RosterMismatch is two errors of one name: the words fit both)
        assert fields <= params, (item["name"], fields - params)
        said = decoder.explain(_revert(item))
        assert said and "{" not in said and "?" not in said, (item["name"], said)
    assert not set(SENTENCES) - {e["name"] for e in errors}, "a sentence for no error"


def test_arguments_are_said_in_words() -> None:
    decoder = ErrorDecoder([_errors()])
    deadline = keccak(text="DeadlineNotReached(uint64)")[:4] + encode(["uint64"], [1797403529])
    said = decoder.explain(deadline)
    assert said is not None and iso(1797403529) in said and "1797403529" not in said
    role = keccak(text="GOVERNANCE_ROLE")
    unauthorized = (keccak(text="AccessControlUnauthorizedAccount(address,bytes32)")[:4]
                    + encode(["address", "bytes32"], ["0x" + "ab" * 20, role]))
    said = decoder.explain(unauthorized)
    assert said is not None and "GOVERNANCE_ROLE" in said and "0x" + role.hex() not in said
    dead = keccak(text="WorkerNotActive(address)")[:4] + encode(["address"], ["0x" + "11" * 20])
    said = decoder.explain(dead)
    assert said is not None and "another worker key" in said
    bond = keccak(text="IncorrectBond(uint256,uint256)")[:4] + encode(["uint256"] * 2,
                                                                     [10**16, 0])
    assert "0.010000 ETH" in (decoder.explain(bond) or "")
    assert decoder.explain(b"\xde\xad\xbe\xef") is None


def test_a_missing_role_names_who_holds_it(attestia) -> None:
    stranger = dev_account(7)
    sender = attestia.chain.sender(stranger)
    try:
        sender.transact(attestia.registry.allow_measurement(b"\x33" * 32))
    except TransactionReverted as exc:
        reverted = exc
    else:
        raise AssertionError("a stranger allowed a measurement")
    assert reverted.error == "AccessControlUnauthorizedAccount"
    text = reverted.for_people()
    assert text.startswith(str(reverted))
    deployer = dev_account(0).address
    assert re.search(rf"{stranger.address} does not hold GOVERNANCE_ROLE.*held by {deployer}",
                     text), text
