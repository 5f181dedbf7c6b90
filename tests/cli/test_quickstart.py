"""The quickstart example loads, lists its queues and runs end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

APP_DIR = ("--app-dir", "examples")  # the example imports its tasks as quickstart.tasks
QUICKSTART = ("-n", "examples/quickstart/nodes.yaml", "-f", "examples/quickstart/flows.yaml")


def test_quickstart_queues(cli: Any) -> None:
    result = cli(*APP_DIR, "inspect", *QUICKSTART, "--list-task-queues", "--list-dispatcher-queues")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "Greet:celery",
        "Shout:quickstart_tasks",
        "greeting:quickstart_dispatcher",
    ]


def test_quickstart_flow_runs(cli: Any, tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    result = cli(
        *APP_DIR,
        "execute",
        *QUICKSTART,
        "--flow-name",
        "greeting",
        "--node-args",
        '{"name": "team"}',
        "--hide-progressbar",
        "--report",
        str(report_path),
    )
    assert result.code == 0, result.err
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["status"] == "succeeded"
    runs = {run["node_name"]: run for run in report["runs"]}
    assert runs["Greet"]["result"] == {"greeting": "Hello, team!", "polite": True}
    assert runs["Shout"]["result"] == {"shout": "HELLO, TEAM!"}
    assert runs["Shout"]["parent"] == {"Greet": runs["Greet"]["node_id"]}
