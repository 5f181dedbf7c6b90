"""Sampling strategies: how long to wait before the safety-net re-check of a running flow.

Selinon's dispatcher *polled* task states and a sampling strategy chose the delay between two
polls.  This engine is event driven: a finished node is an event and its successors start at
once.  A flow's ``sampling`` strategy gives the interval of the distributed runtime's safety-net
re-check of a running flow (a flow that stopped making progress because a message was lost
outside the runtime, see :mod:`selinon_backends.distributed.safety`), with ``None`` meaning
"no re-check needed".  The in-process runtime schedules no re-check.

A strategy has Selinon's signature ``fn(status, **args)``, where ``args`` are the ``args`` of
the flow's ``sampling`` entry and ``status`` is a :class:`SamplingStatus`.  Strategies must not
raise.  All built-ins return ``None`` when no node is active.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Collection, Mapping
from random import Random
from typing import Any, TypedDict

__all__ = [
    "DEFAULT_MAX_RETRY",
    "DEFAULT_START_RETRY",
    "SamplingStatus",
    "biexponential_adapt",
    "biexponential_decrease",
    "biexponential_increase",
    "constant",
    "linear_adapt",
    "linear_increase",
    "random",
]

DEFAULT_START_RETRY = 2
"""``start_retry`` of the default strategy, ``biexponential_increase``."""
DEFAULT_MAX_RETRY = 120
"""``max_retry`` of the default strategy, ``biexponential_increase``."""


class SamplingStatus(TypedDict, total=False):
    """What a strategy is told about the flow (Selinon's keys).

    Attributes:
        previous_retry: the interval returned last time, ``None`` on the first call.
        active_nodes: nodes scheduled or running.
        failed_nodes: nodes that failed.
        new_started_nodes: nodes started by the step just taken.
        new_fallback_nodes: fallback nodes started by the step just taken.
        finished_nodes: nodes that finished successfully.
    """

    previous_retry: float | None
    active_nodes: Collection[Any]
    failed_nodes: Collection[Any]
    new_started_nodes: Collection[Any]
    new_fallback_nodes: Collection[Any]
    finished_nodes: Collection[Any]


def _idle(status: Mapping[str, Any]) -> bool:
    return not status.get("active_nodes")


def _previous(status: Mapping[str, Any]) -> float | None:
    previous = status.get("previous_retry")
    return None if previous is None else float(previous)


def _started(status: Mapping[str, Any]) -> bool:
    return bool(status.get("new_started_nodes")) or bool(status.get("new_fallback_nodes"))


def _adapt(
    status: Mapping[str, Any],
    start_retry: float,
    grow: Callable[[float], float],
    shrink: Callable[[float], float],
) -> float | None:
    """The common shape of the adaptive strategies.

    ``None`` when no node is active, ``start_retry`` on the first call, then ``grow`` or
    ``shrink`` applied to the previous interval depending on whether new nodes started.
    """
    if _idle(status):
        return None
    previous = _previous(status)
    if previous is None:
        return start_retry
    return grow(previous) if _started(status) else shrink(previous)


def biexponential_increase(
    status: Mapping[str, Any],
    start_retry: float = DEFAULT_START_RETRY,
    max_retry: float = DEFAULT_MAX_RETRY,
) -> float | None:
    """Double the interval while new nodes start (up to ``max_retry``), else ``start_retry``.

    This is the default strategy.  The first call returns ``start_retry``.
    """
    return _adapt(status, start_retry, lambda p: min(p * 2, max_retry), lambda _: start_retry)


def biexponential_decrease(
    status: Mapping[str, Any], start_retry: float, stop_retry: float
) -> float | None:
    """Halve the interval on every call, from ``start_retry`` down to ``stop_retry``."""

    def halve(previous: float) -> float:
        return max(previous / 2, stop_retry)

    return _adapt(status, start_retry, halve, halve)


def biexponential_adapt(
    status: Mapping[str, Any], start_retry: float, max_retry: float
) -> float | None:
    """Double the interval while new nodes start (up to ``max_retry``), else halve it.

    The interval never drops below ``start_retry``.  Unlike Selinon, the first call returns
    ``None`` too when no node is active, as every other built-in does.
    """
    return _adapt(
        status,
        start_retry,
        lambda p: min(p * 2, max_retry),
        lambda p: max(p / 2, start_retry),
    )


def linear_increase(
    status: Mapping[str, Any], start_retry: float, max_retry: float, step: float
) -> float | None:
    """Add ``step`` while new nodes start (up to ``max_retry``), else go back to ``start_retry``."""
    return _adapt(status, start_retry, lambda p: min(p + step, max_retry), lambda _: start_retry)


def linear_adapt(
    status: Mapping[str, Any], start_retry: float, max_retry: float, step: float
) -> float | None:
    """Add ``step`` while new nodes start (up to ``max_retry``), else subtract it.

    The interval never drops below ``start_retry``.
    """
    return _adapt(
        status,
        start_retry,
        lambda p: min(p + step, max_retry),
        lambda p: max(p - step, start_retry),
    )


def random(
    status: Mapping[str, Any],
    start_retry: float,
    max_retry: float,
    rng: Random | None = None,
) -> float | None:
    """A random interval between ``start_retry`` and ``max_retry`` (both included).

    Integers give an integer (as Selinon's ``randint``), floats a float.  The randomness comes
    from ``rng`` when given; otherwise from a generator seeded by ``status`` itself, so that the
    same status always gives the same interval (the core must stay deterministic).  The global
    ``random`` module state is never read.
    """
    if _idle(status):
        return None
    generator = rng if rng is not None else Random(_seed(status))
    if isinstance(start_retry, int) and isinstance(max_retry, int):
        return generator.randint(start_retry, max_retry)
    return generator.uniform(start_retry, max_retry)


def _seed(status: Mapping[str, Any]) -> int:
    """A stable (process-independent) seed derived from the status."""
    parts = sorted((str(key), repr(value)) for key, value in status.items())
    return zlib.crc32(repr(parts).encode())


def constant(status: Mapping[str, Any], retry: float) -> float | None:
    """Always ``retry`` while some node is active."""
    if _idle(status):
        return None
    return retry
