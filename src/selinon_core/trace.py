"""Trace events: what happened, as data.  The core returns them on ``Step.trace``; it never logs.

Names follow Selinon's (``FLOW_START``, ``TASK_SCHEDULE``, ...) so existing dashboards and trace
functions keep working.  ``WARNING_EVENTS`` are the ones sinks report at warning level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["WARNING_EVENTS", "TraceEvent", "TraceName"]


class TraceName(StrEnum):
    """Every trace event name, in Selinon's numbering order (the value is the name)."""

    DISPATCHER_WAKEUP = "DISPATCHER_WAKEUP"
    FLOW_SCHEDULE = "FLOW_SCHEDULE"
    FLOW_START = "FLOW_START"
    TASK_SCHEDULE = "TASK_SCHEDULE"
    TASK_START = "TASK_START"
    SUBFLOW_SCHEDULE = "SUBFLOW_SCHEDULE"
    TASK_END = "TASK_END"
    NODE_SUCCESSFUL = "NODE_SUCCESSFUL"
    TASK_DISCARD_RESULT = "TASK_DISCARD_RESULT"
    TASK_FAILURE = "TASK_FAILURE"
    TASK_RETRY = "TASK_RETRY"
    FLOW_FAILURE = "FLOW_FAILURE"
    DISPATCHER_FAILURE = "DISPATCHER_FAILURE"
    NODE_FAILURE = "NODE_FAILURE"
    FALLBACK_START = "FALLBACK_START"
    DISPATCHER_RETRY = "DISPATCHER_RETRY"
    FLOW_END = "FLOW_END"
    STORAGE_CONNECT = "STORAGE_CONNECT"
    STORAGE_DISCONNECT = "STORAGE_DISCONNECT"
    STORAGE_RETRIEVE = "STORAGE_RETRIEVE"
    STORAGE_RETRIEVED = "STORAGE_RETRIEVED"
    STORAGE_STORE = "STORAGE_STORE"
    STORAGE_STORED = "STORAGE_STORED"
    EDGE_COND_FALSE = "EDGE_COND_FALSE"
    FOREACH_RESULT = "FOREACH_RESULT"
    NODE_STATE_CACHE_GET = "NODE_STATE_CACHE_GET"
    NODE_STATE_CACHE_ADD = "NODE_STATE_CACHE_ADD"
    NODE_STATE_CACHE_MISS = "NODE_STATE_CACHE_MISS"
    NODE_STATE_CACHE_HIT = "NODE_STATE_CACHE_HIT"
    TASK_RESULT_CACHE_GET = "TASK_RESULT_CACHE_GET"
    TASK_RESULT_CACHE_ADD = "TASK_RESULT_CACHE_ADD"
    TASK_RESULT_CACHE_MISS = "TASK_RESULT_CACHE_MISS"
    TASK_RESULT_CACHE_HIT = "TASK_RESULT_CACHE_HIT"
    SELECTIVE_OMIT_EDGE = "SELECTIVE_OMIT_EDGE"
    SELECTIVE_OMIT_NODE = "SELECTIVE_OMIT_NODE"
    SELECTIVE_RUN_FUNC = "SELECTIVE_RUN_FUNC"
    SELECTIVE_TASK_REUSE = "SELECTIVE_TASK_REUSE"
    STORAGE_STORE_ERROR = "STORAGE_STORE_ERROR"
    STORAGE_OMIT_STORE_ERROR = "STORAGE_OMIT_STORE_ERROR"
    FALLBACK_COND_FALSE = "FALLBACK_COND_FALSE"
    FALLBACK_COND_TRUE = "FALLBACK_COND_TRUE"
    NODE_STATE_CACHE_ISSUE = "NODE_STATE_CACHE_ISSUE"
    TASK_RESULT_CACHE_ISSUE = "TASK_RESULT_CACHE_ISSUE"
    STORAGE_ISSUE = "STORAGE_ISSUE"
    RESULT_BACKEND_ISSUE = "RESULT_BACKEND_ISSUE"
    FLOW_RETRY = "FLOW_RETRY"
    MIGRATION = "MIGRATION"
    MIGRATION_SKEW = "MIGRATION_SKEW"
    MIGRATION_TAINTED_FLOW = "MIGRATION_TAINTED_FLOW"
    MIGRATION_ERROR = "MIGRATION_ERROR"
    EAGER_FAILURE = "EAGER_FAILURE"
    STORAGE_DELETE = "STORAGE_DELETE"
    STORAGE_DELETED = "STORAGE_DELETED"
    # Events of our own (not in Selinon):
    CONDITION_ERROR = "CONDITION_ERROR"
    FOREACH_ERROR = "FOREACH_ERROR"
    EVENT_IGNORED = "EVENT_IGNORED"
    TASK_TIMEOUT = "TASK_TIMEOUT"
    STATE_CONFLICT = "STATE_CONFLICT"
    MESSAGE_DEAD_LETTERED = "MESSAGE_DEAD_LETTERED"


WARNING_EVENTS: frozenset[TraceName] = frozenset(
    {
        TraceName.NODE_FAILURE,
        TraceName.TASK_DISCARD_RESULT,
        TraceName.TASK_RETRY,
        TraceName.TASK_FAILURE,
        TraceName.FLOW_FAILURE,
        TraceName.STORAGE_OMIT_STORE_ERROR,
        TraceName.NODE_STATE_CACHE_ISSUE,
        TraceName.TASK_RESULT_CACHE_ISSUE,
        TraceName.STORAGE_ISSUE,
        TraceName.RESULT_BACKEND_ISSUE,
        TraceName.FLOW_RETRY,
        TraceName.MIGRATION_SKEW,
        TraceName.MIGRATION_ERROR,
        TraceName.EAGER_FAILURE,
        TraceName.CONDITION_ERROR,
        TraceName.FOREACH_ERROR,
        TraceName.EVENT_IGNORED,
        TraceName.TASK_TIMEOUT,
        TraceName.STATE_CONFLICT,
        TraceName.MESSAGE_DEAD_LETTERED,
    }
)


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One trace event: its name, when it happened (epoch seconds) and its details."""

    name: TraceName
    at: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"event": NAME, "time": at, "details": {...}}``, the JSON sinks' line."""
        return {"event": self.name.value, "time": self.at, "details": self.details}
