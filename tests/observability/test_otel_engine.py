"""The OpenTelemetry sink on the in-process engine, with the SDK's in-memory exporter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from obs_support import by_node, load, record
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from selinon_backends.otel import (
    OpenTelemetrySink,
    current_traceparent,
    flow_parent,
    parse_traceparent,
)
from selinon_backends.runtime.clock import VirtualClock
from selinon_backends.runtime.engine import Engine
from selinon_backends.tracing import build_tracer
from selinon_core.errors import SpecError
from selinon_core.trace import TraceEvent, TraceName


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _engine(tmp_path: Path, provider: TracerProvider) -> Engine:
    system = load(tmp_path)
    tracer = build_tracer(system, otel_options={"tracer_provider": provider})
    assert [type(sink).__name__ for sink in tracer.sinks] == ["OpenTelemetrySink"]
    return Engine(system, clock=VirtualClock(), tracer=tracer)


def _spans(exporter: InMemorySpanExporter) -> list[dict[str, Any]]:
    return [record(span) for span in exporter.get_finished_spans()]


def test_flow_task_and_subflow_spans_form_one_tree(
    tmp_path: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    run = _engine(tmp_path, provider).run_flow("outer", {"x": 1})
    assert run.status == "succeeded"
    spans = _spans(exporter)
    nodes = by_node(spans)
    # one span per flow (outer, inner) and per task run (Start, After, Inner, Fan x2)
    assert sorted((name, len(found)) for name, found in nodes.items()) == [
        ("After", 1),
        ("Fan", 2),
        ("Inner", 1),
        ("Start", 1),
        ("inner", 1),
        ("outer", 1),
    ]
    assert len({span["trace_id"] for span in spans}) == 1
    assert len({span["span_id"] for span in spans}) == len(spans)
    outer, inner = nodes["outer"][0], nodes["inner"][0]
    assert outer["parent_id"] is None
    assert outer["name"] == "flow outer"
    assert inner["parent_id"] == outer["span_id"]  # the sub-flow under the flow that started it
    for name in ("Start", "After"):
        assert nodes[name][0]["parent_id"] == outer["span_id"]
    for span in [*nodes["Inner"], *nodes["Fan"]]:
        assert span["parent_id"] == inner["span_id"]
        assert span["name"] == f"task {span['attributes']['selinon.node.name']}"
    start = nodes["Start"][0]
    assert start["attributes"] == {
        "selinon.flow.name": "outer",
        "selinon.flow.id": run.flow_id,
        "selinon.node.name": "Start",
        "selinon.node.id": start["attributes"]["selinon.node.id"],
        "selinon.retries": 0,
        "selinon.outcome": "succeeded",
    }
    assert start["attributes"]["selinon.node.id"].startswith(f"{run.flow_id}.")
    assert inner["attributes"]["selinon.parent_flow.id"] == run.flow_id
    assert all(span["status"] == "UNSET" for span in spans)
    # a flow's span covers the spans under it
    for child in [*nodes["Inner"], *nodes["Fan"]]:
        assert inner["start"] <= child["start"] <= child["end"] <= inner["end"]
    assert outer["start"] <= inner["start"]
    assert inner["end"] <= outer["end"]


def test_the_flow_joins_the_span_active_where_it_is_run(
    tmp_path: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    engine = _engine(tmp_path, provider)
    caller = provider.get_tracer("test")
    with caller.start_as_current_span("request") as span:
        engine.run_flow("flaky", {"counter": str(tmp_path / "counter")})
        context = span.get_span_context()
    spans = _spans(exporter)
    flow = by_node(spans)["flaky"][0]
    assert flow["parent_id"] == f"{context.span_id:016x}"
    assert {s["trace_id"] for s in spans} == {f"{context.trace_id:032x}"}


def test_runs_without_a_caller_get_traces_of_their_own(
    tmp_path: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    engine = _engine(tmp_path, provider)
    first = engine.run_flow("outer", {})
    second = engine.run_flow("outer", {})
    spans = _spans(exporter)
    traces = {s["attributes"]["selinon.flow.id"]: s["trace_id"] for s in spans}
    assert len({s["trace_id"] for s in spans}) == 2
    assert traces[first.flow_id] != traces[second.flow_id]


def test_a_failed_task_and_its_flow_record_the_error(
    tmp_path: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    run = _engine(tmp_path, provider).run_flow("failing", {})
    assert run.status == "failed"
    nodes = by_node(_spans(exporter))
    broken, flow, start = nodes["Broken"][0], nodes["failing"][0], nodes["Start"][0]
    assert broken["status"] == "ERROR"
    assert broken["attributes"]["selinon.outcome"] == "failed"
    assert broken["events"] == [
        {
            "name": "exception",
            "attributes": {"exception.type": "ValueError", "exception.message": "boom"},
        }
    ]
    assert broken["parent_id"] == flow["span_id"]
    assert flow["status"] == "ERROR"
    assert flow["attributes"]["selinon.outcome"] == "failed"
    assert flow["events"] == [
        {
            "name": "exception",
            "attributes": {
                "exception.type": "FlowFailed",
                "exception.message": "failed nodes: Broken",
            },
        }
    ]
    assert start["status"] == "UNSET"


def test_each_task_run_of_a_retried_task_is_a_span(
    tmp_path: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    run = _engine(tmp_path, provider).run_flow("flaky", {"counter": str(tmp_path / "n")})
    assert run.status == "succeeded"
    nodes = by_node(_spans(exporter))
    runs = sorted(nodes["Flaky"], key=lambda span: span["attributes"]["selinon.retries"])
    assert [
        (s["attributes"]["selinon.retries"], s["attributes"]["selinon.outcome"]) for s in runs
    ] == [
        (0, "retry"),
        (1, "succeeded"),
    ]
    assert [s["status"] for s in runs] == ["ERROR", "UNSET"]
    assert runs[0]["events"][0]["attributes"] == {
        "exception.type": "RuntimeError",
        "exception.message": "not yet",
    }
    assert runs[0]["span_id"] != runs[1]["span_id"]
    assert {s["attributes"]["selinon.node.id"] for s in runs} == {
        runs[0]["attributes"]["selinon.node.id"]
    }
    assert nodes["flaky"][0]["status"] == "UNSET"


def test_without_a_tracer_provider_nothing_is_written_and_nothing_breaks(tmp_path: Path) -> None:
    # The global provider is not set in the test process: spans have nowhere to go.
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    sink = OpenTelemetrySink()
    engine = Engine(load(tmp_path), clock=VirtualClock(), tracer=sink)
    assert engine.run_flow("outer", {}).status == "succeeded"


def test_spans_of_one_flow_seen_by_two_sinks_share_their_ids(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """Two processes (two sinks) that know the same flow id derive the same ids."""

    class Journal:
        def get(self, *, root: str, key: str) -> dict[str, Any] | None:
            return {"t": 100.0} if key == f"r:{root}" else None

    first = OpenTelemetrySink(tracer_provider=provider, journal=Journal())
    second = OpenTelemetrySink(tracer_provider=provider, journal=Journal())
    details = {"flow_name": "f", "dispatcher_id": "abc"}
    first(TraceEvent(TraceName.FLOW_END, 105.0, {**details, "state": {}}))
    task = {**details, "task_name": "T", "task_id": "abc.0"}
    second(TraceEvent(TraceName.TASK_START, 101.0, {**task, "retried_count": 0}))
    second(TraceEvent(TraceName.TASK_END, 102.0, task))
    flow, task_span = sorted(_spans(exporter), key=lambda s: s["name"])
    assert task_span["trace_id"] == flow["trace_id"]
    assert task_span["parent_id"] == flow["span_id"]
    assert flow["start"] == 100_000_000_000  # the journaled request time: FLOW_START was elsewhere
    assert flow["parent_id"] is None


def test_traceparent_round_trip() -> None:
    provider = TracerProvider()
    assert current_traceparent() is None
    with provider.get_tracer("t").start_as_current_span("s") as span:
        value = current_traceparent()
        context = span.get_span_context()
    flags = int(context.trace_flags)
    assert flags & 1  # sampled
    assert value == f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"
    parsed = parse_traceparent(value)
    assert parsed is not None
    assert (parsed.trace_id, parsed.span_id, parsed.flags) == (
        context.trace_id,
        context.span_id,
        flags,
    )


@pytest.mark.parametrize(
    "value",
    [
        None,
        42,
        "",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "00-0af7651916cd43dd8448eb211c80319x-b7ad6b7169203331-01",
    ],
)
def test_invalid_traceparents_are_ignored(value: Any) -> None:
    assert parse_traceparent(value) is None


def test_flow_parent_follows_node_ids() -> None:
    assert flow_parent("abc") is None
    assert flow_parent("abc.3") == "abc"
    assert flow_parent("abc.3.1") == "abc.3"


def test_the_trace_option_is_validated(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="opentelemetry"):
        load(tmp_path, trace="{opentelemetry: maybe}")


def test_a_trace_the_sampler_drops_is_dropped_whole(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.0)))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert _engine(tmp_path, provider).run_flow("outer", {}).status == "succeeded"
    assert exporter.get_finished_spans() == ()
