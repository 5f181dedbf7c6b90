"""Task retry decisions: the core decides (``decide_task_retry``); this adapts the worker's view."""

from __future__ import annotations

from selinon_core.retry import TaskFailureKind, decide_task_retry
from selinon_core.spec import TaskSpec

__all__ = ["task_retry_countdown"]


def task_retry_countdown(spec: TaskSpec, attempt: int, *, failure: TaskFailureKind) -> float | None:
    """Seconds before retrying a failed task, or ``None`` when it fails for good.

    Args:
        spec: the task's configuration (``max_retry``, ``retry_countdown``).
        attempt: how many counted retries happened already.
        failure: ``error``, ``fatal`` or ``timeout``.
    """
    decision = decide_task_retry(
        max_retry=spec.max_retry,
        retry_countdown=spec.retry_countdown,
        retried_count=attempt,
        failure=failure,
    )
    return decision.countdown if decision.retry else None
