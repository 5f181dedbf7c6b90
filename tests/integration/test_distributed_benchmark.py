"""``benchmarks/distributed.py --quick`` on Redis: it runs every case, reports, cleans up.

Checks behaviour, never speed: each case ran every task, the latency and trend figures are
there, the worker subprocesses were stopped and the private Redis database was flushed; for
our Kombu workers and for the Celery shim (``celery -A distbench_shim_app worker``).  The
shim-vs-Selinon table is checked on rows given to it (Selinon 1.4.0 needs a venv of its own).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis
from tests.services import REDIS_URL, require_redis

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "distributed.py"
DB = 14
"""A Redis database no other test uses (the benchmark refuses a non-empty one)."""


@pytest.mark.parametrize("runtime", ["ours", "shim"])
def test_quick_run_on_redis_measures_every_case_and_cleans_up(tmp_path: Path, runtime: str) -> None:
    url = require_redis(REDIS_URL.rsplit("/", 1)[0] + f"/{DB}")
    output = tmp_path / "distributed.json"
    args = ["--quick", "--brokers", "redis", "--runtimes", runtime, "--redis-db", str(DB)]
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
    assert all(row["runtime"] == runtime and row["ok"] for row in rows.values())
    assert report["shim_vs_selinon"] == []  # no Selinon in this run
    assert "workers exited with" not in proc.stderr  # every worker stopped on SIGTERM
    client = redis.Redis.from_url(url)
    try:
        assert client.dbsize() == 0
    finally:
        client.close()


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("distbench_script", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _row(runtime: str, case: str, n: int, **figures: Any) -> dict[str, Any]:
    return {"runtime": runtime, "case": case, "n": n, **figures}


def test_shim_and_selinon_side_by_side_per_broker(capsys: pytest.CaptureFixture[str]) -> None:
    script = _script()
    ratios = {
        "rabbitmq": script.table(
            "rabbitmq",
            [
                _row("shim", "chain", 3, latency_p50_ms=8.0, wall_s=0.02),
                _row("selinon", "chain", 3, latency_p50_ms=2000.0, wall_s=6.0),
                _row("shim", "chain", 10, latency_p50_ms=7.0),
                _row("shim", "fanout", 1000, tasks_per_s=300.0),
                _row("selinon", "fanout", 1000, tasks_per_s=100.0),
            ],
        ),
        "redis": script.table(
            "redis",
            [
                _row("shim", "chain", 3, latency_p50_ms=5.0),
                _row("selinon", "chain", 3, latency_p50_ms=4000.0),
                _row("shim", "fanout", 1000, tasks_per_s=50.0),
                _row("selinon", "fanout", 1000, tasks_per_s=100.0),
            ],
        ),
    }
    rows = script.shim_vs_selinon(ratios)
    found = {(r["broker"], r["case"], r["n"], r["metric"]): r for r in rows}
    assert found["rabbitmq", "chain", 3, "latency_p50_ms"]["shim_vs_selinon"] == 250.0
    assert found["redis", "chain", 3, "latency_p50_ms"]["shim_vs_selinon"] == 800.0
    assert found["rabbitmq", "fanout", 1000, "tasks_per_s"]["shim_vs_selinon"] == 3.0
    assert found["redis", "fanout", 1000, "tasks_per_s"]["shim_vs_selinon"] == 0.5
    assert found["rabbitmq", "chain", 3, "wall_s"]["shim_vs_selinon"] == 300.0
    assert found["redis", "chain", 3, "wall_s"]["shim_vs_selinon"] is None  # Redis lacks it
    assert not any(r["n"] == 10 for r in rows)  # a case Selinon did not run has no ratio
    printed = capsys.readouterr().out
    summary = printed[printed.index("shim vs selinon (ratio") :]
    assert "rabbitmq: shim" in summary
    assert "redis: shim" in summary
    chain_line = next(line for line in summary.splitlines() if "latency_p50_ms" in line)
    assert chain_line.split()[-6:] == [
        *("8.000", "2000.000", "250.000x"),
        *("5.000", "4000.000", "800.000x"),
    ]
