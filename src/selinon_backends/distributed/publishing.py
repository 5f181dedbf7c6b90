"""What every distributed transport publishes, on top of its own ``send``.

:class:`WirePublisher` turns task runs and flow events into wire messages
(:mod:`.messages`) and journals the tasks and sub-flows a dispatcher step starts (before they
are published, so ``status`` and a task's large ``parent`` can be read from the journal).  A
transport subclasses it and provides only :meth:`WirePublisher.send` (publish bytes to a queue
now) and :meth:`WirePublisher.send_later` (after a delay): the Kombu runtime publishes through
a ``kombu.Producer`` and keeps delayed messages in the delay store, the Celery shim sends
Celery task messages with a ``countdown``.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

from selinon_backends.distributed.journal import Journal, root_of
from selinon_backends.distributed.messages import pack, parent_is_large
from selinon_backends.distributed.reports import start_entry
from selinon_backends.ports import Clock
from selinon_core.dispatch.actions import Action, FinishFlow, RunTask, StartSubflow
from selinon_core.dispatch.events import Event

__all__ = ["DEAD_LETTER_QUEUE", "WirePublisher", "failpoint"]

DEAD_LETTER_QUEUE = "selinon.dead_letter"
"""Where poison messages go (undecodable, unknown task or flow, unsupported wire version)."""

FAILPOINTS_ENV = "SELINON_TEST_FAILPOINTS"
"""Crash-test hook: ``NAME=FILE[,NAME=FILE]``; the process kills itself (SIGKILL) at point
``NAME`` unless ``FILE`` exists, creating it first (so a restarted worker goes on)."""

_log = logging.getLogger("selinon.distributed")


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


class WirePublisher:
    """The shell's :class:`~selinon_backends.ports.Publisher` for a distributed transport.

    Args:
        clock: the time source (journal entries, due times).
        journal: where the starts of tasks and sub-flows are journaled (``None``: a client,
            which only requests flows).
    """

    def __init__(self, *, clock: Clock, journal: Journal | None = None) -> None:
        self.clock = clock
        self.journal = journal

    # ------------------------------------------------------------------ the transport's part

    def send(self, queue: str, body: bytes, *, headers: dict[str, Any] | None = None) -> None:
        """Publish ``body`` to ``queue`` now."""
        raise NotImplementedError

    def send_later(self, queue: str, body: bytes, delay: float) -> None:
        """Publish ``body`` to ``queue`` after ``delay`` seconds."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the shell's port

    def publish_event(self, *, event: Event, queue: str, delay: float = 0.0) -> None:
        """Deliver ``event`` to the dispatchers of ``queue``."""
        body = pack(event, parent_ref=parent_is_large(event))
        if delay > 0:
            self.send_later(queue, body, delay)
        else:
            self.send(queue, body)

    def publish_task(self, *, task: RunTask, delay: float = 0.0, retries: int = 0) -> None:
        """Deliver ``task`` to the workers of ``task.queue``."""
        body = pack(task, retries=retries, parent_ref=parent_is_large(task))
        if delay > 0:
            self.send_later(task.queue, body, delay)
        else:
            self.send(task.queue, body)

    def dead_letter(self, body: bytes, reason: str, queue: str) -> None:
        """Move a poison message to :data:`DEAD_LETTER_QUEUE` with its reason."""
        _log.error("dead-lettered a message from queue %r: %s", queue, reason)
        self.send(
            DEAD_LETTER_QUEUE,
            body,
            headers={"x-selinon-reason": reason[:1000], "x-selinon-queue": queue},
        )

    # ------------------------------------------------------------------ journaling

    def prepare(self, actions: tuple[Action, ...]) -> None:
        """Journal the start of every task and sub-flow in ``actions`` (before publishing)."""
        failpoint("before-publish")  # the state and its outbox are saved, nothing published
        if self.journal is None:
            return
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
        if self.journal is None:
            return
        entry = {"status": action.status, "t": self.clock.now()}
        self.journal.write(root=root_of(action.flow_id), entries={f"f:{action.flow_id}": entry})
