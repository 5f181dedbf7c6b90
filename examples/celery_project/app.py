"""The Celery app module of the deployment: ``celery -A celery_project.app worker`` imports it.

The only change from a Selinon deployment is the first two lines: ``install_as_selinon()``
makes ``import selinon`` (here and in the task modules) resolve to this engine, so it must run
before anything imports ``selinon``.
"""

import os
from pathlib import Path

from selinon_backends.celery import install_as_selinon

install_as_selinon()

from celery import Celery  # noqa: E402
from selinon import Config  # noqa: E402

HERE = Path(__file__).resolve().parent

app = Celery(
    "celery_project", broker=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
)
app.conf.update(
    task_default_queue=os.environ.get("CELERY_DEFAULT_QUEUE", "celery"),
    worker_prefetch_multiplier=1,
)

Config.set_celery_app(app)
if os.environ.get("SELINON_STATE_STORE") is None and app.conf.broker_url.startswith("amqp"):
    Config.set_state_store("redis://127.0.0.1:6379/0")  # RabbitMQ keeps no flow states
Config.set_config_yaml(HERE / "nodes.yaml", [HERE / "flows.yaml"])
