"""``selinon-cli inspect``: load and check a configuration, list its queues, dump it.

Exit codes: 0 when the configuration is valid, 2 when it is invalid (every problem is listed on
stderr as ``file:line:column: message (hint)``) or the command line is wrong, 1 when
``--check-services`` found a storage it cannot use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from selinon_backends.cli.app import (
    FlowDefinitionsOption,
    NodesDefinitionOption,
    check_output_path,
    cli_state,
    exit_on_spec_error,
    flow_paths,
)

if TYPE_CHECKING:
    from selinon_core.config.system import System
    from selinon_core.errors import Problem

__all__ = ["inspect", "register", "render_summary", "schema_document"]

_DUMP_TO_STDOUT = "-"


def register(app: typer.Typer) -> None:
    """Attach the ``inspect`` command to ``app``."""
    app.command(name="inspect")(inspect)


def inspect(
    ctx: typer.Context,
    *,
    nodes_definition: NodesDefinitionOption = None,
    flow_definitions: FlowDefinitionsOption = None,
    check_imports: Annotated[
        bool,
        typer.Option(
            "--check-imports/--no-check-imports",
            help="Import the tasks, storages and functions the configuration names "
            "(skip on a machine without your code).",
        ),
    ] = True,
    no_check: Annotated[
        bool,
        typer.Option(
            "--no-check",
            help="Selinon 1.x option: the same as --no-check-imports (the structure of the "
            "configuration is always checked).",
        ),
    ] = False,
    check_services: Annotated[
        bool,
        typer.Option(
            "--check-services",
            help="Also connect to every configured storage and report the ones that fail "
            "(exit 1 if any does).",
        ),
    ] = False,
    list_task_queues: Annotated[
        bool, typer.Option("--list-task-queues", help="Print 'task:queue' for every task.")
    ] = False,
    list_dispatcher_queues: Annotated[
        bool,
        typer.Option("--list-dispatcher-queues", help="Print 'flow:queue' for every flow."),
    ] = False,
    dump: Annotated[
        str | None,
        typer.Option(
            "-d",
            "--dump",
            metavar="FILE",
            help="Write the normalised configuration as JSON to FILE ('-' for stdout).",
        ),
    ] = None,
    schema: Annotated[
        bool,
        typer.Option(
            "--schema",
            help="Print the JSON Schema of the YAML language (for editors) and exit; "
            "other options are ignored.",
        ),
    ] = False,
) -> None:
    """Check a configuration: print a summary, list queues or dump it as JSON."""
    if schema:
        typer.echo(json.dumps(schema_document(), indent=2))
        return
    if nodes_definition is None:
        raise typer.BadParameter(
            "a nodes definition file is required (or set SELINON_NODES_DEFINITION)",
            param_hint="'-n' / '--nodes-definition'",
        )
    check_output_path(dump, "--dump")
    system = _load(nodes_definition, flow_definitions, check_imports=check_imports and not no_check)
    if dump is not None:
        _write_dump(system, dump)
    _list_queues(system, tasks=list_task_queues, flows=list_dispatcher_queues)
    if not (list_task_queues or list_dispatcher_queues or dump == _DUMP_TO_STDOUT):
        typer.echo(render_summary(system, verbosity=cli_state(ctx).verbosity))
    if check_services:
        from selinon_backends.cli.services import check_storages  # noqa: PLC0415

        if not check_storages(system):
            raise typer.Exit(1)


def _load(nodes: Path, flows: list[str] | None, *, check_imports: bool) -> System:
    """Load the configuration (exit 2 listing its problems) and write its warnings to stderr."""
    from selinon_core.config.loader import load_system  # noqa: PLC0415 - pydantic on demand

    with exit_on_spec_error():
        system = load_system(nodes, flow_paths(flows), check_imports=check_imports)
    for warning in system.warnings:
        typer.echo(_warning_line(warning), err=True)
    return system


def _list_queues(system: System, *, tasks: bool, flows: bool) -> None:
    if tasks:
        for task in system.spec.tasks:
            typer.echo(f"{task.name}:{task.queue}")
    if flows:
        for name, flow in system.spec.flows.items():
            typer.echo(f"{name}:{flow.queue}")


def schema_document() -> dict[str, Any]:
    """The JSON Schema of the YAML configuration language."""
    from selinon_core.config.language_schema import language_schema  # noqa: PLC0415

    return language_schema()


def render_summary(system: System, *, verbosity: int = 0) -> str:
    """A short human-readable summary of a valid configuration.

    Args:
        system: the loaded configuration.
        verbosity: with 1 or more, add one line per flow.
    """
    spec = system.spec
    edges = sum(len(flow.edges) for flow in spec.flows.values())
    sources = ", ".join(system.sources) or "<config>"
    lines = [
        f"Configuration is valid ({sources}).",
        f"  tasks:    {len(spec.tasks)}",
        f"  flows:    {len(spec.flows)}",
        f"  storages: {len(spec.storages)}",
        f"  edges:    {edges}",
        f"  warnings: {len(system.warnings)}",
    ]
    if verbosity:
        for name, flow in spec.flows.items():
            lines.append(
                f"  flow {name}: {len(flow.edges)} edges, {len(flow.failures)} failures, "
                f"queue {flow.queue}"
            )
    return "\n".join(lines)


def _warning_line(problem: Problem) -> str:
    text = f"{problem.location()}: warning: {problem.message}"
    return f"{text} ({problem.hint})" if problem.hint else text


def _write_dump(system: System, target: str) -> None:
    text = json.dumps(system.spec.model_dump(mode="json", by_alias=True), indent=2) + "\n"
    if target == _DUMP_TO_STDOUT:
        typer.echo(text, nl=False)
        return
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot write {target!r}: {exc.strerror or exc}", param_hint="'--dump'"
        ) from exc
