"""In-process runtime benchmark: trivial tasks through chains, fan-outs and the cyclic diamond.

Run ``python benchmarks/inprocess.py`` (``--sizes 10,1000`` to pick sizes, ``--quick`` for a
short run).  Prints tasks/s and peak traced memory per case and writes them as JSON to
``benchmarks/results/inprocess.json``.

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
from selinon_core.loader import load_system_from_texts  # noqa: E402
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


def _measure(engine: Engine, flow: str, n: int, *, repeat: int = 1) -> dict[str, Any]:
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    tasks = 0
    for _ in range(repeat):
        run = engine.run_flow(flow, {"n": n})
        assert run.succeeded, (flow, n)
        tasks += sum(1 for r in run.runs if r.kind == "task")
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


def _wall(engine: Engine, flow: str, n: int) -> dict[str, Any]:
    """The same run without tracemalloc (which slows Python down ~2x): the real speed."""
    gc.collect()
    started = time.perf_counter()
    run = engine.run_flow(flow, {"n": n})
    elapsed = time.perf_counter() - started
    tasks = sum(1 for r in run.runs if r.kind == "task")
    return {"seconds_untraced": round(elapsed, 4), "tasks_per_s_untraced": round(tasks / elapsed)}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``benchmarks/results/inprocess.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000,100000")
    parser.add_argument("--quick", action="store_true", help="sizes 10,1000 only")
    parser.add_argument("--output", default=str(HERE / "results" / "inprocess.json"))
    args = parser.parse_args(argv)
    sizes = [10, 1000] if args.quick else [int(s) for s in args.sizes.split(",")]
    system = load_system_from_texts(NODES, [FLOWS])
    diamond = _diamond_system()
    rows = []
    for flow in ("chain", "fanout", "fanjoin"):
        for n in sizes:
            row = _measure(Engine(system, clock=VirtualClock()), flow, n)
            row.update(_wall(Engine(system, clock=VirtualClock()), flow, n))
            rows.append(row)
            print(json.dumps(row))
    for n in sizes:
        row = _measure(
            Engine(diamond, clock=VirtualClock()), "cyclicFlow", 10, repeat=max(1, n // 10)
        )
        row["n"] = n
        rows.append(row)
        print(json.dumps(row))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(
        json.dumps({"python": sys.version.split()[0], "results": rows}, indent=2) + "\n"
    )
    return 0


def _diamond_system() -> Any:
    from selinon_core.loader import load_system

    example = HERE.parent / "examples" / "cyclic"
    return load_system(example / "nodes.yaml", [example / "flows"])


if __name__ == "__main__":
    raise SystemExit(main())
