"""Connection loss, reconnection and unreachable services, for the service-backed adapters."""

from __future__ import annotations

import uuid

import pytest
from tests.services import free_port, moto_s3_server

from selinon_backends.storage.postgresql import PostgreSQL
from selinon_backends.storage.redis import Redis
from selinon_backends.storage.s3 import S3
from selinon_core.datastorage import DataStorage
from selinon_core.errors import TransientBackendError

from ._moto import moto_s3_options
from .conftest import Backend

FLOW, TASK = "contract_flow", "ContractTask"


@pytest.mark.parametrize("backend", ["redis", "postgresql"], indirect=True)
def test_reconnects_after_the_server_kills_its_connections(backend: Backend) -> None:
    assert backend.kill_connections is not None
    storage = backend.make()
    with storage:
        first = f"task-{uuid.uuid4()}"
        storage.store(None, FLOW, TASK, first, {"before": True})
        killed = backend.kill_connections(storage)
        assert killed >= 1
        second = f"task-{uuid.uuid4()}"
        storage.store(None, FLOW, TASK, second, {"after": True})
        assert storage.retrieve(FLOW, TASK, first) == {"before": True}
        assert storage.retrieve(FLOW, TASK, second) == {"after": True}
        assert backend.kill_connections(storage) >= 1
        assert storage.retrieve(FLOW, TASK, second) == {"after": True}


def test_s3_server_stopped_then_restarted() -> None:
    port = free_port()
    with moto_s3_server(port) as server:
        storage = S3(
            "outage-bucket",
            **moto_s3_options(server),
            create_bucket=True,
            max_attempts=1,
            timeout=5,
        )
        storage.connect()
        storage.store(None, FLOW, TASK, "before", {"before": True})
    try:
        with pytest.raises(TransientBackendError, match="S3 storage bucket 'outage-bucket'"):
            storage.retrieve(FLOW, TASK, "before")
        with moto_s3_server(port):  # moto keeps its buckets in the process: data survives
            assert storage.retrieve(FLOW, TASK, "before") == {"before": True}
            storage.store(None, FLOW, TASK, "after", {"after": True})
            assert storage.retrieve(FLOW, TASK, "after") == {"after": True}
    finally:
        storage.disconnect()


def test_unreachable_redis_is_transient() -> None:
    storage = Redis("127.0.0.1", port=free_port(), socket_connect_timeout=1)
    with pytest.raises(TransientBackendError, match=r"Redis storage 127\.0\.0\.1"):
        storage.connect()
    assert not storage.is_connected()


def test_unreachable_postgresql_is_transient() -> None:
    storage = PostgreSQL(f"postgres://postgres@127.0.0.1:{free_port()}/test", connect_timeout=1)
    with pytest.raises(TransientBackendError, match="PostgreSQL storage"):
        storage.connect()
    assert not storage.is_connected()


def test_unreachable_s3_is_transient() -> None:
    storage = S3(
        "nowhere",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        use_ssl=False,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        max_attempts=1,
        timeout=3,
    )
    storage.connect()  # the client connects lazily; the first call fails
    try:
        with pytest.raises(TransientBackendError):
            storage.store(None, FLOW, TASK, "x", 1)
    finally:
        storage.disconnect()


@pytest.mark.parametrize(
    "storage",
    [Redis(), PostgreSQL("postgresql://nowhere/db"), S3("b")],
    ids=["redis", "postgresql", "s3"],
)
def test_calls_before_connect_are_transient(storage: DataStorage) -> None:
    with pytest.raises(TransientBackendError, match="not connected"):
        storage.retrieve(FLOW, TASK, "id")
