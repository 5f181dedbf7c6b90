"""``{ENV_VAR}`` expansion of queue names, paths and storage configuration values.

Selinon passes these values through ``str.format(**os.environ)``.  We keep the notation
(``{NAME}`` is replaced, ``{{`` and ``}}`` are literal braces) but implement it without
``str.format`` so that attribute or index lookups (``{A.b}``, ``{A[0]}``) cannot reach into
anything, and so that every missing variable is reported, not only the first.

When each value is expanded:

* queue names, ``migration_dir`` and the Sentry ``dsn``: here, when the configuration loads
  (a missing variable is an error);
* a storage's ``configuration``: never here.  A custom adapter receives it as written (it may
  format it itself, as Selinon's users' adapters do); a built-in adapter expands the fields
  listed in :data:`BUILTIN_STORAGE_ENV_FIELDS` when it is built for its first connection, with
  :func:`expand`.  At load time :func:`check_storage_env` only warns about variables that are
  not set, so that a configuration can be inspected on a machine without the secrets.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from selinon_core.config.spec import DEFAULT_QUEUE
from selinon_core.config.yamlsource import Path_

__all__ = [
    "BUILTIN_STORAGE_ENV_FIELDS",
    "ExpansionError",
    "check_storage_env",
    "expand",
    "expand_config",
    "expand_fields",
    "referenced_names",
]

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


def referenced_names(value: str) -> tuple[str, ...]:
    """The ``{NAME}`` references in ``value``, in order, without repeats (none if malformed)."""
    try:
        parts = list(_FORMATTER.parse(value))
    except ValueError:
        return ()
    return tuple(dict.fromkeys(name for _, name, _, _ in parts if name))


BUILTIN_STORAGE_ENV_FIELDS: Mapping[str, tuple[str, ...]] = {
    "selinon_backends.storage.redis": ("host", "port", "db", "password"),
    "selinon_backends.storage.postgresql": ("connection_string",),
    "selinon_backends.storage.s3": (
        "bucket",
        "location",
        "endpoint_url",
        "use_ssl",
        "aws_access_key_id",
        "aws_secret_access_key",
        "region_name",
    ),
    "selinon_backends.storage.filesystem": ("path",),
    "selinon_backends.storage.memory": (),
}
"""The configuration keys each built-in storage adapter expands (Selinon's own list), by module."""


def expand_fields(
    owner: str, values: Mapping[str, Any], fields: tuple[str, ...], environ: Mapping[str, str]
) -> dict[str, Any]:
    """Expand the string values of ``fields`` in ``values``; others are returned unchanged.

    Args:
        owner: what the values configure, for the error message (e.g. ``Redis storage``).
        values: the keyword arguments as configured.
        fields: the keys to expand.
        environ: the variables available.

    Raises:
        ExpansionError: naming ``owner``, every missing variable and the keys that need them
            (or the first malformed value).
    """
    result = dict(values)
    missing: dict[str, None] = {}
    needing: list[str] = []
    for key in fields:
        value = result.get(key)
        if not isinstance(value, str):
            continue
        try:
            result[key] = expand(value, environ)
        except ExpansionError as exc:
            if not exc.missing:
                raise ExpansionError(f"{owner}: {key!r}: {exc}") from exc
            missing.update(dict.fromkeys(exc.missing))
            needing.append(repr(key))
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise ExpansionError(
            f"{owner}: environment variable {names} is not set (needed by {', '.join(needing)})",
            tuple(missing),
        )
    return result


ReportFn = Callable[[Path_, str], None]

_GLOBAL_KEYS = ("default_task_queue", "default_dispatcher_queue", "migration_dir")


def expand_config(data: dict[str, Any], environ: Mapping[str, str], report: ReportFn) -> None:
    """Expand, in place, every value of assembled raw configuration data that allows it.

    Expanded: task and flow ``queue``, ``global`` ``default_task_queue``,
    ``default_dispatcher_queue`` and ``migration_dir``, and sentry ``dsn`` in ``global.trace``
    (storage configurations are left as written: see the module docstring).  Then tasks and
    flows without a ``queue`` get the (expanded) global default, ``celery`` unless configured.

    Args:
        data: the assembled configuration (``tasks``, ``storages``, ``global``,
            ``flow-definitions``); entries of the wrong type are left for validation.
        environ: the variables available.
        report: called with the path and message of each value that cannot be expanded.
    """
    global_ = data.get("global")
    if isinstance(global_, dict):
        _expand_global(global_, environ, report)
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


def check_storage_env(
    data: Mapping[str, Any],
    environ: Mapping[str, str],
    warn: ReportFn,
    canonical: Callable[[str], str],
) -> None:
    """Warn about each storage whose configuration names variables that are not set.

    Args:
        data: the assembled configuration.
        environ: the variables available here.
        warn: called with the path and message of each storage concerned.
        canonical: maps a YAML ``import`` (``selinon.storages.redis``) to our module name.
    """
    for i, storage in _dicts(data, "storages"):
        config = storage.get("configuration")
        module = storage.get("import")
        if not isinstance(config, dict) or not isinstance(module, str):
            continue
        fields = BUILTIN_STORAGE_ENV_FIELDS.get(canonical(module))
        keys = [k for k in config if fields is None or k in fields]
        missing: dict[str, None] = {}
        for key in keys:
            value = config[key]
            if isinstance(value, str):
                missing.update(
                    dict.fromkeys(n for n in referenced_names(value) if n not in environ)
                )
        if not missing:
            continue
        names = ", ".join(repr(m) for m in missing)
        if fields is None:
            message = (
                f"its configuration mentions {names}, not set here; a custom adapter receives "
                "its configuration as written (unexpanded)"
            )
        else:
            message = (
                f"environment variable {names} is not set here; the storage expands it when "
                "it first connects and fails then if it is still missing"
            )
        warn(("storages", i, "configuration"), message)
