"""OpenTelemetry trace sink: one span per flow and per task run, joined across processes.

Theory of operation.  The sink is a trace sink (``global.trace: {opentelemetry: true}``): it
reads the trace events a process sees and writes each span when the event that *ends* it
arrives, with the start time of the matching start event (``FLOW_START`` / ``TASK_START``) seen
by the same process, else the start time journaled for the flow (distributed runtime), else the
end time.  Nothing travels in the messages: every id is derived from ids every process knows.

* trace id: the caller's trace (W3C ``traceparent`` of the span active where the flow was
  requested, journaled in the flow's request entry by the distributed client, or taken from
  the current span at ``FLOW_START`` in-process); without a caller, a hash of the top-level
  flow id (distributed) or a random id per run (in-process, where ids such as ``flow-1``
  repeat from run to run);
* span id of a flow: a hash of the trace id and the flow id; its parent is the flow that started
  it as a sub-flow (node ids are ``<flow id>.<n>``), or the caller's span for a top-level flow;
* span id of a task run: a hash of the trace id, the task id, its attempt and its start; its
  parent is the span of the flow that ran it.

So a flow's dispatcher and its tasks may run in different worker processes: their spans land in
one trace with the right parents.  Deterministic ids need the OpenTelemetry SDK's tracer (the
sink sets the ids through the tracer's ``id_generator``); with another tracer implementation
the spans get that tracer's own ids.

The OpenTelemetry packages are imported when a sink is built, not when this module is imported
(:func:`current_traceparent` only looks at ``sys.modules``), so the distributed client can ask for
the caller's context at no cost when OpenTelemetry is not in use.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from selinon_core.trace import TraceEvent, TraceName

__all__ = [
    "INSTRUMENTATION_NAME",
    "OpenTelemetrySink",
    "Parent",
    "current_traceparent",
    "flow_parent",
    "parse_traceparent",
]

INSTRUMENTATION_NAME = "selinon"
"""The instrumentation scope name of the spans."""

_log = logging.getLogger(__name__)
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_SAMPLED = 0x01
K = TypeVar("K")
V = TypeVar("V")


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the span active in this thread, if OpenTelemetry is in use.

    Returns ``None`` when the OpenTelemetry API was never imported in this process (no span can
    be active then; nothing is imported here) or no valid span is active.
    """
    api = sys.modules.get("opentelemetry.trace")
    if api is None:
        return None
    context = api.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    flags = int(context.trace_flags) & 0xFF
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"


@dataclass(frozen=True, slots=True)
class Parent:
    """A span context to parent spans on: trace id, span id (``None``: a root) and flags."""

    trace_id: int
    span_id: int | None
    flags: int = _SAMPLED


def parse_traceparent(value: Any) -> Parent | None:
    """The trace and span ids of a W3C ``traceparent`` header; ``None`` when it is not valid."""
    if not isinstance(value, str):
        return None
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None or match.group(1) == "ff":
        return None
    trace_id, span_id = int(match.group(2), 16), int(match.group(3), 16)
    if not trace_id or not span_id:
        return None
    return Parent(trace_id, span_id, int(match.group(4), 16))


def flow_parent(flow_id: str) -> str | None:
    """The id of the flow that started ``flow_id`` as a sub-flow (``None`` for a top-level flow).

    Node ids extend their flow's id with ``.<n>`` and a top-level flow id has no dot.
    """
    parent, dot, _ = flow_id.rpartition(".")
    return parent if dot else None


def _root_of(flow_id: str) -> str:
    return flow_id.partition(".")[0]


def _derive(bits: int, *parts: object) -> int:
    """A non-zero id of ``bits`` bits hashed from ``parts`` (the same in every process)."""
    text = "\x1f".join(str(part) for part in parts).encode("utf-8", "surrogatepass")
    value = int.from_bytes(hashlib.blake2b(text, digest_size=bits // 8).digest(), "big")
    return value or 1


class _Bounded(Generic[K, V]):
    """A dict that forgets its oldest entries past ``limit`` (starts never ended here)."""

    def __init__(self, limit: int) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._limit = limit

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def setdefault(self, key: K, value: V) -> V:
        if key in self._items:
            return self._items[key]
        self.put(key, value)
        return value

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def pop(self, key: K) -> V | None:
        return self._items.pop(key, None)


class _PresetIds:
    """An SDK ``IdGenerator`` that hands out the ids preset for this thread, else delegates."""

    def __init__(self, fallback: Any) -> None:
        self._fallback = fallback
        self._local = threading.local()

    def preset(self, trace_id: int, span_id: int) -> None:
        self._local.ids = (trace_id, span_id)

    def clear(self) -> None:
        self._local.ids = None

    def generate_trace_id(self) -> int:
        ids = getattr(self._local, "ids", None)
        return ids[0] if ids else int(self._fallback.generate_trace_id())

    def generate_span_id(self) -> int:
        ids = getattr(self._local, "ids", None)
        return ids[1] if ids else int(self._fallback.generate_span_id())

    def is_trace_id_random(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class _Span:
    """One span to write."""

    name: str
    trace_id: int
    span_id: int
    parent: Parent | None
    start: float
    end: float
    attributes: dict[str, Any]
    error: str | None = None  # "Type: message" of a failure (status ERROR + exception event)
    failed: bool = False


class OpenTelemetrySink:
    """``opentelemetry: true``: writes flow and task-run spans through OpenTelemetry.

    Args:
        tracer_provider: the provider to get the tracer from (default: the global one, looked
            up when the first span is written, so it may be set after the sink is built).
        journal: the distributed runtime's run journal (anything with
            ``get(root=..., key=...)``): where the caller's ``traceparent`` and the start time
            of flows started in another process are read (once per top-level flow and process).
        max_pending: how many started flows and tasks (whose end this process may never see)
            are remembered at most.

    Raises:
        MissingExtraError: the ``opentelemetry-api`` package is not installed.
    """

    def __init__(
        self,
        *,
        tracer_provider: Any = None,
        journal: Any = None,
        max_pending: int = 10_000,
    ) -> None:
        self._api = _import_api()
        self._provider = tracer_provider
        self._journal = journal
        self._tracer: Any = None
        self._ids: _PresetIds | None = None
        self._lock = threading.Lock()
        self._flows: _Bounded[str, tuple[float, int]] = _Bounded(max_pending)
        self._tasks: _Bounded[str, tuple[float, int]] = _Bounded(max_pending)
        self._roots: _Bounded[str, tuple[Parent, float | None]] = _Bounded(max_pending)
        self._handlers: dict[TraceName, Callable[[TraceEvent], None]] = {
            TraceName.FLOW_START: self._flow_start,
            TraceName.FLOW_END: self._flow_end,
            TraceName.FLOW_FAILURE: self._flow_end,
            TraceName.TASK_START: self._task_start,
            TraceName.TASK_END: self._task_end,
            TraceName.TASK_FAILURE: self._task_end,
            TraceName.TASK_RETRY: self._task_end,
        }

    def __call__(self, event: TraceEvent) -> None:
        """Record a start, or write the span an end event closes."""
        handler = self._handlers.get(event.name)
        if handler is not None:
            handler(event)

    def __repr__(self) -> str:
        return "OpenTelemetrySink()"

    # ------------------------------------------------------------------ events

    def _flow_start(self, event: TraceEvent) -> None:
        flow_id = str(event.details.get("dispatcher_id", ""))
        retries = int(event.details.get("retried_count") or 0)
        if not retries and "." not in flow_id and self._journal is None:
            self._capture_caller(flow_id)  # a new top-level run (not a flow retry)
        with self._lock:
            first = self._flows.setdefault(flow_id, (event.at, retries))
            self._flows.put(flow_id, (first[0], retries))

    def _capture_caller(self, root: str) -> None:
        """In-process: the span active where the flow starts is its caller (else a new trace)."""
        context = self._api.get_current_span().get_span_context()
        if context.is_valid:
            parent = Parent(context.trace_id, context.span_id, int(context.trace_flags))
        else:
            parent = self._new_trace(int.from_bytes(secrets.token_bytes(16), "big") or 1)
        with self._lock:
            self._roots.put(root, (parent, None))

    def _flow_end(self, event: TraceEvent) -> None:
        details = event.details
        if event.name is TraceName.FLOW_FAILURE and details.get("will_retry"):
            return  # the flow starts again: its span goes on
        flow_id = str(details.get("dispatcher_id", ""))
        with self._lock:
            started = self._flows.pop(flow_id)
        root, root_start = self._root(_root_of(flow_id))
        parent_flow = flow_parent(flow_id)
        if parent_flow is not None:
            parent_span = _derive(64, root.trace_id, parent_flow)
            parent: Parent | None = Parent(root.trace_id, parent_span, root.flags)
            start = started[0] if started else self._journaled_start(flow_id)
        else:
            parent = root if root.span_id is not None else None
            start = started[0] if started else root_start
        retries = started[1] if started else int(details.get("retried_count") or 0)
        failed = event.name is TraceName.FLOW_FAILURE
        flow_name = str(details.get("flow_name", ""))
        attributes = _attributes(
            flow_name=flow_name,
            flow_id=flow_id,
            node_name=flow_name,
            node_id=flow_id,
            retries=retries,
            outcome="failed" if failed else "succeeded",
        )
        if parent_flow is not None:
            attributes["selinon.parent_flow.id"] = parent_flow
        self._write(
            _Span(
                name=f"flow {flow_name}",
                trace_id=root.trace_id,
                span_id=_derive(64, root.trace_id, flow_id),
                parent=parent,
                start=event.at if start is None else min(start, event.at),
                end=event.at,
                attributes=attributes,
                error=_failed_nodes(details) if failed else None,
                failed=failed,
            )
        )

    def _task_start(self, event: TraceEvent) -> None:
        task_id = str(event.details.get("task_id", ""))
        with self._lock:
            self._tasks.put(task_id, (event.at, int(event.details.get("retried_count") or 0)))

    def _task_end(self, event: TraceEvent) -> None:
        details = event.details
        task_id = str(details.get("task_id", ""))
        flow_id = str(details.get("dispatcher_id", ""))
        with self._lock:
            started = self._tasks.pop(task_id)
        start, attempt = started if started else (event.at, _attempt(event))
        root, _ = self._root(_root_of(flow_id))
        outcome = {
            TraceName.TASK_END: "succeeded",
            TraceName.TASK_FAILURE: "failed",
            TraceName.TASK_RETRY: "retry",
        }[event.name]
        what = details.get("what")
        failed = event.name is not TraceName.TASK_END and what is not None
        task_name = str(details.get("task_name", ""))
        attributes = _attributes(
            flow_name=str(details.get("flow_name", "")),
            flow_id=flow_id,
            node_name=task_name,
            node_id=task_id,
            retries=attempt,
            outcome=outcome,
        )
        self._write(
            _Span(
                name=f"task {task_name}",
                trace_id=root.trace_id,
                span_id=_derive(64, root.trace_id, task_id, attempt, repr(start)),
                parent=Parent(root.trace_id, _derive(64, root.trace_id, flow_id), root.flags),
                start=min(start, event.at),
                end=event.at,
                attributes=attributes,
                error=str(what) if failed else None,
                failed=failed,
            )
        )

    # ------------------------------------------------------------------ top-level flows

    def _root(self, root: str) -> tuple[Parent, float | None]:
        """The trace of top-level flow ``root`` (and its journaled request time)."""
        with self._lock:
            known = self._roots.get(root)
        if known is not None:
            return known
        entry = self._journal_get(root, f"r:{root}")
        caller = parse_traceparent(entry.get("traceparent")) if entry else None
        parent = caller or self._new_trace(_derive(128, "selinon-trace", root))
        found = (parent, _time(entry))
        with self._lock:
            self._roots.put(root, found)
        return found

    def _new_trace(self, trace_id: int) -> Parent:
        """A trace without a caller; sampled as the sampler decides for its root span.

        The spans under the top-level flow's span carry that decision in their parent's flags,
        so every process keeps or drops the whole trace (with a trace-id based sampler).
        """
        sampler = getattr(self._get_tracer(), "sampler", None)
        if sampler is None:
            return Parent(trace_id, None)
        from opentelemetry.context import Context  # noqa: PLC0415

        decision = sampler.should_sample(Context(), trace_id, "flow").decision
        return Parent(trace_id, None, _SAMPLED if decision.is_sampled() else 0)

    def _journaled_start(self, flow_id: str) -> float | None:
        return _time(self._journal_get(_root_of(flow_id), f"s:{flow_id}"))

    def _journal_get(self, root: str, key: str) -> dict[str, Any] | None:
        if self._journal is None:
            return None
        try:
            entry = self._journal.get(root=root, key=key)
        except Exception as exc:  # the span is still written, with what is known
            _log.warning("OpenTelemetry sink: cannot read %s of flow %s: %s", key, root, exc)
            return None
        return entry if isinstance(entry, dict) else None

    # ------------------------------------------------------------------ writing spans

    def _get_tracer(self) -> Any:
        if self._tracer is not None:
            return self._tracer
        provider = self._provider or self._api.get_tracer_provider()
        if isinstance(provider, self._api.ProxyTracerProvider):
            return None  # no provider set yet: nothing would be exported
        with self._lock:  # one tracer, one id generator, whatever the threads
            if self._tracer is None:
                tracer = provider.get_tracer(INSTRUMENTATION_NAME)
                fallback = getattr(tracer, "id_generator", None)
                if fallback is not None:
                    self._ids = _PresetIds(fallback)
                    tracer.id_generator = self._ids
                self._tracer = tracer
        return self._tracer

    def _write(self, span: _Span) -> None:
        tracer = self._get_tracer()
        if tracer is None:
            return
        api = self._api
        context = _context_of(api, span.parent)
        if self._ids is not None:
            self._ids.preset(span.trace_id, span.span_id)
        try:
            live = tracer.start_span(
                span.name,
                context=context,
                start_time=_nanos(span.start),
                attributes=span.attributes,
                record_exception=False,
                set_status_on_exception=False,
            )
        finally:
            if self._ids is not None:
                self._ids.clear()
        if span.failed:
            if span.error is not None:
                live.add_event("exception", _exception_attributes(span.error), _nanos(span.end))
            status = api.Status(api.StatusCode.ERROR, span.error or "failed")
            live.set_status(status)
        live.end(end_time=_nanos(span.end))


def _import_api() -> Any:
    """The OpenTelemetry API module (with the names the sink uses), or an actionable error."""
    try:
        from opentelemetry import trace  # noqa: PLC0415
    except ImportError as exc:
        from selinon_backends._clients import MissingExtraError  # noqa: PLC0415

        raise MissingExtraError(
            "the OpenTelemetry trace sink needs the 'opentelemetry-api' package: install the "
            "`opentelemetry` extra (pip install 'selinon-ng[opentelemetry]')",
            extra="opentelemetry",
            name="opentelemetry",
        ) from exc
    return trace


def _context_of(api: Any, parent: Parent | None) -> Any:
    """A context holding ``parent`` as a remote span; an empty one for a root span."""
    from opentelemetry.context import Context  # noqa: PLC0415

    if parent is None or parent.span_id is None:
        return Context()  # not the current context: a root span must not adopt the caller's
    span_context = api.SpanContext(
        parent.trace_id, parent.span_id, is_remote=True, trace_flags=api.TraceFlags(parent.flags)
    )
    return api.set_span_in_context(api.NonRecordingSpan(span_context), Context())


def _attributes(
    *, flow_name: str, flow_id: str, node_name: str, node_id: str, retries: int, outcome: str
) -> dict[str, Any]:
    return {
        "selinon.flow.name": flow_name,
        "selinon.flow.id": flow_id,
        "selinon.node.name": node_name,
        "selinon.node.id": node_id,
        "selinon.retries": retries,
        "selinon.outcome": outcome,
    }


def _exception_attributes(error: str) -> dict[str, str]:
    kind, sep, message = error.partition(": ")
    if not sep or not kind.replace(".", "").replace("_", "").isalnum():
        return {"exception.type": "Error", "exception.message": error}
    return {"exception.type": kind, "exception.message": message}


def _failed_nodes(details: dict[str, Any]) -> str:
    state = details.get("state")
    failed = state.get("failed_nodes") if isinstance(state, dict) else None
    if isinstance(failed, dict) and failed:
        return "FlowFailed: failed nodes: " + ", ".join(sorted(str(name) for name in failed))
    return "FlowFailed: the flow failed"


def _attempt(event: TraceEvent) -> int:
    """The attempt number of a task run, from its end event (without its start event)."""
    count = int(event.details.get("retried_count") or 0)
    if event.name is TraceName.TASK_RETRY and not event.details.get("user_retry"):
        return max(0, count - 1)  # a failed attempt that will be retried counts itself
    return count


def _time(entry: dict[str, Any] | None) -> float | None:
    value = entry.get("t") if entry else None
    return float(value) if isinstance(value, int | float) else None


def _nanos(seconds: float) -> int:
    return round(seconds * 1e9)
