"""Loader features: files and directories, anchors, env expansion, warnings, import checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.core.loader._texts import NODES

from selinon_core.config.envexpand import ExpansionError, expand
from selinon_core.config.loader import load_system, load_system_from_texts
from selinon_core.errors import SpecError

FLOW1 = """\
flow-definitions:
  - name: flow1
    edges:
      - from:
        to: Task1
      - from: Task1
        to: flow2
"""
FLOW2 = """\
flow-definitions:
  - name: flow2
    edges:
      - from:
        to: Task2
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ files and directories


def test_directory_of_flows_recursive_sorted_and_dot_files_skipped(tmp_path: Path) -> None:
    nodes = write(tmp_path / "nodes.yaml", NODES)
    write(tmp_path / "flows" / "b" / "flow2.yml", FLOW2)
    write(tmp_path / "flows" / "a.yaml", FLOW1)
    write(tmp_path / "flows" / ".hidden.yaml", "not: [valid")
    write(tmp_path / "flows" / ".git" / "x.yaml", "not: [valid")
    write(tmp_path / "flows" / "notes.txt", "not: [valid")
    system = load_system(nodes, [tmp_path / "flows"])
    assert system.sources == (
        str(nodes),
        str(tmp_path / "flows" / "a.yaml"),
        str(tmp_path / "flows" / "b" / "flow2.yml"),
    )
    assert sorted(system.spec.flows) == ["flow1", "flow2"]


def test_directory_holding_the_nodes_file_skips_it(tmp_path: Path) -> None:
    nodes = write(tmp_path / "nodes.yaml", NODES)
    write(tmp_path / "flows.yaml", FLOW1 + FLOW2.replace("flow-definitions:\n", ""))
    system = load_system(nodes, [tmp_path])
    assert len(system.sources) == 2


def test_single_file_holds_nodes_and_flows(tmp_path: Path) -> None:
    both = write(tmp_path / "all.yaml", NODES + FLOW1 + FLOW2.replace("flow-definitions:\n", ""))
    system = load_system(both)
    assert sorted(system.spec.flows) == ["flow1", "flow2"]
    assert load_system(both, [both]).sources == (str(both),)


def test_flow_file_as_list_and_multiple_documents() -> None:
    as_list = "- " + FLOW1.replace("\n", "\n  ").rstrip() + "\n"
    system = load_system_from_texts(NODES, [as_list + "---\n" + FLOW2])
    assert sorted(system.spec.flows) == ["flow1", "flow2"]


def test_missing_and_unreadable_files_are_all_reported(tmp_path: Path) -> None:
    nodes = write(tmp_path / "nodes.yaml", NODES)
    binary = tmp_path / "bad.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(SpecError) as caught:
        load_system(nodes, [tmp_path / "missing.yaml", binary])
    messages = [str(p) for p in caught.value.problems]
    assert any("missing.yaml" in m and "file not found" in m for m in messages)
    assert any("bad.yaml" in m and "UTF-8" in m for m in messages)


def test_nodes_path_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="expected a file"):
        load_system(tmp_path)


def test_errors_are_reported_in_file_order_across_files(tmp_path: Path) -> None:
    nodes = write(tmp_path / "nodes.yaml", NODES.replace("storage: S1", "storage: S2"))
    flow1 = write(tmp_path / "f1.yaml", FLOW1.replace("to: flow2", "to: flw2"))
    flow2 = write(tmp_path / "f2.yaml", FLOW2.replace("to: Task2", "to: Tsk2"))
    with pytest.raises(SpecError) as caught:
        load_system(nodes, [flow1, flow2])
    located = [(Path(p.file or "").name, p.line) for p in caught.value.problems]
    assert ("nodes.yaml", 4) in located
    assert ("f1.yaml", 7) in located
    assert ("f2.yaml", 5) in located
    assert located == sorted(
        located, key=lambda x: (["nodes.yaml", "f1.yaml", "f2.yaml"].index(x[0]), x[1])
    )


# ------------------------------------------------------------------ many errors at once


def test_all_errors_reported_at_once() -> None:
    nodes = NODES.replace("storage: S1", "storage: S2").replace(
        "import: myproject.tasks\nflows", "import: myproject.tasks\n    max_retry: -1\nflows"
    )
    flows = (
        FLOW1.replace("to: flow2", "to: flw2")
        + "  - name: flow2\n    edges:\n      - from: X\n        to: Task2\n"
    )
    with pytest.raises(SpecError) as caught:
        load_system_from_texts(nodes, [flows])
    text = str(caught.value)
    assert "unknown storage 'S2'" in text
    assert "'max_retry'" in text
    assert "unknown node 'flw2'" in text
    assert "unknown node 'X'" in text
    assert "no starting edge" in text
    assert len(caught.value.problems) >= 5
    assert "pydantic" not in text.lower()
    assert "validation error" not in text.lower()


def test_problem_renders_location_and_hint() -> None:
    with pytest.raises(SpecError) as caught:
        load_system_from_texts(NODES, [FLOW1.replace("to: Task1", "to: Tsk1"), FLOW2])
    problem = next(p for p in caught.value.problems if "Tsk1" in p.message)
    assert problem.hint == "did you mean 'Task1'?"
    assert str(problem) == (
        "<flows-1>:5:13: edge 1 of flow 'flow1': unknown node 'Tsk1' (did you mean 'Task1'?)"
    )


# ------------------------------------------------------------------ YAML anchors


def test_anchors_and_merge_keys_in_flows_and_tasks() -> None:
    nodes = """\
defaults: &task_defaults
  import: myproject.tasks
  max_retry: 2
tasks:
  - <<: *task_defaults
    name: Task1
  - <<: *task_defaults
    name: Task2
    max_retry: 0
flows: [flow1, flow2]
"""
    flows = """\
flow-definitions:
  - &flow1_def
    name: flow1
    edges: &edges
      - from:
        to: Task1
      - from: Task1
        to: Task2
  - <<: *flow1_def
    name: flow2
    queue: sla
"""
    system = load_system_from_texts(nodes, [flows])
    assert system.spec.task("Task1").max_retry == 2
    assert system.spec.task("Task2").max_retry == 0
    assert system.spec.flows["flow2"].edges == system.spec.flows["flow1"].edges
    assert system.spec.flows["flow2"].queue == "sla"
    assert any("unknown top-level key 'defaults'" in w.message for w in system.warnings)


def test_error_inside_merged_flow_points_at_the_anchor() -> None:
    flows = """\
flow-definitions:
  - &flow1_def
    name: flow1
    edges:
      - from:
        to: Task1
      - from: Task1
        to: Tsk2
  - <<: *flow1_def
    name: flow2
"""
    with pytest.raises(SpecError) as caught:
        load_system_from_texts(NODES, [flows])
    lines = {
        (p.line, p.message.split(":")[0]) for p in caught.value.problems if "Tsk2" in p.message
    }
    assert lines == {(8, "edge 2 of flow 'flow1'"), (8, "edge 2 of flow 'flow2'")}


# ------------------------------------------------------------------ environment


def test_expand_plain_and_literal_braces() -> None:
    assert expand("{A}_q_{{x}}", {"A": "prod"}) == "prod_q_{x}"
    with pytest.raises(ExpansionError) as caught:
        expand("{A}{B}{A}", {})
    assert caught.value.missing == ("A", "B")


def test_env_expansion_of_every_expandable_value() -> None:
    nodes = NODES.replace(
        "import: myproject.tasks\n    storage: S1",
        "import: myproject.tasks\n    storage: S1\n    queue: '{P}_t1'",
    )
    nodes = nodes.replace("{echo: false}", "{host: '{P}-db', ports: ['{P}']}")
    nodes += """\
global:
  default_task_queue: '{P}_tasks'
  default_dispatcher_queue: '{P}_dispatch'
  migration_dir: '/m/{P}'
  trace:
    - sentry: {dsn: 'http://{P}@sentry/1'}
"""
    flows = FLOW1.replace("    edges:", "    queue: '{P}_f1'\n    edges:", 1)
    system = load_system_from_texts(nodes, [flows, FLOW2], environ={"P": "prod"})
    spec = system.spec
    assert spec.task("Task1").queue == "prod_t1"
    assert spec.task("Task2").queue == "prod_tasks"
    assert spec.flows["flow1"].queue == "prod_f1"
    assert spec.flows["flow2"].queue == "prod_dispatch"
    assert spec.global_.migration_dir == "/m/prod"
    assert spec.global_.trace[0].sentry is not None
    assert spec.global_.trace[0].sentry.dsn == "http://prod@sentry/1"
    # A storage's configuration is never expanded at load: the adapter gets it as written.
    assert spec.storage("S1").configuration == {"host": "{P}-db", "ports": ["{P}"]}


def test_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOADER_TEST_PREFIX", "os")
    nodes = NODES + "global:\n  default_task_queue: '{LOADER_TEST_PREFIX}_q'\n"
    system = load_system_from_texts(nodes, [FLOW1, FLOW2])
    assert system.spec.task("Task2").queue == "os_q"


def test_missing_env_variables_each_reported() -> None:
    nodes = (
        NODES + "global:\n  default_task_queue: '{NOPE1}'\n  default_dispatcher_queue: '{NOPE2}'\n"
    )
    with pytest.raises(SpecError) as caught:
        load_system_from_texts(nodes, [FLOW1, FLOW2], environ={})
    messages = [p.message for p in caught.value.problems]
    assert any("'NOPE1'" in m and "default_task_queue" in m for m in messages)
    assert any("'NOPE2'" in m for m in messages)


# ------------------------------------------------------------------ accepted Selinon quirks


def test_eager_failures_true_and_without_failures_work() -> None:
    flows = FLOW1.replace("    edges:", "    eager_failures: true\n    edges:", 1)
    system = load_system_from_texts(
        NODES, [flows, FLOW2.replace("    edges:", "    eager_failures: Task2\n    edges:")]
    )
    assert system.spec.flows["flow1"].eager_failures is True
    assert system.spec.flows["flow2"].eager_failures == ("Task2",)


def test_fallback_true_and_subflow_node_path() -> None:
    nodes = NODES.replace(
        "  - name: Task2\n    import: myproject.tasks\n",
        "  - name: Task2\n    import: myproject.tasks\n    storage: S1\n",
    )
    flows = (
        FLOW1
        + """\
      - from: flow2
        to: Task1
        condition:
          name: fieldEqual
          node: flow2/Task2
          args: {key: a, value: 1}
    failures:
      - nodes: Task1
        fallback: true
"""
    )
    system = load_system_from_texts(nodes, [flows, FLOW2])
    flow = system.spec.flows["flow1"]
    assert flow.failures[0].fallback is True
    assert flow.edges[2].condition.node == "flow2/Task2"  # type: ignore[union-attr]


def test_storage_readonly_spelling_and_selective_function_alias() -> None:
    nodes = NODES.replace(
        "    storage: S1\n",
        "    storage: S1\n    storage_readonly: true\n"
        "    selective_run_function: {function: my_selective_function, "
        "import: myapp.selective}\n",
    )
    system = load_system_from_texts(nodes, [FLOW1, FLOW2])
    task = system.spec.task("Task1")
    assert task.storage_read_only is True
    assert task.selective_run_function.name == "my_selective_function"
    assert (
        system.resolve("myapp.selective", "my_selective_function").__name__
        == "my_selective_function"
    )


# ------------------------------------------------------------------ warnings


def test_warnings_are_separate_from_errors() -> None:
    nodes = NODES.replace(
        "flows:",
        "  - name: Unused\n    import: myproject.tasks\n"
        "    classname: Task1\n    retry_countdown: 5\nflows:",
    )
    nodes += (
        "  - name: S2\n    import: myapp.storages\n    classname: MyStorage\n    configuration: x\n"
    )
    nodes += "extra_key: 1\n"
    system = load_system_from_texts(nodes, [FLOW1, FLOW2])
    messages = [str(w) for w in system.warnings]
    assert any("task 'Unused': task is not used" in m for m in messages)
    assert any("storage 'S2': storage is not used" in m for m in messages)
    assert any("'retry_countdown' has no effect" in m for m in messages)
    assert any("unknown top-level key 'extra_key'" in m for m in messages)


# ------------------------------------------------------------------ import checks


def test_check_imports_false_skips_user_modules() -> None:
    nodes = NODES.replace("myproject.tasks", "not_installed.tasks").replace(
        "myapp.storages", "not_installed.storages"
    )
    system = load_system_from_texts(nodes, [FLOW1, FLOW2], check_imports=False)
    assert system.spec.task("Task1").import_ == "not_installed.tasks"
    with pytest.raises(SpecError) as caught:
        load_system_from_texts(nodes, [FLOW1, FLOW2])
    assert (
        sum("cannot import module 'not_installed" in p.message for p in caught.value.problems) == 3
    )


def test_check_imports_false_still_checks_builtin_paths() -> None:
    flows = FLOW1 + "        condition: {name: fieldEqal, args: {key: a, value: b}}\n"
    with pytest.raises(SpecError, match="unknown predicate 'fieldEqal'"):
        load_system_from_texts(NODES, [flows, FLOW2], check_imports=False)


def test_custom_predicates_module() -> None:
    nodes = NODES + "global:\n  predicates_module: myapp.predicates\n"
    flows = FLOW1.replace(
        "to: flow2", "to: flow2\n        condition: {name: isPositive, args: {key: n}}"
    )
    system = load_system_from_texts(nodes, [flows, FLOW2])
    assert system.predicate("isPositive")({"n": 1}, key="n") is True


def _nested(depth: int) -> str:
    return (
        FLOW1 + "        condition: " + "{not: " * depth + "{name: alwaysTrue}" + "}" * depth + "\n"
    )


def test_nested_conditions_load() -> None:
    system = load_system_from_texts(NODES, [_nested(100), FLOW2])
    assert system.spec.flows["flow1"].edges[1].condition is not None


def test_too_deeply_nested_yaml_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match=r"recursion|nested too deeply"):
        load_system_from_texts(NODES, [_nested(3000), FLOW2])


def test_a_single_flow_path_or_text_is_accepted(tmp_path: Path) -> None:
    nodes = write(tmp_path / "nodes.yaml", NODES)
    flows = write(tmp_path / "flows.yaml", FLOW1 + FLOW2.replace("flow-definitions:\n", ""))
    assert len(load_system(nodes, flows).sources) == 2  # type: ignore[arg-type]
    assert len(load_system(nodes, str(flows)).sources) == 2
    text = FLOW1 + FLOW2.replace("flow-definitions:\n", "")
    assert sorted(load_system_from_texts(NODES, text).spec.flows) == ["flow1", "flow2"]
