"""How fast the dashboard lists flows when a state store holds many finished ones.

Run:  python benchmarks/dashboard.py [--flows 10000] [--only memory,redis,postgresql]

Each store gets ``--flows`` flows saved as the shell saves them (a create, then the
finishing save: three in four succeed, one fails; names ``alpha``/``beta``/``gamma``), plus
a few running ones.  Then it times, as the median of ``--repeat`` calls: the first page
(50 flows), the last page, a page of one status and name, a count; and, for the memory store,
the whole flows page rendered by the dashboard through Starlette's test client.  It also
reports the extra cost the listing index adds to the saves (create + finish) by timing the
populating saves.

Results are printed and written to ``benchmarks/results/dashboard.json``.  Unreachable
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
sys.path.insert(0, str(ROOT / "src"))

from selinon_backends.state.memory import MemoryStateStore  # noqa: E402
from selinon_core.dispatch.state import FlowState  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/0"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
NAMES = ("alpha", "beta", "gamma")
PAGE = 50


@contextmanager
def memory() -> Iterator[Any]:
    yield MemoryStateStore(retention=1_000_000)


@contextmanager
def redis_store() -> Iterator[Any]:
    import redis

    from selinon_backends.state.redis import RedisStateStore

    prefix = f"bench-dash-{uuid.uuid4().hex[:8]}"
    store = RedisStateStore(url=REDIS_URL, prefix=prefix)
    try:
        yield store
    finally:
        store.close()
        admin = redis.Redis.from_url(REDIS_URL)
        keys = list(admin.scan_iter(match=f"{prefix}:*", count=5000))
        for start in range(0, len(keys), 5000):
            admin.delete(*keys[start : start + 5000])
        admin.close()


@contextmanager
def postgres_store() -> Iterator[Any]:
    from selinon_backends.state.postgresql import PostgresStateStore

    store = PostgresStateStore(dsn=PG_DSN, table_prefix=f"bench_dash_{uuid.uuid4().hex[:8]}")
    try:
        yield store
    finally:
        store.drop_tables()
        store.close()


STORES: dict[str, Callable[[], Any]] = {
    "memory": memory,
    "redis": redis_store,
    "postgresql": postgres_store,
}


def populate(store: Any, count: int) -> float:
    """Save ``count`` finished flows and 10 running ones; seconds per finished flow."""
    started = time.perf_counter()
    for index in range(count):
        state = FlowState(f"f{index:06d}", NAMES[index % 3], version=1)
        store.save(state=state, expected_version=None, outbox=())
        status = "failed" if index % 4 == 3 else "succeeded"
        final = FlowState(state.flow_id, state.flow_name, version=2, status=status, seq=3)
        store.save(state=final, expected_version=1, outbox=())
    spent = time.perf_counter() - started
    for index in range(10):
        running = FlowState(f"r{index:03d}", "alpha", version=1)
        store.save(state=running, expected_version=None, outbox=())
    return spent / count


def median_ms(call: Callable[[], Any], repeat: int) -> float:
    """Median milliseconds of ``call`` over ``repeat`` runs (after one warm-up)."""
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 3)


def page_render_ms(store: Any, repeat: int) -> float | None:
    """Median ms of ``GET /`` on a dashboard over ``store`` (memory only: same process)."""
    try:
        from starlette.testclient import TestClient
    except ImportError:
        return None
    from selinon_backends.dashboard import create_app
    from selinon_backends.distributed.backends import Backends
    from selinon_backends.distributed.delays import MemoryDelayStore
    from selinon_backends.distributed.journal import MemoryJournal
    from selinon_backends.runtime.slots import MemorySlotStore

    backends = Backends(
        "memory://bench", store, MemorySlotStore(), MemoryJournal(), MemoryDelayStore()
    )
    web = TestClient(create_app(None, backends))
    return median_ms(lambda: web.get("/?status=failed&name=beta"), repeat)


def bench(name: str, count: int, repeat: int) -> dict[str, Any]:
    try:
        with STORES[name]() as store:
            save_us = populate(store, count) * 1e6
            total = count + 10
            last = ((total - 1) // PAGE) * PAGE
            row: dict[str, Any] = {
                "store": name,
                "flows": total,
                "save_create_and_finish_us": round(save_us, 1),
                "first_page_ms": median_ms(lambda: store.list_flows(limit=PAGE), repeat),
                "last_page_ms": median_ms(
                    lambda: store.list_flows(offset=last, limit=PAGE), repeat
                ),
                "status_and_name_page_ms": median_ms(
                    lambda: store.list_flows(status="failed", flow_name="beta", limit=PAGE),
                    repeat,
                ),
                "count_ms": median_ms(lambda: store.count_flows(status="succeeded"), repeat),
            }
            if name == "memory":
                row["flows_page_http_ms"] = page_render_ms(store, repeat)
            return row
    except Exception as exc:  # an unreachable service is reported, not fatal
        return {"store": name, "flows": count, "skipped": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table and write ``benchmarks/results/dashboard.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--only", default=",".join(STORES), help="comma-separated stores")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/dashboard.json")
    args = parser.parse_args(argv)
    rows = [bench(name, args.flows, args.repeat) for name in args.only.split(",")]
    for row in rows:
        if "skipped" in row:
            print(f"{row['store']:<11} skipped: {row['skipped']}")
            continue
        http = row.get("flows_page_http_ms")
        print(
            f"{row['store']:<11} {row['flows']:>6} flows"
            f"  first page {row['first_page_ms']:>7.2f} ms"
            f"  last page {row['last_page_ms']:>7.2f} ms"
            f"  failed+name {row['status_and_name_page_ms']:>7.2f} ms"
            f"  count {row['count_ms']:>6.2f} ms"
            f"  save (create+finish) {row['save_create_and_finish_us']:>7.1f} µs"
            + (f"  GET / {http:.2f} ms" if http is not None else "")
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "dashboard listing of flows (list_flows / count_flows) per state store",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "page_size": PAGE,
        "results": rows,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
