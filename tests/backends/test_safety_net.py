"""The safety net's decisions (``selinon_backends.distributed.safety``), on in-memory stores."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest

from selinon_backends.distributed.backends import Backends, open_backends
from selinon_backends.distributed.safety import DEFAULT_INTERVAL, FlowCheck, SafetyNet
from selinon_core.config.system import System
from selinon_core.dispatch.actions import RunTask, StartSubflow
from selinon_core.dispatch.dispatcher import Dispatcher
from selinon_core.dispatch.events import (
    FlowRequested,
    NodeFailed,
    NodeSucceeded,
    SubflowFinished,
)
from selinon_core.dispatch.state import FlowState


def _system(sampling: dict[str, Any] | None) -> System:
    flow: dict[str, Any] = {
        "name": "main",
        "edges": [{"from": [], "to": ["A", "child"]}, {"from": "A", "to": "B"}],
    }
    if sampling is not None:
        flow["sampling"] = sampling
    return System.from_dict(
        {
            "tasks": [{"name": "A", "import": "x"}, {"name": "B", "import": "x"}],
            "flows": {"main": flow, "child": {"name": "child", "edges": [{"from": [], "to": "B"}]}},
        }
    )


class Harness:
    def __init__(self, sampling: dict[str, Any] | None = None) -> None:
        self.system = _system(sampling)
        self.backends: Backends = open_backends(f"memory://{uuid.uuid4().hex}")
        self.dispatcher = Dispatcher(self.system)
        self.net = SafetyNet(self.system, self.backends, lambda: 100.0)

    def start(self, flow_id: str = "f") -> tuple[FlowState, tuple[Any, ...]]:
        step = self.dispatcher.step(None, FlowRequested(flow_id, "main", 1.0), None)
        self.backends.states.save(state=step.state, expected_version=None, outbox=())
        for action in step.actions:  # as the dispatcher journals what it starts
            node = action.task_id if isinstance(action, RunTask) else action.child_flow_id
            name = action.task_name if isinstance(action, RunTask) else action.flow_name
            entry = {"node_name": name, "node_args": {"k": 1}, "parent": {}, "nowait": False}
            self.backends.journal.write(root=flow_id, entries={f"s:{node}": entry})
        return step.state, step.actions


def test_default_interval_and_strategy_interval() -> None:
    state, _ = Harness().start()
    first = Harness().net.first_check(state)
    assert first == FlowCheck("f", state.version, DEFAULT_INTERVAL)
    sampled = Harness({"name": "constant", "args": {"retry": 3}})
    state, _ = sampled.start()
    assert sampled.net.first_check(state) == FlowCheck("f", state.version, 3.0)


def test_progress_means_no_redrive_and_a_reset_stall_count() -> None:
    h = Harness()
    state, _ = h.start()
    found = h.net.check(FlowCheck("f", state.version - 1, 5.0, stalled=4))
    assert (found.events, found.tasks) == ([], [])
    assert found.next_check == FlowCheck("f", state.version, DEFAULT_INTERVAL, 0)


def test_a_stalled_flow_gets_finished_outcomes_again_then_lost_tasks() -> None:
    h = Harness()
    state, actions = h.start()
    task = next(a for a in actions if isinstance(a, RunTask))
    first = h.net.check(FlowCheck("f", state.version, 5.0))
    assert (first.events, first.tasks) == ([], [])  # one stalled check: nothing resent yet
    assert first.next_check is not None
    assert first.next_check.stalled == 1
    second = h.net.check(first.next_check)
    assert [t.task_id for t in second.tasks] == [task.task_id]
    assert second.tasks[0].node_args == {"k": 1}
    # The child flow was never created either: its request goes out again.
    assert [type(e).__name__ for e, _ in second.events] == ["FlowRequested"]
    h.backends.journal.write(root="f", entries={f"o:{task.task_id}": {"status": "succeeded"}})
    third = h.net.check(FlowCheck("f", state.version, 5.0))  # first stall: no resend
    assert [type(e).__name__ for e, _ in third.events] == ["NodeSucceeded"]
    assert third.events[0][0] == NodeSucceeded("f", task.task_id, 100.0)
    failed = {"status": "failed", "error": "ValueError: x", "traceback": "tb"}
    h.backends.journal.write(root="f", entries={f"o:{task.task_id}": failed})
    [(event, queue)] = h.net.check(FlowCheck("f", state.version, 5.0)).events
    assert isinstance(event, NodeFailed)
    assert (event.error.type, event.error.message, event.error.traceback) == (
        "ValueError",
        "x",
        "tb",
    )
    assert queue == "celery"


def test_a_lost_subflow_request_and_a_lost_subflow_end() -> None:
    h = Harness()
    state, actions = h.start()
    start = next(a for a in actions if isinstance(a, StartSubflow))
    resent = h.net.check(FlowCheck("f", state.version, 5.0, stalled=1))
    [request] = [e for e, _ in resent.events if isinstance(e, FlowRequested)]
    assert (request.flow_id, request.flow_name, request.parent_flow_id) == (
        start.child_flow_id,
        "child",
        "f",
    )
    child = h.dispatcher.step(None, request, None)
    h.backends.states.save(state=child.state, expected_version=None, outbox=())
    assert h.net.check(FlowCheck("f", state.version, 5.0)).events == []  # child still running
    [task] = [a for a in child.actions if isinstance(a, RunTask)]
    done = h.dispatcher.step(child.state, NodeSucceeded(task.flow_id, task.task_id, 2.0), None)
    h.backends.states.save(state=done.state, expected_version=child.state.version, outbox=())
    [(event, _)] = h.net.check(FlowCheck("f", state.version, 5.0)).events
    assert isinstance(event, SubflowFinished)
    assert event.summary["status"] == "succeeded"


@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_finished_or_unknown_flows_are_not_checked_again(status: str) -> None:
    h = Harness()
    assert h.net.check(FlowCheck("nope", 1, 5.0)).next_check is None
    state, _ = h.start()
    finished = replace(state, status=status, version=state.version + 1)
    h.backends.states.save(state=finished, expected_version=state.version, outbox=())
    assert h.net.check(FlowCheck("f", state.version, 5.0)) == ([], [], None)
