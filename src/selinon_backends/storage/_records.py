"""Serialisation helpers shared by the storage adapters (JSON text, error records, names)."""

from __future__ import annotations

import json
import traceback
from typing import Any

from selinon_core.datastorage import ExcInfo
from selinon_core.errors import ResultMissing

__all__ = [
    "check_name_part",
    "dumps",
    "error_record",
    "loads",
    "missing",
]


def dumps(value: Any) -> str:
    """``value`` as compact JSON text (non-ASCII kept as is).

    Raises:
        TypeError: ``value`` is not JSON-serialisable; the message says so plainly.
    """
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"result is not JSON-serialisable: {exc}") from exc


def loads(text: str | bytes) -> Any:
    """Parse JSON text written by :func:`dumps`."""
    return json.loads(text)


def error_record(exc_info: ExcInfo) -> dict[str, Any]:
    """A JSON-ready description of a task failure: ``type``, ``value`` and ``traceback``."""
    exc_type, exc_value, exc_tb = exc_info
    return {
        "type": f"{exc_type.__module__}.{exc_type.__qualname__}",
        "value": str(exc_value),
        "traceback": "".join(traceback.format_exception(exc_type, exc_value, exc_tb)),
    }


def missing(storage: str, flow_name: str, task_name: str, task_id: str) -> ResultMissing:
    """The error raised when no result is stored for ``task_id``."""
    return ResultMissing(
        f"{storage}: no result stored for task {task_name!r} of flow {flow_name!r} "
        f"with task id {task_id!r}"
    )


def check_name_part(kind: str, value: str) -> str:
    """Reject names that cannot be used as one path/key segment (``/``, ``..``, empty).

    Raises:
        ValueError: ``value`` is empty, ``.``/``..``, or contains a ``/``, ``\\`` or NUL.
    """
    if not value or value in {".", ".."} or any(c in value for c in "/\\\x00"):
        raise ValueError(f"{kind} {value!r} cannot be used as a storage path segment")
    return value
