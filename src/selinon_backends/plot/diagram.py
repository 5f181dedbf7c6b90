"""The diagram of one flow as plain data: nodes and edges, each of an element kind.

:func:`build_diagram` reads a :class:`~selinon_core.config.system.System` and returns a
:class:`FlowDiagram`; the renderers (:mod:`.dot`, :mod:`.mermaid`) only turn that value into
text.  What is drawn:

* every task and sub-flow named by the flow's edges or failures (``node-<name>``);
* one condition node per edge (``cond-<index of the edge>``, an octagon, a double octagon for a
  ``foreach`` edge), labelled with the condition; edges lead from each source into it and from it
  to each destination (a starting edge's condition has no incoming edge);
* the storage of each task drawn (``storage-<name>``, a cylinder) with a dashed edge from the
  task (to the task when the task only reads it: ``storage_read_only``); in a flow with more
  than :data:`SHARED_STORAGE_MAX_TASKS` such tasks, each task gets its own copy of the storage
  node (``storage-<name>-<task>``);
* failures in red: from the failed node straight to its fallbacks, or through a condition node
  (``failure-<index>``) when the entry lists several nodes or has a condition; ``fallback:
  true`` leads to a mark node (``fallback-true-<index>``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field

from selinon_core.config.conditions import render_condition
from selinon_core.config.spec import ALWAYS_TRUE, Condition, EdgeSpec, FailureSpec, FlowSpec
from selinon_core.config.system import System
from selinon_core.errors import UnknownFlowError

__all__ = [
    "SHARED_STORAGE_MAX_TASKS",
    "DiagramEdge",
    "DiagramNode",
    "FlowDiagram",
    "build_diagram",
    "condition_id",
    "node_id",
]

_LABEL_WIDTH = 48
SHARED_STORAGE_MAX_TASKS = 8
"""Up to this many tasks with a storage, each storage is one node; above, one copy per task.

Edges from all over a large flow into one storage node make graphviz's layout very slow (minutes
for 200 tasks) and the drawing unreadable; a copy next to each task keeps both in check.
"""
_TRUE_LABEL = "true"


def node_id(name: str) -> str:
    """The diagram id of the task or sub-flow ``name`` (its SVG element id)."""
    return f"node-{name}"


def condition_id(index: int) -> str:
    """The diagram id of the condition of edge ``index`` of the flow (its SVG element id)."""
    return f"cond-{index}"


@dataclass(frozen=True, slots=True)
class DiagramNode:
    """One node of a diagram.

    Attributes:
        id: unique within the diagram: ``node-<name>``, ``cond-<n>``, ``storage-<name>``,
            ``failure-<n>`` or ``fallback-true-<n>``.
        kind: its element kind (a key of the style): ``task``, ``flow``, ``condition``,
            ``condition_foreach``, ``storage`` or ``fallback_true``.
        label: the text shown; lines are separated by ``\\n``.
    """

    id: str
    kind: str
    label: str


@dataclass(frozen=True, slots=True)
class DiagramEdge:
    """One arrow of a diagram, from node id ``source`` to node id ``target``.

    Attributes:
        kind: ``edge``, ``store_edge`` or ``fallback_edge``.
    """

    source: str
    target: str
    kind: str


@dataclass(frozen=True, slots=True)
class FlowDiagram:
    """The diagram of flow ``flow``: nodes in order of first appearance, then edges."""

    flow: str
    nodes: tuple[DiagramNode, ...]
    edges: tuple[DiagramEdge, ...]


@dataclass
class _Builder:
    system: System
    nodes: dict[str, DiagramNode] = field(default_factory=dict)
    edges: list[DiagramEdge] = field(default_factory=list)

    def add(self, ident: str, kind: str, label: str) -> str:
        if ident not in self.nodes:
            self.nodes[ident] = DiagramNode(ident, kind, label)
        return ident

    def named(self, name: str, flow: FlowSpec) -> str:
        kind = "flow" if self.system.spec.is_flow(name) else "task"
        label = f"{name}\n(nowait)" if name in flow.nowait else name
        return self.add(node_id(name), kind, label)

    def link(self, source: str, target: str, kind: str = "edge") -> None:
        self.edges.append(DiagramEdge(source, target, kind))

    def edge(self, index: int, edge: EdgeSpec, flow: FlowSpec) -> None:
        kind = "condition" if edge.foreach is None else "condition_foreach"
        cond = self.add(condition_id(index), kind, _edge_label(edge))
        for name in edge.from_:
            self.link(self.named(name, flow), cond)
        for name in edge.to:
            self.link(cond, self.named(name, flow))

    def failure(self, index: int, failure: FailureSpec, flow: FlowSpec) -> None:
        sources = [self.named(name, flow) for name in failure.nodes]
        if len(sources) > 1 or failure.condition != ALWAYS_TRUE:
            label = _wrap(f"all failed: {', '.join(failure.nodes)}")
            if failure.condition != ALWAYS_TRUE:
                label += "\n" + _condition_label(failure.condition)
            junction = self.add(f"failure-{index}", "condition", label)
            for source in sources:
                self.link(source, junction, "fallback_edge")
            sources = [junction]
        if failure.fallback is True:
            targets = [self.add(f"fallback-true-{index}", "fallback_true", "fallback: true")]
        else:
            targets = [self.named(name, flow) for name in failure.fallback]
        for source in sources:
            for target in targets:
                self.link(source, target, "fallback_edge")

    def storages(self, names: Iterable[str]) -> None:
        spec = self.system.spec
        stored = [n for n in names if spec.is_task(n) and spec.task(n).storage is not None]
        shared = len(stored) <= SHARED_STORAGE_MAX_TASKS
        for name in stored:
            task = spec.task(name)
            ident = f"storage-{task.storage}" if shared else f"storage-{task.storage}-{name}"
            storage = self.add(ident, "storage", str(task.storage))
            if task.storage_read_only:
                self.link(storage, node_id(name), "store_edge")
            else:
                self.link(node_id(name), storage, "store_edge")


def build_diagram(system: System, flow_name: str) -> FlowDiagram:
    """Build the diagram of flow ``flow_name`` of ``system``.

    Raises:
        UnknownFlowError: the system has no such flow (the message suggests a close name).
    """
    flow = _flow(system, flow_name)
    builder = _Builder(system)
    for index, edge in enumerate(flow.edges):
        builder.edge(index, edge, flow)
    for index, failure in enumerate(flow.failures):
        builder.failure(index, failure, flow)
    drawn = [n.id.removeprefix("node-") for n in builder.nodes.values() if n.kind == "task"]
    builder.storages(drawn)
    return FlowDiagram(flow_name, tuple(builder.nodes.values()), tuple(builder.edges))


def _flow(system: System, name: str) -> FlowSpec:
    flows = system.spec.flows
    if name in flows:
        return flows[name]
    import difflib  # noqa: PLC0415

    close = difflib.get_close_matches(name, list(flows), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    known = ", ".join(sorted(flows)) or "none"
    raise UnknownFlowError(f"unknown flow {name!r}{hint}; flows defined: {known}")


def _condition_label(cond: Condition) -> str:
    return _TRUE_LABEL if cond == ALWAYS_TRUE else _wrap(render_condition(cond))


def _edge_label(edge: EdgeSpec) -> str:
    lines = [_condition_label(edge.condition)]
    if edge.foreach is not None:
        each = f"foreach {edge.foreach.import_}:{edge.foreach.function}"
        if edge.foreach.propagate_result:
            each += " (propagate_result)"
        lines.append(_wrap(each))
    if edge.selective is not None:
        lines.append(_wrap(f"selective: {', '.join(edge.selective.tasks)}"))
    return "\n".join(lines)


def _wrap(text: str) -> str:
    """Break a long label into lines (at spaces) so that large flows stay readable."""
    return "\n".join(textwrap.wrap(text, _LABEL_WIDTH, break_long_words=False)) or text
