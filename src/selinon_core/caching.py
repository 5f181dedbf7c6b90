"""The cache port: what a cache of task results (or node states) must offer.

A cache sits in front of a storage: the shell asks the cache first and falls back to the storage
on a miss.  Caches are an optimisation only, so a failing cache is traced and ignored by the
caller, never allowed to fail a flow.

The interface is Selinon's (``selinon.caches.Cache``), so a user's existing cache class plugs in
unchanged: positional ``item_id`` and ``item``, optional ``task_name``/``flow_name`` hints, and
``get`` raising :class:`CacheMissError` when the id is not cached.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from selinon_core.errors import SelinonError

__all__ = ["Cache", "CacheMissError"]


class CacheMissError(SelinonError):
    """The requested id is not in the cache (it was never added, or it was evicted)."""


@runtime_checkable
class Cache(Protocol):
    """A cache of JSON-serialisable items keyed by id.

    Implementations must be safe to call from several threads at once.  ``task_name`` and
    ``flow_name`` are hints (for key layouts or statistics); the shipped caches key on
    ``item_id`` alone, which is unique per task run.
    """

    def add(
        self,
        item_id: str,
        item: Any,
        task_name: str | None = None,
        flow_name: str | None = None,
    ) -> None:
        """Remember ``item`` under ``item_id``; adding an id that is already cached does nothing.

        Args:
            item_id: the key, usually a task id.
            item: the value, usually a task result.
            task_name: name of the task that produced ``item``, if known.
            flow_name: name of the flow the task ran in, if known.
        """
        ...

    def get(
        self,
        item_id: str,
        task_name: str | None = None,
        flow_name: str | None = None,
    ) -> Any:
        """The item cached under ``item_id``.

        Args:
            item_id: the key, usually a task id.
            task_name: name of the task that produced the item, if known.
            flow_name: name of the flow the task ran in, if known.

        Raises:
            CacheMissError: nothing is cached under ``item_id``.
        """
        ...
