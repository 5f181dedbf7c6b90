"""Delayed messages that survive restarts: retries, throttling and flow-retry countdowns.

A message published with a delay is not handed to the broker at once (RabbitMQ and Redis
disagree on how to delay, and neither keeps a per-message countdown cheaply): it is written
to a delay store, next to the flow states, with the time it is due.  Every worker runs a
*pump* (:class:`selinon_backends.kombu.worker.DelayPump`) that takes due messages and
publishes them.

Taking is a lease, not a removal: :meth:`DelayStore.take_due` moves the taken messages'
due time ``lease`` seconds into the future, the pump publishes them and then calls
:meth:`DelayStore.done`.  A pump that dies in between leaves its messages to be taken again
when the lease ends, so a delayed message is published at least once and never lost.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import uuid
from typing import Any, NamedTuple, Protocol

from selinon_backends._clients import optional_import, postgresql_errors, redis_client, redis_errors

__all__ = [
    "LEASE",
    "DelayStore",
    "Delayed",
    "MemoryDelayStore",
    "PostgresDelayStore",
    "RedisDelayStore",
]

LEASE = 30.0
"""Seconds a taken message stays invisible before another pump may take it again."""


class Delayed(NamedTuple):
    """A delayed message: its id in the store, the queue it goes to and its body."""

    id: str
    queue: str
    body: bytes


class DelayStore(Protocol):
    """Messages waiting for their due time."""

    def schedule(self, *, due: float, queue: str, body: bytes) -> None:
        """Keep ``body`` for ``queue`` until ``due`` (seconds since the epoch)."""
        ...

    def take_due(self, *, now: float, limit: int = 100) -> list[Delayed]:
        """Lease up to ``limit`` messages due at ``now`` (see the module doc)."""
        ...

    def done(self, *, ids: list[str]) -> None:
        """Remove published messages."""
        ...

    def next_due(self) -> float | None:
        """The earliest due time waiting, ``None`` when nothing waits."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class MemoryDelayStore:
    """A heap in this process (``memory://``: tests and single-process use)."""

    def __init__(self, *, lease: float = LEASE) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._items: dict[str, tuple[str, bytes]] = {}
        self._seq = itertools.count()
        self._lease = lease
        self._lock = threading.Lock()

    def schedule(self, *, due: float, queue: str, body: bytes) -> None:
        """Keep the message until ``due``."""
        key = uuid.uuid4().hex
        with self._lock:
            self._items[key] = (queue, body)
            heapq.heappush(self._heap, (due, next(self._seq), key))

    def take_due(self, *, now: float, limit: int = 100) -> list[Delayed]:
        """Lease due messages."""
        taken: list[Delayed] = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now and len(taken) < limit:
                _, _, key = heapq.heappop(self._heap)
                found = self._items.get(key)
                if found is None:
                    continue
                taken.append(Delayed(key, *found))
            for item in taken:
                heapq.heappush(self._heap, (now + self._lease, next(self._seq), item.id))
        return taken

    def done(self, *, ids: list[str]) -> None:
        """Forget published messages (their heap entries are skipped later)."""
        with self._lock:
            for key in ids:
                self._items.pop(key, None)

    def next_due(self) -> float | None:
        """The earliest due time."""
        with self._lock:
            while self._heap and self._heap[0][2] not in self._items:
                heapq.heappop(self._heap)
            return self._heap[0][0] if self._heap else None

    def close(self) -> None:
        """Nothing to release."""


_TAKE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], ARGV[3], id)
  local body = redis.call('HGET', KEYS[2], id)
  if body then
    table.insert(out, id)
    table.insert(out, body)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"""


class RedisDelayStore:
    """A sorted set of ids by due time plus a hash of ``queue\\n body`` (``<prefix>:delays``)."""

    def __init__(self, url: str, *, prefix: str = "selinon", lease: float = LEASE) -> None:
        self._client = redis_client(url=url, socket_timeout=10, purpose="Redis delay store")
        self._zset = f"{prefix}:delays"
        self._hash = f"{prefix}:delays:bodies"
        self._lease = lease
        self._take: Any = self._client.register_script(_TAKE)
        self._what = "Redis delay store"

    def schedule(self, *, due: float, queue: str, body: bytes) -> None:
        """HSET the body and ZADD its id, atomically (MULTI)."""
        key = uuid.uuid4().hex
        with redis_errors(what=self._what):
            pipe = self._client.pipeline(transaction=True)
            pipe.hset(self._hash, key, queue.encode() + b"\n" + body)
            pipe.zadd(self._zset, {key: due})
            pipe.execute()

    def take_due(self, *, now: float, limit: int = 100) -> list[Delayed]:
        """Lease due messages with one Lua script (atomic across pumps)."""
        with redis_errors(what=self._what):
            flat = self._take(keys=[self._zset, self._hash], args=[now, limit, now + self._lease])
        out = []
        for key, raw in zip(flat[::2], flat[1::2], strict=True):
            queue, _, body = bytes(raw).partition(b"\n")
            out.append(Delayed(_text(key), queue.decode(), body))
        return out

    def done(self, *, ids: list[str]) -> None:
        """ZREM and HDEL the published messages."""
        if not ids:
            return
        with redis_errors(what=self._what):
            pipe = self._client.pipeline(transaction=True)
            pipe.zrem(self._zset, *ids)
            pipe.hdel(self._hash, *ids)
            pipe.execute()

    def next_due(self) -> float | None:
        """The lowest score of the sorted set."""
        with redis_errors(what=self._what):
            first = self._client.zrange(self._zset, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    def clear(self) -> None:
        """Delete every delayed message (tests)."""
        with redis_errors(what=self._what):
            self._client.delete(self._zset, self._hash)

    def close(self) -> None:
        """Close the client's pool."""
        self._client.close()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class PostgresDelayStore:
    """Table ``<prefix>_delays``; takes with ``FOR UPDATE SKIP LOCKED`` (pumps never collide)."""

    def __init__(self, url: str, *, prefix: str = "selinon", lease: float = LEASE) -> None:
        pool_mod = optional_import("psycopg_pool", extra="postgresql", purpose="delay store")
        self._table = f"{prefix}_delays"
        self._lease = lease
        self._what = f"PostgreSQL delay store (table {self._table!r})"
        with postgresql_errors(what=self._what):
            self._pool = pool_mod.ConnectionPool(
                url, min_size=1, max_size=4, timeout=10, open=True, kwargs={"autocommit": True}
            )
            with self._pool.connection() as conn:
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {self._table} (id text PRIMARY KEY,"
                    " due double precision NOT NULL, queue text NOT NULL, body bytea NOT NULL)"
                )
                conn.execute(f"CREATE INDEX IF NOT EXISTS {self._table}_due ON {self._table} (due)")

    def schedule(self, *, due: float, queue: str, body: bytes) -> None:
        """INSERT the message."""
        with postgresql_errors(what=self._what), self._pool.connection() as conn:
            conn.execute(
                f"INSERT INTO {self._table} (id, due, queue, body) VALUES (%s, %s, %s, %s)",
                (uuid.uuid4().hex, due, queue, body),
            )

    def take_due(self, *, now: float, limit: int = 100) -> list[Delayed]:
        """Move due messages' due time past the lease and return them."""
        with postgresql_errors(what=self._what), self._pool.connection() as conn:
            rows = conn.execute(
                f"UPDATE {self._table} SET due = %s WHERE id IN (SELECT id FROM {self._table}"
                " WHERE due <= %s ORDER BY due LIMIT %s FOR UPDATE SKIP LOCKED)"
                " RETURNING id, queue, body",
                (now + self._lease, now, limit),
            ).fetchall()
        return [Delayed(key, queue, bytes(body)) for key, queue, body in rows]

    def done(self, *, ids: list[str]) -> None:
        """DELETE the published messages."""
        if not ids:
            return
        with postgresql_errors(what=self._what), self._pool.connection() as conn:
            conn.execute(f"DELETE FROM {self._table} WHERE id = ANY(%s)", (ids,))

    def next_due(self) -> float | None:
        """``min(due)``."""
        with postgresql_errors(what=self._what), self._pool.connection() as conn:
            row = conn.execute(f"SELECT min(due) FROM {self._table}").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def drop(self) -> None:
        """Drop the table (tests)."""
        with postgresql_errors(what=self._what), self._pool.connection() as conn:
            conn.execute(f"DROP TABLE IF EXISTS {self._table}")

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()
