"""Test helpers: an in-memory results port and a scripted driver for the dispatcher.

``run_to_completion`` plays a flow (and its sub-flows) through a
:class:`~selinon_core.dispatch.dispatcher.Dispatcher` without any transport: tasks are "run" by
looking up their outcome in a mapping, results go to a :class:`DictResults`, and events are
delivered in first-in first-out order on a virtual clock.  :class:`Simulation` offers the same step
by step, so tests can choose the delivery order, deliver duplicates or late events::

    sim = run_to_completion(dispatcher, "flow1", {"x": 1}, tasks={"Task1": {"ok": True}})
    assert sim.status == "succeeded"
    assert sim.task_names() == ["Task1", "Task2"]
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from selinon_core.dispatch import effects
from selinon_core.dispatch.actions import (
    Action,
    FinishFlow,
    RunTask,
    StartSubflow,
)
from selinon_core.dispatch.dispatcher import Dispatcher, Step
from selinon_core.dispatch.events import ErrorSummary, Event, FlowRequested
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.dispatch.state import FlowState
from selinon_core.errors import ResultMissing
from selinon_core.ports import StoragePoolView
from selinon_core.trace import TraceEvent

__all__ = ["DictResults", "DictStoragePool", "Simulation", "TaskFailure", "run_to_completion"]


class TaskFailure(Exception):
    """Raise from a scripted task behaviour (or list the task in ``fail``) to fail the task."""


class DictStoragePool:
    """The ``storage_pool`` handed to user callables by :class:`DictResults`."""

    def __init__(self, results: DictResults, flow_name: str, parent: Mapping[str, Any]) -> None:
        self.results = results
        self.flow_name = flow_name
        self.parent = parent

    def get_connected_storage(self, storage_name: str) -> Any:
        """The results themselves stand in for every storage."""
        del storage_name
        return self.results

    def get(self, task_name: str) -> Any:
        """The result of parent task ``task_name``."""
        return self.results.get(
            flow_name=self.flow_name, task_name=task_name, task_id=self.parent[task_name]
        )


class DictResults:
    """A :class:`~selinon_core.ports.ResultsPort` over a dict ``task_id -> result``.

    Attributes:
        data: the stored results.
        reads: how many results were read (``get`` calls that found a result).
    """

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = dict(data or {})
        self.reads = 0

    def store(self, task_id: str, result: Any) -> None:
        """Store ``result`` under ``task_id``."""
        self.data[task_id] = result

    def get(self, *, flow_name: str, task_name: str, task_id: str) -> Any:
        """The stored result (``ResultMissing`` when none)."""
        try:
            value = self.data[task_id]
        except KeyError:
            raise ResultMissing(f"no result of {flow_name}/{task_name} {task_id}") from None
        self.reads += 1
        return value

    def storage_pool(self, *, flow_name: str, parent: Mapping[str, Any]) -> StoragePoolView:
        """A pool view bound to ``parent``."""
        return DictStoragePool(self, flow_name, parent)


TaskBehaviour = Callable[[RunTask], Any]
"""Runs a scripted task: returns its result, raises to make it fail."""


@dataclass
class Simulation:
    """A scripted, transport-free run of flows through a dispatcher.

    Attributes:
        dispatcher: the dispatcher under test.
        results: where task results are stored.
        tasks: per task name, its result or a :data:`TaskBehaviour`; absent names return None.
        fail: task names that always fail.
        pending: events waiting to be delivered, oldest first.
        timers: ``(at, event)`` pairs delivered once ``pending`` is empty.
        states: the latest state per flow id.
        runs: every task run, in order.
        subflows: every sub-flow start, in order.
        finishes: every ``FinishFlow``, in order.
        trace: every trace event, in order.
        steps: the steps taken, in order.
    """

    dispatcher: Dispatcher
    results: DictResults = field(default_factory=DictResults)
    tasks: Mapping[str, Any] = field(default_factory=dict)
    fail: Collection[str] = ()
    now: float = 0.0
    pending: list[Event] = field(default_factory=list)
    timers: list[tuple[float, Event]] = field(default_factory=list)
    states: dict[str, FlowState] = field(default_factory=dict)
    runs: list[RunTask] = field(default_factory=list)
    subflows: list[StartSubflow] = field(default_factory=list)
    finishes: list[FinishFlow] = field(default_factory=list)
    trace: list[TraceEvent] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    def request(
        self,
        flow_name: str,
        node_args: Any = None,
        *,
        flow_id: str = "flow",
        selective: SelectivePlan | None = None,
        parent: dict[str, Any] | None = None,
    ) -> None:
        """Queue the request of a top-level flow."""
        self.pending.append(
            FlowRequested(flow_id, flow_name, self.now, node_args, parent, None, selective)
        )

    def deliver(self, index: int = 0, *, keep: bool = False) -> Step:
        """Deliver ``pending[index]`` (``keep``: leave it queued, i.e. deliver a duplicate)."""
        event = self.pending[index] if keep else self.pending.pop(index)
        self.now += 1.0
        step = self.dispatcher.step(self.states.get(event.flow_id), event, self.results)
        self.states[event.flow_id] = step.state
        self.steps.append(step)
        self.trace.extend(step.trace)
        for action in step.actions:
            self._carry_out(action)
        return step

    def run(self, *, max_steps: int = 1_000_000) -> Simulation:
        """Deliver events (then due timers) first in, first out until nothing is left."""
        for _ in range(max_steps):
            if not self.pending and self.timers:
                self.timers.sort(key=lambda pair: pair[0])
                at, event = self.timers.pop(0)
                self.now = max(self.now, at)
                self.pending.append(event)
            if not self.pending:
                return self
            self.deliver()
        raise RuntimeError(f"flow still running after {max_steps} steps")

    def _carry_out(self, action: Action) -> None:
        if isinstance(action, RunTask):
            self._run_task(action)
        elif isinstance(action, StartSubflow):
            self.subflows.append(action)
            self.pending.append(effects.subflow_request(action, at=self.now))
        elif isinstance(action, FinishFlow):
            self.finishes.append(action)
            event = effects.finish_event(action, at=self.now)
            if event is not None:
                self.pending.append(event)
        else:  # RetryFlow
            self.timers.append((action.at, effects.timer_event(action)))

    def _run_task(self, action: RunTask) -> None:
        self.runs.append(action)
        event: Event | None
        try:
            if action.task_name in self.fail:
                raise TaskFailure(f"{action.task_name} was scripted to fail")
            behaviour = self.tasks.get(action.task_name)
            result = behaviour(action) if callable(behaviour) else behaviour
        except Exception as exc:
            error = ErrorSummary(type(exc).__name__, str(exc))
            event = effects.task_failed(action, at=self.now, error=error)
        else:
            self.results.store(action.task_id, result)
            event = effects.task_succeeded(action, at=self.now)
        if event is not None:
            self.pending.append(event)

    # ------------------------------------------------------------------ queries

    @property
    def status(self) -> str:
        """The top-level flow's status (the first flow requested)."""
        return self.top.status

    @property
    def top(self) -> FlowState:
        """The state of the first flow requested."""
        return next(iter(self.states.values()))

    def task_names(self, flow_name: str | None = None) -> list[str]:
        """Names of the tasks run (optionally only in ``flow_name``), in order."""
        return [r.task_name for r in self.runs if flow_name in (None, r.flow_name)]

    def count(self, task_name: str) -> int:
        """How many times ``task_name`` ran."""
        return sum(1 for r in self.runs if r.task_name == task_name)

    def trace_names(self) -> list[str]:
        """Names of the trace events, in order."""
        return [t.name.value for t in self.trace]


def run_to_completion(
    dispatcher: Dispatcher,
    flow_name: str,
    node_args: Any = None,
    *,
    tasks: Mapping[str, Any] | None = None,
    fail: Collection[str] = (),
    results: DictResults | None = None,
    selective: SelectivePlan | None = None,
    parent: dict[str, Any] | None = None,
    flow_id: str = "flow",
    max_steps: int = 1_000_000,
) -> Simulation:
    """Run ``flow_name`` (and every sub-flow it starts) to its end.

    Args:
        dispatcher: the dispatcher under test.
        flow_name: the flow to run.
        node_args: the flow arguments.
        tasks: per task name, its result or a behaviour ``fn(run_task) -> result`` (raise
            to fail); tasks not listed return ``None``.
        fail: task names that always fail.
        results: the results port to use (a fresh :class:`DictResults` by default).
        selective: a selective plan to follow.
        parent: the parent mapping handed to the flow's starting nodes.
        flow_id: the top-level flow id.
        max_steps: a bound on the events delivered (``RuntimeError`` beyond).

    Returns:
        The finished simulation; see :class:`Simulation` for what it recorded.
    """
    sim = Simulation(dispatcher, results or DictResults(), dict(tasks or {}), fail)
    sim.request(flow_name, node_args, flow_id=flow_id, selective=selective, parent=parent)
    return sim.run(max_steps=max_steps)
