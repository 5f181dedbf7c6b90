"""Selective runs: executing a SelectivePlan (reference §5.16, execution part)."""

from __future__ import annotations

from typing import Any

from dsp_helpers import edge, make_dispatcher

from selinon_core.dispatch.selective import plan_selective_run
from selinon_core.testing import run_to_completion
from selinon_core.trace import TraceName

FN = "dsp_funcs"

BRANCHY = {
    "f": {
        "edges": [
            edge(None, "T1"),
            edge("T1", ["T2", "T3"]),
            edge("T2", "T4"),
            edge(None, "T5"),
            edge("T1", "T7"),
        ]
    }
}


def _details(sim: Any, name: TraceName) -> list[dict[str, Any]]:
    return [t.details for t in sim.trace if t.name is name]


def test_only_the_path_to_the_requested_task_runs() -> None:
    d = make_dispatcher(BRANCHY)
    plan = plan_selective_run(d.system.spec, "f", ["T4"])
    sim = run_to_completion(d, "f", selective=plan)
    assert sim.status == "succeeded"
    assert sim.task_names() == ["T1", "T2", "T4"]
    assert [x["nodes_to"] for x in _details(sim, TraceName.SELECTIVE_OMIT_EDGE)] == [["T5"]]
    assert [x["omitted_node"] for x in _details(sim, TraceName.SELECTIVE_OMIT_NODE)] == ["T3"]
    asked = [x["node_name"] for x in _details(sim, TraceName.SELECTIVE_RUN_FUNC)]
    assert asked == ["T1", "T2"]  # T4 was requested: always runs
    assert all(r.selective == plan for r in sim.runs)


def test_run_subsequent_runs_what_follows() -> None:
    d = make_dispatcher(BRANCHY)
    plan = plan_selective_run(d.system.spec, "f", ["T2"], run_subsequent=True)
    sim = run_to_completion(d, "f", selective=plan)
    assert sim.task_names() == ["T1", "T2", "T4"]


def test_selective_run_function_reuses_a_result() -> None:
    d = make_dispatcher(
        BRANCHY,
        tasks={"T1": {"selective_run_function": {"import": FN, "name": "reuse_t1"}}},
    )
    plan = plan_selective_run(d.system.spec, "f", ["T4"])
    sim = run_to_completion(d, "f", selective=plan)
    assert sim.task_names() == ["T2", "T4"]
    assert sim.runs[0].parent == {"T1": "old-T1"}
    (reuse,) = _details(sim, TraceName.SELECTIVE_TASK_REUSE)
    assert (reuse["task_name"], reuse["task_id"]) == ("T1", "old-T1")
    assert sim.finishes[0].summary["finished_nodes"]["T1"] == ["old-T1"]


def test_reused_result_in_a_join_and_the_whole_flow_reused() -> None:
    flows = {"f": {"edges": [edge(None, "T1"), edge("T1", "T2")]}}
    d = make_dispatcher(
        flows, tasks={"T1": {"selective_run_function": {"import": FN, "name": "reuse_t1"}}}
    )
    plan = plan_selective_run(d.system.spec, "f", ["T2"])
    sim = run_to_completion(d, "f", selective=plan)
    assert sim.task_names() == ["T2"]
    assert sim.status == "succeeded"


def test_broken_selective_run_function_fails_the_flow() -> None:
    d = make_dispatcher(
        BRANCHY,
        tasks={"T1": {"selective_run_function": {"import": FN, "name": "broken_run_fn"}}},
    )
    plan = plan_selective_run(d.system.spec, "f", ["T4"])
    sim = run_to_completion(d, "f", selective=plan)
    assert sim.status == "failed"
    assert sim.task_names() == []
    assert "DISPATCHER_FAILURE" in sim.trace_names()


def test_subflow_not_covered_by_the_plan_runs_in_full() -> None:
    flows = {
        "f": {"edges": [edge(None, "sub"), edge("sub", "T2")]},
        "sub": {"edges": [edge(None, ["A", "B"])]},
    }
    d = make_dispatcher(flows)
    plan = plan_selective_run(d.system.spec, "f", ["T2"])
    sim = run_to_completion(d, "f", selective=plan)
    assert sim.status == "succeeded"
    assert sim.task_names() == ["A", "B", "T2"]
    assert sim.subflows[0].selective == plan


def test_follow_subflows_plans_the_child() -> None:
    flows = {
        "f": {"edges": [edge(None, ["sub", "X"])]},
        "sub": {"edges": [edge(None, "A"), edge(None, "B"), edge("A", "C")]},
    }
    d = make_dispatcher(flows)
    plan = plan_selective_run(d.system.spec, "f", ["C"], follow_subflows=True)
    sim = run_to_completion(d, "f", selective=plan)
    assert sim.task_names() == ["A", "C"]


def test_yaml_selective_edge_gives_its_plan_to_the_subflow() -> None:
    flows = {
        "f": {"edges": [edge(None, "T0"), edge("T0", "sub", selective={"tasks": ["B"]})]},
        "sub": {"edges": [edge(None, "A"), edge(None, "C"), edge("A", "B")]},
    }
    sim = run_to_completion(make_dispatcher(flows), "f")
    assert sim.task_names() == ["T0", "A", "B"]
    child_plan = sim.subflows[0].selective
    assert child_plan is not None
    assert child_plan.task_names == ("B",)
    assert sim.runs[0].selective is None


def test_selective_states_survive_json() -> None:
    import json

    from selinon_core.dispatch.state import FlowState

    d = make_dispatcher(
        BRANCHY,
        tasks={"T1": {"selective_run_function": {"import": FN, "name": "reuse_t1"}}},
    )
    plan = plan_selective_run(d.system.spec, "f", ["T4"])
    sim = run_to_completion(d, "f", selective=plan)
    for step in sim.steps:
        loaded = FlowState.from_dict(json.loads(json.dumps(step.state.to_dict())))
        assert loaded == step.state
        assert loaded.selective == plan
