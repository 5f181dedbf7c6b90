"""Incremental persistence: deltas rebuild every state document exactly, in O(change)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from dsp_helpers import edge, make_dispatcher

from selinon_core.dispatch.delta import apply_delta, state_delta
from selinon_core.dispatch.state import FlowState
from selinon_core.testing import Simulation, run_to_completion

FN = "dsp_funcs"

FLOWS: dict[str, dict[str, Any]] = {
    "f": {
        "edges": [
            edge(None, ["A", "B"]),
            edge(["A", "B"], "C"),
            edge("C", "sub", foreach={"import": FN, "function": "three"}),
            edge(None, "Bad"),
        ],
        "failures": [{"nodes": "Bad", "fallback": "Fix"}],
        "propagate_finished": True,
        "max_retry": 1,
    },
    "sub": {"edges": [edge(None, "S")]},
}


def _json(data: Any) -> Any:
    return json.loads(json.dumps(data))


def _check_replay(sim: Simulation) -> int:
    """Apply every step's delta to the stored documents; return how many were checked."""
    docs: dict[str, dict[str, Any]] = {}
    last: dict[str, FlowState] = {}
    checked = 0
    for step in sim.steps:
        state = step.state
        before = last.get(state.flow_id)
        if before is None:
            docs[state.flow_id] = _json(state.to_dict())
        elif state is not before:
            delta = _json(state_delta(before, state))
            assert apply_delta(docs[state.flow_id], delta) == _json(state.to_dict())
            checked += 1
        last[state.flow_id] = state
    return checked


@pytest.mark.parametrize("fail", [(), ("Bad",), ("Bad", "Fix"), ("S",)])
def test_deltas_replay_every_state(fail: tuple[str, ...]) -> None:
    sim = run_to_completion(make_dispatcher(FLOWS), "f", fail=fail)
    assert _check_replay(sim) > 5


def test_delta_is_small_for_a_big_fan_out() -> None:
    flows = {"f": {"edges": [edge(None, "W", foreach={"import": FN, "function": "from_args"})]}}
    sim = run_to_completion(make_dispatcher(flows), "f", {"items": list(range(300))})
    assert _check_replay(sim) == 300
    middle = sim.steps[150]
    previous = sim.steps[149].state
    delta = state_delta(previous, middle.state)
    assert set(delta) == {"from_version", "version", "active_del", "log_append"}
    assert len(json.dumps(delta)) < 200


def test_delta_after_a_flow_retry_resets_the_log() -> None:
    flows = {"f": {"edges": [edge(None, "A"), edge("A", "B")], "max_retry": 1}}
    sim = run_to_completion(make_dispatcher(flows), "f", fail=("B",))
    assert _check_replay(sim) >= 4
    restarted = next(s for s in sim.steps if s.trace and s.trace[0].name.value == "FLOW_RETRY")
    index = sim.steps.index(restarted)
    delta = state_delta(sim.steps[index - 1].state, restarted.state)
    assert delta["log_reset"] == []
    assert delta["fields"]["status"] == "running"


def test_apply_delta_checks_versions() -> None:
    sim = run_to_completion(make_dispatcher(FLOWS), "f")
    first, second = sim.steps[0].state, sim.steps[1].state
    doc = second.to_dict()
    with pytest.raises(ValueError, match="cannot apply"):
        apply_delta(doc, state_delta(first, second))


def test_tracked_names_reset_after_retry() -> None:
    flows = {
        "f": {
            "edges": [edge(None, ["A", "B"]), edge(["A", "B"], "C"), edge("C", "D")],
            "max_retry": 1,
        }
    }
    sim = run_to_completion(make_dispatcher(flows), "f", fail=("D",))
    assert _check_replay(sim) >= 8


def test_delta_between_unrelated_states_of_one_flow_id() -> None:
    from selinon_core.dispatch.selective import plan_selective_run

    d = make_dispatcher(FLOWS)
    plan = plan_selective_run(d.system.spec, "f", ["C"])
    one = run_to_completion(d, "f", {"x": 1}).top
    two = run_to_completion(d, "f", {"x": 2}, parent={"P": "p.0"}, selective=plan).top
    delta = _json(state_delta(one, two))
    assert {"log_reset", "tracked_set"} <= set(delta)
    assert set(delta["fields"]) >= {"parent", "selective", "node_args"}
    assert apply_delta(_json(one.to_dict()), delta) == _json(two.to_dict())
    back = _json(state_delta(two, one))
    assert apply_delta(_json(two.to_dict()), back) == _json(one.to_dict())
