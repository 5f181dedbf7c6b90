"""``StepTx.restart`` (flow retries), the default selective run function under both spellings,
and the ``"Type: message"`` text of errors the dispatcher reports in traces."""

from __future__ import annotations

import sys
import types
from dataclasses import replace
from typing import Any

import pytest
from dsp_helpers import edge, make_dispatcher

from selinon_core.config.system import SELINON_MODULE_ALIASES, System, canonical_module
from selinon_core.dispatch.pmap import PMap
from selinon_core.dispatch.selective import plan_selective_run
from selinon_core.dispatch.state import FlowState
from selinon_core.dispatch.steps import StepTx
from selinon_core.errors import describe_error
from selinon_core.testing import DictResults, run_to_completion
from selinon_core.trace import TraceName

FN = "dsp_funcs"

# ---------------------------------------------------------------------------- StepTx.restart

RESET = ("status", "timer_id", "active", "log", "done", "failed", "triggered", "node_args")
"""The fields a flow retry resets; every other field of a StepTx is kept as it is."""

FLOWS = {"f": {"edges": [edge(None, "A"), edge("A", "B")]}}


def _tx(state: FlowState) -> StepTx:
    dispatcher = make_dispatcher(FLOWS)
    return StepTx(dispatcher.system, dispatcher.table("f"), state, 5.0, DictResults())


def _dirty() -> FlowState:
    """A flow waiting for a retry, with progress in every field a retry resets."""
    return replace(
        FlowState(
            flow_id="f1",
            flow_name="f",
            node_args={"now": 2},
            initial_node_args={"first": 1},
            parent={"T0": "p.1"},
        ),
        version=4,
        status="retry_wait",
        retried_count=1,
        seq=3,
        active=PMap.from_items([("f1.2", "B")]),
        log=(("A", "f1.1", None), (("A", "f1.0", None), None)),
        done=PMap.from_items([("A", (("f1.1", None), None))]),
        failed=PMap.from_items([("B", ("f1.2",))]),
        triggered=0b11,
        args_pending=True,
        timer_id="f1.retry.1",
    )


def _slots(tx: StepTx) -> dict[str, Any]:
    return {name: getattr(tx, name) for name in StepTx.__slots__}


def test_restart_resets_the_progress_like_a_fresh_request() -> None:
    dirty = _dirty()
    fresh = _tx(
        FlowState(
            flow_id=dirty.flow_id,
            flow_name=dirty.flow_name,
            node_args=dirty.initial_node_args,
            initial_node_args=dirty.initial_node_args,
        )
    )
    tx = _tx(dirty)
    before = _slots(tx)
    for name in RESET:  # the dirty state really differs in every field that is reset
        assert before[name] != getattr(fresh, name), name

    tx.restart()

    after = _slots(tx)
    for name in RESET:
        assert after[name] == getattr(fresh, name), name
    for name in set(StepTx.__slots__) - set(RESET):
        assert after[name] is before[name], name  # seq, retried_count, selective, ... kept
    assert (tx.seq, tx.retried_count, tx.args_pending) == (3, 1, True)
    assert tx.base is dirty  # the input state is never mutated


def test_restart_then_commit_keeps_what_a_retry_keeps() -> None:
    dirty = _dirty()
    tx = _tx(dirty)
    tx.restart()
    state = tx.commit()
    assert state.version == dirty.version + 1
    assert (state.status, state.timer_id, state.node_args) == ("running", None, {"first": 1})
    assert (state.active, state.log, state.done, state.failed) == (PMap(), None, PMap(), PMap())
    assert state.triggered == 0
    assert (state.seq, state.retried_count, state.parent) == (3, 1, {"T0": "p.1"})
    assert state.initial_node_args == dirty.initial_node_args


# ----------------------------------------------------------- the default selective run function

BRANCHY = {
    "f": {
        "edges": [
            edge(None, "T1"),
            edge("T1", ["T2", "T3"]),
            edge("T2", "T4"),
        ]
    }
}

ROUTINES = sorted(m for m in SELINON_MODULE_ALIASES if m.endswith(".routines"))
ROUTINES += [canonical_module(m) for m in ROUTINES]


def test_both_spellings_of_the_routines_module_are_known() -> None:
    assert ROUTINES == ["selinon.routines", "selinon_core.routines"]


@pytest.fixture
def resolved(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every ``System.resolve`` call of the test, as ``(module, name)``."""
    calls: list[tuple[str, str]] = []
    original = System.resolve

    def spy(self: System, module: str, name: str) -> Any:
        calls.append((module, name))
        return original(self, module, name)

    monkeypatch.setattr(System, "resolve", spy)
    return calls


def _selective_run(module: str, name: str) -> Any:
    run_fn = {"selective_run_function": {"import": module, "name": name}}
    d = make_dispatcher(BRANCHY, tasks={"T1": run_fn, "T2": run_fn})
    plan = plan_selective_run(d.system.spec, "f", ["T4"])
    return run_to_completion(d, "f", selective=plan)


@pytest.mark.parametrize("module", ROUTINES)
def test_always_run_is_not_called_under_either_spelling(
    module: str, resolved: list[tuple[str, str]]
) -> None:
    sim = _selective_run(module, "always_run")
    assert sim.status == "succeeded"
    assert sim.task_names() == ["T1", "T2", "T4"]
    asked = [t.details for t in sim.trace if t.name is TraceName.SELECTIVE_RUN_FUNC]
    assert [(x["node_name"], x["result"]) for x in asked] == [("T1", None), ("T2", None)]
    assert [call for call in resolved if call[1] == "always_run"] == []


def test_a_user_function_called_always_run_is_called(
    monkeypatch: pytest.MonkeyPatch, resolved: list[tuple[str, str]]
) -> None:
    """Only the routine module's ``always_run`` is skipped, not any function of that name."""
    asked: list[str] = []

    def always_run(flow_name: str, node_name: str, *rest: Any) -> None:
        del flow_name, rest
        asked.append(node_name)

    module = types.ModuleType("my_routines")
    module.always_run = always_run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "my_routines", module)
    sim = _selective_run("my_routines", "always_run")
    assert sim.task_names() == ["T1", "T2", "T4"]
    assert asked == ["T1", "T2"]
    assert ("my_routines", "always_run") in resolved


def test_other_run_functions_are_resolved(resolved: list[tuple[str, str]]) -> None:
    sim = _selective_run(FN, "reuse_t1")
    assert sim.task_names() == ["T2", "T4"]
    assert (FN, "reuse_t1") in resolved


# ------------------------------------------------------------------ error text in the traces


def test_a_broken_selective_run_function_is_described_as_type_and_message() -> None:
    sim = _selective_run(FN, "broken_run_fn")
    assert sim.status == "failed"
    (failure,) = [t.details for t in sim.trace if t.name is TraceName.DISPATCHER_FAILURE]
    assert failure["what"] == "RuntimeError: no decision"
    assert failure["what"] == describe_error(RuntimeError("no decision"))


def test_a_broken_foreach_is_described_as_type_and_message() -> None:
    d = make_dispatcher(
        {
            "f": {
                "edges": [
                    edge(None, "A"),
                    edge("A", "B", foreach={"import": FN, "function": "broken"}),
                ]
            }
        }
    )
    sim = run_to_completion(d, "f")
    assert sim.status == "failed"
    (error,) = [t.details for t in sim.trace if t.name is TraceName.FOREACH_ERROR]
    assert error["what"] == "RuntimeError: cannot list items"
