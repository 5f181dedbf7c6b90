"""The implementations that ``test_state_store_contract.py`` runs its contract against.

Each table maps a parameter id to a factory: a context manager that yields a fresh, empty
store and cleans up after the test.  Adding an implementation = adding one entry here; every
test of the contract suite then runs against it too.

The Redis and PostgreSQL factories call ``tests.services.require_redis()`` /
``require_postgres()`` first (skip locally, fail in CI when the service is unreachable, as the
storage contract does in ``conftest.py``) and use a key prefix / table prefix private to the
test (``unique_name``), dropped on exit, so parallel runs do not collide.

``DURABLE_BACKENDS`` maps the shared stores to a factory of *instance makers*: inside one
``with``, every call of the maker builds a new store instance (its own cache, as another
worker process would have) on the same keys or tables; that is what the cross-instance tests
use.

The module also holds the foreach function of the flows the suite plays (``items``): the
configuration imports it as ``tests.contract._state_stores``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from tests.services import require_postgres, require_redis, unique_name

from selinon_backends.ports import FlowStateStore, SlotStore
from selinon_backends.runtime.slots import MemorySlotStore
from selinon_backends.state.memory import MemoryStateStore
from selinon_backends.state.postgresql import PostgresSlotStore, PostgresStateStore
from selinon_backends.state.redis import RedisSlotStore, RedisStateStore

__all__ = ["DURABLE_BACKENDS", "SLOT_STORES", "STATE_STORES", "items"]

StateStoreFactory = Callable[[], AbstractContextManager[FlowStateStore]]
SlotStoreFactory = Callable[[], AbstractContextManager[SlotStore]]
Maker = Callable[..., Any]
"""Builds one more store instance on the shared keys/tables (keyword options pass through)."""


@contextmanager
def _memory_state_store() -> Iterator[FlowStateStore]:
    yield MemoryStateStore()


@contextmanager
def _memory_slot_store() -> Iterator[SlotStore]:
    yield MemorySlotStore()


def _delete_redis_keys(url: str, prefix: str) -> None:
    import redis

    admin = redis.Redis.from_url(url)
    try:
        keys = list(admin.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            admin.delete(*keys)
    finally:
        admin.close()


@contextmanager
def redis_instances() -> Iterator[Maker]:
    """Makers of Redis flow-state stores sharing one private key prefix (deleted on exit)."""
    url = require_redis()
    prefix = unique_name("selinon-test-state")
    made: list[RedisStateStore] = []

    def make(**options: Any) -> RedisStateStore:
        store = RedisStateStore(url=url, prefix=prefix, **options)
        made.append(store)
        return store

    try:
        yield make
    finally:
        for store in made:
            store.close()
        _delete_redis_keys(url, prefix)


def _drop_pg_tables(dsn: str, prefix: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        names = ", ".join(f'"{prefix}_{suffix}"' for suffix in ("flow", "delta", "slot"))
        conn.execute(f"DROP TABLE IF EXISTS {names}")  # type: ignore[arg-type]


@contextmanager
def postgres_instances() -> Iterator[Maker]:
    """Makers of PostgreSQL flow-state stores sharing private tables (dropped on exit)."""
    dsn = require_postgres()
    prefix = unique_name("selinon_test_state")
    made: list[PostgresStateStore] = []

    def make(**options: Any) -> PostgresStateStore:
        store = PostgresStateStore(dsn=dsn, table_prefix=prefix, **options)
        made.append(store)
        return store

    try:
        yield make
    finally:
        for store in made:
            store.close()
        _drop_pg_tables(dsn, prefix)


def _first_instance(instances: Callable[[], AbstractContextManager[Maker]]) -> StateStoreFactory:
    @contextmanager
    def factory() -> Iterator[FlowStateStore]:
        with instances() as make:
            yield make()

    return factory


@contextmanager
def _redis_slot_store() -> Iterator[SlotStore]:
    url = require_redis()
    prefix = unique_name("selinon-test-slot")
    store = RedisSlotStore(url=url, prefix=prefix)
    try:
        yield store
    finally:
        store.close()
        _delete_redis_keys(url, prefix)


@contextmanager
def _postgres_slot_store() -> Iterator[SlotStore]:
    dsn = require_postgres()
    prefix = unique_name("selinon_test_slot")
    store = PostgresSlotStore(dsn=dsn, table_prefix=prefix)
    try:
        yield store
    finally:
        store.close()
        _drop_pg_tables(dsn, prefix)


DURABLE_BACKENDS: dict[str, Callable[[], AbstractContextManager[Maker]]] = {
    "redis": redis_instances,
    "postgresql": postgres_instances,
}
"""The stores shared between processes: a factory of instance makers, by parameter id."""

STATE_STORES: dict[str, StateStoreFactory] = {
    "memory": _memory_state_store,
    "redis": _first_instance(redis_instances),
    "postgresql": _first_instance(postgres_instances),
}
"""Every :class:`~selinon_backends.ports.FlowStateStore` under contract, by parameter id."""

SLOT_STORES: dict[str, SlotStoreFactory] = {
    "memory": _memory_slot_store,
    "redis": _redis_slot_store,
    "postgresql": _postgres_slot_store,
}
"""Every :class:`~selinon_backends.ports.SlotStore` under contract, by parameter id."""


def items(storage_pool: Any, node_args: Any) -> list[int]:
    """Foreach function of the contract flows: ``range(node_args["n"])`` (3 by default)."""
    del storage_pool
    return list(range((node_args or {}).get("n", 3)))
