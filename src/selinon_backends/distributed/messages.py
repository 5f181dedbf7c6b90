"""The bytes of a distributed message: a task run or a flow event, in the wire envelope.

A message is the compact JSON ``{"m": <wire envelope>}`` plus, for a task that was retried,
``"r": <retries so far>`` (the report's retry count; the core's retry decision uses the
action's own ``attempt``), and ``"p": 1`` when the node's ``parent`` mapping was left out
because it is large (a join after a 10,000-way foreach names 10,000 parents): the receiver
reads it from the node's start entry in the run journal (:mod:`.journal`), which the
dispatcher writes before it publishes the node.  It names ids and carries arguments, never
results or flow states: the summary of a finished sub-flow is left out of its ``SubflowFinished`` /
``SubflowFailed`` event and read from the flow-state store by the parent's dispatcher
(:func:`with_summary`), so a message stays small at any flow size.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, NamedTuple

from selinon_backends.distributed.journal import Journal, root_of
from selinon_backends.distributed.safety import FlowCheck
from selinon_backends.ports import FlowStateStore
from selinon_core.dispatch import wire
from selinon_core.dispatch.actions import RunTask
from selinon_core.dispatch.events import Event, FlowRequested, SubflowFailed, SubflowFinished
from selinon_core.errors import WireError

__all__ = [
    "PARENT_INLINE_MAX",
    "Message",
    "pack",
    "pack_check",
    "parent_is_large",
    "unpack",
    "with_parent",
    "with_summary",
]

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


PARENT_INLINE_MAX = 1024
"""Largest ``parent`` mapping (bytes of JSON) carried in a message; larger ones by reference."""


class Message(NamedTuple):
    """A decoded message: a task run, an event or a safety-net check; the task's retries so
    far; and whether the node's parent mapping is to be read from the journal."""

    payload: RunTask | Event | FlowCheck
    retries: int = 0
    parent_ref: bool = False


def _large(parent: Any) -> bool:
    if not parent:
        return False
    try:
        return len(_ENCODER.encode(parent)) > PARENT_INLINE_MAX
    except (TypeError, ValueError):
        return False


def pack(payload: RunTask | Event, *, retries: int = 0, parent_ref: bool = False) -> bytes:
    """The bytes of ``payload`` (sub-flow summaries left out; with ``parent_ref`` the task's or
    sub-flow's parent mapping too).

    Raises:
        TypeError: a user value in it (``node_args``) is not JSON.
    """
    if (type(payload) is SubflowFinished or type(payload) is SubflowFailed) and payload.summary:
        payload = replace(payload, summary={})
    if parent_ref:
        if type(payload) is RunTask:
            payload = replace(payload, parent={})
        elif type(payload) is FlowRequested:
            payload = replace(payload, parent=None)
    doc: dict[str, Any] = {"m": wire.encode(payload)}
    if retries:
        doc["r"] = retries
    if parent_ref:
        doc["p"] = 1
    return _ENCODER.encode(doc).encode("utf-8", "surrogatepass")


def unpack(raw: bytes | bytearray | str | memoryview) -> Message:
    """Inverse of :func:`pack`.

    Raises:
        WireError: not the bytes of a message of a wire version this release reads.
    """
    if isinstance(raw, memoryview):
        raw = raw.tobytes()
    try:
        doc = json.loads(raw)
    except (ValueError, TypeError, RecursionError) as exc:
        raise WireError(f"malformed JSON: {exc}"[:300]) from None
    if isinstance(doc, dict) and doc.keys() == {"c"}:
        return Message(_check(doc["c"]))
    if not isinstance(doc, dict) or "m" not in doc or not doc.keys() <= {"m", "r", "p"}:
        raise WireError("not a selinon message (expected a JSON object with key 'm')")
    retries = doc.get("r", 0)
    if type(retries) is not int or retries < 0:
        raise WireError(f"'r' (retries) must be a non-negative integer, got {retries!r:.40}")
    parent_ref = doc.get("p", 0) == 1
    payload = doc["m"]
    if isinstance(payload, dict) and payload.get("type") == "action":
        action = wire.decode_action(payload)
        if type(action) is not RunTask:
            raise WireError(f"a message carries a task run, not {type(action).__name__}")
        return Message(action, retries, parent_ref)
    return Message(wire.decode_event(payload), retries, parent_ref)


def pack_check(check: FlowCheck) -> bytes:
    """The bytes of a safety-net check: ``{"c": [flow_id, version, interval, stalled]}``."""
    return _ENCODER.encode({"c": list(check)}).encode("utf-8")


def _check(body: Any) -> FlowCheck:
    if (
        not isinstance(body, list)
        or len(body) != 4
        or not isinstance(body[0], str)
        or type(body[1]) is not int
        or not isinstance(body[2], int | float)
        or type(body[3]) is not int
    ):
        raise WireError("a safety-net check is [flow_id, version, interval, stalled]")
    return FlowCheck(body[0], body[1], float(body[2]), body[3])


def parent_is_large(payload: RunTask | Event) -> bool:
    """Whether ``payload``'s parent mapping should travel by reference (see the module doc)."""
    if type(payload) is RunTask or type(payload) is FlowRequested:
        return _large(payload.parent)
    return False


def with_parent(payload: RunTask | Event, journal: Journal) -> RunTask | Event:
    """``payload`` with the parent mapping read from its start entry in ``journal``.

    Raises:
        WireError: the journal has no start entry for the node (expired or never written).
    """
    if type(payload) is RunTask:
        return replace(payload, parent=_journaled_parent(payload.task_id, journal) or {})
    if type(payload) is FlowRequested:
        return replace(payload, parent=_journaled_parent(payload.flow_id, journal))
    return payload


def _journaled_parent(node_id: str, journal: Journal) -> Any:
    entry = journal.get(root=root_of(node_id), key=f"s:{node_id}")
    if entry is None:
        raise WireError(f"the parent mapping of node {node_id} is not in the run journal")
    return entry.get("parent")


def with_summary(event: Event, store: FlowStateStore) -> Event:
    """``event`` with the finished sub-flow's summary read from ``store`` where it was left out."""
    if (type(event) is SubflowFinished or type(event) is SubflowFailed) and not event.summary:
        summary = store.summary(flow_id=event.node_id)
        if summary:
            return replace(event, summary=summary)
    return event
