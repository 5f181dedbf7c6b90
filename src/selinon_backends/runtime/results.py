"""What the runtime needs from a storage pool (``selinon_backends.storage.pool.StoragePool``).

Reads serve the dispatcher (:class:`selinon_core.ports.ResultsPort`) and tasks; writes keep
Selinon's positional ``StoragePool.set`` order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["ResultStore"]


class ResultStore(Protocol):
    """Reads for the dispatcher and tasks, writes for the worker."""

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
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> Any:
        """Store a task's result in its storage."""
        ...

    def store_error(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: Any
    ) -> Any:
        """Record a task's failure in its storage (never raises for storage trouble)."""
        ...
