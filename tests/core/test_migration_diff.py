"""The edge changes a migration records: tables of cases, properties, and Selinon's golden files.

``tests/fixtures/migrations/<case>/`` holds an old and a new configuration and what Selinon
1.4.0's ``selinon-cli migrate`` wrote for them (``generate_selinon_golden.sh``). Our output must
equal it once the documented deviations are undone (:func:`selinon_view`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selinon_core.config.loader import load_system
from selinon_core.config.migration_diff import (
    STRATEGIES,
    EdgeKey,
    FlowMigration,
    condition_document,
    diff_flow_edges,
    diff_systems,
    migration_document,
    render_migration,
    same_migration,
)
from selinon_core.config.spec import EdgeSpec, SystemSpec
from selinon_core.config.system import System

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "migrations"
CASES = sorted(path.name for path in FIXTURES.iterdir() if (path / "old").is_dir())


def edge(
    sources: str | Sequence[str] | None, destinations: str | Sequence[str], **extra: Any
) -> EdgeSpec:
    """An edge as YAML would give it."""
    return EdgeSpec.model_validate({"from": sources, "to": destinations, **extra})


def edges(*pairs: tuple[Any, Any]) -> list[EdgeSpec]:
    return [edge(sources, destinations) for sources, destinations in pairs]


# --------------------------------------------------------------------------- table of cases

START_T1 = (None, "T1")
T1_T2 = ("T1", "T2")
T2_T3 = ("T2", "T3")
T1_T3 = ("T1", "T3")
T1_T4 = ("T1", "T4")

# (id, old edges, new edges, translation, tainted edge indexes, tainting nodes)
CASES_TABLE: list[
    tuple[str, list[Any], list[Any], dict[int, int | None], set[int], dict[int, tuple[str, ...]]]
] = [
    ("unchanged", [START_T1, T1_T2], [START_T1, T1_T2], {}, set(), {}),
    ("swap", [START_T1, T1_T2], [T1_T2, START_T1], {0: 1, 1: 0}, set(), {}),
    ("rotation", [START_T1, T1_T2, T2_T3], [T2_T3, START_T1, T1_T2], {0: 1, 1: 2, 2: 0}, set(), {}),
    ("edge appended", [START_T1, T1_T2], [START_T1, T1_T2, T1_T3], {}, set(), {2: ("T1",)}),
    ("starting edge added first", [START_T1], [(None, "T2"), START_T1], {0: 1}, set(), {}),
    ("edge removed", [START_T1, T1_T3, T1_T2], [START_T1, T1_T2], {1: None, 2: 1}, {1}, {}),
    ("last edge removed", [START_T1, T1_T2, T2_T3], [START_T1, T1_T2], {2: None}, {2}, {}),
    (
        "destination changed, moved",
        [START_T1, T1_T2, T2_T3],
        [START_T1, T2_T3, T1_T4],
        {1: 2, 2: 1},
        {1},
        {2: ("T1",)},
    ),
    ("destination changed in place", [START_T1, T1_T2], [START_T1, T1_T4], {}, {1}, {1: ("T1",)}),
    (
        "two old edges, one new with the same sources",
        [T1_T2, T1_T3],
        [T1_T4],
        {1: None},
        {0, 1},
        {0: ("T1",)},
    ),
    (
        "sources changed",
        [START_T1, T2_T3],
        [START_T1, (["T1", "T2"], "T3")],
        {1: None},
        {1},
        {1: ("T1", "T2")},
    ),
    ("duplicate removed", [T1_T2, T1_T2, T2_T3], [T1_T2, T2_T3], {1: None, 2: 1}, {1}, {}),
    ("duplicate added", [T1_T2, T2_T3], [T2_T3, T1_T2, T1_T2], {0: 1, 1: 0}, set(), {2: ("T1",)}),
    (
        "set order and repeats",
        [(["T1", "T2"], ["T3", "T4"])],
        [(["T2", "T1", "T1"], ["T4", "T3"])],
        {},
        set(),
        {},
    ),
    ("starting edge changed", [START_T1, T1_T2], [(None, "T2"), T1_T2], {}, {0}, {}),
]


@pytest.mark.parametrize(
    ("old", "new", "translation", "tainted", "tainting"),
    [pytest.param(*row[1:], id=row[0]) for row in CASES_TABLE],
)
def test_flow_cases(
    old: list[Any],
    new: list[Any],
    translation: dict[int, int | None],
    tainted: set[int],
    tainting: dict[int, tuple[str, ...]],
) -> None:
    migration = diff_flow_edges(edges(*old), edges(*new))
    assert dict(migration.translation) == translation
    assert set(migration.tainted_edges) == tainted
    assert dict(migration.tainting_nodes) == tainting
    assert migration.needed == bool(translation or tainted or tainting)


def test_conditions_foreach_and_selective_do_not_count() -> None:
    old = [edge(None, "T1"), edge("T1", "T2"), edge("T2", "F1")]
    new = [
        edge(None, "T1", condition={"name": "argsFieldExist", "args": {"key": "x"}}),
        edge("T1", "T2", foreach={"function": "items", "import": "mod"}),
        edge("T2", "F1", selective={"tasks": ["T9"]}),
    ]
    assert not diff_flow_edges(old, new).needed


def test_tainted_edge_carries_sorted_nodes_and_its_condition() -> None:
    condition = {"not": {"name": "argsFieldEqual", "args": {"key": "a", "value": [1, 2]}}}
    old = [edge(["T2", "T1"], ["T4", "T3"], condition=condition)]
    tainted = diff_flow_edges(old, []).tainted_edges[0]
    assert tainted.to_json() == {
        "from": ["T1", "T2"],
        "to": ["T3", "T4"],
        "condition_str": condition,
    }


@pytest.mark.parametrize(
    "condition",
    [
        {"name": "alwaysTrue"},
        {"name": "fieldEqual", "node": "T1", "args": {"key": ["a", "b"], "value": {"x": 1}}},
        {
            "and": [
                {"name": "alwaysFalse"},
                {"or": [{"name": "alwaysTrue"}, {"not": {"name": "alwaysFalse"}}]},
            ]
        },
    ],
)
def test_condition_document_is_the_yaml_spelling(condition: dict[str, Any]) -> None:
    assert condition_document(edge("T1", "T2", condition=condition).condition) == condition


def test_absent_condition_is_always_true() -> None:
    assert condition_document(edge("T1", "T2").condition) == {"name": "alwaysTrue"}
    assert condition_document(edge("T1", "T2", condition=None).condition) == {"name": "alwaysTrue"}


def test_summary_counts() -> None:
    migration = diff_flow_edges(
        edges(START_T1, T1_T2, T1_T3, T2_T3), edges(START_T1, T2_T3, (["T2"], "T4"))
    )
    assert migration.summary() == (
        "1 edge renumbered, 2 edges dropped, 2 tainted edges, 1 tainting edge"
    )
    assert FlowMigration().summary() == "unchanged"


# --------------------------------------------------------------------------- properties

NAMES = ("A", "B", "C", "D")
node_sets = st.lists(st.sampled_from(NAMES), max_size=3)
edge_lists = st.lists(
    st.tuples(node_sets, st.lists(st.sampled_from(NAMES), min_size=1, max_size=3)), max_size=8
)


def translated(migration: FlowMigration, index: int) -> int | None:
    return migration.translation.get(index, index)


@given(data=st.data(), pairs=edge_lists)
def test_any_reordering_is_a_translation_only(data: st.DataObject, pairs: list[Any]) -> None:
    old = edges(*pairs)
    order = data.draw(st.permutations(range(len(old))))
    new = [old[index] for index in order]
    migration = diff_flow_edges(old, new)
    assert not migration.tainted_edges
    assert not migration.tainting_nodes
    targets = [translated(migration, index) for index in range(len(old))]
    assert sorted(t for t in targets if t is not None) == list(range(len(old)))
    for index, target in enumerate(targets):
        assert target is not None
        assert EdgeKey.of(new[target]) == EdgeKey.of(old[index])
    # identical edges keep their relative order (matched first with first)
    for first in range(len(old)):
        for second in range(first + 1, len(old)):
            if EdgeKey.of(old[first]) == EdgeKey.of(old[second]):
                assert targets[first] < targets[second]  # type: ignore[operator]
    moved = [EdgeKey.of(e) for e in new] != [EdgeKey.of(e) for e in old]
    assert migration.needed == moved


@given(old_pairs=edge_lists, new_pairs=edge_lists)
def test_any_edit_is_described_consistently(old_pairs: list[Any], new_pairs: list[Any]) -> None:
    old, new = edges(*old_pairs), edges(*new_pairs)
    migration = diff_flow_edges(old, new)
    targets = {index: translated(migration, index) for index in range(len(old))}
    kept = [target for target in targets.values() if target is not None]
    assert len(kept) == len(set(kept))  # no two old edges become the same new edge
    assert all(0 <= target < len(new) for target in kept)
    matched_new = {targets[i] for i in range(len(old)) if i not in migration.tainted_edges}
    unmatched_new = set(range(len(new))) - matched_new
    for index, target in targets.items():
        if index not in migration.tainted_edges:
            assert target is not None
            assert EdgeKey.of(new[target]) == EdgeKey.of(old[index])
        elif target is not None:  # carried over to a new edge with the same sources
            assert target in unmatched_new
            assert set(new[target].from_) == set(old[index].from_)
    # the matching is maximal: an unmatched old edge has no unmatched new twin
    unmatched_new_keys = {EdgeKey.of(new[index]) for index in unmatched_new}
    assert not any(EdgeKey.of(old[i]) in unmatched_new_keys for i in migration.tainted_edges)
    assert set(migration.tainting_nodes) == {i for i in unmatched_new if new[i].from_}
    assert len(old) - len(migration.tainted_edges) == len(new) - len(unmatched_new)


# --------------------------------------------------------------------------- whole systems


def system(flows: Mapping[str, list[Any]]) -> SystemSpec:
    return System.from_dict(
        {
            "tasks": [{"name": name, "import": "m"} for name in ("T1", "T2", "T3", "T4")],
            "flows": {
                name: {"name": name, "edges": [{"from": s, "to": d} for s, d in pairs]}
                for name, pairs in flows.items()
            },
        }
    ).spec


def test_diff_systems_lists_every_flow() -> None:
    old = system({"kept": [START_T1], "moved": [START_T1, T1_T2], "gone": [START_T1]})
    new = system({"moved": [T1_T2, START_T1], "kept": [START_T1], "fresh": [START_T1]})
    diff = diff_systems(old, new)
    assert list(diff.flows) == ["moved"]
    assert diff.unchanged == ("kept",)
    assert diff.added == ("fresh",)
    assert diff.removed == ("gone",)
    assert diff.needed
    assert diff.summary_lines() == [
        "moved: 2 edges renumbered",
        "kept: unchanged",
        "fresh: new flow (nothing to migrate)",
        "gone: removed flow (not migrated)",
    ]


def test_no_flow_in_both_needs_nothing() -> None:
    diff = diff_systems(system({"a": [START_T1]}), system({"b": [START_T1]}))
    assert not diff.needed
    assert migration_document(diff)["migration"] == {}


def test_document_shape_and_strategy() -> None:
    diff = diff_systems(system({"f": [START_T1, T1_T2]}), system({"f": [START_T1, T1_T3]}))
    document = migration_document(diff, "RETRY", {"user": "me"})
    assert document == {
        "migration": {
            "f": {
                "translation": {},
                "tainted_edges": {
                    "1": {"from": ["T1"], "to": ["T2"], "condition_str": {"name": "alwaysTrue"}}
                },
                "tainting_nodes": {"1": ["T1"]},
            }
        },
        "tainted_flow_strategy": "RETRY",
        "_meta": {"user": "me"},
    }
    assert "_meta" not in migration_document(diff)
    text = render_migration(document)
    assert json.loads(text) == document
    assert text.index('"_meta"') < text.index('"migration"') < text.index('"tainted_flow_strategy"')
    with pytest.raises(ValueError, match="unknown tainted flow strategy 'retry'"):
        migration_document(diff, "retry")  # type: ignore[arg-type]
    assert STRATEGIES == ("IGNORE", "RETRY", "FAIL")


def test_same_migration_ignores_strategy_conditions_and_node_order() -> None:
    first = {"f": {"translation": {"1": 2}, "tainted_edges": {"0": {"condition_str": 1}},
                   "tainting_nodes": {"2": ["A", "B"]}}}  # fmt: skip
    second = {"f": {"translation": {"1": 2}, "tainted_edges": {"0": {"condition_str": 2}},
                    "tainting_nodes": {"2": ["B", "A"]}}}  # fmt: skip
    assert same_migration(first, second)
    assert not same_migration(first, {})
    assert not same_migration(first, {"f": {**second["f"], "translation": {"1": None}}})
    assert not same_migration(first, {"f": {**second["f"], "tainted_edges": {}}})
    assert not same_migration(first, {"f": {**second["f"], "tainting_nodes": {"2": ["A"]}}})
    assert not same_migration(first, {"f": {**second["f"], "tainting_nodes": None}})
    assert not same_migration(first, {"f": "not a mapping"})


# --------------------------------------------------------------------------- Selinon's files


def load_case(case: str, which: str) -> System:
    root = FIXTURES / case / which
    return load_system(root / "nodes.yaml", [root / "flows.yaml"], check_imports=False)


def case_strategy(case: str) -> str:
    args = FIXTURES / case / "args"
    return args.read_text(encoding="utf-8").split()[1] if args.exists() else "IGNORE"


def ours(case: str) -> tuple[dict[str, Any], list[str]]:
    """Our migration document for a case, and the order Selinon visits its flows in."""
    old, new = load_case(case, "old"), load_case(case, "new")
    document = migration_document(diff_systems(old.spec, new.spec), case_strategy(case))  # type: ignore[arg-type]
    order = [name for name in old.spec.flows if name in new.spec.flows]
    return document, order


def selinon_view(document: Mapping[str, Any], order: Sequence[str]) -> dict[str, Any] | None:
    """Our document with the documented deviations from Selinon 1.4.0 undone.

    * Selinon maps every tainted (unmatched) old edge to null, even when it found a new edge
      with the same sources;
    * Selinon skips flows, in its visiting order, until one has tainted edges or tainting nodes;
      from then on it includes every flow present in both, even one without changes.
    """
    empty = {"translation": {}, "tainted_edges": {}, "tainting_nodes": {}}
    migration: dict[str, Any] = {}
    for name in order:
        entry = json.loads(json.dumps(document["migration"].get(name, empty)))
        for index in entry["tainted_edges"]:
            entry["translation"][index] = None
        if not migration and not entry["tainted_edges"] and not entry["tainting_nodes"]:
            continue
        migration[name] = entry
    if not migration:
        return None
    return {"migration": migration, "tainted_flow_strategy": document["tainted_flow_strategy"]}


def sorted_sets(document: Any) -> Any:
    """Sort the node lists Selinon wrote from Python sets (their order is arbitrary)."""
    for flow in document["migration"].values():
        for tainted in flow["tainted_edges"].values():
            tainted["from"], tainted["to"] = sorted(tainted["from"]), sorted(tainted["to"])
        flow["tainting_nodes"] = {k: sorted(v) for k, v in flow["tainting_nodes"].items()}
    return document


def selinon_golden(case: str) -> dict[str, Any] | None:
    path = FIXTURES / case / "selinon.json"
    if path.exists():
        return sorted_sets(json.loads(path.read_text(encoding="utf-8")))
    message = (FIXTURES / case / "selinon-no-migration.txt").read_text(encoding="utf-8")
    assert "MigrationNotNeeded" in message
    return None


def test_there_are_golden_cases() -> None:
    assert len(CASES) >= 9


@pytest.mark.parametrize("case", CASES)
def test_equals_selinon_but_for_documented_deviations(case: str) -> None:
    document, order = ours(case)
    view = selinon_view(document, order)
    assert (sorted_sets(view) if view else None) == selinon_golden(case)


def test_deviation_pure_reordering_needs_a_migration() -> None:
    document, _ = ours("pure_reorder")
    assert selinon_golden("pure_reorder") is None
    assert document["migration"] == {
        "flow1": {
            "translation": {"0": 2, "2": 0},
            "tainted_edges": {},
            "tainting_nodes": {},
        }
    }


def test_deviation_no_skipped_or_empty_flows() -> None:
    document, _ = ours("several_flows")
    golden = selinon_golden("several_flows")
    assert golden is not None
    assert set(golden["migration"]) == {"flowB", "flowC", "flowD"}  # flowA skipped, flowD empty
    assert set(document["migration"]) == {"flowA", "flowB", "flowC"}
    assert document["migration"]["flowA"]["translation"] == {"1": 2, "2": 1}


def test_deviation_same_sources_carry_over() -> None:
    document, _ = ours("duplicate_edges")
    assert document["migration"]["flow1"]["translation"] == {"1": 2, "2": None, "3": 1}
    document, _ = ours("edge_removed")
    golden = selinon_golden("edge_removed")
    assert golden is not None
    assert golden["migration"]["flow1"]["translation"] == {"1": None, "2": 1, "3": 2}
    assert document["migration"]["flow1"]["translation"] == {"1": None, "2": 1, "3": 2}
    document, _ = ours("destination_changed")
    golden = selinon_golden("destination_changed")
    assert golden is not None
    assert golden["migration"]["flow1"]["translation"] == {"1": None, "2": None}
    assert document["migration"]["flow1"]["translation"] == {}  # both stay where they are
    assert document["tainted_flow_strategy"] == golden["tainted_flow_strategy"] == "FAIL"
