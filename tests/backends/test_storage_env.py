"""Built-in storage adapters expand their documented keys when they are built, not at load."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
from tests.services import require_redis

from selinon_backends.storage.filesystem import Filesystem
from selinon_backends.storage.pool import StoragePool
from selinon_backends.storage.postgresql import PostgreSQL
from selinon_backends.storage.redis import Redis
from selinon_backends.storage.s3 import S3
from selinon_core.config.envexpand import BUILTIN_STORAGE_ENV_FIELDS
from selinon_core.config.loader import load_system_from_texts
from selinon_core.errors import SpecError

FLOWS = "flow-definitions:\n  - name: flow1\n    edges:\n      - {from: '', to: Task1}\n"


def _nodes(storage: str) -> str:
    return (
        "tasks:\n  - {name: Task1, import: myproject.tasks, storage: S}\nflows: [flow1]\n"
        f"storages:\n  - {storage}\n"
    )


def test_redis_expands_host_port_db_and_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_HOST", "cache.local")
    monkeypatch.setenv("T_PORT", "6380")
    monkeypatch.setenv("T_DB", "3")
    monkeypatch.setenv("T_PASSWORD", "pw")
    adapter = Redis(host="{T_HOST}", port="{T_PORT}", db="{T_DB}", password="{T_PASSWORD}")
    assert (adapter.host, adapter.port, adapter.db, adapter.password) == (
        "cache.local",
        6380,
        3,
        "pw",
    )
    assert Redis(key_prefix="{T_HOST}").key_prefix == "{T_HOST}"  # not one of Selinon's keys


def test_s3_postgresql_filesystem_expand_their_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("T_BUCKET", "results")
    monkeypatch.setenv("T_SSL", "false")
    monkeypatch.setenv("T_DIR", str(tmp_path))
    monkeypatch.setenv("T_PG", "db.local")
    s3 = S3(bucket="{T_BUCKET}-x", use_ssl="{T_SSL}", region_name="{T_BUCKET}")
    assert (s3.bucket, s3.use_ssl, s3.region_name) == ("results-x", False, "results")
    assert Filesystem(path="{T_DIR}/r").path == tmp_path / "r"
    pg = PostgreSQL(connection_string="postgresql://u@{T_PG}:5432/test")
    assert "db.local" in pg.connection_string


@pytest.mark.parametrize(
    ("build", "variable"),
    [
        (lambda: Redis(host="{T_MISSING}"), "T_MISSING"),
        (lambda: S3(bucket="{T_MISSING_BUCKET}"), "T_MISSING_BUCKET"),
        (lambda: Filesystem(path="{T_MISSING_DIR}"), "T_MISSING_DIR"),
        (lambda: PostgreSQL(connection_string="postgresql://{T_NO_PG}/x"), "T_NO_PG"),
    ],
)
def test_a_missing_variable_fails_clearly(build: object, variable: str) -> None:
    with pytest.raises(SpecError, match=f"'{variable}' is not set") as caught:
        build()  # type: ignore[operator]
    assert "storage:" in str(caught.value)


def test_every_builtin_adapter_module_is_listed() -> None:
    assert set(BUILTIN_STORAGE_ENV_FIELDS) == {
        "selinon_backends.storage.memory",
        "selinon_backends.storage.redis",
        "selinon_backends.storage.postgresql",
        "selinon_backends.storage.s3",
        "selinon_backends.storage.filesystem",
    }


def test_redis_storage_from_yaml_connects_after_late_expansion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = urlparse(require_redis())
    storage = (
        "{name: S, import: selinon.storages.redis, classname: Redis, "
        "configuration: {host: '{T_REDIS_HOST}', port: '{T_REDIS_PORT}'}}"
    )
    system = load_system_from_texts(_nodes(storage), [FLOWS], check_imports=False, environ={})
    assert any("'T_REDIS_HOST'" in w.message for w in system.warnings)
    with pytest.raises(SpecError, match=r"storage 'S': Redis storage: .*'T_REDIS_PORT' is not set"):
        StoragePool(system).get_connected_storage("S")
    monkeypatch.setenv("T_REDIS_HOST", url.hostname or "127.0.0.1")
    monkeypatch.setenv("T_REDIS_PORT", str(url.port or 6379))
    with StoragePool(system) as pool:
        adapter = pool.get_connected_storage("S")
        assert adapter.is_connected()
        assert adapter.port == (url.port or 6379)
