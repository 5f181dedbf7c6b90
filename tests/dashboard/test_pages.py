"""The dashboard's pages through Starlette's test client, over flows run on Kombu in-process.

The flows list (filters, find by id, pages), a flow's page (node table, error, traceback,
sub-flow and parent links), escaping of task output, the token check, and the live-update
stream of a running flow.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.services import service_unavailable

from selinon_backends.dashboard import DashboardSettings, LiveSource, StoreSource, create_app
from selinon_backends.dashboard.sources import flow_from_journal
from selinon_backends.dashboard.views import MAX_NODES, FlowView
from selinon_backends.distributed.backends import Backends
from selinon_backends.distributed.delays import MemoryDelayStore
from selinon_backends.distributed.journal import MemoryJournal
from selinon_backends.kombu import Client
from selinon_backends.runtime import Engine
from selinon_backends.runtime.slots import MemorySlotStore
from selinon_backends.state.memory import MemoryStateStore
from selinon_core.config.system import System
from selinon_core.dispatch.state import FlowState

SCRIPT = "<script>alert('owned')</script>"


@pytest.fixture(scope="module")
def flows(kombu: tuple[Client, Backends]) -> dict[str, str]:
    """Two finished flows of ``shop``: one succeeded (its note holds HTML), one failed."""
    client, _ = kombu
    good = client.run_flow("shop", {"order": 7, "note": SCRIPT})
    bad = client.run_flow("shop", {"order": 8, "fail": True})
    assert client.wait(good, timeout=30).succeeded
    assert not client.wait(bad, timeout=30).succeeded
    return {"good": good, "bad": bad}


@pytest.fixture(scope="module")
def web(system: System, kombu: tuple[Client, Backends], flows: dict[str, str]) -> TestClient:
    """A test client of the dashboard over the Kombu run's stores."""
    del flows
    return TestClient(create_app(system, kombu[1]))


def rows(html: str, table: str) -> list[str]:
    """The ``<tr>`` elements of the body of the table with class ``table``."""
    body = html.split(f'<table class="{table}">', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr[^>]*>.*?</tr>", body.split("<tbody", 1)[1], flags=re.S)


def test_the_list_shows_every_flow_with_status_and_counts(
    web: TestClient, flows: dict[str, str]
) -> None:
    page = web.get("/")
    assert page.status_code == 200
    found = rows(page.text, "flows")
    assert len(found) == 4  # two shop flows, each with one invoice sub-flow
    good = next(row for row in found if f'class="flow-link" href="/flows/{flows["good"]}"' in row)
    bad = next(row for row in found if f'class="flow-link" href="/flows/{flows["bad"]}"' in row)
    assert 'class="badge succeeded"' in good
    assert ">shop<" in good
    assert 'class="badge failed"' in bad
    # nodes started: Fetch, Gate, Ship, invoice; one failed task in the bad flow
    assert re.findall(r'<td class="num">(\d+)</td>', bad) == ["4", "0", "1"]
    sub = next(row for row in found if ">invoice<" in row and f"{flows['good']}." in row)
    assert f'href="/flows/{flows["good"]}"' in sub  # the parent link
    assert "Refresh" in page.text


def test_filters_by_status_and_name(web: TestClient, flows: dict[str, str]) -> None:
    failed = rows(web.get("/", params={"status": "failed"}).text, "flows")
    assert len(failed) == 1
    assert flows["bad"] in failed[0]
    subs = rows(web.get("/", params={"name": "invoice"}).text, "flows")
    assert len(subs) == 2
    assert all(">invoice<" in row for row in subs)
    nothing = web.get("/", params={"name": "shop", "status": "running"}).text
    assert "No flow matches." in nothing


def test_find_by_id_opens_the_flow_or_says_it_is_unknown(
    web: TestClient, flows: dict[str, str]
) -> None:
    found = web.get("/", params={"id": flows["bad"]}, follow_redirects=False)
    assert found.status_code == 303
    assert found.headers["location"] == f"/flows/{flows['bad']}"
    missing = web.get("/", params={"id": "no-such-flow"})
    assert 'id="missing"' in missing.text
    assert "no-such-flow" in missing.text
    assert web.get("/flows/no-such-flow").status_code == 404


def test_the_flow_page_lists_nodes_with_error_traceback_and_sub_flow_link(
    web: TestClient, flows: dict[str, str]
) -> None:
    page = web.get(f"/flows/{flows['bad']}")
    assert page.status_code == 200
    table = rows(page.text, "nodes")
    names = [re.search(r'data-node-name="([^"]+)"', row).group(1) for row in table]  # type: ignore[union-attr]
    assert sorted(names) == ["Fetch", "Gate", "Ship", "invoice"]
    ship = next(row for row in table if 'data-node-name="Ship"' in row)
    assert 'data-status="failed"' in ship
    assert "ValueError: the parcel is too heavy to ship" in ship
    assert '<details class="traceback"><summary>traceback</summary>' in ship
    assert "Traceback (most recent call last)" in ship
    fetch = next(row for row in table if 'data-node-name="Fetch"' in row)
    assert "&#34;order&#34;: 8" in fetch  # arguments and result, escaped JSON
    invoice = next(row for row in table if 'data-node-name="invoice"' in row)
    link = re.search(r'class="subflow" href="([^"]+)"', invoice).group(1)  # type: ignore[union-attr]
    sub = web.get(link)
    assert sub.status_code == 200
    assert ">Render<" in sub.text.replace("<br>", "<")
    assert f'class="parent" href="/flows/{flows["bad"]}"' in sub.text
    assert 'class="refresh"' in page.text


def test_task_output_is_escaped(web: TestClient, flows: dict[str, str]) -> None:
    for url in ("/", f"/flows/{flows['good']}"):
        text = web.get(url).text
        assert "<script>alert" not in text
    page = web.get(f"/flows/{flows['good']}").text
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in page


def test_pages_carry_a_content_security_policy(web: TestClient) -> None:
    headers = web.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"


def test_a_token_is_required_when_set(system: System, kombu: tuple[Client, Backends]) -> None:
    app = create_app(system, kombu[1], token="s3cret")
    web = TestClient(app)
    denied = web.get("/")
    assert denied.status_code == 401
    assert "token" in denied.text
    assert web.get("/static/dashboard.css").status_code == 401
    assert web.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert web.get("/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert web.get("/", params={"token": "wrong"}).status_code == 401
    first = web.get("/", params={"token": "s3cret"})
    assert first.status_code == 200
    assert "HttpOnly" in first.headers["set-cookie"]
    assert web.get("/?status=failed").status_code == 200  # the cookie is enough now
    assert TestClient(app).get("/?status=failed").status_code == 401  # not without it


def _backends_with(count: int) -> Backends:
    states = MemoryStateStore()
    for index in range(count):
        states.save(
            state=FlowState(f"f{index:03d}", "bulk", version=1), expected_version=None, outbox=()
        )
    return Backends(
        "memory://pages", states, MemorySlotStore(), MemoryJournal(), MemoryDelayStore()
    )


def test_the_list_is_paginated(system: System) -> None:
    web = TestClient(create_app(system, _backends_with(120)))
    first = web.get("/").text
    assert len(rows(first, "flows")) == 50
    assert ">f119<" in first
    assert 'rel="next" href="/?page=2"' in first
    assert 'rel="prev"' not in first
    last = web.get("/", params={"page": 3}).text
    assert len(rows(last, "flows")) == 20
    assert ">f000<" in last
    assert 'rel="next"' not in last
    assert "Page 3 of 3" in last


class _Watched(StoreSource):
    """A store source that tells when the live stream has read the flow once."""

    def __init__(self, backends: Backends) -> None:
        super().__init__(backends)
        self.read = threading.Event()

    def flow(self, flow_id: str) -> FlowView | None:
        found = super().flow(flow_id)
        self.read.set()
        return found


def _wait_until_started(backends: Backends, flow_id: str, node_name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        view = flow_from_journal(backends.journal.read(root=flow_id), flow_id)
        if view is not None and any(node.node_name == node_name for node in view.nodes):
            return
        time.sleep(0.02)
    raise AssertionError(f"{node_name} of flow {flow_id} did not start within 30 s")


def _events(body: str) -> list[tuple[str, dict[str, Any]]]:
    import json

    found = []
    for block in body.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


def test_the_event_stream_sends_a_running_node_turning_succeeded(
    system: System, kombu: tuple[Client, Backends], tmp_path: Path
) -> None:
    client, backends = kombu
    gate = tmp_path / "gate"
    flow_id = client.run_flow("shop", {"gate": str(gate)})
    _wait_until_started(backends, flow_id, "Gate")  # so the stream's first look sees it run
    source = _Watched(backends)
    web = TestClient(create_app(system, source, settings=DashboardSettings(update_interval=1)))
    body: dict[str, str] = {}

    def listen() -> None:
        body["text"] = web.get(f"/flows/{flow_id}/events").text

    reader = threading.Thread(target=listen)
    reader.start()
    try:
        assert source.read.wait(30)
    finally:
        gate.touch()
        reader.join(60)
    events = _events(body["text"])
    gates = [
        data["status"] for name, data in events if name == "node" and data["node_name"] == "Gate"
    ]
    assert gates[0] == "running"
    assert gates[-1] == "succeeded"
    assert events[-1] == ("end", {"status": "succeeded"})
    flows_seen = [data["status"] for name, data in events if name == "flow"]
    assert flows_seen[0] == "running"
    assert flows_seen[-1] == "succeeded"
    assert "text/event-stream" in web.get(f"/flows/{flow_id}/events").headers["content-type"]


def test_an_in_process_run_is_listed_and_shown(system: System) -> None:
    source = LiveSource("shop", {"fail": True})
    engine = Engine(system, observer=source.observe)
    run = engine.run_flow("shop", {"fail": True})
    source.finish(run)
    web = TestClient(create_app(system, source))
    listing = rows(web.get("/").text, "flows")
    assert len(listing) == 2
    assert any(">invoice<" in row for row in listing)
    page = web.get(f"/flows/{run.flow_id}").text
    assert 'class="badge failed"' in page
    assert "too heavy to ship" in page
    assert "Traceback (most recent call last)" in page


def test_the_flow_page_colours_the_diagram(web: TestClient, flows: dict[str, str]) -> None:
    if shutil.which("dot") is None:
        service_unavailable("graphviz is not installed (dot draws the flow diagrams)")
    page = web.get(f"/flows/{flows['bad']}").text
    assert '<figure class="diagram"><svg' in page
    assert 'id="node&#45;Ship" data-status="failed"' in page
    assert 'id="node&#45;Fetch" data-status="succeeded"' in page
    assert 'id="node&#45;invoice" data-status="succeeded"' in page


def test_a_flow_page_without_a_configuration_has_no_diagram(
    kombu: tuple[Client, Backends], flows: dict[str, str]
) -> None:
    page = TestClient(create_app(None, kombu[1])).get(f"/flows/{flows['bad']}")
    assert page.status_code == 200
    assert "<svg" not in page.text
    assert "too heavy" in page.text


def test_a_large_flow_shows_its_first_nodes_and_counts_all(system: System) -> None:
    journal = MemoryJournal()
    entries: dict[str, dict[str, Any]] = {"r:big": {"flow_name": "shop", "t": 1.0}}
    for seq in range(MAX_NODES + 5):
        entries[f"s:big.{seq}"] = {
            "flow_id": "big", "node_name": "Fetch", "kind": "task", "t": 2.0 + seq,
        }  # fmt: skip
        if seq % 2:
            entries[f"o:big.{seq}"] = {"status": "succeeded", "t": 3.0 + seq}
    journal.write(root="big", entries=entries)
    view = flow_from_journal(journal.read(root="big"), "big")
    assert view is not None
    assert len(view.nodes) == MAX_NODES
    assert view.hidden == 5
    assert view.counts() == {"running": 1003, "succeeded": 1002, "failed": 0}
    assert view.nodes[0].node_id == "big.0"
    backends = Backends(
        "memory://big", MemoryStateStore(), MemorySlotStore(), journal, MemoryDelayStore()
    )
    page = TestClient(create_app(system, backends)).get("/flows/big").text
    assert "5 more nodes are not shown." in page
    assert len(rows(page, "nodes")) == MAX_NODES
