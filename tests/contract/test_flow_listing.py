"""Listing flows (``list_flows``/``count_flows``) on every flow-state store: the dashboard's index.

Flows are saved as the shell saves them (create, later versions, the finishing save); the
listing must show them newest first with their name, status, parent, times and node counts,
filter them by status and name, page through them, and forget those the store forgot.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from tests.services import require_postgres, unique_name

from selinon_backends.state.listing import FlowListing, ListPage
from selinon_backends.state.memory import MemoryStateStore
from selinon_backends.state.postgresql import PostgresStateStore
from selinon_core.dispatch.events import ErrorSummary
from selinon_core.dispatch.pmap import PMap
from selinon_core.dispatch.state import FlowState

from ._state_stores import DURABLE_BACKENDS, STATE_STORES, Maker, _drop_pg_tables


@pytest.fixture(params=sorted(STATE_STORES))
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh, empty store of each kind."""
    with STATE_STORES[request.param]() as made:
        yield made


def create(store: Any, flow_id: str, name: str, parent: str | None = None) -> FlowState:
    """Save a new running flow (a distinct start time from the previous one)."""
    time.sleep(0.002)
    state = FlowState(flow_id, name, version=1, parent_flow_id=parent)
    store.save(state=state, expected_version=None, outbox=())
    return state


def advance(store: Any, state: FlowState, **changes: Any) -> FlowState:
    """Save the next version of ``state`` with ``changes``."""
    fields = {"version": state.version + 1, **changes}
    new = FlowState(
        state.flow_id,
        state.flow_name,
        parent_flow_id=state.parent_flow_id,
        **{name: fields.get(name, getattr(state, name)) for name in _FIELDS},
    )
    store.save(state=new, expected_version=state.version, outbox=())
    return new


_FIELDS = ("version", "status", "seq", "active", "errors")


def ids(page: ListPage) -> list[str]:
    """The flow ids of a page, in order."""
    return [row.flow_id for row in page.items]


def populate(store: Any) -> dict[str, FlowState]:
    """a1 (succeeded), b1 (failed, one error), a2 (running, 2 of 3 nodes active), a1.1 (sub)."""
    a1 = create(store, "a1", "alpha")
    b1 = create(store, "b1", "beta")
    a2 = create(store, "a2", "alpha")
    sub = create(store, "a1.1", "child", parent="a1")
    active: PMap[str, str] = PMap.from_items([("a2.1", "T"), ("a2.2", "T")])
    a2 = advance(store, a2, seq=3, active=active)
    sub = advance(store, sub, status="succeeded", seq=1)
    a1 = advance(store, a1, status="succeeded", seq=2)
    errors: PMap[str, ErrorSummary] = PMap.from_items([("b1.0", ErrorSummary("E", "boom"))])
    b1 = advance(store, b1, status="failed", seq=1, errors=errors)
    return {"a1": a1, "b1": b1, "a2": a2, "a1.1": sub}


def test_lists_every_flow_newest_first_with_its_details(store: Any) -> None:
    populate(store)
    page = store.list_flows()
    assert ids(page) == ["a1.1", "a2", "b1", "a1"]
    assert page.total == 4
    assert not page.has_next
    rows = {row.flow_id: row for row in page.items}
    assert (rows["a1"].flow_name, rows["a1"].status, rows["a1"].parent_flow_id) == (
        "alpha",
        "succeeded",
        None,
    )
    assert rows["a1.1"].parent_flow_id == "a1"
    assert rows["a1.1"].flow_name == "child"
    assert (rows["a2"].status, rows["a2"].nodes, rows["a2"].active, rows["a2"].failed) == (
        "running",
        3,
        2,
        0,
    )
    assert (rows["b1"].status, rows["b1"].failed) == ("failed", 1)
    assert rows["a2"].finished is None
    for row in (rows["a1"], rows["b1"], rows["a1.1"]):
        assert row.finished is not None
        assert row.finished >= row.started
    assert abs(rows["a1"].started - time.time()) < 60  # seconds since the epoch


def test_filters_by_status_and_name(store: Any) -> None:
    populate(store)
    assert ids(store.list_flows(status="running")) == ["a2"]
    assert ids(store.list_flows(status="succeeded")) == ["a1.1", "a1"]
    assert ids(store.list_flows(status="failed")) == ["b1"]
    assert ids(store.list_flows(flow_name="alpha")) == ["a2", "a1"]
    assert ids(store.list_flows(flow_name="alpha", status="succeeded")) == ["a1"]
    assert ids(store.list_flows(flow_name="nope")) == []
    assert store.count_flows() == 4
    assert store.count_flows(status="succeeded") == 2
    assert store.count_flows(flow_name="alpha", status="running") == 1


def test_pages_cover_every_flow_once(store: Any) -> None:
    for index in range(7):
        create(store, f"f{index}", "flow")
    seen: list[str] = []
    offset = 0
    for _ in range(5):  # bounded
        page = store.list_flows(offset=offset, limit=3)
        assert page.total == 7
        assert page.offset == offset
        seen += ids(page)
        if not page.has_next:
            break
        offset += 3
    assert seen == [f"f{index}" for index in reversed(range(7))]
    assert ids(store.list_flows(offset=7, limit=3)) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"status": "retry_wait"}, "unknown flow status"),
        ({"offset": -1}, "offset"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
    ],
)
def test_refuses_a_bad_filter_or_page(store: Any, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.list_flows(**options)


def test_a_flow_in_retry_wait_lists_as_running(store: Any) -> None:
    state = create(store, "r1", "retried")
    advance(store, state, status="retry_wait")
    assert [(row.flow_id, row.status) for row in store.list_flows().items] == [("r1", "running")]


def test_a_row_is_a_plain_value() -> None:
    row = FlowListing("f", "n", "succeeded", None, 10.0, 12.5)
    assert row.duration() == 2.5
    assert FlowListing("f", "n", "running", None, 10.0).duration(now=11.0) == 1.0


def test_memory_store_forgets_retired_and_discarded_flows() -> None:
    store = MemoryStateStore(retention=2)
    for flow_id in ("f1", "f2", "f3"):
        advance(store, create(store, flow_id, "flow"), status="succeeded")
    running = create(store, "run", "flow")
    assert ids(store.list_flows()) == ["run", "f3", "f2"]
    store.discard("f3")
    assert ids(store.list_flows()) == ["run", "f2"]
    advance(store, running, status="succeeded")
    store.forget("run")
    assert ids(store.list_flows()) == ["f2"]
    assert store.count_flows() == 1


@pytest.fixture(params=sorted(DURABLE_BACKENDS))
def make(request: pytest.FixtureRequest) -> Iterator[Maker]:
    """Builds store instances of one shared backend on private keys/tables."""
    with DURABLE_BACKENDS[request.param]() as maker:
        yield maker


def test_another_instance_lists_what_one_saved(make: Maker) -> None:
    populate(make())
    assert ids(make().list_flows(status="succeeded")) == ["a1.1", "a1"]


def test_flows_beyond_the_count_retention_leave_the_listing(
    make: Maker, request: pytest.FixtureRequest
) -> None:
    options: dict[str, Any] = {"retention_count": 2}
    if request.node.callspec.params["make"] == "postgresql":
        options["cleanup_every"] = 1
    store = make(**options)
    for flow_id in ("f1", "f2", "f3"):
        advance(store, create(store, flow_id, "flow"), status="succeeded")
        time.sleep(0.01)  # distinct finish times
    assert ids(store.list_flows()) == ["f3", "f2"]
    assert ids(store.list_flows(flow_name="flow", status="succeeded")) == ["f3", "f2"]
    assert store.count_flows(status="succeeded") == 2


def test_a_re_created_flow_id_is_listed_once(make: Maker, request: pytest.FixtureRequest) -> None:
    options: dict[str, Any] = {"retention_count": 1}
    if request.node.callspec.params["make"] == "postgresql":
        options["cleanup_every"] = 1
    store = make(**options)
    advance(store, create(store, "x", "flow"), status="failed")
    advance(store, create(store, "y", "flow"), status="succeeded")
    create(store, "x", "other")
    page = store.list_flows()
    assert [(row.flow_id, row.flow_name, row.status) for row in page.items] == [
        ("x", "other", "running"),
        ("y", "flow", "succeeded"),
    ]
    assert store.count_flows(status="failed") == 0


def test_a_postgresql_table_of_an_older_version_gains_the_listing() -> None:
    dsn = require_postgres()
    prefix = unique_name("selinon_test_old")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE "{prefix}_flow" (flow_id text PRIMARY KEY, version bigint NOT NULL,'  # type: ignore[arg-type]
            " status text NOT NULL, snapshot_id text NOT NULL, snapshot bytea NOT NULL,"
            " snapshot_size integer NOT NULL, delta_size integer NOT NULL DEFAULT 0,"
            " delta_count integer NOT NULL DEFAULT 0, outbox text NOT NULL DEFAULT '',"
            " summary text, finished_at timestamptz)"
        )
        conn.execute(
            f"INSERT INTO \"{prefix}_flow\" VALUES ('old', 3, 'succeeded', 's', '', 0, 0, 0, '',"  # type: ignore[arg-type]
            " '{}', now())"
        )
    store = PostgresStateStore(dsn=dsn, table_prefix=prefix)
    try:
        create(store, "new", "flow")
        page = store.list_flows()
        # the old flow counts as started when its table gained the listing (before "new")
        assert [(row.flow_id, row.flow_name, row.status) for row in page.items] == [
            ("new", "flow", "running"),
            ("old", "", "succeeded"),
        ]
        assert store.count_flows(status="succeeded") == 1
        again = PostgresStateStore(dsn=dsn, table_prefix=prefix)  # the columns exist now
        try:
            assert again.count_flows() == 2
        finally:
            again.close()
    finally:
        store.close()
        _drop_pg_tables(dsn, prefix)
