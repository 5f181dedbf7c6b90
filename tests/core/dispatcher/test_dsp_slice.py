"""First vertical slice: chain, fan-out, cyclic diamond, sub-flows, JSON round trip."""

from __future__ import annotations

import json

from dsp_helpers import edge, make_dispatcher

from selinon_core.dispatch.state import FlowState
from selinon_core.testing import run_to_completion


def test_chain_runs_in_order() -> None:
    d = make_dispatcher({"f": {"edges": [edge(None, "T1"), edge("T1", "T2"), edge("T2", "T3")]}})
    sim = run_to_completion(d, "f", {"a": 1})
    assert sim.status == "succeeded"
    assert sim.task_names() == ["T1", "T2", "T3"]
    assert sim.runs[1].parent == {"T1": sim.runs[0].task_id}
    assert all(r.node_args == {"a": 1} for r in sim.runs)
    assert sim.finishes[-1].summary["finished_nodes"] == {
        "T1": ["flow.0"],
        "T2": ["flow.1"],
        "T3": ["flow.2"],
    }


def test_cyclic_diamond_runs_task4_four_times() -> None:
    d = make_dispatcher(
        {
            "f": {
                "edges": [
                    edge(None, "T1"),
                    edge("T1", ["T2", "T3"]),
                    edge(["T2", "T3"], "T4"),
                    edge(
                        "T4",
                        "T1",
                        condition={"name": "argsFieldLess", "args": {"key": "n", "value": 0}},
                    ),
                ]
            }
        }
    )
    # the loop back edge fires only in the first iteration: T4 result says whether to loop
    d2 = make_dispatcher(
        {
            "f": {
                "edges": [
                    edge(None, "T1"),
                    edge("T1", ["T2", "T3"]),
                    edge(["T2", "T3"], "T4"),
                    edge(
                        "T4",
                        "T1",
                        condition={"name": "counterBelow", "args": {"limit": 1}},
                    ),
                ]
            }
        }
    )
    sim = run_to_completion(d, "f", {"n": 5})
    assert sim.count("T4") == 1
    calls = {"T4": 0}

    def t4(_run: object) -> int:
        calls["T4"] += 1
        return calls["T4"] - 1  # only the first T4 result is below 1

    sim2 = run_to_completion(d2, "f", tasks={"T4": t4})
    assert sim2.status == "succeeded"
    assert sim2.count("T1") == 2
    assert sim2.count("T4") == 4


def test_state_json_round_trip() -> None:
    d = make_dispatcher({"f": {"edges": [edge(None, ["T1", "T2"]), edge(["T1", "T2"], "T3")]}})
    sim = run_to_completion(d, "f")
    for step in sim.steps:
        data = json.loads(json.dumps(step.state.to_dict()))
        assert FlowState.from_dict(data) == step.state
        assert FlowState.from_dict(data).to_dict() == step.state.to_dict()


def test_subflow_reports_to_parent() -> None:
    d = make_dispatcher(
        {
            "outer": {"edges": [edge(None, "inner"), edge("inner", "T9")]},
            "inner": {"edges": [edge(None, "T1"), edge("T1", "T2")]},
        }
    )
    sim = run_to_completion(d, "outer", {"x": 1})
    assert sim.status == "succeeded"
    assert sim.task_names() == ["T1", "T2", "T9"]
    assert sim.subflows[0].node_args is None
    assert sim.runs[0].flow_id == "flow.0"
    assert sim.runs[0].task_id == "flow.0.0"
    assert sim.runs[-1].parent == {}
