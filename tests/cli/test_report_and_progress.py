"""The report writer (pretty for small runs, streamed for large ones) and the progress lines."""

from __future__ import annotations

import io
import json
import time
from types import SimpleNamespace

from selinon_backends.cli.progress import Progress
from selinon_backends.cli.summary import MAX_FAILURES_SHOWN, render_summary
from selinon_backends.runtime.report import PRETTY_MAX_RUNS, FlowRun, NodeRun, write_report


def _record(i: int, status: str = "succeeded", **extra: object) -> NodeRun:
    record = NodeRun(
        "f", "flow-1", "Worker", f"flow-1.{i}", "task", {"Task1": "flow-1.0"}, {"n": i}
    )
    record.status = status  # type: ignore[assignment]
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def _written(run: FlowRun) -> str:
    stream = io.StringIO()
    write_report(run, stream)
    return stream.getvalue()


def test_a_large_report_is_one_line_per_run_and_equals_the_dict() -> None:
    odd = {"text": 'a "}, {"flow_name": " b', "nested": [{"flow_name": "x"}, {"flow_name": "y"}]}
    runs = [_record(i, result=odd if i == 3 else None) for i in range(PRETTY_MAX_RUNS * 30)]
    runs[7].status = "failed"
    runs[7].error, runs[7].traceback = "RuntimeError: no", "Traceback...\n"
    run = FlowRun("f", "flow-1", {"n": 1}, "failed", runs, 1.5)
    text = _written(run)
    assert json.loads(text) == run.report()
    lines = text.splitlines()
    assert len(lines) >= len(runs) + 8
    assert lines[9].strip().startswith('{"flow_name": "f"')


def test_a_small_report_is_indented() -> None:
    run = FlowRun("f", "flow-1", None, "succeeded", [_record(0)], 0.1)
    text = _written(run)
    assert json.loads(text) == run.report()
    assert '\n      "node_name": "Worker",\n' in text


def test_an_empty_large_format_is_valid_json() -> None:
    run = FlowRun("f", "flow-1", None, "failed", [], 0.0)
    assert json.loads(_written(run))["runs"] == []


def test_an_interrupted_report_keeps_unfinished_states() -> None:
    runs = [_record(0), _record(1, "running"), _record(2, "scheduled")]
    run = FlowRun("f", "flow-1", None, "interrupted", runs, 0.2)
    report = run.report()
    assert report["status"] == "interrupted"
    assert [r["status"] for r in report["runs"]] == ["succeeded", "running", "scheduled"]
    assert [r["error"] for r in report["runs"]] == [None, None, None]


def test_a_finished_report_counts_unfinished_nodes_as_failed_with_an_error() -> None:
    flow = NodeRun("f", "flow-1", "sub", "flow-1.1", "kind", None, None)  # type: ignore[arg-type]
    flow.kind, flow.status = "flow", "failed"
    run = FlowRun("f", "flow-1", None, "failed", [_record(0, "running"), flow], 0.2)
    first, second = run.report()["runs"]
    assert first["status"] == "failed"
    assert first["error"].startswith("NotFinished:")
    assert second["error"] == "FlowError: sub-flow 'sub' (flow-1.1) failed"
    assert second["traceback"] is None


def test_progress_lists_running_tasks_and_retry_countdowns() -> None:
    progress = Progress(color=False)
    running = _record(1, "running")
    progress(running)
    assert "running: Worker (flow-1.1)" in progress.status_lines()
    running.status, running.retries = "scheduled", 1  # type: ignore[assignment]
    progress(running)
    now = time.time()
    progress.deadline = now + 5
    lines = progress.status_lines(now=now)
    assert lines[0].startswith("elapsed ")
    assert "waiting to retry: Worker (flow-1.1) retry 1 (next countdown ends in 5.0s)" in lines
    assert not any(line.startswith("running:") for line in lines)
    running.status = "succeeded"  # type: ignore[assignment]
    progress(running)
    progress.deadline = None
    assert progress.status_lines(now=now)[1:] == []
    assert progress.counts[("f", "flow-1")]["succeeded"] == 1


def test_progress_names_a_countdown_without_a_retry() -> None:
    progress = Progress(color=False)
    now = time.time()
    progress.deadline = now + 2
    assert progress.status_lines(now=now)[1:] == [
        "waiting 2.0s for a countdown (throttling or a delayed node)"
    ]


def test_summary_lists_at_most_twenty_failures() -> None:
    runs = [_record(i, "failed", error="ValueError: no") for i in range(25)]
    run = FlowRun("f", "flow-1", None, "failed", runs, 0.2)
    text = render_summary(run, SimpleNamespace(flows={}))  # type: ignore[arg-type]
    lines = text.splitlines()
    assert lines[0] == "Flow 'f' (flow-1) failed in 0.200s: 25 node runs, 25 failed."
    assert len([line for line in lines if "ValueError: no" in line]) == MAX_FAILURES_SHOWN
    assert lines[-1] == "  ... and 5 more failed nodes (--report PATH lists them all)"
