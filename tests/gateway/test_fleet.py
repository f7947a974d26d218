"""The fleet as operators run it, in real processes: a gateway SIGKILLed and restarted loses
nothing it accepted; three workers on one PostgreSQL queue, SIGKILLed at random under load,
put every accepted request in exactly one committed leaf, and every on-chain request naming
the fleet's key in exactly one record."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from offchain.chain.anvil import free_port
from offchain.config import REPO_ROOT
from offchain.queue import store as S
from offchain.queue.store import Queue
from offchain.record import batch_file
from offchain.request.gateway import GatewayClient, GatewayError, read_message, sign_message
from tests.explorer.conftest import postgres_server  # noqa: F401 - the indexer's fixture
from tests.explorer.helpers import new_postgres_database
from tests.gateway.helpers import CLIENT, fleet_node, queue_worker, rows, sealed_body
from tests.worker.helpers import send_demo_requests


def _env(settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTESTIA_")}
    return env | {"ATTESTIA_HOME": str(settings.home), "ATTESTIA_RPC_URL": settings.rpc_url}


def _start(settings, log: Path, *args: str) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "offchain.cli.main", *args],
                                cwd=REPO_ROOT, env=_env(settings), stdout=out,
                                stderr=subprocess.STDOUT)


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None,
              log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited {proc.returncode}:\n"
                                 + (log.read_text()[-3000:] if log else ""))
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} took over {timeout} s"
                                 + (":\n" + log.read_text()[-3000:] if log else ""))
        time.sleep(0.05)


def _answers(url: str) -> bool:
    try:
        GatewayClient(url, timeout=1).info()
        return True
    except GatewayError:
        return False


def _gateway(settings, log: Path, queue: str, model_id: bytes, port: int) -> subprocess.Popen:
    proc = _start(settings, log, "gateway", "--queue", queue, "--model", "0x" + model_id.hex(),
                  "--port", str(port), "--rate-limit", "1000")
    _wait_for(lambda: _answers(f"http://127.0.0.1:{port}"), 60, "gateway start", proc, log)
    return proc


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(10)


@pytest.mark.slow
def test_a_gateway_restart_loses_nothing_accepted(
        attestia, settings, served_model, demo_package_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "workers" / "w1"
    node = fleet_node(attestia, demo_package_dir, data_dir)  # registers the fleet key
    queue_url = f"sqlite:///{tmp_path / 'queue.sqlite'}"
    port, log = free_port(), tmp_path / "gateway.log"
    url = f"http://127.0.0.1:{port}"
    proc = _gateway(settings, log, queue_url, served_model.model_id, port)
    bodies = [sealed_body(attestia, served_model.model_id, raw)[0] for raw in rows(5)]
    answers = []
    try:
        for body in bodies:
            status, answer = GatewayClient(url).submit(body)
            assert status == 202
            answers.append(answer)
        _kill(proc)  # SIGKILL: no shutdown of any kind
        proc = _gateway(settings, log, queue_url, served_model.model_id, port)
        for body, answer in zip(bodies, answers, strict=True):
            read = sign_message(CLIENT, read_message(attestia.chain.chain_id,
                                                     attestia.registry.address,
                                                     body.request_id))
            assert GatewayClient(url).status(body.request_id, read)["state"] == "queued"
            # a client that did not hear the first answer sends again: the same receipt
            assert GatewayClient(url).submit(body) == (200, answer)
        queue = Queue(queue_url)
        assert queue.counts() == {S.QUEUED: 5}
        queue_worker(node, data_dir, queue).run(until_idle=True)
        assert queue.counts() == {S.COMMITTED: 5}
        queue.close()
    finally:
        _kill(proc)
        node.journal.close()


def _committed_leaves(attestia) -> Counter[str]:
    """Every request id in every committed batch's published leaves (duplicates counted)."""
    seen: Counter[str] = Counter()
    for event in attestia.registry.batches(0):
        published = batch_file.load(event.data_uri, event,
                                    roster=attestia.registry.contributors(event.model_id))
        seen.update("0x" + leaf.inference.requestId.hex() for leaf in published.leaves)
    return seen


def _recorded(attestia) -> Counter[str]:
    """Every on-chain record's request id (duplicates counted)."""
    return Counter("0x" + e.request_id.hex() for e in attestia.registry.recorded(0))


def _leases(queue: Queue) -> list:
    """Who holds what right now: leased requests and open batches (owner as lease_owner)."""
    from sqlalchemy import select

    with queue.engine.connect() as conn:
        held = conn.execute(select(S.requests.c.lease_owner).where(
            S.requests.c.state == S.LEASED)).all()
        held += conn.execute(select(S.batches.c.owner.label("lease_owner")).where(
            S.batches.c.state.in_(S.OPEN_BATCH))).all()
    return held


@pytest.mark.slow
def test_kill_loop_fleet_of_three_on_postgresql_records_every_request_exactly_once(
        attestia, settings, served_model, demo_package, demo_package_dir: Path, tmp_path: Path,
        postgres_server: str) -> None:  # noqa: F811 - the fixture imported above
    from tests.gateway.helpers import gateway_of, served

    queue_url = new_postgres_database(postgres_server)
    tag = uuid.uuid4().hex[:6]
    names = [f"fleet-{tag}-{i}" for i in range(3)]
    logs = {name: tmp_path / f"{name}.log" for name in names}
    publish = tmp_path / "published"

    def worker(name: str) -> subprocess.Popen:
        return _start(settings, logs[name], "worker", "run", "--model", str(demo_package_dir),
                      "--queue", queue_url, "--name", name, "--batch-size", "6",
                      "--max-latency", "0.3", "--lease", "3", "--publish-dir", str(publish))

    procs = {names[0]: worker(names[0])}  # the first registers the key and its encryption key
    _wait_for(lambda: "ready:" in logs[names[0]].read_text(errors="replace"), 90,
              "first worker start", procs[names[0]], logs[names[0]])
    procs |= {name: worker(name) for name in names[1:]}
    queue = Queue(queue_url)
    gateway = gateway_of(attestia, queue, served_model.model_id)
    gateway.check_ready()
    accepted: list[str] = []
    onchain: list[str] = []
    signer = gateway.signer.address
    kills = 0
    rng = random.Random(20)
    try:
        with served(gateway) as url:
            def load() -> None:
                for i, raw in enumerate(rows(72)):
                    body = sealed_body(attestia, served_model.model_id, raw)[0]
                    status, _ = GatewayClient(url).submit(body)
                    assert status == 202
                    accepted.append("0x" + body.request_id.hex())
                    if i % 12 == 5:  # on-chain requests naming the fleet's key, meanwhile
                        onchain.extend("0x" + r.request_id.hex() for r in send_demo_requests(
                            attestia, demo_package, tmp_path, 1, worker=signer, offset=i))
                    time.sleep(0.1)

            def busy() -> list[str]:
                """Workers holding a lease or an open batch now (killing one is the case
                that matters: its work must be taken over)."""
                owners = {r.lease_owner for r in _leases(queue)}
                return [n for n in names if any(f":{procs[n].pid}:" in (o or "")
                                                for o in owners)]

            sender = threading.Thread(target=load)
            sender.start()
            while sender.is_alive():
                time.sleep(rng.uniform(0.5, 1.5))
                deadline = time.monotonic() + 3.0
                while not (holders := busy()) and time.monotonic() < deadline:
                    time.sleep(0.005)
                victim = rng.choice(holders or names)  # a random busy worker, else any
                _kill(procs[victim])
                kills += 1
                procs[victim] = worker(victim)
            sender.join()

            def settled() -> bool:
                counts = queue.counts()
                return counts.get(S.COMMITTED, 0) == len(accepted) and set(onchain) <= set(
                    _recorded(attestia))

            _wait_for(settled, 180, f"every request committed (queue {queue.counts()}) and "
                                    f"recorded")
        assert len(accepted) == 72 and kills >= 3 and len(onchain) == 6
        recorded = _recorded(attestia)
        assert set(recorded) == set(onchain) and max(recorded.values()) == 1
        leaves = _committed_leaves(attestia)
        assert set(leaves) == set(accepted), set(accepted) ^ set(leaves)
        assert max(leaves.values()) == 1, [k for k, n in leaves.items() if n > 1]
        assert queue.batch_counts().keys() == {S.COMMITTED}
        taken_over = sum(r.attempts > 1 for r in queue.all_requests())
        texts = "".join(log.read_text(errors="replace") for log in logs.values())
        adopted = texts.count("adopting batch")
        print(f"kill loop: {kills} kills, {len(leaves)} leaves in "
              f"{len(attestia.registry.batches(0))} batches, {taken_over} request(s) leased "
              f"again after a kill, {adopted} batch(es) adopted, "
              f"{texts.count('found committed on chain')} found committed on chain")
        assert taken_over + adopted >= 1, "no kill ever hit a worker holding work"
    finally:
        for proc in procs.values():
            _kill(proc)
        queue.close()


@pytest.mark.slow
def test_a_fleet_worker_waits_for_a_lost_chain_and_commits_what_was_accepted_meanwhile(
        project_home, demo_package, demo_package_dir, tmp_path, monkeypatch) -> None:
    """The chain goes away under a fleet worker after a first batch; the gateway accepts
    requests meanwhile (the model's fee is cached); the chain comes back and the same process
    commits them; nothing twice, no traceback, exit 0 on SIGTERM."""
    from offchain.chain.accounts import dev_account
    from offchain.chain.anvil import EmbeddedChain
    from offchain.chain.connection import connect
    from offchain.chain.deploy import deploy
    from offchain.config import load_settings
    from offchain.models.onchain import register_model
    from offchain.models.registrations import resolve_model_id
    from offchain.registry import Attestia
    from tests.gateway.helpers import gateway_of

    monkeypatch.setattr("offchain.gateway.service.FEE_CACHE", 3600.0)
    node = EmbeddedChain(tmp_path / "own-chain", free_port())
    node.up()
    worker = None
    log = tmp_path / "worker.log"
    queue_url = f"sqlite:///{tmp_path / 'queue.sqlite'}"
    queue = Queue(queue_url)
    try:
        settings = load_settings(home=project_home, rpc_url=node.url)
        attestia = Attestia(connect(settings), deploy(connect(settings), fresh=True)[0])
        register_model(attestia, demo_package, fee=10**15, kinds=["signed"],
                       account=dev_account(0))
        model_id = resolve_model_id(attestia, demo_package).model_id
        worker = _start(settings, log, "--rpc-url", node.url, "worker", "run", "--model",
                        str(demo_package_dir), "--name", "fleet", "--queue", queue_url,
                        "--batch-size", "2", "--max-latency", "0.5")
        _wait_for(lambda: "ready: batching the shared queue" in log.read_text(), 120,
                  "worker start", worker, log)
        gateway = gateway_of(attestia, queue, model_id)
        bodies = [sealed_body(attestia, model_id, raw)[0] for raw in rows(4)]
        for body in bodies[:2]:
            assert gateway.submit(body.canonical())[0] == 202
        _wait_for(lambda: queue.counts().get(S.COMMITTED) == 2, 60, "first batch", worker,
                  log)

        assert node.down()
        for body in bodies[2:]:  # accepted while the chain is away
            assert gateway.submit(body.canonical())[0] == 202
        # an idle fleet worker reads only the queue: it meets the lost chain with this work
        _wait_for(lambda: "chain unreachable at " in log.read_text(), 30, "waiting line",
                  worker, log)
        time.sleep(2)
        assert worker.poll() is None, log.read_text()
        node.up()
        _wait_for(lambda: queue.counts().get(S.COMMITTED) == 4, 90, "second batch", worker,
                  log)
        assert len(attestia.registry.batches()) == 2
        assert "Traceback" not in log.read_text(), log.read_text()
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
        node.down()
        queue.close()
    assert worker.returncode == 0, log.read_text()
    assert "stopped: 4 recorded" in log.read_text(), log.read_text()
