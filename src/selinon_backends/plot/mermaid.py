"""Mermaid output: a ``flowchart`` that GitHub, GitLab and most Markdown viewers draw.

Shapes follow the graphviz ones as far as Mermaid has them: tasks are stadiums, sub-flows
subroutine boxes, conditions hexagons (a thick border for ``foreach``), storages cylinders, the
``fallback: true`` mark a flag.  Colours come from the same :class:`PlotStyle` (``fillcolor`` →
``fill``, ``color`` → ``stroke``, ``fontcolor`` → ``color``, ``style: dashed`` → a dashed line).
Mermaid ids cannot hold ``-``, so ``node-Task1`` is written ``node_Task1``.
"""

from __future__ import annotations

from collections.abc import Mapping

from selinon_backends.plot.diagram import FlowDiagram
from selinon_backends.plot.style import PlotStyle

__all__ = ["diagram_mermaid", "mermaid_id"]

_SHAPES: Mapping[str, tuple[str, str]] = {
    "task": ("([", "])"),
    "flow": ("[[", "]]"),
    "condition": ("{{", "}}"),
    "condition_foreach": ("{{", "}}"),
    "storage": ("[(", ")]"),
    "fallback_true": (">", "]"),
}
_ARROWS: Mapping[str, str] = {"edge": "-->", "store_edge": "-.->", "fallback_edge": "-->"}
_CSS: Mapping[str, str] = {"fillcolor": "fill", "color": "stroke", "fontcolor": "color"}
_DIRECTIONS = frozenset({"TB", "BT", "LR", "RL"})
_EXTRA_CSS: Mapping[str, str] = {"condition_foreach": "stroke-width:4px"}


def mermaid_id(diagram_id: str) -> str:
    """The Mermaid id of a diagram node id (``node-Task1`` → ``node_Task1``)."""
    return diagram_id.replace("-", "_")


def _text(label: str) -> str:
    """A quoted Mermaid label: entity codes for ``#``, ``"``, ``<`` and ``>``; ``<br>`` lines."""
    escaped = (
        label.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )
    return '"' + escaped.replace("\n", "<br>") + '"'


def _css(attrs: Mapping[str, str]) -> list[str]:
    parts = [f"{_CSS[key]}:{value}" for key, value in attrs.items() if key in _CSS]
    if "dashed" in attrs.get("style", ""):
        parts.append("stroke-dasharray:5 5")
    return parts


def diagram_mermaid(diagram: FlowDiagram, style: PlotStyle) -> str:
    """The Mermaid ``flowchart`` of ``diagram`` drawn in ``style`` (ends with a newline)."""
    direction = style.attrs("graph").get("rankdir", "TB").upper()
    lines = [
        "---",
        f"title: flow {diagram.flow}",
        "---",
        f"flowchart {direction if direction in _DIRECTIONS else 'TB'}",
    ]
    for node in diagram.nodes:
        opening, closing = _SHAPES[node.kind]
        lines.append(f"    {mermaid_id(node.id)}{opening}{_text(node.label)}{closing}")
    by_kind: dict[str, list[int]] = {}
    for index, edge in enumerate(diagram.edges):
        arrow = _ARROWS[edge.kind]
        lines.append(f"    {mermaid_id(edge.source)} {arrow} {mermaid_id(edge.target)}")
        by_kind.setdefault(edge.kind, []).append(index)
    lines.extend(_node_classes(diagram, style))
    for kind, indexes in by_kind.items():
        css = _css(style.attrs(kind))
        if css:
            lines.append(f"    linkStyle {','.join(map(str, indexes))} {','.join(css)}")
    return "\n".join(lines) + "\n"


def _node_classes(diagram: FlowDiagram, style: PlotStyle) -> list[str]:
    members: dict[str, list[str]] = {}
    for node in diagram.nodes:
        members.setdefault(node.kind, []).append(mermaid_id(node.id))
    lines = []
    for kind, ids in members.items():
        css = _css(style.attrs(kind))
        if kind in _EXTRA_CSS:
            css.append(_EXTRA_CSS[kind])
        if css:
            lines.append(f"    classDef {kind} {','.join(css)}")
            lines.append(f"    class {','.join(ids)} {kind}")
    return lines
