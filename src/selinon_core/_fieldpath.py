"""Nested field lookups and comparisons that never raise, for the built-in predicates.

A *key* is one key, or a list (or tuple) of keys read one after the other: ``["a", 0]`` reads
``value["a"][0]``.  A lookup that fails at any step gives :data:`MISSING`; a comparison that
fails, or whose field is missing, gives ``False``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, Final, TypeAlias
from urllib.parse import urlparse

__all__ = [
    "MISSING",
    "Key",
    "compare",
    "compare_len",
    "contains",
    "field_is",
    "is_empty",
    "lookup",
    "url_part",
]

Key: TypeAlias = Hashable | Sequence[Hashable]
"""One key, or a list (or tuple) of keys for a nested lookup."""


MISSING: Final = object()
"""The marker for a lookup that found nothing."""


def lookup(container: Any, key: Key) -> Any:
    """``container[k1][k2]...`` for the keys in ``key``, or ``MISSING`` if any step fails."""
    path = key if isinstance(key, list | tuple) else (key,)
    value = container
    for part in path:
        try:
            value = value[part]
        except Exception:
            return MISSING
    return value


def compare(container: Any, key: Key, op: Callable[[Any, Any], Any], value: Any) -> bool:
    """``op(field, value)`` as a bool; ``False`` if the field is missing or ``op`` raises."""
    found = lookup(container, key)
    if found is MISSING:
        return False
    try:
        return bool(op(found, value))
    except Exception:
        return False


def compare_len(container: Any, key: Key, op: Callable[[Any, Any], Any], length: int) -> bool:
    """``op(len(field), length)``; ``False`` if the field is missing or has no length."""
    found = lookup(container, key)
    if found is MISSING:
        return False
    try:
        return bool(op(len(found), length))
    except Exception:
        return False


def contains(container: Any, value: Any) -> bool:
    """``value in container`` (an operator for :func:`compare`)."""
    return value in container


def field_is(container: Any, key: Key, kind: type) -> bool:
    """The field exists and is an instance of ``kind``."""
    found = lookup(container, key)
    return found is not MISSING and isinstance(found, kind)


def url_part(container: Any, key: Key, part: str, expected: str) -> bool:
    """The field is a URL string whose ``part`` (``netloc``, ``path``, ...) is ``expected``."""
    found = lookup(container, key)
    if not isinstance(found, str):
        return False
    try:
        return bool(getattr(urlparse(found), part) == expected)
    except ValueError:
        return False


def is_empty(value: Any) -> bool:
    """``None``, or a value of length 0 (a number is not empty)."""
    if value is None:
        return True
    try:
        return len(value) == 0
    except TypeError:
        return False
