"""Runtime behaviour on storage trouble, with a real Redis made unreachable and brought back.

Each test starts its own throw-away ``redis-server`` on a free loopback port (never the shared
one) and stops or restarts it at a precise point of the flow, using trace events as hooks:

* storage down while a task stores: the task fails and is retried per its ``max_retry``;
* storage down while a condition reads a parent's result: the flow is not failed, the runtime
  re-tries the event with a bounded back-off (``STORAGE_ISSUE``), and the flow completes once
  the storage is back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # make ``tests.services`` importable without a root conftest
    sys.path.insert(0, _ROOT)

from tests.services import PrivateRedisServer  # noqa: E402

from selinon_backends.runtime.engine import Engine  # noqa: E402
from selinon_core.config.system import System  # noqa: E402
from selinon_core.task import SelinonTask  # noqa: E402
from selinon_core.trace import TraceEvent, TraceName  # noqa: E402

T = TraceName
HOOKS: dict[str, Callable[[int], None]] = {}
ATTEMPTS: dict[str, int] = {}


class Producer(SelinonTask):
    """Returns ``{"ok": True}``; calls the ``Producer`` hook with its attempt number first."""

    def run(self, node_args: Any) -> Any:
        ATTEMPTS["Producer"] = ATTEMPTS.get("Producer", 0) + 1
        hook = HOOKS.get("Producer")
        if hook is not None:
            hook(ATTEMPTS["Producer"])
        return {"ok": True}


class Consumer(SelinonTask):
    """Reads its parent's result through the storage."""

    def run(self, node_args: Any) -> Any:
        return {"seen": self.parent_task_result("Producer")}


def outage_system(port: int, *, max_retry: int) -> System:
    redis_config = {"host": "127.0.0.1", "port": port, "socket_timeout": 2, "retries": 1}
    return System.from_dict(
        {
            "tasks": [
                {
                    "name": name,
                    "import": __name__,
                    "storage": "Results",
                    "max_retry": max_retry,
                    "retry_countdown": 0.01,
                }
                for name in ("Producer", "Consumer")
            ],
            "storages": [
                {
                    "name": "Results",
                    "import": "selinon.storages.redis",
                    "classname": "Redis",
                    "configuration": redis_config,
                }
            ],
            "flows": {
                "outage": {
                    "name": "outage",
                    "edges": [
                        {"from": [], "to": ["Producer"]},
                        {
                            "from": ["Producer"],
                            "to": ["Consumer"],
                            "condition": {
                                "name": "fieldEqual",
                                "node": "Producer",
                                "args": {"key": "ok", "value": True},
                            },
                        },
                    ],
                }
            },
        }
    )


class Trace:
    """Collects trace events and runs hooks on chosen events."""

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []
        self.on: dict[TraceName, Callable[[TraceEvent], None]] = {}

    def __call__(self, event: TraceEvent) -> None:
        self.events.append(event)
        hook = self.on.get(event.name)
        if hook is not None:
            hook(event)

    def count(self, name: TraceName) -> int:
        return sum(1 for event in self.events if event.name is name)


@pytest.fixture
def redis_server() -> Iterator[PrivateRedisServer]:
    HOOKS.clear()
    ATTEMPTS.clear()
    with PrivateRedisServer() as server:
        yield server
    HOOKS.clear()


def run(system: System, trace: Trace) -> Any:
    engine = Engine(system, tracer=trace)
    try:
        return engine.run_flow("outage", {"n": 1})
    finally:
        engine.results.disconnect_all()  # type: ignore[attr-defined]


def test_storing_task_fails_after_max_retry_when_storage_stays_down(
    redis_server: PrivateRedisServer,
) -> None:
    redis_server.stop()
    trace = Trace()
    flow = run(outage_system(redis_server.port, max_retry=2), trace)
    assert flow.status == "failed"
    assert ATTEMPTS["Producer"] == 3  # one run + max_retry retries
    producer = [r for r in flow.runs if r.node_name == "Producer"]
    assert [(r.status, r.retries) for r in producer] == [("failed", 2)]
    assert "TransientBackendError" in (producer[0].error or "")
    assert trace.count(T.TASK_RETRY) == 2
    assert trace.count(T.TASK_FAILURE) == 1
    assert not any(r.node_name == "Consumer" for r in flow.runs)


def test_storing_task_is_retried_and_succeeds_once_storage_is_back(
    redis_server: PrivateRedisServer,
) -> None:
    redis_server.stop()
    HOOKS["Producer"] = lambda attempt: redis_server.start() if attempt == 2 else None
    trace = Trace()
    flow = run(outage_system(redis_server.port, max_retry=3), trace)
    assert flow.status == "succeeded"
    assert ATTEMPTS["Producer"] == 2
    assert trace.count(T.TASK_RETRY) == 1
    assert [(r.node_name, r.status) for r in flow.runs] == [
        ("Producer", "succeeded"),
        ("Consumer", "succeeded"),
    ]
    consumer = flow.runs[1]
    assert consumer.result == {"seen": {"ok": True}}


def test_condition_read_is_retried_until_storage_is_back(
    redis_server: PrivateRedisServer,
) -> None:
    trace = Trace()
    issues: list[TraceEvent] = []

    def stop_after_producer_stored(event: TraceEvent) -> None:
        if event.details.get("task_name") == "Producer":
            redis_server.stop()

    def restart_after_three_redeliveries(event: TraceEvent) -> None:
        if "retry_in" in event.details:  # the runtime's, not the pool's, STORAGE_ISSUE
            issues.append(event)
            if len(issues) == 3:
                redis_server.start()

    trace.on[T.STORAGE_STORED] = stop_after_producer_stored
    trace.on[T.STORAGE_ISSUE] = restart_after_three_redeliveries
    flow = run(outage_system(redis_server.port, max_retry=0), trace)
    assert flow.status == "succeeded"
    assert [(r.node_name, r.status) for r in flow.runs] == [
        ("Producer", "succeeded"),
        ("Consumer", "succeeded"),
    ]
    assert ATTEMPTS["Producer"] == 1  # the producer was not re-run: its result was kept
    delays = [e.details["retry_in"] for e in issues]
    assert len(delays) == 3
    assert delays == sorted(delays)
    assert delays[0] < delays[-1]  # the back-off grows (the runtime bounds it)
    assert trace.count(T.FLOW_FAILURE) == 0
    assert trace.count(T.TASK_FAILURE) == 0
