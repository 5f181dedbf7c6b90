"""Task and flow retry decisions."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selinon_core.dispatch.retry import (
    RetryDecision,
    TaskFailureKind,
    decide_flow_retry,
    decide_task_retry,
)


@pytest.mark.parametrize(
    ("max_retry", "retried_count", "failure", "user_countdown", "expected"),
    [
        pytest.param(0, 0, "error", None, RetryDecision(False, 0.0, 0), id="no-retries-allowed"),
        pytest.param(2, 0, "error", None, RetryDecision(True, 3.0, 1), id="first-error"),
        pytest.param(2, 1, "error", None, RetryDecision(True, 3.0, 2), id="second-error"),
        pytest.param(2, 2, "error", None, RetryDecision(False, 0.0, 2), id="budget-spent"),
        pytest.param(2, 1, "timeout", None, RetryDecision(True, 3.0, 2), id="timeout-counts"),
        pytest.param(2, 2, "timeout", None, RetryDecision(False, 0.0, 2), id="timeout-spent"),
        pytest.param(5, 0, "fatal", None, RetryDecision(False, 0.0, 0), id="fatal-never"),
        pytest.param(0, 0, "user_retry", 7.5, RetryDecision(True, 7.5, 0), id="user-retry"),
        pytest.param(1, 1, "user_retry", None, RetryDecision(True, 0.0, 1), id="user-default-0"),
    ],
)
def test_task_retry_table(
    max_retry: int,
    retried_count: int,
    failure: TaskFailureKind,
    user_countdown: float | None,
    expected: RetryDecision,
) -> None:
    decision = decide_task_retry(
        max_retry=max_retry,
        retry_countdown=3.0,
        retried_count=retried_count,
        failure=failure,
        user_countdown=user_countdown,
    )
    assert decision == expected


def run_task(failures: list[TaskFailureKind], max_retry: int) -> tuple[int, bool]:
    """Feed a sequence of failed runs; return (runs made, whether the last one was final)."""
    retried = 0
    for runs, failure in enumerate(failures, start=1):
        decision = decide_task_retry(
            max_retry=max_retry,
            retry_countdown=1.0,
            retried_count=retried,
            failure=failure,
            user_countdown=0.5 if failure == "user_retry" else None,
        )
        if not decision.retry:
            return runs, True
        retried = decision.retried_count
    return len(failures), False


@given(
    max_retry=st.integers(0, 5),
    failures=st.lists(st.sampled_from(["error", "timeout", "user_retry"]), max_size=30),
)
def test_only_errors_and_timeouts_use_the_budget(max_retry: int, failures: list[Any]) -> None:
    runs, final = run_task(failures, max_retry)
    counted = sum(1 for f in failures[:runs] if f != "user_retry")
    if final:
        assert failures[runs - 1] != "user_retry"
        assert counted == max_retry + 1
    else:
        assert counted <= max_retry


@given(
    max_retry=st.integers(0, 5), retried=st.integers(0, 5), kind=st.sampled_from(["error", "fatal"])
)
def test_fatal_never_retries_and_error_never_exceeds_budget(
    max_retry: int, retried: int, kind: TaskFailureKind
) -> None:
    decision = decide_task_retry(
        max_retry=max_retry, retry_countdown=0, retried_count=retried, failure=kind
    )
    if kind == "fatal":
        assert not decision.retry
    assert decision.retried_count <= max(max_retry, retried)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_retry": -1}, "max_retry must not be negative"),
        ({"retried_count": -1}, "retried_count must not be negative"),
        ({"retry_countdown": -0.5}, "retry_countdown must be a finite number"),
        ({"retry_countdown": math.nan}, "retry_countdown must be a finite number"),
        ({"failure": "user_retry", "user_countdown": -1.0}, "user_countdown must be a finite"),
        ({"failure": "error", "user_countdown": 1.0}, "applies to 'user_retry' only"),
    ],
)
def test_task_retry_invalid_inputs(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "max_retry": 1,
        "retry_countdown": 0.0,
        "retried_count": 0,
        "failure": "error",
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        decide_task_retry(**arguments)


def test_unknown_failure_kind_is_rejected() -> None:
    bogus: Any = "bogus"
    with pytest.raises(AssertionError):
        decide_task_retry(max_retry=1, retry_countdown=0, retried_count=0, failure=bogus)


def test_flow_retry_runs_max_retry_plus_one_times() -> None:
    """With ``max_retry: 1`` a failing flow runs twice, then fails for good."""
    retried = 0
    runs = 1
    while True:
        decision = decide_flow_retry(max_retry=1, retry_countdown=10.0, retried_count=retried)
        if not decision.retry:
            break
        assert decision.countdown == 10.0
        retried = decision.retried_count
        runs += 1
    assert runs == 2
    assert decision == RetryDecision(False, 0.0, 1)


@pytest.mark.parametrize(
    ("max_retry", "retried", "expected"),
    [
        (0, 0, RetryDecision(False, 0.0, 0)),
        (3, 0, RetryDecision(True, 2.0, 1)),
        (3, 2, RetryDecision(True, 2.0, 3)),
        (3, 3, RetryDecision(False, 0.0, 3)),
    ],
)
def test_flow_retry_table(max_retry: int, retried: int, expected: RetryDecision) -> None:
    assert (
        decide_flow_retry(max_retry=max_retry, retry_countdown=2.0, retried_count=retried)
        == expected
    )


def test_flow_retry_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="retry_countdown"):
        decide_flow_retry(max_retry=1, retry_countdown=math.inf, retried_count=0)
