"""``selinon-cli dashboard``: the web dashboard of the flows of a distributed runtime.

It reads the flow-state store, the run journal (the stores of ``--state-store URL``) and the
configuration (for the flow diagrams); it never writes.  It serves on 127.0.0.1 unless
``--host`` says otherwise, and another address needs ``--token`` (or
``SELINON_DASHBOARD_TOKEN``).  Starlette, uvicorn and Jinja2 (the ``dashboard`` extra) are
imported when the command runs.

It serves until Ctrl-C (exit status 130) or SIGTERM.  Exit status 2: usage or configuration
error (a missing extra, a public address without a token, an unreachable or unsupported state
store).
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from selinon_backends.cli.app import (
    EXIT_INVALID,
    EXIT_OK,
    FlowDefinitionsOption,
    NodesDefinitionOption,
    exit_on_spec_error,
    flow_paths,
)

__all__ = ["DASHBOARD_MODULES", "dashboard", "register", "require_dashboard_extra"]

DASHBOARD_MODULES = ("starlette", "uvicorn", "jinja2")
"""What the ``dashboard`` extra installs."""

HostOption = Annotated[
    str,
    typer.Option(
        "--host",
        metavar="ADDRESS",
        help="Address to serve on; anything but loopback needs --token.",
    ),
]
PortOption = Annotated[
    int, typer.Option("--port", min=1, max=65535, metavar="N", help="Port to serve on.")
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="SELINON_DASHBOARD_TOKEN",
        show_envvar=True,
        metavar="SECRET",
        help="Every request must carry it (Authorization: Bearer, or ?token= once).",
    ),
]


def register(app: typer.Typer) -> None:
    """Attach the ``dashboard`` command to ``app``."""
    app.command(name="dashboard")(dashboard)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(EXIT_INVALID)


def require_dashboard_extra() -> None:
    """Fail with exit code 2 and an actionable message when the extra is not installed."""
    for module in DASHBOARD_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            raise _fail(
                f"the dashboard needs the {module!r} package: install the `dashboard` extra "
                "(pip install 'selinon-ng[dashboard]')"
            ) from None


def dashboard(  # noqa: PLR0917 - one parameter per command-line option
    nodes_definition: NodesDefinitionOption = None,
    flow_definitions: FlowDefinitionsOption = None,
    state_store: Annotated[
        str | None,
        typer.Option(
            "--state-store",
            envvar="SELINON_STATE_STORE",
            show_envvar=True,
            metavar="URL",
            help="The workers' flow-state store: redis://... or postgresql://...",
        ),
    ] = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    token: TokenOption = None,
) -> None:
    """Serve a read-only web dashboard of the flows in a state store (Ctrl-C stops it)."""
    if nodes_definition is None:
        raise _fail("-n/--nodes-definition is required")
    if not state_store:
        raise _fail("--state-store (or SELINON_STATE_STORE) is required")
    from selinon_backends.dashboard.security import check_bind  # noqa: PLC0415

    try:
        check_bind(host, token)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    require_dashboard_extra()
    from selinon_backends.dashboard import StoreSource, create_app  # noqa: PLC0415
    from selinon_backends.dashboard.server import serve  # noqa: PLC0415
    from selinon_backends.distributed.backends import describe_url, open_backends  # noqa: PLC0415
    from selinon_core.config.loader import load_system  # noqa: PLC0415
    from selinon_core.errors import BackendError  # noqa: PLC0415

    with exit_on_spec_error():
        system = load_system(nodes_definition, flow_paths(flow_definitions), check_imports=False)
        try:
            backends = open_backends(state_store)
        except (ImportError, BackendError) as exc:
            raise _fail(str(exc)) from None
    try:
        try:
            app = create_app(system, backends, token=token)
            StoreSource(backends).count_flows()  # the store is reachable
        except (TypeError, BackendError) as exc:
            raise _fail(f"cannot read the state store {describe_url(state_store)}: {exc}") from None
        shown = "localhost" if host in ("127.0.0.1", "::1") else host
        typer.echo(
            f"Dashboard of {describe_url(state_store)} on http://{shown}:{port}/ (Ctrl-C to stop)",
            err=True,
        )
        serve(app, host=host, port=port, token=token)
    finally:
        backends.close()
    raise typer.Exit(EXIT_OK)
