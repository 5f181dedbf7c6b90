"""Migrations of running flows: a stored flow state made for an older configuration, carried
over to the configuration a worker runs now.

Theory of operation
-------------------
``selinon-cli migrate`` writes one numbered JSON file per configuration change (Selinon's
format, see :meth:`Migration.from_dict`); files ``1.json`` .. ``w.json`` form a
:class:`MigrationChain` and ``w`` is the worker's *migration version*.  Every
:class:`~selinon_core.dispatch.state.FlowState` records the version it was created under or last
migrated to.  Before a worker steps a state of version ``v``, :func:`migrate` brings it to
``w``:

* ``v == w`` (or the flow already ended): nothing to do;
* ``v > w``: the state comes from a newer deployment: *skew*; the shell hands the event back
  to the broker for a newer worker;
* ``v < w``: migrations ``v+1 .. w`` are applied in order.  Per migration, for the state's
  flow: a fired edge listed in ``tainted_edges`` taints the flow (it fired under a rule that no
  longer exists), and so does a new edge whose source nodes all finished already (listed in
  ``tainting_nodes``: it would have been evaluated, and never will be); then the fired-edge
  indexes are translated (``null``: the edge is gone) and so are the edge indexes of a
  selective-run plan.  New edges whose sources are still running need no bookkeeping here:
  the dispatcher evaluates the outgoing edges of the *current* configuration when a node ends;
  only the finished instances that new multi-source edges and conditions will read are added
  to the state's tracked instances.

A tainted flow follows the strategy of highest impact among the migrations that tainted it
(``FAIL`` > ``RETRY`` > ``IGNORE``): ``IGNORE`` continues, ``RETRY`` restarts the flow from
scratch through a retry timer due at once (the flow's retry budget is not used), ``FAIL`` ends
the flow as failed.  Unlike Selinon 1.4.0, a migration that renumbers a fired edge works (a
typo made it an endless ``MIGRATION_ERROR``), and a chain does not stop at the first migration
that taints the flow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias

from selinon_core.dispatch.actions import Action, FinishFlow, RetryFlow
from selinon_core.dispatch.dispatcher import Dispatcher
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.dispatch.pmap import Cons, PMap, cons_iter
from selinon_core.dispatch.state import FlowState, bit_indexes, flow_summary
from selinon_core.errors import SelinonError, UnknownFlowError
from selinon_core.trace import TraceEvent, TraceName

__all__ = [
    "STRATEGIES",
    "FlowMigration",
    "Migration",
    "MigrationChain",
    "MigrationError",
    "MigrationOutcome",
    "Strategy",
    "TaintedEdge",
    "Verdict",
    "migrate",
    "stronger",
]

Strategy: TypeAlias = Literal["IGNORE", "RETRY", "FAIL"]
Verdict: TypeAlias = Literal["unchanged", "continue", "retry", "fail", "skew"]

STRATEGIES: tuple[Strategy, ...] = ("IGNORE", "RETRY", "FAIL")
"""The tainted-flow strategies, from the lowest impact to the highest."""


class MigrationError(SelinonError):
    """A migration file or chain cannot be used, or does not match the configuration."""


def stronger(first: Strategy, second: Strategy) -> Strategy:
    """The strategy of higher impact (``FAIL`` > ``RETRY`` > ``IGNORE``)."""
    return first if STRATEGIES.index(first) >= STRATEGIES.index(second) else second


# --------------------------------------------------------------------------- the file model


@dataclass(frozen=True, slots=True)
class TaintedEdge:
    """An edge of the old configuration that the new one lacks (as a migration file shows it)."""

    from_: tuple[str, ...]
    to: tuple[str, ...]
    condition_str: Any = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used in trace events."""
        return {"from": list(self.from_), "to": list(self.to), "condition_str": self.condition_str}


@dataclass(frozen=True, slots=True)
class FlowMigration:
    """What one migration changes in one flow.

    Attributes:
        translation: old edge index -> new index, or ``None`` for an edge that is gone; an
            index absent from the mapping keeps its number.
        tainted_edges: old edge index -> the edge; one that fired taints the flow.
        tainting_nodes: new edge index -> its source names; when all finished, the flow is
            tainted.
    """

    translation: Mapping[int, int | None] = field(default_factory=dict)
    tainted_edges: Mapping[int, TaintedEdge] = field(default_factory=dict)
    tainting_nodes: Mapping[int, tuple[str, ...]] = field(default_factory=dict)

    def translate(self, index: int) -> int | None:
        """The new index of old edge ``index`` (``None``: the edge is gone)."""
        return self.translation.get(index, index)


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file: per flow what changed, and the strategy for tainted flows.

    Attributes:
        version: the file's number (``3`` for ``3.json``).
        flows: flow name -> its changes; flows not listed did not change.
        strategy: what to do with a flow this migration taints.
        meta: Selinon's ``_meta`` block (who generated the file, where, when), if any.
    """

    version: int
    flows: Mapping[str, FlowMigration]
    strategy: Strategy = "IGNORE"
    meta: Mapping[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: Any, *, version: int, source: str = "") -> Migration:
        """Read a migration file's JSON document (Selinon's format)::

            {"migration": {flow: {"translation": {"0": 1, "2": null},
                                  "tainted_edges": {"2": {"from": [...], "to": [...],
                                                          "condition_str": ...}},
                                  "tainting_nodes": {"1": ["Task1"]}}},
             "tainted_flow_strategy": "IGNORE" | "RETRY" | "FAIL",
             "_meta": {...}}

        Args:
            data: the parsed JSON document.
            version: the file's number.
            source: where the document comes from (a path), for error messages.

        Raises:
            MigrationError: the document does not have this shape; the message says where.
        """
        where = source or f"migration {version}"
        _need(isinstance(data, dict), where, "the document must be a JSON object")
        _need("migration" in data, where, "missing the 'migration' object")
        unknown = sorted(set(data) - {"migration", "tainted_flow_strategy", "_meta"})
        _need(not unknown, where, f"unexpected key(s) {', '.join(map(repr, unknown))}")
        strategy = data.get("tainted_flow_strategy", "IGNORE")
        _need(
            strategy in STRATEGIES,
            where,
            f"'tainted_flow_strategy' must be one of {', '.join(STRATEGIES)}, got {strategy!r}",
        )
        flows = data["migration"]
        _need(isinstance(flows, dict), where, "'migration' must be an object of flow names")
        meta = data.get("_meta")
        return cls(
            version=version,
            flows={name: _flow(flow, f"{where}: flow {name!r}") for name, flow in flows.items()},
            strategy=strategy,
            meta=meta if isinstance(meta, dict) else None,
        )


def _need(ok: bool, where: str, problem: str) -> None:
    if not ok:
        raise MigrationError(f"{where}: {problem} (regenerate it with `selinon-cli migrate`)")


def _index(key: Any, where: str) -> int:
    text = str(key)
    _need(text.isdigit(), where, f"edge index {key!r} is not a non-negative integer")
    return int(text)


def _names(value: Any, where: str) -> tuple[str, ...]:
    ok = isinstance(value, list) and all(isinstance(name, str) for name in value)
    _need(ok, where, f"expected a list of node names, got {value!r:.80}")
    return tuple(value)


def _flow(data: Any, where: str) -> FlowMigration:
    _need(isinstance(data, dict), where, "expected an object")
    unknown = sorted(set(data) - {"translation", "tainted_edges", "tainting_nodes"})
    _need(not unknown, where, f"unexpected key(s) {', '.join(map(repr, unknown))}")
    parts = {key: data.get(key, {}) for key in ("translation", "tainted_edges", "tainting_nodes")}
    for key, value in parts.items():
        _need(isinstance(value, dict), f"{where} {key}", "expected an object")
    translation: dict[int, int | None] = {}
    for old, new in parts["translation"].items():
        here = f"{where} translation of edge {old!r}"
        translation[_index(old, here)] = None if new is None else _index(new, here)
    tainted: dict[int, TaintedEdge] = {}
    for old, edge in parts["tainted_edges"].items():
        here = f"{where} tainted edge {old!r}"
        _need(isinstance(edge, dict), here, "expected an object with 'from' and 'to'")
        tainted[_index(old, here)] = TaintedEdge(
            _names(edge.get("from", []), here),
            _names(edge.get("to", []), here),
            edge.get("condition_str"),
        )
    tainting = {
        _index(new, f"{where} tainting nodes"): _names(names, f"{where} tainting nodes {new!r}")
        for new, names in parts["tainting_nodes"].items()
    }
    return FlowMigration(translation, tainted, tainting)


@dataclass(frozen=True, slots=True)
class MigrationChain:
    """Migrations ``1 .. latest``, in order (empty: no migrations, version 0).

    Raises:
        MigrationError: the versions are not exactly 1, 2, ..., n.
    """

    migrations: tuple[Migration, ...] = ()

    def __post_init__(self) -> None:
        versions = [migration.version for migration in self.migrations]
        expected = list(range(1, len(versions) + 1))
        if versions != expected:
            missing = sorted(set(range(1, max(versions, default=0) + 1)) - set(versions))
            detail = f"missing {', '.join(map(str, missing))}" if missing else f"got {versions}"
            raise MigrationError(
                f"migrations must be numbered 1..n without gaps ({detail}); "
                "restore the missing files from version control"
            )

    @property
    def latest(self) -> int:
        """The newest migration version (0 when there is none)."""
        return len(self.migrations)

    def after(self, version: int) -> tuple[Migration, ...]:
        """The migrations to apply to a state of ``version``, in order."""
        return self.migrations[version:]


# --------------------------------------------------------------------------- application


@dataclass(frozen=True, slots=True)
class MigrationOutcome:
    """What :func:`migrate` decided for one state.

    Attributes:
        verdict: ``unchanged`` (nothing to do), ``continue`` (migrated; step the event on
            ``state``), ``retry`` (the flow restarts: ``actions`` hold its retry timer),
            ``fail`` (the flow failed: ``actions`` hold its ``FinishFlow``), ``skew`` (the
            state is newer than the chain: hand the event to a newer worker).
        state: the state to step (the input state itself for ``unchanged`` and ``skew``).
        actions: what the shell must carry out before the step's own actions.
        trace: ``MIGRATION``, ``MIGRATION_TAINTED_FLOW``, ``FLOW_FAILURE`` or
            ``MIGRATION_SKEW`` events.
        tainted: whether a migration of the chain tainted the flow.
        strategy: the strategy applied to a tainted flow, else ``None``.
    """

    verdict: Verdict
    state: FlowState
    actions: tuple[Action, ...] = ()
    trace: tuple[TraceEvent, ...] = ()
    tainted: bool = False
    strategy: Strategy | None = None


@dataclass(slots=True)
class _Taint:
    """Why one migration taints the flow."""

    migration: Migration
    tainted_edges: list[TaintedEdge]
    tainting_nodes: list[tuple[str, ...]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "migration_version": self.migration.version,
            "tainted_flow_strategy": self.migration.strategy,
            "tainted_edges": [edge.to_dict() for edge in self.tainted_edges],
            "tainting_nodes": [list(names) for names in self.tainting_nodes],
        }


def migrate(
    state: FlowState, chain: MigrationChain, dispatcher: Dispatcher, *, at: float
) -> MigrationOutcome:
    """Bring ``state`` to the chain's latest migration version (see the module doc).

    Args:
        state: the stored flow state.
        chain: the worker's migrations.
        dispatcher: the dispatcher of the worker's (new) configuration.
        at: the current time, for trace events and a retry timer.

    Returns:
        The verdict, the state to step and what the shell must do first.

    Raises:
        MigrationError: the migrations do not match the configuration (an edge index beyond
            the flow's edges); nothing was changed.
    """
    old, latest = state.migration_version, chain.latest
    if old == latest or state.finished:
        return MigrationOutcome("unchanged", state)
    if old > latest:
        details = _info(state, available_migration_version=latest)
        skew = TraceEvent(TraceName.MIGRATION_SKEW, at, details)
        return MigrationOutcome("skew", state, trace=(skew,))
    triggered, selective, taints = _walk(state, chain.after(old))
    migrated = replace(
        state,
        version=state.version + 1,
        migration_version=latest,
        triggered=triggered,
        selective=selective,
        done=_tracked(state, dispatcher),
    )
    _check_indexes(migrated, dispatcher, latest)
    return _decide(state, migrated, taints, at)


def _walk(
    state: FlowState, migrations: tuple[Migration, ...]
) -> tuple[int, SelectivePlan | None, list[_Taint]]:
    """Apply ``migrations`` in order: the fired edges, the selective plan, the taints."""
    running = state.status == "running"  # a flow waiting for its retry restarts anyway
    finished = frozenset(entry[0] for entry in cons_iter(state.log)) if running else frozenset()
    triggered, selective, taints = state.triggered, state.selective, []
    for migration in migrations:
        flow = migration.flows.get(state.flow_name)
        if flow is not None:
            taint = _taint(migration, flow, triggered, finished) if running else None
            if taint is not None:
                taints.append(taint)
            triggered = _translate_mask(triggered, flow)
        selective = _translate_plan(selective, migration)
    return triggered, selective, taints


def _taint(
    migration: Migration, flow: FlowMigration, triggered: int, finished: frozenset[str]
) -> _Taint | None:
    edges = [flow.tainted_edges[idx] for idx in bit_indexes(triggered) if idx in flow.tainted_edges]
    nodes = [
        names
        for _, names in sorted(flow.tainting_nodes.items())
        if names and finished.issuperset(names)
    ]
    return _Taint(migration, edges, nodes) if edges or nodes else None


def _translate_mask(mask: int, flow: FlowMigration) -> int:
    if not flow.translation:
        return mask
    out = 0
    for index in bit_indexes(mask):
        new = flow.translate(index)
        if new is not None:
            out |= 1 << new
    return out


def _translate_plan(plan: SelectivePlan | None, migration: Migration) -> SelectivePlan | None:
    """Translate the edge indexes of a selective plan in every flow the migration changes."""
    if plan is None or not any(name in migration.flows for name in plan.edges):
        return plan
    edges: dict[str, Mapping[int, tuple[str, ...]]] = {}
    for name, allowed in plan.edges.items():
        flow = migration.flows.get(name)
        if flow is None:
            edges[name] = allowed
            continue
        moved = {flow.translate(index): dests for index, dests in allowed.items()}
        edges[name] = {index: dests for index, dests in moved.items() if index is not None}
    return replace(plan, edges=edges)


def _tracked(state: FlowState, dispatcher: Dispatcher) -> PMap[str, Cons]:
    """``state.done`` plus the finished instances of names the new configuration tracks."""
    try:
        tracked = dispatcher.table(state.flow_name).tracked
    except UnknownFlowError:
        return state.done  # the step will report the unknown flow
    missing = tracked.difference(state.done.keys())
    if not missing:
        return state.done
    found: dict[str, list[tuple[str, Any]]] = {}
    for name, nid, summary in cons_iter(state.log):  # newest first
        if name in missing:
            found.setdefault(name, []).append((nid, summary))
    done = state.done
    for name, items in found.items():
        chain: Cons = None
        for item in reversed(items):  # build newest first again
            chain = (item, chain)
        done = done.set(name, chain)
    return done


def _check_indexes(state: FlowState, dispatcher: Dispatcher, latest: int) -> None:
    try:
        count = len(dispatcher.table(state.flow_name).edges)
    except UnknownFlowError:
        return
    beyond = [idx for idx in bit_indexes(state.triggered) if idx >= count]
    if beyond:
        raise MigrationError(
            f"flow {state.flow_name!r}: after migration {latest}, fired edge(s) "
            f"{', '.join(map(str, beyond))} do not exist in the configuration ({count} edges): "
            "the migration files do not belong to this configuration"
        )


def _info(flow: FlowState, **extra: Any) -> dict[str, Any]:
    return {
        "flow_name": flow.flow_name,
        "dispatcher_id": flow.flow_id,
        "node_args": flow.node_args,
        "retried_count": flow.retried_count,
        "migration_version": flow.migration_version,
        **extra,
    }


def _decide(old: FlowState, new: FlowState, taints: list[_Taint], at: float) -> MigrationOutcome:
    strategy: Strategy | None = None
    for taint in taints:
        strategy = (
            taint.migration.strategy
            if strategy is None
            else stronger(strategy, taint.migration.strategy)
        )
    report = _info(
        old,
        old_migration_version=old.migration_version,
        new_migration_version=new.migration_version,
        tainted=bool(taints),
        tainted_flow_strategy=strategy,
    )
    if taints:
        report["taints"] = [taint.to_dict() for taint in taints]
    trace = [TraceEvent(TraceName.MIGRATION, at, report)]
    if strategy is None or strategy == "IGNORE":
        return MigrationOutcome("continue", new, (), tuple(trace), bool(taints), strategy)
    decisive = next(t for t in taints if t.migration.strategy == strategy)
    trace.append(TraceEvent(TraceName.MIGRATION_TAINTED_FLOW, at, _tainted(new, decisive, taints)))
    if strategy == "RETRY":
        return _retry(new, tuple(trace), at)
    return _fail(new, trace, at)


def _tainted(state: FlowState, decisive: _Taint, taints: list[_Taint]) -> dict[str, Any]:
    return _info(
        state,
        migration_version=decisive.migration.version,
        latest_migration_version=state.migration_version,
        tainted_edge=decisive.tainted_edges[0].to_dict() if decisive.tainted_edges else None,
        tainting_nodes=list(decisive.tainting_nodes[0]) if decisive.tainting_nodes else None,
        tainted_flow_strategy=decisive.migration.strategy,
        taints=[taint.to_dict() for taint in taints],
    )


def _retry(state: FlowState, trace: tuple[TraceEvent, ...], at: float) -> MigrationOutcome:
    """Restart from scratch through a retry timer due now; ``retried_count`` is unchanged."""
    timer_id = f"{state.flow_id}.migration.{state.migration_version}"
    waiting = replace(state, status="retry_wait", timer_id=timer_id)
    timer = RetryFlow(state.flow_id, state.flow_name, timer_id, at, state.retried_count)
    return MigrationOutcome("retry", waiting, (timer,), trace, True, "RETRY")


def _fail(state: FlowState, trace: list[TraceEvent], at: float) -> MigrationOutcome:
    """The flow fails for good (no flow retry): its parent, if any, is told."""
    failed = replace(state, status="failed", timer_id=None)
    summary = flow_summary(failed)
    active = sorted(failed.active.keys())
    details = _info(failed, will_retry=False, state=summary, active_nodes=active)
    trace.append(TraceEvent(TraceName.FLOW_FAILURE, at, details))
    finish = FinishFlow(
        failed.flow_id,
        failed.flow_name,
        "failed",
        summary,
        failed.parent_flow_id,
        failed.parent_flow_name,
        failed.report_to_parent,
    )
    return MigrationOutcome("fail", failed, (finish,), tuple(trace), True, "FAIL")
