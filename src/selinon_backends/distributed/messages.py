"""The bytes of a distributed message: a task run or a flow event, in the wire envelope.

A message is the compact JSON ``{"m": <wire envelope>}`` plus, for a task that was retried,
``"r": <retries so far>`` (the report's retry count; the core's retry decision uses the
action's own ``attempt``).  It names ids and carries arguments, never results or flow
states: the summary of a finished sub-flow is left out of its ``SubflowFinished`` /
``SubflowFailed`` event and read from the flow-state store by the parent's dispatcher
(:func:`with_summary`), so a message stays small at any flow size.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, NamedTuple

from selinon_backends.ports import FlowStateStore
from selinon_core.dispatch import wire
from selinon_core.dispatch.actions import RunTask
from selinon_core.dispatch.events import Event, SubflowFailed, SubflowFinished
from selinon_core.errors import WireError

__all__ = ["Message", "pack", "unpack", "with_summary"]

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class Message(NamedTuple):
    """A decoded message: a task run or an event, and the task's retries so far."""

    payload: RunTask | Event
    retries: int = 0


def pack(payload: RunTask | Event, *, retries: int = 0) -> bytes:
    """The bytes of ``payload`` (sub-flow summaries left out).

    Raises:
        TypeError: a user value in it (``node_args``) is not JSON.
    """
    if (type(payload) is SubflowFinished or type(payload) is SubflowFailed) and payload.summary:
        payload = replace(payload, summary={})
    doc: dict[str, Any] = {"m": wire.encode(payload)}
    if retries:
        doc["r"] = retries
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
    if not isinstance(doc, dict) or "m" not in doc or not doc.keys() <= {"m", "r"}:
        raise WireError("not a selinon message (expected a JSON object with key 'm')")
    retries = doc.get("r", 0)
    if type(retries) is not int or retries < 0:
        raise WireError(f"'r' (retries) must be a non-negative integer, got {retries!r:.40}")
    payload = doc["m"]
    if isinstance(payload, dict) and payload.get("type") == "action":
        action = wire.decode_action(payload)
        if type(action) is not RunTask:
            raise WireError(f"a message carries a task run, not {type(action).__name__}")
        return Message(action, retries)
    return Message(wire.decode_event(payload), retries)


def with_summary(event: Event, store: FlowStateStore) -> Event:
    """``event`` with the finished sub-flow's summary read from ``store`` where it was left out."""
    if (type(event) is SubflowFinished or type(event) is SubflowFailed) and not event.summary:
        summary = store.summary(flow_id=event.node_id)
        if summary:
            return replace(event, summary=summary)
    return event
