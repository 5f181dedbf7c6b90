"""Throttling slot arithmetic."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selinon_core.config.spec import FlowSpec, TaskSpec
from selinon_core.dispatch.throttling import ThrottleDecision, next_slot, throttle_spacing


@pytest.mark.parametrize(
    ("last_slot", "now", "spacing", "expected"),
    [
        pytest.param(None, 100.0, 5.0, ThrottleDecision(None, 100.0), id="first-schedule"),
        pytest.param(100.0, 100.0, 5.0, ThrottleDecision(5.0, 105.0), id="same-instant"),
        pytest.param(100.0, 103.0, 5.0, ThrottleDecision(2.0, 105.0), id="partly-waited"),
        pytest.param(100.0, 105.0, 5.0, ThrottleDecision(None, 105.0), id="exactly-due"),
        pytest.param(100.0, 200.0, 5.0, ThrottleDecision(None, 200.0), id="long-ago"),
        pytest.param(110.0, 100.0, 5.0, ThrottleDecision(15.0, 115.0), id="queue-ahead"),
        pytest.param(100.0, 100.0, 0.0, ThrottleDecision(None, 100.0), id="zero-spacing"),
        pytest.param(
            110.0, 100.0, 0.0, ThrottleDecision(10.0, 110.0), id="zero-spacing-keeps-order"
        ),
    ],
)
def test_next_slot_table(
    last_slot: float | None, now: float, spacing: float, expected: ThrottleDecision
) -> None:
    assert next_slot(last_slot, now, spacing) == expected


def test_spacing_is_cumulative() -> None:
    """Three schedules at the same instant: countdowns None, Δ, 2Δ (Selinon gave None, Δ, Δ)."""
    slot: float | None = None
    countdowns = []
    for _ in range(3):
        decision = next_slot(slot, 1000.0, 0.25)
        countdowns.append(decision.countdown)
        slot = decision.slot
    assert countdowns == [None, 0.25, 0.5]
    assert slot == 1000.5


@pytest.mark.parametrize(
    ("last_slot", "now", "spacing", "message"),
    [
        (None, 0.0, -1.0, "spacing must not be negative"),
        (None, math.nan, 1.0, "now must be finite"),
        (None, 0.0, math.inf, "spacing must be finite"),
        (math.inf, 0.0, 1.0, "last_slot must be finite"),
    ],
)
def test_invalid_inputs(last_slot: float | None, now: float, spacing: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        next_slot(last_slot, now, spacing)


finite = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(
    start=finite,
    spacing=st.floats(min_value=0, max_value=1e3, allow_nan=False),
    gaps=st.lists(st.floats(min_value=0, max_value=1e3, allow_nan=False), max_size=20),
)
def test_schedules_are_spaced_and_never_early(
    start: float, spacing: float, gaps: list[float]
) -> None:
    now = start
    slot: float | None = None
    runs: list[float] = []
    for gap in [0.0, *gaps]:
        now += gap
        decision = next_slot(slot, now, spacing)
        run_at = now + (decision.countdown or 0.0)
        assert decision.slot >= now
        assert decision.countdown is None or decision.countdown > 0
        assert run_at == pytest.approx(decision.slot)
        if slot is not None:
            assert decision.slot >= slot + spacing
            # Never later than needed: either at once or exactly one spacing after the last.
            assert decision.slot in (now, slot + spacing)
        runs.append(decision.slot)
        slot = decision.slot
    assert runs == sorted(runs)


def test_throttle_spacing() -> None:
    task = TaskSpec.model_validate({"name": "T", "import": "m"})
    assert throttle_spacing(task) is None
    zero = TaskSpec.model_validate({"name": "T", "import": "m", "throttling": {}})
    assert throttle_spacing(zero) is None
    timed = TaskSpec.model_validate(
        {"name": "T", "import": "m", "throttling": {"minutes": 1, "seconds": 30}}
    )
    assert throttle_spacing(timed) == 90.0
    flow = FlowSpec.model_validate(
        {"name": "f", "edges": [{"from": None, "to": "T"}], "throttling": {"milliseconds": 250}}
    )
    assert throttle_spacing(flow) == 0.25
