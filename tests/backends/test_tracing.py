"""Trace sinks: logging, JSON lines, user function, storage method, Sentry; failure isolation."""

from __future__ import annotations

import io
import json
import logging
import math
import operator
import threading
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import pytest
import structlog
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from selinon_backends.tracing import (
    EventName,
    JsonLinesSink,
    LoggingSink,
    SentrySink,
    Tracer,
    build_tracer,
    event_name,
    iso_time,
    jsonable,
    level_of,
)
from selinon_core.config.loader import load_system_from_texts
from selinon_core.config.system import System
from selinon_core.errors import SpecError
from selinon_core.trace import TraceEvent, TraceName

AT = datetime(2024, 5, 1, 8, 45, 2, 230896, tzinfo=UTC).timestamp()
DSN = "http://public@127.0.0.1:9/1"

RECORDED: list[tuple[Any, Any]] = []


def record_trace(event: Any, msg_dict: dict[str, Any]) -> None:
    """A user trace function named from YAML in these tests."""
    RECORDED.append((event, msg_dict))


SELINON_NAMES = [name.value for name in TraceName]


def selinon_style_trace(event: Any, msg_dict: dict[str, Any]) -> None:
    """A trace function written for Selinon: numeric ids, list lookups by id."""
    if event == 11:  # Selinon's Trace.FLOW_FAILURE
        RECORDED.append(("numeric", SELINON_NAMES[event]))


NOT_CALLABLE = 42


def _system(trace: Any, storages: list[dict[str, Any]] | None = None) -> System:
    return System.from_dict(
        {
            "tasks": [{"name": "T", "import": "x"}],
            "storages": storages or [],
            "flows": {},
            "global": {"trace": trace},
        }
    )


def _event(name: TraceName = TraceName.TASK_SCHEDULE, **details: Any) -> TraceEvent:
    return TraceEvent(name=name, at=AT, details=details or {"flow_name": "flow1"})


@pytest.fixture(autouse=True)
def _clear_recorded() -> None:
    RECORDED.clear()


class CapturingTransport(Transport):
    """A sentry-sdk transport that keeps envelopes in memory (no network)."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def events(self) -> list[dict[str, Any]]:
        found = [envelope.get_event() for envelope in self.envelopes]
        return [dict(event) for event in found if event is not None]


# --------------------------------------------------------------------------- formatting


def test_iso_time_is_utc_with_z() -> None:
    assert iso_time(AT) == "2024-05-01T08:45:02.230896Z"
    assert iso_time(0) == "1970-01-01T00:00:00.000000Z"


def test_levels() -> None:
    assert level_of(TraceName.TASK_SCHEDULE) == "info"
    assert level_of(TraceName.TASK_FAILURE) == "warning"
    assert level_of(TraceName.EVENT_IGNORED) == "warning"
    assert level_of(TraceName.DISPATCHER_FAILURE) == "error"


class _Colour(StrEnum):
    RED = "red"


class _Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


def test_jsonable_renders_everything_serialisable() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    value = {
        "set": {3, 1, 2},
        "tuple": (1, "a", None),
        "when": when,
        "nan": math.nan,
        "inf": -math.inf,
        "obj": _Opaque(),
        "enum": _Colour.RED,
        1: "int key",
        (1, 2): "tuple key",
        "nested": {"list": [_Opaque(), 1.5, True]},
    }
    safe = jsonable(value)
    assert safe == {
        "set": [1, 2, 3],
        "tuple": [1, "a", None],
        "when": "2024-01-02T03:04:05+00:00",
        "nan": "nan",
        "inf": "-inf",
        "obj": "<opaque>",
        "enum": "red",
        "1": "int key",
        "(1, 2)": "tuple key",
        "nested": {"list": ["<opaque>", 1.5, True]},
    }
    assert type(safe["enum"]) is str
    json.dumps(safe, allow_nan=False)


def test_jsonable_survives_cycles_and_deep_nesting() -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    deep: list[Any] = []
    node = deep
    for _ in range(200):
        node.append([])
        node = node[0]
    json.dumps(jsonable(cyclic), allow_nan=False)
    json.dumps(jsonable(deep), allow_nan=False)


def test_event_name_equals_name_and_selinon_number() -> None:
    name = event_name(TraceName.FLOW_FAILURE)
    assert isinstance(name, str)
    assert name == "FLOW_FAILURE"
    assert name == TraceName.FLOW_FAILURE
    assert name == 11
    assert name == name.id
    assert 11 == name  # noqa: SIM300 - reflected comparison is the point
    assert name != 12
    assert name != "FLOW_END"
    assert name != True  # noqa: E712 - a bool is not an event id
    assert int(name) == 11
    assert operator.index(name) == 11
    assert json.dumps(name) == '"FLOW_FAILURE"'
    keyed: dict[str, int] = {name: 1}
    assert keyed["FLOW_FAILURE"] == 1
    assert repr(name) == "EventName('FLOW_FAILURE', id=11)"
    assert isinstance(name, EventName)


def test_selinon_numbering() -> None:
    assert event_name(TraceName.DISPATCHER_WAKEUP).id == 0
    assert event_name(TraceName.TASK_SCHEDULE).id == 3
    assert event_name(TraceName.FLOW_END).id == 16
    assert event_name(TraceName.NODE_STATE_CACHE_GET).id == 25
    assert event_name(TraceName.STORAGE_DELETED).id == 52
    assert event_name(TraceName.CONDITION_ERROR).id == 53


def test_no_trace_configured_gives_an_empty_tracer() -> None:
    tracer = build_tracer(_system(False))
    assert not tracer
    assert tracer.sinks == ()
    tracer(_event())


def test_logging_sink_writes_key_value_lines() -> None:
    out, err = io.StringIO(), io.StringIO()
    tracer = build_tracer(_system({"logging": True}), stream=out, err_stream=err)
    tracer(
        _event(
            TraceName.TASK_SCHEDULE,
            flow_name="flow1",
            task_name="Task1",
            node_args={"foo": "bar baz"},
            countdown=None,
            selective=False,
            event="clash",
        )
    )
    tracer(_event(TraceName.TASK_FAILURE, flow_name="flow1", what="ValueError: boom"))
    info = out.getvalue().splitlines()
    warning = err.getvalue().splitlines()
    assert info == [
        "time=2024-05-01T08:45:02.230896Z level=info event=TASK_SCHEDULE logger=selinon"
        ' flow_name=flow1 task_name=Task1 node_args="{\\"foo\\": \\"bar baz\\"}"'
        " countdown=null selective=false details.event=clash"
    ]
    assert warning == [
        "time=2024-05-01T08:45:02.230896Z level=warning event=TASK_FAILURE logger=selinon"
        ' flow_name=flow1 what="ValueError: boom"'
    ]


def test_logging_sink_can_use_an_application_structlog_logger() -> None:
    captured = structlog.testing.CapturingLogger()
    logger = structlog.wrap_logger(captured, processors=[structlog.processors.KeyValueRenderer()])
    sink = LoggingSink(logger=logger)
    sink(_event(TraceName.NODE_FAILURE, flow_name="f", node_name="T"))
    assert len(captured.calls) == 1
    call = captured.calls[0]
    assert call.method_name == "warning"
    assert "event='NODE_FAILURE'" in call.args[0]
    assert "node_name='T'" in call.args[0]


def test_json_sink_writes_one_object_per_line_warnings_to_stderr() -> None:
    out, err = io.StringIO(), io.StringIO()
    tracer = build_tracer(_system([{"json": True}]), stream=out, err_stream=err)
    tracer(_event(TraceName.FLOW_START, flow_name="flow1", node_args={"a": [1, 2]}))
    tracer(_event(TraceName.FLOW_END, flow_name="flow1", state={"finished": {"T": ["id"]}}))
    tracer(_event(TraceName.NODE_FAILURE, flow_name="flow1", error=ValueError("bad")))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["FLOW_START", "FLOW_END"]
    assert all(set(line) == {"event", "time", "details"} for line in lines)
    assert lines[0]["time"] == "2024-05-01T08:45:02.230896Z"
    assert datetime.fromisoformat(lines[0]["time"]).timestamp() == pytest.approx(AT)
    assert lines[0]["details"] == {"flow_name": "flow1", "node_args": {"a": [1, 2]}}
    (failure,) = [json.loads(line) for line in err.getvalue().splitlines()]
    assert failure["event"] == "NODE_FAILURE"
    assert failure["details"]["error"] == "ValueError('bad')"


def test_json_sink_called_directly_with_raw_details_still_writes_json() -> None:
    out = io.StringIO()
    JsonLinesSink(stream=out)(_event(TraceName.FLOW_START, thing=_Opaque()))
    assert json.loads(out.getvalue())["details"] == {"thing": "<opaque>"}


def test_sinks_default_to_the_current_stdout_and_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tracer = build_tracer(_system({"json": True, "logging": True}))
    tracer(_event(TraceName.FLOW_START))
    tracer(_event(TraceName.FLOW_FAILURE))
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert len(captured.err.splitlines()) == 2
    assert '"event": "FLOW_START"' in captured.out
    assert "event=FLOW_FAILURE" in captured.err


def test_function_sink_receives_the_event_name_and_details() -> None:
    trace = {"function": {"import": __name__, "name": "record_trace"}}
    tracer = build_tracer(_system(trace))
    tracer(_event(TraceName.FLOW_FAILURE, flow_name="flow1", obj=_Opaque()))
    ((event, details),) = RECORDED
    assert event == "FLOW_FAILURE"
    assert event == TraceName.FLOW_FAILURE
    assert details == {"flow_name": "flow1", "obj": "<opaque>"}


def test_function_written_for_selinon_numeric_ids_keeps_working() -> None:
    trace = {"function": {"import": __name__, "name": "selinon_style_trace"}}
    tracer = build_tracer(_system(trace))
    tracer(_event(TraceName.FLOW_END))
    tracer(_event(TraceName.FLOW_FAILURE))
    assert RECORDED == [("numeric", "FLOW_FAILURE")]


def test_function_sink_that_is_not_callable_is_a_spec_error() -> None:
    trace = {"function": {"import": __name__, "name": "NOT_CALLABLE"}}
    with pytest.raises(SpecError, match="not callable"):
        build_tracer(_system(trace))


def test_function_sink_that_cannot_be_imported_is_a_spec_error() -> None:
    trace = {"function": {"import": "no_such_module_here", "name": "f"}}
    with pytest.raises(SpecError, match="cannot import"):
        build_tracer(_system(trace))


class _TraceStorage:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, dict[str, Any]]] = []

    def trace(self, event: Any, details: dict[str, Any]) -> None:
        self.calls.append((event, details))

    store_trace = trace


STORAGES = [{"name": "Trace", "import": "x", "configuration": {}}]


@pytest.mark.parametrize(
    ("spec", "method"),
    [({"name": "Trace"}, "trace"), ({"name": "Trace", "method": "store_trace"}, "store_trace")],
)
def test_storage_sink_calls_the_storage_method(spec: dict[str, str], method: str) -> None:
    storage = _TraceStorage()
    looked_up: list[str] = []

    def lookup(name: str) -> _TraceStorage:
        looked_up.append(name)
        return storage

    tracer = build_tracer(_system({"storage": spec}, STORAGES), storage_lookup=lookup)
    tracer(_event(TraceName.TASK_END, flow_name="f", task_name="T"))
    assert looked_up == ["Trace"]
    ((event, details),) = storage.calls
    assert event == "TASK_END"
    assert event == 6
    assert details == {"flow_name": "f", "task_name": "T"}


def test_storage_sink_for_an_unknown_storage_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="'Nope' is not defined"):
        build_tracer(_system({"storage": {"name": "Nope"}}, STORAGES), storage_lookup=str)


def test_storage_sink_needs_a_lookup() -> None:
    with pytest.raises(ValueError, match="storage_lookup"):
        build_tracer(_system({"storage": {"name": "Trace"}}, STORAGES))


# --------------------------------------------------------------------------- Sentry


def test_sentry_reports_failures_only() -> None:
    transport = CapturingTransport()
    tracer = build_tracer(
        _system({"sentry": {"dsn": DSN}}), sentry_options={"transport": transport}
    )
    tracer(_event(TraceName.TASK_SCHEDULE, flow_name="flow1", task_name="Task1"))
    tracer(
        _event(
            TraceName.TASK_FAILURE,
            flow_name="flow1",
            task_name="Task1",
            task_id="t-1",
            what="Traceback (most recent call last):\n  ...\nValueError: boom\n",
        )
    )
    tracer(_event(TraceName.NODE_FAILURE, flow_name="flow1", node_name="Task1", what="x"))
    tracer(_event(TraceName.FLOW_FAILURE, flow_name="flow1", will_retry=False))
    tracer(_event(TraceName.FLOW_END, flow_name="flow1"))
    tracer.close()
    events = transport.events()
    assert [event["tags"]["selinon.event"] for event in events] == [
        "TASK_FAILURE",
        "NODE_FAILURE",
        "FLOW_FAILURE",
    ]
    task = events[0]
    assert task["message"] == "TASK_FAILURE: 'Task1' in flow 'flow1' failed: ValueError: boom"
    assert task["level"] == "error"
    assert task["tags"]["flow_name"] == "flow1"
    assert task["tags"]["node_name"] == "Task1"
    assert task["extra"]["task_id"] == "t-1"
    assert task["fingerprint"] == ["selinon", "TASK_FAILURE", "flow1", "Task1"]
    assert events[2]["message"] == "FLOW_FAILURE: flow 'flow1' failed"
    assert "node_name" not in events[2]["tags"]


def _loaded_with_sentry(dsn: str, environ: dict[str, str]) -> System:
    nodes = (
        "tasks:\n  - name: T\n    import: myproject.tasks\nflows: [f]\n"
        f"global:\n  trace:\n    - sentry: {{dsn: '{dsn}'}}\n"
    )
    flows = "flow-definitions:\n  - name: f\n    edges:\n      - {from: '', to: T}\n"
    return load_system_from_texts(nodes, [flows], check_imports=False, environ=environ)


def test_sentry_dsn_is_expanded_once_by_the_loader() -> None:
    # The variable's value holds braces: a second, str.format expansion would choke on them.
    system = _loaded_with_sentry("http://{KEY}@127.0.0.1:9/1", {"KEY": "pub{lic}"})
    transport = CapturingTransport()
    tracer = build_tracer(system, sentry_options={"transport": transport})
    (sink,) = tracer.sinks
    assert isinstance(sink, SentrySink)
    assert str(sink.client.dsn) == "http://pub{lic}@127.0.0.1:9/1"
    tracer(_event(TraceName.FLOW_FAILURE, flow_name="f"))
    assert len(transport.events()) == 1
    tracer.close()


def test_sentry_dsn_brace_escape_survives() -> None:
    system = _loaded_with_sentry("http://pub{{x}}@127.0.0.1:9/1", {})
    tracer = build_tracer(system, sentry_options={"transport": CapturingTransport()})
    (sink,) = tracer.sinks
    assert isinstance(sink, SentrySink)
    assert str(sink.client.dsn) == "http://pub{x}@127.0.0.1:9/1"
    tracer.close()


def test_sentry_dsn_attribute_lookup_is_refused_at_load() -> None:
    with pytest.raises(SpecError, match="only '\\{NAME\\}'"):
        _loaded_with_sentry("http://{KEY.__class__}@127.0.0.1:9/1", {"KEY": "k"})


def test_sentry_dsn_with_missing_variable_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="SENTRY_DSN"):
        _loaded_with_sentry("{SENTRY_DSN}", {})


# --------------------------------------------------------------------------- the tracer


def test_several_entries_and_sinks_per_entry_run_in_order() -> None:
    out = io.StringIO()
    trace = [
        {"logging": True, "json": True},
        {"function": {"import": __name__, "name": "record_trace"}},
    ]
    tracer = build_tracer(_system(trace), stream=out)
    assert [type(sink).__name__ for sink in tracer.sinks] == [
        "LoggingSink",
        "JsonLinesSink",
        "FunctionSink",
    ]
    tracer(_event(TraceName.FLOW_START))
    first, second = out.getvalue().splitlines()
    assert first.startswith("time=")
    assert json.loads(second)["event"] == "FLOW_START"
    assert len(RECORDED) == 1


def test_failing_sink_is_logged_and_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[TraceName] = []

    def broken(event: TraceEvent) -> None:
        raise RuntimeError("sink down")

    tracer = Tracer([broken])
    tracer.add_sink(lambda event: seen.append(event.name))
    with caplog.at_level(logging.ERROR, logger="selinon_backends.tracing"):
        tracer(_event(TraceName.FLOW_START))
        tracer(_event(TraceName.FLOW_END))
    assert seen == [TraceName.FLOW_START, TraceName.FLOW_END]
    failures = [r for r in caplog.records if "failed on" in r.getMessage()]
    assert len(failures) == 2
    assert failures[0].exc_info is not None
    assert "sink down" in str(failures[0].exc_info[1])
    # a repeat of the same error is one line, without another traceback
    assert failures[1].exc_info is None
    assert (
        failures[1]
        .getMessage()
        .endswith("failed on FLOW_END; event dropped: RuntimeError: sink down")
    )


def test_sink_failure_traceback_logged_again_after_recovery_or_new_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    errors: list[Exception | None] = [ValueError("a"), None, ValueError("b"), KeyError("c")]

    def flaky(event: TraceEvent) -> None:
        error = errors.pop(0)
        if error is not None:
            raise error

    tracer = Tracer([flaky])
    with caplog.at_level(logging.ERROR, logger="selinon_backends.tracing"):
        for _ in range(4):
            tracer(_event())
    assert [r.exc_info is not None for r in caplog.records] == [True, True, True]


def test_failing_user_function_and_storage_do_not_break_tracing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def missing_storage(name: str) -> Any:
        raise ConnectionError(f"{name} unreachable")

    out = io.StringIO()
    tracer = build_tracer(
        _system([{"storage": {"name": "Trace"}}, {"json": True}], STORAGES),
        storage_lookup=missing_storage,
        stream=out,
    )
    with caplog.at_level(logging.ERROR, logger="selinon_backends.tracing"):
        tracer(_event(TraceName.FLOW_START))
    assert json.loads(out.getvalue())["event"] == "FLOW_START"
    assert "StorageSink('Trace', 'trace') failed on FLOW_START" in caplog.text
    assert "JsonLinesSink()" in repr(tracer.sinks)


def test_close_errors_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    class Closing:
        closed = False

        def __call__(self, event: TraceEvent) -> None:
            pass

        def close(self) -> None:
            raise OSError("already closed")

    tracer = Tracer([Closing()])
    with caplog.at_level(logging.ERROR, logger="selinon_backends.tracing"):
        tracer.close()
    assert "closing trace sink" in caplog.text


def test_remove_sink_and_original_details_untouched() -> None:
    seen: list[dict[str, Any]] = []
    sink = seen.append

    def collect(event: TraceEvent) -> None:
        sink(event.details)

    tracer = Tracer()
    tracer.add_sink(collect)
    original = {"obj": _Opaque(), "n": 1}
    tracer(TraceEvent(name=TraceName.FLOW_START, at=AT, details=original))
    assert seen == [{"obj": "<opaque>", "n": 1}]
    assert isinstance(original["obj"], _Opaque)
    tracer.remove_sink(collect)
    tracer(_event())
    assert len(seen) == 1


def test_tracing_from_threads_while_adding_sinks() -> None:
    out = io.StringIO()
    tracer = Tracer([JsonLinesSink(stream=out)])
    counts: list[int] = []
    lock = threading.Lock()

    def count(event: TraceEvent) -> None:
        with lock:
            counts.append(1)

    def emit() -> None:
        for i in range(200):
            tracer(_event(TraceName.TASK_END, i=i))

    threads = [threading.Thread(target=emit) for _ in range(4)]
    for thread in threads:
        thread.start()
    tracer.add_sink(count)
    for thread in threads:
        thread.join()
    lines = out.getvalue().splitlines()
    assert len(lines) == 800
    assert all(json.loads(line)["event"] == "TASK_END" for line in lines)
    assert len(counts) <= 800


# --------------------------------------------------------------------------- docs


def test_trace_examples_in_the_docs_are_valid_configuration() -> None:
    import pathlib
    import re

    from ruamel.yaml import YAML

    from selinon_core.config.spec import GlobalSpec

    text = (pathlib.Path(__file__).parents[2] / "docs" / "tracing.md").read_text("utf-8")
    blocks = [
        YAML(typ="safe").load(block)
        for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    ]
    specs = [GlobalSpec.model_validate(block["global"]) for block in blocks]
    kinds = [
        [
            key
            for key in ("logging", "json_", "function", "storage", "sentry", "opentelemetry")
            if getattr(e, key)
        ]
        for spec in specs
        for e in spec.trace
    ]
    assert kinds == [
        ["logging"],
        ["json_"],
        ["function"],
        ["storage"],
        ["sentry"],
        ["opentelemetry"],
        ["storage"],
        ["sentry"],
    ]
