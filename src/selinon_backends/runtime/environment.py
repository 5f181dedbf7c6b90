"""The :class:`~selinon_core.task.TaskEnvironment` the runtime gives its tasks."""

from __future__ import annotations

import builtins
import logging
from typing import Any

from selinon_backends.ports import FlowStateStore, ResultStore
from selinon_core.config.system import System
from selinon_core.dispatch.events import ErrorSummary
from selinon_core.dispatch.state import flow_id_of
from selinon_core.errors import ParentTaskError

__all__ = ["RuntimeEnvironment", "rebuild_exception"]


class RuntimeEnvironment:
    """Results, errors, storages and the logger, shared by every task of one runtime.

    Args:
        results: the storage pool.
        system: the loaded configuration (task → storage mapping).
        errors: the flow-state store; a failed task's error summary is read from the state
            of the flow that ran it (so any worker can read it, in any process).
        log: the logger tasks get as ``self.log`` (``logging.getLogger("selinon.task")``).
    """

    def __init__(
        self,
        results: ResultStore,
        system: System,
        *,
        errors: FlowStateStore | None = None,
        log: Any = None,
    ) -> None:
        self._results = results
        self._system = system
        self._states = errors
        self.log: Any = log if log is not None else logging.getLogger("selinon.task")

    def result(self, *, flow_name: str, task_name: str, task_id: str) -> Any:
        """The stored result of a parent task."""
        return self._results.get(flow_name=flow_name, task_name=task_name, task_id=task_id)

    def error(self, *, task_id: str) -> BaseException | None:
        """The exception task ``task_id`` failed with (``None`` if it did not fail).

        Built again from the error summary kept in the flow's state: see
        :func:`rebuild_exception`.
        """
        if self._states is None:
            return None
        stored = self._states.load(flow_id=flow_id_of(task_id))
        summary = None if stored is None else stored.state.errors.get(task_id)
        return None if summary is None else rebuild_exception(summary)

    def storage_of(self, *, task_name: str) -> Any:
        """The connected storage of task ``task_name`` (``None`` when it has none)."""
        storage = self._system.spec.task(task_name).storage
        return None if storage is None else self._results.get_connected_storage(storage)


def rebuild_exception(error: ErrorSummary) -> BaseException:
    """An exception like the one a task failed with, from its summary.

    A built-in exception type (``ValueError``, ``KeyError``, ...) comes back as that type with
    the message; any other type comes back as :class:`~selinon_core.errors.ParentTaskError`,
    whose ``type_name``, ``message`` and ``traceback`` tell what it was.  Exception objects do
    not travel between processes; their summaries do.
    """
    cls = getattr(builtins, error.type, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(error.message)
        except Exception:
            pass
    return ParentTaskError(error.type, error.message, error.traceback)
