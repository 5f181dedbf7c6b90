"""Check Mermaid text line by line (used by the diagram and command-line tests)."""

from __future__ import annotations

import re

_ID = r"[A-Za-z_][A-Za-z0-9_]*"
_LABEL = r'"[^"]*"'
NODE = re.compile(
    rf"^    (?P<id>{_ID})(?:\(\[{_LABEL}\]\)|\[\[{_LABEL}\]\]|\{{\{{{_LABEL}\}}\}}"
    rf"|\[\({_LABEL}\)\]|>{_LABEL}\])$"
)
EDGE = re.compile(rf"^    (?P<src>{_ID}) (?P<arrow>-->|-\.->) (?P<dst>{_ID})$")
CLASSDEF = re.compile(
    rf"^    classDef {_ID} [a-z-]+:[^,\s]+(?: [^,\s]+)?(?:,[a-z-]+:[^,\s]+(?: \S+)?)*$"
)
CLASS = re.compile(rf"^    class {_ID}(?:,{_ID})* {_ID}$")
LINKSTYLE = re.compile(r"^    linkStyle (?P<indexes>\d+(?:,\d+)*) \S.*$")


def check_syntax(text: str) -> tuple[list[str], list[tuple[str, str, str]], dict[int, str]]:
    """Check every line; return node ids, edges and the link style of each edge index."""
    lines = text.splitlines()
    assert lines[0] == "---"
    assert re.fullmatch(r"title: flow \w+", lines[1])
    assert lines[2] == "---"
    assert re.fullmatch(r"flowchart (TB|LR|BT|RL)", lines[3])
    nodes: list[str] = []
    edges: list[tuple[str, str, str]] = []
    link_styles: dict[int, str] = {}
    for line in lines[4:]:
        if match := NODE.match(line):
            nodes.append(match["id"])
        elif match := EDGE.match(line):
            edges.append((match["src"], match["arrow"], match["dst"]))
        elif match := LINKSTYLE.match(line):
            for index in match["indexes"].split(","):
                link_styles[int(index)] = line
        else:
            assert CLASSDEF.match(line) or CLASS.match(line), f"not Mermaid: {line!r}"
    assert len(nodes) == len(set(nodes))
    for source, _, target in edges:
        assert source in nodes
        assert target in nodes
    assert all(index < len(edges) for index in link_styles)
    return nodes, edges, link_styles
