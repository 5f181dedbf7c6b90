"""``inspect --check-services``: connect to every configured storage and say which ones fail.

Each storage is built from its configuration and connected once (as the first task that uses
it would), then disconnected.  A failure is reported with its root cause, e.g. PostgreSQL's
``database "x" does not exist``, not a pool timeout.
"""

from __future__ import annotations

import typer

from selinon_core.config.system import System
from selinon_core.errors import describe_error

__all__ = ["check_storages", "storage_problems"]


def storage_problems(system: System) -> dict[str, str | None]:
    """Connect to each storage of ``system``: storage name -> ``None`` (fine) or what failed."""
    from selinon_backends.storage.pool import StoragePool  # noqa: PLC0415

    found: dict[str, str | None] = {}
    pool = StoragePool(system)
    try:
        for spec in system.spec.storages:
            try:
                pool.get_connected_storage(spec.name)
            except Exception as exc:  # every failure is reported, none raised
                found[spec.name] = _root_cause(exc)
            else:
                found[spec.name] = None
    finally:
        pool.disconnect_all()
    return found


def _root_cause(exc: BaseException) -> str:
    """``Type: message`` of ``exc``, and of its cause when it wraps one."""
    text = describe_error(exc)
    cause = exc.__cause__
    if cause is not None and str(cause) not in text:
        text += f" (caused by {describe_error(cause)})"
    return text


def check_storages(system: System) -> bool:
    """Report on stdout, one line per storage, whether it can be connected to.

    Returns:
        True when every storage connected (or there are none).
    """
    results = storage_problems(system)
    if not results:
        typer.echo("Services: no storage is configured.")
    for name, problem in results.items():
        spec = system.spec.storage(name)
        where = f"{spec.import_}.{spec.classname}"
        if problem is None:
            typer.echo(f"storage {name!r} ({where}): connected")
        else:
            typer.echo(f"storage {name!r} ({where}): FAILED: {problem}")
    return all(problem is None for problem in results.values())
