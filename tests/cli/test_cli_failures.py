"""Failures you can debug: errors and tracebacks in the report and summary, early path checks,
a clean stdout with ``--report -``, Ctrl-C, grouped import failures and YAML hints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.cli.conftest import ROOT, Cli, Files

TASKS = """
import time
from pathlib import Path
from selinon_core import SelinonTask


class Ok(SelinonTask):
    def run(self, node_args):
        print("Ok prints to stdout")
        return {"ok": True}


class Boom(SelinonTask):
    def run(self, node_args):
        raise RuntimeError("oven broken")


class Rescue(SelinonTask):
    def run(self, node_args):
        return "rescued"


class Sleepy(SelinonTask):
    def run(self, node_args):
        Path(node_args["marker"]).write_text("started")
        time.sleep(60)
"""

NODES = """
tasks:
  - {name: Ok, import: clitasks, storage: Memory}
  - {name: Boom, import: clitasks}
  - {name: Rescue, import: clitasks}
  - {name: Sleepy, import: clitasks}
storages:
  - name: Memory
    import: selinon_backends.storage.memory
    classname: InMemoryStorage
    configuration: {echo: true}
flows: [boom, rescued, sleepy, ok]
global:
  trace:
    logging: true
"""

FLOWS = """
flow-definitions:
  - name: boom
    edges:
      - {from: [], to: Boom}
  - name: rescued
    edges:
      - {from: [], to: Boom}
    failures:
      - {nodes: Boom, fallback: Rescue}
  - name: sleepy
    edges:
      - {from: [], to: Ok}
      - {from: Ok, to: Sleepy}
  - name: ok
    edges:
      - {from: [], to: Ok}
"""


@pytest.fixture
def project(files: Files) -> list[str]:
    """The global options and ``-n``/``-f`` of a small project with failing tasks."""
    files.write("clitasks.py", TASKS)
    nodes = files.write("nodes.yaml", NODES)
    flows = files.write("flows.yaml", FLOWS)
    return ["--app-dir", str(files.root), "execute", "-n", nodes, "-f", flows]


def _split(project: list[str]) -> tuple[list[str], list[str]]:
    return project[:2], project[2:]


def test_failed_task_has_error_and_traceback_in_the_report(cli: Cli, project: list[str]) -> None:
    result = cli(*project, "--flow-name", "boom", "--report", "-")
    assert result.code == 1
    report = json.loads(result.out)
    (boom,) = report["runs"]
    assert boom["status"] == "failed"
    assert boom["error"] == "RuntimeError: oven broken"
    assert boom["traceback"].startswith("Traceback (most recent call last)")
    assert 'raise RuntimeError("oven broken")' in boom["traceback"]


def test_summary_shows_tracebacks_only_with_verbose(cli: Cli, project: list[str]) -> None:
    quiet = cli(*project, "--flow-name", "boom")
    assert "task 'Boom'" in quiet.err
    assert "RuntimeError: oven broken" in quiet.err
    assert "Traceback" not in quiet.err
    assert "run with -v" in quiet.err
    head, tail = _split(project)
    verbose = cli("-v", *head, *tail, "--flow-name", "boom")
    assert "    | Traceback (most recent call last)" in verbose.err
    assert 'raise RuntimeError("oven broken")' in verbose.err


def test_summary_names_the_fallback_that_handled_a_failure(cli: Cli, project: list[str]) -> None:
    result = cli(*project, "--flow-name", "rescued", "--report", "-")
    assert result.code == 0
    assert "[handled by fallback: Rescue (flow-1.1)]" in result.err
    report = json.loads(result.out)
    assert [(r["node_name"], r["status"]) for r in report["runs"]] == [
        ("Boom", "failed"),
        ("Rescue", "succeeded"),
    ]


def test_succeeded_nodes_report_null_error(cli: Cli, project: list[str]) -> None:
    result = cli(*project, "--flow-name", "ok", "--report", "-")
    (ok,) = json.loads(result.out)["runs"]
    assert ok["error"] is None
    assert ok["traceback"] is None


def test_report_on_stdout_stays_clean_with_trace_logging_and_echo(project: list[str]) -> None:
    """stdout carries the report alone: trace logging, storage echo and task prints go to stderr."""
    command = [sys.executable, "-m", "selinon_backends.cli", *project]
    command += ["--flow-name", "ok", "--report", "-"]
    shell = " ".join(f"'{part}'" for part in command) + f" | '{sys.executable}' -m json.tool"
    done = subprocess.run(
        shell, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "succeeded"
    assert "Ok prints to stdout" in done.stderr
    assert "InMemoryStorage" in done.stderr  # the echo of the stored result
    assert "TASK_START" in done.stderr or "task_start" in done.stderr.lower()


@pytest.mark.parametrize(
    ("target", "problem"),
    [("missing-dir/report.json", "does not exist"), (".", "is a directory")],
)
def test_report_path_is_checked_before_the_flow_runs(
    cli: Cli, project: list[str], tmp_path: Path, target: str, problem: str
) -> None:
    result = cli(*project, "--flow-name", "ok", "--report", str(tmp_path / target))
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert problem in result.err
    assert "Traceback" not in result.err
    assert "Flow 'ok'" not in result.err  # nothing ran


def test_dump_path_is_checked_before_loading(cli: Cli, tmp_path: Path) -> None:
    result = cli("inspect", "-n", "does-not-matter.yaml", "--dump", str(tmp_path / "no" / "x"))
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "does not exist" in result.err


def test_ctrl_c_writes_the_report_so_far_and_exits_130(project: list[str], tmp_path: Path) -> None:
    marker = tmp_path / "started"
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "selinon_backends.cli", *project, "--flow-name", "sleepy"]
    command += ["--node-args", json.dumps({"marker": str(marker)}), "--report", str(report)]
    proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # up to 30 s for the task to start
            if marker.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert marker.exists(), "the task never started"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 130
    lines = [line for line in err.splitlines() if not line.startswith(("time=", "event="))]
    assert [line for line in lines if "Interrupted" in line] == lines[-1:]
    assert "Traceback" not in err
    written = json.loads(report.read_text(encoding="utf-8"))
    assert written["status"] == "interrupted"
    assert [(r["node_name"], r["status"]) for r in written["runs"]] == [
        ("Ok", "succeeded"),
        ("Sleepy", "running"),
    ]


def test_unimportable_module_is_reported_once_with_a_hint(cli: Cli, files: Files) -> None:
    tasks = "\n".join(f"  - {{name: T{i}, import: nosuchpkg.tasks}}" for i in range(8))
    nodes = files.write("nodes.yaml", f"tasks:\n{tasks}\nflows: [f]\n")
    flows = files.write(
        "flows.yaml", "flow-definitions:\n  - {name: f, edges: [{from: [], to: T0}]}\n"
    )
    result = cli("inspect", "-n", nodes, "-f", flows)
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) == 2, result.err
    assert "cannot import module 'nosuchpkg.tasks'" in lines[0]
    assert "No module named 'nosuchpkg'" in lines[0]
    assert "task 'T0', task 'T1'" in lines[0]
    assert "and 2 more" in lines[0]
    assert "--app-dir" in lines[0]
    assert "PYTHONPATH" in lines[0]
    assert lines[1] == "Configuration is invalid: 1 error."


def test_empty_to_gets_a_yaml_indentation_hint(cli: Cli, files: Files) -> None:
    nodes = files.write("nodes.yaml", "tasks:\n  - {name: A, import: m}\nflows: [f]\n")
    flows = files.write(
        "flows.yaml",
        """
        flow-definitions:
          - name: f
            edges:
              - from:
                to:
              - A
        """,
    )
    result = cli("inspect", "--no-check-imports", "-n", nodes, "-f", flows)
    assert result.code == 2
    line = next(line for line in result.err.splitlines() if "'to' must not be empty" in line)
    assert "indent the '- name' items under 'to:'" in line


def test_unknown_flow_suggests_a_close_name(cli: Cli, project: list[str]) -> None:
    result = cli(*project, "--flow-name", "rescue")
    assert result.code == 2
    assert "did you mean 'rescued'?" in result.err


def test_selinon_execute_flags_are_accepted(cli: Cli, project: list[str]) -> None:
    result = cli(
        *project,
        "--flow-name",
        "ok",
        "-j",
        "-s",
        "0.5",
        "--config-py",
        "/nonexistent/config.py",
        "--keep-config-py",
        "--report",
        "-",
    )
    assert result.code == 0, result.err
    assert json.loads(result.out)["status"] == "succeeded"


def test_selinon_global_and_inspect_flags_are_accepted(
    cli: Cli, files: Files, tmp_path: Path
) -> None:
    nodes, flows = "examples/quickstart/nodes.yaml", "examples/quickstart/flows.yaml"
    dump = tmp_path / "dump.json"
    result = cli(
        "-vv", "--no-color", "inspect", "--no-check", "-n", nodes, "-f", flows, "-d", str(dump)
    )
    assert result.code == 0, result.err
    assert "flows" in json.loads(dump.read_text(encoding="utf-8"))
    assert "  flow greeting: " in result.out  # -vv counts as verbose


def test_help_has_no_bool_metavars_or_odd_env_names(cli: Cli) -> None:
    for args in (["--help"], ["execute", "--help"], ["inspect", "--help"]):
        text = cli(*args).out
        assert "<bool>" not in text
        assert "SELINON__" not in text
        assert "…" not in text
    assert "-v, --verbose" in cli("--help").out
    assert "SELINON_EXECUTE_SELECTIVE_FOLLOW_SUBFLOWS" in cli("execute", "--help").out.replace(
        "\n", ""
    ).replace(" ", "")


def test_no_color_environment_is_respected(
    cli: Cli, project: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(os.environ, "NO_COLOR", "1")
    assert cli(*project, "--flow-name", "ok").code == 0
