"""Side by side: our in-process runtime against Selinon 1.4.0's executor, on the same YAML.

``python benchmarks/vs_selinon.py [--sizes 10,100,1000]`` creates a virtual environment under
``/tmp/selinon-bench-venv`` (once), installs ``selinon[celery]==1.4.0`` into it, writes the
benchmark configuration and task module to ``/tmp/selinon-bench``, runs every flow size on
Selinon's executor (in a subprocess of that environment) and on our engine (in this process),
and prints the seconds of each and the speed ratio.  Results also go to
``benchmarks/results/vs_selinon.json``.

Selinon's executor needs two work-arounds on Celery 5, both applied by the runner script:

1. ``request = None`` as a class attribute of ``selinon.Dispatcher`` and
   ``selinon.task_envelope.SelinonTaskEnvelope`` (Celery 5 made ``Task.request`` a read-only
   property, and the executor assigns it);
2. executed task objects are kept alive: the executor derives task ids from ``id(instance)``,
   and a garbage-collected instance's id is reused, which corrupts long chains.

Flows use ``sampling: {name: constant, args: {retry: 0}}`` so that Selinon's dispatcher does not
sleep between checks (its default sleeps 2 s, doubling to 120 s).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import venv
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VENV = Path("/tmp/selinon-bench-venv")
WORK = Path("/tmp/selinon-bench")
SELINON_REQUIREMENT = "selinon[celery]==1.4.0"

NODES = """\
tasks:
  - {name: Counter, import: benchtasks, storage: Memory}
  - {name: Task1, import: benchtasks}
  - {name: Worker, import: benchtasks}
storages:
  - name: Memory
    import: selinon.storages.memory
    classname: InMemoryStorage
    configuration: {echo: false}
global:
  predicates_module: benchtasks
flows: [chain, fanout]
"""

FLOWS = """\
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
        foreach: {import: benchtasks, function: workers}
"""

TASKS = '''\
"""Benchmark tasks; the same file serves Selinon and selinon_core."""
try:
    from selinon import SelinonTask
    from selinon.predicates import *  # noqa: F403
except ImportError:
    from selinon_core.task import SelinonTask
    from selinon_core.predicates import *  # noqa: F403


def counterBelow(message, node_args):
    return message["i"] < node_args["n"]


def workers(storage_pool, node_args):
    return range(node_args["n"])


class Counter(SelinonTask):
    def run(self, node_args):
        if "Counter" in self.parent:
            return {"i": self.parent_task_result("Counter")["i"] + 1}
        return {"i": 1}


class Task1(SelinonTask):
    def run(self, node_args):
        return None


Worker = Task1
'''

RUNNER = """\
import json, sys, time
sys.path.insert(0, sys.argv[1])
import selinon
selinon.Dispatcher.request = None            # work-around 1: Celery 5's read-only request
from selinon.task_envelope import SelinonTaskEnvelope
SelinonTaskEnvelope.request = None
from selinon.executor import executor as executor_module
from selinon.executor import Executor

KEEP = []                                    # work-around 2: keep task objects (their id()s)
_schedule = executor_module.Executor.schedule.__func__
def schedule(cls, task, celery_kwargs):
    KEEP.append(task)
    return _schedule(cls, task, celery_kwargs)
executor_module.Executor.schedule = classmethod(schedule)

work = sys.argv[1]
executor = Executor(work + "/nodes.yaml", [work + "/flows.yaml"], show_progressbar=False,
                    sleep_time=0)
for case in json.loads(sys.argv[2]):
    flow, n = case
    best = None
    for _ in range(int(sys.argv[3])):          # best of N runs
        before = sum(1 for t in KEEP if type(t).__name__ == "SelinonTaskEnvelope")
        started = time.perf_counter()
        executor.run(flow, {"n": n})
        elapsed = time.perf_counter() - started
        tasks = sum(1 for t in KEEP if type(t).__name__ == "SelinonTaskEnvelope") - before
        best = elapsed if best is None else min(best, elapsed)
    print(json.dumps({"flow": flow, "n": n, "seconds": best, "tasks": tasks}), flush=True)
"""


def _ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV} and installing {SELINON_REQUIREMENT} ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    check = subprocess.run(
        [str(python), "-c", "import selinon, celery"], capture_output=True, check=False
    )
    if check.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", SELINON_REQUIREMENT], check=True)
    return python


def _write_workdir() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "nodes.yaml").write_text(NODES)
    (WORK / "flows.yaml").write_text(FLOWS)
    (WORK / "benchtasks.py").write_text(TASKS)
    (WORK / "runner.py").write_text(RUNNER)


def _selinon(
    python: Path, cases: list[tuple[str, int]], timeout: float, repeat: int
) -> list[dict[str, Any]]:
    rows = []
    for case in cases:  # one subprocess per case, so that a hang only loses that case
        try:
            proc = subprocess.run(
                [str(python), str(WORK / "runner.py"), str(WORK), json.dumps([case]), str(repeat)],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            rows.append({"flow": case[0], "n": case[1], "seconds": None, "error": "timeout"})
            continue
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
            rows.append({"flow": case[0], "n": case[1], "seconds": None, "error": tail[0]})
            continue
        rows.append(json.loads(lines[-1]))
    return rows


def _ours(cases: list[tuple[str, int]], repeat: int) -> list[dict[str, Any]]:
    sys.path.insert(0, str(WORK))
    from selinon_backends.runtime import Engine, VirtualClock
    from selinon_core.config.loader import load_system

    system = load_system(WORK / "nodes.yaml", [WORK / "flows.yaml"])
    rows = []
    for flow, n in cases:
        elapsed = float("inf")
        for _ in range(repeat):  # best of N runs, as for Selinon
            engine = Engine(system, clock=VirtualClock())
            started = time.perf_counter()
            run = engine.run_flow(flow, {"n": n})
            elapsed = min(elapsed, time.perf_counter() - started)
        tasks = sum(1 for r in run.runs if r.kind == "task")
        rows.append({"flow": flow, "n": n, "seconds": elapsed, "tasks": tasks, "ok": run.succeeded})
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run both sides and print the ratio per flow and size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--timeout", type=float, default=300.0, help="per Selinon case")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per case")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    cases = [(flow, n) for flow in ("chain", "fanout") for n in sizes]
    python = _ensure_venv()
    _write_workdir()
    theirs = _selinon(python, cases, args.timeout, args.repeat)
    ours = _ours(cases, args.repeat)
    print(f"{'flow':8} {'n':>7} {'selinon s':>10} {'ours s':>9} {'ratio':>8}")
    rows = []
    for mine, other in zip(ours, theirs, strict=True):
        ratio = other["seconds"] / mine["seconds"] if other.get("seconds") else None
        rows.append(
            {
                **mine,
                "selinon_seconds": other.get("seconds"),
                "ratio": ratio,
                "selinon_tasks": other.get("tasks"),
                "selinon_error": other.get("error"),
            }
        )
        shown = f"{ratio:8.1f}x" if ratio else f"{other.get('error', '?')[:30]}"
        theirs_s = f"{other['seconds']:10.4f}" if other.get("seconds") else f"{'-':>10}"
        print(f"{mine['flow']:8} {mine['n']:>7} {theirs_s} {mine['seconds']:9.4f} {shown}")
    out = HERE / "results" / "vs_selinon.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
