"""``{ENV_VAR}`` expansion of queue names, paths and storage configuration values.

Selinon passes these values through ``str.format(**os.environ)``.  We keep the notation
(``{NAME}`` is replaced, ``{{`` and ``}}`` are literal braces) but implement it without
``str.format`` so that attribute or index lookups (``{A.b}``, ``{A[0]}``) cannot reach into
anything, and so that every missing variable is reported, not only the first.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from selinon_core.config.spec import DEFAULT_QUEUE
from selinon_core.config.yamlsource import Path_

__all__ = ["ExpansionError", "expand", "expand_config"]

_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class ExpansionError(Exception):
    """A value could not be expanded.

    Attributes:
        message: what went wrong, naming the variable(s) when some are missing.
        missing: the names of the variables that are not set.
    """

    message: str
    missing: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.message


def expand(value: str, environ: Mapping[str, str]) -> str:
    """Replace each ``{NAME}`` in ``value`` by ``environ[NAME]``.

    Args:
        value: the text to expand; ``{{`` and ``}}`` stand for literal braces.
        environ: the variables available.

    Returns:
        the expanded text.

    Raises:
        ExpansionError: a variable is not set, a field is not a plain name, or a brace is
            unbalanced.
    """
    try:
        parts = list(_FORMATTER.parse(value))
    except ValueError as exc:
        raise ExpansionError(f"malformed '{{...}}' in {value!r}: {exc}") from exc
    pieces: list[str] = []
    missing: list[str] = []
    for literal, name, spec, conversion in parts:
        pieces.append(literal)
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ExpansionError(
                f"only '{{NAME}}' environment references are supported, got '{{{name}}}' "
                f"in {value!r}"
            )
        if name not in environ:
            missing.append(name)
            continue
        pieces.append(environ[name])
    if missing:
        names = ", ".join(repr(m) for m in dict.fromkeys(missing))
        raise ExpansionError(
            f"environment variable {names} is not set (needed to expand {value!r})",
            tuple(dict.fromkeys(missing)),
        )
    return "".join(pieces)


ReportFn = Callable[[Path_, str], None]

_GLOBAL_KEYS = ("default_task_queue", "default_dispatcher_queue", "migration_dir")


def expand_config(data: dict[str, Any], environ: Mapping[str, str], report: ReportFn) -> None:
    """Expand, in place, every value of assembled raw configuration data that allows it.

    Expanded: task and flow ``queue``, ``global`` ``default_task_queue``,
    ``default_dispatcher_queue`` and ``migration_dir``, sentry ``dsn`` in ``global.trace``, and
    every string inside a storage's ``configuration``.  Then tasks and flows without a ``queue``
    get the (expanded) global default, ``celery`` unless configured.

    Args:
        data: the assembled configuration (``tasks``, ``storages``, ``global``,
            ``flow-definitions``); entries of the wrong type are left for validation.
        environ: the variables available.
        report: called with the path and message of each value that cannot be expanded.
    """
    global_ = data.get("global")
    if isinstance(global_, dict):
        _expand_global(global_, environ, report)
    for i, storage in _dicts(data, "storages"):
        if "configuration" in storage:
            storage["configuration"] = _expand_tree(
                storage["configuration"], ("storages", i, "configuration"), environ, report
            )
    defaults = global_ if isinstance(global_, dict) else {}
    for section, default_key in (
        ("tasks", "default_task_queue"),
        ("flow-definitions", "default_dispatcher_queue"),
    ):
        default = defaults.get(default_key, DEFAULT_QUEUE)
        for i, entry in _dicts(data, section):
            if entry.get("queue") is None:
                if isinstance(default, str):
                    entry["queue"] = default
            else:
                _expand_at(entry, "queue", (section, i), environ, report)


def _expand_global(global_: dict[str, Any], environ: Mapping[str, str], report: ReportFn) -> None:
    for key in _GLOBAL_KEYS:
        _expand_at(global_, key, ("global",), environ, report)
    trace = global_.get("trace")
    for k, sink in enumerate(trace if isinstance(trace, list) else [trace]):
        sentry = sink.get("sentry") if isinstance(sink, dict) else None
        if isinstance(sentry, dict):
            path: Path_ = ("global", "trace", k, "sentry")
            if not isinstance(trace, list):
                path = ("global", "trace", "sentry")
            _expand_at(sentry, "dsn", path, environ, report)


def _dicts(data: Mapping[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    entries = data.get(key)
    if not isinstance(entries, list):
        return []
    return [(i, entry) for i, entry in enumerate(entries) if isinstance(entry, dict)]


def _expand_at(
    mapping: dict[str, Any], key: str, path: Path_, environ: Mapping[str, str], report: ReportFn
) -> None:
    value = mapping.get(key)
    if isinstance(value, str):
        try:
            mapping[key] = expand(value, environ)
        except ExpansionError as exc:
            report((*path, key), f"{key!r}: {exc}")


def _expand_tree(value: Any, path: Path_, environ: Mapping[str, str], report: ReportFn) -> Any:
    if isinstance(value, str):
        try:
            return expand(value, environ)
        except ExpansionError as exc:
            report(path, str(exc))
            return value
    if isinstance(value, dict):
        return {k: _expand_tree(v, (*path, k), environ, report) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_tree(v, (*path, i), environ, report) for i, v in enumerate(value)]
    return value
