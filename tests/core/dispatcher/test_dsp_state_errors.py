"""Failed tasks' error summaries are kept in the flow state, round-trip and travel in deltas."""

from __future__ import annotations

import pytest
from dsp_helpers import edge, make_dispatcher

from selinon_core.dispatch.delta import apply_delta, state_delta
from selinon_core.dispatch.events import ErrorSummary
from selinon_core.dispatch.state import (
    FlowState,
    error_from_dict,
    error_to_dict,
    flow_id_of,
    node_id,
)
from selinon_core.testing import run_to_completion


@pytest.mark.parametrize("traceback", [None, "Traceback (most recent call last):\n  ..."])
def test_error_dict_round_trip(traceback: str | None) -> None:
    error = ErrorSummary("ValueError", "boom", traceback)
    data = error_to_dict(error)
    assert ("traceback" in data) is (traceback is not None)
    assert error_from_dict(data) == error


@pytest.mark.parametrize("flow_id", ["flow", "flow.3", "a.b.c", "flow-1"])
def test_flow_id_of_inverts_node_id(flow_id: str) -> None:
    assert flow_id_of(node_id(flow_id, 7)) == flow_id


def test_failed_tasks_leave_their_errors_in_the_state() -> None:
    flows = {
        "f": {
            "edges": [edge(None, ["A", "B"])],
            "failures": [{"nodes": ["A"], "fallback": ["F"]}],
        }
    }
    sim = run_to_completion(make_dispatcher(flows), "f", fail=["A"])
    assert sim.status == "succeeded"
    final = sim.states["flow"]
    (failed_id,) = [r.task_id for r in sim.runs if r.task_name == "A"]
    assert dict(final.errors.items()) == {
        failed_id: ErrorSummary("TaskFailure", "A was scripted to fail")
    }
    assert FlowState.from_dict(final.to_dict()).to_dict() == final.to_dict()
    for before, after in zip(sim.steps, sim.steps[1:], strict=False):
        if before.state.flow_id != after.state.flow_id or after.state is before.state:
            continue
        doc = apply_delta(before.state.to_dict(), state_delta(before.state, after.state))
        assert doc == after.state.to_dict()
