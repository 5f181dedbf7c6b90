"""Flows on a Celery application: the object API of the Celery shim.

>>> runtime = CeleryRuntime(app, system)                      # doctest: +SKIP
>>> result = runtime.run_flow("dinner", {"guests": 4})        # doctest: +SKIP
>>> result.id, result.get(timeout=60)["status"]               # doctest: +SKIP
('3f2a...', 'succeeded')

Theory of operation.  :class:`CeleryRuntime` registers two tasks on the user's Celery app,
:data:`DISPATCH_TASK` (applies one flow event) and :data:`RUN_TASK` (runs one of our tasks).
Each carries one argument, a wire message of :mod:`selinon_backends.distributed.messages`,
and does what the Kombu runtime's worker does with it, through the same
:class:`~selinon_backends.distributed.handler.MessageHandler`: the dispatch shell with its
compare-and-set flow-state store and outbox, the run journal, the safety net.  Only the
transport differs: messages are Celery task messages sent with ``send_task`` to the YAML's
queues (the default queue ``celery`` becomes the app's ``task_default_queue``), delays are
Celery ``countdown`` s, and the worker fleet is started with ``celery -A module worker``.

Both tasks are ``acks_late`` with ``reject_on_worker_lost``: a message is acknowledged when its
effects are durable, and a worker process killed mid-task leaves it to be delivered again.
A backend or broker failure rejects the message with ``requeue=True``; task retries are the
core's decision (a new message with a ``countdown``), never Celery's autoretry.

Process-wide pieces (the stores, the storage pool, the dispatcher) are created on first use
in each process, after Celery's prefork pool forked, and a handler per thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from celery.exceptions import Reject
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult

from selinon_backends.distributed.backends import Backends, describe_url, open_backends
from selinon_backends.distributed.handler import MessageHandler, WorkerParts
from selinon_backends.distributed.journal import Journal
from selinon_backends.distributed.messages import pack, parent_is_large
from selinon_backends.distributed.publishing import WirePublisher
from selinon_backends.distributed.reports import flow_run
from selinon_backends.distributed.requests import JournaledStarter
from selinon_backends.kombu import client as kombu_client
from selinon_backends.kombu.client import STATE_STORE_ENV, wait_for
from selinon_backends.runtime.clock import RealClock
from selinon_backends.runtime.report import FlowRun
from selinon_backends.storage.pool import StoragePool
from selinon_core.config.spec import DEFAULT_QUEUE
from selinon_core.config.system import System
from selinon_core.dispatch.actions import RunTask
from selinon_core.dispatch.events import FlowRequested
from selinon_core.errors import SpecError, describe_error
from selinon_core.trace import TraceEvent

__all__ = [
    "DISPATCH_TASK",
    "RUN_TASK",
    "CeleryPublisher",
    "CeleryRuntime",
    "FlowResult",
    "celery_state_store",
    "register_tasks",
]

DISPATCH_TASK = "selinon.dispatch"
"""Name of the Celery task that applies a flow event (on each flow's dispatcher queue)."""
RUN_TASK = "selinon.run_task"
"""Name of the Celery task that runs one of the configuration's tasks (on its queue)."""
DEAD_LETTER_TASK = "selinon.dead_letter"
"""Name under which poison messages are parked in the dead-letter queue (nobody consumes it)."""
REQUEUE_PAUSE = 0.2
"""Seconds a worker waits before it rejects a message it could not handle (broker/backend down)."""

_log = logging.getLogger("selinon.celery")
_TASK_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "max_retries": None,
    "shared": False,
}
Tracer = Callable[[TraceEvent], Any]


def celery_state_store(app: Any, state_store: str | None = None) -> str:
    """The flow-state store URL of a Celery deployment.

    The one given, else ``$SELINON_STATE_STORE``, else the Celery broker when it is Redis.

    Raises:
        SpecError: none applies (a RabbitMQ broker needs an explicit state store).
    """
    if state_store:
        return state_store
    from_env = os.environ.get(STATE_STORE_ENV, "").strip()
    if from_env:
        return from_env
    broker = str(app.conf.broker_url or "")
    scheme = broker.partition("://")[0].lower()
    if scheme in ("redis", "rediss", "memory"):
        return broker
    raise SpecError(
        f"no flow-state store for Celery broker {describe_url(broker) or '(none)'!r}: call "
        f"Config.set_state_store(URL) (or set {STATE_STORE_ENV}) with redis://HOST:PORT/DB "
        "or postgresql://USER@HOST/DB; only a Redis broker doubles as the state store"
    )


class CeleryPublisher(WirePublisher):
    """Publishes wire messages as Celery task messages of ``app``.

    Args:
        runtime: the runtime whose app, queue mapping and clock to use.
        journal: where a dispatcher journals the tasks and sub-flows it starts.
    """

    def __init__(self, runtime: CeleryRuntime, *, journal: Any = None) -> None:
        super().__init__(clock=runtime.clock, journal=journal)
        self.runtime = runtime

    def send(self, queue: str, body: bytes, *, headers: dict[str, Any] | None = None) -> None:
        """Send ``body`` to the dispatchers of ``queue`` now (a dead letter to its queue)."""
        name = DEAD_LETTER_TASK if headers and "x-selinon-reason" in headers else DISPATCH_TASK
        self.runtime.send(name, queue, body, headers=headers)

    def send_later(self, queue: str, body: bytes, delay: float) -> None:
        """Send ``body`` to the dispatchers of ``queue`` after ``delay`` seconds."""
        self.runtime.send(DISPATCH_TASK, queue, body, countdown=delay)

    def publish_task(self, *, task: RunTask, delay: float = 0.0, retries: int = 0) -> None:
        """Send ``task`` to the workers of its queue (after ``delay`` seconds)."""
        body = pack(task, retries=retries, parent_ref=parent_is_large(task))
        self.runtime.send(RUN_TASK, task.queue, body, countdown=delay)


class CeleryRuntime(JournaledStarter["FlowResult"]):
    """Runs the flows of ``system`` on Celery application ``app``.

    ``run_flow(flow_name, node_args)`` and ``run_flow_selective(...)`` return a
    :class:`FlowResult` whose ``id`` is the flow id.

    Creating it registers :data:`DISPATCH_TASK` and :data:`RUN_TASK` on ``app`` (once per
    app; the latest runtime created for an app serves its messages).

    Args:
        app: the user's ``celery.Celery`` application.
        system: the loaded configuration (the same YAML on every worker and client).
        state_store: the flow-state store URL (see :func:`celery_state_store`); resolved, and
            checked, now.
        tracer: called with every trace event in worker processes (default: the tracer the
            configuration's ``global.trace`` describes).
    """

    def __init__(
        self,
        app: Any,
        system: System,
        *,
        state_store: str | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.app = app
        self.system = system
        self.state_store = celery_state_store(app, state_store)
        self.clock = RealClock()
        self._tracer = tracer
        self._process: tuple[int, Backends, WorkerParts | None] | None = None
        self._lock = threading.Lock()
        self._local = threading.local()
        register_tasks(app)
        app._selinon_runtime = self

    # ------------------------------------------------------------------ queues and sending

    def queue_of(self, queue: str) -> str:
        """The Celery queue of a YAML queue name (the default ``celery`` → the app's default)."""
        if queue == DEFAULT_QUEUE:
            return str(self.app.conf.task_default_queue or DEFAULT_QUEUE)
        return queue

    def queues(self) -> list[str]:
        """Every Celery queue the configuration's tasks and dispatchers use (for ``-Q``)."""
        spec = self.system.spec
        names = {task.queue for task in spec.tasks} | {flow.queue for flow in spec.flows.values()}
        return sorted({self.queue_of(name) for name in names})

    def send(
        self,
        name: str,
        queue: str,
        body: bytes,
        *,
        countdown: float = 0.0,
        headers: dict[str, Any] | None = None,
        task_id: str | None = None,
    ) -> None:
        """Send wire message ``body`` as a message of Celery task ``name`` to ``queue``."""
        options: dict[str, Any] = {"queue": self.queue_of(queue)}
        if countdown > 0:
            options["countdown"] = countdown
        if headers:
            options["headers"] = headers
        if task_id is not None:
            options["task_id"] = task_id
        text = body.decode("utf-8", "surrogatepass")
        self.app.send_task(name, args=[text], **options)

    # ------------------------------------------------------------------ the stores

    @property
    def backends(self) -> Backends:
        """This process's stores (opened on first use, again after a fork)."""
        return self._process_parts(with_worker=False)[0]

    def _process_parts(self, *, with_worker: bool) -> tuple[Backends, WorkerParts | None]:
        pid = os.getpid()
        current = self._process
        if current is not None and current[0] == pid and (current[2] or not with_worker):
            return current[1], current[2]
        with self._lock:
            current = self._process
            if current is None or current[0] != pid:
                backends = open_backends(self.state_store, broker=str(self.app.conf.broker_url))
                current = (pid, backends, None)
            if with_worker and current[2] is None:
                current = (pid, current[1], self._worker_parts(current[1]))
            self._process = current
            return current[1], current[2]

    def _worker_parts(self, backends: Backends) -> WorkerParts:
        tracer = self._tracer
        if tracer is None:
            tracer = _configured_tracer(self.system, backends)
        clock = self.clock
        pool = StoragePool(self.system, trace=tracer, clock=clock.now)
        return WorkerParts(self.system, backends, pool, clock, tracer)

    def handler(self) -> MessageHandler:
        """This thread's message handler (worker side)."""
        found: tuple[int, MessageHandler] | None = getattr(self._local, "handler", None)
        if found is not None and found[0] == os.getpid():
            return found[1]
        backends, parts = self._process_parts(with_worker=True)
        assert parts is not None
        handler = MessageHandler(parts, CeleryPublisher(self, journal=backends.journal))
        self._local.handler = (os.getpid(), handler)
        return handler

    def close(self) -> None:
        """Close this process's stores."""
        with self._lock:
            current, self._process = self._process, None
        if current is not None and current[0] == os.getpid():
            if current[2] is not None:
                close = getattr(current[2].results, "close", None)
                if close is not None:
                    close()
            current[1].close()

    # ------------------------------------------------------------------ starting flows

    def _journal(self) -> Journal:
        return self.backends.journal

    def _publish_request(self, event: FlowRequested, queue: str) -> FlowResult:
        self.send(DISPATCH_TASK, queue, pack(event), task_id=event.flow_id)
        return FlowResult(event.flow_id, self)

    # ------------------------------------------------------------------ following flows

    def status(self, flow_id: str) -> FlowRun | None:
        """The report of flow ``flow_id`` so far (``None`` when nothing is known of it)."""
        return flow_run(self.backends.journal, flow_id)

    def wait(self, flow_id: str, timeout: float | None = None) -> FlowRun:
        """Block until flow ``flow_id`` finished; return its report.

        Raises:
            FlowTimeout: ``timeout`` seconds passed first.
        """
        return wait_for(self.backends, flow_id, timeout)

    # ------------------------------------------------------------------ worker side

    def handle(self, body: str, queue: str) -> None:
        """Handle one message in a Celery worker; a failure rejects it with ``requeue``."""
        try:
            self.handler().handle(body, queue)
        except Exception as exc:
            _log.warning("could not handle a message (%s); it is redelivered", describe_error(exc))
            time.sleep(REQUEUE_PAUSE)
            raise Reject(describe_error(exc), requeue=True) from exc


_STATES = {"succeeded": "SUCCESS", "failed": "FAILURE"}


class FlowResult(AsyncResult):  # type: ignore[misc]
    """The ``AsyncResult`` of a flow: its ``id`` is the flow id, its state the flow's.

    ``state`` is ``PENDING`` until the flow is known, ``STARTED`` while it runs, then
    ``SUCCESS`` or ``FAILURE``; ``get()`` waits for the end (through the flow-state store,
    no Celery result backend needed) and returns the flow's report as a dict (the JSON of
    ``selinon-cli status --report``).
    """

    def __init__(self, flow_id: str, runtime: CeleryRuntime) -> None:
        super().__init__(flow_id, app=runtime.app)
        self.runtime = runtime

    def _get_task_meta(self) -> dict[str, Any]:
        run = self.runtime.status(self.id)
        if run is None:
            return {"status": "PENDING", "result": None, "task_id": self.id}
        status = run.flow_statuses.get(self.id)
        if status is None:
            return {"status": "STARTED", "result": None, "task_id": self.id}
        return {
            "status": _STATES.get(status, status.upper()),
            "result": run.report(),
            "task_id": self.id,
        }

    def get(
        self,
        timeout: float | None = None,
        propagate: bool = True,
        **options: Any,
    ) -> Any:
        """Wait for the flow to finish and return its report (a dict).

        Raises:
            FlowTimeout: ``timeout`` seconds passed first (a ``TimeoutError``, as Celery's).
            FlowFailed: the flow failed and ``propagate`` is true.
        """
        del options
        try:
            run = self.runtime.wait(self.id, timeout)
        except kombu_client.FlowTimeout as exc:
            raise FlowTimeout(str(exc)) from None
        report = run.report()
        if propagate and run.flow_statuses.get(self.id) == "failed":
            raise FlowFailed(self.id, report)
        return report

    wait = get


class FlowTimeout(kombu_client.FlowTimeout, CeleryTimeoutError):  # type: ignore[misc]
    """``FlowResult.get(timeout=...)`` gave up: both Python's and Celery's ``TimeoutError``."""


class FlowFailed(Exception):
    """``FlowResult.get()`` of a failed flow; ``report`` holds its report."""

    def __init__(self, flow_id: str, report: dict[str, Any]) -> None:
        super().__init__(f"flow {flow_id} failed")
        self.flow_id = flow_id
        self.report = report


def _configured_tracer(system: System, backends: Backends) -> Tracer | None:
    if not system.spec.global_.trace:
        return None
    from selinon_backends.tracing import build_tracer  # noqa: PLC0415

    # OpenTelemetry spans read a flow's start from the journal when another process saw it.
    return build_tracer(system, otel_options={"journal": backends.journal})


def register_tasks(app: Any) -> None:
    """Register :data:`DISPATCH_TASK` and :data:`RUN_TASK` on ``app`` (once).

    A :class:`CeleryRuntime` does it when created; a worker must have them before it starts
    consuming (a Celery worker looks its tasks up when it starts).
    """
    if getattr(app, "_selinon_tasks", False):
        return

    @app.task(name=DISPATCH_TASK, **_TASK_OPTIONS)  # type: ignore[untyped-decorator]
    def dispatch(task: Any, body: str) -> None:
        _runtime_of(task).handle(body, _queue(task))

    @app.task(name=RUN_TASK, **_TASK_OPTIONS)  # type: ignore[untyped-decorator]
    def run_task(task: Any, body: str) -> None:
        _runtime_of(task).handle(body, _queue(task))

    app._selinon_tasks = True


def _runtime_of(task: Any) -> CeleryRuntime:
    runtime: CeleryRuntime | None = getattr(task.app, "_selinon_runtime", None)
    if runtime is None:
        raise Reject("this worker's app has no Selinon configuration", requeue=True)
    return runtime


def _queue(task: Any) -> str:
    info = getattr(task.request, "delivery_info", None) or {}
    return str(info.get("routing_key") or "")


__all__ += ["FlowFailed", "FlowTimeout"]
