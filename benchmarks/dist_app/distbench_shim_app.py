"""The Celery shim's side of the distributed benchmark: a Celery app module as a Selinon
deployment writes it, with this project's ``selinon_backends.celery`` underneath.

``celery -A distbench_shim_app worker ...`` imports it.  Apart from the first two statements
(``install_as_selinon()``, so that ``from selinon import Config`` resolves to the shim), it is
:mod:`distbench_selinon_app`: the same Celery settings, then ``Config.set_celery_app`` and
``Config.set_config_yaml``, here on the benchmark's own ``nodes.yaml``/``flows.yaml`` (the
tasks of :mod:`distbench_tasks`).  A RabbitMQ broker keeps no flow states, so the flow-state
store is the run's private Redis database (``Config.set_state_store``), on both brokers.

Configured by the environment the benchmark sets: ``DISTBENCH_BROKER``,
``DISTBENCH_RESULT_BACKEND``, ``DISTBENCH_RECORD_URL`` (the run's Redis URL) and, expanded in
the YAML, ``DISTBENCH_ID`` (queues ``<id>.tasks``, ``<id>.flows``; default queue
``<id>.celery``), ``DISTBENCH_REDIS_PORT`` and ``DISTBENCH_REDIS_DB``.  The benchmark starts
flows through a :class:`~selinon_backends.celery.CeleryRuntime` of its own (no global
configuration in its process), on the same YAML and queues.
"""

import os
from pathlib import Path

from selinon_backends.celery import install_as_selinon

install_as_selinon()

from celery import Celery  # noqa: E402
from selinon import Config  # noqa: E402

HERE = Path(__file__).resolve().parent

app = Celery(
    "distbench_shim",
    broker=os.environ["DISTBENCH_BROKER"],
    backend=os.environ["DISTBENCH_RESULT_BACKEND"],
)
app.conf.update(
    task_default_queue=f"{os.environ['DISTBENCH_ID']}.celery",
    worker_enable_remote_control=False,
    worker_send_task_events=False,
    broker_connection_retry_on_startup=True,
    result_expires=3600,
)
Config.set_celery_app(app)
Config.set_state_store(os.environ["DISTBENCH_RECORD_URL"])
Config.set_config_yaml(HERE / "nodes.yaml", [HERE / "flows.yaml"])
