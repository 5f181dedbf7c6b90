"""The ``selinon-cli`` entry point: help, usage errors, version, SpecError rendering, scripts."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from selinon_backends.cli import register_commands, run
from selinon_backends.cli.version_cmd import SELINON_COMPATIBILITY, VersionInfo, version_info
from selinon_core.errors import Problem, SpecError

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ("--app-dir", "examples")  # the quickstart imports its tasks as quickstart.tasks
QUICKSTART = ("-n", "examples/quickstart/nodes.yaml", "-f", "examples/quickstart/flows.yaml")


def test_no_arguments_prints_help(cli: Any) -> None:
    result = cli()
    assert result.code == 2
    assert "inspect" in result.out
    assert "version" in result.out


def test_help_lists_the_commands(cli: Any) -> None:
    result = cli("--help")
    assert result.code == 0
    for command in ("inspect", "version"):
        assert command in result.out


def test_unknown_command_is_a_usage_error(cli: Any) -> None:
    result = cli("inspekt")
    assert result.code == 2
    assert "inspekt" in result.err


def test_unknown_option_is_a_usage_error(cli: Any) -> None:
    result = cli("inspect", "--no-such-option")
    assert result.code == 2
    assert "--no-such-option" in result.err


def test_version_reports_ours_selinon_level_and_celery(cli: Any) -> None:
    result = cli("version")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == f"selinon-ng version: {importlib.metadata.version('selinon-ng')}"
    assert lines[1].startswith(f"Selinon compatibility: {SELINON_COMPATIBILITY}")
    assert lines[2] == f"Celery version: {importlib.metadata.version('celery')}"


def test_global_version_option_matches_the_command(cli: Any) -> None:
    option = cli("--version")
    assert option.code == 0, option.err
    assert option.out == cli("version").out


def test_version_info_without_celery() -> None:
    info = VersionInfo(version="1.2.3", selinon_compatibility="1.4.0", celery=None)
    assert info.lines()[-1] == "Celery version: not installed"
    assert version_info().version == importlib.metadata.version("selinon-ng")


def test_spec_error_escaping_a_command_is_listed_not_raised(
    capsys: pytest.CaptureFixture[str],
) -> None:
    application = typer.Typer()

    @application.command()
    def load() -> None:
        raise SpecError(
            [
                Problem("unknown node 'Tsk'", "a.yaml", 3, 7, "did you mean 'Task'?"),
                Problem("flow 'f' has no edges", "b.yaml", 1),
            ]
        )

    assert run(application, []) == 2
    assert capsys.readouterr().err.splitlines() == [
        "a.yaml:3:7: unknown node 'Tsk' (did you mean 'Task'?)",
        "b.yaml:1: flow 'f' has no edges",
        "Configuration is invalid: 2 errors.",
    ]


def test_exit_status_chosen_by_a_command_is_returned() -> None:
    application = typer.Typer()

    @application.command()
    def fail() -> None:
        raise typer.Exit(3)

    assert run(application, []) == 3


def _script_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SELINON_")}


def test_module_entry_point_runs_in_a_fresh_interpreter() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "selinon_backends.cli", *APP_DIR, "inspect", *QUICKSTART],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_script_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Configuration is valid")


def test_console_script_reports_invalid_configuration_with_status_2(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("selinon-cli")
    if not script.exists():
        pytest.fail(f"the selinon-cli console script is not installed next to {sys.executable}")
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text("tasks:\n  - name: 1bad\n    import: x\nflows: []\n", encoding="utf-8")
    proc = subprocess.run(
        [str(script), "inspect", "-n", str(nodes), "-f", str(nodes), "--no-check-imports"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_script_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{nodes}:2:" in proc.stderr


APP_DIR_NODES = """
tasks:
  - name: Probe
    import: appdir_probe_tasks
flows:
  - probe
flow-definitions:
  - name: probe
    edges:
      - from:
        to: Probe
"""


@pytest.mark.parametrize("from_environment", [False, True])
def test_app_dir_makes_user_modules_importable(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, from_environment: bool
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "appdir_probe_tasks", raising=False)
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / "appdir_probe_tasks.py").write_text("class Probe:\n    pass\n", encoding="utf-8")
    config = tmp_path / "system.yaml"
    config.write_text(APP_DIR_NODES, encoding="utf-8")
    args = ("inspect", "-n", str(config), "-f", str(config))
    missing = cli(*args)
    assert missing.code == 2
    assert "appdir_probe_tasks" in missing.err
    if from_environment:
        monkeypatch.setenv("SELINON_APP_DIR", str(code_dir))
        found = cli(*args)
    else:
        found = cli("--app-dir", str(code_dir), *args)
    assert found.code == 0, found.err
    monkeypatch.delitem(sys.modules, "appdir_probe_tasks", raising=False)


@pytest.mark.parametrize(
    ("code", "status", "stderr"), [(None, 0, ""), (4, 4, ""), ("gave up", 1, "gave up\n")]
)
def test_sys_exit_in_a_command_becomes_the_status(
    capsys: pytest.CaptureFixture[str], code: object, status: int, stderr: str
) -> None:
    application = typer.Typer()

    @application.command()
    def leave() -> None:
        sys.exit(code)  # type: ignore[arg-type]

    assert run(application, []) == status
    assert capsys.readouterr().err == stderr


def test_register_commands_skips_only_absent_optional_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "cmdprobe"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "hello.py").write_text(
        "def register(app):\n    app.command(name='hello')(lambda: print('hi'))\n",
        encoding="utf-8",
    )
    (package / "broken.py").write_text("import cmdprobe_missing_dependency\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("cmdprobe", "cmdprobe.hello", "cmdprobe.broken"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    application = typer.Typer()
    registered = register_commands(
        application, ["cmdprobe.hello", "cmdprobe.absent"], optional=True
    )
    assert registered == ["cmdprobe.hello"]
    with pytest.raises(ModuleNotFoundError):
        register_commands(application, ["cmdprobe.absent"])
    with pytest.raises(ModuleNotFoundError, match="cmdprobe_missing_dependency"):
        register_commands(application, ["cmdprobe.broken"], optional=True)
    assert run(application, []) == 0  # a single command is the whole application
    assert capsys.readouterr().out == "hi\n"
