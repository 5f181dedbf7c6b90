"""The PostgreSQL flow-state store and throttle slot store (psycopg 3, a connection pool).

Tables (created when absent; ``table_prefix`` defaults to ``selinon``, optionally
``schema.prefix``)::

    <prefix>_flow   flow_id PK, version, status, snapshot_id, snapshot (bytea), snapshot_size,
                    delta_size, delta_count, outbox, summary (once finished), finished_at;
                    for listings (:mod:`.listing`): flow_name, parent_id, started_at, nodes,
                    active_nodes, failed_nodes
    <prefix>_delta  (flow_id, idx) PK, body: the deltas written since the snapshot
    <prefix>_slot   key PK, slot: the last reserved throttle slot of each key

**One writer per flow: compare-and-set.**  A save is a single statement (or, when it finishes
the flow, one transaction): ``UPDATE <prefix>_flow ... WHERE flow_id = %s AND version =
expected`` and, in the same statement, the insert of the delta (or the removal of the old
deltas when a snapshot is written).  When the row has moved on, nothing is written and the
caller gets :class:`~selinon_core.errors.ConflictError`.  A create is an ``INSERT ... ON
CONFLICT DO NOTHING``: it conflicts when the flow exists.  PostgreSQL's row lock and
re-check under READ COMMITTED make two concurrent updates of one version impossible, and the
statement is atomic, so a half-written save is never visible.

**Per-event cost** is that of the Redis store: a delta per save when this process's LRU cache
holds the expected version, a new snapshot when the deltas outweigh the last one, and a
``load`` that reads only the deltas newer than the cached state (one statement).

**Finished flows** keep a snapshot (compact above ``compact_above`` started nodes), their
summary and ``finished_at``.  The save that finishes a flow sends ``NOTIFY
<prefix>_finished`` with the flow id (delivered on commit; :meth:`wait_finished` listens).
Retention: every ``cleanup_every`` finishes (and on :meth:`PostgresStateStore.cleanup`), the
finished flows older than ``retention_seconds`` and those beyond the newest
``retention_count`` are deleted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from selinon_backends._clients import optional_import, postgresql_errors
from selinon_backends.ports import StoredFlow
from selinon_backends.storage.postgresql import normalise_connection_string
from selinon_core.dispatch.actions import Action
from selinon_core.dispatch.events import FlowSummary
from selinon_core.dispatch.state import FlowState, flow_summary
from selinon_core.errors import BackendError, ConflictError

from ._common import (
    COMPACT_ABOVE,
    FINAL,
    Cached,
    StaleCache,
    StateCache,
    Write,
    advance,
    cached_after,
    check_slot_args,
    decode_outbox,
    decode_summary,
    load_delta,
    load_snapshot,
    plan_write,
    redact,
)
from ._pg_listing import count_rows, page_rows
from .listing import Listable, ListPage, node_counts

__all__ = ["PostgresSlotStore", "PostgresStateStore"]

_CREATE = """
SELECT pg_advisory_xact_lock(hashtext({lock}));
CREATE TABLE IF NOT EXISTS {flow} (
    flow_id       text PRIMARY KEY,
    version       bigint NOT NULL,
    status        text NOT NULL,
    snapshot_id   text NOT NULL,
    snapshot      bytea NOT NULL,
    snapshot_size integer NOT NULL,
    delta_size    integer NOT NULL DEFAULT 0,
    delta_count   integer NOT NULL DEFAULT 0,
    outbox        text NOT NULL DEFAULT '',
    summary       text,
    finished_at   timestamptz
);
CREATE INDEX IF NOT EXISTS {finished_index} ON {flow} (finished_at)
    WHERE finished_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS {delta} (
    flow_id text NOT NULL,
    idx     integer NOT NULL,
    body    bytea NOT NULL,
    PRIMARY KEY (flow_id, idx)
);
CREATE TABLE IF NOT EXISTS {slot} (
    key  text PRIMARY KEY,
    slot double precision NOT NULL
);
"""

_ADD_LISTING = """
ALTER TABLE {flow} ADD COLUMN IF NOT EXISTS flow_name text,
    ADD COLUMN IF NOT EXISTS parent_id text,
    ADD COLUMN IF NOT EXISTS started_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS nodes integer,
    ADD COLUMN IF NOT EXISTS active_nodes integer,
    ADD COLUMN IF NOT EXISTS failed_nodes integer;
CREATE INDEX IF NOT EXISTS {started_index} ON {flow} (started_at);
CREATE INDEX IF NOT EXISTS {status_index} ON {flow} (status, started_at);
CREATE INDEX IF NOT EXISTS {name_index} ON {flow} (flow_name, status, started_at);
"""
"""The listing columns and indexes (:mod:`.listing`), added to a flow table that lacks them
(only then: ``ALTER TABLE`` locks the table even when there is nothing to add)."""

_HAS_LISTING = """
SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s)
               AND attname = 'started_at' AND NOT attisdropped)"""

_STATEMENTS = {
    "create_flow": """
INSERT INTO {flow} (flow_id, version, status, snapshot_id, snapshot, snapshot_size, outbox,
                    summary, finished_at, flow_name, parent_id, nodes, active_nodes,
                    failed_nodes)
VALUES (%(id)s, %(v)s, %(st)s, %(sid)s, %(body)s, %(size)s, %(ob)s, %(sum)s,
        CASE WHEN %(sum)s::text IS NULL THEN NULL ELSE now() END, %(name)s, %(parent)s,
        %(n)s, %(na)s, %(nf)s)
ON CONFLICT (flow_id) DO NOTHING
RETURNING 1""",
    "save_delta": """
WITH moved AS (
    UPDATE {flow} SET version = %(v)s, status = %(st)s, outbox = %(ob)s,
                      delta_size = delta_size + %(size)s, delta_count = delta_count + 1,
                      nodes = %(n)s, active_nodes = %(na)s, failed_nodes = %(nf)s
    WHERE flow_id = %(id)s AND version = %(exp)s AND snapshot_id = %(sid)s
    RETURNING flow_id, delta_count
)
INSERT INTO {delta} (flow_id, idx, body) SELECT flow_id, delta_count, %(body)s FROM moved
RETURNING idx""",
    "save_snapshot": """
WITH moved AS (
    UPDATE {flow} SET version = %(v)s, status = %(st)s, outbox = %(ob)s,
                      snapshot_id = %(sid)s, snapshot = %(body)s, snapshot_size = %(size)s,
                      delta_size = 0, delta_count = 0, summary = %(sum)s,
                      nodes = %(n)s, active_nodes = %(na)s, failed_nodes = %(nf)s,
                      finished_at = CASE WHEN %(sum)s::text IS NULL THEN NULL ELSE now() END
    WHERE flow_id = %(id)s AND version = %(exp)s
    RETURNING flow_id
), dropped AS (
    DELETE FROM {delta} WHERE flow_id IN (SELECT flow_id FROM moved) RETURNING 1
)
SELECT count(*) FROM moved""",
    "version": "SELECT version FROM {flow} WHERE flow_id = %s",
    "load": """
SELECT f.version, f.snapshot_id, f.snapshot_size, f.delta_size, f.outbox,
       CASE WHEN f.snapshot_id = %(sid)s THEN NULL ELSE f.snapshot END,
       CASE WHEN f.snapshot_id = %(sid)s AND f.version = %(v)s THEN ARRAY[]::bytea[] ELSE
            ARRAY(SELECT d.body FROM {delta} d WHERE d.flow_id = f.flow_id
                  AND d.idx > CASE WHEN f.snapshot_id = %(sid)s THEN %(idx)s ELSE 0 END
                  ORDER BY d.idx) END
FROM {flow} f WHERE f.flow_id = %(id)s""",
    "mark": "UPDATE {flow} SET outbox = '' WHERE flow_id = %s AND version = %s AND outbox <> ''",
    "status": "SELECT status, summary FROM {flow} WHERE flow_id = %s",
    "notify": "SELECT pg_notify({channel}, %s)",
    "expire_age": """
WITH gone AS (
    DELETE FROM {flow} WHERE finished_at < now() - make_interval(secs => %s)
    RETURNING flow_id
)
DELETE FROM {delta} WHERE flow_id IN (SELECT flow_id FROM gone)""",
    "expire_count": """
WITH gone AS (
    DELETE FROM {flow} WHERE flow_id IN (
        SELECT flow_id FROM {flow} WHERE finished_at IS NOT NULL
        ORDER BY finished_at DESC OFFSET %s)
    RETURNING flow_id
)
DELETE FROM {delta} WHERE flow_id IN (SELECT flow_id FROM gone)""",
    "reserve": """
INSERT INTO {slot} (key, slot) VALUES (%(key)s, %(now)s)
ON CONFLICT (key) DO UPDATE SET slot = GREATEST(%(now)s, {slot}.slot + %(spacing)s)
RETURNING slot""",
    "drop": "DROP TABLE IF EXISTS {flow}, {delta}, {slot}",
}


class _Tables:
    """The pool and the statements over one set of tables (shared by both stores)."""

    def __init__(
        self, dsn: str, table_prefix: str, pool_max_size: int, connect_timeout: float, what: str
    ) -> None:
        self.psycopg = optional_import("psycopg", extra="postgresql", purpose=what)
        self.pool_mod = optional_import("psycopg_pool", extra="postgresql", purpose=what)
        self.dsn = normalise_connection_string(dsn)
        self.what = f"{what} {redact(self.dsn)} ({table_prefix!r})"
        self.connect_timeout = connect_timeout
        sql = self.psycopg.sql
        parts = table_prefix.split(".")
        name = parts[-1]

        def ident(suffix: str) -> Any:
            return sql.Identifier(*parts[:-1], name + suffix)

        self.channel = name + "_finished"
        names = {
            "flow": ident("_flow"),
            "delta": ident("_delta"),
            "slot": ident("_slot"),
            "finished_index": sql.Identifier(name + "_flow_finished"),
            "started_index": sql.Identifier(name + "_flow_started"),
            "status_index": sql.Identifier(name + "_flow_status"),
            "name_index": sql.Identifier(name + "_flow_name"),
            "lock": sql.Literal(f"selinon-state:{table_prefix}"),
            "channel": sql.Literal(self.channel),
        }
        self.sql = {key: sql.SQL(text).format(**names) for key, text in _STATEMENTS.items()}
        self.flow_table = names["flow"]
        self.create = sql.SQL(_CREATE).format(**names)
        self.add_listing = sql.SQL(_ADD_LISTING).format(**names)
        self.listen = sql.SQL("LISTEN {}").format(sql.Identifier(self.channel))
        self.pool = self.pool_mod.ConnectionPool(
            self.dsn,
            min_size=1,
            max_size=max(1, pool_max_size),
            timeout=connect_timeout,
            open=False,
            name=f"selinon-state-{table_prefix}",
            kwargs={"autocommit": True, "connect_timeout": max(1, int(connect_timeout))},
        )
        self._ready = False
        self._lock = threading.Lock()

    def errors(self) -> AbstractContextManager[None]:
        return postgresql_errors(what=self.what)

    def connection(self) -> AbstractContextManager[Any]:
        """A pooled connection (autocommit), the tables created on first use."""
        if not self._ready:
            self._prepare()
        return self.pool.connection()  # type: ignore[no-any-return]

    def _prepare(self) -> None:
        with self._lock:
            if self._ready:
                return
            with self.errors():
                self.pool.open(wait=True, timeout=self.connect_timeout + 1)
                with self.pool.connection() as conn, conn.transaction():
                    conn.execute(self.create)
                    table = self.flow_table.as_string(conn)
                    if not conn.execute(_HAS_LISTING, (table,)).fetchone()[0]:
                        conn.execute(self.add_listing)
            self._ready = True

    def one(self, statement: str, params: Any) -> Any:
        """The first row of ``statement`` (``None`` when it returns none)."""
        with self.errors(), self.connection() as conn:
            return conn.execute(self.sql[statement], params).fetchone()

    def close(self) -> None:
        self.pool.close()


class PostgresStateStore(Listable):
    """Flow states, outboxes and finished flows' summaries in PostgreSQL (see the module doc).

    Thread-safe; several processes may share the tables (one writer per flow by CAS).

    Args:
        dsn: a ``postgresql://`` or ``postgres://`` URL (or a libpq ``key=value`` string).
        table_prefix: prefix of the tables (``schema.prefix`` to use a schema).
        cache_size: how many flows' last states this process keeps to write deltas.
        compact_above: keep finished flows that started more nodes than this without their
            node log (their summary stays).
        retention_seconds: delete finished flows this long after they finish (``None``:
            never).
        retention_count: keep at most this many finished flows (``None``: no limit).
        cleanup_every: apply retention after this many finishes saved by this instance.
        pool_max_size: most connections opened at once.
        connect_timeout: seconds to wait for a connection before failing as transient.
        poll_interval: longest wait between two checks in :meth:`wait_finished` when no
            notification arrives.
    """

    durable = True
    """PostgreSQL outlives the process: the shell keeps each step's outbox here."""

    def __init__(
        self,
        *,
        dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres",
        table_prefix: str = "selinon",
        cache_size: int = 4096,
        compact_above: int = COMPACT_ABOVE,
        retention_seconds: float | None = 7 * 24 * 3600.0,
        retention_count: int | None = None,
        cleanup_every: int = 100,
        pool_max_size: int = 8,
        connect_timeout: float = 5.0,
        poll_interval: float = 1.0,
    ) -> None:
        if retention_count is not None and retention_count < 1:
            raise ValueError("retention_count must be at least 1 (or None)")
        self._db = _Tables(
            dsn, table_prefix, pool_max_size, connect_timeout, "PostgreSQL flow-state store"
        )
        self.table_prefix = table_prefix
        self.compact_above = compact_above
        self.retention_seconds = retention_seconds
        self.retention_count = retention_count
        self.cleanup_every = max(1, cleanup_every)
        self._finishes = 0
        self._poll = poll_interval
        self._cache = StateCache(cache_size)

    # ------------------------------------------------------------------ load

    def load(self, *, flow_id: str) -> StoredFlow | None:
        """The stored flow, or ``None``; reads only what the cache does not hold yet."""
        cached = self._cache.get(flow_id)
        try:
            found = self._load(flow_id, cached)
        except StaleCache:  # the cached chain could not be continued: read it whole
            found = self._load(flow_id, None)
        if found is None:
            self._cache.drop(flow_id)
            return None
        entry, outbox = found
        self._cache.put(flow_id, entry)
        return StoredFlow(entry.state, outbox)

    def _load(
        self, flow_id: str, cached: Cached | None
    ) -> tuple[Cached, tuple[Action, ...]] | None:
        params: dict[str, Any] = {"id": flow_id, "sid": "", "v": -1, "idx": 0}
        if cached is not None:
            params.update(sid=cached.snapshot_id, v=cached.state.version, idx=cached.deltas)
        row = self._db.one("load", params)
        if row is None:
            return None
        version, sid, snap_size, delta_size, outbox, snapshot, deltas = row
        whole = snapshot is not None
        if whole:
            state, index = load_snapshot(bytes(snapshot)), 0
        else:
            assert cached is not None
            state, index = cached.state, cached.deltas
        try:
            for raw in deltas:
                state = advance(state, load_delta(bytes(raw)))
                index += 1
        except ValueError as exc:
            if whole:
                raise BackendError(f"{self._db.what}: flow {flow_id}: {exc}") from exc
            raise StaleCache from exc
        if state.version != version:
            if whole:
                raise BackendError(f"{self._db.what}: flow {flow_id}: deltas end early")
            raise StaleCache
        return Cached(state, sid, index, snap_size, delta_size), decode_outbox(outbox)

    # ------------------------------------------------------------------ save

    def save(
        self, *, state: FlowState, expected_version: int | None, outbox: Sequence[Action]
    ) -> None:
        """Compare-and-set ``state`` with its ``outbox`` (a delta when the cache allows).

        Raises:
            ConflictError: the stored version is not ``expected_version``.
            TransientBackendError: PostgreSQL is unreachable.
        """
        flow_id = state.flow_id
        write = plan_write(
            state, self._cache.get(flow_id), expected_version, outbox, self.compact_above
        )
        index = self._write(write, expected_version)
        if index == -1:  # the delta's base snapshot was replaced: write a snapshot instead
            write = plan_write(state, None, expected_version, outbox, self.compact_above)
            index = self._write(write, expected_version)
        if index is None:
            self._cache.drop(flow_id)
            raise ConflictError(f"flow {flow_id}: the stored version is not {expected_version}")
        self._cache.put(flow_id, cached_after(write, index))
        if write.finished:
            self._finished()

    def _write(self, write: Write, expected: int | None) -> int | None:
        """Run the save; the delta index (0 for a snapshot), ``None`` on a conflict, -1 when
        a delta's base snapshot is gone."""
        state = write.state
        nodes, active, failed = node_counts(state)
        params = {
            "n": nodes,
            "na": active,
            "nf": failed,
            "name": state.flow_name,
            "parent": state.parent_flow_id,
            "id": state.flow_id,
            "v": state.version,
            "st": state.status,
            "ob": write.outbox,
            "body": write.payload,
            "size": len(write.payload),
            "sum": write.summary,
            "exp": expected,
            "sid": write.snapshot_id if write.base is None else write.base.snapshot_id,
        }
        db = self._db
        with db.errors(), db.connection() as conn:
            if write.finished:  # the notification goes out with the commit
                with conn.transaction():
                    return self._write_snapshot(conn, params, expected, notify=True)
            if write.base is None:
                return self._write_snapshot(conn, params, expected, notify=False)
            row = conn.execute(db.sql["save_delta"], params).fetchone()
            if row is not None:
                return int(row[0])
            current = conn.execute(db.sql["version"], (params["id"],)).fetchone()
            return -1 if current is not None and current[0] == expected else None

    def _write_snapshot(
        self, conn: Any, params: dict[str, Any], expected: int | None, *, notify: bool
    ) -> int | None:
        db = self._db
        key = "create_flow" if expected is None else "save_snapshot"
        row = conn.execute(db.sql[key], params).fetchone()
        if row is None or not row[0]:
            return None
        if notify:
            conn.execute(db.sql["notify"], (params["id"],))
        return 0

    def _finished(self) -> None:
        self._finishes += 1
        if self._finishes % self.cleanup_every == 0:
            self.cleanup()

    def cleanup(self) -> None:
        """Delete the finished flows beyond the retention settings now."""
        db = self._db
        with db.errors(), db.connection() as conn:
            if self.retention_seconds is not None:
                conn.execute(db.sql["expire_age"], (self.retention_seconds,))
            if self.retention_count is not None:
                conn.execute(db.sql["expire_count"], (self.retention_count,))

    def mark_published(self, *, flow_id: str, version: int) -> None:
        """Empty the outbox saved with ``version`` (no-op if a later save replaced it)."""
        with self._db.errors(), self._db.connection() as conn:
            conn.execute(self._db.sql["mark"], (flow_id, version))

    # ------------------------------------------------------------------ status

    def summary(self, *, flow_id: str) -> FlowSummary | None:
        """The flow's summary: kept for a finished flow, computed for a running one."""
        row = self._db.one("status", (flow_id,))
        if row is None:
            return None
        if row[1] is not None:
            return decode_summary(row[1])
        stored = self.load(flow_id=flow_id)
        return None if stored is None else flow_summary(stored.state)

    def _is_finished(self, flow_id: str) -> bool:
        row = self._db.one("status", (flow_id,))
        return row is not None and row[0] in FINAL

    def wait_finished(self, *, flow_id: str, timeout: float) -> FlowSummary | None:
        """The summary once the flow has finished; ``None`` when ``timeout`` passed first.

        Woken by the save that finishes the flow (``LISTEN``/``NOTIFY``); re-checks at least
        every ``poll_interval`` seconds in case a notification is lost.
        """
        deadline = time.monotonic() + timeout
        db = self._db
        with db.errors():
            conn = db.psycopg.connect(
                db.dsn, autocommit=True, connect_timeout=max(1, int(db.connect_timeout))
            )
        try:
            with db.errors():
                if not db._ready:
                    db._prepare()
                conn.execute(db.listen)
            while True:
                if self._is_finished(flow_id):
                    return self.summary(flow_id=flow_id)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                with db.errors():
                    wait = min(remaining, self._poll)
                    for note in conn.notifies(timeout=wait, stop_after=1):
                        del note  # any finish re-checks this flow (cheap, one row)
        finally:
            conn.close()

    def _page(self, status: str | None, flow_name: str | None, offset: int, limit: int) -> ListPage:
        db = self._db
        with db.errors(), db.connection() as conn:
            rows = page_rows(
                conn,
                db.psycopg.sql,
                table=db.flow_table,
                status=status,
                flow_name=flow_name,
                offset=offset,
                limit=limit,
            )
            total = count_rows(conn, db.psycopg.sql, db.flow_table, status, flow_name)
        return ListPage(rows, total, offset, limit)

    def _count(self, status: str | None, flow_name: str | None) -> int:
        db = self._db
        with db.errors(), db.connection() as conn:
            return count_rows(conn, db.psycopg.sql, db.flow_table, status, flow_name)

    def drop_tables(self) -> None:
        """Drop the store's tables (tests and tear-downs)."""
        with self._db.errors(), self._db.connection() as conn:
            conn.execute(self._db.sql["drop"])

    def close(self) -> None:
        """Close the connection pool."""
        self._db.close()


class PostgresSlotStore:
    """Throttle slots in PostgreSQL: one row per throttled key, reserved by one upsert.

    Args:
        dsn: a ``postgresql://`` or ``postgres://`` URL (or a libpq ``key=value`` string).
        table_prefix: prefix of the tables (shared with :class:`PostgresStateStore`).
        pool_max_size: most connections opened at once.
        connect_timeout: seconds to wait for a connection before failing as transient.
    """

    def __init__(
        self,
        *,
        dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres",
        table_prefix: str = "selinon",
        pool_max_size: int = 4,
        connect_timeout: float = 5.0,
    ) -> None:
        self._db = _Tables(dsn, table_prefix, pool_max_size, connect_timeout, "PostgreSQL slots")

    def reserve(self, *, key: str, spacing: float, now: float) -> float:
        """Reserve the next slot of ``key``; the countdown until it (0 = start now).

        Raises:
            ValueError: ``now`` or ``spacing`` is not finite, or ``spacing`` is negative.
            TransientBackendError: PostgreSQL is unreachable.
        """
        check_slot_args(spacing, now)
        row = self._db.one("reserve", {"key": key, "now": now, "spacing": spacing})
        countdown = float(row[0]) - now
        return countdown if countdown > 0 else 0.0

    def close(self) -> None:
        """Close the connection pool."""
        self._db.close()
