"""Runtime parts: clocks, the slot store, storage back-off, progress display, report records."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rt_support import make_system

from selinon_backends.cli.progress import Progress
from selinon_backends.runtime import Engine, RealClock, VirtualClock
from selinon_backends.runtime.report import NodeRun
from selinon_backends.runtime.slots import MemorySlotStore
from selinon_backends.storage.pool import StoragePool
from selinon_core.errors import TransientBackendError
from selinon_core.trace import TraceEvent, TraceName


def test_virtual_clock_jumps_and_never_goes_back() -> None:
    clock = VirtualClock(10.0)
    clock.wait_until(15.0)
    clock.wait_until(12.0)
    clock.advance(1.0)
    assert clock.now() == 16.0
    assert clock.virtual
    assert not RealClock.virtual


def test_real_clock_waits() -> None:
    clock = RealClock()
    start = clock.now()
    clock.wait_until(start + 0.02)
    clock.wait_until(start - 5)
    assert clock.now() - start >= 0.02


def test_slot_store_spacing_is_cumulative_and_per_key() -> None:
    slots = MemorySlotStore()
    assert [slots.reserve(key="a", spacing=5, now=100.0) for _ in range(3)] == [0.0, 5.0, 10.0]
    assert slots.reserve(key="b", spacing=5, now=100.0) == 0.0
    assert slots.reserve(key="a", spacing=5, now=200.0) == 0.0


class _FlakyPool:
    """A storage pool whose reads fail ``failures`` times before working."""

    def __init__(self, pool: StoragePool, failures: int) -> None:
        self._pool = pool
        self.failures = failures

    def get(self, *, flow_name: str, task_name: str, task_id: str) -> Any:
        if self.failures:
            self.failures -= 1
            raise TransientBackendError("storage down")
        return self._pool.get(flow_name=flow_name, task_name=task_name, task_id=task_id)

    def storage_pool(self, *, flow_name: str, parent: Mapping[str, Any]) -> Any:
        return self._pool.storage_pool(flow_name=flow_name, parent=parent)

    def get_connected_storage(self, storage_name: str) -> Any:
        return self._pool.get_connected_storage(storage_name)

    def store(self, *args: Any) -> Any:
        return self._pool.store(*args)

    def store_error(self, *args: Any) -> Any:
        return self._pool.store_error(*args)


def test_storage_outage_during_a_condition_is_retried_with_backoff() -> None:
    flow = {
        "edges": [
            {"from": [], "to": "Echo"},
            {
                "from": "Echo",
                "to": "Noop",
                "condition": {"name": "fieldEqual", "args": {"key": "task", "value": "Echo"}},
            },
        ]
    }
    system = make_system({"flow1": flow})
    pool = _FlakyPool(StoragePool(system), failures=3)
    events: list[TraceEvent] = []
    clock = VirtualClock(0.0)
    engine = Engine(system, clock=clock, storage_pool=pool, tracer=events.append)
    result = engine.run_flow("flow1", {"n": 1})
    assert result.status == "succeeded"
    assert [r.node_name for r in result.runs] == ["Echo", "Noop"]
    issues = [e for e in events if e.name == TraceName.STORAGE_ISSUE]
    assert [e.details["retry_in"] for e in issues] == [0.05, 0.1, 0.2]
    assert abs(clock.now() - 0.35) < 1e-9


def test_progress_counts_per_flow_and_renders() -> None:
    out = io.StringIO()
    progress = Progress(Console(file=out, width=100, force_terminal=False))
    record = NodeRun("flow1", "flow-1", "Task1", "flow-1.0", "task", {}, None)
    progress(record)
    record.status = "running"
    progress(record)
    record.status = "succeeded"
    progress(record)
    other = NodeRun("flow1", "flow-1", "Task2", "flow-1.1", "task", {}, None, status="failed")
    progress(other)
    assert progress.counts[("flow1", "flow-1")] == {
        "scheduled": 0,
        "running": 0,
        "succeeded": 1,
        "failed": 1,
    }
    with progress:
        pass
    assert "flow1" in out.getvalue()


def test_engine_observer_and_cli_progress_run_together() -> None:
    system = make_system({"flow1": {"edges": [{"from": [], "to": ["Echo", "Boom"]}]}})
    out = io.StringIO()
    progress = Progress(Console(file=out, width=100))
    with progress:
        result = Engine(system, clock=VirtualClock(), observer=progress).run_flow("flow1", {"n": 1})
    assert result.status == "failed"
    assert progress.counts[("flow1", result.flow_id)]["failed"] == 1
    assert progress.counts[("flow1", result.flow_id)]["succeeded"] == 1
