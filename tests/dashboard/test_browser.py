"""The dashboard in a real headless browser, on the distributed runtime.

A Kombu worker process and the ``selinon-cli dashboard`` process share Redis (broker and
state store).  The browser finds a flow by its id, sees a running node turn succeeded
without reloading the page, opens a failed node's traceback and follows a sub-flow link.
Skips without Chromium or Redis locally; fails in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dash_browser import chrome, deployment, find_chromium
from tests.services import REDIS_URL, free_port, require_redis, service_unavailable

pytest.importorskip("selenium", reason="selenium is not installed (dev dependency)")

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = [pytest.mark.service, pytest.mark.slow]


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium."""
    if find_chromium() is None:
        service_unavailable("Chromium is not installed: apt-get install chromium chromium-driver")
    with chrome() as driver:
        yield driver


def _row(driver: Any, name: str) -> Any:
    return driver.find_element(By.CSS_SELECTOR, f'tr.node[data-node-name="{name}"]')


def _status(driver: Any, name: str) -> str | None:
    rows = driver.find_elements(By.CSS_SELECTOR, f'tr.node[data-node-name="{name}"]')
    return rows[0].get_attribute("data-status") if rows else None


def test_a_flow_followed_live_in_the_browser(browser: Any, tmp_path: Path) -> None:
    url = require_redis()
    assert url == REDIS_URL
    gate = tmp_path / "gate"
    with deployment(tmp_path, url, url, free_port()) as dep:
        client = dep.client()
        try:
            flow_id = client.run_flow("shop", {"gate": str(gate), "fail": True, "order": 3})
        finally:
            client.close()
        # rows are replaced as the flow changes: a row found a moment ago may be gone
        wait = WebDriverWait(
            browser, 30, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
        )

        # find the flow by its id from the flows page
        browser.get(dep.url + "/")
        box = browser.find_element(By.NAME, "id")
        box.send_keys(flow_id)
        box.submit()
        wait.until(lambda d: d.current_url.endswith(f"/flows/{flow_id}"))
        wait.until(lambda d: _status(d, "Gate") == "running" and _status(d, "Ship") == "failed")
        wait.until(lambda d: d.find_element(By.ID, "live").is_displayed())
        browser.execute_script("window.notReloaded = true;")

        # the running node turns succeeded without a reload; the diagram follows
        gate.touch()
        wait.until(lambda d: _status(d, "Gate") == "succeeded")
        assert browser.execute_script("return window.notReloaded === true;")
        diagram = browser.find_elements(By.ID, "node-Gate")
        if diagram:  # the diagram is drawn when graphviz is installed
            wait.until(
                lambda d: (
                    d.find_element(By.ID, "node-Gate").get_attribute("data-status") == "succeeded"
                )
            )
        wait.until(lambda d: d.find_element(By.ID, "flow-status").text == "failed")

        # the failed node's traceback, one click away
        ship = _row(browser, "Ship")
        trace = ship.find_element(By.CSS_SELECTOR, "details.traceback")
        assert not trace.find_element(By.TAG_NAME, "pre").is_displayed()
        trace.find_element(By.TAG_NAME, "summary").click()
        text = trace.find_element(By.TAG_NAME, "pre")
        assert text.is_displayed()
        assert "ValueError: the parcel is too heavy to ship" in text.text

        # the sub-flow started after Gate: its link, and the way back
        wait.until(lambda d: _status(d, "invoice") is not None)
        _row(browser, "invoice").find_element(By.CSS_SELECTOR, "a.subflow").click()
        wait.until(lambda d: d.current_url != dep.url + f"/flows/{flow_id}")
        assert browser.current_url.startswith(dep.url + f"/flows/{flow_id}.")
        wait.until(lambda d: _status(d, "Render") == "succeeded")
        browser.find_element(By.CSS_SELECTOR, "a.parent").click()
        wait.until(lambda d: d.current_url.endswith(f"/flows/{flow_id}"))
