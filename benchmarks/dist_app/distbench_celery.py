"""The Celery side of the distributed benchmark: one trivial task, as a canvas building block.

The worker's app (``app``) is configured from the environment the benchmark gives it:
``DISTBENCH_BROKER`` (the broker URL), ``DISTBENCH_RESULT_BACKEND`` (a Redis URL in the run's
private database) and ``DISTBENCH_ID`` (the run's private queue, ``<id>.celery``).  Remote
control and events are off (and the benchmark starts the worker without gossip and mingle),
so the worker declares no queue but its own.  The benchmark sends the canvas through an app of
its own per broker (:func:`make_app`), by task name.
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Celery
from distbench_tasks import record


def make_app(broker: str, backend: str, run_id: str) -> Celery:
    """A Celery app on ``broker`` with results in ``backend`` and queue ``<run_id>.celery``."""
    celery_app = Celery("distbench", broker=broker, backend=backend)
    celery_app.conf.update(
        task_default_queue=f"{run_id}.celery",
        worker_enable_remote_control=False,
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        result_expires=3600,
    )
    return celery_app


app = make_app(
    os.environ.get("DISTBENCH_BROKER", "memory://"),
    os.environ.get("DISTBENCH_RESULT_BACKEND", "cache+memory://"),
    os.environ.get("DISTBENCH_ID", "distbench"),
)


@app.task(name="distbench.noop", bind=True)
def noop(self: Any, key: str, *_: Any) -> None:
    """Note the start and end times under ``key`` (extra arguments: a chord's results)."""
    started = time.time()
    record(key, started, time.time(), str(self.request.id))
