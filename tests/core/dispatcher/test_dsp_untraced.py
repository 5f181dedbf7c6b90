"""``Dispatcher(system, trace=False)``: the same states and actions, and no trace events.

Every scenario runs twice, traced and untraced, through :func:`run_to_completion`; the steps
must match one for one (states as ``to_dict()``, actions by value).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from dsp_helpers import edge, make_system

from selinon_core.dispatch.dispatcher import Dispatcher
from selinon_core.dispatch.selective import plan_selective_run
from selinon_core.testing import Simulation, run_to_completion

FN = "dsp_funcs"


def _counter(run: Any) -> int:
    """``T1`` results 0, 1, 2, ... by sequence number (the loop condition reads them)."""
    return int(run.task_id.rsplit(".", 1)[1])


SCENARIOS: dict[str, dict[str, Any]] = {
    "loop with a condition that turns false": {
        "flows": {
            "f": {
                "edges": [
                    edge(None, "T1"),
                    edge("T1", "T1", condition={"name": "counterBelow", "args": {"limit": 2}}),
                ]
            }
        },
        "tasks": {"T1": _counter},
    },
    "foreach then a join": {
        "flows": {
            "f": {
                "edges": [
                    edge(None, ["A", "B"]),
                    edge("A", "W", foreach={"import": FN, "function": "three"}),
                    edge(["A", "B"], "J"),
                ]
            }
        },
    },
    "sub-flows with propagated results": {
        "flows": {
            "outer": {
                "edges": [edge(None, "S"), edge("S", "inner"), edge("inner", "J")],
                "propagate_node_args": True,
                "propagate_parent": True,
                "propagate_finished": True,
                "node_args_from_first": True,
            },
            "inner": {"edges": [edge(None, "A"), edge("A", "B")]},
        },
        "tasks": {"S": {"from": "first"}},
    },
    "failure, false fallback condition, then a fallback": {
        "flows": {
            "f": {
                "edges": [edge(None, ["A", "B"])],
                "failures": [
                    {
                        "nodes": "A",
                        "fallback": "X",
                        "condition": {
                            "name": "argsFieldLess",
                            "args": {"key": "n", "value": 0},
                        },
                    },
                    {"nodes": "A", "fallback": "F"},
                ],
            }
        },
        "fail": {"A"},
        "node_args": {"n": 1},
    },
    "eager failure and a flow retry": {
        "flows": {
            "f": {
                "edges": [edge(None, ["A", "B"]), edge("B", "C")],
                "eager_failures": "A",
                "max_retry": 1,
            }
        },
        "fail": {"A"},
    },
    "condition error and broken foreach": {
        "flows": {
            "f": {
                "edges": [
                    edge(None, ["A", "B"]),
                    edge("A", "C", condition={"name": "boom"}),
                    edge("B", "W", foreach={"import": FN, "function": "broken"}),
                ]
            }
        },
    },
    "broken foreach on a join": {
        "flows": {
            "f": {
                "edges": [
                    edge(None, ["A", "B"]),
                    edge(["A", "B"], "W", foreach={"import": FN, "function": "broken"}),
                ]
            }
        },
    },
    "nowait tasks": {
        "flows": {"f": {"edges": [edge(None, ["A", "B"]), edge("B", "C")], "nowait": ["A"]}},
    },
}


def _run(trace: bool, case: Mapping[str, Any], **extra: Any) -> Simulation:
    system = make_system(case["flows"], tasks=case.get("task_specs"))
    flow = next(iter(case["flows"]))
    return run_to_completion(
        Dispatcher(system, trace=trace),
        flow,
        case.get("node_args"),
        tasks=case.get("tasks"),
        fail=case.get("fail", ()),
        **extra,
    )


def _same_steps(traced: Simulation, untraced: Simulation) -> None:
    assert len(traced.steps) == len(untraced.steps)
    for a, b in zip(traced.steps, untraced.steps, strict=True):
        assert a.state.to_dict() == b.state.to_dict()
        assert a.actions == b.actions
        assert b.trace == ()
    assert traced.trace  # the traced run did produce events


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_untraced_steps_match_traced_ones(name: str) -> None:
    case = SCENARIOS[name]
    _same_steps(_run(True, case), _run(False, case))


@pytest.mark.parametrize("run_fn", ["reuse_t1", "broken_run_fn"])
def test_untraced_selective_runs_match(run_fn: str) -> None:
    case = {
        "flows": {
            "f": {
                "edges": [
                    edge(None, "T1"),
                    edge("T1", ["T2", "T3"]),
                    edge("T2", "T4"),
                    edge(None, "T5"),
                ]
            }
        },
        "task_specs": {"T1": {"selective_run_function": {"import": FN, "name": run_fn}}},
    }
    plan = plan_selective_run(make_system(case["flows"]).spec, "f", ["T4"])
    _same_steps(_run(True, case, selective=plan), _run(False, case, selective=plan))


def test_untraced_dispatcher_keeps_the_flag() -> None:
    dispatcher = Dispatcher(make_system({"f": {"edges": [edge(None, "A")]}}), trace=False)
    assert dispatcher.tracing is False
    sim = run_to_completion(dispatcher, "f")
    assert sim.status == "succeeded"
    assert sim.trace == []
