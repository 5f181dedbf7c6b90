"""Fixtures of the storage contract suite: one parametrized ``storage`` over every adapter.

Service-backed parameters skip locally when their service is unreachable and fail in CI
(``tests/services.py``).  Each test run uses its own Redis key prefix, PostgreSQL table and S3
bucket/prefix, and removes them afterwards, so parallel runs do not collide.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # make ``tests.services`` importable without a root conftest
    sys.path.insert(0, _ROOT)

from tests.services import (  # noqa: E402
    POSTGRES_DSN,
    MotoS3,
    moto_s3_server,
    require_postgres,
    require_redis,
    unique_name,
)

from selinon_backends.storage.filesystem import Filesystem  # noqa: E402
from selinon_backends.storage.memory import InMemoryStorage  # noqa: E402
from selinon_core.datastorage import DataStorage  # noqa: E402

from ._moto import moto_s3_options  # noqa: E402

ALL_BACKENDS = ["memory", "memory-json", "filesystem", "redis", "postgresql", "s3"]
SERVICE_BACKENDS = ["redis", "postgresql", "s3"]


@dataclass
class Backend:
    """How to build storages of one kind, break their connections, and clean up."""

    name: str
    make: Callable[..., DataStorage]
    kill_connections: Callable[[DataStorage], int] | None = None
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- session services


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    """One moto S3 server for the whole run."""
    with moto_s3_server() as server:
        yield server


@pytest.fixture(scope="session")
def pg_table() -> Iterator[str]:
    """A result table private to this run, dropped at the end."""
    dsn = require_postgres()
    table = unique_name("selinon_contract")
    yield table
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{table}", "{table}_error"')


# --------------------------------------------------------------------------- backends


def _redis_backend() -> Backend:
    url = require_redis()
    import redis

    prefix = unique_name("selinon-contract")
    client_name = unique_name("selinon-contract-client")

    def make(**overrides: Any) -> DataStorage:
        from selinon_backends.storage.redis import Redis

        config: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 6379,
            "key_prefix": prefix,
            "client_name": client_name,
            "socket_timeout": 5,
        }
        return Redis(**{**config, **overrides})

    def kill(_: DataStorage) -> int:
        admin = redis.Redis.from_url(url)
        try:
            ids = [c["id"] for c in admin.client_list() if c.get("name") == client_name]
            for client_id in ids:
                admin.client_kill_filter(_id=client_id)
            return len(ids)
        finally:
            admin.close()

    def cleanup() -> None:
        admin = redis.Redis.from_url(url)
        try:
            keys = list(admin.scan_iter(match=f"{prefix}:*", count=1000))
            if keys:
                admin.delete(*keys)
        finally:
            admin.close()

    return Backend("redis", make, kill, [cleanup], {"prefix": prefix})


def _postgres_backend(table: str) -> Backend:
    import psycopg

    app_name = unique_name("selinon-contract")

    def make(**overrides: Any) -> DataStorage:
        from selinon_backends.storage.postgresql import PostgreSQL

        config: dict[str, Any] = {
            "connection_string": POSTGRES_DSN,
            "table": table,
            "application_name": app_name,
            "pool_max_size": 8,
        }
        return PostgreSQL(**{**config, **overrides})

    def kill(_: DataStorage) -> int:
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                (app_name,),
            ).fetchall()
        return len(rows)

    return Backend("postgresql", make, kill, extra={"table": table})


def _s3_backend(server: MotoS3) -> Backend:
    bucket = unique_name("selinon-contract").replace("_", "-")
    prefix = unique_name("run")

    def make(**overrides: Any) -> DataStorage:
        from selinon_backends.storage.s3 import S3

        config: dict[str, Any] = {
            "bucket": bucket,
            **moto_s3_options(server),
            "prefix": prefix,
            "create_bucket": True,
        }
        return S3(**{**config, **overrides})

    return Backend("s3", make, extra={"bucket": bucket, "prefix": prefix})


@pytest.fixture(params=ALL_BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A way to build storages of each kind (service-backed kinds need their service)."""
    name: str = request.param
    if name == "memory":
        found = Backend(name, InMemoryStorage)
    elif name == "memory-json":
        found = Backend(name, lambda **kw: InMemoryStorage(**{"json": True, **kw}))
    elif name == "filesystem":
        found = Backend(name, lambda **kw: Filesystem(**{"path": tmp_path / "results", **kw}))
    elif name == "redis":
        found = _redis_backend()
    elif name == "postgresql":
        found = _postgres_backend(request.getfixturevalue("pg_table"))
    else:
        found = _s3_backend(request.getfixturevalue("moto_s3"))
    yield found
    for cleanup in found.cleanup:
        cleanup()


@pytest.fixture
def storage(backend: Backend) -> Iterator[DataStorage]:
    """A connected storage of each kind, disconnected after the test."""
    instance = backend.make()
    instance.connect()
    yield instance
    if instance.is_connected():
        instance.disconnect()
