"""The Celery shim gives the in-process engine's report for every flow pattern.

A Celery worker (Celery's own test worker, a thread pool of 2, in this process) consumes from
Celery's ``memory://`` broker; the flow-state store is ``memory://``.  Each flow's report must
equal ``Engine.run_flow``'s, ids and order aside.  Real ``celery worker`` processes on RabbitMQ
and Redis are in ``test_celery_services.py``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.exceptions import TimeoutError as CeleryTimeoutError
from kombu_support import make_queued_system, normalized
from test_kombu_patterns import PATTERNS, edges

from selinon_backends.celery import (
    DISPATCH_TASK,
    RUN_TASK,
    CeleryRuntime,
    Config,
    ConfigNotInitializedError,
    FlowFailed,
    FlowResult,
    FlowTimeout,
    celery_state_store,
    register_tasks,
    run_flow,
    run_flow_selective,
)
from selinon_backends.runtime import Engine
from selinon_core.config.system import System
from selinon_core.errors import SelectiveNoPathError, SpecError, UnknownFlowError


def _app(broker: str = "memory://") -> Celery:
    app = Celery(f"t{uuid.uuid4().hex[:6]}", broker=broker, set_as_current=False)
    app.conf.update(
        broker_transport_options={"polling_interval": 0.005},
        worker_hijack_root_logger=False,
        task_default_queue=f"d-{uuid.uuid4().hex[:6]}",
    )
    return app


QUEUE = f"t-{uuid.uuid4().hex[:8]}"
"""The queues of this module's flows: ``QUEUE.tasks`` and ``QUEUE.flows``."""


@contextmanager
def celery_worker(*, concurrency: int = 2, queue: str = QUEUE) -> Iterator[Celery]:
    """A fresh app with a started Celery test worker on :data:`QUEUE`'s queues.

    The worker serves whichever :class:`CeleryRuntime` was created last for the app.
    """
    app = _app()
    register_tasks(app)  # a Celery worker knows the tasks registered when it starts
    with start_worker(
        app,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,
        queues=[f"{queue}.tasks", f"{queue}.flows"],
        shutdown_timeout=10,
    ):
        yield app


@pytest.fixture(scope="module")
def worker_app() -> Iterator[Celery]:
    """One worker for the module (stopping a Celery test worker takes 5 s).

    One thread: an eager failure races the flow's other branch, and one thread keeps the
    in-process order (two test workers in one process do not share Kombu's memory broker
    well).  Concurrent workers are tested with real processes in ``test_celery_services.py``.
    """
    with celery_worker(concurrency=1) as app:
        yield app


def runtime_for(
    app: Celery, flows: dict[str, Any], queue: str = QUEUE, **overrides: Any
) -> CeleryRuntime:
    """A runtime on ``app`` for ``flows`` (queues of ``queue``), with fresh memory stores."""
    system = make_queued_system(flows, queue, **overrides)
    return CeleryRuntime(app, system, state_store=f"memory://{uuid.uuid4().hex}")


def _settled(runtime: CeleryRuntime, result: FlowResult) -> Any:
    got = runtime.wait(result.id, timeout=30)
    for _ in range(500):  # a flow does not wait for its nowait nodes: let them end
        if all(r.status in ("succeeded", "failed") for r in got.runs):
            break
        time.sleep(0.01)
        got = runtime.status(result.id) or got
    return got


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_celery_report_equals_the_in_process_report(name: str, worker_app: Celery) -> None:
    flows, args, overrides = PATTERNS[name]
    runtime = runtime_for(worker_app, flows, **overrides)
    expected = Engine(runtime.system).run_flow("flow1", args)
    result = runtime.run_flow("flow1", args)
    got = _settled(runtime, result)
    assert result.state == ("SUCCESS" if expected.status == "succeeded" else "FAILURE")
    assert got.status == expected.status
    assert normalized(got) == normalized(expected)


def test_tasks_are_registered_with_late_acks_and_no_results() -> None:
    system = make_queued_system({"flow1": edges(([], "Noop"))}, "q")
    app = _app()
    CeleryRuntime(app, system, state_store="memory://x")
    for name in (DISPATCH_TASK, RUN_TASK):
        task = app.tasks[name]
        assert (task.acks_late, task.reject_on_worker_lost, task.ignore_result) == (
            True,
            True,
            True,
        )
        assert not getattr(task, "autoretry_for", ())


def test_default_queue_is_the_apps_default_queue() -> None:
    system = make_queued_system({"flow1": edges(([], "Noop"))}, "q")
    spec_default = System.from_dict(
        {
            "tasks": [{"name": "Noop", "import": "rt_tasks"}],
            "flows": {"flow1": {"name": "flow1", **edges(([], "Noop"))}},
        }
    )
    app = _app()
    runtime = CeleryRuntime(app, spec_default, state_store="memory://x")
    assert runtime.queues() == [app.conf.task_default_queue]
    private = CeleryRuntime(app, system, state_store="memory://x")
    assert private.queues() == ["q.flows", "q.tasks"]


def test_selective_runs_result_states_and_errors(worker_app: Celery) -> None:
    runtime = runtime_for(
        worker_app,
        {
            "flow1": edges(([], ["Echo", "Noop"]), ("Echo", "Add")),
            "failing": edges(([], "Boom")),
        },
    )
    with pytest.raises(UnknownFlowError):
        runtime.run_flow("nope")
    with pytest.raises(SelectiveNoPathError):
        runtime.run_flow_selective("flow1", ["NoSuchTask"])
    selective = runtime.run_flow_selective("flow1", ["Add"], {"n": 1})
    report = selective.get(timeout=30)
    assert sorted(run["node_name"] for run in report["runs"]) == ["Add", "Echo"]
    assert selective.successful()
    assert selective.ready()
    failing = runtime.run_flow("failing", {})
    with pytest.raises(FlowFailed) as failed:
        failing.get(timeout=30)
    assert failed.value.report["status"] == "failed"
    assert failing.state == "FAILURE"
    assert failing.failed()
    assert failing.get(timeout=5, propagate=False)["status"] == "failed"
    never = FlowResult(uuid.uuid4().hex, runtime)
    assert never.state == "PENDING"
    with pytest.raises(CeleryTimeoutError):  # what Selinon-era code catches
        never.get(timeout=0.2)
    with pytest.raises(FlowTimeout):
        never.get(timeout=0.1)


def test_state_store_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SELINON_STATE_STORE", raising=False)
    assert celery_state_store(_app("redis://127.0.0.1:6379/3")) == "redis://127.0.0.1:6379/3"
    assert celery_state_store(_app("amqp://u:secret@h//"), "postgresql://x/y") == (
        "postgresql://x/y"
    )
    with pytest.raises(SpecError, match=r"Config.set_state_store") as error:
        celery_state_store(_app("amqp://u:secret@h//"))
    assert "secret" not in str(error.value)
    monkeypatch.setenv("SELINON_STATE_STORE", "redis://127.0.0.1:6379/5")
    assert celery_state_store(_app("amqp://h//")) == "redis://127.0.0.1:6379/5"


def test_global_config_api(monkeypatch: pytest.MonkeyPatch, worker_app: Celery) -> None:
    monkeypatch.setenv("SELINON_STATE_STORE", f"memory://{uuid.uuid4().hex}")
    system = make_queued_system({"flow1": edges(([], "Echo"), ("Echo", "Add"))}, QUEUE)
    Config.reset()
    try:
        with pytest.raises(ConfigNotInitializedError, match="set_celery_app"):
            run_flow("flow1")
        Config.set_system(system)
        events: list[str] = []
        Config.trace_by_func(lambda name, details: events.append(name))
        Config.set_celery_app(worker_app)
        assert Config.get_runtime().app is worker_app
        result = run_flow("flow1", {"n": 2})
        assert result.id
        assert result.get(timeout=30)["status"] == "succeeded"
        selective = run_flow_selective("flow1", ["Echo"], {"n": 2})
        assert [r["node_name"] for r in selective.get(timeout=30)["runs"]] == ["Echo"]
        assert "FLOW_END" in events
        assert "TASK_END" in events
    finally:
        Config.reset()


def test_selinon_trace_methods_add_sinks(
    monkeypatch: pytest.MonkeyPatch, worker_app: Celery, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SELINON_STATE_STORE", f"memory://{uuid.uuid4().hex}")
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    Config.reset()
    try:
        Config.set_system(make_queued_system({"flow1": edges(([], "Echo"))}, QUEUE))
        Config.set_celery_app(worker_app)
        with pytest.raises(ValueError, match="SENTRY_DSN"):
            Config.trace_by_sentry()
        Config.trace_by_json()
        Config.trace_by_logging()
        assert [type(sink).__name__ for sink in Config.trace_sinks] == [
            "JsonLinesSink",
            "LoggingSink",
        ]
        assert run_flow("flow1", {"n": 1}).get(timeout=30)["status"] == "succeeded"
    finally:
        Config.reset()
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any('"event": "FLOW_END"' in line or '"FLOW_END"' in line for line in lines), lines
