"""Client plumbing: optional imports, the Redis client factory (real Redis), error mapping."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.exceptions
import psycopg
import pytest
import redis

from selinon_backends._clients import (
    EXTRAS,
    MissingExtraError,
    map_backend_errors,
    optional_import,
    postgresql_errors,
    redis_client,
    redis_errors,
    s3_errors,
)
from selinon_core.errors import (
    BackendError,
    ResultMissing,
    SpecError,
    TransientBackendError,
)

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:  # make ``tests.services`` importable without a root conftest
    sys.path.insert(0, str(_ROOT))

from tests.services import (  # noqa: E402
    LOOPBACK,
    free_port,
    require_redis,
    service_unavailable,
    unique_name,
)

MISSING = "selinon_test_no_such_module"


# --------------------------------------------------------------------------- optional imports


def test_missing_module_raises_the_one_error_naming_the_extra() -> None:
    with pytest.raises(MissingExtraError) as caught:
        optional_import(MISSING, extra="redis", purpose="Redis storage")
    exc = caught.value
    assert str(exc) == (
        f"Redis storage needs the '{MISSING}' package: install the `redis` extra "
        "(pip install 'selinon-ng[redis]')"
    )
    assert exc.extra == "redis"
    assert exc.name == MISSING
    assert isinstance(exc.__cause__, ModuleNotFoundError)


def test_missing_extra_error_is_an_import_error_and_a_spec_error() -> None:
    # existing ``except ImportError`` handlers and the CLI's SpecError report both catch it
    with pytest.raises(ImportError, match=r"pip install 'selinon-ng\[sentry\]'"):
        optional_import(MISSING, extra="sentry", purpose="Sentry trace sink")
    with pytest.raises(SpecError) as caught:
        optional_import(MISSING, extra="plot", purpose="plot")
    assert [problem.message for problem in caught.value.problems] == [str(caught.value)]


def test_missing_extra_error_survives_pickling() -> None:
    with pytest.raises(MissingExtraError) as caught:
        optional_import(MISSING, extra="s3", purpose="S3 storage")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is MissingExtraError
    assert str(copy) == str(caught.value)
    assert (copy.extra, copy.name) == ("s3", MISSING)


def test_installed_module_is_returned() -> None:
    assert optional_import("redis", extra="redis", purpose="Redis storage") is redis
    assert optional_import("botocore.exceptions", extra="s3", purpose="S3") is botocore.exceptions


def test_unknown_extra_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown extra 'nosuch'"):
        optional_import("json", extra="nosuch", purpose="x")


def test_extras_match_the_package_metadata() -> None:
    metadata = tomllib.loads((_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = set(metadata["project"]["optional-dependencies"]) - {"all"}
    assert declared == EXTRAS


# --------------------------------------------------------------------------- Redis client


@pytest.fixture
def redis_url() -> str:
    return require_redis()


def _round_trip(client: redis.Redis[Any], value: bytes = b"v\xc3\xa9") -> Any:
    key = unique_name("test_clients")
    try:
        client.set(key, value, px=60_000)
        return client.get(key)
    finally:
        client.delete(key)


@pytest.mark.service
def test_redis_client_from_url(redis_url: str) -> None:
    client = redis_client(url=redis_url, socket_timeout=5, client_name="selinon-test-url")
    try:
        assert client.ping() is True
        assert _round_trip(client) == b"v\xc3\xa9"
        assert client.client_getname() == "selinon-test-url"
    finally:
        client.close()


@pytest.mark.service
def test_redis_client_from_selinon_storage_keys(redis_url: str) -> None:
    parsed = urlsplit(redis_url)
    # exactly what a Selinon YAML storage configuration holds (numbers may come as strings)
    configuration: dict[str, Any] = {
        "host": parsed.hostname or LOOPBACK,
        "port": str(parsed.port or 6379),
        "db": parsed.path.strip("/") or "0",
        "password": None,
        "socket_timeout": "5",
        "charset": "utf-8",
        "errors": "strict",
        "unix_socket_path": None,
    }
    client = redis_client(**configuration)
    try:
        assert _round_trip(client) == b"v\xc3\xa9"
        kwargs = client.connection_pool.connection_kwargs
        assert (kwargs["port"], kwargs["db"], kwargs["socket_timeout"]) == (
            parsed.port or 6379,
            int(configuration["db"]),
            5.0,
        )
    finally:
        client.close()


@pytest.mark.service
def test_redis_client_decodes_responses_when_asked(redis_url: str) -> None:
    client = redis_client(url=redis_url, decode_responses=True)
    try:
        assert _round_trip(client, "žluťoučký".encode()) == "žluťoučký"
    finally:
        client.close()


@pytest.mark.service
def test_redis_client_bounded_pool_waits_or_fails(redis_url: str) -> None:
    waiting = redis_client(
        url=redis_url, max_connections=1, wait_for_connection=True, socket_timeout=0.2
    )
    failing = redis_client(url=redis_url, max_connections="1")
    try:
        assert isinstance(waiting.connection_pool, redis.BlockingConnectionPool)
        assert not isinstance(failing.connection_pool, redis.BlockingConnectionPool)
        held = waiting.connection_pool.get_connection()
        with pytest.raises(TransientBackendError), redis_errors(what="Redis test"):
            waiting.ping()  # no free connection within the 0.2 s socket timeout
        waiting.connection_pool.release(held)
        assert waiting.ping() is True
        held = failing.connection_pool.get_connection()
        too_many = pytest.raises(TransientBackendError, match="Too many connections")
        with too_many, redis_errors(what="Redis test"):
            failing.ping()
        failing.connection_pool.release(held)
    finally:
        waiting.close()
        failing.close()


@pytest.fixture
def unix_socket_redis(tmp_path: Path) -> Iterator[Path]:
    """A throw-away ``redis-server`` listening on a Unix socket only (no TCP port)."""
    binary = shutil.which("redis-server")
    if binary is None:
        service_unavailable("redis-server is not installed (needed for the Unix socket test)")
    path = tmp_path / "redis.sock"
    args = [binary, "--port", "0", "--unixsocket", str(path), "--save", "", "--dir", str(tmp_path)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not path.exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("redis-server did not create its Unix socket")
            time.sleep(0.02)
        yield path
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.service
def test_redis_client_over_a_unix_socket(unix_socket_redis: Path) -> None:
    client = redis_client(unix_socket_path=str(unix_socket_redis), db="1", socket_timeout=5)
    try:
        assert _round_trip(client) == b"v\xc3\xa9"
    finally:
        client.close()
    by_url = redis_client(url=f"unix://{unix_socket_redis}?db=1")
    try:
        assert by_url.ping() is True
    finally:
        by_url.close()


def test_redis_client_rejects_a_non_redis_url() -> None:
    with pytest.raises(ValueError, match="redis://"):
        redis_client(url=f"http://{LOOPBACK}:6379/0")


# --------------------------------------------------------------------------- error mapping


def test_refused_redis_connection_is_transient() -> None:
    client = redis_client(host=LOOPBACK, port=free_port(), socket_timeout=1)
    try:
        refused = pytest.raises(TransientBackendError, match=r"^Redis test unavailable: Connection")
        with refused, redis_errors(what="Redis test"):
            client.ping()
    finally:
        client.close()


@pytest.mark.service
def test_redis_command_error_is_a_backend_error(redis_url: str) -> None:
    client = redis_client(url=redis_url)
    try:
        raises = pytest.raises(BackendError, match=r"^Redis test error: ResponseError")
        with raises as caught, redis_errors(what="Redis test"):
            client.execute_command("SELINON_NO_SUCH_COMMAND")
        assert not isinstance(caught.value, TransientBackendError)
        assert isinstance(caught.value.__cause__, redis.ResponseError)
    finally:
        client.close()


def test_refused_postgresql_connection_is_transient() -> None:
    dsn = f"postgresql://postgres@{LOOPBACK}:{free_port()}/test"
    raises = pytest.raises(TransientBackendError, match="PostgreSQL test unavailable")
    with raises as caught, postgresql_errors(what="PostgreSQL test"):
        psycopg.connect(dsn, connect_timeout=2)
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)


def _client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return botocore.exceptions.ClientError(response, "GetObject")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_client_error("SlowDown", 503), TransientBackendError),
        (_client_error("InternalError", 500), TransientBackendError),
        (_client_error("AccessDenied", 403), BackendError),
        (
            botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"),
            TransientBackendError,
        ),
        (botocore.exceptions.NoCredentialsError(), BackendError),
    ],
    ids=["throttled", "5xx", "denied", "connection", "credentials"],
)
def test_s3_errors(error: Exception, expected: type[BackendError]) -> None:
    with pytest.raises(expected) as caught, s3_errors(what="S3 test"):
        raise error
    assert type(caught.value) is expected
    assert caught.value.__cause__ is error
    assert str(caught.value).startswith("S3 test")


def test_engine_errors_and_foreign_exceptions_pass_through() -> None:
    missing = ResultMissing("nothing stored")
    with pytest.raises(ResultMissing) as caught, redis_errors(what="Redis test"):
        raise missing
    assert caught.value is missing
    with pytest.raises(KeyError), map_backend_errors(transient=(OSError,), what="test"):
        raise KeyError("not a client error")
    with map_backend_errors(transient=(OSError,), what="test"):
        pass
