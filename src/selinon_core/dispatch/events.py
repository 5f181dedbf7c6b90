"""Events: facts, in the past tense, that the shell feeds to ``Dispatcher.step``.

Every event names the flow instance it belongs to (``flow_id``) and carries the time it is
applied at (``at``, seconds since the epoch, supplied by the shell's clock) so that a step never
reads the clock.  Events are plain frozen values; :mod:`selinon_core.dispatch.wire` gives
their versioned JSON form for transports (``event_to_dict``/``event_from_dict`` call it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, TypedDict

from selinon_core.dispatch.plan import SelectivePlan

__all__ = [
    "ErrorSummary",
    "Event",
    "FlowRequested",
    "FlowSummary",
    "NodeFailed",
    "NodeSucceeded",
    "SubflowFailed",
    "SubflowFinished",
    "TimerDue",
    "event_from_dict",
    "event_to_dict",
]


class FlowSummary(TypedDict, total=False):
    """What a finished (or failed) flow reports to its parent, recursively; JSON-serialisable.

    ``flow_name``, ``flow_id`` and ``status`` are always present; the node maps list ids in
    finish order (sub-flow ids included) and ``subflows`` nests the summaries of finished
    sub-flows by their flow id.  An empty summary (``{}``) stands for "not known".
    """

    flow_name: str
    flow_id: str
    status: Literal["succeeded", "failed"]
    finished_nodes: dict[str, list[str]]
    failed_nodes: dict[str, list[str]]
    subflows: dict[str, FlowSummary]


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    """Why a node failed: the exception type name, its message and the formatted traceback.

    A plain value (no exception or traceback objects), so it travels in events and is kept in
    the flow state for fallbacks and reports.
    """

    type: str
    message: str
    traceback: str | None = None

    def describe(self) -> str:
        """``"Type: message"``, as :func:`selinon_core.errors.describe_error` writes it."""
        return f"{self.type}: {self.message}"


@dataclass(frozen=True, slots=True)
class FlowRequested:
    """A flow instance was requested: top-level (``parent_flow_id`` None) or as a sub-flow.

    ``parent`` is the parent mapping handed to the flow's starting nodes (only set when the
    parent flow propagates it); ``selective`` is the selective plan to follow, if any.  A
    sub-flow also knows its parent's flow name (``parent_flow_name``, which names the queue its
    end is reported to) and whether to report its end at all (``report_to_parent`` is false
    for a ``nowait`` sub-flow).
    """

    flow_id: str
    flow_name: str
    at: float
    node_args: Any = None
    parent: dict[str, Any] | None = None
    parent_flow_id: str | None = None
    selective: SelectivePlan | None = None
    parent_flow_name: str | None = None
    report_to_parent: bool = True


@dataclass(frozen=True, slots=True)
class NodeSucceeded:
    """The task ``node_id`` of flow ``flow_id`` finished; its result (if any) is in its storage."""

    flow_id: str
    node_id: str
    at: float


@dataclass(frozen=True, slots=True)
class NodeFailed:
    """The task ``node_id`` failed for good (its retries, if any, are exhausted)."""

    flow_id: str
    node_id: str
    at: float
    error: ErrorSummary = field(default_factory=lambda: ErrorSummary("Exception", ""))


@dataclass(frozen=True, slots=True)
class SubflowFinished:
    """The sub-flow started as node ``node_id`` (= its flow id) succeeded."""

    flow_id: str
    node_id: str
    at: float
    summary: FlowSummary = field(default_factory=FlowSummary)


@dataclass(frozen=True, slots=True)
class SubflowFailed:
    """The sub-flow started as node ``node_id`` (= its flow id) failed for good."""

    flow_id: str
    node_id: str
    at: float
    summary: FlowSummary = field(default_factory=FlowSummary)


@dataclass(frozen=True, slots=True)
class TimerDue:
    """The countdown of a flow retry (``RetryFlow``) is over."""

    flow_id: str
    timer_id: str
    at: float


Event: TypeAlias = (
    FlowRequested | NodeSucceeded | NodeFailed | SubflowFinished | SubflowFailed | TimerDue
)


def event_to_dict(event: Event) -> dict[str, Any]:
    """The JSON form of ``event``: :func:`selinon_core.dispatch.wire.encode_event`."""
    from selinon_core.dispatch import wire  # noqa: PLC0415 - wire imports this module

    return wire.encode_event(event)


def event_from_dict(data: dict[str, Any]) -> Event:
    """Inverse of :func:`event_to_dict`: :func:`selinon_core.dispatch.wire.decode_event`.

    Raises:
        WireError: ``data`` is not a valid event document.
    """
    from selinon_core.dispatch import wire  # noqa: PLC0415 - wire imports this module

    return wire.decode_event(data)
