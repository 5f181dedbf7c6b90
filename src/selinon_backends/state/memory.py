"""The in-memory flow-state store: a dict per process, thread-safe, with bounded retention."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from selinon_backends.ports import StoredFlow
from selinon_core.dispatch.actions import Action
from selinon_core.dispatch.events import FlowSummary
from selinon_core.dispatch.pmap import PMap
from selinon_core.dispatch.state import FlowState, flow_summary
from selinon_core.errors import ConflictError, RequestError

from .listing import Listable, ListPage, MemoryIndex, node_counts

__all__ = ["MemoryStateStore"]

_FINAL = ("succeeded", "failed")
COMPACT_ABOVE = 64
"""A finished flow that started more nodes than this is kept without its node log."""
COMPACT_BATCH = 32
"""Large finished flows are compacted in batches of this many."""
_stored = tuple.__new__
_EMPTY: PMap[str, Any] = PMap()


class MemoryStateStore(Listable):
    """Flow states and outboxes in a dict; finished flows kept (compact) up to ``retention``.

    Saves are compare-and-set on ``FlowState.version`` under a lock, so several threads may
    apply events to different flows (and race on one flow safely).  A finished flow stays
    loadable (late or duplicate events find it, fallbacks read its errors) until ``retention``
    newer flows have finished; then it is forgotten.  A finished flow of more than
    ``compact_above`` nodes is compacted (in batches, or by :meth:`compact`): its summary
    is kept, and its final state without the node log (``log``, ``done`` and ``active``
    empty; status, errors, failures and counters kept).

    Args:
        retention: how many finished flows to keep (at least 1).
        compact_above: keep finished flows that started more nodes than this compact.
    """

    durable = False
    """It dies with the process: the shell keeps no outbox here."""

    def __init__(self, *, retention: int = 10_000, compact_above: int = COMPACT_ABOVE) -> None:
        if retention < 1:
            raise ValueError("retention must be at least 1")
        self._flows: dict[str, StoredFlow] = {}
        self._finished: dict[str, None] = {}  # finished flow ids, oldest first
        self._summaries: dict[str, FlowSummary] = {}
        self._to_compact: list[str] = []
        self._retention = retention
        self._compact_above = compact_above
        self._lock = threading.Lock()
        self._finish = threading.Condition(self._lock)
        self._index = MemoryIndex()

    def load(self, *, flow_id: str) -> StoredFlow | None:
        """The stored flow, or ``None``."""
        return self._flows.get(flow_id)

    def save(
        self, *, state: FlowState, expected_version: int | None, outbox: Sequence[Action]
    ) -> None:
        """Store ``state`` and ``outbox`` if the stored version is ``expected_version``.

        Raises:
            ConflictError: another writer saved first.
        """
        flow_id = state.flow_id
        with self._lock:
            current = self._flows.get(flow_id)
            version = None if current is None else current.state.version
            if version != expected_version:
                raise ConflictError(
                    f"flow {flow_id}: stored version {version}, expected {expected_version}"
                )
            # tuple.__new__: a NamedTuple's own __new__ is a Python-level call (hot path)
            self._flows[flow_id] = _stored(
                StoredFlow, (state, outbox if type(outbox) is tuple else tuple(outbox))
            )
            if current is None:
                self._index.add(state, time.time())
            if state.status in _FINAL:
                self._index.finish(state, time.time())
                self._retire(flow_id, state)
                self._finish.notify_all()

    def _retire(self, flow_id: str, state: FlowState) -> None:
        """Count ``flow_id`` as the newest finished flow; forget the oldest beyond retention."""
        if state.seq > self._compact_above:
            self._to_compact.append(flow_id)
            if len(self._to_compact) >= COMPACT_BATCH:
                self._compact_pending()  # under the lock already
        finished = self._finished
        finished.pop(flow_id, None)
        finished[flow_id] = None
        while len(finished) > self._retention:
            old = next(iter(finished))
            del finished[old]
            self._summaries.pop(old, None)
            gone = self._flows.get(old)
            if gone is not None and gone.state.status in _FINAL:
                del self._flows[old]
                self._index.remove(old)

    def compact(self) -> None:
        """Drop the node logs of the large finished flows still kept, keeping their summaries.

        A finished flow only ignores late events and answers errors and summaries, and
        retained node logs would slow every garbage collection of the process.  It runs per
        batch of :data:`COMPACT_BATCH` flows, so flows dropped soon after they finish (the
        in-process engine drops error-free ones at the end of a run) cost nothing.
        """
        with self._lock:
            self._compact_pending()

    def _compact_pending(self) -> None:
        for flow_id in self._to_compact:
            stored = self._flows.get(flow_id)
            if stored is None or stored.state.status not in _FINAL or stored.state.log is None:
                continue
            state = stored.state
            self._summaries[flow_id] = flow_summary(state)
            compact = replace(state, log=None, done=_EMPTY, active=_EMPTY)
            self._flows[flow_id] = _stored(StoredFlow, (compact, stored.outbox))
        self._to_compact.clear()

    def mark_published(self, *, flow_id: str, version: int) -> None:
        """Empty the outbox saved with ``version``."""
        with self._lock:
            current = self._flows.get(flow_id)
            if current is not None and current.outbox and current.state.version == version:
                self._flows[flow_id] = StoredFlow(current.state)

    def forget(self, flow_id: str) -> None:
        """Drop finished flow ``flow_id`` and its sub-flows (ids ``flow_id.N...``).

        Raises:
            RequestError: the flow is still running.
        """
        with self._lock:
            stored = self._flows.get(flow_id)
            if stored is None:
                return
            if stored.state.status not in _FINAL:
                raise RequestError(f"flow id {flow_id!r} is in use by a running flow")
            prefix = flow_id + "."
            for key in [k for k in self._flows if k == flow_id or k.startswith(prefix)]:
                del self._flows[key]
                self._finished.pop(key, None)
                self._summaries.pop(key, None)
                self._index.remove(key)

    def discard(self, flow_id: str, *, keep_errors: bool = False) -> None:
        """Drop finished flow ``flow_id`` now (not its sub-flows); running or unknown: no-op.

        With ``keep_errors`` a flow that recorded failed tasks' errors is kept.
        """
        with self._lock:
            stored = self._flows.get(flow_id)
            if (
                stored is not None
                and stored.state.status in _FINAL
                and not (keep_errors and stored.state.errors)
            ):
                del self._flows[flow_id]
                self._finished.pop(flow_id, None)
                self._summaries.pop(flow_id, None)
                self._index.remove(flow_id)

    def _page(self, status: str | None, flow_name: str | None, offset: int, limit: int) -> ListPage:
        with self._lock:
            ids = self._index.matching(status, flow_name)
            rows = []
            for flow_id in ids[offset : offset + limit]:
                row = self._index.row(flow_id)
                stored = self._flows.get(flow_id)
                if row is None or stored is None:
                    continue
                nodes, active, failed = node_counts(stored.state)
                rows.append(replace(row, nodes=nodes, active=active, failed=failed))
        return ListPage(tuple(rows), len(ids), offset, limit)

    def _count(self, status: str | None, flow_name: str | None) -> int:
        with self._lock:
            return len(self._index.matching(status, flow_name))

    def summary(self, *, flow_id: str) -> FlowSummary | None:
        """The flow's summary as of its stored state."""
        summary = self._summaries.get(flow_id)
        if summary is not None:
            return summary
        stored = self._flows.get(flow_id)
        return None if stored is None else flow_summary(stored.state)

    def wait_finished(self, *, flow_id: str, timeout: float) -> FlowSummary | None:
        """The flow's summary once it has finished; ``None`` when ``timeout`` passed first.

        Woken by the save that finishes a flow (a condition variable).
        """
        deadline = time.monotonic() + timeout
        with self._finish:
            while True:
                stored = self._flows.get(flow_id)
                if stored is not None and stored.state.status in _FINAL:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._finish.wait(remaining)
        return self.summary(flow_id=flow_id)

    def close(self) -> None:
        """Nothing to release (the flows stay readable)."""

    def __len__(self) -> int:
        """How many flows are stored (running and retained finished ones)."""
        return len(self._flows)
