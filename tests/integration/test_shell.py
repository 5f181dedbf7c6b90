"""The dispatch shell driven directly: load -> step -> save (+outbox) -> trace -> publish -> mark.

A real ``Dispatcher`` over a YAML configuration, the in-memory state and slot stores, scripted
results (``DictResults``) and a virtual clock; the publisher is a recording fake of the port, and
a few thin wrappers around ``MemoryStateStore`` inject conflicts and outages or make it durable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from selinon_backends.ports import FlowStateStore
from selinon_backends.runtime.clock import VirtualClock
from selinon_backends.runtime.shell import (
    BACKOFF_MAX,
    BACKOFF_START,
    MAX_CONFLICTS,
    OUTBOX_GRACE,
    OUTBOX_GRACE_PER_ACTION,
    DispatchShell,
)
from selinon_backends.runtime.slots import MemorySlotStore
from selinon_backends.state.memory import MemoryStateStore
from selinon_core.config.loader import load_system_from_texts
from selinon_core.dispatch.actions import Action, FinishFlow, RunTask
from selinon_core.dispatch.dispatcher import Dispatcher, Step
from selinon_core.dispatch.events import (
    ErrorSummary,
    Event,
    FlowRequested,
    NodeFailed,
    NodeSucceeded,
    SubflowFailed,
    SubflowFinished,
    TimerDue,
)
from selinon_core.dispatch.state import flow_id_of
from selinon_core.errors import (
    ConflictError,
    InvalidTransition,
    TransientBackendError,
    UnknownFlowError,
)
from selinon_core.testing import DictResults
from selinon_core.trace import TraceEvent, TraceName

NODES = """
tasks:
  - {name: A, import: app.tasks, queue: workers, storage: Memory}
  - {name: B, import: app.tasks, queue: workers, storage: Memory}
  - {name: C, import: app.tasks, queue: workers}
  - {name: T, import: app.tasks, queue: slow, throttling: {seconds: 5}}
storages:
  - name: Memory
    import: selinon.storages.memory
    classname: InMemoryStorage
    configuration: {json: false}
flows: [main, guarded, parent, child, fire_and_forget, retrying, throttled, swarm, slow_child]
"""

FLOWS = """
flow-definitions:
  - name: main
    queue: main_q
    edges:
      - {from: , to: A}
      - {from: A, to: B}
  - name: guarded
    queue: guarded_q
    edges:
      - {from: , to: A}
      - from: A
        to: B
        condition: {name: fieldEqual, args: {key: ok, value: true}}
      - from: B
        to: C
        condition: {name: fieldEqual, args: {key: ok, value: true}}
  - name: parent
    queue: parent_q
    propagate_node_args: true
    edges:
      - {from: , to: child}
      - {from: child, to: A}
  - name: child
    queue: child_q
    edges:
      - {from: , to: C}
  - name: fire_and_forget
    queue: parent_q
    nowait: child
    edges:
      - {from: , to: [child, A]}
  - name: retrying
    queue: retry_q
    max_retry: 1
    retry_countdown: 10
    edges:
      - {from: , to: A}
  - name: throttled
    queue: throttle_q
    edges:
      - {from: , to: [T, T, T]}
  - name: swarm
    queue: swarm_q
    edges:
      - {from: , to: [slow_child, slow_child]}
  - name: slow_child
    queue: slow_child_q
    throttling: {seconds: 3}
    edges:
      - {from: , to: C}
"""

SYSTEM = load_system_from_texts(NODES, [FLOWS], check_imports=False)
START = 1000.0


# --------------------------------------------------------------------------- fakes of ports


@dataclass(frozen=True)
class Sent:
    """One call of the publisher: ``kind`` is ``event`` or ``task``."""

    kind: str
    message: Any
    queue: str
    delay: float


class RecordingPublisher:
    """A fake Publisher that records every call; ``spy`` sees each message as it is sent."""

    def __init__(self, spy: Callable[[Any], None] | None = None) -> None:
        self.sent: list[Sent] = []
        self.spy = spy

    def publish_event(self, *, event: Event, queue: str, delay: float = 0.0) -> None:
        if self.spy is not None:
            self.spy(event)
        self.sent.append(Sent("event", event, queue, delay))

    def publish_task(self, *, task: RunTask, delay: float = 0.0) -> None:
        if self.spy is not None:
            self.spy(task)
        self.sent.append(Sent("task", task, task.queue, delay))

    def take(self) -> list[Sent]:
        """What was sent since the last ``take``."""
        sent, self.sent = self.sent, []
        return sent


class FlakyResults(DictResults):
    """Scripted results whose next ``outages`` reads raise ``TransientBackendError``."""

    def __init__(self) -> None:
        super().__init__()
        self.outages = 0

    def get(self, *, flow_name: str, task_name: str, task_id: str) -> Any:
        if self.outages:
            self.outages -= 1
            raise TransientBackendError("results are unreachable")
        return super().get(flow_name=flow_name, task_name=task_name, task_id=task_id)


class RecordingStore(MemoryStateStore):
    """The memory store, recording saves and marks; optionally durable or failing.

    Attributes:
        conflicts: how many of the next saves raise ``ConflictError`` (-1: all of them).
        outages: how many of the next loads raise ``TransientBackendError``.
        before_save: called once, before the next save is checked (another writer's turn).
    """

    def __init__(self, *, durable: bool = False) -> None:
        super().__init__()
        self.durable = durable
        self.saves: list[tuple[str, int | None, int, tuple[Action, ...]]] = []
        self.marks: list[tuple[str, int]] = []
        self.conflicts = 0
        self.outages = 0
        self.before_save: Callable[[], None] | None = None

    def load(self, *, flow_id: str) -> Any:
        if self.outages:
            self.outages -= 1
            raise TransientBackendError("state store is unreachable")
        return super().load(flow_id=flow_id)

    def save(self, *, state: Any, expected_version: int | None, outbox: Any) -> None:
        hook, self.before_save = self.before_save, None
        if hook is not None:
            hook()
        self.saves.append((state.flow_id, expected_version, state.version, tuple(outbox)))
        if self.conflicts:
            if self.conflicts > 0:
                self.conflicts -= 1
            raise ConflictError("another writer saved first")
        super().save(state=state, expected_version=expected_version, outbox=outbox)

    def mark_published(self, *, flow_id: str, version: int) -> None:
        self.marks.append((flow_id, version))
        super().mark_published(flow_id=flow_id, version=version)


class Harness:
    """A shell over the test System with recording ports and a virtual clock."""

    def __init__(
        self,
        store: FlowStateStore | None = None,
        results: DictResults | None = None,
        spy: Callable[[Any], None] | None = None,
    ) -> None:
        self.clock = VirtualClock(START)
        self.store = store if store is not None else RecordingStore()
        self.results = results if results is not None else DictResults()
        self.publisher = RecordingPublisher(spy)
        self.dispatcher = Dispatcher(SYSTEM)
        self.traces: list[TraceEvent] = []
        self.finished: list[FinishFlow] = []
        self.shell = DispatchShell(
            system=SYSTEM,
            dispatcher=self.dispatcher,
            store=self.store,
            publisher=self.publisher,
            slots=MemorySlotStore(),
            results=self.results,  # type: ignore[arg-type]
            clock=self.clock,
            tracer=self.traces.append,
            on_finish=self.finished.append,
        )

    def request(self, flow_name: str, flow_id: str = "f1", args: Any = None) -> FlowRequested:
        return FlowRequested(flow_id, flow_name, self.clock.now(), args)

    def succeeded(self, node_id: str, result: Any = None) -> NodeSucceeded:
        self.results.store(node_id, result)
        return NodeSucceeded(flow_id_of(node_id), node_id, self.clock.now())

    def failed(self, node_id: str) -> NodeFailed:
        error = ErrorSummary("ValueError", "boom")
        return NodeFailed(flow_id_of(node_id), node_id, self.clock.now(), error)

    def apply(self, event: Event) -> Step | None:
        return self.shell.apply(event)

    def version(self, flow_id: str = "f1") -> int | None:
        stored = MemoryStateStore.load(self.store, flow_id=flow_id)  # type: ignore[arg-type]
        return None if stored is None else stored.state.version

    def traced(self, name: TraceName) -> list[dict[str, Any]]:
        return [t.details for t in self.traces if t.name is name]


def tasks(sent: list[Sent]) -> list[tuple[str, str, str, float]]:
    """``(task_name, task_id, queue, delay)`` of the task runs sent."""
    return [
        (s.message.task_name, s.message.task_id, s.queue, s.delay) for s in sent if s.kind == "task"
    ]


# --------------------------------------------------------------------------- the happy path


def test_flow_requested_publishes_the_first_task() -> None:
    h = Harness()
    step = h.apply(h.request("main", args={"x": 1}))
    assert step is not None
    sent = h.publisher.take()
    assert tasks(sent) == [("A", "f1.0", "workers", 0.0)]
    run = sent[0].message
    assert (run.flow_id, run.flow_name, run.node_args, run.parent) == ("f1", "main", {"x": 1}, {})
    assert h.version() == 1
    assert h.store.load(flow_id="f1").outbox == ()  # not durable: no outbox kept
    assert TraceName.FLOW_START in {t.name for t in h.traces}


def test_node_succeeded_publishes_the_next_task() -> None:
    h = Harness()
    h.apply(h.request("main"))
    h.publisher.take()
    step = h.apply(h.succeeded("f1.0"))
    assert step is not None
    sent = h.publisher.take()
    assert tasks(sent) == [("B", "f1.1", "workers", 0.0)]
    assert sent[0].message.parent == {"A": "f1.0"}
    assert h.version() == 2
    h.apply(h.succeeded("f1.1"))
    assert h.publisher.take() == []
    assert [(f.flow_id, f.status, f.parent_flow_id) for f in h.finished] == [
        ("f1", "succeeded", None)
    ]  # a top-level flow's end goes to on_finish only


@pytest.mark.parametrize("which", ["request", "node"])
def test_a_duplicate_event_is_ignored_and_writes_nothing(which: str) -> None:
    h = Harness()
    store = h.store
    assert isinstance(store, RecordingStore)
    request = h.request("main")
    h.apply(request)
    event: Event = request
    if which == "node":
        event = h.succeeded("f1.0")
        h.apply(event)
    h.publisher.take()
    saves, version = len(store.saves), h.version()
    before = store.load(flow_id="f1")
    step = h.apply(event)
    assert step is not None
    assert step.actions == ()
    assert step.state is before.state  # the loaded state, not a new one
    assert h.publisher.take() == []
    assert len(store.saves) == saves  # nothing written
    assert h.version() == version
    assert h.traced(TraceName.EVENT_IGNORED)


def test_unknown_flows_and_stray_events_raise_for_the_transport() -> None:
    h = Harness()
    with pytest.raises(UnknownFlowError):
        h.apply(FlowRequested("f1", "nope", START))
    with pytest.raises(InvalidTransition):
        h.apply(NodeSucceeded("ghost", "ghost.0", START))
    assert h.publisher.take() == []
    assert h.store.load(flow_id="f1") is None


# --------------------------------------------------------------------------- sub-flows


def test_subflow_start_and_finish_travel_between_queues() -> None:
    h = Harness()
    h.apply(h.request("parent", args={"p": 1}))
    [sent] = h.publisher.take()
    assert (sent.kind, sent.queue, sent.delay) == ("event", "child_q", 0.0)
    request = sent.message
    assert isinstance(request, FlowRequested)
    assert (request.flow_id, request.flow_name, request.node_args) == ("f1.0", "child", {"p": 1})
    assert (request.parent_flow_id, request.parent_flow_name) == ("f1", "parent")
    assert request.report_to_parent is True

    h.apply(request)  # the child's dispatcher starts it
    assert tasks(h.publisher.take()) == [("C", "f1.0.0", "workers", 0.0)]
    h.apply(h.succeeded("f1.0.0"))
    [report] = h.publisher.take()
    assert (report.kind, report.queue, report.delay) == ("event", "parent_q", 0.0)
    finished = report.message
    assert isinstance(finished, SubflowFinished)
    assert (finished.flow_id, finished.node_id) == ("f1", "f1.0")
    assert finished.summary["finished_nodes"] == {"C": ["f1.0.0"]}
    assert [(f.flow_id, f.parent_flow_id) for f in h.finished] == [("f1.0", "f1")]

    h.apply(finished)  # the parent goes on
    assert tasks(h.publisher.take()) == [("A", "f1.1", "workers", 0.0)]


def test_a_failed_subflow_reports_subflow_failed_to_the_parent_queue() -> None:
    h = Harness()
    h.apply(h.request("parent"))
    [sent] = h.publisher.take()
    h.apply(sent.message)
    h.publisher.take()
    h.apply(h.failed("f1.0.0"))
    [report] = h.publisher.take()
    assert report.queue == "parent_q"
    assert isinstance(report.message, SubflowFailed)
    assert (report.message.flow_id, report.message.node_id) == ("f1", "f1.0")
    h.apply(report.message)
    assert [(f.flow_id, f.status) for f in h.finished] == [("f1.0", "failed"), ("f1", "failed")]


def test_a_nowait_subflow_end_is_not_reported() -> None:
    h = Harness()
    h.apply(h.request("fire_and_forget"))
    sent = h.publisher.take()
    [request] = [s.message for s in sent if s.kind == "event"]
    assert request.report_to_parent is False
    assert request.parent_flow_id == "f1"
    assert [t[0] for t in tasks(sent)] == ["A"]
    h.apply(request)
    h.publisher.take()
    h.apply(h.succeeded("f1.0.0"))
    assert h.publisher.take() == []  # nobody waits for it
    [finish] = h.finished
    assert (finish.flow_id, finish.status, finish.report_to_parent) == ("f1.0", "succeeded", False)


# --------------------------------------------------------------------------- timers, throttling


def test_a_flow_retry_publishes_timer_due_with_its_countdown() -> None:
    h = Harness()
    h.apply(h.request("retrying"))
    h.publisher.take()
    h.clock.advance(3.0)
    h.apply(h.failed("f1.0"))
    [timer] = h.publisher.take()
    assert (timer.kind, timer.queue) == ("event", "retry_q")
    assert isinstance(timer.message, TimerDue)
    assert timer.message.at == START + 3.0 + 10.0
    assert timer.delay == pytest.approx(10.0)
    assert h.finished == []
    h.clock.advance(4.0)  # a late-reading shell waits only for what is left
    h.apply(h.request("retrying", flow_id="f2"))
    h.publisher.take()
    h.apply(h.failed("f2.0"))
    [other] = h.publisher.take()
    assert other.delay == pytest.approx(10.0)
    h.clock.wait_until(timer.message.at)
    h.apply(timer.message)
    assert tasks(h.publisher.take()) == [("A", "f1.1", "workers", 0.0)]  # restarted, new id


def test_throttled_tasks_get_increasing_delays() -> None:
    h = Harness()
    h.apply(h.request("throttled"))
    assert tasks(h.publisher.take()) == [
        ("T", "f1.0", "slow", 0.0),
        ("T", "f1.1", "slow", 5.0),
        ("T", "f1.2", "slow", 10.0),
    ]
    h.apply(h.request("throttled", flow_id="f2"))  # throttling is per task, across flows
    assert [t[3] for t in tasks(h.publisher.take())] == [15.0, 20.0, 25.0]
    h.clock.advance(100.0)
    h.apply(h.request("throttled", flow_id="f3"))
    assert [t[3] for t in tasks(h.publisher.take())] == [0.0, 5.0, 10.0]


def test_throttled_subflows_are_requested_with_increasing_delays() -> None:
    h = Harness()
    h.apply(h.request("swarm"))
    sent = h.publisher.take()
    assert [(s.kind, s.message.flow_id, s.queue, s.delay) for s in sent] == [
        ("event", "f1.0", "slow_child_q", 0.0),
        ("event", "f1.1", "slow_child_q", 3.0),
    ]


# --------------------------------------------------------------------------- backend trouble


def test_transient_result_errors_back_off_per_flow_and_reset_on_success() -> None:
    results = FlakyResults()
    h = Harness(results=results)
    h.apply(h.request("guarded"))
    h.publisher.take()
    event = h.succeeded("f1.0", {"ok": True})
    results.outages = 8
    delays = []
    for _ in range(8):
        assert h.apply(event) is None
        [again] = h.publisher.take()
        assert again.message is event
        assert (again.kind, again.queue) == ("event", "guarded_q")
        delays.append(again.delay)
    assert delays == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0])
    assert delays[0] == BACKOFF_START
    assert delays[-1] == BACKOFF_MAX
    assert h.version() == 1  # nothing applied
    issues = h.traced(TraceName.STORAGE_ISSUE)
    assert [i["retry_in"] for i in issues] == delays
    assert all(i["flow_id"] == "f1" and "unreachable" in i["what"] for i in issues)

    h.apply(h.request("guarded", flow_id="f2"))  # another flow has its own back-off
    h.publisher.take()
    results.outages = 1
    assert h.apply(h.succeeded("f2.0", {"ok": True})) is None
    assert [s.delay for s in h.publisher.take()] == [BACKOFF_START]

    assert h.apply(event) is not None  # back: applied, and f1's back-off is reset
    assert tasks(h.publisher.take()) == [("B", "f1.1", "workers", 0.0)]
    assert h.version() == 2
    results.outages = 1
    after = h.succeeded("f1.1", {"ok": True})
    assert h.apply(after) is None
    assert [s.delay for s in h.publisher.take()] == [BACKOFF_START]
    assert h.apply(after) is not None
    assert tasks(h.publisher.take()) == [("C", "f1.2", "workers", 0.0)]


def test_a_state_store_outage_defers_to_a_queue_it_can_still_name() -> None:
    store = RecordingStore()
    h = Harness(store=store)
    h.apply(h.request("main"))
    h.publisher.take()
    store.outages = 2  # the load of the step, then the load that looks up the flow's queue
    event = h.succeeded("f1.0")
    assert h.apply(event) is None
    [again] = h.publisher.take()
    assert again.message is event
    assert again.queue == SYSTEM.spec.global_.default_dispatcher_queue
    store.outages = 1
    request = h.request("main", flow_id="f2")
    assert h.apply(request) is None
    [again] = h.publisher.take()
    assert (again.message, again.queue, again.delay) == (request, "main_q", BACKOFF_START)
    assert len(h.traced(TraceName.STORAGE_ISSUE)) == 2
    assert h.apply(event) is not None
    assert tasks(h.publisher.take()) == [("B", "f1.1", "workers", 0.0)]


def test_a_conflict_then_success_applies_the_event_once() -> None:
    store = RecordingStore()
    h = Harness(store=store)
    store.conflicts = 1
    step = h.apply(h.request("main"))
    assert step is not None
    assert [(f, e, v) for f, e, v, _ in store.saves] == [("f1", None, 1), ("f1", None, 1)]
    assert tasks(h.publisher.take()) == [("A", "f1.0", "workers", 0.0)]
    assert h.version() == 1
    store.conflicts = 1
    assert h.apply(h.succeeded("f1.0")) is not None
    assert tasks(h.publisher.take()) == [("B", "f1.1", "workers", 0.0)]
    assert h.version() == 2
    assert h.traced(TraceName.STATE_CONFLICT) == []


def test_a_rival_writer_that_applied_the_same_event_wins_and_we_publish_nothing() -> None:
    store = RecordingStore()
    rival = Harness(store=store)
    h = Harness(store=store)
    request = h.request("main")
    store.before_save = lambda: rival.apply(request)  # the rival saves between our load/save
    step = h.apply(request)
    assert step is not None
    assert step.actions == ()  # reloaded: the event was already applied
    assert h.publisher.take() == []
    assert tasks(rival.publisher.take()) == [("A", "f1.0", "workers", 0.0)]
    assert h.version() == 1


def test_always_conflicting_saves_defer_the_event() -> None:
    store = RecordingStore()
    h = Harness(store=store)
    h.apply(h.request("main"))
    h.publisher.take()
    saves = len(store.saves)
    store.conflicts = -1
    event = h.succeeded("f1.0")
    assert h.apply(event) is None
    assert len(store.saves) - saves == MAX_CONFLICTS
    [again] = h.publisher.take()
    assert (again.kind, again.message, again.queue) == ("event", event, "main_q")
    assert again.delay == BACKOFF_START
    [conflict] = h.traced(TraceName.STATE_CONFLICT)
    assert conflict["flow_id"] == "f1"
    assert conflict["retry_in"] == BACKOFF_START
    assert str(MAX_CONFLICTS) in conflict["what"]
    assert h.version() == 1
    store.conflicts = 0
    assert h.apply(event) is not None
    assert tasks(h.publisher.take()) == [("B", "f1.1", "workers", 0.0)]


# --------------------------------------------------------------------------- the outbox


def test_a_volatile_store_gets_no_outbox_and_no_marks() -> None:
    store = RecordingStore(durable=False)
    h = Harness(store=store)
    h.apply(h.request("main"))
    h.apply(h.succeeded("f1.0"))
    assert [outbox for *_, outbox in store.saves] == [(), ()]
    assert store.marks == []


def test_a_durable_store_saves_the_outbox_before_publishing_and_empties_it_after() -> None:
    store = RecordingStore(durable=True)
    outbox_when_sent: list[tuple[Action, ...]] = []

    def spy(message: Any) -> None:
        stored = MemoryStateStore.load(store, flow_id=message.flow_id)
        outbox_when_sent.append(() if stored is None else tuple(stored.outbox))

    h = Harness(store=store, spy=spy)
    step = h.apply(h.request("main"))
    assert step is not None
    [(flow_id, expected, version, outbox)] = store.saves
    assert (flow_id, expected, version) == ("f1", None, 1)
    assert outbox == step.actions
    assert len(outbox) == 1
    assert isinstance(outbox[0], RunTask)
    assert outbox_when_sent == [step.actions]  # saved before it was published
    assert store.marks == [("f1", 1)]
    assert store.load(flow_id="f1").outbox == ()  # emptied after publishing
    assert tasks(h.publisher.take()) == [("A", "f1.0", "workers", 0.0)]


def test_an_outbox_left_by_a_crash_is_published_first_then_marked() -> None:
    store = RecordingStore(durable=True)
    h = Harness(store=store)
    request = h.request("main")
    crashed = h.dispatcher.step(None, request, h.results)  # saved, never published
    store.save(state=crashed.state, expected_version=None, outbox=crashed.actions)
    store.saves.clear()

    event = h.succeeded("f1.0")
    assert h.apply(event) is None  # its writer may still be publishing it: wait
    [again] = h.publisher.take()
    assert (again.kind, again.message, again.delay) == ("event", event, BACKOFF_START)
    h.clock.advance(OUTBOX_GRACE + OUTBOX_GRACE_PER_ACTION * len(crashed.actions))
    step = h.apply(event)  # the outbox outlived the grace period: its writer crashed
    assert step is not None
    assert tasks(h.publisher.take()) == [
        ("A", "f1.0", "workers", 0.0),  # the stored outbox first (at least once)
        ("B", "f1.1", "workers", 0.0),
    ]
    assert store.marks == [("f1", 1), ("f1", 2)]
    assert [(e, v) for _, e, v, _ in store.saves] == [(1, 2)]
    assert store.load(flow_id="f1").outbox == ()


def test_a_redelivered_event_after_a_crash_publishes_the_outbox_and_writes_nothing() -> None:
    store = RecordingStore(durable=True)
    h = Harness(store=store)
    request = h.request("main")
    crashed = h.dispatcher.step(None, request, h.results)
    store.save(state=crashed.state, expected_version=None, outbox=crashed.actions)
    store.saves.clear()

    assert h.apply(request) is None  # the transport redelivers the unacknowledged request
    h.publisher.take()
    h.clock.advance(OUTBOX_GRACE + OUTBOX_GRACE_PER_ACTION * len(crashed.actions))
    step = h.apply(request)
    assert step is not None
    assert step.actions == ()
    assert tasks(h.publisher.take()) == [("A", "f1.0", "workers", 0.0)]
    assert store.saves == []
    assert store.marks == [("f1", 1)]
    assert store.load(flow_id="f1").outbox == ()
    assert h.apply(request).actions == ()  # once published, never again
    assert h.publisher.take() == []


def test_a_fresh_outbox_is_left_to_its_writer_and_published_once() -> None:
    store = RecordingStore(durable=True)
    h = Harness(store=store)
    request = h.request("main")
    busy = h.dispatcher.step(None, request, h.results)  # another dispatcher is publishing it
    store.save(state=busy.state, expected_version=None, outbox=busy.actions)
    event = h.succeeded("f1.0")
    for _ in range(3):  # deferred with a growing back-off while the outbox is fresh
        h.clock.advance(OUTBOX_GRACE / 4)
        assert h.apply(event) is None
    assert [sent.delay for sent in h.publisher.take()] == [0.05, 0.1, 0.2]
    assert len(h.traced(TraceName.STATE_CONFLICT)) == 3
    store.mark_published(flow_id="f1", version=1)  # its writer is done
    step = h.apply(event)
    assert step is not None
    assert tasks(h.publisher.take()) == [("B", "f1.1", "workers", 0.0)]  # A not published again


def test_a_large_outbox_gets_a_longer_grace() -> None:
    store = RecordingStore(durable=True)
    h = Harness(store=store)
    busy = h.dispatcher.step(None, h.request("main"), h.results)
    big = busy.actions * 1000  # as many task runs as a big foreach publishes
    store.save(state=busy.state, expected_version=None, outbox=big)
    event = h.succeeded("f1.0")
    assert h.apply(event) is None
    h.clock.advance(OUTBOX_GRACE + 1)  # enough for a small outbox, not for this one
    assert h.apply(event) is None
    h.publisher.take()
    h.clock.advance(OUTBOX_GRACE_PER_ACTION * len(big))
    assert h.apply(event) is not None
    assert len(tasks(h.publisher.take())) == len(big) + 1
