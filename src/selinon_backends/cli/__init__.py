"""The ``selinon-cli`` command line.

:func:`main` is the console-script entry point.  Sub-commands live in their own modules, each
exposing ``register(app)``; the ones listed in :data:`COMMAND_MODULES` are always attached, the
ones in :data:`OPTIONAL_COMMAND_MODULES` when the module exists in this installation.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence

import typer

from selinon_backends.cli.app import (
    ENVVAR_PREFIX,
    EXIT_INVALID,
    EXIT_OK,
    PROG_NAME,
    app,
    report_spec_error,
)
from selinon_core.errors import SpecError

__all__ = [
    "COMMAND_MODULES",
    "OPTIONAL_COMMAND_MODULES",
    "app",
    "main",
    "register_commands",
    "run",
]

COMMAND_MODULES: tuple[str, ...] = ("inspect_cmd", "version_cmd")
"""Sub-command modules of this package that every installation has."""

OPTIONAL_COMMAND_MODULES: tuple[str, ...] = ("execute", "plot", "migrate", "worker")
"""Sub-command modules attached only when present (they land in later releases)."""


def register_commands(
    application: typer.Typer, modules: Iterable[str], *, optional: bool = False
) -> list[str]:
    """Call ``register(application)`` of every module named in ``modules``.

    Args:
        application: the typer application to attach the commands to.
        modules: fully qualified module names.
        optional: skip a module that does not exist (a missing import *inside* an existing
            module is still an error).

    Returns:
        The modules whose commands were registered.
    """
    registered = []
    for qualified in modules:
        try:
            module = importlib.import_module(qualified)
        except ModuleNotFoundError as exc:
            if not optional or exc.name != qualified:
                raise
            continue
        module.register(application)
        registered.append(qualified)
    return registered


register_commands(app, (f"{__name__}.{name}" for name in COMMAND_MODULES))
register_commands(app, (f"{__name__}.{name}" for name in OPTIONAL_COMMAND_MODULES), optional=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``selinon-cli`` and return its exit status (the console-script entry point).

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        0 on success, 2 for an invalid configuration or command line, or the status a
        sub-command chose.
    """
    return run(app, argv)


def run(application: typer.Typer, argv: Sequence[str] | None = None) -> int:
    """Run a typer application the way :func:`main` does and return its exit status.

    Options fall back to ``SELINON_<COMMAND>_<OPTION>`` environment variables, and a
    :class:`SpecError` that escapes a command is rendered as a listing of its problems on
    stderr (exit status 2), never as a traceback.
    """
    command = typer.main.get_command(application)
    try:
        command.main(
            args=None if argv is None else list(argv),
            prog_name=PROG_NAME,
            auto_envvar_prefix=ENVVAR_PREFIX,
            standalone_mode=True,
        )
    except SystemExit as exc:
        return _exit_status(exc.code)
    except SpecError as exc:
        report_spec_error(exc)
        return EXIT_INVALID
    return EXIT_OK  # not reached: click's standalone mode always ends with SystemExit


def _exit_status(code: object) -> int:
    if code is None:
        return EXIT_OK
    if isinstance(code, int):
        return code
    typer.echo(str(code), err=True)
    return 1
