"""The Redis flow-state store and throttle slot store (redis-py; Lua scripts for atomicity).

Key layout (``prefix`` defaults to ``selinon:state``)::

    <prefix>:{<flow_id>}:s     hash: v (version), st (status), sid/snap/ss (snapshot id,
                               snapshot, its size), ds (bytes of deltas since), ob (outbox),
                               sum (summary, once finished)
    <prefix>:{<flow_id>}:d     list: the deltas written since the snapshot, oldest first
    <prefix>:finished          sorted set: finished flow ids by finish time (count retention)
    <prefix>:done:<flow_id>    pub/sub channel: published when the flow finishes

**One writer per flow: compare-and-set.**  A save is one Lua script: it compares the stored
``v`` with the expected version (absent for a create) and writes only when they match, else
the caller gets :class:`~selinon_core.errors.ConflictError`.  Redis runs a script alone, so
two dispatchers can never both win one version, and a save is never half visible: every check
comes before the first write, the delta is appended before the version moves.

**Per-event cost.**  A save whose previous state this process holds (its LRU cache has
exactly the expected version) appends one delta (``state_delta``); the snapshot is rewritten
only when the deltas since it outweigh it, and when the flow finishes.  ``load`` sends the
cached snapshot id, delta count and version; the script answers with the version and outbox
alone when the cache is current, with the newer deltas when it is behind, and with the
snapshot and all deltas otherwise.

**Finished flows** are kept as a snapshot (compact above ``compact_above`` started nodes)
plus their summary; with ``retention_seconds`` their keys expire, with ``retention_count``
only that many finished flows are kept (the oldest go first).  The store needs a single
Redis server, not a cluster: the save script also touches ``<prefix>:finished``, and the count
trim deletes keys the script was not handed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from selinon_backends._clients import redis_client, redis_errors
from selinon_backends.ports import StoredFlow
from selinon_core.dispatch.actions import Action
from selinon_core.dispatch.events import FlowSummary
from selinon_core.dispatch.state import FlowState, flow_summary
from selinon_core.errors import BackendError, ConflictError

from . import _redis_listing as _listing
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
from .listing import Listable, ListPage, listed_status, node_counts

if TYPE_CHECKING:
    import redis as redis_lib

__all__ = ["RedisSlotStore", "RedisStateStore"]

_SAVE = (
    _listing.LUA
    + """
local cur = redis.call('HGET', KEYS[1], 'v')
if ARGV[1] == '' then
  if cur then return {0, cur} end
elseif cur ~= ARGV[1] then
  return {0, cur or ''}
end
if ARGV[3] == 'd' then
  if redis.call('HGET', KEYS[1], 'sid') ~= ARGV[5] then return {-1, cur} end
  local n = redis.call('RPUSH', KEYS[2], ARGV[4])
  redis.call('HINCRBY', KEYS[1], 'ds', #ARGV[4])
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'ob', ARGV[6], 'st', ARGV[7], 'nc', ARGV[16])
  return {1, n}
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'sid', ARGV[5], 'snap', ARGV[4], 'ss', #ARGV[4],
           'ds', 0, 'ob', ARGV[6], 'st', ARGV[7], 'nc', ARGV[16])
list_save(ARGV[1] == '', ARGV[14], ARGV[11], ARGV[17], ARGV[18], ARGV[15], tonumber(ARGV[9]))
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[1], 'sum', ARGV[8])
  local ttl = tonumber(ARGV[9])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
  local keep = tonumber(ARGV[10])
  if keep > 0 then
    local t = redis.call('TIME')
    redis.call('ZADD', KEYS[3], tonumber(t[1]) * 1000000 + tonumber(t[2]), ARGV[11])
    local excess = redis.call('ZCARD', KEYS[3]) - keep
    if excess > 0 then
      local gone = redis.call('ZPOPMIN', KEYS[3], excess)
      for i = 1, #gone, 2 do
        local id = gone[i]
        redis.call('DEL', ARGV[12] .. ':{' .. id .. '}:s', ARGV[12] .. ':{' .. id .. '}:d')
        unlist(ARGV[14], id)
      end
    end
  end
  redis.call('PUBLISH', ARGV[13], ARGV[11])
end
return {1, 0}
"""
)
"""KEYS: hash, deltas, finished set.  ARGV: expected ('' = create), version, mode ('d' delta,
's' snapshot), payload, snapshot id, outbox, status, summary ('' = running), ttl ms, keep
count, flow id, prefix, channel, listing prefix, listing meta (creates only), node counts,
listing status, flow name.  Returns {1, deltas} saved, {0, version} conflict, {-1, v}
the delta's base snapshot is gone."""

_LOAD = """
local h = redis.call('HMGET', KEYS[1], 'v', 'sid', 'ss', 'ds', 'ob')
if not h[1] then return false end
if h[2] == ARGV[1] then
  if h[1] == ARGV[3] then return {h[1], h[2], h[3], h[4], h[5], 'c', '', {}} end
  return {h[1], h[2], h[3], h[4], h[5], 'd', '', redis.call('LRANGE', KEYS[2], ARGV[2], -1)}
end
local snap = redis.call('HGET', KEYS[1], 'snap')
return {h[1], h[2], h[3], h[4], h[5], 's', snap, redis.call('LRANGE', KEYS[2], 0, -1)}
"""
"""KEYS: hash, deltas.  ARGV: cached snapshot id, cached delta count, cached version.
Returns nil (unknown flow) or {version, sid, snapshot size, delta size, outbox, mode, snapshot,
deltas}: mode 'c' the cache is current, 'd' deltas after the cached ones, 's' everything."""

_MARK = """
if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then redis.call('HSET', KEYS[1], 'ob', '') end
return 0
"""

_RESERVE = """
local last = redis.call('GET', KEYS[1])
local now = tonumber(ARGV[1])
local spacing = tonumber(ARGV[2])
local slot = now
if last then slot = math.max(now, tonumber(last) + spacing) end
local text = string.format('%.17g', slot)
redis.call('SET', KEYS[1], text, 'PX', math.ceil((slot - now + spacing) * 1000) + 60000)
return text
"""


class RedisStateStore(Listable):
    """Flow states, outboxes and finished flows' summaries in Redis (see the module doc).

    Thread-safe; several processes may share one Redis (one writer per flow by CAS).

    Args:
        url: a ``redis://``, ``rediss://`` or ``unix://`` URL.
        client: an existing redis-py client to use instead (``url`` is then only named in
            messages); :meth:`close` leaves it open.
        prefix: prefix of every key (see the module doc).
        cache_size: how many flows' last states this process keeps to write deltas.
        compact_above: keep finished flows that started more nodes than this without their
            node log (their summary stays).
        retention_seconds: finished flows expire this long after they finish (``None``:
            never).
        retention_count: keep at most this many finished flows (``None``: no limit).
        socket_timeout: seconds to wait for a reply before failing as transient.
        poll_interval: longest wait between two checks in :meth:`wait_finished` when no
            notification arrives.
    """

    durable = True
    """Redis outlives the process: the shell keeps each step's outbox here."""

    def __init__(
        self,
        *,
        url: str = "redis://127.0.0.1:6379/0",
        client: redis_lib.Redis[Any] | None = None,
        prefix: str = "selinon:state",
        cache_size: int = 4096,
        compact_above: int = COMPACT_ABOVE,
        retention_seconds: float | None = 7 * 24 * 3600.0,
        retention_count: int | None = None,
        socket_timeout: float | None = 10.0,
        poll_interval: float = 1.0,
    ) -> None:
        if retention_count is not None and retention_count < 1:
            raise ValueError("retention_count must be at least 1 (or None)")
        self._what = f"Redis flow-state store {redact(url)} ({prefix!r})"
        self._owned = client is None
        self._client = client or redis_client(
            url=url, socket_timeout=socket_timeout, retries=2, purpose="Redis flow-state store"
        )
        self.prefix = prefix
        self.compact_above = compact_above
        self._ttl_ms = 0 if not retention_seconds else max(1, int(retention_seconds * 1000))
        self._keep = retention_count or 0
        self._poll = poll_interval
        self._cache = StateCache(cache_size)
        self._save_script = self._client.register_script(_SAVE)
        self._load_script = self._client.register_script(_LOAD)
        self._mark_script = self._client.register_script(_MARK)
        self._list = f"{prefix}:list"

    # ------------------------------------------------------------------ keys

    def _keys(self, flow_id: str) -> list[str]:
        base = f"{self.prefix}:{{{flow_id}}}"
        return [base + ":s", base + ":d"]

    def _channel(self, flow_id: str) -> str:
        return f"{self.prefix}:done:{flow_id}"

    def _errors(self) -> AbstractContextManager[None]:
        return redis_errors(what=self._what)

    # ------------------------------------------------------------------ the port

    def load(self, *, flow_id: str) -> StoredFlow | None:
        """The stored flow, or ``None``; reads only what the cache does not hold yet."""
        cached = self._cache.get(flow_id)
        try:
            found = self._load(flow_id, cached)
        except StaleCache:  # the cached chain could not be continued: read it whole
            found = self._load(flow_id, None)
        if found is None:
            return None
        entry, outbox = found
        self._cache.put(flow_id, entry)
        return StoredFlow(entry.state, outbox)

    def _load(
        self, flow_id: str, cached: Cached | None
    ) -> tuple[Cached, tuple[Action, ...]] | None:
        args = (
            ("", 0, "")
            if cached is None
            else (cached.snapshot_id, cached.deltas, cached.state.version)
        )
        with self._errors():
            reply = self._load_script(keys=self._keys(flow_id), args=list(args))
        if reply is None:
            self._cache.drop(flow_id)
            return None
        version, sid, snap_size, delta_size, outbox, mode, snapshot, deltas = reply
        outbox_actions = decode_outbox(outbox)
        if mode == b"s":
            state, index = load_snapshot(snapshot), 0
        else:
            assert cached is not None
            state, index = cached.state, cached.deltas
        try:
            for raw in deltas:
                state = advance(state, load_delta(raw))
                index += 1
        except ValueError as exc:
            if mode == b"s":
                raise BackendError(f"{self._what}: flow {flow_id}: {exc}") from exc
            raise StaleCache from exc
        if state.version != int(version):
            if mode == b"s":
                raise BackendError(f"{self._what}: flow {flow_id}: deltas end before its version")
            raise StaleCache
        entry = Cached(state, sid.decode(), index, int(snap_size), int(delta_size))
        return entry, outbox_actions

    def save(
        self, *, state: FlowState, expected_version: int | None, outbox: Sequence[Action]
    ) -> None:
        """Compare-and-set ``state`` with its ``outbox`` (a delta when the cache allows).

        Raises:
            ConflictError: the stored version is not ``expected_version``.
            TransientBackendError: Redis is unreachable.
        """
        flow_id = state.flow_id
        write = plan_write(
            state, self._cache.get(flow_id), expected_version, outbox, self.compact_above
        )
        status, count = self._run_save(write, expected_version)
        if status == -1:  # the delta's base was replaced: write a snapshot instead
            write = plan_write(state, None, expected_version, outbox, self.compact_above)
            status, count = self._run_save(write, expected_version)
        if status != 1:
            self._cache.drop(flow_id)
            stored = count.decode() if isinstance(count, bytes) else count
            raise ConflictError(
                f"flow {flow_id}: stored version {stored or None}, expected {expected_version}"
            )
        self._cache.put(flow_id, cached_after(write, count if write.snapshot_id is None else 0))

    def _run_save(self, write: Write, expected_version: int | None) -> tuple[int, Any]:
        flow_id = write.state.flow_id
        delta = write.snapshot_id is None
        assert write.base is not None or not delta
        args = [
            "" if expected_version is None else str(expected_version),
            str(write.state.version),
            "d" if delta else "s",
            write.payload,
            write.base.snapshot_id if write.base is not None else write.snapshot_id,
            write.outbox,
            write.state.status,
            write.summary or "",
            self._ttl_ms,
            self._keep,
            flow_id,
            self.prefix,
            self._channel(flow_id),
            self._list,
            "",
            ",".join(map(str, node_counts(write.state))),
            listed_status(write.state.status),
            write.state.flow_name,
        ]
        if expected_version is None:
            args[14] = _listing.meta_of(write.state.flow_name, write.state.parent_flow_id)
        keys = [*self._keys(flow_id), f"{self.prefix}:finished"]
        with self._errors():
            status, value = self._save_script(keys=keys, args=args)
        return int(status), value

    def mark_published(self, *, flow_id: str, version: int) -> None:
        """Empty the outbox saved with ``version`` (no-op if a later save replaced it)."""
        with self._errors():
            self._mark_script(keys=self._keys(flow_id)[:1], args=[str(version)])

    def summary(self, *, flow_id: str) -> FlowSummary | None:
        """The flow's summary: kept for a finished flow, computed for a running one."""
        found = self._status(flow_id)
        if found is None:
            return None
        _, summary = found
        if summary is not None:
            return decode_summary(summary)
        stored = self.load(flow_id=flow_id)
        return None if stored is None else flow_summary(stored.state)

    def _status(self, flow_id: str) -> tuple[str, bytes | None] | None:
        with self._errors():
            status, summary = self._client.hmget(self._keys(flow_id)[0], ["st", "sum"])
        if status is None:
            return None
        return status.decode(), summary

    def wait_finished(self, *, flow_id: str, timeout: float) -> FlowSummary | None:
        """The summary once the flow has finished; ``None`` when ``timeout`` passed first.

        Woken by the save that finishes the flow (pub/sub); re-checks at least every
        ``poll_interval`` seconds in case a notification is lost.
        """
        deadline = time.monotonic() + timeout
        with self._errors():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            with self._errors():
                pubsub.subscribe(self._channel(flow_id))
            while True:
                found = self._status(flow_id)
                if found is not None and found[0] in FINAL:
                    return self.summary(flow_id=flow_id)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                with self._errors():
                    pubsub.get_message(timeout=min(remaining, self._poll))
        finally:
            pubsub.close()

    def _page(self, status: str | None, flow_name: str | None, offset: int, limit: int) -> ListPage:
        key = _listing.list_key(self._list, status, flow_name)
        with self._errors():
            return _listing.read_page(
                self._client,
                base=self._list,
                state_key=lambda flow_id: self._keys(flow_id)[0],
                key=key,
                offset=offset,
                limit=limit,
            )

    def _count(self, status: str | None, flow_name: str | None) -> int:
        with self._errors():
            return int(self._client.zcard(_listing.list_key(self._list, status, flow_name)))

    def close(self) -> None:
        """Disconnect (a client handed in by the caller stays open)."""
        if self._owned:
            self._client.close()


class RedisSlotStore:
    """Throttle slots in Redis: one key per throttled node, reserved by a Lua script.

    Keys are ``<prefix>:<key>`` holding the last reserved slot; they expire a minute after
    they stop mattering.

    Args:
        url: a ``redis://``, ``rediss://`` or ``unix://`` URL.
        client: an existing redis-py client to use instead.
        prefix: prefix of every key.
        socket_timeout: seconds to wait for a reply before failing as transient.
    """

    def __init__(
        self,
        *,
        url: str = "redis://127.0.0.1:6379/0",
        client: redis_lib.Redis[Any] | None = None,
        prefix: str = "selinon:slot",
        socket_timeout: float | None = 10.0,
    ) -> None:
        self._what = f"Redis slot store {redact(url)} ({prefix!r})"
        self._owned = client is None
        self._client = client or redis_client(
            url=url, socket_timeout=socket_timeout, retries=0, purpose="Redis slot store"
        )
        self.prefix = prefix
        self._script = self._client.register_script(_RESERVE)
        self._lock = threading.Lock()

    def reserve(self, *, key: str, spacing: float, now: float) -> float:
        """Reserve the next slot of ``key``; the countdown until it (0 = start now).

        Raises:
            ValueError: ``now`` or ``spacing`` is not finite, or ``spacing`` is negative.
            TransientBackendError: Redis is unreachable.
        """
        check_slot_args(spacing, now)
        with redis_errors(what=self._what):
            slot = float(
                self._script(keys=[f"{self.prefix}:{key}"], args=[repr(now), repr(spacing)])
            )
        countdown = slot - now
        return countdown if countdown > 0 else 0.0

    def close(self) -> None:
        """Disconnect (a client handed in by the caller stays open)."""
        if self._owned:
            self._client.close()
