"""Flow-state stores: where each running flow's state and outbox live between events.

Implementations of :class:`selinon_backends.ports.FlowStateStore` and
:class:`~selinon_backends.ports.SlotStore`: memory (one process), Redis and PostgreSQL (shared
by every worker; see ``docs/state-stores.md``).  :func:`open_state_store` and
:func:`open_slot_store` pick one by URL::

    store = open_state_store("redis://127.0.0.1:6379/0", retention_count=10_000)
    slots = open_slot_store("postgresql://postgres@127.0.0.1:5432/test")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from selinon_backends.runtime.slots import MemorySlotStore
from selinon_backends.state._common import redact
from selinon_backends.state.memory import MemoryStateStore
from selinon_backends.state.postgresql import PostgresSlotStore, PostgresStateStore
from selinon_backends.state.redis import RedisSlotStore, RedisStateStore
from selinon_core.errors import SpecError

if TYPE_CHECKING:
    from selinon_backends.ports import FlowStateStore, SlotStore

__all__ = [
    "MemoryStateStore",
    "PostgresSlotStore",
    "PostgresStateStore",
    "RedisSlotStore",
    "RedisStateStore",
    "open_slot_store",
    "open_state_store",
    "store_kind",
]

_KINDS = {
    "memory": "memory",
    "redis": "redis",
    "rediss": "redis",
    "postgresql": "postgresql",
    "postgres": "postgresql",
}


def store_kind(url: str) -> str:
    """``"memory"``, ``"redis"`` or ``"postgresql"``: the store a URL names.

    Raises:
        SpecError: the URL's scheme names no store (the message never shows a password).
    """
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    kind = _KINDS.get(scheme)
    if kind is None:
        raise SpecError(
            f"unsupported state store URL {redact(url)!r}: use redis://, rediss://, "
            "postgresql://, postgres:// or memory://"
        )
    return kind


def open_state_store(url: str, **options: Any) -> FlowStateStore:
    """The flow-state store a URL names, built with ``options`` (keyword arguments).

    ``redis://``/``rediss://`` give a :class:`~selinon_backends.state.redis.RedisStateStore`,
    ``postgresql://``/``postgres://`` a
    :class:`~selinon_backends.state.postgresql.PostgresStateStore`, ``memory://`` a
    :class:`MemoryStateStore` (this process only).

    Raises:
        SpecError: unsupported scheme.
        MissingExtraError: the client library of the store is not installed.
        TypeError: an option the store does not take.
    """
    kind = store_kind(url)
    if kind == "redis":
        return RedisStateStore(url=url, **options)
    if kind == "postgresql":
        return PostgresStateStore(dsn=url, **options)
    return MemoryStateStore(**options)


def open_slot_store(url: str, **options: Any) -> SlotStore:
    """The throttle slot store a URL names (the schemes of :func:`open_state_store`).

    Raises:
        SpecError: unsupported scheme.
        MissingExtraError: the client library of the store is not installed.
    """
    kind = store_kind(url)
    if kind == "redis":
        return RedisSlotStore(url=url, **options)
    if kind == "postgresql":
        return PostgresSlotStore(dsn=url, **options)
    return MemorySlotStore(**options)
