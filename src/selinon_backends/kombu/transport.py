"""The Kombu side of the distributed runtime: connections, queues and the publisher.

Every queue is a durable queue of the broker's default exchange (routing key = queue name),
so RabbitMQ and Kombu's Redis transport behave alike; messages are persistent and published
with confirms on RabbitMQ.  Task runs go to each task's ``queue``, flow events to each flow's
dispatcher ``queue`` (the YAML's, ``{ENV}``-expanded when the configuration loaded).  A delayed
message goes to the delay store (:mod:`selinon_backends.distributed.delays`) instead, and a
worker's pump publishes it when it is due.  Undecodable or unusable messages go to
:data:`DEAD_LETTER_QUEUE` with the reason in their headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.messaging import Producer

from selinon_backends.distributed.delays import DelayStore
from selinon_backends.distributed.journal import Journal
from selinon_backends.distributed.publishing import DEAD_LETTER_QUEUE, WirePublisher
from selinon_backends.ports import Clock

__all__ = [
    "CONTENT_TYPE",
    "DEAD_LETTER_QUEUE",
    "KombuPublisher",
    "broker_connection",
    "declare_queue",
    "kombu_queue",
]

CONTENT_TYPE = "application/x-selinon+json"

_RETRY_POLICY = {"max_retries": 10, "interval_start": 0.1, "interval_step": 0.5, "interval_max": 2}


def broker_connection(url: str, *, transport_options: dict[str, Any] | None = None) -> Any:
    """A ``kombu.Connection`` to ``url`` (not connected yet).

    RabbitMQ (``amqp://``/``pyamqp://``) publishes with confirms, so a message the worker
    acknowledges after publishing is on the broker.  Kombu's Redis transport gets a visibility
    timeout (``transport_options``) after which a message taken by a worker that died is
    delivered again (one hour by default: tasks may take that long).
    """
    options = dict(transport_options or {})
    scheme = url.partition("://")[0].lower()
    if scheme in ("amqp", "pyamqp", "amqps"):
        options.setdefault("confirm_publish", True)
    elif scheme == "memory":  # one process (tests): poll the in-memory queues often
        options.setdefault("polling_interval", 0.002)
    return Connection(url, transport_options=options, heartbeat=0)  # type: ignore[no-untyped-call]


def kombu_queue(name: str) -> Any:
    """The durable queue ``name`` on the default exchange."""
    exchange = Exchange("")  # type: ignore[no-untyped-call]
    return Queue(name, exchange=exchange, routing_key=name, durable=True)  # type: ignore[no-untyped-call]


def declare_queue(channel: Any, name: str) -> None:
    """Declare queue ``name`` on ``channel`` (idempotent)."""
    kombu_queue(name)(channel).declare()


class KombuPublisher(WirePublisher):
    """The :class:`~selinon_backends.ports.Publisher` of one Kombu connection (one thread).

    Args:
        connection: the ``kombu.Connection`` (connected lazily).
        delays: where delayed messages wait.
        clock: the time source for due times.
        wake: called after a delayed message was scheduled (wakes this process's pump).
        journal: where a dispatcher journals the tasks and sub-flows it starts (``None``
            for a client).
    """

    def __init__(
        self,
        connection: Any,
        *,
        delays: DelayStore,
        clock: Clock,
        wake: Callable[[], Any] | None = None,
        journal: Journal | None = None,
    ) -> None:
        super().__init__(clock=clock, journal=journal)
        self.connection = connection
        self.delays = delays
        self.wake = wake
        self._producer: Any = None
        self._declared: set[str] = set()

    def _get_producer(self) -> Any:
        if self._producer is None:
            channel = self.connection.default_channel
            self._producer = Producer(channel)  # type: ignore[no-untyped-call]
        return self._producer

    def reset(self) -> None:
        """Forget the producer and declared queues (after the connection was re-established)."""
        self._producer = None
        self._declared.clear()

    def send(self, queue: str, body: bytes, *, headers: dict[str, Any] | None = None) -> None:
        """Publish ``body`` to ``queue`` now (persistent; retried while the broker is away)."""
        producer = self._get_producer()
        declare = None
        if queue not in self._declared:
            declare = [kombu_queue(queue)]
        producer.publish(
            body,
            exchange="",
            routing_key=queue,
            content_type=CONTENT_TYPE,
            content_encoding="binary",
            delivery_mode=2,
            headers=headers or {},
            declare=declare,
            retry=True,
            retry_policy=_RETRY_POLICY,
        )
        if declare:
            self._declared.add(queue)

    def send_later(self, queue: str, body: bytes, delay: float) -> None:
        """Publish ``body`` to ``queue`` after ``delay`` seconds (through the delay store)."""
        self.delays.schedule(due=self.clock.now() + delay, queue=queue, body=body)
        if self.wake is not None:
            self.wake()
