"""The in-memory throttle slot store: the atomic part of throttling (the core does the math)."""

from __future__ import annotations

import threading

from selinon_core.dispatch.throttling import next_slot

__all__ = ["MemorySlotStore"]


class MemorySlotStore:
    """Per-key last slot in this process (a :class:`selinon_backends.ports.SlotStore`).

    Reservations for a key are spaced ``spacing`` seconds apart, cumulatively: three requests
    at the same instant start at ``t``, ``t+Δ`` and ``t+2Δ``.
    """

    def __init__(self) -> None:
        self._slots: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, *, key: str, spacing: float, now: float) -> float:
        """Reserve the next slot of ``key``; return the countdown until it (0 = start now)."""
        with self._lock:
            decision = next_slot(self._slots.get(key), now, spacing)
            self._slots[key] = decision.slot
        return decision.countdown or 0.0
