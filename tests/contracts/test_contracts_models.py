"""ModelRegistry: registration, owner-only settings, deprecation and revocation, each revert
by its custom error."""

from __future__ import annotations

from tests.contracts.helpers import (
    FEE,
    OUTSIDER,
    OWNER,
    REQUESTER,
    SIGNED,
    SPLIT,
    TEE,
    ZERO32,
    ZK,
    Harness,
    contributors_shares,
    reverts,
)


def test_register_model_stores_every_field(h: Harness) -> None:
    model_id = h.register_model(policy=SIGNED | ZK, fee=123, split=(1_000, 500, 8_500))
    model = h.attestia.reg.model(model_id)
    assert (model.owner, model.policy, model.workerBps, model.ownerBps) == (
        OWNER.address, SIGNED | ZK, 1_000, 500)
    assert (model.deprecated, model.revokedAt, model.fee, model.has_verifier) == (
        False, 0, 123, False)
    assert (model.contributors, model.registeredAt, model.metadataURI) == (
        5, h.now(), "ipfs://model-card")
    assert h.attestia.reg.model(h.unique()) is None  # owner zero: not registered


def test_register_model_reverts(h: Harness) -> None:
    model_id = h.register_model()
    fn = h.registry.functions.registerModel
    with reverts("AlreadyExists"):
        h.send(fn(model_id, "", ZERO32, 1, SIGNED, FEE, SPLIT), OUTSIDER)
    with reverts("InvalidModelId"):
        h.send(fn(ZERO32, "", ZERO32, 1, SIGNED, FEE, SPLIT), OWNER)
    for policy in (0, 0x01, 0x10, 0xFF):
        with reverts("InvalidPolicy", policy):
            h.send(fn(h.unique(), "", ZERO32, 1, policy, FEE, SPLIT), OWNER)
    with reverts("InvalidSplit", 5_000, 5_000, 1):
        h.send(fn(h.unique(), "", ZERO32, 1, SIGNED, FEE, (5_000, 5_000, 1)), OWNER)
    with reverts("InvalidSplit", 0, 0, 9_999):
        h.send(fn(h.unique(), "", ZERO32, 1, SIGNED, FEE, (0, 0, 9_999)), OWNER)


def test_owner_updates_fee_split_policy_and_verifier(h: Harness) -> None:
    model_id = h.register_model()
    f = h.registry.functions
    h.send(f.setFee(model_id, 7), OWNER)
    h.send(f.setSplit(model_id, (0, 0, 10_000)), OWNER)
    h.send(f.setPolicy(model_id, SIGNED | TEE | ZK), OWNER)
    verifier = h.deploy("MockZkVerifier", True)
    h.send(f.setVerifier(model_id, verifier.address), OWNER)
    model = h.attestia.reg.model(model_id)
    assert (model.fee, model.workerBps, model.ownerBps, model.policy, model.verifier) == (
        7, 0, 0, SIGNED | TEE | ZK, verifier.address)


def test_owner_only_functions_revert_for_others_and_unknown_models(h: Harness) -> None:
    model_id = h.register_model()
    unknown = h.unique("unknown")
    f = h.registry.functions
    calls = {
        "setFee": lambda m: f.setFee(m, 1),
        "setSplit": lambda m: f.setSplit(m, SPLIT),
        "setPolicy": lambda m: f.setPolicy(m, SIGNED),
        "setVerifier": lambda m: f.setVerifier(m, h.registry.address),
        "deprecateModel": f.deprecateModel,
        "revokeModel": f.revokeModel,
    }
    for build in calls.values():
        with reverts("Unauthorized"):
            h.send(build(model_id), OUTSIDER)
        with reverts("ModelNotFound", unknown):
            h.send(build(unknown), OWNER)


def test_setter_argument_checks(h: Harness) -> None:
    model_id = h.register_model()
    f = h.registry.functions
    with reverts("InvalidSplit", 9_000, 1_000, 1):
        h.send(f.setSplit(model_id, (9_000, 1_000, 1)), OWNER)
    with reverts("InvalidPolicy", 0):
        h.send(f.setPolicy(model_id, 0), OWNER)
    with reverts("InvalidPolicy", 0x11):
        h.send(f.setPolicy(model_id, 0x11), OWNER)
    with reverts("InvalidVerifier", OUTSIDER.address):  # an EOA has no code
        h.send(f.setVerifier(model_id, OUTSIDER.address), OWNER)


def test_deprecated_model_takes_no_requests_but_records_open_ones(h: Harness) -> None:
    model_id = h.setup_signed()
    request = h.request(model_id)
    h.send(h.registry.functions.deprecateModel(model_id), OWNER)
    assert h.attestia.reg.model(model_id).deprecated is True
    with reverts("ModelNotActive", model_id):
        h.request(model_id, fee=FEE)
    with reverts("ModelNotActive", model_id):
        h.send(h.registry.functions.deprecateModel(model_id), OWNER)
    shares = contributors_shares(2)
    inference = h.record(request, shares)
    h.fulfill(request, inference, shares)
    assert h.registry.functions.requestState(request.request_id).call() == h.digest(inference)


def test_revoked_model_takes_no_requests_and_no_records(h: Harness) -> None:
    model_id = h.setup_signed()
    request = h.request(model_id)
    h.send(h.registry.functions.revokeModel(model_id), OWNER)
    revoked_at = h.now()
    assert h.attestia.reg.model(model_id).revokedAt == revoked_at
    with reverts("ModelIsRevoked", model_id):
        h.send(h.registry.functions.revokeModel(model_id), OWNER)
    with reverts("ModelNotActive", model_id):
        h.request(model_id, fee=FEE)
    shares = contributors_shares(2)
    inference = h.record(request, shares)
    with reverts("ModelIsRevoked", model_id):
        h.fulfill(request, inference, shares)
    with reverts("ModelIsRevoked", model_id):
        h.fulfill(request, inference, shares, by_sig=True)
    # The requester is not stuck: the request can still be cancelled after the timeout.
    h.travel(3_601)
    h.send(h.registry.functions.cancelRequest(request.as_tuple()), REQUESTER)




def test_request_for_unknown_model_and_wrong_payment(h: Harness) -> None:
    model_id = h.setup_signed()
    unknown = h.unique("unknown")
    with reverts("ModelNotFound", unknown):
        h.request(unknown, fee=FEE)
    with reverts("IncorrectPayment", FEE, FEE - 1):
        h.request(model_id, fee=FEE - 1)
    with reverts("IncorrectPayment", FEE, FEE + 1):
        h.request(model_id, fee=FEE + 1)
    h.send(h.registry.functions.setFee(model_id, 0), OWNER)
    request = h.request(model_id)  # free models take requests without value
    assert request.fee == 0
