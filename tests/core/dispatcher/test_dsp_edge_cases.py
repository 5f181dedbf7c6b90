"""Corner cases: transient storage errors, result look-ups, summaries, driver limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from dsp_helpers import edge, make_dispatcher

from selinon_core.dispatch.events import FlowRequested, NodeSucceeded
from selinon_core.dispatch.state import FlowState, flow_summary
from selinon_core.dispatch.subflows import nested_finished, resolve_path
from selinon_core.errors import TransientBackendError
from selinon_core.ports import StoragePoolView
from selinon_core.testing import DictResults, Simulation, run_to_completion
from selinon_core.trace import TraceName

FN = "dsp_funcs"


class Unreachable(DictResults):
    """A results port whose storage is down."""

    def get(self, *, flow_name: str, task_name: str, task_id: str) -> Any:
        raise TransientBackendError("storage down")

    def storage_pool(self, *, flow_name: str, parent: Mapping[str, Any]) -> StoragePoolView:
        raise TransientBackendError("storage down")


@pytest.mark.parametrize(
    ("flows", "tasks"),
    [
        ({"f": {"edges": [edge(None, "A"), edge("A", "B", condition={"name": "isDict"})]}}, {}),
        (
            {
                "f": {
                    "edges": [
                        edge(None, "A"),
                        edge("A", "B", foreach={"import": FN, "function": "three"}),
                    ]
                }
            },
            {},
        ),
        ({"f": {"edges": [edge(None, "A"), edge("A", "B")], "node_args_from_first": True}}, {}),
        (
            {"f": {"edges": [edge(None, "A"), edge("A", "B")]}},
            {"A": {"selective_run_function": {"import": FN, "name": "reuse_t1"}}},
        ),
    ],
    ids=["condition", "foreach", "node_args_from_first", "selective_run_function"],
)
def test_transient_errors_propagate_and_leave_state_untouched(
    flows: dict[str, Any], tasks: dict[str, Any]
) -> None:
    d = make_dispatcher(flows, tasks=tasks)
    selective = None
    if tasks:
        from selinon_core.dispatch.selective import plan_selective_run

        selective = plan_selective_run(d.system.spec, "f", ["B"])
        with pytest.raises(TransientBackendError):
            d.step(None, FlowRequested("f1", "f", 0.0, selective=selective), Unreachable())
        return
    first = d.step(None, FlowRequested("f1", "f", 0.0), DictResults())
    before = first.state.to_dict()
    with pytest.raises(TransientBackendError):
        d.step(first.state, NodeSucceeded("f1", "f1.0", 1.0), Unreachable())
    assert first.state.to_dict() == before
    retried = d.step(first.state, NodeSucceeded("f1", "f1.0", 2.0), DictResults({"f1.0": {}}))
    assert retried.state.version == first.state.version + 1


def test_condition_on_a_node_that_is_not_a_source() -> None:
    flows = {
        "f": {
            "edges": [
                edge(None, "A"),
                edge("A", "B"),
                edge(
                    "B",
                    "C",
                    condition={"name": "fieldEqual", "node": "A", "args": {"key": "k", "value": 1}},
                ),
                edge("B", "D", condition={"name": "isDict", "node": "Z"}),
            ]
        }
    }
    sim = run_to_completion(make_dispatcher(flows), "f", tasks={"A": {"k": 1}})
    assert sim.task_names() == ["A", "B", "C"]
    (err,) = [t.details for t in sim.trace if t.name is TraceName.CONDITION_ERROR]
    assert "no finished instance" in err["what"]


def test_node_args_from_first_without_stored_result() -> None:
    flows = {"f": {"edges": [edge(None, "A"), edge("A", "B")], "node_args_from_first": True}}

    class Lossy(DictResults):
        def store(self, task_id: str, result: Any) -> None:
            del task_id, result

    sim = run_to_completion(make_dispatcher(flows), "f", {"a": 1}, results=Lossy())
    assert [r.node_args for r in sim.runs] == [{"a": 1}, None]


def test_state_queries_and_summary() -> None:
    d = make_dispatcher({"f": {"edges": [edge(None, "sub")]}, "sub": {"edges": [edge(None, "A")]}})
    sim = run_to_completion(d, "f")
    top = sim.states["flow"]
    assert top.finished
    assert top.is_idle
    assert flow_summary(top) == sim.finishes[-1].summary
    assert top.triggered_edges() == [0]
    fresh = FlowState("x", "f")
    assert not fresh.finished
    assert fresh.is_idle
    assert fresh.active_nodes() == {}


def test_subflow_helpers_merge_and_missing_paths() -> None:
    inner = {"flow_name": "flow3", "finished_nodes": {"T": ["i.0"]}, "subflows": {}}
    inner2 = {"flow_name": "flow3", "finished_nodes": {"T": ["j.0"], "U": ["j.1"]}, "subflows": {}}
    deeper = {"flow_name": "flow4", "finished_nodes": {"V": ["k.0"]}, "subflows": {}}
    mid = {
        "flow_name": "flow2",
        "finished_nodes": {"flow3": ["i", "j"], "flow4": ["k"]},
        "subflows": {"i": inner, "j": inner2, "k": deeper},
    }
    outer = {
        "flow_name": "flow1",
        "finished_nodes": {"flow2": ["m1", "m2"]},
        "subflows": {"m1": mid, "m2": mid},
    }
    assert nested_finished(mid) == {
        "flow3": {"T": ["i.0", "j.0"], "U": ["j.1"]},
        "flow4": {"V": ["k.0"]},
    }
    assert nested_finished(outer)["flow2"]["flow3"]["T"] == ["i.0", "j.0", "i.0", "j.0"]
    assert resolve_path(mid, ["flow3", "U"]) == ("flow3", "U", "j.1")
    assert resolve_path(mid, ["flow9", "U"]) is None
    assert resolve_path(mid, ["flow3", "Q"]) is None


def test_driver_limits_and_pool() -> None:
    d = make_dispatcher({"f": {"edges": [edge(None, "A"), edge("A", "B")]}})
    with pytest.raises(RuntimeError, match="still running"):
        run_to_completion(d, "f", max_steps=1)
    results = DictResults({"x": 5})
    pool = results.storage_pool(flow_name="f", parent={"A": "x"})
    assert pool.get("A") == 5
    assert pool.get_connected_storage("any") is results
    sim = Simulation(d)
    sim.request("f")
    step = sim.deliver(keep=True)
    assert sim.deliver().state is step.state  # the duplicate request is ignored


def test_unknown_state_format_is_refused() -> None:
    doc = FlowState("x", "f").to_dict()
    assert FlowState.from_dict(doc) == FlowState("x", "f")
    with pytest.raises(ValueError, match="format"):
        FlowState.from_dict({**doc, "format": 99})
