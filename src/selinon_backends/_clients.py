"""Client plumbing shared by every adapter: optional imports, the Redis client, error mapping.

Storages, caches, trace sinks (and the flow-state stores and brokers that talk to the same
services) need the same three things from their client libraries; this module is the one place
that provides them.

1. **Optional imports.**  Client libraries are optional extras of the ``selinon-ng`` package
   (``redis``, ``postgresql``, ``s3``, ``celery``, ``sentry``, ``plot``).
   :func:`optional_import` imports one when it is first needed and, when it is not installed,
   raises :class:`MissingExtraError` naming the extra to install::

       redis = optional_import("redis", extra="redis", purpose="Redis storage")

   :class:`MissingExtraError` is an :class:`ImportError` (for ``except ImportError``) and a
   :class:`~selinon_core.errors.SpecError` (a configuration that names a backend whose library
   is missing is reported like any other configuration problem).

2. **The Redis client.**  :func:`redis_client` builds a redis-py client from a ``redis://``
   URL or from Selinon's storage configuration keys (``host``, ``port``, ``db``,
   ``password``, ``socket_timeout``, ``charset``, ``errors``, ``unix_socket_path``), so that
   every Redis-backed component connects the same way::

       client = redis_client(url="redis://127.0.0.1:6379/0", socket_timeout=5)

3. **Error mapping.**  :func:`map_backend_errors` is the choke point where client exceptions
   become engine errors: *transient* ones (connection refused or lost, timeouts: the same call
   may succeed later) become :class:`~selinon_core.errors.TransientBackendError`, the client's
   other errors :class:`~selinon_core.errors.BackendError`; the original stays the
   ``__cause__``.  :func:`redis_errors`, :func:`postgresql_errors` and :func:`s3_errors` apply
   it with the table of each client library::

       with redis_errors(what="Redis storage 127.0.0.1:6379/0"):
           client.set(key, value)
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any

from selinon_core.errors import (
    BackendError,
    SelinonError,
    SpecError,
    TransientBackendError,
    describe_error,
)

if TYPE_CHECKING:
    import redis

__all__ = [
    "EXTRAS",
    "MissingExtraError",
    "map_backend_errors",
    "optional_import",
    "postgresql_errors",
    "redis_client",
    "redis_errors",
    "s3_errors",
]

EXTRAS: frozenset[str] = frozenset(
    {
        "redis",
        "postgresql",
        "s3",
        "celery",
        "sentry",
        "plot",
        "opentelemetry",
        "prometheus",
        "dashboard",
    }
)
"""The optional extras of the ``selinon-ng`` package (``[project.optional-dependencies]``)."""

_S3_TRANSIENT_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "ServiceUnavailable"}
)

ErrorTypes = tuple[type[BaseException], ...]


# --------------------------------------------------------------------------- optional imports


class MissingExtraError(ImportError, SpecError):
    """An optional client library is not installed; the message names the extra to install.

    Both an :class:`ImportError` and a :class:`~selinon_core.errors.SpecError` (with the
    message as its one problem), so ``except ImportError`` and the CLI's report of
    configuration errors both handle it.

    Attributes:
        extra: the ``selinon-ng`` extra that installs the library (``"redis"``), if known.
        name: the module that could not be imported (as on every ``ImportError``).
    """

    def __init__(self, message: str, *, extra: str | None = None, name: str | None = None) -> None:
        SpecError.__init__(self, message)
        ImportError.__init__(self, message, name=name)
        self.extra = extra


def optional_import(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import an optional client library, failing with an actionable message.

    Args:
        module: the module to import (``"redis"``, ``"botocore.exceptions"``).
        extra: the ``selinon-ng`` extra that installs it (one of :data:`EXTRAS`).
        purpose: what needs it, for the message (``"Redis storage"``).

    Returns:
        The imported module.

    Raises:
        MissingExtraError: the module cannot be imported.
        ValueError: ``extra`` is not an extra of the package (a programming error).
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(sorted(EXTRAS))}")
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{purpose} needs the {module!r} package: install the `{extra}` extra "
            f"(pip install 'selinon-ng[{extra}]')",
            extra=extra,
            name=module,
        ) from exc


# --------------------------------------------------------------------------- Redis client


def redis_client(
    *,
    url: str | None = None,
    host: str = "localhost",
    port: int | str = 6379,
    db: int | str = 0,
    password: str | None = None,
    socket_timeout: float | str | None = None,
    charset: str = "utf-8",
    errors: str = "strict",
    unix_socket_path: str | None = None,
    decode_responses: bool = False,
    socket_connect_timeout: float | str | None = None,
    max_connections: int | str | None = None,
    wait_for_connection: bool = False,
    client_name: str | None = None,
    retries: int | str = 0,
    purpose: str = "Redis",
) -> redis.Redis[Any]:
    """A redis-py client with its own connection pool; nothing is connected yet.

    Accepts Selinon's Redis storage configuration keys as they come from YAML (numbers may be
    strings).  The client owns its pool: ``client.close()`` disconnects it.

    Args:
        url: a ``redis://``, ``rediss://`` or ``unix://`` URL; when given, it replaces
            ``host``, ``port``, ``db``, ``password`` and ``unix_socket_path``.
        host: server host name.
        port: server port.
        db: database number.
        password: password (``AUTH``); ``None`` or ``""`` for none.
        socket_timeout: seconds to wait for a reply (``None``: forever).
        charset: encoding of ``str`` arguments (and of replies with ``decode_responses``).
        errors: how encoding errors are handled (``"strict"``, ``"replace"``...).
        unix_socket_path: connect through this Unix socket instead of TCP.
        decode_responses: return replies as ``str`` instead of ``bytes``.
        socket_connect_timeout: seconds to wait for a connection (``None``: the
            ``socket_timeout``).
        max_connections: size limit of the pool (``None``: unbounded).
        wait_for_connection: when the bounded pool is exhausted, wait up to ``socket_timeout``
            for a free connection instead of failing at once.
        client_name: ``CLIENT SETNAME`` of each connection (shows in ``CLIENT LIST``).
        retries: how many times a command is retried on a lost connection (with exponential
            backoff, 20 ms to 0.5 s) before it fails; ``0`` never retries.
        purpose: what the client is for, named when redis-py is not installed.

    Returns:
        The client (``redis.Redis``).

    Raises:
        MissingExtraError: redis-py is not installed.
        ValueError: a numeric option is not a number, or ``url`` is not a Redis URL.
    """
    redis_mod = optional_import("redis", extra="redis", purpose=purpose)
    retry_mod = optional_import("redis.retry", extra="redis", purpose=purpose)
    backoff_mod = optional_import("redis.backoff", extra="redis", purpose=purpose)
    timeout = _opt_float(socket_timeout)
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": _opt_float(socket_connect_timeout),
        "encoding": charset,
        "encoding_errors": errors,
        "decode_responses": decode_responses,
        "client_name": client_name,
        "retry": retry_mod.Retry(backoff_mod.ExponentialBackoff(cap=0.5, base=0.02), int(retries)),
    }
    pool_class = redis_mod.ConnectionPool
    if max_connections is not None and max_connections != "":
        options["max_connections"] = int(max_connections)
        if wait_for_connection:
            pool_class = redis_mod.BlockingConnectionPool
            options["timeout"] = timeout
    if url is not None:
        pool = pool_class.from_url(url, **options)
    elif unix_socket_path:
        pool = pool_class(
            connection_class=redis_mod.UnixDomainSocketConnection,
            path=unix_socket_path,
            db=int(db),
            password=password or None,
            **options,
        )
    else:
        pool = pool_class(
            host=host, port=int(port), db=int(db), password=password or None, **options
        )
    client: redis.Redis[Any] = redis_mod.Redis.from_pool(pool)
    return client


def _opt_float(value: float | str | None) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


# --------------------------------------------------------------------------- error mapping


@contextmanager
def map_backend_errors(
    *, transient: ErrorTypes, other: ErrorTypes = (), what: str = "backend"
) -> Iterator[None]:
    """Translate client exceptions raised in the ``with`` body into engine errors.

    Engine errors (:class:`~selinon_core.errors.SelinonError`) and exceptions of no listed
    type pass through unchanged.

    Args:
        transient: exception types meaning "unavailable for now".
        other: the client's remaining exception types (mapped to ``BackendError``).
        what: the backend, for messages (``"Redis storage 127.0.0.1:6379/0"``).

    Raises:
        TransientBackendError: a ``transient`` exception was raised.
        BackendError: an ``other`` exception was raised.
    """
    try:
        yield
    except SelinonError:
        raise
    except transient as exc:
        raise TransientBackendError(f"{what} unavailable: {describe_error(exc)}") from exc
    except other as exc:
        raise BackendError(f"{what} error: {describe_error(exc)}") from exc


@functools.cache
def _redis_error_types() -> tuple[ErrorTypes, ErrorTypes]:
    redis_mod = optional_import("redis", extra="redis", purpose="Redis")
    exceptions = redis_mod.exceptions
    transient = (redis_mod.ConnectionError, redis_mod.TimeoutError, exceptions.BusyLoadingError)
    return transient, (redis_mod.RedisError,)


@functools.cache
def _psycopg_error_types() -> tuple[ErrorTypes, ErrorTypes]:
    psycopg = optional_import("psycopg", extra="postgresql", purpose="PostgreSQL")
    return (psycopg.OperationalError,), (psycopg.Error,)


@functools.cache
def _botocore_error_types() -> tuple[ErrorTypes, ErrorTypes, type[Exception]]:
    botocore = optional_import("botocore.exceptions", extra="s3", purpose="S3")
    transient = (botocore.ConnectionError, botocore.HTTPClientError, TimeoutError)
    return transient, (botocore.BotoCoreError,), botocore.ClientError


def redis_errors(*, what: str) -> AbstractContextManager[None]:
    """:func:`map_backend_errors` for redis-py.

    Connection errors, timeouts and ``BUSY loading`` replies are transient; every other
    ``redis.RedisError`` is a ``BackendError``.

    Args:
        what: the backend, for messages (``"Redis cache"``).

    Raises:
        MissingExtraError: redis-py is not installed.
    """
    transient, other = _redis_error_types()
    return map_backend_errors(transient=transient, other=other, what=what)


def postgresql_errors(*, what: str) -> AbstractContextManager[None]:
    """:func:`map_backend_errors` for psycopg 3.

    ``psycopg.OperationalError`` (connection refused or lost, pool timeout) is transient;
    every other ``psycopg.Error`` is a ``BackendError``.

    Args:
        what: the backend, for messages (``"PostgreSQL storage (table 'result')"``).

    Raises:
        MissingExtraError: psycopg is not installed.
    """
    transient, other = _psycopg_error_types()
    return map_backend_errors(transient=transient, other=other, what=what)


@contextmanager
def s3_errors(*, what: str) -> Iterator[None]:
    """:func:`map_backend_errors` for botocore (S3).

    Connection errors and timeouts are transient, other ``BotoCoreError`` are
    ``BackendError``.  A ``ClientError`` (the service answered with an error) is transient
    when its code means throttling or unavailability or its HTTP status is 5xx, else a
    ``BackendError``.

    Args:
        what: the backend, for messages (``"S3 storage bucket 'results'"``).

    Raises:
        MissingExtraError: botocore is not installed.
    """
    transient, other, client_error = _botocore_error_types()
    try:
        with map_backend_errors(transient=transient, other=other, what=what):
            yield
    except client_error as exc:
        response: dict[str, Any] = getattr(exc, "response", {})
        code = response.get("Error", {}).get("Code", "")
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        message = f"{what}: {code}: {exc}"
        if code in _S3_TRANSIENT_CODES or status >= 500:
            raise TransientBackendError(message) from exc
        raise BackendError(message) from exc
