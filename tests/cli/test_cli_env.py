"""Options from the environment: SELINON_NODES_DEFINITION, SELINON_FLOW_DEFINITIONS and
SELINON_<COMMAND>_<OPTION>."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

NODES = "examples/quickstart/nodes.yaml"
FLOWS = "examples/quickstart/flows.yaml"
TASK_QUEUES = ["Greet:celery", "Shout:quickstart_tasks"]

EXTRA_FLOWS = """
    flow-definitions:
      - name: other
        edges:
          - from:
            to: Greet
"""


@pytest.fixture(autouse=True)
def _examples_app_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """The quickstart imports ``quickstart.tasks``: ``SELINON_APP_DIR`` (``--app-dir``) finds it."""
    monkeypatch.setenv("SELINON_APP_DIR", "examples")


def test_configuration_paths_from_the_environment(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SELINON_NODES_DEFINITION", NODES)
    monkeypatch.setenv("SELINON_FLOW_DEFINITIONS", FLOWS)
    result = cli("inspect", "--list-task-queues")
    assert result.code == 0, result.err
    assert result.out.splitlines() == TASK_QUEUES


def test_command_options_from_the_environment(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELINON_INSPECT_LIST_TASK_QUEUES", "1")
    result = cli("inspect", "-n", NODES, "-f", FLOWS)
    assert result.code == 0, result.err
    assert result.out.splitlines() == TASK_QUEUES


def test_command_line_wins_over_the_environment(
    cli: Any, monkeypatch: pytest.MonkeyPatch, files: Any
) -> None:
    monkeypatch.setenv("SELINON_NODES_DEFINITION", files.write("broken.yaml", "tasks: [\n"))
    result = cli("inspect", "-n", NODES, "-f", FLOWS, "--list-dispatcher-queues")
    assert result.code == 0, result.err
    assert result.out.splitlines() == ["greeting:quickstart_dispatcher"]


@pytest.mark.parametrize("separator", [" ", os.pathsep, f" {os.pathsep} "])
def test_flow_definitions_list_separators(
    cli: Any, monkeypatch: pytest.MonkeyPatch, files: Any, separator: str
) -> None:
    nodes = files.write(
        "nodes.yaml",
        Path(NODES).read_text(encoding="utf-8").replace("  - greeting", "  - greeting\n  - other"),
    )
    extra = files.write("extra.yaml", EXTRA_FLOWS)
    monkeypatch.setenv("SELINON_NODES_DEFINITION", nodes)
    monkeypatch.setenv("SELINON_FLOW_DEFINITIONS", f"{FLOWS}{separator}{extra}")
    result = cli("inspect", "--list-dispatcher-queues")
    assert result.code == 0, result.err
    assert sorted(result.out.splitlines()) == [
        "greeting:quickstart_dispatcher",
        "other:quickstart_dispatcher",
    ]


def test_command_line_paths_are_not_split(cli: Any) -> None:
    joined = f"{FLOWS}{os.pathsep}{FLOWS}"
    result = cli("inspect", "-n", NODES, "-f", joined)
    assert result.code == 2
    assert joined in result.err


def test_global_verbose_from_the_environment(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELINON_VERBOSE", "1")
    result = cli("inspect", "-n", NODES, "-f", FLOWS)
    assert result.code == 0, result.err
    assert "  flow greeting: " in result.out
