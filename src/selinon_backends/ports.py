"""Ports: what the runtime shell needs from the world, as small synchronous protocols.

The shell (:class:`selinon_backends.runtime.shell.DispatchShell` and the worker) is written
against these protocols only; each transport brings implementations:

======================  ===================================================  ==================
port                    what it does                                         in-process
======================  ===================================================  ==================
:class:`FlowStateStore` each flow's state plus its outbox of actions; one     ``MemoryStateStore``
                        writer per flow (compare-and-set on the version)
:class:`Publisher`      deliver events to dispatchers and task runs to        the engine's queues
                        workers, now or after a delay
:class:`SlotStore`      the atomic part of throttling                         ``MemorySlotStore``
:class:`ResultStore`    task results (the storage pool)                       ``StoragePool``
:class:`Clock`          the time, and waiting for it                          ``RealClock``/
                                                                              ``VirtualClock``
======================  ===================================================  ==================

Every method is keyword-only.  Implementations translate their client library's exceptions
into :class:`~selinon_core.errors.TransientBackendError` (try again later) and
:class:`~selinon_core.errors.ConflictError` (lost a compare-and-set) at one choke point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from selinon_core.dispatch.actions import Action, RunTask
from selinon_core.dispatch.events import Event, FlowSummary
from selinon_core.dispatch.state import FlowState

__all__ = [
    "Clock",
    "FlowStateStore",
    "Publisher",
    "ResultStore",
    "SlotStore",
    "StoredFlow",
]


class StoredFlow(NamedTuple):
    """A flow as its state store holds it.

    Attributes:
        state: the flow's state; ``state.version`` is the compare-and-set token.
        outbox: the actions of the step that produced ``state`` that are not yet marked
            published (empty once they are).
    """

    state: FlowState
    outbox: tuple[Action, ...] = ()


class FlowStateStore(Protocol):
    """Each running flow's state and outbox; summaries of finished flows.

    One writer per flow: :meth:`save` succeeds only when the stored version is the one the
    writer loaded, so two dispatchers applying events to one flow cannot both win.

    A store may keep a finished flow compact: its ``load`` may return the final state without
    the node log (``log``, ``done`` and ``active`` empty), since a finished flow only ignores
    late events and answers errors; status, errors, failures, counters and :meth:`summary` stay.

    ``durable`` tells whether the store outlives the process.  The shell keeps an outbox only
    in a durable store: an in-memory store dies with the process whose crash the outbox is for.
    """

    durable: bool

    def load(self, *, flow_id: str) -> StoredFlow | None:
        """The stored flow, or ``None`` when ``flow_id`` was never saved."""
        ...

    def save(
        self,
        *,
        state: FlowState,
        expected_version: int | None,
        outbox: Sequence[Action],
    ) -> None:
        """Store ``state`` with its ``outbox``, atomically.

        Args:
            state: the new state (``state.flow_id`` names the flow).
            expected_version: the version loaded before the step; ``None`` creates the flow.
            outbox: the actions the step produced, to be published after the save.

        Raises:
            ConflictError: the stored version is not ``expected_version`` (or the flow
                exists when creating it); reload and apply the event again.
            TransientBackendError: the store is unreachable for now.
        """
        ...

    def mark_published(self, *, flow_id: str, version: int) -> None:
        """Empty the outbox saved with ``version`` (a no-op when a later save replaced it)."""
        ...

    def summary(self, *, flow_id: str) -> FlowSummary | None:
        """The summary of a flow (finished or not), ``None`` when unknown or forgotten."""
        ...


class Publisher(Protocol):
    """Delivers messages: events to a dispatcher queue, task runs to a task queue."""

    def publish_event(self, *, event: Event, queue: str, delay: float = 0.0) -> None:
        """Deliver ``event`` to the dispatchers listening on ``queue`` after ``delay`` s."""
        ...

    def publish_task(self, *, task: RunTask, delay: float = 0.0) -> None:
        """Deliver ``task`` to the workers of ``task.queue`` after ``delay`` seconds."""
        ...


class SlotStore(Protocol):
    """The atomic part of throttling, shared by every dispatcher (throttling is global)."""

    def reserve(self, *, key: str, spacing: float, now: float) -> float:
        """Reserve the next slot of ``key``; the countdown until it (0 = start now)."""
        ...


class ResultStore(Protocol):
    """Task results: reads for the dispatcher and tasks, writes for the worker.

    Writes keep Selinon's positional ``StoragePool.set`` order.
    """

    def get(self, *, flow_name: str, task_name: str, task_id: str) -> Any:
        """The stored result of a task."""
        ...

    def storage_pool(self, *, flow_name: str, parent: Mapping[str, Any]) -> Any:
        """A ``storage_pool`` view for user callables."""
        ...

    def get_connected_storage(self, storage_name: str) -> Any:
        """The connected adapter named ``storage_name``."""
        ...

    def store(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> Any:
        """Store a task's result in its storage."""
        ...

    def store_error(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: Any
    ) -> Any:
        """Record a task's failure in its storage (never raises for storage trouble)."""
        ...


class Clock(Protocol):
    """Where the runtime reads the time and how it waits for a countdown to pass."""

    virtual: bool

    def now(self) -> float:
        """The current time in seconds since the epoch."""
        ...

    def wait_until(self, deadline: float) -> None:
        """Return once ``now() >= deadline``."""
        ...
