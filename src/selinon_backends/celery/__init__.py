"""The Celery shim: Selinon's API on a Celery application, with this engine underneath.

A Selinon deployment keeps its Celery app, brokers, queues, worker command and task code:

* :func:`install_as_selinon` (call it first in the Celery app module) makes
  ``from selinon import SelinonTask, Config, run_flow, StoragePool, ...`` resolve here;
* :class:`Config` (``set_celery_app``, ``set_config_yaml``, ``set_config_dict``,
  ``set_state_store``, ``trace_by_func``) and :func:`run_flow` / :func:`run_flow_selective`
  keep Selinon's signatures and return an ``AsyncResult`` whose ``id`` is the flow id;
* :class:`CeleryRuntime` is the same without global state, for new code.

See ``docs/migrating-from-selinon.md``.
"""

from __future__ import annotations

from selinon_backends.celery.config import (
    Config,
    ConfigNotInitializedError,
    run_flow,
    run_flow_selective,
)
from selinon_backends.celery.runtime import (
    DISPATCH_TASK,
    RUN_TASK,
    CeleryRuntime,
    FlowFailed,
    FlowResult,
    FlowTimeout,
    celery_state_store,
    register_tasks,
)
from selinon_backends.selinon_alias import install_as_selinon

__all__ = [
    "DISPATCH_TASK",
    "RUN_TASK",
    "CeleryRuntime",
    "Config",
    "ConfigNotInitializedError",
    "FlowFailed",
    "FlowResult",
    "FlowTimeout",
    "celery_state_store",
    "install_as_selinon",
    "register_tasks",
    "run_flow",
    "run_flow_selective",
]
