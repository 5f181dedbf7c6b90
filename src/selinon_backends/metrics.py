"""Prometheus metrics of a worker, counted from its trace events (``worker --metrics-port``).

:class:`MetricsSink` is a trace sink: the worker's tracer hands it every trace event and it
counts them into a private ``prometheus_client`` registry, which :func:`serve_metrics` exposes
over HTTP with prometheus-client's own server and text format.  The runtime is not touched.

What is counted (``<name>_total`` for counters, ``_bucket``/``_sum``/``_count`` for histograms):

* ``selinon_tasks_started_total{task}`` (``TASK_START``), ``selinon_tasks_succeeded_total{task}``
  (``TASK_END``), ``selinon_tasks_failed_total{task}`` (``TASK_FAILURE``: no retry left),
  ``selinon_tasks_retried_total{task}`` (``TASK_RETRY``);
* ``selinon_task_duration_seconds{task,outcome}``: from a run's ``TASK_START`` to its end event
  (same process, same clock);
* ``selinon_task_start_latency_seconds{task}``: from the time of the event that scheduled a
  task (``TASK_SCHEDULE`` carries it: the predecessor's end, stamped by the worker that ran it,
  or the flow's request for a flow's first tasks) to the task's ``TASK_START``.  Observed when
  this process applied the scheduling event *and* ran the task (a worker of role ``all``); a
  ``--dispatcher-only`` or ``--tasks-only`` worker leaves it empty;
* ``selinon_events_applied_total{flow,event}``: flow events the dispatcher applied, by kind
  (``flow_requested``, ``node_succeeded``, ``node_failed``, ``timer_due``), and
  ``selinon_events_ignored_total{flow}`` (duplicates and late events, ``EVENT_IGNORED``);
* ``selinon_flows_finished_total{flow,outcome}`` (``FLOW_END``; ``FLOW_FAILURE`` without retry);
* ``selinon_state_conflicts_total`` (``STATE_CONFLICT``: an event deferred after lost
  compare-and-sets or a busy outbox);
* ``selinon_messages_dead_lettered_total{queue}`` (``MESSAGE_DEAD_LETTERED``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from selinon_core.trace import TraceEvent, TraceName

__all__ = [
    "DURATION_BUCKETS",
    "LATENCY_BUCKETS",
    "MetricsServer",
    "MetricsSink",
    "serve_metrics",
]

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Buckets (seconds) of the task-start latency: the engine aims at about a millisecond."""

DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)
"""Buckets (seconds) of task durations."""

_APPLIED = {
    TraceName.FLOW_START: "flow_requested",
    TraceName.NODE_SUCCESSFUL: "node_succeeded",
    TraceName.NODE_FAILURE: "node_failed",
    TraceName.FLOW_RETRY: "timer_due",
}
_OUTCOMES = {
    TraceName.TASK_END: "succeeded",
    TraceName.TASK_FAILURE: "failed",
    TraceName.TASK_RETRY: "retried",
}


def _prometheus() -> Any:
    try:
        import prometheus_client  # noqa: PLC0415
    except ImportError as exc:
        from selinon_backends._clients import MissingExtraError  # noqa: PLC0415

        raise MissingExtraError(
            "worker metrics need the 'prometheus-client' package: install the `prometheus` "
            "extra (pip install 'selinon-ng[prometheus]')",
            extra="prometheus",
            name="prometheus_client",
        ) from exc
    return prometheus_client


class _Times:
    """Times by task id, forgetting the oldest past ``limit`` (starts never ended here)."""

    def __init__(self, limit: int) -> None:
        self._items: OrderedDict[str, float] = OrderedDict()
        self._limit = limit

    def put(self, key: str, at: float) -> None:
        self._items[key] = at
        if len(self._items) > self._limit:
            self._items.popitem(last=False)

    def pop(self, key: str) -> float | None:
        return self._items.pop(key, None)


class MetricsSink:
    """Counts trace events into Prometheus metrics (see the module doc for the list).

    Args:
        registry: the ``prometheus_client.CollectorRegistry`` to register in (default: a new
            private one, so several sinks in one process do not collide).
        max_pending: how many started-but-not-ended task runs and scheduled-but-not-started
            tasks are remembered at most.

    Raises:
        MissingExtraError: prometheus-client is not installed (the ``prometheus`` extra).
    """

    def __init__(self, *, registry: Any = None, max_pending: int = 10_000) -> None:
        prom = _prometheus()
        self.registry = registry if registry is not None else prom.CollectorRegistry()
        self._lock = threading.Lock()
        self._starts = _Times(max_pending)
        self._scheduled = _Times(max_pending)
        self._build(prom)
        self._handlers = {
            TraceName.TASK_SCHEDULE: self._task_scheduled,
            TraceName.TASK_START: self._task_started,
            TraceName.TASK_END: self._task_ended,
            TraceName.TASK_FAILURE: self._task_ended,
            TraceName.TASK_RETRY: self._task_ended,
            TraceName.FLOW_END: self._flow_ended,
            TraceName.FLOW_FAILURE: self._flow_ended,
            TraceName.EVENT_IGNORED: self._ignored,
            TraceName.STATE_CONFLICT: self._conflict,
            TraceName.MESSAGE_DEAD_LETTERED: self._dead_lettered,
        }

    def _build(self, prom: Any) -> None:
        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Any:
            return prom.Counter(name, doc, labels, registry=self.registry)

        def histogram(name: str, doc: str, labels: tuple[str, ...], buckets: Any) -> Any:
            return prom.Histogram(name, doc, labels, registry=self.registry, buckets=buckets)

        task = ("task",)
        self.started = counter("selinon_tasks_started", "Task runs started.", task)
        self.succeeded = counter("selinon_tasks_succeeded", "Task runs that succeeded.", task)
        self.failed = counter("selinon_tasks_failed", "Task runs that failed for good.", task)
        self.retried = counter("selinon_tasks_retried", "Task runs that failed and retry.", task)
        self.duration = histogram(
            "selinon_task_duration_seconds",
            "Task run duration, by outcome.",
            ("task", "outcome"),
            DURATION_BUCKETS,
        )
        self.latency = histogram(
            "selinon_task_start_latency_seconds",
            "From the event that scheduled a task (its predecessor's end) to the task's start.",
            task,
            LATENCY_BUCKETS,
        )
        self.applied = counter(
            "selinon_events_applied", "Flow events applied by the dispatcher.", ("flow", "event")
        )
        self.ignored = counter(
            "selinon_events_ignored", "Duplicate or late flow events ignored.", ("flow",)
        )
        self.flows = counter(
            "selinon_flows_finished", "Flows finished, by outcome.", ("flow", "outcome")
        )
        self.conflicts = counter(
            "selinon_state_conflicts", "Flow events deferred on state-store conflicts."
        )
        self.dead_lettered = counter(
            "selinon_messages_dead_lettered", "Messages moved to the dead-letter queue.", ("queue",)
        )

    def __call__(self, event: TraceEvent) -> None:
        """Count ``event``."""
        kind = _APPLIED.get(event.name)
        if kind is not None:
            self.applied.labels(str(event.details.get("flow_name", "")), kind).inc()
            return
        handler = self._handlers.get(event.name)
        if handler is not None:
            handler(event)

    def __repr__(self) -> str:
        return "MetricsSink()"

    def _task_scheduled(self, event: TraceEvent) -> None:
        with self._lock:
            self._scheduled.put(str(event.details.get("task_id", "")), event.at)

    def _task_started(self, event: TraceEvent) -> None:
        task_id = str(event.details.get("task_id", ""))
        name = str(event.details.get("task_name", ""))
        self.started.labels(name).inc()
        with self._lock:
            self._starts.put(task_id, event.at)
            scheduled = self._scheduled.pop(task_id)
        if scheduled is not None:
            self.latency.labels(name).observe(max(0.0, event.at - scheduled))

    def _task_ended(self, event: TraceEvent) -> None:
        name = str(event.details.get("task_name", ""))
        outcome = _OUTCOMES[event.name]
        {"succeeded": self.succeeded, "failed": self.failed, "retried": self.retried}[
            outcome
        ].labels(name).inc()
        with self._lock:
            started = self._starts.pop(str(event.details.get("task_id", "")))
        if started is not None:
            self.duration.labels(name, outcome).observe(max(0.0, event.at - started))

    def _flow_ended(self, event: TraceEvent) -> None:
        if event.name is TraceName.FLOW_FAILURE and event.details.get("will_retry"):
            return
        outcome = "succeeded" if event.name is TraceName.FLOW_END else "failed"
        self.flows.labels(str(event.details.get("flow_name", "")), outcome).inc()

    def _ignored(self, event: TraceEvent) -> None:
        self.ignored.labels(str(event.details.get("flow_name", ""))).inc()

    def _conflict(self, event: TraceEvent) -> None:
        del event
        self.conflicts.inc()

    def _dead_lettered(self, event: TraceEvent) -> None:
        self.dead_lettered.labels(str(event.details.get("queue", ""))).inc()


class MetricsServer:
    """A running metrics endpoint: ``url`` to scrape, :meth:`close` to stop it."""

    def __init__(self, server: Any, thread: Any) -> None:
        self._server = server
        self._thread = thread
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)

    @property
    def url(self) -> str:
        """``http://HOST:PORT/metrics``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def serve_metrics(sink: MetricsSink, *, port: int, host: str = "127.0.0.1") -> MetricsServer:
    """Expose ``sink``'s registry at ``http://HOST:PORT/metrics`` (prometheus-client's server,
    in a daemon thread); ``port`` 0 picks a free port (read it from the result).

    Raises:
        OSError: the address cannot be bound (port in use, unknown host).
    """
    prom = _prometheus()
    server, thread = prom.start_http_server(port, addr=host, registry=sink.registry)
    return MetricsServer(server, thread)
