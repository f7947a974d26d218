"""Registering a package under its owner's id, re-registering, and finding the id again.

Class 4b of issue 9: a front-runner that registers the same package gets its own id (nothing
of the owner's); re-registering with the same parameters is a no-op, with others an error
naming each difference; a worker or client given only the package resolves the right id.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offchain.chain.accounts import dev_account
from offchain.errors import ConfigError
from offchain.models.onchain import ModelConflict, register_model, set_terms
from offchain.models.registrations import (
    ModelIdUnknown,
    record_model_id,
    recorded_model_id,
    registrations_of,
    resolve_model_id,
    store_path,
)
from offchain.protocol import Split, contributors_hash, model_id

OWNER, FRONT_RUNNER = dev_account(0), dev_account(5)


def test_registration_is_the_owners_id_with_the_packages_roster_and_is_recorded(
    attestia, demo_package, tmp_path: Path
) -> None:
    registration = register_model(attestia, demo_package, fee=10**15, account=OWNER,
                                  data_dir=tmp_path)
    assert registration.new
    assert registration.model_id == model_id(OWNER.address, demo_package.content_hash)
    assert registration.model_id != demo_package.content_hash
    model = registration.model
    assert model.owner == OWNER.address and model.contentHash == demo_package.content_hash
    assert model.contributorsHash == contributors_hash(demo_package.roster)
    assert model.contributors == len(demo_package.roster) == 5
    assert model.dataRoot == demo_package.data_root()
    assert attestia.registry.contributors(registration.model_id) == demo_package.roster
    chain_id, registry = attestia.chain.chain_id, attestia.registry.address
    assert recorded_model_id(tmp_path, chain_id, registry, demo_package.content_hash) == \
        registration.model_id
    record = json.loads(store_path(tmp_path).read_text())
    [entry] = record["registrations"][f"{chain_id}/{registry}"].values()
    assert entry["owner"] == OWNER.address and entry["package"] == str(demo_package.path)


def test_registering_again_with_the_same_parameters_sends_nothing(
    attestia, demo_package
) -> None:
    first = register_model(attestia, demo_package, fee=10**15, account=OWNER)
    nonce = attestia.chain.w3.eth.get_transaction_count(OWNER.address)
    again = register_model(attestia, demo_package, fee=10**15, account=OWNER)
    assert not again.new and again.model_id == first.model_id and again.model == first.model
    assert attestia.chain.w3.eth.get_transaction_count(OWNER.address) == nonce


@pytest.mark.parametrize(("change", "needles"), [
    ({"fee": 2 * 10**15}, ["fee 0.001 ETH on chain, 0.002 ETH asked", "model set-terms"]),
    ({"kinds": ["signed"]}, ["proofs signed,tee on chain, signed asked", "setTerms"]),
    ({"split": Split(1_000, 2_000, 7_000)}, ["split 2000/2000/6000 on chain, 1000/2000/7000"]),
    ({"metadata_uri": "ipfs://other"}, ["metadata URI", "fixed at registration"]),
])
def test_registering_again_with_other_parameters_says_what_differs(
    attestia, demo_package, change, needles
) -> None:
    first = register_model(attestia, demo_package, fee=10**15, account=OWNER)
    arguments = {"fee": 10**15, "account": OWNER, **change}
    with pytest.raises(ModelConflict) as raised:
        register_model(attestia, demo_package, **arguments)
    message = str(raised.value)
    assert f"model {first.hex}" in message and "already registered by" in message
    for needle in needles:
        assert needle in message
    assert attestia.registry.model(first.model_id) == first.model  # nothing changed


def test_a_front_runners_registration_is_another_id_and_ambiguity_needs_a_model_id(
    attestia, demo_package, tmp_path: Path
) -> None:
    theirs = register_model(attestia, demo_package, fee=1, account=FRONT_RUNNER)
    ours = register_model(attestia, demo_package, fee=10**15, account=OWNER, data_dir=tmp_path)
    assert ours.new and ours.model_id != theirs.model_id
    assert ours.model.owner == OWNER.address and ours.model.fee == 10**15
    assert [mid for mid, _ in registrations_of(attestia, demo_package.content_hash)] == [
        theirs.model_id, ours.model_id]
    # A worker or client given the package: recorded id, own registration, a named id...
    assert resolve_model_id(attestia, demo_package, data_dir=tmp_path).how == "recorded"
    by_owner = resolve_model_id(attestia, demo_package, account=OWNER.address)
    assert (by_owner.model_id, by_owner.how) == (ours.model_id, "owner")
    named = resolve_model_id(attestia, demo_package, given=[theirs.model_id])
    assert (named.model_id, named.how) == (theirs.model_id, "given")
    # ... and with none of them, an error naming both registrations.
    with pytest.raises(ModelIdUnknown, match="registered 2 times") as raised:
        resolve_model_id(attestia, demo_package, account=dev_account(7).address)
    assert ours.hex in str(raised.value) and theirs.hex in str(raised.value)
    assert "--model-id 0x" in str(raised.value)
    with pytest.raises(ModelIdUnknown, match="is not a registration of"):
        resolve_model_id(attestia, demo_package, given=[b"\x01" * 32])


def test_resolution_without_any_registration_and_with_a_stale_record(
    attestia, demo_package, tmp_path: Path
) -> None:
    with pytest.raises(ModelIdUnknown, match="is not registered on chain 31337.*model register"):
        resolve_model_id(attestia, demo_package, data_dir=tmp_path)
    # A record left from an earlier chain (the id is not registered here) is ignored.
    record_model_id(tmp_path, attestia.chain.chain_id, attestia.registry.address,
                    demo_package.content_hash, b"\x02" * 32, OWNER.address)
    only = register_model(attestia, demo_package, fee=10**15, account=FRONT_RUNNER)
    resolved = resolve_model_id(attestia, demo_package, data_dir=tmp_path)
    assert (resolved.model_id, resolved.how) == (only.model_id, "event")
    store_path(tmp_path).write_text("{")
    with pytest.raises(ConfigError, match="not a readable model-id record"):
        resolve_model_id(attestia, demo_package, data_dir=tmp_path)


def test_set_terms_by_the_owner_only(attestia, demo_package) -> None:
    registration = register_model(attestia, demo_package, fee=10**15, account=OWNER)
    with pytest.raises(ConfigError, match="only the model owner"):
        set_terms(attestia, registration.model_id, fee=1, account=FRONT_RUNNER)
    model, changed = set_terms(attestia, registration.model_id, fee=2 * 10**15, account=OWNER)
    assert changed and model.fee == 2 * 10**15 and model.split == registration.model.split
    assert set_terms(attestia, registration.model_id, fee=2 * 10**15, account=OWNER) == (
        model, False)
    again = register_model(attestia, demo_package, fee=2 * 10**15, account=OWNER)
    assert not again.new
