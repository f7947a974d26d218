"""Every API endpoint on the indexed flow, and bad input answering 4xx with a JSON error."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from tests.explorer.helpers import HOSTILE_URI, Flow, shared_client

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx`")  # starlette's httpx2 notice
    from fastapi.testclient import TestClient

UNKNOWN_ID = "0x" + "42" * 32
UNKNOWN_ADDRESS = "0x" + "42" * 20


@pytest.fixture(scope="module")
def client(indexed) -> TestClient:
    return shared_client(indexed)


def get(client: TestClient, path: str, status: int = 200) -> Any:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    if path.startswith(("/api", "/verify")) or status != 200:
        assert response.headers["content-type"].startswith(
            "application/json" if path.startswith(("/api", "/verify")) else "text/html")
    return response.json() if path.startswith(("/api", "/verify")) else response.text


def test_status(client: TestClient, explorer_flow: Flow) -> None:
    status = get(client, "/api/status")
    assert status["chainId"] == 31337 and status["registry"] == \
        explorer_flow.attestia.registry.address
    assert status["records"] == 8 and status["batches"] == 2 and status["models"] == 4
    assert status["indexedBlock"] == status["head"]


def test_records_newest_first_with_every_filter_and_cursor_pages(client: TestClient,
                                                                 explorer_flow: Flow) -> None:
    everything = get(client, "/api/records?limit=100")["items"]
    assert len(everything) == 8
    positions = [r["block"] for r in everything]
    assert positions == sorted(positions, reverse=True)
    assert everything[0]["requestId"] == explorer_flow.disputed
    assert {r["requestId"] for r in everything[1:5]} == set(explorer_flow.market_records)

    pages, cursor = [], ""
    while True:
        page = get(client, f"/api/records?limit=3&cursor={cursor}")
        pages += page["items"]
        if page["nextCursor"] is None:
            break
        cursor = page["nextCursor"]
    assert [r["requestId"] for r in pages] == [r["requestId"] for r in everything]

    demo = get(client, f"/api/records?model={explorer_flow.demo_model}")["items"]
    assert {r["requestId"] for r in demo} == set(explorer_flow.demo_records)
    worker = everything[0]["worker"]
    assert all(r["worker"] == worker for r in get(client, f"/api/records?worker={worker}")["items"])
    carol = get(client, f"/api/records?contributor={explorer_flow.contributor.lower()}")["items"]
    assert {r["requestId"] for r in carol} <= set(explorer_flow.demo_records) and carol
    requester = everything[-1]["requester"]
    assert get(client, f"/api/records?requester={requester}")["items"]
    assert len(get(client, "/api/records?proof=signed&status=valid")["items"]) == 7
    assert get(client, "/api/records?proof=zk")["items"] == []
    assert get(client, "/api/records?status=revoked")["items"] == []
    disputed = get(client, "/api/records?status=disputed")["items"]
    assert [r["requestId"] for r in disputed] == [explorer_flow.disputed]
    epoch = everything[-1]["epoch"]
    assert {r["epoch"] for r in get(client, f"/api/records?epoch={epoch}")["items"]} == {epoch}


def test_one_record_with_attribution_revocation_and_dispute(client: TestClient,
                                                            explorer_flow: Flow) -> None:
    rid = explorer_flow.demo_records[0]
    record = get(client, f"/api/records/{rid}")
    assert record["kind"] == "single" and record["requestId"] == rid
    assert sum(s["bps"] for s in record["shares"]) == 10_000
    assert record["revocation"]["exists"] and not record["revocation"]["revokedAfter"]
    assert record["dispute"] is None and record["request"]["requester"] == record["requester"]
    disputed = get(client, f"/api/records/{explorer_flow.disputed}")
    assert disputed["status"] == "disputed" and disputed["dispute"]["state"] == "responded"
    assert disputed["dispute"]["data"]["traceURI"].startswith("file://")
    assert get(client, f"/api/records/{rid.upper().replace('0X', '0x')}")["requestId"] == rid


def test_a_batch_leaf_is_a_record_too(client: TestClient, explorer_flow: Flow) -> None:
    batch = get(client, f"/api/batches/{explorer_flow.good_batch}")
    leaf = batch["check"]["leaves"][2]["requestId"]
    record = get(client, f"/api/records/{leaf}")
    assert record["kind"] == "batch-leaf" and record["batchId"] == explorer_flow.good_batch
    assert record["leafIndex"] == 2 and record["shares"]
    found = get(client, f"/api/search?q=batch:{explorer_flow.good_batch}:2")
    assert found["matches"] == [{"kind": "record", "id": leaf, "what": "batch leaf",
                                 "url": f"/record/{leaf}"}] and not found["more"]


def test_verify_is_the_attestia_verify_checklist(client: TestClient, explorer_flow: Flow) -> None:
    rid = explorer_flow.demo_records[1]
    report = get(client, f"/verify/{rid}")
    assert report == get(client, f"/api/verify/{rid}")  # the same, and cached
    assert report["ok"] and report["recordId"] == rid
    checks = {c["name"]: c["status"] for c in report["checks"]}
    for name in ("record", "model", "worker", "signature", "attribution", "package", "input",
                 "output", "attribution-recompute"):
        assert checks[name] == "PASS", report
    from offchain.verify import CHECKS

    assert [c["name"] for c in report["checks"]] == list(CHECKS)


def test_models_workers_contributors_batches_epochs(client: TestClient,
                                                   explorer_flow: Flow) -> None:
    models = get(client, "/api/models")
    assert {m["modelId"] for m in models} >= {explorer_flow.demo_model}
    model = get(client, f"/api/models/{explorer_flow.demo_model}")
    names = {e["name"] for e in model["roster"]}
    assert names == {"alice-hospital", "bob-clinic", "carol-lab", "dave-research",
                     "erin-registry"}
    assert model["split"] == {"workerBps": 2000, "ownerBps": 2000, "contributorBps": 6000}
    assert sum(d["records"] for d in model["recordsPerDay"]) == 3

    workers = get(client, "/api/workers")
    assert len(workers) == 2 and all(w["state"] == "active" for w in workers)
    worker = get(client, f"/api/workers/{workers[0]['signer']}")
    assert int(worker["live"]["stake"]) > 0 and worker["history"][0]["kind"] == "registered"

    carol = get(client, f"/api/contributors/{explorer_flow.contributor}")
    assert carol["records"] == 3 and carol["claims"] and int(carol["claimed"]) > 0
    assert carol["rewards"]["root"]["matches"] and carol["rewards"]["claimableNow"] == "0"
    assert carol["rewards"]["cumulative"] == carol["claimed"] == carol["earned"]

    batches = get(client, "/api/batches")["items"]
    assert [b["batchId"] for b in batches] == [explorer_flow.tampered_batch,
                                               explorer_flow.good_batch]
    good = get(client, f"/api/batches/{explorer_flow.good_batch}")["check"]
    assert good["status"] == "ok" and good["root"]["ok"] and len(good["leaves"]) == 4
    assert all(leaf["included"] and leaf["attributionOk"] for leaf in good["leaves"])
    page = get(client, f"/api/batches/{explorer_flow.good_batch}?offset=1&limit=2")["check"]
    assert page["leafCount"] == 4 and [leaf["index"] for leaf in page["leaves"]] == [1, 2]

    epochs = get(client, "/api/epochs")
    settled = [e for e in epochs if e["roots"]]
    assert settled and settled[0]["roots"][0]["state"] == "claimable"  # claimed from
    assert sum(e["records"] for e in epochs) == 8


def test_a_tampered_batch_file_fails_line_by_line(client: TestClient,
                                                  explorer_flow: Flow) -> None:
    check = get(client, f"/api/batches/{explorer_flow.tampered_batch}")["check"]
    assert check["status"] == "failed" and check["check"] == "dataHash"
    assert not check["dataHash"]["ok"] and not check["root"]["ok"] and check["count"]["ok"]
    assert not any(leaf["included"] for leaf in check["leaves"])
    assert [leaf["attributionOk"] for leaf in check["leaves"]] == [True, True, True]


def test_search(client: TestClient, explorer_flow: Flow) -> None:
    flow = explorer_flow
    for query, kind in ((flow.demo_records[0], "record"), (flow.demo_model, "model"),
                        (flow.good_batch, "batch"), (flow.contributor, "contributor"),
                        (flow.contributor.lower(), "contributor")):
        assert [m["kind"] for m in get(client, f"/api/search?q={query}")["matches"]] == [kind]
    worker = get(client, "/api/workers")[0]["signer"]
    assert [m["kind"] for m in get(client, f"/api/search?q={worker}")["matches"]] == ["worker"]
    page = client.get(f"/search?q={flow.good_batch}", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == f"/batch/{flow.good_batch}"


@pytest.mark.parametrize("path, status", [
    ("/api/records/0x1234", 400),
    (f"/api/records/{UNKNOWN_ID}", 404),
    (f"/api/records/{UNKNOWN_ID[:-1]}g", 400),
    (f"/verify/{UNKNOWN_ID}", 404),
    ("/verify/nothex", 400),
    (f"/api/verify/{UNKNOWN_ID}", 404),
    (f"/api/models/{UNKNOWN_ID}", 404),
    ("/api/models/0x", 400),
    (f"/api/workers/{UNKNOWN_ADDRESS}", 404),
    ("/api/workers/0x123", 400),
    ("/api/workers/0x14dC79964da2C08b23698B3D3cc7Ca32193d9956", 400),  # bad checksum
    (f"/api/contributors/{UNKNOWN_ADDRESS}", 404),
    ("/api/contributors/alice", 400),
    (f"/api/batches/{UNKNOWN_ID}", 404),
    ("/api/batches/0xzz", 400),
    (f"/api/batches/{UNKNOWN_ID}?offset=-1", 400),
    (f"/api/batches/{UNKNOWN_ID}?limit=0", 400),
    ("/api/records?limit=0", 400),
    ("/api/records?limit=101", 400),
    ("/api/records?limit=ten", 400),
    ("/api/records?limit=-1", 400),
    ("/api/records?cursor=abc", 400),
    ("/api/records?cursor=99999999999999999999-1", 400),
    ("/api/records?cursor=1-2-3", 400),
    ("/api/batches?cursor=x", 400),
    ("/api/batches?limit=1000", 400),
    ("/api/records?proof=magic", 400),
    ("/api/records?status=pending", 400),
    ("/api/records?epoch=-1", 400),
    ("/api/records?epoch=18446744073709551616", 400),
    ("/api/records?epoch=1e3", 400),
    ("/api/records?model=0x12", 400),
    ("/api/records?worker=bob", 400),
    ("/api/records?contributor=0x", 400),
    ("/api/records?requester=%3Cscript%3E", 400),
    ("/api/search?q=hello", 400),
    ("/api/search?q=", 400),
    ("/api/search?q=0x12345", 400),  # fewer than 6 hex digits
    ("/api/search?q=12345g", 400),
    ("/api/search?q=0x" + "1" * 65, 400),
    ("/api/search?q=%00%00%00%00%00%00", 400),
    (f"/api/search?q={UNKNOWN_ID}", 404),
    (f"/api/search?q={UNKNOWN_ADDRESS}", 404),
    ("/api/search?q=424242424242", 404),
    ("/api/search?q=batch:0x12:1", 400),
    (f"/api/search?q=batch:{UNKNOWN_ID}:1", 404),
    ("/api/disputes?limit=0", 400),
    ("/api/disputes?cursor=x", 400),
    ("/api/nothing", 404),
])
def test_bad_input_is_a_4xx_json_error(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status, (path, response.text)
    body = response.json()
    assert set(body) == {"error", "status"} and body["status"] == status and body["error"]


def test_post_is_refused(client: TestClient) -> None:
    response = client.post("/api/records")
    assert response.status_code == 405 and response.json()["error"]


@pytest.mark.parametrize("path", ["/", "/records", "/models", "/workers", "/batches",
                                  "/epochs", "/disputes", "/docs", "/openapi.json"])
def test_every_page_renders(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, response.text[:300]


def test_pages_escape_what_the_chain_says(client: TestClient, explorer_flow: Flow) -> None:
    hostile = next(m for m in get(client, "/api/models") if m["metadataURI"] == HOSTILE_URI)
    page = client.get(f"/model/{hostile['modelId']}")
    assert page.status_code == 200
    assert "<script>" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none'
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script" not in client.get("/models").text


def test_bad_input_on_pages_is_an_html_4xx(client: TestClient) -> None:
    for path, status in ((f"/record/{UNKNOWN_ID}", 404), ("/record/0x1", 400),
                         ("/records?limit=0", 400), ("/contributor/nobody", 400),
                         ("/search?q=nothing", 400), ("/search?q=0x424242424242", 404),
                         ("/disputes?cursor=x", 400), ("/records/csv?model=0x12", 400),
                         ("/contributor/nobody/csv", 400), ("/no/such/page", 404)):
        response = client.get(path)
        assert response.status_code == status and "text/html" in \
            response.headers["content-type"], path


def test_a_public_explorer_reads_no_local_file_outside_its_home(explorer_flow: Flow,
                                                                tmp_path) -> None:
    """Whoever commits a batch picks its URI: file:///etc/hostname must not be read (its
    existence, size or hash would show on the page)."""
    from offchain.indexer.batch_checks import check_batch

    zero = "0x" + "00" * 32
    outside = check_batch(zero, "file:///etc/hostname", zero, zero, UNKNOWN_ADDRESS, 1, zero,
                          roster=None, local_roots=(tmp_path,))
    assert outside.status == "unreadable" and not outside.fetched and outside.size == 0
    assert "outside this service's home" in outside.reason
    inside = tmp_path / "batch.json"
    inside.write_text("{}")
    read = check_batch(zero, inside.as_uri(), zero, zero, UNKNOWN_ADDRESS, 1, zero,
                       roster=None, local_roots=(tmp_path,))
    assert read.fetched and read.status == "failed" and read.verdict == "dataHash"
