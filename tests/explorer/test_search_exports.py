"""Issue 19's explorer items on the indexed flow: search by transaction hash and by id or address
prefix (one match: its page; several: a list; none: a "nothing found" 404; bad input: 400),
batch-leaf links on a contributor's page, a dispute's state, deadline, challenger and bond
(and /disputes), epoch dates and the CLI's words, CSV exports, HEAD answered like GET on
every route, and the optional chain-explorer links."""

from __future__ import annotations

import csv
import io
import re
import warnings
from typing import Any

import pytest
from sqlalchemy import insert, select

from offchain.errors import ConfigError
from offchain.explorer import exports
from offchain.explorer import queries as Q
from offchain.explorer.app import create_app
from offchain.explorer.render import chain_explorer_base, relative
from offchain.explorer.service import Explorer
from offchain.indexer import open_engine
from offchain.indexer import schema as S
from tests.contracts.helpers import REQUESTER
from tests.explorer.helpers import Flow, shared_client

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx`")
    from fastapi.testclient import TestClient

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="module")
def client(indexed: Explorer) -> TestClient:
    return shared_client(indexed)


def api(client: TestClient, path: str, status: int = 200) -> Any:
    response = client.get(path)
    assert response.status_code == status, (path, response.text[:400])
    return response.json()


def _tx_of(indexed: Explorer, name: str, **where: Any) -> str:
    e = S.events.c
    query = select(e.tx_hash, e.args).where(e.name == name)
    for row in indexed.read(lambda conn: conn.execute(query).all()):
        if all(row.args.get(k) == v for k, v in where.items()):
            return str(row.tx_hash)
    raise AssertionError(f"no {name} event with {where}")


# -- search ------------------------------------------------------------------------------------

def test_search_by_transaction_hash_names_what_the_transaction_did(
        client: TestClient, indexed: Explorer, explorer_flow: Flow) -> None:
    rid = explorer_flow.demo_records[0]
    record = api(client, f"/api/records/{rid}")
    for tx, kind, key in (
        (record["txHash"], "record", rid),  # the fulfil transaction
        (record["request"]["txHash"], "record", rid),  # the request's, recorded since
        (api(client, f"/api/batches/{explorer_flow.good_batch}")["txHash"], "batch",
         explorer_flow.good_batch),
        (_tx_of(indexed, "DisputeOpened", requestId=explorer_flow.disputed), "dispute",
         explorer_flow.disputed),
    ):
        found = api(client, f"/api/search?q={tx}")["matches"]
        assert [(m["kind"], m["id"]) for m in found] == [(kind, key)], (tx, found)
        assert found[0]["txHash"] == tx and found[0]["event"]
        page = client.get(f"/search?q={tx.upper().replace('0X', '0x')}", follow_redirects=False)
        assert page.status_code == 303, page.text[:300]
        assert page.headers["location"] == {"record": f"/record/{key}", "batch": f"/batch/{key}",
                                            "dispute": f"/record/{key}#dispute",
                                            "contributor": f"/contributor/{key}"}[kind]
    # A claim that activated the newest root: two things done in one transaction, listed.
    claim = api(client, f"/api/contributors/{explorer_flow.contributor}")["claims"][0]
    found = api(client, f"/api/search?q={claim['txHash']}")["matches"]
    assert [(m["kind"], m["id"]) for m in found] == [
        ("epoch", str(claim["epoch"])), ("contributor", explorer_flow.contributor)]
    listed = client.get(f"/search?q={claim['txHash']}")
    assert listed.status_code == 200 and f'href="/contributor/{explorer_flow.contributor}"' \
        in listed.text and f'href="/epochs#epoch-{claim["epoch"]}"' in listed.text


def test_search_by_prefix_goes_to_the_one_match(client: TestClient,
                                                explorer_flow: Flow) -> None:
    rid, model = explorer_flow.demo_records[0], explorer_flow.demo_model
    for prefix, url in ((rid[:10], f"/record/{rid}"), (rid[2:12], f"/record/{rid}"),
                        (model[:9], f"/model/{model}"),
                        (explorer_flow.good_batch[:8], f"/batch/{explorer_flow.good_batch}"),
                        (explorer_flow.contributor[:10].lower(),
                         f"/contributor/{explorer_flow.contributor}")):
        page = client.get(f"/search?q={prefix}", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == url, (prefix, page.text)
    matches = api(client, f"/api/search?q={rid[:8]}")["matches"]
    assert [m["id"] for m in matches] == [rid]


def test_nothing_found_is_a_clear_404_and_bad_input_a_400(client: TestClient) -> None:
    none = client.get("/search?q=0x424242424242")
    assert none.status_code == 404 and "nothing found" in none.text
    assert "starts with 0x424242424242" in none.text
    for bad in ("hello", "0x12345", "batch:0x12:1", "0x" + "f" * 65, " ", "<script>"):
        response = client.get("/search", params={"q": bad})
        assert response.status_code == 400 and "text/html" in response.headers["content-type"]
        assert "6 or more hex digits" in response.text or "batch:0x" in response.text, bad
        assert "<script>" not in response.text


@pytest.fixture(scope="module")
def crowded(explorer_flow: Flow, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """A database holding three records, a model and a transaction that share the prefix
    0xabcdef (and 25 more records sharing 0x1234567), over the flow's chain."""
    url = f"sqlite:///{tmp_path_factory.mktemp('crowded') / 'explorer.sqlite'}"
    engine = open_engine(url)
    zero, worker = "0x" + "00" * 32, "0x" + "11" * 20
    record = {"model_id": zero, "worker": worker, "requester": None, "input_commitment": zero,
              "output_commitment": zero, "attribution_hash": zero, "proof_kind": 0,
              "proof_hash": zero, "timestamp": 1, "result_hash": zero, "digest": zero,
              "epoch": 0, "worker_cut": "1", "owner_cut": "1", "contributor_cut": "1",
              "block": 1, "tx_hash": zero}
    ids = [f"0xabcdef{i:058x}" for i in range(3)] + [f"0x1234567{i:057x}" for i in range(25)]
    with engine.begin() as conn:
        conn.execute(insert(S.records), [record | {"request_id": rid, "log_index": i}
                                         for i, rid in enumerate(ids)])
        conn.execute(insert(S.events), [{
            "block": 2, "log_index": 0, "tx_hash": "0xabcdef" + "77" * 29, "contract":
            "InferenceRegistry", "name": "Funded", "timestamp": 1, "args": {"value": 1}}])
    return TestClient(create_app(Explorer(engine, explorer_flow.attestia)),
                      raise_server_exceptions=False)


def test_several_matches_are_a_list(crowded: TestClient) -> None:
    found = api(crowded, "/api/search?q=0xABCDEF")
    assert sorted(m["kind"] for m in found["matches"]) == ["record"] * 3 + ["transaction"]
    assert not found["more"]
    page = crowded.get("/search?q=abcdef")
    assert page.status_code == 200
    for i in range(3):
        assert f'href="/record/0xabcdef{i:058x}"' in page.text
    assert "InferenceRegistry.Funded" in page.text or "Funded" in page.text
    many = api(crowded, "/api/search?q=1234567")
    assert len(many["matches"]) == Q.SEARCH_LIMIT and many["more"]
    assert "type more digits" in crowded.get("/search?q=1234567").text


# -- contributor: batch leaves are links -------------------------------------------------------

def test_batch_leaf_rows_on_a_contributors_page_are_links(client: TestClient,
                                                          indexed: Explorer) -> None:
    account = indexed.read(lambda conn: conn.execute(
        select(S.shares.c.account).where(S.shares.c.record.like("batch:%")).limit(1)
    ).scalar())
    data = api(client, f"/api/contributors/{account}")
    leaves = [a for a in data["attributions"] if a["record"].startswith("batch:")]
    assert leaves
    page = client.get(f"/contributor/{account}").text
    for leaf in leaves:
        _, batch, index = leaf["record"].split(":")
        assert leaf["requestId"] != leaf["record"]
        assert api(client, f"/api/records/{leaf['requestId']}")["leafIndex"] == int(index)
        assert f'href="/record/{leaf["requestId"]}"' in page
    assert 'id="leaf-0"' in client.get(f"/batch/{leaves[0]['record'].split(':')[1]}").text


# -- disputes ----------------------------------------------------------------------------------

def test_a_records_dispute_has_state_deadline_challenger_and_bond(
        client: TestClient, explorer_flow: Flow) -> None:
    attestia = explorer_flow.attestia
    d = api(client, f"/api/records/{explorer_flow.disputed}")["dispute"]
    on_chain = attestia.slasher.dispute(bytes.fromhex(explorer_flow.disputed[2:]))
    assert d["state"] == "responded" and d["challenger"] == REQUESTER.address
    assert d["bond"] == str(attestia.slasher.dispute_bond()) == str(on_chain.bond)
    assert d["deadline"] == d["proveBy"] == on_chain.deadline and d["respondBy"] > 0
    assert d["worker"] == on_chain.worker and d["resolvedAt"] is None
    page = client.get(f"/record/{explorer_flow.disputed}").text
    deadline = re.search(r'id="dispute-deadline">prove fraud by <time datetime="([^"]+)">', page)
    assert deadline and ISO.match(deadline.group(1))
    assert re.search(r"\((in|now|[0-9]).*chain time\)", page)
    assert REQUESTER.address in page and 'id="dispute"' in page
    assert 'href="/disputes"' in page  # in the navigation


def test_disputes_list_page_and_api(client: TestClient, explorer_flow: Flow) -> None:
    listed = api(client, "/api/disputes")
    assert [d["requestId"] for d in listed["items"]] == [explorer_flow.disputed]
    assert listed["nextCursor"] is None and listed["items"][0]["state"] == "responded"
    page = client.get("/disputes")
    assert page.status_code == 200
    assert f'href="/record/{explorer_flow.disputed}#dispute"' in page.text
    assert "responded" in page.text and "ETH" in page.text


def test_relative_times() -> None:
    assert relative(1_000 + 3 * 3600 + 120, 1_000) == "in 3 h 2 min"
    assert relative(1_000, 1_000 + 2 * 86_400 + 3600) == "2 days 1 h ago"
    assert relative(1_030, 1_000) == "in 30 s" and relative(5, 5) == "now"
    assert relative(5, None) == "" and relative(None, 5) == ""


# -- epochs and words --------------------------------------------------------------------------

def test_epochs_have_start_and_end_dates(client: TestClient, explorer_flow: Flow) -> None:
    reg = explorer_flow.attestia.registry
    genesis, length = reg.genesis(), reg.epoch_length()
    epochs = api(client, "/api/epochs")
    assert epochs
    for e in epochs:
        assert e["startsAt"] == genesis + e["epoch"] * length
        assert e["endsAt"] == e["startsAt"] + length
    page = client.get("/epochs").text
    for e in epochs:
        row = re.search(rf'<tr id="epoch-{e["epoch"]}">(.*?)</tr>', page, re.S)
        assert row and len(re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row.group(1))) >= 2


def test_the_explorer_uses_the_clis_words(client: TestClient, explorer_flow: Flow) -> None:
    """Worker and model states are the CLI's (`worker list` and `model list` state them with
    these functions); a root's state is `attestia rewards status`'s; a dispute's is `dispute
    status`'s; no page says "activated"."""
    import json

    from offchain.protocol import DisputeState
    from offchain.request.market import list_workers, model_state
    from tests.explorer.helpers import cli

    attestia = explorer_flow.attestia
    cli_workers = {w.signer: w.state for w in list_workers(attestia)}
    assert {w["signer"]: w["state"] for w in api(client, "/api/workers")} == cli_workers
    for m in api(client, "/api/models"):
        on_chain = attestia.registry.model(bytes.fromhex(m["modelId"][2:]))
        assert on_chain is not None and m["state"] == model_state(on_chain)
    done = cli(explorer_flow, "rewards", "status", "--json")
    assert done.returncode == 0, done.stderr
    cli_roots = {e["epoch"]: e["state"] for e in json.loads(done.stdout)["roots"]}
    ours = {e["epoch"]: r["state"] for e in api(client, "/api/epochs") for r in e["roots"]}
    assert ours == cli_roots and "claimable" in ours.values()
    words = {s.name.lower() for s in DisputeState}
    assert {d["state"] for d in api(client, "/api/disputes")["items"]} <= words
    for path in ("/epochs", "/workers", "/models", "/disputes",
                 f"/record/{explorer_flow.disputed}"):
        assert "activated" not in client.get(path).text.lower(), path


# -- CSV ---------------------------------------------------------------------------------------

def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="attestia-')
    return list(csv.DictReader(io.StringIO(response.text)))


def test_records_csv_keeps_the_pages_filters(client: TestClient, explorer_flow: Flow) -> None:
    rows = _csv(client.get(f"/records/csv?model={explorer_flow.demo_model}"))
    assert {r["requestId"] for r in rows} == set(explorer_flow.demo_records)
    listed = api(client, f"/api/records?model={explorer_flow.demo_model}")["items"]
    assert [r["feeWei"] for r in rows] == [r["fee"] for r in listed]
    for row in rows:
        assert row["feeWei"].isdigit() and int(row["feeWei"]) > 10**12  # wei, not ETH
        assert ISO.match(row["timestamp"]) and row["status"] == "valid"
    assert len(_csv(client.get("/records/csv"))) == 8
    assert [r["requestId"] for r in _csv(client.get("/records/csv?status=disputed"))] == \
        [explorer_flow.disputed]
    page = client.get(f"/records?model={explorer_flow.demo_model}").text
    assert f'href="/records/csv?model={explorer_flow.demo_model}"' in page


def test_records_csv_is_bounded(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "MAX_ROWS", 3)
    first = client.get("/records/csv")
    assert len(_csv(first)) == 3
    rest = _csv(client.get(f"/records/csv?cursor={first.headers['x-next-cursor']}"))
    assert len(rest) == 3 and not {r["requestId"] for r in rest} & \
        {r["requestId"] for r in _csv(first)}


def test_a_contributors_earnings_csv(client: TestClient, explorer_flow: Flow) -> None:
    carol = api(client, f"/api/contributors/{explorer_flow.contributor}")
    response = client.get(f"/contributor/{explorer_flow.contributor}/csv")
    rows = _csv(response)
    assert explorer_flow.contributor in response.headers["content-disposition"]
    assert len(rows) == carol["records"] == 3 and "x-truncated" not in response.headers
    assert sum(int(r["amountWei"]) for r in rows) == int(carol["earned"])
    assert all(ISO.match(r["timestamp"]) and r["bps"].isdigit() for r in rows)
    page = client.get(f"/contributor/{explorer_flow.contributor}").text
    assert f'href="/contributor/{explorer_flow.contributor}/csv"' in page
    assert client.get(f"/contributor/{'0x' + '42' * 20}/csv").status_code == 404


# -- HEAD --------------------------------------------------------------------------------------

def _route_examples(explorer_flow: Flow, indexed: Explorer) -> dict[str, str]:
    f = explorer_flow
    worker = indexed.read(Q.list_workers)[0]["signer"]
    return {"/api/records/{request_id}": f"/api/records/{f.demo_records[0]}",
            "/api/verify/{request_id}": f"/api/verify/{f.demo_records[0]}",
            "/verify/{request_id}": f"/verify/{f.demo_records[0]}",
            "/api/models/{model_id}": f"/api/models/{f.demo_model}",
            "/api/workers/{signer}": f"/api/workers/{worker}",
            "/api/contributors/{account}": f"/api/contributors/{f.contributor}",
            "/api/batches/{batch_id}": f"/api/batches/{f.good_batch}",
            "/api/search": f"/api/search?q={f.demo_model}",
            "/record/{request_id}": f"/record/{f.demo_records[0]}",
            "/model/{model_id}": f"/model/{f.demo_model}", "/worker/{signer}": f"/worker/{worker}",
            "/contributor/{account}": f"/contributor/{f.contributor}",
            "/contributor/{account}/csv": f"/contributor/{f.contributor}/csv",
            "/batch/{batch_id}": f"/batch/{f.good_batch}", "/search": f"/search?q={f.demo_model}",
            "/docs/oauth2-redirect": "/docs/oauth2-redirect"}


def test_head_is_answered_like_get_on_every_route(client: TestClient, explorer_flow: Flow,
                                                  indexed: Explorer) -> None:
    from starlette.routing import Route

    from offchain.explorer import api as api_routes
    from offchain.explorer import pages
    from offchain.explorer.render import Pages

    examples = _route_examples(explorer_flow, indexed)
    routers = (api_routes.router(indexed), exports.router(indexed),
               pages.router(indexed, Pages()))
    routes = [r for router in routers for r in router.routes] + list(client.app.routes)
    served = sorted({r.path for r in routes if isinstance(r, Route) and "GET" in r.methods})
    assert len(served) > 25 and "/docs" in served and "/records/csv" in served
    paths = [examples.get(p, p) for p in served]
    assert not [p for p in paths if "{" in p], "add an example for each route with parameters"
    paths += ["/static/style.css", "/no/such/page", f"/record/{'0x' + '42' * 32}",
              "/record/0x1", "/search?q=0x424242424242", "/search?q=nothing"]
    for path in paths:
        got, head = client.get(path, follow_redirects=False), \
            client.head(path, follow_redirects=False)
        assert head.status_code == got.status_code, path
        assert head.content == b"", path
        same = {k: v for k, v in got.headers.items() if k not in ("date",)}
        assert {k: v for k, v in head.headers.items() if k != "date"} == same, path
    assert client.post("/api/records").status_code == 405  # only GET and HEAD


# -- chain-explorer links ----------------------------------------------------------------------

def test_chain_explorer_links_are_off_by_default(client: TestClient,
                                                 explorer_flow: Flow) -> None:
    for path in (f"/record/{explorer_flow.demo_records[0]}", f"/batch/{explorer_flow.good_batch}",
                 f"/contributor/{explorer_flow.contributor}"):
        assert 'class="ext"' not in client.get(path).text


def test_chain_explorer_links_for_addresses_and_transactions(indexed: Explorer,
                                                             explorer_flow: Flow) -> None:
    linked = TestClient(create_app(indexed, chain_explorer="https://etherscan.io/"),
                        raise_server_exceptions=False)
    rid = explorer_flow.demo_records[0]
    record = api(linked, f"/api/records/{rid}")
    page = linked.get(f"/record/{rid}").text
    assert (f'<a class="ext" href="https://etherscan.io/tx/{record["txHash"]}" '
            'rel="noopener noreferrer"') in page
    assert f'href="https://etherscan.io/address/{record["worker"]}" rel="noopener noreferrer"' \
        in page
    links = re.findall(r'<a class="ext" href="([^"]+)" rel="([^"]+)"', page)
    assert links and all(rel == "noopener noreferrer" for _, rel in links)
    assert all(u.startswith(("https://etherscan.io/tx/0x", "https://etherscan.io/address/0x"))
               for u, _ in links)
    batch = linked.get(f"/batch/{explorer_flow.good_batch}").text
    assert "https://etherscan.io/tx/0x" in batch


@pytest.mark.parametrize("url", [
    "http://etherscan.io", "javascript:alert(1)", "https://user:pw@etherscan.io",
    "https://etherscan.io/?a=1", "https://etherscan.io/#x", 'https://etherscan.io/"onclick=',
    "https://ether scan.io", "ftp://etherscan.io", "https://", "etherscan.io",
    "https://etherscan.io:99999", "http://localhost.evil.com", "data:text/html,x",
])
def test_a_bad_chain_explorer_url_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="--chain-explorer must be an https:// URL"):
        chain_explorer_base(url)


def test_good_chain_explorer_urls() -> None:
    assert chain_explorer_base("https://etherscan.io/") == "https://etherscan.io"
    assert chain_explorer_base("https://base.blockscout.com/") == "https://base.blockscout.com"
    assert chain_explorer_base("http://localhost:4000") == "http://localhost:4000"
    assert chain_explorer_base("http://127.0.0.1:4000/x") == "http://127.0.0.1:4000/x"


# -- a record page never queues behind its checklist --------------------------------------------

def test_a_record_page_answers_before_its_checklist_is_computed(indexed: Explorer,
                                                                explorer_flow: Flow) -> None:
    """A record page waits ``page_wait`` for the checklist at most: then it shows the indexed
    record with the checklist "being computed" (the job goes on in the background), and a
    reload shows it."""
    import time

    impatient = Explorer(indexed.engine, explorer_flow.attestia,
                         explorer_flow.settings.data_dir, fetch=explorer_flow.fetch_policy,
                         page_wait=0.0)
    client = TestClient(create_app(impatient), raise_server_exceptions=False)
    rid = explorer_flow.market_records[0]
    first = client.get(f"/record/{rid}")
    assert first.status_code == 200 and "being computed" in first.text
    assert 'id="checks"' in first.text and "being checked" in first.text  # revocation
    assert rid in first.text and 'id="shares"' in first.text  # the indexed record is there
    deadline = time.monotonic() + 60
    while "being computed" in (page := client.get(f"/record/{rid}").text):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert "Verified: every check passed" in page and "not revoked" in page
    assert client.get(f"/verify/{rid}").json()["ok"]  # the JSON twin waits: never pending


@pytest.mark.parametrize("busy", ["one check", "every worker"])
def test_a_record_page_does_not_wait_behind_other_checks(indexed: Explorer,
                                                          explorer_flow: Flow, busy: str) -> None:
    """While the checks pool works on other records (many visitors of uncached records: even
    one other check, with a pool thread free), a record page answers at once with its
    checklist queued, however long page_wait is."""
    import threading
    import time

    patient = Explorer(indexed.engine, explorer_flow.attestia,
                       explorer_flow.settings.data_dir, fetch=explorer_flow.fetch_policy,
                       page_wait=30.0)
    release = threading.Event()
    for i in range(1 if busy == "one check" else patient._checks.workers):
        patient._checks.submit(("blocker", i), lambda: release.wait(60))
    try:
        client = TestClient(create_app(patient), raise_server_exceptions=False)
        started = time.monotonic()
        page = client.get(f"/record/{explorer_flow.market_records[1]}")
        assert page.status_code == 200 and "being computed" in page.text
        assert time.monotonic() - started < 5
    finally:
        release.set()
    deadline = time.monotonic() + 60
    while "being computed" in client.get(f"/record/{explorer_flow.market_records[1]}").text:
        assert time.monotonic() < deadline  # the queued check ran once the pool was free
        time.sleep(0.1)


def test_the_explorer_over_the_light_read_path_answers_the_same(indexed: Explorer,
                                                                 explorer_flow: Flow) -> None:
    """`attestia explorer` serves over ``Attestia.light()`` (no web3): every live answer (the
    lens's revocation status, a worker's slot, a contributor's claims, the checklist of a
    record, a disputed record and a batch leaf) equals the web3 service's."""
    from offchain.explorer.service import VERIFY_WAIT

    light = Explorer(indexed.engine, explorer_flow.attestia.light(),
                     explorer_flow.settings.data_dir, fetch=explorer_flow.fetch_policy,
                     page_wait=VERIFY_WAIT)
    assert light.attestia.chain.is_light and not indexed.attestia.chain.is_light
    leaf = indexed.batch(explorer_flow.good_batch)["check"]["leaves"][0]["requestId"]
    worker = indexed.record(explorer_flow.demo_records[0])["worker"]
    for rid in (explorer_flow.demo_records[0], explorer_flow.disputed, leaf):
        assert light.record(rid) == indexed.record(rid), rid
        assert light.verify(rid) == indexed.verify(rid), rid
    assert light.worker(worker) == indexed.worker(worker)
    assert light.contributor(explorer_flow.contributor) == indexed.contributor(
        explorer_flow.contributor)
    assert light.model(explorer_flow.demo_model) == indexed.model(explorer_flow.demo_model)
    assert light.epochs() == indexed.epochs()


def test_the_checklist_in_a_child_process_is_the_same(indexed: Explorer,
                                                      explorer_flow: Flow) -> None:
    """`attestia explorer` runs the checklist in child processes (off the web server's GIL):
    the same report as in-process, for a single record and a batch leaf."""
    from offchain.explorer.checks import ProcessChecks

    children = ProcessChecks(explorer_flow.attestia, explorer_flow.fetch_policy,
                             explorer_flow.settings.data_dir, 1)
    try:
        leaf = indexed.batch(explorer_flow.good_batch)["check"]["leaves"][0]["requestId"]
        for rid in (explorer_flow.demo_records[2], leaf):
            record = indexed.read(Q.get_record, rid)
            assert children.verify(record) == indexed.verify(rid)
    finally:
        children.close()
