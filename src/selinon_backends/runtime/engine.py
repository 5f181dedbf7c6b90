"""The in-process runtime: drives the core dispatcher with in-memory state, queues and timers.

Theory of operation.  A run keeps three work lists: dispatcher *events* (a deque), tasks ready
to run (a deque) and *timers* (a heap of countdowns: retries, throttling, wake-ups, storage
back-off).  The loop always applies pending events first (load state, ``step``, save state,
carry out the actions), then starts ready tasks, then waits for running tasks, then for the
next timer.  Each flow instance, sub-flows included, has its own state; a sub-flow's
``FinishFlow`` becomes ``SubflowFinished``/``SubflowFailed`` for its parent.  Dispatching is
always serial; with ``concurrency > 1`` tasks run in a thread pool and their outcomes come back
through a queue.  Nothing is serialised on the hot path: states stay Python objects.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from selinon_backends.runtime.clock import Clock, RealClock
from selinon_backends.runtime.environment import RuntimeEnvironment
from selinon_backends.runtime.report import FlowRun, NodeRun
from selinon_backends.runtime.results import ResultStore
from selinon_backends.runtime.slots import SlotStore
from selinon_backends.runtime.worker import Outcome, Worker
from selinon_backends.storage.pool import StoragePool
from selinon_core.config.system import System
from selinon_core.dispatch.actions import (
    Action,
    FinishFlow,
    RetryFlow,
    RunTask,
    ScheduleWakeup,
    StartSubflow,
)
from selinon_core.dispatch.dispatcher import Dispatcher, Step
from selinon_core.dispatch.events import (
    ErrorSummary,
    Event,
    FlowRequested,
    NodeFailed,
    NodeSucceeded,
    SubflowFailed,
    SubflowFinished,
    TimerDue,
)
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.dispatch.selective import plan_selective_run
from selinon_core.dispatch.state import FlowState
from selinon_core.errors import TransientBackendError, UnknownFlowError
from selinon_core.trace import TraceEvent, TraceName

__all__ = ["Engine"]

Tracer = Callable[[TraceEvent], Any]
Observer = Callable[[NodeRun], Any]

STORAGE_BACKOFF_START = 0.05
STORAGE_BACKOFF_MAX = 2.0


class Engine:
    """Runs flows of a System in this process.

    Args:
        system: the loaded configuration.
        concurrency: how many tasks may run at once (threads); 1 runs them inline.
        clock: ``RealClock()`` (default) or ``VirtualClock()`` to jump over countdowns.
        storage_pool: where results are stored and read; built from the System by default.
        tracer: called with every trace event (dispatcher's and worker's), in order.
        observer: called whenever a node run changes status (progress displays).
    """

    def __init__(
        self,
        system: System,
        *,
        concurrency: int = 1,
        clock: Clock | None = None,
        storage_pool: ResultStore | None = None,
        tracer: Tracer | None = None,
        observer: Observer | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.system = system
        self.concurrency = concurrency
        self.clock: Clock = clock if clock is not None else RealClock()
        self.tracer = tracer
        self.results: ResultStore = (
            storage_pool
            if storage_pool is not None
            else StoragePool(system, trace=tracer, clock=self.clock.now)
        )
        self.observer = observer
        self.slots = SlotStore()
        self.environment = RuntimeEnvironment(self.results, system)
        self._dispatcher = Dispatcher(system, trace=tracer is not None)
        # One worker for every run: it caches task specs and classes.
        self._worker = Worker(
            system, self.results, self.environment, self.clock.now, tracing=tracer is not None
        )
        self._flow_seq = itertools.count(1)

    def run_flow(
        self, flow_name: str, node_args: Any = None, *, flow_id: str | None = None
    ) -> FlowRun:
        """Run flow ``flow_name`` to its end and return what happened.

        Raises:
            UnknownFlowError: the System has no such flow.
        """
        return self._run(flow_name, node_args, flow_id, None)

    def run_flow_selective(
        self,
        flow_name: str,
        task_names: Sequence[str],
        node_args: Any = None,
        follow_subflows: bool = False,
        run_subsequent: bool = False,
        *,
        flow_id: str | None = None,
    ) -> FlowRun:
        """Run only the parts of ``flow_name`` leading to ``task_names`` (Selinon semantics).

        Raises:
            UnknownFlowError: the System has no such flow.
            SelectiveNoPathError: a task is not reachable in the flow.
        """
        self._check_flow(flow_name)
        plan = plan_selective_run(
            self.system.spec,
            flow_name,
            tuple(task_names),
            follow_subflows=follow_subflows,
            run_subsequent=run_subsequent,
        )
        return self._run(flow_name, node_args, flow_id, plan)

    def _check_flow(self, flow_name: str) -> None:
        if not self.system.spec.is_flow(flow_name):
            known = ", ".join(sorted(self.system.spec.flows)) or "none"
            raise UnknownFlowError(f"unknown flow {flow_name!r} (flows: {known})")

    def _run(
        self, flow_name: str, node_args: Any, flow_id: str | None, plan: SelectivePlan | None
    ) -> FlowRun:
        self._check_flow(flow_name)
        flow_id = flow_id or f"flow-{next(self._flow_seq)}"
        self._dispatcher.tracing = self.tracer is not None  # nobody listens: build no events
        started = time.perf_counter()
        run = _Run(self, FlowRun(flow_name, flow_id, node_args))
        run.events.append(
            FlowRequested(flow_id, flow_name, self.clock.now(), node_args, selective=plan)
        )
        run.drain()
        run.flow_run.duration = time.perf_counter() - started
        status = run.flow_run.flow_statuses.get(flow_id, "failed")
        run.flow_run.status = "succeeded" if status == "succeeded" else "failed"
        return run.flow_run

    def dispatcher_step(self, state: FlowState | None, event: Event) -> Step:
        """One ``Dispatcher.step`` with this engine's results port.

        Steps carry trace events only while the engine has a ``tracer``.
        """
        return self._dispatcher.step(state, event, self.results)


class _Run:
    """The work lists of one ``run_flow`` call."""

    def __init__(self, engine: Engine, flow_run: FlowRun) -> None:
        self.engine = engine
        self.flow_run = flow_run
        self.clock = engine.clock
        self.now = engine.clock.now
        self.tracer = engine.tracer
        self.observer = engine.observer
        self.states: dict[str, FlowState] = {}
        self.events: deque[Event] = deque()
        self.ready: deque[RunTask] = deque()
        self.timers: list[tuple[float, int, Event | RunTask]] = []
        self.records: dict[str, NodeRun] = {}
        self.attempts: dict[str, int] = {}
        self.nowait_flows: set[str] = set()
        self.flow_names: dict[str, str] = {flow_run.flow_id: flow_run.flow_name}
        self.backoff: dict[str, float] = {}
        self.seq = itertools.count()
        self.step = engine._dispatcher.step
        self.results = engine.results
        self.worker = engine._worker
        self.worker.tracing = engine.tracer is not None
        self.pool: ThreadPoolExecutor | None = None
        self.done: queue.SimpleQueue[tuple[RunTask, Outcome]] = queue.SimpleQueue()
        self.inflight = 0

    # ------------------------------------------------------------------ the loop

    def drain(self) -> None:
        """Run until no event, task or timer is left."""
        if self.engine.concurrency > 1:
            self.pool = ThreadPoolExecutor(self.engine.concurrency, thread_name_prefix="selinon")
        try:
            self._loop()
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)

    def _loop(self) -> None:
        events, ready, timers = self.events, self.ready, self.timers
        now, dispatch, start = self.now, self._dispatch, self._start
        concurrency = self.engine.concurrency
        while True:
            if timers and timers[0][0] <= now():
                self._fire_timer()
            elif events:
                dispatch(events.popleft())
            elif ready and self.inflight < concurrency:
                start(ready.popleft())
            elif self.inflight:
                self._collect()
            elif timers:
                self.clock.wait_until(timers[0][0])
            else:
                return

    def _fire_timer(self) -> None:
        _, _, item = heapq.heappop(self.timers)
        if isinstance(item, RunTask):
            self.ready.append(item)
        else:
            self.events.append(item)

    def _later(self, delay: float, item: Event | RunTask) -> None:
        heapq.heappush(self.timers, (self.clock.now() + delay, next(self.seq), item))

    def _collect(self) -> None:
        if self.timers and not self.clock.virtual:
            timeout = max(0.0, self.timers[0][0] - self.clock.now())
            try:
                action, outcome = self.done.get(timeout=timeout)
            except queue.Empty:
                return
        else:
            action, outcome = self.done.get()
        self.inflight -= 1
        self._finish(action, outcome)

    # ------------------------------------------------------------------ dispatching

    def _dispatch(self, event: Event) -> None:
        try:
            step = self.step(self.states.get(event.flow_id), event, self.results)
        except TransientBackendError as exc:
            self._storage_issue(event, exc)
            return
        if self.backoff:
            self.backoff.pop(event.flow_id, None)
        self.states[event.flow_id] = step.state
        if self.tracer is not None:
            for trace in step.trace:
                self.tracer(trace)
        for action in step.actions:
            if type(action) is RunTask:
                self._schedule_task(action)
            else:
                self._carry_out(action)

    def _storage_issue(self, event: Event, exc: TransientBackendError) -> None:
        delay = self.backoff.get(event.flow_id, STORAGE_BACKOFF_START)
        self.backoff[event.flow_id] = min(delay * 2, STORAGE_BACKOFF_MAX)
        self._trace(
            TraceName.STORAGE_ISSUE,
            flow_id=event.flow_id,
            what=f"{type(exc).__name__}: {exc}",
            retry_in=delay,
        )
        self._later(delay, event)

    def _carry_out(self, action: Action) -> None:
        if isinstance(action, RunTask):
            self._schedule_task(action)
        elif isinstance(action, StartSubflow):
            self._start_subflow(action)
        elif isinstance(action, ScheduleWakeup | RetryFlow):
            due = TimerDue(action.flow_id, action.timer_id, action.at)
            heapq.heappush(self.timers, (action.at, next(self.seq), due))
        elif isinstance(action, FinishFlow):
            self._flow_finished(action)

    def _schedule_task(self, action: RunTask) -> None:
        if action.task_id not in self.records:  # else: a retry of the same node
            record = NodeRun(
                action.flow_name,
                action.flow_id,
                action.task_name,
                action.task_id,
                "task",
                action.parent,
                action.node_args,
                nowait=action.nowait,
            )
            self.records[action.task_id] = record
            self.flow_run.runs.append(record)
            if self.observer is not None:
                self.observer(record)
        if action.throttle_s:
            countdown = self._throttle(f"task:{action.task_name}", action.throttle_s)
            if countdown > 0:
                self._later(countdown, action)
                return
        self.ready.append(action)

    def _start_subflow(self, action: StartSubflow) -> None:
        self._record(
            NodeRun(
                self.flow_names.get(action.flow_id, ""),
                action.flow_id,
                action.flow_name,
                action.child_flow_id,
                "flow",
                action.parent,
                action.node_args,
                status="running",
                nowait=action.nowait,
            )
        )
        self.flow_names[action.child_flow_id] = action.flow_name
        if action.nowait:
            self.nowait_flows.add(action.child_flow_id)
        request = FlowRequested(
            action.child_flow_id,
            action.flow_name,
            self.clock.now(),
            action.node_args,
            parent=action.parent,
            parent_flow_id=action.flow_id,
            selective=action.selective,
        )
        countdown = self._throttle(f"flow:{action.flow_name}", action.throttle_s)
        if countdown > 0:
            self._later(countdown, request)
        else:
            self.events.append(request)

    def _throttle(self, key: str, spacing: float | None) -> float:
        if not spacing:
            return 0.0
        return self.engine.slots.reserve(key, spacing=spacing, now=self.clock.now())

    def _flow_finished(self, action: FinishFlow) -> None:
        self.flow_run.flow_statuses[action.flow_id] = action.status
        record = self.records.get(action.flow_id)
        if record is not None:
            record.status = action.status
            self._notify(record)
        parent = action.parent_flow_id
        if parent is None or action.flow_id in self.nowait_flows:
            return
        cls = SubflowFinished if action.status == "succeeded" else SubflowFailed
        self.events.append(cls(parent, action.flow_id, self.clock.now(), action.summary))

    # ------------------------------------------------------------------ tasks

    def _start(self, action: RunTask) -> None:
        record = self.records[action.task_id]
        record.status = "running"
        if self.observer is not None:
            self.observer(record)
        attempt = self.attempts.get(action.task_id, 0) if self.attempts else 0
        if self.pool is None:
            self._finish(action, self.worker.execute(action, attempt), record)
            return
        self.inflight += 1
        self.pool.submit(self._in_thread, action, attempt)

    def _in_thread(self, action: RunTask, attempt: int) -> None:
        self.done.put((action, self.worker.execute(action, attempt)))

    def _finish(self, action: RunTask, outcome: Outcome, record: NodeRun | None = None) -> None:
        if self.tracer is not None:
            for trace in outcome.trace:
                self.tracer(trace)
        if record is None:
            record = self.records[action.task_id]
        if outcome.kind == "succeeded":
            self._succeeded(action, record, outcome.result)
        elif outcome.kind == "retry":
            record.retries += 1
            if outcome.counted:
                self.attempts[action.task_id] = self.attempts.get(action.task_id, 0) + 1
            record.status = "scheduled"
            self._later(outcome.countdown, action)
        else:
            self._failed(action, record, outcome.error)
        if self.observer is not None:
            self.observer(record)

    def _succeeded(self, action: RunTask, record: NodeRun, result: Any) -> None:
        record.status = "succeeded"
        if result is not None and self.worker.stores_results(action.task_name):
            record.result = result
        if not action.nowait:
            self.events.append(NodeSucceeded(action.flow_id, action.task_id, self.now()))

    def _failed(self, action: RunTask, record: NodeRun, error: BaseException | None) -> None:
        record.status = "failed"
        summary = ErrorSummary(type(error).__name__, str(error))
        record.error = f"{summary.type}: {summary.message}"
        if error is not None:
            self.engine.environment.record_error(action.task_id, error)
        if not action.nowait:
            self.events.append(
                NodeFailed(action.flow_id, action.task_id, self.clock.now(), summary)
            )

    # ------------------------------------------------------------------ bookkeeping

    def _record(self, record: NodeRun) -> None:
        self.records[record.node_id] = record
        self.flow_run.runs.append(record)
        self._notify(record)

    def _notify(self, record: NodeRun) -> None:
        if self.observer is not None:
            self.observer(record)

    def _trace(self, name: TraceName, **details: Any) -> None:
        if self.tracer is not None:
            self.tracer(TraceEvent(name, self.clock.now(), details))
