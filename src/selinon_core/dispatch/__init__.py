"""Dispatching: ``Dispatcher.step(state, event) -> Step`` and everything it is made of.

Events (facts) go in, the next :class:`~selinon_core.dispatch.state.FlowState` and actions
(instructions) come out.  :mod:`~selinon_core.dispatch.effects` turns actions and task outcomes
into the next events, :mod:`~selinon_core.dispatch.wire` encodes all of them as versioned JSON.
This package builds on :mod:`selinon_core.config`; it never imports the shell.
"""

from selinon_core.dispatch.actions import (
    Action,
    FinishFlow,
    RetryFlow,
    RunTask,
    StartSubflow,
)
from selinon_core.dispatch.dispatcher import Dispatcher, Step
from selinon_core.dispatch.events import (
    ErrorSummary,
    Event,
    FlowRequested,
    FlowSummary,
    NodeFailed,
    NodeSucceeded,
    SubflowFailed,
    SubflowFinished,
    TimerDue,
)
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.dispatch.state import FlowState

__all__ = [
    "Action",
    "Dispatcher",
    "ErrorSummary",
    "Event",
    "FinishFlow",
    "FlowRequested",
    "FlowState",
    "FlowSummary",
    "NodeFailed",
    "NodeSucceeded",
    "RetryFlow",
    "RunTask",
    "SelectivePlan",
    "StartSubflow",
    "Step",
    "SubflowFailed",
    "SubflowFinished",
    "TimerDue",
]
