"""Exhaustive (node status x event kind) and (flow status x event kind) products.

Every pair either is a legal transition (a new state with a higher version, the node no longer
running) or a traced no-op: the very same state object, no actions, one ``EVENT_IGNORED``.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools

import pytest
from dsp_helpers import edge, make_dispatcher

from selinon_core.dispatch.dispatcher import Dispatcher, Step
from selinon_core.dispatch.events import (
    Event,
    FlowRequested,
    NodeFailed,
    NodeSucceeded,
    SubflowFailed,
    SubflowFinished,
    TimerDue,
)
from selinon_core.dispatch.state import FlowState
from selinon_core.errors import InvalidTransition, UnknownFlowError
from selinon_core.testing import DictResults
from selinon_core.trace import TraceName


class NodeStatus(enum.Enum):
    """Where a node id stands in a running flow."""

    ACTIVE_TASK = "D"
    ACTIVE_FLOW = "S"
    SUCCEEDED = "A"
    FAILED = "B"
    NOWAIT = "N"
    UNKNOWN = "?"


class EventKind(enum.Enum):
    """The node-level events."""

    NODE_SUCCEEDED = NodeSucceeded
    NODE_FAILED = NodeFailed
    SUBFLOW_FINISHED = SubflowFinished
    SUBFLOW_FAILED = SubflowFailed


FLOWS = {
    "f": {
        "edges": [edge(None, ["A", "B", "D", "S", "N"])],
        "nowait": "N",
        "max_retry": 1,
    },
    "S": {"edges": [edge(None, "X")]},
}
LEGAL = {
    (NodeStatus.ACTIVE_TASK, EventKind.NODE_SUCCEEDED),
    (NodeStatus.ACTIVE_TASK, EventKind.NODE_FAILED),
    (NodeStatus.ACTIVE_FLOW, EventKind.SUBFLOW_FINISHED),
    (NodeStatus.ACTIVE_FLOW, EventKind.SUBFLOW_FAILED),
}


@pytest.fixture(scope="module")
def dispatcher() -> Dispatcher:
    return make_dispatcher(FLOWS)


def _running(dispatcher: Dispatcher) -> tuple[FlowState, dict[NodeStatus, str]]:
    """A running flow with one node in every status."""
    results = DictResults()
    first = dispatcher.step(None, FlowRequested("f1", "f", 0.0), results)
    ids = {run.task_name: run.task_id for run in first.actions if hasattr(run, "task_name")}
    ids["S"] = "f1.3"
    state = dispatcher.step(first.state, NodeSucceeded("f1", ids["A"], 1.0), results).state
    state = dispatcher.step(state, NodeFailed("f1", ids["B"], 2.0), results).state
    by_status = {status: ids.get(status.value, "f1.99") for status in NodeStatus}
    return state, by_status


def _assert_ignored(step: Step, state: FlowState) -> None:
    assert step.state is state
    assert step.actions == ()
    assert [t.name for t in step.trace] == [TraceName.EVENT_IGNORED]


@pytest.mark.parametrize(("status", "kind"), list(itertools.product(NodeStatus, EventKind)))
def test_node_status_by_event_kind(
    dispatcher: Dispatcher, status: NodeStatus, kind: EventKind
) -> None:
    state, ids = _running(dispatcher)
    nid = ids[status]
    event = kind.value("f1", nid, 5.0)
    step = dispatcher.step(state, event, DictResults())
    if (status, kind) not in LEGAL:
        _assert_ignored(step, state)
        return
    assert step.state.version == state.version + 1
    assert not step.state.is_active(nid)
    name = status.value
    assert nid in step.state.finished_nodes().get(name, []) + step.state.failed_nodes().get(
        name, []
    )
    assert step.state.status == "running"  # D or S is still running
    assert state.is_active(nid)  # the input state is untouched


class FlowStatusCase(enum.Enum):
    """Flow-level situations."""

    RUNNING = "running"
    RETRY_WAIT = "retry_wait"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def _flow_events(ids: dict[NodeStatus, str]) -> dict[str, Event]:
    return {
        "node_succeeded": NodeSucceeded("f1", ids[NodeStatus.ACTIVE_TASK], 9.0),
        "node_failed": NodeFailed("f1", ids[NodeStatus.ACTIVE_TASK], 9.0),
        "subflow_finished": SubflowFinished("f1", ids[NodeStatus.ACTIVE_FLOW], 9.0),
        "subflow_failed": SubflowFailed("f1", ids[NodeStatus.ACTIVE_FLOW], 9.0),
        "timer_due": TimerDue("f1", "f1.retry.1", 9.0),
        "stale_timer": TimerDue("f1", "f1.retry.7", 9.0),
        "flow_requested": FlowRequested("f1", "f", 9.0),
        "other_flow": NodeSucceeded("f2", ids[NodeStatus.ACTIVE_TASK], 9.0),
    }


EVENT_NAMES = list(_flow_events(dict.fromkeys(NodeStatus, "x")))


@pytest.mark.parametrize(
    ("case", "event_name"), list(itertools.product(FlowStatusCase, EVENT_NAMES))
)
def test_flow_status_by_event_kind(
    dispatcher: Dispatcher, case: FlowStatusCase, event_name: str
) -> None:
    running, ids = _running(dispatcher)
    timer = "f1.retry.1" if case is FlowStatusCase.RETRY_WAIT else None
    state = dataclasses.replace(running, status=case.value, timer_id=timer)
    event = _flow_events(ids)[event_name]
    step = dispatcher.step(state, event, DictResults())
    legal_running = event_name.startswith(("node_", "subflow_"))
    if case is FlowStatusCase.RUNNING and legal_running:
        assert step.state.version == state.version + 1
    elif case is FlowStatusCase.RETRY_WAIT and event_name == "timer_due":
        assert step.state.status == "running"
        assert step.state.active_nodes() == {
            "f1.5": "A",
            "f1.6": "B",
            "f1.7": "D",
            "f1.8": "S",
        }
        assert [t.name for t in step.trace][:2] == [TraceName.FLOW_RETRY, TraceName.FLOW_START]
    else:
        _assert_ignored(step, state)


def test_event_without_state_is_invalid(dispatcher: Dispatcher) -> None:
    with pytest.raises(InvalidTransition):
        dispatcher.step(None, NodeSucceeded("f1", "f1.0", 0.0), DictResults())


def test_unknown_flow_is_refused(dispatcher: Dispatcher) -> None:
    with pytest.raises(UnknownFlowError):
        dispatcher.step(None, FlowRequested("f1", "nope", 0.0), DictResults())
    with pytest.raises(UnknownFlowError):
        dispatcher.table("nope")
