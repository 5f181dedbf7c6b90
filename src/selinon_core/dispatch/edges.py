"""Edge firing: combinations of finished source instances, conditions, foreach, selective paths.

When a node instance finishes, each edge leaving its node name is evaluated once for every
*new* combination of finished source instances: the new instance combined with every finished
instance of the other sources (in finish order).  The new instance joins the finished
instances only after all its edges were evaluated, so no combination is ever evaluated twice and
a false condition is never re-evaluated.  The work is O(edges leaving the node + combinations
produced).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from selinon_core.config.conditions import CompiledCondition, ConditionError
from selinon_core.config.system import canonical_module
from selinon_core.dispatch.events import FlowSummary
from selinon_core.dispatch.pmap import cons_list
from selinon_core.dispatch.steps import StepTx
from selinon_core.dispatch.subflows import compound_finished, nested_finished, resolve_path
from selinon_core.dispatch.tables import EdgeTable
from selinon_core.errors import (
    ResultMissing,
    SelinonError,
    TransientBackendError,
    describe_error,
)
from selinon_core.trace import TraceName

__all__ = ["EdgeContext", "ForeachLimitError", "evaluate", "fire_edges", "fire_starting_edges"]

Instance = tuple[str, FlowSummary | None]
"""A finished node instance: its id and, for a sub-flow, its summary."""

_NO_ITEM: tuple[None] = (None,)
"""The items of an edge without ``foreach``: one launch, no item."""

_ALWAYS_RUN = ("selinon_core.routines", "always_run")
"""The default selective run function (any spelling, after :func:`canonical_module`): no call."""


class ForeachLimitError(SelinonError):
    """A ``foreach`` function yielded more items than ``max_foreach_nodes`` allows.

    It fails the flow (traced as ``FOREACH_ERROR``) instead of growing the process without end.
    """


class EdgeContext:
    """What a condition of an edge reads: flow arguments and results of the combination."""

    __slots__ = ("_combo", "_tx")

    def __init__(self, tx: StepTx, combo: Mapping[str, Instance]) -> None:
        self._tx = tx
        self._combo = combo

    @property
    def node_args(self) -> Any:
        """The flow arguments."""
        return self._tx.node_args

    @property
    def http_probe(self) -> Any:
        """The results port's HTTP port for ``httpStatus`` (``None`` if it offers none)."""
        return getattr(self._tx.results, "http_probe", None)

    def _instance(self, name: str) -> Instance | None:
        found = self._combo.get(name)
        if found is None:
            items = self._tx.done.get(name)
            found = None if items is None else items[0]
        return found

    def message(self, node: str) -> Any:
        """The stored result of ``node`` (a source of the edge, or a ``flow/Task`` path)."""
        first, *rest = node.split("/") if "/" in node else (node,)
        instance = self._instance(first)
        if instance is None:
            raise ResultMissing(f"node {first!r} has no finished instance")
        if not rest:
            return self._tx.results.get(
                flow_name=self._tx.flow_name, task_name=first, task_id=instance[0]
            )
        found = None if instance[1] is None else resolve_path(instance[1], rest)
        if found is None:
            raise ResultMissing(f"no finished task at path {node!r}")
        flow_name, task_name, task_id = found
        return self._tx.results.get(flow_name=flow_name, task_name=task_name, task_id=task_id)


class FlowArgsContext:
    """The context of failure conditions: flow arguments only, no results."""

    __slots__ = ("http_probe", "node_args")

    def __init__(self, node_args: Any, http_probe: Any = None) -> None:
        self.node_args = node_args
        self.http_probe = http_probe

    def message(self, node: str) -> Any:
        """Failure conditions cannot read results."""
        raise ResultMissing(f"failure conditions cannot read the result of {node!r}")


def evaluate(
    tx: StepTx, cond: CompiledCondition, ctx: EdgeContext | FlowArgsContext, **details: Any
) -> bool:
    """Evaluate ``cond``; a predicate error or a missing result is traced and counts as false."""
    try:
        return cond.evaluate(ctx)
    except (ConditionError, ResultMissing) as exc:
        tx.emit(TraceName.CONDITION_ERROR, condition=cond.text, what=str(exc), **details)
        return False


def _edge_condition(tx: StepTx, edge: EdgeTable, ctx: EdgeContext) -> bool:
    """:func:`evaluate` for an edge, building the error's trace details only when needed."""
    assert edge.condition is not None
    try:
        return edge.condition.evaluate(ctx)
    except (ConditionError, ResultMissing) as exc:
        tx.emit(
            TraceName.CONDITION_ERROR,
            condition=edge.condition.text,
            what=str(exc),
            nodes_to=list(edge.dests),
            nodes_from=list(edge.sources),
        )
        return False


def _edge_details(tx: StepTx, edge: EdgeTable, parent: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "nodes_to": list(edge.dests),
        "nodes_from": list(edge.sources),
        "condition_str": edge.condition_str,
        "foreach_str": edge.foreach_str,
        "parent": dict(parent),
        "node_args": tx.node_args,
        "selective": tx.selective_flag(),
    }


def _parent_map(tx: StepTx, edge: EdgeTable, combo: tuple[Instance, ...]) -> dict[str, Any]:
    if edge.task_sources:
        return {src: instance[0] for src, instance in zip(edge.sources, combo, strict=True)}
    spec = tx.table.spec
    nodes = tx.table.nodes
    parent: dict[str, Any] = {}
    for src, (nid, summary) in zip(edge.sources, combo, strict=True):
        if not nodes[src].is_flow:
            parent[src] = nid
        elif summary is not None and spec.covers("propagate_finished", src):
            parent[src] = nested_finished(summary)
        elif summary is not None and spec.covers("propagate_compound_finished", src):
            parent[src] = compound_finished(summary)
    return parent


def _combinations(
    tx: StepTx, edge: EdgeTable, name: str, new: Instance
) -> Iterable[tuple[Instance, ...]]:
    lists: list[list[Instance] | tuple[Instance]] = []
    for src in edge.sources:
        if src == name:
            lists.append((new,))
            continue
        items = tx.done.get(src)
        if items is None:
            return ()
        lists.append(cons_list(items))
    return itertools.product(*lists)


def _allowed(tx: StepTx, edge: EdgeTable) -> tuple[bool, tuple[str, ...] | None]:
    """``(planned, allowed destinations)`` of ``edge`` under the selective plan."""
    plan = tx.selective
    if plan is None or not plan.plans_flow(tx.flow_name):
        return False, None
    return True, plan.allowed(tx.flow_name, edge.index)


def fire_edges(tx: StepTx, name: str, new: Instance) -> None:
    """Evaluate every edge leaving ``name`` for the new finished instance ``new``."""
    table = tx.table
    for idx in table.out_edges.get(name, ()):
        edge = table.edges[idx]
        allowed = None
        if tx.selective is not None:
            planned, allowed = _allowed(tx, edge)
            if planned and allowed is None:
                continue
        if len(edge.sources) == 1:  # the common case: one combination, the new instance
            _fire(tx, edge, (new,), {name: new}, allowed)
            if tx.fail_now:
                return
            continue
        for combo in _combinations(tx, edge, name, new):
            _fire(tx, edge, combo, dict(zip(edge.sources, combo, strict=True)), allowed)
            if tx.fail_now:
                return


def _fire(
    tx: StepTx,
    edge: EdgeTable,
    combo: tuple[Instance, ...],
    by_name: Mapping[str, Instance],
    allowed: tuple[str, ...] | None,
) -> None:
    """Evaluate ``edge`` for one combination and launch it when its condition holds."""
    parent = _parent_map(tx, edge, combo)
    if edge.condition is not None and not _condition_true(
        tx, edge, EdgeContext(tx, by_name), parent
    ):
        return
    _launch(tx, edge, parent, allowed)


def fire_starting_edges(tx: StepTx) -> None:
    """Evaluate the starting edges of the flow (in edge order) and start their nodes."""
    table = tx.table
    parent = dict(tx.base.parent or {})
    for idx in table.starting:
        edge = table.edges[idx]
        if edge.condition is not None and not _condition_true(
            tx, edge, EdgeContext(tx, {}), parent
        ):
            continue
        planned, allowed = _allowed(tx, edge)
        if planned and allowed is None:
            tx.emit(TraceName.SELECTIVE_OMIT_EDGE, **_edge_details(tx, edge, parent))
            continue
        _launch(tx, edge, parent, allowed)
        if tx.fail_now:
            return


def _condition_true(
    tx: StepTx, edge: EdgeTable, ctx: EdgeContext, parent: Mapping[str, Any]
) -> bool:
    if _edge_condition(tx, edge, ctx):
        return True
    if tx.tracing:
        tx.emit(
            TraceName.EDGE_COND_FALSE,
            nodes_to=list(edge.dests),
            nodes_from=list(edge.sources),
            condition=edge.condition_str,
            parent=dict(parent),
            node_args=tx.node_args,
            selective=tx.selective_flag(),
        )
    return False


def _foreach_items(tx: StepTx, edge: EdgeTable, parent: Mapping[str, Any]) -> list[Any] | None:
    foreach = edge.foreach
    assert foreach is not None
    cap = tx.table.spec.max_foreach_nodes or tx.system.spec.global_.max_foreach_nodes
    most = max(1, cap // max(1, len(edge.dests)))  # items allowed: each starts every dest
    try:
        fn = tx.system.resolve(foreach.import_, foreach.function)
        pool = tx.results.storage_pool(flow_name=tx.flow_name, parent=parent)
        result = fn(pool, tx.node_args)
        # Never more than one item past the cap: an endless generator must not be drained.
        items = list(itertools.islice(result, most + 1)) if result else []
        if len(items) > most:
            raise ForeachLimitError(
                f"foreach function {foreach.import_}.{foreach.function} yielded more than "
                f"{most:,} items, which would start more than max_foreach_nodes={cap:,} nodes"
            )
    except TransientBackendError:
        raise
    except Exception as exc:
        tx.emit(
            TraceName.FOREACH_ERROR,
            what=describe_error(exc),
            **_edge_details(tx, edge, parent),
        )
        tx.fail_now = True
        return None
    if tx.tracing:
        tx.emit(TraceName.FOREACH_RESULT, result=items, **_edge_details(tx, edge, parent))
    return items


def _launch(
    tx: StepTx, edge: EdgeTable, parent: dict[str, Any], allowed: tuple[str, ...] | None
) -> None:
    """The edge fired: start its destinations (once per foreach item)."""
    tx.triggered |= edge.bit
    items = _NO_ITEM if edge.foreach is None else _foreach_items(tx, edge, parent)
    if items is None:
        return
    if allowed is None and edge.task_dests:
        # The hot path: plain tasks, nothing selective; the foreach item is not used.
        nodes = tx.table.nodes
        infos = [nodes[dest] for dest in edge.dests]
        why = edge.why
        for _ in items:
            for info in infos:
                tx.start_task(info, parent, why)
        return
    _launch_items(tx, edge, parent, allowed, items)


def _launch_items(
    tx: StepTx,
    edge: EdgeTable,
    parent: dict[str, Any],
    allowed: tuple[str, ...] | None,
    items: Sequence[Any],
) -> None:
    """Start the destinations once per item: sub-flows, or under a selective plan."""
    propagate = edge.foreach is not None and edge.foreach.propagate_result
    for item in items:
        for dest in edge.dests:
            if allowed is not None and dest not in allowed:
                tx.emit(
                    TraceName.SELECTIVE_OMIT_NODE,
                    omitted_node=dest,
                    **_edge_details(tx, edge, parent),
                )
                continue
            if allowed is not None and _reused(tx, edge, dest, parent):
                if tx.fail_now:
                    return
                continue
            tx.start_node(
                dest, parent, item=item, propagate_item=propagate, plan=edge.plan, why=edge.why
            )


def _reused(tx: StepTx, edge: EdgeTable, dest: str, parent: dict[str, Any]) -> bool:
    """Ask a non-requested task's selective run function whether to reuse an earlier result."""
    plan = tx.selective
    info = tx.table.nodes[dest]
    if plan is None or info.is_flow or dest in plan.task_names:
        return False
    run_fn = tx.system.spec.task(dest).selective_run_function
    result: Any = None
    if (canonical_module(run_fn.import_), run_fn.name) != _ALWAYS_RUN:
        try:
            fn = tx.system.resolve(run_fn.import_, run_fn.name)
            pool = tx.results.storage_pool(flow_name=tx.flow_name, parent=parent)
            result = fn(tx.flow_name, dest, tx.node_args, list(plan.task_names), pool)
        except TransientBackendError:
            raise
        except Exception as exc:
            tx.emit(TraceName.DISPATCHER_FAILURE, what=describe_error(exc))
            tx.fail_now = True
            return True
    tx.emit(
        TraceName.SELECTIVE_RUN_FUNC,
        node_name=dest,
        node_args=tx.node_args,
        parent=dict(parent),
        result=result,
        selective=tx.selective_flag(),
    )
    if result is None:
        return False
    tx.emit(
        TraceName.SELECTIVE_TASK_REUSE,
        task_name=dest,
        task_id=str(result),
        **_edge_details(tx, edge, parent),
    )
    tx.pending.append((dest, str(result), None))
    return True
