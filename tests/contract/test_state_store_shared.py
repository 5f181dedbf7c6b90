"""The shared flow-state stores (Redis, PostgreSQL) across instances, plus ``wait_finished``.

Two store *instances* on the same keys/tables stand for two worker processes: each has its own
cache of last states.  What the contract suite checks per instance must hold across them: no
lost update, the same state whoever wrote it (also after many deltas and re-snapshots), a save
that either fully happened or not at all.  ``wait_finished`` is checked on every store.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pytest
import redis
from tests.services import POSTGRES_DSN, REDIS_URL

from selinon_backends.ports import FlowStateStore
from selinon_backends.state._common import advance
from selinon_core.config.loader import load_system_from_texts
from selinon_core.dispatch.delta import state_delta
from selinon_core.dispatch.dispatcher import Dispatcher
from selinon_core.dispatch.state import FlowState, flow_summary
from selinon_core.errors import BackendError, ConflictError
from selinon_core.testing import Simulation, run_to_completion

from ._state_stores import DURABLE_BACKENDS, STATE_STORES, Maker
from ._threads import run_threads
from .test_state_store_contract import (
    FLOW_ID,
    FLOWS,
    NODES,
    comparable,
    first_state,
    history,
    later_state,
    marker,
    play,
)

ALL_FLOWS = ("chain", "fan", "parent", "rescued", "broken", "retried", "sick_parent")


@pytest.fixture(scope="module")
def dispatcher() -> Dispatcher:
    """A dispatcher over the contract suite's flows."""
    return Dispatcher(load_system_from_texts(NODES, [FLOWS], check_imports=False))


@pytest.fixture(params=sorted(DURABLE_BACKENDS))
def make(request: pytest.FixtureRequest) -> Iterator[Maker]:
    """Builds store instances of one shared backend on private keys/tables."""
    with DURABLE_BACKENDS[request.param]() as maker:
        yield maker


@pytest.fixture(params=sorted(STATE_STORES))
def store(request: pytest.FixtureRequest) -> Iterator[FlowStateStore]:
    """A fresh store of every kind (memory included)."""
    with STATE_STORES[request.param]() as found:
        yield found


def drive(
    dispatcher: Dispatcher,
    stores: Sequence[FlowStateStore],
    flow_name: str,
    node_args: Any,
    *,
    flow_id: str = FLOW_ID,
    max_events: int = 5_000,
) -> Simulation:
    """Run a flow with every event applied through the stores in turn (load, step, save).

    Each load must give exactly the state the simulation holds for that flow (whichever
    instance saved it); the simulation then steps the loaded state.
    """
    sim = Simulation(dispatcher, fail=("Bad",))
    sim.request(flow_name, node_args, flow_id=flow_id)
    for turn in range(max_events):
        if not sim.pending and sim.timers:
            sim.timers.sort(key=lambda pair: pair[0])
            at, event = sim.timers.pop(0)
            sim.now = max(sim.now, at)
            sim.pending.append(event)
        if not sim.pending:
            return sim
        target = stores[turn % len(stores)]
        flow = sim.pending[0].flow_id
        stored = target.load(flow_id=flow)
        expected = sim.states.get(flow)
        if expected is None:
            assert stored is None
        else:
            assert stored is not None
            assert stored.state.to_dict() == comparable(stored.state, expected)
            sim.states[flow] = stored.state
        loaded = None if stored is None else stored.state
        step = sim.deliver()
        if step.state is not loaded:
            version = None if loaded is None else loaded.version
            target.save(state=step.state, expected_version=version, outbox=step.actions)
            target.mark_published(flow_id=flow, version=step.state.version)
    raise AssertionError(f"{flow_name} still running after {max_events} events")


# --------------------------------------------------------------------------- deltas on states


@pytest.mark.parametrize("flow_name", ALL_FLOWS)
def test_advance_rebuilds_every_next_state(dispatcher: Dispatcher, flow_name: str) -> None:
    """``advance(old, state_delta(old, new))`` is ``new``, step by step and chained."""
    for steps in history(play(dispatcher, flow_name)).values():
        chained = steps[0][0]
        for (old, _), (new, _) in itertools.pairwise(steps):
            assert advance(old, state_delta(old, new)).to_dict() == new.to_dict()
            chained = advance(chained, state_delta(old, new))
            assert chained.to_dict() == new.to_dict()
            assert flow_summary(chained) == flow_summary(new)


def test_advance_refuses_a_delta_from_another_version(dispatcher: Dispatcher) -> None:
    state, _ = first_state(dispatcher)
    delta = state_delta(state, later_state(state))
    with pytest.raises(ValueError, match="cannot apply"):
        advance(later_state(state, 3), delta)


# --------------------------------------------------------------------------- across instances


@pytest.mark.parametrize("flow_name", ALL_FLOWS)
def test_two_instances_alternating_see_each_others_states(
    make: Maker, dispatcher: Dispatcher, flow_name: str
) -> None:
    alone = play(dispatcher, flow_name)
    shared = drive(dispatcher, [make(), make()], flow_name, {"n": 2})
    assert shared.status == alone.status
    assert sorted(shared.task_names()) == sorted(alone.task_names())
    fresh = make()
    for flow_id, final in shared.states.items():
        stored = fresh.load(flow_id=flow_id)
        assert stored is not None
        assert stored.state.to_dict() == comparable(stored.state, final)
        assert fresh.summary(flow_id=flow_id) == flow_summary(alone.states[flow_id])


def test_a_large_fan_out_through_three_instances(make: Maker, dispatcher: Dispatcher) -> None:
    """400 branches: hundreds of deltas, several re-snapshots, every load exact."""
    stores = [make(), make(), make(cache_size=0)]
    sim = drive(dispatcher, stores, "fan", {"n": 400}, max_events=2_000)
    assert sim.status == "succeeded"
    assert sim.count("B") == 400
    stored = make().load(flow_id=FLOW_ID)
    assert stored is not None
    assert stored.state.status == "succeeded"
    assert make().summary(flow_id=FLOW_ID) == flow_summary(sim.states[FLOW_ID])


def test_a_running_flow_after_many_deltas_and_snapshots_loads_the_same(
    make: Maker, dispatcher: Dispatcher
) -> None:
    """A writer's every version, read by a fresh instance and by a caching one, is exact."""
    writer, follower = make(), make()
    played = history(play_fan(dispatcher, 300))[FLOW_ID]
    snapshots: set[str] = set()
    expected: int | None = None
    for number, (state, actions) in enumerate(played):
        writer.save(state=state, expected_version=expected, outbox=actions)
        expected = state.version
        entry = writer._cache.get(FLOW_ID)  # which chain the writer is on
        assert entry is not None
        snapshots.add(entry.snapshot_id)
        if number % 7 == 0 or state.finished:
            loaded = follower.load(flow_id=FLOW_ID)
            assert loaded is not None
            assert loaded.state.to_dict() == comparable(loaded.state, state)
            assert tuple(loaded.outbox) == actions
        if number % 50 == 0:
            cold = make(cache_size=0).load(flow_id=FLOW_ID)
            assert cold is not None
            assert cold.state.to_dict() == comparable(cold.state, state)
    assert len(snapshots) >= 3  # the deltas outgrew the snapshot more than once


def play_fan(dispatcher: Dispatcher, branches: int) -> Simulation:
    """The contract's ``fan`` flow with ``branches`` foreach branches, run to its end."""
    return run_to_completion(dispatcher, "fan", {"n": branches}, flow_id=FLOW_ID)


def test_a_stale_instance_conflicts_then_continues(make: Maker, dispatcher: Dispatcher) -> None:
    first, second = make(), make()
    state, _ = first_state(dispatcher)
    first.save(state=state, expected_version=None, outbox=())
    seen = second.load(flow_id=FLOW_ID)
    assert seen is not None
    newer = later_state(state)
    first.save(state=newer, expected_version=state.version, outbox=(marker("first"),))
    with pytest.raises(ConflictError):  # second still holds version 1
        second.save(state=later_state(seen.state), expected_version=1, outbox=())
    reloaded = second.load(flow_id=FLOW_ID)
    assert reloaded is not None
    assert reloaded.state.to_dict() == newer.to_dict()
    assert tuple(reloaded.outbox) == (marker("first"),)
    newest = later_state(reloaded.state)
    second.save(state=newest, expected_version=newer.version, outbox=())
    loaded = first.load(flow_id=FLOW_ID)
    assert loaded is not None
    assert loaded.state.to_dict() == newest.to_dict()
    assert loaded.outbox == ()


def test_instances_racing_on_one_flow_lose_no_update(make: Maker, dispatcher: Dispatcher) -> None:
    """3 instances x 3 threads, each load/increment/save; a naive read-modify-write loses
    increments, compare-and-set never does."""
    instances = [make(), make(), make()]
    state, _ = first_state(dispatcher)
    instances[0].save(state=state, expected_version=None, outbox=())
    wins: list[int] = []
    conflicts: list[int] = []

    def writer(number: int) -> None:
        target = instances[number % len(instances)]
        for _ in range(40):
            stored = target.load(flow_id=FLOW_ID)
            assert stored is not None
            new = later_state(stored.state)
            try:
                target.save(state=new, expected_version=stored.state.version, outbox=())
            except ConflictError:
                conflicts.append(number)
            else:
                wins.append(new.version)

    run_threads(9, writer)
    assert len(wins) + len(conflicts) == 9 * 40
    assert Counter(wins).most_common(1)[0][1] == 1
    final = make().load(flow_id=FLOW_ID)
    assert final is not None
    assert final.state.version == 1 + len(wins)
    assert final.state.node_args["count"] == len(wins)  # every win counted exactly once


def test_a_reader_never_sees_a_half_written_save(make: Maker, dispatcher: Dispatcher) -> None:
    """While one instance writes every version of a fan-out, another reads concurrently: each
    state it sees is exactly one of the written ones."""
    played = history(play_fan(dispatcher, 120))[FLOW_ID]
    by_version = {state.version: state for state, _ in played}
    writer, reader = make(), make()
    writer.save(state=played[0][0], expected_version=None, outbox=played[0][1])
    done = threading.Event()
    seen: list[FlowState] = []

    def read() -> None:
        for _ in range(100_000):
            if done.is_set():
                return
            stored = reader.load(flow_id=FLOW_ID)
            assert stored is not None
            seen.append(stored.state)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for (old, _), (new, actions) in itertools.pairwise(played):
            writer.save(state=new, expected_version=old.version, outbox=actions)
    finally:
        done.set()
        thread.join(60)
    assert len(seen) > 1
    for state in seen:
        assert state.to_dict() == comparable(state, by_version[state.version])


# --------------------------------------------------------------------------- crash safety


def test_a_failed_delta_write_leaves_the_previous_state(
    make: Maker, dispatcher: Dispatcher, request: pytest.FixtureRequest
) -> None:
    """Make the server refuse the delta write (a real error); nothing of it may show."""
    writer = make()
    played = history(play_fan(dispatcher, 5))[FLOW_ID]
    (first, _), (second, _), (third, actions) = played[:3]
    writer.save(state=first, expected_version=None, outbox=())
    writer.save(state=second, expected_version=first.version, outbox=(marker("kept"),))
    backend = backend_of(request)
    with _broken_delta_target(backend, writer), pytest.raises(BackendError):
        writer.save(state=third, expected_version=second.version, outbox=actions)
    for reader in (writer, make()):
        stored = reader.load(flow_id=FLOW_ID)
        assert stored is not None
        assert stored.state.to_dict() == second.to_dict()
        assert tuple(stored.outbox) == (marker("kept"),)
    writer.save(state=third, expected_version=second.version, outbox=actions)  # recovers
    stored = make().load(flow_id=FLOW_ID)
    assert stored is not None
    assert stored.state.to_dict() == third.to_dict()


class _broken_delta_target:
    """Occupy the place the next delta goes to, so that the server rejects the write."""

    def __init__(self, backend: str, store: Any) -> None:
        self.backend, self.store = backend, store
        entry = store._cache.get(FLOW_ID)  # where the next delta goes
        assert entry is not None
        self.next_index = entry.deltas + 1
        self.saved: list[bytes] = []

    def __enter__(self) -> None:
        if self.backend == "redis":
            client = redis.Redis.from_url(REDIS_URL)
            key = f"{self.store.prefix}:{{{FLOW_ID}}}:d"
            self.saved = client.lrange(key, 0, -1)
            client.delete(key)
            client.set(key, "not a list")  # the delta's RPUSH fails: WRONGTYPE
            client.close()
        else:
            self._sql("INSERT INTO {} (flow_id, idx, body) VALUES (%s, %s, %s)", b"{}")

    def __exit__(self, *exc: object) -> None:
        if self.backend == "redis":
            client = redis.Redis.from_url(REDIS_URL)
            key = f"{self.store.prefix}:{{{FLOW_ID}}}:d"
            client.delete(key)
            if self.saved:
                client.rpush(key, *self.saved)
            client.close()
        else:
            self._sql("DELETE FROM {} WHERE flow_id = %s AND idx = %s")

    def _sql(self, template: str, *extra: Any) -> None:
        *schema, name = self.store.table_prefix.split(".")
        table = psycopg.sql.Identifier(*schema, name + "_delta")
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL(template).format(table),  # type: ignore[arg-type]
                (FLOW_ID, self.next_index, *extra),
            )


# --------------------------------------------------------------------------- finished flows


def test_a_large_finished_flow_is_kept_compact_with_its_summary(
    make: Maker, dispatcher: Dispatcher
) -> None:
    sim = play_fan(dispatcher, 100)
    final = sim.states[FLOW_ID]
    writer = make(compact_above=64)
    expected: int | None = None
    for state, actions in history(sim)[FLOW_ID]:
        writer.save(state=state, expected_version=expected, outbox=actions)
        expected = state.version
    for reader in (writer, make()):
        stored = reader.load(flow_id=FLOW_ID)
        assert stored is not None
        assert stored.state.log is None
        assert len(stored.state.done) == 0
        assert (stored.state.status, stored.state.version) == ("succeeded", final.version)
        assert reader.summary(flow_id=FLOW_ID) == flow_summary(final)


def _finish(store: Any, flow_id: str) -> None:
    store.save(state=FlowState(flow_id, "chain", version=1), expected_version=None, outbox=())
    done = FlowState(flow_id, "chain", version=2, status="succeeded")
    store.save(state=done, expected_version=1, outbox=())


def backend_of(request: pytest.FixtureRequest) -> str:
    """The parameter id of the ``make`` fixture of this test."""
    return str(request.node.callspec.params["make"])


def with_retention(make: Maker, request: pytest.FixtureRequest, **options: Any) -> Any:
    """A store with retention options (PostgreSQL: applied at every finish)."""
    if backend_of(request) == "postgresql":
        options["cleanup_every"] = 1
    return make(**options)


def test_retention_count_keeps_the_newest_finished_flows(
    make: Maker, request: pytest.FixtureRequest
) -> None:
    store = with_retention(make, request, retention_count=2)
    store.save(state=FlowState("running", "chain", version=1), expected_version=None, outbox=())
    for flow_id in ("f1", "f2", "f3"):
        _finish(store, flow_id)
        time.sleep(0.01)  # distinct finish times
    assert store.summary(flow_id="f1") is None
    assert store.load(flow_id="f1") is None
    assert {f for f in ("f2", "f3", "running") if store.load(flow_id=f)} == {
        "f2",
        "f3",
        "running",
    }


def test_retention_seconds_forgets_finished_flows(
    make: Maker, request: pytest.FixtureRequest
) -> None:
    store = make(retention_seconds=0.2)
    store.save(state=FlowState("running", "chain", version=1), expected_version=None, outbox=())
    _finish(store, "old")
    assert store.summary(flow_id="old") is not None
    time.sleep(0.5)
    if backend_of(request) == "postgresql":
        store.cleanup()
    assert store.summary(flow_id="old") is None
    assert make().load(flow_id="old") is None
    assert store.load(flow_id="running") is not None


def test_a_retired_flow_id_can_be_created_again(
    make: Maker, request: pytest.FixtureRequest
) -> None:
    store = with_retention(make, request, retention_count=1)
    _finish(store, "again")
    time.sleep(0.01)
    _finish(store, "other")  # retires "again"
    assert store.load(flow_id="again") is None
    store.save(state=FlowState("again", "chain", version=1), expected_version=None, outbox=())
    stored = store.load(flow_id="again")
    assert stored is not None
    assert stored.state.status == "running"


# --------------------------------------------------------------------------- wait_finished


def test_wait_finished_wakes_when_another_instance_finishes_the_flow(
    store: FlowStateStore,
) -> None:
    waiter: Any = store
    store.save(state=FlowState("waited", "chain", version=1), expected_version=None, outbox=())
    got: list[Any] = []
    thread = threading.Thread(
        target=lambda: got.append(waiter.wait_finished(flow_id="waited", timeout=20))
    )
    thread.start()
    time.sleep(0.2)
    assert thread.is_alive()  # still running: it waits
    started = time.monotonic()
    done = FlowState("waited", "chain", version=2, status="failed")
    store.save(state=done, expected_version=1, outbox=())
    thread.join(20)
    assert not thread.is_alive()
    assert got == [flow_summary(done)]
    assert time.monotonic() - started < 15  # woken, not the timeout


def test_wait_finished_returns_at_once_for_a_finished_flow(store: FlowStateStore) -> None:
    waiter: Any = store
    _finish(store, "finished")
    started = time.monotonic()
    summary = waiter.wait_finished(flow_id="finished", timeout=30)
    assert summary is not None
    assert summary["status"] == "succeeded"
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("flow_id", ["never-saved", "still-running"])
def test_wait_finished_times_out_with_none(store: FlowStateStore, flow_id: str) -> None:
    waiter: Any = store
    store.save(
        state=FlowState("still-running", "chain", version=1), expected_version=None, outbox=()
    )
    started = time.monotonic()
    assert waiter.wait_finished(flow_id=flow_id, timeout=0.3) is None
    assert 0.25 <= time.monotonic() - started < 10


def test_close_is_offered(store: FlowStateStore) -> None:
    closer: Any = store
    assert store.load(flow_id="nothing") is None
    closer.close()


def test_wait_finished_is_woken_by_the_finishing_save_not_by_polling(make: Maker) -> None:
    """With a one-minute polling interval, only the notification can wake the waiter early."""
    waiter, writer = make(poll_interval=60.0), make()
    writer.save(state=FlowState("notified", "chain", version=1), expected_version=None, outbox=())
    got: list[Any] = []
    thread = threading.Thread(
        target=lambda: got.append(waiter.wait_finished(flow_id="notified", timeout=120))
    )
    thread.start()
    time.sleep(0.3)  # the waiter has subscribed / listens by now
    started = time.monotonic()
    done = FlowState("notified", "chain", version=2, status="succeeded")
    writer.save(state=done, expected_version=1, outbox=())
    thread.join(30)
    assert not thread.is_alive()
    assert got == [flow_summary(done)]
    assert time.monotonic() - started < 20
