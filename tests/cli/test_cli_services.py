"""``inspect --check-services`` connects to every configured storage and names what fails."""

from __future__ import annotations

from tests.cli.conftest import Cli, Files
from tests.services import POSTGRES_DSN, require_postgres, unique_name

NODES = """
tasks:
  - {{name: A, import: m, storage: Pg}}
  - {{name: B, import: m, storage: Memory}}
storages:
  - name: Pg
    import: selinon_backends.storage.postgresql
    classname: PostgreSQL
    configuration:
      connection_string: {dsn}
      connect_timeout: 3
  - name: Memory
    import: selinon_backends.storage.memory
    classname: InMemoryStorage
    configuration: {{echo: false}}
flows: [f]
"""
FLOWS = "flow-definitions:\n  - {name: f, edges: [{from: [], to: A}, {from: A, to: B}]}\n"


def _project(files: Files, dsn: str) -> list[str]:
    nodes = files.write("nodes.yaml", NODES.format(dsn=dsn))
    return ["-n", nodes, "-f", files.write("flows.yaml", FLOWS), "--no-check-imports"]


def test_a_missing_database_is_named_at_once(cli: Cli, files: Files) -> None:
    require_postgres()
    missing = unique_name("nosuchdb").replace("-", "_")
    dsn = POSTGRES_DSN.rsplit("/", 1)[0] + f"/{missing}"
    result = cli("inspect", *_project(files, dsn), "--check-services")
    assert result.code == 1
    assert "storage 'Memory' (selinon_backends.storage.memory.InMemoryStorage): connected" in (
        result.out
    )
    failed = next(line for line in result.out.splitlines() if line.startswith("storage 'Pg'"))
    assert "FAILED" in failed
    assert f'database "{missing}" does not exist' in failed
    assert "PoolTimeout" not in failed


def test_every_storage_connects(cli: Cli, files: Files) -> None:
    dsn = require_postgres()
    result = cli("inspect", *_project(files, dsn), "--check-services")
    assert result.code == 0, result.out + result.err
    assert result.out.count(": connected") == 2


def test_services_are_not_contacted_without_the_option(cli: Cli, files: Files) -> None:
    result = cli("inspect", *_project(files, "postgresql://127.0.0.1:1/none"))
    assert result.code == 0
    assert "connected" not in result.out
