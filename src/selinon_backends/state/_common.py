"""What the Redis and PostgreSQL flow-state stores share: records, the cache, deltas on states.

A durable store keeps, per flow, a *snapshot* (``dumps(state)``, with an id of its own) and the
*deltas* written since (``dumps(state_delta(previous, new))``), oldest first.  The store's
version is the last delta's (or the snapshot's) version.  This module holds the pieces that do
not depend on the server:

* :class:`StateCache`: a bounded LRU of the last state each flow was loaded or saved at, with
  where that state sits in the stored chain (snapshot id, delta index), so that ``save`` can
  write a delta and ``load`` can fetch only the deltas it has not seen;
* :func:`advance`: a delta applied to a :class:`FlowState` in O(change) (the document form has
  :func:`~selinon_core.dispatch.delta.apply_delta`; rebuilding a state from a document is
  O(state), which ``load`` must avoid);
* encoders and decoders of snapshots, deltas, outboxes and summaries;
* :func:`final_state`: what a finished flow is kept as (compact when large).
"""

from __future__ import annotations

import json
import math
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, cast

from selinon_core.dispatch.actions import Action
from selinon_core.dispatch.delta import state_delta
from selinon_core.dispatch.events import FlowSummary
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.dispatch.pmap import Cons, PMap, cons_iter
from selinon_core.dispatch.state import FlowState, error_from_dict, flow_summary
from selinon_core.dispatch.wire import decode_action, decode_delta, decode_state, encode_action
from selinon_core.dispatch.wire import dumps as wire_dumps
from selinon_core.errors import WireError

__all__ = [
    "COMPACT_ABOVE",
    "FINAL",
    "Cached",
    "StaleCache",
    "StateCache",
    "Write",
    "advance",
    "cached_after",
    "check_slot_args",
    "decode_outbox",
    "decode_summary",
    "dump_delta",
    "dump_state",
    "encode_outbox",
    "encode_summary",
    "final_state",
    "load_delta",
    "load_snapshot",
    "new_snapshot_id",
    "plan_write",
    "redact",
]

FINAL = ("succeeded", "failed")
COMPACT_ABOVE = 64
"""A finished flow that started more nodes than this is kept without its node log."""
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_EMPTY: PMap[str, Any] = PMap()
_KEY_VALUE_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


class Cached(NamedTuple):
    """A flow's state as this process last loaded or saved it, and where it sits in the chain.

    Attributes:
        state: the state (``state.version`` is the stored version it was read or written at).
        snapshot_id: the id of the snapshot the stored chain starts from.
        deltas: how many deltas follow that snapshot up to ``state`` (0: the snapshot itself).
        snapshot_size: bytes of the snapshot.
        delta_size: bytes of the deltas after the snapshot, up to ``state``.
    """

    state: FlowState
    snapshot_id: str
    deltas: int
    snapshot_size: int
    delta_size: int

    def wants_snapshot(self, delta_bytes: int) -> bool:
        """Whether the next save should write a snapshot instead of a ``delta_bytes`` delta.

        The deltas since the last snapshot may weigh as much as the snapshot; beyond, a fresh
        snapshot costs no more than the deltas already written (amortised O(1) per event).
        """
        return self.delta_size + delta_bytes > max(self.snapshot_size, 4096)


class StaleCache(Exception):
    """The cached state is not on the stored chain of deltas: load the flow whole."""


class StateCache:
    """A thread-safe LRU of :class:`Cached` entries by flow id, at most ``size`` of them."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError("cache_size must not be negative")
        self._size = size
        self._entries: OrderedDict[str, Cached] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, flow_id: str) -> Cached | None:
        """The entry of ``flow_id`` (now the most recently used), or ``None``."""
        with self._lock:
            entry = self._entries.get(flow_id)
            if entry is not None:
                self._entries.move_to_end(flow_id)
            return entry

    def put(self, flow_id: str, entry: Cached) -> None:
        """Remember ``entry``; the least recently used entry goes beyond ``size``."""
        if not self._size:
            return
        with self._lock:
            self._entries[flow_id] = entry
            self._entries.move_to_end(flow_id)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def drop(self, flow_id: str) -> None:
        """Forget ``flow_id``."""
        with self._lock:
            self._entries.pop(flow_id, None)

    def __len__(self) -> int:
        return len(self._entries)


def new_snapshot_id() -> str:
    """A fresh snapshot id (random: a re-created flow never matches an old cache entry)."""
    return uuid.uuid4().hex[:16]


def dump_state(state: FlowState) -> bytes:
    """The stored form of a snapshot: the wire envelope of ``state``."""
    return wire_dumps(state)


def dump_delta(old: FlowState, new: FlowState) -> bytes:
    """The stored form of the delta from ``old`` to ``new``."""
    return wire_dumps(state_delta(old, new))


def load_snapshot(raw: bytes | str) -> FlowState:
    """Inverse of :func:`dump_state`.

    Raises:
        WireError: the bytes are not a valid state envelope.
    """
    return decode_state(_json(raw))


def load_delta(raw: bytes | str) -> dict[str, Any]:
    """Inverse of :func:`dump_delta`.

    Raises:
        WireError: the bytes are not a valid delta envelope.
    """
    return decode_delta(_json(raw))


def _json(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise WireError(f"malformed JSON in a flow-state store: {exc}"[:300]) from None


def encode_outbox(outbox: Sequence[Action]) -> str:
    """The stored form of an outbox (``""`` when empty)."""
    if not outbox:
        return ""
    return _ENCODER.encode([encode_action(action) for action in outbox])


def decode_outbox(raw: bytes | str | None) -> tuple[Action, ...]:
    """Inverse of :func:`encode_outbox` (``None`` or empty: no actions)."""
    if not raw:
        return ()
    return tuple(decode_action(item) for item in _json(raw))


def encode_summary(summary: FlowSummary) -> str:
    """The stored form of a flow summary."""
    return _ENCODER.encode(summary)


def decode_summary(raw: bytes | str) -> FlowSummary:
    """Inverse of :func:`encode_summary`."""
    return cast(FlowSummary, _json(raw))


def final_state(state: FlowState, compact_above: int) -> FlowState:
    """What a finished flow is kept as: without its node log when it started many nodes."""
    if state.seq > compact_above and state.log is not None:
        return replace(state, log=None, done=_EMPTY, active=_EMPTY)
    return state


@dataclass(frozen=True, slots=True)
class Write:
    """One save as the server-specific code carries it out.

    Attributes:
        state: the new state.
        payload: a snapshot (``snapshot_id`` set) or a delta (``snapshot_id`` None).
        snapshot_id: the new snapshot's id, or ``None`` for a delta.
        base: the cache entry the delta extends (``None`` for a snapshot).
        outbox: the encoded outbox.
        summary: the encoded summary of a finished flow, else ``None``.
    """

    state: FlowState
    payload: bytes
    snapshot_id: str | None
    base: Cached | None
    outbox: str
    summary: str | None

    @property
    def finished(self) -> bool:
        """The save finishes the flow."""
        return self.summary is not None


def plan_write(
    state: FlowState,
    cached: Cached | None,
    expected_version: int | None,
    outbox: Sequence[Action],
    compact_above: int,
) -> Write:
    """Choose between a delta (the cache holds ``expected_version``) and a snapshot.

    A finished flow is always written as a snapshot (compact when large), its deltas dropped.
    """
    encoded_outbox = encode_outbox(outbox)
    if state.status in FINAL:
        kept = final_state(state, compact_above)
        summary = encode_summary(flow_summary(state))
        return Write(kept, dump_state(kept), new_snapshot_id(), None, encoded_outbox, summary)
    if (
        cached is not None
        and expected_version is not None
        and cached.state.version == expected_version
    ):
        delta = dump_delta(cached.state, state)
        if not cached.wants_snapshot(len(delta)):
            return Write(state, delta, None, cached, encoded_outbox, None)
    return Write(state, dump_state(state), new_snapshot_id(), None, encoded_outbox, None)


def cached_after(write: Write, index: int | None = None) -> Cached:
    """The cache entry a successful ``write`` leaves (``index``: the delta's, when known)."""
    size = len(write.payload)
    if write.snapshot_id is not None:
        return Cached(write.state, write.snapshot_id, 0, size, 0)
    base = write.base
    assert base is not None
    at = base.deltas + 1 if index is None else index
    return Cached(write.state, base.snapshot_id, at, base.snapshot_size, base.delta_size + size)


# --------------------------------------------------------------------------- deltas on states


def advance(state: FlowState, delta: dict[str, Any]) -> FlowState:
    """``state`` with ``delta`` applied, in O(change): the state ``delta`` was computed to.

    Raises:
        ValueError: ``delta`` does not start at ``state.version``.
    """
    if delta["from_version"] != state.version:
        raise ValueError(
            f"delta from version {delta['from_version']} cannot apply to version {state.version}"
        )
    changes: dict[str, Any] = {"version": delta["version"]}
    for name, value in delta.get("fields", {}).items():
        changes[name] = _field(name, value)
    added = delta.get("triggered_add")
    if added:
        triggered = changes.get("triggered", state.triggered)
        changes["triggered"] = triggered | sum(1 << index for index in added)
    _apply_map(changes, "active", state.active, delta, lambda value: value)
    _apply_map(changes, "failed", state.failed, delta, tuple)
    _apply_map(changes, "errors", state.errors, delta, error_from_dict)
    log = _advance_log(state.log, delta)
    if log is not state.log:
        changes["log"] = log
    done = _advance_done(state.done, log, delta)
    if done is not state.done:
        changes["done"] = done
    return replace(state, **changes)


def _field(name: str, value: Any) -> Any:
    if name == "triggered":
        return sum(1 << index for index in value)
    if name == "selective":
        return None if value is None else SelectivePlan.from_dict(value)
    return value


def _apply_map(
    changes: dict[str, Any], key: str, current: PMap[str, Any], delta: dict[str, Any], make: Any
) -> None:
    removed, changed = delta.get(f"{key}_del"), delta.get(f"{key}_set")
    if not removed and not changed:
        return
    for name in removed or ():
        current = current.delete(name)
    for name, value in (changed or {}).items():
        current = current.set(name, make(value))
    changes[key] = current


def _advance_log(log: Cons, delta: dict[str, Any]) -> Cons:
    if "log_reset" in delta:
        log = None
        entries = delta["log_reset"]
    else:
        entries = delta.get("log_append", ())
    for name, nid, summary in entries:
        log = ((name, nid, summary), log)
    return log


def _advance_done(done: PMap[str, Cons], log: Cons, delta: dict[str, Any]) -> PMap[str, Cons]:
    appended, reset, removed = (
        delta.get("tracked_append"),
        delta.get("tracked_set"),
        delta.get("tracked_del"),
    )
    if not appended and not reset and not removed:
        return done
    summaries = {nid: summary for _, nid, summary in delta.get("log_append", ())}

    def summary_of(nid: str) -> Any:
        if nid in summaries:
            return summaries[nid]
        for _, logged, summary in cons_iter(log):  # rare: an instance of an older step
            summaries.setdefault(logged, summary)
        return summaries.get(nid)

    for name in removed or ():
        done = done.delete(name)
    for name, ids in (reset or {}).items():
        items: Cons = None
        for nid in ids:
            items = ((nid, summary_of(nid)), items)
        done = done.set(name, items)
    for name, ids in (appended or {}).items():
        items = done.get(name)
        for nid in ids:
            items = ((nid, summary_of(nid)), items)
        done = done.set(name, items)
    return done


def check_slot_args(spacing: float, now: float) -> None:
    """Refuse what :func:`~selinon_core.dispatch.throttling.next_slot` refuses.

    Raises:
        ValueError: ``now`` or ``spacing`` is not finite, or ``spacing`` is negative.
    """
    for label, value in (("now", now), ("spacing", spacing)):
        if not math.isfinite(value):
            raise ValueError(f"{label} must be finite, got {value!r}")
    if spacing < 0:
        raise ValueError(f"spacing must not be negative, got {spacing!r}")


def redact(url: str) -> str:
    """``url`` (or a libpq ``key=value`` string) with any password replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _KEY_VALUE_PASSWORD.sub(r"\1***", url)
    userinfo, at, host = rest.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"
