"""``selinon-cli worker``, ``run`` and ``status``: the distributed runtime on Kombu.

* ``worker`` consumes task and dispatcher queues until SIGTERM/SIGINT (it finishes the message
  in hand, then exits 0);
* ``run`` starts a flow and prints its id (exit 0), or with ``--wait`` waits for it;
* ``status FLOW_ID`` prints a flow's node states, or with ``--wait`` waits for it.

Exit codes of ``run --wait`` and ``status --wait``: 0 the flow succeeded, 1 it failed, 2 usage
or configuration error, 3 ``--timeout`` passed first.  ``--report PATH|-`` writes the JSON
report of ``execute --report`` (``docs/report.md``).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
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
    exit_on_spec_error,
    flow_paths,
)

if TYPE_CHECKING:
    from selinon_backends.runtime.report import FlowRun
    from selinon_core.config.system import System

__all__ = ["EXIT_FAILED", "EXIT_TIMEOUT", "register"]

EXIT_FAILED = 1
EXIT_TIMEOUT = 3
BROKER_ENVVAR = "SELINON_BROKER_URL"
STATE_STORE_ENVVAR = "SELINON_STATE_STORE"

BrokerOption = Annotated[
    str | None,
    typer.Option(
        "--broker",
        envvar=BROKER_ENVVAR,
        show_envvar=True,
        metavar="URL",
        help="Broker URL: amqp://guest:guest@127.0.0.1:5672// or redis://127.0.0.1:6379/0.",
    ),
]
StateStoreOption = Annotated[
    str | None,
    typer.Option(
        "--state-store",
        envvar=STATE_STORE_ENVVAR,
        show_envvar=True,
        metavar="URL",
        help="Flow-state store: redis://... or postgresql://... (default: a Redis broker).",
    ),
]
WaitOption = Annotated[
    bool, typer.Option("--wait", help="Wait for the flow to finish; exit 0/1/3 by outcome.")
]
TimeoutOption = Annotated[
    float | None,
    typer.Option("--timeout", metavar="SECONDS", min=0, help="Give up waiting (exit 3)."),
]


def register(app: typer.Typer) -> None:
    """Attach ``worker``, ``run`` and ``status`` to ``app``."""
    app.command(name="worker")(worker)
    app.command(name="run")(run)
    app.command(name="status")(status)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(EXIT_INVALID)


def _load(nodes_definition: Path | None, flow_definitions: list[str] | None) -> System:
    if nodes_definition is None:
        raise _fail("-n/--nodes-definition is required")
    from selinon_core.config.loader import load_system  # noqa: PLC0415

    with exit_on_spec_error():
        return load_system(nodes_definition, flow_paths(flow_definitions), check_imports=True)


def _broker(url: str | None) -> str:
    if not url:
        raise _fail(f"--broker (or {BROKER_ENVVAR}) is required")
    return url


def worker(  # noqa: PLR0917 - one parameter per command-line option
    nodes_definition: NodesDefinitionOption = None,
    flow_definitions: FlowDefinitionsOption = None,
    broker: BrokerOption = None,
    state_store: StateStoreOption = None,
    queues: Annotated[
        str | None,
        typer.Option("--queues", metavar="Q1,Q2", help="Consume only these queues."),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option("-c", "--concurrency", min=1, metavar="N", help="Messages handled at once."),
    ] = 1,
    dispatcher_only: Annotated[
        bool, typer.Option("--dispatcher-only", help="Consume only dispatcher (flow) queues.")
    ] = False,
    tasks_only: Annotated[
        bool, typer.Option("--tasks-only", help="Consume only task queues.")
    ] = False,
    prefetch: Annotated[
        int,
        typer.Option(
            "--prefetch", min=1, metavar="N", help="Unacknowledged messages per consumer."
        ),
    ] = 4,
    visibility_timeout: Annotated[
        float,
        typer.Option(
            "--visibility-timeout",
            metavar="SECONDS",
            min=1,
            help="Redis broker: redeliver a message whose worker died after this long.",
        ),
    ] = 3600.0,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            metavar="PORT",
            min=0,
            max=65535,
            help="Serve Prometheus metrics at http://HOST:PORT/metrics (0: a free port).",
        ),
    ] = None,
    metrics_host: Annotated[
        str,
        typer.Option(
            "--metrics-host", metavar="HOST", help="Address the metrics endpoint listens on."
        ),
    ] = "127.0.0.1",
) -> None:
    """Run tasks and apply flow events from the broker until SIGTERM or Ctrl-C."""
    if dispatcher_only and tasks_only:
        raise _fail("--dispatcher-only and --tasks-only exclude each other")
    system = _load(nodes_definition, flow_definitions)
    broker_url = _broker(broker)
    from selinon_backends.kombu import KombuWorker, resolve_state_store, worker_queues  # noqa: PLC0415

    role = "dispatcher" if dispatcher_only else "tasks" if tasks_only else "all"
    only = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    try:
        chosen = worker_queues(system, role=role, only=only)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    _warn_memory_storages(system)
    with exit_on_spec_error():
        backends = _open_backends(resolve_state_store(broker_url, state_store), broker_url)
        tracer = _tracer(system, backends, metrics=metrics_port is not None)
        metrics = _metrics(tracer, metrics_port, metrics_host)
        kombu_worker = KombuWorker(
            system,
            broker_url=broker_url,
            backends=backends,
            queues=chosen,
            concurrency=concurrency,
            prefetch=prefetch,
            tracer=tracer,
            transport_options={"visibility_timeout": visibility_timeout},
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    typer.echo(
        f"selinon worker: consuming {', '.join(chosen)} (concurrency {concurrency})", err=True
    )
    _on_signals(kombu_worker.stop)
    kombu_worker.run()
    if metrics is not None:
        metrics.close()
    backends.close()
    typer.echo(f"selinon worker: stopped after {kombu_worker.handled} messages", err=True)
    raise typer.Exit(EXIT_OK)


def _open_backends(url: str, broker: str | None = None) -> Any:
    from selinon_backends.distributed.backends import open_backends  # noqa: PLC0415

    return open_backends(url, broker=broker)


def _tracer(system: System, backends: Any, *, metrics: bool) -> Any:
    """The worker's tracer: the ``global.trace`` sinks (OpenTelemetry reads the run journal),
    and room for the metrics sink; ``None`` when nobody listens."""
    if not system.spec.global_.trace and not metrics:
        return None
    from selinon_backends.tracing import build_tracer  # noqa: PLC0415

    return build_tracer(system, otel_options={"journal": backends.journal})


def _metrics(tracer: Any, port: int | None, host: str) -> Any:
    """Attach a metrics sink to ``tracer`` and serve it on ``host:port`` (when a port is given)."""
    if port is None:
        return None
    from selinon_backends.metrics import MetricsSink, serve_metrics  # noqa: PLC0415

    sink = MetricsSink()
    try:
        server = serve_metrics(sink, port=port, host=host)
    except OSError as exc:
        raise _fail(f"--metrics-port {port}: cannot listen on {host}:{port} ({exc})") from None
    tracer.add_sink(sink)
    typer.echo(f"selinon worker: metrics at {server.url}", err=True)
    return server


def _warn_memory_storages(system: System) -> None:
    """Warn that in-memory storages are private to each worker process."""
    names = [
        storage.name
        for storage in system.spec.storages
        if storage.import_.endswith(".memory") or storage.classname == "InMemoryStorage"
    ]
    if names:
        typer.echo(
            f"warning: storage(s) {', '.join(names)} keep results in this process only: "
            "with more than one worker process, conditions and tasks that read results need "
            "a shared storage (Redis, PostgreSQL, S3, a shared filesystem)",
            err=True,
        )


def _on_signals(stop: Any) -> None:
    def handler(signum: int, frame: Any) -> None:
        del frame
        typer.echo(f"selinon worker: {signal.Signals(signum).name}, finishing...", err=True)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run(  # noqa: PLR0917 - one parameter per command-line option
    nodes_definition: NodesDefinitionOption = None,
    flow_definitions: FlowDefinitionsOption = None,
    flow_name: FlowNameOption = None,
    node_args: NodeArgsOption = None,
    broker: BrokerOption = None,
    state_store: StateStoreOption = None,
    selective_task_names: SelectiveTaskNamesOption = None,
    selective_follow_subflows: SelectiveFollowSubflowsOption = False,
    selective_run_subsequent: SelectiveRunSubsequentOption = False,
    wait: WaitOption = False,
    timeout: TimeoutOption = None,
    report: ReportOption = None,
) -> None:
    """Start a flow on the workers; print its id, or with --wait wait for its outcome."""
    if flow_name is None:
        raise _fail("--flow-name is required")
    check_output_path(report, "--report")
    from selinon_backends.cli.execute import (  # noqa: PLC0415
        check_selective_names,
        parse_node_args,
        selective_names,
    )
    from selinon_core.errors import RequestError  # noqa: PLC0415

    try:
        args = parse_node_args(node_args, None)
        names = selective_names(
            selective_task_names, selective_follow_subflows, selective_run_subsequent
        )
    except RequestError as exc:
        raise _fail(str(exc)) from None
    system = _load(nodes_definition, flow_definitions)
    if names is not None:
        try:
            check_selective_names(system, names)
        except RequestError as exc:
            raise _fail(str(exc)) from None
    broker_url = _broker(broker)
    from selinon_backends.kombu import Client, resolve_state_store  # noqa: PLC0415
    from selinon_core.errors import DispatchError  # noqa: PLC0415

    with exit_on_spec_error():
        client = Client(
            system, broker=broker_url, state_store=resolve_state_store(broker_url, state_store)
        )
    with client:
        try:
            if names is not None:
                flow_id = client.run_flow_selective(
                    flow_name,
                    names,
                    args,
                    follow_subflows=selective_follow_subflows,
                    run_subsequent=selective_run_subsequent,
                )
            else:
                flow_id = client.run_flow(flow_name, args)
        except (DispatchError, RequestError) as exc:
            raise _fail(str(exc)) from None
        typer.echo(flow_id, err=report == "-")  # stdout is the report's alone with --report -
        if not wait:
            raise typer.Exit(EXIT_OK)
        _finish(lambda: client.wait(flow_id, timeout=timeout), report)


def status(  # noqa: PLR0917 - one parameter per command-line option
    flow_id: Annotated[str, typer.Argument(metavar="FLOW_ID", help="The flow's id.")],
    broker: BrokerOption = None,
    state_store: StateStoreOption = None,
    wait: WaitOption = False,
    timeout: TimeoutOption = None,
    report: ReportOption = None,
) -> None:
    """Show a flow's node states; with --wait wait for its outcome (exit 0/1/3)."""
    check_output_path(report, "--report")
    from selinon_backends.kombu import resolve_state_store  # noqa: PLC0415

    if not (state_store or broker or os.environ.get(STATE_STORE_ENVVAR)):
        raise _fail(f"--state-store (or {STATE_STORE_ENVVAR}, or a Redis --broker) is required")
    with exit_on_spec_error():
        url = resolve_state_store(broker or "", state_store)
        backends = _open_backends(url)
    from selinon_backends.distributed.reports import flow_run  # noqa: PLC0415

    try:
        found = flow_run(backends.journal, flow_id)
        if found is None:
            raise _fail(f"no flow {flow_id!r} in the state store (unknown, or expired)")
        if wait:
            from selinon_backends.kombu.client import wait_for  # noqa: PLC0415

            _finish(lambda: wait_for(backends, flow_id, timeout), report)
        _print_status(found)
        if report is not None:
            _write(found, report)
        finished = flow_id in found.flow_statuses
        raise typer.Exit(EXIT_OK if not finished or found.succeeded else EXIT_FAILED)
    finally:
        backends.close()


def _finish(wait: Callable[[], FlowRun], report: str | None) -> None:
    from selinon_backends.kombu import FlowTimeout  # noqa: PLC0415

    try:
        found = wait()
    except FlowTimeout as exc:
        typer.echo(f"Timeout: {exc}", err=True)
        raise typer.Exit(EXIT_TIMEOUT) from None
    except KeyboardInterrupt:
        typer.echo("Interrupted: the flow goes on on the workers.", err=True)
        raise typer.Exit(130) from None
    _print_status(found)
    if report is not None:
        _write(found, report)
    raise typer.Exit(EXIT_OK if found.succeeded else EXIT_FAILED)


def _print_status(found: FlowRun) -> None:
    state = found.flow_statuses.get(found.flow_id, "running")
    lines = [f"flow {found.flow_name} {found.flow_id}: {state}"]
    for node in found.runs:
        line = f"  {node.node_name} {node.node_id}: {node.status}"
        if node.retries:
            line += f" (retries: {node.retries})"
        if node.error:
            line += f" - {node.error}"
        lines.append(line)
    typer.echo("\n".join(lines), err=True)


def _write(found: FlowRun, path: str) -> None:
    from selinon_backends.runtime.report import write_report  # noqa: PLC0415

    if path == "-":
        write_report(found, sys.stdout)
        sys.stdout.flush()
        return
    with open(path, "w", encoding="utf-8") as stream:
        write_report(found, stream)
