"""WorkerRegistry: staking, unbonding, enclave binding, the measurement allowlist and
governance revocations, each revert by its custom error."""

from __future__ import annotations

from tests.contracts.helpers import (
    ADMIN,
    MIN_STAKE,
    OPERATOR,
    OUTSIDER,
    WORKER,
    WORKER_B,
    ZERO32,
    ZERO_ADDRESS,
    Harness,
    reverts,
)

UNBONDING = 7 * 86_400  # DeployParams default


def test_register_worker_and_its_reverts(h: Harness) -> None:
    f = h.registry.functions
    h.register_worker(stake=MIN_STAKE + 5)
    worker = f.getWorker(WORKER.address).call()
    assert (worker[0], worker[1], worker[2], worker[3]) == (OPERATOR.address, 0, 0, MIN_STAKE + 5)
    assert f.isActiveWorker(WORKER.address).call() is True
    assert f.isActiveWorker(OUTSIDER.address).call() is False
    with reverts("AlreadyExists"):
        h.register_worker(stake=MIN_STAKE)
    with reverts("ZeroAddress"):
        h.send(f.registerWorker(ZERO_ADDRESS, b"k"), OPERATOR, value=MIN_STAKE)
    with reverts("EmptyEncryptionKey"):
        h.send(f.registerWorker(WORKER_B.address, b""), OPERATOR, value=MIN_STAKE)
    with reverts("StakeTooLow", MIN_STAKE, MIN_STAKE - 1):
        h.send(f.registerWorker(WORKER_B.address, b"k"), OPERATOR, value=MIN_STAKE - 1)


def test_add_stake(h: Harness) -> None:
    f = h.registry.functions
    h.register_worker()
    h.send(f.addStake(WORKER.address), OPERATOR, value=3)
    assert h.attestia.reg.worker(WORKER.address).stake == MIN_STAKE + 3
    with reverts("ZeroAmount"):
        h.send(f.addStake(WORKER.address), OPERATOR)
    with reverts("Unauthorized"):
        h.send(f.addStake(WORKER.address), OUTSIDER, value=1)
    with reverts("WorkerNotFound", WORKER_B.address):
        h.send(f.addStake(WORKER_B.address), OPERATOR, value=1)
    h.send(f.beginUnbonding(WORKER.address), OPERATOR)
    with reverts("WorkerNotActive", WORKER.address):
        h.send(f.addStake(WORKER.address), OPERATOR, value=1)


def test_unbonding_and_stake_withdrawal(h: Harness) -> None:
    f = h.registry.functions
    h.register_worker()
    with reverts("NotUnbonding", WORKER.address):
        h.send(f.withdrawStake(WORKER.address), OPERATOR)
    with reverts("Unauthorized"):
        h.send(f.beginUnbonding(WORKER.address), OUTSIDER)
    with reverts("WorkerNotFound", WORKER_B.address):
        h.send(f.beginUnbonding(WORKER_B.address), OPERATOR)
    h.send(f.beginUnbonding(WORKER.address), OPERATOR)
    started = h.now()
    assert f.isActiveWorker(WORKER.address).call() is False
    with reverts("WorkerNotActive", WORKER.address):
        h.send(f.beginUnbonding(WORKER.address), OPERATOR)
    with reverts("UnbondingNotElapsed", started + UNBONDING):
        h.send(f.withdrawStake(WORKER.address), OPERATOR)
    h.travel(UNBONDING)
    with reverts("Unauthorized"):
        h.send(f.withdrawStake(WORKER.address), OUTSIDER)
    registry_before = h.balance(h.registry.address)
    h.send(f.withdrawStake(WORKER.address), OPERATOR)
    assert h.balance(h.registry.address) == registry_before - MIN_STAKE
    assert h.attestia.reg.worker(WORKER.address).stake == 0
    with reverts("ZeroAmount"):
        h.send(f.withdrawStake(WORKER.address), OPERATOR)
    # An unbonded worker's records are refused.
    model_id = h.register_model()
    with reverts("WorkerNotActive", WORKER.address):
        h.request(model_id)


def test_measurement_allowlist(h: Harness) -> None:
    f = h.registry.functions
    m = h.unique("measurement")
    with reverts("AccessControlUnauthorizedAccount"):
        h.send(f.allowMeasurement(m), OUTSIDER)
    with reverts("MeasurementNotAllowed", m):
        h.send(f.revokeMeasurement(m), ADMIN)
    h.send(f.allowMeasurement(m), ADMIN)
    allowed_at = h.now()
    with reverts("AlreadyExists"):
        h.send(f.allowMeasurement(m), ADMIN)
    with reverts("AccessControlUnauthorizedAccount"):
        h.send(f.revokeMeasurement(m), OUTSIDER)
    h.send(f.revokeMeasurement(m), ADMIN)
    assert tuple(f.measurementStatus(m).call()) == (allowed_at, h.now())
    with reverts("AlreadyRevoked"):
        h.send(f.revokeMeasurement(m), ADMIN)
    with reverts("MeasurementIsRevoked", m):  # revocation is one-way
        h.send(f.allowMeasurement(m), ADMIN)


def test_bind_enclave(h: Harness) -> None:
    f = h.registry.functions
    h.register_worker()
    h.register_worker(WORKER_B)
    unknown, revoked, good = h.unique("m1"), h.unique("m2"), h.unique("m3")
    h.send(f.allowMeasurement(revoked), ADMIN)
    h.send(f.revokeMeasurement(revoked), ADMIN)
    h.send(f.allowMeasurement(good), ADMIN)
    attestation = h.unique("attestation")
    bind = f.bindEnclave
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
    worker = f.getWorker(WORKER.address).call()
    assert (worker[5], worker[6], worker[7], worker[9]) == (h.now(), good, attestation, "uri")
    with reverts("EnclaveAlreadyBound", WORKER.address):
        h.send(bind(WORKER.address, good, h.unique(), "other"), OPERATOR)
    h.send(f.beginUnbonding(WORKER_B.address), OPERATOR)
    with reverts("WorkerNotActive", WORKER_B.address):
        h.send(bind(WORKER_B.address, good, attestation, "uri"), OPERATOR)


def test_revoke_worker(h: Harness) -> None:
    f = h.registry.functions
    h.register_worker()
    with reverts("AccessControlUnauthorizedAccount", OUTSIDER.address,
                 f.GOVERNANCE_ROLE().call()):
        h.send(f.revokeWorker(WORKER.address), OUTSIDER)
    with reverts("WorkerNotFound", WORKER_B.address):
        h.send(f.revokeWorker(WORKER_B.address), ADMIN)
    h.send(f.revokeWorker(WORKER.address), ADMIN)
    assert h.attestia.reg.worker(WORKER.address).revokedAt == h.now()
    assert f.isActiveWorker(WORKER.address).call() is False
    with reverts("AlreadyRevoked"):
        h.send(f.revokeWorker(WORKER.address), ADMIN)
    # The operator can still unbond and recover the (unslashed) stake.
    h.send(f.beginUnbonding(WORKER.address), OPERATOR)
    h.travel(UNBONDING)
    before = h.balance(OPERATOR.address)
    receipt = h.send(f.withdrawStake(WORKER.address), OPERATOR)
    spent = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert h.balance(OPERATOR.address) == before + MIN_STAKE - spent


def test_governance_roles_are_granted_to_admin_only(h: Harness) -> None:
    f = h.registry.functions
    governance = f.GOVERNANCE_ROLE().call()
    admin_role = f.DEFAULT_ADMIN_ROLE().call()
    assert f.hasRole(governance, ADMIN.address).call() is True
    assert f.hasRole(admin_role, ADMIN.address).call() is True
    assert f.hasRole(governance, OUTSIDER.address).call() is False
    with reverts("AccessControlUnauthorizedAccount", OUTSIDER.address, admin_role):
        h.send(f.grantRole(governance, OUTSIDER.address), OUTSIDER)
    h.send(f.grantRole(governance, OUTSIDER.address), ADMIN)
    h.register_worker()
    h.send(f.revokeWorker(WORKER.address), OUTSIDER)  # the new governor may act
