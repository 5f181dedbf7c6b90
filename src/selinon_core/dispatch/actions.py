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
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class StartSubflow:
    """Start flow ``flow_name`` as node ``child_flow_id`` of flow ``flow_id``.

    The shell turns it into a ``FlowRequested`` for the child (with ``parent_flow_id=flow_id``)
    on the child's dispatcher ``queue`` (:func:`selinon_core.dispatch.effects.subflow_request`).
    ``parent_flow_name`` is the name of flow ``flow_id``.
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
    parent_flow_name: str = ""


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

    ``summary`` is the flow's :class:`~selinon_core.dispatch.events.FlowSummary`.  The parent
    (``parent_flow_id``, named ``parent_flow_name``) is told only when ``report_to_parent``
    (false for a ``nowait`` sub-flow); see :func:`selinon_core.dispatch.effects.finish_event`.
    """

    flow_id: str
    flow_name: str
    status: Literal["succeeded", "failed"]
    summary: FlowSummary
    parent_flow_id: str | None = None
    parent_flow_name: str | None = None
    report_to_parent: bool = True


Action: TypeAlias = RunTask | StartSubflow | RetryFlow | FinishFlow
