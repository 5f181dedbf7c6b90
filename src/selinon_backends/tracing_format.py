"""How trace events are rendered: JSON-safe details, ISO times, levels and event names.

Shared by every trace sink in :mod:`selinon_backends.tracing_sinks`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Literal

from selinon_core.trace import WARNING_EVENTS, TraceName

__all__ = [
    "SELINON_EVENT_IDS",
    "EventName",
    "Level",
    "event_name",
    "iso_time",
    "jsonable",
    "level_of",
]

Level = Literal["info", "warning", "error"]

SELINON_EVENT_IDS: Mapping[TraceName, int] = {name: i for i, name in enumerate(TraceName)}
"""Selinon's numeric id of each event (its position in ``selinon.trace``; ours follow on)."""

_MAX_DEPTH = 32


class EventName(str):
    """A trace event name handed to user trace functions and storages.

    It is the plain name (``"FLOW_FAILURE"``), so ``event == "FLOW_FAILURE"`` and
    ``event == TraceName.FLOW_FAILURE`` hold.  Selinon passed a number instead; for trace
    functions written against Selinon, it also compares equal to that number
    (``event == 11``) and converts to it (``int(event)``, ``operator.index(event)``).
    Its hash is the string's: do not mix names and numbers as keys of one dict.

    Attributes:
        id: Selinon's numeric id of the event.
    """

    id: int

    def __new__(cls, name: TraceName) -> EventName:
        """Build the name of ``name``."""
        obj = super().__new__(cls, name.value)
        obj.id = SELINON_EVENT_IDS[name]
        return obj

    def __eq__(self, other: object) -> bool:
        if isinstance(other, int) and not isinstance(other, bool):
            return self.id == other
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__

    def __int__(self) -> int:
        return self.id

    def __index__(self) -> int:
        return self.id

    def __repr__(self) -> str:
        return f"EventName({str.__str__(self)!r}, id={self.id})"


_EVENT_NAMES: Mapping[TraceName, EventName] = {name: EventName(name) for name in TraceName}


def event_name(name: TraceName) -> EventName:
    """The :class:`EventName` of a trace event (one shared instance per event)."""
    return _EVENT_NAMES[name]


def level_of(name: TraceName) -> Level:
    """``warning`` for :data:`~selinon_core.trace.WARNING_EVENTS`, ``error`` for
    ``DISPATCHER_FAILURE``, ``info`` for everything else."""
    if name is TraceName.DISPATCHER_FAILURE:
        return "error"
    return "warning" if name in WARNING_EVENTS else "info"


def iso_time(at: float) -> str:
    """Epoch seconds as ISO 8601 in UTC with microseconds: ``2024-05-01T08:45:02.230896Z``."""
    stamp = datetime.fromtimestamp(at, tz=UTC).isoformat(timespec="microseconds")
    return stamp.replace("+00:00", "Z")


def jsonable(value: Any, _depth: int = 0) -> Any:
    """A JSON-serialisable copy of ``value``.

    Mappings, lists, tuples and sets are copied recursively (keys become strings, sets become
    sorted lists), dates become ISO strings, non-finite floats and anything else become their
    ``repr``.  Very deep nesting is cut off with a ``repr`` too.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value if type(value) is str else str.__str__(value)
    if isinstance(value, int):
        return value if type(value) is int else int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if _depth >= _MAX_DEPTH:
        return repr(value)
    return _container(value, _depth + 1)


def _container(value: Any, depth: int) -> Any:
    if isinstance(value, Mapping):
        return {_key(k): jsonable(v, depth) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, depth) for v in value]
    if isinstance(value, set | frozenset):
        return [jsonable(v, depth) for v in sorted(value, key=repr)]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return repr(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return str.__str__(key)
    return str(key) if isinstance(key, int | float | bool) or key is None else repr(key)
