"""Handling one distributed message, whatever transport delivered it.

A message (:mod:`.messages`) is a task run, a flow event or a safety-net check.
:class:`MessageHandler` does what it asks, durably:

* a **flow event** goes through the :class:`~selinon_backends.runtime.shell.DispatchShell`
  (load state, step, save state with its outbox, publish, mark published), so the next tasks
  are on the broker when :meth:`MessageHandler.handle` returns;
* a **task run** is executed by the :class:`~selinon_backends.runtime.worker.Worker` (result
  stored in its storage), its outcome journaled, and its completion event published to the
  flow's dispatcher queue (or the retry scheduled);
* a **check** re-drives a stalled flow (:mod:`.safety`).

The transport acknowledges the message after :meth:`~MessageHandler.handle` returns (at least
once).  A message that cannot be used (undecodable, another wire version, an unknown task or
flow) is moved to the dead-letter queue and traced ``MESSAGE_DEAD_LETTERED``: ``handle``
returns normally, so the transport acknowledges it and it never blocks a queue.  Any other
exception (a backend or the broker failed mid-way) propagates: the transport puts the message
back.

:class:`WorkerParts` holds what the handlers of one worker process share: the dispatcher,
the task executor, the safety net, the per-flow locks.  The Kombu worker and the Celery shim
each build one per process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from selinon_backends.distributed.backends import Backends
from selinon_backends.distributed.journal import root_of
from selinon_backends.distributed.messages import pack_check, unpack, with_parent, with_summary
from selinon_backends.distributed.publishing import WirePublisher, failpoint
from selinon_backends.distributed.safety import FlowCheck, SafetyNet
from selinon_backends.ports import Clock, ResultStore
from selinon_backends.runtime.engine import error_summary
from selinon_backends.runtime.environment import RuntimeEnvironment
from selinon_backends.runtime.shell import DispatchShell, dispatcher_queues
from selinon_backends.runtime.worker import Worker
from selinon_core.config.system import System
from selinon_core.dispatch import effects
from selinon_core.dispatch.actions import RunTask
from selinon_core.dispatch.dispatcher import Dispatcher
from selinon_core.dispatch.events import Event, FlowRequested
from selinon_core.errors import DispatchError, WireError, describe_error
from selinon_core.trace import TraceEvent, TraceName

__all__ = ["MessageHandler", "WorkerParts"]

Tracer = Callable[[TraceEvent], Any]
_LOCKS = 64
_log = logging.getLogger("selinon.distributed")


class WorkerParts:
    """What the message handlers of one worker process share.

    Args:
        system: the loaded configuration.
        backends: the flow-state store, slot store, journal and delay store.
        results: the results port (the configuration's storage pool).
        clock: the time source.
        tracer: called with every trace event, if any.
    """

    def __init__(
        self,
        system: System,
        backends: Backends,
        results: ResultStore,
        clock: Clock,
        tracer: Tracer | None = None,
    ) -> None:
        self.system = system
        self.backends = backends
        self.results = results
        self.clock = clock
        self.tracer = tracer
        self.dispatcher = Dispatcher(system, trace=tracer is not None)
        environment = RuntimeEnvironment(results, system, errors=backends.states)
        self.executor = Worker(system, results, environment, clock.now, tracing=tracer is not None)
        self.dispatcher_queue_of = dispatcher_queues(system)
        self.safety = SafetyNet(system, backends, clock.now)
        self._flow_locks = [threading.Lock() for _ in range(_LOCKS)]

    def flow_lock(self, flow_id: str) -> threading.Lock:
        """The lock that serialises this process's threads on flow ``flow_id``.

        One of a fixed set of locks picked by the flow id's hash: two threads applying events
        of one flow would only make each other lose compare-and-sets.
        """
        return self._flow_locks[hash(flow_id) % len(self._flow_locks)]

    def shell(self, publisher: WirePublisher) -> DispatchShell:
        """A dispatch shell that publishes through ``publisher`` (one per connection)."""
        return DispatchShell(
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

    def trace(self, name: TraceName, **details: Any) -> None:
        """Send one trace event to the tracer, if any."""
        if self.tracer is not None:
            self.tracer(TraceEvent(name, self.clock.now(), details))


class MessageHandler:
    """Handles the messages of one consumer (one thread, one publishing connection)."""

    def __init__(self, parts: WorkerParts, publisher: WirePublisher) -> None:
        self.parts = parts
        self.publisher = publisher
        self.shell = parts.shell(publisher)
        self.system = parts.system

    def handle(self, raw: bytes | str, queue: str) -> None:
        """Do what message ``raw`` (received from ``queue``) asks; poison is dead-lettered.

        Raises:
            Exception: a backend or the broker failed; the message is to be delivered again.
        """
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogatepass")
        try:
            decoded = unpack(raw)
        except WireError as exc:
            self._poison(raw, queue, f"undecodable message: {exc}")
            return
        try:
            payload = decoded.payload
            if isinstance(payload, FlowCheck):
                self._check(payload)
            else:
                if decoded.parent_ref:
                    payload = with_parent(payload, self.parts.backends.journal)
                if isinstance(payload, RunTask):
                    self._task(payload, decoded.retries)
                else:
                    self._event(payload)
        except (DispatchError, WireError) as exc:
            self._poison(raw, queue, describe_error(exc))

    def _event(self, event: Event) -> None:
        parts = self.parts
        event = with_summary(event, parts.backends.states)
        failpoint("before-apply")
        with parts.flow_lock(event.flow_id):  # no compare-and-set races between threads
            step = self.shell.apply(event)
        if (
            type(event) is FlowRequested
            and step is not None
            and step.actions
            and step.state.version == 1
        ):
            self._schedule(parts.safety.first_check(step.state), step.state.flow_name)

    def _check(self, check: FlowCheck) -> None:
        """A safety-net check: publish again what a stalled flow lost, schedule the next."""
        parts = self.parts
        redrive = parts.safety.check(check)
        for event, queue in redrive.events:
            _warn("safety net: flow %s stalled, %s again", check.flow_id, type(event).__name__)
            self.publisher.publish_event(event=event, queue=queue)
        for task in redrive.tasks:
            _warn("safety net: flow %s stalled, task %s again", check.flow_id, task.task_id)
            self.publisher.publish_task(task=task)
        if redrive.next_check is not None:
            stored = parts.backends.states.load(flow_id=check.flow_id)
            if stored is not None:
                self._schedule(redrive.next_check, stored.state.flow_name)

    def _schedule(self, check: FlowCheck | None, flow_name: str) -> None:
        if check is None:
            return
        queue = self.parts.dispatcher_queue_of[flow_name]
        self.publisher.send_later(queue, pack_check(check), check.interval)

    def _poison(self, raw: bytes, queue: str, reason: str) -> None:
        self.publisher.dead_letter(raw, reason, queue)
        self.parts.trace(TraceName.MESSAGE_DEAD_LETTERED, queue=queue, reason=reason)

    def _task(self, action: RunTask, retries: int) -> None:
        parts = self.parts
        if not self.system.spec.is_task(action.task_name):
            raise DispatchError(f"unknown task {action.task_name!r} (not in this configuration)")
        outcome = parts.executor.execute(action, action.attempt)
        if parts.tracer is not None:
            for trace in outcome.trace:
                parts.tracer(trace)
        now = parts.clock.now()
        key = f"o:{action.task_id}"
        root = root_of(action.flow_id)
        journal = parts.backends.journal
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
            queue = parts.dispatcher_queue_of[action.flow_name]
            self.publisher.publish_event(event=event, queue=queue)


def _warn(message: str, *args: Any) -> None:
    _log.warning(message, *args)
