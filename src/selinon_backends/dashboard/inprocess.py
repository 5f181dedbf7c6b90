"""``selinon-cli execute --dashboard``: the dashboard of an in-process run, while it runs.

The engine's observer feeds a :class:`~selinon_backends.dashboard.sources.LiveSource`; the
application is served on 127.0.0.1 by uvicorn in a daemon thread, and stopped after the run
(optionally some seconds later, to look at the outcome).
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from selinon_backends.dashboard.app import create_app
from selinon_backends.dashboard.server import BackgroundServer
from selinon_backends.dashboard.sources import LiveSource

if TYPE_CHECKING:
    from selinon_backends.runtime import Engine, FlowRun
    from selinon_core.config.system import System

__all__ = ["InProcessDashboard"]


class InProcessDashboard:
    """The dashboard of one ``execute`` run.

    Args:
        system: the loaded configuration.
        flow_name: the flow being run.
        node_args: its arguments.
        port: the port on 127.0.0.1 (0: any free port).
    """

    def __init__(self, system: System, flow_name: str, node_args: Any, *, port: int) -> None:
        self.source = LiveSource(flow_name, node_args)
        self._server = BackgroundServer(
            create_app(system, self.source), host="127.0.0.1", port=port, token=None
        )
        self._done = threading.Event()

    def attach(self, engine: Engine) -> None:
        """Make the engine report its nodes to the dashboard (before any other observer)."""
        engine.observer = self.source.observe

    def start(self) -> str | None:
        """Start serving; the address, or ``None`` when the port could not be bound."""
        if not self._server.start():
            return None
        return f"http://127.0.0.1:{self._server.port}/"

    def finish(self, run: FlowRun, *, linger: float = 0.0) -> None:
        """Show the run's outcome; keep serving ``linger`` more seconds (Ctrl-C ends it)."""
        self.source.finish(run)
        if linger > 0:
            with contextlib.suppress(KeyboardInterrupt):
                self._done.wait(linger)

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()
