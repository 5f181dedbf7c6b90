"""The run journal: what every node of a distributed flow did, for reports and ``status``.

The flow-state store keeps what the *dispatcher* needs (which nodes finished, which failed).
A report also shows what each node was started with and how its run ended (arguments, parent
mapping, result, retries, error and traceback).  Those facts are written by different
processes (the dispatcher that starts a node, the worker that runs it), so the journal keeps
them as separate entries of one record per top-level flow, never read-modify-written:

* ``s:<node_id>``: the start of a task or sub-flow (written by the dispatcher that publishes
  it, for all the nodes of one step in one write, before it publishes them);
* ``o:<node_id>``: the last outcome of a task run (written by the worker that ran it);
* ``f:<flow_id>``: the end of a flow (written by the dispatcher that finished it);
* ``r:<flow_id>``: the request of a top-level flow (written by the client).

A redelivered message rewrites the same entry with the same facts (at least once is harmless).
Entries are plain JSON objects; the record of a top-level flow holds its sub-flows' entries too
(a sub-flow's id starts with its top-level flow's id), and expires ``retention`` seconds after
its last write.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

from selinon_backends._clients import optional_import, postgresql_errors, redis_client, redis_errors

__all__ = [
    "DEFAULT_RETENTION",
    "Journal",
    "MemoryJournal",
    "PostgresJournal",
    "RedisJournal",
    "root_of",
]

DEFAULT_RETENTION = 7 * 24 * 3600.0
"""Seconds a top-level flow's record is kept after its last write (one week)."""


def root_of(flow_id: str) -> str:
    """The top-level flow id of ``flow_id`` (sub-flow ids extend their parent's with ``.N``)."""
    return flow_id.partition(".")[0]


class Journal(Protocol):
    """Entries of the records of top-level flows."""

    def write(self, *, root: str, entries: Mapping[str, Mapping[str, Any]]) -> None:
        """Set ``entries`` (key -> JSON object) in the record of top-level flow ``root``."""
        ...

    def read(self, *, root: str) -> dict[str, dict[str, Any]]:
        """Every entry of the record of ``root`` (empty when unknown or expired)."""
        ...

    def get(self, *, root: str, key: str) -> dict[str, Any] | None:
        """One entry of the record of ``root`` (``None`` when absent)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class MemoryJournal:
    """The journal in a dict, for one process (tests, ``memory://``)."""

    def __init__(self) -> None:
        self._records: dict[str, dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def write(self, *, root: str, entries: Mapping[str, Mapping[str, Any]]) -> None:
        """Set ``entries`` in the record of ``root``."""
        with self._lock:
            record = self._records.setdefault(root, {})
            for key, value in entries.items():
                record[key] = json.loads(json.dumps(value))

    def read(self, *, root: str) -> dict[str, dict[str, Any]]:
        """The entries of ``root``."""
        with self._lock:
            return dict(self._records.get(root, {}))

    def get(self, *, root: str, key: str) -> dict[str, Any] | None:
        """One entry of ``root``."""
        with self._lock:
            return self._records.get(root, {}).get(key)

    def close(self) -> None:
        """Nothing to release."""


class RedisJournal:
    """One Redis hash per top-level flow (``<prefix>:journal:<root>``), with a TTL.

    The time to live is set when the flow is requested and again when a flow of the record
    ends; other writes are a single ``HSET``.
    """

    def __init__(
        self, url: str, *, prefix: str = "selinon", retention: float = DEFAULT_RETENTION
    ) -> None:
        self._client = redis_client(url=url, socket_timeout=10, purpose="Redis run journal")
        self._prefix = prefix
        self._ttl = max(1, int(retention))
        self._what = "Redis run journal"

    def _key(self, root: str) -> str:
        return f"{self._prefix}:journal:{root}"

    def write(self, *, root: str, entries: Mapping[str, Mapping[str, Any]]) -> None:
        """HSET the entries and refresh the record's TTL, in one round trip."""
        key = self._key(root)
        mapping: dict[str | bytes, str] = {
            field: json.dumps(value, default=repr) for field, value in entries.items()
        }
        with redis_errors(what=self._what):
            if any(field[:2] in ("r:", "f:") for field in entries):
                # the request and the end of a flow set the record's time to live
                pipe = self._client.pipeline(transaction=False)
                pipe.hset(key, mapping=mapping)
                pipe.expire(key, self._ttl)
                pipe.execute()
            else:
                self._client.hset(key, mapping=mapping)

    def read(self, *, root: str) -> dict[str, dict[str, Any]]:
        """HGETALL of the record."""
        with redis_errors(what=self._what):
            raw = self._client.hgetall(self._key(root))
        return {_text(k): json.loads(v) for k, v in raw.items()}

    def get(self, *, root: str, key: str) -> dict[str, Any] | None:
        """HGET of one entry."""
        with redis_errors(what=self._what):
            raw = self._client.hget(self._key(root), key)
        return None if raw is None else dict(json.loads(raw))

    def close(self) -> None:
        """Close the client's pool."""
        self._client.close()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class PostgresJournal:
    """One row per entry in table ``<prefix>_journal``; old records removed on write."""

    def __init__(
        self, url: str, *, prefix: str = "selinon", retention: float = DEFAULT_RETENTION
    ) -> None:
        pool_mod = optional_import("psycopg_pool", extra="postgresql", purpose="run journal")
        self._table = f"{prefix}_journal"
        self._retention = retention
        self._what = f"PostgreSQL run journal (table {self._table!r})"
        self._last_purge = 0.0
        with postgresql_errors(what=self._what):
            self._pool = pool_mod.ConnectionPool(
                url, min_size=1, max_size=4, timeout=10, open=True, kwargs={"autocommit": True}
            )
            with self._pool.connection() as conn:
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {self._table} ("
                    " root text NOT NULL, field text NOT NULL, value text NOT NULL,"
                    " written double precision NOT NULL, PRIMARY KEY (root, field))"
                )

    def write(self, *, root: str, entries: Mapping[str, Mapping[str, Any]]) -> None:
        """Upsert the entries (one statement per entry, one transaction)."""
        now = time.time()
        rows = [(root, k, json.dumps(v, default=repr), now) for k, v in entries.items()]
        with postgresql_errors(what=self._what), self._pool.connection() as conn:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {self._table} (root, field, value, written)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (root, field)"
                    " DO UPDATE SET value = EXCLUDED.value, written = EXCLUDED.written",
                    rows,
                )
            if now - self._last_purge > 60:
                self._last_purge = now
                conn.execute(
                    f"DELETE FROM {self._table} WHERE written < %s", (now - self._retention,)
                )

    def read(self, *, root: str) -> dict[str, dict[str, Any]]:
        """Every entry of ``root``."""
        with postgresql_errors(what=self._what), self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT field, value FROM {self._table} WHERE root = %s", (root,)
            ).fetchall()
        return {field: json.loads(value) for field, value in rows}

    def get(self, *, root: str, key: str) -> dict[str, Any] | None:
        """One entry of ``root``."""
        with postgresql_errors(what=self._what), self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT value FROM {self._table} WHERE root = %s AND field = %s", (root, key)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def drop(self) -> None:
        """Drop the table (tests)."""
        with postgresql_errors(what=self._what), self._pool.connection() as conn:
            conn.execute(f"DROP TABLE IF EXISTS {self._table}")

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()
