"""The storage port: Selinon's ``DataStorage`` surface, kept as it was so user adapters plug in.

A storage adapter keeps task results in the user's own database.  The engine holds one
connected instance per storage per process (see ``selinon_backends.storage.pool``) and calls
it from task workers (``store``, ``store_error``) and from the dispatcher when conditions or
``foreach`` functions read parent results (``retrieve``).

Contract for adapters shipped with the engine (user adapters are encouraged to follow it):

* ``retrieve`` of an id that was never stored raises
  :class:`~selinon_core.errors.ResultMissing`; an unreachable backend raises
  :class:`~selinon_core.errors.TransientBackendError`.
* ``store`` of an id that is already stored overwrites it: transports deliver at least once,
  so a redelivered task writes the same id again and must not create a duplicate.
* ``delete`` of an id that is not stored is a no-op.
* ``thread_safe = True`` tells the pool that the instance may be called from several threads
  at once; otherwise the pool serialises calls to it with a lock (Selinon's behaviour).
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Any, Self

__all__ = ["DataStorage", "ExcInfo"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
"""What ``sys.exc_info()`` returns while an exception is being handled."""


class DataStorage(abc.ABC):
    """Abstract base class of a result storage adapter.

    Subclasses receive the storage's YAML ``configuration`` mapping as keyword arguments of
    their constructor.  The constructor must not connect; :meth:`connect` does, lazily, when
    the storage is first used.

    Example:
        A minimal adapter::

            class MyStorage(DataStorage):
                def __init__(self, host: str, port: int = 5432) -> None: ...
                def connect(self) -> None: ...
                def is_connected(self) -> bool: ...
                def disconnect(self) -> None: ...
                def retrieve(self, flow_name, task_name, task_id): ...
                def store(self, node_args, flow_name, task_name, task_id, result): ...
    """

    thread_safe: bool = False
    """Whether one instance may be used from several threads at once without a lock."""

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the connection (or pool) to the backend."""

    @abc.abstractmethod
    def is_connected(self) -> bool:
        """Whether :meth:`connect` has been called and :meth:`disconnect` has not."""

    @abc.abstractmethod
    def disconnect(self) -> None:
        """Release the connection (or pool); the instance may be connected again later."""

    @abc.abstractmethod
    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """Return the result stored for ``task_id``.

        Args:
            flow_name: the flow the task ran in.
            task_name: the task's name (its ``storage_task_name`` when configured).
            task_id: the unique id of the task instance.
        """

    @abc.abstractmethod
    def store(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> Any:
        """Store ``result`` of task ``task_id``, overwriting an earlier result of the same id.

        Args:
            node_args: the arguments the task was run with.
            flow_name: the flow the task ran in.
            task_name: the task's name (its ``storage_task_name`` when configured).
            task_id: the unique id of the task instance.
            result: what the task's ``run`` returned.

        Returns:
            An adapter-specific record id (reported in the ``STORAGE_STORE`` trace), or ``None``.
        """

    def store_error(
        self,
        node_args: Any,
        flow_name: str,
        task_name: str,
        task_id: str,
        exc_info: ExcInfo,
    ) -> Any:
        """Record a failure of task ``task_id``.  Optional: the default raises.

        Args:
            node_args: the arguments the task was run with.
            flow_name: the flow the task ran in.
            task_name: the task's name (its ``storage_task_name`` when configured).
            task_id: the unique id of the task instance.
            exc_info: ``(type, value, traceback)`` of the exception the task raised.

        Raises:
            NotImplementedError: the adapter does not record failures.
        """
        raise NotImplementedError(f"{type(self).__name__} does not record task errors")

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        """Delete the result stored for ``task_id``.  Optional: the default raises.

        Raises:
            NotImplementedError: the adapter cannot delete results.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot delete results")

    def __enter__(self) -> Self:
        if not self.is_connected():
            self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.is_connected():
            self.disconnect()
