"""Sampling strategies and the default selective run routine."""

from __future__ import annotations

import inspect
from random import Random
from typing import Any

import pytest

from selinon_core import strategies as s
from selinon_core.routines import always_run


def status(
    previous: float | None = None,
    *,
    active: bool = True,
    started: bool = False,
    fallback: bool = False,
) -> dict[str, Any]:
    return {
        "previous_retry": previous,
        "active_nodes": ["T1"] if active else [],
        "failed_nodes": [],
        "new_started_nodes": ["T2"] if started else [],
        "new_fallback_nodes": ["F1"] if fallback else [],
        "finished_nodes": ["T0"],
    }


# (strategy, args, status, expected)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], float | None]] = [
    ("biexponential_increase", {}, status(), 2),
    ("biexponential_increase", {}, status(4, started=True), 8),
    ("biexponential_increase", {}, status(100, fallback=True), 120),
    ("biexponential_increase", {}, status(8), 2),
    ("biexponential_increase", {}, status(active=False), None),
    ("biexponential_increase", {"start_retry": 1, "max_retry": 5}, status(4, started=True), 5),
    ("biexponential_decrease", {"start_retry": 64, "stop_retry": 4}, status(), 64),
    ("biexponential_decrease", {"start_retry": 64, "stop_retry": 4}, status(64), 32),
    ("biexponential_decrease", {"start_retry": 64, "stop_retry": 4}, status(6, started=True), 4),
    ("biexponential_decrease", {"start_retry": 64, "stop_retry": 4}, status(active=False), None),
    ("biexponential_adapt", {"start_retry": 2, "max_retry": 30}, status(), 2),
    ("biexponential_adapt", {"start_retry": 2, "max_retry": 30}, status(16, started=True), 30),
    ("biexponential_adapt", {"start_retry": 2, "max_retry": 30}, status(16), 8),
    ("biexponential_adapt", {"start_retry": 2, "max_retry": 30}, status(3), 2),
    ("biexponential_adapt", {"start_retry": 2, "max_retry": 30}, status(active=False), None),
    ("linear_increase", {"start_retry": 1, "max_retry": 10, "step": 3}, status(), 1),
    ("linear_increase", {"start_retry": 1, "max_retry": 10, "step": 3}, status(4, started=True), 7),
    (
        "linear_increase",
        {"start_retry": 1, "max_retry": 10, "step": 3},
        status(9, started=True),
        10,
    ),
    ("linear_increase", {"start_retry": 1, "max_retry": 10, "step": 3}, status(9), 1),
    ("linear_increase", {"start_retry": 1, "max_retry": 10, "step": 3}, status(active=False), None),
    ("linear_adapt", {"start_retry": 2, "max_retry": 10, "step": 3}, status(), 2),
    ("linear_adapt", {"start_retry": 2, "max_retry": 10, "step": 3}, status(9, fallback=True), 10),
    ("linear_adapt", {"start_retry": 2, "max_retry": 10, "step": 3}, status(9), 6),
    ("linear_adapt", {"start_retry": 2, "max_retry": 10, "step": 3}, status(4), 2),
    ("linear_adapt", {"start_retry": 2, "max_retry": 10, "step": 3}, status(active=False), None),
    ("constant", {"retry": 0}, status(), 0),
    ("constant", {"retry": 5}, status(5, started=True), 5),
    ("constant", {"retry": 5}, status(active=False), None),
    ("random", {"start_retry": 1, "max_retry": 9}, status(active=False), None),
]


@pytest.mark.parametrize(("name", "args", "state", "expected"), CASES)
def test_strategy_table(
    name: str, args: dict[str, Any], state: dict[str, Any], expected: float | None
) -> None:
    assert getattr(s, name)(state, **args) == expected


def test_missing_status_keys_mean_nothing_active() -> None:
    assert s.biexponential_increase({}) is None
    assert s.constant({"previous_retry": 3}, retry=1) is None


def test_random_uses_the_given_generator() -> None:
    values = [s.random(status(), 1, 9, rng=Random(7)) for _ in range(3)]
    assert values == [Random(7).randint(1, 9)] * 3
    assert all(isinstance(v, int) and 1 <= v <= 9 for v in values)


def test_random_with_floats_gives_a_float_in_range() -> None:
    value = s.random(status(), 0.5, 1.5, rng=Random(1))
    assert isinstance(value, float)
    assert 0.5 <= value <= 1.5


def test_random_without_generator_is_deterministic_per_status() -> None:
    first = [s.random(status(previous), 1, 1000) for previous in (None, 2, 3, 4, 5)]
    again = [s.random(status(previous), 1, 1000) for previous in (None, 2, 3, 4, 5)]
    assert first == again
    assert all(v is not None and 1 <= v <= 1000 for v in first)
    assert len(set(first)) > 1  # the status feeds the seed


def test_random_does_not_touch_the_global_generator() -> None:
    import random as stdlib_random

    stdlib_random.seed(123)
    expected = stdlib_random.random()
    stdlib_random.seed(123)
    s.random(status(), 1, 9)
    assert stdlib_random.random() == expected


@pytest.mark.parametrize("name", [n for n in s.__all__ if n.islower()])
def test_every_strategy_takes_status_first(name: str) -> None:
    params = list(inspect.signature(getattr(s, name)).parameters)
    assert params[0] == "status"


def test_always_run_never_reuses_a_result() -> None:
    class Pool:
        def get_connected_storage(self, storage_name: str) -> Any:
            raise AssertionError("always_run reads no storage")

        def get(self, task_name: str) -> Any:
            raise AssertionError("always_run reads no result")

    assert always_run("flow1", "Task1", {"a": 1}, ["Task2"], Pool()) is None  # type: ignore[func-returns-value]
