"""OpenTelemetry spans of the Kombu runtime: two worker processes on Redis, one trace per flow.

One worker applies flow events only (``--dispatcher-only``), the other runs tasks only
(``--tasks-only``), so every task span is written by another process than its flow's span.  Each
process exports its spans to its own JSON-lines file (``obs_otel_worker.py``); the test joins
the files and checks the trees.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from obs_support import Workers, by_node, delete_queues, load, wait_until, write_config
from opentelemetry.sdk.trace import TracerProvider
from tests.services import REDIS_URL, require_redis

from selinon_backends.kombu import Client

pytestmark = [pytest.mark.service, pytest.mark.slow]


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[Workers, Client, Path]]:
    require_redis()
    queue = f"obs-otel-{uuid.uuid4().hex[:10]}"
    nodes, flows = write_config(tmp_path, queue=queue)
    common = ["-n", str(nodes), "-f", str(flows), "--broker", REDIS_URL]
    spans = tmp_path / "spans"
    spans.mkdir()
    workers = Workers(tmp_path, common, env={"OBS_SPANS_DIR": str(spans)})
    client = Client(load(tmp_path, queue=queue), broker=REDIS_URL)
    try:
        workers.start("--dispatcher-only", main="obs_otel_worker.py")
        workers.start("--tasks-only", main="obs_otel_worker.py")
        yield workers, client, spans
    finally:
        workers.stop()
        client.close()
        delete_queues(REDIS_URL, queue)


def _read(spans: Path) -> dict[str, list[dict[str, Any]]]:
    """Span records by writing process (file)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(spans.glob("spans-*.jsonl")):
        found[path.stem] = [json.loads(line) for line in path.read_text().splitlines() if line]
    return found


def _of_flow(files: dict[str, list[dict[str, Any]]], flow_id: str) -> list[dict[str, Any]]:
    return [
        dict(span, process=process)
        for process, spans in files.items()
        for span in spans
        if str(span["attributes"]["selinon.flow.id"]).partition(".")[0] == flow_id
    ]


def test_spans_from_two_worker_processes_form_one_trace(
    deployment: tuple[Workers, Client, Path],
) -> None:
    workers, client, spans_dir = deployment
    caller = TracerProvider().get_tracer("test")
    with caller.start_as_current_span("request") as request:
        outer = client.run_flow("outer", {"x": 1})
        context = request.get_span_context()
    failing = client.run_flow("failing", {})
    flaky = client.run_flow("flaky", {"counter": str(spans_dir.parent / "counter")})
    for flow_id in (outer, failing, flaky):
        assert client.wait(flow_id, timeout=60).flow_id == flow_id, workers.logs()
    expected = {outer: 7, failing: 3, flaky: 3}
    wait_until(
        lambda: all(len(_of_flow(_read(spans_dir), f)) >= n for f, n in expected.items()),
        f"the spans of three flows\n{workers.logs()}",
    )
    files = _read(spans_dir)
    assert len(files) == 2  # both worker processes wrote spans

    spans = _of_flow(files, outer)
    assert len(spans) == expected[outer]
    nodes = by_node(spans)
    assert {s["trace_id"] for s in spans} == {f"{context.trace_id:032x}"}  # the caller's trace
    flow, sub = nodes["outer"][0], nodes["inner"][0]
    assert flow["parent_id"] == f"{context.span_id:016x}"
    assert sub["parent_id"] == flow["span_id"]
    tasks = [s for s in spans if s["name"].startswith("task ")]
    assert sorted(s["attributes"]["selinon.node.name"] for s in tasks) == [
        "After",
        "Fan",
        "Fan",
        "Inner",
        "Start",
    ]
    for task in tasks:
        owner = sub if task["attributes"]["selinon.flow.name"] == "inner" else flow
        assert task["parent_id"] == owner["span_id"]
        assert task["process"] != owner["process"]  # joined across processes
        assert owner["start"] <= task["start"] <= task["end"] <= owner["end"]

    spans = _of_flow(files, failing)
    nodes = by_node(spans)
    assert len({s["trace_id"] for s in spans}) == 1
    assert nodes["failing"][0]["parent_id"] is None
    broken = nodes["Broken"][0]
    assert broken["parent_id"] == nodes["failing"][0]["span_id"]
    assert (broken["status"], nodes["failing"][0]["status"]) == ("ERROR", "ERROR")
    assert broken["events"][0]["attributes"] == {
        "exception.type": "ValueError",
        "exception.message": "boom",
    }

    spans = _of_flow(files, flaky)
    runs = sorted(by_node(spans)["Flaky"], key=lambda s: s["attributes"]["selinon.retries"])
    assert [(s["attributes"]["selinon.retries"], s["status"]) for s in runs] == [
        (0, "ERROR"),
        (1, "UNSET"),
    ]
    assert {s["parent_id"] for s in runs} == {by_node(spans)["flaky"][0]["span_id"]}
