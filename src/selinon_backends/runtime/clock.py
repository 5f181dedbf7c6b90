"""Clocks for the in-process runtime: real time, or a virtual time that jumps over waits."""

from __future__ import annotations

import time

from selinon_backends.ports import Clock

__all__ = ["Clock", "RealClock", "VirtualClock"]


class RealClock:
    """Wall-clock time; waiting sleeps."""

    virtual = False

    def now(self) -> float:
        """``time.time()``."""
        return time.time()

    def wait_until(self, deadline: float) -> None:
        """Sleep until ``deadline``."""
        delay = deadline - time.time()
        if delay > 0:
            time.sleep(delay)


class VirtualClock:
    """A clock that only moves when asked: waits jump straight to their deadline.

    Use it (``--fast-forward``) to run flows with retry countdowns and throttling at full speed
    and deterministically: every event gets the same timestamps on every run.

    Args:
        start: the initial time, seconds since the epoch.
    """

    virtual = True

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        """The current virtual time."""
        return self._now

    def wait_until(self, deadline: float) -> None:
        """Jump to ``deadline`` (never backwards)."""
        self._now = max(self._now, deadline)

    def advance(self, seconds: float) -> None:
        """Move the time forward by ``seconds``."""
        self._now += max(0.0, seconds)
