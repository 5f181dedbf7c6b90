"""The ``selinon-cli`` command line.

:func:`main` is the console-script entry point.  Sub-commands live in their own modules, each
exposing ``register(app)``; the ones listed in :data:`COMMAND_MODULES` are always attached, the
ones in :data:`OPTIONAL_COMMAND_MODULES` when the module exists in this installation.  The
application object :data:`app` is built, with every command attached, on first use.

Start-up is kept short: command modules import the engine, the configuration models, ``rich``
and the storage clients inside their commands, not at import time, and ``selinon-cli version``
(or ``--version`` alone) is answered without building the command line at all (typer imports
pydantic to convert option values).  ``tests/test_imports.py`` guards both.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

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

OPTIONAL_COMMAND_MODULES: tuple[str, ...] = ("execute", "plot", "migrate", "worker", "dashboard")
"""Sub-command modules attached only when present (a trimmed installation may leave one out)."""

_EXIT_OK = 0
_EXIT_USAGE = 2


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


def _application() -> typer.Typer:
    """The application of :mod:`selinon_backends.cli.app` with every command attached (once)."""
    application: typer.Typer = importlib.import_module(f"{__name__}.app").app
    if not getattr(application, "_selinon_commands", False):
        register_commands(application, (f"{__name__}.{name}" for name in COMMAND_MODULES))
        register_commands(
            application, (f"{__name__}.{name}" for name in OPTIONAL_COMMAND_MODULES), optional=True
        )
        application._selinon_commands = True  # type: ignore[attr-defined]
    return application


class _Package(types.ModuleType):
    """This package's module type: ``app`` is the application, built on first access.

    A property, because importing the submodule :mod:`selinon_backends.cli.app` stores that
    module as this package's attribute ``app``; the setter ignores it, so that
    ``from selinon_backends.cli import app`` always gives the application.
    """

    @property
    def app(self) -> typer.Typer:
        """The application with every command attached."""
        return _application()

    @app.setter
    def app(self, value: Any) -> None:
        del value  # the submodule, set by the import system


sys.modules[__name__].__class__ = _Package


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``selinon-cli`` and return its exit status (the console-script entry point).

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        0 on success, 2 for an invalid configuration or command line, or the status a
        sub-command chose.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["version"], ["--version"]):
        from selinon_backends.cli.version_cmd import version  # noqa: PLC0415

        version()
        return _EXIT_OK
    if not args:  # the help on stdout, as for --help, but a usage error
        run(_application(), ["--help"])
        return _EXIT_USAGE
    return run(_application(), args)


def run(application: typer.Typer, argv: Sequence[str] | None = None) -> int:
    """Run a typer application the way :func:`main` does and return its exit status.

    Options fall back to ``SELINON_<COMMAND>_<OPTION>`` environment variables, and a
    :class:`SpecError` that escapes a command is rendered as a listing of its problems on
    stderr (exit status 2), never as a traceback.
    """
    import typer  # noqa: PLC0415

    from selinon_backends.cli.app import (  # noqa: PLC0415
        ENVVAR_PREFIX,
        EXIT_INVALID,
        EXIT_OK,
        PROG_NAME,
        report_spec_error,
    )
    from selinon_core.errors import SpecError  # noqa: PLC0415

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
        return _EXIT_OK
    if isinstance(code, int):
        return code
    print(str(code), file=sys.stderr)
    return 1
