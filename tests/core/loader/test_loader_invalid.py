"""A table of invalid configurations: each yields the expected message at the expected line."""

from __future__ import annotations

import pytest

from selinon_core.config.loader import load_system_from_texts
from selinon_core.errors import SpecError

NODES = """\
tasks:
  - name: Task1
    import: myproject.tasks
    storage: S1
  - name: Task2
    import: myproject.tasks
    storage: S1
  - name: Task3
    import: myproject.tasks
flows: [flow1, flow2]
storages:
  - name: S1
    import: myapp.storages
    classname: MyStorage
    configuration: {echo: false}
"""

FLOWS = """\
flow-definitions:
  - name: flow1
    edges:
      - from:
        to: Task1
      - from: Task1
        to: [Task2, flow2]
  - name: flow2
    edges:
      - from:
        to: Task3
"""

N, F = "<nodes>", "<flows-1>"


def nodes(old: str, new: str) -> str:
    assert old in NODES
    return NODES.replace(old, new, 1)


def flow1(edges_and_keys: str) -> str:
    """flow1 with the given body (indented as the keys of a flow entry), then the usual flow2."""
    return (
        "flow-definitions:\n  - name: flow1\n"
        + edges_and_keys
        + "  - name: flow2\n    edges:\n      - from:\n        to: Task3\n"
    )


BASE_EDGES = """\
    edges:
      - from:
        to: Task1
      - from: Task1
        to: [Task2, flow2]
"""

# (id, nodes text, flows text, message fragment, file, line)
CASES: list[tuple[str, str, str, str, str, int]] = [
    # ---------------------------------------------------------------- tasks
    (
        "task-missing-import",
        nodes("  - name: Task3\n    import: myproject.tasks\n", "  - name: Task3\n    queue: q\n"),
        FLOWS,
        "missing required key 'import'",
        N,
        8,
    ),
    (
        "task-unknown-key",
        nodes("    storage: S1\n  - name: Task3", "    storge: S1\n  - name: Task3"),
        FLOWS,
        "unknown key 'storge'",
        N,
        7,
    ),
    (
        "task-negative-retry",
        nodes(
            "    import: myproject.tasks\nflows",
            "    import: myproject.tasks\n    max_retry: -1\nflows",
        ),
        FLOWS,
        "'max_retry'",
        N,
        10,
    ),
    (
        "task-retry-not-int",
        nodes(
            "    import: myproject.tasks\nflows",
            "    import: myproject.tasks\n    max_retry: abc\nflows",
        ),
        FLOWS,
        "invalid 'max_retry'",
        N,
        10,
    ),
    (
        "task-bad-name",
        nodes("  - name: Task3", "  - name: 3Task"),
        FLOWS,
        "task '3Task': invalid name",
        N,
        8,
    ),
    (
        "task-defined-twice",
        nodes("  - name: Task3", "  - name: Task2"),
        FLOWS,
        "task 'Task2': another task has the same name",
        N,
        8,
    ),
    (
        "task-unknown-storage",
        nodes("    storage: S1\n  - name: Task2", "    storage: S2\n  - name: Task2"),
        FLOWS,
        "unknown storage 'S2'",
        N,
        4,
    ),
    (
        "task-storage-task-name-alone",
        nodes(
            "    import: myproject.tasks\nflows",
            "    import: myproject.tasks\n    storage_task_name: X\nflows",
        ),
        FLOWS,
        "'storage_task_name' needs a 'storage'",
        N,
        10,
    ),
    (
        "task-both-readonly-spellings",
        nodes(
            "    storage: S1\n  - name: Task3",
            "    storage: S1\n    storage_readonly: true\n    storage_read_only: true\n"
            "  - name: Task3",
        ),
        FLOWS,
        "not both",
        N,
        5,
    ),
    (
        "task-import-missing-module",
        nodes(
            "  - name: Task3\n    import: myproject.tasks",
            "  - name: Task3\n    import: nosuch.module",
        ),
        FLOWS,
        "cannot import module 'nosuch.module'",
        N,
        9,
    ),
    (
        "task-class-missing",
        nodes(
            "    import: myproject.tasks\nflows",
            "    import: myproject.tasks\n    classname: Tsak3\nflows",
        ),
        FLOWS,
        "task class 'Tsak3' not found",
        N,
        10,
    ),
    (
        "task-throttling-unknown-key",
        nodes(
            "    import: myproject.tasks\nflows",
            "    import: myproject.tasks\n    throttling: {secs: 1}\nflows",
        ),
        FLOWS,
        "unknown key 'secs'",
        N,
        10,
    ),
    (
        "task-throttling-negative",
        nodes(
            "    import: myproject.tasks\nflows",
            "    import: myproject.tasks\n    throttling:\n      seconds: -5\nflows",
        ),
        FLOWS,
        "must not be negative",
        N,
        11,
    ),
    (
        "task-selective-fn-both",
        nodes(
            "    import: myproject.tasks\nflows",
            "    import: myproject.tasks\n    selective_run_function:\n"
            "      name: a\n      function: b\nflows",
        ),
        FLOWS,
        "either 'name' or 'function'",
        N,
        11,
    ),
    (
        "task-selective-fn-missing",
        nodes(
            "    import: myproject.tasks\nflows",
            "    import: myproject.tasks\n    selective_run_function:\n"
            "      function: nope\n      import: myapp.selective\nflows",
        ),
        FLOWS,
        "selective run function 'nope' not found",
        N,
        11,
    ),
    (
        "task-timeout-zero",
        nodes(
            "    import: myproject.tasks\nflows",
            "    import: myproject.tasks\n    timeout: 0\nflows",
        ),
        FLOWS,
        "'timeout'",
        N,
        10,
    ),
    (
        "task-queue-env-missing",
        nodes(
            "    import: myproject.tasks\nflows",
            "    import: myproject.tasks\n    queue: '{NOPE}_q'\nflows",
        ),
        FLOWS,
        "'NOPE' is not set",
        N,
        10,
    ),
    (
        "task-queue-env-malformed",
        nodes(
            "    import: myproject.tasks\nflows",
            "    import: myproject.tasks\n    queue: '{oops'\nflows",
        ),
        FLOWS,
        "malformed",
        N,
        10,
    ),
    (
        "task-queue-env-attribute",
        nodes(
            "    import: myproject.tasks\nflows",
            "    import: myproject.tasks\n    queue: '{A.b}'\nflows",
        ),
        FLOWS,
        "only '{NAME}'",
        N,
        10,
    ),
    ("tasks-missing", NODES.replace("tasks:", "tsks:"), FLOWS, "no tasks defined", N, 1),
    (
        "tasks-not-list",
        "tasks: {}\n" + NODES.split("flows:", 1)[1].join(["flows:", ""]),
        FLOWS,
        "'tasks' must be a list",
        N,
        1,
    ),
    (
        "task-not-mapping",
        nodes("  - name: Task3\n    import: myproject.tasks\n", "  - Task3\n"),
        FLOWS,
        "must be a mapping",
        N,
        8,
    ),
    # ---------------------------------------------------------------- storages
    (
        "storage-no-configuration",
        nodes("    configuration: {echo: false}\n", ""),
        FLOWS,
        "missing required key 'configuration'",
        N,
        12,
    ),
    (
        "storage-empty-configuration",
        nodes("{echo: false}", "{}"),
        FLOWS,
        "'configuration' must not be empty",
        N,
        15,
    ),
    (
        "storage-twice",
        NODES + "  - name: S1\n    import: myapp.storages\n    configuration: x\n",
        FLOWS,
        "storage 'S1': another storage has the same name",
        N,
        16,
    ),
    (
        "storage-named-like-task",
        NODES + "  - name: Task1\n    import: myapp.storages\n    configuration: x\n",
        FLOWS,
        "storage 'Task1': a task has the same name",
        N,
        16,
    ),
    (
        "storage-class-missing",
        nodes("classname: MyStorage", "classname: NoStorage"),
        FLOWS,
        "storage class 'NoStorage' not found",
        N,
        14,
    ),
    (
        "storage-unsupported-selinon",
        nodes("import: myapp.storages", "import: selinon.storages.mongodb"),
        FLOWS,
        "not supported",
        N,
        13,
    ),
    (
        "storage-cache-unknown-key",
        NODES + "    cache: {nme: LRU}\n",
        FLOWS,
        "unknown key 'nme'",
        N,
        16,
    ),
    ("storage-cache-not-mapping", NODES + "    cache: LRU\n", FLOWS, "must be a mapping", N, 16),
    # ---------------------------------------------------------------- listing, global
    (
        "flow-listed-twice",
        nodes("[flow1, flow2]", "[flow1, flow2, flow1]"),
        FLOWS,
        "listed twice",
        N,
        10,
    ),
    (
        "flow-listed-undefined",
        nodes("[flow1, flow2]", "[flow1, flow2, flow3]"),
        FLOWS,
        "flow 'flow3' is listed but has no definition",
        N,
        10,
    ),
    (
        "flow-defined-unlisted",
        nodes("[flow1, flow2]", "[flow1]"),
        FLOWS,
        "flow 'flow2': defined but not listed",
        F,
        8,
    ),
    (
        "flow-named-like-task",
        nodes("[flow1, flow2]", "[flow1, flow2, Task1]"),
        FLOWS,
        "same name as a task",
        N,
        10,
    ),
    (
        "flow-bad-name",
        nodes("[flow1, flow2]", "[flow1, flow2, 9x]"),
        FLOWS,
        "invalid flow name '9x'",
        N,
        10,
    ),
    ("flows-not-list", nodes("[flow1, flow2]", "flow1"), FLOWS, "'flows' must be a list", N, 10),
    (
        "global-unknown-key",
        NODES + "global:\n  predicates_modul: x\n",
        FLOWS,
        "unknown key 'predicates_modul'",
        N,
        17,
    ),
    (
        "global-predicates-module-missing",
        NODES + "global:\n  predicates_module: nosuchmod\n",
        FLOWS,
        "cannot import module 'nosuchmod'",
        N,
        17,
    ),
    (
        "global-trace-unknown-storage",
        NODES + "global:\n  trace:\n    - storage:\n        name: S9\n",
        FLOWS,
        "unknown storage 'S9'",
        N,
        19,
    ),
    (
        "global-trace-json-not-bool",
        NODES + "global:\n  trace:\n    - json: maybe\n",
        FLOWS,
        "invalid 'json'",
        N,
        18,
    ),
    (
        "global-trace-function-no-name",
        NODES + "global:\n  trace:\n    - function: {import: myapp.trace}\n",
        FLOWS,
        "missing required key 'name'",
        N,
        18,
    ),
    (
        "global-trace-function-missing",
        NODES + "global:\n  trace:\n    - function:\n"
        "        import: myapp.trace\n        name: my_trace\n",
        FLOWS,
        "trace function 'my_trace' not found",
        N,
        20,
    ),
    (
        "global-migration-dir-env",
        NODES + "global:\n  migration_dir: '{MIGRATIONS}'\n",
        FLOWS,
        "'MIGRATIONS' is not set",
        N,
        17,
    ),
    (
        "global-sentry-env",
        NODES + "global:\n  trace:\n    - sentry:\n        dsn: '{SENTRY_DSN}'\n",
        FLOWS,
        "'SENTRY_DSN' is not set",
        N,
        19,
    ),
    # ---------------------------------------------------------------- YAML itself
    ("yaml-malformed", NODES + "  - name: [x\n", FLOWS, "invalid YAML", N, 17),
    ("yaml-flow-file-malformed", NODES, FLOWS + "  - name: [\n", "invalid YAML", F, 13),
    ("flow-file-no-definitions", NODES, "flows:\n  - name: flow1\n", "'flow-definitions'", F, 1),
    (
        "flow-definitions-not-list",
        NODES,
        "flow-definitions: {name: flow1}\n",
        "must be a list of flow definitions",
        F,
        1,
    ),
    # ---------------------------------------------------------------- edges
    (
        "edge-unknown-to",
        NODES,
        FLOWS.replace("[Task2, flow2]", "[Tsk2, flow2]"),
        "unknown node 'Tsk2'",
        F,
        7,
    ),
    (
        "edge-unknown-from",
        NODES,
        FLOWS.replace("- from: Task1", "- from: Task11"),
        "unknown node 'Task11'",
        F,
        6,
    ),
    (
        "edge-duplicate-source",
        NODES,
        flow1(BASE_EDGES + "      - from: [Task1, Task1]\n        to: Task3\n"),
        "source node 'Task1' is listed twice",
        F,
        8,
    ),
    (
        "edge-missing-from",
        NODES,
        flow1("    edges:\n      - to: Task1\n"),
        "missing required key 'from'",
        F,
        4,
    ),
    ("edges-empty", NODES, flow1("    edges: []\n"), "'edges' must not be empty", F, 3),
    (
        "edge-unknown-key",
        NODES,
        flow1(
            BASE_EDGES + "      - from: Task2\n        to: Task3\n"
            "        condtion: {name: alwaysTrue}\n"
        ),
        "unknown key 'condtion'",
        F,
        10,
    ),
    (
        "edge-empty-to",
        NODES,
        flow1(BASE_EDGES + "      - from: Task2\n        to: []\n"),
        "'to' must not be empty",
        F,
        9,
    ),
    (
        "edge-from-number",
        NODES,
        flow1(BASE_EDGES + "      - from: 5\n        to: Task3\n"),
        "'from' must be a node name or a list of node names",
        F,
        8,
    ),
    (
        "no-starting-edge",
        NODES,
        flow1("    edges:\n      - from: Task1\n        to: Task2\n"),
        "no starting edge",
        F,
        4,
    ),
    (
        "dependency-never-started",
        NODES,
        flow1(BASE_EDGES + "      - from: Task3\n        to: Task2\n"),
        "'Task3', which is never started",
        F,
        8,
    ),
    (
        "foreach-missing-import",
        NODES,
        flow1(
            BASE_EDGES + "      - from: Task2\n        to: Task3\n        foreach: {function: f}\n"
        ),
        "missing required key 'import'",
        F,
        10,
    ),
    (
        "foreach-function-missing",
        NODES,
        flow1(
            BASE_EDGES + "      - from: Task2\n        to: Task3\n"
            "        foreach:\n          function: nope\n"
            "          import: myapp.foreach\n"
        ),
        "foreach function 'nope' not found",
        F,
        11,
    ),
    (
        "foreach-propagate-to-task",
        NODES,
        flow1(
            BASE_EDGES + "      - from: Task2\n        to: Task3\n"
            "        foreach:\n          function: iter_foreach\n"
            "          import: myapp.foreach\n"
            "          propagate_result: true\n"
        ),
        "needs sub-flow destinations",
        F,
        9,
    ),
    (
        "foreach-propagate-and-node-args",
        NODES,
        flow1(
            "    propagate_node_args: true\n    edges:\n      - from:\n        to: Task1\n"
            "      - from: Task1\n        to: flow2\n        foreach:\n"
            "          function: iter_foreach\n"
            "          import: myapp.foreach\n          propagate_result: true\n"
        ),
        "cannot also be in 'propagate_node_args'",
        F,
        12,
    ),
    (
        "selective-to-task",
        NODES,
        flow1(
            BASE_EDGES + "      - from: Task2\n        to: Task3\n"
            "        selective: {tasks: [Task3]}\n"
        ),
        "exactly one sub-flow",
        F,
        10,
    ),
    (
        "selective-unknown-task",
        NODES,
        flow1(
            "    edges:\n      - from:\n        to: Task1\n"
            "      - from: Task1\n        to: flow2\n"
            "        selective:\n          tasks: [Task9]\n"
        ),
        "unknown task 'Task9'",
        F,
        9,
    ),
    (
        "selective-no-tasks",
        NODES,
        flow1(
            "    edges:\n      - from:\n        to: Task1\n"
            "      - from: Task1\n        to: flow2\n"
            "        selective: {follow_subflows: true}\n"
        ),
        "missing required key 'tasks'",
        F,
        8,
    ),
    # ---------------------------------------------------------------- flow flags
    (
        "propagate-parent-not-destination",
        NODES,
        flow1("    propagate_parent: [Task2]\n" + BASE_EDGES),
        "'propagate_parent' names 'Task2'",
        F,
        3,
    ),
    (
        "propagate-finished-not-source",
        NODES,
        flow1("    propagate_finished: flow2\n" + BASE_EDGES),
        "not a sub-flow that is a source",
        F,
        3,
    ),
    (
        "propagate-finished-disjoint",
        NODES,
        flow1("    propagate_finished: true\n    propagate_compound_finished: true\n" + BASE_EDGES),
        "mutually exclusive",
        F,
        4,
    ),
    (
        "propagate-failures-no-fallback",
        NODES,
        flow1("    propagate_failures: [Task1]\n" + BASE_EDGES),
        "not a node with a fallback",
        F,
        3,
    ),
    (
        "nowait-never-started",
        NODES,
        flow1("    nowait: Task3\n" + BASE_EDGES),
        "never started",
        F,
        3,
    ),
    (
        "nowait-is-source",
        NODES,
        flow1("    nowait: [Task1]\n" + BASE_EDGES),
        "cannot be waited",
        F,
        3,
    ),
    (
        "eager-not-used",
        NODES,
        flow1("    eager_failures: [Task3]\n" + BASE_EDGES),
        "not used",
        F,
        3,
    ),
    (
        "eager-and-nowait",
        NODES,
        flow1("    nowait: Task2\n    eager_failures: [Task2]\n" + BASE_EDGES),
        "both 'nowait' and in 'eager_failures'",
        F,
        4,
    ),
    (
        "eager-with-fallback",
        NODES,
        flow1(
            "    eager_failures: [Task2]\n" + BASE_EDGES + "    failures:\n      - nodes: Task2\n"
            "        fallback: Task3\n"
        ),
        "has a fallback",
        F,
        3,
    ),
    (
        "eager-wrong-type",
        NODES,
        flow1("    eager_failures: 5\n" + BASE_EDGES),
        "'eager_failures'",
        F,
        3,
    ),
    (
        "first-two-starting-edges",
        NODES,
        flow1(
            "    node_args_from_first: true\n" + BASE_EDGES + "      - from:\n        to: Task3\n"
        ),
        "exactly one starting edge",
        F,
        3,
    ),
    (
        "first-subflow",
        NODES,
        flow1("    node_args_from_first: true\n    edges:\n      - from:\n        to: flow2\n"),
        "needs a task",
        F,
        3,
    ),
    ("flow-negative-retry", NODES, flow1("    max_retry: -2\n" + BASE_EDGES), "'max_retry'", F, 3),
    (
        "flow-unknown-key",
        NODES,
        flow1("    propagate_nodeargs: true\n" + BASE_EDGES),
        "unknown key 'propagate_nodeargs'",
        F,
        3,
    ),
    (
        "flow-defined-twice",
        NODES,
        FLOWS + "  - name: flow1\n    edges:\n      - from:\n        to: Task1\n",
        "flow 'flow1': defined twice",
        F,
        12,
    ),
    (
        "flow-cache-not-mapping",
        NODES,
        flow1("    cache: LRU\n" + BASE_EDGES),
        "must be a mapping",
        F,
        3,
    ),
    # ---------------------------------------------------------------- failures
    (
        "failure-unknown-node",
        NODES,
        flow1(BASE_EDGES + "    failures:\n      - nodes: Tsak1\n        fallback: Task3\n"),
        "unknown node 'Tsak1'",
        F,
        9,
    ),
    (
        "failure-node-not-in-flow",
        NODES,
        flow1(BASE_EDGES + "    failures:\n      - nodes: Task3\n        fallback: Task2\n"),
        "not used in this flow",
        F,
        9,
    ),
    (
        "failure-unknown-fallback",
        NODES,
        flow1(BASE_EDGES + "    failures:\n      - nodes: Task1\n        fallback: Fallback\n"),
        "unknown node 'Fallback'",
        F,
        10,
    ),
    (
        "failure-cyclic",
        NODES,
        flow1(BASE_EDGES + "    failures:\n      - nodes: Task2\n        fallback: Task2\n"),
        "cyclic fallback",
        F,
        10,
    ),
    (
        "failure-true-and-propagate",
        NODES,
        flow1(
            BASE_EDGES + "    failures:\n      - nodes: Task2\n"
            "        fallback: true\n        propagate_failure: true\n"
        ),
        "misleading",
        F,
        11,
    ),
    (
        "failure-no-fallback",
        NODES,
        flow1(BASE_EDGES + "    failures:\n      - nodes: Task2\n"),
        "missing required key 'fallback'",
        F,
        9,
    ),
    (
        "failure-unknown-key",
        NODES,
        flow1(
            BASE_EDGES + "    failures:\n      - nodes: Task2\n"
            "        fallback: Task3\n        falback: Task3\n"
        ),
        "unknown key 'falback'",
        F,
        11,
    ),
    (
        "failure-message-predicate",
        NODES,
        flow1(
            BASE_EDGES + "    failures:\n      - nodes: Task2\n        fallback: Task3\n"
            "        condition: {name: fieldExist, args: {key: a}}\n"
        ),
        "failure condition",
        F,
        11,
    ),
    # ---------------------------------------------------------------- conditions
    (
        "predicate-unknown",
        NODES,
        flow1(
            BASE_EDGES + "      - from: Task2\n        to: Task3\n"
            "        condition:\n          name: fieldEqal\n"
        ),
        "unknown predicate 'fieldEqal'",
        F,
        11,
    ),
    (
        "predicate-missing-arg",
        NODES,
        flow1(
            BASE_EDGES + "      - from: Task2\n        to: Task3\n"
            "        condition:\n          name: fieldEqual\n"
            "          args: {key: a}\n"
        ),
        "needs argument 'value'",
        F,
        12,
    ),
    (
        "predicate-extra-arg",
        NODES,
        flow1(
            BASE_EDGES + "      - from: Task2\n        to: Task3\n"
            "        condition:\n          name: fieldEqual\n"
            "          args:\n            key: a\n            value: b\n"
            "            extra: c\n"
        ),
        "has no argument 'extra'",
        F,
        15,
    ),
    (
        "predicate-on-starting-edge",
        NODES,
        flow1(
            "    edges:\n      - from:\n        to: Task1\n"
            "        condition: {name: fieldExist, args: {key: a}}\n"
        ),
        "starting edge",
        F,
        6,
    ),
    (
        "predicate-needs-node",
        NODES,
        flow1(
            BASE_EDGES + "      - from: [Task1, Task2]\n        to: Task3\n"
            "        condition: {name: fieldExist, args: {key: a}}\n"
        ),
        "must say which source node",
        F,
        10,
    ),
    (
        "predicate-node-not-source",
        NODES,
        flow1(
            BASE_EDGES + "      - from: Task2\n        to: Task3\n"
            "        condition: {name: fieldExist, node: Task1, args: {key: a}}\n"
        ),
        "'Task1' read by predicate 'fieldExist' is not a source",
        F,
        10,
    ),
    (
        "predicate-node-no-storage",
        NODES,
        flow1(BASE_EDGES).replace(
            "        to: Task3\n",
            "        to: Task3\n      - from: Task3\n        to: Task1\n"
            "        condition: {name: fieldExist, args: {key: a}}\n",
        ),
        "has no storage",
        F,
        14,
    ),
    (
        "predicate-node-subflow",
        NODES,
        flow1(
            BASE_EDGES + "      - from: flow2\n        to: Task3\n"
            "        condition: {name: fieldExist, args: {key: a}}\n"
        ),
        "which is a sub-flow",
        F,
        10,
    ),
    (
        "predicate-node-path-unknown",
        NODES,
        flow1(
            BASE_EDGES + "      - from: flow2\n        to: Task3\n"
            "        condition: {name: fieldExist, node: flow2/Task9, "
            "args: {key: a}}\n"
        ),
        "'Task9' is not a node of flow 'flow2'",
        F,
        10,
    ),
    (
        "predicate-node-path-no-storage",
        NODES,
        flow1(
            BASE_EDGES + "      - from: flow2\n        to: Task3\n"
            "        condition: {name: fieldExist, node: flow2/Task3, "
            "args: {key: a}}\n"
        ),
        "'Task3', which has no storage",
        F,
        10,
    ),
    (
        "predicate-read-only-storage",
        nodes(
            "    storage: S1\n  - name: Task3",
            "    storage: S1\n    storage_readonly: true\n  - name: Task3",
        ),
        flow1(
            BASE_EDGES + "      - from: Task2\n        to: Task3\n"
            "        condition: {name: fieldExist, args: {key: a}}\n"
        ),
        "read-only",
        F,
        10,
    ),
    (
        "condition-and-not-list",
        NODES,
        flow1(
            BASE_EDGES + "      - from: Task2\n        to: Task3\n"
            "        condition:\n          and: {name: alwaysTrue}\n"
        ),
        "takes a non-empty list",
        F,
        11,
    ),
    (
        "condition-not-list",
        NODES,
        flow1(
            BASE_EDGES + "      - from: Task2\n        to: Task3\n"
            "        condition:\n          not: [{name: alwaysTrue}]\n"
        ),
        "not a list",
        F,
        11,
    ),
    (
        "condition-unknown-key",
        NODES,
        flow1(
            BASE_EDGES + "      - from: Task2\n        to: Task3\n"
            "        condition:\n          nmae: alwaysTrue\n"
        ),
        "unknown condition key 'nmae'",
        F,
        11,
    ),
    (
        "condition-leaf-unknown-key",
        NODES,
        flow1(
            BASE_EDGES + "      - from: Task2\n        to: Task3\n"
            "        condition:\n          name: alwaysTrue\n"
            "          nod: Task2\n"
        ),
        "unknown predicate key 'nod'",
        F,
        12,
    ),
    (
        "condition-two-operators",
        NODES,
        flow1(
            BASE_EDGES + "      - from: Task2\n        to: Task3\n"
            "        condition:\n          and: [{name: alwaysTrue}]\n"
            "          or: [{name: alwaysTrue}]\n"
        ),
        "exactly one of",
        F,
        11,
    ),
    (
        "condition-nested-unknown",
        NODES,
        flow1(
            BASE_EDGES + "      - from: Task2\n        to: Task3\n"
            "        condition:\n          or:\n"
            "            - name: alwaysTrue\n"
            "            - not:\n                name: alwaysTrU\n"
        ),
        "unknown predicate 'alwaysTrU'",
        F,
        14,
    ),
    # ---------------------------------------------------------------- sampling
    (
        "sampling-no-args",
        NODES,
        flow1("    sampling: {name: constant}\n" + BASE_EDGES),
        "missing required key 'args'",
        F,
        3,
    ),
    (
        "sampling-unknown-arg",
        NODES,
        flow1("    sampling:\n      name: constant\n      args: {retri: 10}\n" + BASE_EDGES),
        "has no argument 'retri'",
        F,
        5,
    ),
    (
        "sampling-missing-arg",
        NODES,
        flow1("    sampling:\n      name: constant\n      args: {}\n" + BASE_EDGES),
        "needs argument 'retry'",
        F,
        5,
    ),
    (
        "sampling-unknown-strategy",
        NODES,
        flow1("    sampling:\n      name: constnat\n      args: {retry: 1}\n" + BASE_EDGES),
        "sampling strategy 'constnat' not found",
        F,
        4,
    ),
]


@pytest.mark.parametrize(
    ("nodes_text", "flows_text", "fragment", "file", "line"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_invalid_configuration(
    nodes_text: str, flows_text: str, fragment: str, file: str, line: int
) -> None:
    with pytest.raises(SpecError) as caught:
        load_system_from_texts(nodes_text, [flows_text], environ={})
    problems = caught.value.problems
    found = [p for p in problems if fragment in p.message]
    assert found, "\n".join(str(p) for p in problems)
    assert (found[0].file, found[0].line) == (file, line), "\n".join(str(p) for p in problems)


def test_table_is_large_and_distinct() -> None:
    assert len(CASES) >= 60
    assert len({case[0] for case in CASES}) == len(CASES)
    assert len({(case[1], case[2]) for case in CASES}) == len(CASES)


def test_base_configuration_is_valid() -> None:
    system = load_system_from_texts(NODES, [FLOWS], environ={})
    assert sorted(system.spec.flows) == ["flow1", "flow2"]
    assert system.warnings == ()


def test_message_predicate_on_task_without_storage_hints_at_the_fix() -> None:
    nodes_text = (
        "tasks:\n  - {name: A, import: m}\n  - {name: B, import: m}\nflows: [f]\n"
        "flow-definitions:\n  - name: f\n    edges:\n      - {from: [], to: A}\n"
        "      - {from: A, to: B, condition: {name: fieldExist, args: {key: x}}}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_system_from_texts(nodes_text, check_imports=False, environ={})
    (problem,) = caught.value.problems
    assert "which has no storage" in problem.message
    assert problem.hint == "give task 'A' a 'storage' so its results can be read"
    assert problem.line == 9
