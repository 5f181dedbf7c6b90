"""A live progress display for terminals: per flow, how many nodes are in each state."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from selinon_backends.runtime.report import NodeRun

__all__ = ["Progress"]

_COLUMNS = ("scheduled", "running", "succeeded", "failed")
_STYLES = {"scheduled": "dim", "running": "cyan", "succeeded": "green", "failed": "red"}


class Progress:
    """Counts node states per flow instance and renders them live (use as an engine observer).

    Args:
        console: where to draw (stderr by default, so that a report on stdout stays clean).
    """

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.counts: dict[tuple[str, str], dict[str, int]] = {}
        self._last: dict[str, tuple[tuple[str, str], str]] = {}
        self._live: Live | None = None

    def __call__(self, record: NodeRun) -> None:
        """Observe a status change of ``record``."""
        key = (record.flow_name, record.flow_id)
        previous = self._last.get(record.node_id)
        if previous is not None:
            self.counts[previous[0]][previous[1]] -= 1
        row = self.counts.get(key)
        if row is None:
            row = self.counts[key] = dict.fromkeys(_COLUMNS, 0)
        row[record.status] += 1
        self._last[record.node_id] = (key, record.status)

    def __rich__(self) -> Table:
        """The table rendered by ``rich``."""
        table = Table(title="selinon-cli execute", expand=False)
        table.add_column("flow")
        table.add_column("flow id", style="dim")
        for column in _COLUMNS:
            table.add_column(column, justify="right", style=_STYLES[column])
        for (flow_name, flow_id), row in list(self.counts.items()):
            table.add_row(flow_name, flow_id, *(str(row[c]) for c in _COLUMNS))
        return table

    def __enter__(self) -> Progress:
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
