"""WorkerRegistry: registration with the key's EIP-712 consent, key rotation, staking,
unbonding, enclave binding, the measurement allowlist and governance revocations, each revert
by its custom error."""

from __future__ import annotations

from offchain.chain.eip712 import sign_digest
from offchain.protocol import TIMESTAMP_WINDOW, WINDOW_MARGIN, worker_registration_digest
from tests.contracts.helpers import (
    ADMIN,
    CHALLENGE_WINDOW,
    ENCRYPTION_KEY,
    MIN_STAKE,
    OPERATOR,
    OUTSIDER,
    TIMEOUT,
    UNBONDING,
    WORKER,
    WORKER_B,
    ZERO32,
    ZERO_ADDRESS,
    Harness,
    reverts,
)


def test_register_worker_and_its_reverts(h: Harness) -> None:
    reg = h.registry
    h.register_worker(stake=MIN_STAKE + 5)
    worker = reg.worker(WORKER.address)
    assert worker is not None
    assert (worker.operator, worker.unbondingAt, worker.revokedAt, worker.stake) == (
        OPERATOR.address, 0, 0, MIN_STAKE + 5)
    assert (worker.registeredAt, worker.slashedAt, worker.encryptionKey) == (
        h.now(), 0, ENCRYPTION_KEY)
    assert reg.is_active_worker(WORKER.address) is True
    assert reg.is_active_worker(OUTSIDER.address) is False
    assert reg.worker(OUTSIDER.address) is None
    with reverts("AlreadyExists"):
        h.register_worker(stake=MIN_STAKE)
    deadline, signature = h.consent(WORKER_B, OPERATOR.address, key=b"k")
    with reverts("ZeroAddress"):
        h.send(reg.register_worker(ZERO_ADDRESS, b"k", MIN_STAKE, deadline=deadline,
                                   signature=signature), OPERATOR)
    with reverts("EmptyEncryptionKey"):
        h.send(reg.register_worker(WORKER_B.address, b"", MIN_STAKE, deadline=deadline,
                                   signature=signature), OPERATOR)
    with reverts("StakeTooLow", MIN_STAKE, MIN_STAKE - 1):
        h.send(reg.register_worker(WORKER_B.address, b"k", MIN_STAKE - 1, deadline=deadline,
                                   signature=signature), OPERATOR)
    with reverts("StakeTooLow", MIN_STAKE, 0):
        h.send(reg.register_worker(WORKER_B.address, b"k", 0, deadline=deadline,
                                   signature=signature), OPERATOR)
    h.send(reg.register_worker(WORKER_B.address, b"k", MIN_STAKE, deadline=deadline,
                               signature=signature), OPERATOR)
    assert reg.worker(WORKER_B.address).operator == OPERATOR.address


def test_registration_needs_the_keys_consent(h: Harness) -> None:
    """Unless the key sends it, registerWorker needs the key's EIP-712 WorkerRegistration naming
    this operator, this encryption key, the key's current nonce, an unexpired deadline, this
    chain and this registry: anything else is InvalidSignature (or SignatureExpired)."""
    reg = h.registry
    key = ENCRYPTION_KEY

    def register(deadline: int, signature: bytes, *, sender=OPERATOR, key_: bytes = key) -> None:
        h.send(reg.register_worker(WORKER.address, key_, MIN_STAKE, deadline=deadline,
                                   signature=signature), sender)

    def signed(*, signer=WORKER, operator=OPERATOR.address, key_=key, nonce=0,
               deadline=None, chain_id=None, registry=None) -> tuple[int, bytes]:
        deadline = h.now() + 600 if deadline is None else deadline
        digest = worker_registration_digest(
            WORKER.address, operator, key_, nonce, deadline, chain_id or h.chain_id,
            registry or reg.address)
        return deadline, sign_digest(signer, digest)

    with reverts("InvalidSignature"):  # no consent at all
        register(h.now() + 600, b"")
    for bad in (b"\x01" * 64, b"\x00" * 65):
        with reverts("InvalidSignature"):
            register(h.now() + 600, bad)
    with reverts("InvalidSignature"):  # signed by another key
        register(*signed(signer=OUTSIDER))
    with reverts("InvalidSignature"):  # the operator signs for the key
        register(*signed(signer=OPERATOR))
    with reverts("InvalidSignature"):  # consent to another operator, sent by this one
        register(*signed(operator=OUTSIDER.address))
    with reverts("InvalidSignature"):  # consent for another encryption key
        register(*signed(key_=b"\x04" + b"\x22" * 64))
    with reverts("InvalidSignature"):  # a future nonce
        register(*signed(nonce=1))
    with reverts("InvalidSignature"):  # another chain
        register(*signed(chain_id=h.chain_id + 1))
    with reverts("InvalidSignature"):  # another registry
        register(*signed(registry=h.distributor.address))
    deadline, signature = signed(deadline=h.now() - 1)
    with reverts("SignatureExpired", deadline):
        register(deadline, signature)
    deadline, signature = signed()
    with reverts("InvalidSignature"):  # a signature altered in its last byte
        register(deadline, signature[:64] + b"\x05")
    assert reg.nonce(WORKER.address) == 0  # refused attempts use no nonce

    # The deadline itself is still valid (the signature expires after it).
    deadline, signature = signed(deadline=h.now() + 50)
    h.send_at(deadline, reg.register_worker(WORKER.address, key, MIN_STAKE, deadline=deadline,
                                            signature=signature), OPERATOR)
    worker = reg.worker(WORKER.address)
    assert (worker.operator, worker.encryptionKey) == (OPERATOR.address, key)
    assert reg.nonce(WORKER.address) == 1  # the consent is used up
    registered = reg.workers_registered()
    assert [(e.signer, e.operator, e.stake, e.encryption_key) for e in registered] == [
        (WORKER.address, OPERATOR.address, MIN_STAKE, key)]


def test_a_key_registers_itself_without_a_signature(h: Harness) -> None:
    reg = h.registry
    h.send(reg.register_worker(WORKER_B.address, b"k", MIN_STAKE), WORKER_B)
    worker = reg.worker(WORKER_B.address)
    assert worker.operator == WORKER_B.address and worker.encryptionKey == b"k"
    assert reg.nonce(WORKER_B.address) == 0  # no consent signature was used
    # And rotates its own key the same way.
    h.send(reg.set_encryption_key(WORKER_B.address, b"k2"), WORKER_B)
    assert reg.worker(WORKER_B.address).encryptionKey == b"k2"


def test_expired_consent_is_refused_one_second_after_its_deadline(h: Harness) -> None:
    deadline, signature = h.consent(WORKER, OPERATOR.address, deadline=h.now() + 50)
    call = h.registry.register_worker(WORKER.address, ENCRYPTION_KEY, MIN_STAKE, deadline=deadline,
                                 signature=signature)
    with reverts("SignatureExpired", deadline):
        h.send_at(deadline + 1, call, OPERATOR)
    assert h.registry.worker(WORKER.address) is None


def test_set_encryption_key_needs_consent_and_consents_are_single_use(h: Harness) -> None:
    reg = h.registry
    h.register_worker()
    new_key = b"\x04" + b"\x33" * 64
    # The registration's consent (nonce 0) cannot be replayed: the nonce moved on.
    stale_deadline, stale = h.consent(WORKER, OPERATOR.address, key=new_key, nonce=0)
    with reverts("InvalidSignature"):
        h.send(reg.set_encryption_key(WORKER.address, new_key, deadline=stale_deadline,
                                      signature=stale), OPERATOR)
    deadline, signature = h.consent(WORKER, OPERATOR.address, key=new_key)
    call = reg.set_encryption_key(WORKER.address, new_key, deadline=deadline,
                                  signature=signature)
    with reverts("Unauthorized"):  # only the operator
        h.send(call, OUTSIDER)
    with reverts("SignatureExpired", 0):  # the operator without the key's consent...
        h.send(reg.set_encryption_key(WORKER.address, new_key), OPERATOR)
    with reverts("InvalidSignature"):  # ...even with a deadline in the future
        h.send(reg.set_encryption_key(WORKER.address, new_key, deadline=deadline), OPERATOR)
    with reverts("WorkerNotFound", WORKER_B.address):
        h.send(reg.set_encryption_key(WORKER_B.address, new_key, deadline=deadline,
                                      signature=signature), OPERATOR)
    with reverts("EmptyEncryptionKey"):
        h.send(reg.set_encryption_key(WORKER.address, b"", deadline=deadline,
                                      signature=signature), OPERATOR)
    receipt = h.send(call, OPERATOR)
    (event,) = h.events(h.registry, "EncryptionKeyUpdated", receipt)
    assert (event["signer"], event["operator"], event["encryptionKey"]) == (
        WORKER.address, OPERATOR.address, new_key)
    assert reg.worker(WORKER.address).encryptionKey == new_key
    assert reg.nonce(WORKER.address) == 2
    with reverts("InvalidSignature"):  # the same consent, replayed
        h.send(call, OPERATOR)


def test_add_stake(h: Harness) -> None:
    reg = h.registry
    h.register_worker()
    h.send(reg.add_stake(WORKER.address, 3), OPERATOR)
    assert reg.worker(WORKER.address).stake == MIN_STAKE + 3
    with reverts("ZeroAmount"):
        h.send(reg.add_stake(WORKER.address, 0), OPERATOR)
    with reverts("Unauthorized"):
        h.send(reg.add_stake(WORKER.address, 1), OUTSIDER)
    with reverts("WorkerNotFound", WORKER_B.address):
        h.send(reg.add_stake(WORKER_B.address, 1), OPERATOR)
    h.send(reg.begin_unbonding(WORKER.address), OPERATOR)
    with reverts("WorkerNotActive", WORKER.address):
        h.send(reg.add_stake(WORKER.address, 1), OPERATOR)


def test_unbonding_and_stake_withdrawal(h: Harness) -> None:
    reg = h.registry
    h.register_worker()
    with reverts("NotUnbonding", WORKER.address):
        h.send(reg.withdraw_stake(WORKER.address), OPERATOR)
    with reverts("Unauthorized"):
        h.send(reg.begin_unbonding(WORKER.address), OUTSIDER)
    with reverts("WorkerNotFound", WORKER_B.address):
        h.send(reg.begin_unbonding(WORKER_B.address), OPERATOR)
    receipt = h.send(reg.begin_unbonding(WORKER.address), OPERATOR)
    started = h.now()
    (event,) = h.events(h.registry, "UnbondingStarted", receipt)
    assert event["withdrawableAt"] == started + UNBONDING
    assert reg.is_active_worker(WORKER.address) is False
    assert reg.worker(WORKER.address).unbondingAt == started
    with reverts("WorkerNotActive", WORKER.address):
        h.send(reg.begin_unbonding(WORKER.address), OPERATOR)
    with reverts("UnbondingNotElapsed", started + UNBONDING):
        h.send(reg.withdraw_stake(WORKER.address), OPERATOR)
    h.travel(UNBONDING)
    with reverts("Unauthorized"):
        h.send(reg.withdraw_stake(WORKER.address), OUTSIDER)
    registry_before = h.balance(h.registry.address)
    h.send(reg.withdraw_stake(WORKER.address), OPERATOR)
    assert h.balance(h.registry.address) == registry_before - MIN_STAKE
    assert reg.worker(WORKER.address).stake == 0
    with reverts("ZeroAmount"):
        h.send(reg.withdraw_stake(WORKER.address), OPERATOR)
    # An unbonded worker can't be named in requests (nor make records).
    model_id = h.register_model()
    with reverts("WorkerNotActive", WORKER.address):
        h.request(model_id)


def test_unbonding_delay_must_outlast_every_records_challenge_window(h: Harness) -> None:
    """Constructor: unbondingDelay >= challengeWindow + TIMESTAMP_WINDOW + WINDOW_MARGIN, so
    no stake leaves while a record it backs can still be challenged, with a margin
    (InvalidUnbondingDelay)."""
    reg = h.registry
    assert reg.challenge_window() == CHALLENGE_WINDOW
    assert reg.unbonding_delay() >= CHALLENGE_WINDOW + TIMESTAMP_WINDOW + WINDOW_MARGIN
    minimum = CHALLENGE_WINDOW + TIMESTAMP_WINDOW + WINDOW_MARGIN

    def args(unbonding: int) -> list:
        return [ADMIN.address, h.distributor.address, MIN_STAKE, unbonding, CHALLENGE_WINDOW,
                TIMEOUT, 0, 86_400]

    with reverts("InvalidUnbondingDelay", minimum, minimum - 1):
        h.deploy("InferenceRegistry", *args(minimum - 1))
    with reverts("InvalidUnbondingDelay", TIMESTAMP_WINDOW + WINDOW_MARGIN, 0):  # no window
        h.deploy("InferenceRegistry", ADMIN.address, h.distributor.address, MIN_STAKE, 0, 0,
                 TIMEOUT, 0, 86_400)
    deployed = h.deploy("InferenceRegistry", *args(minimum))
    assert deployed.functions.unbondingDelay().call() == minimum


def test_measurement_allowlist(h: Harness) -> None:
    reg = h.registry
    m = h.unique("measurement")
    with reverts("AccessControlUnauthorizedAccount"):
        h.send(reg.allow_measurement(m), OUTSIDER)
    with reverts("MeasurementNotAllowed", m):
        h.send(reg.revoke_measurement(m), ADMIN)
    h.send(reg.allow_measurement(m), ADMIN)
    allowed_at = h.now()
    with reverts("AlreadyExists"):
        h.send(reg.allow_measurement(m), ADMIN)
    with reverts("AccessControlUnauthorizedAccount"):
        h.send(reg.revoke_measurement(m), OUTSIDER)
    h.send(reg.revoke_measurement(m), ADMIN)
    status = reg.measurement_status(m)
    assert (status.allowedAt, status.revokedAt) == (allowed_at, h.now())
    with reverts("AlreadyRevoked"):
        h.send(reg.revoke_measurement(m), ADMIN)
    with reverts("MeasurementIsRevoked", m):  # revocation is one-way
        h.send(reg.allow_measurement(m), ADMIN)


def test_bind_enclave(h: Harness) -> None:
    reg = h.registry
    h.register_worker()
    h.register_worker(WORKER_B)
    unknown, revoked, good = h.unique("m1"), h.unique("m2"), h.unique("m3")
    h.send(reg.allow_measurement(revoked), ADMIN)
    h.send(reg.revoke_measurement(revoked), ADMIN)
    h.send(reg.allow_measurement(good), ADMIN)
    attestation = h.unique("attestation")
    bind = reg.bind_enclave
    with reverts("Unauthorized"):
        h.send(bind(WORKER.address, good, attestation, "uri"), OUTSIDER)
    with reverts("WorkerNotFound", OUTSIDER.address):
        h.send(bind(OUTSIDER.address, good, attestation, "uri"), OPERATOR)
    with reverts("MeasurementNotAllowed", unknown):
        h.send(bind(WORKER.address, unknown, attestation, "uri"), OPERATOR)
    with reverts("MeasurementIsRevoked", revoked):
        h.send(bind(WORKER.address, revoked, attestation, "uri"), OPERATOR)
    with reverts("EmptyAttestationHash"):
        h.send(bind(WORKER.address, good, ZERO32, "uri"), OPERATOR)
    h.send(bind(WORKER.address, good, attestation, "uri"), OPERATOR)
    worker = reg.worker(WORKER.address)
    assert (worker.enclaveBoundAt, worker.measurement, worker.attestationHash,
            worker.attestationURI) == (h.now(), good, attestation, "uri")
    assert worker.enclave_bound
    with reverts("EnclaveAlreadyBound", WORKER.address):
        h.send(bind(WORKER.address, good, h.unique(), "other"), OPERATOR)
    h.send(reg.begin_unbonding(WORKER_B.address), OPERATOR)
    with reverts("WorkerNotActive", WORKER_B.address):
        h.send(bind(WORKER_B.address, good, attestation, "uri"), OPERATOR)


def test_revoke_worker(h: Harness) -> None:
    reg = h.registry
    h.register_worker()
    with reverts("AccessControlUnauthorizedAccount", OUTSIDER.address, reg.governance_role()):
        h.send(reg.revoke_worker(WORKER.address), OUTSIDER)
    with reverts("WorkerNotFound", WORKER_B.address):
        h.send(reg.revoke_worker(WORKER_B.address), ADMIN)
    h.send(reg.revoke_worker(WORKER.address), ADMIN)
    assert reg.worker(WORKER.address).revokedAt == h.now()
    assert reg.is_active_worker(WORKER.address) is False
    with reverts("AlreadyRevoked"):
        h.send(reg.revoke_worker(WORKER.address), ADMIN)
    # Revocation is not slashing: the operator can still unbond and recover the stake.
    h.send(reg.begin_unbonding(WORKER.address), OPERATOR)
    h.travel(UNBONDING)
    before = h.balance(OPERATOR.address)
    receipt = h.send(reg.withdraw_stake(WORKER.address), OPERATOR)
    spent = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert h.balance(OPERATOR.address) == before + MIN_STAKE - spent


def test_governance_roles_are_granted_to_admin_only(h: Harness) -> None:
    reg = h.registry
    f = h.registry.contract.functions
    governance = reg.governance_role()
    admin_role = f.DEFAULT_ADMIN_ROLE().call()
    assert reg.has_role(governance, ADMIN.address) is True
    assert reg.has_role(admin_role, ADMIN.address) is True
    assert reg.has_role(governance, OUTSIDER.address) is False
    with reverts("AccessControlUnauthorizedAccount", OUTSIDER.address, admin_role):
        h.send(f.grantRole(governance, OUTSIDER.address), OUTSIDER)
    h.send(f.grantRole(governance, OUTSIDER.address), ADMIN)
    h.register_worker()
    h.send(reg.revoke_worker(WORKER.address), OUTSIDER)  # the new governor may act
