"""Starting flows on the Kombu runtime and asking how they went, from any process.

>>> client = Client(system, broker="redis://127.0.0.1:6379/0")      # doctest: +SKIP
>>> flow_id = client.run_flow("dinner", {"guests": 4})              # doctest: +SKIP
>>> client.wait(flow_id, timeout=60).status                         # doctest: +SKIP
'succeeded'

A client publishes the flow's request to the flow's dispatcher queue and returns its id (a
random UUID): the workers do the rest.  ``status`` and ``wait`` read the flow-state store
and the run journal, so any process that reaches them can follow a flow.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from selinon_backends.distributed.backends import Backends, describe_url, open_backends
from selinon_backends.distributed.journal import Journal
from selinon_backends.distributed.reports import flow_run
from selinon_backends.distributed.requests import JournaledStarter
from selinon_backends.kombu.transport import KombuPublisher, broker_connection
from selinon_backends.runtime.clock import RealClock
from selinon_backends.runtime.report import FlowRun
from selinon_core.config.system import System
from selinon_core.dispatch.events import FlowRequested
from selinon_core.errors import SpecError

__all__ = ["Client", "FlowTimeout", "resolve_state_store", "wait_for"]

STATE_STORE_ENV = "SELINON_STATE_STORE"
BROKER_ENV = "SELINON_BROKER_URL"


class FlowTimeout(TimeoutError):
    """``Client.wait`` gave up before the flow finished."""


def resolve_state_store(broker: str, state_store: str | None) -> str:
    """The state-store URL: the one given, else ``$SELINON_STATE_STORE``, else a Redis broker's.

    Raises:
        SpecError: none of them applies (a RabbitMQ broker needs an explicit state store).
    """
    if state_store:
        return state_store
    from_env = os.environ.get(STATE_STORE_ENV, "").strip()
    if from_env:
        return from_env
    scheme = broker.partition("://")[0].lower()
    if scheme in ("redis", "rediss", "memory"):
        return broker
    raise SpecError(
        f"no flow-state store for broker {describe_url(broker)!r}: give --state-store "
        f"(or {STATE_STORE_ENV}) as redis://HOST:PORT/DB or postgresql://USER@HOST/DB; "
        "only a Redis broker doubles as the state store"
    )


class Client(JournaledStarter[str]):
    """Runs flows on Kombu workers and follows them.

    ``run_flow(flow_name, node_args)`` and ``run_flow_selective(...)`` return the new flow's id.

    Args:
        system: the loaded configuration (the same YAML as the workers').
        broker: the broker URL the workers consume from.
        state_store: the workers' state-store URL (see :func:`resolve_state_store`).
        backends: already opened stores (instead of ``state_store``).
    """

    def __init__(
        self,
        system: System,
        *,
        broker: str,
        state_store: str | None = None,
        backends: Backends | None = None,
    ) -> None:
        self.system = system
        self.broker = broker
        self.clock = RealClock()
        self.backends = (
            backends
            if backends is not None
            else open_backends(resolve_state_store(broker, state_store), broker=broker)
        )
        self._connection: Any = None
        self._publisher: KombuPublisher | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the broker connection and the stores."""
        with self._lock:
            if self._connection is not None:
                self._connection.release()
                self._connection = None
                self._publisher = None
        self.backends.close()

    # ------------------------------------------------------------------ starting flows

    def _journal(self) -> Journal:
        return self.backends.journal

    def _publish_request(self, event: FlowRequested, queue: str) -> str:
        with self._lock:
            self._get_publisher().publish_event(event=event, queue=queue)
        flow_id: str = event.flow_id
        return flow_id

    def _get_publisher(self) -> KombuPublisher:
        if self._publisher is None:
            self._connection = broker_connection(self.broker)
            self._publisher = KombuPublisher(
                self._connection, delays=self.backends.delays, clock=self.clock
            )
        return self._publisher

    # ------------------------------------------------------------------ following flows

    def status(self, flow_id: str) -> FlowRun | None:
        """The report of flow ``flow_id`` so far (``None`` when nothing is known of it)."""
        return flow_run(self.backends.journal, flow_id)

    def finished(self, flow_id: str) -> bool:
        """Whether flow ``flow_id`` has finished (succeeded or failed)."""
        return _finished(self.backends, flow_id)

    def wait(self, flow_id: str, timeout: float | None = None) -> FlowRun:
        """Block until flow ``flow_id`` finished; return its report.

        Raises:
            FlowTimeout: ``timeout`` seconds passed first.
        """
        return wait_for(self.backends, flow_id, timeout)


def _finished(backends: Backends, flow_id: str) -> bool:
    summary = backends.states.summary(flow_id=flow_id)
    return summary is not None and summary.get("status") in ("succeeded", "failed")


def wait_for(backends: Backends, flow_id: str, timeout: float | None = None) -> FlowRun:
    """Block until flow ``flow_id`` finished (as the stores tell); return its report.

    Waits on the state store's notification where it has one (Redis, PostgreSQL), then reads
    the run journal (its end entry is written right after the flow's final state).

    Raises:
        FlowTimeout: ``timeout`` seconds passed first.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    wait_finished = getattr(backends.states, "wait_finished", None)
    pause = 0.005
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise FlowTimeout(f"flow {flow_id} did not finish within {timeout} s")
        if wait_finished is not None and not _finished(backends, flow_id):
            wait_finished(flow_id=flow_id, timeout=30.0 if left is None else min(left, 30.0))
        report = flow_run(backends.journal, flow_id)
        if report is not None and flow_id in report.flow_statuses:
            return report
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
