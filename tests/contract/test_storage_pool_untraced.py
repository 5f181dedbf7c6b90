"""StoragePool without a trace listener and without a cache: the lean read and write paths.

Reads and writes then go straight to the adapter; they must behave exactly like the full path:
same results, same errors, one adapter call per read, reconnection after a disconnect.
"""

from __future__ import annotations

from typing import Any

import pytest

from selinon_backends.storage.pool import StoragePool
from selinon_core.config.system import System
from selinon_core.errors import ResultMissing, TransientBackendError

from ._adapters import Recording

FLOW = "flow1"


class SafeRecording(Recording):
    """The same adapter, declared thread-safe (called without the pool's lock)."""

    thread_safe = True


def _pool(classname: str) -> StoragePool:
    system = System.from_dict(
        {
            "tasks": [
                {"name": "Task1", "import": "x", "storage": "Store"},
                {"name": "Task2", "import": "x", "storage": "Store", "storage_task_name": "T2"},
            ],
            "storages": [
                {
                    "name": "Store",
                    "import": __name__,
                    "classname": classname,
                    "configuration": {},
                }
            ],
            "flows": {},
        }
    )
    return StoragePool(system)


def _reads(pool: StoragePool) -> list[tuple[Any, ...]]:
    adapter = pool.get_storage_instance("Store")
    return [args for name, args in adapter.calls if name == "retrieve"]


@pytest.fixture(params=["Recording", "SafeRecording"])
def pool(request: pytest.FixtureRequest) -> StoragePool:
    return _pool(request.param)


def test_reads_return_what_was_stored(pool: StoragePool) -> None:
    assert pool.store({"a": 1}, FLOW, "Task2", "id-1", {"x": 1}) == {"not": "a plain id"}
    for _ in range(3):  # the first read takes the full path, later ones the lean one
        assert pool.get(flow_name=FLOW, task_name="Task2", task_id="id-1") == {"x": 1}
        assert pool.retrieve(FLOW, "Task2", "id-1") == {"x": 1}
    assert _reads(pool) == [(FLOW, "T2", "id-1")] * 6


def test_missing_results_raise_result_missing(pool: StoragePool) -> None:
    pool.store(None, FLOW, "Task1", "id-1", 1)
    assert pool.retrieve(FLOW, "Task1", "id-1") == 1
    with pytest.raises(ResultMissing, match="id-2"):
        pool.get(flow_name=FLOW, task_name="Task1", task_id="id-2")
    with pytest.raises(ResultMissing, match="id-3"):
        pool.retrieve(FLOW, "Task1", "id-3")
    assert len(_reads(pool)) == 3  # one adapter call per read, errors included


def test_failing_reads_are_transient(pool: StoragePool) -> None:
    pool.store(None, FLOW, "Task1", "id-1", 1)
    assert pool.get(flow_name=FLOW, task_name="Task1", task_id="id-1") == 1
    pool.get_storage_instance("Store").fail_with = "retrieve"
    with pytest.raises(TransientBackendError, match="ConnectionResetError"):
        pool.get(flow_name=FLOW, task_name="Task1", task_id="id-1")
    with pytest.raises(TransientBackendError, match="ConnectionResetError"):
        pool.retrieve(FLOW, "Task1", "id-1")
    assert len(_reads(pool)) == 3


def test_reads_reconnect_after_a_disconnect(pool: StoragePool) -> None:
    pool.store(None, FLOW, "Task1", "id-1", 1)
    assert pool.get(flow_name=FLOW, task_name="Task1", task_id="id-1") == 1
    pool.disconnect_all()
    assert pool.get(flow_name=FLOW, task_name="Task1", task_id="id-1") == 1
    pool.disconnect_all()
    assert pool.retrieve(FLOW, "Task1", "id-1") == 1
    assert pool.get_storage_instance("Store").is_connected()


def test_failing_writes_raise_the_adapters_error(pool: StoragePool) -> None:
    pool.get_connected_storage("Store").fail_with = "store"
    with pytest.raises(OSError, match="disk full"):
        pool.store(None, FLOW, "Task1", "id-1", 1)
