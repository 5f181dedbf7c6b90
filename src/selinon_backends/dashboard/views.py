"""What the dashboard shows, as plain values: a flow and its nodes, built from a data source.

:class:`FlowView` and :class:`NodeView` are independent of where they come from: the run
journal of the distributed runtime (:mod:`.sources`) or an in-process run being executed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["FINISHED", "MAX_NODES", "FlowView", "NodeView", "aggregate_status"]

FINISHED = ("succeeded", "failed")
MAX_NODES = 2000
"""A flow's view details at most this many of its nodes (the first started)."""
_PRIORITY = {"running": 3, "scheduled": 3, "failed": 2, "succeeded": 1}


@dataclass(frozen=True, slots=True)
class NodeView:
    """One node instance (task or sub-flow) of a flow.

    Attributes:
        node_id: the task id, or the sub-flow's flow id.
        node_name: the task or sub-flow name.
        kind: ``"task"`` or ``"flow"``.
        status: ``running`` (started, not finished), ``succeeded`` or ``failed``.
        node_args: the arguments the node received.
        parent: the parent mapping the node received.
        result: the stored result, if any.
        error: ``"Type: message"`` of the last failure.
        traceback: the formatted traceback of the last failure.
        retries: how many times the task was retried.
        started: when the node was started (seconds since the epoch), when known.
        finished: when it finished, when known.
        nowait: the flow does not wait for the node.
    """

    node_id: str
    node_name: str
    kind: str
    status: str
    node_args: Any = None
    parent: Any = None
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    retries: int = 0
    started: float | None = None
    finished: float | None = None
    nowait: bool = False

    @property
    def duration(self) -> float | None:
        """Seconds the node took (``None`` until it finished or when unknown)."""
        if self.started is None or self.finished is None:
            return None
        return max(0.0, self.finished - self.started)

    def signature(self) -> tuple[str, int, bool, bool]:
        """What a live update compares to tell whether the node changed."""
        return (self.status, self.retries, self.result is not None, self.error is not None)


@dataclass(frozen=True, slots=True)
class FlowView:
    """One flow instance (top-level or sub-flow) with its own nodes, in start order.

    Attributes:
        flow_id: the flow id.
        flow_name: the flow name.
        status: ``running``, ``succeeded`` or ``failed``.
        node_args: the arguments the flow was started with.
        parent_flow_id: the flow that started this one (sub-flows), else ``None``.
        started: when it was requested (seconds since the epoch), when known.
        finished: when it finished, when known.
        nodes: the nodes this flow started (not those of its sub-flows), in start order, the
            first :data:`MAX_NODES` of them.
        statuses: ``(node name, status)`` of every node the flow started, in start order.
    """

    flow_id: str
    flow_name: str
    status: str
    node_args: Any = None
    parent_flow_id: str | None = None
    started: float | None = None
    finished: float | None = None
    nodes: tuple[NodeView, ...] = field(default_factory=tuple)
    statuses: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def hidden(self) -> int:
        """How many nodes :attr:`nodes` leaves out."""
        return max(0, len(self.statuses) - len(self.nodes))

    @property
    def duration(self) -> float | None:
        """Seconds from request to end (``None`` while running or unknown)."""
        if self.started is None or self.finished is None:
            return None
        return max(0.0, self.finished - self.started)

    def counts(self) -> dict[str, int]:
        """How many nodes are running, succeeded and failed."""
        found = {"running": 0, "succeeded": 0, "failed": 0}
        for _, status in self.statuses:
            found[status if status in FINISHED else "running"] += 1
        return found

    def name_statuses(self) -> dict[str, str]:
        """The diagram colour of each node name (see :func:`aggregate_status`)."""
        by_name: dict[str, list[str]] = {}
        for name, status in self.statuses:
            by_name.setdefault(name, []).append(status)
        return {name: aggregate_status(found) for name, found in by_name.items()}


def aggregate_status(statuses: list[str]) -> str:
    """One colour for a diagram node with several instances: running, else failed, else ok."""
    if not statuses:
        return "none"
    best = max(statuses, key=lambda status: _PRIORITY.get(status, 0))
    return "running" if best == "scheduled" else best
