"""The HTTP port of the ``httpStatus`` predicate: one ``HEAD`` request, standard library only.

The core evaluates conditions without I/O; a predicate that needs the network asks for
``http_probe`` and the engine hands it the results port's ``http_probe`` attribute, which
:class:`~selinon_backends.storage.pool.StoragePool` sets to :func:`http_status` by default.
The request runs in the dispatcher, so it is short: a few seconds at most, never retried.
"""

from __future__ import annotations

import http.client

__all__ = ["DEFAULT_TIMEOUT", "http_status"]

DEFAULT_TIMEOUT = 3.0
"""Seconds to wait for the connection and for the response."""


def http_status(*, host: str, path: str, timeout: float = DEFAULT_TIMEOUT) -> int | None:
    """The status code of ``HEAD path`` on ``host`` (``name`` or ``name:port``), plain HTTP.

    Args:
        host: the server, optionally with its port.
        path: the path asked for; a leading ``/`` is added when missing.
        timeout: seconds for the connection and for the response.

    Returns:
        the status code, or ``None`` when no response came (no such host, refused, timed out,
        not HTTP).
    """
    target = path if path.startswith("/") else f"/{path}"
    connection = http.client.HTTPConnection(host, timeout=timeout)
    try:
        connection.request("HEAD", target)
        return connection.getresponse().status
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        connection.close()
