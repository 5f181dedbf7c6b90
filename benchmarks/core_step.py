"""Cost of one ``Dispatcher.step`` (no transport, no storage I/O), in microseconds per event.

Scenarios:

* ``chain``: a chain of N distinct tasks; every event is a simple completion.
* ``foreach+join``: a sub-flow fans out N tasks with ``foreach`` and the parent runs a join task
  once the sub-flow ended.  "simple" counts only the N task completions; "all" includes the
  fan-out step (O(N) actions) and the sub-flow's end (O(N) summary).
* "delta": the median cost of :func:`~selinon_core.dispatch.delta.state_delta` for the same steps
  (what an incremental state store would write), measured separately.
* ``diamond``: the cyclic diamond of the docs (Task4 runs 4 times over two iterations), run
  ``N`` times as separate flows.
* "untraced": the median simple event again with ``Dispatcher(system, trace=False)`` (what
  the in-process runtime uses when nobody listens to trace events).

Run ``python benchmarks/core_step.py [--quick]``; prints a table and writes
``benchmarks/results/core_step.json``.  Target: under 20 µs per simple event, flat in N.
Each scenario first runs once at a small size, untimed, so that the N=10 rows measure the
steady state rather than the interpreter warming up.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from selinon_core.config.system import System
from selinon_core.dispatch.actions import FinishFlow, RunTask, StartSubflow
from selinon_core.dispatch.delta import state_delta
from selinon_core.dispatch.dispatcher import Dispatcher
from selinon_core.dispatch.events import (
    Event,
    FlowRequested,
    NodeSucceeded,
    SubflowFinished,
)
from selinon_core.dispatch.state import FlowState
from selinon_core.testing import DictResults

HERE = Path(__file__).resolve().parent
MODULE = "core_step"


def fan_items(storage_pool: Any, node_args: Any) -> range:
    """Foreach function of the fan-out scenario: ``node_args["n"]`` items."""
    del storage_pool
    return range(node_args["n"])


def counter_below(message: Any, limit: int) -> bool:
    """Predicate of the diamond's loop edge."""
    return isinstance(message, int) and message < limit


def always_true() -> bool:
    """Predicate module entry (unused: alwaysTrue conditions are skipped)."""
    return True


def _system(flows: dict[str, Any], tasks: list[str]) -> System:
    return System.from_dict(
        {
            "tasks": [{"name": t, "import": "bench.tasks"} for t in tasks],
            "flows": {name: {"name": name, **flow} for name, flow in flows.items()},
            "global": {"predicates_module": MODULE},
        }
    )


class Driver:
    """Delivers events FIFO and times only ``Dispatcher.step``."""

    def __init__(self, dispatcher: Dispatcher, results_for: dict[str, Any] | None = None) -> None:
        self.dispatcher = dispatcher
        self.results = DictResults()
        self.results_for = results_for or {}
        self.states: dict[str, FlowState] = {}
        self.queue: deque[Event] = deque()
        self.times: dict[str, list[float]] = {}
        self.delta_times: list[float] = []

    def run(self, first: Event) -> None:
        gc.collect()
        gc.freeze()  # the System and tables are long-lived: keep them out of GC passes
        try:
            self._run(first)
        finally:
            gc.unfreeze()

    def _run(self, first: Event) -> None:
        self.queue.append(first)
        step = self.dispatcher.step
        clock = time.perf_counter
        while self.queue:
            event = self.queue.popleft()
            t0 = clock()
            before = self.states.get(event.flow_id)
            out = step(before, event, self.results)
            elapsed = clock() - t0
            self.times.setdefault(type(event).__name__, []).append(elapsed)
            if before is not None:
                t0 = clock()
                state_delta(before, out.state)
                self.delta_times.append(clock() - t0)
            self.states[event.flow_id] = out.state
            for action in out.actions:
                self._carry_out(action)

    def _carry_out(self, action: Any) -> None:
        if isinstance(action, RunTask):
            result = self.results_for.get(action.task_name)
            self.results.store(action.task_id, result() if callable(result) else result)
            self.queue.append(NodeSucceeded(action.flow_id, action.task_id, 0.0))
        elif isinstance(action, StartSubflow):
            self.queue.append(
                FlowRequested(
                    action.child_flow_id,
                    action.flow_name,
                    0.0,
                    action.node_args,
                    None,
                    action.flow_id,
                )
            )
        elif isinstance(action, FinishFlow) and action.parent_flow_id is not None:
            self.queue.append(
                SubflowFinished(action.parent_flow_id, action.flow_id, 0.0, action.summary)
            )


def _us(values: list[float]) -> float:
    """Mean in microseconds."""
    return 1e6 * sum(values) / len(values) if values else 0.0


def _p50(values: list[float]) -> float:
    """Median in microseconds (robust to other processes preempting the benchmark)."""
    return 1e6 * statistics.median(values) if values else 0.0


def bench_chain(n: int) -> dict[str, Any]:
    names = [f"T{i}" for i in range(n)]
    edges = [{"from": None, "to": names[0]}]
    edges += [{"from": names[i], "to": names[i + 1]} for i in range(n - 1)]
    system = _system({"chain": {"edges": edges}}, names)
    driver = Driver(Dispatcher(system))
    driver.run(FlowRequested("c", "chain", 0.0))
    untraced = Driver(Dispatcher(system, trace=False))
    untraced.run(FlowRequested("c", "chain", 0.0))
    simple = driver.times["NodeSucceeded"]
    everything = [t for ts in driver.times.values() for t in ts]
    return {
        "scenario": "chain",
        "n": n,
        "events": len(everything),
        "us_simple": _us(simple),
        "p50_simple": _p50(simple),
        "p50_untraced": _p50(untraced.times["NodeSucceeded"]),
        "p50_delta": _p50(driver.delta_times),
        "us_all": _us(everything),
    }


def bench_foreach(n: int) -> dict[str, Any]:
    flows = {
        "outer": {
            "edges": [{"from": None, "to": "inner"}, {"from": "inner", "to": "Join"}],
            "propagate_node_args": True,
        },
        "inner": {
            "edges": [
                {"from": None, "to": "Start"},
                {
                    "from": "Start",
                    "to": "Work",
                    "foreach": {"import": MODULE, "function": "fan_items"},
                },
            ]
        },
    }
    system = _system(flows, ["Start", "Work", "Join"])
    driver = Driver(Dispatcher(system))
    t0 = time.perf_counter()
    driver.run(FlowRequested("o", "outer", 0.0, {"n": n}))
    wall = time.perf_counter() - t0
    untraced = Driver(Dispatcher(system, trace=False))
    untraced.run(FlowRequested("o", "outer", 0.0, {"n": n}))
    simple = driver.times["NodeSucceeded"][1:-1]  # the N Work completions
    everything = [t for ts in driver.times.values() for t in ts]
    return {
        "scenario": "foreach+join",
        "n": n,
        "events": len(everything),
        "us_simple": _us(simple),
        "p50_simple": _p50(simple),
        "p50_untraced": _p50(untraced.times["NodeSucceeded"][1:-1]),
        "p50_delta": _p50(driver.delta_times),
        "us_all": _us(everything),
        "max_step_ms": 1e3 * max(everything),
        "wall_s": wall,
    }


def bench_diamond(repeats: int) -> dict[str, Any]:
    flows = {
        "diamond": {
            "edges": [
                {"from": None, "to": "Task1"},
                {"from": "Task1", "to": ["Task2", "Task3"]},
                {"from": ["Task2", "Task3"], "to": "Task4"},
                {
                    "from": "Task4",
                    "to": "Task1",
                    "condition": {"name": "counter_below", "args": {"limit": 1}},
                },
            ]
        }
    }
    system = _system(flows, ["Task1", "Task2", "Task3", "Task4"])
    everything: list[float] = []
    untraced: list[float] = []
    deltas: list[float] = []
    runs4 = 0
    for trace, times in ((True, everything), (False, untraced)):
        dispatcher = Dispatcher(system, trace=trace)
        for i in range(repeats):
            seen = {"n": 0}

            def task4(seen: dict[str, int] = seen) -> int:
                seen["n"] += 1
                return seen["n"] - 1

            driver = Driver(dispatcher, {"Task4": task4})
            driver.run(FlowRequested(f"d{i}", "diamond", 0.0))
            runs4 += seen["n"]
            times += [t for ts in driver.times.values() for t in ts]
            if trace:
                deltas += driver.delta_times
    assert runs4 == 8 * repeats, runs4
    return {
        "scenario": "diamond",
        "n": repeats,
        "events": len(everything),
        "us_simple": _us(everything),
        "p50_simple": _p50(everything),
        "p50_untraced": _p50(untraced),
        "p50_delta": _p50(deltas),
        "us_all": _us(everything),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes up to 10,000 only")
    args = parser.parse_args()
    sizes = [10, 100, 1_000, 10_000] + ([] if args.quick else [100_000])
    # Warm-up (untimed): Python 3.11 specialises bytecode after a few executions, so the first
    # events through a fresh process run slower; a long-lived dispatcher never sees that.
    bench_chain(100)
    bench_foreach(100)
    bench_diamond(10)
    rows = [bench_chain(n) for n in sizes]
    rows += [bench_foreach(n) for n in sizes]
    rows.append(bench_diamond(1_000))
    head = f"{'scenario':<14}{'N':>9}{'events':>9}{'p50 µs':>9}{'mean µs':>9}{'all µs':>9}"
    print(
        head + f"{'delta µs':>10}{'untraced':>10}"
        "   (p50/mean: simple events; all: mean of every event; untraced: p50, trace=False)"
    )
    for row in rows:
        print(
            f"{row['scenario']:<14}{row['n']:>9}{row['events']:>9}{row['p50_simple']:>9.1f}"
            f"{row['us_simple']:>9.1f}{row['us_all']:>9.1f}{row['p50_delta']:>10.1f}"
            f"{row['p50_untraced']:>10.1f}"
        )
    out = HERE / "results" / "core_step.json"
    out.parent.mkdir(exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "load_average": os.getloadavg(),
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
