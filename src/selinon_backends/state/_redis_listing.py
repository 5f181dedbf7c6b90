"""The listing index of the Redis flow-state store (see :mod:`.listing`).

Keys (``L`` is ``<prefix>:list``)::

    L:all                    sorted set: every listed flow id by start time (microseconds)
    L:s:<status>             sorted set: the flows of one listing status, by start time
    L:n:<name>               sorted set: the flows of one flow name, by start time
    L:ns:<status>:<name>     sorted set: both filters at once
    L:meta                   hash: flow id -> {"n": flow name, "p": parent flow id}
    L:end                    hash: flow id -> "<status>:<finish time in microseconds>"
    L:ended                  sorted set: finished flow ids by finish time (to expire them)

The save script (:data:`LUA`) indexes a flow when it is created and moves it when it finishes;
flows dropped by the count retention are removed with them, and those past the time retention
(their state keys expired) are removed, a hundred at a time, by later finishes.  A page is two
round trips whatever the number of flows.
"""

from __future__ import annotations

import json
from typing import Any

from .listing import FlowListing, ListPage

__all__ = ["LUA", "list_key", "meta_of", "read_page"]

LUA = """
local function unlist(L, id)
  local meta = redis.call('HGET', L .. ':meta', id)
  if not meta then return end
  local name = cjson.decode(meta)['n']
  local ended = redis.call('HGET', L .. ':end', id)
  local st = 'running'
  if ended then st = string.match(ended, '^(%a+)') end
  redis.call('ZREM', L .. ':all', id)
  redis.call('ZREM', L .. ':s:' .. st, id)
  redis.call('ZREM', L .. ':n:' .. name, id)
  redis.call('ZREM', L .. ':ns:' .. st .. ':' .. name, id)
  redis.call('ZREM', L .. ':ended', id)
  redis.call('HDEL', L .. ':meta', id)
  redis.call('HDEL', L .. ':end', id)
end

local function list_save(created, L, id, st, name, meta, ttl_ms)
  if not created and st == 'running' then return end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  if created then
    unlist(L, id)
    redis.call('HSET', L .. ':meta', id, meta)
    redis.call('ZADD', L .. ':all', now, id)
    redis.call('ZADD', L .. ':n:' .. name, now, id)
    redis.call('ZADD', L .. ':s:running', now, id)
    redis.call('ZADD', L .. ':ns:running:' .. name, now, id)
  end
  if st == 'running' then return end
  local start = redis.call('ZSCORE', L .. ':all', id)
  if not start then return end
  redis.call('ZREM', L .. ':s:running', id)
  redis.call('ZREM', L .. ':ns:running:' .. name, id)
  redis.call('ZADD', L .. ':s:' .. st, start, id)
  redis.call('ZADD', L .. ':ns:' .. st .. ':' .. name, start, id)
  redis.call('HSET', L .. ':end', id, st .. ':' .. string.format('%d', now))
  redis.call('ZADD', L .. ':ended', now, id)
  if ttl_ms > 0 then
    local old = redis.call('ZRANGEBYSCORE', L .. ':ended', '-inf', now - ttl_ms * 1000,
                           'LIMIT', 0, 100)
    for _, gone in ipairs(old) do unlist(L, gone) end
  end
end
"""
"""Lua functions the save script of :mod:`.redis` defines: ``list_save`` and ``unlist``."""


def meta_of(flow_name: str, parent_flow_id: str | None) -> str:
    """The ``L:meta`` value of a flow."""
    return json.dumps({"n": flow_name, "p": parent_flow_id}, separators=(",", ":"))


def list_key(base: str, status: str | None, flow_name: str | None) -> str:
    """The sorted set that holds the flows matching the filter."""
    if status is not None and flow_name is not None:
        return f"{base}:ns:{status}:{flow_name}"
    if status is not None:
        return f"{base}:s:{status}"
    if flow_name is not None:
        return f"{base}:n:{flow_name}"
    return f"{base}:all"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_page(
    client: Any, *, base: str, state_key: Any, key: str, offset: int, limit: int
) -> ListPage:
    """A page of sorted set ``key`` with the rows' metadata, in two round trips.

    ``state_key(flow_id)`` names the hash of a flow's state (its ``nc`` field holds the node
    counts ``"started,running,failed"``).
    """
    pipe = client.pipeline(transaction=False)
    pipe.zcard(key)
    pipe.zrevrange(key, offset, offset + limit - 1, withscores=True)
    total, members = pipe.execute()
    ids = [_text(member) for member, _ in members]
    if not ids:
        return ListPage((), int(total), offset, limit)
    pipe = client.pipeline(transaction=False)
    pipe.hmget(f"{base}:meta", ids)
    pipe.hmget(f"{base}:end", ids)
    for flow_id in ids:
        pipe.hget(state_key(flow_id), "nc")
    metas, ends, *counts = pipe.execute()
    rows = [
        _row(flow_id, score, meta, end, count)
        for (flow_id, (_, score), meta, end, count) in zip(
            ids, members, metas, ends, counts, strict=True
        )
        if meta is not None
    ]
    return ListPage(tuple(rows), int(total), offset, limit)


def _row(flow_id: str, score: float, meta: Any, end: Any, count: Any) -> FlowListing:
    info = json.loads(meta)
    status, finished = "running", None
    if end is not None:
        status, _, micros = _text(end).partition(":")
        finished = float(micros) / 1e6
    nodes = active = failed = None
    if count is not None:
        nodes, active, failed = (int(part) for part in _text(count).split(","))
    return FlowListing(
        flow_id,
        str(info.get("n", "")),
        status,
        info.get("p"),
        score / 1e6,
        finished,
        nodes,
        active,
        failed,
    )
