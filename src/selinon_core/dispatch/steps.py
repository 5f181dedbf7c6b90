"""The scratch space of one dispatcher step.

A :class:`StepTx` starts from a :class:`~selinon_core.dispatch.state.FlowState`, collects the
changes, the actions and the trace events of one step, and finally builds the new state with
:meth:`StepTx.commit`.  The input state is never mutated: every field is a persistent value that
the transaction replaces, so an exception (a transient storage error) simply discards the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selinon_core.config.system import System
from selinon_core.dispatch.actions import Action, RunTask, StartSubflow
from selinon_core.dispatch.events import ErrorSummary, FlowSummary
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.dispatch.pmap import Cons, PMap
from selinon_core.dispatch.state import (
    FlowState,
    FlowStatus,
    node_id,
    state_from_values,
    summarize,
)
from selinon_core.dispatch.tables import FlowTable, NodeInfo
from selinon_core.ports import ResultsPort
from selinon_core.trace import TraceEvent, TraceName

__all__ = ["StepTx"]

_NO_DETAILS: Mapping[str, Any] = {}


class StepTx:
    """Changes, actions and trace events of one step over one flow state.

    Attributes mirror the mutable parts of :class:`FlowState`; ``fail_now`` is set when the
    flow must fail at the end of the step (eager failure, foreach error).  With ``tracing``
    off, :meth:`emit` records nothing and hot paths skip building trace details at all.
    """

    __slots__ = (
        "actions",
        "active",
        "args_pending",
        "at",
        "base",
        "done",
        "errors",
        "fail_now",
        "failed",
        "flow_id",
        "flow_name",
        "log",
        "node_args",
        "pending",
        "results",
        "retried_count",
        "selective",
        "seq",
        "started",
        "status",
        "system",
        "table",
        "timer_id",
        "trace",
        "tracing",
        "triggered",
    )

    def __init__(
        self,
        system: System,
        table: FlowTable,
        state: FlowState,
        at: float,
        results: ResultsPort,
        *,
        tracing: bool = True,
    ) -> None:
        self.system = system
        self.table = table
        self.base = state
        self.flow_id = state.flow_id
        self.flow_name = state.flow_name
        self.tracing = tracing
        self.at = at
        self.results = results
        self.active: PMap[str, str] = state.active
        self.log: Cons = state.log
        self.done: PMap[str, Cons] = state.done
        self.failed: PMap[str, tuple[str, ...]] = state.failed
        self.errors: PMap[str, ErrorSummary] = state.errors
        self.seq = state.seq
        self.triggered = state.triggered
        self.node_args: Any = state.node_args
        self.args_pending = state.args_pending
        self.status: FlowStatus = state.status
        self.retried_count = state.retried_count
        self.timer_id = state.timer_id
        self.selective: SelectivePlan | None = state.selective
        self.fail_now = False
        self.started: list[tuple[str, str]] = []
        self.pending: list[tuple[str, str, FlowSummary | None]] = []
        self.actions: list[Action] = []
        self.trace: list[TraceEvent] = []

    # ------------------------------------------------------------------ bookkeeping

    def emit(self, name: TraceName, **details: Any) -> None:
        """Record a trace event (``flow_name`` and ``dispatcher_id`` are added), if tracing."""
        if self.tracing:
            details["flow_name"] = self.flow_name
            details["dispatcher_id"] = self.flow_id
            self.trace.append(TraceEvent(name, self.at, details))

    def selective_flag(self) -> Any:
        """The selective plan as trace details show it (``False`` when not selective)."""
        return False if self.selective is None else self.selective.to_dict()

    def add_done(self, name: str, nid: str, summary: FlowSummary | None) -> None:
        """Append a finished instance of ``name``."""
        self.log = ((name, nid, summary), self.log)
        if name in self.table.tracked:
            self.done = self.done.set(name, ((nid, summary), self.done.get(name)))

    def add_failed(self, name: str, nid: str) -> None:
        """Record a failed instance of ``name`` awaiting a fallback."""
        self.failed = self.failed.set(name, (*self.failed.get(name, ()), nid))

    def summary(self, *, ok: bool) -> FlowSummary:
        """The flow's summary as of now."""
        return summarize(self.flow_name, self.flow_id, ok, self.log, self.failed)

    def running(self) -> bool:
        """Whether some node is running (nodes started in this step included)."""
        if self.started:
            self.active = self.active.update(self.started)
            self.started = []
        return bool(self.active)

    def restart(self) -> None:
        """Reset the flow's progress for a flow retry, as if it had just been requested.

        The status becomes ``running``, the retry timer is cleared, the running, finished and
        failed nodes and the fired-edge mask are emptied, and ``node_args`` goes back to the
        arguments the flow was requested with.  Every other field is kept, notably ``seq`` (node
        ids never repeat), ``retried_count`` and the selective plan.
        """
        self.status = "running"
        self.timer_id = None
        self.active = PMap()
        self.log = None
        self.done = PMap()
        self.failed = PMap()
        self.triggered = 0
        self.node_args = self.base.initial_node_args

    def commit(self) -> FlowState:
        """The new flow state (version + 1)."""
        self.running()
        base = self.base
        return state_from_values(  # the hot path: every field, in FlowState's order
            (
                self.flow_id,
                self.flow_name,
                base.version + 1,
                self.status,
                base.parent_flow_id,
                self.node_args,
                base.initial_node_args,
                base.parent,
                self.selective,
                self.retried_count,
                self.seq,
                self.active,
                self.log,
                self.done,
                self.failed,
                self.triggered,
                self.args_pending,
                self.timer_id,
                base.parent_flow_name,
                base.report_to_parent,
                self.errors,
                base.migration_version,
            )
        )

    # ------------------------------------------------------------------ starting nodes

    def start_node(
        self,
        name: str,
        parent: Mapping[str, Any],
        *,
        item: Any = None,
        propagate_item: bool = False,
        plan: SelectivePlan | None = None,
        why: Mapping[str, Any] | None = None,
    ) -> str:
        """Start node ``name``: emit its action and trace event, track it unless nowait.

        Args:
            name: the task or sub-flow name.
            parent: the parent mapping of the firing combination.
            item: the foreach item (for ``propagate_result``).
            propagate_item: hand ``item`` to a sub-flow as its ``node_args``.
            plan: the selective plan of a YAML ``selective:`` edge, for a sub-flow.
            why: extra trace details (condition_str, foreach_str).

        Returns:
            The new node id.
        """
        info = self.table.nodes[name]
        if not info.is_flow:
            return self.start_task(info, parent, why)
        nid = node_id(self.flow_id, self.seq)
        self.seq += 1
        self._start_subflow(
            name=name,
            nid=nid,
            parent=parent,
            item=item,
            propagate_item=propagate_item,
            plan=plan,
            details=why or _NO_DETAILS,
        )
        if not info.nowait:
            self.started.append((nid, name))  # added to ``active`` in bulk by running()
        return nid

    def start_task(
        self, info: NodeInfo, parent: Mapping[str, Any], why: Mapping[str, Any] | None
    ) -> str:
        """Start task ``info`` (the hot path of :meth:`start_node`); returns its node id."""
        nid = f"{self.flow_id}.{self.seq}"  # node_id(), inlined
        self.seq += 1
        task_parent = dict(parent)  # shared, read-only, by the action and the trace event
        self.actions.append(
            RunTask(
                self.flow_id,
                self.flow_name,
                info.name,
                nid,
                self.node_args,
                task_parent,
                info.queue,
                info.throttle_s,
                info.nowait,
                self.selective,
            )
        )
        if self.tracing:
            self.emit(
                TraceName.TASK_SCHEDULE,
                task_name=info.name,
                task_id=nid,
                parent=task_parent,
                selective_edge=False,
                node_args=self.node_args,
                queue=info.queue,
                countdown=info.throttle_s,
                selective=self.selective_flag(),
                **(why or _NO_DETAILS),
            )
        if not info.nowait:
            self.started.append((nid, info.name))  # added to ``active`` in bulk by running()
        return nid

    def _start_subflow(
        self,
        *,
        name: str,
        nid: str,
        parent: Mapping[str, Any],
        item: Any,
        propagate_item: bool,
        plan: SelectivePlan | None,
        details: Mapping[str, Any],
    ) -> None:
        spec = self.table.spec
        info = self.table.nodes[name]
        if propagate_item:
            args = item
        else:
            args = self.node_args if spec.covers("propagate_node_args", name) else None
        child_parent = dict(parent) if spec.covers("propagate_parent", name) else None
        child_plan = plan if plan is not None else self.selective
        self.actions.append(
            StartSubflow(
                flow_id=self.flow_id,
                flow_name=name,
                child_flow_id=nid,
                node_args=args,
                parent=child_parent,
                queue=info.queue,
                selective=child_plan,
                throttle_s=info.throttle_s,
                nowait=info.nowait,
                parent_flow_name=self.flow_name,
            )
        )
        self.emit(
            TraceName.SUBFLOW_SCHEDULE,
            child_flow_name=name,
            child_dispatcher_id=nid,
            node_args=args,
            queue=info.queue,
            countdown=info.throttle_s,
            child_selective=False if child_plan is None else child_plan.to_dict(),
            selective_edge_conf=None if plan is None else plan.to_dict(),
            selective=self.selective_flag(),
            **details,
        )
