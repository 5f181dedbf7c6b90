"""Less common paths of the loader: odd YAML, condition shapes, flags, sampling, flow files."""

from __future__ import annotations

import pytest
from tests.core.loader._texts import NODES

from selinon_core.config.loader import load_system_from_texts
from selinon_core.errors import SpecError

FLOW2 = "flow-definitions:\n  - name: flow2\n    edges:\n      - from:\n        to: Task2\n"


def flow1(extra_keys: str = "", extra_edges: str = "") -> str:
    return (
        "flow-definitions:\n  - name: flow1\n"
        + extra_keys
        + "    edges:\n      - from:\n        to: Task1\n      - from: Task1\n        to: flow2\n"
        + extra_edges
    )


def errors(nodes: str, *flows: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_system_from_texts(nodes, list(flows), environ={})
    return [str(p) for p in caught.value.problems]


def test_self_referencing_anchor_does_not_crash() -> None:
    system = load_system_from_texts(NODES + "loop: &loop\n  - *loop\n", [flow1(), FLOW2])
    assert any("unknown top-level key 'loop'" in str(w) for w in system.warnings)


def test_tagged_scalars_are_plain_values() -> None:
    nodes = NODES.replace("import: myproject.tasks\nflows", "import: !mytag myproject.tasks\nflows")
    system = load_system_from_texts(nodes, [flow1(), FLOW2])
    assert system.spec.task("Task2").import_ == "myproject.tasks"


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        ("{name: 5}", "predicate name must be a non-empty string"),
        ("{name: alwaysTrue, node: [Task1]}", "'node' must be a node name"),
        ("{name: alwaysTrue, args: [1]}", "'args' must be a mapping"),
        ("[alwaysTrue]", "a condition must be a mapping"),
        ("{}", "a condition must be a mapping"),
        ("{and: [{name: alwaysTrue}, null]}", "'and' has an empty entry"),
        ("{not: null}", "'not' takes one condition"),
    ],
)
def test_condition_shapes(condition: str, fragment: str) -> None:
    found = errors(NODES, flow1(extra_edges=f"        condition: {condition}\n"), FLOW2)
    assert any(fragment in m and ":8:" in m for m in found), found


def test_condition_node_path_through_a_task() -> None:
    edge = (
        "      - from: Task1\n        to: Task2\n"
        "        condition: {name: fieldExist, node: Task1/Task2, args: {key: a}}\n"
    )
    found = errors(NODES, flow1(extra_edges=edge), FLOW2)
    assert any("'Task1' in node path 'Task1/Task2' is not a sub-flow" in m for m in found)


def test_predicate_with_positional_only_parameter() -> None:
    nodes = NODES + "global:\n  predicates_module: myapp.predicates\n"
    edge = "        condition: {name: positionalOnly}\n"
    found = errors(nodes, flow1(extra_edges=edge), FLOW2)
    assert any("positional-only" in m for m in found)


def test_propagate_lists_overlapping() -> None:
    keys = "    propagate_finished: [flow2]\n    propagate_compound_finished: [flow2]\n"
    edge = "      - from: flow2\n        to: Task2\n"
    found = errors(NODES, flow1(keys, edge), FLOW2)
    assert any(
        "node 'flow2' is in both 'propagate_finished' and 'propagate_compound_finished'" in m
        for m in found
    )


def test_dependency_on_never_started_subflow_is_a_warning() -> None:
    edge = "      - from: flow2\n        to: Task2\n"
    flows = (
        "flow-definitions:\n  - name: flow1\n    edges:\n      - from:\n        to: Task1\n" + edge
    )
    system = load_system_from_texts(NODES, [flows, FLOW2])
    assert any("'flow2', which is never started" in str(w) for w in system.warnings)


def test_sampling_status_in_args_and_keyword_strategies() -> None:
    keys = "    sampling:\n      name: constant\n      args: {retry: 1, status: 2}\n"
    found = errors(NODES, flow1(keys), FLOW2)
    assert any("cannot give 'status'" in m for m in found)
    keys = (
        "    sampling:\n      name: flexible_strategy\n      import: myapp.sampling\n"
        "      args: {retry: 1, anything: 2}\n"
    )
    system = load_system_from_texts(NODES, [flow1(keys), FLOW2])
    assert system.spec.flows["flow1"].sampling is not None


def test_single_trace_mapping_with_sentry_is_expanded() -> None:
    nodes = NODES + "global:\n  trace:\n    sentry: {dsn: '{DSN}'}\n"
    system = load_system_from_texts(nodes, [flow1(), FLOW2], environ={"DSN": "http://x@y/1"})
    sentry = system.spec.global_.trace[0].sentry
    assert sentry is not None
    assert sentry.dsn == "http://x@y/1"
    found = errors(nodes, flow1(), FLOW2)
    assert any("'DSN' is not set" in m and "<nodes>:15:" in m for m in found)


def test_nodes_keys_in_a_flow_file_are_ignored_with_a_warning() -> None:
    flows = "tasks: []\nx-anchor: 1\n" + flow1()
    system = load_system_from_texts(NODES, [flows, FLOW2])
    messages = [str(w) for w in system.warnings]
    assert any("'tasks' is ignored in a flow file" in m for m in messages)
    assert any("unknown top-level key 'x-anchor'" in m for m in messages)


def test_nodes_file_problems() -> None:
    assert any("must be a mapping" in m for m in errors("- a\n- b\n", flow1(), FLOW2))
    found = errors(NODES + "---\ntasks: []\n", flow1(), FLOW2)
    assert any("'tasks' is defined twice" in m for m in found)
    found = errors(NODES + "flow-definitions: {}\n", flow1(), FLOW2)
    assert any("must be a list of flow definitions" in m for m in found)


def test_flow_list_entry_not_a_mapping() -> None:
    found = errors(NODES, "- 5\n", FLOW2)
    assert any("a flow file must be a mapping" in m for m in found)


def test_storage_configuration_checked_against_the_adapter() -> None:
    nodes = NODES.replace(
        "    import: myapp.storages\n    classname: MyStorage\n    configuration: {echo: false}\n",
        "    import: selinon.storages.memory\n    classname: InMemoryStorage\n"
        "    configuration: {echoo: false}\n",
    )
    found = errors(nodes, flow1(), FLOW2)
    assert any(
        "storage class 'InMemoryStorage' has no configuration key 'echoo'" in m
        and "(did you mean 'echo'?)" in m
        and "<nodes>:12:" in m
        for m in found
    ), found


def test_cache_configuration_checked_against_the_cache_class() -> None:
    keys = "    cache: {name: LRU, configuration: {max_size: 3}}\n"
    found = errors(NODES, flow1(keys), FLOW2)
    assert any("cache class 'LRU' has no configuration key 'max_size'" in m for m in found)


def test_referenced_attribute_must_be_callable() -> None:
    edge = (
        "      - from: Task1\n        to: Task2\n"
        "        foreach: {function: __name__, import: myapp.foreach}\n"
    )
    found = errors(NODES, flow1(extra_edges=edge), FLOW2)
    assert any("foreach function '__name__' is not callable" in m for m in found)


def test_trace_storage_without_the_method_is_a_warning() -> None:
    nodes = NODES + "global:\n  trace:\n    - storage: {name: S1, method: record}\n"
    system = load_system_from_texts(nodes, [flow1(), FLOW2])
    assert any("storage 'S1' has no method 'record'" in str(w) for w in system.warnings)


def _selective(tasks: str, follow: str = "false") -> str:
    return (
        "flow-definitions:\n  - name: flow1\n    edges:\n      - from:\n        to: Task1\n"
        "      - from: Task1\n        to: flow2\n"
        f"        selective: {{tasks: {tasks}, follow_subflows: {follow}}}\n"
    )


def test_selective_tasks_must_be_in_the_subflow() -> None:
    nodes = NODES.replace("flows: [flow1, flow2]", "flows: [flow1, flow2, flow3]")
    flow2 = FLOW2 + "      - from: Task2\n        to: flow3\n"
    flow3 = "flow-definitions:\n  - name: flow3\n    edges:\n      - from:\n        to: Task1\n"
    assert load_system_from_texts(nodes, [_selective("[Task2]"), flow2, flow3])
    assert load_system_from_texts(nodes, [_selective("[Task1]", "true"), flow2, flow3])
    found = errors(nodes, _selective("[Task1]"), flow2, flow3)
    assert any("only in a sub-flow of 'flow2'" in m and "follow_subflows" in m for m in found)
    found = errors(NODES, _selective("[Task1]", "true"), FLOW2)
    assert any("'Task1' is not in sub-flow 'flow2' or its sub-flows" in m for m in found)


def test_propagate_finished_into_subflow_without_parent_is_a_warning() -> None:
    nodes = NODES.replace("flows: [flow1, flow2]", "flows: [flow1, flow2, flow3]")
    flow3 = "flow-definitions:\n  - name: flow3\n    edges:\n      - from:\n        to: Task1\n"
    edge = "      - from: flow2\n        to: flow3\n"
    system = load_system_from_texts(
        nodes, [flow1("    propagate_finished: true\n", edge), FLOW2, flow3]
    )
    assert [str(w) for w in system.warnings] == [
        "<flows-1>:10:13: edge 3 of flow 'flow1': finished nodes of 'flow2' do not reach sub-flow "
        "'flow3' (add it to 'propagate_parent')"
    ]
    keys = "    propagate_finished: true\n    propagate_parent: [flow3]\n"
    system = load_system_from_texts(nodes, [flow1(keys, edge), FLOW2, flow3])
    assert system.warnings == ()


def test_trace_null_is_rejected_like_selinon() -> None:
    found = errors(NODES + "global:\n  trace:\n", flow1(), FLOW2)
    assert any("'trace' must not be empty" in m for m in found)


def test_trace_of_a_wrong_type() -> None:
    found = errors(NODES + "global:\n  trace: 5\n", flow1(), FLOW2)
    assert any(
        "'trace' must be false, a mapping of trace sinks or a list of them" in m for m in found
    )
