"""Running single tasks: results, validation, retries, timeouts (no dispatcher involved)."""

from __future__ import annotations

from typing import Any

import pytest
import rt_tasks
from rt_support import SCHEMA, make_system

from selinon_backends.runtime.environment import RuntimeEnvironment
from selinon_backends.runtime.worker import Outcome, Worker
from selinon_backends.storage.pool import StoragePool
from selinon_core.config.system import System
from selinon_core.dispatch.actions import RunTask
from selinon_core.trace import TraceEvent, TraceName

FLOWS = {"flow1": {"edges": [{"from": [], "to": "Noop"}]}}


def _run(task: str, attempt: int = 0, system: System | None = None, **extra: Any) -> Outcome:
    system = system or make_system(FLOWS, **{task: extra} if extra else {})
    pool = StoragePool(system)
    worker = Worker(system, pool, RuntimeEnvironment(pool, system), lambda: 1.0, tracing=True)
    action = RunTask("flow-1", "flow1", task, "flow-1/1", {"n": 1}, {}, "q")
    return worker.execute(action, attempt)


def _names(outcome: Outcome) -> list[TraceName]:
    return [t.name for t in outcome.trace]


def test_success_stores_and_traces() -> None:
    outcome = _run("Echo")
    assert outcome.kind == "succeeded"
    assert outcome.result == {"args": {"n": 1}, "task": "Echo", "flow": "flow1"}
    assert _names(outcome) == [TraceName.TASK_START, TraceName.TASK_END]
    assert all(isinstance(t, TraceEvent) and t.at == 1.0 for t in outcome.trace)


def test_result_without_storage_is_discarded() -> None:
    outcome = _run("Echo", storage=None)
    assert TraceName.TASK_DISCARD_RESULT in _names(outcome)


def test_counted_retries_then_failure() -> None:
    first = _run("Boom", 0, max_retry=1, retry_countdown=3)
    assert (first.kind, first.countdown, first.counted) == ("retry", 3.0, True)
    last = _run("Boom", 1, max_retry=1, retry_countdown=3)
    assert last.kind == "failed"
    assert isinstance(last.error, ValueError)
    assert _names(last)[-1] == TraceName.TASK_FAILURE


def test_fatal_error_ignores_max_retry() -> None:
    outcome = _run("Fatal", 0, max_retry=5)
    assert outcome.kind == "failed"


def test_user_retry_is_not_counted() -> None:
    outcome = _run("AskRetry", 0)
    assert (outcome.kind, outcome.countdown, outcome.counted) == ("retry", 30.0, False)


def test_not_json_result_fails_with_clear_message() -> None:
    outcome = _run("NotJson")
    assert outcome.kind == "failed"
    assert "not JSON-serialisable" in str(outcome.error)


def test_output_schema_violation_fails() -> None:
    outcome = _run("BadSchema", output_schema=str(SCHEMA))
    assert outcome.kind == "failed"
    assert "must be number" in str(outcome.error)
    assert _run("Echo", output_schema=str(SCHEMA)).kind == "succeeded"


def test_unimportable_class_fails_fatally() -> None:
    outcome = _run("Missing", max_retry=3, classname="DoesNotExist")
    assert outcome.kind == "failed"
    assert "cannot import task class" in str(outcome.error)


def test_timeout_fails_and_discards_the_late_result() -> None:
    outcome = _run("Hang", timeout=0.05)
    assert outcome.kind == "failed"
    assert "timeout" in str(outcome.error)
    assert TraceName.TASK_TIMEOUT in _names(outcome)
    rt_tasks.RELEASE.set()


def test_timeout_counts_as_a_retryable_failure() -> None:
    outcome = _run("Hang", 0, timeout=0.05, max_retry=1)
    assert outcome.kind == "retry"
    rt_tasks.RELEASE.set()


def test_async_run_is_awaited_with_and_without_timeout() -> None:
    assert _run("AsyncEcho").result == {"async": {"n": 1}}
    assert _run("AsyncEcho", timeout=1).result == {"async": {"n": 1}}


def test_fast_task_under_timeout_succeeds() -> None:
    assert _run("Echo", timeout=2).kind == "succeeded"
    assert _run("Boom", timeout=2).kind == "failed"


def test_non_task_class_is_rejected() -> None:
    outcome = _run("items", classname="items")
    assert outcome.kind == "failed"
    assert "not a SelinonTask" in str(outcome.error)


@pytest.mark.parametrize("task", ["Boom", "Fatal"])
def test_failure_is_recorded_in_storage(task: str) -> None:
    system = make_system(FLOWS)
    pool = StoragePool(system)
    worker = Worker(system, pool, RuntimeEnvironment(pool, system), lambda: 1.0, tracing=False)
    action = RunTask("flow-1", "flow1", task, "flow-1/9", None, {}, "q")
    outcome = worker.execute(action, 0)
    assert outcome.kind == "failed"
    assert outcome.trace == []
