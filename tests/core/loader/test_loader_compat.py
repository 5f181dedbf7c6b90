"""What Selinon 1.4.0 accepts and we used to refuse (issue 13), checked at the loader level."""

from __future__ import annotations

import pytest
from _texts import NODES

from selinon_core.config.aliases import ALIAS_BUDGET
from selinon_core.config.loader import load_system_from_texts
from selinon_core.dispatch.dispatcher import Dispatcher
from selinon_core.errors import SpecError
from selinon_core.testing import run_to_completion

FLOWS = """\
flow-definitions:
  - name: flow1
    edges:
      - from:
        to: Task1
      - from: Task1
        to: Task2
  - name: flow2
    edges:
      - from:
        to: Task2
"""


def _load(nodes: str = NODES, flows: str = FLOWS, **env: str) -> object:
    return load_system_from_texts(nodes, [flows], environ=env)


# ------------------------------------------------------------------ repeated keys


def test_repeated_key_keeps_the_last_value_and_warns_with_both_lines() -> None:
    nodes = NODES.replace(
        "  - name: Task2\n    import: myproject.tasks\n",
        "  - name: Task2\n    import: no_such.module\n    max_retry: 1\n"
        "    import: myproject.tasks\n",
    )
    system = load_system_from_texts(nodes, [FLOWS], environ={})
    assert system.spec.task("Task2").import_ == "myproject.tasks"
    (warning,) = [w for w in system.warnings if "repeated" in w.message]
    assert warning.line == 8
    assert "'import'" in warning.message
    assert "line 6 and line 8" in warning.message


def test_repeated_key_error_later_points_at_the_kept_value() -> None:
    nodes = NODES.replace(
        "  - name: Task2\n    import: myproject.tasks\n",
        "  - name: Task2\n    import: myproject.tasks\n    max_retry: 1\n    max_retry: -1\n",
    )
    with pytest.raises(SpecError) as caught:
        load_system_from_texts(nodes, [FLOWS], environ={})
    (problem,) = [p for p in caught.value.problems if "max_retry" in p.message]
    assert problem.line == 8


@pytest.mark.parametrize(
    "broken",
    ["tasks: [\n", "tasks:\n  - name: a\n   bad: indent\n", "a: b: c\n", "- x\ny: 1\n"],
)
def test_what_yaml_cannot_parse_is_still_rejected(broken: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_system_from_texts(broken, [FLOWS], environ={})
    assert any("invalid YAML" in p.message for p in caught.value.problems)


# ------------------------------------------------------------------ from: ''


@pytest.mark.parametrize("source", ["''", "[]", "null", ""])
def test_empty_from_is_a_starting_edge(source: str) -> None:
    flows = FLOWS.replace(
        "      - from:\n        to: Task1", f"      - from: {source}\n        to: Task1"
    )
    system = load_system_from_texts(NODES, [flows], environ={})
    edge = system.spec.flows["flow1"].edges[0]
    assert edge.from_ == ()
    assert edge.is_starting
    sim = run_to_completion(Dispatcher(system), "flow1")
    assert sim.status == "succeeded"
    assert sim.task_names() == ["Task1", "Task2"]


# ------------------------------------------------------------------ storage configuration


def test_custom_storage_configuration_is_kept_as_written_with_a_warning() -> None:
    nodes = NODES.replace("{echo: false}", "{url: 'db://{DB_USER}@{DB_HOST}/x', n: 3}")
    system = load_system_from_texts(nodes, [FLOWS], environ={"DB_HOST": "h"})
    assert system.spec.storage("S1").configuration == {"url": "db://{DB_USER}@{DB_HOST}/x", "n": 3}
    (warning,) = [w for w in system.warnings if "DB_USER" in w.message]
    assert "'DB_HOST'" not in warning.message
    assert "as written" in warning.message
    assert warning.line == 12


def test_builtin_storage_secrets_are_expanded_later_with_a_warning_now() -> None:
    nodes = NODES.replace(
        "    import: myapp.storages\n    classname: MyStorage\n    configuration: {echo: false}",
        "    import: selinon.storages.redis\n    classname: Redis\n"
        "    configuration:\n"
        "      {host: '{REDIS_HOST}', port: '{REDIS_PORT}', key_prefix: '{NOT_EXPANDED}'}",
    )
    system = load_system_from_texts(nodes, [FLOWS], environ={"REDIS_PORT": "6379"})
    assert system.spec.storage("S1").configuration["host"] == "{REDIS_HOST}"
    messages = [w.message for w in system.warnings if "storage 'S1'" in w.message]
    assert len(messages) == 1
    assert "'REDIS_HOST'" in messages[0]
    assert "first connects" in messages[0]
    # only the keys the adapter expands are checked; REDIS_PORT is set
    assert "NOT_EXPANDED" not in messages[0]
    assert "REDIS_PORT" not in messages[0]


def test_no_warning_when_the_variables_are_set() -> None:
    nodes = NODES.replace("{echo: false}", "{url: '{DB_HOST}'}")
    system = load_system_from_texts(nodes, [FLOWS], environ={"DB_HOST": "h"})
    assert not [w for w in system.warnings if "storage 'S1'" in w.message]


def test_queue_variables_are_still_required_at_load() -> None:
    nodes = NODES.replace(
        "import: myproject.tasks\n    storage: S1",
        "import: myproject.tasks\n    storage: S1\n    queue: '{Q}_v0'",
    )
    with pytest.raises(SpecError, match="'Q' is not set"):
        load_system_from_texts(nodes, [FLOWS], environ={})


# ------------------------------------------------------------------ global section


def test_one_bad_global_key_keeps_the_others() -> None:
    nodes = NODES + (
        "global:\n"
        "  trace:\n    import: myapp.trace\n    function: trace_func\n"
        "  predicates_module: myapp.predicates\n"
    )
    flows = FLOWS.replace(
        "      - from: Task1\n        to: Task2\n",
        "      - from: Task1\n        to: Task2\n        condition:\n"
        "          name: isPositive\n          args: {key: n}\n",
    )
    with pytest.raises(SpecError) as caught:
        load_system_from_texts(nodes, [flows], environ={})
    problems = caught.value.problems
    # both problems are inside the trace entry (lines 14-16); none about the predicate
    assert [p.line for p in problems] == [15, 16], [str(p) for p in problems]
    assert not any("predicate" in p.message for p in problems)


# ------------------------------------------------------------------ fallback on fallback


FALLBACK_NODES = """\
tasks:
  - {name: Task1, import: myproject.tasks}
  - {name: Task2, import: myproject.tasks}
  - {name: Fallback1, import: myproject.tasks}
  - {name: Fallback2, import: myproject.tasks}
flows: [flow1]
"""

FALLBACK_FLOWS = """\
flow-definitions:
  - name: flow1
    edges:
      - from:
        to: [Task1, Task2]
    failures:
      - nodes: Task1
        fallback: Fallback1
      - nodes: Fallback1
        fallback: Fallback2
"""


def test_fallback_on_fallback_loads_and_runs() -> None:
    system = load_system_from_texts(FALLBACK_NODES, [FALLBACK_FLOWS], environ={})
    sim = run_to_completion(Dispatcher(system), "flow1", fail={"Task1", "Fallback1"})
    assert sim.task_names() == ["Task1", "Task2", "Fallback1", "Fallback2"]
    assert sim.status == "succeeded"
    sim = run_to_completion(Dispatcher(system), "flow1", fail={"Task1", "Fallback1", "Fallback2"})
    assert sim.status == "failed"


def test_failure_node_not_in_edges_nor_fallbacks_is_still_rejected() -> None:
    nodes = FALLBACK_NODES.replace("flows:", "  - {name: Task3, import: myproject.tasks}\nflows:")
    flows = FALLBACK_FLOWS + "      - nodes: Task3\n        fallback: Fallback2\n"
    with pytest.raises(SpecError, match="node 'Task3' is not used in this flow"):
        load_system_from_texts(nodes, [flows], environ={})


# ------------------------------------------------------------------ alias bombs


def bomb(levels: int, width: int = 9, *, under: str = "tasks_extra") -> str:
    """The classic "billion laughs": each anchor lists the previous one ``width`` times."""
    lines = [f"{under}:", "  - &l0 [lol]"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"  - &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_in_an_ignored_key_is_accepted() -> None:
    # Expanded into copies this would be 9**9 lists (hours); shared, it is 10.
    system = load_system_from_texts(NODES + bomb(9), [FLOWS], environ={})
    assert any("unknown top-level key 'tasks_extra'" in w.message for w in system.warnings)


def test_alias_bomb_inside_the_configuration_is_rejected_naming_the_anchor() -> None:
    # the anchors must be defined before use: put them first
    nodes = bomb(9).replace("tasks_extra:", "x-anchors:") + NODES.replace(
        "{echo: false}", "{rows: *l9}"
    )
    with pytest.raises(SpecError) as caught:
        load_system_from_texts(nodes, [FLOWS], environ={})
    (problem,) = caught.value.problems
    assert "&l8" in problem.message
    assert "YAML aliases" in problem.message
    assert problem.line == 10  # where '&l8' is defined


def test_aliases_below_the_budget_are_fine_and_shared() -> None:
    nodes = bomb(3, width=4, under="x-anchors") + NODES.replace("{echo: false}", "{rows: *l3}")
    system = load_system_from_texts(nodes, [FLOWS], environ={})
    rows = system.spec.storage("S1").configuration["rows"]
    assert len(rows) == 4
    assert rows[0] is rows[1]
    assert ALIAS_BUDGET > 4**3


def test_max_foreach_nodes_must_be_positive() -> None:
    with pytest.raises(SpecError, match="max_foreach_nodes"):
        load_system_from_texts(NODES + "global:\n  max_foreach_nodes: 0\n", [FLOWS], environ={})
    flows = FLOWS.replace("  - name: flow2\n", "  - name: flow2\n    max_foreach_nodes: -1\n")
    with pytest.raises(SpecError, match="max_foreach_nodes"):
        load_system_from_texts(NODES, [flows], environ={})
