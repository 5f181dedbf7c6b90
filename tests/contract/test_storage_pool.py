"""StoragePool: lazy thread-safe connection, task → storage mapping, cache and trace events."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from selinon_backends._clients import MissingExtraError
from selinon_backends.storage.pool import StoragePool
from selinon_core.config.system import System
from selinon_core.errors import (
    NoParentNodeError,
    ResultMissing,
    SpecError,
    TransientBackendError,
)
from selinon_core.ports import ResultsPort
from selinon_core.trace import TraceEvent, TraceName

from ._threads import run_threads

ADAPTERS = "tests.contract._adapters"
FLOW = "flow1"
T = TraceName


def make_system(
    storage_config: dict[str, Any] | None = None,
    *,
    classname: str = "Recording",
    cache: dict[str, Any] | None = None,
) -> System:
    storage: dict[str, Any] = {
        "name": "Store",
        "import": ADAPTERS,
        "classname": classname,
        "configuration": storage_config or {},
    }
    if cache is not None:
        storage["cache"] = cache
    return System.from_dict(
        {
            "tasks": [
                {"name": "Task1", "import": "x", "storage": "Store"},
                {"name": "Task2", "import": "x", "storage": "Store", "storage_task_name": "T2"},
                {"name": "Reader", "import": "x", "storage": "Store", "storage_read_only": True},
                {"name": "NoStorage", "import": "x"},
            ],
            "storages": [storage],
            "flows": {},
        }
    )


class Collector:
    def __init__(self) -> None:
        self.events: list[TraceEvent] = []

    def __call__(self, event: TraceEvent) -> None:
        self.events.append(event)

    def names(self) -> list[TraceName]:
        return [event.name for event in self.events]


@pytest.fixture
def trace() -> Collector:
    return Collector()


def pool_for(system: System, trace: Collector) -> StoragePool:
    return StoragePool(system, trace=trace, clock=lambda: 1234.5)


def test_store_and_read_trace_events_without_cache(trace: Collector) -> None:
    pool = pool_for(make_system(), trace)
    pool.store({"a": 1}, FLOW, "Task1", "id-1", {"r": 1})
    assert pool.retrieve(FLOW, "Task1", "id-1") == {"r": 1}
    assert trace.names() == [
        T.STORAGE_CONNECT,
        T.STORAGE_STORE,
        T.STORAGE_STORED,
        T.TASK_RESULT_CACHE_GET,
        T.TASK_RESULT_CACHE_MISS,
        T.STORAGE_RETRIEVE,
        T.STORAGE_RETRIEVED,
        T.TASK_RESULT_CACHE_ADD,
    ]
    stored = trace.events[2]
    assert stored.at == 1234.5
    assert stored.details["record_id"] == "{'not': 'a plain id'}"  # rendered JSON-safe
    assert trace.events[5].details == {
        "flow_name": FLOW,
        "task_name": "Task1",
        "storage_task_name": "Task1",
        "storage_name": "Store",
        "task_id": "id-1",
    }


def test_result_cache_hit_skips_the_storage(trace: Collector) -> None:
    system = make_system(cache={"name": "LRU", "configuration": {"max_cache_size": 4}})
    pool = pool_for(system, trace)
    pool.store(None, FLOW, "Task1", "id-1", "value")
    assert pool.get(flow_name=FLOW, task_name="Task1", task_id="id-1") == "value"
    trace.events.clear()
    assert pool.get(flow_name=FLOW, task_name="Task1", task_id="id-1") == "value"
    assert trace.names() == [T.TASK_RESULT_CACHE_GET, T.TASK_RESULT_CACHE_HIT]
    adapter = pool.get_connected_storage("Store")
    assert [name for name, _ in adapter.calls] == ["store", "retrieve"]


def test_cache_errors_are_traced_never_fatal(trace: Collector) -> None:
    system = make_system(cache={"name": "BrokenCache", "import": ADAPTERS, "configuration": {}})
    pool = pool_for(system, trace)
    pool.store(None, FLOW, "Task1", "id-1", "value")
    assert pool.retrieve(FLOW, "Task1", "id-1") == "value"
    issues = [e for e in trace.events if e.name is T.TASK_RESULT_CACHE_ISSUE]
    assert [e.details["what"] for e in issues] == [
        "RuntimeError: cache get broke",
        "RuntimeError: cache add broke",
    ]


def test_storage_task_name_is_what_the_adapter_sees(trace: Collector) -> None:
    pool = pool_for(make_system(), trace)
    pool.store({"x": 1}, FLOW, "Task2", "id-2", 2)
    pool.retrieve(FLOW, "Task2", "id-2")
    adapter = pool.get_connected_storage("Store")
    assert adapter.calls == [
        ("store", ({"x": 1}, FLOW, "T2", "id-2")),
        ("retrieve", (FLOW, "T2", "id-2")),
    ]
    assert trace.events[-1].details["storage_task_name"] == "T2"


def test_tasks_without_writable_storage(trace: Collector) -> None:
    pool = pool_for(make_system(), trace)
    with pytest.raises(ResultMissing, match="'NoStorage' has no storage configured"):
        pool.retrieve(FLOW, "NoStorage", "id-1")
    with pytest.raises(ResultMissing, match="no writable storage"):
        pool.store(None, FLOW, "NoStorage", "id-1", 1)
    with pytest.raises(ResultMissing, match="no writable storage"):
        pool.store(None, FLOW, "Reader", "id-1", 1)
    assert pool.get_storage_by_task_name("NoStorage") is None
    assert pool.get_storage_name_by_task_name("Reader") == "Store"


def test_missing_result_from_a_user_adapter_keyerror(trace: Collector) -> None:
    pool = pool_for(make_system(), trace)
    with pytest.raises(ResultMissing, match="'id-404'"):
        pool.retrieve(FLOW, "Task1", "id-404")


def test_foreign_read_errors_become_transient(trace: Collector) -> None:
    pool = pool_for(make_system({"fail_with": "retrieve"}), trace)
    with pytest.raises(TransientBackendError, match="ConnectionResetError: socket closed"):
        pool.retrieve(FLOW, "Task1", "id-1")
    assert trace.names()[-1] is T.STORAGE_ISSUE


def test_write_errors_propagate_unchanged(trace: Collector) -> None:
    pool = pool_for(make_system({"fail_with": "store"}), trace)
    with pytest.raises(OSError, match="disk full"):
        pool.store(None, FLOW, "Task1", "id-1", 1)
    assert trace.names()[-1] is T.STORAGE_ISSUE


def test_connect_failure_is_transient(trace: Collector) -> None:
    pool = pool_for(make_system({"fail_with": "connect"}), trace)
    with pytest.raises(TransientBackendError, match="cannot connect"):
        pool.retrieve(FLOW, "Task1", "id-1")
    assert trace.names() == [T.STORAGE_CONNECT, T.STORAGE_ISSUE]


def test_missing_client_library_is_a_configuration_error(trace: Collector) -> None:
    pool = pool_for(make_system({"fail_with": "missing_extra"}), trace)
    with pytest.raises(MissingExtraError, match=r"pip install 'selinon-ng\[redis\]'") as caught:
        pool.retrieve(FLOW, "Task1", "id-1")
    assert isinstance(caught.value, SpecError)  # not retried as a transient storage failure
    assert trace.names() == [T.STORAGE_CONNECT]


def _exc_info() -> Any:
    try:
        raise ValueError("boom")
    except ValueError:
        return sys.exc_info()


def test_store_error_outcomes(trace: Collector) -> None:
    memory = System.from_dict(
        {
            "tasks": [{"name": "Task1", "import": "x", "storage": "Mem"}],
            "storages": [
                {
                    "name": "Mem",
                    "import": "selinon.storages.memory",
                    "classname": "InMemoryStorage",
                    "configuration": None,
                }
            ],
            "flows": {},
        }
    )
    pool = pool_for(memory, trace)
    assert pool.store_error(None, FLOW, "Task1", "id-1", _exc_info()) is True
    assert (
        pool.get_connected_storage("Mem").retrieve_error(FLOW, "Task1", "id-1")["value"] == "boom"
    )
    assert trace.names()[-1] is T.STORAGE_STORE_ERROR

    plain = pool_for(make_system(), trace)
    assert plain.store_error(None, FLOW, "Task1", "id-1", _exc_info()) is False
    assert trace.names()[-1] is T.STORAGE_OMIT_STORE_ERROR
    assert plain.store_error(None, FLOW, "NoStorage", "id-1", _exc_info()) is False
    assert trace.names()[-1] is T.STORAGE_OMIT_STORE_ERROR

    broken = pool_for(make_system(classname="FailingStoreError"), trace)
    assert broken.store_error(None, FLOW, "Task1", "id-1", _exc_info()) is False
    assert trace.events[-1].name is T.STORAGE_ISSUE
    assert trace.events[-1].details["error_type"] == "ValueError"


def test_delete_trace(trace: Collector) -> None:
    memory_system = System.from_dict(
        {
            "tasks": [{"name": "Task1", "import": "x", "storage": "Mem"}],
            "storages": [{"name": "Mem", "import": "selinon.storages.memory",
                          "classname": "InMemoryStorage", "configuration": {}}],
            "flows": {},
        }
    )  # fmt: skip
    pool = pool_for(memory_system, trace)
    pool.store(None, FLOW, "Task1", "id-1", 1)
    pool.delete(FLOW, "Task1", "id-1")
    assert trace.names()[-2:] == [T.STORAGE_DELETE, T.STORAGE_DELETED]
    with pytest.raises(ResultMissing):
        pool.retrieve(FLOW, "Task1", "id-1")


def test_one_instance_connected_once_across_threads(trace: Collector) -> None:
    from tests.contract._adapters import Recording

    pool = pool_for(make_system({"slow": 0.01}), trace)
    before = Recording.connects
    seen: list[Any] = []
    run_threads(12, lambda _: seen.append(pool.get_connected_storage("Store")), timeout=30)
    assert len({id(adapter) for adapter in seen}) == 1
    assert type(seen[0]).connects - before == 1
    assert trace.names() == [T.STORAGE_CONNECT]


def test_adapters_that_are_not_thread_safe_are_called_one_at_a_time(trace: Collector) -> None:
    pool = pool_for(make_system({"slow": 0.002}), trace)
    run_threads(8, lambda n: pool.store(None, FLOW, "Task1", f"id-{n}", n), timeout=30)
    adapter = pool.get_connected_storage("Store")
    assert adapter.max_active == 1
    assert sorted(adapter.data.values()) == list(range(8))


def test_thread_safe_adapters_are_called_concurrently(trace: Collector) -> None:
    system = System.from_dict(
        {
            "tasks": [{"name": "Task1", "import": "x", "storage": "Mem"}],
            "storages": [{"name": "Mem", "import": "selinon.storages.memory",
                          "classname": "InMemoryStorage", "configuration": {"json": True}}],
            "flows": {},
        }
    )  # fmt: skip
    pool = pool_for(system, trace)
    assert pool._slots == {}
    pool.store(None, FLOW, "Task1", "id", 1)
    assert isinstance(pool._slots["Mem"].call_lock, type(__import__("contextlib").nullcontext()))


def test_results_port_and_the_view_for_user_callables(trace: Collector) -> None:
    pool = pool_for(make_system(), trace)
    port: ResultsPort = pool
    pool.store(None, FLOW, "Task1", "id-1", {"items": [1, 2]})
    view = port.storage_pool(flow_name=FLOW, parent={"Task1": "id-1"})
    assert view.get("Task1") == {"items": [1, 2]}
    assert view.get_connected_storage("Store") is pool.get_connected_storage("Store")
    with pytest.raises(
        NoParentNodeError, match=r"'Task2' is not a parent task here \(parents: Task1\)"
    ):
        view.get("Task2")


def test_selinon_import_paths_and_configuration_keys() -> None:
    system = System.from_dict(
        {
            "tasks": [],
            "storages": [
                {"name": "R", "import": "selinon.storages.redis", "classname": "Redis",
                 "configuration": {"host": "127.0.0.1", "port": "6379", "db": 1,
                                   "password": None, "socket_timeout": 3, "charset": "utf-8",
                                   "errors": "strict", "unix_socket_path": None}},
                {"name": "P", "import": "selinon.storages.postgresql", "classname": "PostgreSQL",
                 "configuration": {"connection_string": "postgres://u@127.0.0.1/db",
                                   "encoding": "utf-8", "echo": False}},
                {"name": "S", "import": "selinon.storages.s3", "classname": "S3Storage",
                 "configuration": {"bucket": "b", "location": "eu-west-1",
                                   "endpoint_url": "http://127.0.0.1:1", "use_ssl": False,
                                   "aws_access_key_id": "k", "aws_secret_access_key": "s",
                                   "region_name": "eu-west-1", "serialize_json": True}},
                {"name": "F", "import": "selinon.storages.filesystem", "classname": "Filesystem",
                 "configuration": {"path": "/tmp/x"}},
                {"name": "M", "import": "selinon.storages.memory", "classname": "InMemoryStorage",
                 "configuration": {"echo": False, "json": False}},
            ],
            "flows": {},
        }
    )  # fmt: skip
    pool = StoragePool(system)
    kinds = {name: type(pool.get_storage_instance(name)).__name__ for name in "RPSFM"}
    assert kinds == {"R": "Redis", "P": "PostgreSQL", "S": "S3", "F": "Filesystem",
                     "M": "InMemoryStorage"}  # fmt: skip
    assert not pool.get_storage_instance("R").is_connected()  # nothing connects eagerly


def test_configuration_errors() -> None:
    pool = StoragePool(make_system({"no_such_key": 1}))
    with pytest.raises(SpecError, match="rejected its configuration"):
        pool.get_connected_storage("Store")
    with pytest.raises(SpecError, match="unknown storage 'Nope'"):
        pool.get_connected_storage("Nope")


def test_disconnect_all(trace: Collector) -> None:
    with pool_for(make_system(), trace) as pool:
        adapter = pool.get_connected_storage("Store")
        assert adapter.is_connected()
    assert not adapter.is_connected()
    assert trace.names() == [T.STORAGE_CONNECT, T.STORAGE_DISCONNECT]


def test_untraced_pool_skips_a_cache_that_keeps_nothing() -> None:
    pool = StoragePool(make_system())  # default cache: LRU with max_cache_size 0
    pool.store(None, FLOW, "Task1", "id-1", "value")
    assert pool.retrieve(FLOW, "Task1", "id-1") == "value"
    assert pool._slots["Store"].cache_keeps_nothing
    assert len(pool._slots["Store"].cache) == 0  # type: ignore[arg-type]
