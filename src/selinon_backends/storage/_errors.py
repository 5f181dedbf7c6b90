"""The one place where client-library exceptions become engine errors.

Each adapter declares which of its client's exceptions are *transient* (connection refused or
lost, timeouts: the same call may succeed later) and which are its client's base error; the
adapter wraps every client call in :func:`map_backend_errors`::

    with map_backend_errors(transient=(redis.ConnectionError,), other=(redis.RedisError,)):
        client.set(key, value)

Transient errors become :class:`~selinon_core.errors.TransientBackendError`, other client errors
:class:`~selinon_core.errors.BackendError`; the original is kept as ``__cause__``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from selinon_core.errors import BackendError, SelinonError, TransientBackendError

__all__ = ["import_client", "map_backend_errors"]


@contextmanager
def map_backend_errors(
    *,
    transient: tuple[type[BaseException], ...],
    other: tuple[type[BaseException], ...] = (),
    what: str = "storage",
) -> Iterator[None]:
    """Translate client exceptions raised in the ``with`` body.

    Args:
        transient: exception types meaning "unavailable for now".
        other: the client's remaining exception types (mapped to ``BackendError``).
        what: a short description of the backend used in messages (e.g. ``"Redis storage"``).

    Raises:
        TransientBackendError: a ``transient`` exception was raised.
        BackendError: an ``other`` exception was raised.
    """
    try:
        yield
    except SelinonError:
        raise
    except transient as exc:
        raise TransientBackendError(f"{what} unavailable: {type(exc).__name__}: {exc}") from exc
    except other as exc:
        raise BackendError(f"{what} error: {type(exc).__name__}: {exc}") from exc


def import_client(module: str, extra: str) -> ModuleType:
    """Import an optional client library, failing with an actionable message.

    Args:
        module: the module to import (``"redis"``).
        extra: the package extra that installs it (``"redis"``).

    Raises:
        ImportError: the library is not installed; the message names the extra to install.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"the {module!r} package is needed by this storage: install the `{extra}` extra "
            f"(pip install 'selinon-ng[{extra}]')"
        ) from exc
