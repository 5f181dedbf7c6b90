"""The state-store contract: every ``FlowStateStore`` and ``SlotStore`` behaves the same.

Written against the ports of :mod:`selinon_backends.ports` only; the implementations come from
the tables of ``_state_stores.py`` (today the in-memory stores; Redis and PostgreSQL add a
parameter there).  What the in-memory store does beyond the protocol (retention, ``forget``)
is in :class:`TestMemoryStateStoreExtras` at the end.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from selinon_backends.ports import FlowStateStore, SlotStore, StoredFlow
from selinon_backends.state.memory import MemoryStateStore
from selinon_core.config.loader import load_system_from_texts
from selinon_core.dispatch.actions import Action, RunTask
from selinon_core.dispatch.dispatcher import Dispatcher
from selinon_core.dispatch.selective import plan_selective_run
from selinon_core.dispatch.state import FlowState, flow_summary
from selinon_core.errors import ConflictError, RequestError
from selinon_core.testing import Simulation, run_to_completion

from ._state_stores import SLOT_STORES, STATE_STORES
from ._threads import run_threads

NODES = """
tasks:
  - {name: A, import: app.tasks}
  - {name: B, import: app.tasks}
  - {name: C, import: app.tasks}
  - {name: D, import: app.tasks}
  - {name: Bad, import: app.tasks}
  - {name: Fix, import: app.tasks}
flows: [chain, fan, parent, child, grandchild, rescued, broken, retried, sick_parent]
"""

FLOWS = """
flow-definitions:
  - name: chain
    edges:
      - {from: , to: A}
      - {from: A, to: B}
      - {from: B, to: C}
  - name: fan
    edges:
      - {from: , to: A}
      - from: A
        to: B
        foreach: {import: tests.contract._state_stores, function: items}
      - {from: A, to: D}
  - name: parent
    propagate_finished: true
    propagate_node_args: true
    edges:
      - {from: , to: [A, child]}
      - {from: [A, child], to: D}
  - name: child
    edges:
      - {from: , to: B}
      - {from: B, to: grandchild}
  - name: grandchild
    edges:
      - {from: , to: C}
  - name: rescued
    edges:
      - {from: , to: [Bad, A]}
      - {from: A, to: B}
    failures:
      - {nodes: Bad, fallback: Fix}
  - name: broken
    edges:
      - {from: , to: [Bad, A]}
  - name: retried
    max_retry: 1
    retry_countdown: 10
    edges:
      - {from: , to: [A, Bad]}
  - name: sick_parent
    edges:
      - {from: , to: broken}
      - {from: broken, to: D}
"""

FLOW_ID = "contract-flow"


@pytest.fixture(scope="module")
def dispatcher() -> Dispatcher:
    """A dispatcher over the flows above (tasks are scripted: no import is checked)."""
    return Dispatcher(load_system_from_texts(NODES, [FLOWS], check_imports=False))


@pytest.fixture(params=sorted(STATE_STORES))
def store(request: pytest.FixtureRequest) -> Iterator[FlowStateStore]:
    """A fresh, empty flow-state store of each implementation."""
    with STATE_STORES[request.param]() as found:
        yield found


@pytest.fixture(params=sorted(SLOT_STORES))
def slots(request: pytest.FixtureRequest) -> Iterator[SlotStore]:
    """A fresh slot store of each implementation."""
    with SLOT_STORES[request.param]() as found:
        yield found


# --------------------------------------------------------------------------- helpers


def play(dispatcher: Dispatcher, flow_name: str, **options: Any) -> Simulation:
    """Run ``flow_name`` to its end with scripted tasks; ``Bad`` always fails."""
    return run_to_completion(
        dispatcher, flow_name, {"n": 2}, fail=("Bad",), flow_id=FLOW_ID, **options
    )


def history(sim: Simulation) -> dict[str, list[tuple[FlowState, tuple[Action, ...]]]]:
    """Every state each flow went through, with the actions of the step that produced it."""
    found: dict[str, list[tuple[FlowState, tuple[Action, ...]]]] = {}
    for step in sim.steps:
        states = found.setdefault(step.state.flow_id, [])
        if not states or states[-1][0] is not step.state:  # an ignored event changes nothing
            states.append((step.state, step.actions))
    return found


def first_state(dispatcher: Dispatcher) -> tuple[FlowState, tuple[Action, ...]]:
    """The state (version 1) and actions of a freshly requested ``chain`` flow."""
    return history(play(dispatcher, "chain"))[FLOW_ID][0]


def later_state(state: FlowState, count: int = 1) -> FlowState:
    """``state`` advanced by ``count`` versions (node args count the steps)."""
    args = dict(state.node_args or {})
    args["count"] = args.get("count", 0) + count
    return replace(state, version=state.version + count, node_args=args)


def marker(label: str) -> RunTask:
    """A recognisable action to put in an outbox."""
    return RunTask(FLOW_ID, "chain", "A", f"{FLOW_ID}.{label}", {"label": label}, {}, "q")


def comparable(stored: FlowState, state: FlowState) -> dict[str, Any]:
    """``state.to_dict()``, less what a store may drop from a finished flow.

    A store may keep a finished flow compact (see ``FlowStateStore``): its node log (``log``,
    ``done``, ``active``) may be gone; everything else, and ``summary()``, must stay.
    """
    data = state.to_dict()
    if state.finished and not stored.log:
        data.update(finished=[], tracked={}, active={})
    return data


def assert_stored(store: FlowStateStore, state: FlowState, outbox: tuple[Action, ...]) -> None:
    stored = store.load(flow_id=state.flow_id)
    assert stored is not None
    assert isinstance(stored, StoredFlow)
    assert stored.state.version == state.version
    assert stored.state.to_dict() == comparable(stored.state, state)
    assert tuple(stored.outbox) == outbox


# --------------------------------------------------------------------------- the contract


class TestFlowStateStoreContract:
    """What the shell relies on from every flow-state store."""

    def test_durable_is_a_bool(self, store: FlowStateStore) -> None:
        assert isinstance(store.durable, bool)

    def test_unknown_flow_loads_as_none_and_has_no_summary(self, store: FlowStateStore) -> None:
        assert store.load(flow_id="never-saved") is None
        assert store.summary(flow_id="never-saved") is None

    def test_create_with_expected_version_none(
        self, store: FlowStateStore, dispatcher: Dispatcher
    ) -> None:
        state, actions = first_state(dispatcher)
        assert state.version == 1
        store.save(state=state, expected_version=None, outbox=actions)
        assert_stored(store, state, actions)
        assert store.load(flow_id="other-flow") is None

    def test_creating_twice_conflicts_and_keeps_the_first(
        self, store: FlowStateStore, dispatcher: Dispatcher
    ) -> None:
        state, actions = first_state(dispatcher)
        store.save(state=state, expected_version=None, outbox=actions)
        with pytest.raises(ConflictError):
            store.save(state=later_state(state), expected_version=None, outbox=())
        assert_stored(store, state, actions)

    def test_save_with_the_loaded_version_succeeds(
        self, store: FlowStateStore, dispatcher: Dispatcher
    ) -> None:
        state, _ = first_state(dispatcher)
        store.save(state=state, expected_version=None, outbox=())
        newer = later_state(state)
        store.save(state=newer, expected_version=state.version, outbox=(marker("x"),))
        assert_stored(store, newer, (marker("x"),))
        newest = later_state(newer)
        store.save(state=newest, expected_version=newer.version, outbox=())
        assert_stored(store, newest, ())

    @pytest.mark.parametrize("offset", [-1, 1, 5], ids=["stale", "future", "far-future"])
    def test_save_with_a_wrong_version_conflicts_and_changes_nothing(
        self, store: FlowStateStore, dispatcher: Dispatcher, offset: int
    ) -> None:
        state, _ = first_state(dispatcher)
        store.save(state=state, expected_version=None, outbox=())
        current = later_state(state)
        store.save(state=current, expected_version=state.version, outbox=(marker("kept"),))
        with pytest.raises(ConflictError):
            store.save(
                state=later_state(current),
                expected_version=current.version + offset,
                outbox=(marker("lost"),),
            )
        assert_stored(store, current, (marker("kept"),))

    def test_outbox_is_loaded_until_marked_published(
        self, store: FlowStateStore, dispatcher: Dispatcher
    ) -> None:
        state, actions = first_state(dispatcher)
        assert actions  # the chain's first task
        store.save(state=state, expected_version=None, outbox=actions)
        assert_stored(store, state, actions)
        assert_stored(store, state, actions)  # loading does not consume it
        store.mark_published(flow_id=FLOW_ID, version=state.version)
        assert_stored(store, state, ())  # the state itself is untouched
        store.mark_published(flow_id=FLOW_ID, version=state.version)  # idempotent
        assert_stored(store, state, ())

    def test_marking_an_older_version_keeps_a_newer_outbox(
        self, store: FlowStateStore, dispatcher: Dispatcher
    ) -> None:
        state, _ = first_state(dispatcher)
        store.save(state=state, expected_version=None, outbox=(marker("old"),))
        newer = later_state(state)
        store.save(state=newer, expected_version=state.version, outbox=(marker("new"),))
        store.mark_published(flow_id=FLOW_ID, version=state.version)
        assert_stored(store, newer, (marker("new"),))
        store.mark_published(flow_id=FLOW_ID, version=newer.version)
        assert_stored(store, newer, ())

    def test_marking_an_unknown_flow_creates_nothing(self, store: FlowStateStore) -> None:
        store.mark_published(flow_id="never-saved", version=1)
        assert store.load(flow_id="never-saved") is None

    def test_summary_follows_the_stored_state(
        self, store: FlowStateStore, dispatcher: Dispatcher
    ) -> None:
        steps = history(play(dispatcher, "rescued"))[FLOW_ID]
        expected: int | None = None
        for state, actions in steps:
            store.save(state=state, expected_version=expected, outbox=actions)
            assert store.summary(flow_id=FLOW_ID) == flow_summary(state)
            expected = state.version
        final = steps[-1][0]
        assert final.status == "succeeded"
        assert store.summary(flow_id=FLOW_ID) == flow_summary(final)
        assert store.summary(flow_id="never-saved") is None

    @pytest.mark.parametrize(
        ("flow_name", "status", "flows"),
        [
            ("chain", "succeeded", 1),
            ("fan", "succeeded", 1),
            ("parent", "succeeded", 3),
            ("rescued", "succeeded", 1),
            ("broken", "failed", 1),
            ("retried", "failed", 1),
            ("sick_parent", "failed", 2),
        ],
    )
    def test_real_states_round_trip(
        self,
        store: FlowStateStore,
        dispatcher: Dispatcher,
        flow_name: str,
        status: str,
        flows: int,
    ) -> None:
        sim = play(dispatcher, flow_name)
        assert sim.status == status
        played = history(sim)
        assert len(played) == flows
        for flow_id, steps in played.items():
            expected: int | None = None
            for state, actions in steps:
                store.save(state=state, expected_version=expected, outbox=actions)
                assert_stored(store, state, actions)
                expected = state.version
            assert [s.version for s, _ in steps] == list(range(1, len(steps) + 1))
            stored = store.load(flow_id=flow_id)
            assert stored is not None
            assert stored.state.to_dict() == comparable(stored.state, sim.states[flow_id])
            assert store.summary(flow_id=flow_id) == flow_summary(sim.states[flow_id])

    def test_failed_tasks_errors_round_trip(
        self, store: FlowStateStore, dispatcher: Dispatcher
    ) -> None:
        sim = play(dispatcher, "retried")
        final = sim.states[FLOW_ID]
        assert final.retried_count == 1
        assert len(final.errors) == 2  # Bad failed once per attempt
        steps = history(sim)[FLOW_ID]
        assert any(s.status == "retry_wait" and s.timer_id for s, _ in steps)
        expected: int | None = None
        for state, actions in steps:
            store.save(state=state, expected_version=expected, outbox=actions)
            expected = state.version
        stored = store.load(flow_id=FLOW_ID)
        assert stored is not None
        assert dict(stored.state.errors.items()) == dict(final.errors.items())
        assert {e.type for _, e in stored.state.errors.items()} == {"TaskFailure"}

    def test_selective_state_round_trips(
        self, store: FlowStateStore, dispatcher: Dispatcher
    ) -> None:
        plan = plan_selective_run(
            dispatcher.system.spec, "chain", ("B",), follow_subflows=False, run_subsequent=False
        )
        sim = play(dispatcher, "chain", selective=plan)
        assert sim.task_names() == ["A", "B"]
        expected: int | None = None
        for state, actions in history(sim)[FLOW_ID]:
            assert state.selective is not None
            store.save(state=state, expected_version=expected, outbox=actions)
            assert_stored(store, state, actions)
            expected = state.version

    def test_lock_step_writers_exactly_one_wins_per_version(
        self, store: FlowStateStore, dispatcher: Dispatcher
    ) -> None:
        """8 threads load the same version, then all save: one wins each round."""
        threads, rounds = 8, 50
        state, _ = first_state(dispatcher)
        store.save(state=state, expected_version=None, outbox=())
        loaded = threading.Barrier(threads, timeout=30)
        saved = threading.Barrier(threads, timeout=30)
        wins: list[tuple[int, int]] = []
        conflicts: list[int] = []

        def writer(number: int) -> None:
            for _ in range(rounds):
                stored = store.load(flow_id=FLOW_ID)
                assert stored is not None
                loaded.wait()  # everybody loaded the same version
                new = later_state(stored.state)
                try:
                    store.save(
                        state=new,
                        expected_version=stored.state.version,
                        outbox=(marker(str(number)),),
                    )
                except ConflictError:
                    conflicts.append(number)
                else:
                    wins.append((new.version, number))
                saved.wait()  # nobody loads before every save of the round is done

        run_threads(threads, writer)
        assert len(wins) == rounds
        assert len(conflicts) == rounds * (threads - 1)
        assert sorted(v for v, _ in wins) == list(range(2, rounds + 2))
        final = store.load(flow_id=FLOW_ID)
        assert final is not None
        assert final.state.version == rounds + 1
        assert final.state.node_args["count"] == rounds
        last_version, last_winner = max(wins)
        assert last_version == final.state.version
        assert tuple(final.outbox) == (marker(str(last_winner)),)

    def test_free_running_writers_lose_no_update(
        self, store: FlowStateStore, dispatcher: Dispatcher
    ) -> None:
        """8 threads x 50 load/step/save attempts on one flow: no version is won twice."""
        threads, attempts = 8, 50
        state, _ = first_state(dispatcher)
        store.save(state=state, expected_version=None, outbox=())
        wins: list[int] = []
        conflicts: list[int] = []

        def writer(number: int) -> None:
            for _ in range(attempts):
                stored = store.load(flow_id=FLOW_ID)
                assert stored is not None
                new = later_state(stored.state)
                try:
                    store.save(state=new, expected_version=stored.state.version, outbox=())
                except ConflictError:
                    conflicts.append(number)
                else:
                    wins.append(new.version)

        run_threads(threads, writer)
        assert len(wins) + len(conflicts) == threads * attempts
        assert wins
        assert Counter(wins).most_common(1)[0][1] == 1  # exactly one save per version
        assert sorted(wins) == list(range(2, len(wins) + 2))
        final = store.load(flow_id=FLOW_ID)
        assert final is not None
        assert final.state.version == 1 + len(wins)
        assert final.state.node_args["count"] == len(wins)  # every win counted once


class TestSlotStoreContract:
    """Throttling slots: cumulative spacing per key, atomic across threads."""

    def test_reservations_at_one_instant_are_spaced_cumulatively(self, slots: SlotStore) -> None:
        got = [slots.reserve(key="task:T", spacing=5.0, now=100.0) for _ in range(3)]
        assert got == [0.0, 5.0, 10.0]

    def test_countdown_is_measured_from_now(self, slots: SlotStore) -> None:
        assert slots.reserve(key="task:T", spacing=5.0, now=100.0) == 0.0
        assert slots.reserve(key="task:T", spacing=5.0, now=100.0) == 5.0  # slot 105
        assert slots.reserve(key="task:T", spacing=5.0, now=102.0) == 8.0  # slot 110

    def test_keys_are_independent(self, slots: SlotStore) -> None:
        assert slots.reserve(key="task:T", spacing=5.0, now=100.0) == 0.0
        assert slots.reserve(key="task:T", spacing=5.0, now=100.0) == 5.0
        assert slots.reserve(key="flow:T", spacing=5.0, now=100.0) == 0.0
        assert slots.reserve(key="task:U", spacing=1.0, now=100.0) == 0.0
        assert slots.reserve(key="task:U", spacing=1.0, now=100.0) == 1.0
        assert slots.reserve(key="task:T", spacing=5.0, now=100.0) == 10.0

    def test_a_later_time_resets_the_countdown(self, slots: SlotStore) -> None:
        for _ in range(3):
            slots.reserve(key="task:T", spacing=5.0, now=100.0)  # last slot: 110
        assert slots.reserve(key="task:T", spacing=5.0, now=200.0) == 0.0
        assert slots.reserve(key="task:T", spacing=5.0, now=200.0) == 5.0

    def test_concurrent_reservations_get_distinct_slots(self, slots: SlotStore) -> None:
        threads, each = 8, 25
        got: list[float] = []

        def reserve(_: int) -> None:
            for _ in range(each):
                got.append(slots.reserve(key="task:busy", spacing=1.0, now=1000.0))

        run_threads(threads, reserve)
        assert sorted(got) == [float(n) for n in range(threads * each)]


# --------------------------------------------------------------------------- memory only


def finished(flow_id: str, status: str = "succeeded") -> FlowState:
    return FlowState(flow_id, "chain", version=1, status=status)  # type: ignore[arg-type]


def running(flow_id: str) -> FlowState:
    return FlowState(flow_id, "chain", version=1)


class TestMemoryStateStoreExtras:
    """Beyond the protocol: the in-memory store's bounded retention and ``forget``."""

    def test_not_durable(self) -> None:
        assert MemoryStateStore().durable is False

    def test_retention_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="retention"):
            MemoryStateStore(retention=0)

    def test_retention_drops_the_oldest_finished_flows_only(self) -> None:
        store = MemoryStateStore(retention=2)
        store.save(state=running("run"), expected_version=None, outbox=())
        for name in ("f1", "f2", "f3"):
            store.save(state=finished(name), expected_version=None, outbox=())
        assert store.load(flow_id="f1") is None  # the oldest finished one
        assert store.summary(flow_id="f1") is None
        assert store.load(flow_id="f2") is not None
        assert store.load(flow_id="f3") is not None
        assert store.load(flow_id="run") is not None  # running: never dropped
        assert len(store) == 3
        store.save(state=finished("f4", "failed"), expected_version=None, outbox=())
        assert store.load(flow_id="f2") is None
        assert {f for f in ("run", "f3", "f4") if store.load(flow_id=f)} == {"run", "f3", "f4"}

    def test_a_running_flow_counts_only_once_it_finishes(self) -> None:
        store = MemoryStateStore(retention=1)
        store.save(state=running("long"), expected_version=None, outbox=())
        for name in ("f1", "f2", "f3"):
            store.save(state=finished(name), expected_version=None, outbox=())
        assert store.load(flow_id="long") is not None
        assert store.load(flow_id="f3") is not None
        done = replace(finished("long"), version=2)
        store.save(state=done, expected_version=1, outbox=())
        assert store.load(flow_id="long") is not None  # the newest finished one
        assert store.load(flow_id="f3") is None
        assert len(store) == 1

    def test_forget_drops_a_finished_flow_and_its_subflows(self) -> None:
        store = MemoryStateStore()
        for flow_id in ("top", "top.0", "top.0.3", "top.1", "top1", "topx", "other.top"):
            store.save(state=finished(flow_id), expected_version=None, outbox=())
        store.forget("top")
        left = {f for f in ("top", "top.0", "top.0.3", "top.1") if store.load(flow_id=f)}
        assert left == set()
        for kept in ("top1", "topx", "other.top"):  # same prefix, not sub-flows
            assert store.load(flow_id=kept) is not None
        assert len(store) == 3

    def test_forget_refuses_a_running_flow(self) -> None:
        store = MemoryStateStore()
        store.save(state=running("busy"), expected_version=None, outbox=())
        store.save(state=running("busy.0"), expected_version=None, outbox=())
        with pytest.raises(RequestError, match="busy"):
            store.forget("busy")
        assert store.load(flow_id="busy") is not None
        assert store.load(flow_id="busy.0") is not None

    def test_forget_of_an_unknown_flow_is_a_no_op(self) -> None:
        store = MemoryStateStore()
        store.save(state=finished("kept"), expected_version=None, outbox=())
        store.forget("never-saved")
        assert store.load(flow_id="kept") is not None

    def test_a_forgotten_flow_can_be_created_again(self) -> None:
        store = MemoryStateStore()
        store.save(state=finished("again"), expected_version=None, outbox=())
        with pytest.raises(ConflictError):
            store.save(state=finished("again"), expected_version=None, outbox=())
        store.forget("again")
        store.save(state=running("again"), expected_version=None, outbox=())
        stored = store.load(flow_id="again")
        assert stored is not None
        assert stored.state.status == "running"

    def test_retention_counts_a_forgotten_and_recreated_flow_once(self) -> None:
        store = MemoryStateStore(retention=2)
        store.save(state=finished("a"), expected_version=None, outbox=())
        store.forget("a")
        store.save(state=finished("a"), expected_version=None, outbox=())
        store.save(state=finished("b"), expected_version=None, outbox=())
        assert store.load(flow_id="a") is not None  # only two finished flows exist
        assert store.load(flow_id="b") is not None
        store.save(state=finished("c"), expected_version=None, outbox=())
        assert store.load(flow_id="a") is None
        assert len(store) == 2

    @pytest.mark.parametrize("compact_above", [0, 10_000])
    def test_a_finished_flow_is_kept_compact(
        self, dispatcher: Dispatcher, compact_above: int
    ) -> None:
        store = MemoryStateStore(compact_above=compact_above)
        sim = play(dispatcher, "chain")
        played = history(sim)
        final = sim.states[FLOW_ID]
        assert final.finished
        assert final.log is not None
        expected: int | None = None
        for state, actions in played[FLOW_ID]:
            store.save(state=state, expected_version=expected, outbox=actions)
            expected = state.version
        loaded = store.load(flow_id=FLOW_ID)
        assert loaded is not None
        assert loaded.state.to_dict() == final.to_dict()  # compacted per batch, not at once
        store.compact()
        stored = store.load(flow_id=FLOW_ID)
        assert stored is not None
        if compact_above == 0:
            assert (stored.state.log, len(stored.state.done)) == (None, 0)
        else:
            assert stored.state.to_dict() == final.to_dict()  # small enough: kept whole
        assert (stored.state.status, stored.state.version) == (final.status, final.version)
        assert store.summary(flow_id=FLOW_ID) == flow_summary(final)
