"""Where the dashboard reads flows from.

* :class:`StoreSource`: the distributed runtime's stores (``--state-store URL``): flows are
  listed from the flow-state store's listing index (:mod:`selinon_backends.state.listing`),
  a flow's nodes are read from the run journal (:mod:`selinon_backends.distributed.journal`),
  which every dispatcher and worker writes;
* :class:`LiveSource`: an in-process run of ``selinon-cli execute --dashboard``, fed by the
  engine's observer.

Both offer :class:`FlowSource`; the pages only use that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from selinon_backends.dashboard.views import FINISHED, MAX_NODES, FlowView, NodeView
from selinon_backends.distributed.journal import root_of
from selinon_backends.state.listing import FlowListing, ListPage, check_list_args

if TYPE_CHECKING:
    from selinon_backends.distributed.backends import Backends
    from selinon_backends.runtime.report import FlowRun, NodeRun

__all__ = ["FlowSource", "LiveSource", "StoreSource", "flow_from_journal"]


class FlowSource(Protocol):
    """What the dashboard's pages read."""

    def list_flows(
        self,
        *,
        status: str | None = None,
        flow_name: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> ListPage:
        """A page of flows, newest first (see :mod:`selinon_backends.state.listing`)."""
        ...

    def count_flows(self, *, status: str | None = None, flow_name: str | None = None) -> int:
        """How many flows match the filter."""
        ...

    def flow(self, flow_id: str) -> FlowView | None:
        """The flow ``flow_id`` (top-level or sub-flow) with its nodes; ``None`` if unknown."""
        ...


class StoreSource:
    """Flows of the distributed runtime: listed by the state store, detailed by the journal.

    Args:
        backends: the stores of ``--state-store URL``
            (:func:`selinon_backends.distributed.backends.open_backends`).

    Raises:
        TypeError: the flow-state store cannot list flows.
    """

    def __init__(self, backends: Backends) -> None:
        states: Any = backends.states
        if not callable(getattr(states, "list_flows", None)):
            raise TypeError(f"the flow-state store {type(states).__name__} cannot list flows")
        self._states = states
        self._journal = backends.journal

    def list_flows(
        self,
        *,
        status: str | None = None,
        flow_name: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> ListPage:
        """A page of the state store's listing."""
        page: ListPage = self._states.list_flows(
            status=status, flow_name=flow_name, offset=offset, limit=limit
        )
        return page

    def count_flows(self, *, status: str | None = None, flow_name: str | None = None) -> int:
        """The state store's count."""
        return int(self._states.count_flows(status=status, flow_name=flow_name))

    def flow(self, flow_id: str) -> FlowView | None:
        """The flow as its record in the run journal has it."""
        entries = self._journal.read(root=root_of(flow_id))
        return flow_from_journal(entries, flow_id)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def flow_from_journal(entries: Mapping[str, Mapping[str, Any]], flow_id: str) -> FlowView | None:
    """The :class:`FlowView` of ``flow_id`` from the journal record of its top-level flow.

    A top-level flow is known by its request entry, a sub-flow by its start entry; ``None``
    when neither is there.
    """
    if flow_id == root_of(flow_id):
        head = entries.get(f"r:{flow_id}")
        if head is None:
            return None
        name, parent = str(head.get("flow_name", "")), None
    else:
        head = entries.get(f"s:{flow_id}")
        if head is None or head.get("kind") != "flow":
            return None
        name, parent = str(head.get("node_name", "")), str(head.get("flow_id", "")) or None
    end = entries.get(f"f:{flow_id}")
    starts = [
        (_float(value.get("t")) or 0.0, _seq_key(key[2:]), key[2:], value)
        for key, value in entries.items()
        if key.startswith("s:") and value.get("flow_id") == flow_id
    ]
    starts.sort(key=lambda item: (item[0], item[1]))
    return FlowView(
        flow_id,
        name,
        str(end.get("status", "failed")) if end else "running",
        head.get("node_args"),
        parent,
        _float(head.get("t")),
        _float(end.get("t")) if end else None,
        tuple(_journal_node(nid, start, entries) for _, _, nid, start in starts[:MAX_NODES]),
        tuple(
            (str(start.get("node_name", "")), _journal_status(nid, start, entries))
            for _, _, nid, start in starts
        ),
    )


def _journal_status(
    node_id: str, start: Mapping[str, Any], entries: Mapping[str, Mapping[str, Any]]
) -> str:
    end = entries.get(f"{'f' if start.get('kind') == 'flow' else 'o'}:{node_id}") or {}
    return str(end.get("status", "running"))


def _seq_key(node_id: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in node_id.split(".")[1:])


def _journal_node(
    node_id: str, start: Mapping[str, Any], entries: Mapping[str, Mapping[str, Any]]
) -> NodeView:
    kind = "flow" if start.get("kind") == "flow" else "task"
    end = entries.get(f"{'f' if kind == 'flow' else 'o'}:{node_id}") or {}
    status = _journal_status(node_id, start, entries)
    return NodeView(
        node_id,
        str(start.get("node_name", "")),
        kind,
        status,
        node_args=start.get("node_args"),
        parent=start.get("parent"),
        result=end.get("result"),
        error=end.get("error"),
        traceback=end.get("traceback"),
        retries=int(end.get("retries", 0)),
        started=_float(start.get("t")),
        finished=_float(end.get("t")) if status in FINISHED else None,
        nowait=bool(start.get("nowait", False)),
    )


class _Flow:
    __slots__ = ("args", "finished", "name", "parent", "started", "status")

    def __init__(self, name: str, parent: str | None, args: Any, started: float) -> None:
        self.name, self.parent, self.args = name, parent, args
        self.started: float = started
        self.finished: float | None = None
        self.status = "running"


class LiveSource:
    """The flows of one in-process run, as the engine reports its nodes (an observer).

    Pass :meth:`observe` as (part of) the engine's ``observer`` and call :meth:`finish` with
    the run's outcome.  Thread-safe: the engine calls it from its threads, the dashboard reads
    from its own.

    Args:
        flow_name: the requested flow.
        node_args: its arguments.
        clock: seconds since the epoch (timings of the nodes).
    """

    def __init__(
        self, flow_name: str, node_args: Any = None, clock: Callable[[], float] = time.time
    ) -> None:
        self._flow_name = flow_name
        self._node_args = node_args
        self._clock = clock
        self._created = clock()
        self._lock = threading.Lock()
        self._records: dict[str, NodeRun] = {}
        self._times: dict[str, list[float | None]] = {}
        self._flows: dict[str, _Flow] = {}

    def observe(self, record: NodeRun) -> None:
        """Note a node's change (the engine's observer)."""
        now = self._clock()
        with self._lock:
            node_id = record.node_id
            if node_id not in self._records:
                self._records[node_id] = record
                self._times[node_id] = [now, None]
                root = root_of(record.flow_id)
                if root not in self._flows:
                    self._flows[root] = _Flow(self._flow_name, None, self._node_args, self._created)
                if record.kind == "flow":
                    self._flows[node_id] = _Flow(
                        record.node_name, record.flow_id, record.node_args, now
                    )
            times = self._times[node_id]
            finished = record.status in FINISHED
            times[1] = (times[1] or now) if finished else None
            flow = self._flows.get(node_id) if record.kind == "flow" else None
            if flow is not None and finished:
                flow.status, flow.finished = record.status, times[1]

    def finish(self, run: FlowRun) -> None:
        """Note the end of the run (the top-level flow's and every sub-flow's status)."""
        now = self._clock()
        with self._lock:
            if run.flow_id not in self._flows:
                self._flows[run.flow_id] = _Flow(
                    self._flow_name, None, self._node_args, self._created
                )
            for flow_id, status in run.flow_statuses.items():
                flow = self._flows.get(flow_id)
                if flow is not None and flow.finished is None:
                    flow.status, flow.finished = status, now
            top = self._flows[run.flow_id]
            if top.finished is None:
                top.status = "succeeded" if run.succeeded else "failed"
                top.finished = now

    def _node(self, record: NodeRun) -> NodeView:
        started, finished = self._times[record.node_id]
        return NodeView(
            record.node_id,
            record.node_name,
            record.kind,
            record.status,
            node_args=record.node_args,
            parent=record.parent,
            result=record.result,
            error=record.error,
            traceback=record.traceback,
            retries=record.retries,
            started=started,
            finished=finished,
            nowait=record.nowait,
        )

    def flow(self, flow_id: str) -> FlowView | None:
        """The flow with its nodes so far."""
        with self._lock:
            flow = self._flows.get(flow_id)
            if flow is None:
                return None
            records = [record for record in self._records.values() if record.flow_id == flow_id]
            nodes = tuple(self._node(record) for record in records[:MAX_NODES])
            statuses = tuple((record.node_name, record.status) for record in records)
            return FlowView(
                flow_id,
                flow.name,
                flow.status,
                flow.args,
                flow.parent,
                flow.started,
                flow.finished,
                nodes,
                statuses,
            )

    def _rows(self, status: str | None, flow_name: str | None) -> list[FlowListing]:
        counts: dict[str, list[int]] = {flow_id: [0, 0, 0] for flow_id in self._flows}
        for record in self._records.values():
            found = counts.get(record.flow_id)
            if found is not None:
                found[0] += 1
                found[1] += record.status not in FINISHED
                found[2] += record.kind == "task" and record.status == "failed"
        rows = [
            FlowListing(
                flow_id,
                flow.name,
                flow.status,
                flow.parent,
                flow.started,
                flow.finished,
                *counts[flow_id],
            )
            for flow_id, flow in self._flows.items()
            if (status is None or flow.status == status)
            and (flow_name is None or flow.name == flow_name)
        ]
        rows.reverse()
        return rows

    def list_flows(
        self,
        *,
        status: str | None = None,
        flow_name: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> ListPage:
        """A page of this run's flows (the top-level one and its sub-flows), newest first."""
        check_list_args(status, offset, limit)
        with self._lock:
            rows = self._rows(status, flow_name)
        return ListPage(tuple(rows[offset : offset + limit]), len(rows), offset, limit)

    def count_flows(self, *, status: str | None = None, flow_name: str | None = None) -> int:
        """How many of this run's flows match the filter."""
        check_list_args(status, 0, 1)
        with self._lock:
            return len(self._rows(status, flow_name))
