"""Serialisation helpers shared by the storage adapters (JSON text, error records, names)."""

from __future__ import annotations

import json
import traceback
from collections.abc import Mapping
from typing import Any

from selinon_core.datastorage import ExcInfo
from selinon_core.errors import ResultMissing

__all__ = [
    "ERROR_SUFFIX",
    "RECORD_SUFFIXES",
    "check_name_part",
    "dumps",
    "error_record",
    "failure_of",
    "failure_record",
    "loads",
    "missing",
    "record_parts",
]

ERROR_SUFFIX = ".error"
"""Appended to the task id in the name of a failure record (``<task_id>.error.json``)."""
RECORD_SUFFIXES = ("", ERROR_SUFFIX)
"""The suffixes of every record a task may have: its result and its failure."""


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


def failure_record(node_args: Any, exc_info: ExcInfo, **names: str) -> dict[str, Any]:
    """The record ``store_error`` keeps: ``names`` (if any), ``node_args`` and ``error``.

    Args:
        node_args: the arguments the task was run with.
        exc_info: the failure, described by :func:`error_record`.
        **names: leading fields (``flow_name``, ``task_name``) for layouts whose key lacks them.
    """
    return {**names, "node_args": node_args, "error": error_record(exc_info)}


def failure_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """The error description (a fresh dict) inside a record built by :func:`failure_record`."""
    return dict(record["error"])


def missing(storage: str, flow_name: str, task_name: str, task_id: str) -> ResultMissing:
    """The error raised when no result is stored for ``task_id``."""
    return ResultMissing(
        f"{storage}: no result stored for task {task_name!r} of flow {flow_name!r} "
        f"with task id {task_id!r}"
    )


def record_parts(
    flow_name: str, task_name: str, task_id: str, suffix: str = ""
) -> tuple[str, str, str]:
    """The path segments of a record: flow name, task name and ``<task_id><suffix>.json``.

    Raises:
        ValueError: a name cannot be used as one path segment (see :func:`check_name_part`).
    """
    return (
        check_name_part("flow name", flow_name),
        check_name_part("task name", task_name),
        f"{check_name_part('task id', task_id)}{suffix}.json",
    )


def check_name_part(kind: str, value: str) -> str:
    """Reject names that cannot be used as one path/key segment (``/``, ``..``, empty).

    Raises:
        ValueError: ``value`` is empty, ``.``/``..``, or contains a ``/``, ``\\`` or NUL.
    """
    if not value or value in {".", ".."} or any(c in value for c in "/\\\x00"):
        raise ValueError(f"{kind} {value!r} cannot be used as a storage path segment")
    return value
