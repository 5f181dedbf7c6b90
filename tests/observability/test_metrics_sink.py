"""The Prometheus metrics sink, fed by the in-process engine and by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from obs_support import load

from selinon_backends.metrics import MetricsSink
from selinon_backends.runtime.clock import VirtualClock
from selinon_backends.runtime.engine import Engine
from selinon_core.trace import TraceEvent, TraceName


def _value(sink: MetricsSink, name: str, **labels: str) -> float:
    value = sink.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


@pytest.fixture
def sink(tmp_path: Path) -> MetricsSink:
    sink = MetricsSink()
    engine = Engine(load(tmp_path, trace="false"), clock=VirtualClock(), tracer=sink)
    assert engine.run_flow("outer", {}).status == "succeeded"
    assert engine.run_flow("failing", {}).status == "failed"
    assert engine.run_flow("flaky", {"counter": str(tmp_path / "n")}).status == "succeeded"
    return sink


def test_task_counters(sink: MetricsSink) -> None:
    started = {
        task: _value(sink, "selinon_tasks_started_total", task=task)
        for task in ("Start", "After", "Inner", "Fan", "Broken", "Flaky")
    }
    assert started == {"Start": 2, "After": 1, "Inner": 1, "Fan": 2, "Broken": 1, "Flaky": 2}
    assert _value(sink, "selinon_tasks_succeeded_total", task="Fan") == 2
    assert _value(sink, "selinon_tasks_succeeded_total", task="Flaky") == 1
    assert _value(sink, "selinon_tasks_succeeded_total", task="Broken") == 0
    assert _value(sink, "selinon_tasks_failed_total", task="Broken") == 1
    assert _value(sink, "selinon_tasks_retried_total", task="Flaky") == 1
    assert _value(sink, "selinon_tasks_failed_total", task="Flaky") == 0


def test_duration_and_latency_histograms(sink: MetricsSink) -> None:
    count = "selinon_task_duration_seconds_count"
    assert _value(sink, count, task="Fan", outcome="succeeded") == 2
    assert _value(sink, count, task="Flaky", outcome="retried") == 1
    assert _value(sink, count, task="Broken", outcome="failed") == 1
    # every task was scheduled and started in this process: one latency sample per run
    assert _value(sink, "selinon_task_start_latency_seconds_count", task="Fan") == 2
    assert _value(sink, "selinon_task_start_latency_seconds_count", task="Start") == 2
    bucket = "selinon_task_start_latency_seconds_bucket"
    assert _value(sink, bucket, task="Fan", le="+Inf") == 2


def test_events_and_flows(sink: MetricsSink) -> None:
    applied = "selinon_events_applied_total"
    assert _value(sink, applied, flow="outer", event="flow_requested") == 1
    assert _value(sink, applied, flow="inner", event="flow_requested") == 1
    # outer: Start, After and the sub-flow inner finished; inner: Inner and two Fan
    assert _value(sink, applied, flow="outer", event="node_succeeded") == 3
    assert _value(sink, applied, flow="inner", event="node_succeeded") == 3
    assert _value(sink, applied, flow="failing", event="node_failed") == 1
    finished = "selinon_flows_finished_total"
    assert _value(sink, finished, flow="outer", outcome="succeeded") == 1
    assert _value(sink, finished, flow="failing", outcome="failed") == 1
    assert _value(sink, finished, flow="failing", outcome="succeeded") == 0


def test_conflicts_dead_letters_and_ignored_events() -> None:
    sink = MetricsSink()
    sink(TraceEvent(TraceName.STATE_CONFLICT, 1.0, {"flow_id": "f", "what": "x", "retry_in": 0.1}))
    sink(TraceEvent(TraceName.STATE_CONFLICT, 2.0, {"flow_id": "g", "what": "x", "retry_in": 0.1}))
    sink(TraceEvent(TraceName.MESSAGE_DEAD_LETTERED, 3.0, {"queue": "q", "reason": "bad"}))
    sink(TraceEvent(TraceName.EVENT_IGNORED, 4.0, {"flow_name": "f", "dispatcher_id": "f"}))
    sink(TraceEvent(TraceName.FLOW_FAILURE, 5.0, {"flow_name": "f", "will_retry": True}))
    assert _value(sink, "selinon_state_conflicts_total") == 2
    assert _value(sink, "selinon_messages_dead_lettered_total", queue="q") == 1
    assert _value(sink, "selinon_events_ignored_total", flow="f") == 1
    # a flow that will be retried has not finished
    assert _value(sink, "selinon_flows_finished_total", flow="f", outcome="failed") == 0


def test_a_run_ended_without_its_start_here_counts_but_has_no_duration() -> None:
    sink = MetricsSink()
    sink(TraceEvent(TraceName.TASK_END, 5.0, {"task_name": "T", "task_id": "a.0"}))
    assert _value(sink, "selinon_tasks_succeeded_total", task="T") == 1
    count = "selinon_task_duration_seconds_count"
    assert _value(sink, count, task="T", outcome="succeeded") == 0
    sink(TraceEvent(TraceName.TASK_START, 6.0, {"task_name": "T", "task_id": "a.1"}))
    sink(TraceEvent(TraceName.TASK_END, 8.5, {"task_name": "T", "task_id": "a.1"}))
    assert _value(sink, count, task="T", outcome="succeeded") == 1
    assert _value(sink, "selinon_task_duration_seconds_sum", task="T", outcome="succeeded") == 2.5


def test_two_sinks_in_one_process_do_not_collide() -> None:
    first, second = MetricsSink(), MetricsSink()
    first(TraceEvent(TraceName.TASK_START, 1.0, {"task_name": "T", "task_id": "a.0"}))
    assert _value(first, "selinon_tasks_started_total", task="T") == 1
    assert _value(second, "selinon_tasks_started_total", task="T") == 0
