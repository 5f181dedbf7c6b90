"""Actions: imperative instructions that ``Dispatcher.step`` returns for the shell to carry out.

The shell persists the new flow state together with its actions (the outbox) and only then
carries them out, so re-publishing after a crash is idempotent: ids are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from selinon_core.dispatch.events import FlowSummary
from selinon_core.dispatch.plan import SelectivePlan

__all__ = [
    "Action",
    "FinishFlow",
    "RetryFlow",
    "RunTask",
    "ScheduleWakeup",
    "StartSubflow",
]


@dataclass(frozen=True, slots=True)
class RunTask:
    """Run the task ``task_name`` as node ``task_id`` of flow ``flow_id``.

    ``throttle_s`` is the task's throttling spacing (None when not throttled): the shell asks its
    atomic slot store for the countdown (see :mod:`selinon_core.dispatch.throttling`).  ``nowait``
    tasks are run too, but their outcome is never reported back to the flow.
    """

    flow_id: str
    flow_name: str
    task_name: str
    task_id: str
    node_args: Any
    parent: dict[str, Any]
    queue: str
    throttle_s: float | None = None
    nowait: bool = False
    selective: SelectivePlan | None = None


@dataclass(frozen=True, slots=True)
class StartSubflow:
    """Start flow ``flow_name`` as node ``child_flow_id`` of flow ``flow_id``.

    The shell turns it into a ``FlowRequested`` for the child (with ``parent_flow_id=flow_id``)
    on the child's dispatcher ``queue``.
    """

    flow_id: str
    flow_name: str
    child_flow_id: str
    node_args: Any
    parent: dict[str, Any] | None
    queue: str
    selective: SelectivePlan | None = None
    throttle_s: float | None = None
    nowait: bool = False


@dataclass(frozen=True, slots=True)
class ScheduleWakeup:
    """Deliver ``TimerDue(flow_id, timer_id)`` to the flow at time ``at`` (epoch seconds)."""

    flow_id: str
    timer_id: str
    at: float


@dataclass(frozen=True, slots=True)
class RetryFlow:
    """The flow failed and will restart from scratch: deliver ``TimerDue`` at ``at``."""

    flow_id: str
    flow_name: str
    timer_id: str
    at: float
    retried_count: int


@dataclass(frozen=True, slots=True)
class FinishFlow:
    """The flow ended for good.  A sub-flow's parent gets ``SubflowFinished``/``SubflowFailed``.

    ``summary`` is the flow's :data:`~selinon_core.dispatch.events.FlowSummary`.
    """

    flow_id: str
    flow_name: str
    status: Literal["succeeded", "failed"]
    summary: FlowSummary
    parent_flow_id: str | None = None


Action: TypeAlias = RunTask | StartSubflow | ScheduleWakeup | RetryFlow | FinishFlow
