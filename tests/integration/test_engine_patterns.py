"""Every flow pattern of the Selinon docs, end to end through the in-process Engine."""

from __future__ import annotations

from typing import Any

import pytest
import rt_tasks
from rt_support import make_system

from selinon_backends.runtime import Engine, FlowRun, VirtualClock
from selinon_core.errors import SelectiveNoPathError, UnknownFlowError
from selinon_core.trace import TraceEvent, TraceName

FOREACH = {"import": "rt_tasks", "function": "items"}


def run(
    flows: dict[str, Any],
    flow: str = "flow1",
    args: Any = None,
    *,
    tasks: dict[str, dict[str, Any]] | None = None,
    engine_opts: dict[str, Any] | None = None,
) -> FlowRun:
    system = make_system(flows, **(tasks or {}))
    engine = Engine(system, clock=VirtualClock(1000.0), **(engine_opts or {}))
    return engine.run_flow(flow, args)


def names(flow_run: FlowRun, status: str | None = None) -> list[str]:
    return [r.node_name for r in flow_run.runs if status is None or r.status == status]


def edges(*pairs: tuple[Any, Any], **extra: Any) -> dict[str, Any]:
    return {"edges": [{"from": src, "to": dst} for src, dst in pairs], **extra}


def test_sequence_passes_parent_ids_and_results() -> None:
    result = run({"flow1": edges(([], "Echo"), ("Echo", "Add"))}, args={"n": 1})
    assert result.status == "succeeded"
    assert names(result) == ["Echo", "Add"]
    echo, add = result.runs
    assert add.parent == {"Echo": echo.node_id}
    assert add.result == {"n": 2}
    assert result.results[add.node_id] == {"n": 2}
    assert result.report()["runs"][1]["parent"] == {"Echo": echo.node_id}


def test_multiple_starting_nodes_and_a_join() -> None:
    result = run({"flow1": edges(([], ["Echo", "Noop"]), (["Echo", "Noop"], "Add"))}, args={"n": 5})
    assert names(result) == ["Echo", "Noop", "Add"]
    assert result.runs[2].parent == {"Echo": result.runs[0].node_id, "Noop": result.runs[1].node_id}


def test_false_condition_does_not_start_the_node() -> None:
    flow = {
        "edges": [
            {"from": [], "to": "Echo"},
            {
                "from": "Echo",
                "to": "Noop",
                "condition": {"name": "fieldEqual", "args": {"key": "task", "value": "Nope"}},
            },
            {
                "from": "Echo",
                "to": "Add",
                "condition": {"name": "fieldEqual", "args": {"key": "task", "value": "Echo"}},
            },
        ]
    }
    assert names(run({"flow1": flow}, args={"n": 1})) == ["Echo", "Add"]


def test_foreach_starts_one_node_per_item() -> None:
    flow = {
        "edges": [{"from": [], "to": "Echo"}, {"from": "Echo", "to": "Noop", "foreach": FOREACH}]
    }
    result = run({"flow1": flow}, args={"n": 4})
    assert names(result) == ["Echo"] + ["Noop"] * 4
    assert len({r.node_id for r in result.runs}) == 5


def test_foreach_propagate_result_to_subflows() -> None:
    flows = {
        "flow1": {
            "edges": [{"from": [], "to": "flow2", "foreach": {**FOREACH, "propagate_result": True}}]
        },
        "flow2": edges(([], "Echo")),
    }
    result = run(flows, args={"n": 2})
    echoes = result.nodes("Echo")
    assert [r.result["args"] for r in echoes] == [0, 1]
    assert [r.flow_name for r in echoes] == ["flow2", "flow2"]


def test_nested_subflows_with_propagated_args_and_finished_nodes() -> None:
    flows = {
        "flow1": edges(
            ([], "flow2"),
            ("flow2", "Noop"),
            propagate_node_args=True,
            propagate_finished=True,
        ),
        "flow2": edges(([], "Echo"), ("Echo", "flow3"), propagate_node_args=True),
        "flow3": edges(([], "Echo")),
    }
    result = run(flows, args={"n": 3})
    assert [(r.flow_name, r.node_name, r.kind) for r in result.runs] == [
        ("flow1", "flow2", "flow"),
        ("flow2", "Echo", "task"),
        ("flow2", "flow3", "flow"),
        ("flow3", "Echo", "task"),
        ("flow1", "Noop", "task"),
    ]
    assert all(r.node_args == {"n": 3} for r in result.runs)
    noop_parent = result.runs[-1].parent
    assert noop_parent is not None
    assert noop_parent["flow2"]["Echo"] == [result.runs[1].node_id]
    assert result.flow_statuses[result.runs[2].node_id] == "succeeded"


def test_cyclic_diamond_runs_the_join_once_per_new_combination() -> None:
    flows = {
        "flow1": {
            "edges": [
                {"from": [], "to": "Echo"},
                {"from": "Echo", "to": ["Noop", "Add"]},
                {"from": ["Noop", "Add"], "to": "ParentError"},
                {
                    "from": "ParentError",
                    "to": "Echo",
                    "condition": {"name": "argsFieldLess", "args": {"key": "n", "value": 0}},
                },
            ]
        }
    }
    # With the loop condition false the diamond runs once; the cyclic example covers two rounds.
    assert names(run(flows, args={"n": 1})) == ["Echo", "Noop", "Add", "ParentError"]


def test_nowait_nodes_run_but_the_flow_does_not_wait_or_fail() -> None:
    result = run({"flow1": edges(([], ["Boom", "Noop"]), nowait=["Boom"])})
    assert result.status == "succeeded"
    assert [(r.node_name, r.status, r.nowait) for r in result.runs] == [
        ("Boom", "failed", True),
        ("Noop", "succeeded", False),
    ]


def test_task_fallback_recovers_the_flow() -> None:
    flow = edges(([], "Boom"), failures=[{"nodes": "Boom", "fallback": "ParentError"}])
    result = run({"flow1": flow})
    assert result.status == "succeeded"
    assert [(r.node_name, r.status) for r in result.runs] == [
        ("Boom", "failed"),
        ("ParentError", "succeeded"),
    ]


def test_flow_fallback_and_fallback_true() -> None:
    flows = {
        "flow1": edges(([], "Boom"), failures=[{"nodes": "Boom", "fallback": "flow2"}]),
        "flow2": edges(([], "Noop")),
    }
    assert names(run(flows)) == ["Boom", "flow2", "Noop"]
    quiet = run({"flow1": edges(([], "Boom"), failures=[{"nodes": "Boom", "fallback": True}])})
    assert (quiet.status, names(quiet)) == ("succeeded", ["Boom"])


def test_unhandled_failure_fails_the_flow_after_other_branches() -> None:
    result = run({"flow1": edges(([], ["Boom", "Echo"]), ("Echo", "Noop"))})
    assert result.status == "failed"
    assert names(result, "succeeded") == ["Echo", "Noop"]
    assert result.report()["status"] == "failed"


def test_failed_subflow_fails_its_parent() -> None:
    flows = {"flow1": edges(([], "flow2")), "flow2": edges(([], "Boom"))}
    result = run(flows)
    assert result.status == "failed"
    assert [(r.node_name, r.status) for r in result.runs] == [
        ("flow2", "failed"),
        ("Boom", "failed"),
    ]


def test_task_retries_then_success_and_fatal_error() -> None:
    retried = run({"flow1": edges(([], "Flaky"))}, tasks={"Flaky": {"max_retry": 2}})
    assert retried.status == "succeeded"
    assert retried.runs[0].retries == 2
    fatal = run({"flow1": edges(([], "Fatal"))}, tasks={"Fatal": {"max_retry": 5}})
    assert fatal.status == "failed"
    assert fatal.runs[0].retries == 0


def test_user_retry_waits_on_the_virtual_clock() -> None:
    clock = VirtualClock(1000.0)
    engine = Engine(make_system({"flow1": edges(([], "AskRetry"))}), clock=clock)
    result = engine.run_flow("flow1")
    assert result.status == "succeeded"
    assert result.runs[0].retries == 1
    assert clock.now() == pytest.approx(1030.0)


def test_flow_retry_restarts_from_scratch() -> None:
    flows = {"flow1": edges(([], "Boom"), max_retry=1, retry_countdown=10)}
    result = run(flows)
    assert result.status == "failed"
    assert names(result) == ["Boom", "Boom"]
    assert result.runs[0].node_id != result.runs[1].node_id


def test_eager_failure_fails_the_flow_at_once() -> None:
    flow = edges(([], ["Boom", "Echo"]), ("Echo", "Noop"), eager_failures=["Boom"])
    result = run({"flow1": flow}, args={"n": 1})
    assert result.status == "failed"
    assert "Noop" not in names(result)


def test_node_args_from_first() -> None:
    flow = edges(([], "Echo"), ("Echo", "AsyncEcho"), node_args_from_first=True)
    result = run({"flow1": flow}, args={"n": 7})
    assert result.runs[1].node_args == {"args": {"n": 7}, "task": "Echo", "flow": "flow1"}


def test_throttling_spaces_tasks_on_the_virtual_clock() -> None:
    clock = VirtualClock(0.0)
    starts: list[float] = []

    def tracer(event: TraceEvent) -> None:
        if event.name == TraceName.TASK_START:
            starts.append(event.at)

    flow = {"edges": [{"from": [], "to": "Noop", "foreach": FOREACH}]}
    system = make_system({"flow1": flow}, Noop={"throttling": {"seconds": 5}})
    result = Engine(system, clock=clock, tracer=tracer).run_flow("flow1", {"n": 3})
    assert result.status == "succeeded"
    assert starts == [0.0, 5.0, 10.0]


def test_concurrency_runs_tasks_in_parallel() -> None:
    flow = {"edges": [{"from": [], "to": "Sleepy", "foreach": FOREACH}]}
    system = make_system({"flow1": flow})
    engine = Engine(system, concurrency=8)
    result = engine.run_flow("flow1", {"n": 8})
    assert result.status == "succeeded"
    assert len(result.runs) == 8
    assert result.duration < 0.5  # eight 0.1 s sleeps, not 0.8 s


def test_concurrency_with_retries_and_dependencies() -> None:
    flow = edges(([], ["Flaky", "Echo"]), ("Echo", "Add"))
    result = run({"flow1": flow}, args={"n": 1}, tasks={"Flaky": {"max_retry": 2}},
                 engine_opts={"concurrency": 3})  # fmt: skip
    assert result.status == "succeeded"
    assert sorted(names(result)) == ["Add", "Echo", "Flaky"]


def test_trace_has_dispatcher_and_worker_events_in_order() -> None:
    seen: list[TraceName] = []
    run(
        {"flow1": edges(([], "Echo"))},
        args={"n": 1},
        engine_opts={"tracer": lambda e: seen.append(e.name)},
    )
    assert seen.index(TraceName.TASK_START) < seen.index(TraceName.TASK_END)
    assert TraceName.STORAGE_STORE in seen
    assert seen[-1] == TraceName.FLOW_END


def test_selective_run_and_bad_requests() -> None:
    system = make_system({"flow1": edges(([], "Echo"), ("Echo", "Add"), ("Echo", "Noop"))})
    engine = Engine(system, clock=VirtualClock())
    result = engine.run_flow_selective("flow1", ["Add"], {"n": 1})
    assert names(result) == ["Echo", "Add"]
    with pytest.raises(SelectiveNoPathError):
        engine.run_flow_selective("flow1", ["Boom"], {"n": 1})
    with pytest.raises(UnknownFlowError, match="flow1"):
        engine.run_flow("flowX")


def test_ids_are_deterministic_across_engines() -> None:
    flows = {"flow1": {"edges": [{"from": [], "to": "Echo", "foreach": FOREACH}]}}
    first = run(flows, args={"n": 3})
    second = run(flows, args={"n": 3})
    assert [r.node_id for r in first.runs] == [r.node_id for r in second.runs]
    assert first.flow_id == "flow-1"


def test_bad_task_results_fail_the_node_and_apply_fallbacks() -> None:
    flow = edges(
        ([], ["NotJson", "Hang", "Missing"]),
        failures=[{"nodes": ["NotJson", "Hang", "Missing"], "fallback": "ParentError"}],
    )
    result = run(
        {"flow1": flow},
        tasks={"Hang": {"timeout": 0.05}, "Missing": {"classname": "DoesNotExist"}},
    )
    rt_tasks.RELEASE.set()
    assert result.status == "succeeded"
    assert [(r.node_name, r.status) for r in result.runs] == [
        ("NotJson", "failed"),
        ("Hang", "failed"),
        ("Missing", "failed"),
        ("ParentError", "succeeded"),
    ]
    errors = {r.node_name: r.error for r in result.runs}
    assert "not JSON-serialisable" in str(errors["NotJson"])
    assert "timeout" in str(errors["Hang"])
    assert "cannot import" in str(errors["Missing"])


def test_parent_task_exception_in_a_fallback_free_flow() -> None:
    flow = edges(([], "Boom"), failures=[{"nodes": "Boom", "fallback": "ParentError"}])
    system = make_system({"flow1": flow})
    engine = Engine(system, clock=VirtualClock())
    result = engine.run_flow("flow1")
    boom = result.runs[0]
    assert isinstance(engine.environment.error(task_id=boom.node_id), ValueError)
