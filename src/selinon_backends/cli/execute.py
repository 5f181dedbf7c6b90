"""``selinon-cli execute``: run a flow in this process and report what ran.

Exit codes: 0 the flow succeeded, 1 it failed, 2 invalid configuration or usage (unknown flow,
arguments that are not JSON, ...).  ``--report PATH`` writes the JSON report described in
``docs/report.md`` (``-`` writes it to stdout; the progress display and messages go to stderr).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from selinon_backends.cli.app import (
    EXIT_INVALID,
    EXIT_OK,
    FlowDefinitionsOption,
    NodesDefinitionOption,
    exit_on_spec_error,
    flow_paths,
)
from selinon_backends.cli.progress import Progress
from selinon_backends.runtime import Engine, FlowRun, RealClock, VirtualClock
from selinon_backends.tracing import build_tracer
from selinon_core.config.loader import load_system
from selinon_core.config.system import System
from selinon_core.errors import DispatchError, RequestError

__all__ = ["EXIT_FAILED", "execute", "parse_node_args", "register"]

EXIT_FAILED = 1
_STDOUT = "-"


def register(app: typer.Typer) -> None:
    """Attach the ``execute`` command to ``app``."""
    app.command(name="execute")(execute)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(EXIT_INVALID)


def parse_node_args(text: str | None, file: Path | None) -> Any:
    """The flow arguments from ``--node-args`` (JSON text) or ``--node-args-file`` (a JSON file).

    Raises:
        RequestError: both were given, the file cannot be read or the text is not JSON.
    """
    if text is not None and file is not None:
        raise RequestError("give either --node-args or --node-args-file, not both")
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise RequestError(f"cannot read --node-args-file {str(file)!r}: {exc}") from None
        source = f"file {str(file)!r}"
    else:
        source = "--node-args"
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError(
            f"{source} is not valid JSON ({exc}): got {text!r}.\n"
            "Quote the whole value for your shell and use double quotes inside it, e.g.\n"
            "  --node-args '{\"guests\": 4}'   or, for a plain string,   --node-args '\"text\"'"
        ) from None


def _selective_names(
    names: str | None, follow_subflows: bool, run_subsequent: bool
) -> list[str] | None:
    if names is None:
        if follow_subflows or run_subsequent:
            raise RequestError(
                "--selective-follow-subflows and --selective-run-subsequent need "
                "--selective-task-names"
            )
        return None
    found = [name.strip() for name in names.split(",") if name.strip()]
    if not found:
        raise RequestError("--selective-task-names lists no task name")
    return found


def _engine(system: System, concurrency: int, fast_forward: bool) -> Engine:
    """The engine, with the tracer ``global.trace`` asks for (its storage sink uses the pool)."""
    engine: Engine | None = None

    def lookup(storage_name: str) -> Any:
        assert engine is not None
        return engine.results.get_connected_storage(storage_name)

    tracer = build_tracer(system, storage_lookup=lookup) if system.spec.global_.trace else None
    engine = Engine(
        system,
        concurrency=concurrency,
        clock=VirtualClock(RealClock().now()) if fast_forward else RealClock(),
        tracer=tracer,
    )
    return engine


def _write_report(run: FlowRun, path: str) -> None:
    text = json.dumps(run.report(), indent=2, default=repr)
    if path == _STDOUT:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    else:
        Path(path).write_text(text + "\n", encoding="utf-8")


def _summary(run: FlowRun) -> str:
    failed = [r for r in run.runs if r.status == "failed"]
    lines = [
        f"Flow {run.flow_name!r} ({run.flow_id}) {run.status} in {run.duration:.3f}s: "
        f"{len(run.runs)} node runs, {len(failed)} failed."
    ]
    lines.extend(
        f"  {r.kind} {r.node_name!r} ({r.node_id}) in flow {r.flow_name!r}: {r.error or 'failed'}"
        for r in failed
    )
    return "\n".join(lines)


def _runner(
    engine: Engine, flow_name: str, node_args: Any, selective: list[str] | None, *flags: bool
) -> Callable[[], FlowRun]:
    if selective is None:
        return partial(engine.run_flow, flow_name, node_args)
    follow, subsequent = flags
    return partial(
        engine.run_flow_selective,
        flow_name,
        selective,
        node_args,
        follow_subflows=follow,
        run_subsequent=subsequent,
    )


def execute(  # noqa: PLR0917 - one parameter per command-line option
    nodes_definition: NodesDefinitionOption = None,
    flow_definitions: FlowDefinitionsOption = None,
    flow_name: Annotated[
        str | None, typer.Option("--flow-name", metavar="NAME", help="The flow to run.")
    ] = None,
    node_args: Annotated[
        str | None,
        typer.Option("-a", "--node-args", metavar="JSON", help="Flow arguments, as JSON."),
    ] = None,
    node_args_file: Annotated[
        Path | None,
        typer.Option("--node-args-file", metavar="FILE", help="Read the flow arguments (JSON)."),
    ] = None,
    node_args_json: Annotated[
        bool,
        typer.Option(
            "-j", "--node-args-json", help="Accepted for Selinon compatibility (always on)."
        ),
    ] = True,
    concurrency: Annotated[
        int,
        typer.Option("-c", "--concurrency", min=1, help="How many tasks may run at once."),
    ] = 1,
    selective_task_names: Annotated[
        str | None,
        typer.Option(
            "--selective-task-names", metavar="T1,T2", help="Run only what leads to these tasks."
        ),
    ] = None,
    selective_follow_subflows: Annotated[
        bool, typer.Option("--selective-follow-subflows", help="Look for the tasks in sub-flows.")
    ] = False,
    selective_run_subsequent: Annotated[
        bool,
        typer.Option("--selective-run-subsequent", help="Also run what follows those tasks."),
    ] = False,
    hide_progressbar: Annotated[
        bool, typer.Option("--hide-progressbar", help="Do not draw the live progress display.")
    ] = False,
    fast_forward: Annotated[
        bool,
        typer.Option("--fast-forward", help="Jump over countdowns (retries, throttling)."),
    ] = False,
    report: Annotated[
        str | None,
        typer.Option("--report", metavar="PATH", help="Write the JSON report ('-': stdout)."),
    ] = None,
) -> None:
    """Run a flow in this process; exit 0 if it succeeded, 1 if it failed, 2 on bad input."""
    del node_args_json  # JSON is always parsed
    if nodes_definition is None or flow_name is None:
        missing = "-n/--nodes-definition" if nodes_definition is None else "--flow-name"
        raise _fail(f"{missing} is required")
    try:
        args = parse_node_args(node_args, node_args_file)
        selective = _selective_names(
            selective_task_names, selective_follow_subflows, selective_run_subsequent
        )
    except RequestError as exc:
        raise _fail(str(exc)) from None
    with exit_on_spec_error():
        system = load_system(nodes_definition, flow_paths(flow_definitions), check_imports=True)
        if not system.spec.is_flow(flow_name):
            known = ", ".join(sorted(system.spec.flows)) or "none"
            raise _fail(f"unknown flow {flow_name!r} (flows: {known})")
        engine = _engine(system, concurrency, fast_forward)
    run_it = _runner(
        engine, flow_name, args, selective, selective_follow_subflows, selective_run_subsequent
    )
    try:
        if not hide_progressbar and sys.stderr.isatty():
            with Progress() as progress:
                engine.observer = progress
                run = run_it()
        else:
            run = run_it()
    except (DispatchError, RequestError) as exc:
        raise _fail(str(exc)) from None
    if report is not None:
        _write_report(run, report)
    typer.echo(_summary(run), err=True)
    raise typer.Exit(EXIT_OK if run.succeeded else EXIT_FAILED)
