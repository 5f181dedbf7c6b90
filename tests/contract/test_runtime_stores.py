"""The run journal and the delay store behave the same in memory, Redis and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from tests.services import require_postgres, require_redis, unique_name

from selinon_backends.distributed.backends import broker_scope, open_backends
from selinon_backends.distributed.delays import (
    DelayStore,
    MemoryDelayStore,
    PostgresDelayStore,
    RedisDelayStore,
)
from selinon_backends.distributed.journal import (
    Journal,
    MemoryJournal,
    PostgresJournal,
    RedisJournal,
    root_of,
)

KINDS = ["memory", "redis", "postgresql"]


def _journal(kind: str, prefix: str) -> Journal:
    if kind == "redis":
        return RedisJournal(require_redis(), prefix=prefix)
    if kind == "postgresql":
        return PostgresJournal(require_postgres(), prefix=prefix)
    return MemoryJournal()


def _delays(kind: str, prefix: str, lease: float = 30.0) -> DelayStore:
    if kind == "redis":
        return RedisDelayStore(require_redis(), prefix=prefix, lease=lease)
    if kind == "postgresql":
        return PostgresDelayStore(require_postgres(), prefix=prefix, lease=lease)
    return MemoryDelayStore(lease=lease)


def _drop(store: Any) -> None:
    for name in ("drop", "clear"):
        if hasattr(store, name):
            getattr(store, name)()
    store.close()


@pytest.fixture(params=KINDS)
def journal(request: pytest.FixtureRequest) -> Iterator[Journal]:
    store = _journal(request.param, unique_name("jr"))
    yield store
    if isinstance(store, RedisJournal):
        store._client.delete(store._key("f1"), store._key("f2"))
    _drop(store)


@pytest.fixture(params=KINDS)
def delays(request: pytest.FixtureRequest) -> Iterator[DelayStore]:
    store = _delays(request.param, unique_name("dl"), lease=0.2)
    yield store
    _drop(store)


def test_journal_entries_merge_per_record(journal: Journal) -> None:
    journal.write(root="f1", entries={"r:f1": {"flow_name": "a", "t": 1.0}})
    journal.write(root="f1", entries={"s:f1.0": {"node_name": "T"}, "s:f1.1": {"k": [1, 2]}})
    journal.write(root="f1", entries={"s:f1.0": {"node_name": "U"}})  # a redelivery rewrites
    journal.write(root="f2", entries={"r:f2": {"flow_name": "b"}})
    assert journal.read(root="f1") == {
        "r:f1": {"flow_name": "a", "t": 1.0},
        "s:f1.0": {"node_name": "U"},
        "s:f1.1": {"k": [1, 2]},
    }
    assert journal.get(root="f1", key="s:f1.1") == {"k": [1, 2]}
    assert journal.get(root="f1", key="o:f1.1") is None
    assert journal.read(root="nope") == {}
    assert root_of("f1.3.2") == "f1"


def test_delayed_messages_come_due_in_order_and_once(delays: DelayStore) -> None:
    now = time.time()
    delays.schedule(due=now + 0.3, queue="q2", body=b"later")
    delays.schedule(due=now - 1, queue="q1", body=b'{"m": 1}\n\xff')
    assert delays.next_due() == pytest.approx(now - 1)
    [first] = delays.take_due(now=now, limit=10)
    assert (first.queue, first.body) == ("q1", b'{"m": 1}\n\xff')
    assert delays.take_due(now=now, limit=10) == []  # leased: not taken twice
    delays.done(ids=[first.id])
    assert delays.take_due(now=now + 1, limit=10)[0].body == b"later"


def test_a_taken_message_not_done_comes_back_after_its_lease(delays: DelayStore) -> None:
    now = time.time()
    delays.schedule(due=now - 1, queue="q", body=b"x")
    [taken] = delays.take_due(now=now)
    assert delays.take_due(now=now + 0.1) == []
    [again] = delays.take_due(now=now + 0.3)  # the pump that took it died
    assert again.id == taken.id
    delays.done(ids=[again.id])
    assert delays.take_due(now=now + 100) == []
    assert delays.next_due() is None


@pytest.mark.parametrize("kind", ["redis", "postgresql"])
def test_brokers_sharing_a_state_store_keep_their_delays_apart(kind: str) -> None:
    url = require_redis() if kind == "redis" else require_postgres()
    prefix = unique_name("sc").replace("-", "_")
    one = open_backends(url, prefix=prefix, broker="amqp://u:secret@host-a//")
    two = open_backends(url, prefix=prefix, broker="redis://host-b:6379/0")
    try:
        one.delays.schedule(due=time.time() - 1, queue="q", body=b"for a")
        assert two.delays.take_due(now=time.time()) == []
        assert [d.body for d in one.delays.take_due(now=time.time())] == [b"for a"]
    finally:
        for backends in (one, two):
            _drop(backends.delays)
            backends.close()
    assert broker_scope("amqp://u:secret@h//") == broker_scope("amqp://u:other@h//")
    assert broker_scope(None) == ""
