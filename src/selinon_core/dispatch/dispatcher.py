"""The dispatcher: the only function that advances a flow.

Theory of operation
-------------------
A flow instance is a value (:class:`~selinon_core.dispatch.state.FlowState`).  ``Dispatcher.step``
takes that value and one event (a fact: a flow was requested, a node succeeded or failed, a sub-flow
ended, a timer is due) and returns a :class:`Step`: the next value, the actions the shell must
carry out (run a task, start a sub-flow, retry or finish the flow) and the trace events that
describe what happened.  Nothing else changes and nothing is read from the outside world except
stored results, through the :class:`~selinon_core.ports.ResultsPort` handed to the step.

One step goes like this:

1. *Guard.*  An event that cannot apply (unknown or already finished node, duplicate request, a
   flow that already ended, a stale timer) is a no-op: the same state object, no actions, one
   ``EVENT_IGNORED`` trace event.  Transports deliver at least once, so this is normal.
2. *Record.*  A finished node leaves ``active``; each edge leaving it fires once per new
   combination of finished source instances (:mod:`selinon_core.dispatch.edges`), then the instance
   joins the finished ones.  A failed node is recorded for fallbacks, or fails the flow at once
   when it is an eager-failure node.
3. *Settle.*  When nothing is running any more: fallbacks cover what they can
   (:mod:`selinon_core.dispatch.fallbacks`); if failures remain the flow fails (and is retried from
   scratch while ``max_retry`` allows), otherwise it succeeds.

Node ids are ``f"{flow_id}.{seq}"`` with a per-flow counter that survives flow retries, so the
same inputs always produce the same ids, and a sub-flow's flow id is its node id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from selinon_core.config.system import System
from selinon_core.dispatch.actions import Action, FinishFlow, RetryFlow
from selinon_core.dispatch.edges import fire_edges, fire_starting_edges
from selinon_core.dispatch.events import (
    Event,
    FlowRequested,
    FlowSummary,
    NodeFailed,
    NodeSucceeded,
    SubflowFailed,
    SubflowFinished,
    TimerDue,
)
from selinon_core.dispatch.fallbacks import run_fallbacks
from selinon_core.dispatch.retry import decide_flow_retry
from selinon_core.dispatch.state import FlowState
from selinon_core.dispatch.steps import StepTx
from selinon_core.dispatch.tables import FlowTable, build_tables
from selinon_core.errors import InvalidTransition, ResultMissing, UnknownFlowError
from selinon_core.ports import ResultsPort
from selinon_core.trace import TraceEvent, TraceName

__all__ = ["Dispatcher", "Step"]

_SUBFLOW_EVENTS = (SubflowFinished, SubflowFailed)


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one event: the next state, what to do, and what happened.

    Attributes:
        state: the flow state after the event (the same object when the event was ignored).
        actions: the actions for the shell, in order.
        trace: trace events describing the step (the core never logs).
    """

    state: FlowState
    actions: tuple[Action, ...]
    trace: tuple[TraceEvent, ...] = ()


class Dispatcher:
    """Advances flow instances of one System, one event at a time.

    Args:
        system: the loaded configuration; per-flow tables and conditions are built once here.
        trace: build trace events; with ``False`` every :class:`Step` has an empty ``trace``
            (states and actions are exactly the same), which saves the cost of building
            events nobody reads.

    Raises:
        SpecError: a condition of the configuration does not compile.
    """

    def __init__(self, system: System, *, trace: bool = True) -> None:
        self.system = system
        self.tracing = trace
        self._tables: dict[str, FlowTable] = build_tables(system)

    def table(self, flow_name: str) -> FlowTable:
        """The precomputed tables of ``flow_name``.

        Raises:
            UnknownFlowError: no such flow.
        """
        table = self._tables.get(flow_name)
        if table is None:
            raise UnknownFlowError(f"unknown flow {flow_name!r}")
        return table

    def step(self, state: FlowState | None, event: Event, results: ResultsPort) -> Step:
        """Apply ``event`` to ``state``.

        Args:
            state: the flow's current state; ``None`` only for the ``FlowRequested`` that
                creates it.
            event: what happened.
            results: read access to stored task results (conditions, foreach functions,
                ``node_args_from_first``, selective run functions).

        Returns:
            The next state, actions and trace events.

        Raises:
            InvalidTransition: ``state`` is ``None`` for an event other than ``FlowRequested``.
            UnknownFlowError: the event (or the state) names a flow the System does not define.
            TransientBackendError: reading a result failed for now; nothing was applied and
                the event should be delivered again later.
        """
        if isinstance(event, FlowRequested):
            return self._on_requested(state, event, results)
        if state is None:
            raise InvalidTransition(f"no flow state for {type(event).__name__} {event.flow_id}")
        if event.flow_id != state.flow_id:
            return self._ignored(state, event, "event for another flow")
        if isinstance(event, TimerDue):
            return self._on_timer(state, event, results)
        if state.status != "running":
            return self._ignored(state, event, f"flow is {state.status}")
        name = state.active.get(event.node_id)
        if name is None:
            return self._ignored(state, event, "node is not running")
        table = self._tables.get(state.flow_name) or self.table(state.flow_name)
        info = table.nodes.get(name)  # None: a node a migration removed from the flow
        if info is not None and info.is_flow != isinstance(event, _SUBFLOW_EVENTS):
            return self._ignored(state, event, "event kind does not match the node kind")
        tx = StepTx(self.system, table, state, event.at, results, tracing=self.tracing)
        if isinstance(event, NodeSucceeded):
            self._node_finished(tx, name, event.node_id, None)
        elif isinstance(event, SubflowFinished):
            self._node_finished(tx, name, event.node_id, event.summary)
        else:
            self._node_failed(tx, name, event)
        return self._settle(tx)

    def _ignored(self, state: FlowState, event: Event, reason: str) -> Step:
        """A no-op step: the same state, no actions, ``EVENT_IGNORED`` when tracing."""
        if not self.tracing:
            return Step(state, ())
        details: dict[str, Any] = {
            "flow_name": state.flow_name,
            "dispatcher_id": state.flow_id,
            "event": type(event).__name__,
            "reason": reason,
        }
        node = getattr(event, "node_id", None) or getattr(event, "timer_id", None)
        if node is not None:
            details["node_id"] = node
        return Step(state, (), (TraceEvent(TraceName.EVENT_IGNORED, event.at, details),))

    # ------------------------------------------------------------------ flow start

    def _on_requested(
        self, state: FlowState | None, event: FlowRequested, results: ResultsPort
    ) -> Step:
        if state is not None:
            return self._ignored(state, event, "flow already requested")
        table = self.table(event.flow_name)
        fresh = FlowState(
            flow_id=event.flow_id,
            flow_name=event.flow_name,
            parent_flow_id=event.parent_flow_id,
            node_args=event.node_args,
            initial_node_args=event.node_args,
            parent=event.parent,
            selective=event.selective,
            parent_flow_name=event.parent_flow_name,
            report_to_parent=event.report_to_parent,
        )
        tx = StepTx(self.system, table, fresh, event.at, results, tracing=self.tracing)
        self._start_flow(tx)
        return self._settle(tx)

    def _start_flow(self, tx: StepTx) -> None:
        tx.args_pending = tx.table.spec.node_args_from_first
        tx.emit(
            TraceName.FLOW_START,
            queue=tx.table.spec.queue,
            selective=tx.selective_flag(),
            node_args=tx.node_args,
            retried_count=tx.retried_count,
        )
        fire_starting_edges(tx)
        _drain(tx)

    def _on_timer(self, state: FlowState, event: TimerDue, results: ResultsPort) -> Step:
        if state.status != "retry_wait" or event.timer_id != state.timer_id:
            return self._ignored(state, event, "no such timer pending")
        table = self.table(state.flow_name)
        tx = StepTx(self.system, table, state, event.at, results, tracing=self.tracing)
        tx.restart()
        tx.emit(
            TraceName.FLOW_RETRY,
            node_args=tx.node_args,
            parent=None if state.parent is None else dict(state.parent),
            retried_count=tx.retried_count,
            selective=tx.selective_flag(),
            queue=tx.table.spec.queue,
        )
        self._start_flow(tx)
        return self._settle(tx)

    # ------------------------------------------------------------------ node events

    def _node_finished(self, tx: StepTx, name: str, nid: str, summary: FlowSummary | None) -> None:
        tx.active = tx.active.delete(nid)
        if tx.tracing:
            tx.emit(
                TraceName.NODE_SUCCESSFUL,
                node_name=name,
                node_id=nid,
                selective=tx.selective_flag(),
            )
        if tx.args_pending:
            tx.args_pending = False
            tx.node_args = _first_result(tx, name, nid)
        fire_edges(tx, name, (nid, summary))
        tx.add_done(name, nid, summary)
        _drain(tx)  # results reused by selective run functions

    def _node_failed(self, tx: StepTx, name: str, event: NodeFailed | SubflowFailed) -> None:
        tx.active = tx.active.delete(event.node_id)
        tx.args_pending = False  # node_args_from_first: the first task left no result
        what: Any
        if isinstance(event, NodeFailed):
            what = {"type": event.error.type, "message": event.error.message}
        else:
            what = {"type": "FlowFailed", "summary": event.summary}
        details = {
            "node_name": name,
            "node_id": event.node_id,
            "what": what,
            "selective": tx.selective_flag(),
        }
        tx.emit(TraceName.NODE_FAILURE, **details)
        tx.add_failed(name, event.node_id)
        if isinstance(event, NodeFailed):
            tx.errors = tx.errors.set(event.node_id, event.error)
        info = tx.table.nodes.get(name)  # None: a node a migration removed from the flow
        if info is not None and info.eager:
            tx.emit(TraceName.EAGER_FAILURE, **details)
            tx.fail_now = True

    # ------------------------------------------------------------------ flow end

    def _settle(self, tx: StepTx) -> Step:
        running = tx.running()
        if running and not tx.fail_now:  # the common case: the flow goes on
            return Step(tx.commit(), tuple(tx.actions), tuple(tx.trace))
        if not tx.fail_now and not running and tx.failed:
            run_fallbacks(tx)
            running = tx.running()
        if tx.fail_now or (not running and tx.failed):
            self._fail(tx)
        elif not running:
            summary = tx.summary(ok=True)
            tx.status = "succeeded"
            tx.emit(TraceName.FLOW_END, node_args=tx.node_args, state=summary)
            tx.actions.append(_finish(tx, "succeeded", summary))
        return Step(tx.commit(), tuple(tx.actions), tuple(tx.trace))

    def _fail(self, tx: StepTx) -> None:
        spec = tx.table.spec
        decision = decide_flow_retry(
            max_retry=spec.max_retry,
            retry_countdown=spec.retry_countdown,
            retried_count=tx.retried_count,
        )
        summary = tx.summary(ok=False)
        tx.emit(
            TraceName.FLOW_FAILURE,
            node_args=tx.node_args,
            retried_count=tx.retried_count,
            will_retry=decision.retry,
            state=summary,
            active_nodes=sorted(tx.active.keys()) if tx.running() else [],
        )
        if decision.retry:
            tx.retried_count = decision.retried_count
            tx.status = "retry_wait"
            tx.timer_id = f"{tx.flow_id}.retry.{decision.retried_count}"
            tx.actions.append(
                RetryFlow(
                    tx.flow_id,
                    tx.flow_name,
                    tx.timer_id,
                    tx.at + decision.countdown,
                    decision.retried_count,
                )
            )
            return
        tx.status = "failed"
        tx.actions.append(_finish(tx, "failed", summary))


def _finish(tx: StepTx, status: Literal["succeeded", "failed"], summary: FlowSummary) -> FinishFlow:
    base = tx.base
    return FinishFlow(
        tx.flow_id,
        tx.flow_name,
        status,
        summary,
        base.parent_flow_id,
        base.parent_flow_name,
        base.report_to_parent,
    )


def _drain(tx: StepTx) -> None:
    """Process finished instances in order (the event's node, then reused selective results)."""
    while tx.pending and not tx.fail_now:
        name, nid, summary = tx.pending.pop(0)
        fire_edges(tx, name, (nid, summary))
        tx.add_done(name, nid, summary)


def _first_result(tx: StepTx, name: str, nid: str) -> Any:
    """The stored result of the first task, the new flow arguments (node_args_from_first)."""
    try:
        return tx.results.get(flow_name=tx.flow_name, task_name=name, task_id=nid)
    except ResultMissing:
        return None
