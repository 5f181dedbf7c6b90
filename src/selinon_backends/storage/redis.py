"""Redis storage (redis-py, one connection pool per instance).

Key layout (``key_prefix`` defaults to ``selinon``)::

    <key_prefix>:result:<task_id>   JSON text of the task's result
    <key_prefix>:error:<task_id>    JSON object {"flow_name", "task_name", "node_args", "error"}

Task ids are unique across flows, so flow and task names are not part of the key.  With
``ttl`` set, both keys expire that many seconds after they are written.

YAML (Selinon's keys are all accepted; the keys after unix_socket_path are ours)::

    storages:
      - name: Results
        import: selinon.storages.redis
        classname: Redis
        configuration:
          host: '{REDIS_HOST}'
          port: 6379
          db: 0
          password: null
          socket_timeout: 5
          charset: utf-8
          errors: strict
          unix_socket_path: null
          key_prefix: selinon
          ttl: 86400
          max_connections: 32
          client_name: selinon-storage
          retries: 2
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from selinon_backends._clients import redis_client, redis_errors
from selinon_backends.storage._env import expand_settings
from selinon_core.datastorage import DataStorage, ExcInfo
from selinon_core.errors import TransientBackendError

from ._records import dumps, failure_of, failure_record, loads, missing

if TYPE_CHECKING:
    import redis as redis_lib

__all__ = ["Redis"]


class Redis(DataStorage):
    """Results as JSON strings in Redis; thread-safe (redis-py's pool).

    Args:
        host: server host name.
        port: server port.
        db: database number.
        password: password (``AUTH``), or ``None``.
        socket_timeout: seconds to wait for a reply before the call fails as transient.
        charset: text encoding of stored values.
        errors: how encoding errors are handled (``"strict"``, ``"replace"``...).
        unix_socket_path: connect through this Unix socket instead of TCP.
        key_prefix: prefix of every key written (see the module docstring).
        ttl: expire keys after this many seconds; ``None`` keeps them forever.
        max_connections: size limit of the connection pool (``None``: unbounded).
        client_name: ``CLIENT SETNAME`` of each connection (shows in ``CLIENT LIST``).
        socket_connect_timeout: seconds to wait for a TCP connection.
        retries: how many times redis-py retries a command on a lost connection (commands
            used here are idempotent) before the call fails as transient.
    """

    thread_safe = True

    def __init__(
        self,
        host: str = "localhost",
        *,
        port: int | str = 6379,
        db: int | str = 0,
        password: str | None = None,
        socket_timeout: float | str | None = None,
        charset: str = "utf-8",
        errors: str = "strict",
        unix_socket_path: str | None = None,
        key_prefix: str = "selinon",
        ttl: float | str | None = None,
        max_connections: int | str | None = None,
        client_name: str | None = "selinon-storage",
        socket_connect_timeout: float | str | None = 5.0,
        retries: int | str = 2,
    ) -> None:
        env = expand_settings("Redis storage", host=host, port=port, db=db, password=password)
        host, port, db, password = env["host"], env["port"], env["db"], env["password"]
        self.host = host
        self.port = int(port)
        self.db = int(db)
        self.password = password or None
        self.socket_timeout = _opt_float(socket_timeout)
        self.charset = charset
        self.errors = errors
        self.unix_socket_path = unix_socket_path
        self.key_prefix = key_prefix
        ttl_value = _opt_float(ttl)
        self.ttl = int(ttl_value * 1000) if ttl_value else None  # milliseconds, PX
        self.max_connections = int(max_connections) if max_connections is not None else None
        self.client_name = client_name
        self.socket_connect_timeout = _opt_float(socket_connect_timeout)
        self.retries = int(retries)
        self._client: redis_lib.Redis[bytes] | None = None

    def connect(self) -> None:
        """Create the client and its pool, and check the server answers (``PING``)."""
        client: redis_lib.Redis[bytes] = redis_client(
            host=self.host,
            port=self.port,
            db=self.db,
            password=self.password,
            socket_timeout=self.socket_timeout,
            charset=self.charset,
            errors=self.errors,
            unix_socket_path=self.unix_socket_path,
            socket_connect_timeout=self.socket_connect_timeout,
            max_connections=self.max_connections,
            client_name=self.client_name,
            retries=self.retries,
            purpose="Redis storage",
        )
        try:
            with redis_errors(what=f"Redis storage {self._where()}"):
                client.ping()
        except BaseException:
            client.close()
            raise
        self._client = client

    def is_connected(self) -> bool:
        """Whether :meth:`connect` succeeded (and :meth:`disconnect` was not called)."""
        return self._client is not None

    def disconnect(self) -> None:
        """Close every pooled connection."""
        client, self._client = self._client, None
        if client is not None:
            client.close()
            client.connection_pool.disconnect()

    def result_key(self, task_id: str) -> str:
        """The key holding the result of ``task_id``."""
        return f"{self.key_prefix}:result:{task_id}"

    def error_key(self, task_id: str) -> str:
        """The key holding the error record of ``task_id``."""
        return f"{self.key_prefix}:error:{task_id}"

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """The result stored for ``task_id`` (``ResultMissing`` if none)."""
        return self._read(self.result_key(task_id), "", flow_name, task_name, task_id)

    def store(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> str:
        """``SET`` the result (overwriting, with the TTL if any); returns the key."""
        return self._write(self.result_key(task_id), result)

    def store_error(
        self,
        node_args: Any,
        flow_name: str,
        task_name: str,
        task_id: str,
        exc_info: ExcInfo,
    ) -> str:
        """``SET`` a description of the failure under the error key; returns the key."""
        record = failure_record(node_args, exc_info, flow_name=flow_name, task_name=task_name)
        return self._write(self.error_key(task_id), record)

    def retrieve_error(self, flow_name: str, task_name: str, task_id: str) -> dict[str, Any]:
        """The error record kept by :meth:`store_error` (``ResultMissing`` if none)."""
        key = self.error_key(task_id)
        return failure_of(self._read(key, " (errors)", flow_name, task_name, task_id))

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        """``DEL`` the result and error keys of ``task_id``; a no-op if there are none."""
        with self._errors_mapped():
            self._conn().delete(self.result_key(task_id), self.error_key(task_id))

    @property
    def client(self) -> redis_lib.Redis[bytes]:
        """The underlying redis-py client (connected)."""
        return self._conn()

    def _conn(self) -> redis_lib.Redis[bytes]:
        if self._client is None:
            raise TransientBackendError("Redis storage is not connected; call connect() first")
        return self._client

    def _read(self, key: str, what: str, flow_name: str, task_name: str, task_id: str) -> Any:
        """``GET`` and decode ``key``; ``ResultMissing`` (naming ``what``) when it is absent."""
        with self._errors_mapped():
            raw = self._conn().get(key)
        if raw is None:
            raise missing(f"Redis storage {self._where()}{what}", flow_name, task_name, task_id)
        return loads(raw.decode(self.charset, self.errors))

    def _write(self, key: str, value: Any) -> str:
        """``SET`` ``key`` to ``value`` as JSON (with the TTL if any); returns the key."""
        data = dumps(value).encode(self.charset, self.errors)
        with self._errors_mapped():
            self._conn().set(key, data, px=self.ttl)
        return key

    def _where(self) -> str:
        place = self.unix_socket_path or f"{self.host}:{self.port}"
        return f"{place}/{self.db}"

    def _errors_mapped(self) -> AbstractContextManager[None]:
        if self._client is None:  # not connected: _conn() says so
            return nullcontext()
        return redis_errors(what=f"Redis storage {self._where()}")


def _opt_float(value: float | str | None) -> float | None:
    if value is None or value == "":
        return None
    return float(value)
