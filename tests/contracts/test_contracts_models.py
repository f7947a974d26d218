"""ModelRegistry: registration (ids namespaced by owner, the contributor roster), owner-only
terms and settings, deprecation and revocation, each revert by its custom error."""

from __future__ import annotations

from eth_utils import keccak

from offchain.protocol import MAX_CONTRIBUTORS, Split, contributors_hash, model_id
from tests.contracts.helpers import (
    FEE,
    OUTSIDER,
    OWNER,
    REQUESTER,
    ROSTER,
    SIGNED,
    SPLIT,
    TEE,
    ZERO32,
    ZK,
    Harness,
    contributor,
    contributors_shares,
    reverts,
)


def test_register_model_stores_every_field(h: Harness) -> None:
    content = h.unique("content")
    model_id_ = h.register_model(policy=SIGNED | ZK, fee=123, split=(1_000, 500, 8_500),
                                 content_hash=content)
    assert model_id_ == model_id(OWNER.address, content) == h.registry.model_id_of(OWNER.address,
                                                                              content)
    model = h.registry.model(model_id_)
    assert model is not None
    assert (model.owner, model.policy, model.workerBps, model.ownerBps) == (
        OWNER.address, SIGNED | ZK, 1_000, 500)
    assert (model.deprecated, model.revokedAt, model.fee, model.has_verifier) == (
        False, 0, 123, False)
    assert (model.contributors, model.registeredAt, model.metadataURI) == (
        len(ROSTER), h.now(), "ipfs://model-card")
    assert (model.contentHash, model.contributorsHash) == (content, contributors_hash(ROSTER))
    assert h.registry.contributors(model_id_) == ROSTER  # the full roster, from ModelRegistered
    assert h.registry.model(h.unique()) is None  # owner zero: not registered
    assert h.registry.contributors(h.unique()) is None


def test_register_model_reverts(h: Harness) -> None:
    content = h.unique("content")
    h.register_model(content_hash=content)
    split = Split(*SPLIT)

    def register(content_hash, *, policy=SIGNED, split=split, roster=ROSTER, owner=OWNER):
        h.send(h.registry.register_model(content_hash, "", ZERO32, roster, policy, FEE, split),
               owner)

    with reverts("AlreadyExists"):  # the same owner, the same content
        register(content)
    with reverts("InvalidModelId"):
        register(ZERO32)
    for policy in (0, 0x01, 0x10, 0xFF):
        with reverts("InvalidPolicy", policy):
            register(h.unique(), policy=policy)
    for bad in ((5_000, 5_000, 1), (0, 0, 9_999)):
        with reverts("InvalidSplit", *bad):  # Split refuses these in Python: send raw
            h.send(h.registry.contract.functions.registerModel(
                h.unique(), "", ZERO32, ROSTER, SIGNED, FEE, bad), OWNER)
    # The same content under another owner is another model (ids are namespaced by owner).
    register(content, owner=OUTSIDER)
    assert h.registry.model(model_id(OUTSIDER.address, content)).owner == OUTSIDER.address
    assert h.registry.model(model_id(OWNER.address, content)).owner == OWNER.address


def test_register_model_roster_checks(h: Harness) -> None:
    """The roster: 1..MAX_CONTRIBUTORS accounts, strictly ascending (so no duplicate and no
    zero address); the index of the first offending entry is reported."""
    split = Split(*SPLIT)

    def register(roster):
        h.send(h.registry.register_model(h.unique(), "", ZERO32, roster, SIGNED, FEE, split), OWNER)

    with reverts("InvalidRosterLength", 0):
        register([])
    too_many = ["0x%040x" % (i + 1) for i in range(MAX_CONTRIBUTORS + 1)]
    with reverts("InvalidRosterLength", MAX_CONTRIBUTORS + 1):
        register(too_many)
    with reverts("RosterNotSorted", 0):
        register(["0x" + "00" * 20])
    with reverts("RosterNotSorted", 0):
        register(["0x" + "00" * 20, ROSTER[0]])
    swapped = list(ROSTER)
    swapped[3], swapped[4] = swapped[4], swapped[3]
    with reverts("RosterNotSorted", 4):
        register(swapped)
    with reverts("RosterNotSorted", 2):  # a duplicate is not strictly ascending
        register([ROSTER[0], ROSTER[1], ROSTER[1]])
    with reverts("RosterNotSorted", 1):
        register(list(reversed(ROSTER[:2])))
    # The largest roster registers, and one single contributor does too.
    big = h.register_model(contributors=too_many[:MAX_CONTRIBUTORS])
    assert h.registry.model(big).contributors == MAX_CONTRIBUTORS
    one = h.register_model(contributors=[contributor(0)])
    # abi.encodePacked(address[]) pads every element to a 32-byte word.
    word = bytes(12) + bytes.fromhex(contributor(0)[2:])
    assert h.registry.model(one).contributorsHash == keccak(word)


def test_owner_sets_terms_and_verifier(h: Harness) -> None:
    model_id_ = h.register_model()
    receipt = h.send(h.registry.set_terms(model_id_, 7, SIGNED | TEE | ZK, Split(0, 0, 10_000)),
                     OWNER)
    (event,) = h.events(h.registry, "ModelTermsUpdated", receipt)
    assert (event["modelId"], event["fee"], event["policy"], event["split"]["contributorBps"]) \
        == (model_id_, 7, SIGNED | TEE | ZK, 10_000)
    verifier = h.deploy("MockZkVerifier", True)
    h.send(h.registry.set_verifier(model_id_, verifier.address), OWNER)
    model = h.registry.model(model_id_)
    assert (model.fee, model.workerBps, model.ownerBps, model.policy, model.verifier) == (
        7, 0, 0, SIGNED | TEE | ZK, verifier.address)
    # The roster is fixed at registration: terms do not touch it.
    assert model.contributorsHash == contributors_hash(ROSTER)


def test_owner_only_functions_revert_for_others_and_unknown_models(h: Harness) -> None:
    model_id_ = h.register_model()
    unknown = h.unique("unknown")
    reg = h.registry
    calls = {
        "setTerms": lambda m: reg.set_terms(m, 1, SIGNED, Split(*SPLIT)),
        "setVerifier": lambda m: reg.set_verifier(m, h.registry.address),
        "deprecateModel": reg.deprecate_model,
        "revokeModel": reg.revoke_model,
    }
    for build in calls.values():
        with reverts("Unauthorized"):
            h.send(build(model_id_), OUTSIDER)
        with reverts("ModelNotFound", unknown):
            h.send(build(unknown), OWNER)


def test_set_terms_argument_checks(h: Harness) -> None:
    model_id_ = h.register_model()
    set_terms = h.registry.contract.functions.setTerms  # raw: Split refuses a bad split in Python
    with reverts("InvalidSplit", 9_000, 1_000, 1):
        h.send(set_terms(model_id_, FEE, SIGNED, (9_000, 1_000, 1)), OWNER)
    with reverts("InvalidPolicy", 0):
        h.send(h.registry.set_terms(model_id_, FEE, 0, Split(*SPLIT)), OWNER)
    with reverts("InvalidPolicy", 0x11):
        h.send(h.registry.set_terms(model_id_, FEE, 0x11, Split(*SPLIT)), OWNER)
    with reverts("InvalidVerifier", OUTSIDER.address):  # an EOA has no code
        h.send(h.registry.set_verifier(model_id_, OUTSIDER.address), OWNER)


def test_deprecated_model_takes_no_requests_but_records_open_ones(h: Harness) -> None:
    model_id_ = h.setup_signed()
    request = h.request(model_id_)
    h.send(h.registry.deprecate_model(model_id_), OWNER)
    assert h.registry.model(model_id_).deprecated is True
    with reverts("ModelNotActive", model_id_):
        h.request(model_id_, fee=FEE)
    with reverts("ModelNotActive", model_id_):
        h.send(h.registry.deprecate_model(model_id_), OWNER)
    shares = contributors_shares(2)
    inference = h.record(request, shares)
    h.fulfill(request, inference, shares)
    assert h.registry.request_state(request.request_id) == h.digest(inference)


def test_revoked_model_takes_no_requests_and_no_records(h: Harness) -> None:
    model_id_ = h.setup_signed()
    request = h.request(model_id_)
    h.send(h.registry.revoke_model(model_id_), OWNER)
    revoked_at = h.now()
    assert h.registry.model(model_id_).revokedAt == revoked_at
    with reverts("ModelIsRevoked", model_id_):
        h.send(h.registry.revoke_model(model_id_), OWNER)
    with reverts("ModelNotActive", model_id_):
        h.request(model_id_, fee=FEE)
    shares = contributors_shares(2)
    inference = h.record(request, shares)
    with reverts("ModelIsRevoked", model_id_):
        h.fulfill(request, inference, shares)
    with reverts("ModelIsRevoked", model_id_):
        h.fulfill(request, inference, shares, by_sig=True)
    # The requester is not stuck: the request can still be cancelled once it expired.
    h.send_at(h.cancellable_at(request), h.registry.cancel_request(request), REQUESTER)


def test_request_for_unknown_model_and_wrong_payment(h: Harness) -> None:
    model_id_ = h.setup_signed()
    unknown = h.unique("unknown")
    with reverts("ModelNotFound", unknown):
        h.request(unknown, fee=FEE)
    with reverts("IncorrectPayment", FEE, FEE - 1):
        h.request(model_id_, fee=FEE - 1)
    with reverts("IncorrectPayment", FEE, FEE + 1):
        h.request(model_id_, fee=FEE + 1)
    h.send(h.registry.set_terms(model_id_, 0, SIGNED, Split(*SPLIT)), OWNER)
    request = h.request(model_id_)  # free models take requests without value
    assert request.fee == 0
