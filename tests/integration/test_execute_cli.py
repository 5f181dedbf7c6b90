"""``selinon-cli execute`` end to end: the examples, their reports, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from selinon_backends.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
HERE = Path(__file__).resolve().parent


def execute(example: str, flow: str, *args: str, app_dir: Path = EXAMPLES) -> tuple[int, Any, str]:
    """Run execute on an example with ``--report -``; return (exit code, report, stderr)."""
    base = EXAMPLES / example
    argv = [
        "--app-dir",
        str(app_dir),
        "execute",
        "-n",
        str(base / "nodes.yaml"),
        "-f",
        str(base / "flows"),
        "--flow-name",
        flow,
        "--hide-progressbar",
        "--report",
        "-",
        *args,
    ]
    result = CliRunner().invoke(app, argv)
    report = json.loads(result.stdout) if result.stdout.strip() else None
    return result.exit_code, report, result.stderr


def runs(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(r["flow_name"], r["node_name"], r["status"]) for r in report["runs"]]


def test_dinner_happy_path() -> None:
    code, report, err = execute(
        "dinner", "dinnerFlow", "--node-args", '{"guests": 3, "romantic": true}'
    )
    assert code == 0, err
    assert report["status"] == "succeeded"
    assert report["node_args"] == {"guests": 3, "romantic": True}
    assert runs(report) == [
        ("dinnerFlow", "buyIngredientsFlow", "succeeded"),
        ("buyIngredientsFlow", "BuyEggs", "succeeded"),
        ("buyIngredientsFlow", "BuyFlour", "succeeded"),
        ("buyIngredientsFlow", "BuyMilk", "succeeded"),
        ("buyIngredientsFlow", "BuyFlower", "succeeded"),
        ("dinnerFlow", "prepareFlow", "succeeded"),
        ("prepareFlow", "CheckRecipe", "succeeded"),
        ("prepareFlow", "WarmUpOven", "succeeded"),
        ("prepareFlow", "MakeDough", "succeeded"),
        ("prepareFlow", "Bake", "succeeded"),
        ("dinnerFlow", "serveDinnerFlow", "succeeded"),
        ("serveDinnerFlow", "ServePlate", "succeeded"),
        ("serveDinnerFlow", "ServePlate", "succeeded"),
        ("serveDinnerFlow", "ServePlate", "succeeded"),
    ]
    bake = report["runs"][9]
    assert bake["result"] == {"baked": "eggs+flour"}
    assert set(bake["parent"]) == {"WarmUpOven", "MakeDough"}
    assert report["runs"][0]["kind"] == "flow"
    assert set(report) == {"flow_name", "flow_id", "status", "node_args", "duration_s", "runs"}
    assert set(report["runs"][0]) == {
        "flow_name", "flow_id", "node_name", "node_id", "kind", "status",
        "parent", "node_args", "result", "retries", "error", "traceback",
    }  # fmt: skip
    assert "succeeded" in err


def test_dinner_without_romance_skips_the_flower() -> None:
    code, report, _ = execute("dinner", "dinnerFlow", "--node-args", '{"guests": 1}')
    assert code == 0
    assert "BuyFlower" not in [r["node_name"] for r in report["runs"]]


def test_dinner_fallback_orders_pizza_and_beer() -> None:
    code, report, _ = execute(
        "dinner",
        "dinnerFlow",
        "--node-args",
        '{"guests": 2, "oven_broken": true}',
        "--fast-forward",
    )
    assert code == 0
    by_name = {r["node_name"]: r for r in report["runs"]}
    assert by_name["WarmUpOven"]["status"] == "failed"
    assert by_name["WarmUpOven"]["retries"] == 1
    assert by_name["prepareFlow"]["status"] == "failed"
    assert [r[1] for r in runs(report)][-4:] == [
        "pizzaAndBeerFlow",
        "OrderPizza",
        "OrderBeer",
        "CoolBeer",
    ]
    assert by_name["CoolBeer"]["result"] == {"beer": "cold"}
    assert "serveDinnerFlow" not in by_name


def test_failed_flow_exits_1() -> None:
    code, report, err = execute("dinner", "buyIngredientsFlow", "--node-args", '{"no_flour": true}')
    assert code == 1
    assert report["status"] == "failed"
    assert ("buyIngredientsFlow", "BuyFlour", "failed") in runs(report)
    assert "failed" in err
    assert "task 'BuyFlour'" in err
    assert "RuntimeError: the shop ran out of flour" in err


def test_cyclic_example() -> None:
    code, report, _ = execute("cyclic", "cyclicFlow")
    assert code == 0
    counts: dict[str, int] = {}
    for run in report["runs"]:
        counts[run["node_name"]] = counts.get(run["node_name"], 0) + 1
    assert counts == {"Task1": 2, "Task2": 2, "Task3": 2, "Task4": 4}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--selective-task-names", "Parse"], ["Fetch", "Parse"]),
        (
            ["--selective-task-names", "Parse", "--selective-run-subsequent"],
            ["Fetch", "Parse", "Index", "Notify"],
        ),
        (
            ["--selective-task-names", "Enrich", "--selective-follow-subflows"],
            ["Fetch", "enrichFlow", "Enrich"],
        ),
        (["--selective-task-names", "Parse,Thumbnail"], ["Fetch", "Parse", "Thumbnail"]),
    ],
)
def test_selective_example(extra: list[str], expected: list[str]) -> None:
    code, report, _ = execute(
        "selective", "pageFlow", "--node-args", '{"url": "https://x.test"}', *extra
    )
    assert code == 0
    assert [r["node_name"] for r in report["runs"]] == expected


def test_node_args_file_and_report_file(tmp_path: Path) -> None:
    args = tmp_path / "args.json"
    args.write_text('{"guests": 2}')
    out = tmp_path / "report.json"
    base = EXAMPLES / "dinner"
    result = CliRunner().invoke(
        app,
        ["--app-dir", str(EXAMPLES), "execute", "-n", str(base / "nodes.yaml"), "-f",
         str(base / "flows"), "--flow-name", "serveDinnerFlow", "--node-args-file", str(args),
         "--report", str(out), "-c", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads(out.read_text())
    assert [r["node_name"] for r in report["runs"]] == ["ServePlate", "ServePlate"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--node-args", "{guests: 2}"], "not valid JSON"),
        (["--node-args", "plain"], "--node-args '\"text\"'"),
        (["--node-args", "1", "--node-args-file", "x.json"], "not both"),
        (["--selective-run-subsequent"], "need --selective-task-names"),
        (["--selective-task-names", " , "], "no task name"),
        (["--selective-task-names", "NoSuchTask"], "no task or flow is named 'NoSuchTask'"),
        (["--selective-task-names", "BakeX"], "did you mean 'Bake'?"),
        (["--selective-task-names", "OrderPizza"], "No path to node 'OrderPizza'"),
        (["--node-args-file", "/nonexistent/args.json"], "cannot read"),
    ],
)
def test_bad_usage_exits_2_with_a_message(args: list[str], message: str) -> None:
    code, report, err = execute("dinner", "dinnerFlow", *args)
    assert code == 2
    assert report is None
    assert message in err
    assert "Traceback" not in err


def test_unknown_flow_lists_the_flows() -> None:
    code, _, err = execute("dinner", "lunchFlow")
    assert code == 2
    assert "unknown flow 'lunchFlow'" in err
    assert "dinnerFlow" in err


def test_missing_options_exit_2() -> None:
    result = CliRunner().invoke(
        app, ["execute", "--flow-name", "x"], env={"SELINON_NODES_DEFINITION": ""}
    )
    assert result.exit_code == 2
    assert "nodes-definition" in result.stderr


def test_unimportable_task_class_is_an_invalid_configuration(tmp_path: Path) -> None:
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(
        "tasks:\n  - name: Ghost\n    import: no_such_module_here\n"
        "flows: [flow1]\n"
        "flow-definitions:\n  - name: flow1\n    edges:\n      - from: []\n        to: Ghost\n"
    )
    result = CliRunner().invoke(app, ["execute", "-n", str(nodes), "--flow-name", "flow1"])
    assert result.exit_code == 2
    assert "no_such_module_here" in result.stderr


def test_environment_variables_name_the_configuration() -> None:
    base = EXAMPLES / "cyclic"
    env = {
        **os.environ,
        "SELINON_NODES_DEFINITION": str(base / "nodes.yaml"),
        "SELINON_FLOW_DEFINITIONS": str(base / "flows"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "selinon_backends.cli", "--app-dir", str(EXAMPLES), "execute",
         "--flow-name", "cyclicFlow", "--report", "-"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "succeeded"
