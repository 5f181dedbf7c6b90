"""Throttling as slot arithmetic: how long to delay a schedule so that schedules of one node are
at least ``spacing`` seconds apart.

The shell keeps one *slot* per throttled node name (the instant its latest schedule runs at),
and updates it atomically: under a lock in-process, with a compare-and-set in Redis or
PostgreSQL.  For each schedule it reads the slot, calls :func:`next_slot` with its clock's
``now``, stores the returned ``slot`` and delays the publish by ``countdown``.

Unlike Selinon, spacing is *cumulative*: three schedules at the same instant run at ``t``,
``t + Δ`` and ``t + 2Δ`` (Selinon ran the last two together at ``t + Δ``).  A top-level flow run
is never throttled; tasks and sub-flows with a ``throttling`` section are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from selinon_core.config.spec import FlowSpec, TaskSpec

__all__ = ["ThrottleDecision", "next_slot", "throttle_spacing"]


@dataclass(frozen=True, slots=True)
class ThrottleDecision:
    """What to do with one schedule of a throttled node.

    Attributes:
        countdown: seconds to delay the publish by, or ``None`` to publish at once.
        slot: the instant this schedule runs at; store it as the node's new slot.
    """

    countdown: float | None
    slot: float


def next_slot(last_slot: float | None, now: float, spacing: float) -> ThrottleDecision:
    """Place one schedule of a node ``spacing`` seconds after the node's previous one.

    Args:
        last_slot: the node's stored slot, or ``None`` if it was never scheduled (or the
            stored slot expired).
        now: the current time, in seconds on the same clock as the slots.
        spacing: the minimal distance between two schedules, in seconds.

    Returns:
        The decision: ``slot = max(now, last_slot + spacing)``; ``countdown = slot - now``, or
        ``None`` when that is not positive.

    Raises:
        ValueError: a value is not finite or ``spacing`` is negative.
    """
    for label, value in (("now", now), ("spacing", spacing), ("last_slot", last_slot or 0.0)):
        if not math.isfinite(value):
            raise ValueError(f"{label} must be finite, got {value!r}")
    if spacing < 0:
        raise ValueError(f"spacing must not be negative, got {spacing!r}")
    if last_slot is None:
        return ThrottleDecision(countdown=None, slot=now)
    slot = max(now, last_slot + spacing)
    countdown = slot - now
    return ThrottleDecision(countdown=countdown if countdown > 0 else None, slot=slot)


def throttle_spacing(node: TaskSpec | FlowSpec) -> float | None:
    """The spacing configured for a task or flow, in seconds; ``None`` when not throttled.

    A ``throttling`` section whose keys add up to zero means no throttling, as in Selinon.
    """
    if node.throttling is None:
        return None
    spacing = node.throttling.total_seconds()
    return spacing if spacing > 0 else None
