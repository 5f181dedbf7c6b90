"""Predicates module used by the dispatcher tests (``global.predicates_module``)."""

from __future__ import annotations

from typing import Any

from selinon_core.predicates import *  # noqa: F403


def boom() -> bool:
    """A predicate that always raises."""
    raise ValueError("boom")


def argsFieldLess(node_args: Any, key: str, value: Any) -> bool:
    """``node_args[key] < value``."""
    return bool(node_args[key] < value)


def counterBelow(message: Any, limit: int) -> bool:
    """The message is an int below ``limit``."""
    return isinstance(message, int) and message < limit
