"""``selinon-cli plot``: draw every flow (or the ones named) as one file per flow.

Exit codes: 0 every diagram was written, 2 invalid configuration, style file or command line
(an unknown ``--flow``, an output directory that is a file, ...), 1 a diagram could not be drawn
(graphviz's ``dot`` program is missing for svg/png/pdf, or it failed).  Each written path is
printed on stdout.

The configuration is loaded without importing the user's modules (a diagram needs none of them;
``--check-imports`` checks them as ``inspect`` does).  The diagram package is imported when the
command runs, not when the command line is built.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from selinon_backends.cli.app import (
    EXIT_INVALID,
    FlowDefinitionsOption,
    NodesDefinitionOption,
    exit_on_spec_error,
    flow_paths,
)
from selinon_backends.cli.problems import did_you_mean

if TYPE_CHECKING:
    from selinon_backends.plot import PlotStyle
    from selinon_core.config.system import System

__all__ = ["EXIT_NOT_DRAWN", "PLOT_FORMATS", "PlotFormat", "plot", "register"]

EXIT_NOT_DRAWN = 1
"""Exit status when graphviz is missing or failed."""


class PlotFormat(StrEnum):
    """The ``--format`` choices (the same as :data:`selinon_backends.plot.FORMATS`)."""

    SVG = "svg"
    PNG = "png"
    PDF = "pdf"
    DOT = "dot"
    MERMAID = "mermaid"


PLOT_FORMATS: tuple[str, ...] = tuple(member.value for member in PlotFormat)
"""The ``--format`` values, the default first."""


def register(app: typer.Typer) -> None:
    """Attach the ``plot`` command to ``app``."""
    app.command(name="plot")(plot)


def _fail(message: str, code: int = EXIT_INVALID) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


def plot(
    *,
    nodes_definition: NodesDefinitionOption = None,
    flow_definitions: FlowDefinitionsOption = None,
    flow: Annotated[
        list[str] | None,
        typer.Option(
            "--flow", metavar="NAME", help="Draw only this flow (repeatable; default: every flow)."
        ),
    ] = None,
    output_dir: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output-dir",
            metavar="DIR",
            help="Where to write the files, one per flow, named <flow>.<ext> (created if missing).",
        ),
    ] = Path("."),
    fmt: Annotated[
        PlotFormat,
        typer.Option(
            "--format",
            envvar="SELINON_PLOT_FORMAT",
            help="svg, png and pdf need graphviz's 'dot' program (Debian package 'graphviz'); "
            "dot and mermaid (written as .mmd) need no program.",
        ),
    ] = PlotFormat.SVG,
    config: Annotated[
        Path | None,
        typer.Option(
            "-c",
            "--config",
            metavar="STYLE.yml",
            help="A style file: graphviz attributes per element (task, flow, condition, "
            "condition_foreach, storage, edge, store_edge, fallback_edge, fallback_true, "
            "graph), at the top level or under 'style:'.",
        ),
    ] = None,
    check_imports: Annotated[
        bool,
        typer.Option(
            "--check-imports/--no-check-imports",
            help="Also import the tasks, storages and functions the configuration names.",
        ),
    ] = False,
) -> None:
    """Draw flow diagrams: one file per flow, with tasks, sub-flows, conditions, storages and
    fallbacks."""
    if nodes_definition is None:
        raise typer.BadParameter(
            "a nodes definition file is required (or set SELINON_NODES_DEFINITION)",
            param_hint="'-n' / '--nodes-definition'",
        )
    style = _style(config)
    _check_output_dir(output_dir)
    from selinon_core.config.loader import load_system  # noqa: PLC0415 - pydantic on demand

    with exit_on_spec_error():
        system = load_system(
            nodes_definition, flow_paths(flow_definitions), check_imports=check_imports
        )
    names = _flow_names(system, flow)
    for name in names:
        typer.echo(_write(system, name, fmt.value, style, output_dir))


def _style(path: Path | None) -> PlotStyle | None:
    if path is None:
        return None
    from selinon_backends.plot import StyleError, load_style  # noqa: PLC0415

    try:
        return load_style(path)
    except StyleError as exc:
        raise _fail(f"--config: {exc}") from None


def _check_output_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise _fail(f"--output-dir {str(path)!r} is not a directory")


def _flow_names(system: System, wanted: list[str] | None) -> list[str]:
    known = list(system.spec.flows)
    if not wanted:
        return known
    for name in wanted:
        if name not in known:
            raise _fail(f"--flow: no flow is named {name!r}{did_you_mean(name, known)}")
    return list(dict.fromkeys(wanted))


def _write(system: System, name: str, fmt: str, style: PlotStyle | None, directory: Path) -> str:
    from selinon_backends.plot import FILE_EXTENSIONS, PlotError, render_flow  # noqa: PLC0415

    try:
        data = render_flow(system, name, fmt, style)
    except PlotError as exc:
        raise _fail(str(exc), EXIT_NOT_DRAWN) from None
    target = directory / f"{name}.{FILE_EXTENSIONS[fmt]}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as exc:
        raise _fail(f"cannot write {str(target)!r}: {exc.strerror or exc}") from None
    return str(target)
