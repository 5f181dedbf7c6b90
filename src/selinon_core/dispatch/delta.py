"""Incremental persistence: what one step changed in a flow state, as JSON-ready data.

``FlowState.to_dict()`` is O(state): fine for small flows, wasteful for a 10,000-way fan-out that
a state store would rewrite on every event.  :func:`state_delta` computes the change from the
state before a step to the state after it in O(change): the persistent maps share every
untouched subtree and the finished-instance log only grows, so shared parts are skipped by
identity.  A store keeps the ``to_dict()`` document (or its own layout of it) and applies deltas
with :func:`apply_delta`; replaying every delta of a flow rebuilds its latest document exactly.

Delta layout (every key optional except the versions)::

    {"from_version": 7, "version": 8,
     "fields": {"status": "running", ...},             # top-level values that changed
     "triggered_add": [edge_index, ...],               # edges that fired for the first time
     "active_set": {node_id: name}, "active_del": [node_id, ...],
     "log_append": [[name, node_id, summary], ...],    # or "log_reset": the full new log
     "tracked_append": {name: [node_id, ...]},         # new finished instances per name
     "tracked_set": {name: [node_id, ...]}, "tracked_del": [name, ...],
     "failed_set": {name: [node_id, ...]}, "failed_del": [name, ...]}
"""

from __future__ import annotations

import bisect
from typing import Any

from selinon_core.dispatch.pmap import Cons, PMap, cons_list
from selinon_core.dispatch.state import FlowState, error_to_dict

__all__ = ["apply_delta", "state_delta"]

_SCALARS = (
    "status",
    "node_args",
    "initial_node_args",
    "retried_count",
    "seq",
    "args_pending",
    "timer_id",
    "parent_flow_id",
    "parent_flow_name",
    "report_to_parent",
    "migration_version",
)


def _appended(new: Cons, old: Cons) -> list[Any] | None:
    """Entries added in front of ``old`` to make ``new`` (oldest first), ``None`` if replaced."""
    added: list[Any] = []
    while new is not old:
        if new is None:
            return None
        added.append(new[0])
        new = new[1]
    added.reverse()
    return added


def _new_bits(mask: int) -> list[int]:
    """Indexes of the set bits of ``mask``, cheap when few bits are set."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _fields(old: FlowState, new: FlowState) -> dict[str, Any]:
    fields = {
        name: getattr(new, name)
        for name in _SCALARS
        if getattr(new, name) is not getattr(old, name) and getattr(new, name) != getattr(old, name)
    }
    if new.triggered != old.triggered and new.triggered & old.triggered != old.triggered:
        fields["triggered"] = new.triggered_edges()  # edges were forgotten: a flow retry
    if new.selective is not old.selective:
        fields["selective"] = None if new.selective is None else new.selective.to_dict()
    if new.parent is not old.parent:
        fields["parent"] = None if new.parent is None else dict(new.parent)
    return fields


def _map_delta(
    delta: dict[str, Any], key: str, new: PMap[str, Any], old: PMap[str, Any], render: Any
) -> None:
    changed, removed = new.diff(old)
    if changed:
        delta[f"{key}_set"] = {name: render(value) for name, value in sorted(changed)}
    if removed:
        delta[f"{key}_del"] = sorted(removed)


def _tracked_delta(delta: dict[str, Any], new: PMap[str, Cons], old: PMap[str, Cons]) -> None:
    changed, removed = new.diff(old)
    for name, items in sorted(changed):
        appended = _appended(items, old.get(name))
        if appended is None:
            delta.setdefault("tracked_set", {})[name] = [e[0] for e in cons_list(items)]
        else:
            delta.setdefault("tracked_append", {})[name] = [e[0] for e in appended]
    if removed:
        delta["tracked_del"] = sorted(removed)


def state_delta(old: FlowState, new: FlowState) -> dict[str, Any]:
    """The change from ``old`` to ``new`` (a later state of the same flow), JSON-ready."""
    delta: dict[str, Any] = {"from_version": old.version, "version": new.version}
    fields = _fields(old, new)
    if fields:
        delta["fields"] = fields
    _map_delta(delta, "active", new.active, old.active, lambda name: name)
    _map_delta(delta, "failed", new.failed, old.failed, list)
    if new.errors is not old.errors:
        _map_delta(delta, "errors", new.errors, old.errors, error_to_dict)
    _tracked_delta(delta, new.done, old.done)
    if new.triggered & old.triggered == old.triggered and new.triggered != old.triggered:
        delta["triggered_add"] = _new_bits(new.triggered & ~old.triggered)
    appended = _appended(new.log, old.log)
    if appended is None:
        delta["log_reset"] = [list(entry) for entry in cons_list(new.log)]
    elif appended:
        delta["log_append"] = [list(entry) for entry in appended]
    return delta


def apply_delta(doc: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """Apply ``delta`` to a ``to_dict()`` document **in place** and return it.

    The result equals the later state's ``to_dict()`` (key order may differ).

    Raises:
        ValueError: the document's version is not the delta's ``from_version``.
    """
    if doc["version"] != delta["from_version"]:
        raise ValueError(
            f"delta from version {delta['from_version']} cannot apply to version {doc['version']}"
        )
    doc["version"] = delta["version"]
    doc.update(delta.get("fields", {}))
    triggered = doc["triggered"]
    for index in delta.get("triggered_add", ()):  # never present yet: they are new bits
        bisect.insort(triggered, index)
    for key in ("active", "tracked", "failed", "errors"):
        section = doc.setdefault(key, {})
        for name in delta.get(f"{key}_del", ()):
            del section[name]
        section.update(delta.get(f"{key}_set", {}))
    for name, ids in delta.get("tracked_append", {}).items():
        doc["tracked"].setdefault(name, []).extend(ids)
    if "log_reset" in delta:
        doc["finished"] = list(delta["log_reset"])
    else:
        doc["finished"].extend(delta.get("log_append", ()))
    return doc
