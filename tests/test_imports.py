"""Start-up stays cheap: which heavy modules each entry point imports (checked in a fresh process).

Each case runs a snippet in a new interpreter and lists the heavy third-party modules found in
``sys.modules`` afterwards.  ``selinon_core`` imports its public names on first use, the
selective planner imports networkx when it plans, and ``selinon-cli`` imports what a command
needs when that command runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

HEAVY = (
    "networkx",
    "rich",
    "pydantic",
    "typer",
    "ruamel",
    "fastjsonschema",
    "structlog",
    "kombu",
    "celery",
    "redis",
    "psycopg",
    "aioboto3",
    "boto3",
    "sentry_sdk",
)

_PROBE = textwrap.dedent(
    """
    import json, sys
    {code}
    print(json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr)
    """
)

DINNER = ["--app-dir", "examples", "-n", "examples/dinner/nodes.yaml"]


def heavy_imports(code: str) -> list[str]:
    """The heavy modules imported after running ``code`` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(code=code, heavy=HEAVY)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return found


def cli(*args: str) -> str:
    """A snippet that runs ``selinon-cli args`` in-process (it must succeed), output discarded."""
    return (
        "import contextlib, io\n"
        "from selinon_backends.cli import main\n"
        "quiet = io.StringIO()\n"
        "with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):\n"
        f"    code = main({list(args)!r})\n"
        "if code != 0:\n"
        "    raise SystemExit(f'selinon-cli exited with {code}: {quiet.getvalue()}')\n"
    )


def test_importing_the_core_imports_nothing_heavy() -> None:
    assert heavy_imports("import selinon_core") == []


def test_core_leaves_stay_light() -> None:
    assert heavy_imports("import selinon_core.errors, selinon_core.trace") == []


def test_the_dispatcher_does_not_import_networkx() -> None:
    found = heavy_imports("from selinon_core import Dispatcher, load_system")
    assert "networkx" not in found
    assert set(found) <= {"pydantic", "ruamel", "fastjsonschema"}


def test_selective_planning_imports_networkx_when_it_plans() -> None:
    load = (
        "from selinon_core import load_system, plan_selective_run\n"
        "system = load_system('examples/selective/nodes.yaml', ['examples/selective/flows'],"
        " check_imports=False)\n"
    )
    assert "networkx" not in heavy_imports(load)
    plan = f"{load}plan_selective_run(system.spec, 'pageFlow', ['Index'])\n"
    assert "networkx" in heavy_imports(plan)


@pytest.mark.parametrize("args", [["version"], ["--version"]])
def test_cli_version_imports_nothing_heavy(args: list[str]) -> None:
    assert heavy_imports(cli(*args)) == []


def test_cli_help_imports_only_typer() -> None:
    assert heavy_imports(cli("--help")) == ["typer"]
    # typer converts the global options' values with pydantic before a sub-command's help
    assert set(heavy_imports(cli("execute", "--help"))) <= {"typer", "pydantic"}


def test_cli_inspect_imports_no_graph_library_terminal_or_client() -> None:
    found = heavy_imports(cli(*DINNER[:2], "inspect", *DINNER[2:], "-f", "examples/dinner/flows"))
    assert set(found) <= {"typer", "pydantic", "ruamel", "fastjsonschema"}


def test_cli_execute_without_a_terminal_does_not_import_rich_or_networkx() -> None:
    found = heavy_imports(
        cli(
            *DINNER[:2],
            "execute",
            *DINNER[2:],
            "-f",
            "examples/dinner/flows",
            "--flow-name",
            "dinnerFlow",
            "--node-args",
            '{"guests": 1}',
        )
    )
    assert "rich" not in found
    assert "networkx" not in found
    assert "structlog" not in found


def test_storage_clients_are_imported_only_when_a_storage_connects(tmp_path: Path) -> None:
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(
        textwrap.dedent(
            """
            tasks:
              - {name: A, import: m, storage: R}
              - {name: B, import: m, storage: P}
            storages:
              - {name: R, import: selinon_backends.storage.redis, classname: Redis,
                 configuration: {host: 127.0.0.1}}
              - name: P
                import: selinon_backends.storage.postgresql
                classname: PostgreSQL
                configuration: {connection_string: "postgresql://127.0.0.1/x"}
            flows: [f]
            """
        ),
        encoding="utf-8",
    )
    flows = tmp_path / "flows.yaml"
    flows.write_text("flow-definitions:\n  - {name: f, edges: [{from: [], to: [A, B]}]}\n")
    (tmp_path / "m.py").write_text(
        "from selinon_core import SelinonTask\n\n\nclass A(SelinonTask):\n"
        "    def run(self, node_args):\n        return None\n\n\nB = A\n"
    )
    args = ["--app-dir", str(tmp_path), "inspect", "-n", str(nodes), "-f", str(flows)]
    found = heavy_imports(cli(*args))
    assert "redis" not in found
    assert "psycopg" not in found
