"""Ports: the small protocols the core needs from the world (implemented by the shell).

All methods are synchronous and keyword-only.  Implementations translate their client
library's exceptions into :mod:`selinon_core.errors` (``TransientBackendError``,
``ResultMissing``) at one choke point.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["ResultsPort", "StoragePoolView"]


class StoragePoolView(Protocol):
    """What user callables (foreach, selective run functions) receive as ``storage_pool``."""

    def get_connected_storage(self, storage_name: str) -> Any:
        """The connected storage adapter named ``storage_name``."""
        ...

    def get(self, task_name: str) -> Any:
        """The stored result of parent task ``task_name`` of the current edge combination."""
        ...


class ResultsPort(Protocol):
    """Read-only access to stored task results, handed to ``Dispatcher.step``.

    ``get`` raises ``ResultMissing`` when nothing is stored under the id and
    ``TransientBackendError`` when the storage is unreachable; in the latter case the step
    raises too (leaving the state untouched) and the shell re-delivers the event later.
    """

    def get(self, *, flow_name: str, task_name: str, task_id: str) -> Any:
        """The stored result of task ``task_name`` (node id ``task_id``) run in ``flow_name``."""
        ...

    def storage_pool(self, *, flow_name: str, parent: Mapping[str, Any]) -> StoragePoolView:
        """A storage-pool view for user callables, bound to the ``parent`` ids of an edge."""
        ...
