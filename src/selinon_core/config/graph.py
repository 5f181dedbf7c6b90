"""Flow graphs: the edges of each flow as an immutable networkx multigraph, plus the queries
that planning and validation ask of them.

A flow's edges are hyperedges (``from: [A, B]`` fires once both have finished).  A
:class:`FlowGraph` keeps the original edges for the exact questions ("which edges can ever
fire?", "which edges lead to X?") and projects them onto a :class:`networkx.MultiDiGraph` for the
graph-theoretic ones (ancestors, cycles): one graph edge per ``(source, destination, edge index)``,
keyed by the edge index.  Starting edges have no source; they leave the virtual node
:data:`START`, whose name can never be a node name.

System-wide questions (which sub-flows does a flow use, which flows contain a task) are answered
by the module functions, over the graphs of :func:`graphs_of`, which are built once per
``SystemSpec``.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import networkx as nx

from selinon_core.config.spec import EdgeSpec, FlowSpec, SystemSpec
from selinon_core.errors import UnknownFlowError, UnknownNodeError

__all__ = [
    "START",
    "FlowGraph",
    "flow_dependencies",
    "flows_containing",
    "graphs_of",
    "recursive_flows",
    "subflows_of",
]

START: Final = "<start>"
"""The virtual source of starting edges (not a valid node name, so it never clashes)."""


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` without repetitions, first occurrence order kept."""
    return tuple(dict.fromkeys(names))


class FlowGraph:
    """The edges of one flow, immutable, with reachability and cycle queries.

    Build it with :meth:`from_spec` (or get every flow's graph at once with :func:`graphs_of`).
    Node names are the task and sub-flow names used in the flow's edges; fallback nodes are not
    part of the graph (they are started by failures, not by edges).
    """

    __slots__ = (
        "_cyclic",
        "_digraph",
        "_edges_from",
        "_edges_to",
        "_fireable",
        "_flow",
        "_reachable",
        "_subflows",
    )

    def __init__(self, flow: FlowSpec, flow_names: Iterable[str] = ()) -> None:
        """Index ``flow``; ``flow_names`` are the names of all flows of the system.

        Args:
            flow: the flow's configuration.
            flow_names: every flow name of the system, to tell sub-flows from tasks.
        """
        self._flow = flow
        graph: nx.MultiDiGraph = nx.MultiDiGraph(name=flow.name)
        edges_to: dict[str, list[int]] = {}
        edges_from: dict[str, list[int]] = {}
        for index, edge in enumerate(flow.edges):
            sources = edge.from_ or (START,)
            for source in _unique(sources):
                edges_from.setdefault(source, []).append(index)
            for destination in _unique(edge.to):
                edges_to.setdefault(destination, []).append(index)
                for source in sources:
                    graph.add_edge(source, destination, key=index)
        self._digraph: nx.MultiDiGraph = nx.freeze(graph)
        self._edges_to = {name: tuple(idx) for name, idx in edges_to.items()}
        self._edges_from = {name: tuple(idx) for name, idx in edges_from.items()}
        known_flows = frozenset(flow_names)
        self._subflows = frozenset(n for n in self.nodes if n in known_flows)
        self._fireable, self._reachable = self._forward_closure()
        self._cyclic = self._find_cyclic()

    @classmethod
    def from_spec(cls, system_spec: SystemSpec, flow_name: str) -> FlowGraph:
        """The graph of the flow ``flow_name`` of ``system_spec``.

        Raises:
            UnknownFlowError: the system has no such flow.
        """
        try:
            flow = system_spec.flows[flow_name]
        except KeyError:
            raise UnknownFlowError(f"unknown flow {flow_name!r}") from None
        return cls(flow, system_spec.flows.keys())

    def _forward_closure(self) -> tuple[frozenset[int], frozenset[str]]:
        """Edges that can fire in some run (conditions ignored) and the nodes they can start.

        An edge can fire once every one of its sources can be started; starting edges always can.
        """
        reachable: set[str] = set()
        fireable: set[int] = set()
        waiting = {i: set(e.from_) for i, e in enumerate(self._flow.edges)}
        pending = [i for i, sources in waiting.items() if not sources]
        while pending:
            index = pending.pop()
            fireable.add(index)
            for node in self._flow.edges[index].to:
                if node in reachable:
                    continue
                reachable.add(node)
                for follower in self._edges_from.get(node, ()):
                    waiting[follower].discard(node)
                    if not waiting[follower] and follower not in fireable:
                        pending.append(follower)
        return frozenset(fireable), frozenset(reachable)

    # ------------------------------------------------------------------ plain accessors

    @property
    def name(self) -> str:
        """The flow's name."""
        return self._flow.name

    @property
    def flow(self) -> FlowSpec:
        """The flow's configuration."""
        return self._flow

    @property
    def digraph(self) -> nx.MultiDiGraph:
        """The frozen projection: one graph edge per (source, destination, edge index)."""
        return self._digraph

    @property
    def nodes(self) -> frozenset[str]:
        """Names of the tasks and sub-flows used in the flow's edges."""
        return frozenset(n for n in self._digraph.nodes if n != START)

    @property
    def subflows(self) -> frozenset[str]:
        """Sub-flows started by the flow's edges (not transitively)."""
        return self._subflows

    @property
    def starting_edges(self) -> tuple[int, ...]:
        """Indexes of the edges without sources."""
        return self._edges_from.get(START, ())

    @property
    def fireable_edges(self) -> frozenset[int]:
        """Indexes of the edges that can fire in some run, conditions ignored."""
        return self._fireable

    @property
    def reachable_nodes(self) -> frozenset[str]:
        """Nodes that some run can start through edges, conditions ignored."""
        return self._reachable

    def edge(self, index: int) -> EdgeSpec:
        """The edge with index ``index`` (``IndexError`` when there is none)."""
        return self._flow.edges[index]

    def __contains__(self, node: object) -> bool:
        return node != START and node in self._digraph

    def __repr__(self) -> str:
        return f"FlowGraph({self.name!r}, nodes={len(self.nodes)}, edges={len(self._flow.edges)})"

    # ------------------------------------------------------------------ neighbourhood

    def _check(self, node: str) -> None:
        if node not in self:
            raise UnknownNodeError(f"node {node!r} is not used in flow {self.name!r}")

    def edges_to(self, node: str) -> tuple[int, ...]:
        """Indexes of the edges that list ``node`` as a destination (empty for unknown nodes)."""
        return self._edges_to.get(node, ())

    def edges_from(self, node: str) -> tuple[int, ...]:
        """Indexes of the edges that list ``node`` as a source (empty for unknown nodes)."""
        return () if node == START else self._edges_from.get(node, ())

    def predecessors(self, node: str) -> frozenset[str]:
        """Sources of the edges leading to ``node``.

        Raises:
            UnknownNodeError: the flow's edges do not use ``node``.
        """
        self._check(node)
        return frozenset(self._digraph.predecessors(node)) - {START}

    def successors(self, node: str) -> frozenset[str]:
        """Destinations of the edges leaving ``node``.

        Raises:
            UnknownNodeError: the flow's edges do not use ``node``.
        """
        self._check(node)
        return frozenset(self._digraph.successors(node))

    def ancestors(self, node: str) -> frozenset[str]:
        """Nodes from which a chain of edges leads to ``node``; ``node`` itself iff on a cycle.

        Raises:
            UnknownNodeError: the flow's edges do not use ``node``.
        """
        self._check(node)
        found = set(nx.ancestors(self._digraph, node)) - {START}
        if self.in_cycle(node):
            found.add(node)
        return frozenset(found)

    def descendants(self, node: str) -> frozenset[str]:
        """Nodes a chain of edges leads to from ``node``; ``node`` itself iff on a cycle.

        Raises:
            UnknownNodeError: the flow's edges do not use ``node``.
        """
        self._check(node)
        found = set(nx.descendants(self._digraph, node))
        if self.in_cycle(node):
            found.add(node)
        return frozenset(found)

    def has_path(self, source: str, destination: str) -> bool:
        """Whether a chain of (at least one) edges leads from ``source`` to ``destination``."""
        self._check(source)
        self._check(destination)
        return destination in self.descendants(source)

    # ------------------------------------------------------------------ cycles

    @property
    def is_cyclic(self) -> bool:
        """Whether some chain of edges leads from a node back to itself."""
        return not nx.is_directed_acyclic_graph(self._digraph)

    @property
    def cyclic_nodes(self) -> frozenset[str]:
        """Nodes that lie on at least one cycle."""
        return self._cyclic

    def _find_cyclic(self) -> frozenset[str]:
        found: set[str] = set()
        for component in nx.strongly_connected_components(self._digraph):
            if len(component) > 1:
                found.update(component)
        found.update(node for node, _ in nx.selfloop_edges(self._digraph))
        return frozenset(found)

    def in_cycle(self, node: str) -> bool:
        """Whether ``node`` lies on a cycle of the flow."""
        return node in self._cyclic

    def cycles(self) -> tuple[tuple[str, ...], ...]:
        """Every elementary cycle, as node sequences (each starting at its smallest name)."""
        found = set()
        for cycle in nx.simple_cycles(self._digraph):
            pivot = cycle.index(min(cycle))
            found.add(tuple(cycle[pivot:] + cycle[:pivot]))
        return tuple(sorted(found))


# ---------------------------------------------------------------------- system level


@dataclass(frozen=True, slots=True)
class _SystemGraphs:
    flows: Mapping[str, FlowGraph]
    dependencies: nx.DiGraph


_CACHE: dict[int, tuple[weakref.ref[SystemSpec], _SystemGraphs]] = {}


def _build(spec: SystemSpec) -> _SystemGraphs:
    flows = {name: FlowGraph(flow, spec.flows.keys()) for name, flow in spec.flows.items()}
    dependencies: nx.DiGraph = nx.DiGraph()
    dependencies.add_nodes_from(flows)
    for name, graph in flows.items():
        for sub in graph.subflows:
            dependencies.add_edge(name, sub, fallback=False)
        for failure in graph.flow.failures:
            if failure.fallback is True:
                continue
            for fallback in failure.fallback:
                if fallback in flows and not dependencies.has_edge(name, fallback):
                    dependencies.add_edge(name, fallback, fallback=True)
    return _SystemGraphs(MappingProxyType(flows), nx.freeze(dependencies))


def _forget(key: int) -> Callable[[weakref.ref[SystemSpec]], None]:
    def drop(_ref: weakref.ref[SystemSpec]) -> None:
        _CACHE.pop(key, None)

    return drop


def _system(spec: SystemSpec) -> _SystemGraphs:
    """The graphs of ``spec``, built on first use and dropped with ``spec``."""
    key = id(spec)
    entry = _CACHE.get(key)
    if entry is not None and entry[0]() is spec:
        return entry[1]
    built = _build(spec)
    ref = weakref.ref(spec, _forget(key))
    _CACHE[key] = (ref, built)
    return built


def graphs_of(spec: SystemSpec) -> Mapping[str, FlowGraph]:
    """Every flow's graph, by flow name; built once per ``spec`` object.

    Args:
        spec: the system configuration.

    Returns:
        A read-only mapping ``flow name -> FlowGraph``.
    """
    return _system(spec).flows


def flow_dependencies(spec: SystemSpec, *, include_fallbacks: bool = False) -> nx.DiGraph:
    """The flows of ``spec`` as a directed graph: an edge ``F -> S`` when ``F`` starts ``S``.

    Args:
        spec: the system configuration.
        include_fallbacks: count sub-flows started as fallbacks too.

    Returns:
        A frozen ``networkx.DiGraph``; every flow is a node.
    """
    graph = _system(spec).dependencies
    if include_fallbacks:
        return graph
    return nx.subgraph_view(graph, filter_edge=lambda a, b: not graph.edges[a, b]["fallback"])


def _flow_check(spec: SystemSpec, flow_name: str) -> None:
    if flow_name not in spec.flows:
        raise UnknownFlowError(f"unknown flow {flow_name!r}")


def subflows_of(
    spec: SystemSpec, flow_name: str, *, include_fallbacks: bool = False
) -> frozenset[str]:
    """Flows that ``flow_name`` starts, directly or through its sub-flows.

    The flow itself is in the result only when it is recursive.

    Raises:
        UnknownFlowError: the system has no such flow.
    """
    _flow_check(spec, flow_name)
    graph = flow_dependencies(spec, include_fallbacks=include_fallbacks)
    found = set(nx.descendants(graph, flow_name))
    if any(flow_name in graph.successors(sub) for sub in found | {flow_name}):
        found.add(flow_name)
    return frozenset(found)


def flows_containing(spec: SystemSpec, node: str) -> frozenset[str]:
    """Flows whose edges start ``node``, directly or through sub-flows (fallbacks not counted).

    A recursive flow is in the result when it starts ``node`` directly or through itself.

    Args:
        spec: the system configuration.
        node: a task or flow name.
    """
    graphs = _system(spec).flows
    direct = {name for name, graph in graphs.items() if graph.edges_to(node)}
    graph = flow_dependencies(spec)
    found = set(direct)
    for name in direct:
        found.update(nx.ancestors(graph, name))
    return frozenset(found)


def recursive_flows(spec: SystemSpec, *, include_fallbacks: bool = False) -> frozenset[str]:
    """Flows that start themselves, directly or through their sub-flows.

    Args:
        spec: the system configuration.
        include_fallbacks: count sub-flows started as fallbacks too.
    """
    graph = flow_dependencies(spec, include_fallbacks=include_fallbacks)
    found: set[str] = set()
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            found.update(component)
    found.update(a for a, b in graph.edges if a == b)
    return frozenset(found)
