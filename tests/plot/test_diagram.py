"""The diagram builder and its DOT rendering: shapes, labels, ids, fallbacks and storages."""

from __future__ import annotations

import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
from tests.plot.bigflow import BIG_FLOW, big_flow_system
from tests.plot.dotparse import Dot, parse_dot, require_dot

from selinon_backends.plot import (
    DEFAULT_STYLE,
    FlowDiagram,
    GraphvizMissing,
    PlotError,
    build_diagram,
    flow_graph_dot,
    render_flow,
)
from selinon_backends.plot.diagram import SHARED_STORAGE_MAX_TASKS
from selinon_core.config.system import System
from selinon_core.errors import UnknownFlowError

SVG = "{http://www.w3.org/2000/svg}"
RED = DEFAULT_STYLE.attrs("fallback_edge")["color"]


@pytest.fixture(scope="module")
def dot(system: System) -> Dot:
    return parse_dot(flow_graph_dot(system, "mainFlow"))


def kinds(diagram: FlowDiagram) -> dict[str, str]:
    return {node.id: node.kind for node in diagram.nodes}


def test_tasks_subflows_and_conditions_have_their_kinds(system: System) -> None:
    found = kinds(build_diagram(system, "mainFlow"))
    assert found["node-Fetch"] == "task"
    assert found["node-subFlow"] == "flow"
    assert [found[f"cond-{i}"] for i in range(4)] == [
        "condition",
        "condition",
        "condition_foreach",
        "condition",
    ]
    assert found["storage-Cache"] == "storage"
    assert found["fallback-true-1"] == "fallback_true"


def test_shapes_follow_the_element_kind(dot: Dot) -> None:
    assert dot.nodes["node-Fetch"]["shape"] == "ellipse"
    assert dot.nodes["node-subFlow"]["shape"] == "box3d"
    assert dot.nodes["cond-1"]["shape"] == "octagon"
    assert dot.nodes["cond-2"]["shape"] == "doubleoctagon"
    assert dot.nodes["storage-Cache"]["shape"] == "cylinder"
    assert dot.nodes["fallback-true-1"]["shape"] == "plain"


def test_every_node_carries_its_diagram_id_for_svg(dot: Dot) -> None:
    for ident, attrs in dot.nodes.items():
        assert attrs["id"] == ident


def test_condition_labels_show_the_condition(dot: Dot) -> None:
    assert dot.nodes["cond-0"]["label"] == "true"
    assert dot.nodes["cond-1"]["label"] == "fieldEqual(key='ok', value=True)"
    assert dot.nodes["cond-2"]["label"] == "true\\nforeach app.foreach:items"
    assert dot.nodes["cond-4"]["label"] == "true\\nforeach app.foreach:items (propagate_result)"
    label = dot.nodes["cond-3"]["label"]
    assert label.startswith("and(argsFieldEqual(key='mode', value='a")
    assert "not(alwaysFalse())" in label


def test_backslashes_and_quotes_in_labels_are_escaped(dot: Dot) -> None:
    # the value a\b "q" is shown as Python writes it ('a\\b "q"'); DOT doubles backslashes
    label = dot.nodes["cond-3"]["label"]
    assert "value='a" + "\\" * 4 + "b" in label
    assert '"q"' in label


def test_labels_reach_the_svg_unchanged(system: System) -> None:
    require_dot()
    svg = ElementTree.fromstring(render_flow(system, "mainFlow", "svg"))
    texts = ["".join(t.itertext()) for t in svg.iter(f"{SVG}text")]
    assert "and(argsFieldEqual(key='mode', value='a\\\\b" in texts
    assert "fieldEqual(key='ok', value=True)" in texts


def test_svg_elements_have_the_diagram_ids(system: System) -> None:
    require_dot()
    svg = ElementTree.fromstring(render_flow(system, "mainFlow", "svg"))
    ids = {g.get("id") for g in svg.iter(f"{SVG}g")}
    assert {"node-Fetch", "node-subFlow", "cond-0", "cond-2", "storage-Cache"} <= ids


def test_edges_go_into_and_out_of_conditions(dot: Dot) -> None:
    assert dot.edges_between("node-Fetch", "cond-1")
    assert dot.edges_between("cond-1", "node-Parse")
    assert dot.edges_between("cond-1", "node-subFlow")
    assert dot.edges_between("node-Parse", "cond-3")
    assert dot.edges_between("node-subFlow", "cond-3")
    assert dot.edges_between("cond-3", "node-Reader")
    assert not [s for s, t, _ in dot.edges if t == "cond-0"]  # a starting edge has no source


def test_nowait_nodes_are_marked(dot: Dot) -> None:
    assert dot.nodes["node-Notify"]["label"] == "Notify\\n(nowait)"


def test_fallback_edges_are_red(dot: Dot) -> None:
    [direct] = dot.edges_between("node-Fetch", "node-Rescue")
    assert direct["color"] == RED
    normal = dot.edges_between("node-Fetch", "cond-1")[0]
    assert normal["color"] != RED


def test_fallback_true_is_marked_after_a_junction_of_all_failed_nodes(dot: Dot) -> None:
    assert dot.nodes["failure-1"]["label"] == "all failed: Parse, subFlow"
    assert dot.edges_between("node-Parse", "failure-1")[0]["color"] == RED
    assert dot.edges_between("node-subFlow", "failure-1")[0]["color"] == RED
    assert dot.edges_between("failure-1", "fallback-true-1")[0]["color"] == RED
    assert dot.nodes["fallback-true-1"]["label"] == "fallback: true"
    assert (
        dot.nodes["fallback-true-1"]["fillcolor"]
        == DEFAULT_STYLE.attrs("fallback_true")["fillcolor"]
    )


def test_a_failure_condition_is_drawn_on_its_junction(dot: Dot) -> None:
    label = dot.nodes["failure-2"]["label"]
    assert label == "all failed: Each\\nargsFieldEqual(key='retry', value=False)"
    assert dot.edges_between("failure-2", "node-Rescue")[0]["color"] == RED


def test_storages_are_cylinders_with_dashed_edges(dot: Dot) -> None:
    [stored] = dot.edges_between("node-Fetch", "storage-Cache")
    assert stored["style"] == "dashed"
    assert dot.edges_between("storage-Cache", "node-Reader")  # read only: the task reads it
    assert not dot.edges_between("node-Reader", "storage-Cache")
    assert not [t for s, t, _ in dot.edges if s == "node-Each" and t.startswith("storage-")]


def test_sub_flows_have_no_storage_edge(dot: Dot) -> None:
    assert not [t for s, t, _ in dot.edges if s == "node-subFlow" and t.startswith("storage")]


def test_an_unknown_flow_names_a_close_one(system: System) -> None:
    with pytest.raises(UnknownFlowError, match=r"'mainFlw'.*did you mean 'mainFlow'"):
        build_diagram(system, "mainFlw")


def test_an_unknown_format_is_rejected(system: System) -> None:
    with pytest.raises(ValueError, match="unknown diagram format 'gif'"):
        render_flow(system, "mainFlow", "gif")


def test_a_large_flow_gets_one_storage_copy_per_task() -> None:
    diagram = build_diagram(big_flow_system(2 * SHARED_STORAGE_MAX_TASKS), BIG_FLOW)
    storages = [node.id for node in diagram.nodes if node.kind == "storage"]
    assert "storage-S0-T0" in storages
    assert len(storages) == 2 * SHARED_STORAGE_MAX_TASKS
    assert {e.source for e in diagram.edges if e.target.startswith("storage-")} == {
        f"node-T{i}" for i in range(2 * SHARED_STORAGE_MAX_TASKS)
    }


def test_a_200_node_flow_builds_every_node_and_edge() -> None:
    system = big_flow_system(200)
    diagram = build_diagram(system, BIG_FLOW)
    found = kinds(diagram)
    assert sum(kind == "task" for kind in found.values()) == 200
    assert (
        sum(kind.startswith("condition") for kind in found.values()) == 200
    )  # failures of one node draw no junction
    assert sum(kind == "condition_foreach" for kind in found.values()) == 7
    dot = parse_dot(flow_graph_dot(system, BIG_FLOW))
    assert set(dot.nodes) == set(found)
    assert len(dot.edges) == len(diagram.edges)


def test_without_the_graphviz_package_dot_names_the_extra_and_mermaid_works(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz → ImportError
    with pytest.raises(GraphvizMissing, match=r"install the 'plot' extra"):
        flow_graph_dot(system, "mainFlow")
    with pytest.raises(GraphvizMissing, match=r"choose --format mermaid"):
        render_flow(system, "mainFlow", "svg")
    assert render_flow(system, "mainFlow", "mermaid").startswith(b"---\ntitle: flow mainFlow\n")


def test_a_failing_dot_program_is_a_plot_error(
    system: System, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\necho 'Error: something broke' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PlotError, match=r"'dot' failed \(exit 3\): Error: something broke"):
        render_flow(system, "mainFlow", "png")
