"""Selective-run planning: the docs' examples, the edge cases, and properties on random flows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selinon_core.config.graph import graphs_of
from selinon_core.config.spec import SystemSpec
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.dispatch.selective import plan_for_edge, plan_selective_run
from selinon_core.errors import RequestError, SelectiveNoPathError, UnknownFlowError

Flows = dict[str, list[dict[str, Any]]]


def make_spec(flows: Flows) -> SystemSpec:
    """A system whose tasks are every node name used in ``flows`` that is not a flow."""
    tasks: set[str] = set()
    for edges in flows.values():
        for edge in edges:
            for key in ("from", "to"):
                value = edge.get(key) or []
                tasks.update([value] if isinstance(value, str) else value)
    tasks -= flows.keys()
    return SystemSpec.model_validate(
        {
            "tasks": [{"name": t, "import": "mod"} for t in sorted(tasks)],
            "flows": {name: {"name": name, "edges": edges} for name, edges in flows.items()},
        }
    )


# The example of Selinon's "Selective task run" documentation.
DOCS: Flows = {
    "selective_flow1": [
        {"from": None, "to": "Task1"},
        {"from": "Task1", "to": ["Task2", "Task3"]},
    ],
    "selective_flow2": [
        {"from": None, "to": "Task4"},
        {
            "from": "Task4",
            "to": "selective_flow1",
            "selective": {"tasks": ["Task2"], "follow_subflows": False, "run_subsequent": False},
        },
    ],
}


@pytest.fixture
def docs() -> SystemSpec:
    return make_spec(DOCS)


def test_docs_run_only_task2(docs: SystemSpec) -> None:
    plan = plan_selective_run(docs, "selective_flow1", ["Task2"])
    assert plan == SelectivePlan(
        task_names=("Task2",),
        edges={"selective_flow1": {0: ("Task1",), 1: ("Task2",)}},
    )
    assert plan.allowed("selective_flow1", 1) == ("Task2",)
    assert plan.allowed("selective_flow1", 2) is None


def test_docs_task_in_subflow_needs_follow_subflows(docs: SystemSpec) -> None:
    with pytest.raises(
        SelectiveNoPathError, match=r"^No path to node 'Task2' found in flow 'selective_flow2'$"
    ):
        plan_selective_run(docs, "selective_flow2", ["Task2"])


def test_docs_follow_subflows(docs: SystemSpec) -> None:
    plan = plan_selective_run(docs, "selective_flow2", ["Task2"], follow_subflows=True)
    assert plan.follow_subflows
    assert plan.edges == {
        "selective_flow1": {0: ("Task1",), 1: ("Task2",)},
        "selective_flow2": {0: ("Task4",), 1: ("selective_flow1",)},
    }


def test_docs_yaml_selective_edge(docs: SystemSpec) -> None:
    edge = docs.flows["selective_flow2"].edges[1]
    assert edge.selective is not None
    plan = plan_for_edge(docs, edge.selective, edge.to[0])
    assert plan == plan_selective_run(docs, "selective_flow1", ["Task2"])


def test_yaml_selective_edge_options_are_passed_on(docs: SystemSpec) -> None:
    edge = (
        SystemSpec.model_validate(
            {
                "tasks": [{"name": "T", "import": "m"}],
                "flows": {
                    "x": {
                        "name": "x",
                        "edges": [
                            {
                                "from": None,
                                "to": "selective_flow2",
                                "selective": {
                                    "tasks": "Task2",
                                    "follow_subflows": True,
                                    "run_subsequent": ["selective_flow1"],
                                },
                            }
                        ],
                    }
                },
            }
        )
        .flows["x"]
        .edges[0]
    )
    assert edge.selective is not None
    plan = plan_for_edge(docs, edge.selective, "selective_flow2")
    assert plan.follow_subflows
    assert plan.run_subsequent
    # Subsequent of Task2 in selective_flow1: nothing follows Task2.
    assert plan.edges["selective_flow1"] == {0: ("Task1",), 1: ("Task2",)}


@pytest.mark.parametrize(
    ("flows", "flow", "tasks", "expected"),
    [
        pytest.param(
            {
                "f": [
                    {"from": None, "to": "A"},
                    {"from": "A", "to": ["B", "C", "X"]},
                    {"from": "B", "to": "D"},
                    {"from": "C", "to": "D"},
                    {"from": "X", "to": "Y"},
                ]
            },
            "f",
            ["D"],
            {"f": {0: ("A",), 1: ("B", "C"), 2: ("D",), 3: ("D",)}},
            id="all-paths-merged",
        ),
        pytest.param(
            {
                "f": [
                    {"from": None, "to": "T1"},
                    {"from": "T1", "to": ["T2", "T3"]},
                    {"from": "T2", "to": "T1"},
                ]
            },
            "f",
            ["T2"],
            {"f": {0: ("T1",), 1: ("T2",), 2: ("T1",)}},
            id="cycle-leading-to-target-included",
        ),
        pytest.param(
            {
                "f": [
                    {"from": None, "to": "A"},
                    {"from": [], "to": "B"},
                    {"from": ["A", "B"], "to": ["C", "C", "D"]},
                ]
            },
            "f",
            ["C"],
            {"f": {0: ("A",), 1: ("B",), 2: ("C",)}},
            id="multi-source-and-repeated-destination",
        ),
        pytest.param(
            {
                "f": [
                    {"from": None, "to": "A"},
                    {"from": "A", "to": ["B", "C"]},
                    {"from": "C", "to": "D"},
                ]
            },
            "f",
            ["B", "D", "B"],
            {"f": {0: ("A",), 1: ("B", "C"), 2: ("D",)}},
            id="several-tasks",
        ),
        pytest.param(
            {
                "f": [
                    {"from": None, "to": "A"},
                    {"from": ["A", "Ghost"], "to": "B"},
                    {"from": "A", "to": "B"},
                ],
                "Ghost": [{"from": None, "to": "G"}],
            },
            "f",
            ["B"],
            {"f": {0: ("A",), 2: ("B",)}},
            id="edge-that-cannot-fire-left-out",
        ),
        pytest.param(
            {
                "f": [{"from": None, "to": "sub"}, {"from": "sub", "to": "T"}],
                "sub": [{"from": None, "to": "S"}],
            },
            "f",
            ["T"],
            {"f": {0: ("sub",), 1: ("T",)}},
            id="prerequisite-subflow-has-no-entry",
        ),
        pytest.param(
            {
                "f": [{"from": None, "to": "A"}, {"from": "A", "to": ["sub", "B"]}],
                "sub": [{"from": None, "to": "S"}],
            },
            "f",
            ["sub"],
            {"f": {0: ("A",), 1: ("sub",)}},
            id="subflow-requested-by-name",
        ),
    ],
)
def test_backward_planning(
    flows: Flows, flow: str, tasks: list[str], expected: dict[str, dict[int, tuple[str, ...]]]
) -> None:
    plan = plan_selective_run(make_spec(flows), flow, tasks)
    assert plan.edges == expected
    assert plan.task_names == tuple(dict.fromkeys(tasks))


def test_prerequisite_subflow_runs_in_full_even_with_follow_subflows() -> None:
    spec = make_spec(
        {
            "f": [{"from": None, "to": "pre"}, {"from": "pre", "to": "T"}],
            "pre": [{"from": None, "to": "S"}],
        }
    )
    plan = plan_selective_run(spec, "f", ["T"], follow_subflows=True)
    assert plan.edges == {"f": {0: ("pre",), 1: ("T",)}}
    assert not plan.plans_flow("pre")


NESTED: Flows = {
    "top": [
        {"from": None, "to": "A"},
        {"from": "A", "to": ["middle", "Other"]},
        {"from": "middle", "to": "Z"},
    ],
    "middle": [
        {"from": None, "to": ["bottom", "M"]},
        {"from": "bottom", "to": "N"},
    ],
    "bottom": [{"from": None, "to": "B"}, {"from": "B", "to": ["C", "D"]}],
}


@pytest.fixture
def nested() -> SystemSpec:
    return make_spec(NESTED)


def test_follow_subflows_transitively(nested: SystemSpec) -> None:
    plan = plan_selective_run(nested, "top", ["C"], follow_subflows=True)
    assert plan.edges == {
        "bottom": {0: ("B",), 1: ("C",)},
        "middle": {0: ("bottom",)},
        "top": {0: ("A",), 1: ("middle",)},
    }


def test_follow_subflows_task_in_flow_and_subflow() -> None:
    spec = make_spec(
        {
            "f": [{"from": None, "to": ["T", "sub", "U"]}],
            "sub": [{"from": None, "to": "T"}],
        }
    )
    plan = plan_selective_run(spec, "f", ["T"], follow_subflows=True)
    assert plan.edges == {"f": {0: ("T", "sub")}, "sub": {0: ("T",)}}


def test_follow_subflows_recursive_flow_does_not_plan_itself() -> None:
    spec = make_spec({"rec": [{"from": None, "to": "R"}, {"from": "R", "to": "rec"}]})
    plan = plan_selective_run(spec, "rec", ["R"], follow_subflows=True)
    assert plan.edges == {"rec": {0: ("R",)}}


def test_follow_subflows_mutual_recursion() -> None:
    spec = make_spec(
        {
            "ping": [{"from": None, "to": "P"}, {"from": "P", "to": "pong"}],
            "pong": [{"from": None, "to": "Q"}, {"from": "Q", "to": "ping"}],
        }
    )
    plan = plan_selective_run(spec, "ping", ["Q"], follow_subflows=True)
    assert plan.edges == {"ping": {0: ("P",), 1: ("pong",)}, "pong": {0: ("Q",)}}


@pytest.mark.parametrize(
    ("run_subsequent", "expected"),
    [
        pytest.param(
            False,
            {
                "bottom": {0: ("B",)},
                "middle": {0: ("bottom",)},
                "top": {0: ("A",), 1: ("middle",)},
            },
            id="none",
        ),
        pytest.param(
            True,
            {
                "bottom": {0: ("B",), 1: ("C", "D")},
                "middle": {0: ("bottom",), 1: ("N",)},
                "top": {0: ("A",), 1: ("middle",), 2: ("Z",)},
            },
            id="all-planned-flows",
        ),
        pytest.param(
            ["bottom", "top"],
            {
                "bottom": {0: ("B",), 1: ("C", "D")},
                "middle": {0: ("bottom",)},
                "top": {0: ("A",), 1: ("middle",), 2: ("Z",)},
            },
            id="listed-flows-only",
        ),
        pytest.param(
            "middle",
            {
                "bottom": {0: ("B",)},
                "middle": {0: ("bottom",), 1: ("N",)},
                "top": {0: ("A",), 1: ("middle",)},
            },
            id="one-flow-as-string",
        ),
    ],
)
def test_run_subsequent_with_subflows(
    nested: SystemSpec,
    run_subsequent: bool | list[str] | str,
    expected: dict[str, dict[int, tuple[str, ...]]],
) -> None:
    plan = plan_selective_run(
        nested, "top", ["B"], follow_subflows=True, run_subsequent=run_subsequent
    )
    assert plan.edges == expected
    assert plan.run_subsequent is bool(run_subsequent)


def test_run_subsequent_cycle_starts_all_destinations() -> None:
    # T1 -> T2 -> T1 is a cycle; running what follows T2 reaches T1 again, and T1's edge
    # then starts all its destinations, T3 included.
    spec = make_spec(
        {
            "f": [
                {"from": None, "to": "T1"},
                {"from": "T1", "to": ["T2", "T3"]},
                {"from": "T2", "to": "T1"},
            ]
        }
    )
    plan = plan_selective_run(spec, "f", ["T2"], run_subsequent=True)
    assert plan.edges == {"f": {0: ("T1",), 1: ("T2", "T3"), 2: ("T1",)}}


def test_run_subsequent_skips_starting_edges_and_unplanned_sources() -> None:
    spec = make_spec(
        {
            "f": [
                {"from": None, "to": "A"},
                {"from": None, "to": "X"},
                {"from": "A", "to": "B"},
                {"from": "B", "to": "C"},
                {"from": ["C", "X"], "to": "D"},
                {"from": ["C", "B"], "to": "E"},
            ]
        }
    )
    plan = plan_selective_run(spec, "f", ["B"], run_subsequent=True)
    assert plan.edges == {"f": {0: ("A",), 2: ("B",), 3: ("C",), 5: ("E",)}}


def test_run_subsequent_unknown_flow(nested: SystemSpec) -> None:
    with pytest.raises(UnknownFlowError, match="run_subsequent names unknown flows: nope"):
        plan_selective_run(nested, "top", ["A"], run_subsequent=["nope", "top"])


@pytest.mark.parametrize(
    ("flows", "task", "follow"),
    [
        pytest.param(NESTED, "Nowhere", True, id="unknown-task"),
        pytest.param(
            {"f": [{"from": None, "to": "A"}, {"from": "B", "to": "C"}, {"from": "C", "to": "B"}]},
            "C",
            False,
            id="unreachable-cycle",
        ),
        pytest.param(
            {
                "f": [{"from": None, "to": "A"}, {"from": "A", "to": "B"}],
                "g": [{"from": None, "to": "sub"}],
                "sub": [{"from": None, "to": "S"}],
            },
            "S",
            True,
            id="subflow-not-started-by-flow",
        ),
    ],
)
def test_no_path(flows: Flows, task: str, follow: bool) -> None:
    flow = next(iter(flows))
    message = f"^No path to node '{task}' found in flow '{flow}'$"
    with pytest.raises(SelectiveNoPathError, match=message):
        plan_selective_run(make_spec(flows), flow, [task], follow_subflows=follow)


def test_request_errors(nested: SystemSpec) -> None:
    with pytest.raises(UnknownFlowError, match="'nope'"):
        plan_selective_run(nested, "nope", ["A"])
    with pytest.raises(RequestError, match="at least one task"):
        plan_selective_run(nested, "top", [])


def test_single_name_as_string(nested: SystemSpec) -> None:
    assert plan_selective_run(nested, "top", "A").task_names == ("A",)


def test_plan_round_trips_through_dict(nested: SystemSpec) -> None:
    plan = plan_selective_run(nested, "top", ["C", "Z"], follow_subflows=True, run_subsequent=True)
    data = plan.to_dict()
    assert data["edges"]["top"]["1"] == ["middle"]
    assert SelectivePlan.from_dict(data) == plan


def test_docs_examples_run() -> None:
    """The Python examples of docs/selective.md run and their assertions hold."""
    text = (Path(__file__).parents[2] / "docs" / "selective.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/selective.md", "exec"), {})


# ---------------------------------------------------------------------- properties

NAMES = [f"T{i}" for i in range(7)]


@st.composite
def random_flows(draw: st.DrawFn) -> SystemSpec:
    """A flow over a few tasks: random starting and ordinary edges, cycles allowed."""
    edges: list[dict[str, Any]] = [
        {"from": None, "to": draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=2))}
    ]
    for _ in range(draw(st.integers(0, 9))):
        sources = draw(st.lists(st.sampled_from(NAMES), min_size=0, max_size=2, unique=True))
        dests = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3))
        edges.append({"from": sources or None, "to": dests})
    return make_spec({"f": edges})


def simulate(spec: SystemSpec, plan: SelectivePlan) -> set[str]:
    """Nodes a run following ``plan`` starts when every condition is true."""
    flow = spec.flows["f"]
    started: set[str] = set()
    fired: set[int] = set()
    changed = True
    while changed:
        changed = False
        for index, edge in enumerate(flow.edges):
            allowed = plan.allowed("f", index)
            if index in fired or allowed is None or not started.issuperset(edge.from_):
                continue
            fired.add(index)
            started.update(allowed)
            changed = True
    return started


@settings(max_examples=150, deadline=None)
@given(spec=random_flows(), data=st.data())
def test_plan_reaches_targets_through_fireable_edges_only(spec: SystemSpec, data: Any) -> None:
    graph = graphs_of(spec)["f"]
    candidates = sorted(graph.reachable_nodes)
    targets = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=2))
    plan = plan_selective_run(spec, "f", targets)
    planned = plan.edges["f"]
    assert set(planned) <= graph.fireable_edges
    on_path = set(targets).union(*(graph.ancestors(t) for t in targets))
    for index, dests in planned.items():
        assert set(dests) <= on_path
        assert set(dests) <= set(graph.edge(index).to)
    assert set(targets) <= simulate(spec, plan)

    with_subsequent = plan_selective_run(spec, "f", targets, run_subsequent=True).edges["f"]
    for index, dests in planned.items():
        assert set(dests) <= set(with_subsequent[index])


@settings(max_examples=100, deadline=None)
@given(spec=random_flows(), target=st.sampled_from(NAMES))
def test_unreachable_targets_raise(spec: SystemSpec, target: str) -> None:
    graph = graphs_of(spec)["f"]
    if target in graph.reachable_nodes:
        planned = plan_selective_run(spec, "f", [target]).edges["f"]
        assert any(target in dests for dests in planned.values())
    else:
        with pytest.raises(SelectiveNoPathError):
            plan_selective_run(spec, "f", [target])
