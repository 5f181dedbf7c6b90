"""Selective runs: run only the parts of a flow that lead to some requested tasks.

The plan itself is a plain value (:class:`~selinon_core.dispatch.plan.SelectivePlan`, carried by
``FlowRequested`` and inherited by sub-flows); this module holds the planning functions:
:func:`plan_selective_run` for ``run_flow_selective(...)`` requests and :func:`plan_for_edge` for
YAML ``selective:`` edges.

Planning, in three steps (see ``docs/selective.md``):

1. *Locate* each requested task: in the flow itself and, with ``follow_subflows``, in every
   sub-flow that starts it (transitively); such sub-flows become targets in their parents.
2. *Search backwards* from the targets of each planned flow: every edge that can fire and lists
   a target (or a source of an already collected edge) as destination is collected, with the
   destinations that lie on a path.  All paths are merged; cycles leading to a target come along.
3. *Subsequent* (``run_subsequent``): starting from the requested tasks (and the targeted
   sub-flows) of a planned flow, add every non-starting edge whose sources are all in that set,
   with all its destinations, until nothing changes.

A flow without an entry in the plan is run in full: this is what happens to a sub-flow that is a
prerequisite of a requested task without containing one (Selinon crashed there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from selinon_core.config.spec import SelectiveEdgeSpec, SystemSpec
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.errors import RequestError, SelectiveNoPathError, UnknownFlowError

if TYPE_CHECKING:  # networkx is imported by the first plan, not by the dispatcher
    from selinon_core.config.graph import FlowGraph

__all__ = ["plan_for_edge", "plan_selective_run"]


# --------------------------------------------------------------------------- planning


def plan_selective_run(
    spec: SystemSpec,
    flow_name: str,
    task_names: Sequence[str],
    *,
    follow_subflows: bool = False,
    run_subsequent: bool | Sequence[str] = False,
) -> SelectivePlan:
    """Plan a run of ``flow_name`` that starts only what leads to ``task_names``.

    Args:
        spec: the system configuration.
        flow_name: the flow to run.
        task_names: the nodes (usually tasks) to run; they always run, never reused.
        follow_subflows: also look for the tasks in sub-flows (transitively), planning those
            sub-flows and the edges of their parents that lead to them.
        run_subsequent: also run what depends on the requested tasks: ``True`` for every planned
            flow, or the names of the flows where it applies.

    Returns:
        The plan; ``edges`` has one entry per planned flow, edge indexes and destinations sorted.

    Raises:
        UnknownFlowError: ``flow_name`` (or a name in ``run_subsequent``) is not a flow.
        RequestError: ``task_names`` is empty.
        SelectiveNoPathError: no edge path leads to one of the requested tasks.
    """
    from selinon_core.config.graph import graphs_of  # noqa: PLC0415 - networkx on demand

    graphs = graphs_of(spec)
    names = tuple(dict.fromkeys([task_names] if isinstance(task_names, str) else task_names))
    subsequent_flows = _subsequent_flows(graphs, run_subsequent)
    if flow_name not in graphs:
        raise UnknownFlowError(f"unknown flow {flow_name!r}")
    if not names:
        raise RequestError("a selective run needs at least one task name")
    locator = _Locator(graphs, follow_subflows)
    for task in names:
        if not locator.locate(flow_name, task):
            raise SelectiveNoPathError(f"No path to node '{task}' found in flow '{flow_name}'")
    edges: dict[str, dict[int, set[str]]] = {}
    for flow, targets in sorted(locator.targets.items()):
        edges[flow] = _backward(graphs[flow], targets)
        if subsequent_flows is None or flow in subsequent_flows:
            _add_subsequent(graphs[flow], targets, edges[flow])
    return SelectivePlan(
        task_names=names,
        follow_subflows=follow_subflows,
        run_subsequent=bool(run_subsequent),
        edges={flow: _freeze(graphs[flow], found) for flow, found in edges.items()},
    )


def plan_for_edge(
    spec: SystemSpec, edge: SelectiveEdgeSpec, destination_flow: str
) -> SelectivePlan:
    """Plan the selective run of the sub-flow started by a YAML ``selective:`` edge.

    Args:
        spec: the system configuration.
        edge: the edge's ``selective`` section.
        destination_flow: the sub-flow the edge starts.

    Raises:
        UnknownFlowError: ``destination_flow`` is not a flow.
        SelectiveNoPathError: no edge path leads to one of the tasks.
    """
    return plan_selective_run(
        spec,
        destination_flow,
        edge.tasks,
        follow_subflows=edge.follow_subflows,
        run_subsequent=edge.run_subsequent,
    )


def _subsequent_flows(
    graphs: Mapping[str, FlowGraph], run_subsequent: bool | Sequence[str]
) -> frozenset[str] | None:
    """The flows ``run_subsequent`` applies to; ``None`` means every planned flow."""
    if run_subsequent is True:
        return None
    if run_subsequent is False:
        return frozenset()
    flows = frozenset([run_subsequent] if isinstance(run_subsequent, str) else run_subsequent)
    unknown = sorted(flows - graphs.keys())
    if unknown:
        raise UnknownFlowError(f"run_subsequent names unknown flows: {', '.join(unknown)}")
    return flows


@dataclass(slots=True)
class _Locator:
    """Finds where each requested task must be reached; fills ``targets`` (flow -> nodes)."""

    graphs: Mapping[str, FlowGraph]
    follow_subflows: bool
    targets: dict[str, set[str]] = field(default_factory=dict)

    def locate(self, flow: str, task: str, visiting: frozenset[str] = frozenset()) -> bool:
        """Record where ``task`` must be reached in ``flow`` (and its sub-flows); False if nowhere.

        ``visiting`` holds the flows on the current sub-flow chain, so that recursion ends.
        """
        graph = self.graphs[flow]
        found = False
        if task in graph.reachable_nodes:
            self.targets.setdefault(flow, set()).add(task)
            found = True
        if self.follow_subflows:
            inner = visiting | {flow}
            for sub in sorted((graph.subflows & graph.reachable_nodes) - inner):
                if self.locate(sub, task, inner):
                    self.targets.setdefault(flow, set()).add(sub)
                    found = True
        return found


def _backward(graph: FlowGraph, targets: set[str]) -> dict[int, set[str]]:
    """For every fireable edge on a path to ``targets``: the destinations on such a path."""
    found: dict[int, set[str]] = {}
    seen = set(targets)
    pending = sorted(targets)
    while pending:
        node = pending.pop()
        for index in graph.edges_to(node):
            if index not in graph.fireable_edges:
                continue
            found.setdefault(index, set()).add(node)
            for source in graph.edge(index).from_:
                if source not in seen:
                    seen.add(source)
                    pending.append(source)
    return found


def _add_subsequent(graph: FlowGraph, seeds: set[str], found: dict[int, set[str]]) -> None:
    """Add, to a fixed point, every non-starting edge whose sources all are in ``seeds`` or
    started by an edge already added this way, with all its destinations."""
    done: set[int] = set()
    started = set(seeds)
    pending = sorted(seeds)
    while pending:
        node = pending.pop()
        for index in graph.edges_from(node):
            edge = graph.edge(index)
            if index in done or not started.issuperset(edge.from_):
                continue
            done.add(index)
            found.setdefault(index, set()).update(edge.to)
            for destination in edge.to:
                if destination not in started:
                    started.add(destination)
                    pending.append(destination)


def _freeze(graph: FlowGraph, found: dict[int, set[str]]) -> dict[int, tuple[str, ...]]:
    """Edge indexes in order, destinations in the edge's own order (without repetitions)."""
    return {
        index: tuple(n for n in dict.fromkeys(graph.edge(index).to) if n in found[index])
        for index in sorted(found)
    }
