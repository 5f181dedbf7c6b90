"""The state of one flow instance: an immutable, JSON-serialisable value.

A :class:`FlowState` is what the shell loads before ``Dispatcher.step`` and saves after it.  It
holds only what later events need:

* ``active``: node id -> node name of the started, not yet finished nodes (nowait nodes are
  never tracked);
* ``log``: every finished instance ``(node_name, node_id, summary)``, newest first, as a cons
  list (``summary`` is the sub-flow's :data:`~selinon_core.dispatch.events.FlowSummary`, ``None``
  for tasks); it makes the flow's own summary;
* ``done``: for the node names that can take part in a combination later (sources of
  multi-source edges, nodes named by conditions), their finished instances ``(node_id,
  summary)``, newest first;
* ``failed``: node name -> ids of failed instances not yet handled by a fallback, oldest first;
* ``triggered``: bit mask of the edges that fired at least once (for migrations);
* ``migration_version``: the migration version of the configuration the flow runs under (see
  :mod:`selinon_core.dispatch.migrations`; 0 = no migrations);
* counters: ``seq`` (next node sequence number; it survives flow retries so node ids never
  repeat), ``retried_count`` and ``version`` (strictly increasing per applied step).

The maps are :class:`~selinon_core.dispatch.pmap.PMap` values, so a step copies only what it
touches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from selinon_core.dispatch.events import ErrorSummary, FlowSummary
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.dispatch.pmap import Cons, PMap, cons_list

__all__ = [
    "FORMAT_VERSION",
    "FlowState",
    "FlowStatus",
    "bit_indexes",
    "error_from_dict",
    "error_to_dict",
    "flow_id_of",
    "flow_summary",
    "node_id",
    "state_from_values",
    "summarize",
]

FlowStatus: TypeAlias = Literal["running", "succeeded", "failed", "retry_wait"]

FORMAT_VERSION = 1
"""Version of the ``to_dict`` layout."""


def bit_indexes(mask: int) -> list[int]:
    """The positions of the set bits of ``mask`` (>= 0), ascending, in O(bits)."""
    return [idx for idx, digit in enumerate(reversed(bin(mask)[2:])) if digit == "1"]


def error_to_dict(error: ErrorSummary) -> dict[str, Any]:
    """The JSON form of an :class:`ErrorSummary` (``traceback`` only when known)."""
    data: dict[str, Any] = {"type": error.type, "message": error.message}
    if error.traceback is not None:
        data["traceback"] = error.traceback
    return data


def error_from_dict(data: Mapping[str, Any]) -> ErrorSummary:
    """Inverse of :func:`error_to_dict`."""
    return ErrorSummary(data["type"], data["message"], data.get("traceback"))


def flow_id_of(node_id: str) -> str:
    """The id of the flow that started node ``node_id`` (inverse of :func:`node_id`)."""
    return node_id.rpartition(".")[0]


def node_id(flow_id: str, seq: int) -> str:
    """The deterministic id of the ``seq``-th node started by flow ``flow_id``."""
    return f"{flow_id}.{seq}"


@dataclass(frozen=True, slots=True)
class FlowState:
    """One flow instance, between two events.

    Attributes:
        flow_id: the flow instance id (a sub-flow's id is its node id in the parent).
        flow_name: the flow's name in the System.
        version: increases by one with every applied step (0 = never stepped).
        status: ``running``, ``succeeded``, ``failed`` or ``retry_wait`` (waiting for the
            ``TimerDue`` of a flow retry).
        parent_flow_id: the parent flow's id for a sub-flow, else ``None``.
        node_args: the flow arguments handed to tasks (replaced by ``node_args_from_first``).
        initial_node_args: the arguments the flow was requested with (used by flow retries).
        parent: the parent mapping handed to the starting nodes (``propagate_parent``).
        selective: the selective plan this flow follows, if any.
        retried_count: how many flow retries happened so far.
        seq: the next node sequence number.
        active: node id -> node name of running nodes.
        log: cons list of ``(node_name, node_id, summary | None)``, newest first.
        done: node name -> cons list of ``(node_id, summary | None)``, newest first, for the
            names that later combinations or conditions may read.
        failed: node name -> tuple of failed node ids awaiting a fallback, oldest first.
        triggered: bit mask of the indexes of edges that fired at least once.
        args_pending: ``node_args_from_first`` is waiting for the first result.
        timer_id: the pending retry timer, while in ``retry_wait``.
        parent_flow_name: the parent flow's name for a sub-flow, else ``None``.
        report_to_parent: whether the flow's end is reported to its parent (false for a
            ``nowait`` sub-flow).
        errors: node id -> :class:`~selinon_core.dispatch.events.ErrorSummary` of every task
            instance that failed for good (kept for fallbacks and reports; never emptied).
        migration_version: the migration version the flow was created under or last migrated
            to (0 when no migration exists; states stored before this field read as 0).
    """

    flow_id: str
    flow_name: str
    version: int = 0
    status: FlowStatus = "running"
    parent_flow_id: str | None = None
    node_args: Any = None
    initial_node_args: Any = None
    parent: Mapping[str, Any] | None = None
    selective: SelectivePlan | None = None
    retried_count: int = 0
    seq: int = 0
    active: PMap[str, str] = field(default_factory=PMap)
    log: Cons = None
    done: PMap[str, Cons] = field(default_factory=PMap)
    failed: PMap[str, tuple[str, ...]] = field(default_factory=PMap)
    triggered: int = 0
    args_pending: bool = False
    timer_id: str | None = None
    parent_flow_name: str | None = None
    report_to_parent: bool = True
    errors: PMap[str, ErrorSummary] = field(default_factory=PMap)
    migration_version: int = 0

    @property
    def finished(self) -> bool:
        """The flow ended for good (``succeeded`` or ``failed``)."""
        return self.status in ("succeeded", "failed")

    @property
    def is_idle(self) -> bool:
        """No node of the flow is running."""
        return not self.active

    def is_active(self, node_id: str) -> bool:
        """Whether ``node_id`` is a running node of this flow."""
        return node_id in self.active

    def active_nodes(self) -> dict[str, str]:
        """Running nodes: ``{node_id: node_name}`` ordered by id."""
        return dict(sorted(self.active.items(), key=_id_order))

    def finished_nodes(self) -> dict[str, list[str]]:
        """Finished node ids per node name, in finish order (names sorted)."""
        return _finished(self.log)[0]

    def failed_nodes(self) -> dict[str, list[str]]:
        """Failed node ids not handled by a fallback, per node name (names sorted)."""
        return {name: list(ids) for name, ids in sorted(self.failed.items())}

    def triggered_edges(self) -> list[int]:
        """Indexes of the edges that fired at least once, ascending."""
        return bit_indexes(self.triggered)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serialisable form (stable key order)."""
        return {
            "format": FORMAT_VERSION,
            "flow_id": self.flow_id,
            "flow_name": self.flow_name,
            "version": self.version,
            "status": self.status,
            "parent_flow_id": self.parent_flow_id,
            "node_args": self.node_args,
            "initial_node_args": self.initial_node_args,
            "parent": None if self.parent is None else dict(self.parent),
            "selective": None if self.selective is None else self.selective.to_dict(),
            "retried_count": self.retried_count,
            "seq": self.seq,
            "active": self.active_nodes(),
            "finished": [list(entry) for entry in cons_list(self.log)],
            "tracked": {
                name: [entry[0] for entry in cons_list(items)]
                for name, items in sorted(self.done.items())
            },
            "failed": self.failed_nodes(),
            "triggered": self.triggered_edges(),
            "args_pending": self.args_pending,
            "timer_id": self.timer_id,
            "parent_flow_name": self.parent_flow_name,
            "report_to_parent": self.report_to_parent,
            "errors": {nid: error_to_dict(error) for nid, error in sorted(self.errors.items())},
            "migration_version": self.migration_version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FlowState:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: the document has a layout version this code does not know.
        """
        if data.get("format", FORMAT_VERSION) != FORMAT_VERSION:
            raise ValueError(f"unknown flow state format {data['format']!r}")
        log: Cons = None
        summaries: dict[str, Any] = {}
        for name, nid, summary in data["finished"]:
            log = ((name, nid, summary), log)
            summaries[nid] = summary
        done: PMap[str, Cons] = PMap()
        for name, ids in data["tracked"].items():
            items: Cons = None
            for nid in ids:
                items = ((nid, summaries.get(nid)), items)
            done = done.set(name, items)
        selective = data.get("selective")
        return cls(
            flow_id=data["flow_id"],
            flow_name=data["flow_name"],
            version=data["version"],
            status=data["status"],
            parent_flow_id=data.get("parent_flow_id"),
            node_args=data.get("node_args"),
            initial_node_args=data.get("initial_node_args"),
            parent=data.get("parent"),
            selective=None if selective is None else SelectivePlan.from_dict(selective),
            retried_count=data.get("retried_count", 0),
            seq=data["seq"],
            active=PMap.from_items(data["active"].items()),
            log=log,
            done=done,
            failed=PMap.from_items((k, tuple(v)) for k, v in data["failed"].items()),
            triggered=sum(1 << idx for idx in data.get("triggered", ())),
            args_pending=data.get("args_pending", False),
            timer_id=data.get("timer_id"),
            parent_flow_name=data.get("parent_flow_name"),
            report_to_parent=data.get("report_to_parent", True),
            errors=PMap.from_items(
                (nid, error_from_dict(error)) for nid, error in data.get("errors", {}).items()
            ),
            migration_version=data.get("migration_version", 0),
        )


_SETTERS: tuple[Any, ...] = tuple(
    getattr(FlowState, name).__set__ for name in FlowState.__dataclass_fields__
)
_new = object.__new__


def state_from_values(values: tuple[Any, ...]) -> FlowState:
    """A :class:`FlowState` from all its field values, in field order: the hot-path constructor.

    It sets the slots directly, about twice as fast as the frozen dataclass's ``__init__``
    (which calls ``object.__setattr__`` per field); the dispatcher builds one state per step.
    """
    state: FlowState = _new(FlowState)
    for setter, value in zip(_SETTERS, values, strict=True):
        setter(state, value)
    return state


def _id_order(item: tuple[str, str]) -> tuple[int, str]:
    head, _, tail = item[0].rpartition(".")
    return (int(tail), head) if tail.isdigit() else (-1, item[0])


def _finished(log: Cons) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Finished ids per name (names sorted) and sub-flow summaries by id, from a log."""
    finished: dict[str, list[str]] = {}
    subflows: dict[str, Any] = {}
    for name, nid, summary in cons_list(log):
        finished.setdefault(name, []).append(nid)
        if summary is not None:
            subflows[nid] = summary
    return dict(sorted(finished.items())), dict(sorted(subflows.items()))


def summarize(
    flow_name: str,
    flow_id: str,
    ok: bool,
    log: Cons,
    failed: PMap[str, tuple[str, ...]],
) -> FlowSummary:
    """Build a :data:`~selinon_core.dispatch.events.FlowSummary` from the parts of a flow state."""
    finished, subflows = _finished(log)
    return {
        "flow_name": flow_name,
        "flow_id": flow_id,
        "status": "succeeded" if ok else "failed",
        "finished_nodes": finished,
        "failed_nodes": {name: list(ids) for name, ids in sorted(failed.items())},
        "subflows": subflows,
    }


def flow_summary(state: FlowState) -> FlowSummary:
    """The :data:`~selinon_core.dispatch.events.FlowSummary` of ``state``."""
    return summarize(
        state.flow_name, state.flow_id, state.status == "succeeded", state.log, state.failed
    )
