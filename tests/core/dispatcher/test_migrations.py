"""Migrations of running flows: golden flow states replayed through old config -> migration ->
new config (``tests/fixtures/migration_states``), and the migration file model.

Each case directory holds ``case.json`` (the configurations per migration version, the states
and what must happen to them), ``migrations/N.json`` (written by hand in Selinon's format) and
one golden ``<state>.json`` per state: the ``FlowState.to_dict()`` the old configuration
produces after the listed task completions.  A test first checks that the golden state still
is what the old configuration produces, then migrates the checked-in document (as a store would
hold it) and plays the flow to its end under the new configuration.

Regenerate the golden states after a deliberate change of the state layout with
``python tests/core/dispatcher/test_migrations.py``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from dsp_helpers import edge, make_dispatcher, make_system

from selinon_core.config.migration_diff import diff_systems, migration_document, render_migration
from selinon_core.dispatch import effects
from selinon_core.dispatch.actions import FinishFlow, RetryFlow
from selinon_core.dispatch.delta import apply_delta, state_delta
from selinon_core.dispatch.dispatcher import Dispatcher
from selinon_core.dispatch.events import ErrorSummary, NodeFailed, NodeSucceeded
from selinon_core.dispatch.migrations import (
    STRATEGIES,
    FlowMigration,
    Migration,
    MigrationChain,
    MigrationError,
    MigrationOutcome,
    migrate,
    stronger,
)
from selinon_core.dispatch.plan import SelectivePlan
from selinon_core.dispatch.state import FlowState
from selinon_core.dispatch.wire import decode_state, encode_state
from selinon_core.testing import DictResults, Simulation
from selinon_core.trace import TraceName

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "migration_states"
CASES = sorted(path.name for path in FIXTURES.iterdir() if (path / "case.json").is_file())
FLOW = "flow1"
LEGACY_LAYOUT = {"edge_removed"}
"""Cases whose golden states are stored as a release before ``migration_version`` wrote them."""


def _case(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name / "case.json").read_text())
    return data


def _chain(name: str) -> MigrationChain:
    files = sorted((FIXTURES / name / "migrations").glob("*.json"), key=lambda p: int(p.stem))
    return MigrationChain(
        tuple(
            Migration.from_dict(json.loads(p.read_text()), version=int(p.stem), source=str(p))
            for p in files
        )
    )


def _dispatcher(case: dict[str, Any], version: int) -> Dispatcher:
    return Dispatcher(make_system(case["configs"][str(version)]))


def _replay(dispatcher: Dispatcher, history: list[str]) -> Simulation:
    """Start the flow and deliver the completions of ``history``'s tasks, in order."""
    sim = Simulation(dispatcher, DictResults())
    sim.request(FLOW)
    sim.deliver()
    for name in history:
        names = {run.task_id: run.task_name for run in sim.runs}
        index = next(
            i
            for i, event in enumerate(sim.pending)
            if isinstance(event, NodeSucceeded) and names[event.node_id] == name
        )
        sim.deliver(index)
    return sim


def _old_state(case: dict[str, Any], spec: dict[str, Any]) -> FlowState:
    version = spec.get("migration_version", 0)
    state = _replay(_dispatcher(case, version), spec["history"]).states["flow"]
    return replace(state, migration_version=version)


def _states() -> list[tuple[str, str]]:
    return [(case, state) for case in CASES for state in _case(case)["states"]]


def _continue(dispatcher: Dispatcher, outcome: MigrationOutcome, old: FlowState) -> Simulation:
    """Play the migrated flow to its end: the old running tasks end first, then the rest."""
    sim = Simulation(dispatcher, DictResults())
    sim.states[old.flow_id] = outcome.state
    for action in outcome.actions:
        if isinstance(action, RetryFlow):
            sim.timers.append((action.at, effects.timer_event(action)))
        else:
            assert isinstance(action, FinishFlow)
            sim.finishes.append(action)
    sim.pending.extend(NodeSucceeded(old.flow_id, nid, 100.0) for nid in old.active_nodes())
    return sim.run()


# --------------------------------------------------------------------------- golden states


@pytest.mark.parametrize(("case_name", "state_name"), _states())
def test_golden_state_is_what_the_old_configuration_produces(
    case_name: str, state_name: str
) -> None:
    case = _case(case_name)
    golden = json.loads((FIXTURES / case_name / f"{state_name}.json").read_text())
    produced = json.loads(json.dumps(_old_state(case, case["states"][state_name]).to_dict()))
    if case_name in LEGACY_LAYOUT:
        assert "migration_version" not in golden
        assert produced.pop("migration_version") == 0
    assert produced == golden


@pytest.mark.parametrize(("case_name", "state_name"), _states())
def test_golden_state_migrates_and_finishes_under_the_new_configuration(
    case_name: str, state_name: str
) -> None:
    case, chain = _case(case_name), _chain(case_name)
    expect = case["states"][state_name]["expect"]
    doc = json.loads((FIXTURES / case_name / f"{state_name}.json").read_text())
    stored = decode_state({"v": 1, "type": "state", "kind": "FlowState", "body": doc})
    new = _dispatcher(case, chain.latest)
    outcome = migrate(stored, chain, new, at=50.0)

    assert outcome.verdict == expect["verdict"]
    assert (outcome.tainted, outcome.strategy) == (expect["tainted"], expect["strategy"])
    assert outcome.state.migration_version == chain.latest
    assert outcome.state.version == stored.version + 1
    assert outcome.state.triggered_edges() == expect["triggered"]
    names = [event.name for event in outcome.trace]
    assert names[0] is TraceName.MIGRATION
    assert outcome.trace[0].details["old_migration_version"] == stored.migration_version
    assert outcome.trace[0].details["new_migration_version"] == chain.latest
    assert outcome.trace[0].details["tainted"] is expect["tainted"]
    assert (TraceName.MIGRATION_TAINTED_FLOW in names) is (expect["verdict"] != "continue")

    sim = _continue(new, outcome, stored)
    final = sim.states[stored.flow_id]
    assert final.status == expect["status"]
    assert sim.task_names() == expect["runs_after"]
    assert final.retried_count == stored.retried_count  # a migration never uses the budget
    assert final.migration_version == chain.latest


def test_every_case_has_every_golden_state_file() -> None:
    for case_name, state_name in _states():
        assert (FIXTURES / case_name / f"{state_name}.json").is_file(), (case_name, state_name)
    assert {"edge_added", "edge_removed", "edge_renumbered", "destination_changed"} <= set(CASES)


# --------------------------------------------------------------------------- strategies


@pytest.mark.parametrize(
    ("strategy", "verdict", "status", "runs"),
    [
        ("IGNORE", "continue", "succeeded", ["D"]),
        ("RETRY", "retry", "succeeded", ["A", "B", "C", "D"]),
        ("FAIL", "fail", "failed", []),
    ],
)
def test_a_tainted_flow_follows_the_strategy(
    strategy: str, verdict: str, status: str, runs: list[str]
) -> None:
    case = _case("edge_added")
    migration = replace(_chain("edge_added").migrations[0], strategy=strategy)  # type: ignore[arg-type]
    old = _old_state(case, case["states"]["a_finished"])
    new = _dispatcher(case, 1)
    outcome = migrate(old, MigrationChain((migration,)), new, at=5.0)
    assert (outcome.verdict, outcome.strategy, outcome.tainted) == (verdict, strategy, True)
    sim = _continue(new, outcome, old)
    assert sim.states["flow"].status == status
    assert sim.task_names() == runs
    if strategy == "FAIL":
        assert outcome.actions[0] == sim.finishes[0]
        assert sim.finishes[0].status == "failed"
        assert TraceName.FLOW_FAILURE in [t.name for t in outcome.trace]
    if strategy == "RETRY":
        retry = [t for t in sim.trace if t.name is TraceName.FLOW_RETRY]
        assert [t.details["retried_count"] for t in retry] == [0]


def test_retry_restarts_a_flow_whose_retry_budget_is_spent() -> None:
    case = _case("edge_added")
    configs = {
        version: {FLOW: {**flows[FLOW], "max_retry": 0}}
        for version, flows in case["configs"].items()
    }
    case = {**case, "configs": configs}
    migration = replace(_chain("edge_added").migrations[0], strategy="RETRY")
    old = replace(_old_state(case, case["states"]["a_finished"]), retried_count=0)
    new = _dispatcher(case, 1)
    outcome = migrate(old, MigrationChain((migration,)), new, at=5.0)
    sim = _continue(new, outcome, old)
    assert sim.states["flow"].status == "succeeded"
    assert sim.states["flow"].retried_count == 0
    assert sim.task_names() == ["A", "B", "C", "D"]


@pytest.mark.parametrize("first", STRATEGIES)
@pytest.mark.parametrize("second", STRATEGIES)
def test_the_stronger_strategy_wins(first: str, second: str) -> None:
    order = {"IGNORE": 0, "RETRY": 1, "FAIL": 2}
    expected = first if order[first] >= order[second] else second
    assert stronger(first, second) == expected  # type: ignore[arg-type]


def test_chain_takes_the_highest_impact_among_the_migrations_that_taint() -> None:
    case = _case("chained")
    old = _old_state(case, case["states"]["v0_c_running"])
    outcome = migrate(old, _chain("chained"), _dispatcher(case, 3), at=1.0)
    tainted = next(t for t in outcome.trace if t.name is TraceName.MIGRATION_TAINTED_FLOW)
    assert tainted.details["tainted_flow_strategy"] == "FAIL"
    assert tainted.details["migration_version"] == 3
    assert tainted.details["tainted_edge"]["to"] == ["C"]
    assert [t["migration_version"] for t in tainted.details["taints"]] == [1, 3]


# --------------------------------------------------------------------------- skew and no-ops


def test_a_state_newer_than_the_chain_is_skew_and_left_alone() -> None:
    case = _case("chained")
    old = replace(_old_state(case, case["states"]["v0_b_running"]), migration_version=4)
    outcome = migrate(old, _chain("chained"), _dispatcher(case, 3), at=3.0)
    assert outcome.verdict == "skew"
    assert outcome.state is old
    assert outcome.actions == ()
    assert [t.name for t in outcome.trace] == [TraceName.MIGRATION_SKEW]
    assert outcome.trace[0].details["available_migration_version"] == 3
    assert outcome.trace[0].details["migration_version"] == 4


def test_a_state_at_the_latest_version_is_unchanged() -> None:
    case = _case("chained")
    old = replace(_old_state(case, case["states"]["v0_b_running"]), migration_version=3)
    outcome = migrate(old, _chain("chained"), _dispatcher(case, 3), at=3.0)
    assert (outcome.verdict, outcome.state, outcome.trace) == ("unchanged", old, ())
    assert outcome.state is old


def test_a_finished_flow_is_never_migrated() -> None:
    dispatcher = make_dispatcher({FLOW: {"edges": [edge(None, "A")]}})
    sim = _replay(dispatcher, ["A"])
    done = sim.states["flow"]
    assert done.status == "succeeded"
    outcome = migrate(done, _chain("edge_added"), dispatcher, at=1.0)
    assert outcome.verdict == "unchanged"
    assert outcome.state is done


def test_a_flow_waiting_for_its_retry_is_migrated_without_taint() -> None:
    case = _case("edge_added")
    old = replace(_old_state(case, case["states"]["a_finished"]), status="retry_wait", timer_id="t")
    outcome = migrate(old, _chain("edge_added"), _dispatcher(case, 1), at=1.0)
    assert (outcome.verdict, outcome.tainted) == ("continue", False)
    assert outcome.state.status == "retry_wait"
    assert outcome.state.migration_version == 1


def test_a_new_join_reads_instances_that_finished_before_the_migration() -> None:
    case = _case("edge_added")
    old = _old_state(case, case["states"]["a_finished"])
    assert "A" not in old.done  # the old configuration had no reason to track A
    outcome = migrate(old, _chain("edge_added"), _dispatcher(case, 1), at=1.0)
    assert outcome.state.to_dict()["tracked"]["A"] == old.finished_nodes()["A"]


def test_selective_plan_edge_indexes_are_translated() -> None:
    case = _case("edge_renumbered")
    plan = SelectivePlan(("C",), edges={FLOW: {0: ("A",), 1: ("B",), 2: ("C",)}, "other": {1: ()}})
    old = replace(_old_state(case, case["states"]["b_running"]), selective=plan)
    outcome = migrate(old, _chain("edge_renumbered"), _dispatcher(case, 1), at=1.0)
    assert outcome.state.selective is not None
    assert outcome.state.selective.edges == {
        FLOW: {0: ("A",), 2: ("B",), 1: ("C",)},
        "other": {1: ()},
    }


def test_migrations_that_do_not_match_the_configuration_are_an_error() -> None:
    case = _case("edge_renumbered")
    old = _old_state(case, case["states"]["b_running"])
    wrong = Migration(1, {FLOW: FlowMigration(translation={1: 7})})
    with pytest.raises(MigrationError, match=r"fired edge\(s\) 7 do not exist"):
        migrate(old, MigrationChain((wrong,)), _dispatcher(case, 1), at=1.0)


def test_only_names_the_new_configuration_tracks_are_added() -> None:
    old_flows = {FLOW: {"edges": [edge(None, ["A", "X"]), edge("A", "B")]}}
    new_flows = {FLOW: {"edges": [edge(None, ["A", "X"]), edge("A", "B"), edge(["A", "B"], "C")]}}
    old = _replay(make_dispatcher(old_flows), ["X", "A"]).states["flow"]
    migration = Migration(1, {FLOW: FlowMigration(tainting_nodes={2: ("A", "B")})})
    new = make_dispatcher(new_flows)
    outcome = migrate(old, MigrationChain((migration,)), new, at=1.0)
    assert (outcome.verdict, outcome.tainted) == ("continue", False)
    assert outcome.state.to_dict()["tracked"] == {"A": old.finished_nodes()["A"]}
    sim = _continue(new, outcome, old)
    assert sim.task_names() == ["C"]  # the join of A (before) and B (after the migration)


def test_migrations_of_other_flows_only_move_the_version() -> None:
    case = _case("edge_renumbered")
    old = _old_state(case, case["states"]["b_running"])
    other = Migration(1, {"another": FlowMigration(translation={0: None})}, "FAIL")
    outcome = migrate(old, MigrationChain((other,)), _dispatcher(case, 0), at=1.0)
    assert (outcome.verdict, outcome.tainted) == ("continue", False)
    assert outcome.state.triggered == old.triggered
    assert outcome.state.migration_version == 1


def test_a_flow_the_new_configuration_lacks_is_left_to_the_step() -> None:
    case = _case("edge_added")
    old = _old_state(case, case["states"]["a_finished"])
    elsewhere = make_dispatcher({"flow2": {"edges": [edge(None, "A")]}})
    outcome = migrate(old, _chain("edge_added"), elsewhere, at=1.0)
    assert outcome.verdict == "continue"
    assert outcome.state.done is old.done


def test_a_node_removed_by_a_migration_may_still_end_or_fail() -> None:
    case = _case("edge_removed")
    old = _old_state(case, case["states"]["c_running"])
    new = _dispatcher(case, 1)
    outcome = migrate(old, _chain("edge_removed"), new, at=1.0)
    running = {name: nid for nid, name in old.active_nodes().items()}
    error = ErrorSummary("ValueError", "boom")
    step = new.step(outcome.state, NodeFailed("flow", running["C"], 2.0, error), DictResults())
    assert step.state.failed_nodes() == {"C": [running["C"]]}
    step = new.step(step.state, NodeSucceeded("flow", running["B"], 3.0), DictResults())
    assert step.state.status == "failed"  # no fallback covers C in the new configuration


# --------------------------------------------------------------------------- storage


def test_states_stored_before_migration_versions_read_as_version_zero() -> None:
    case = _case("edge_added")
    doc = _old_state(case, case["states"]["a_finished"]).to_dict()
    del doc["migration_version"]
    assert FlowState.from_dict(doc).migration_version == 0
    envelope = {"v": 1, "type": "state", "kind": "FlowState", "body": doc}
    assert decode_state(envelope).migration_version == 0


def test_migration_version_survives_the_wire_and_deltas() -> None:
    case = _case("chained")
    old = _old_state(case, case["states"]["v0_b_running"])
    outcome = migrate(old, _chain("chained"), _dispatcher(case, 3), at=1.0)
    assert decode_state(encode_state(outcome.state)).migration_version == 3
    doc = apply_delta(old.to_dict(), state_delta(old, outcome.state))
    assert doc == outcome.state.to_dict()
    assert doc["migration_version"] == 3


def test_new_flows_keep_the_migration_version_through_steps() -> None:
    case = _case("edge_added")
    sim = _replay(_dispatcher(case, 1), [])
    state = replace(sim.states["flow"], migration_version=1)
    sim.states["flow"] = state
    sim.run()
    assert sim.states["flow"].migration_version == 1
    assert sim.states["flow"].status == "succeeded"


# --------------------------------------------------------------------------- the file model


def test_migration_file_model_reads_selinon_format() -> None:
    data = {
        "migration": {
            FLOW: {
                "translation": {"1": 2, "2": None},
                "tainted_edges": {
                    "2": {"from": ["A"], "to": ["C"], "condition_str": {"name": "alwaysTrue"}}
                },
                "tainting_nodes": {"3": ["A", "B"]},
            }
        },
        "tainted_flow_strategy": "RETRY",
        "_meta": {"selinon_version": "1.4.0", "host": "h", "datetime": "d", "user": None},
    }
    migration = Migration.from_dict(data, version=4)
    flow = migration.flows[FLOW]
    assert (migration.version, migration.strategy) == (4, "RETRY")
    assert flow.translation == {1: 2, 2: None}
    assert (flow.translate(1), flow.translate(2), flow.translate(5)) == (2, None, 5)
    assert flow.tainted_edges[2].from_ == ("A",)
    assert flow.tainted_edges[2].condition_str == {"name": "alwaysTrue"}
    assert flow.tainting_nodes == {3: ("A", "B")}
    assert migration.meta is not None
    assert migration.meta["selinon_version"] == "1.4.0"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a JSON object"),
        ({}, "missing the 'migration' object"),
        ({"migration": {}, "extra": 1}, "unexpected key"),
        ({"migration": {}, "tainted_flow_strategy": "ABORT"}, "must be one of IGNORE, RETRY, FAIL"),
        ({"migration": []}, "'migration' must be an object"),
        ({"migration": {FLOW: []}}, "flow 'flow1': expected an object"),
        ({"migration": {FLOW: {"translation": {"x": 1}}}}, "edge index 'x' is not"),
        ({"migration": {FLOW: {"translation": {"1": -2}}}}, "edge index -2 is not"),
        ({"migration": {FLOW: {"tainting_nodes": {"1": "A"}}}}, "expected a list of node names"),
        ({"migration": {FLOW: {"tainted_edges": {"1": 3}}}}, "expected an object with 'from'"),
        ({"migration": {FLOW: {"waiting": {}}}}, "unexpected key"),
    ],
)
def test_bad_migration_documents_are_clear_errors(data: Any, message: str) -> None:
    with pytest.raises(MigrationError, match=message) as info:
        Migration.from_dict(data, version=2, source="dir/2.json")
    assert str(info.value).startswith("dir/2.json")
    assert "selinon-cli migrate" in str(info.value)


def test_a_chain_must_be_numbered_without_gaps() -> None:
    one, three = Migration(1, {}), Migration(3, {})
    with pytest.raises(MigrationError, match="missing 2"):
        MigrationChain((one, three))
    assert MigrationChain().latest == 0
    assert MigrationChain((one,)).after(0) == (one,)
    assert MigrationChain((one,)).after(1) == ()


# --------------------------------------------------------------------------- generator


GENERATOR_DIFFERS: dict[tuple[str, int], dict[str, Any]] = {
    ("destination_changed", 1): {"translation": {}}
}
"""Where ``selinon-cli migrate`` deliberately writes another file than Selinon 1.4.0 (the
hand-written files are Selinon's): it translates the old edge A->B to the new edge with the
same sources, A->C (an identity here, so no entry), where Selinon writes ``null``."""


def _generated(case: dict[str, Any], migration: Migration) -> dict[str, Any]:
    old = make_system(case["configs"][str(migration.version - 1)]).spec
    new = make_system(case["configs"][str(migration.version)]).spec
    document = migration_document(diff_systems(old, new), migration.strategy)
    generated: dict[str, Any] = json.loads(render_migration(document))
    return generated


@pytest.mark.parametrize("case_name", CASES)
def test_the_generator_writes_the_hand_written_migrations(case_name: str) -> None:
    """``selinon-cli migrate``'s diff gives the same files (Selinon's format, no ``_meta``)."""
    case, chain = _case(case_name), _chain(case_name)
    for migration in chain.migrations:
        path = FIXTURES / case_name / "migrations" / f"{migration.version}.json"
        expected = json.loads(path.read_text())
        for flow in expected["migration"].values():
            flow.update(GENERATOR_DIFFERS.get((case_name, migration.version), {}))
        assert _generated(case, migration) == expected, path


@pytest.mark.parametrize(("case_name", "state_name"), _states())
def test_generated_migrations_lead_to_the_same_ends(case_name: str, state_name: str) -> None:
    case, chain = _case(case_name), _chain(case_name)
    generated = MigrationChain(
        tuple(
            Migration.from_dict(_generated(case, migration), version=migration.version)
            for migration in chain.migrations
        )
    )
    old = _old_state(case, case["states"][state_name])
    new = _dispatcher(case, chain.latest)
    ends = []
    for migrations in (chain, generated):
        outcome = migrate(old, migrations, new, at=1.0)
        sim = _continue(new, outcome, old)
        ends.append((outcome.verdict, outcome.strategy, sim.states["flow"].status, sim.runs))
    assert ends[0] == ends[1]


# --------------------------------------------------------------------------- regeneration


def _regenerate() -> None:
    for case_name, state_name in _states():
        case = _case(case_name)
        doc = _old_state(case, case["states"][state_name]).to_dict()
        if case_name in LEGACY_LAYOUT:
            del doc["migration_version"]
        path = FIXTURES / case_name / f"{state_name}.json"
        path.write_text(json.dumps(doc, indent=2) + "\n")
        print("wrote", path)


if __name__ == "__main__":
    _regenerate()
