"""The scenario table: every numbered item of reference §5 and every flow pattern of the docs.

Each test plays a flow through the dispatcher with the scripted driver and checks what ran,
with which ``parent``/``node_args``, the trace and the outcome.
"""

from __future__ import annotations

from typing import Any

import pytest
from dsp_helpers import edge, make_dispatcher

from selinon_core.dispatch.actions import FinishFlow, RetryFlow
from selinon_core.testing import DictResults, run_to_completion
from selinon_core.trace import TraceName

FN = "dsp_funcs"


def _false() -> dict[str, Any]:
    return {"name": "alwaysFalse"}


def _names(sim: Any, name: TraceName) -> list[dict[str, Any]]:
    return [t.details for t in sim.trace if t.name is name]


# --------------------------------------------------------------------------- table

# (id, flows, fail, expected status, expected run counts)
TABLE: list[tuple[str, dict[str, Any], tuple[str, ...], str, dict[str, int]]] = [
    (
        "chain",
        {"f": {"edges": [edge(None, "A"), edge("A", "B"), edge("B", "C")]}},
        (),
        "succeeded",
        {"A": 1, "B": 1, "C": 1},
    ),
    (
        "fan-out and join",
        {"f": {"edges": [edge(None, "A"), edge("A", ["B", "C"]), edge(["B", "C"], "D")]}},
        (),
        "succeeded",
        {"A": 1, "B": 1, "C": 1, "D": 1},
    ),
    (
        "multiple starting edges",
        {"f": {"edges": [edge(None, "A"), edge(None, ["B", "C"]), edge(["A", "B"], "D")]}},
        (),
        "succeeded",
        {"A": 1, "B": 1, "C": 1, "D": 1},
    ),
    (
        "repeated destination starts several instances",
        {"f": {"edges": [edge(None, ["A", "A", "A"]), edge("A", "B")]}},
        (),
        "succeeded",
        {"A": 3, "B": 3},
    ),
    (
        "all starting conditions false: empty success",
        {"f": {"edges": [edge(None, "A", condition=_false())]}},
        (),
        "succeeded",
        {},
    ),
    (
        "failure without fallback fails after the other branch ran (no time dependency)",
        {"f": {"edges": [edge(None, ["A", "B"]), edge("B", "C")]}},
        ("A",),
        "failed",
        {"A": 1, "B": 1, "C": 1},
    ),
    (
        "failed node never satisfies an edge",
        {"f": {"edges": [edge(None, ["A", "B"]), edge(["A", "B"], "C")]}},
        ("A",),
        "failed",
        {"A": 1, "B": 1},
    ),
    (
        "fallback recovers",
        {"f": {"edges": [edge(None, "A")], "failures": [{"nodes": "A", "fallback": "F"}]}},
        ("A",),
        "succeeded",
        {"A": 1, "F": 1},
    ),
    (
        "fallback: true recovers without starting anything",
        {"f": {"edges": [edge(None, "A")], "failures": [{"nodes": "A", "fallback": True}]}},
        ("A",),
        "succeeded",
        {"A": 1},
    ),
    (
        "fallback on fallback",
        {
            "f": {
                "edges": [edge(None, "A")],
                "failures": [
                    {"nodes": "A", "fallback": "F1"},
                    {"nodes": "F1", "fallback": "F2"},
                ],
            }
        },
        ("A", "F1"),
        "succeeded",
        {"A": 1, "F1": 1, "F2": 1},
    ),
    (
        "failed fallback without its own fallback fails the flow",
        {"f": {"edges": [edge(None, "A")], "failures": [{"nodes": "A", "fallback": "F1"}]}},
        ("A", "F1"),
        "failed",
        {"A": 1, "F1": 1},
    ),
    (
        "partly covered failure runs the fallback, then fails",
        {
            "f": {
                "edges": [edge(None, ["A", "B"])],
                "failures": [{"nodes": "A", "fallback": "F"}],
            }
        },
        ("A", "B"),
        "failed",
        {"A": 1, "B": 1, "F": 1},
    ),
    (
        "false failure condition leaves the failure uncovered",
        {
            "f": {
                "edges": [edge(None, "A")],
                "failures": [{"nodes": "A", "fallback": "F", "condition": _false()}],
            }
        },
        ("A",),
        "failed",
        {"A": 1},
    ),
    (
        "nowait only: finishes at once",
        {"f": {"edges": [edge(None, "A")], "nowait": "A"}},
        (),
        "succeeded",
        {"A": 1},
    ),
    (
        "nowait failure is never tracked",
        {"f": {"edges": [edge(None, ["A", "B"])], "nowait": ["A"]}},
        ("A",),
        "succeeded",
        {"A": 1, "B": 1},
    ),
    (
        "foreach fans out",
        {"f": {"edges": [edge(None, "A", foreach={"import": FN, "function": "three"})]}},
        (),
        "succeeded",
        {"A": 3},
    ),
    (
        "foreach after a false condition is not called",
        {
            "f": {
                "edges": [
                    edge(
                        None, "A", condition=_false(), foreach={"import": FN, "function": "broken"}
                    )
                ]
            }
        },
        (),
        "succeeded",
        {},
    ),
]


@pytest.mark.parametrize(
    ("flows", "fail", "status", "counts"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_scenario_table(
    flows: dict[str, Any], fail: tuple[str, ...], status: str, counts: dict[str, int]
) -> None:
    sim = run_to_completion(make_dispatcher(flows), "f", fail=fail)
    assert sim.status == status
    assert {name: sim.count(name) for name in set(sim.task_names())} == counts
    assert len([f for f in sim.finishes if f.flow_id == "flow"]) == 1


# --------------------------------------------------------------------------- §5.3 / §5.4


def test_starting_edges_get_the_flow_parent_and_false_ones_are_traced() -> None:
    d = make_dispatcher({"f": {"edges": [edge(None, "A"), edge(None, "B", condition=_false())]}})
    sim = run_to_completion(d, "f", parent={"X": "x-1"})
    assert sim.runs[0].parent == {"X": "x-1"}
    (false,) = _names(sim, TraceName.EDGE_COND_FALSE)
    assert false["nodes_to"] == ["B"]
    assert false["condition"] == "alwaysFalse()"
    assert sim.trace_names()[0] == "FLOW_START"
    assert sim.trace_names()[-1] == "FLOW_END"


def test_join_parent_is_the_combination() -> None:
    d = make_dispatcher({"f": {"edges": [edge(None, ["A", "B"]), edge(["A", "B"], "C")]}})
    sim = run_to_completion(d, "f")
    ids = {r.task_name: r.task_id for r in sim.runs}
    assert sim.runs[-1].parent == {"A": ids["A"], "B": ids["B"]}


def test_conditions_evaluated_once_per_combination() -> None:
    d = make_dispatcher(
        {
            "f": {
                "edges": [
                    edge(None, ["A", "A", "B", "B"]),
                    edge(
                        ["A", "B"],
                        "C",
                        condition={
                            "name": "fieldEqual",
                            "node": "A",
                            "args": {"key": "ok", "value": True},
                        },
                    ),
                ]
            }
        }
    )
    results = DictResults()
    sim = run_to_completion(d, "f", tasks={"A": {"ok": True}}, results=results)
    assert sim.count("C") == 4
    assert results.reads == 4
    parents = sorted((r.parent["A"], r.parent["B"]) for r in sim.runs if r.task_name == "C")
    assert len(set(parents)) == 4


def test_condition_reads_message_and_node_args() -> None:
    d = make_dispatcher(
        {
            "f": {
                "edges": [
                    edge(None, "A"),
                    edge(
                        "A",
                        "B",
                        condition={"name": "fieldEqual", "args": {"key": "go", "value": 1}},
                    ),
                    edge(
                        "A",
                        "C",
                        condition={"name": "argsFieldLess", "args": {"key": "n", "value": 3}},
                    ),
                ]
            }
        }
    )
    sim = run_to_completion(d, "f", {"n": 5}, tasks={"A": {"go": 1}})
    assert sim.task_names() == ["A", "B"]


def test_raising_predicate_is_a_traced_false_condition() -> None:
    d = make_dispatcher(
        {"f": {"edges": [edge(None, "A"), edge("A", "B", condition={"name": "boom"})]}}
    )
    sim = run_to_completion(d, "f")
    assert sim.status == "succeeded"
    assert sim.task_names() == ["A"]
    (err,) = _names(sim, TraceName.CONDITION_ERROR)
    assert "boom" in err["what"]
    assert _names(sim, TraceName.EDGE_COND_FALSE)


class _NoStore(DictResults):
    """A results port that loses every result."""

    def store(self, task_id: str, result: Any) -> None:
        del task_id, result


def test_missing_result_is_a_traced_false_condition() -> None:
    flows = {"f": {"edges": [edge(None, "A"), edge("A", "B", condition={"name": "isDict"})]}}
    sim = run_to_completion(make_dispatcher(flows), "f", tasks={"A": {"k": 1}}, results=_NoStore())
    assert sim.task_names() == ["A"]
    (err,) = _names(sim, TraceName.CONDITION_ERROR)
    assert "no result" in err["what"]
    ok = run_to_completion(make_dispatcher(flows), "f", tasks={"A": {"k": 1}})
    assert ok.task_names() == ["A", "B"]


# --------------------------------------------------------------------------- §5.5 foreach


def test_foreach_items_from_parent_and_propagate_result() -> None:
    d = make_dispatcher(
        {
            "f": {
                "edges": [
                    edge(None, "T1"),
                    edge(
                        "T1",
                        "sub",
                        foreach={"import": FN, "function": "from_parent", "propagate_result": True},
                    ),
                ]
            },
            "sub": {"edges": [edge(None, "S1")]},
        }
    )
    sim = run_to_completion(d, "f", tasks={"T1": ["a", "b"]})
    assert [s.node_args for s in sim.subflows] == ["a", "b"]
    assert sim.count("S1") == 2
    (res,) = _names(sim, TraceName.FOREACH_RESULT)
    assert res["result"] == ["a", "b"]
    assert res["foreach_str"] == f"{FN}.from_parent"


def test_foreach_empty_starts_nothing_and_error_fails_flow() -> None:
    d = make_dispatcher(
        {"f": {"edges": [edge(None, "A", foreach={"import": FN, "function": "from_args"})]}}
    )
    assert run_to_completion(d, "f", {"items": []}).task_names() == []
    d2 = make_dispatcher(
        {
            "f": {
                "edges": [
                    edge(None, "A"),
                    edge("A", "B", foreach={"import": FN, "function": "broken"}),
                ]
            }
        }
    )
    sim = run_to_completion(d2, "f")
    assert sim.status == "failed"
    assert _names(sim, TraceName.FOREACH_ERROR)[0]["what"].startswith("RuntimeError")


# --------------------------------------------------------------------------- §5.6 fallbacks


def test_fallback_is_greedy() -> None:
    flows = {
        "f": {
            "edges": [edge(None, ["T1", "T2"])],
            "failures": [
                {"nodes": "T1", "fallback": "F1"},
                {"nodes": "T2", "fallback": "F2"},
                {"nodes": ["T1", "T2"], "fallback": "F12"},
            ],
        }
    }
    both = run_to_completion(make_dispatcher(flows), "f", fail=("T1", "T2"))
    assert both.status == "succeeded"
    assert both.task_names() == ["T1", "T2", "F12"]
    fb = both.runs[-1]
    assert fb.parent == {"T1": "flow.0", "T2": "flow.1"}  # issue #151 fixed
    summary = both.finishes[-1].summary  # §5.7: handled failures are gone, fallbacks finished
    assert summary["failed_nodes"] == {}
    assert summary["finished_nodes"]["F12"] == [fb.task_id]
    one = run_to_completion(make_dispatcher(flows), "f", fail=("T1",))
    assert one.task_names() == ["T1", "T2", "F1"]
    assert one.runs[-1].parent == {"T1": "flow.0"}


def test_independent_fallbacks_in_lexical_order_and_once_per_instance() -> None:
    flows = {
        "f": {
            "edges": [edge(None, ["B", "A", "A"])],
            "failures": [{"nodes": "B", "fallback": "FB"}, {"nodes": "A", "fallback": "FA"}],
        }
    }
    sim = run_to_completion(make_dispatcher(flows), "f", fail=("A", "B"))
    assert sim.status == "succeeded"
    assert sim.task_names()[3:] == ["FA", "FA", "FB"]
    starts = _names(sim, TraceName.FALLBACK_START)
    assert [s["nodes"] for s in starts] == [
        [{"name": "A", "id": "flow.1"}],
        [{"name": "A", "id": "flow.2"}],
        [{"name": "B", "id": "flow.0"}],
    ]


def test_fallbacks_wait_until_nothing_is_active() -> None:
    flows = {
        "f": {
            "edges": [edge(None, ["A", "B"]), edge("B", "C")],
            "failures": [{"nodes": "A", "fallback": "F"}],
        }
    }
    sim = run_to_completion(make_dispatcher(flows), "f", fail=("A",))
    assert sim.task_names() == ["A", "B", "C", "F"]


def test_fallback_on_subflow_and_subflow_fallback() -> None:
    flows = {
        "f": {
            "edges": [edge(None, "sub")],
            "failures": [{"nodes": "sub", "fallback": "rescue"}],
        },
        "sub": {"edges": [edge(None, "A")]},
        "rescue": {"edges": [edge(None, "R")]},
    }
    sim = run_to_completion(make_dispatcher(flows), "f", fail=("A",))
    assert sim.status == "succeeded"
    assert sim.task_names() == ["A", "R"]
    assert [f.status for f in sim.finishes] == ["failed", "succeeded", "succeeded"]


def test_failure_condition_reads_flow_args_only() -> None:
    flows = {
        "f": {
            "edges": [edge(None, "A")],
            "failures": [
                {
                    "nodes": "A",
                    "fallback": "F",
                    "condition": {"name": "argsFieldLess", "args": {"key": "n", "value": 3}},
                },
                {"nodes": "A", "fallback": "G", "condition": {"name": "isDict", "node": "A"}},
            ],
        }
    }
    sim = run_to_completion(make_dispatcher(flows), "f", {"n": 1}, fail=("A",))
    assert sim.task_names() == ["A", "F"]
    assert _names(sim, TraceName.CONDITION_ERROR)
    assert [t for t in sim.trace_names() if t.startswith("FALLBACK_COND")] == [
        "FALLBACK_COND_TRUE",
        "FALLBACK_COND_FALSE",
    ]


def test_nowait_fallback_stops_the_search() -> None:
    flows = {
        "f": {
            "edges": [edge(None, ["A", "B"])],
            "nowait": ["F"],
            "failures": [{"nodes": "A", "fallback": "F"}, {"nodes": "B", "fallback": "G"}],
        }
    }
    sim = run_to_completion(make_dispatcher(flows), "f", fail=("A", "B"))
    assert sim.task_names() == ["A", "B", "F"]
    assert sim.status == "failed"


# --------------------------------------------------------------------------- §5.8 eager


@pytest.mark.parametrize("eager", [["A"], True])
def test_eager_failure_fails_at_once(eager: Any) -> None:
    flows = {"f": {"edges": [edge(None, ["A", "B"]), edge("B", "C")], "eager_failures": eager}}
    sim = run_to_completion(make_dispatcher(flows), "f", fail=("A",))
    assert sim.status == "failed"
    assert sim.task_names() == ["A", "B"]  # C never starts; B's late success is ignored
    assert "EAGER_FAILURE" in sim.trace_names()
    assert sim.trace_names().count("EVENT_IGNORED") == 1
    (finish,) = sim.finishes
    assert finish.summary["failed_nodes"] == {"A": ["flow.0"]}


def test_eager_failure_still_retries_the_flow() -> None:
    flows = {"f": {"edges": [edge(None, "A")], "eager_failures": "A", "max_retry": 1}}
    sim = run_to_completion(make_dispatcher(flows), "f", fail=("A",))
    assert sim.count("A") == 2
    assert sim.status == "failed"


# --------------------------------------------------------------------------- §5.10 retry


def test_flow_retry_restarts_from_scratch_with_new_ids() -> None:
    flows = {"f": {"edges": [edge(None, ["A", "B"])], "max_retry": 2, "retry_countdown": 10}}
    sim = run_to_completion(make_dispatcher(flows), "f", {"k": 1}, fail=("A",))
    assert sim.count("A") == 3
    assert [r.task_id for r in sim.runs] == [f"flow.{i}" for i in range(6)]
    retries = [a for s in sim.steps for a in s.actions if isinstance(a, RetryFlow)]
    assert [r.retried_count for r in retries] == [1, 2]
    assert all(r.at >= 10 for r in retries)
    assert sim.trace_names().count("FLOW_RETRY") == 2
    failures = _names(sim, TraceName.FLOW_FAILURE)
    assert [f["will_retry"] for f in failures] == [True, True, False]
    assert sim.status == "failed"
    assert all(r.node_args == {"k": 1} for r in sim.runs)


def test_flow_retry_then_success() -> None:
    flows = {"f": {"edges": [edge(None, "A")], "max_retry": 1}}
    attempts = {"n": 0}

    def flaky(_run: Any) -> int:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise RuntimeError("first time")
        return 1

    sim = run_to_completion(make_dispatcher(flows), "f", tasks={"A": flaky})
    assert sim.status == "succeeded"
    assert sim.top.retried_count == 1


# --------------------------------------------------------------------------- §5.11 sub-flows


def _nested_flows(flag: str) -> dict[str, Any]:
    return {
        "f": {
            "edges": [edge(None, ["T1", "flow2"]), edge(["T1", "flow2"], "T5")],
            flag: True,
        },
        "flow2": {"edges": [edge(None, ["T2", "T3"]), edge("T3", "flow3")]},
        "flow3": {"edges": [edge(None, ["T2", "T4"])]},
    }


def test_propagate_finished_nested() -> None:
    sim = run_to_completion(make_dispatcher(_nested_flows("propagate_finished")), "f")
    last = sim.runs[-1]
    assert last.task_name == "T5"
    assert last.parent == {
        "T1": "flow.0",
        "flow2": {
            "T2": ["flow.1.0"],
            "T3": ["flow.1.1"],
            "flow3": {"T2": ["flow.1.2.0"], "T4": ["flow.1.2.1"]},
        },
    }


def test_propagate_compound_finished_flattened() -> None:
    sim = run_to_completion(make_dispatcher(_nested_flows("propagate_compound_finished")), "f")
    parent = sim.runs[-1].parent
    assert parent["T1"] == "flow.0"
    assert sorted(parent["flow2"]) == ["T2", "T3", "T4"]
    assert sorted(parent["flow2"]["T2"]) == ["flow.1.0", "flow.1.2.0"]


def test_subflow_without_flags_contributes_nothing() -> None:
    sim = run_to_completion(make_dispatcher(_nested_flows("propagate_parent")), "f")
    assert sim.runs[-1].parent == {"T1": "flow.0"}


def test_propagate_node_args_and_parent_by_name() -> None:
    flows = {
        "f": {
            "edges": [edge(None, "T1"), edge("T1", ["s1", "s2"])],
            "propagate_node_args": "s1",
            "propagate_parent": ["s2"],
        },
        "s1": {"edges": [edge(None, "A")]},
        "s2": {"edges": [edge(None, "B")]},
    }
    sim = run_to_completion(make_dispatcher(flows), "f", {"x": 1})
    s1, s2 = sim.subflows
    assert (s1.node_args, s1.parent) == ({"x": 1}, None)
    assert (s2.node_args, s2.parent) == (None, {"T1": "flow.0"})
    runs = {r.task_name: r for r in sim.runs}
    assert runs["A"].node_args == {"x": 1}
    assert runs["B"].parent == {"T1": "flow.0"}


def test_condition_on_subflow_task_result() -> None:
    flows = {
        "f": {
            "edges": [
                edge(None, "flow2"),
                edge(
                    "flow2",
                    "Next",
                    condition={
                        "name": "fieldEqual",
                        "node": "flow2/flow3/T4",
                        "args": {"key": "v", "value": 2},
                    },
                ),
                edge(
                    "flow2",
                    "Never",
                    condition={
                        "name": "fieldEqual",
                        "node": "flow2/T9",
                        "args": {"key": "v", "value": 2},
                    },
                ),
            ]
        },
        "flow2": {"edges": [edge(None, "flow3")]},
        "flow3": {"edges": [edge(None, "T4")]},
    }
    sim = run_to_completion(make_dispatcher(flows), "f", tasks={"T4": {"v": 2}})
    assert sim.task_names() == ["T4", "Next"]
    assert _names(sim, TraceName.CONDITION_ERROR)[0]["condition"].startswith("fieldEqual")


def test_recursive_subflow() -> None:
    flows = {
        "f": {
            "edges": [
                edge(None, "T"),
                edge("T", "f", condition={"name": "counterBelow", "args": {"limit": 2}}),
            ]
        }
    }
    depth = {"n": 0}

    def t(_run: Any) -> int:
        depth["n"] += 1
        return depth["n"]

    sim = run_to_completion(make_dispatcher(flows), "f", tasks={"T": t})
    assert sim.status == "succeeded"
    assert sim.count("T") == 2
    assert [f.flow_id for f in sim.finishes] == ["flow.1", "flow"]


# --------------------------------------------------------------------------- §5.9, §5.12, §5.13


def test_nowait_subflow_is_not_awaited() -> None:
    flows = {
        "f": {"edges": [edge(None, ["A", "sub"])], "nowait": "sub"},
        "sub": {"edges": [edge(None, "B")]},
    }
    sim = run_to_completion(make_dispatcher(flows), "f")
    assert sim.subflows[0].nowait is True
    assert sim.finishes[0].flow_id == "flow"
    child = sim.finishes[1]
    assert (child.flow_id, child.parent_flow_id, child.report_to_parent) == (
        "flow.1",
        "flow",
        False,
    )
    assert sim.states["flow.1"].report_to_parent is False
    assert "EVENT_IGNORED" not in sim.trace_names()  # the child never reports to the parent


def test_node_args_from_first_when_the_first_task_fails() -> None:
    flows = {
        "f": {
            "edges": [edge(None, "T1"), edge("T1", "T2")],
            "node_args_from_first": True,
            "failures": [{"nodes": "T1", "fallback": "F"}],
        },
        "F2": {"edges": [edge(None, "X")]},
    }
    sim = run_to_completion(make_dispatcher(flows), "f", {"orig": 1}, fail=("T1",))
    assert [(r.task_name, r.node_args) for r in sim.runs] == [
        ("T1", {"orig": 1}),
        ("F", {"orig": 1}),
    ]
    assert sim.top.node_args == {"orig": 1}


def test_node_args_from_first() -> None:
    flows = {
        "f": {
            "edges": [edge(None, "T1"), edge("T1", ["T2", "sub"])],
            "node_args_from_first": True,
            "propagate_node_args": True,
        },
        "sub": {"edges": [edge(None, "S")]},
    }
    sim = run_to_completion(make_dispatcher(flows), "f", {"orig": 1}, tasks={"T1": {"new": 2}})
    runs = {r.task_name: r.node_args for r in sim.runs}
    assert runs == {"T1": {"orig": 1}, "T2": {"new": 2}, "S": {"new": 2}}


def test_throttle_and_queues_on_actions() -> None:
    flows = {
        "f": {"edges": [edge(None, ["A", "sub"])]},
        "sub": {"edges": [edge(None, "B")], "queue": "subq", "throttling": {"seconds": 3}},
    }
    d = make_dispatcher(flows, tasks={"A": {"queue": "qa", "throttling": {"minutes": 1}}})
    sim = run_to_completion(d, "f")
    a = sim.runs[0]
    assert (a.queue, a.throttle_s) == ("qa", 60.0)
    assert (sim.subflows[0].queue, sim.subflows[0].throttle_s) == ("subq", 3.0)
    assert sim.runs[1].throttle_s is None


def test_finish_flow_summary_lists_subflows() -> None:
    flows = {"f": {"edges": [edge(None, "sub")]}, "sub": {"edges": [edge(None, "B")]}}
    sim = run_to_completion(make_dispatcher(flows), "f")
    top = next(f for f in sim.finishes if f.flow_id == "flow")
    assert isinstance(top, FinishFlow)
    assert top.summary["subflows"]["flow.0"]["finished_nodes"] == {"B": ["flow.0.0"]}
    assert top.parent_flow_id is None


def test_trace_order_of_the_reference_demo_flow() -> None:
    """The demo flow of reference §6 traces the same dispatcher events in the same order."""
    flows = {
        "f": {
            "edges": [
                edge(None, ["Task1", "FailingTask"]),
                edge(
                    "Task1",
                    "Task2",
                    condition={"name": "fieldEqual", "args": {"key": "ok", "value": True}},
                ),
                edge(
                    "Task1",
                    "Task3",
                    condition={"name": "fieldEqual", "args": {"key": "ok", "value": False}},
                ),
            ],
            "failures": [{"nodes": "FailingTask", "fallback": "Fallback1"}],
        }
    }
    sim = run_to_completion(
        make_dispatcher(flows), "f", tasks={"Task1": {"ok": True}}, fail=("FailingTask",)
    )
    seen = [
        (t.name.value, t.details.get("task_name") or t.details.get("node_name") or "")
        for t in sim.trace
    ]
    assert seen == [
        ("FLOW_START", ""),
        ("TASK_SCHEDULE", "Task1"),
        ("TASK_SCHEDULE", "FailingTask"),
        ("NODE_SUCCESSFUL", "Task1"),
        ("TASK_SCHEDULE", "Task2"),
        ("EDGE_COND_FALSE", ""),
        ("NODE_FAILURE", "FailingTask"),
        ("NODE_SUCCESSFUL", "Task2"),
        ("FALLBACK_COND_TRUE", ""),
        ("FALLBACK_START", ""),
        ("TASK_SCHEDULE", "Fallback1"),
        ("NODE_SUCCESSFUL", "Fallback1"),
        ("FLOW_END", ""),
    ]
    assert sim.runs[-1].parent == {"FailingTask": "flow.1"}
