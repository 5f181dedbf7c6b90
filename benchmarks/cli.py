"""The whole ``selinon-cli`` process, side by side with Selinon 1.4.0's ``selinon-cli``.

``python benchmarks/cli.py [--repeat 5] [--baseline-src DIR]`` measures, in one run:

* **start-up**: seconds of ``selinon-cli version``, ``selinon-cli --help`` and an
  ``inspect`` of a configuration, ours and Selinon's (the best of ``--repeat`` runs); ours also
  inspects the dinner example.  With ``--baseline-src DIR`` (a ``src/`` directory of an older
  checkout, e.g. ``git archive HEAD~N src | tar -x -C /tmp/before``) the same commands are also
  timed with that code, for before/after figures;
* **marginal cost per task** of the whole ``execute`` process: the time of a large run minus the
  time of a small one, divided by the difference in tasks, for a chain (``--chain 200,4000``) and
  a foreach (``--foreach 1000,20000``).  Ours runs ``execute --report FILE``; Selinon's executor
  has no report.  The engine's own marginal cost (``Engine.run_flow`` in this process, no
  report) is measured on the same sizes, so that the cost of the command line around it shows.

Every figure is the best of ``--repeat`` runs, in CPU seconds (user + system) of the process,
so that other work on a busy machine does not count; ``--wall`` measures wall-clock seconds.
Both command lines run single-threaded here, so on an idle machine the two agree closely.

Selinon 1.4.0 is installed and patched exactly as ``benchmarks/vs_selinon.py`` does (its
virtual environment, work directory and two Celery 5 work-arounds are reused); its executor runs
with ``--sleep-time 0`` and both sides with the progress bar hidden.  Results are printed and
written to ``benchmarks/results/cli.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import vs_selinon  # noqa: E402

WORK = vs_selinon.WORK
WALL = False
"""Measure wall-clock time instead of CPU time (``--wall``)."""
SELINON_CLI = WORK / "selinon_cli.py"
OURS_MAIN = (
    "import sys; sys.path.insert(0, {src!r}); "
    "from selinon_backends.cli import main; sys.exit(main())"
)

WRAPPER = """\
# Selinon 1.4.0's selinon-cli with the work-arounds of benchmarks/vs_selinon.py applied.
import sys
import selinon
selinon.Dispatcher.request = None
from selinon.task_envelope import SelinonTaskEnvelope
SelinonTaskEnvelope.request = None
from selinon.executor import executor as executor_module

KEEP = []
_schedule = executor_module.Executor.schedule.__func__
def schedule(cls, task, celery_kwargs):
    KEEP.append(task)
    return _schedule(cls, task, celery_kwargs)
executor_module.Executor.schedule = classmethod(schedule)

from selinon.cli import cli
sys.exit(cli())
"""


def _time(command: list[str], repeat: int, cwd: Path, env: dict[str, str]) -> float:
    """The best seconds of ``repeat`` runs of ``command`` (which must succeed).

    Seconds of CPU (user + system) of the process, or wall-clock seconds with ``--wall``: CPU
    time does not count the time other processes on a busy machine take from it.
    """
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        with subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        ) as proc:
            err = proc.stderr.read() if proc.stderr is not None else b""
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"{' '.join(command)} failed: {tail}")
        best = min(best, elapsed if WALL else usage.ru_utime + usage.ru_stime)
    return best


def _ours(src: Path) -> list[str]:
    return [sys.executable, "-c", OURS_MAIN.format(src=str(src))]


def _startup(python: Path, repeat: int, baseline: Path | None) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(WORK)}
    selinon = [str(python), str(python.parent / "selinon-cli")]
    config = ["-n", str(WORK / "nodes.yaml"), "-f", str(WORK / "flows.yaml")]
    dinner = ["--app-dir", "examples", "inspect", "-n", "examples/dinner/nodes.yaml"]
    dinner += ["-f", "examples/dinner/flows"]
    commands = {
        "version": ["version"],
        "--help": ["--help"],
        "inspect": ["inspect", *config],
    }
    rows: dict[str, Any] = {}
    sides = {"ours": ROOT / "src"} | ({"before": baseline} if baseline else {})
    for name, args in commands.items():
        row = {"selinon": _time([*selinon, *args], repeat, ROOT, env)}
        for side, src in sides.items():
            row[side] = _time([*_ours(src), *args], repeat, ROOT, env)
        rows[name] = row
    rows["inspect dinner"] = {
        side: _time([*_ours(src), *dinner], repeat, ROOT, env) for side, src in sides.items()
    }
    return rows


def _execute_ours(flow: str, n: int, repeat: int) -> float:
    report = WORK / f"report-{flow}-{n}.json"
    command = [
        *_ours(ROOT / "src"),
        "--app-dir",
        str(WORK),
        "execute",
        "-n",
        str(WORK / "nodes.yaml"),
        "-f",
        str(WORK / "flows.yaml"),
        "--flow-name",
        flow,
        "--node-args",
        json.dumps({"n": n}),
        "--hide-progressbar",
        "--report",
        str(report),
    ]
    seconds = _time(command, repeat, ROOT, dict(os.environ))
    runs = json.loads(report.read_text())["runs"]
    if not runs or any(r["status"] != "succeeded" for r in runs):
        raise RuntimeError(f"our {flow} run of size {n} failed")
    return seconds


def _execute_selinon(python: Path, flow: str, n: int, repeat: int) -> float:
    command = [
        str(python),
        str(SELINON_CLI),
        "execute",
        "-n",
        str(WORK / "nodes.yaml"),
        "-f",
        str(WORK / "flows.yaml"),
        "--flow-name",
        flow,
        "-j",
        "--node-args",
        json.dumps({"n": n}),
        "--hide-progressbar",
        "--sleep-time",
        "0",
    ]
    return _time(command, repeat, ROOT, {**os.environ, "PYTHONPATH": str(WORK)})


def _engine(flow: str, n: int, repeat: int) -> float:
    if str(WORK) not in sys.path:
        sys.path.insert(0, str(WORK))
    from selinon_backends.runtime import Engine
    from selinon_core.config.loader import load_system

    system = load_system(WORK / "nodes.yaml", [WORK / "flows.yaml"])
    clock = time.perf_counter if WALL else time.process_time
    best = float("inf")
    for _ in range(repeat):
        engine = Engine(system)
        started = clock()
        run = engine.run_flow(flow, {"n": n})
        best = min(best, clock() - started)
        if not run.succeeded:
            raise RuntimeError(f"the engine's {flow} run of size {n} failed")
    return best


def _tasks(flow: str, n: int) -> int:
    return n if flow == "chain" else n + 1


def _marginal(python: Path, flow: str, sizes: tuple[int, int], repeat: int) -> dict[str, Any]:
    small, large = sizes
    extra = _tasks(flow, large) - _tasks(flow, small)
    row: dict[str, Any] = {"flow": flow, "sizes": [small, large]}
    for side, measure in (
        ("engine", lambda n: _engine(flow, n, 1)),
        ("ours", lambda n: _execute_ours(flow, n, 1)),
        ("selinon", lambda n: _execute_selinon(python, flow, n, 1)),
    ):
        seconds = [float("inf"), float("inf")]
        for _ in range(repeat):  # small and large alternate, so both meet the same conditions
            seconds = [min(seconds[0], measure(small)), min(seconds[1], measure(large))]
        row[f"{side}_seconds"] = seconds
        row[f"{side}_us_per_task"] = (seconds[1] - seconds[0]) / extra * 1e6
    row["ours_vs_engine"] = row["ours_us_per_task"] / row["engine_us_per_task"]
    row["selinon_vs_ours"] = row["selinon_us_per_task"] / row["ours_us_per_task"]
    return row


def _sizes(text: str) -> tuple[int, int]:
    small, large = (int(part) for part in text.split(","))
    return small, large


def main(argv: list[str] | None = None) -> int:
    """Measure both command lines and print the side-by-side figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="best of N runs per figure")
    parser.add_argument("--chain", type=_sizes, default=(200, 4000))
    parser.add_argument("--foreach", type=_sizes, default=(1000, 20000))
    parser.add_argument("--baseline-src", type=Path, help="src/ of an older checkout")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--wall", action="store_true", help="wall-clock instead of CPU seconds")
    args = parser.parse_args(argv)
    global WALL  # noqa: PLW0603 - one switch for every measurement of this run
    WALL = args.wall
    python = vs_selinon._ensure_venv()
    vs_selinon._write_workdir()
    SELINON_CLI.write_text(WRAPPER)
    results: dict[str, Any] = {"repeat": args.repeat, "clock": "wall" if WALL else "cpu"}
    if not args.skip_startup:
        results["startup_s"] = _startup(python, args.repeat, args.baseline_src)
        print(f"{'start-up (s)':16} " + " ".join(f"{k:>9}" for k in ("ours", "before", "selinon")))
        for name, row in results["startup_s"].items():
            cells = [f"{row[k]:9.3f}" if k in row else f"{'-':>9}" for k in ("ours", "before")]
            cells.append(f"{row['selinon']:9.3f}" if "selinon" in row else f"{'-':>9}")
            print(f"{name:16} " + " ".join(cells))
    results["marginal"] = [
        _marginal(python, "chain", args.chain, args.repeat),
        _marginal(python, "fanout", args.foreach, args.repeat),
    ]
    print(
        f"\n{'us per task':14} {'sizes':>12} {'engine':>8} {'ours':>8} {'selinon':>8} "
        f"{'ours/engine':>12} {'selinon/ours':>13}"
    )
    for row in results["marginal"]:
        sizes = "->".join(str(s) for s in row["sizes"])
        print(
            f"{row['flow']:14} {sizes:>12} {row['engine_us_per_task']:8.1f} "
            f"{row['ours_us_per_task']:8.1f} {row['selinon_us_per_task']:8.1f} "
            f"{row['ours_vs_engine']:11.2f}x {row['selinon_vs_ours']:12.1f}x"
        )
    out = HERE / "results" / "cli.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
