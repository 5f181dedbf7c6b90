"""Events survive their JSON form unchanged (transports carry them as dicts)."""

from __future__ import annotations

import json

import pytest

from selinon_core.dispatch.events import (
    ErrorSummary,
    Event,
    FlowRequested,
    NodeFailed,
    NodeSucceeded,
    SubflowFailed,
    SubflowFinished,
    TimerDue,
    event_from_dict,
    event_to_dict,
)
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.errors import WireError

PLAN = SelectivePlan(
    task_names=("Task2",),
    follow_subflows=True,
    run_subsequent=False,
    edges={"flow1": {0: ("Task1",), 1: ("Task2",)}},
)
SUMMARY = {
    "flow_name": "flow2",
    "flow_id": "f.1",
    "status": "succeeded",
    "finished_nodes": {"Task3": ["f.1.0"]},
    "failed_nodes": {},
    "subflows": {},
}

EVENTS: list[Event] = [
    FlowRequested(flow_id="f", flow_name="flow1", at=1.5),
    FlowRequested(
        flow_id="f.1",
        flow_name="flow2",
        at=2.0,
        node_args={"a": [1, 2]},
        parent={"Task1": "f.0"},
        parent_flow_id="f",
        selective=PLAN,
    ),
    NodeSucceeded(flow_id="f", node_id="f.0", at=3.0),
    NodeFailed(flow_id="f", node_id="f.0", at=3.0, error=ErrorSummary("ValueError", "boom", "tb")),
    SubflowFinished(flow_id="f", node_id="f.1", at=4.0, summary=SUMMARY),
    SubflowFailed(flow_id="f", node_id="f.1", at=4.0, summary={**SUMMARY, "status": "failed"}),
    TimerDue(flow_id="f", timer_id="retry-1", at=5.0),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_json_round_trip(event: Event) -> None:
    data = json.loads(json.dumps(event_to_dict(event)))
    assert (data["v"], data["type"], data["kind"]) == (1, "event", type(event).__name__)
    assert event_from_dict(data) == event


def test_selective_plan_round_trip_keeps_integer_edge_indexes() -> None:
    again = SelectivePlan.from_dict(json.loads(json.dumps(PLAN.to_dict())))
    assert again == PLAN
    assert again.allowed("flow1", 1) == ("Task2",)
    assert again.allowed("flow1", 2) is None
    assert again.plans_flow("flow1")
    assert not again.plans_flow("flow9")


def test_unknown_kind_is_rejected() -> None:
    document = {"v": 1, "type": "event", "kind": "NodeExploded", "body": {"flow_id": "f"}}
    with pytest.raises(WireError, match="NodeExploded"):
        event_from_dict(document)
