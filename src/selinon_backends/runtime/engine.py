"""The in-process runtime: the dispatch shell and the worker over in-memory ports.

Theory of operation.  An :class:`Engine` owns the long-lived parts: the dispatcher, the
worker, the storage pool, an in-memory flow-state store and slot store.  Each ``run_flow``
call is a :class:`_Run`: it is the run's :class:`~selinon_backends.ports.Publisher` (three work
lists: dispatcher *events*, tasks *ready* to run, and *timers*, a heap of delayed messages) and
drives a :class:`~selinon_backends.runtime.shell.DispatchShell`, the same shell every transport
uses.  The loop fires due timers, then applies pending events (load state, step, save state
with its outbox, publish), then starts ready tasks, then waits for running tasks, then for the
next timer.  Task outcomes become events through :mod:`selinon_core.dispatch.effects`, as on
every transport.  Dispatching is serial within a run; with ``concurrency > 1`` tasks run in a
thread pool and their outcomes come back through a queue.  Nothing is serialised: states stay
Python objects in the memory store.  Several threads may call ``run_flow`` on one engine at once:
each run has its own work lists and flow ids, and the shared parts are thread-safe.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from selinon_backends.ports import Clock, ResultStore
from selinon_backends.runtime.clock import RealClock
from selinon_backends.runtime.environment import RuntimeEnvironment
from selinon_backends.runtime.report import FlowRun, NodeRun
from selinon_backends.runtime.requests import FlowStarter, check_flow
from selinon_backends.runtime.shell import DispatchShell
from selinon_backends.runtime.slots import MemorySlotStore
from selinon_backends.runtime.worker import Outcome, Worker
from selinon_backends.state.memory import MemoryStateStore
from selinon_backends.storage.pool import StoragePool
from selinon_core.config.system import System
from selinon_core.dispatch import effects
from selinon_core.dispatch.actions import FinishFlow, RunTask
from selinon_core.dispatch.dispatcher import Dispatcher, Step
from selinon_core.dispatch.events import ErrorSummary, Event, FlowRequested
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.dispatch.state import FlowState
from selinon_core.errors import RequestError
from selinon_core.trace import TraceEvent

__all__ = ["Engine", "error_summary"]

Tracer = Callable[[TraceEvent], Any]
Observer = Callable[[NodeRun], Any]


def error_summary(exc: BaseException | None) -> ErrorSummary:
    """The :class:`ErrorSummary` of a task's exception, with its formatted traceback."""
    if exc is None:
        return ErrorSummary("Exception", "")
    text = "".join(traceback.format_exception(exc)) if exc.__traceback__ is not None else None
    return ErrorSummary(type(exc).__name__, str(exc), text)


class Engine(FlowStarter[FlowRun]):
    """Runs flows of a System in this process.

    ``run_flow(flow_name, node_args)`` and ``run_flow_selective(...)`` run the flow to its end
    and return its :class:`~selinon_backends.runtime.report.FlowRun`; a ``flow_id`` of a flow
    this engine is still running raises ``RequestError``.

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
        self.slots = MemorySlotStore()
        self.states = MemoryStateStore()
        self.environment = RuntimeEnvironment(self.results, system, errors=self.states)
        # Built once: no per-run flags, so several threads may run flows on one engine.
        self._dispatcher = Dispatcher(system, trace=tracer is not None)
        # One worker for every run: it caches task specs and classes.
        self._worker = Worker(
            system, self.results, self.environment, self.clock.now, tracing=tracer is not None
        )
        self._flow_seq = itertools.count(1)
        self._running: set[str] = set()
        self._running_lock = threading.Lock()

    def _request(
        self, flow_name: str, node_args: Any, flow_id: str | None, plan: SelectivePlan | None
    ) -> FlowRun:
        """Run the flow to its end and return what happened (``run_flow`` and
        ``run_flow_selective``)."""
        check_flow(self.system, flow_name)
        flow_id = self._claim(flow_id)
        started = time.perf_counter()
        try:
            run = _Run(self, FlowRun(flow_name, flow_id, node_args))
            run.events.append(
                FlowRequested(flow_id, flow_name, self.clock.now(), node_args, selective=plan)
            )
            try:
                run.drain()
            finally:
                run.tidy()
        finally:
            with self._running_lock:
                self._running.discard(flow_id)
        run.flow_run.duration = time.perf_counter() - started
        status = run.flow_run.flow_statuses.get(flow_id, "failed")
        run.flow_run.status = "succeeded" if status == "succeeded" else "failed"
        return run.flow_run

    def _claim(self, flow_id: str | None) -> str:
        """Reserve a top-level flow id for one run (thread-safe).

        A generated id skips ids in use or still remembered; an explicit id of a finished run
        forgets that run (and its sub-flows) first.

        Raises:
            RequestError: ``flow_id`` belongs to a run that is still going on.
        """
        with self._running_lock:
            if flow_id is None:
                flow_id = f"flow-{next(self._flow_seq)}"
                while flow_id in self._running or self.states.load(flow_id=flow_id) is not None:
                    flow_id = f"flow-{next(self._flow_seq)}"
            elif flow_id in self._running:
                raise RequestError(f"flow id {flow_id!r} is in use by a running flow")
            else:
                self.states.forget(flow_id)
            self._running.add(flow_id)
        return flow_id

    def dispatcher_step(self, state: FlowState | None, event: Event) -> Step:
        """One ``Dispatcher.step`` with this engine's results port.

        Steps carry trace events only while the engine has a ``tracer``.
        """
        return self._dispatcher.step(state, event, self.results)


class _Run:
    """One ``run_flow`` call: its work lists, its shell, and the in-process publisher."""

    def __init__(self, engine: Engine, flow_run: FlowRun) -> None:
        self.engine = engine
        self.flow_run = flow_run
        self.clock = engine.clock
        self.now = engine.clock.now
        self.tracer = engine.tracer
        self.observer = engine.observer
        self.events: deque[Event] = deque()
        self.ready: deque[RunTask] = deque()
        self.timers: list[tuple[float, int, Event | RunTask]] = []
        self.records: dict[str, NodeRun] = {}
        self.seq = itertools.count()
        self.worker = engine._worker
        self.pool: ThreadPoolExecutor | None = None
        self.done: queue.SimpleQueue[tuple[RunTask, Outcome]] = queue.SimpleQueue()
        self.inflight = 0
        self.flow_ids = [flow_run.flow_id]

    # ------------------------------------------------------------------ the loop

    def tidy(self) -> None:
        """Drop this run's finished flows that recorded no error from the engine's store.

        Flows with errors stay (up to the store's retention) so that fallbacks of later runs
        and ``engine.environment.error(task_id=...)`` can read them; nothing else reads a
        finished in-process flow, and keeping every one would slow the garbage collector.
        """
        discard = self.engine.states.discard
        for flow_id in self.flow_ids:
            discard(flow_id, keep_errors=True)

    def drain(self) -> None:
        """Run until no event, task or timer is left."""
        engine = self.engine
        # A local, not an attribute: the shell refers to this run (its publisher), and a
        # reference cycle would leave every finished run to the garbage collector.
        shell = DispatchShell(
            system=engine.system,
            dispatcher=engine._dispatcher,
            store=engine.states,
            publisher=self,
            slots=engine.slots,
            results=engine.results,
            clock=engine.clock,
            tracer=engine.tracer,
            on_finish=self._flow_finished,
        )
        if engine.concurrency > 1:
            self.pool = ThreadPoolExecutor(engine.concurrency, thread_name_prefix="selinon")
        try:
            self._loop(shell.apply)
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)

    def _loop(self, apply: Callable[[Event], Any]) -> None:
        events, ready, timers = self.events, self.ready, self.timers
        now, start = self.now, self._start
        concurrency = self.engine.concurrency
        while True:
            if timers and timers[0][0] <= now():
                self._fire_timer()
            elif events:
                apply(events.popleft())
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
        if type(item) is RunTask:
            self.ready.append(item)
        else:
            self.events.append(item)  # type: ignore[arg-type]

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

    # ------------------------------------------------------------------ the Publisher port

    def publish_event(self, *, event: Event, queue: str, delay: float = 0.0) -> None:
        """Queue ``event`` for this run's dispatching (after ``delay`` on the timer heap)."""
        del queue  # one dispatcher serves every queue in this process
        if type(event) is FlowRequested and event.parent_flow_id is not None:
            self._subflow_requested(event)
        if delay > 0:
            self._later(delay, event)
        else:
            self.events.append(event)

    def publish_task(self, *, task: RunTask, delay: float = 0.0) -> None:
        """Queue ``task`` to run (after ``delay`` on the timer heap)."""
        if task.task_id not in self.records:  # else: a retry of the same node
            record = NodeRun(  # positional: the hot path
                task.flow_name,
                task.flow_id,
                task.task_name,
                task.task_id,
                "task",
                task.parent,
                task.node_args,
                "scheduled",
                None,
                0,
                None,
                task.nowait,
            )
            self.records[task.task_id] = record
            self.flow_run.runs.append(record)
            if self.observer is not None:
                self.observer(record)
        if delay > 0:
            self._later(delay, task)
        else:
            self.ready.append(task)

    # ------------------------------------------------------------------ flows

    def _subflow_requested(self, request: FlowRequested) -> None:
        if request.flow_id in self.records:  # re-published after a deferral
            return
        self.flow_ids.append(request.flow_id)
        self._record(
            NodeRun(
                request.parent_flow_name or "",
                request.parent_flow_id or "",
                request.flow_name,
                request.flow_id,
                "flow",
                request.parent,
                request.node_args,
                status="running",
                nowait=not request.report_to_parent,
            )
        )

    def _flow_finished(self, action: FinishFlow) -> None:
        self.flow_run.flow_statuses[action.flow_id] = action.status
        record = self.records.get(action.flow_id)
        if record is not None:
            record.status = action.status
            self._notify(record)

    # ------------------------------------------------------------------ tasks

    def _start(self, action: RunTask) -> None:
        record = self.records[action.task_id]
        record.status = "running"
        if self.observer is not None:
            self.observer(record)
        if self.pool is None:
            self._finish(action, self.worker.execute(action, action.attempt), record)
            return
        self.inflight += 1
        self.pool.submit(self._in_thread, action)

    def _in_thread(self, action: RunTask) -> None:
        self.done.put((action, self.worker.execute(action, action.attempt)))

    def _finish(self, action: RunTask, outcome: Outcome, record: NodeRun | None = None) -> None:
        if self.tracer is not None:
            for trace in outcome.trace:
                self.tracer(trace)
        if record is None:
            record = self.records[action.task_id]
        event: Event | None
        if outcome.kind == "succeeded":
            record.status = "succeeded"
            result = outcome.result
            if result is not None and outcome.stored:
                record.result = result
            event = effects.task_succeeded(action, at=self.now())
        elif outcome.kind == "retry":
            record.retries += 1
            record.status = "scheduled"
            self._later(outcome.countdown, effects.task_retry(action, counted=outcome.counted))
            event = None
        else:
            record.status = "failed"
            summary = error_summary(outcome.error)
            record.error = summary.describe()
            record.traceback = summary.traceback
            event = effects.task_failed(action, at=self.now(), error=summary)
        if event is not None:
            self.events.append(event)
        if self.observer is not None:
            self.observer(record)

    # ------------------------------------------------------------------ bookkeeping

    def _record(self, record: NodeRun) -> None:
        self.records[record.node_id] = record
        self.flow_run.runs.append(record)
        self._notify(record)

    def _notify(self, record: NodeRun) -> None:
        if self.observer is not None:
            self.observer(record)
