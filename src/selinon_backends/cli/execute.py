"""``selinon-cli execute``: run a flow in this process and report what ran.

Exit codes: 0 the flow succeeded, 1 it failed, 2 invalid configuration or usage (unknown flow,
arguments that are not JSON, a report path that cannot be written, ...), 130 interrupted
(Ctrl-C; the report so far is written, with status ``interrupted``).  ``--report PATH`` writes
the JSON report described in ``docs/report.md``; with ``--report -`` stdout carries the report
alone: while the flow runs, whatever tasks, storages and trace sinks print goes to stderr.

The engine, the tracer and the progress display are imported when the command runs, not when
the command line is built, so that ``selinon-cli version`` and ``--help`` stay fast.
"""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from selinon_backends.cli.app import (
    EXIT_INVALID,
    EXIT_OK,
    FlowDefinitionsOption,
    FlowNameOption,
    NodeArgsOption,
    NodesDefinitionOption,
    ReportOption,
    SelectiveFollowSubflowsOption,
    SelectiveRunSubsequentOption,
    SelectiveTaskNamesOption,
    check_output_path,
    cli_state,
    exit_on_spec_error,
    flow_paths,
)
from selinon_backends.cli.problems import did_you_mean
from selinon_core.errors import RequestError

if TYPE_CHECKING:
    from selinon_backends.runtime import Engine, FlowRun, NodeRun
    from selinon_core.config.system import System

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "check_selective_names",
    "execute",
    "parse_node_args",
    "register",
    "selective_names",
]

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
_STDOUT = "-"
_SELINON_NO_OP = "Selinon 1.x option, accepted for its scripts; no effect here."


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


def selective_names(
    names: str | None, follow_subflows: bool, run_subsequent: bool
) -> list[str] | None:
    """The task names of ``--selective-task-names`` (``None`` without the option).

    Raises:
        RequestError: the follow/subsequent flags without names, or an empty list.
    """
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


def check_selective_names(system: System, names: list[str]) -> None:
    """Reject selective task names that name no node of the configuration, with a suggestion.

    Raises:
        RequestError: a name is neither a task nor a flow.
    """
    known = [task.name for task in system.spec.tasks] + list(system.spec.flows)
    for name in names:
        if name not in known:
            raise RequestError(
                f"--selective-task-names: no task or flow is named {name!r}"
                f"{did_you_mean(name, known)}"
            )


class _Recorder:
    """An engine observer that keeps every node run, so that an interrupted run can be reported."""

    __slots__ = ("records",)

    def __init__(self) -> None:
        self.records: dict[str, NodeRun] = {}

    def __call__(self, record: NodeRun) -> None:
        self.records[record.node_id] = record


def _engine(system: System, concurrency: int, fast_forward: bool, progress: Any) -> Engine:
    """The engine, with the tracer ``global.trace`` asks for (its storage sink uses the pool)."""
    from selinon_backends.runtime import Engine, RealClock, VirtualClock  # noqa: PLC0415

    engine: Engine | None = None

    def lookup(storage_name: str) -> Any:
        assert engine is not None
        return engine.results.get_connected_storage(storage_name)

    tracer = None
    if system.spec.global_.trace:
        from selinon_backends.tracing import build_tracer  # noqa: PLC0415

        tracer = build_tracer(system, storage_lookup=lookup)
    clock: Any = VirtualClock(RealClock().now()) if fast_forward else RealClock()
    if progress is not None and not fast_forward:
        from selinon_backends.cli.progress import ProgressClock  # noqa: PLC0415

        clock = ProgressClock(clock, progress)
    engine = Engine(system, concurrency=concurrency, clock=clock, tracer=tracer)
    return engine


def _write_report(run: FlowRun, path: str, stdout: Any) -> None:
    from selinon_backends.runtime.report import write_report  # noqa: PLC0415

    if path == _STDOUT:
        write_report(run, stdout)
        stdout.flush()
        return
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as stream:
        write_report(run, stream)


def _observe(engine: Engine, recorder: _Recorder, progress: Any) -> None:
    """Record every node run; also tell the progress display and an observer already set."""
    others = [watch for watch in (engine.observer, progress) if watch is not None]
    if not others:
        engine.observer = recorder
        return

    def every(record: NodeRun) -> None:
        recorder(record)
        for watch in others:
            watch(record)

    engine.observer = every


def _start(
    engine: Engine, flow_name: str, args: Any, selective: list[str] | None, flags: tuple[bool, bool]
) -> FlowRun:
    if selective is None:
        return engine.run_flow(flow_name, args)
    return engine.run_flow_selective(
        flow_name, selective, args, follow_subflows=flags[0], run_subsequent=flags[1]
    )


def _interrupted(flow_name: str, args: Any, recorder: _Recorder, started: float) -> FlowRun:
    import time  # noqa: PLC0415

    from selinon_backends.runtime import FlowRun  # noqa: PLC0415

    runs = list(recorder.records.values())
    flow_id = runs[0].flow_id if runs else ""
    return FlowRun(flow_name, flow_id, args, "interrupted", runs, time.perf_counter() - started)


def execute(  # noqa: PLR0917 - one parameter per command-line option
    ctx: typer.Context,
    nodes_definition: NodesDefinitionOption = None,
    flow_definitions: FlowDefinitionsOption = None,
    flow_name: FlowNameOption = None,
    node_args: NodeArgsOption = None,
    node_args_file: Annotated[
        Path | None,
        typer.Option("--node-args-file", metavar="FILE", help="Read the flow arguments (JSON)."),
    ] = None,
    node_args_json: Annotated[
        bool,
        typer.Option(
            "-j",
            "--node-args-json",
            help="Selinon 1.x option: arguments are always parsed as JSON here.",
            show_default=False,
        ),
    ] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            "-c", "--concurrency", min=1, metavar="N", help="How many tasks may run at once."
        ),
    ] = 1,
    selective_task_names: SelectiveTaskNamesOption = None,
    selective_follow_subflows: SelectiveFollowSubflowsOption = False,
    selective_run_subsequent: SelectiveRunSubsequentOption = False,
    hide_progressbar: Annotated[
        bool, typer.Option("--hide-progressbar", help="Do not draw the live progress display.")
    ] = False,
    fast_forward: Annotated[
        bool,
        typer.Option("--fast-forward", help="Jump over countdowns (retries, throttling)."),
    ] = False,
    report: ReportOption = None,
    sleep_time: Annotated[
        float | None,
        typer.Option("-s", "--sleep-time", metavar="SECONDS", help=_SELINON_NO_OP),
    ] = None,
    config_py: Annotated[
        Path | None, typer.Option("--config-py", metavar="FILE", help=_SELINON_NO_OP)
    ] = None,
    keep_config_py: Annotated[bool, typer.Option("--keep-config-py", help=_SELINON_NO_OP)] = False,
    dashboard: Annotated[
        bool,
        typer.Option(
            "--dashboard", help="Serve the web dashboard of this run on 127.0.0.1 while it runs."
        ),
    ] = False,
    dashboard_port: Annotated[
        int,
        typer.Option(
            "--dashboard-port", min=0, max=65535, metavar="N", help="Port of --dashboard."
        ),
    ] = 8000,
    dashboard_linger: Annotated[
        float,
        typer.Option(
            "--dashboard-linger",
            min=0,
            metavar="SECONDS",
            help="Keep --dashboard serving this long after the flow ended (Ctrl-C: stop).",
        ),
    ] = 0.0,
) -> None:
    """Run a flow in this process; exit 0 if it succeeded, 1 if it failed, 2 on bad input."""
    del node_args_json, sleep_time, config_py, keep_config_py  # Selinon 1.x options, no effect
    if nodes_definition is None or flow_name is None:
        missing = "-n/--nodes-definition" if nodes_definition is None else "--flow-name"
        raise _fail(f"{missing} is required")
    check_output_path(report, "--report")
    try:
        args = parse_node_args(node_args, node_args_file)
        selective = selective_names(
            selective_task_names, selective_follow_subflows, selective_run_subsequent
        )
    except RequestError as exc:
        raise _fail(str(exc)) from None
    system = _load(nodes_definition, flow_definitions, flow_name, selective)
    state = cli_state(ctx)
    progress = None
    if not hide_progressbar and sys.stderr.isatty():
        from selinon_backends.cli.progress import Progress  # noqa: PLC0415 - rich on a terminal

        progress = Progress(color=state.color)
    with exit_on_spec_error():
        engine = _engine(system, concurrency, fast_forward, progress)
    live = _dashboard(system, engine, flow_name, args, dashboard_port) if dashboard else None
    try:
        run = _run(
            engine,
            flow_name,
            args=args,
            selective=selective,
            progress=progress,
            report=report,
            flags=(selective_follow_subflows, selective_run_subsequent),
        )
        if live is not None:
            live.finish(run, linger=dashboard_linger)
    finally:
        if live is not None:
            live.stop()
    from selinon_backends.cli.summary import render_summary  # noqa: PLC0415

    typer.echo(render_summary(run, system.spec, verbosity=state.verbosity), err=True)
    raise typer.Exit(EXIT_OK if run.succeeded else EXIT_FAILED)


def _dashboard(system: System, engine: Engine, flow_name: str, args: Any, port: int) -> Any:
    """Serve the dashboard of this run (``--dashboard``); exit 2 when it cannot be served."""
    from selinon_backends.cli.dashboard import require_dashboard_extra  # noqa: PLC0415

    require_dashboard_extra()
    from selinon_backends.dashboard.inprocess import InProcessDashboard  # noqa: PLC0415

    live = InProcessDashboard(system, flow_name, args, port=port)
    address = live.start()
    if address is None:
        live.stop()
        raise _fail(
            f"cannot serve the dashboard on 127.0.0.1:{port}: choose another --dashboard-port"
        )
    live.attach(engine)
    typer.echo(f"Dashboard of this run: {address}", err=True)
    return live


def _load(
    nodes_definition: Path,
    flow_definitions: list[str] | None,
    flow_name: str,
    selective: list[str] | None,
) -> System:
    from selinon_core.config.loader import load_system  # noqa: PLC0415

    with exit_on_spec_error():
        system = load_system(nodes_definition, flow_paths(flow_definitions), check_imports=True)
    if not system.spec.is_flow(flow_name):
        known = sorted(system.spec.flows)
        raise _fail(
            f"unknown flow {flow_name!r}{did_you_mean(flow_name, known)} "
            f"(flows: {', '.join(known) or 'none'})"
        )
    try:
        if selective is not None:
            check_selective_names(system, selective)
    except RequestError as exc:
        raise _fail(str(exc)) from None
    return system


def _run(
    engine: Engine,
    flow_name: str,
    *,
    args: Any,
    selective: list[str] | None,
    progress: Any,
    report: str | None,
    flags: tuple[bool, bool],
) -> FlowRun:
    """Run the flow (stdout sent to stderr while ``--report -``) and write the report."""
    import time  # noqa: PLC0415

    from selinon_core.errors import DispatchError  # noqa: PLC0415

    stdout = sys.stdout
    recorder = _Recorder()
    _observe(engine, recorder, progress)
    started = time.perf_counter()
    quiet_stdout = redirect_stdout(sys.stderr) if report == _STDOUT else nullcontext()
    try:
        with quiet_stdout, progress if progress is not None else nullcontext():
            run = _start(engine, flow_name, args, selective, flags)
    except (DispatchError, RequestError) as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        partial = _interrupted(flow_name, args, recorder, started)
        if report is not None:
            _write_report(partial, report, stdout)
        where = "" if report is None else f"; the report so far is in {report!r}"
        if report == _STDOUT:
            where = "; the report so far is on stdout"
        typer.echo(
            f"Interrupted: flow {flow_name!r} stopped after {partial.duration:.1f}s, "
            f"{len(partial.runs)} node runs started{where}.",
            err=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if report is not None:
        _write_report(run, report, stdout)
    return run
