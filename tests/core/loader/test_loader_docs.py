"""Every YAML example of the Selinon documentation loads (tests/fixtures/docs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from selinon_core.config.loader import load_system
from selinon_core.config.spec import Predicate

DOCS = Path(__file__).resolve().parents[2] / "fixtures" / "docs"

ENV = {"DEPLOYMENT_PREFIX": "testing"}

CASES = {
    "flow1_flow2": ("flow1_flow2/nodes.yaml", ["flow1_flow2/flow1.yaml", "flow1_flow2/flow2.yaml"]),
    "fallback": ("fallback/nodes.yaml", ["fallback/flows.yaml"]),
    "selective": ("selective/config.yaml", []),
    "diamond": ("cyclic_diamond/nodes.yaml", ["cyclic_diamond/with_combinations.yaml"]),
    "diamond_subflow": (
        "cyclic_diamond/nodes_subflow.yaml",
        ["cyclic_diamond/without_combinations.yaml"],
    ),
    "aliases": ("aliases/nodes.yaml", ["aliases/flows.yaml"]),
    "patterns": ("patterns/nodes.yaml", ["patterns/flows.yaml"]),
    "internals": ("internals/config.yaml", []),
    "tainted": ("tainted/config.yaml", []),
    "sampling": ("sampling/config.yaml", []),
    "throttling": ("throttling/config.yaml", []),
    "reference": ("reference/nodes.yaml", ["reference/flows.yaml"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("check_imports", [True, False])
def test_docs_example_loads(case: str, check_imports: bool) -> None:
    nodes, flows = CASES[case]
    system = load_system(
        DOCS / nodes, [DOCS / f for f in flows], check_imports=check_imports, environ=ENV
    )
    assert system.spec.flows
    assert system.sources[0] == str(DOCS / nodes)
    assert not [w for w in system.warnings if "not used" in w.message and "task" in w.message]


def test_flow1_flow2_content() -> None:
    system = load_system(DOCS / "flow1_flow2/nodes.yaml", [DOCS / "flow1_flow2"], environ=ENV)
    spec = system.spec
    assert sorted(spec.flows) == ["flow1", "flow2"]
    edge = spec.flows["flow1"].edges[1]
    assert edge.from_ == ("Task1",)
    assert edge.to == ("Task2", "flow2")
    assert edge.condition == Predicate(
        name="fieldEqual", node="Task1", args={"key": "foo", "value": "bar"}
    )
    assert spec.task("Task1").queue == "queue_Task1_v0"
    assert spec.task("Task3").queue == "celery"
    assert spec.task("Task2").classname == "MyTask2"
    assert spec.task("Task5").retry_countdown == 10
    assert system.resolve("worker.task2", "MyTask2").__name__ == "MyTask2"
    assert len(system.sources) == 3


def test_node_on_a_predicate_without_message_is_a_warning() -> None:
    system = load_system(DOCS / "flow1_flow2/nodes.yaml", [DOCS / "flow1_flow2"], environ=ENV)
    assert [(w.line, w.message) for w in system.warnings] == [
        (
            30,
            "edge 4 of flow 'flow1': predicate 'argsFieldEqual' does not read a task result, "
            "so 'node' is ignored",
        )
    ]


def test_alias_flow_shares_edges_via_merge_key() -> None:
    system = load_system(DOCS / "aliases/nodes.yaml", [DOCS / "aliases/flows.yaml"])
    flows = system.spec.flows
    assert flows["flow1_sla"].edges == flows["flow1"].edges
    assert flows["flow1_sla"].queue == "flow1_sla_v1"
    assert flows["flow1"].queue == "flow1_v1"
    assert flows["flow1_sla"].propagate_node_args is True


def test_documented_spellings_are_accepted() -> None:
    system = load_system(DOCS / "reference/nodes.yaml", [DOCS / "reference/flows.yaml"])
    task = system.spec.task("MyTask1")
    assert task.selective_run_function.name == "my_selective_function"
    assert task.storage_read_only is False
    assert task.storage_task_name == "MyTaskOne"
    assert system.spec.task("Task2").queue == "tasks_v1"
    assert system.spec.flows["flow2"].queue == "dispatcher_v1"


def test_env_expansion_in_docs_pattern(tmp_path: Path) -> None:
    system = load_system(DOCS / "patterns/nodes.yaml", [DOCS / "patterns/flows.yaml"], environ=ENV)
    assert system.spec.task("Task1").queue == "testing_task1_v1"
