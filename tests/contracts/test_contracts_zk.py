"""ZK records (fulfillZk / fulfillZkBySig) against contracts/test/MockZkVerifier.sol: the
proof and output bindings, the request's zk input binding, single-use proofs, the verifier's
answer, and the usual record checks."""

from __future__ import annotations

from eth_utils import keccak

from offchain.proofs.zk import output_binding
from offchain.protocol import PROOF_SIGNED, PROOF_ZK, ZERO32, Inference, ZkProof
from tests.contracts.helpers import (
    FEE,
    OPERATOR,
    OUTSIDER,
    OWNER,
    SIGNED,
    WORKER,
    ZK,
    Harness,
    Request,
    contributors_shares,
    reverts,
)

PROOF = b"\x5a" * 96
INSTANCES = (12345, 2**255 + 7, 0, 42)
ZK_PROOF = ZkProof(PROOF, INSTANCES)
INPUT = ZK_PROOF.input_hash  # what the requester commits to: instances[0] as bytes32


def setup_zk(h: Harness, *, answer: bool = True, policy: int = ZK):
    model_id = h.register_model(policy=policy)
    h.register_worker()
    verifier = h.deploy("MockZkVerifier", answer)
    h.send(h.registry.set_verifier(model_id, verifier.address), OWNER)
    return model_id, verifier


def zk_record(h: Harness, request: Request, shares, *, proof: ZkProof = ZK_PROOF,
              **overrides) -> Inference:
    fields = {"proof_kind": PROOF_ZK, "proof_hash": keccak(proof.proof),
              "output_commitment": output_binding(proof.instances)}
    fields.update(overrides)
    return h.record(request, shares, **fields)


def submit(h: Harness, request: Request, inference: Inference, shares, *, by_sig: bool = False,
           proof: ZkProof = ZK_PROOF, sender=None, signer=WORKER):
    return h.fulfill_zk(request, inference, shares, proof, by_sig=by_sig, sender=sender,
                        signer=signer)


def test_zk_record_direct_and_relayed(h: Harness) -> None:
    model_id, _ = setup_zk(h)
    shares = contributors_shares(5)
    for index, by_sig in enumerate((False, True)):
        # Each request has its own input, hence its own proof.
        proof = ZkProof(PROOF + bytes([index]), (1_000 + index, *INSTANCES[1:]))
        request = h.request(model_id, zk_input_hash=proof.input_hash)
        inference = zk_record(h, request, shares, proof=proof)
        assert h.registry.proof_used(keccak(proof.proof)) is False
        submit(h, request, inference, shares, by_sig=by_sig, proof=proof)
        assert h.registry.request_state(request.request_id) == h.digest(inference)
        assert h.registry.proof_used(keccak(proof.proof)) is True
        # A replay: its proof is spent (checked before the request slot).
        with reverts("ProofAlreadyUsed", keccak(proof.proof)):
            submit(h, request, inference, shares, by_sig=by_sig, proof=proof)
    assert h.registry.balance(OPERATOR.address) == 2 * FEE * 2_000 // 10_000


def test_zk_bindings(h: Harness) -> None:
    model_id, _ = setup_zk(h)
    shares = contributors_shares(2)
    request = h.request(model_id, zk_input_hash=INPUT)
    with reverts("NotZkRecord", PROOF_SIGNED):
        submit(h, request, h.record(request, shares), shares)
    wrong = h.unique()
    with reverts("ProofHashMismatch", keccak(PROOF), wrong):
        submit(h, request, zk_record(h, request, shares, proof_hash=wrong), shares)
    with reverts("ProofHashMismatch", keccak(b"other proof"), keccak(PROOF)):
        submit(h, request, zk_record(h, request, shares), shares,
               proof=ZkProof(b"other proof", INSTANCES))
    with reverts("OutputCommitmentMismatch", output_binding([12345, 2]),
                 output_binding(INSTANCES)):
        submit(h, request, zk_record(h, request, shares), shares,
               proof=ZkProof(PROOF, (12345, 2)))
    with reverts("OutputCommitmentMismatch", output_binding(INSTANCES), wrong):
        submit(h, request, zk_record(h, request, shares, output_commitment=wrong), shares)
    submit(h, request, zk_record(h, request, shares), shares)


def test_the_proof_input_must_be_the_requests_zk_input(h: Harness) -> None:
    """instances[0] must equal request.zkInputHash (ZkInputMismatch(expected, actual)); a
    request without a zk input (0) takes no ZK record."""
    model_id, _ = setup_zk(h)
    shares = contributors_shares(2)
    other_input = (99).to_bytes(32, "big")
    request = h.request(model_id, zk_input_hash=other_input)
    with reverts("ZkInputMismatch", other_input, INPUT):
        submit(h, request, zk_record(h, request, shares), shares)
    empty = ZkProof(PROOF, ())
    with reverts("ZkInputMismatch", other_input, ZERO32):  # no instance at all
        submit(h, request, zk_record(h, request, shares, proof=empty), shares, proof=empty)
    unbound = h.request(model_id)  # zkInputHash 0
    assert unbound.zkInputHash == ZERO32
    with reverts("ZkInputMismatch", ZERO32, INPUT):
        submit(h, unbound, zk_record(h, unbound, shares), shares, by_sig=True)
    zero_input = ZkProof(PROOF, (0, *INSTANCES[1:]))  # not even a zero instance passes
    with reverts("ZkInputMismatch", ZERO32, ZERO32):
        submit(h, unbound, zk_record(h, unbound, shares, proof=zero_input), shares,
               proof=zero_input)
    assert not h.registry.proof_used(keccak(PROOF))  # refused records use no proof


def test_a_proof_records_once(h: Harness) -> None:
    """A proof recorded for one request is ProofAlreadyUsed for any other, even one bound to
    the same input (another requester asking the same question)."""
    model_id, _ = setup_zk(h)
    shares = contributors_shares(2)
    first = h.request(model_id, zk_input_hash=INPUT)
    submit(h, first, zk_record(h, first, shares), shares)
    same_input = h.request(model_id, requester=OUTSIDER, zk_input_hash=INPUT)
    for by_sig in (False, True):
        with reverts("ProofAlreadyUsed", keccak(PROOF)):
            submit(h, same_input, zk_record(h, same_input, shares), shares, by_sig=by_sig)
    # A fresh proof of the same statement records.
    fresh = ZkProof(PROOF + b"\x01", INSTANCES)
    submit(h, same_input, zk_record(h, same_input, shares, proof=fresh), shares, proof=fresh)


def test_verifier_answer_decides(h: Harness) -> None:
    model_id, verifier = setup_zk(h, answer=False)
    shares = contributors_shares(2)
    request = h.request(model_id, zk_input_hash=INPUT)
    inference = zk_record(h, request, shares)
    with reverts("ZkProofInvalid"):
        submit(h, request, inference, shares)
    h.send(verifier.functions.configure(True, True), OUTSIDER)  # the verifier reverts
    with reverts("ZkProofInvalid"):
        submit(h, request, inference, shares, by_sig=True)
    assert not h.registry.proof_used(keccak(PROOF))
    h.send(verifier.functions.configure(True, False), OUTSIDER)
    submit(h, request, inference, shares)


def test_verifier_not_set_and_policy(h: Harness) -> None:
    model_id = h.register_model(policy=ZK)
    h.register_worker()
    shares = contributors_shares(2)
    request = h.request(model_id, zk_input_hash=INPUT)
    with reverts("VerifierNotSet", model_id):
        submit(h, request, zk_record(h, request, shares), shares)
    signed_model = h.register_model(policy=SIGNED)
    verifier = h.deploy("MockZkVerifier", True)
    h.send(h.registry.set_verifier(signed_model, verifier.address), OWNER)
    signed_request = h.request(signed_model, zk_input_hash=INPUT)
    with reverts("ProofKindNotAllowed", PROOF_ZK):
        submit(h, signed_request, zk_record(h, signed_request, shares), shares)


def test_zk_signer_sealed_result_and_model_checks(h: Harness) -> None:
    model_id, _ = setup_zk(h)
    shares = contributors_shares(2)
    request = h.request(model_id, zk_input_hash=INPUT)
    inference = zk_record(h, request, shares)
    with reverts("Unauthorized"):
        submit(h, request, inference, shares, sender=OUTSIDER)
    with reverts("InvalidSignature"):
        submit(h, request, inference, shares, by_sig=True, signer=OUTSIDER)
    with reverts("ResultHashMismatch", inference.resultHash, keccak(b"")):
        h.send(h.registry.fulfill_zk(request, inference, shares, h.roster(model_id), ZK_PROOF, b""),
               WORKER)
    h.send(h.registry.revoke_model(model_id), OWNER)
    with reverts("ModelIsRevoked", model_id):
        submit(h, request, inference, shares, by_sig=True)
