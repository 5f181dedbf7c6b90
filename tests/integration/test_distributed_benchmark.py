"""``benchmarks/distributed.py --quick`` on Redis: it runs every case, reports, cleans up.

Checks behaviour, never speed: each case ran every task, the latency and trend figures are
there, the worker subprocesses were stopped and the private Redis database was flushed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import redis
from tests.services import REDIS_URL, require_redis

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "distributed.py"
DB = 14
"""A Redis database no other test uses (the benchmark refuses a non-empty one)."""


def test_quick_run_on_redis_measures_every_case_and_cleans_up(tmp_path: Path) -> None:
    url = require_redis(REDIS_URL.rsplit("/", 1)[0] + f"/{DB}")
    output = tmp_path / "distributed.json"
    args = ["--quick", "--brokers", "redis", "--runtimes", "ours", "--redis-db", str(DB)]
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(output.read_text())
    rows = {(r["case"], r["n"]): r for r in report["results"]}
    assert set(rows) == {("chain", 10), ("chain", 100), ("fanout", 100), ("fanjoin", 500)}
    assert rows["chain", 10]["tasks"] == 10 * rows["chain", 10]["runs"]
    assert rows["chain", 100]["samples"] == 99 * rows["chain", 100]["runs"]
    assert 0 < rows["chain", 10]["latency_p50_ms"] <= rows["chain", 10]["latency_p99_ms"]
    assert rows["fanout", 100]["tasks"] == 101
    assert rows["fanjoin", 500]["tasks"] == 502
    assert len(rows["fanjoin", 500]["ms_per_1000_completions"]) == 10
    assert all(row["runtime"] == "ours" and row["ok"] for row in rows.values())
    assert "workers exited with" not in proc.stderr  # every worker stopped on SIGTERM
    client = redis.Redis.from_url(url)
    try:
        assert client.dbsize() == 0
    finally:
        client.close()
