"""Random delivery orders, duplicates and late events (hypothesis stateful testing).

Invariants checked after every delivery:

* ``step`` is pure: the same state and event give an equal step;
* node ids are unique across every task run and sub-flow start;
* a flow's version increases strictly with every applied step;
* every flow finishes at most once, the top-level flow exactly once in the end;
* no node runs whose condition was false (``Never`` below);
* the outcome (status and how often each task ran) does not depend on the delivery order,
  flow retries (timers) included; in particular fallbacks are chosen only at idle (greedy
  ``[Bad, Bad2]`` wins over ``Bad`` although ``Bad`` fails first).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from dsp_helpers import edge, make_dispatcher
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from selinon_core.dispatch.actions import RunTask, StartSubflow
from selinon_core.dispatch.delta import apply_delta, state_delta
from selinon_core.dispatch.dispatcher import Dispatcher
from selinon_core.dispatch.events import Event
from selinon_core.dispatch.state import FlowState
from selinon_core.testing import Simulation, run_to_completion

NOT_OK = {"name": "fieldEqual", "node": "A", "args": {"key": "ok", "value": True}}

FLOWS: dict[str, dict[str, Any]] = {
    "f": {
        "edges": [
            edge(None, ["A", "B", "C"]),
            edge(["A", "B"], "J"),
            edge("A", "Never", condition=NOT_OK),
            edge("C", ["sub", "sub"]),
            edge(["J", "sub"], "End"),
            edge(None, ["Bad", "retrying"]),
            edge("B", "Bad2"),
        ],
        "failures": [
            {"nodes": "Bad", "fallback": "Fix"},
            {"nodes": ["Bad", "Bad2"], "fallback": "Both"},
            {"nodes": ["Bad", "Fix"], "fallback": "Never"},
            {"nodes": "retrying", "fallback": True},
        ],
        "propagate_finished": True,
    },
    "g": {
        "edges": [
            edge(None, "T0"),
            edge(
                "T0",
                "child",
                foreach={"import": "dsp_funcs", "function": "from_args", "propagate_result": True},
            ),
            edge("T0", "N"),
            edge(
                ["T0", "child"],
                "G2",
                condition={
                    "name": "fieldEqual",
                    "node": "child/K",
                    "args": {"key": "v", "value": 1},
                },
            ),
            edge(
                "child",
                "Never",
                condition={
                    "name": "fieldEqual",
                    "node": "child/K",
                    "args": {"key": "v", "value": 2},
                },
            ),
        ],
        "node_args_from_first": True,
        "nowait": "N",
        "propagate_compound_finished": True,
    },
    "child": {"edges": [edge(None, "K")]},
    "retrying": {"edges": [edge(None, "R")], "max_retry": 1},
    "sub": {
        "edges": [edge(None, ["S1", "S2"]), edge(["S1", "S2"], "S3")],
        "failures": [{"nodes": "S2", "fallback": True}],
    },
}
TASKS = {"A": {"ok": False}, "T0": {"items": [1, 2, 3]}, "K": {"v": 1}}
FAIL = ("Bad", "Bad2", "S2", "R")
DISPATCHER: Dispatcher = make_dispatcher(FLOWS)
REFERENCE = {
    name: run_to_completion(DISPATCHER, name, tasks=TASKS, fail=FAIL) for name in ("f", "g")
}


class DeliveryOrder(RuleBasedStateMachine):
    """Deliver the events of one flow run in an order hypothesis chooses."""

    def __init__(self) -> None:
        super().__init__()
        self.sim = Simulation(DISPATCHER, tasks=TASKS, fail=FAIL)
        self.delivered: list[Event] = []
        self.seen_versions: dict[str, int] = {}

    @initialize(flow=st.sampled_from(sorted(REFERENCE)))
    def start(self, flow: str) -> None:
        self.flow = flow
        self.sim.request(flow)

    def _deliver(self, index: int, *, keep: bool) -> None:
        index %= len(self.sim.pending)
        event = self.sim.pending[index]
        before = self.sim.states.get(event.flow_id)
        step = self.sim.deliver(index, keep=keep)
        again = DISPATCHER.step(before, event, self.sim.results)
        assert again.state.to_dict() == step.state.to_dict()
        assert again.actions == step.actions
        assert again.trace == step.trace
        stored = FlowState.from_dict(json.loads(json.dumps(step.state.to_dict())))
        assert stored == step.state
        if before is not None:  # a state loaded from JSON steps exactly like the original
            loaded = FlowState.from_dict(json.loads(json.dumps(before.to_dict())))
            replayed = DISPATCHER.step(loaded, event, self.sim.results)
            assert replayed.state == step.state
            assert replayed.actions == step.actions
            if step.state is not before:  # the delta rebuilds the new document
                delta = json.loads(json.dumps(state_delta(before, step.state)))
                doc = apply_delta(json.loads(json.dumps(before.to_dict())), delta)
                assert doc == json.loads(json.dumps(step.state.to_dict()))
        if step.state is not before:
            assert step.state.version > self.seen_versions.get(event.flow_id, 0)
            self.seen_versions[event.flow_id] = step.state.version
        self.delivered.append(event)

    @precondition(lambda self: self.sim.pending)
    @rule(index=st.integers(min_value=0, max_value=1000))
    def deliver(self, index: int) -> None:
        self._deliver(index, keep=False)

    @precondition(lambda self: self.sim.pending)
    @rule(index=st.integers(min_value=0, max_value=1000))
    def deliver_duplicate(self, index: int) -> None:
        self._deliver(index, keep=True)

    @precondition(lambda self: self.sim.timers)
    @rule()
    def timer_fires(self) -> None:
        self.sim.timers.sort(key=lambda pair: pair[0])
        self.sim.pending.append(self.sim.timers.pop(0)[1])

    @precondition(lambda self: self.delivered)
    @rule(index=st.integers(min_value=0, max_value=1000))
    def deliver_late(self, index: int) -> None:
        self.sim.pending.append(self.delivered[index % len(self.delivered)])
        self._deliver(len(self.sim.pending) - 1, keep=False)

    @invariant()
    def ids_are_unique(self) -> None:
        ids = [
            a.task_id if isinstance(a, RunTask) else a.child_flow_id
            for a in [*self.sim.runs, *self.sim.subflows]
            if isinstance(a, RunTask | StartSubflow)
        ]
        assert len(ids) == len(set(ids))

    @invariant()
    def finishes_at_most_once(self) -> None:
        flows = [f.flow_id for f in self.sim.finishes]
        assert len(flows) == len(set(flows))

    @invariant()
    def false_conditions_never_run(self) -> None:
        assert "Never" not in self.sim.task_names()

    def teardown(self) -> None:
        self.sim.run()
        assert [f.flow_id for f in self.sim.finishes].count("flow") == 1
        reference = REFERENCE[self.flow]
        assert self.sim.status == reference.status
        assert Counter(self.sim.task_names()) == Counter(reference.task_names())


DeliveryOrder.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestDeliveryOrder = DeliveryOrder.TestCase


def test_reference_run_is_what_the_docs_promise() -> None:
    assert REFERENCE["f"].status == "succeeded"
    assert Counter(REFERENCE["f"].task_names()) == Counter(
        {"A": 1, "B": 1, "C": 1, "Bad": 1, "Bad2": 1, "Both": 1, "J": 1, "S1": 2, "S2": 2}
    ) + Counter({"End": 2, "R": 2})
    g = REFERENCE["g"]
    assert g.status == "succeeded"
    assert Counter(g.task_names()) == Counter({"T0": 1, "K": 3, "N": 1, "G2": 3})
    assert sorted(s.node_args for s in g.subflows) == [1, 2, 3]
    g2 = [r for r in g.runs if r.task_name == "G2"]
    assert all(r.node_args == {"items": [1, 2, 3]} for r in g2)
    assert all(set(r.parent) == {"T0", "child"} for r in g2)
