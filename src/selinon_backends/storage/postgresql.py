"""PostgreSQL storage (psycopg 3 with a psycopg_pool connection pool).

On first use the adapter creates (if missing) the table below, compatible with the one
Selinon's SQLAlchemy adapter created, plus a table for failures recorded by ``store_error``::

    CREATE TABLE <table> (
        id         BIGSERIAL PRIMARY KEY,
        flow_name  VARCHAR(255),
        task_name  VARCHAR(255),
        task_id    VARCHAR(255) NOT NULL UNIQUE,
        node_args  JSONB,
        result     JSONB
    );
    CREATE TABLE <table>_error (... same columns, with  error JSONB  instead of result ...);

``store`` is an upsert on ``task_id``: a redelivered task overwrites its row, never duplicates
it.  JSONB cannot hold the NUL character (``\\u0000``); such results fail with ``BackendError``.

YAML (Selinon's ``connection_string``, ``encoding`` and ``echo`` are accepted; SQLAlchemy
URLs such as ``postgresql+psycopg2://`` and ``postgres://`` are understood)::

    storages:
      - name: Results
        import: selinon.storages.postgresql
        classname: PostgreSQL
        configuration:
          connection_string: 'postgresql://{PG_USER}@{PG_HOST}:5432/results'
          encoding: utf-8
          echo: false
          table: result
          pool_max_size: 10
"""

from __future__ import annotations

import logging
import re
from contextlib import AbstractContextManager
from typing import Any

from selinon_backends._clients import optional_import, postgresql_errors
from selinon_backends.storage._env import expand_settings
from selinon_core.datastorage import DataStorage, ExcInfo
from selinon_core.errors import TransientBackendError

from ._records import dumps, error_record, missing

__all__ = ["PostgreSQL", "normalise_connection_string"]

_log = logging.getLogger(__name__)

_SQLALCHEMY_URL = re.compile(r"^(postgres(?:ql)?)\+[A-Za-z0-9_]+://")


def normalise_connection_string(url: str) -> str:
    """Turn a SQLAlchemy URL (``postgresql+psycopg2://...``) into one libpq understands."""
    return _SQLALCHEMY_URL.sub(r"\1://", url.strip())


class PostgreSQL(DataStorage):
    """Results as JSONB rows in PostgreSQL; thread-safe (one pool per instance).

    Args:
        connection_string: a ``postgresql://`` / ``postgres://`` URL (SQLAlchemy driver
            suffixes allowed) or a libpq ``key=value`` string.
        encoding: client encoding.
        echo: log every SQL statement (logger ``selinon_backends.storage.postgresql``, INFO).
        table: the result table, optionally ``schema.table``; ``<table>_error`` holds failures.
        pool_min_size: connections kept open.
        pool_max_size: most connections opened at once.
        pool_timeout: seconds to wait for a free connection (then the call fails as transient).
        connect_timeout: seconds to wait when opening a connection.
        application_name: reported in ``pg_stat_activity``.
    """

    thread_safe = True

    def __init__(
        self,
        connection_string: str,
        encoding: str = "utf-8",
        echo: bool = False,
        *,
        table: str = "result",
        pool_min_size: int | str = 1,
        pool_max_size: int | str = 10,
        pool_timeout: float | str = 10.0,
        connect_timeout: int | str = 5,
        application_name: str = "selinon-storage",
    ) -> None:
        env = expand_settings("PostgreSQL storage", connection_string=connection_string)
        self.connection_string = normalise_connection_string(env["connection_string"])
        self.encoding = encoding
        self.echo = bool(echo)
        self.table = table
        self.pool_min_size = int(pool_min_size)
        self.pool_max_size = max(int(pool_max_size), self.pool_min_size)
        self.pool_timeout = float(pool_timeout)
        self.connect_timeout = int(connect_timeout)
        self.application_name = application_name
        self._pool: Any = None
        self._psycopg: Any = None
        self._pool_mod: Any = None
        self._sql: dict[str, Any] = {}

    # ------------------------------------------------------------------ connection

    def connect(self) -> None:
        """Open the pool, wait for a first connection and create the tables if missing."""
        psycopg = optional_import("psycopg", extra="postgresql", purpose="PostgreSQL storage")
        pool_mod = optional_import("psycopg_pool", extra="postgresql", purpose="PostgreSQL storage")
        self._psycopg, self._pool_mod = psycopg, pool_mod
        self._sql = _statements(psycopg.sql, self.table)
        pool = pool_mod.ConnectionPool(
            self.connection_string,
            min_size=self.pool_min_size,
            max_size=self.pool_max_size,
            timeout=self.pool_timeout,
            open=False,
            name=f"selinon-storage-{self.table}",
            kwargs={
                "client_encoding": self.encoding,
                "connect_timeout": self.connect_timeout,
                "application_name": self.application_name,
            },
        )
        try:
            with self._errors_mapped():
                # One direct connection first: a wrong database, user or password fails here
                # at once with the server's own words, where the pool would only time out.
                psycopg.connect(self.connection_string, **pool.kwargs).close()
                pool.open(wait=True, timeout=self.connect_timeout + 1)
                with pool.connection() as conn:
                    self._log_sql("create")
                    conn.execute(self._sql["create"])
        except BaseException:
            pool.close()
            raise
        self._pool = pool

    def is_connected(self) -> bool:
        """Whether :meth:`connect` succeeded (and :meth:`disconnect` was not called)."""
        return self._pool is not None

    def disconnect(self) -> None:
        """Close the pool and its connections."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    # ------------------------------------------------------------------ the port

    def retrieve(self, flow_name: str, task_name: str, task_id: str) -> Any:
        """The result stored for ``task_id`` (``ResultMissing`` if none)."""
        return self._select("select", "", flow_name, task_name, task_id)

    def store(
        self, node_args: Any, flow_name: str, task_name: str, task_id: str, result: Any
    ) -> int:
        """Upsert the row of ``task_id``; returns its ``id``."""
        return self._upsert("upsert", (flow_name, task_name, task_id), node_args, result)

    def store_error(
        self,
        node_args: Any,
        flow_name: str,
        task_name: str,
        task_id: str,
        exc_info: ExcInfo,
    ) -> int:
        """Upsert a description of the failure into ``<table>_error``; returns its ``id``."""
        names = (flow_name, task_name, task_id)
        return self._upsert("upsert_error", names, node_args, error_record(exc_info))

    def retrieve_error(self, flow_name: str, task_name: str, task_id: str) -> dict[str, Any]:
        """The error record kept by :meth:`store_error` (``ResultMissing`` if none)."""
        return dict(self._select("select_error", " (errors)", flow_name, task_name, task_id))

    def delete(self, flow_name: str, task_name: str, task_id: str) -> None:
        """Delete the rows of ``task_id``; a no-op if there are none."""
        self._run("delete", (task_id, task_id))

    # ------------------------------------------------------------------ internals

    def _select(
        self, statement: str, what: str, flow_name: str, task_name: str, task_id: str
    ) -> Any:
        """The one column a select returns; ``ResultMissing`` (naming ``what``) without a row."""
        row = self._run(statement, (task_id,))
        if row is None:
            where = f"PostgreSQL storage table {self.table!r}{what}"
            raise missing(where, flow_name, task_name, task_id)
        return row[0]

    def _upsert(
        self, statement: str, names: tuple[str, str, str], node_args: Any, value: Any
    ) -> int:
        """Run an upsert with ``(flow_name, task_name, task_id)``; returns the row's ``id``."""
        row = self._run(statement, (*names, self._json(node_args), self._json(value)))
        assert row is not None
        return int(row[0])

    def _json(self, value: Any) -> Any:
        return self._psycopg.types.json.Jsonb(value, dumps=dumps)

    def _run(self, statement: str, params: tuple[Any, ...]) -> Any:
        """Run one statement, retrying once on a fresh connection if the pooled one was lost.

        Every statement is idempotent (select, upsert, delete), so one retry is safe.
        """
        try:
            return self._run_once(statement, params)
        except TransientBackendError as exc:
            if not self._connection_lost(exc.__cause__):
                raise
            self._conn_pool().check()
            return self._run_once(statement, params)

    def _run_once(self, statement: str, params: tuple[Any, ...]) -> Any:
        pool = self._conn_pool()
        self._log_sql(statement)
        with self._errors_mapped(), pool.connection() as conn:
            cursor = conn.execute(self._sql[statement], params)
            return cursor.fetchone() if cursor.description is not None else None

    def _connection_lost(self, exc: BaseException | None) -> bool:
        if self._psycopg is None or self._pool_mod is None:
            return False
        return isinstance(exc, self._psycopg.OperationalError) and not isinstance(
            exc, self._pool_mod.PoolTimeout
        )

    def _conn_pool(self) -> Any:
        if self._pool is None:
            raise TransientBackendError("PostgreSQL storage is not connected; call connect() first")
        return self._pool

    def _log_sql(self, statement: str) -> None:
        if self.echo:
            _log.info("PostgreSQL storage %s: %s", self.table, statement)

    def _errors_mapped(self) -> AbstractContextManager[None]:
        return postgresql_errors(what=f"PostgreSQL storage (table {self.table!r})")


def _statements(sql: Any, table: str) -> dict[str, Any]:
    parts = table.split(".")
    results = sql.Identifier(*parts)
    errors = sql.Identifier(*parts[:-1], parts[-1] + "_error")
    lock_key = sql.Literal(f"selinon-storage:{table}")

    def build(template: str) -> Any:
        return sql.SQL(template).format(results=results, errors=errors, lock=lock_key)

    return {
        "create": build(
            "SELECT pg_advisory_xact_lock(hashtext({lock}));\n"
            + _of_results(_CREATE)
            + _of_errors(_CREATE)
        ),
        "select": build("SELECT result FROM {results} WHERE task_id = %s"),
        "select_error": build("SELECT error FROM {errors} WHERE task_id = %s"),
        "upsert": build(_of_results(_UPSERT)),
        "upsert_error": build(_of_errors(_UPSERT)),
        "delete": build(
            "WITH r AS (DELETE FROM {results} WHERE task_id = %s) "
            "DELETE FROM {errors} WHERE task_id = %s"
        ),
    }


def _of_results(template: str) -> str:
    """``template`` (with ``{table}`` and ``{column}``) for the result table."""
    return template.replace("{table}", "{results}").replace("{column}", "result")


def _of_errors(template: str) -> str:
    """``template`` (with ``{table}`` and ``{column}``) for the error table."""
    return template.replace("{table}", "{errors}").replace("{column}", "error")


_CREATE = """
CREATE TABLE IF NOT EXISTS {table} (
    id BIGSERIAL PRIMARY KEY,
    flow_name VARCHAR(255),
    task_name VARCHAR(255),
    task_id VARCHAR(255) NOT NULL UNIQUE,
    node_args JSONB,
    {column} JSONB
);
"""

_UPSERT = """
INSERT INTO {table} (flow_name, task_name, task_id, node_args, {column})
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (task_id) DO UPDATE SET
    flow_name = EXCLUDED.flow_name,
    task_name = EXCLUDED.task_name,
    node_args = EXCLUDED.node_args,
    {column} = EXCLUDED.{column}
RETURNING id
"""
