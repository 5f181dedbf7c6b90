"""Configurations shaped like real Selinon deployments load and run unchanged (issue 13).

The fixtures are in ``tests/fixtures/selinon_real`` (see its README for where each shape comes
from); their user code, in ``tests/fixtures/pymods/realapps``, imports ``selinon``.  Expected
queues follow Selinon 1.4.0's rules: ``{NAME}`` in a queue is replaced from the environment,
and a node without ``queue`` gets the global default, ``celery`` unless configured.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from selinon_backends import selinon_alias
from selinon_backends.cli import main
from selinon_backends.runtime.engine import Engine
from selinon_backends.selinon_alias import install_as_selinon, uninstall_selinon_alias
from selinon_backends.storage.pool import StoragePool
from selinon_core.config.loader import load_system
from selinon_core.config.system import System
from selinon_core.dispatch.dispatcher import Dispatcher
from selinon_core.errors import SpecError
from selinon_core.testing import run_to_completion
from selinon_core.trace import TraceName

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REAL = FIXTURES / "selinon_real"

F8A_ENV = {
    "DEPLOYMENT_PREFIX": "dev",
    "WORKER_ADMINISTRATION_REGION": "ingestion",
    "POSTGRESQL_USER": "coreapi",
    "POSTGRESQL_PASSWORD": "secret",
    "PGBOUNCER_SERVICE_HOST": "pgbouncer",
    "POSTGRESQL_DATABASE": "coreapi",
}


@pytest.fixture(autouse=True)
def realapps(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``import selinon`` resolves to this project; the stand-in user code is importable."""
    monkeypatch.syspath_prepend(str(FIXTURES / "pymods"))
    assert install_as_selinon()
    yield
    uninstall_selinon_alias()
    for name in [n for n in sys.modules if n == "realapps" or n.startswith("realapps.")]:
        del sys.modules[name]


def _load(case: str, flows: Sequence[str] = (), environ: dict[str, str] | None = None) -> System:
    directory = REAL / case
    nodes = next(p for p in sorted(directory.iterdir()) if p.name.startswith("nodes."))
    return load_system(nodes, [directory / f for f in flows], environ=environ or {})


def _queues(system: System) -> dict[str, str]:
    queues = {task.name: task.queue for task in system.spec.tasks}
    queues.update({name: flow.queue for name, flow in system.spec.flows.items()})
    return queues


EXPECTED_QUEUES: dict[str, tuple[Sequence[str], dict[str, str], dict[str, str]]] = {
    "f8a": (
        ["flows"],
        F8A_ENV,
        {
            "github_details": "dev_ingestion_GithubTask_v0",
            "metadata": "dev_ingestion_MercatorTask_v0",
            "digests": "celery",
            "bayesianFlow": "dev_ingestion_bayesianFlow_v0",
            "livenessFlow": "dev_livenessFlow_v0",
        },
    ),
    "thoth": (
        ["flows"],
        {},
        {"PyPIKeywordsTask": "celery", "Project2VecTask": "celery", "keywords": "thoth_keywords"},
    ),
    "dinner": (
        [],
        {},
        dict.fromkeys(("WarmUpOvenTask", "MakeDoughTask", "BakeTask", "prepareFlow"), "prepare_v0"),
    ),
    "dicts": ([], {}, {"Task1": "celery", "Task2": "celery", "Task3": "celery", "flow1": "celery"}),
    "fallback_chain": (
        [],
        {},
        dict.fromkeys(("Task1", "Task2", "Fallback1", "Fallback2", "flow1"), "celery"),
    ),
    "foreach_cap": (
        [],
        {},
        dict.fromkeys(("Task1", "Task2", "runaway", "capped", "small"), "celery"),
    ),
}


@pytest.mark.parametrize("case", sorted(EXPECTED_QUEUES))
def test_fixture_loads_with_selinon_queues(case: str) -> None:
    flows, environ, queues = EXPECTED_QUEUES[case]
    assert _queues(_load(case, flows, environ)) == queues


def test_every_fixture_directory_is_covered() -> None:
    dirs = {p.name for p in REAL.iterdir() if p.is_dir()}
    assert dirs == {*EXPECTED_QUEUES, "bad_global"}


# ------------------------------------------------------------------ fabric8-analytics


def test_f8a_repeated_key_last_value_wins_with_a_warning() -> None:
    system = _load("f8a", ["flows"], F8A_ENV)
    assert system.spec.task("metadata").selective_run_function.import_ == "realapps.selective"
    (warning,) = [w for w in system.warnings if "repeated" in w.message]
    assert "'selective_run_function'" in warning.message
    assert "line 18 and line 21" in warning.message


def test_f8a_flows_run_the_same_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in F8A_ENV.items():
        monkeypatch.setenv(name, value)
    system = _load("f8a", ["flows"], F8A_ENV)
    engine = Engine(system)
    run = engine.run_flow("bayesianFlow", {"ecosystem": "npm"})
    assert run.succeeded
    assert [r.node_name for r in run.runs] == ["github_details", "metadata", "digests"]
    other = engine.run_flow("bayesianFlow", {"ecosystem": "maven"})
    assert [r.node_name for r in other.runs] == ["github_details"]
    liveness = engine.run_flow("livenessFlow")
    assert liveness.succeeded
    assert liveness.runs == []
    # The custom adapter got its configuration as written and formatted it itself.
    storages = sys.modules["realapps.storages"]
    raw, formatted = storages.CONNECTED[-1]
    assert raw["connection_string"].startswith("postgresql://{POSTGRESQL_USER}:")
    assert formatted["connection_string"].startswith("postgresql://coreapi:secret@pgbouncer:")
    trace = sys.modules["realapps.trace"]
    assert trace.SEEN == []  # the engine traces only when a tracer is configured


# ------------------------------------------------------------------ thoth


def test_thoth_loads_without_the_secrets_and_names_them() -> None:
    system = _load("thoth", ["flows"])
    warnings = [w.message for w in system.warnings]
    (custom,) = [m for m in warnings if "storage 'PyPIKeywordsStore'" in m]
    for name in ("THOTH_CEPH_BUCKET", "THOTH_CEPH_BUCKET_PREFIX", "THOTH_CEPH_KEY_ID"):
        assert f"'{name}'" in custom
    (builtin,) = [m for m in warnings if "storage 'Results'" in m]
    assert "'THOTH_RESULTS_DIR'" in builtin
    assert system.spec.storage("PyPIKeywordsStore").configuration["bucket"] == (
        "{THOTH_CEPH_BUCKET}"
    )


def test_thoth_builtin_storage_fails_clearly_at_first_connection() -> None:
    system = _load("thoth", ["flows"])
    with pytest.raises(SpecError, match="'THOTH_RESULTS_DIR' is not set") as caught:
        StoragePool(system).get_connected_storage("Results")
    assert "storage 'Results': Filesystem storage:" in str(caught.value)
    assert "needed by 'path'" in str(caught.value)


def test_thoth_flow_runs_once_the_secrets_are_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = {
        "THOTH_CEPH_BUCKET": "thoth",
        "THOTH_CEPH_BUCKET_PREFIX": "data/",
        "THOTH_CEPH_KEY_ID": "key",
        "THOTH_RESULTS_DIR": str(tmp_path / "results"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    system = _load("thoth", ["flows"], env)
    run = Engine(system).run_flow("keywords", {"project": "x"})
    assert run.succeeded
    assert [r.node_name for r in run.runs] == ["PyPIKeywordsTask", "Project2VecTask"]
    written = list((tmp_path / "results").rglob("*.json"))
    assert len(written) == 1  # Project2VecTask's result, in the expanded directory
    storages = sys.modules["realapps.storages"]
    raw, formatted = storages.CONNECTED[-1]
    assert raw["prefix"] == "{THOTH_CEPH_BUCKET_PREFIX}keywords/"
    assert formatted["prefix"] == "data/keywords/"


# ------------------------------------------------------------------ generated, broken, chained


def test_flows_from_python_dicts_run_from_empty_string_sources() -> None:
    system = _load("dicts")
    assert [e.is_starting for e in system.spec.flows["flow1"].edges] == [True, True, False]
    run = Engine(system).run_flow("flow1")
    assert sorted(r.node_name for r in run.runs) == ["Task1", "Task2", "Task3"]


def test_bad_global_trace_is_the_only_error() -> None:
    with pytest.raises(SpecError) as caught:
        _load("bad_global")
    problems = caught.value.problems
    assert problems
    assert all(p.line in (17, 18) for p in problems), [str(p) for p in problems]
    assert not any("isEcosystem" in p.message for p in problems)


def test_fallback_on_fallback_runs_in_the_engine_and_the_core() -> None:
    system = _load("fallback_chain")
    sim = run_to_completion(Dispatcher(system), "flow1", fail={"Task1", "Fallback1"})
    assert sim.task_names() == ["Task1", "Task2", "Fallback1", "Fallback2"]
    assert sim.status == "succeeded"
    run = Engine(system).run_flow("flow1")
    assert sorted(r.node_name for r in run.runs) == ["Fallback1", "Fallback2", "Task1", "Task2"]
    assert run.succeeded


# ------------------------------------------------------------------ runaway foreach


def _drawn() -> dict[str, int]:
    module: Any = sys.modules["realapps.foreach"]
    drawn: dict[str, int] = module.DRAWN
    return drawn


@pytest.mark.parametrize(
    ("flow", "most_items"),
    [("runaway", 50), ("capped", 5)],  # global cap 50; the flow's own 10 for 2 destinations
)
def test_endless_foreach_fails_the_flow_naming_the_function(flow: str, most_items: int) -> None:
    system = _load("foreach_cap")
    _drawn()["endless"] = 0
    sim = run_to_completion(Dispatcher(system), flow)
    assert sim.status == "failed"
    assert sim.runs == []
    assert _drawn()["endless"] == most_items + 1  # one past the cap, never more
    (error,) = [t.details for t in sim.trace if t.name is TraceName.FOREACH_ERROR]
    assert "realapps.foreach.endless" in error["what"]
    assert "max_foreach_nodes" in error["what"]


def test_foreach_within_the_cap_runs_every_item() -> None:
    system = _load("foreach_cap")
    sim = run_to_completion(Dispatcher(system), "small")
    assert sim.status == "succeeded"
    assert sim.task_names() == ["Task1"] * 3


def test_endless_foreach_in_the_engine() -> None:
    system = _load("foreach_cap")
    _drawn()["endless"] = 0
    run = Engine(system).run_flow("runaway")
    assert not run.succeeded
    assert _drawn()["endless"] == 51


# ------------------------------------------------------------------ selinon-cli


def test_cli_inspect_loads_modules_that_import_selinon(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    uninstall_selinon_alias()  # the command line installs it itself
    for name, value in F8A_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "path", list(sys.path))
    args = ["inspect", "-n", str(REAL / "f8a" / "nodes.yml"), "-f", str(REAL / "f8a" / "flows")]
    code = main(["--app-dir", str(FIXTURES / "pymods"), *args])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "repeated" in out + err


def test_cli_no_selinon_alias_turns_it_off(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    uninstall_selinon_alias()
    monkeypatch.setattr(sys, "path", list(sys.path))
    args = ["inspect", "-n", str(REAL / "dicts" / "nodes.yaml")]
    try:
        code = main(["--no-selinon-alias", "--app-dir", str(FIXTURES / "pymods"), *args])
    finally:
        selinon_alias._automatic["enabled"] = True
    out, err = capsys.readouterr()
    assert code == 2
    assert "No module named 'selinon'" in out + err
