"""The runtime's access to task results: a small storage pool over the configured adapters.

``RuntimeResults`` implements :class:`selinon_core.ports.ResultsPort` (what the dispatcher reads)
plus the writes the worker needs.  Adapters keep Selinon's ``DataStorage`` surface
(``connect/is_connected/retrieve/store/store_error``); they are built lazily, once, from the
System's ``storages`` section.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

from selinon_core.errors import NoParentNodeError, SpecError
from selinon_core.system import System

__all__ = ["ResultStore", "RuntimeResults"]


class ResultStore(Protocol):
    """What the engine needs from a storage pool (reads for the dispatcher, writes for tasks)."""

    def get(self, *, flow_name: str, task_name: str, task_id: str) -> Any:
        """The stored result of a task."""
        ...

    def storage_pool(self, *, flow_name: str, parent: Mapping[str, Any]) -> Any:
        """A ``storage_pool`` view for user callables."""
        ...

    def get_connected_storage(self, storage_name: str) -> Any:
        """The connected adapter named ``storage_name``."""
        ...

    def store(
        self, *, flow_name: str, task_name: str, task_id: str, node_args: Any, result: Any
    ) -> None:
        """Store a task's result in its storage."""
        ...

    def store_error(
        self, *, flow_name: str, task_name: str, task_id: str, node_args: Any, exc_info: Any
    ) -> None:
        """Record a task's failure in its storage (adapters may not support it)."""
        ...


class _PoolView:
    """The ``storage_pool`` handed to foreach and selective-run functions."""

    def __init__(self, owner: RuntimeResults, flow_name: str, parent: Mapping[str, Any]) -> None:
        self._owner = owner
        self._flow_name = flow_name
        self._parent = parent

    def get_connected_storage(self, storage_name: str) -> Any:
        return self._owner.get_connected_storage(storage_name)

    def get(self, task_name: str) -> Any:
        try:
            task_id = self._parent[task_name]
        except KeyError:
            raise NoParentNodeError(f"no parent task {task_name!r}") from None
        return self._owner.get(flow_name=self._flow_name, task_name=task_name, task_id=task_id)


class RuntimeResults:
    """A storage pool over the System's storage adapters (thread-safe adapter creation).

    Args:
        system: the loaded configuration.
    """

    def __init__(self, system: System) -> None:
        self._system = system
        self._adapters: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get_connected_storage(self, storage_name: str) -> Any:
        """The adapter named ``storage_name``, created and connected on first use."""
        adapter = self._adapters.get(storage_name)
        if adapter is None:
            with self._lock:
                adapter = self._adapters.get(storage_name)
                if adapter is None:
                    adapter = self._create(storage_name)
                    self._adapters[storage_name] = adapter
        if not adapter.is_connected():
            adapter.connect()
        return adapter

    def storage_of(self, task_name: str) -> Any:
        """The connected adapter of task ``task_name``, or ``None`` when it has no storage."""
        storage = self._system.spec.task(task_name).storage
        return None if storage is None else self.get_connected_storage(storage)

    def get(self, *, flow_name: str, task_name: str, task_id: str) -> Any:
        """Read a task's result from its storage (``None`` when the task has no storage)."""
        spec = self._system.spec.task(task_name)
        if spec.storage is None:
            return None
        adapter = self.get_connected_storage(spec.storage)
        return adapter.retrieve(flow_name, spec.effective_storage_task_name, task_id)

    def storage_pool(self, *, flow_name: str, parent: Mapping[str, Any]) -> _PoolView:
        """A view for user callables bound to ``parent``."""
        return _PoolView(self, flow_name, parent)

    def store(
        self, *, flow_name: str, task_name: str, task_id: str, node_args: Any, result: Any
    ) -> None:
        """Store ``result`` in the task's storage (the caller checks it stores results)."""
        spec = self._system.spec.task(task_name)
        adapter = self.get_connected_storage(spec.storage or "")
        adapter.store(node_args, flow_name, spec.effective_storage_task_name, task_id, result)

    def store_error(
        self, *, flow_name: str, task_name: str, task_id: str, node_args: Any, exc_info: Any
    ) -> None:
        """Record a failure; ``NotImplementedError`` from the adapter propagates."""
        spec = self._system.spec.task(task_name)
        adapter = self.get_connected_storage(spec.storage or "")
        adapter.store_error(
            node_args, flow_name, spec.effective_storage_task_name, task_id, exc_info
        )

    def _create(self, storage_name: str) -> Any:
        try:
            spec = self._system.spec.storage(storage_name)
        except KeyError:
            raise SpecError(f"unknown storage {storage_name!r}") from None
        cls = self._system.resolve(spec.import_, spec.classname)
        config = spec.configuration
        return cls(**config) if isinstance(config, Mapping) else cls(config)
