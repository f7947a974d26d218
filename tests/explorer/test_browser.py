"""The explorer's pages in a real browser (Playwright driving Debian's Chromium, headless): the
record, contributor, batch and model pages of the demo run, and a batch whose published file
was altered after its commit shown as failing. One browser, one page load per test.

Then every page the explorer serves, on a phone (390 px wide): nothing scrolls sideways (wide
tables scroll inside their own box), and axe-core finds no serious or critical accessibility
violation. axe-core is the npm package pinned in package.json (``make setup`` installs it).

Set ATTESTIA_EXPLORER_SCREENSHOT=docs/explorer.png to refresh the README's screenshot.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from offchain.chain.anvil import free_port
from offchain.config import REPO_ROOT
from offchain.explorer import pages
from offchain.explorer import queries as Q
from offchain.explorer.app import create_app
from offchain.explorer.render import Pages
from offchain.verify import CHECKS
from tests.explorer.helpers import Flow

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Chromium is not installed at /usr/bin/chromium (`make test` installs the Debian "
           "package when it runs as root with apt-get; or: apt-get install -y chromium)")


@pytest.fixture(scope="module")
def server(indexed) -> Iterator[str]:
    import uvicorn

    port = free_port()
    config = uvicorn.Config(create_app(indexed), host="127.0.0.1", port=port,
                            log_level="warning")
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not served.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert served.started
    yield f"http://127.0.0.1:{port}"
    served.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _tab(browser: Any, width: int, **options: Any) -> Any:
    tab = browser.new_context(viewport={"width": width, "height": 900}, **options).new_page()
    tab.set_default_timeout(20_000)
    return tab


@pytest.fixture(scope="module")
def page(browser: Any) -> Any:
    return _tab(browser, 1280)


PHONE = 390
"""CSS pixels: an iPhone 12-15's width, the narrowest common phone of today."""


@pytest.fixture(scope="module")
def phone(browser: Any) -> Any:
    return _tab(browser, PHONE, is_mobile=True, has_touch=True, device_scale_factor=3)


@pytest.fixture(scope="module", params=[PHONE, 1280], ids=["phone", "desktop"])
def audited(browser: Any, request: pytest.FixtureRequest) -> Any:
    """A tab where axe-core may run, on a phone and on a desktop (their layouts differ): the
    pages' CSP allows no script at all, so this tab ignores it (pages hold no inline style
    either, so they render the same)."""
    return _tab(browser, request.param, bypass_csp=True)


def test_record_page_shows_the_verify_checklist(page: Any, server: str,
                                                explorer_flow: Flow) -> None:
    rid = explorer_flow.demo_records[0]
    page.goto(f"{server}/record/{rid}")
    assert "Verified" in page.inner_text("#verdict")
    rows = page.locator("#checks tbody tr").all_inner_texts()
    assert len(rows) == len(CHECKS)  # one row per checklist line
    for name in ("record", "model", "worker", "signature", "attribution", "input", "output"):
        assert any(r.startswith("PASS") and f"\t{name}\t" in r for r in rows), (name, rows)
    assert "recorded at" in rows[0] and "EIP-712 digest" in rows[0]  # evidence per line
    shares = page.locator("#shares tbody tr").all_inner_texts()
    assert len(shares) >= 3 and all("bps" in s for s in shares)
    assert page.locator("svg.chart rect.bar").count() == len(shares)
    target = os.environ.get("ATTESTIA_EXPLORER_SCREENSHOT")
    if target:
        page.screenshot(path=target, full_page=False)


def test_a_disputed_record_shows_its_dispute(page: Any, server: str,
                                             explorer_flow: Flow) -> None:
    page.goto(f"{server}/record/{explorer_flow.disputed}")
    assert page.inner_text("#dispute-state").startswith("responded since")
    assert page.inner_text("#dispute-deadline").startswith("prove fraud by 20")
    assert page.inner_text("#dispute-challenger").startswith("0x")
    assert page.inner_text("#dispute-bond").endswith(" ETH")


def test_contributor_page_shows_shares_earnings_and_claims(page: Any, server: str,
                                                           explorer_flow: Flow) -> None:
    page.goto(f"{server}/contributor/{explorer_flow.contributor}")
    assert len(page.locator("#attributions tbody tr").all()) == 3
    assert "ETH" in page.inner_text("#earnings tbody")
    assert len(page.locator("#claims tbody tr").all()) == 1
    assert "0.000000 ETH" in page.inner_text("#claimable")  # claimed everything
    assert "reproduces the claimable root" in page.inner_text("#claimable")
    assert page.locator("svg.chart").count() == 2


def test_batch_page_recomputes_the_root_and_checks_each_leaf(page: Any, server: str,
                                                             explorer_flow: Flow) -> None:
    page.goto(f"{server}/batch/{explorer_flow.good_batch}")
    assert "every check passed" in page.inner_text("#verdict")
    assert page.inner_text("#root-check").startswith("PASS")
    leaves = page.locator("#leaves tbody tr").all_inner_texts()
    assert len(leaves) == 4 and all(row.count("PASS") == 2 for row in leaves)


def test_a_tampered_batch_file_shows_as_failing(page: Any, server: str,
                                                explorer_flow: Flow) -> None:
    page.goto(f"{server}/batch/{explorer_flow.tampered_batch}")
    verdict = page.inner_text("#verdict")
    assert "FAILED" in verdict and "dataHash" in verdict
    assert page.inner_text("#root-check").startswith("FAIL")
    leaves = page.locator("#leaves tbody tr").all_inner_texts()
    assert len(leaves) == 3 and all("not in the committed root" in row for row in leaves)


def test_model_page_shows_roster_names_and_split(page: Any, server: str,
                                                 explorer_flow: Flow) -> None:
    page.goto(f"{server}/model/{explorer_flow.demo_model}")
    roster = page.inner_text("#roster")
    for name in ("alice-hospital", "bob-clinic", "carol-lab", "dave-research", "erin-registry"):
        assert name in roster
    assert "worker 20.00 % · owner 20.00 % · contributors 60.00 %" in page.inner_text("#split")
    assert page.locator("svg.chart").count() == 2


# -- every page on a phone -----------------------------------------------------------------------

PAGES = ["/", "/records", "/records?filtered", "/record/{request_id}", "/record/disputed",
         "/search?q=batch-leaf", "/models", "/model/{model_id}", "/model/hostile", "/workers",
         "/worker/{signer}", "/contributor/{account}", "/batches", "/batch/{batch_id}",
         "/batch/tampered", "/epochs", "/disputes", "/search?q=several", "/search?q=nothing",
         "not found"]
"""Each route of ``pages.router`` at least once, and the variants whose content is widest."""


@pytest.fixture(scope="module")
def urls(explorer_flow: Flow, indexed: Any) -> dict[str, str]:
    f = explorer_flow
    worker = indexed.read(Q.list_workers)[0]["signer"]
    hostile = next(m["modelId"] for m in indexed.read(Q.list_models)
                   if m["metadataURI"].startswith("<script>"))
    return {"/": "/", "/records": "/records",
            "/records?filtered": f"/records?model={f.demo_model}&worker={worker}&proof=signed",
            "/record/{request_id}": f"/record/{f.demo_records[0]}",
            "/record/disputed": f"/record/{f.disputed}",
            "/search?q=batch-leaf": f"/search?q=batch:{f.good_batch}:0",
            "/models": "/models", "/model/{model_id}": f"/model/{f.demo_model}",
            "/model/hostile": f"/model/{hostile}", "/workers": "/workers",
            "/worker/{signer}": f"/worker/{worker}",
            "/contributor/{account}": f"/contributor/{f.contributor}",
            "/batches": "/batches", "/batch/{batch_id}": f"/batch/{f.good_batch}",
            "/batch/tampered": f"/batch/{f.tampered_batch}", "/epochs": "/epochs",
            "/disputes": "/disputes",
            # a claim's transaction also activated the root: two matches, listed
            "/search?q=several": "/search?q=" + indexed.read(Q.get_contributor, f.contributor)[
                "claims"][0]["txHash"],
            "/search?q=nothing": "/search?q=0x424242424242",
            "not found": "/record/0x" + "00" * 32}


def test_every_page_of_the_router_is_checked_on_a_phone(indexed: Any) -> None:
    from fastapi.routing import APIRoute

    served = {route.path for route in pages.router(indexed, Pages()).routes
              if isinstance(route, APIRoute)}
    assert "/records" in served
    checked = {p.split("?")[0] for p in PAGES} | {"/search"}
    assert served <= checked, f"add these pages to PAGES: {sorted(served - checked)}"


@pytest.mark.parametrize("name", PAGES)
def test_no_page_scrolls_sideways_on_a_phone(phone: Any, server: str, urls: dict[str, str],
                                             name: str) -> None:
    phone.goto(server + urls[name])
    width = phone.evaluate("document.documentElement.scrollWidth")
    # For the failure message: the outermost elements that stick out of the screen.
    wide = phone.evaluate("""(phone) => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > phone + 0.5
                     && e.parentElement.getBoundingClientRect().right <= phone + 0.5)
        .slice(0, 5).map(e => `${e.tagName}.${e.className} ${e.getBoundingClientRect().right}`)
        """, PHONE)
    assert width <= PHONE, (width, wide)
    # Whichever data table scrolls with other data, a keyboard can reach and scroll it.
    assert phone.locator("table:not(.kv):not([tabindex='0'])").count() == 0


def test_a_skip_link_leads_past_the_navigation(page: Any, server: str) -> None:
    page.goto(f"{server}/records")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # the next stop is the page's first control, not the menu
    assert page.evaluate("document.activeElement.name") == "model"


def _axe_source() -> str:
    path = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
    if not path.exists():
        pytest.fail(f"axe-core is missing ({path}): `make setup` installs it (npm ci; "
                    "axe-core is a devDependency in package.json)")
    return path.read_text()


@pytest.fixture(scope="module")
def axe_source() -> str:
    return _axe_source()


@pytest.mark.parametrize("name", PAGES)
def test_axe_finds_no_serious_violation(audited: Any, server: str, urls: dict[str, str],
                                        axe_source: str, name: str) -> None:
    audited.goto(server + urls[name])
    audited.add_script_tag(content=axe_source)
    violations = audited.evaluate("""async () => (await axe.run(document, {
        resultTypes: ['violations']})).violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': '
                                                   + n.failureSummary)}))""")
    assert violations == [], violations
