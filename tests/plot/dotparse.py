"""Read back the DOT source that ``flow_graph_dot`` writes: node attributes and edges."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NODE = re.compile(r'^\t(?P<id>"[^"]+"|\w+) \[(?P<attrs>.*)\]$')
_EDGE = re.compile(r'^\t(?P<src>"[^"]+"|\w+) -> (?P<dst>"[^"]+"|\w+)(?: \[(?P<attrs>.*)\])?$')
_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s\]]+)')


def _unquote(text: str) -> str:
    return text[1:-1].replace('\\"', '"') if text.startswith('"') else text


def _attrs(text: str | None) -> dict[str, str]:
    return {key: _unquote(value) for key, value in _ATTR.findall(text or "")}


@dataclass(frozen=True)
class Dot:
    """Nodes (id → attributes) and edges ((source, target, attributes)) of a DOT text."""

    nodes: dict[str, dict[str, str]]
    edges: list[tuple[str, str, dict[str, str]]]

    def edges_between(self, source: str, target: str) -> list[dict[str, str]]:
        """The attributes of every edge from ``source`` to ``target``."""
        return [attrs for s, t, attrs in self.edges if (s, t) == (source, target)]


def parse_dot(source: str) -> Dot:
    """Parse the one-statement-per-line DOT that the graphviz package writes."""
    nodes: dict[str, dict[str, str]] = {}
    edges: list[tuple[str, str, dict[str, str]]] = []
    for line in source.splitlines():
        edge = _EDGE.match(line)
        if edge:
            edges.append((_unquote(edge["src"]), _unquote(edge["dst"]), _attrs(edge["attrs"])))
            continue
        node = _NODE.match(line)
        if node and node["id"] not in ("graph", "node", "edge"):
            nodes[_unquote(node["id"])] = _attrs(node["attrs"])
    return Dot(nodes, edges)


def require_dot() -> str:
    """The path of graphviz's ``dot`` program; skip the test without it (fail in CI)."""
    import shutil

    from tests.services import service_unavailable

    found = shutil.which("dot")
    if found is None:
        service_unavailable(
            "graphviz's 'dot' program is not on PATH (install the Debian package 'graphviz')"
        )
    return found
