"""Per-event cost of the flow-state stores as a flow grows: load + save + mark published.

Run:  python benchmarks/state_stores.py [--sizes 10 1000 10000] [--only redis,postgresql]

A real ``Dispatcher`` runs a foreach of N trivial tasks (``A`` -> N x ``B``, then ``D``)
with scripted task results; every event goes through the store as the dispatch shell does it:
``load``, ``Dispatcher.step``, ``save`` (compare-and-set, with the outbox), ``mark_published``.
Only the store calls are timed, after a warm-up flow on the same store (connections, tables
and scripts are ready).  For each store and size it prints µs per event: the mean over
all events, the mean over the last tenth (the flow at its largest) and the p99.  Flat figures
across sizes mean the per-event cost does not grow with the flow.

``<store>-nocache`` rows run the same store with its cache disabled (``cache_size=0``): every
save then writes a full snapshot and every load reads one, i.e. what a store without deltas
would cost.  They run only for the sizes up to ``--nocache-max`` nodes.

Results are printed and written to ``benchmarks/results/state_stores.json``.  Unreachable
services are reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from selinon_backends.state.memory import MemoryStateStore  # noqa: E402
from selinon_core.config.loader import load_system_from_texts  # noqa: E402
from selinon_core.dispatch.dispatcher import Dispatcher  # noqa: E402
from selinon_core.testing import Simulation  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/0"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"

NODES = """
tasks:
  - {name: A, import: bench.tasks}
  - {name: B, import: bench.tasks}
  - {name: D, import: bench.tasks}
flows: [fan]
"""

FLOWS = """
flow-definitions:
  - name: fan
    edges:
      - {from: , to: A}
      - from: A
        to: B
        foreach: {import: benchmarks.state_stores, function: branches}
      - {from: A, to: D}
"""


def branches(storage_pool: Any, node_args: Any) -> range:
    """Foreach function: ``range(node_args["n"])``."""
    del storage_pool
    return range(node_args["n"])


@contextmanager
def memory(**options: Any) -> Iterator[Any]:
    yield MemoryStateStore(**options)


@contextmanager
def redis_store(**options: Any) -> Iterator[Any]:
    import redis

    from selinon_backends.state.redis import RedisStateStore

    prefix = f"bench-state-{uuid.uuid4().hex[:8]}"
    store = RedisStateStore(url=REDIS_URL, prefix=prefix, **options)
    try:
        yield store
    finally:
        store.close()
        admin = redis.Redis.from_url(REDIS_URL)
        keys = list(admin.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            admin.delete(*keys)
        admin.close()


@contextmanager
def postgres_store(**options: Any) -> Iterator[Any]:
    from selinon_backends.state.postgresql import PostgresStateStore

    prefix = f"bench_state_{uuid.uuid4().hex[:8]}"
    store = PostgresStateStore(dsn=PG_DSN, table_prefix=prefix, **options)
    try:
        yield store
    finally:
        store.drop_tables()
        store.close()


STORES: dict[str, Callable[..., Any]] = {
    "memory": memory,
    "redis": redis_store,
    "postgresql": postgres_store,
}


def run_flow(dispatcher: Dispatcher, store: Any, size: int) -> list[float]:
    """Run the foreach of ``size`` through ``store``; seconds of store calls per event."""
    sim = Simulation(dispatcher)
    sim.request("fan", {"n": size}, flow_id=f"bench-{uuid.uuid4().hex[:8]}")
    costs: list[float] = []
    clock = time.perf_counter
    for _ in range(size * 2 + 100):
        if not sim.pending:
            return costs
        flow_id = sim.pending[0].flow_id
        started = clock()
        stored = store.load(flow_id=flow_id)
        spent = clock() - started
        loaded = None if stored is None else stored.state
        if loaded is not None:
            sim.states[flow_id] = loaded
        step = sim.deliver()
        if step.state is not loaded:
            started = clock()
            expected = None if loaded is None else loaded.version
            store.save(state=step.state, expected_version=expected, outbox=step.actions)
            store.mark_published(flow_id=flow_id, version=step.state.version)
            spent += clock() - started
        costs.append(spent)
    raise RuntimeError("the flow did not finish")


def bench(name: str, size: int, dispatcher: Dispatcher, **options: Any) -> dict[str, Any]:
    label = name + ("-nocache" if options.get("cache_size") == 0 else "")
    try:
        with STORES[name](**options) as store:
            run_flow(dispatcher, store, 3)  # warm up: connections, tables, scripts
            costs = run_flow(dispatcher, store, size)
    except Exception as exc:  # an unreachable service is reported, not fatal
        return {"store": label, "nodes": size, "skipped": f"{type(exc).__name__}: {exc}"}
    tail = costs[-max(1, len(costs) // 10) :]
    ordered = sorted(costs)
    return {
        "store": label,
        "nodes": size,
        "events": len(costs),
        "us_per_event": round(statistics.fmean(costs) * 1e6, 1),
        "us_per_event_last_tenth": round(statistics.fmean(tail) * 1e6, 1),
        "p50_us": round(ordered[len(ordered) // 2] * 1e6, 1),
        "p99_us": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6, 1),
        "max_us": round(ordered[-1] * 1e6, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table and write ``benchmarks/results/state_stores.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000, 10000])
    parser.add_argument("--only", default=",".join(STORES), help="comma-separated stores")
    parser.add_argument("--nocache-max", type=int, default=1000)
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks/results/state_stores.json"
    )
    args = parser.parse_args(argv)
    dispatcher = Dispatcher(load_system_from_texts(NODES, [FLOWS], check_imports=False))
    rows = []
    for name in args.only.split(","):
        for size in args.sizes:
            rows.append(bench(name, size, dispatcher))
        if name != "memory":
            for size in args.sizes:
                if size <= args.nocache_max:
                    rows.append(bench(name, size, dispatcher, cache_size=0))
    for row in rows:
        if "skipped" in row:
            print(f"{row['store']:<20} {row['nodes']:>6} nodes  skipped: {row['skipped']}")
        else:
            print(
                f"{row['store']:<20} {row['nodes']:>6} nodes {row['events']:>6} events  "
                f"{row['us_per_event']:>9.1f} µs/event (last tenth "
                f"{row['us_per_event_last_tenth']:>9.1f}, p50 {row['p50_us']:>8.1f}, "
                f"p99 {row['p99_us']:>9.1f})"
            )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "flow-state store cost per event (load + save + mark_published)",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "results": rows,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
