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
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from kombu.messaging import Consumer

from selinon_backends.distributed.backends import Backends
from selinon_backends.distributed.handler import MessageHandler, WorkerParts
from selinon_backends.kombu.transport import KombuPublisher, broker_connection, kombu_queue
from selinon_backends.ports import Clock, ResultStore
from selinon_backends.runtime.clock import RealClock
from selinon_backends.storage.pool import StoragePool
from selinon_core.config.system import System
from selinon_core.errors import describe_error
from selinon_core.trace import TraceEvent

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
        self.parts = WorkerParts(system, backends, self.results, self.clock, tracer)
        self.stopping = threading.Event()
        self.wake_pump = threading.Event()
        self.handled = 0
        self._threads: list[threading.Thread] = []
        self._ready = threading.Semaphore(0)

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
            publisher = KombuPublisher(
                outgoing,
                delays=self.backends.delays,
                clock=self.clock,
                wake=self.wake_pump.set,
                journal=self.backends.journal,
            )
            consumer = Consumer(  # type: ignore[no-untyped-call]
                connection.channel(),
                queues=[kombu_queue(name) for name in self.queues],
                on_message=_Handler(self, MessageHandler(self.parts, publisher)),
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


class _Handler:
    """``on_message`` of one Kombu consumer: the shared handler, then ack or requeue."""

    def __init__(self, worker: KombuWorker, handler: MessageHandler) -> None:
        self.worker = worker
        self.handler = handler

    def __call__(self, message: Any) -> None:
        if self.worker.stopping.is_set():
            # Stopping: one read of the connection may deliver several prefetched messages;
            # only the one in hand is finished, the others go back to the broker at once.
            message.requeue()
            return
        queue = str(message.delivery_info.get("routing_key", ""))
        try:
            self.handler.handle(message.body, queue)
        except Exception as exc:
            # A backend or the broker failed mid-way: the message goes back to the queue.
            _log.warning("could not handle a message (%s); it is redelivered", describe_error(exc))
            message.requeue()
            self.worker.stopping.wait(0.2)
            return
        message.ack()
        self.worker.handled += 1


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
