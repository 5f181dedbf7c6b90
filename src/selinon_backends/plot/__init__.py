"""Flow diagrams: one drawing per flow, as DOT, Mermaid, SVG, PNG or PDF.

The public surface (used by ``selinon-cli plot``, ``docs/gen_diagrams.py`` and the dashboard)::

    render_flow(system, "flow1", "svg", style=None) -> bytes
    flow_graph_dot(system, "flow1", style=None) -> str
    flow_graph_mermaid(system, "flow1", style=None) -> str
    build_diagram(system, "flow1") -> FlowDiagram        # the drawing as plain data
    load_style("style.yml") -> PlotStyle

``dot`` needs the ``graphviz`` Python package (the ``plot`` extra), ``mermaid`` nothing, and
``svg``/``png``/``pdf`` also graphviz's ``dot`` program (Debian package ``graphviz``).  In SVG,
each task or sub-flow is the element with id ``node-<name>`` and the condition of edge *n* is
``cond-<n>``.  See ``docs/diagrams.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from selinon_backends.plot.diagram import (
    DiagramEdge,
    DiagramNode,
    FlowDiagram,
    build_diagram,
    condition_id,
    node_id,
)
from selinon_backends.plot.errors import GraphvizMissing, PlotError, StyleError
from selinon_backends.plot.style import DEFAULT_STYLE, ELEMENT_KINDS, PlotStyle, load_style

if TYPE_CHECKING:
    from selinon_core.config.system import System

__all__ = [
    "DEFAULT_STYLE",
    "ELEMENT_KINDS",
    "FILE_EXTENSIONS",
    "FORMATS",
    "DiagramEdge",
    "DiagramNode",
    "FlowDiagram",
    "GraphvizMissing",
    "PlotError",
    "PlotStyle",
    "StyleError",
    "build_diagram",
    "condition_id",
    "flow_graph_dot",
    "flow_graph_mermaid",
    "load_style",
    "node_id",
    "render_flow",
]

FILE_EXTENSIONS: Mapping[str, str] = {
    "svg": "svg",
    "png": "png",
    "pdf": "pdf",
    "dot": "dot",
    "mermaid": "mmd",
}
"""File name extension of each output format."""

FORMATS: tuple[str, ...] = tuple(FILE_EXTENSIONS)
"""Every output format, the default (``svg``) first."""


def flow_graph_dot(system: System, flow_name: str, style: PlotStyle | None = None) -> str:
    """The graphviz DOT source of the diagram of ``flow_name``.

    Raises:
        UnknownFlowError: no such flow.
        GraphvizMissing: the ``graphviz`` Python package is not installed.
    """
    from selinon_backends.plot.dot import diagram_dot  # noqa: PLC0415

    return diagram_dot(build_diagram(system, flow_name), style or DEFAULT_STYLE)


def flow_graph_mermaid(system: System, flow_name: str, style: PlotStyle | None = None) -> str:
    """The Mermaid ``flowchart`` text of the diagram of ``flow_name``.

    Raises:
        UnknownFlowError: no such flow.
    """
    from selinon_backends.plot.mermaid import diagram_mermaid  # noqa: PLC0415

    return diagram_mermaid(build_diagram(system, flow_name), style or DEFAULT_STYLE)


def render_flow(system: System, flow_name: str, fmt: str, style: PlotStyle | None = None) -> bytes:
    """The diagram of ``flow_name`` in format ``fmt`` (one of :data:`FORMATS`), as bytes.

    Text formats (``dot``, ``mermaid``) are UTF-8.

    Raises:
        ValueError: ``fmt`` is not one of :data:`FORMATS`.
        UnknownFlowError: no such flow.
        GraphvizMissing: what the format needs is not installed (the message says what to do).
        PlotError: the ``dot`` program failed.
    """
    if fmt not in FILE_EXTENSIONS:
        raise ValueError(f"unknown diagram format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "mermaid":
        return flow_graph_mermaid(system, flow_name, style).encode("utf-8")
    source = flow_graph_dot(system, flow_name, style)
    if fmt == "dot":
        return source.encode("utf-8")
    from selinon_backends.plot.dot import dot_to_image  # noqa: PLC0415

    return dot_to_image(source, fmt)
