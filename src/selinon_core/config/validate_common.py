"""Shared pieces of configuration validation: the problem collector and naming helpers."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from selinon_core.config.yamlsource import Path_, SourceMap
from selinon_core.errors import Problem

__all__ = ["Reporter", "describe", "did_you_mean"]


def did_you_mean(name: object, candidates: Iterable[str]) -> str | None:
    """A "did you mean 'X'?" hint for ``name`` among ``candidates``, or ``None``."""
    if not isinstance(name, str):
        return None
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean {matches[0]!r}?" if matches else None


class Reporter:
    """Collects errors and warnings, each located through a :class:`SourceMap`.

    Attributes:
        errors: problems that make the configuration invalid.
        warnings: suspicious but accepted findings.
    """

    def __init__(self, locations: SourceMap, data: Mapping[str, Any]) -> None:
        self.locations = locations
        self.data = data
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def problem(self, path: Path_, message: str, hint: str | None = None, *, key: bool) -> Problem:
        """Build a located problem; ``key`` points at the mapping key instead of its value."""
        loc = self.locations.key(path) if key else self.locations.value(path)
        return Problem(message, loc.file, loc.line, loc.column, hint)

    def error(
        self, path: Path_, message: str, hint: str | None = None, *, key: bool = False
    ) -> None:
        """Record an error about the value at ``path`` (prefixed with what it belongs to)."""
        self.errors.append(self.problem(path, _prefixed(self.data, path, message), hint, key=key))

    def warn(
        self, path: Path_, message: str, hint: str | None = None, *, key: bool = False
    ) -> None:
        """Record a warning about the value at ``path``."""
        self.warnings.append(self.problem(path, _prefixed(self.data, path, message), hint, key=key))


def _prefixed(data: Mapping[str, Any], path: Path_, message: str) -> str:
    where = describe(data, path)
    return f"{where}: {message}" if where else message


def describe(data: Mapping[str, Any], path: Path_) -> str:
    """Human name of what ``path`` points into, e.g. "edge 3 of flow 'flow1'"."""
    if len(path) >= 2 and path[0] in ("tasks", "storages") and isinstance(path[1], int):
        kind = "task" if path[0] == "tasks" else "storage"
        return f"{kind} {_name_of(data, path[:2], path[1])}"
    if len(path) >= 2 and path[0] == "flow-definitions" and isinstance(path[1], int):
        flow = f"flow {_name_of(data, path[:2], path[1])}"
        if len(path) >= 4 and path[2] in ("edges", "failures") and isinstance(path[3], int):
            part = "edge" if path[2] == "edges" else "failure"
            return f"{part} {path[3] + 1} of {flow}"
        return flow
    if path and path[0] == "global":
        if len(path) >= 3 and path[1] == "trace" and isinstance(path[2], int):
            return f"trace entry {path[2] + 1} of the global section"
        return "global section"
    return ""


def _name_of(data: Mapping[str, Any], path: Path_, index: int) -> str:
    entry: Any = data
    for part in path:
        try:
            entry = entry[part]
        except (KeyError, IndexError, TypeError):
            return f"#{index + 1}"
    name = entry.get("name") if isinstance(entry, dict) else None
    return repr(name) if isinstance(name, str) and name else f"#{index + 1}"
