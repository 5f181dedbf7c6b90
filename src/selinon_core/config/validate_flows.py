"""Consistency rules of one flow definition: edges, flags, failures and conditions.

Each rule reports at the YAML node that breaks it.  The rules follow Selinon's (starting edge
required, dependencies on never-started tasks, ``nowait``/``eager_failures``/
``node_args_from_first`` constraints, disjoint propagate flags, cyclic fallbacks, ...), except
where Selinon crashed or rejected documented syntax: ``eager_failures: true``,
``eager_failures`` without ``failures`` and ``fallback: true`` are accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from selinon_core.config.spec import (
    PROPAGATE_DESTINATION_FLAGS,
    PROPAGATE_FLAGS,
    PROPAGATE_SOURCE_FLAGS,
    EdgeSpec,
    FailureSpec,
    FlowSpec,
    TaskSpec,
)
from selinon_core.config.validate_common import Reporter, did_you_mean
from selinon_core.config.validate_conditions import (
    ConditionScope,
    PredicateTable,
    check_condition,
    flow_nodes,
)
from selinon_core.config.yamlsource import Path_

__all__ = ["NodeIndex", "check_flow"]


@dataclass(frozen=True)
class NodeIndex:
    """Everything a flow may refer to.

    Attributes:
        tasks: tasks by name.
        flows: flow definitions by name (the first one when a name is defined twice).
        flow_names: every flow name that is listed or defined.
        predicates: predicate lookup for conditions.
        broken: names of tasks and flows whose entries are invalid (known, but not checked).
    """

    tasks: Mapping[str, TaskSpec]
    flows: Mapping[str, FlowSpec]
    flow_names: frozenset[str]
    predicates: PredicateTable
    broken: frozenset[str] = frozenset()

    def known(self, name: str) -> bool:
        """True when ``name`` is a task or a flow."""
        return name in self.tasks or name in self.flow_names or name in self.broken

    def all_names(self) -> set[str]:
        """Every task and flow name."""
        return {*self.tasks, *self.flow_names}


def _item(rep: Reporter, path: Path_, index: int) -> Path_:
    """Path of entry ``index`` of the value at ``path`` (the value itself if it is a string)."""
    value: Any = rep.data
    for part in path:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return path
    return (*path, index) if isinstance(value, list) else path


def _unknown(rep: Reporter, path: Path_, names: Iterable[str], index: NodeIndex) -> None:
    for k, name in enumerate(names):
        if not index.known(name):
            hint = did_you_mean(name, index.all_names()) or "define it under 'tasks' or 'flows'"
            rep.error(_item(rep, path, k), f"unknown node {name!r}", hint)


def check_flow(position: int, flow: FlowSpec, index: NodeIndex, rep: Reporter) -> None:
    """Check every consistency rule of ``flow``, found at ``flow-definitions[position]``."""
    base: Path_ = ("flow-definitions", position)
    for j, edge in enumerate(flow.edges):
        _check_edge(flow, edge, (*base, "edges", j), index, rep)
    if not any(edge.is_starting for edge in flow.edges):
        rep.error((*base, "edges"), "no starting edge", "add an edge with an empty 'from'")
    for j, failure in enumerate(flow.failures):
        _check_failure(flow, failure, (*base, "failures", j), index, rep)
    _check_dependencies(flow, base, index, rep)
    _check_nowait_and_eager(flow, base, rep)
    _check_first(flow, base, index, rep)
    _check_flags(flow, base, index, rep)


def _check_edge(
    flow: FlowSpec, edge: EdgeSpec, path: Path_, index: NodeIndex, rep: Reporter
) -> None:
    _unknown(rep, (*path, "from"), edge.from_, index)
    _unknown(rep, (*path, "to"), edge.to, index)
    seen: set[str] = set()
    for k, name in enumerate(edge.from_):
        if name in seen:
            rep.error(_item(rep, (*path, "from"), k), f"source node {name!r} is listed twice")
        seen.add(name)
    if edge.foreach is not None and edge.foreach.propagate_result:
        for k, name in enumerate(edge.to):
            if name in index.tasks:
                rep.error(
                    _item(rep, (*path, "to"), k),
                    f"foreach 'propagate_result' needs sub-flow destinations, {name!r} is a task",
                )
            elif flow.covers("propagate_node_args", name):
                rep.error(
                    (*path, "foreach", "propagate_result"),
                    f"sub-flow {name!r} gets foreach results as arguments, so it cannot also be "
                    "in 'propagate_node_args'",
                )
    if edge.selective is not None:
        _check_selective(edge, path, index, rep)
    scope = ConditionScope(edge.from_, False, index.tasks, index.flows, index.predicates)
    check_condition(edge.condition, (*path, "condition"), scope, rep)


def _check_selective(edge: EdgeSpec, path: Path_, index: NodeIndex, rep: Reporter) -> None:
    assert edge.selective is not None
    if len(edge.to) != 1 or edge.to[0] not in index.flow_names:
        rep.error((*path, "selective"), "a selective edge must have exactly one sub-flow in 'to'")
    target = index.flows.get(edge.to[0]) if len(edge.to) == 1 else None
    direct = flow_nodes(target) if target else set()
    nested = _nested_nodes(target, index) if target else set()
    for k, name in enumerate(edge.selective.tasks):
        where = _item(rep, (*path, "selective", "tasks"), k)
        if name not in index.tasks:
            rep.error(
                where,
                f"selective run names unknown task {name!r}",
                did_you_mean(name, index.tasks),
            )
        elif target is None or name in direct:
            continue
        elif name not in nested:
            rep.error(where, f"task {name!r} is not in sub-flow {edge.to[0]!r} or its sub-flows")
        elif not edge.selective.follow_subflows:
            rep.error(
                where,
                f"task {name!r} is only in a sub-flow of {edge.to[0]!r}",
                "set 'follow_subflows: true'",
            )


def _nested_nodes(flow: FlowSpec, index: NodeIndex) -> set[str]:
    """Every node of ``flow`` and of the sub-flows it starts, recursively."""
    seen: set[str] = set()
    pending = [flow]
    found: set[str] = set()
    while pending:
        current = pending.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        members = flow_nodes(current)
        found |= members
        pending.extend(index.flows[name] for name in members if name in index.flows)
    return found


def _check_failure(
    flow: FlowSpec, failure: FailureSpec, path: Path_, index: NodeIndex, rep: Reporter
) -> None:
    in_edges = {name for edge in flow.edges for name in (*edge.from_, *edge.to)}
    for other in flow.failures:  # a fallback may fail in turn and have a fallback of its own
        if other.fallback is not True:
            in_edges.update(other.fallback)
    for k, name in enumerate(failure.nodes):
        if not index.known(name):
            rep.error(
                _item(rep, (*path, "nodes"), k),
                f"unknown node {name!r}",
                did_you_mean(name, in_edges or index.all_names()),
            )
        elif name not in in_edges:
            rep.error(_item(rep, (*path, "nodes"), k), f"node {name!r} is not used in this flow")
    if failure.fallback is True:
        if failure.propagate_failure:
            rep.error(
                (*path, "propagate_failure"),
                "'fallback: true' marks the failure as handled, so 'propagate_failure: true' "
                "is misleading",
                "remove one of them",
            )
    else:
        _unknown(rep, (*path, "fallback"), failure.fallback, index)
        for k, name in enumerate(failure.fallback):
            if name in failure.nodes:
                rep.error(
                    _item(rep, (*path, "fallback"), k),
                    f"cyclic fallback: {name!r} is the fallback of its own failure",
                )
    scope = ConditionScope(failure.nodes, True, index.tasks, index.flows, index.predicates)
    check_condition(failure.condition, (*path, "condition"), scope, rep)


def _started(flow: FlowSpec) -> set[str]:
    names = {name for edge in flow.edges for name in edge.to}
    for failure in flow.failures:
        if failure.fallback is not True:
            names.update(failure.fallback)
    return names


def _sources(flow: FlowSpec) -> set[str]:
    names = {name for edge in flow.edges for name in edge.from_}
    names.update(name for failure in flow.failures for name in failure.nodes)
    return names


def _check_dependencies(flow: FlowSpec, base: Path_, index: NodeIndex, rep: Reporter) -> None:
    started = _started(flow)
    reported: set[str] = set()
    for j, edge in enumerate(flow.edges):
        for k, name in enumerate(edge.from_):
            if name in started or name in reported or not index.known(name):
                continue
            reported.add(name)
            where = _item(rep, (*base, "edges", j, "from"), k)
            message = f"edge depends on {name!r}, which is never started in this flow"
            if name in index.tasks:
                rep.error(where, message, "start it on some edge's 'to' or as a fallback")
            else:
                rep.warn(where, message)


def _check_nowait_and_eager(flow: FlowSpec, base: Path_, rep: Reporter) -> None:
    started = {name for edge in flow.edges for name in edge.to}
    sources = _sources(flow)
    for k, name in enumerate(flow.nowait):
        where = _item(rep, (*base, "nowait"), k)
        if name not in started:
            rep.error(where, f"'nowait' node {name!r} is never started in this flow")
        elif name in sources:
            rep.error(where, f"'nowait' node {name!r} cannot be waited for by an edge or failure")
    if flow.eager_failures is True:
        return
    used = started | sources
    with_fallback = {name for failure in flow.failures for name in failure.nodes}
    for k, name in enumerate(flow.eager_failures):
        where = _item(rep, (*base, "eager_failures"), k)
        if name not in used:
            rep.error(where, f"'eager_failures' node {name!r} is not used in this flow")
        elif name in flow.nowait:
            rep.error(where, f"node {name!r} cannot be both 'nowait' and in 'eager_failures'")
        elif name in with_fallback:
            rep.error(where, f"node {name!r} has a fallback, so its failure cannot be eager")


def _check_first(flow: FlowSpec, base: Path_, index: NodeIndex, rep: Reporter) -> None:
    if not flow.node_args_from_first:
        return
    starting = [edge for edge in flow.edges if edge.is_starting]
    where = (*base, "node_args_from_first")
    if len(starting) != 1 or len(starting[0].to) != 1:
        rep.error(where, "'node_args_from_first' needs exactly one starting edge with one node")
    elif starting[0].to[0] not in index.tasks:
        rep.error(where, "'node_args_from_first' needs a task, not a sub-flow, as starting node")


def _check_flags(flow: FlowSpec, base: Path_, index: NodeIndex, rep: Reporter) -> None:
    destinations = {n for edge in flow.edges for n in edge.to if n in index.flow_names}
    sources = {n for edge in flow.edges for n in edge.from_ if n in index.flow_names}
    with_fallback = {n for failure in flow.failures for n in failure.nodes}
    for flag in PROPAGATE_FLAGS:
        value = getattr(flow, flag)
        if isinstance(value, bool):
            continue
        if flag in PROPAGATE_DESTINATION_FLAGS:
            allowed, what = destinations, "a sub-flow started in this flow"
        elif flag in PROPAGATE_SOURCE_FLAGS:
            allowed, what = sources, "a sub-flow that is a source of an edge"
        else:
            allowed, what = with_fallback, "a node with a fallback in this flow"
        for k, name in enumerate(value):
            if name not in allowed:
                rep.error(
                    _item(rep, (*base, flag), k),
                    f"{flag!r} names {name!r}, which is not {what}",
                    did_you_mean(name, allowed),
                )
    _disjoint(flow, base, "propagate_finished", "propagate_compound_finished", rep)
    _disjoint(flow, base, "propagate_failures", "propagate_compound_failures", rep)
    _warn_lost_finished(flow, base, index, rep)


def _warn_lost_finished(flow: FlowSpec, base: Path_, index: NodeIndex, rep: Reporter) -> None:
    """Finished nodes propagated into a sub-flow that does not receive its parent are lost."""
    for j, edge in enumerate(flow.edges):
        propagated = [
            s
            for s in edge.from_
            if s in index.flow_names
            and (
                flow.covers("propagate_finished", s)
                or flow.covers("propagate_compound_finished", s)
            )
        ]
        if not propagated:
            continue
        for k, name in enumerate(edge.to):
            if name in index.flow_names and not flow.covers("propagate_parent", name):
                rep.warn(
                    _item(rep, (*base, "edges", j, "to"), k),
                    f"finished nodes of {propagated[0]!r} do not reach sub-flow {name!r}",
                    "add it to 'propagate_parent'",
                )


def _disjoint(flow: FlowSpec, base: Path_, first: str, second: str, rep: Reporter) -> None:
    a, b = getattr(flow, first), getattr(flow, second)
    if (a is True and b) or (b is True and a):
        rep.error((*base, second), f"flags {first!r} and {second!r} are mutually exclusive")
        return
    if isinstance(a, tuple) and isinstance(b, tuple):
        for name in sorted(set(a) & set(b)):
            rep.error((*base, second), f"node {name!r} is in both {first!r} and {second!r}")
