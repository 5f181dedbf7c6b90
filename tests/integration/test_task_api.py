"""The task API: SelinonTask helpers over an injected environment."""

from __future__ import annotations

from typing import Any

import pytest

from selinon_core.errors import NoParentNodeError, RequestError, RetryRequested
from selinon_core.task import SelinonTask


class _Env:
    log = "the-logger"

    def __init__(self) -> None:
        self.results = {
            ("flow1", "Task1", "id-1"): {"a": 1},
            ("flow2", "Task3", "id-3b"): "flow2-last",
            ("flow3", "Task4", "id-4"): "nested",
        }
        self.errors = {"id-bad": ValueError("bad")}

    def result(self, *, flow_name: str, task_name: str, task_id: str) -> Any:
        return self.results[(flow_name, task_name, task_id)]

    def error(self, *, task_id: str) -> BaseException | None:
        return self.errors.get(task_id)

    def storage_of(self, *, task_name: str) -> Any:
        return f"storage-of-{task_name}"


class _Task(SelinonTask):
    def run(self, node_args: Any) -> Any:
        return node_args


PARENT = {
    "Task1": "id-1",
    "Bad": "id-bad",
    "flow2": {"Task3": ["id-3a", "id-3b"], "flow3": {"Task4": ["id-4"]}},
}


def _task(parent: Any = PARENT) -> _Task:
    return _Task("flow1", "Task2", parent, "id-2", "flow-1", environment=_Env())


def test_attributes_match_selinon() -> None:
    task = _task()
    assert (task.flow_name, task.task_name, task.task_id, task.dispatcher_id) == (
        "flow1",
        "Task2",
        "id-2",
        "flow-1",
    )
    assert task.log == "the-logger"
    assert task.storage == "storage-of-Task2"
    assert task.run({"x": 1}) == {"x": 1}


def test_parent_task_result_and_missing_parent() -> None:
    task = _task()
    assert task.parent_task_result("Task1") == {"a": 1}
    with pytest.raises(NoParentNodeError, match="Nope"):
        task.parent_task_result("Nope")


def test_parent_flow_result_default_index_is_last_and_paths_nest() -> None:
    task = _task()
    assert task.parent_flow_result("flow2", "Task3") == "flow2-last"
    assert task.parent_flow_result(["flow2", "flow3"], "Task4", 0) == "nested"
    with pytest.raises(NoParentNodeError):
        task.parent_flow_result("flow2", "Task3", 5)
    with pytest.raises(NoParentNodeError):
        task.parent_flow_result("flowX", "Task3")
    with pytest.raises(NoParentNodeError):
        task.parent_flow_result("flow2", "TaskX")
    with pytest.raises(NoParentNodeError):
        task.parent_flow_result([], "TaskX")


def test_parent_exceptions() -> None:
    task = _task()
    error = task.parent_task_exception("Bad")
    assert isinstance(error, ValueError)
    with pytest.raises(RequestError, match="did not fail"):
        task.parent_task_exception("Task1")
    with pytest.raises(NoParentNodeError):
        task.parent_task_exception("Nope")
    with pytest.raises(RequestError):
        task.parent_flow_exception("flow2", "Task3")


def test_retry_raises_with_countdown() -> None:
    with pytest.raises(RetryRequested) as info:
        _task().retry(countdown=7)
    assert info.value.countdown == 7.0


def test_detached_task_has_no_runtime() -> None:
    task = _Task("f", "t", None, "id", "flow")
    assert task.parent == {}
    assert task.storage is None
    assert task.parent_task_exception.__name__ == "parent_task_exception"
    with pytest.raises(RequestError, match="no runtime"):
        _Task("f", "t", {"P": "x"}, "id", "flow").parent_task_result("P")
    with pytest.raises(RequestError, match="did not fail"):
        _Task("f", "t", {"P": "x"}, "id", "flow").parent_task_exception("P")


def test_base_run_is_abstract() -> None:
    with pytest.raises(NotImplementedError):
        SelinonTask("f", "t", {}, "id", "flow").run(None)
