"""Random and mutated configurations: the loader returns a System or raises SpecError, only."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from selinon_core.config.loader import load_system_from_texts
from selinon_core.config.system import System
from selinon_core.errors import SpecError

DOCS = Path(__file__).resolve().parents[2] / "fixtures" / "docs"
SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _plain(text: str) -> Any:
    return YAML(typ="safe").load(text)


def _dump(data: Any) -> str:
    stream = io.StringIO()
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    yaml.dump(data, stream)
    return stream.getvalue()


BASE_NODES = _plain((DOCS / "reference" / "nodes.yaml").read_text(encoding="utf-8"))
BASE_FLOWS = _plain((DOCS / "reference" / "flows.yaml").read_text(encoding="utf-8"))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.sampled_from(["Task1", "flow2", "Storage1", "", "{X}", "1bad", "selinon.caches", "true"]),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _load(nodes: str, flows: list[str]) -> None:
    problems: tuple[Any, ...] = ()
    try:
        system = load_system_from_texts(nodes, flows, environ={})
    except SpecError as exc:
        problems = exc.problems
    else:
        assert isinstance(system, System)
        return
    assert problems
    assert all(isinstance(p.message, str) and p.message for p in problems)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_paths(value, (*prefix, i)))
    return found


def _mutate(data: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    data = copy.deepcopy(data)
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "rename" and isinstance(parent, dict):
        parent[f"{last}x"] = parent.pop(last)
    else:
        parent[last] = value
    return data


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, list[str]]:
    nodes, flows = BASE_NODES, BASE_FLOWS
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(["nodes", "flows"]))
        data = nodes if target == "nodes" else flows
        paths = _paths(data)
        if not paths:
            continue
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["delete", "rename", "replace"]))
        data = _mutate(data, path, action, draw(values))
        if target == "nodes":
            nodes = data
        else:
            flows = data
    return _dump(nodes), [_dump(flows)]


@SETTINGS
@given(mutated())
def test_mutated_configurations_raise_only_spec_error(config: tuple[str, list[str]]) -> None:
    _load(*config)


@SETTINGS
@given(st.text(max_size=200), st.text(max_size=200))
def test_random_text_raises_only_spec_error(nodes: str, flows: str) -> None:
    _load(nodes, [flows])


@SETTINGS
@given(values, values)
def test_random_yaml_structures_raise_only_spec_error(nodes: Any, flows: Any) -> None:
    _load(_dump(nodes), [_dump(flows)])


@SETTINGS
@given(
    st.lists(
        st.sampled_from(
            [
                "tasks:",
                "flows:",
                "- name: x",
                "  import: y",
                "&a",
                "*a",
                "<<: *a",
                "{",
                "[",
                "'",
                ": :",
                "flow-definitions:",
                "  - edges:",
                "    - from:",
                "!!python/object:os.system",
                "\t",
                "---",
                "...",
            ]
        ),
        max_size=12,
    )
)
def test_yaml_fragments_raise_only_spec_error(lines: list[str]) -> None:
    _load("\n".join(lines), ["\n".join(reversed(lines))])


def test_base_of_mutations_is_valid() -> None:
    system = load_system_from_texts(_dump(BASE_NODES), [_dump(BASE_FLOWS)], environ={})
    assert "flow1" in system.spec.flows


# ------------------------------------------------------------------ alias bombs, deep nesting
# Each case must finish in a second or two (a few milliseconds here); the deadline bounds it,
# so a loader that expands aliases into copies or recurses without end fails, not hangs.

BOUNDED = settings(
    max_examples=60,
    deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

BOMB_PLACES = ["x-anchors", "storage", "edges", "node_args", "trace"]


def _bomb_text(levels: int, width: int, place: str) -> str:
    anchors = ["x-anchors:", "  - &b0 [lol, {k: v}]"]
    for level in range(1, levels + 1):
        anchors.append(f"  - &b{level} [{', '.join([f'*b{level - 1}'] * width)}]")
    top = f"*b{levels}"
    body = {
        "x-anchors": "",
        "storage": f"storages:\n  - {{name: S, import: myapp.storages, configuration: {top}}}\n",
        "edges": "",
        "node_args": "",
        "trace": f"global:\n  trace: {top}\n",
    }[place]
    return "\n".join(anchors) + "\n" + _dump(BASE_NODES) + body


def _bomb_flows(levels: int, place: str) -> str:
    top = f"*b{levels}"
    if place == "edges":
        return "flow-definitions:\n  - name: flow1\n    edges: " + top + "\n"
    if place == "node_args":
        return (
            "flow-definitions:\n  - name: flow1\n    edges:\n      - from:\n        to: Task1\n"
            f"        condition: {{name: argsFieldEqual, args: {{key: a, value: {top}}}}}\n"
        )
    return _dump(BASE_FLOWS)


@BOUNDED
@given(st.integers(1, 12), st.integers(2, 12), st.sampled_from(BOMB_PLACES))
def test_alias_bombs_are_accepted_or_rejected_quickly(levels: int, width: int, place: str) -> None:
    nodes = _bomb_text(levels, width, place)
    flows = _bomb_flows(levels, place)
    if place in ("edges", "node_args"):  # anchors are per document: define them there too
        flows = nodes.split("\n" + _dump(BASE_NODES))[0] + "\n" + flows
    _load(nodes, [flows])


@settings(BOUNDED, max_examples=30)
@given(st.integers(1, 20_000), st.sampled_from(["[", "{a: ", "- "]))
def test_deep_nesting_is_accepted_or_rejected_quickly(depth: int, opener: str) -> None:
    closer = {"[": "]", "{a: ": "}", "- ": ""}[opener]
    if opener == "- ":
        deep = "".join("  " * i + "-\n" for i in range(min(depth, 1_000)))
    else:
        deep = opener * depth + "1" + closer * depth
    _load(_dump(BASE_NODES) + "x-deep: " + deep + "\n", [_dump(BASE_FLOWS)])
    _load(_dump(BASE_NODES), ["flow-definitions:\n  - name: flow1\n    edges: " + deep + "\n"])
