"""Reading what finished sub-flows report: parent mappings and paths such as ``flow2/Task3``.

A sub-flow ends with a :data:`~selinon_core.dispatch.events.FlowSummary`.  The parent flow keeps it
with the finished sub-flow node and uses it for:

* ``propagate_finished``: the sub-flow's finished nodes, nested by sub-flow name
  (``{"Task2": [ids], "flow3": {"Task4": [ids]}}``);
* ``propagate_compound_finished``: the same flattened, every task of every nested sub-flow
  under the direct sub-flow's name with the id lists concatenated;
* conditions naming ``flow2/Task3``: the last finished instance of ``Task3`` in the (last
  finished) sub-flow ``flow2``; nested paths descend further.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selinon_core.dispatch.events import FlowSummary

__all__ = ["compound_finished", "nested_finished", "resolve_path"]


def _subflow_ids(summary: FlowSummary, ids: list[str]) -> list[str]:
    subflows = summary.get("subflows", {})
    return [nid for nid in ids if nid in subflows]


def _merge_nested(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        if key not in into:
            into[key] = value
        elif isinstance(value, dict):
            _merge_nested(into[key], value)
        else:
            into[key] = [*into[key], *value]


def nested_finished(summary: FlowSummary) -> dict[str, Any]:
    """Finished nodes of a sub-flow, nested by sub-flow name (``propagate_finished``)."""
    out: dict[str, Any] = {}
    subflows = summary.get("subflows", {})
    for name, ids in summary.get("finished_nodes", {}).items():
        flow_ids = _subflow_ids(summary, ids)
        if not flow_ids:
            out[name] = list(ids)
            continue
        merged: dict[str, Any] = {}
        for fid in flow_ids:
            _merge_nested(merged, nested_finished(subflows[fid]))
        out[name] = merged
    return out


def compound_finished(summary: FlowSummary) -> dict[str, list[str]]:
    """Finished tasks of a sub-flow and all its nested sub-flows, flattened by task name."""
    out: dict[str, list[str]] = {}
    subflows = summary.get("subflows", {})
    for name, ids in summary.get("finished_nodes", {}).items():
        flow_ids = _subflow_ids(summary, ids)
        if not flow_ids:
            out.setdefault(name, []).extend(ids)
            continue
        for fid in flow_ids:
            for task, task_ids in compound_finished(subflows[fid]).items():
                out.setdefault(task, []).extend(task_ids)
    return out


def resolve_path(summary: FlowSummary, path: list[str]) -> tuple[str, str, str] | None:
    """Find the task a path through sub-flows names.

    Args:
        summary: the summary of the sub-flow named by the path's first element.
        path: the remaining names, e.g. ``["flow3", "Task4"]`` or ``["Task3"]``.

    Returns:
        ``(flow_name, task_name, task_id)`` of the last finished instance, or ``None`` when
        some element of the path has no finished instance.
    """
    current = summary
    for name in path[:-1]:
        ids = _subflow_ids(current, current.get("finished_nodes", {}).get(name, []))
        if not ids:
            return None
        current = current["subflows"][ids[-1]]
    task = path[-1]
    task_ids = current.get("finished_nodes", {}).get(task)
    if not task_ids:
        return None
    return current["flow_name"], task, task_ids[-1]
