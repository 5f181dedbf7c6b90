"""The ``selinon-cli`` typer application and the options its sub-commands share.

Importing this module only builds the (empty) :data:`app` object: no configuration is read,
no logging is set up and no sub-command is attached.  Sub-command modules expose a
``register(app)`` function; :mod:`selinon_backends.cli` wires them in.

Options read environment variables the way Selinon's CLI does: every option of a sub-command
falls back to ``SELINON_<SUBCOMMAND>_<OPTION>`` (click's ``auto_envvar_prefix``, set by
:func:`selinon_backends.cli.main`), and the two configuration options read
``SELINON_NODES_DEFINITION`` and ``SELINON_FLOW_DEFINITIONS`` in every sub-command.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from selinon_backends.cli.problems import render_problems
from selinon_backends.cli.version_cmd import version_info
from selinon_backends.selinon_alias import disable_selinon_alias, ensure_selinon_alias
from selinon_core.errors import Problem, SpecError

__all__ = [
    "ENVVAR_PREFIX",
    "EXIT_INVALID",
    "EXIT_OK",
    "FLOWS_ENVVAR",
    "NODES_ENVVAR",
    "PROG_NAME",
    "CliState",
    "FlowDefinitionsOption",
    "NodesDefinitionOption",
    "add_import_path",
    "app",
    "check_output_path",
    "cli_state",
    "exit_on_spec_error",
    "flow_paths",
    "report_problems",
    "report_spec_error",
]

PROG_NAME = "selinon-cli"
ENVVAR_PREFIX = "SELINON"
NODES_ENVVAR = "SELINON_NODES_DEFINITION"
FLOWS_ENVVAR = "SELINON_FLOW_DEFINITIONS"
EXIT_OK = 0
EXIT_INVALID = 2

_ENV_SEPARATORS = re.compile(rf"[\s{re.escape(os.pathsep)}]+")


@dataclass(frozen=True, slots=True)
class CliState:
    """Global options, stored on the click context for sub-commands to read.

    Attributes:
        verbosity: how many times ``-v`` was given (0 warnings only, 1 info, 2+ debug).
        color: whether terminal output may use colours (``--no-color`` turns them off).
    """

    verbosity: int = 0
    color: bool = True


app = typer.Typer(
    name=PROG_NAME,
    help="Inspect and run task flows written in Selinon's YAML flow language.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: no rich import just to print --help
    context_settings={"help_option_names": ["-h", "--help"]},
)
"""The application object; sub-commands are attached by ``register(app)`` functions."""


def _print_version(value: bool) -> None:
    if value:
        for line in version_info().lines():
            typer.echo(line)
        raise typer.Exit(EXIT_OK)


@app.callback()
def _global_options(
    ctx: typer.Context,
    verbose: Annotated[
        int,
        typer.Option(
            "-v",
            "--verbose",
            count=True,
            show_default=False,
            help="Be more verbose; repeat for more (-v: info logging and the traceback of "
            "every failed task, -vv: debug logging).",
        ),
    ] = 0,
    no_color: Annotated[
        bool,
        typer.Option(
            "--no-color",
            help="No colours in the progress display and messages (as Selinon's CLI; "
            "NO_COLOR=1 does the same).",
        ),
    ] = False,
    app_dir: Annotated[
        Path,
        typer.Option(
            "--app-dir",
            metavar="DIR",
            help="Directory put first on sys.path so that the modules your configuration "
            "imports are found.",
        ),
    ] = Path("."),
    no_selinon_alias: Annotated[
        bool,
        typer.Option(
            "--no-selinon-alias",
            help="Do not make 'import selinon' resolve to this project (by default, user "
            "modules written for Selinon load unchanged when Selinon is not installed).",
        ),
    ] = False,
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            expose_value=False,
            allow_from_autoenv=False,
            callback=_print_version,
            help="Print the versions (as the 'version' command does) and exit.",
        ),
    ] = False,
) -> None:
    """Inspect and run task flows written in Selinon's YAML flow language."""
    ctx.obj = CliState(verbosity=verbose, color=not (no_color or os.environ.get("NO_COLOR")))
    add_import_path(app_dir)
    _selinon_alias(enabled=not no_selinon_alias)
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            stream=sys.stderr,
            format="%(levelname)s %(name)s: %(message)s",
        )


def _selinon_alias(*, enabled: bool) -> None:
    """Install the ``selinon`` import alias, or turn it off for the runtimes too."""
    if enabled:
        ensure_selinon_alias()
    else:
        disable_selinon_alias()


def add_import_path(directory: Path) -> None:
    """Put ``directory`` first on ``sys.path`` (once), as celery and uvicorn do for user code."""
    entry = str(directory.resolve())
    if entry not in sys.path:
        sys.path.insert(0, entry)


def cli_state(ctx: typer.Context) -> CliState:
    """The global options of the running command line (defaults when run without the group)."""
    found = ctx.find_object(CliState)
    return found if found is not None else CliState()


def _split_env_flow_definitions(
    ctx: typer.Context, param: typer.CallbackParam, value: list[str] | None
) -> list[str]:
    """Also split values that came from an environment variable on ``os.pathsep``.

    Click already splits an environment value on whitespace; Selinon's users write
    ``SELINON_FLOW_DEFINITIONS=a.yaml:b.yaml``, so both separators are accepted there.  Values
    given on the command line are left as they are.
    """
    if not value:
        return []
    source = ctx.get_parameter_source(param.name) if param.name else None
    if source is None or source.name != "ENVIRONMENT":
        return list(value)
    return [part for item in value for part in _ENV_SEPARATORS.split(item) if part]


NodesDefinitionOption = Annotated[
    Path | None,
    typer.Option(
        "-n",
        "--nodes-definition",
        envvar=NODES_ENVVAR,
        show_envvar=True,
        metavar="PATH",
        help="The nodes definition file (tasks, flows, storages, global).",
    ),
]
"""``-n/--nodes-definition PATH`` (also ``SELINON_NODES_DEFINITION``)."""

FlowDefinitionsOption = Annotated[
    list[str] | None,
    typer.Option(
        "-f",
        "--flow-definitions",
        envvar=FLOWS_ENVVAR,
        show_envvar=True,
        metavar="PATH",
        callback=_split_env_flow_definitions,
        help=(
            "A flow definitions file or a directory of them (repeatable; directories are "
            "searched recursively for *.yaml/*.yml). From the environment: a list separated "
            "by spaces or colons."
        ),
    ),
]
"""``-f/--flow-definitions PATH`` (repeatable; also ``SELINON_FLOW_DEFINITIONS``)."""


FlowNameOption = Annotated[
    str | None, typer.Option("--flow-name", metavar="NAME", help="The flow to run.")
]
"""``--flow-name NAME`` of ``execute`` and ``run``."""

NodeArgsOption = Annotated[
    str | None,
    typer.Option("-a", "--node-args", metavar="JSON", help="Flow arguments, as JSON."),
]
"""``-a/--node-args JSON`` of ``execute`` and ``run``."""

SelectiveTaskNamesOption = Annotated[
    str | None,
    typer.Option(
        "--selective-task-names", metavar="T1,T2", help="Run only what leads to these tasks."
    ),
]
SelectiveFollowSubflowsOption = Annotated[
    bool, typer.Option("--selective-follow-subflows", help="Look for the tasks in sub-flows.")
]
SelectiveRunSubsequentOption = Annotated[
    bool,
    typer.Option("--selective-run-subsequent", help="Also run what follows those tasks."),
]
ReportOption = Annotated[
    str | None,
    typer.Option("--report", metavar="PATH", help="Write the JSON report ('-': stdout)."),
]
"""``--report PATH|-`` of ``execute``, ``run`` and ``status``."""


def flow_paths(values: Sequence[str] | None) -> list[Path]:
    """Turn the ``-f`` option values into paths (empty when none were given)."""
    return [Path(value) for value in values or ()]


def report_problems(problems: Sequence[Problem]) -> None:
    """Write problems to stderr, one per line as ``file:line:col: message (hint)``.

    Problems with a common cause are written once (a module that cannot be imported, with every
    node that names it), and a few get a hint for the usual mistake behind them; see
    :func:`selinon_backends.cli.problems.render_problems`.
    """
    for line in render_problems(problems):
        typer.echo(line, err=True)


def check_output_path(value: str | None, option: str) -> None:
    """Check, before any work is done, that ``value`` can be written (``-`` and ``None`` pass).

    Raises:
        typer.Exit: with code 2 after one line on stderr, when the directory is missing, the
            path is a directory or it cannot be written.
    """
    if value is None or value == "-":
        return
    path = Path(value)
    parent = path.parent if str(path.parent) else Path(".")
    problem = None
    if path.is_dir():
        problem = "is a directory"
    elif not parent.is_dir():
        problem = f"directory {str(parent)!r} does not exist"
    elif not os.access(path if path.exists() else parent, os.W_OK):
        problem = "permission denied"
    if problem is not None:
        typer.echo(f"Error: {option} {value!r}: cannot write: {problem}.", err=True)
        raise typer.Exit(EXIT_INVALID)


@contextmanager
def exit_on_spec_error() -> Iterator[None]:
    """Turn a :class:`SpecError` raised in the block into the error listing and exit code 2.

    Raises:
        typer.Exit: with code 2 after the listing was written to stderr.
    """
    try:
        yield
    except SpecError as exc:
        report_spec_error(exc)
        raise typer.Exit(EXIT_INVALID) from None


def report_spec_error(error: SpecError) -> None:
    """Write every problem of ``error`` to stderr, then how many there were.

    Problems with one cause count once (see :func:`report_problems`).
    """
    lines = render_problems(error.problems)
    for line in lines:
        typer.echo(line, err=True)
    count = len(lines)
    noun = "error" if count == 1 else "errors"
    typer.echo(f"Configuration is invalid: {count} {noun}.", err=True)
