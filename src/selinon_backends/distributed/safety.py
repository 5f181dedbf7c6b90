"""The safety net: re-check running flows that stopped making progress, and re-drive them.

Nothing in the runtime's own path loses an event (messages are acknowledged after their effects
are durable, see ``docs/distributed.md``), and no flow waits for a re-check: dispatch is driven
by events.  The safety net is for what happens outside the runtime's control: a Redis broker
without persistence restarts and drops its queues, an operator purges a queue, a message is
dead-lettered by an older release.

When a dispatcher creates a flow it schedules a *check* of it (a delayed message on the flow's
dispatcher queue).  The interval is the flow's ``sampling`` strategy's answer (Selinon's
signature ``fn(status, **args)``, :mod:`selinon_core.strategies`), :data:`DEFAULT_INTERVAL`
seconds for a flow without ``sampling``; the check reschedules itself while the flow runs and
the strategy returns an interval.  A check that finds the flow's state version unchanged since
the previous check counts the flow as *stalled* and re-drives it from the stores:

* a task whose outcome the run journal holds (its worker finished it) but the flow did not
  apply: its completion event is published again (the dispatcher ignores duplicates);
* a sub-flow that finished while its parent did not hear of it: the end is reported again;
* after two stalled checks in a row, a task with no outcome yet, or a sub-flow that was never
  created: its task run or flow request is published again from its start entry in the journal
  (at least once: a task still waiting in a long queue may run twice).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from selinon_backends.distributed.backends import Backends
from selinon_backends.distributed.journal import root_of
from selinon_core.config.system import System
from selinon_core.dispatch.actions import RunTask
from selinon_core.dispatch.events import (
    ErrorSummary,
    Event,
    FlowRequested,
    NodeFailed,
    NodeSucceeded,
    SubflowFailed,
    SubflowFinished,
)
from selinon_core.dispatch.state import FlowState, flow_summary

__all__ = ["DEFAULT_INTERVAL", "FlowCheck", "Redrive", "SafetyNet"]

DEFAULT_INTERVAL = 60.0
"""Seconds between checks of a running flow that has no ``sampling`` in its configuration."""
MIN_INTERVAL = 0.05
"""Shortest interval honoured (a strategy answering 0 would spin)."""
RESEND_AFTER = 2
"""Stalled checks in a row before task runs and flow requests are published again."""


class FlowCheck(NamedTuple):
    """A scheduled check of flow ``flow_id``, made when its state had ``version``."""

    flow_id: str
    version: int
    interval: float
    stalled: int = 0


class Redrive(NamedTuple):
    """What a check decided: events and task runs to publish again, and the next check."""

    events: list[tuple[Event, str]]
    tasks: list[RunTask]
    next_check: FlowCheck | None


class SafetyNet:
    """Decides checks for one System over the stores of one state-store URL.

    Args:
        system: the loaded configuration.
        backends: the stores.
        now: the clock.
    """

    def __init__(self, system: System, backends: Backends, now: Callable[[], float]) -> None:
        self.system = system
        self.backends = backends
        self.now = now

    def interval(self, state: FlowState, previous: float | None, progressed: bool) -> float | None:
        """The flow's next check interval (``None``: no more checks)."""
        spec = self.system.spec.flows.get(state.flow_name)
        if spec is None:
            return None
        sampling = spec.sampling
        if sampling is None:
            return DEFAULT_INTERVAL
        strategy = self.system.resolve(sampling.import_, sampling.name)
        status = {
            "previous_retry": previous,
            "active_nodes": [name for _, name in state.active.items()],
            "failed_nodes": list(state.failed),
            "new_started_nodes": ["?"] if progressed else [],
            "new_fallback_nodes": [],
            "finished_nodes": [],
        }
        try:
            found = strategy(status, **dict(sampling.args))
        except Exception:  # a strategy must not raise; keep the net in place if it does
            return DEFAULT_INTERVAL
        return None if found is None else max(MIN_INTERVAL, float(found))

    def first_check(self, state: FlowState) -> FlowCheck | None:
        """The check to schedule for a flow that was just created (``None``: none)."""
        if state.status != "running":
            return None
        interval = self.interval(state, None, True)
        return None if interval is None else FlowCheck(state.flow_id, state.version, interval)

    def check(self, check: FlowCheck) -> Redrive:
        """Look at the flow of ``check``; what to publish again and when to look next."""
        stored = self.backends.states.load(flow_id=check.flow_id)
        if stored is None or stored.state.status not in ("running", "retry_wait"):
            return Redrive([], [], None)
        state = stored.state
        progressed = state.version != check.version
        stalled = 0 if progressed else check.stalled + 1
        interval = self.interval(state, check.interval, progressed)
        following = (
            None if interval is None else FlowCheck(state.flow_id, state.version, interval, stalled)
        )
        if progressed or state.status != "running":
            return Redrive([], [], following)
        events, tasks = self._redrive(state, resend=stalled >= RESEND_AFTER)
        return Redrive(events, tasks, following)

    def _redrive(
        self, state: FlowState, *, resend: bool
    ) -> tuple[list[tuple[Event, str]], list[RunTask]]:
        queue = self.system.spec.flows[state.flow_name].queue
        entries = self.backends.journal.read(root=root_of(state.flow_id))
        events: list[tuple[Event, str]] = []
        tasks: list[RunTask] = []
        now = self.now()
        for node_id, name in state.active.items():
            start = entries.get(f"s:{node_id}")
            if self.system.spec.is_flow(name):
                found = self._subflow(state, node_id, start, resend, now)
                if found is not None:
                    events.append(found)
                continue
            outcome = entries.get(f"o:{node_id}")
            if outcome is not None and outcome.get("status") == "succeeded":
                events.append((NodeSucceeded(state.flow_id, node_id, now), queue))
            elif outcome is not None and outcome.get("status") == "failed":
                error = _error(outcome)
                events.append((NodeFailed(state.flow_id, node_id, now, error), queue))
            elif outcome is None and resend and start is not None:
                tasks.append(self._task(state, node_id, name, start))
        return events, tasks

    def _subflow(
        self,
        state: FlowState,
        node_id: str,
        start: Mapping[str, Any] | None,
        resend: bool,
        now: float,
    ) -> tuple[Event, str] | None:
        queue = self.system.spec.flows[state.flow_name].queue
        child = self.backends.states.load(flow_id=node_id)
        if child is None:
            if not resend or start is None:
                return None
            name = str(start.get("node_name"))
            request = FlowRequested(
                node_id,
                name,
                now,
                start.get("node_args"),
                start.get("parent"),
                state.flow_id,
                None,
                state.flow_name,
                not start.get("nowait", False),
            )
            return request, self.system.spec.flows[name].queue
        status = child.state.status
        if status not in ("succeeded", "failed"):
            return None
        summary = self.backends.states.summary(flow_id=node_id) or flow_summary(child.state)
        if status == "succeeded":
            return SubflowFinished(state.flow_id, node_id, now, summary), queue
        return SubflowFailed(state.flow_id, node_id, now, summary), queue

    def _task(self, state: FlowState, node_id: str, name: str, start: Mapping[str, Any]) -> RunTask:
        spec = self.system.spec.task(name)
        throttle = None if spec.throttling is None else spec.throttling.total_seconds()
        return RunTask(
            state.flow_id,
            state.flow_name,
            name,
            node_id,
            start.get("node_args"),
            start.get("parent") or {},
            spec.queue,
            throttle,
            bool(start.get("nowait", False)),
        )


def _error(outcome: Mapping[str, Any]) -> ErrorSummary:
    kind, _, message = str(outcome.get("error") or "Exception: ").partition(": ")
    return ErrorSummary(kind, message, outcome.get("traceback"))
