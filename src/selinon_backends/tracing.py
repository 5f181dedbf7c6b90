"""Tracing: fan trace events out to the sinks configured in ``global.trace``.

The core returns :class:`~selinon_core.trace.TraceEvent` values; the runtime hands each one to a
:class:`Tracer`, which makes the details JSON-safe once and calls every sink in order.  A sink
that raises is reported through the standard ``logging`` module (logger
``selinon_backends.tracing``; the traceback on its first failure, one line per repeat of the
same error) and skipped: tracing never breaks a flow.

Typical use::

    tracer = build_tracer(system, storage_lookup=pool.get_connected_storage)
    tracer.add_sink(my_collector)          # the runtime may attach its own sinks
    for event in step.trace:
        tracer(event)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

from selinon_backends.tracing_format import EventName, event_name, iso_time, jsonable, level_of
from selinon_backends.tracing_sinks import (
    SENTRY_EVENTS,
    FunctionSink,
    JsonLinesSink,
    LoggingSink,
    SentrySink,
    StorageSink,
    sentry_event,
)
from selinon_core.config.spec import TraceSinkSpec
from selinon_core.config.system import System
from selinon_core.errors import Problem, SpecError, describe_error
from selinon_core.trace import TraceEvent

__all__ = [
    "SENTRY_EVENTS",
    "EventName",
    "FunctionSink",
    "JsonLinesSink",
    "LoggingSink",
    "SentrySink",
    "StorageSink",
    "TraceSink",
    "Tracer",
    "build_tracer",
    "event_name",
    "iso_time",
    "jsonable",
    "level_of",
    "sentry_event",
]

TraceSink = Callable[[TraceEvent], object]
"""Anything called with one trace event; its return value is ignored."""

_log = logging.getLogger(__name__)


class Tracer:
    """Calls every sink with each trace event; a failing sink is logged and skipped.

    Thread-safe: events may be traced from several threads while sinks are added.

    Args:
        sinks: the initial sinks, called in this order.
    """

    def __init__(self, sinks: Iterable[TraceSink] = ()) -> None:
        self._sinks: tuple[TraceSink, ...] = tuple(sinks)
        self._lock = threading.Lock()
        self._failing: dict[int, type[BaseException]] = {}

    @property
    def sinks(self) -> tuple[TraceSink, ...]:
        """The sinks, in call order."""
        return self._sinks

    def __bool__(self) -> bool:
        """True when at least one sink is attached (callers may skip building events if not)."""
        return bool(self._sinks)

    def add_sink(self, sink: TraceSink) -> None:
        """Attach ``sink``; it receives every event traced from now on."""
        with self._lock:
            self._sinks = (*self._sinks, sink)

    def remove_sink(self, sink: TraceSink) -> None:
        """Detach ``sink`` (a no-op when it is not attached)."""
        with self._lock:
            self._sinks = tuple(s for s in self._sinks if s is not sink)

    def __call__(self, event: TraceEvent) -> None:
        """Send ``event`` (with JSON-safe details) to every sink."""
        sinks = self._sinks
        if not sinks:
            return
        safe = TraceEvent(name=event.name, at=event.at, details=jsonable(event.details))
        for sink in sinks:
            try:
                sink(safe)
            except Exception as exc:
                self._report_failure(sink, event, exc)
            else:
                if self._failing:
                    self._failing.pop(id(sink), None)

    def _report_failure(self, sink: TraceSink, event: TraceEvent, exc: Exception) -> None:
        """Log a sink's failure: with a traceback the first time, one line while it repeats."""
        message = "trace sink %r failed on %s; event dropped"
        if self._failing.get(id(sink)) is type(exc):
            _log.error(message + ": %s", sink, event.name.value, describe_error(exc))
        else:
            self._failing[id(sink)] = type(exc)
            _log.error(message, sink, event.name.value, exc_info=exc)

    def close(self) -> None:
        """Close the sinks that can be closed (flushes Sentry); errors are logged."""
        for sink in self._sinks:
            close = getattr(sink, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    _log.exception("closing trace sink %r failed", sink)


def build_tracer(
    system: System,
    *,
    storage_lookup: Callable[[str], Any] | None = None,
    stream: IO[str] | None = None,
    err_stream: IO[str] | None = None,
    sentry_options: Mapping[str, Any] | None = None,
    otel_options: Mapping[str, Any] | None = None,
) -> Tracer:
    """Build the tracer that ``system.spec.global_.trace`` describes.

    Each entry of ``global.trace`` may enable several sinks; they are created in the order
    logging, json, function, storage, sentry, opentelemetry, entry after entry.

    Args:
        system: the loaded configuration.
        storage_lookup: returns the connected storage adapter for a storage name; required
            when a ``storage`` sink is configured.
        stream: where logging/JSON info lines go (default: ``sys.stdout`` at write time).
        err_stream: where warning lines go (default: ``sys.stderr`` at write time).
        sentry_options: extra ``sentry_sdk.Client`` options (e.g. a ``transport`` in tests).
            The Sentry DSN is used as the System holds it: the loader already expanded its
            ``{NAME}`` references (once; expanding again would undo ``{{`` escapes).
        otel_options: keyword arguments of
            :class:`~selinon_backends.otel.OpenTelemetrySink` (``tracer_provider``, and
            ``journal`` on the distributed runtime).

    Raises:
        SpecError: a trace function cannot be imported or is not callable, a trace storage is
            not defined.
        ValueError: a storage sink is configured but ``storage_lookup`` is ``None``.
    """
    sinks: list[TraceSink] = []
    for entry in system.spec.global_.trace:
        sinks.extend(
            _entry_sinks(
                entry,
                system,
                storage_lookup=storage_lookup,
                streams={"stream": stream, "err_stream": err_stream},
                sentry_options=sentry_options,
                otel_options=otel_options,
            )
        )
    return Tracer(sinks)


def _entry_sinks(
    entry: TraceSinkSpec,
    system: System,
    *,
    storage_lookup: Callable[[str], Any] | None,
    streams: Mapping[str, IO[str] | None],
    sentry_options: Mapping[str, Any] | None,
    otel_options: Mapping[str, Any] | None = None,
) -> list[TraceSink]:
    sinks: list[TraceSink] = []
    if entry.logging:
        sinks.append(LoggingSink(**streams))
    if entry.json_:
        sinks.append(JsonLinesSink(**streams))
    if entry.function is not None:
        function = system.resolve(entry.function.import_, entry.function.name)
        if not callable(function):
            raise SpecError(Problem(f"trace function {entry.function.path!r} is not callable"))
        sinks.append(FunctionSink(function))
    if entry.storage is not None:
        sinks.append(
            _storage_sink(entry.storage.name, entry.storage.method, system, storage_lookup)
        )
    if entry.sentry is not None:
        sinks.append(SentrySink(entry.sentry.dsn, client_options=sentry_options))
    if entry.opentelemetry:
        from selinon_backends.otel import OpenTelemetrySink  # noqa: PLC0415

        sinks.append(OpenTelemetrySink(**(otel_options or {})))
    return sinks


def _storage_sink(
    name: str, method: str, system: System, lookup: Callable[[str], Any] | None
) -> StorageSink:
    if name not in {storage.name for storage in system.spec.storages}:
        raise SpecError(
            Problem(
                f"trace storage {name!r} is not defined",
                hint="add it to the 'storages' section or fix the name",
            )
        )
    if lookup is None:
        raise ValueError(f"trace storage {name!r} is configured: pass storage_lookup")
    return StorageSink(name, method, lookup)
