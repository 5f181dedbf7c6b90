"""Effects: what an action or a task outcome becomes next, written once for every transport.

``Dispatcher.step`` returns actions; a task run ends in an outcome.  Some of those turn into
events for a dispatcher (a sub-flow is requested, a sub-flow's end is reported to its parent, a
retry countdown is over, a task finished) or into a new task message (a task retry).  The
in-process engine, :class:`selinon_core.testing.Simulation` and the distributed transports all
call these functions, so the translation exists in one place:

===========================  =================================================================
input                        next
===========================  =================================================================
``StartSubflow``             :func:`subflow_request` -> ``FlowRequested`` for the child flow
``FinishFlow``               :func:`finish_event` -> ``SubflowFinished``/``SubflowFailed`` for
                             the parent, or ``None`` (top-level or ``nowait`` sub-flow)
``RetryFlow``                :func:`timer_event` -> ``TimerDue`` due at ``action.at``
task succeeded               :func:`task_succeeded` -> ``NodeSucceeded`` (``None`` if nowait)
task failed for good         :func:`task_failed` -> ``NodeFailed`` (``None`` if nowait)
task to be retried           :func:`task_retry` -> the same ``RunTask``, ``attempt`` counted
===========================  =================================================================

Every function is pure: the time comes in as ``at``.
"""

from __future__ import annotations

from dataclasses import replace

from selinon_core.dispatch.actions import FinishFlow, RetryFlow, RunTask, StartSubflow
from selinon_core.dispatch.events import (
    ErrorSummary,
    FlowRequested,
    NodeFailed,
    NodeSucceeded,
    SubflowFailed,
    SubflowFinished,
    TimerDue,
)

__all__ = [
    "finish_event",
    "subflow_request",
    "task_failed",
    "task_retry",
    "task_succeeded",
    "timer_event",
]


def subflow_request(action: StartSubflow, *, at: float) -> FlowRequested:
    """The request of the child flow that ``action`` starts (deliver it on ``action.queue``)."""
    return FlowRequested(
        action.child_flow_id,
        action.flow_name,
        at,
        action.node_args,
        action.parent,
        action.flow_id,
        action.selective,
        action.parent_flow_name or None,
        not action.nowait,
    )


def finish_event(action: FinishFlow, *, at: float) -> SubflowFinished | SubflowFailed | None:
    """What the parent of a finished sub-flow is told; ``None`` when nobody is waiting.

    A top-level flow has no parent; a ``nowait`` sub-flow's parent did not wait for it.
    """
    parent = action.parent_flow_id
    if parent is None or not action.report_to_parent:
        return None
    if action.status == "succeeded":
        return SubflowFinished(parent, action.flow_id, at, action.summary)
    return SubflowFailed(parent, action.flow_id, at, action.summary)


def timer_event(action: RetryFlow) -> TimerDue:
    """The event that ends the countdown of a flow retry (due at ``action.at``)."""
    return TimerDue(action.flow_id, action.timer_id, action.at)


def task_succeeded(task: RunTask, *, at: float) -> NodeSucceeded | None:
    """The event for a task that succeeded (its result is stored); ``None`` for nowait."""
    if task.nowait:
        return None
    return NodeSucceeded(task.flow_id, task.task_id, at)


def task_failed(task: RunTask, *, at: float, error: ErrorSummary) -> NodeFailed | None:
    """The event for a task that failed for good; ``None`` for nowait."""
    if task.nowait:
        return None
    return NodeFailed(task.flow_id, task.task_id, at, error)


def task_retry(task: RunTask, *, counted: bool) -> RunTask:
    """The message that runs ``task`` again; a counted retry increases ``attempt``.

    ``self.retry()`` in a task is not counted against ``max_retry``; failures are.
    """
    return replace(task, attempt=task.attempt + 1) if counted else task
