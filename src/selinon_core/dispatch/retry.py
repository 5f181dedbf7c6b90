"""Retry decisions for tasks and flows, as pure functions.

The worker calls :func:`decide_task_retry` when a task run ends in anything but success and
carries the decision out (re-publish the same task id after ``countdown`` seconds, or report the
failure); the dispatcher calls :func:`decide_flow_retry` when a flow fails.  Counters travel with
the task message or the flow state: these functions only compute the next value.

Task failures come in four kinds:

============  ==========================================  ===============================
kind          cause                                       retried?
============  ==========================================  ===============================
error         any exception but the two below             while ``retried_count < max_retry``
timeout       the task's ``timeout`` expired              like ``error``
fatal         ``FatalTaskError``                          never
user_retry    ``self.retry(countdown)`` in the task       always, not counted
============  ==========================================  ===============================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypeAlias, assert_never

__all__ = ["RetryDecision", "TaskFailureKind", "decide_flow_retry", "decide_task_retry"]

TaskFailureKind: TypeAlias = Literal["error", "fatal", "timeout", "user_retry"]
"""How a task run failed (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Whether to run a task (or flow) again, when, and the retry counter to carry on.

    Attributes:
        retry: run it again (same id); otherwise the failure is final.
        countdown: seconds to wait before the new run (0 when ``retry`` is false).
        retried_count: the counter to send with the new run (unchanged when not retrying).
    """

    retry: bool
    countdown: float
    retried_count: int


def _check(max_retry: int, retry_countdown: float, retried_count: int) -> None:
    if max_retry < 0:
        raise ValueError(f"max_retry must not be negative, got {max_retry!r}")
    if retried_count < 0:
        raise ValueError(f"retried_count must not be negative, got {retried_count!r}")
    _check_countdown("retry_countdown", retry_countdown)


def _check_countdown(label: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{label} must be a finite number >= 0, got {value!r}")


def _counted(max_retry: int, retry_countdown: float, retried_count: int) -> RetryDecision:
    if retried_count < max_retry:
        return RetryDecision(retry=True, countdown=retry_countdown, retried_count=retried_count + 1)
    return RetryDecision(retry=False, countdown=0.0, retried_count=retried_count)


def decide_task_retry(
    *,
    max_retry: int,
    retry_countdown: float,
    retried_count: int,
    failure: TaskFailureKind,
    user_countdown: float | None = None,
) -> RetryDecision:
    """Decide whether a failed task run is retried.

    Args:
        max_retry: the task's ``max_retry`` (retries allowed for errors and timeouts).
        retry_countdown: the task's ``retry_countdown``, in seconds.
        retried_count: counted retries so far (0 on the first run).
        failure: how the run failed.
        user_countdown: for ``user_retry``, the countdown given to ``self.retry()``
            (``None`` means 0); must be ``None`` for the other kinds.

    Returns:
        The decision; ``user_retry`` keeps ``retried_count`` as it is.

    Raises:
        ValueError: a negative count or countdown, or ``user_countdown`` with another kind.
    """
    _check(max_retry, retry_countdown, retried_count)
    if failure != "user_retry" and user_countdown is not None:
        raise ValueError(f"user_countdown applies to 'user_retry' only, not to {failure!r}")
    match failure:
        case "user_retry":
            countdown = 0.0 if user_countdown is None else user_countdown
            _check_countdown("user_countdown", countdown)
            return RetryDecision(retry=True, countdown=countdown, retried_count=retried_count)
        case "fatal":
            return RetryDecision(retry=False, countdown=0.0, retried_count=retried_count)
        case "error" | "timeout":
            return _counted(max_retry, retry_countdown, retried_count)
        case _:  # exhaustive: mypy flags a missing kind
            assert_never(failure)


def decide_flow_retry(
    *, max_retry: int, retry_countdown: float, retried_count: int
) -> RetryDecision:
    """Decide whether a failed flow is run again from scratch (same flow id).

    Args:
        max_retry: the flow's ``max_retry``.
        retry_countdown: the flow's ``retry_countdown``, in seconds.
        retried_count: retries of this flow so far (0 on the first run).

    Returns:
        The decision; with ``max_retry: 1`` a flow runs twice before it fails for good.

    Raises:
        ValueError: a negative count or countdown.
    """
    _check(max_retry, retry_countdown, retried_count)
    return _counted(max_retry, retry_countdown, retried_count)
