"""Effects: every translation of an action or task outcome into the next event, as a table."""

from __future__ import annotations

from typing import Any

import pytest
from dsp_helpers import edge, make_dispatcher

from selinon_core.dispatch import effects
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
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.testing import run_to_completion

PLAN = SelectivePlan(("T",), edges={"child": {0: ("T",)}})


def start(*, nowait: bool) -> StartSubflow:
    return StartSubflow(
        flow_id="p",
        flow_name="child",
        child_flow_id="p.3",
        node_args={"a": 1},
        parent={"A": "p.1"},
        queue="child_q",
        selective=PLAN,
        nowait=nowait,
        parent_flow_name="parentFlow",
    )


@pytest.mark.parametrize("nowait", [False, True])
def test_subflow_request_carries_every_fact(nowait: bool) -> None:
    assert effects.subflow_request(start(nowait=nowait), at=5.0) == FlowRequested(
        flow_id="p.3",
        flow_name="child",
        at=5.0,
        node_args={"a": 1},
        parent={"A": "p.1"},
        parent_flow_id="p",
        selective=PLAN,
        parent_flow_name="parentFlow",
        report_to_parent=not nowait,
    )


def finish(status: Any, *, parent: str | None, report: bool) -> FinishFlow:
    summary: Any = {"flow_name": "child", "flow_id": "p.3", "status": status}
    return FinishFlow("p.3", "child", status, summary, parent, "parentFlow", report)


@pytest.mark.parametrize(
    ("status", "parent", "report", "expected"),
    [
        ("succeeded", "p", True, SubflowFinished),
        ("failed", "p", True, SubflowFailed),
        ("succeeded", "p", False, None),
        ("failed", "p", False, None),
        ("succeeded", None, True, None),
        ("failed", None, True, None),
    ],
)
def test_finish_event_table(status: str, parent: str | None, report: bool, expected: Any) -> None:
    action = finish(status, parent=parent, report=report)
    event = effects.finish_event(action, at=7.0)
    if expected is None:
        assert event is None
    else:
        assert event == expected("p", "p.3", 7.0, action.summary)


def test_timer_event_is_due_when_the_retry_is() -> None:
    action = RetryFlow("f", "flow", "f.retry.1", 12.5, 1)
    assert effects.timer_event(action) == TimerDue("f", "f.retry.1", 12.5)


def task(*, nowait: bool = False, attempt: int = 0) -> RunTask:
    return RunTask("f", "flow", "T", "f.1", None, {}, "q", nowait=nowait, attempt=attempt)


@pytest.mark.parametrize("nowait", [False, True])
def test_task_outcomes(nowait: bool) -> None:
    error = ErrorSummary("ValueError", "boom", "Traceback ...")
    ok = effects.task_succeeded(task(nowait=nowait), at=3.0)
    failed = effects.task_failed(task(nowait=nowait), at=3.0, error=error)
    if nowait:
        assert (ok, failed) == (None, None)
    else:
        assert ok == NodeSucceeded("f", "f.1", 3.0)
        assert failed == NodeFailed("f", "f.1", 3.0, error)


@pytest.mark.parametrize(("counted", "attempt"), [(True, 3), (False, 2)])
def test_task_retry_counts_only_counted_retries(counted: bool, attempt: int) -> None:
    again = effects.task_retry(task(attempt=2), counted=counted)
    assert again.attempt == attempt
    assert again.task_id == "f.1"


def test_simulation_reports_nowait_subflow_end_to_nobody() -> None:
    flows = {
        "f": {"edges": [edge(None, ["A", "sub"])], "nowait": "sub"},
        "sub": {"edges": [edge(None, "B")]},
    }
    sim = run_to_completion(make_dispatcher(flows), "f")
    assert [f.flow_id for f in sim.finishes] == ["flow", "flow.1"]
    assert sim.subflows[0].parent_flow_name == "f"
    assert sim.states["flow.1"].parent_flow_name == "f"
    assert all(s.state.version > 0 for s in sim.steps)
