"""In-process runtime benchmark: trivial tasks through chains, fan-outs and the cyclic diamond.

Run ``python benchmarks/inprocess.py`` (``--sizes 10,1000`` to pick sizes, ``--quick`` for a
short run).  Prints tasks/s and peak traced memory per case and writes them as JSON to
``benchmarks/results/inprocess.json``.

How it measures: every engine first runs the flow once with n=10 (a long-lived engine has
resolved its task classes and connected its storages), then the startup heap (modules, the
System) is frozen out of garbage collection (``gc.freeze()``, as ``core_step.py`` does;
``--no-freeze`` keeps it).  ``tasks_per_s`` is measured under ``tracemalloc`` (which slows
Python ~2x) together with the peak memory; ``tasks_per_s_untraced`` is the real speed: the best
of ``--rounds`` rounds, each timing at least ``--min-tasks`` tasks (small flows are repeated).

Flows (the same YAML as ``benchmarks/vs_selinon.py``):

* ``chain``: ``-> Counter; Counter -> Counter if message.i < node_args.n``: n tasks one after
  the other, each reading its parent's stored result;
* ``fanout``: ``-> Task1; Task1 -> Worker foreach range(n)``: n + 1 tasks;
* ``fanjoin``: ``-> Task1; Task1 -> fanFlow; fanFlow -> Join``, ``fanFlow`` a foreach of n
  ``Worker``: a foreach followed by a join;
* ``diamond``: the cyclic diamond (10 tasks per flow, two iterations) run n/10 times.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "examples"))

from selinon_backends.runtime import Engine, VirtualClock  # noqa: E402
from selinon_core.config.loader import load_system_from_texts  # noqa: E402
from selinon_core.task import SelinonTask  # noqa: E402

NODES = """
tasks:
  - {name: Counter, import: inprocess, storage: Memory}
  - {name: Task1, import: inprocess}
  - {name: Worker, import: inprocess}
  - {name: Join, import: inprocess}
storages:
  - name: Memory
    import: selinon.storages.memory
    classname: InMemoryStorage
    configuration: {echo: false}
global:
  predicates_module: inprocess
flows: [chain, fanout, fanjoin, fanFlow]
"""

FLOWS = """
flow-definitions:
  - name: chain
    sampling: {name: constant, args: {retry: 0}}
    edges:
      - {from: [], to: Counter}
      - from: Counter
        to: Counter
        condition: {name: counterBelow, node: Counter}
  - name: fanout
    sampling: {name: constant, args: {retry: 0}}
    edges:
      - {from: [], to: Task1}
      - from: Task1
        to: Worker
        foreach: {import: inprocess, function: workers}
  - name: fanjoin
    propagate_node_args: true
    sampling: {name: constant, args: {retry: 0}}
    edges:
      - {from: [], to: Task1}
      - {from: Task1, to: fanFlow}
      - {from: fanFlow, to: Join}
  - name: fanFlow
    sampling: {name: constant, args: {retry: 0}}
    edges:
      - from: []
        to: Worker
        foreach: {import: inprocess, function: workers}
"""

from selinon_core.predicates import *  # noqa: E402, F403 - the benchmark's predicates module


def counterBelow(message: Any, node_args: Any) -> bool:
    """True while the chain is shorter than ``node_args["n"]``."""
    return bool(message["i"] < node_args["n"])


def workers(storage_pool: Any, node_args: Any) -> range:
    """Foreach: ``range(node_args["n"])``."""
    return range(node_args["n"])


class Counter(SelinonTask):
    """Counts along the chain (reads its parent's result)."""

    def run(self, node_args: Any) -> Any:
        if "Counter" in self.parent:
            return {"i": self.parent_task_result("Counter")["i"] + 1}
        return {"i": 1}


class Task1(SelinonTask):
    """Does nothing."""

    def run(self, node_args: Any) -> Any:
        return None


Worker = Task1
Join = Task1


def _engine(system: Any, flow: str) -> Engine:
    """A warmed-up engine: one small run first, like a long-lived engine."""
    engine = Engine(system, clock=VirtualClock())
    assert engine.run_flow(flow, {"n": 10}).succeeded
    return engine


def _run_tasks(engine: Engine, flow: str, n: int, repeat: int) -> int:
    tasks = 0
    for _ in range(repeat):
        run = engine.run_flow(flow, {"n": n})
        assert run.succeeded, (flow, n)
        tasks += sum(1 for r in run.runs if r.kind == "task")
    return tasks


def _measure(system: Any, flow: str, n: int, *, repeat: int, freeze: bool) -> dict[str, Any]:
    engine = _engine(system, flow)
    _settle_gc(freeze)
    tracemalloc.start()
    started = time.perf_counter()
    tasks = _run_tasks(engine, flow, n, repeat)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "flow": flow,
        "n": n,
        "tasks": tasks,
        "seconds": round(elapsed, 4),
        "tasks_per_s": round(tasks / elapsed),
        "peak_mib": round(peak / 2**20, 2),
    }


def _wall(
    system: Any, flow: str, n: int, *, repeat: int, rounds: int, freeze: bool
) -> dict[str, Any]:
    """The same runs without tracemalloc: the real speed (best of ``rounds``)."""
    best = None
    tasks = 0
    for _ in range(rounds):
        engine = _engine(system, flow)
        _settle_gc(freeze)
        started = time.perf_counter()
        tasks = _run_tasks(engine, flow, n, repeat)
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    assert best is not None
    return {
        "runs": repeat,
        "seconds_untraced": round(best, 4),
        "tasks_per_s_untraced": round(tasks / best),
    }


def _settle_gc(freeze: bool) -> None:
    gc.unfreeze()
    gc.collect()
    if freeze:
        gc.freeze()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``benchmarks/results/inprocess.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000,100000")
    parser.add_argument("--quick", action="store_true", help="sizes 10,1000 only")
    parser.add_argument("--rounds", type=int, default=3, help="untraced rounds (best kept)")
    parser.add_argument("--min-tasks", type=int, default=20_000, help="tasks per timed round")
    parser.add_argument("--no-freeze", action="store_true", help="do not gc.freeze() startup")
    parser.add_argument("--output", default=str(HERE / "results" / "inprocess.json"))
    args = parser.parse_args(argv)
    sizes = [10, 1000] if args.quick else [int(s) for s in args.sizes.split(",")]
    freeze = not args.no_freeze
    system = load_system_from_texts(NODES, [FLOWS])
    cases = [(system, flow, n, n) for flow in ("chain", "fanout", "fanjoin") for n in sizes]
    cases += [(_diamond_system(), "cyclicFlow", 10, n) for n in sizes]
    rows = []
    for case_system, flow, n, size in cases:
        repeat = max(1, args.min_tasks // max(n, 1)) if flow != "cyclicFlow" else max(1, size // 10)
        row = _measure(case_system, flow, n, repeat=repeat, freeze=freeze)
        row["n"] = size
        row.update(_wall(case_system, flow, n, repeat=repeat, rounds=args.rounds, freeze=freeze))
        rows.append(row)
        print(json.dumps(row), flush=True)
    gc.unfreeze()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": sys.version.split()[0], "gc_freeze": freeze, "rounds": args.rounds}
    Path(args.output).write_text(json.dumps({**meta, "results": rows}, indent=2) + "\n")
    return 0


def _diamond_system() -> Any:
    from selinon_core.config.loader import load_system

    example = HERE.parent / "examples" / "cyclic"
    return load_system(example / "nodes.yaml", [example / "flows"])


if __name__ == "__main__":
    raise SystemExit(main())
