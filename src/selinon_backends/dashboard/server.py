"""Serving the dashboard with uvicorn: in the foreground, or in a thread beside a run."""

from __future__ import annotations

import threading
import time
from typing import Any

from selinon_backends.dashboard.security import check_bind

__all__ = ["BackgroundServer", "serve"]


def _config(app: Any, host: str, port: int) -> Any:
    import uvicorn  # noqa: PLC0415 - optional extra

    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
    )


def serve(app: Any, *, host: str, port: int, token: str | None) -> None:
    """Serve ``app`` until interrupted (Ctrl-C, SIGTERM).

    Raises:
        ValueError: a non-loopback ``host`` without a token.
    """
    check_bind(host, token)
    import uvicorn  # noqa: PLC0415 - optional extra

    uvicorn.Server(_config(app, host, port)).run()


class BackgroundServer:
    """Serves ``app`` in a daemon thread (``execute --dashboard``); :meth:`stop` ends it.

    Raises:
        ValueError: a non-loopback ``host`` without a token.
    """

    def __init__(self, app: Any, *, host: str, port: int, token: str | None) -> None:
        check_bind(host, token)
        import uvicorn  # noqa: PLC0415 - optional extra

        self._server = uvicorn.Server(_config(app, host, port))
        self._thread = threading.Thread(
            target=self._server.run, name="selinon-dashboard", daemon=True
        )

    def start(self, timeout: float = 10.0) -> bool:
        """Start serving; whether the server is up within ``timeout`` seconds."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._thread.is_alive():
            if self._server.started:
                return True
            time.sleep(0.02)
        return bool(self._server.started)

    @property
    def port(self) -> int | None:
        """The port served on (the one picked by the system for port 0), once started."""
        for server in getattr(self._server, "servers", ()):
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return None

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the server to finish and wait for its thread (bounded)."""
        self._server.should_exit = True
        self._thread.join(timeout)
