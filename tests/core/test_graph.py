"""FlowGraph and the system-level graph queries."""

from __future__ import annotations

import gc
from typing import Any

import networkx as nx
import pytest

from selinon_core.config.graph import (
    START,
    FlowGraph,
    flow_dependencies,
    flows_containing,
    graphs_of,
    recursive_flows,
    subflows_of,
)
from selinon_core.config.spec import SystemSpec
from selinon_core.errors import UnknownFlowError, UnknownNodeError

Flows = dict[str, list[dict[str, Any]]]


def make_spec(flows: Flows, **extra: dict[str, Any]) -> SystemSpec:
    """A system whose tasks are every capitalised node name used in ``flows``."""
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
            "flows": {
                name: {"name": name, "edges": edges, **extra.get(name, {})}
                for name, edges in flows.items()
            },
        }
    )


CYCLIC: Flows = {
    "f1": [
        {"from": None, "to": "T1"},
        {"from": "T1", "to": ["T2", "T3"]},
        {"from": "T2", "to": "T1"},
        {"from": ["T3", "T2"], "to": ["T4", "T4"]},
    ],
}


@pytest.fixture
def cyclic() -> FlowGraph:
    return FlowGraph.from_spec(make_spec(CYCLIC), "f1")


def test_projection_has_one_edge_per_source_destination_index(cyclic: FlowGraph) -> None:
    edges = sorted(cyclic.digraph.edges(keys=True))
    assert edges == [
        (START, "T1", 0),
        ("T1", "T2", 1),
        ("T1", "T3", 1),
        ("T2", "T1", 2),
        ("T2", "T4", 3),
        ("T3", "T4", 3),
    ]


def test_graph_is_frozen(cyclic: FlowGraph) -> None:
    with pytest.raises(nx.NetworkXError):
        cyclic.digraph.add_edge("X", "Y")


def test_accessors(cyclic: FlowGraph) -> None:
    assert cyclic.name == "f1"
    assert cyclic.flow.name == "f1"
    assert cyclic.nodes == {"T1", "T2", "T3", "T4"}
    assert cyclic.starting_edges == (0,)
    assert cyclic.edge(3).to == ("T4", "T4")
    assert cyclic.subflows == frozenset()
    assert "T1" in cyclic
    assert START not in cyclic
    assert "Nope" not in cyclic
    assert repr(cyclic) == "FlowGraph('f1', nodes=4, edges=4)"


@pytest.mark.parametrize(
    ("node", "to", "from_"),
    [
        ("T1", (0, 2), (1,)),
        ("T2", (1,), (2, 3)),
        ("T4", (3,), ()),
        ("Unknown", (), ()),
        (START, (), ()),
    ],
)
def test_edges_to_and_from(
    cyclic: FlowGraph, node: str, to: tuple[int, ...], from_: tuple[int, ...]
) -> None:
    assert cyclic.edges_to(node) == to
    assert cyclic.edges_from(node) == from_


NEIGHBOURHOOD = {
    # node: (predecessors, successors, ancestors, descendants)
    "T1": ({"T2"}, {"T2", "T3"}, {"T1", "T2"}, {"T1", "T2", "T3", "T4"}),
    "T2": ({"T1"}, {"T1", "T4"}, {"T1", "T2"}, {"T1", "T2", "T3", "T4"}),
    "T3": ({"T1"}, {"T4"}, {"T1", "T2"}, {"T4"}),
    "T4": ({"T2", "T3"}, set(), {"T1", "T2", "T3"}, set()),
}


@pytest.mark.parametrize(("node", "expected"), NEIGHBOURHOOD.items())
def test_neighbourhood(cyclic: FlowGraph, node: str, expected: tuple[set[str], ...]) -> None:
    found = tuple(
        set(query(node))
        for query in (cyclic.predecessors, cyclic.successors, cyclic.ancestors, cyclic.descendants)
    )
    assert found == expected


@pytest.mark.parametrize(
    "query", ["predecessors", "successors", "ancestors", "descendants", "in_cycle"]
)
def test_unknown_node_is_an_error(cyclic: FlowGraph, query: str) -> None:
    if query == "in_cycle":
        assert cyclic.in_cycle("Nope") is False
        return
    with pytest.raises(UnknownNodeError, match="'Nope' is not used in flow 'f1'"):
        getattr(cyclic, query)("Nope")


def test_has_path(cyclic: FlowGraph) -> None:
    assert cyclic.has_path("T1", "T4")
    assert cyclic.has_path("T1", "T1")
    assert not cyclic.has_path("T4", "T1")
    assert not cyclic.has_path("T3", "T3")
    with pytest.raises(UnknownNodeError):
        cyclic.has_path("T1", "Nope")


def test_cycles(cyclic: FlowGraph) -> None:
    assert cyclic.is_cyclic
    assert cyclic.cyclic_nodes == {"T1", "T2"}
    assert cyclic.in_cycle("T1")
    assert not cyclic.in_cycle("T4")
    assert cyclic.cycles() == (("T1", "T2"),)


def test_self_loop_and_acyclic() -> None:
    spec = make_spec(
        {
            "loop": [{"from": None, "to": "A"}, {"from": "A", "to": ["A", "B"]}],
            "line": [{"from": None, "to": "A"}, {"from": "A", "to": "B"}],
        }
    )
    loop, line = graphs_of(spec)["loop"], graphs_of(spec)["line"]
    assert loop.cyclic_nodes == {"A"}
    assert loop.cycles() == (("A",),)
    assert loop.ancestors("A") == {"A"}
    assert not line.is_cyclic
    assert line.cycles() == ()
    assert line.cyclic_nodes == frozenset()


def test_fireable_edges_and_reachable_nodes() -> None:
    # Edge 2 waits for D, which nothing starts; edge 3 waits for E, started by edge 2 only.
    spec = make_spec(
        {
            "f": [
                {"from": None, "to": "A"},
                {"from": "A", "to": ["B", "C"]},
                {"from": ["B", "D"], "to": "E"},
                {"from": "E", "to": "F"},
                {"from": ["C", "B"], "to": "G"},
                {"from": "G", "to": "A"},
            ]
        }
    )
    graph = graphs_of(spec)["f"]
    assert graph.fireable_edges == {0, 1, 4, 5}
    assert graph.reachable_nodes == {"A", "B", "C", "G"}


def test_multiple_starting_edges() -> None:
    spec = make_spec(
        {
            "f": [
                {"from": None, "to": "A"},
                {"from": [], "to": ["B"]},
                {"from": ["A", "B"], "to": "C"},
            ]
        }
    )
    graph = graphs_of(spec)["f"]
    assert graph.starting_edges == (0, 1)
    assert graph.predecessors("A") == frozenset()
    assert graph.reachable_nodes == {"A", "B", "C"}


def test_from_spec_unknown_flow() -> None:
    with pytest.raises(UnknownFlowError, match="'nope'"):
        FlowGraph.from_spec(make_spec(CYCLIC), "nope")


# ---------------------------------------------------------------------- system level

NESTED: Flows = {
    "top": [
        {"from": None, "to": "A"},
        {"from": "A", "to": "middle"},
        {"from": "middle", "to": "Z"},
    ],
    "middle": [{"from": None, "to": "bottom"}, {"from": "bottom", "to": "M"}],
    "bottom": [{"from": None, "to": "B"}],
    "rec": [{"from": None, "to": "R"}, {"from": "R", "to": "rec"}],
    "ping": [{"from": None, "to": "pong"}],
    "pong": [{"from": None, "to": "P"}, {"from": "P", "to": "ping"}],
    "alone": [{"from": None, "to": "B"}],
}


@pytest.fixture
def nested() -> SystemSpec:
    return make_spec(
        NESTED,
        alone={
            "failures": [{"nodes": "B", "fallback": ["top", "X"]}, {"nodes": "B", "fallback": True}]
        },
    )


def test_graphs_of_is_cached_per_spec(nested: SystemSpec) -> None:
    graphs = graphs_of(nested)
    assert graphs is graphs_of(nested)
    assert set(graphs) == set(NESTED)
    assert graphs["top"].subflows == {"middle"}
    other = make_spec(NESTED)
    assert graphs_of(other) is not graphs


def test_cache_entry_dropped_with_spec() -> None:
    from selinon_core.config import graph as graph_module

    spec = make_spec(NESTED)
    graphs_of(spec)
    key = id(spec)
    assert key in graph_module._CACHE
    del spec
    gc.collect()
    assert key not in graph_module._CACHE


def test_stale_cache_entry_is_not_reused(nested: SystemSpec) -> None:
    from selinon_core.config import graph as graph_module

    graphs_of(nested)
    dead = make_spec(CYCLIC)
    # Simulate an id reused by a new object whose old entry survived.
    graph_module._CACHE[id(dead)] = (
        graph_module._CACHE[id(nested)][0],
        graph_module._build(nested),
    )
    assert set(graphs_of(dead)) == {"f1"}


def test_subflows_of(nested: SystemSpec) -> None:
    assert subflows_of(nested, "top") == {"middle", "bottom"}
    assert subflows_of(nested, "bottom") == frozenset()
    assert subflows_of(nested, "rec") == {"rec"}
    assert subflows_of(nested, "ping") == {"ping", "pong"}
    assert subflows_of(nested, "alone") == frozenset()
    assert subflows_of(nested, "alone", include_fallbacks=True) == {"top", "middle", "bottom"}
    with pytest.raises(UnknownFlowError):
        subflows_of(nested, "nope")


def test_flows_containing(nested: SystemSpec) -> None:
    assert flows_containing(nested, "B") == {"bottom", "middle", "top", "alone"}
    assert flows_containing(nested, "M") == {"middle", "top"}
    assert flows_containing(nested, "middle") == {"top"}
    assert flows_containing(nested, "P") == {"ping", "pong"}
    assert flows_containing(nested, "R") == {"rec"}
    assert flows_containing(nested, "Nowhere") == frozenset()


def test_recursive_flows(nested: SystemSpec) -> None:
    assert recursive_flows(nested) == {"rec", "ping", "pong"}
    cyclic_fallback = make_spec(
        {"a": [{"from": None, "to": "T"}]},
        a={"failures": [{"nodes": "T", "fallback": "a"}]},
    )
    assert recursive_flows(cyclic_fallback) == frozenset()
    assert recursive_flows(cyclic_fallback, include_fallbacks=True) == {"a"}


def test_flow_dependencies(nested: SystemSpec) -> None:
    plain = flow_dependencies(nested)
    full = flow_dependencies(nested, include_fallbacks=True)
    assert set(plain.nodes) == set(NESTED)
    assert ("alone", "top") not in plain.edges
    assert ("alone", "top") in full.edges
    assert full.edges["alone", "top"]["fallback"] is True
    assert full.edges["top", "middle"]["fallback"] is False


def test_fallback_flow_that_is_also_a_subflow_counts_as_subflow() -> None:
    spec = make_spec(
        {"a": [{"from": None, "to": ["T", "b"]}], "b": [{"from": None, "to": "U"}]},
        a={"failures": [{"nodes": "T", "fallback": "b"}]},
    )
    assert flow_dependencies(spec).edges["a", "b"]["fallback"] is False
