"""The :class:`~selinon_core.task.TaskEnvironment` the in-process runtime gives its tasks."""

from __future__ import annotations

import logging
from typing import Any

from selinon_backends.runtime.results import ResultStore
from selinon_core.config.system import System

__all__ = ["RuntimeEnvironment"]


class RuntimeEnvironment:
    """Results, errors, storages and the logger, shared by every task of one engine.

    Args:
        results: the storage pool.
        system: the loaded configuration (task → storage mapping).
        log: the logger tasks get as ``self.log`` (``logging.getLogger("selinon.task")``).
    """

    def __init__(self, results: ResultStore, system: System, log: Any = None) -> None:
        self._results = results
        self._system = system
        self._errors: dict[str, BaseException] = {}
        self.log: Any = log if log is not None else logging.getLogger("selinon.task")

    def result(self, *, flow_name: str, task_name: str, task_id: str) -> Any:
        """The stored result of a parent task."""
        return self._results.get(flow_name=flow_name, task_name=task_name, task_id=task_id)

    def error(self, *, task_id: str) -> BaseException | None:
        """The exception task ``task_id`` failed with (``None`` if it did not fail)."""
        return self._errors.get(task_id)

    def storage_of(self, *, task_name: str) -> Any:
        """The connected storage of task ``task_name`` (``None`` when it has none)."""
        storage = self._system.spec.task(task_name).storage
        return None if storage is None else self._results.get_connected_storage(storage)

    def record_error(self, task_id: str, error: BaseException) -> None:
        """Remember that task ``task_id`` failed with ``error``."""
        self._errors[task_id] = error
