"""The storage contract: every adapter behaves the same through Selinon's DataStorage surface."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import pytest

from selinon_core.datastorage import DataStorage
from selinon_core.errors import ResultMissing

from ._threads import run_threads
from .conftest import Backend

FLOW = "contract_flow"
TASK = "ContractTask"


def new_id() -> str:
    return f"task-{uuid.uuid4()}"


SAMPLE_RESULTS: list[Any] = [
    {"answer": 42, "nested": {"list": [1, 2.5, None, True, "x"]}, "empty": {}},
    [1, 2, 3],
    "plain string",
    12345,
    3.25,
    True,
    None,
]


@pytest.mark.parametrize("result", SAMPLE_RESULTS, ids=lambda r: type(r).__name__)
def test_round_trip(storage: DataStorage, result: Any) -> None:
    task_id = new_id()
    storage.store({"arg": 1}, FLOW, TASK, task_id, result)
    assert storage.retrieve(FLOW, TASK, task_id) == result


def test_results_are_kept_per_task_id(storage: DataStorage) -> None:
    ids = [new_id() for _ in range(5)]
    for number, task_id in enumerate(ids):
        storage.store(None, FLOW, TASK, task_id, {"n": number})
    assert [storage.retrieve(FLOW, TASK, task_id)["n"] for task_id in ids] == [0, 1, 2, 3, 4]


def test_redelivered_task_overwrites_its_result(storage: DataStorage) -> None:
    task_id = new_id()
    storage.store({"try": 1}, FLOW, TASK, task_id, {"value": "first"})
    storage.store({"try": 2}, FLOW, TASK, task_id, {"value": "second"})
    assert storage.retrieve(FLOW, TASK, task_id) == {"value": "second"}


def test_missing_id_raises_result_missing_with_a_clear_message(storage: DataStorage) -> None:
    task_id = new_id()
    with pytest.raises(ResultMissing) as caught:
        storage.retrieve(FLOW, TASK, task_id)
    message = str(caught.value)
    assert task_id in message
    assert TASK in message
    assert "no result stored" in message


def test_one_megabyte_result(storage: DataStorage) -> None:
    task_id = new_id()
    blob = "x" * (1024 * 1024)
    result = {"blob": blob, "items": list(range(10_000))}
    storage.store(None, FLOW, TASK, task_id, result)
    assert storage.retrieve(FLOW, TASK, task_id) == result


UNICODE = {
    "czech": "Příliš žluťoučký kůň úpěl ďábelské ódy",
    "emoji": "🍕🍺 \U0001f9d1\u200d\U0001f373",
    "cjk": "漢字かなカナ한국어",
    "rtl": "שלום עולם مرحبا",
    "combining": "e\u0301 a\u030a",
    "ключ": ["значение", "Ωμέγα"],
    "escapes": 'quote " backslash \\ newline \n tab \t',
}


def test_unicode_round_trip(storage: DataStorage) -> None:
    task_id = new_id()
    storage.store({"arg": "ü"}, FLOW, TASK, task_id, UNICODE)
    assert storage.retrieve(FLOW, TASK, task_id) == UNICODE


def test_concurrent_writers(storage: DataStorage) -> None:
    threads_count, per_thread = 8, 15
    shared_id = new_id()
    ids = [[new_id() for _ in range(per_thread)] for _ in range(threads_count)]

    def writer(worker: int) -> None:
        for number, task_id in enumerate(ids[worker]):
            storage.store(None, FLOW, TASK, task_id, {"worker": worker, "n": number})
            storage.store(None, FLOW, TASK, shared_id, {"worker": worker, "n": number})

    run_threads(threads_count, writer)
    for worker, worker_ids in enumerate(ids):
        got = [storage.retrieve(FLOW, TASK, task_id) for task_id in worker_ids]
        assert got == [{"worker": worker, "n": n} for n in range(per_thread)]
    last = storage.retrieve(FLOW, TASK, shared_id)
    assert last["worker"] in range(threads_count)
    assert last["n"] in range(per_thread)


def test_delete(storage: DataStorage) -> None:
    kept, deleted = new_id(), new_id()
    storage.store(None, FLOW, TASK, kept, "keep me")
    storage.store(None, FLOW, TASK, deleted, "delete me")
    storage.delete(FLOW, TASK, deleted)
    with pytest.raises(ResultMissing):
        storage.retrieve(FLOW, TASK, deleted)
    assert storage.retrieve(FLOW, TASK, kept) == "keep me"
    storage.delete(FLOW, TASK, deleted)  # deleting again is a no-op
    storage.delete(FLOW, TASK, new_id())  # so is deleting what was never stored


def _failing_task() -> None:
    raise ValueError("the oven is cold")


def test_store_error(storage: DataStorage) -> None:
    task_id = new_id()
    try:
        _failing_task()
    except ValueError:
        exc_info = sys.exc_info()
    storage.store_error({"pizza": "margherita"}, FLOW, TASK, task_id, exc_info)  # type: ignore[arg-type]
    record = storage.retrieve_error(FLOW, TASK, task_id)  # type: ignore[attr-defined]
    assert record["type"] == "builtins.ValueError"
    assert record["value"] == "the oven is cold"
    assert "_failing_task" in record["traceback"]
    with pytest.raises(ResultMissing):  # an error is not a result
        storage.retrieve(FLOW, TASK, task_id)
    storage.delete(FLOW, TASK, task_id)
    with pytest.raises(ResultMissing):
        storage.retrieve_error(FLOW, TASK, task_id)  # type: ignore[attr-defined]


def test_non_serialisable_result(storage: DataStorage, backend: Backend) -> None:
    task_id = new_id()
    value = {"when": object()}
    if backend.name == "memory":  # plain in-memory storage keeps objects as they are
        storage.store(None, FLOW, TASK, task_id, value)
        assert storage.retrieve(FLOW, TASK, task_id) is value
        return
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        storage.store(None, FLOW, TASK, task_id, value)
    with pytest.raises(ResultMissing):
        storage.retrieve(FLOW, TASK, task_id)


def test_disconnect_and_connect_again(storage: DataStorage) -> None:
    task_id = new_id()
    storage.store(None, FLOW, TASK, task_id, {"kept": True})
    assert storage.is_connected()
    storage.disconnect()
    assert not storage.is_connected()
    storage.connect()
    assert storage.is_connected()
    assert storage.retrieve(FLOW, TASK, task_id) == {"kept": True}


def test_context_manager_connects_and_disconnects(backend: Backend) -> None:
    instance = backend.make()
    assert not instance.is_connected()
    task_id = new_id()
    with instance as connected:
        assert connected is instance
        assert instance.is_connected()
        instance.store(None, FLOW, TASK, task_id, [1])
        assert instance.retrieve(FLOW, TASK, task_id) == [1]
    assert not instance.is_connected()


def test_storages_are_thread_safe_adapters(storage: DataStorage) -> None:
    assert storage.thread_safe is True
