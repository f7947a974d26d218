"""The gateway and the fleet worker on one queue (SQLite here; PostgreSQL in test_fleet.py):
a remote submission reaches a verified leaf; bad requests get 4xx JSON and queue nothing
twice; poison is logged once and skipped; a batch committed but not marked is found on chain.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from pathlib import Path

import pytest
from eth_utils import keccak
from sqlalchemy import update

from offchain.chain.accounts import dev_account
from offchain.errors import ConfigError
from offchain.explorer.app import RateLimit
from offchain.gateway.app import create_app
from offchain.models.encoding import input_to_json
from offchain.queue import store as S
from offchain.queue.store import Queue
from offchain.record.compute import InferenceEngine
from offchain.request.gateway import (
    MAX_BODY_BYTES,
    READ_HEADER,
    GatewayClient,
    GatewayError,
    make_submission,
    read_message,
    sign_message,
)
from offchain.request.submit import (
    COMMITTED,
    QUEUED,
    REJECTED,
    batched_status,
    load_submission,
    submit_via_gateway,
    wait_batched,
)
from offchain.verify import RecordRef, VerifyOptions, verify
from tests.gateway.helpers import (
    CLIENT,
    OPERATOR,
    fleet_node,
    gateway_of,
    queue_worker,
    rows,
    sealed_body,
    served,
)

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx`")  # starlette's httpx2 notice
    from fastapi.testclient import TestClient


@pytest.fixture
def fleet(attestia, served_model, demo_package_dir: Path, tmp_path: Path):
    """A registered fleet key, a SQLite queue, the gateway over it, one fleet worker."""
    node = fleet_node(attestia, demo_package_dir, tmp_path / "workers" / "w1")
    queue = Queue(f"sqlite:///{tmp_path / 'queue.sqlite'}")
    gateway = gateway_of(attestia, queue, served_model.model_id)
    gateway.check_ready()
    worker = queue_worker(node, tmp_path / "workers" / "w1", queue)
    yield node, queue, gateway, worker
    queue.close()
    node.journal.close()


def test_remote_submission_reaches_a_leaf_that_verify_passes(
        attestia, served_model, demo_package_dir: Path, demo_package, fleet, tmp_path: Path
) -> None:
    node, queue, gateway, worker = fleet
    home = tmp_path / "second-home"  # another requester's home: no worker, no heartbeat
    inputs = rows(3)
    with served(gateway) as url:
        subs = [submit_via_gateway(attestia, served_model.model_id, raw, account=CLIENT,
                                   data_dir=home, gateway=url) for raw in inputs]
        assert [batched_status(attestia, s).state for s in subs] == [QUEUED] * 3
        assert subs[0].receipt is not None and subs[0].receipt["worker"] == OPERATOR.address
        assert queue.counts() == {S.QUEUED: 3}
        worker.run(until_idle=True)
        assert queue.counts() == {S.COMMITTED: 3}
        engine = InferenceEngine(demo_package, served_model.model_id)
        for sub, raw in zip(subs, inputs, strict=True):
            kept = load_submission(home, sub.request_id)
            assert kept is not None and kept.gateway == url
            status = wait_batched(attestia, kept, timeout=10)
            assert status.state == COMMITTED and status.leaf is not None
            # the sealed result opened with the reply key, checked against the leaf
            assert status.label == engine.evaluate(raw).label
        ref = subs[1]
        status = batched_status(attestia, ref)
        event = attestia.registry.batches(batch_id=status.batch_id)[-1]
        # the gateway hands out the committed file byte for byte
        assert keccak(GatewayClient(url).batch_file(status.batch_id)) == event.data_hash
        features = tmp_path / "input.json"
        features.write_text(json.dumps(input_to_json(inputs[1], demo_package.feature_names)))
        report = verify(attestia, RecordRef.parse(status.ref), VerifyOptions(
            input_path=features, salt=ref.salt, package_path=demo_package_dir))
        assert report.ok, [c for c in report.checks if c.status.name == "FAIL"]
        assert report.check("inclusion").status.name == "PASS"
        # only the requester reads it
        other = sign_message(dev_account(3), read_message(
            attestia.chain.chain_id, attestia.registry.address, ref.request_id))
        with pytest.raises(GatewayError) as refused:
            GatewayClient(url).status(ref.request_id, other)
        assert refused.value.status == 403


def _json_error(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    data = response.json()
    assert data["status"] == status and all(w in data["error"] for w in words), data


def test_bad_requests_get_4xx_json_and_nothing_is_queued_twice(
        attestia, served_model, fleet) -> None:
    _, queue, gateway, _ = fleet
    client = TestClient(create_app(gateway))
    model_id = served_model.model_id
    body, _, _ = sealed_body(attestia, model_id, rows(1)[0])
    post = "/v1/requests"

    first = client.post(post, content=body.canonical())
    assert first.status_code == 202 and first.json()["state"] == "queued"
    # a replay (whitespace and key order differ): the same answer, nothing queued
    replay = client.post(post, content=json.dumps(body.to_json(), indent=2))
    assert replay.status_code == 200 and replay.json() == first.json()
    # another body under the same id (a new sealed blob, properly signed): 409
    other_blob = make_submission(CLIENT, chain_id=attestia.chain.chain_id,
                                 registry=attestia.registry.address, model_id=model_id,
                                 worker=OPERATOR.address, fee=body.fee,
                                 input_commitment=body.input_commitment, sealed=b"\x01" * 200)
    _json_error(client.post(post, content=other_blob.canonical()), 409, "another body")

    # the requester's id signed by another key ("wrong key"): 401
    forged = body.to_json() | {"signature": "0x" + sign_message(
        dev_account(3), "anything").hex()}
    _json_error(client.post(post, content=json.dumps(forged)), 401, "requester")
    fresh, _, _ = sealed_body(attestia, model_id, rows(2)[1])
    cases = [
        (b"{not json", 400, "not JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (json.dumps(fresh.to_json() | {"extra": 1}).encode(), 400, "unknown field"),
        (json.dumps({k: v for k, v in fresh.to_json().items() if k != "sealed"}).encode(),
         400, "missing field"),
        (json.dumps(fresh.to_json() | {"requestId": "0x" + "ab" * 32}).encode(), 400,
         "requestIdOf"),
        (json.dumps(fresh.to_json() | {"fee": "-1"}).encode(), 400, "fee"),
        (json.dumps(fresh.to_json() | {"modelId": "0x12"}).encode(), 400, "modelId"),
        (b"x" * (MAX_BODY_BYTES + 1), 413, "over"),
    ]
    for content, status, word in cases:
        _json_error(client.post(post, content=content), status, word)
    low, _, _ = sealed_body(attestia, model_id, rows(3)[2], fee=1)
    _json_error(client.post(post, content=low.canonical()), 400, "below the model's fee")
    elsewhere, _, _ = sealed_body(attestia, model_id, rows(4)[3],
                                  worker=dev_account(4).address)
    _json_error(client.post(post, content=elsewhere.canonical()), 400, "this gateway serves")
    unknown, _, _ = sealed_body(attestia, b"\x07" * 32, rows(5)[4])
    _json_error(client.post(post, content=unknown.canonical()), 404, "not served")
    # a body streamed without a length is cut at the limit too
    def chunks():
        for _ in range(MAX_BODY_BYTES // 1000 + 2):
            yield b"x" * 1000
    _json_error(client.post(post, content=chunks()), 413, "over")
    assert queue.counts() == {S.QUEUED: 1}

    rid = "0x" + body.request_id.hex()
    _json_error(client.get(f"/v1/requests/{rid}"), 401, "X-Attestia-Signature")
    wrong = sign_message(dev_account(3), read_message(
        attestia.chain.chain_id, attestia.registry.address, body.request_id))
    _json_error(client.get(f"/v1/requests/{rid}", headers={READ_HEADER: "0x" + wrong.hex()}),
                403, "only the requester")
    mine = sign_message(CLIENT, read_message(attestia.chain.chain_id,
                                             attestia.registry.address, body.request_id))
    ok = client.get(f"/v1/requests/{rid}", headers={READ_HEADER: "0x" + mine.hex()})
    assert ok.status_code == 200 and ok.json()["state"] == "queued"
    _json_error(client.get("/v1/requests/0x" + "00" * 32,
                           headers={READ_HEADER: "0x" + mine.hex()}), 404, "no request")
    _json_error(client.get("/v1/requests/0x12"), 400, "64 hex")
    _json_error(client.get("/v1/batches/0x" + "00" * 32), 404, "no committed batch")
    _json_error(client.get("/nowhere"), 404, "no such endpoint")
    assert "/v1/requests" in client.get("/openapi.json").json()["paths"]

    limited = TestClient(create_app(gateway, rate_limit=RateLimit(rate=0.5, burst=2)))
    assert [limited.get("/v1/info").status_code for _ in range(2)] == [200, 200]
    over = limited.get("/v1/info")
    _json_error(over, 429, "too many requests")
    assert int(over.headers["Retry-After"]) >= 1


def test_poison_in_the_queue_is_logged_once_and_skipped(
        attestia, served_model, fleet, caplog: pytest.LogCaptureFixture) -> None:
    node, queue, gateway, worker = fleet
    client = TestClient(create_app(gateway))
    model_id = served_model.model_id
    good, _, _ = sealed_body(attestia, model_id, rows(1)[0])
    junk, _, _ = sealed_body(attestia, model_id, rows(2)[1], sealed=b"\x04" + b"\x00" * 120)
    # a blob sealed to the key, whose salt does not match the commitment it names
    lying, _, _ = sealed_body(attestia, model_id, rows(3)[2])
    liar = make_submission(CLIENT, chain_id=attestia.chain.chain_id,
                           registry=attestia.registry.address, model_id=model_id,
                           worker=OPERATOR.address, fee=lying.fee,
                           input_commitment=b"\x09" * 32, sealed=lying.sealed)
    for body in (good, junk, liar):
        assert client.post("/v1/requests", content=body.canonical()).status_code == 202
    # one that killed every worker that leased it (leased MAX_ATTEMPTS times, never batched)
    killer, _, _ = sealed_body(attestia, model_id, rows(4)[3])
    assert client.post("/v1/requests", content=killer.canonical()).status_code == 202
    with queue.engine.begin() as conn:
        conn.execute(update(S.requests).where(
            S.requests.c.request_id == "0x" + killer.request_id.hex()).values(
            attempts=S.MAX_ATTEMPTS))
    with caplog.at_level(logging.INFO, logger="attestia.worker"):
        worker.run(until_idle=True)
        worker.run(until_idle=True)  # a second pass finds nothing to say
    assert queue.counts() == {S.COMMITTED: 1, S.REJECTED: 3}
    for body, word in ((junk, "cannot be decrypted"), (liar, "do not match"),
                       (killer, "abandoned")):
        key = "0x" + body.request_id.hex()
        lines = [r.getMessage() for r in caplog.records if key[:18] in r.getMessage()]
        assert len(lines) == 1, lines
        stored = queue.get(key)
        assert stored is not None and stored.state == S.REJECTED and word in stored.reason
    mine = sign_message(CLIENT, read_message(attestia.chain.chain_id,
                                             attestia.registry.address, junk.request_id))
    answer = client.get(f"/v1/requests/0x{junk.request_id.hex()}",
                        headers={READ_HEADER: "0x" + mine.hex()}).json()
    assert answer["state"] == REJECTED and "cannot be decrypted" in answer["reason"]


class Crash(BaseException):
    """A power cut in the middle of a round (nothing in the worker catches it)."""


def test_a_batch_committed_but_not_marked_is_found_on_chain_not_committed_twice(
        attestia, served_model, demo_package_dir: Path, fleet, tmp_path: Path) -> None:
    node, queue, gateway, worker = fleet
    client = TestClient(create_app(gateway))
    bodies = [sealed_body(attestia, served_model.model_id, raw)[0] for raw in rows(4)]
    for body in bodies:
        assert client.post("/v1/requests", content=body.canonical()).status_code == 202

    def die(*args, **kwargs):
        raise Crash  # after the broadcast, before the batch is marked committed

    queue.finish = die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        worker.run(until_idle=True)
    assert queue.batch_counts() == {S.SENT: 1}
    assert len(attestia.registry.batches(0)) == 1
    with queue.engine.begin() as conn:  # its lease runs out
        conn.execute(update(S.batches).values(lease_until=time.time() - 1))
    survivor_queue = Queue(queue.url)
    survivor = queue_worker(node, tmp_path / "workers" / "w1", survivor_queue)
    survivor.run(until_idle=True)
    assert survivor_queue.counts() == {S.COMMITTED: 4}
    assert survivor_queue.batch_counts() == {S.COMMITTED: 1}
    events = attestia.registry.batches(0)
    assert len(events) == 1  # found from its BatchCommitted event, never committed again
    stored = survivor_queue.batch("0x" + events[0].batch_id.hex())
    assert stored is not None and stored.tx_hash == events[0].meta.tx_hash
    survivor_queue.close()


def test_a_gateway_that_lies_about_the_deployment_is_refused(
        attestia, served_model, fleet, tmp_path: Path, monkeypatch) -> None:
    _, queue, gateway, _ = fleet
    monkeypatch.setattr(gateway, "chain_id", 1)
    with served(gateway) as url, pytest.raises(ConfigError, match="nothing was sent"):
        submit_via_gateway(attestia, served_model.model_id, rows(1)[0], account=CLIENT,
                           data_dir=tmp_path / "home", gateway=url)
    assert queue.counts() == {}


def test_a_lost_database_is_one_line_and_a_wait_for_the_worker_and_503_for_the_gateway(
        attestia, served_model, fleet, caplog: pytest.LogCaptureFixture, monkeypatch) -> None:
    from sqlalchemy.exc import OperationalError

    node, queue, gateway, worker = fleet
    client = TestClient(create_app(gateway))
    body, _, _ = sealed_body(attestia, served_model.model_id, rows(1)[0])
    real_accept = queue.accept

    def down(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(queue, "accept", down)
    refused = client.post("/v1/requests", content=body.canonical())
    _json_error(refused, 503, "database is unavailable")
    assert refused.headers["Retry-After"] == "5"
    monkeypatch.setattr(queue, "accept", real_accept)
    assert client.post("/v1/requests", content=body.canonical()).status_code == 202

    real_renew, failures = queue.renew, {"left": 3}

    def flaky(*args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            down()
        return real_renew(*args, **kwargs)

    monkeypatch.setattr(queue, "renew", flaky)
    monkeypatch.setattr("offchain.queue.worker.DB_RETRY_FIRST", 0.01)
    with caplog.at_level(logging.INFO, logger="attestia.worker"):
        worker.run(until_idle=True)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("queue database is unavailable" in m for m in messages) == 1, messages
    assert sum("answers again" in m for m in messages) == 1, messages
    assert queue.counts() == {S.COMMITTED: 1}


def test_bad_options_are_one_error_line(project_home: Path) -> None:
    from tests.cli.test_cli_errors import assert_one_line_error, run

    model = "0x" + "11" * 32
    assert_one_line_error(run(["gateway", "--queue", "redis://x", "--model", model],
                              project_home), "--queue must be sqlite:///PATH or postgresql://")
    assert_one_line_error(run(["gateway", "--queue", "sqlite:///q.sqlite", "--model", model,
                               "--port", "0"], project_home), "--port must be 1..65535")
    assert_one_line_error(run(["gateway", "--queue", "sqlite:///q.sqlite", "--model", model,
                               "--commit-within", "0"], project_home), "--commit-within")
    assert_one_line_error(run(["worker", "run", "--model", "x", "--queue", "mysql://x"],
                              project_home), "--queue must be sqlite:///PATH or postgresql://")
    assert_one_line_error(run(["worker", "run", "--model", "x", "--queue", "sqlite:///q",
                               "--lease", "0.5"], project_home), "--lease must be above 1")
    assert_one_line_error(run(["request", "submit", "--model", model, "--input", "x.json",
                               "--gateway", "ftp://h"], project_home),
                          "--gateway must be an http:// or https:// URL")
