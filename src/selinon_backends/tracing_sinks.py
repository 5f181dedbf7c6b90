"""Trace sinks: callables taking one :class:`~selinon_core.trace.TraceEvent`.

Each sink here implements one kind of ``global.trace`` entry.  Sinks expect details that are
already JSON-safe (the :class:`~selinon_backends.tracing.Tracer` makes them so once per event)
but stay correct when called directly with raw details.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable, Mapping
from typing import IO, Any

import structlog

from selinon_backends._clients import optional_import
from selinon_backends.tracing_format import event_name, iso_time, level_of
from selinon_core.trace import TraceEvent, TraceName

__all__ = [
    "SENTRY_EVENTS",
    "FunctionSink",
    "JsonLinesSink",
    "LoggingSink",
    "SentrySink",
    "StorageSink",
]

_RESERVED = frozenset({"time", "level", "event", "logger"})
_UNSAFE_KEY = re.compile(r"[\s=\"]")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)


class _Streams:
    """stdout/stderr pair resolved at write time (so redirected ``sys.stdout`` is honoured)."""

    def __init__(self, stream: IO[str] | None, err_stream: IO[str] | None) -> None:
        self._out = stream
        self._err = err_stream
        self._lock = threading.Lock()

    def write(self, line: str, *, to_err: bool) -> None:
        target = (self._err or sys.stderr) if to_err else (self._out or sys.stdout)
        with self._lock:
            target.write(line + "\n")
            target.flush()


class LoggingSink:
    """``logging: true``: one structlog key-value (logfmt) line per event.

    Lines look like ``time=2024-05-01T08:45:02.230896Z level=info event=TASK_SCHEDULE
    logger=selinon flow_name=flow1 node_args="{\\"foo\\": 1}"``: every detail becomes a key
    (nested values as JSON; a detail named like a fixed key gets a ``details.`` prefix).
    Info lines go to ``stream`` (stdout), warnings and errors to ``err_stream`` (stderr).

    Args:
        stream: where info lines go; ``None`` means the current ``sys.stdout``.
        err_stream: where warning and error lines go; ``None`` means the current ``sys.stderr``.
        logger: a structlog logger to send events to instead (then your structlog
            configuration renders them and the streams are unused).
    """

    def __init__(
        self,
        *,
        stream: IO[str] | None = None,
        err_stream: IO[str] | None = None,
        logger: Any = None,
    ) -> None:
        self._streams = _Streams(stream, err_stream)
        self._logger = logger
        self._render = structlog.processors.LogfmtRenderer(
            key_order=["time", "level", "event", "logger"], bool_as_flag=False
        )

    def __call__(self, event: TraceEvent) -> None:
        """Log ``event`` at its level."""
        level = level_of(event.name)
        fields = _flatten(event.details)
        if self._logger is not None:
            getattr(self._logger, level)(event.name.value, time=iso_time(event.at), **fields)
            return
        line = self._render(
            None,
            level,
            {
                "time": iso_time(event.at),
                "level": level,
                "event": event.name.value,
                "logger": "selinon",
                **fields,
            },
        )
        self._streams.write(line, to_err=level != "info")

    def __repr__(self) -> str:
        return "LoggingSink()" if self._logger is None else f"LoggingSink(logger={self._logger!r})"


def _flatten(details: Mapping[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in details.items():
        name = _UNSAFE_KEY.sub("_", str(key))
        if name in _RESERVED:
            name = f"details.{name}"
        fields[name] = value if isinstance(value, str) else _dumps(value)
    return fields


class JsonLinesSink:
    """``json: true``: one JSON object per line, ``{"details", "event", "time"}`` (sorted keys).

    ``time`` is ISO 8601 in UTC.  Info events go to ``stream`` (stdout), warnings and errors to
    ``err_stream`` (stderr), as Selinon did.

    Args:
        stream: where info lines go; ``None`` means the current ``sys.stdout``.
        err_stream: where warning and error lines go; ``None`` means the current ``sys.stderr``.
    """

    def __init__(self, *, stream: IO[str] | None = None, err_stream: IO[str] | None = None) -> None:
        self._streams = _Streams(stream, err_stream)

    def __call__(self, event: TraceEvent) -> None:
        """Write ``event`` as one line."""
        record = {"event": event.name.value, "time": iso_time(event.at), "details": event.details}
        self._streams.write(_dumps(record), to_err=level_of(event.name) != "info")

    def __repr__(self) -> str:
        return "JsonLinesSink()"


class FunctionSink:
    """``function: {import, name}``: calls ``fn(event, details)`` for every event.

    ``event`` is an :class:`~selinon_backends.tracing_format.EventName`: the event's name,
    which also equals Selinon's numeric id, so trace functions written for Selinon keep
    working.  Treat ``details`` as read-only: later sinks receive the same dict.

    Args:
        function: the user's trace function.
    """

    def __init__(self, function: Callable[[str, dict[str, Any]], object]) -> None:
        self.function = function

    def __call__(self, event: TraceEvent) -> None:
        """Call the function."""
        self.function(event_name(event.name), event.details)

    def __repr__(self) -> str:
        return f"FunctionSink({getattr(self.function, '__qualname__', self.function)!r})"


class StorageSink:
    """``storage: {name, method}``: calls ``<storage>.<method>(event, details)`` per event.

    The storage is looked up (and connected, by the lookup) at each event, so a storage that
    was down comes back without rebuilding the tracer.

    Args:
        storage_name: the storage's name in the ``storages`` section.
        method: the adapter method to call (Selinon's default is ``trace``).
        lookup: returns the connected storage adapter for a name (the runtime's storage pool).
    """

    def __init__(self, storage_name: str, method: str, lookup: Callable[[str], Any]) -> None:
        self.storage_name = storage_name
        self.method = method
        self._lookup = lookup

    def __call__(self, event: TraceEvent) -> None:
        """Hand the event to the storage."""
        storage = self._lookup(self.storage_name)
        getattr(storage, self.method)(event_name(event.name), event.details)

    def __repr__(self) -> str:
        return f"StorageSink({self.storage_name!r}, {self.method!r})"


SENTRY_EVENTS: frozenset[TraceName] = frozenset(
    {TraceName.TASK_FAILURE, TraceName.NODE_FAILURE, TraceName.FLOW_FAILURE}
)
"""The events the Sentry sink reports; it ignores all others."""


class SentrySink:
    """``sentry: {dsn}``: reports task, node and flow failures to Sentry as error events.

    The sink owns a dedicated ``sentry_sdk.Client`` (no global ``sentry_sdk.init``, no
    integrations patched into your process): call ``sentry_sdk.init`` yourself if you also want
    Sentry's integrations for your own code.  Events carry the trace details as ``extra``, the
    flow and node names as tags, and a fingerprint that groups failures of one node.

    Args:
        dsn: the Sentry DSN.
        client_options: extra ``sentry_sdk.Client`` options (``environment``, ``release``,
            ``transport`` ...).

    Raises:
        MissingExtraError: sentry-sdk is not installed (the ``sentry`` extra).
    """

    def __init__(self, dsn: str, *, client_options: Mapping[str, Any] | None = None) -> None:
        sentry_sdk = optional_import("sentry_sdk", extra="sentry", purpose="Sentry trace sink")
        options: dict[str, Any] = {
            "default_integrations": False,
            "auto_enabling_integrations": False,
            **(client_options or {}),
        }
        self.client = sentry_sdk.Client(dsn=dsn, **options)

    def __call__(self, event: TraceEvent) -> None:
        """Send ``event`` to Sentry if it is a failure."""
        if event.name in SENTRY_EVENTS:
            self.client.capture_event(sentry_event(event))

    def close(self) -> None:
        """Flush pending events and close the client."""
        self.client.close()

    def __repr__(self) -> str:
        return "SentrySink()"


def sentry_event(event: TraceEvent) -> dict[str, Any]:
    """The Sentry event payload for a failure trace event."""
    details = event.details
    flow = str(details.get("flow_name", "?"))
    node = details.get("task_name") or details.get("node_name")
    what = str(details.get("what") or "").strip()
    subject = f"flow {flow!r}" if node is None else f"{node!r} in flow {flow!r}"
    message = f"{event.name.value}: {subject} failed"
    if what:
        message += f": {what.splitlines()[-1]}"
    tags = {"selinon.event": event.name.value, "flow_name": flow}
    if node is not None:
        tags["node_name"] = str(node)
    return {
        "message": message,
        "level": "error",
        "logger": "selinon",
        "timestamp": iso_time(event.at),
        "tags": tags,
        "extra": dict(details),
        "fingerprint": ["selinon", event.name.value, flow, str(node)],
    }
