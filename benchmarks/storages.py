"""Store+retrieve round trips per second for every storage adapter, on loopback.

Run:  python benchmarks/storages.py [--rounds N] [--threads T] [--only redis,postgresql]

Each round trip is one ``store`` of a small JSON result followed by one ``retrieve`` of it,
through one connected adapter (its connection pool is reused: no connection per call).
After each run the number of server connections the adapter holds is read back from the
server (Redis ``CLIENT LIST``, PostgreSQL ``pg_stat_activity``) and reported.  Results are
printed and written to ``benchmarks/results/storages.json``.  Services that are unreachable
are reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from selinon_backends.storage.filesystem import Filesystem  # noqa: E402
from selinon_backends.storage.memory import InMemoryStorage  # noqa: E402
from selinon_core.datastorage import DataStorage  # noqa: E402

RESULT = {"status": "ok", "values": list(range(20)), "name": "benchmark ✓"}
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
Factory = Callable[[], Iterator[tuple[DataStorage, Callable[[], int | None]]]]


@contextmanager
def memory(json_mode: bool) -> Iterator[tuple[DataStorage, Callable[[], int | None]]]:
    yield InMemoryStorage(json=json_mode), lambda: None


@contextmanager
def filesystem() -> Iterator[tuple[DataStorage, Callable[[], int | None]]]:
    with tempfile.TemporaryDirectory() as path:
        yield Filesystem(path=path), lambda: None


@contextmanager
def redis_storage() -> Iterator[tuple[DataStorage, Callable[[], int | None]]]:
    import redis

    from selinon_backends.storage.redis import Redis

    name, prefix = f"bench-{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}"
    admin = redis.Redis(host="127.0.0.1", port=6379)

    def connections() -> int:
        return sum(1 for c in admin.client_list() if c.get("name") == name)

    try:
        yield Redis("127.0.0.1", key_prefix=prefix, client_name=name), connections
    finally:
        keys = list(admin.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            admin.delete(*keys)
        admin.close()


@contextmanager
def postgresql() -> Iterator[tuple[DataStorage, Callable[[], int | None]]]:
    import psycopg

    from selinon_backends.storage.postgresql import PostgreSQL

    table, app = f"bench_{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}"

    def connections() -> int:
        with psycopg.connect(PG_DSN) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (app,)
            ).fetchone()
        return int(row[0]) if row else 0

    try:
        yield PostgreSQL(PG_DSN, table=table, application_name=app, pool_max_size=8), connections
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP TABLE IF EXISTS "{table}", "{table}_error"')


@contextmanager
def s3() -> Iterator[tuple[DataStorage, Callable[[], int | None]]]:
    from tests.contract._moto import moto_s3_options
    from tests.services import moto_s3_server

    from selinon_backends.storage.s3 import S3

    with moto_s3_server() as server:
        yield S3("bench", **moto_s3_options(server), create_bucket=True), lambda: None


ADAPTERS: dict[str, tuple[Callable[[], Any], int]] = {
    "memory": (lambda: memory(False), 20_000),
    "memory-json": (lambda: memory(True), 20_000),
    "filesystem": (filesystem, 2_000),
    "redis": (redis_storage, 2_000),
    "postgresql": (postgresql, 1_000),
    "s3": (s3, 200),
}


def round_trips(storage: DataStorage, rounds: int, threads: int) -> float:
    """Round trips per second over ``rounds`` store+retrieve pairs split across ``threads``."""
    per_thread = max(1, rounds // threads)

    def work(worker: int) -> None:
        for i in range(per_thread):
            task_id = f"t{worker}-{i}"
            storage.store(None, "bench_flow", "BenchTask", task_id, RESULT)
            if storage.retrieve("bench_flow", "BenchTask", task_id) != RESULT:
                raise AssertionError("round trip changed the result")

    started = time.perf_counter()
    if threads == 1:
        work(0)
    else:
        pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
    elapsed = time.perf_counter() - started
    return per_thread * threads / elapsed


def bench_one(name: str, rounds: int, threads: int) -> dict[str, Any]:
    factory, default_rounds = ADAPTERS[name]
    rounds = rounds or default_rounds
    try:
        with factory() as (storage, connections), storage:
            storage.store(None, "bench_flow", "BenchTask", "warm-up", RESULT)
            rate = round_trips(storage, rounds, threads)
            held = connections()
    except Exception as exc:  # an unreachable service is reported, not fatal
        return {"adapter": name, "skipped": f"{type(exc).__name__}: {exc}"}
    return {
        "adapter": name,
        "threads": threads,
        "round_trips": rounds,
        "round_trips_per_s": round(rate, 1),
        "server_connections_after": held,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table and write ``benchmarks/results/storages.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=0, help="round trips per adapter")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--only", default=",".join(ADAPTERS), help="comma-separated adapters")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/storages.json")
    args = parser.parse_args(argv)
    rows = [
        bench_one(name, args.rounds, threads)
        for name in args.only.split(",")
        for threads in args.threads
    ]
    for row in rows:
        if "skipped" in row:
            print(f"{row['adapter']:<12} skipped: {row['skipped']}")
        else:
            print(
                f"{row['adapter']:<12} threads={row['threads']:<2} "
                f"{row['round_trips_per_s']:>10.1f} round trips/s "
                f"(connections held: {row['server_connections_after']})"
            )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "storage store+retrieve round trips",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": __import__("os").cpu_count(),
        "results": rows,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
