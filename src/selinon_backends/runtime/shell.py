"""The dispatch shell: applies one event to one flow, durably, for every transport.

Theory of operation.  :meth:`DispatchShell.apply` is the only code that advances a flow:

1. *load* the flow's stored state; if its outbox still holds actions, another dispatcher is
   publishing them right now, or crashed after the save before it marked them published: the
   event is deferred (as for a conflict) until the outbox has been there for
   ``OUTBOX_GRACE`` seconds (more for a large outbox), then this dispatcher publishes it and
   marks it published;
2. *step*: ``Dispatcher.step(state, event, results)``; an ignored event (duplicate, late)
   returns the same state object and nothing is written;
3. *save* the new state together with its actions (the outbox), compare-and-set on the version
   loaded in 1 (a store that does not outlive the process, ``durable = False``, gets no outbox:
   it would die with the process it protects against);
4. *trace* the step's trace events;
5. *publish* the actions, translated by :mod:`selinon_core.dispatch.effects` (a task run, a
   sub-flow request, a retry timer, the report of a sub-flow's end to its parent), throttled
   through the slot store;
6. *mark* the outbox published.

A crash anywhere loses nothing: the event is acknowledged by the transport only after
``apply`` returns, a redelivered event that was already applied is ignored by the dispatcher,
and 1. re-publishes what was saved but not published (so publishing is at least once).

One policy for backend trouble:

* ``TransientBackendError`` (a result, the state store or the broker is unreachable): nothing
  was applied; the event is published again after a back-off delay (50 ms doubling to 2 s per
  flow, reset by the flow's next applied step), traced ``STORAGE_ISSUE``;
* ``ConflictError`` (another writer saved the flow first): reload and step again, up to
  ``MAX_CONFLICTS`` times, then publish the event again after the flow's back-off delay (the
  same per-flow delay as above), traced ``STATE_CONFLICT``;
* a fresh outbox (another dispatcher is still publishing a step's actions, e.g. the thousands
  of task runs of a big ``foreach``): the event is published again after the flow's back-off
  delay, traced ``STATE_CONFLICT``.  Recovering at once would publish every action twice.

Migrations (:mod:`selinon_core.dispatch.migrations`): between 1. and 2. a state stored under an
older migration version is migrated to this worker's (the migration's actions, a retry timer or
the flow's end, go first in the outbox); a new flow gets this worker's version.  A state of a
newer version (*skew*: a newer worker is deployed next to this one) or a migration that cannot
be applied (``MIGRATION_ERROR``: a broken migration directory, files that do not match the
configuration) leaves the state as it is: the event is published again after a delay
(``SKEW_DELAY_START`` doubling to ``SKEW_DELAY_MAX``) for another worker, without touching the
flow's retry budget.  After ``MAX_MIGRATION_DEFERS`` such re-publications of one flow's events
by this shell, :class:`MigrationDeferred` is raised and the transport dead-letters the event
(kept with its reason, never dropped).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from selinon_backends.migrations import migration_chain
from selinon_backends.ports import Clock, FlowStateStore, Publisher, ResultStore, SlotStore
from selinon_core.config.system import System
from selinon_core.dispatch import effects
from selinon_core.dispatch.actions import Action, FinishFlow, RetryFlow, RunTask, StartSubflow
from selinon_core.dispatch.dispatcher import Dispatcher, Step
from selinon_core.dispatch.events import Event, FlowRequested
from selinon_core.dispatch.migrations import MigrationChain, MigrationError, migrate
from selinon_core.dispatch.state import FlowState
from selinon_core.errors import (
    ConflictError,
    DispatchError,
    TransientBackendError,
    describe_error,
)
from selinon_core.trace import TraceEvent, TraceName

__all__ = [
    "BACKOFF_MAX",
    "BACKOFF_START",
    "MAX_CONFLICTS",
    "MAX_MIGRATION_DEFERS",
    "OUTBOX_GRACE",
    "OUTBOX_GRACE_PER_ACTION",
    "SKEW_DELAY_MAX",
    "SKEW_DELAY_START",
    "DispatchShell",
    "MigrationDeferred",
    "dispatcher_queues",
]

BACKOFF_START = 0.05
"""First delay (seconds) before an event that met a transient backend error is applied again."""
BACKOFF_MAX = 2.0
"""Longest such delay; the delay doubles per failed attempt of one flow up to this."""
MAX_CONFLICTS = 5
"""Reloads after lost compare-and-sets before the event is re-published with a delay."""
OUTBOX_GRACE = 5.0
"""Seconds an outbox may stay unpublished (its writer busy publishing) before another
dispatcher takes it for the outbox of a crashed one and publishes it; plus
:data:`OUTBOX_GRACE_PER_ACTION` per action, since publishing 10,000 task runs with broker
confirms takes several seconds."""
OUTBOX_GRACE_PER_ACTION = 0.003
SKEW_DELAY_START = 0.5
"""First delay (seconds) before an event whose flow this worker cannot migrate is published
again (for a newer worker, or after the migration directory was fixed)."""
SKEW_DELAY_MAX = 10.0
"""Longest such delay; it doubles per re-publication of one flow's events up to this."""
MAX_MIGRATION_DEFERS = 360
"""Re-publications of one flow's events for migration reasons before the event is refused
(:class:`MigrationDeferred`, dead-lettered by the transport): about an hour at the longest
delay."""
_SEEN_MAX = 4096
_OUTBOX_BUSY = "another dispatcher publishes its outbox"


class _OutboxBusy(Exception):
    """The loaded flow's outbox is being published by another dispatcher (see the module doc)."""


class _MigrationTrouble(Exception):
    """This worker cannot bring the flow to its migration version now (skew or error)."""

    def __init__(self, trace: TraceEvent, state: FlowState | None) -> None:
        super().__init__(trace.name.value)
        self.trace = trace
        self.state = state


class MigrationDeferred(DispatchError):
    """A flow's events were re-published ``MAX_MIGRATION_DEFERS`` times because this worker
    cannot migrate the flow's state (a newer migration version, or a broken migration
    directory); the transport dead-letters the event with this message."""


Tracer = Callable[[TraceEvent], Any]


@functools.lru_cache(maxsize=16)
def dispatcher_queues(system: System) -> Mapping[str, str]:
    """Flow name -> its dispatcher queue (computed once per System)."""
    return MappingProxyType({name: flow.queue for name, flow in system.spec.flows.items()})


class DispatchShell:
    """load -> step -> save (+ outbox) -> trace -> publish -> mark published, for one event.

    Args:
        system: the loaded configuration (dispatcher queues of flows).
        dispatcher: the core dispatcher.
        store: the flow-state store.
        publisher: where events and task runs go.
        slots: the throttling slot store.
        results: the results port handed to ``Dispatcher.step``.
        clock: the time source (event timestamps, throttling, delays).
        tracer: called with every trace event of every step, in order (``None``: no tracing).
        on_finish: called with every ``FinishFlow`` after it was published (the in-process
            runtime's report); ``None`` when nobody listens.
        migrations: the migration chain of this worker; ``None``: read from
            ``global.migration_dir`` of ``system`` (:mod:`selinon_backends.migrations`).
    """

    def __init__(
        self,
        *,
        system: System,
        dispatcher: Dispatcher,
        store: FlowStateStore,
        publisher: Publisher,
        slots: SlotStore,
        results: ResultStore,
        clock: Clock,
        tracer: Tracer | None = None,
        on_finish: Callable[[FinishFlow], Any] | None = None,
        migrations: MigrationChain | None = None,
    ) -> None:
        self.system = system
        self.dispatcher = dispatcher
        self.store = store
        self.publisher = publisher
        self.slots = slots
        self.results = results
        self.clock = clock
        self.tracer = tracer
        self.on_finish = on_finish
        self._backoff: dict[str, float] = {}
        self._outbox_seen: dict[tuple[str, int], float] = {}
        self._durable = store.durable
        self._load = store.load  # bound once: the hot path
        self._save = store.save
        self._step = dispatcher.step
        self._publish_task = publisher.publish_task
        # A publisher may want to see a step's actions together first (one journal write
        # for a whole fan-out): an optional ``prepare(actions)``.
        self._prepare: Callable[[tuple[Action, ...]], Any] | None = getattr(
            publisher, "prepare", None
        )
        self._publish_one = self._publish_first if self._prepare is None else self.publish
        self._queues = dispatcher_queues(system)
        self._chain_error: str | None = None
        if migrations is None:
            try:
                migrations = migration_chain(system)
            except MigrationError as exc:
                migrations = MigrationChain()
                self._chain_failed(str(exc))
        self.migrations = migrations
        # -1 when the chain could not be read: every event then goes the migration way
        self._migration_version = -1 if self._chain_error is not None else migrations.latest
        self._migration_defers: dict[str, tuple[int, float]] = {}

    def _chain_failed(self, what: str) -> None:
        """The migration directory cannot be read.  With a durable store, flow events wait
        (``MIGRATION_ERROR``, re-published) until it is fixed; states of a store that does not
        outlive the process never meet another deployment, so the error is only traced."""
        if self._durable:
            self._chain_error = what
        elif self.tracer is not None:
            details = {"what": f"{what} (ignored: no flow state outlives this runtime)"}
            self.tracer(TraceEvent(TraceName.MIGRATION_ERROR, self.clock.now(), details))

    def apply(self, event: Event) -> Step | None:
        """Apply ``event`` to its flow; ``None`` when it was deferred (see the module doc).

        Raises:
            UnknownFlowError, InvalidTransition: the event cannot apply to any flow (a bug or
                a message for another configuration); the transport dead-letters it.
            MigrationDeferred: this worker re-published the flow's events too many times
                without being able to migrate its state; the transport dead-letters it.
        """
        try:
            try:  # the common case: one pass
                return self._apply_once(event)
            except ConflictError:
                return self._reapply(event)
        except TransientBackendError as exc:
            self._defer(event, TraceName.STORAGE_ISSUE, describe_error(exc))
            return None
        except _OutboxBusy:
            self._defer(event, TraceName.STATE_CONFLICT, _OUTBOX_BUSY)
            return None
        except _MigrationTrouble as trouble:
            self._defer_migration(event, trouble)
            return None

    def _reapply(self, event: Event) -> Step | None:
        """Another writer won the compare-and-set: reload and step again, a bounded number of
        times, then defer the event (other errors go to :meth:`apply`)."""
        for attempt in range(MAX_CONFLICTS - 1):
            try:
                return self._apply_once(event)
            except ConflictError:
                # A random pause (up to 1 ms, then 2 ms, ...) lets two dispatchers that keep
                # loading the same version drift apart instead of colliding again.
                pause = random.random() * 0.001 * (attempt + 1)
                self.clock.wait_until(self.clock.now() + pause)
        what = f"lost {MAX_CONFLICTS} compare-and-sets in a row"
        self._defer(event, TraceName.STATE_CONFLICT, what)
        return None

    def _apply_once(self, event: Event) -> Step:
        flow_id = event.flow_id
        stored = self._load(flow_id=flow_id)
        if stored is None:
            state = None
            expected = None
            plain = self._migration_version == 0  # else a new flow gets this version
        else:
            state = stored.state
            expected = state.version
            if stored.outbox:
                self._take_outbox(flow_id, stored.outbox, expected)
            plain = state.migration_version == self._migration_version
        step = (
            self._step(state, event, self.results)
            if plain
            else self._migrate_and_step(state, event)
        )
        new = step.state
        actions = step.actions
        outbox = actions if self._durable else ()
        if new is not state:
            self._save(state=new, expected_version=expected, outbox=outbox)
        if self._backoff:
            self._backoff.pop(flow_id, None)
        tracer = self.tracer
        if tracer is not None:
            for trace in step.trace:
                tracer(trace)
        if actions:
            first = actions[0]
            if len(actions) == 1 and type(first) is RunTask and not first.throttle_s:
                self._publish_one(actions)  # the common case, without the loop
            else:
                self.publish(actions)
            if outbox:
                self.store.mark_published(flow_id=flow_id, version=new.version)
        return step

    def _migrate_and_step(self, state: FlowState | None, event: Event) -> Step:
        """Step ``event`` on ``state`` migrated to this worker's version (see the module doc).

        Raises:
            _MigrationTrouble: skew or a migration error; nothing was applied.
        """
        now = self.clock.now()
        if self._chain_error is not None:
            raise _MigrationTrouble(_migration_error(state, event, self._chain_error, now), state)
        if state is None:  # a new flow: created at this worker's version
            step = self._step(state, event, self.results)
            return Step(
                replace(step.state, migration_version=self.migrations.latest),
                step.actions,
                step.trace,
            )
        try:
            outcome = migrate(state, self.migrations, self.dispatcher, at=now)
        except (MigrationError, ValueError, KeyError, TypeError) as exc:
            raise _MigrationTrouble(
                _migration_error(state, event, describe_error(exc), now), state
            ) from None
        if outcome.verdict == "skew":
            raise _MigrationTrouble(outcome.trace[0], state)
        step = self._step(outcome.state, event, self.results)
        if self._migration_defers:
            self._migration_defers.pop(state.flow_id, None)
        return Step(step.state, outcome.actions + step.actions, outcome.trace + step.trace)

    def _defer_migration(self, event: Event, trouble: _MigrationTrouble) -> None:
        """Publish ``event`` again later for a worker that can migrate its flow; refuse it
        (:class:`MigrationDeferred`) after ``MAX_MIGRATION_DEFERS`` times."""
        flow_id = event.flow_id
        count, delay = self._migration_defers.get(flow_id, (0, SKEW_DELAY_START))
        details = dict(trouble.trace.details)
        if count >= MAX_MIGRATION_DEFERS:
            self._migration_defers.pop(flow_id, None)
            what = (
                f"flow {flow_id}: this worker re-published the flow's events "
                f"{MAX_MIGRATION_DEFERS} times without being able to migrate it "
                f"({trouble.trace.name.value}); is a worker with migration version "
                f"{details.get('migration_version')} or newer running?"
            )
            if self.tracer is not None:
                details.update(what=what, gave_up=True)
                self.tracer(TraceEvent(trouble.trace.name, trouble.trace.at, details))
            raise MigrationDeferred(what)
        if len(self._migration_defers) >= _SEEN_MAX:
            self._migration_defers.clear()
        self._migration_defers[flow_id] = (count + 1, min(delay * 2, SKEW_DELAY_MAX))
        if self.tracer is not None:
            details.update(retry_in=delay, republished=count + 1)
            self.tracer(TraceEvent(trouble.trace.name, trouble.trace.at, details))
        queue = self._flow_queue(event, trouble.state)
        self.publisher.publish_event(event=event, queue=queue, delay=delay)

    def _flow_queue(self, event: Event, state: FlowState | None) -> str:
        """The dispatcher queue of ``event``'s flow (the default one for a flow this
        configuration does not know)."""
        name = state.flow_name if state is not None else getattr(event, "flow_name", None)
        default = self.system.spec.global_.default_dispatcher_queue
        return self._queues.get(name, default) if name is not None else default

    def _publish_first(self, actions: tuple[Action, ...]) -> None:
        self._publish_task(task=actions[0])  # type: ignore[arg-type]

    def _take_outbox(self, flow_id: str, outbox: tuple[Action, ...], version: int) -> None:
        """Publish an outbox older than ``OUTBOX_GRACE`` (as this dispatcher saw it), else raise
        ``_OutboxBusy``: its writer may be publishing it right now."""
        key = (flow_id, version)
        seen = self._outbox_seen
        now = self.clock.now()
        first = seen.get(key)
        if first is None:
            if len(seen) >= _SEEN_MAX:
                seen.clear()
            seen[key] = first = now
        if now - first < OUTBOX_GRACE + OUTBOX_GRACE_PER_ACTION * len(outbox):
            raise _OutboxBusy(flow_id)
        seen.pop(key, None)
        self._recover(flow_id, outbox, version)

    def _recover(self, flow_id: str, outbox: tuple[Action, ...], version: int) -> None:
        """Publish an outbox saved before a crash, then mark it published (at least once)."""
        self.publish(outbox)
        self.store.mark_published(flow_id=flow_id, version=version)

    def publish(self, actions: tuple[Action, ...]) -> None:
        """Carry out ``actions``: publish task runs and the events they lead to."""
        publisher = self.publisher
        if self._prepare is not None:
            self._prepare(actions)
        for action in actions:
            if type(action) is RunTask:
                if action.throttle_s:
                    delay = self._throttle("task:", action.task_name, action.throttle_s)
                    publisher.publish_task(task=action, delay=delay)
                else:
                    publisher.publish_task(task=action)
            elif type(action) is StartSubflow:
                request = effects.subflow_request(action, at=self.clock.now())
                delay = self._throttle("flow:", action.flow_name, action.throttle_s)
                publisher.publish_event(event=request, queue=action.queue, delay=delay)
            elif type(action) is RetryFlow:
                delay = max(0.0, action.at - self.clock.now())
                queue = self._queues[action.flow_name]
                publisher.publish_event(event=effects.timer_event(action), queue=queue, delay=delay)
            elif type(action) is FinishFlow:
                self._finished(action)

    def _finished(self, action: FinishFlow) -> None:
        event = effects.finish_event(action, at=self.clock.now())
        if event is not None and action.parent_flow_name is not None:
            queue = self._queues[action.parent_flow_name]
            self.publisher.publish_event(event=event, queue=queue, delay=0.0)
        if self.on_finish is not None:
            self.on_finish(action)

    def _throttle(self, kind: str, name: str, spacing: float | None) -> float:
        if not spacing:
            return 0.0
        return self.slots.reserve(key=kind + name, spacing=spacing, now=self.clock.now())

    def _defer(self, event: Event, name: TraceName, what: str) -> None:
        """Publish ``event`` again after the flow's back-off delay; trace why."""
        flow_id = event.flow_id
        delay = self._backoff.get(flow_id, BACKOFF_START)
        self._backoff[flow_id] = min(delay * 2, BACKOFF_MAX)
        if self.tracer is not None:
            details = {"flow_id": flow_id, "what": what, "retry_in": delay}
            self.tracer(TraceEvent(name, self.clock.now(), details))
        self.publisher.publish_event(event=event, queue=self._queue_of(event), delay=delay)

    def _queue_of(self, event: Event) -> str:
        """The dispatcher queue of the flow ``event`` belongs to."""
        if isinstance(event, FlowRequested):
            return self._queues[event.flow_name]
        try:
            stored = self.store.load(flow_id=event.flow_id)
        except TransientBackendError:
            stored = None
        if stored is None:  # the store is unreachable: the default dispatchers will do
            return self.system.spec.global_.default_dispatcher_queue
        return self._queues[stored.state.flow_name]


def _migration_error(state: FlowState | None, event: Event, what: str, at: float) -> TraceEvent:
    """The ``MIGRATION_ERROR`` trace event of a migration that cannot be applied."""
    details: dict[str, Any] = {
        "flow_name": state.flow_name if state is not None else getattr(event, "flow_name", None),
        "dispatcher_id": event.flow_id,
        "migration_version": None if state is None else state.migration_version,
        "what": what,
    }
    return TraceEvent(TraceName.MIGRATION_ERROR, at, details)
