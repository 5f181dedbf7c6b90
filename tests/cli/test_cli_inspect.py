"""``selinon-cli inspect``: summaries, error listings, queue lists, dumps and the schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
from ruamel.yaml import YAML

APP_DIR = ("--app-dir", "examples")  # the quickstart imports its tasks as quickstart.tasks
QUICKSTART = ("-n", "examples/quickstart/nodes.yaml", "-f", "examples/quickstart/flows.yaml")

NODES = """
    tasks:
      - name: Fetch
        import: no_such_package.tasks
        storage: Store
      - name: Parse
        import: no_such_package.tasks
        queue: parsing
    storages:
      - name: Store
        import: selinon.storages.memory
        classname: InMemoryStorage
        configuration:
          echo: false
    flows:
      - main
    global:
      default_task_queue: fetching
      default_dispatcher_queue: dispatch
"""

FLOWS = """
    flow-definitions:
      - name: main
        edges:
          - from:
            to: Fetch
          - from: Fetch
            to: Parse
"""

# Two independent mistakes, one per file: an unknown storage and an unknown edge target.
BAD_NODES = NODES.replace("storage: Store", "storage: Stor")
BAD_FLOWS = FLOWS.replace("to: Parse", "to: Prase")

PROBLEM_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")


@pytest.fixture
def config(files: Any) -> tuple[str, str]:
    """A valid configuration whose task module does not exist (use --no-check-imports)."""
    return files.write("nodes.yaml", NODES), files.write("flows.yaml", FLOWS)


def test_valid_configuration_prints_a_summary(cli: Any) -> None:
    result = cli(*APP_DIR, "inspect", *QUICKSTART)
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "Configuration is valid (examples/quickstart/nodes.yaml, examples/quickstart/flows.yaml).",
        "  tasks:    2",
        "  flows:    1",
        "  storages: 1",
        "  edges:    2",
        "  warnings: 0",
    ]
    assert result.err == ""


def test_verbose_adds_a_line_per_flow(cli: Any) -> None:
    result = cli("-v", *APP_DIR, "inspect", *QUICKSTART)
    assert result.code == 0, result.err
    assert "  flow greeting: 2 edges, 0 failures, queue quickstart_dispatcher" in result.out


def test_invalid_configuration_lists_every_problem_with_location(cli: Any, files: Any) -> None:
    nodes = files.write("nodes.yaml", BAD_NODES)
    flows = files.write("flows.yaml", BAD_FLOWS)
    result = cli("inspect", "-n", nodes, "-f", flows, "--no-check-imports")
    assert result.code == 2
    assert result.out == ""
    *listing, last = result.err.splitlines()
    assert last == f"Configuration is invalid: {len(listing)} errors."
    assert "Traceback" not in result.err
    parsed = [PROBLEM_LINE.match(line) for line in listing]
    assert all(parsed), listing
    by_name = {
        name: next(m for m in parsed if m and repr(name) in m["message"])
        for name in ("Stor", "Prase")
    }
    assert by_name["Stor"]["file"] == nodes
    assert int(by_name["Stor"]["line"]) == files.line_of(nodes, "storage: Stor")
    assert "did you mean 'Store'?" in by_name["Stor"]["message"]
    assert by_name["Prase"]["file"] == flows
    assert int(by_name["Prase"]["line"]) == files.line_of(flows, "to: Prase")
    assert "did you mean 'Parse'?" in by_name["Prase"]["message"]


def test_one_problem_is_counted_in_the_singular(cli: Any, files: Any) -> None:
    nodes = files.write("nodes.yaml", NODES)
    flows = files.write("flows.yaml", BAD_FLOWS)
    result = cli("inspect", "-n", nodes, "-f", flows, "--no-check-imports")
    assert result.code == 2
    assert result.err.splitlines()[-1] == "Configuration is invalid: 1 error."


def test_malformed_yaml_is_a_located_error_not_a_traceback(cli: Any, files: Any) -> None:
    nodes = files.write("nodes.yaml", "tasks: [\n  - name: A\n")
    result = cli("inspect", "-n", nodes, "-f", nodes)
    assert result.code == 2
    assert "Traceback" not in result.err
    assert PROBLEM_LINE.match(result.err.splitlines()[0])
    assert result.err.startswith(f"{nodes}:")


def test_missing_file_is_reported(cli: Any, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    result = cli("inspect", "-n", missing, "-f", missing)
    assert result.code == 2
    assert missing in result.err
    assert "Traceback" not in result.err


def test_imports_are_checked_unless_disabled(cli: Any, config: tuple[str, str]) -> None:
    nodes, flows = config
    checked = cli("inspect", "-n", nodes, "-f", flows)
    assert checked.code == 2
    assert "no_such_package" in checked.err
    unchecked = cli("inspect", "-n", nodes, "-f", flows, "--no-check-imports")
    assert unchecked.code == 0, unchecked.err


def test_list_task_queues(cli: Any, config: tuple[str, str]) -> None:
    nodes, flows = config
    result = cli("inspect", "-n", nodes, "-f", flows, "--no-check-imports", "--list-task-queues")
    assert result.code == 0, result.err
    assert result.out.splitlines() == ["Fetch:fetching", "Parse:parsing"]


def test_list_dispatcher_queues_after_task_queues(cli: Any, config: tuple[str, str]) -> None:
    nodes, flows = config
    args = ("inspect", "-n", nodes, "-f", flows, "--no-check-imports")
    assert cli(*args, "--list-dispatcher-queues").out.splitlines() == ["main:dispatch"]
    both = cli(*args, "--list-dispatcher-queues", "--list-task-queues")
    assert both.out.splitlines() == ["Fetch:fetching", "Parse:parsing", "main:dispatch"]


def test_queue_names_expand_environment_variables(
    cli: Any, files: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes = files.write("nodes.yaml", NODES.replace("queue: parsing", "queue: '{STAGE}_parse'"))
    flows = files.write("flows.yaml", FLOWS)
    monkeypatch.setenv("STAGE", "testing")
    result = cli("inspect", "-n", nodes, "-f", flows, "--no-check-imports", "--list-task-queues")
    assert result.out.splitlines() == ["Fetch:fetching", "Parse:testing_parse"]
    monkeypatch.delenv("STAGE")
    missing = cli("inspect", "-n", nodes, "-f", flows, "--no-check-imports")
    assert missing.code == 2
    assert "STAGE" in missing.err


def test_dump_writes_the_normalised_configuration(
    cli: Any, config: tuple[str, str], tmp_path: Path
) -> None:
    nodes, flows = config
    target = tmp_path / "dump.json"
    result = cli("inspect", "-n", nodes, "-f", flows, "--no-check-imports", "--dump", str(target))
    assert result.code == 0, result.err
    assert result.out.startswith("Configuration is valid")
    dumped = json.loads(target.read_text(encoding="utf-8"))
    assert [task["name"] for task in dumped["tasks"]] == ["Fetch", "Parse"]
    assert dumped["tasks"][0]["import"] == "no_such_package.tasks"
    assert dumped["tasks"][0]["classname"] == "Fetch"
    assert dumped["tasks"][0]["queue"] == "fetching"
    assert dumped["global"]["default_dispatcher_queue"] == "dispatch"
    edges = dumped["flows"]["main"]["edges"]
    assert [(edge["from"], edge["to"]) for edge in edges] == [
        ([], ["Fetch"]),
        (["Fetch"], ["Parse"]),
    ]


def test_dump_to_stdout_prints_only_json(cli: Any, config: tuple[str, str]) -> None:
    nodes, flows = config
    result = cli("inspect", "-n", nodes, "-f", flows, "--no-check-imports", "--dump", "-")
    assert result.code == 0, result.err
    assert json.loads(result.out)["storages"][0]["name"] == "Store"


def test_dump_to_an_unwritable_path_is_a_usage_error(
    cli: Any, config: tuple[str, str], tmp_path: Path
) -> None:
    nodes, flows = config
    target = tmp_path / "no" / "such" / "dir" / "dump.json"
    result = cli("inspect", "-n", nodes, "-f", flows, "--no-check-imports", "--dump", str(target))
    assert result.code == 2
    assert "cannot write" in result.err


def test_warnings_go_to_stderr_and_keep_exit_zero(cli: Any, files: Any) -> None:
    unused = NODES.replace(
        "    storages:",
        "      - name: Unused\n        import: no_such_package.tasks\n    storages:",
    )
    nodes = files.write("nodes.yaml", unused)
    flows = files.write("flows.yaml", FLOWS)
    result = cli("inspect", "-n", nodes, "-f", flows, "--no-check-imports")
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if ": warning: " in line]
    assert any(line.startswith(f"{nodes}:") and "Unused" in line for line in warnings), warnings
    assert f"  warnings: {len(warnings)}" in result.out.splitlines()


def test_nodes_definition_is_required(cli: Any) -> None:
    result = cli("inspect", "-f", "examples/quickstart/flows.yaml")
    assert result.code == 2
    assert "--nodes-definition" in result.err


def test_schema_validates_the_yaml_language(cli: Any) -> None:
    result = cli("inspect", "--schema")
    assert result.code == 0, result.err
    validate = fastjsonschema.compile(json.loads(result.out))
    yaml = YAML(typ="safe")
    for name in ("nodes.yaml", "flows.yaml"):
        validate(yaml.load(Path("examples/quickstart", name).read_text(encoding="utf-8")))
    with pytest.raises(fastjsonschema.JsonSchemaException):
        validate({"tasks": [{"name": "NoImport"}], "flows": ["f"]})
    with pytest.raises(fastjsonschema.JsonSchemaException):
        validate({"flow-definitions": [{"name": "f", "edges": [{"from": None, "bogus": 1}]}]})


def test_schema_ignores_configuration_options(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELINON_NODES_DEFINITION", "does-not-exist.yaml")
    result = cli("inspect", "--schema", "--list-task-queues")
    assert result.code == 0, result.err
    assert json.loads(result.out)["$schema"].startswith("https://json-schema.org/")
