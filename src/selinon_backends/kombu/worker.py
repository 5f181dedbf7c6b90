"""The Kombu worker: runs tasks and applies flow events from broker queues.

Theory of operation.  A :class:`KombuWorker` runs ``concurrency`` consumer threads and one
delay pump.  Each consumer thread owns a broker connection (Kombu connections are not shared
between threads), consumes its queues and handles one message at a time:

* a **flow event** goes through the :class:`~selinon_backends.runtime.shell.DispatchShell`
  (load state, step, save state with its outbox, publish, mark published); the next tasks
  are on the broker before the event is acknowledged;
* a **task run** is executed by the :class:`~selinon_backends.runtime.worker.Worker` (result
  stored in its storage), its outcome journaled, its completion event published to the
  flow's dispatcher queue (or the retry scheduled), then the message is acknowledged.

So every message is acknowledged only after its effects are durable (at least once): a
worker killed at any point leaves the message to be delivered again, and the dispatcher
ignores an event it already applied.  Messages that cannot be used (undecodable, another
wire version, an unknown flow or task) are moved to the dead-letter queue, traced
``MESSAGE_DEAD_LETTERED``, and acknowledged: they never block a queue.

Stopping (:meth:`KombuWorker.stop`, SIGTERM/SIGINT in the CLI): each thread finishes the
message in hand, then closes its connection; messages it had prefetched but not started go
back to the broker.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from kombu.messaging import Consumer

from selinon_backends.distributed.backends import Backends
from selinon_backends.distributed.journal import root_of
from selinon_backends.distributed.messages import pack_check, unpack, with_parent, with_summary
from selinon_backends.distributed.reports import start_entry
from selinon_backends.distributed.safety import FlowCheck, SafetyNet
from selinon_backends.kombu.transport import KombuPublisher, broker_connection, kombu_queue
from selinon_backends.ports import Clock, ResultStore
from selinon_backends.runtime.clock import RealClock
from selinon_backends.runtime.engine import error_summary
from selinon_backends.runtime.environment import RuntimeEnvironment
from selinon_backends.runtime.shell import DispatchShell, dispatcher_queues
from selinon_backends.runtime.worker import Worker
from selinon_backends.storage.pool import StoragePool
from selinon_core.config.system import System
from selinon_core.dispatch import effects
from selinon_core.dispatch.actions import Action, FinishFlow, RunTask, StartSubflow
from selinon_core.dispatch.dispatcher import Dispatcher
from selinon_core.dispatch.events import Event, FlowRequested
from selinon_core.errors import DispatchError, WireError, describe_error
from selinon_core.trace import TraceEvent, TraceName

__all__ = ["ROLES", "DelayPump", "KombuWorker", "worker_queues"]

ROLES = ("all", "dispatcher", "tasks")
_log = logging.getLogger("selinon.kombu")
Tracer = Callable[[TraceEvent], Any]
_POLL = 0.5
"""Seconds a consumer waits for a message before it looks at the stop flag again."""


def worker_queues(
    system: System, *, role: str = "all", only: Iterable[str] | None = None
) -> list[str]:
    """The queues a worker consumes: task and/or dispatcher queues, optionally restricted.

    Raises:
        ValueError: ``only`` names a queue no task or flow of the configuration uses.
    """
    spec = system.spec
    tasks = {task.queue for task in spec.tasks}
    flows = {flow.queue for flow in spec.flows.values()}
    chosen = {"all": tasks | flows, "dispatcher": flows, "tasks": tasks}[role]
    if only is not None:
        wanted = list(dict.fromkeys(only))
        unknown = [q for q in wanted if q not in tasks | flows]
        if unknown:
            known = ", ".join(sorted(tasks | flows))
            raise ValueError(f"no task or flow uses queue(s) {', '.join(unknown)} (known: {known})")
        chosen &= set(wanted)
    return sorted(chosen)


FAILPOINTS_ENV = "SELINON_TEST_FAILPOINTS"
"""Crash-test hook: ``NAME=FILE[,NAME=FILE]``; the process kills itself (SIGKILL) at point
``NAME`` unless ``FILE`` exists, creating it first (so a restarted worker goes on)."""


def failpoint(name: str) -> None:
    """Die here, the first time, when the crash tests armed point ``name``."""
    armed = os.environ.get(FAILPOINTS_ENV)
    if not armed:
        return
    for item in armed.split(","):
        point, _, marker = item.partition("=")
        if point == name and marker and not os.path.exists(marker):
            with open(marker, "w", encoding="utf-8") as handle:
                handle.write(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)


class _JournalingPublisher(KombuPublisher):
    """The shell's publisher: journals the tasks and sub-flows a step starts, in one write."""

    def __init__(self, connection: Any, backends: Backends, clock: Clock, wake: Any) -> None:
        super().__init__(connection, delays=backends.delays, clock=clock, wake=wake)
        self.journal = backends.journal

    def prepare(self, actions: tuple[Action, ...]) -> None:
        """Journal the start of every task and sub-flow in ``actions`` (before publishing)."""
        failpoint("before-publish")  # the state and its outbox are saved, nothing published
        now = self.clock.now()
        entries: dict[str, dict[str, Any]] = {}
        root = ""
        for action in actions:
            if type(action) is RunTask:
                root = action.flow_id
                entries[f"s:{action.task_id}"] = start_entry(
                    flow_name=action.flow_name,
                    flow_id=action.flow_id,
                    node_name=action.task_name,
                    kind="task",
                    parent=action.parent,
                    node_args=action.node_args,
                    nowait=action.nowait,
                    at=now,
                )
            elif type(action) is StartSubflow:
                root = action.flow_id
                entries[f"s:{action.child_flow_id}"] = start_entry(
                    flow_name=action.parent_flow_name,
                    flow_id=action.flow_id,
                    node_name=action.flow_name,
                    kind="flow",
                    parent=action.parent,
                    node_args=action.node_args,
                    nowait=action.nowait,
                    at=now,
                )
        if entries:
            self.journal.write(root=root_of(root), entries=entries)

    def flow_finished(self, action: FinishFlow) -> None:
        """Journal the end of a flow (the shell's ``on_finish``)."""
        entry = {"status": action.status, "t": self.clock.now()}
        self.journal.write(root=root_of(action.flow_id), entries={f"f:{action.flow_id}": entry})


class KombuWorker:
    """A worker process's consumers and delay pump.

    Args:
        system: the loaded configuration.
        broker_url: the Kombu broker URL (``amqp://...``, ``redis://...``, ``memory://``).
        backends: the flow-state store, slot store, journal and delay store.
        queues: the queues to consume (default: every task and dispatcher queue).
        concurrency: consumer threads (each handles one message at a time).
        prefetch: messages each consumer may hold unacknowledged.
        tracer: called with every trace event.
        clock: the time source.
        results: the results port (default: the configuration's storage pool).
        transport_options: Kombu transport options (e.g. Redis ``visibility_timeout``).
    """

    def __init__(
        self,
        system: System,
        *,
        broker_url: str,
        backends: Backends,
        queues: list[str] | None = None,
        concurrency: int = 1,
        prefetch: int = 4,
        tracer: Tracer | None = None,
        clock: Clock | None = None,
        results: ResultStore | None = None,
        transport_options: dict[str, Any] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.system = system
        self.broker_url = broker_url
        self.backends = backends
        self.queues = queues if queues is not None else worker_queues(system)
        self.concurrency = concurrency
        self.prefetch = max(1, prefetch)
        self.tracer = tracer
        self.clock: Clock = clock if clock is not None else RealClock()
        self.transport_options = transport_options
        self.results: ResultStore = (
            results
            if results is not None
            else StoragePool(system, trace=tracer, clock=self.clock.now)
        )
        self.dispatcher = Dispatcher(system, trace=tracer is not None)
        environment = RuntimeEnvironment(self.results, system, errors=backends.states)
        self.executor = Worker(
            system, self.results, environment, self.clock.now, tracing=tracer is not None
        )
        self.dispatcher_queue_of = dispatcher_queues(system)
        self.safety = SafetyNet(system, backends, self.clock.now)
        self.stopping = threading.Event()
        self.wake_pump = threading.Event()
        self.handled = 0
        self._threads: list[threading.Thread] = []
        self._ready = threading.Semaphore(0)
        self._flow_locks = [threading.Lock() for _ in range(64)]

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, wait_ready: float | None = 30.0) -> None:
        """Start the consumer threads and the pump; wait until they consume (``wait_ready``)."""
        for index in range(self.concurrency):
            thread = threading.Thread(
                target=self._consume_forever, name=f"selinon-consumer-{index}", daemon=True
            )
            self._threads.append(thread)
        pump = DelayPump(self)
        self._threads.append(threading.Thread(target=pump.run, name="selinon-pump", daemon=True))
        for thread in self._threads:
            thread.start()
        if wait_ready is not None:
            deadline = time.monotonic() + wait_ready
            for _ in range(self.concurrency + 1):
                if not self._ready.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    _log.warning("the worker is not consuming yet after %.0f s", wait_ready)
                    break

    def stop(self) -> None:
        """Ask every thread to stop after the message in hand."""
        self.stopping.set()
        self.wake_pump.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the threads to end; whether they all did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(left)
        return not any(thread.is_alive() for thread in self._threads)

    def run(self) -> None:
        """Start, then block until :meth:`stop` was called and the threads ended."""
        self.start(wait_ready=None)
        while not self.stopping.wait(0.5):
            pass
        self.join()

    # ------------------------------------------------------------------ consuming

    def _consume_forever(self) -> None:
        delay = 0.1
        first = True
        while not self.stopping.is_set():
            try:
                self._session(first)
                delay = 0.1
            except Exception as exc:  # connection lost: reconnect with a back-off
                _log.warning("broker connection trouble (%s); reconnecting", describe_error(exc))
                self.stopping.wait(delay)
                delay = min(delay * 2, 5.0)
            first = False

    def _session(self, first: bool) -> None:
        # Two connections: waiting for a publisher confirm reads the connection's frames, and
        # on a shared connection that would deliver the next message to the handler while it
        # is still handling one (a re-entrant step of the same flow).
        options = self.transport_options
        with (
            broker_connection(self.broker_url, transport_options=options) as connection,
            broker_connection(self.broker_url, transport_options=options) as outgoing,
        ):
            connection.ensure_connection(max_retries=3)
            outgoing.ensure_connection(max_retries=3)
            publisher = _JournalingPublisher(
                outgoing, self.backends, self.clock, self.wake_pump.set
            )
            shell = DispatchShell(
                system=self.system,
                dispatcher=self.dispatcher,
                store=self.backends.states,
                publisher=publisher,
                slots=self.backends.slots,
                results=self.results,
                clock=self.clock,
                tracer=self.tracer,
                on_finish=publisher.flow_finished,
            )
            consumer = Consumer(  # type: ignore[no-untyped-call]
                connection.channel(),
                queues=[kombu_queue(name) for name in self.queues],
                on_message=_Handler(self, shell, publisher),
                prefetch_count=self.prefetch,
            )
            with consumer:
                if first:
                    self._arrive()
                while not self.stopping.is_set():
                    try:
                        connection.drain_events(timeout=_POLL)
                    except TimeoutError:
                        continue

    def _arrive(self) -> None:
        self._ready.release()

    def flow_lock(self, flow_id: str) -> threading.Lock:
        """The lock that serialises this process's threads on flow ``flow_id``.

        One of a fixed set of locks picked by the flow id's hash: two threads applying events
        of one flow would only make each other lose compare-and-sets.
        """
        return self._flow_locks[hash(flow_id) % len(self._flow_locks)]

    def trace(self, name: TraceName, **details: Any) -> None:
        """Send one trace event to the tracer, if any."""
        if self.tracer is not None:
            self.tracer(TraceEvent(name, self.clock.now(), details))


class _Handler:
    """Handles one message of one consumer thread (``on_message`` of its Kombu consumer)."""

    def __init__(self, worker: KombuWorker, shell: DispatchShell, publisher: _JournalingPublisher):
        self.worker = worker
        self.shell = shell
        self.publisher = publisher
        self.system = worker.system

    def __call__(self, message: Any) -> None:
        raw = message.body
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogatepass")
        queue = str(message.delivery_info.get("routing_key", ""))
        try:
            decoded = unpack(raw)
        except WireError as exc:
            self._poison(message, raw, queue, f"undecodable message: {exc}")
            return
        try:
            payload = decoded.payload
            if isinstance(payload, FlowCheck):
                self._check(payload)
            else:
                if decoded.parent_ref:
                    payload = with_parent(payload, self.worker.backends.journal)
                if isinstance(payload, RunTask):
                    self._task(payload, decoded.retries)
                else:
                    self._event(payload)
        except (DispatchError, WireError) as exc:
            self._poison(message, raw, queue, describe_error(exc))
            return
        except Exception as exc:
            # A backend or the broker failed mid-way: the message goes back to the queue.
            _log.warning("could not handle a message (%s); it is redelivered", describe_error(exc))
            message.requeue()
            self.worker.stopping.wait(0.2)
            return
        message.ack()
        self.worker.handled += 1

    def _event(self, event: Event) -> None:
        event = with_summary(event, self.worker.backends.states)
        failpoint("before-apply")
        with self.worker.flow_lock(event.flow_id):  # no compare-and-set races between threads
            step = self.shell.apply(event)
        if (
            type(event) is FlowRequested
            and step is not None
            and step.actions
            and step.state.version == 1
        ):
            self._schedule(self.worker.safety.first_check(step.state), step.state.flow_name)

    def _check(self, check: FlowCheck) -> None:
        """A safety-net check: publish again what a stalled flow lost, schedule the next."""
        redrive = self.worker.safety.check(check)
        for event, queue in redrive.events:
            _log.warning(
                "safety net: flow %s stalled, %s again", check.flow_id, type(event).__name__
            )
            self.publisher.publish_event(event=event, queue=queue)
        for task in redrive.tasks:
            _log.warning("safety net: flow %s stalled, task %s again", check.flow_id, task.task_id)
            self.publisher.publish_task(task=task)
        if redrive.next_check is not None:
            stored = self.worker.backends.states.load(flow_id=check.flow_id)
            if stored is not None:
                self._schedule(redrive.next_check, stored.state.flow_name)

    def _schedule(self, check: FlowCheck | None, flow_name: str) -> None:
        if check is None:
            return
        queue = self.worker.dispatcher_queue_of[flow_name]
        self.publisher.send_later(queue, pack_check(check), check.interval)

    def _poison(self, message: Any, raw: bytes, queue: str, reason: str) -> None:
        self.publisher.dead_letter(raw, reason, queue)
        self.worker.trace(TraceName.MESSAGE_DEAD_LETTERED, queue=queue, reason=reason)
        message.ack()

    def _task(self, action: RunTask, retries: int) -> None:
        worker = self.worker
        if not self.system.spec.is_task(action.task_name):
            raise DispatchError(f"unknown task {action.task_name!r} (not in this configuration)")
        outcome = worker.executor.execute(action, action.attempt)
        if worker.tracer is not None:
            for trace in outcome.trace:
                worker.tracer(trace)
        now = worker.clock.now()
        key = f"o:{action.task_id}"
        root = root_of(action.flow_id)
        journal = worker.backends.journal
        event: Event | None
        if outcome.kind == "succeeded":
            entry: dict[str, Any] = {"status": "succeeded", "retries": retries, "t": now}
            if outcome.stored and outcome.result is not None:
                entry["result"] = outcome.result
            journal.write(root=root, entries={key: entry})
            event = effects.task_succeeded(action, at=now)
        elif outcome.kind == "retry":
            journal.write(root=root, entries={key: {"status": "scheduled", "retries": retries + 1}})
            again = effects.task_retry(action, counted=outcome.counted)
            self.publisher.publish_task(task=again, delay=outcome.countdown, retries=retries + 1)
            return
        else:
            summary = error_summary(outcome.error)
            entry = {
                "status": "failed",
                "retries": retries,
                "error": summary.describe(),
                "traceback": summary.traceback,
                "t": now,
            }
            journal.write(root=root, entries={key: entry})
            event = effects.task_failed(action, at=now, error=summary)
        if event is not None:
            queue = worker.dispatcher_queue_of[action.flow_name]
            self.publisher.publish_event(event=event, queue=queue)


class DelayPump:
    """Publishes delayed messages when they are due (one per worker process)."""

    def __init__(self, worker: KombuWorker) -> None:
        self.worker = worker

    def run(self) -> None:
        """Take due messages and publish them until the worker stops."""
        worker = self.worker
        first = True
        delay = 0.1
        while not worker.stopping.is_set():
            try:
                with broker_connection(
                    worker.broker_url, transport_options=worker.transport_options
                ) as connection:
                    connection.ensure_connection(max_retries=3)
                    publisher = KombuPublisher(
                        connection, delays=worker.backends.delays, clock=worker.clock
                    )
                    if first:
                        worker._arrive()
                        first = False
                    self._pump(publisher)
                delay = 0.1
            except Exception as exc:
                _log.warning("delay pump trouble (%s); retrying", describe_error(exc))
                worker.stopping.wait(delay)
                delay = min(delay * 2, 5.0)

    def _pump(self, publisher: KombuPublisher) -> None:
        worker = self.worker
        delays = worker.backends.delays
        while not worker.stopping.is_set():
            now = worker.clock.now()
            due = delays.take_due(now=now, limit=200)
            for item in due:
                publisher.send(item.queue, item.body)
            if due:
                delays.done(ids=[item.id for item in due])
                continue
            upcoming = delays.next_due()
            wait = 0.25 if upcoming is None else min(0.25, max(0.002, upcoming - now))
            worker.wake_pump.wait(wait)
            worker.wake_pump.clear()
