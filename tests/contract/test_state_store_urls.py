"""``open_state_store`` / ``open_slot_store``: a store per URL scheme, clear errors otherwise."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from tests.services import free_port, require_postgres, require_redis, unique_name

from selinon_backends._clients import MissingExtraError
from selinon_backends.runtime.slots import MemorySlotStore
from selinon_backends.state import open_slot_store, open_state_store, store_kind
from selinon_backends.state._common import redact
from selinon_backends.state.memory import MemoryStateStore
from selinon_backends.state.postgresql import PostgresSlotStore, PostgresStateStore
from selinon_backends.state.redis import RedisSlotStore, RedisStateStore
from selinon_core.dispatch.state import FlowState
from selinon_core.errors import SpecError, TransientBackendError

from ._state_stores import _delete_redis_keys, _drop_pg_tables


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("memory://", "memory"),
        ("redis://127.0.0.1:6379/0", "redis"),
        ("REDIS://127.0.0.1:6379/0", "redis"),
        ("rediss://user:pw@example.invalid:6380/1", "redis"),
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql"),
        ("postgres://postgres@127.0.0.1:5432/test", "postgresql"),
    ],
)
def test_store_kind_by_scheme(url: str, kind: str) -> None:
    assert store_kind(url) == kind


@pytest.mark.parametrize(
    "url",
    [
        "amqp://guest:s3cret-pw@127.0.0.1:5672//",
        "mongodb://admin:s3cret-pw@127.0.0.1/db",
        "127.0.0.1:6379",
        "",
    ],
)
def test_other_schemes_are_refused_without_echoing_a_password(url: str) -> None:
    for opener in (open_state_store, open_slot_store):
        with pytest.raises(SpecError, match="redis://, rediss://, postgresql://") as caught:
            opener(url)
        assert "s3cret-pw" not in str(caught.value)
    if "@" in url:
        assert ":***@" in str(caught.value)


def test_memory_urls_give_the_in_memory_stores() -> None:
    store = open_state_store("memory://", retention=3)
    assert isinstance(store, MemoryStateStore)
    assert store.durable is False
    assert isinstance(open_slot_store("memory://"), MemorySlotStore)


def test_redis_urls_give_working_redis_stores() -> None:
    url = require_redis()
    prefix = unique_name("selinon-test-open")
    store = open_state_store(url, prefix=prefix, cache_size=0)
    slots = open_slot_store(url, prefix=prefix)
    try:
        assert isinstance(store, RedisStateStore)
        assert isinstance(slots, RedisSlotStore)
        store.save(state=FlowState("opened", "chain", version=1), expected_version=None, outbox=())
        stored = store.load(flow_id="opened")
        assert stored is not None
        assert stored.state.flow_name == "chain"
        assert slots.reserve(key="k", spacing=2.0, now=10.0) == 0.0
        assert slots.reserve(key="k", spacing=2.0, now=10.0) == 2.0
    finally:
        store.close()
        slots.close()
        _delete_redis_keys(url, prefix)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgresql_urls_give_working_postgresql_stores(scheme: str) -> None:
    dsn = require_postgres()
    url = scheme + "://" + dsn.partition("://")[2]
    prefix = unique_name("selinon_test_open")
    store = open_state_store(url, table_prefix=prefix)
    slots = open_slot_store(url, table_prefix=prefix)
    try:
        assert isinstance(store, PostgresStateStore)
        assert isinstance(slots, PostgresSlotStore)
        store.save(state=FlowState("opened", "chain", version=1), expected_version=None, outbox=())
        stored = store.load(flow_id="opened")
        assert stored is not None
        assert stored.state.flow_name == "chain"
        assert slots.reserve(key="k", spacing=2.0, now=10.0) == 0.0
        assert slots.reserve(key="k", spacing=2.0, now=10.0) == 2.0
    finally:
        store.close()
        slots.close()
        _drop_pg_tables(dsn, prefix)


@pytest.mark.parametrize(
    ("url", "module"),
    [("redis://127.0.0.1:6379/0", "redis"), ("postgresql://postgres@127.0.0.1/test", "psycopg")],
)
def test_a_missing_client_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, url: str, module: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    for opener in (open_state_store, open_slot_store):
        with pytest.raises(MissingExtraError, match=r"selinon-ng\[(redis|postgresql)\]"):
            opener(url)


@pytest.mark.parametrize("scheme", ["redis", "postgresql"])
def test_an_unreachable_server_is_transient_and_the_password_stays_hidden(scheme: str) -> None:
    port = free_port()  # nothing listens there
    if scheme == "redis":
        url = f"redis://:hunter2-pw@127.0.0.1:{port}/0"
        options: dict[str, Any] = {"socket_timeout": 2}
    else:
        url = f"postgresql://postgres:hunter2-pw@127.0.0.1:{port}/test"
        options = {"connect_timeout": 1}
    store: Any = open_state_store(url, **options)
    slots: Any = open_slot_store(url)
    try:
        calls = [
            lambda: store.load(flow_id="f"),
            lambda: store.save(
                state=FlowState("f", "chain", version=1), expected_version=None, outbox=()
            ),
            lambda: store.mark_published(flow_id="f", version=1),
            lambda: store.summary(flow_id="f"),
            lambda: store.wait_finished(flow_id="f", timeout=0.1),
            lambda: slots.reserve(key="k", spacing=1.0, now=1.0),
        ]
        for call in calls:
            with pytest.raises(TransientBackendError) as caught:
                call()
            assert "hunter2-pw" not in str(caught.value)
    finally:
        store.close()
        slots.close()


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "postgresql://postgres@127.0.0.1:1/t"])
def test_slot_arguments_are_checked_before_the_server_is_asked(url: str) -> None:
    slots: Any = open_slot_store(url)  # nothing listens there: the checks come first
    try:
        with pytest.raises(ValueError, match="spacing"):
            slots.reserve(key="k", spacing=-1.0, now=1.0)
        with pytest.raises(ValueError, match="now"):
            slots.reserve(key="k", spacing=1.0, now=float("nan"))
    finally:
        slots.close()


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("redis://:pw1@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("postgresql://user:pw1@db/test", "postgresql://user:***@db/test"),
        ("postgresql://user@db/test", "postgresql://user@db/test"),
        ("host=db password=pw1 dbname=test", "host=db password=*** dbname=test"),
        ("host=db password='p w1' dbname=test", "host=db password=*** dbname=test"),
    ],
)
def test_passwords_are_hidden_in_what_stores_name(given: str, shown: str) -> None:
    assert redact(given) == shown
