"""What each adapter documents beyond the shared contract (layouts, TTL, upsert, options)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from tests.services import POSTGRES_DSN

from selinon_backends.storage.filesystem import Filesystem
from selinon_backends.storage.memory import InMemoryStorage
from selinon_backends.storage.postgresql import normalise_connection_string
from selinon_backends.storage.redis import Redis
from selinon_backends.storage.s3 import S3, S3Storage
from selinon_core.datastorage import DataStorage
from selinon_core.errors import BackendError, TransientBackendError

from .conftest import Backend

FLOW, TASK = "flow_x", "TaskX"


def new_id() -> str:
    return f"task-{uuid.uuid4()}"


# --------------------------------------------------------------------------- PostgreSQL


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db"),
        ("postgres://u:p@h/db", "postgres://u:p@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql://u@h/db"),
        ("postgres+pg8000://u@h/db", "postgres://u@h/db"),
        ("  host=h dbname=db  ", "host=h dbname=db"),
    ],
)
def test_sqlalchemy_urls_are_accepted(given: str, expected: str) -> None:
    assert normalise_connection_string(given) == expected


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgresql_upsert_keeps_one_row_with_jsonb_columns(
    storage: DataStorage, backend: Backend
) -> None:
    import psycopg

    task_id = new_id()
    first = storage.store({"n": 1}, FLOW, TASK, task_id, {"v": 1})
    second = storage.store({"n": 2}, FLOW, TASK, task_id, {"v": 2})
    assert first == second  # same row
    table = backend.extra["table"]
    with psycopg.connect(POSTGRES_DSN) as conn:
        rows = conn.execute(
            "SELECT flow_name, task_name, node_args, result, pg_typeof(result)::text "
            f'FROM "{table}" WHERE task_id = %s',
            (task_id,),
        ).fetchall()
    assert rows == [(FLOW, TASK, {"n": 2}, {"v": 2}, "jsonb")]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgresql_accepts_selinon_configuration_keys(backend: Backend) -> None:
    url = POSTGRES_DSN.replace("postgresql://", "postgresql+psycopg2://")
    storage = backend.make(connection_string=url, encoding="utf-8", echo=True)
    with storage:
        task_id = new_id()
        storage.store(None, FLOW, TASK, task_id, "ok")
        assert storage.retrieve(FLOW, TASK, task_id) == "ok"


# --------------------------------------------------------------------------- Redis


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_redis_key_layout_and_ttl(backend: Backend) -> None:
    storage = backend.make(ttl=60)
    assert isinstance(storage, Redis)
    with storage:
        task_id = new_id()
        key = storage.store(None, FLOW, TASK, task_id, {"a": "ü"})
        assert key == f"{backend.extra['prefix']}:result:{task_id}"
        raw = storage.client.get(key)
        assert raw is not None
        assert json.loads(raw.decode()) == {"a": "ü"}
        assert 0 < storage.client.ttl(key) <= 60


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_redis_without_ttl_keeps_keys(backend: Backend) -> None:
    storage = backend.make()
    assert isinstance(storage, Redis)
    with storage:
        key = storage.store(None, FLOW, TASK, new_id(), 1)
        assert storage.client.ttl(key) == -1


def test_redis_accepts_selinon_configuration_keys_as_strings() -> None:
    storage = Redis(
        host="127.0.0.1",
        port="6379",
        db="0",
        password="",
        socket_timeout="5",
        charset="utf-8",
        errors="strict",
        unix_socket_path=None,
    )
    assert (storage.port, storage.db, storage.password, storage.socket_timeout) == (
        6379,
        0,
        None,
        5.0,
    )


# --------------------------------------------------------------------------- S3


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_s3_object_layout(storage: DataStorage, backend: Backend) -> None:
    task_id = new_id()
    key = storage.store(None, FLOW, TASK, task_id, {"x": 1})
    assert key == f"{backend.extra['prefix']}/{FLOW}/{TASK}/{task_id}.json"


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_s3_raw_objects_without_json(backend: Backend) -> None:
    storage = backend.make(serialize_json="false")
    with storage:
        task_id = new_id()
        storage.store(None, FLOW, TASK, task_id, b"\x00\x01binary")
        assert storage.retrieve(FLOW, TASK, task_id) == b"\x00\x01binary"
        with pytest.raises(TypeError, match="only bytes or str"):
            storage.store(None, FLOW, TASK, task_id, {"not": "bytes"})


def test_s3_storage_is_the_same_class() -> None:
    assert S3Storage is S3
    assert S3("b", prefix="/a/b/").object_key("f", "t", "i") == "a/b/f/t/i.json"
    assert S3("b").object_key("f", "t", "i") == "f/t/i.json"


# --------------------------------------------------------------------------- filesystem


def test_filesystem_layout_and_atomic_writes(tmp_path: Path) -> None:
    storage = Filesystem(path=str(tmp_path / "results"))
    with storage:
        path = storage.store(None, FLOW, TASK, "id-1", {"ok": True})
        storage.store(None, FLOW, TASK, "id-1", {"ok": "again"})
        assert path == str(tmp_path / "results" / FLOW / TASK / "id-1.json")
        assert json.loads(Path(path).read_text(encoding="utf-8")) == {"ok": "again"}
        assert sorted(p.name for p in Path(path).parent.iterdir()) == ["id-1.json"]


@pytest.mark.parametrize("bad", ["..", ".", "", "a/b", "a\\b"])
def test_filesystem_rejects_path_tricks(tmp_path: Path, bad: str) -> None:
    storage = Filesystem(path=tmp_path)
    with storage, pytest.raises(ValueError, match="cannot be used"):
        storage.store(None, FLOW, TASK, bad, 1)


# --------------------------------------------------------------------------- memory


@pytest.mark.parametrize(("echo", "stream"), [(True, "out"), ("stdout", "out"), ("stderr", "err")])
def test_memory_echo(capsys: pytest.CaptureFixture[str], echo: bool | str, stream: str) -> None:
    storage = InMemoryStorage(echo=echo)
    with storage:
        storage.store({"a": 1}, FLOW, TASK, "id-1", "result!")
    captured = capsys.readouterr()
    assert "result!" in getattr(captured, stream)
    assert len(storage) == 1


def test_memory_json_copies_results() -> None:
    storage = InMemoryStorage(json=True)
    result = {"list": [1]}
    storage.store(None, FLOW, TASK, "id", result)
    result["list"].append(2)
    assert storage.retrieve(FLOW, TASK, "id") == {"list": [1]}


# --------------------------------------------------------------------------- error mapping


def test_missing_client_library_names_the_extra() -> None:
    from selinon_backends._clients import optional_import

    with pytest.raises(ImportError, match=r"install the `redis` extra"):
        optional_import("no_such_client_library", extra="redis", purpose="this storage")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgresql_nul_character_is_a_backend_error(storage: DataStorage) -> None:
    with pytest.raises(BackendError) as caught:
        storage.store(None, FLOW, TASK, new_id(), {"text": "nul \x00 inside"})
    assert not isinstance(caught.value, TransientBackendError)
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_s3_missing_bucket_is_a_backend_error(backend: Backend) -> None:
    storage = backend.make(bucket="no-such-bucket-here", create_bucket=False)
    with storage:
        with pytest.raises(BackendError, match="NoSuchBucket") as caught:
            storage.store(None, FLOW, TASK, new_id(), 1)
        assert not isinstance(caught.value, TransientBackendError)
