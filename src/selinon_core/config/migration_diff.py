"""What a migration says: the edge changes between an old and a new configuration.

Pure computation, no I/O: :func:`diff_systems` compares two loaded configurations and gives, per
flow present in both, the three tables of a Selinon migration file; :func:`migration_document`
and :func:`render_migration` turn them into the file's JSON.  ``selinon-cli migrate``
(:mod:`selinon_backends.cli.migrate`) reads the YAML and writes the file; the dispatcher applies
it.

Theory of operation: an edge is reduced to ``(set(from), set(to))``; conditions, ``foreach``
and ``selective`` are ignored (they change what an edge does, not which edge it is), and
fallback edges (``failures``) are never part of a migration.  Old and new edges are matched in
order: each old edge takes the first new edge with the same sets that no earlier old edge took,
so duplicate identical edges pair up first with first, second with second.  Then, per flow:

* ``translation`` maps an old edge index to its new index when the two differ; an old edge with
  no match maps to the first unmatched new edge with the same sources (each new edge taken once,
  in order), or to ``None`` when there is none;
* ``tainted_edges`` lists the old edges with no match (with their sources, destinations and
  condition): a flow that already fired one of them now runs differently;
* ``tainting_nodes`` lists the new edges with no match that have sources: a flow whose sources
  of such an edge already finished would have fired it.

Edge indexes are positions in the flow's ``edges`` list, as written in the YAML.

Where this differs from Selinon 1.4.0 on purpose (see ``docs/migrations.md``):

* every flow with a change is in the migration, including a flow whose only change is a new
  order of its edges (Selinon left such a flow out unless an earlier flow needed a migration);
* an unmatched old edge with the same sources as an unmatched new edge is translated to it
  (Selinon computed this and then overwrote it with ``None``).
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, TypeVar, assert_never

from selinon_core.config.spec import (
    AllOf,
    AnyOf,
    Condition,
    EdgeSpec,
    Not,
    Predicate,
    SystemSpec,
)

__all__ = [
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "EdgeKey",
    "FlowMigration",
    "MigrationDiff",
    "TaintedEdge",
    "TaintedFlowStrategy",
    "condition_document",
    "diff_flow_edges",
    "diff_systems",
    "migration_document",
    "render_migration",
    "same_migration",
]

TaintedFlowStrategy: TypeAlias = Literal["IGNORE", "RETRY", "FAIL"]
STRATEGIES: tuple[TaintedFlowStrategy, ...] = ("IGNORE", "RETRY", "FAIL")
"""The tainted-flow strategies, from the lowest impact to the highest."""
DEFAULT_STRATEGY: TaintedFlowStrategy = "IGNORE"

_K = TypeVar("_K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class EdgeKey:
    """What identifies an edge for a migration: its sets of source and destination nodes."""

    sources: frozenset[str]
    destinations: frozenset[str]

    @classmethod
    def of(cls, edge: EdgeSpec) -> EdgeKey:
        """The key of ``edge``."""
        return cls(frozenset(edge.from_), frozenset(edge.to))


@dataclass(frozen=True, slots=True)
class TaintedEdge:
    """An old edge that the new configuration no longer has.

    Attributes:
        sources: its source node names, sorted.
        destinations: its destination node names, sorted.
        condition: its condition as written in YAML (``{"name": "alwaysTrue"}`` when absent).
    """

    sources: tuple[str, ...]
    destinations: tuple[str, ...]
    condition: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The entry of ``tainted_edges`` in a migration file."""
        return {
            "from": list(self.sources),
            "to": list(self.destinations),
            "condition_str": self.condition,
        }


@dataclass(frozen=True, slots=True)
class FlowMigration:
    """The migration of one flow.

    Attributes:
        translation: old edge index -> new index, or ``None`` for an edge to forget; indexes
            that do not change are absent.
        tainted_edges: old edge index -> the edge, for old edges that have no new counterpart.
        tainting_nodes: new edge index -> its source names (sorted), for new edges with sources
            that have no old counterpart.
    """

    translation: Mapping[int, int | None] = field(default_factory=dict)
    tainted_edges: Mapping[int, TaintedEdge] = field(default_factory=dict)
    tainting_nodes: Mapping[int, tuple[str, ...]] = field(default_factory=dict)

    @property
    def needed(self) -> bool:
        """True when running flows need this migration (any table is non-empty)."""
        return bool(self.translation or self.tainted_edges or self.tainting_nodes)

    def to_json(self) -> dict[str, Any]:
        """The flow's entry in a migration file (string keys, as Selinon writes them)."""
        return {
            "translation": {str(old): new for old, new in sorted(self.translation.items())},
            "tainted_edges": {
                str(index): edge.to_json() for index, edge in sorted(self.tainted_edges.items())
            },
            "tainting_nodes": {
                str(index): list(nodes) for index, nodes in sorted(self.tainting_nodes.items())
            },
        }

    def summary(self) -> str:
        """One line saying what changes, e.g. ``2 edges renumbered, 1 tainted edge``."""
        renumbered = sum(1 for new in self.translation.values() if new is not None)
        dropped = len(self.translation) - renumbered
        parts = [
            _count(renumbered, "edge renumbered", "edges renumbered"),
            _count(dropped, "edge dropped", "edges dropped"),
            _count(len(self.tainted_edges), "tainted edge", "tainted edges"),
            _count(len(self.tainting_nodes), "tainting edge", "tainting edges"),
        ]
        return ", ".join(part for part in parts if part) or "unchanged"


def _count(number: int, singular: str, plural: str) -> str:
    if not number:
        return ""
    return f"{number} {singular if number == 1 else plural}"


@dataclass(frozen=True, slots=True)
class MigrationDiff:
    """The migration between two configurations.

    Attributes:
        flows: the migration of every flow present in both that has a change, by name, in the
            new configuration's flow order.
        unchanged: flows present in both with no change.
        added: flows only in the new configuration (nothing to migrate: no flow of theirs runs).
        removed: flows only in the old configuration (not migrated; see ``docs/migrations.md``).
    """

    flows: Mapping[str, FlowMigration]
    unchanged: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def needed(self) -> bool:
        """True when some flow needs a migration."""
        return bool(self.flows)

    def summary_lines(self) -> list[str]:
        """One ``flow: what changed`` line per flow of either configuration."""
        lines = [f"{name}: {flow.summary()}" for name, flow in self.flows.items()]
        lines += [f"{name}: unchanged" for name in self.unchanged]
        lines += [f"{name}: new flow (nothing to migrate)" for name in self.added]
        lines += [f"{name}: removed flow (not migrated)" for name in self.removed]
        return lines


def diff_flow_edges(old: Sequence[EdgeSpec], new: Sequence[EdgeSpec]) -> FlowMigration:
    """Compute the migration of one flow from its old and new ``edges``.

    Args:
        old: the flow's edges in the old configuration, in YAML order.
        new: the flow's edges in the new configuration, in YAML order.
    """
    old_keys = [EdgeKey.of(edge) for edge in old]
    new_keys = [EdgeKey.of(edge) for edge in new]
    matched = _match(old_keys, _queues(range(len(new_keys)), new_keys, lambda key: key))
    taken = set(matched.values())
    old_unmatched = [index for index in range(len(old_keys)) if index not in matched]
    new_unmatched = [index for index in range(len(new_keys)) if index not in taken]
    by_sources = _queues(new_unmatched, new_keys, lambda key: key.sources)
    translation: dict[int, int | None] = {}
    for index in range(len(old_keys)):
        if index in matched:
            target: int | None = matched[index]
        else:
            queue = by_sources.get(old_keys[index].sources)
            target = queue.popleft() if queue else None
        if target != index:
            translation[index] = target
    return FlowMigration(
        translation=translation,
        tainted_edges={index: _tainted(old[index]) for index in old_unmatched},
        tainting_nodes={
            index: tuple(sorted(new_keys[index].sources))
            for index in new_unmatched
            if new_keys[index].sources
        },
    )


def _queues(
    indexes: Iterable[int], keys: Sequence[EdgeKey], by: Callable[[EdgeKey], _K]
) -> dict[_K, deque[int]]:
    """Indexes grouped by ``by(key)``, each group in increasing order."""
    groups: dict[_K, deque[int]] = defaultdict(deque)
    for index in indexes:
        groups[by(keys[index])].append(index)
    return groups


def _match(old_keys: Sequence[EdgeKey], free: Mapping[EdgeKey, deque[int]]) -> dict[int, int]:
    """Old index -> new index of the first free new edge with the same key."""
    matched: dict[int, int] = {}
    for index, key in enumerate(old_keys):
        queue = free.get(key)
        if queue:
            matched[index] = queue.popleft()
    return matched


def _tainted(edge: EdgeSpec) -> TaintedEdge:
    return TaintedEdge(
        sources=tuple(sorted(set(edge.from_))),
        destinations=tuple(sorted(set(edge.to))),
        condition=condition_document(edge.condition),
    )


def condition_document(condition: Condition) -> dict[str, Any]:
    """A condition as YAML spells it: keys with their default value are left out.

    ``{"name": "alwaysTrue"}`` stands for an edge without a condition, as in Selinon's files.
    """
    match condition:
        case Predicate():
            document: dict[str, Any] = {"name": condition.name}
            if condition.node is not None:
                document["node"] = condition.node
            if condition.args:
                document["args"] = _plain(condition.args)
            return document
        case AllOf():
            return {"and": [condition_document(child) for child in condition.and_]}
        case AnyOf():
            return {"or": [condition_document(child) for child in condition.or_]}
        case Not():
            return {"not": condition_document(condition.not_)}
        case _:  # pragma: no cover - the union above is exhaustive
            assert_never(condition)


def _plain(value: Any) -> Any:
    """``value`` with mappings and sequences turned into dicts and lists (for JSON)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def diff_systems(old: SystemSpec, new: SystemSpec) -> MigrationDiff:
    """Compute the migration between two configurations.

    Args:
        old: the configuration the running flows were started with.
        new: the configuration the workers will run.

    Returns:
        the migration of every flow present in both (flows in the new configuration's order);
        flows only in one of them are listed as added or removed.
    """
    flows: dict[str, FlowMigration] = {}
    unchanged: list[str] = []
    for name, flow in new.flows.items():
        if name not in old.flows:
            continue
        migration = diff_flow_edges(old.flows[name].edges, flow.edges)
        if migration.needed:
            flows[name] = migration
        else:
            unchanged.append(name)
    return MigrationDiff(
        flows=flows,
        unchanged=tuple(unchanged),
        added=tuple(name for name in new.flows if name not in old.flows),
        removed=tuple(name for name in old.flows if name not in new.flows),
    )


def migration_document(
    diff: MigrationDiff,
    strategy: TaintedFlowStrategy = DEFAULT_STRATEGY,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of a migration file.

    Args:
        diff: the migration.
        strategy: what workers do with a flow the migration taints.
        meta: the ``_meta`` entry (who, where, when), or ``None`` to leave it out.

    Raises:
        ValueError: ``strategy`` is not one of :data:`STRATEGIES`.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown tainted flow strategy {strategy!r}; use one of {STRATEGIES}")
    document: dict[str, Any] = {
        "migration": {name: flow.to_json() for name, flow in diff.flows.items()},
        "tainted_flow_strategy": strategy,
    }
    if meta is not None:
        document["_meta"] = dict(meta)
    return document


def render_migration(document: Mapping[str, Any]) -> str:
    """The text of a migration file: JSON with sorted keys, indented by 2, as Selinon's."""
    return json.dumps(document, sort_keys=True, indent=2, separators=(",", ": ")) + "\n"


def same_migration(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """Whether two ``migration`` entries of migration files change running flows the same way.

    The strategy, the metadata and the conditions of tainted edges do not count; the flows,
    their translations, the indexes of their tainted edges and their tainting nodes do (as
    Selinon compares them).
    """
    if set(first) != set(second):
        return False
    for name, flow in first.items():
        other = second[name]
        if not (isinstance(flow, Mapping) and isinstance(other, Mapping)):
            return False
        if flow.get("translation") != other.get("translation"):
            return False
        if set(flow.get("tainted_edges") or ()) != set(other.get("tainted_edges") or ()):
            return False
        if _node_sets(flow.get("tainting_nodes")) != _node_sets(other.get("tainting_nodes")):
            return False
    return True


def _node_sets(tainting: Any) -> dict[str, frozenset[str]] | None:
    if not isinstance(tainting, Mapping):
        return None
    return {str(key): frozenset(value or ()) for key, value in tainting.items()}
