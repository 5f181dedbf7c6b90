"""Per-flow lookup tables the dispatcher builds once from the System.

Everything a step needs about the configuration is precomputed here, so that handling an event
costs a few dictionary look-ups: the outgoing edges of each node, the compiled conditions, each
node's queue/throttling/nowait/eager flags, and the failure entries in the order fallbacks are
tried (largest node set first, then lexical order of the sorted node names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from selinon_core.config.conditions import CompiledCondition, compile_condition
from selinon_core.config.spec import ALWAYS_TRUE, Condition, EdgeSpec, FlowSpec, ForeachSpec
from selinon_core.config.system import System
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.dispatch.selective import plan_for_edge

__all__ = ["EdgeTable", "FailureEntry", "FallbackRule", "FlowTable", "NodeInfo", "build_tables"]


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """How to start a node (task or sub-flow) of one flow."""

    name: str
    is_flow: bool
    queue: str
    throttle_s: float | None
    nowait: bool
    eager: bool


@dataclass(frozen=True, slots=True)
class EdgeTable:
    """One edge, ready to fire.

    The last fields are derived once for the hot path: ``bit`` is ``1 << index``,
    ``task_sources`` tells that no source is a sub-flow (the parent mapping is then simply
    source name -> node id), ``task_dests`` that every destination is a task, and ``why``
    holds the trace details every node the edge starts gets.
    """

    index: int
    sources: tuple[str, ...]
    dests: tuple[str, ...]
    condition: CompiledCondition | None
    condition_str: str
    foreach: ForeachSpec | None
    plan: SelectivePlan | None
    bit: int = 0
    task_sources: bool = False
    task_dests: bool = False
    why: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def foreach_str(self) -> str | None:
        """``module.function`` of the foreach function, or ``None``."""
        if self.foreach is None:
            return None
        return f"{self.foreach.import_}.{self.foreach.function}"


@dataclass(frozen=True, slots=True)
class FallbackRule:
    """One ``(fallback, condition)`` pair of a failure entry."""

    fallback: tuple[str, ...] | Literal[True]
    condition: CompiledCondition | None
    condition_str: str


@dataclass(frozen=True, slots=True)
class FailureEntry:
    """All fallback rules for one set of failed node names (sorted)."""

    nodes: tuple[str, ...]
    rules: tuple[FallbackRule, ...]


@dataclass(frozen=True, slots=True)
class FlowTable:
    """The precomputed tables of one flow.

    ``tracked`` are the node names whose finished instances later steps may read: sources of
    multi-source edges (combinations) and nodes named by conditions.
    """

    spec: FlowSpec
    edges: tuple[EdgeTable, ...]
    starting: tuple[int, ...]
    out_edges: Mapping[str, tuple[int, ...]]
    failures: tuple[FailureEntry, ...]
    nodes: Mapping[str, NodeInfo]
    tracked: frozenset[str]


def _compile(
    system: System, cond: Condition, default_node: str | None
) -> tuple[CompiledCondition | None, str]:
    if cond == ALWAYS_TRUE:
        return None, "alwaysTrue()"
    compiled = compile_condition(cond, system.predicate, default_node=default_node)
    return compiled, compiled.text


def _node_info(system: System, flow: FlowSpec, name: str) -> NodeInfo:
    spec = system.spec
    if spec.is_flow(name):
        child = spec.flows[name]
        queue, throttling, is_flow = child.queue, child.throttling, True
    else:
        task = spec.task(name)
        queue, throttling, is_flow = task.queue, task.throttling, False
    return NodeInfo(
        name=name,
        is_flow=is_flow,
        queue=queue,
        throttle_s=None if throttling is None else throttling.total_seconds(),
        nowait=name in flow.nowait,
        eager=flow.is_eager(name),
    )


def _edge_table(system: System, idx: int, edge: EdgeSpec) -> EdgeTable:
    default = edge.from_[0] if len(edge.from_) == 1 else None
    cond, text = _compile(system, edge.condition, default)
    plan = None
    if edge.selective is not None:
        plan = plan_for_edge(system.spec, edge.selective, edge.to[0])
    foreach = edge.foreach
    foreach_str = None if foreach is None else f"{foreach.import_}.{foreach.function}"
    return EdgeTable(
        idx,
        edge.from_,
        edge.to,
        cond,
        text,
        foreach,
        plan,
        bit=1 << idx,
        task_sources=not any(system.spec.is_flow(src) for src in edge.from_),
        task_dests=not any(system.spec.is_flow(dest) for dest in edge.to),
        why={"condition_str": text, "foreach_str": foreach_str},
    )


def _flow_table(system: System, flow: FlowSpec) -> FlowTable:
    edges: list[EdgeTable] = []
    out: dict[str, list[int]] = {}
    names: set[str] = set()
    tracked: set[str] = set()
    for idx, edge in enumerate(flow.edges):
        table = _edge_table(system, idx, edge)
        edges.append(table)
        for src in dict.fromkeys(edge.from_):
            out.setdefault(src, []).append(idx)
        if len(edge.from_) > 1:
            tracked.update(edge.from_)
        if table.condition is not None:
            read = {node.split("/")[0] for node in table.condition.nodes}
            tracked.update(read.difference(edge.from_))
        names.update(edge.from_, edge.to)
    grouped: dict[tuple[str, ...], list[FallbackRule]] = {}
    for failure in flow.failures:
        cond, text = _compile(system, failure.condition, None)
        key = tuple(sorted(set(failure.nodes)))
        grouped.setdefault(key, []).append(FallbackRule(failure.fallback, cond, text))
        names.update(failure.nodes)
        if failure.fallback is not True:
            names.update(failure.fallback)
    failures = tuple(
        FailureEntry(nodes, tuple(rules))
        for nodes, rules in sorted(grouped.items(), key=lambda kv: (-len(kv[0]), kv[0]))
    )
    return FlowTable(
        spec=flow,
        edges=tuple(edges),
        starting=tuple(e.index for e in edges if not e.sources),
        out_edges={name: tuple(idxs) for name, idxs in out.items()},
        failures=failures,
        nodes={name: _node_info(system, flow, name) for name in sorted(names)},
        tracked=frozenset(tracked),
    )


def build_tables(system: System) -> dict[str, FlowTable]:
    """The tables of every flow of ``system``, by flow name.

    Raises:
        SpecError: a condition does not compile.
        SelectiveNoPathError: a YAML ``selective:`` edge names an unreachable task.
    """
    return {name: _flow_table(system, flow) for name, flow in system.spec.flows.items()}
