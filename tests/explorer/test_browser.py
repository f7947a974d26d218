"""The explorer's pages in a real browser (Playwright driving Debian's Chromium, headless): the
record, contributor, batch and model pages of the demo run, and a batch whose published file
was altered after its commit shown as failing. One browser, one page load per test.

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
from offchain.explorer.app import create_app
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
def page(server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.set_default_timeout(20_000)
        yield tab
        browser.close()


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
    assert page.inner_text("#dispute").startswith("responded since")


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
