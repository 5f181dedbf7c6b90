"""Mermaid output: every line is a node, an edge or a style line, and they agree."""

from __future__ import annotations

import pytest
from tests.plot.bigflow import BIG_FLOW, big_flow_system
from tests.plot.mermaidcheck import check_syntax

from selinon_backends.plot import DEFAULT_STYLE, build_diagram, flow_graph_mermaid
from selinon_backends.plot.mermaid import mermaid_id
from selinon_core.config.system import System


@pytest.mark.parametrize("flow", ["mainFlow", "subFlow"])
def test_every_line_is_mermaid(system: System, flow: str) -> None:
    diagram = build_diagram(system, flow)
    nodes, edges, _ = check_syntax(flow_graph_mermaid(system, flow))
    assert nodes == [mermaid_id(node.id) for node in diagram.nodes]
    assert len(edges) == len(diagram.edges)


def test_shapes_arrows_and_colours(system: System) -> None:
    text = flow_graph_mermaid(system, "mainFlow")
    _, edges, link_styles = check_syntax(text)
    assert '    node_Fetch(["Fetch"])' in text
    assert '    node_subFlow[["subFlow"]]' in text
    assert "    cond_1{{\"fieldEqual(key='ok', value=True)\"}}" in text
    assert '    storage_Cache[("Cache")]' in text
    assert '    fallback_true_1>"fallback: true"]' in text
    assert "    class cond_2,cond_4 condition_foreach" in text
    assert ("node_Fetch", "-.->", "storage_Cache") in edges
    fallback = edges.index(("node_Fetch", "-->", "node_Rescue"))
    red = DEFAULT_STYLE.attrs("fallback_edge")["color"]
    assert f"stroke:{red}" in link_styles[fallback]
    normal = edges.index(("node_Fetch", "-->", "cond_1"))
    assert red not in link_styles[normal]


def test_quotes_and_line_breaks_in_labels_are_escaped(system: System) -> None:
    text = flow_graph_mermaid(system, "mainFlow")
    [line] = [line for line in text.splitlines() if line.startswith("    cond_3{{")]
    assert "#quot;q#quot;" in line
    assert "<br>" in line
    assert '    node_Notify(["Notify<br>(nowait)"])' in text


def test_a_200_node_flow_is_valid_mermaid() -> None:
    system = big_flow_system(200)
    nodes, edges, _ = check_syntax(flow_graph_mermaid(system, BIG_FLOW))
    diagram = build_diagram(system, BIG_FLOW)
    assert len(nodes) == len(diagram.nodes)
    assert len(edges) == len(diagram.edges)
