"""The implementations that ``test_state_store_contract.py`` runs its contract against.

Each table maps a parameter id to a factory: a context manager that yields a fresh, empty
store and cleans up after the test.  Adding an implementation = adding one entry here; every
test of the contract suite then runs against it too.

The Redis and PostgreSQL flow-state and slot stores (next issue) add their entries here.  Their
factories must call ``tests.services.require_redis()`` / ``require_postgres()`` first (skip
locally, fail in CI when the service is unreachable, as the storage contract does in
``conftest.py``) and use a key prefix / table private to the test (``unique_name``), dropped
on exit, so parallel runs do not collide.

The module also holds the foreach function of the flows the suite plays (``items``): the
configuration imports it as ``tests.contract._state_stores``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from selinon_backends.ports import FlowStateStore, SlotStore
from selinon_backends.runtime.slots import MemorySlotStore
from selinon_backends.state.memory import MemoryStateStore

__all__ = ["SLOT_STORES", "STATE_STORES", "items"]

StateStoreFactory = Callable[[], AbstractContextManager[FlowStateStore]]
SlotStoreFactory = Callable[[], AbstractContextManager[SlotStore]]


@contextmanager
def _memory_state_store() -> Iterator[FlowStateStore]:
    yield MemoryStateStore()


@contextmanager
def _memory_slot_store() -> Iterator[SlotStore]:
    yield MemorySlotStore()


STATE_STORES: dict[str, StateStoreFactory] = {
    "memory": _memory_state_store,
    # "redis": _redis_state_store,            (next issue)
    # "postgresql": _postgres_state_store,    (next issue)
}
"""Every :class:`~selinon_backends.ports.FlowStateStore` under contract, by parameter id."""

SLOT_STORES: dict[str, SlotStoreFactory] = {
    "memory": _memory_slot_store,
    # "redis": _redis_slot_store,             (next issue)
    # "postgresql": _postgres_slot_store,     (next issue)
}
"""Every :class:`~selinon_backends.ports.SlotStore` under contract, by parameter id."""


def items(storage_pool: Any, node_args: Any) -> list[int]:
    """Foreach function of the contract flows: ``range(node_args["n"])`` (3 by default)."""
    del storage_pool
    return list(range((node_args or {}).get("n", 3)))
