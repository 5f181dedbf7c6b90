"""Time to draw one large flow: ``selinon_backends.plot`` on generated flows of N tasks.

The flow (``tests/plot/bigflow.py``) is a chain of N tasks with a condition on every edge, a
two-source join every tenth task, a ``foreach`` every 25th edge, a fallback every 50 tasks and
every task storing its result in one of two storages: N tasks, N conditions and N storage copies
(over :data:`~selinon_backends.plot.diagram.SHARED_STORAGE_MAX_TASKS` tasks with a storage,
each task gets its own storage node).

For each N it measures, best of ``--repeat`` runs, in wall-clock seconds:

* ``load``: loading the YAML into a System (not part of drawing; for scale);
* ``diagram``: :func:`build_diagram`;
* ``dot``: :func:`flow_graph_dot` (diagram + DOT source through the graphviz package);
* ``mermaid``: :func:`flow_graph_mermaid`;
* ``svg``: :func:`render_flow` with ``"svg"``: DOT source plus graphviz's ``dot`` program, the
  figure the target is about (under 2 s for 200 tasks);
* ``cli_svg``: the whole ``selinon-cli plot --format svg`` process on the same files.

Run ``python benchmarks/plot.py [--sizes 50,100,200,400] [--repeat 3]``; prints a table and
writes ``benchmarks/results/plot.json``.  Needs ``dot`` on PATH (Debian package ``graphviz``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET_SVG_200_S = 2.0


def best(fn: Callable[[], Any], repeat: int) -> float:
    """The fastest of ``repeat`` calls of ``fn``, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def cli_svg(nodes: Path, flows: Path, out: Path) -> None:
    """Run ``selinon-cli plot`` in a fresh process (it must succeed)."""
    subprocess.run(
        [sys.executable, "-m", "selinon_backends.cli", "plot", "-n", str(nodes), "-f",
         str(flows), "-o", str(out), "--format", "svg"],
        check=True, capture_output=True, timeout=600, cwd=ROOT,
    )  # fmt: skip


def measure(n: int, repeat: int, workdir: Path) -> dict[str, Any]:
    """Every figure for a flow of ``n`` tasks."""
    from tests.plot.bigflow import BIG_FLOW, big_flow_texts

    from selinon_backends.plot import (
        build_diagram,
        flow_graph_dot,
        flow_graph_mermaid,
        render_flow,
    )
    from selinon_core.config.loader import load_system_from_texts

    nodes_text, flow_text = big_flow_texts(n)
    nodes, flows = workdir / f"nodes{n}.yaml", workdir / f"flows{n}.yaml"
    nodes.write_text(nodes_text)
    flows.write_text(flow_text)

    def load() -> Any:
        return load_system_from_texts(nodes_text, [flow_text], check_imports=False)

    system = load()
    diagram = build_diagram(system, BIG_FLOW)
    svg = render_flow(system, BIG_FLOW, "svg")
    return {
        "n": n,
        "drawn_nodes": len(diagram.nodes),
        "drawn_edges": len(diagram.edges),
        "svg_bytes": len(svg),
        "load": best(load, repeat),
        "diagram": best(lambda: build_diagram(system, BIG_FLOW), repeat),
        "dot": best(lambda: flow_graph_dot(system, BIG_FLOW), repeat),
        "mermaid": best(lambda: flow_graph_mermaid(system, BIG_FLOW), repeat),
        "svg": best(lambda: render_flow(system, BIG_FLOW, "svg"), repeat),
        "cli_svg": best(lambda: cli_svg(nodes, flows, workdir / f"out{n}"), repeat),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,100,200,400", help="task counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best is kept)")
    args = parser.parse_args()
    if shutil.which("dot") is None:
        raise SystemExit("graphviz's 'dot' is not on PATH: install the Debian package 'graphviz'")
    sizes = [int(size) for size in args.sizes.split(",")]
    columns = ("load", "diagram", "dot", "mermaid", "svg", "cli_svg")
    print(f"{'tasks':>6}{'nodes':>7}{'edges':>7}" + "".join(f"{c + ' s':>10}" for c in columns))
    rows = []
    with tempfile.TemporaryDirectory(prefix="plotbench-") as tmp:
        for n in sizes:
            row = measure(n, args.repeat, Path(tmp))
            rows.append(row)
            print(
                f"{row['n']:>6}{row['drawn_nodes']:>7}{row['drawn_edges']:>7}"
                + "".join(f"{row[c]:>10.3f}" for c in columns)
            )
    svg_200 = next((row["svg"] for row in rows if row["n"] == 200), None)
    if svg_200 is not None:
        verdict = "met" if svg_200 < TARGET_SVG_200_S else "MISSED"
        print(
            f"target: 200-task flow to SVG under {TARGET_SVG_200_S} s: {svg_200:.3f} s ({verdict})"
        )
    out = HERE / "results" / "plot.json"
    out.parent.mkdir(exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "load_average": os.getloadavg(),
        "dot": subprocess.run(
            ["dot", "-V"], capture_output=True, text=True, check=False
        ).stderr.strip(),
        "repeat": args.repeat,
        "target_svg_200_s": TARGET_SVG_200_S,
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
