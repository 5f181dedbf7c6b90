"""Helpers for tests that need real services (Redis, PostgreSQL, RabbitMQ, S3 via moto).

Every ``require_*`` helper checks that the service answers on loopback.  When it does not:

* locally (``CI`` unset), the test is **skipped** with a reason saying what to start;
* in CI (``CI=true``), the test **fails**: CI must always exercise the real thing.

Usage::

    from tests.services import require_redis

    def test_something() -> None:
        url = require_redis()          # "redis://127.0.0.1:6379/0"

For S3 use the ``moto_s3_server()`` context manager (moto's ``ThreadedMotoServer`` on a free
loopback port); ``PrivateRedisServer`` starts a throw-away ``redis-server`` that a test may
stop and restart (never touch the shared one on 6379).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

__all__ = [
    "POSTGRES_DSN",
    "RABBITMQ_URL",
    "REDIS_URL",
    "MotoS3",
    "PrivateRabbitMQ",
    "PrivateRedisServer",
    "free_port",
    "in_ci",
    "moto_s3_server",
    "require_postgres",
    "require_rabbitmq",
    "require_redis",
    "service_unavailable",
    "stop_processes",
    "unique_name",
]

LOOPBACK = "127.0.0.1"
REDIS_URL = os.environ.get("SELINON_TEST_REDIS_URL", f"redis://{LOOPBACK}:6379/0")
POSTGRES_DSN = os.environ.get(
    "SELINON_TEST_POSTGRES_DSN", f"postgresql://postgres@{LOOPBACK}:5432/test"
)
RABBITMQ_URL = os.environ.get("SELINON_TEST_RABBITMQ_URL", f"amqp://guest:guest@{LOOPBACK}:5672//")


def in_ci() -> bool:
    """Whether the tests run in CI (``CI`` set to a true value)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def service_unavailable(reason: str) -> NoReturn:
    """Skip the current test (fail it in CI) because a service is unavailable."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: service-backed tests must not be skipped)")
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def unique_name(prefix: str) -> str:
    """``<prefix>_<random hex>``: keys, tables and buckets that parallel runs do not share."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_redis(url: str = REDIS_URL) -> str:
    """``url`` if a Redis server answers ``PING`` there; else skip (fail in CI)."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError) as exc:
        service_unavailable(f"Redis is not reachable at {url} ({exc}); start redis-server")
    return url


def require_postgres(dsn: str = POSTGRES_DSN) -> str:
    """``dsn`` if PostgreSQL accepts a connection there; else skip (fail in CI)."""
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        service_unavailable(
            f"PostgreSQL is not reachable at {dsn} ({exc}); start it (trust auth, db 'test')"
        )
    return dsn


def require_rabbitmq(url: str = RABBITMQ_URL) -> str:
    """``url`` if a RabbitMQ broker accepts an AMQP connection there; else skip (fail in CI)."""
    import kombu

    connection_class: Any = getattr(kombu, "Connection")  # noqa: B009 - untyped library
    try:
        with connection_class(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # kombu raises several unrelated types here
        service_unavailable(f"RabbitMQ is not reachable at {url} ({exc}); start rabbitmq-server")
    return url


# --------------------------------------------------------------------------- S3 (moto)


@dataclass(frozen=True)
class MotoS3:
    """A running moto S3 server: where it listens and the fake credentials to use."""

    endpoint_url: str
    port: int
    region_name: str = "us-east-1"
    aws_access_key_id: str = "testing"
    aws_secret_access_key: str = "testing"


@contextlib.contextmanager
def moto_s3_server(port: int | None = None) -> Iterator[MotoS3]:
    """Run moto's ``ThreadedMotoServer`` on a free loopback port for the ``with`` body.

    Skips (fails in CI) when moto's server extra is not installed.
    """
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        service_unavailable(f"moto[server] is not installed ({exc})")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request
    port = port or free_port()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    try:
        _wait_for_port(LOOPBACK, port, 10.0)
        yield MotoS3(endpoint_url=f"http://{LOOPBACK}:{port}", port=port)
    finally:
        server.stop()


def _wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _tcp_open(host, port, 0.2):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")
        time.sleep(0.02)


# --------------------------------------------------------------------------- private Redis


class PrivateRedisServer:
    """A throw-away ``redis-server`` on a free loopback port that a test may stop and restart.

    Use as a context manager.  With ``persistent`` (the default) every write goes to an
    append-only file in a temporary directory, so data survives :meth:`stop`/:meth:`start` as
    it would on a real server; the directory is removed on exit.  Skips (fails in CI) when no
    ``redis-server`` binary is on ``PATH``.
    """

    def __init__(self, port: int | None = None, *, persistent: bool = True) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            service_unavailable("redis-server is not installed (needed for outage tests)")
        self.binary = binary
        self.port = port or free_port()
        self.persistent = persistent
        self._dir = tempfile.TemporaryDirectory(prefix="selinon-redis-")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        args = [
            self.binary,
            "--bind", LOOPBACK,
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "yes" if self.persistent else "no",
            "--appendfsync", "always",
            "--dir", str(Path(self._dir.name)),
        ]  # fmt: skip
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(LOOPBACK, self.port, 10.0)

    def stop(self) -> None:
        """Stop the server (``SIGTERM``) and wait until it is gone."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)

    def __enter__(self) -> PrivateRedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._dir.cleanup()


def _alive(pid: int | None) -> bool:
    """Whether process ``pid`` still exists (``None``: unknown, so no)."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PrivateRabbitMQ:
    """A throw-away RabbitMQ node on free loopback ports that a test may stop and restart.

    Its data (durable queues, persistent messages) lives in a temporary directory and survives
    :meth:`stop`/:meth:`start`, as on a real server; the directory is removed on exit.  The node
    is its own process group, stopped by its id only.  Skips (fails in CI) when
    ``rabbitmq-server`` is not installed.
    """

    def __init__(self) -> None:
        binary = shutil.which("rabbitmq-server") or (
            "/usr/sbin/rabbitmq-server" if Path("/usr/sbin/rabbitmq-server").exists() else None
        )
        if binary is None:
            service_unavailable("rabbitmq-server is not installed (needed for broker restarts)")
        self.binary = binary
        self.port = free_port()
        self.dist_port = free_port()
        self.name = f"selinon-test-{uuid.uuid4().hex[:8]}@localhost"
        self._dir = tempfile.TemporaryDirectory(prefix="selinon-rabbitmq-")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``amqp://guest:guest@127.0.0.1:<port>//``."""
        return f"amqp://guest:guest@{LOOPBACK}:{self.port}//"

    def _env(self) -> dict[str, str]:
        base = Path(self._dir.name)
        return {
            **os.environ,
            "HOME": str(base),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(base / "pid"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(base / "feature_flags"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(base / "plugins-expand"),
            "RABBITMQ_QUORUM_DIR": str(base / "quorum"),
            "RABBITMQ_STREAM_DIR": str(base / "stream"),
        }

    def start(self) -> None:
        """Start the node and wait (up to a minute) until it accepts AMQP connections."""
        base = Path(self._dir.name)
        for sub in ("mnesia", "log"):
            (base / sub).mkdir(exist_ok=True)
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq.conf").write_text(f"listeners.tcp.default = {LOOPBACK}:{self.port}\n")
        if os.geteuid() == 0:  # the server script runs the node as the rabbitmq user
            subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", str(base)], check=False)
        self._proc = subprocess.Popen(
            [self.binary],
            env=self._env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for_port(LOOPBACK, self.port, 60.0)

    def stop(self) -> None:
        """Stop the node: SIGTERM to its process group (found through its pid file), then wait.

        The server script runs the node in a session of its own, so the node is found by the
        pid it writes, not as a child; SIGKILL after 20 s.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return
        groups = {proc.pid}
        node = None
        with contextlib.suppress(OSError, ValueError):
            node = int((Path(self._dir.name) / "pid").read_text().strip())
            groups.add(os.getpgid(node))
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for group in groups:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(group, sig)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and _alive(node):
                time.sleep(0.1)
            if not _alive(node):
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)

    def __enter__(self) -> PrivateRabbitMQ:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._dir.cleanup()


def stop_processes(processes: Iterable[subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    """SIGTERM each process a test started, then SIGKILL those still alive after ``grace`` s."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
