"""One in-process ``Engine`` shared by several threads calling ``run_flow`` at once.

Each run has its own work lists and flow ids; the dispatcher, worker, storage pool, state
store and slot store are shared.  The flow has a sub-flow and two failing tasks handled by a
fallback, so every run writes results, errors and several flow states concurrently.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import rt_tasks
from rt_support import make_system

from selinon_backends.runtime import Engine, FlowRun, NodeRun
from selinon_core.errors import ParentTaskError, RequestError
from selinon_core.task import SelinonTask


class OddError(Exception):
    """A user-defined exception type: it cannot be rebuilt as itself in another process."""


class Odd(SelinonTask):
    """Always fails with an ``OddError`` naming its ``n``."""

    def run(self, node_args: Any) -> Any:
        raise OddError(f"odd {node_args['n']}")


FLOWS: dict[str, Any] = {
    "flow1": {
        "propagate_node_args": True,
        "edges": [
            {"from": [], "to": ["Echo", "Boom", "Odd"]},
            {"from": "Echo", "to": "flow2"},
        ],
        "failures": [{"nodes": ["Boom", "Odd"], "fallback": "ParentError"}],
    },
    "flow2": {"edges": [{"from": [], "to": "Echo"}]},
    "hanging": {"edges": [{"from": [], "to": "Hang"}]},
}

EXPECTED = sorted(
    [
        ("flow1", "Echo", "task", "succeeded"),
        ("flow1", "Boom", "task", "failed"),
        ("flow1", "Odd", "task", "failed"),
        ("flow1", "flow2", "flow", "succeeded"),
        ("flow2", "Echo", "task", "succeeded"),
        ("flow1", "ParentError", "task", "succeeded"),
    ]
)


def make_engine(**options: Any) -> Engine:
    system = make_system(FLOWS, Odd={"import": __name__}, Boom={"max_retry": 0})
    return Engine(system, **options)


def run_threads(count: int, target: Callable[[int], None]) -> None:
    """``target(n)`` in ``count`` threads started together; fail on any exception or hang."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count, timeout=30)

    def body(number: int) -> None:
        try:
            barrier.wait()
            target(number)
        except BaseException as exc:  # reported by the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not [t for t in threads if t.is_alive()], "a thread did not finish"
    assert errors == []


def node(run: FlowRun, name: str, flow_name: str = "flow1") -> NodeRun:
    [found] = [r for r in run.runs if r.node_name == name and r.flow_name == flow_name]
    return found


def check_run(run: FlowRun, n: int) -> None:
    """The run did exactly what ``flow1`` does with ``{"n": n}``, and saw nothing else."""
    assert run.status == "succeeded"
    assert run.node_args == {"n": n}
    got = sorted((r.flow_name, r.node_name, r.kind, r.status) for r in run.runs)
    assert got == EXPECTED
    own = run.flow_id + "."
    for record in run.runs:
        assert record.node_id.startswith(own)
        assert record.flow_id == run.flow_id or record.flow_id.startswith(own)
        for parent_id in (record.parent or {}).values():
            assert parent_id.startswith(own)
    sub = node(run, "flow2")
    assert set(run.flow_statuses) == {run.flow_id, sub.node_id}
    assert set(run.flow_statuses.values()) == {"succeeded"}
    for echo in (node(run, "Echo"), node(run, "Echo", "flow2")):
        assert echo.result["args"] == {"n": n}  # its own node args, not another run's
    assert node(run, "Odd").error == f"OddError: odd {n}"
    fallback = node(run, "ParentError")
    assert fallback.parent == {"Boom": node(run, "Boom").node_id, "Odd": node(run, "Odd").node_id}


def check_errors(engine: Engine, run: FlowRun, n: int) -> None:
    """The engine's environment rebuilds the run's task failures after the run."""
    boom = engine.environment.error(task_id=node(run, "Boom").node_id)
    assert type(boom) is ValueError
    assert str(boom) == "boom"
    odd = engine.environment.error(task_id=node(run, "Odd").node_id)
    assert isinstance(odd, ParentTaskError)
    assert (odd.type_name, odd.message) == ("OddError", f"odd {n}")
    assert "OddError" in (odd.traceback or "")
    assert engine.environment.error(task_id=node(run, "Echo").node_id) is None
    assert engine.environment.error(task_id=node(run, "Echo", "flow2").node_id) is None


@pytest.mark.parametrize("concurrency", [1, 3])
def test_threads_share_one_engine(concurrency: int) -> None:
    threads, runs_each = 4, 25
    engine = make_engine(concurrency=concurrency)
    done: dict[int, FlowRun] = {}
    lock = threading.Lock()

    def runner(number: int) -> None:
        for i in range(runs_each):
            n = number * 1000 + i
            run = engine.run_flow("flow1", {"n": n})
            check_run(run, n)
            with lock:
                done[n] = run

    run_threads(threads, runner)
    assert len(done) == threads * runs_each
    flow_ids = [run.flow_id for run in done.values()]
    assert len(set(flow_ids)) == len(flow_ids)
    node_ids = [r.node_id for run in done.values() for r in run.runs]
    assert len(set(node_ids)) == len(node_ids)
    for n, run in done.items():  # every finished run's errors are still readable
        check_errors(engine, run, n)
        assert engine.states.summary(flow_id=run.flow_id)["status"] == "succeeded"


def test_threads_reusing_their_own_flow_ids() -> None:
    threads, runs_each = 4, 10
    engine = make_engine()
    last: dict[int, tuple[FlowRun, int]] = {}

    def runner(number: int) -> None:
        for i in range(runs_each):
            n = number * 1000 + i
            run = engine.run_flow("flow1", {"n": n}, flow_id=f"thread-{number}")
            assert run.flow_id == f"thread-{number}"
            check_run(run, n)
            last[number] = (run, n)

    run_threads(threads, runner)
    for run, n in last.values():
        check_errors(engine, run, n)  # the latest run's errors, not an earlier one's


def test_environment_error_of_a_finished_run() -> None:
    engine = make_engine()
    run = engine.run_flow("flow1", {"n": 5})
    check_run(run, 5)
    check_errors(engine, run, 5)
    assert engine.environment.error(task_id="no-such-flow.0") is None


def test_running_twice_with_the_same_flow_id_forgets_the_earlier_run() -> None:
    engine = make_engine()
    first = engine.run_flow("flow1", {"n": 1}, flow_id="again")
    check_run(first, 1)
    sub_id = node(first, "flow2").node_id
    second = engine.run_flow("flow1", {"n": 2}, flow_id="again")
    check_run(second, 2)
    assert [r.node_id for r in second.runs] == [r.node_id for r in first.runs]
    top = engine.states.load(flow_id="again")
    assert top is not None  # kept: it recorded errors
    assert top.state.node_args == {"n": 2}  # the second run's states, not the first's
    assert engine.states.load(flow_id=sub_id) is None  # no error: dropped at the run's end
    check_errors(engine, second, 2)


def test_a_flow_id_in_use_by_a_running_flow_is_refused() -> None:
    started = threading.Event()

    def observer(record: NodeRun) -> None:
        if record.node_name == "Hang" and record.status == "running":
            started.set()

    engine = make_engine(observer=observer)
    outcome: list[FlowRun] = []
    runner = threading.Thread(
        target=lambda: outcome.append(engine.run_flow("hanging", flow_id="busy")), daemon=True
    )
    runner.start()
    try:
        assert started.wait(10)
        with pytest.raises(RequestError, match="busy"):
            engine.run_flow("flow1", {"n": 0}, flow_id="busy")
        other = engine.run_flow("flow1", {"n": 3})  # other ids run meanwhile
        check_run(other, 3)
    finally:
        rt_tasks.RELEASE.set()
        runner.join(10)
    assert not runner.is_alive()
    [hung] = outcome
    assert hung.status == "succeeded"
    assert [r.node_name for r in hung.runs] == ["Hang"]


def test_generated_flow_ids_skip_ids_that_explicit_runs_used() -> None:
    engine = make_engine()
    explicit = engine.run_flow("flow1", {"n": 1}, flow_id="flow-1")
    check_run(explicit, 1)
    generated = engine.run_flow("flow1", {"n": 2})
    assert generated.flow_id == "flow-2"
    check_run(generated, 2)
    stored = engine.states.load(flow_id="flow-1")
    assert stored is not None
    assert stored.state.node_args == {"n": 1}


def test_a_run_keeps_only_its_flows_with_errors() -> None:
    engine = make_engine()
    run = engine.run_flow("flow1", {"n": 3})
    check_run(run, 3)
    kept = {
        flow_id
        for flow_id in [run.flow_id, *(r.node_id for r in run.runs if r.kind == "flow")]
        if engine.states.load(flow_id=flow_id) is not None
    }
    assert kept == {run.flow_id}  # the top flow recorded Boom's error; the sub-flow none
