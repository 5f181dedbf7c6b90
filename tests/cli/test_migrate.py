"""``selinon-cli migrate``: numbering, metadata, git, exit codes and errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import Cli, Files

from selinon_core.config.loader import load_system
from selinon_core.config.migration_diff import diff_systems, migration_document

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "migrations"
CASES = sorted(path.name for path in FIXTURES.iterdir() if (path / "old").is_dir())

NODES = """
    tasks:
      - name: Task1
        import: migration_tasks
      - name: Task2
        import: migration_tasks
      - name: Task3
        import: migration_tasks
    flows:
      - flow1
    global:
      migration_dir: migrations
"""
OLD_FLOWS = """
    flow-definitions:
      - name: flow1
        edges:
          - from:
            to: Task1
          - from: Task1
            to: Task2
"""
NEW_FLOWS = """
    flow-definitions:
      - name: flow1
        edges:
          - from:
            to: Task1
          - from: Task1
            to: Task3
"""
REORDERED_FLOWS = """
    flow-definitions:
      - name: flow1
        edges:
          - from: Task1
            to: Task2
          - from:
            to: Task1
"""


def case_args(case: str, migrations: Path) -> list[str]:
    root = FIXTURES / case
    extra = (root / "args").read_text().split() if (root / "args").exists() else []
    return [
        "migrate",
        "--no-check",
        "--no-meta",
        "-m",
        str(migrations),
        "-n",
        str(root / "new" / "nodes.yaml"),
        "-f",
        str(root / "new" / "flows.yaml"),
        "-N",
        str(root / "old" / "nodes.yaml"),
        "-F",
        str(root / "old" / "flows.yaml"),
        *extra,
    ]


def expected_document(case: str) -> dict[str, Any]:
    root = FIXTURES / case
    old, new = (
        load_system(root / side / "nodes.yaml", [root / side / "flows.yaml"], check_imports=False)
        for side in ("old", "new")
    )
    args = (root / "args").read_text().split() if (root / "args").exists() else ["-t", "IGNORE"]
    return migration_document(diff_systems(old.spec, new.spec), args[1])  # type: ignore[arg-type]


@pytest.fixture
def pair(files: Files) -> dict[str, str]:
    """A nodes file and old/new/reordered flow files in a temporary directory."""
    return {
        "nodes": files.write("nodes.yaml", NODES),
        "old": files.write("old.yaml", OLD_FLOWS),
        "new": files.write("new.yaml", NEW_FLOWS),
        "reordered": files.write("reordered.yaml", REORDERED_FLOWS),
    }


def explicit(pair: dict[str, str], migrations: Path, new: str = "new", *extra: str) -> list[str]:
    return [
        "migrate",
        "--no-check",
        "-n",
        pair["nodes"],
        "-f",
        pair[new],
        "-N",
        pair["nodes"],
        "-F",
        pair["old"],
        "-m",
        str(migrations),
        *extra,
    ]


# --------------------------------------------------------------------------- output


@pytest.mark.parametrize("case", CASES)
def test_writes_the_computed_migration(cli: Cli, tmp_path: Path, case: str) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    result = cli(*case_args(case, migrations))
    expected = expected_document(case)
    if not expected["migration"]:
        assert result.code == 3, result.err
        assert list(migrations.iterdir()) == []
        return
    assert result.code == 0, result.err
    written = migrations / "1.json"
    assert json.loads(written.read_text(encoding="utf-8")) == expected
    lines = result.out.splitlines()
    assert lines[0] == str(written)
    for name in expected["migration"]:
        assert any(line.startswith(f"  {name}: ") for line in lines[1:])


def test_meta_and_summary(cli: Cli, pair: dict[str, str], tmp_path: Path) -> None:
    migrations = tmp_path / "m"
    migrations.mkdir()
    result = cli(*explicit(pair, migrations, "new", "-t", "fail"))
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        str(migrations / "1.json"),
        "  flow1: 1 tainted edge, 1 tainting edge",
    ]
    content = json.loads((migrations / "1.json").read_text(encoding="utf-8"))
    assert content["tainted_flow_strategy"] == "FAIL"
    meta = content["_meta"]
    assert set(meta) == {"selinon_ng_version", "selinon_compatibility", "host", "datetime", "user"}
    assert meta["selinon_compatibility"] == "1.4.0"
    assert meta["datetime"].endswith("+00:00")


def test_no_meta(cli: Cli, pair: dict[str, str], tmp_path: Path) -> None:
    args = explicit(pair, tmp_path, "new", "--no-meta", "--tainted-flow-strategy", "RETRY")
    result = cli(*args)
    assert result.code == 0, result.err
    content = json.loads((tmp_path / "1.json").read_text(encoding="utf-8"))
    assert set(content) == {"migration", "tainted_flow_strategy"}
    assert content["tainted_flow_strategy"] == "RETRY"


def test_pure_reordering_is_a_migration(cli: Cli, pair: dict[str, str], tmp_path: Path) -> None:
    result = cli(*explicit(pair, tmp_path, "reordered", "--no-meta"))
    assert result.code == 0, result.err
    content = json.loads((tmp_path / "1.json").read_text(encoding="utf-8"))
    assert content["migration"]["flow1"]["translation"] == {"0": 1, "1": 0}
    assert result.out.splitlines()[1] == "  flow1: 2 edges renumbered"


def test_no_migration_needed(cli: Cli, pair: dict[str, str], tmp_path: Path) -> None:
    args = ["migrate", "--no-check", "-n", pair["nodes"], "-f", pair["old"]]
    result = cli(*args, "-N", pair["nodes"], "-F", pair["old"], "-m", str(tmp_path))
    assert result.code == 3
    assert result.out == ""
    assert result.err.startswith("No migration needed:")
    assert len(result.err.splitlines()) == 1
    assert list(tmp_path.glob("*.json")) == []


# --------------------------------------------------------------------------- numbering


def test_numbering_follows_the_highest_file(cli: Cli, pair: dict[str, str], tmp_path: Path) -> None:
    migrations = tmp_path / "m"
    migrations.mkdir()
    for name in ("1.json", "3.json", ".9.json", "notes.txt"):
        (migrations / name).write_text("{}", encoding="utf-8")
    result = cli(*explicit(pair, migrations))
    assert result.code == 0, result.err
    assert (migrations / "4.json").exists()
    assert "has no 2.json" in result.err


@pytest.mark.parametrize("name", ["latest.json", "007.json", "-1.json"])
def test_non_numeric_migration_names_are_refused(
    cli: Cli, pair: dict[str, str], tmp_path: Path, name: str
) -> None:
    (tmp_path / name).write_text("{}", encoding="utf-8")
    result = cli(*explicit(pair, tmp_path))
    assert result.code == 2
    assert f"{name}' is not a migration file" in result.err
    assert not (tmp_path / "1.json").exists()


def test_same_as_last_is_refused_unless_allowed(
    cli: Cli, pair: dict[str, str], tmp_path: Path
) -> None:
    assert cli(*explicit(pair, tmp_path)).code == 0
    again = cli(*explicit(pair, tmp_path, "new", "-t", "RETRY"))
    assert again.code == 1
    assert "Not written: the last migration" in again.err
    assert "--allow-repeat" in again.err
    assert not (tmp_path / "2.json").exists()
    forced = cli(*explicit(pair, tmp_path, "new", "--allow-repeat"))
    assert forced.code == 0, forced.err
    assert "makes the same changes" in forced.err
    assert (tmp_path / "2.json").exists()


def test_unreadable_last_migration_only_warns(
    cli: Cli, pair: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "1.json").write_text("not json", encoding="utf-8")
    result = cli(*explicit(pair, tmp_path))
    assert result.code == 0, result.err
    assert "cannot read the last migration" in result.err
    assert (tmp_path / "2.json").exists()


def test_directory_from_the_configuration(
    cli: Cli, pair: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["migrate", "--no-check", "-n", pair["nodes"], "-f", pair["new"], "-N", pair["nodes"]]
    result = cli(*args, "-F", pair["old"])
    assert result.code == 0, result.err
    assert (tmp_path / "migrations" / "1.json").exists()
    assert "created the migration directory 'migrations'" in result.err
    assert result.out.splitlines()[0] == os.path.join("migrations", "1.json")


def test_no_directory_anywhere(cli: Cli, files: Files, pair: dict[str, str]) -> None:
    nodes = files.write("plain.yaml", NODES.replace("global:\n      migration_dir: migrations", ""))
    args = ["migrate", "--no-check", "-n", nodes, "-f", pair["new"], "-N", nodes, "-F", pair["old"]]
    result = cli(*args)
    assert result.code == 2
    assert "no migration directory: give -m DIR, or set global.migration_dir" in result.err


def test_option_differing_from_configuration_warns(
    cli: Cli, pair: dict[str, str], tmp_path: Path
) -> None:
    result = cli(*explicit(pair, tmp_path / "elsewhere"))
    assert result.code == 0, result.err
    assert "is not the new configuration's migration_dir ('migrations')" in result.err


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-N", "{nodes}", "-g"], "give either --git or -N/-F, not both"),
        ([], "say where the old configuration is"),
        (["-F", "{old}"], "-F needs the old nodes file as well"),
        (["HEAD"], "a revision is given only after -g/--git"),
        (["{old}", "-g"], "a path: give each flow file its own -f, or give their directory"),
        (["-g", "-t", "SOMETIMES"], "'SOMETIMES' is not one of"),
    ],
)
def test_usage_errors(
    cli: Cli, pair: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    filled = [arg.format(**pair) for arg in args]
    result = cli("migrate", "-n", pair["nodes"], "-f", pair["new"], "-m", str(tmp_path), *filled)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err


def test_nodes_file_is_required(cli: Cli, pair: dict[str, str]) -> None:
    result = cli("migrate", "-f", pair["new"], "-g")
    assert result.code == 2
    assert "a nodes definition file is required" in result.err


def test_invalid_old_configuration(cli: Cli, files: Files, pair: dict[str, str]) -> None:
    broken = files.write("broken.yaml", OLD_FLOWS.replace("to: Task2", "to: Tsk2"))
    args = ["migrate", "--no-check", "-n", pair["nodes"], "-f", pair["new"], "-N", pair["nodes"]]
    result = cli(*args, "-F", broken, "-m", str(files.root))
    assert result.code == 2
    assert result.err.startswith("Error: the old configuration is invalid:\n")
    assert f"{broken}:{Files.line_of(broken, 'Tsk2')}:" in result.err
    assert "did you mean 'Task2'?" in result.err


def test_new_configuration_imports_are_checked(
    cli: Cli, pair: dict[str, str], tmp_path: Path
) -> None:
    args = ["migrate", "-n", pair["nodes"], "-f", pair["new"], "-N", pair["nodes"]]
    result = cli(*args, "-F", pair["old"], "-m", str(tmp_path))
    assert result.code == 2
    assert result.err.startswith("Error: the new configuration is invalid:\n")
    assert "cannot import module 'migration_tasks'" in result.err


# --------------------------------------------------------------------------- git


def write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def git(repository: Path, *args: str) -> str:
    environment = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", "-C", str(repository), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A git repository with the old configuration committed (flows in a directory)."""
    root = tmp_path / "repo"
    (root / "flows").mkdir(parents=True)
    git(root, "init", "-q")
    write(root / "nodes.yaml", NODES)
    write(root / "flows" / "flow1.yaml", OLD_FLOWS)
    (root / "flows" / ".hidden.yaml").write_text("not: [valid", encoding="utf-8")
    git(root, "add", "nodes.yaml", "flows/flow1.yaml")
    git(root, "commit", "-q", "-m", "old")
    return root


def git_args(root: Path, *extra: str) -> list[str]:
    nodes, flows = root / "nodes.yaml", root / "flows"
    return ["migrate", "--no-check", "--no-meta", "-n", str(nodes), "-f", str(flows), *extra]


def test_git_head_of_a_directory(cli: Cli, repository: Path) -> None:
    write(repository / "flows" / "flow1.yaml", NEW_FLOWS)
    result = cli(*git_args(repository, "-m", str(repository / "m"), "-g"))
    assert result.code == 0, result.err
    content = json.loads((repository / "m" / "1.json").read_text(encoding="utf-8"))
    assert content["migration"]["flow1"]["tainted_edges"]["1"]["to"] == ["Task2"]


def test_git_revision_and_file_paths(
    cli: Cli, repository: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow_file = repository / "flows" / "flow1.yaml"
    write(flow_file, REORDERED_FLOWS)
    git(repository, "commit", "-q", "-am", "reordered")
    monkeypatch.chdir(repository / "flows")
    args = ["migrate", "--no-check", "-n", "../nodes.yaml", "-f", "flow1.yaml", "-m", "../m"]
    assert cli(*args, "-g").code == 3  # the working tree equals HEAD
    result = cli(*args, "-g", "HEAD~1")
    assert result.code == 0, result.err
    content = json.loads((repository / "m" / "1.json").read_text(encoding="utf-8"))
    assert content["migration"]["flow1"]["translation"] == {"0": 1, "1": 0}


def test_git_file_without_committed_version(cli: Cli, repository: Path) -> None:
    extra = repository / "flows" / "extra.yaml"
    write(extra, NEW_FLOWS)
    args = ["migrate", "--no-check", "-n", str(repository / "nodes.yaml")]
    result = cli(*args, "-f", str(extra), "-m", str(repository / "m"), "-g")
    assert result.code == 2
    assert f"-g: '{extra}' has no committed version at 'HEAD'" in result.err


def test_git_unknown_revision(cli: Cli, repository: Path) -> None:
    result = cli(*git_args(repository, "-m", str(repository / "m"), "-g", "nosuchbranch"))
    assert result.code == 2
    assert "-g: no revision 'nosuchbranch' in the git repository" in result.err


def test_git_outside_a_repository(cli: Cli, pair: dict[str, str], tmp_path: Path) -> None:
    if (
        subprocess.run(  # a temporary directory inside some checkout would not do
            ["git", "-C", str(tmp_path), "rev-parse"], capture_output=True, timeout=60, check=False
        ).returncode
        == 0
    ):
        pytest.skip(f"{tmp_path} is inside a git repository")
    args = ["migrate", "--no-check", "-n", pair["nodes"], "-f", pair["new"], "-m", str(tmp_path)]
    result = cli(*args, "-g")
    assert result.code == 2
    assert "is not in a git repository (give -N/-F instead)" in result.err


def test_git_old_configuration_errors_name_the_revision(cli: Cli, repository: Path) -> None:
    flow_file = repository / "flows" / "flow1.yaml"
    write(flow_file, OLD_FLOWS.replace("to: Task2", "to: Tsk2"))
    git(repository, "commit", "-q", "-am", "broken")
    write(flow_file, NEW_FLOWS)
    result = cli(*git_args(repository, "-m", str(repository / "m"), "-g"))
    assert result.code == 2
    assert "Error: the old configuration is invalid:" in result.err
    assert "HEAD:flows/flow1.yaml:" in result.err


# --------------------------------------------------------------------------- docs


@pytest.mark.parametrize("doc", ["migrations.md", "cli.md"])
def test_documented_example_is_real(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doc: str
) -> None:
    text = (FIXTURES.parents[2] / "docs" / doc).read_text(encoding="utf-8")
    command = "$ selinon-cli migrate -n new/nodes.yaml"
    block = text.split(command, 1)[1].split("\n```", 1)[0].replace("\\\n", "").splitlines()
    arguments, documented = (command + block[0]).split()[2:], block[1:]
    for side in ("old", "new"):
        shutil.copytree(FIXTURES / "edge_added" / side, tmp_path / side)
    monkeypatch.chdir(tmp_path)
    result = cli(*arguments)
    assert result.code == 0, result.err
    assert result.out.splitlines() == documented


def test_git_single_file_holding_nodes_and_flows(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "single"
    root.mkdir()
    git(root, "init", "-q")
    config = root / "config.yaml"
    write(config, NODES + OLD_FLOWS)
    git(root, "add", "config.yaml")
    git(root, "commit", "-q", "-m", "old")
    write(config, NODES + REORDERED_FLOWS)
    args = ["migrate", "--no-check", "--no-meta", "-n", str(config), "-f", str(config)]
    result = cli(*args, "-m", str(root / "m"), "-g")
    assert result.code == 0, result.err
    content = json.loads((root / "m" / "1.json").read_text(encoding="utf-8"))
    assert content == {
        "migration": {
            "flow1": {"translation": {"0": 1, "1": 0}, "tainted_edges": {}, "tainting_nodes": {}}
        },
        "tainted_flow_strategy": "IGNORE",
    }


def test_strategy_from_the_environment(
    cli: Cli, pair: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SELINON_MIGRATE_TAINTED_FLOWS", "RETRY")
    assert cli(*explicit(pair, tmp_path)).code == 0
    content = json.loads((tmp_path / "1.json").read_text(encoding="utf-8"))
    assert content["tainted_flow_strategy"] == "RETRY"
