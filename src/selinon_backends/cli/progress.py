"""A live progress display for terminals: what runs now, what waits, and how long it has taken.

Per flow instance the table counts nodes in each state; under it come the elapsed time, the
tasks running now and the countdowns in progress (a retry waiting 5 s says so, as does a wait
for a throttled task).  Only ``selinon-cli execute`` on a terminal imports this module (and so
``rich``).
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from selinon_backends.ports import Clock
from selinon_backends.runtime.report import NodeRun

__all__ = ["Progress", "ProgressClock"]

_COLUMNS = ("scheduled", "running", "succeeded", "failed")
_STYLES = {"scheduled": "dim", "running": "cyan", "succeeded": "green", "failed": "red"}
_SHOWN = 5
"""How many running tasks (and retries) are named before "and N more"."""


class Progress:
    """Counts node states per flow instance and renders them live (use as an engine observer).

    Args:
        console: where to draw (stderr by default, so that a report on stdout stays clean).
        color: ``False`` draws without colours (``--no-color``).
    """

    def __init__(self, console: Console | None = None, *, color: bool = True) -> None:
        self.console = console or Console(stderr=True, no_color=not color)
        self.counts: dict[tuple[str, str], dict[str, int]] = {}
        self.running: dict[str, NodeRun] = {}
        self.retrying: dict[str, NodeRun] = {}
        self.deadline: float | None = None
        """Real time the runtime sleeps until (set by :class:`ProgressClock`), else ``None``."""
        self.started = time.monotonic()
        self._last: dict[str, tuple[tuple[str, str], str]] = {}
        self._live: Live | None = None

    def __call__(self, record: NodeRun) -> None:
        """Observe a status change of ``record``."""
        key = (record.flow_name, record.flow_id)
        node_id = record.node_id
        previous = self._last.get(node_id)
        if previous is not None:
            self.counts[previous[0]][previous[1]] -= 1
        row = self.counts.get(key)
        if row is None:
            row = self.counts[key] = dict.fromkeys(_COLUMNS, 0)
        row[record.status] += 1
        self._last[node_id] = (key, record.status)
        self.running.pop(node_id, None)
        self.retrying.pop(node_id, None)
        if record.status == "running" and record.kind == "task":
            self.running[node_id] = record
        elif record.status == "scheduled" and record.retries:
            self.retrying[node_id] = record

    def __rich__(self) -> Group:
        """The table and the status lines rendered by ``rich``."""
        table = Table(title="selinon-cli execute", expand=False)
        table.add_column("flow")
        table.add_column("flow id", style="dim")
        for column in _COLUMNS:
            table.add_column(column, justify="right", style=_STYLES[column])
        for (flow_name, flow_id), row in list(self.counts.items()):
            table.add_row(flow_name, flow_id, *(str(row[c]) for c in _COLUMNS))
        return Group(table, *(Text(line) for line in self.status_lines()))

    def status_lines(self, now: float | None = None) -> list[str]:
        """Elapsed time, running tasks and countdowns, as text lines.

        Args:
            now: the current ``time.time()`` (for tests); read from the clock when ``None``.
        """
        current = time.time() if now is None else now
        lines = [f"elapsed {time.monotonic() - self.started:.1f}s"]
        running = list(self.running.values())
        if running:
            lines.append(f"running: {_names(running)}")
        waiting = None if self.deadline is None else self.deadline - current
        retrying = list(self.retrying.values())
        if retrying:
            due = f" (next countdown ends in {waiting:.1f}s)" if waiting and waiting > 0 else ""
            lines.append(f"waiting to retry: {_names(retrying, retries=True)}{due}")
        elif waiting is not None and waiting > 0:
            lines.append(f"waiting {waiting:.1f}s for a countdown (throttling or a delayed node)")
        return lines

    def __enter__(self) -> Progress:
        self.started = time.monotonic()
        self._live = Live(self, console=self.console, refresh_per_second=8, transient=False)
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
            self._live = None


def _names(records: list[NodeRun], *, retries: bool = False) -> str:
    shown = []
    for record in records[:_SHOWN]:
        text = f"{record.node_name} ({record.node_id})"
        if retries:
            text += f" retry {record.retries}"
        shown.append(text)
    more = len(records) - _SHOWN
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


class ProgressClock:
    """A clock that tells a :class:`Progress` display when the runtime sleeps, and until when.

    Args:
        clock: the clock to delegate to (a real clock: virtual waits take no time).
        progress: the display whose ``deadline`` is set while waiting.
    """

    def __init__(self, clock: Clock, progress: Progress) -> None:
        self._clock = clock
        self._progress = progress
        self.virtual = clock.virtual

    def now(self) -> float:
        """The wrapped clock's time."""
        return self._clock.now()

    def wait_until(self, deadline: float) -> None:
        """Wait as the wrapped clock does, showing the countdown meanwhile."""
        self._progress.deadline = deadline
        try:
            self._clock.wait_until(deadline)
        finally:
            self._progress.deadline = None
