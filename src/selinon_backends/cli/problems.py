"""How the command line words configuration problems: grouped by cause, with hints.

The loader reports one :class:`~selinon_core.errors.Problem` per place; two cases read better
on a terminal when rewritten here:

* a module that cannot be imported is named by many tasks (every task of ``myapp.tasks``): it is
  written once, with the nodes that name it and a hint about ``--app-dir``/``PYTHONPATH``;
* an empty ``from``/``to`` is nearly always a list indented less than its key (YAML then reads
  the key as empty and the list as something else): the hint says so.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable, Sequence

from selinon_core.errors import Problem

__all__ = ["IMPORT_HINT", "did_you_mean", "render_problems"]

IMPORT_HINT = (
    "run from the directory that holds your package, or pass --app-dir DIR "
    "(or set PYTHONPATH) so that it can be imported"
)
"""The hint written under a module that cannot be imported."""

_IMPORT = re.compile(r"^(?P<who>.+?): cannot import module '(?P<module>[^']+)': (?P<error>.+)$")
_EMPTY_KEY = re.compile(r"'(?P<key>from|to|nodes|fallback)' must not be empty")
_EMPTY_HINT = (
    "in YAML, a key with nothing after the colon is empty: if its list follows on the next "
    "lines, indent the '- name' items under '{key}:' (or write {key}: [A, B])"
)
_MAX_NAMED = 6


def render_problems(problems: Sequence[Problem]) -> list[str]:
    """The lines to write for ``problems``: import failures grouped, YAML hints added."""
    lines: list[str] = []
    groups: dict[tuple[str, str], list[tuple[Problem, str]]] = {}
    for problem in problems:
        match = _IMPORT.match(problem.message)
        if match is None:
            lines.append(str(_with_yaml_hint(problem)))
            continue
        key = (match["module"], match["error"])
        if key not in groups:
            groups[key] = []
            lines.append(f"\0{len(groups) - 1}")  # placeholder: keeps the first one's position
        groups[key].append((problem, match["who"]))
    rendered = [_import_line(module, error, found) for (module, error), found in groups.items()]
    return [rendered[int(line[1:])] if line.startswith("\0") else line for line in lines]


def _import_line(module: str, error: str, found: list[tuple[Problem, str]]) -> str:
    first = found[0][0]
    names = [who for _, who in found]
    shown = ", ".join(names[:_MAX_NAMED])
    if len(names) > _MAX_NAMED:
        shown += f" and {len(names) - _MAX_NAMED} more"
    return (
        f"{first.location()}: cannot import module {module!r} ({error}); "
        f"named by {shown} (hint: {IMPORT_HINT})"
    )


def _with_yaml_hint(problem: Problem) -> Problem:
    match = _EMPTY_KEY.search(problem.message)
    if match is None or problem.hint:
        return problem
    return dataclasses.replace(problem, hint=_EMPTY_HINT.format(key=match["key"]))


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'X'?)`` for the closest of ``known``, or an empty string."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
