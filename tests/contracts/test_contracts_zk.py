"""ZK records (fulfillZk / fulfillZkBySig) against contracts/test/MockZkVerifier.sol: the
proof and output bindings, the verifier's answer, and the usual record checks."""

from __future__ import annotations

from eth_utils import keccak

from offchain.proofs.zk import output_binding
from offchain.protocol import PROOF_SIGNED, PROOF_ZK, Inference
from tests.contracts.helpers import (
    FEE,
    OPERATOR,
    OUTSIDER,
    OWNER,
    RELAYER,
    SIGNED,
    WORKER,
    ZK,
    Harness,
    Request,
    contributors_shares,
    reverts,
)

PROOF = b"\x5a" * 96
INSTANCES = [12345, 2**255 + 7, 0, 42]


def setup_zk(h: Harness, *, answer: bool = True, policy: int = ZK):
    model_id = h.register_model(policy=policy)
    h.register_worker()
    verifier = h.deploy("MockZkVerifier", answer)
    h.send(h.registry.functions.setVerifier(model_id, verifier.address), OWNER)
    return model_id, verifier


def zk_record(h: Harness, request: Request, shares, *, proof: bytes = PROOF,
              instances=INSTANCES, **overrides) -> Inference:
    fields = {"proof_kind": PROOF_ZK, "proof_hash": keccak(proof),
              "output_commitment": output_binding(instances)}
    fields.update(overrides)
    return h.record(request, shares, **fields)


def submit(h: Harness, request: Request, inference: Inference, shares, *, by_sig: bool = False,
           proof: bytes = PROOF, instances=INSTANCES, sender=None, signer=WORKER):
    f = h.registry.functions
    if by_sig:
        fn = f.fulfillZkBySig(request.as_tuple(), inference.as_tuple(), shares,
                              h.sign(inference, signer), proof, instances, b"sealed")
        return h.send(fn, sender or RELAYER)
    fn = f.fulfillZk(request.as_tuple(), inference.as_tuple(), shares, proof, instances, b"")
    return h.send(fn, sender or WORKER)


def test_zk_record_direct_and_relayed(h: Harness) -> None:
    model_id, _ = setup_zk(h)
    shares = contributors_shares(5)
    for by_sig in (False, True):
        request = h.request(model_id)
        inference = zk_record(h, request, shares)
        submit(h, request, inference, shares, by_sig=by_sig)
        assert h.registry.functions.requestState(request.request_id).call() == \
            h.digest(inference)
        with reverts("AlreadyRecorded", h.digest(inference)):
            submit(h, request, inference, shares, by_sig=by_sig)
    assert h.registry.functions.balances(OPERATOR.address).call() == 2 * FEE * 2_000 // 10_000


def test_zk_bindings(h: Harness) -> None:
    model_id, _ = setup_zk(h)
    shares = contributors_shares(2)
    request = h.request(model_id)
    with reverts("NotZkRecord", PROOF_SIGNED):
        submit(h, request, h.record(request, shares), shares)
    wrong = h.unique()
    with reverts("ProofHashMismatch", keccak(PROOF), wrong):
        submit(h, request, zk_record(h, request, shares, proof_hash=wrong), shares)
    with reverts("ProofHashMismatch", keccak(b"other proof"), keccak(PROOF)):
        submit(h, request, zk_record(h, request, shares), shares, proof=b"other proof")
    with reverts("OutputCommitmentMismatch", output_binding([1, 2]), output_binding(INSTANCES)):
        submit(h, request, zk_record(h, request, shares), shares, instances=[1, 2])
    with reverts("OutputCommitmentMismatch", output_binding(INSTANCES), wrong):
        submit(h, request, zk_record(h, request, shares, output_commitment=wrong), shares)
    submit(h, request, zk_record(h, request, shares), shares)


def test_verifier_answer_decides(h: Harness) -> None:
    model_id, verifier = setup_zk(h, answer=False)
    shares = contributors_shares(2)
    request = h.request(model_id)
    inference = zk_record(h, request, shares)
    with reverts("ZkProofInvalid"):
        submit(h, request, inference, shares)
    h.send(verifier.functions.configure(True, True), OUTSIDER)  # the verifier reverts
    with reverts("ZkProofInvalid"):
        submit(h, request, inference, shares, by_sig=True)
    h.send(verifier.functions.configure(True, False), OUTSIDER)
    submit(h, request, inference, shares)


def test_verifier_not_set_and_policy(h: Harness) -> None:
    model_id = h.register_model(policy=ZK)
    h.register_worker()
    shares = contributors_shares(2)
    request = h.request(model_id)
    with reverts("VerifierNotSet", model_id):
        submit(h, request, zk_record(h, request, shares), shares)
    signed_model = h.register_model(policy=SIGNED)
    verifier = h.deploy("MockZkVerifier", True)
    h.send(h.registry.functions.setVerifier(signed_model, verifier.address), OWNER)
    signed_request = h.request(signed_model)
    with reverts("ProofKindNotAllowed", PROOF_ZK):
        submit(h, signed_request, zk_record(h, signed_request, shares), shares)


def test_zk_signer_and_model_checks(h: Harness) -> None:
    model_id, _ = setup_zk(h)
    shares = contributors_shares(2)
    request = h.request(model_id)
    inference = zk_record(h, request, shares)
    with reverts("Unauthorized"):
        submit(h, request, inference, shares, sender=OUTSIDER)
    with reverts("InvalidSignature"):
        submit(h, request, inference, shares, by_sig=True, signer=OUTSIDER)
    h.send(h.registry.functions.revokeModel(model_id), OWNER)
    with reverts("ModelIsRevoked", model_id):
        submit(h, request, inference, shares, by_sig=True)
