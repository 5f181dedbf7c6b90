"""Listing the flows a flow-state store holds: what the dashboard's flows page shows.

Every store keeps an index, updated when a flow is created and when it finishes (never per
event), so that a page of the newest flows, filtered by status and flow name, is read without
scanning the flows themselves:

* memory: one insertion-ordered dict (start order), scanned by a filtered page;
* Redis: sorted sets by start time (all flows, per status, per name, per name and status);
* PostgreSQL: columns of the flow table with indexes on ``(status, started_at)`` and
  ``(flow_name, status, started_at)``.

Top-level flows and sub-flows are both listed; a sub-flow names its parent flow.  Pages are
newest first (by start time).  Statuses are listed as ``running`` (``retry_wait`` included),
``succeeded`` and ``failed``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from selinon_core.dispatch.state import FlowState

__all__ = [
    "LIST_STATUSES",
    "FlowListing",
    "ListPage",
    "Listable",
    "check_list_args",
    "listed_status",
    "node_counts",
]

LIST_STATUSES = ("running", "succeeded", "failed")
"""The statuses a listing can be filtered by."""

MAX_LIMIT = 1000
"""The largest page a listing returns."""


@dataclass(frozen=True, slots=True)
class FlowListing:
    """One flow of a listing.

    Attributes:
        flow_id: the flow instance id.
        flow_name: the flow's name.
        status: ``running``, ``succeeded`` or ``failed``.
        parent_flow_id: the parent flow's id for a sub-flow, else ``None``.
        started: when the store saw the flow first (seconds since the epoch).
        finished: when it finished (seconds since the epoch), ``None`` while running.
        nodes: how many nodes the flow started so far (``None`` when no longer known).
        active: how many of them are running (``None`` when no longer known).
        failed: how many task instances failed for good (``None`` when no longer known).
    """

    flow_id: str
    flow_name: str
    status: str
    parent_flow_id: str | None
    started: float
    finished: float | None = None
    nodes: int | None = None
    active: int | None = None
    failed: int | None = None

    def duration(self, now: float | None = None) -> float:
        """Seconds from start to finish (to ``now``, default the current time, while running)."""
        end = self.finished if self.finished is not None else (now or time.time())
        return max(0.0, end - self.started)


@dataclass(frozen=True, slots=True)
class ListPage:
    """A page of a listing.

    Attributes:
        items: the flows of the page, newest first.
        total: how many flows match the filter (all pages).
        offset: how many matching flows come before this page.
        limit: the page size asked for.
    """

    items: tuple[FlowListing, ...]
    total: int
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        """More matching flows follow this page."""
        return self.offset + len(self.items) < self.total


def listed_status(status: str) -> str:
    """The listing status of a flow status (``retry_wait`` lists as ``running``)."""
    return status if status in ("succeeded", "failed") else "running"


def node_counts(state: FlowState) -> tuple[int, int, int]:
    """``(nodes started, nodes running, failed task instances)`` of ``state``."""
    return state.seq, len(state.active), len(state.errors)


def check_list_args(status: str | None, offset: int, limit: int) -> None:
    """Refuse a filter or page a listing cannot serve.

    Raises:
        ValueError: unknown status, negative offset, or a limit outside 1..1000.
    """
    if status is not None and status not in LIST_STATUSES:
        raise ValueError(
            f"unknown flow status {status!r} to list: use one of {', '.join(LIST_STATUSES)}"
        )
    if offset < 0:
        raise ValueError(f"offset must not be negative, got {offset}")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")


class MemoryIndex:
    """The listing index of the in-memory store (its owner serialises the calls).

    One dict of rows in start order, so that the in-process engine pays a dict insert when a
    flow starts, two assignments when it finishes and a pop when it is dropped; a filtered
    page scans the rows (the store keeps at most ``retention`` finished flows: about a
    millisecond for 10,000).
    """

    def __init__(self) -> None:
        # flow id -> [flow name, listing status, parent id, started, finished]
        self._rows: dict[str, list[Any]] = {}

    def add(self, state: FlowState, now: float) -> None:
        """Index a flow that was just created (and may be finished already)."""
        status = listed_status(state.status)
        finished = None if status == "running" else now
        self._rows[state.flow_id] = [
            state.flow_name,
            status,
            state.parent_flow_id,
            now,
            finished,
        ]

    def finish(self, state: FlowState, now: float) -> None:
        """Move a flow that just finished to its final status."""
        row = self._rows.get(state.flow_id)
        if row is not None:
            row[1] = listed_status(state.status)
            row[4] = now

    def remove(self, flow_id: str) -> None:
        """Forget a flow the store dropped."""
        self._rows.pop(flow_id, None)

    def row(self, flow_id: str) -> FlowListing | None:
        """The indexed row of ``flow_id`` (without node counts)."""
        found = self._rows.get(flow_id)
        return None if found is None else FlowListing(flow_id, *found)

    def matching(self, status: str | None, flow_name: str | None) -> list[str]:
        """The ids matching the filter, newest first."""
        rows = self._rows
        if status is None and flow_name is None:
            return list(reversed(rows))
        return [
            flow_id
            for flow_id in reversed(rows)
            if (status is None or rows[flow_id][1] == status)
            and (flow_name is None or rows[flow_id][0] == flow_name)
        ]


class Listable:
    """``list_flows`` and ``count_flows`` of a flow-state store.

    A store implements :meth:`_page` and :meth:`_count` for arguments already checked.
    """

    def list_flows(
        self,
        *,
        status: str | None = None,
        flow_name: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> ListPage:
        """A page of the stored flows, newest first.

        Args:
            status: only ``running``, ``succeeded`` or ``failed`` flows.
            flow_name: only flows of this name.
            offset: how many matching flows to skip.
            limit: the page size (1 to 1000).

        Raises:
            ValueError: unknown status or a bad page.
            TransientBackendError: the store is unreachable.
        """
        check_list_args(status, offset, limit)
        return self._page(status, flow_name, offset, limit)

    def count_flows(self, *, status: str | None = None, flow_name: str | None = None) -> int:
        """How many stored flows match the filter.

        Raises:
            ValueError: unknown status.
            TransientBackendError: the store is unreachable.
        """
        check_list_args(status, 0, 1)
        return self._count(status, flow_name)

    def _page(self, status: str | None, flow_name: str | None, offset: int, limit: int) -> ListPage:
        raise NotImplementedError

    def _count(self, status: str | None, flow_name: str | None) -> int:
        raise NotImplementedError
