"""The fleet's on-chain duty: on-chain requests naming the fleet's key, and challenges to its
records, are served by the one fleet worker holding the key's duty lease; when it stops
renewing the lease another worker takes the duty over, serves every request still open (none
twice) and answers the challenges."""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path

import pytest

from offchain.protocol import DisputeState
from offchain.queue.store import Queue
from tests.gateway.helpers import fleet_node, queue_worker
from tests.worker.helpers import challenge_record, send_demo_requests

LEASE = 2.0


def _rounds(worker, seconds: float) -> None:
    """Rounds of a fleet worker that never stops cleanly (a SIGKILLed process: its leases are
    not given up, they expire)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        worker._queue_round(False)
        time.sleep(0.02)


def _recorded(attestia) -> Counter[str]:
    return Counter("0x" + e.request_id.hex() for e in attestia.registry.recorded(0))


@pytest.fixture
def fleet(attestia, served_model, demo_package_dir: Path, tmp_path: Path):
    queue = Queue(f"sqlite:///{tmp_path / 'queue.sqlite'}")
    nodes = [fleet_node(attestia, demo_package_dir, tmp_path / "workers" / n) for n in "ab"]
    workers = [queue_worker(node, tmp_path / "workers" / n, queue, lease=LEASE)
               for node, n in zip(nodes, "ab", strict=True)]
    yield queue, workers
    for node in nodes:
        node.journal.close()
    queue.close()


def test_one_worker_holds_the_duty_and_another_takes_it_over_serving_what_is_open(
        attestia, demo_package, fleet, tmp_path: Path, caplog) -> None:
    queue, (a, b) = fleet
    signer = a.node.signer.address
    assert b.node.signer.address == signer  # one key, two processes
    first = send_demo_requests(attestia, demo_package, tmp_path, 3, worker=signer)
    _rounds(a, 3.0)
    assert queue.duty_holder(signer) == a.owner
    assert a.stats.recorded == 3
    # b finds the duty held (a's lease runs): it serves nothing on chain
    _rounds(b, 0.6)
    assert b.stats.recorded == 0 and queue.duty_holder(signer) == a.owner
    # a stops renewing (killed); requests keep coming
    later = send_demo_requests(attestia, demo_package, tmp_path, 2, worker=signer, offset=3)
    time.sleep(LEASE + 0.2)
    with caplog.at_level(logging.INFO, logger="attestia.worker"):
        _rounds(b, 4.0)
    assert queue.duty_holder(signer) == b.owner
    assert f"taken over from {a.owner}" in caplog.text
    assert b.stats.recorded == 2
    recorded = _recorded(attestia)
    assert set(recorded) == {"0x" + r.request_id.hex() for r in first + later}
    assert max(recorded.values()) == 1
    # a comes back: the duty is b's now, a serves nothing and sends nothing
    nonce = attestia.chain.w3.eth.get_transaction_count(signer)
    with caplog.at_level(logging.INFO, logger="attestia.worker"):
        _rounds(a, 1.0)
    assert "passed to another worker" in caplog.text
    assert attestia.chain.w3.eth.get_transaction_count(signer) == nonce
    # b stops cleanly: it gives the duty up, and a takes it at once (no lease to wait out)
    b.run(max_seconds=0.3)
    assert queue.duty_holder(signer) is None
    _rounds(a, 0.6)
    assert queue.duty_holder(signer) == a.owner


def test_the_duty_holder_answers_a_challenge_to_the_fleets_record(
        attestia, demo_package, fleet, tmp_path: Path) -> None:
    queue, (a, b) = fleet
    signer = a.node.signer.address
    (local,) = send_demo_requests(attestia, demo_package, tmp_path, 1, worker=signer)
    _rounds(a, 2.0)
    rid = challenge_record(attestia, demo_package, local)
    time.sleep(LEASE + 0.2)  # a is gone: b takes the duty and answers
    _rounds(b, 3.0)
    assert queue.duty_holder(signer) == b.owner
    dispute = attestia.slasher.dispute(rid)
    assert dispute.state == DisputeState.RESPONDED and dispute.n == 489
