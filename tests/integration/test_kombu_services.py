"""The Kombu runtime with worker processes on real brokers and state stores.

Each test starts its own ``selinon-cli worker`` processes on private queues (the YAML's
``{SELINON_TEST_QUEUE}`` expands to a name unique to the test), stops them (SIGTERM, then
SIGKILL) and deletes its queues, even when it fails.  Crash tests kill only the processes they
started, by pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kombu_support import normalized
from tests.services import (
    POSTGRES_DSN,
    RABBITMQ_URL,
    REDIS_URL,
    PrivateRabbitMQ,
    PrivateRedisServer,
    require_postgres,
    require_rabbitmq,
    require_redis,
    stop_processes,
)

from selinon_backends.kombu import Client
from selinon_backends.kombu.transport import broker_connection, kombu_queue
from selinon_backends.runtime.report import FlowRun, NodeRun
from selinon_core.config.loader import load_system

pytestmark = [pytest.mark.service, pytest.mark.slow]

HERE = Path(__file__).parent
ROOT = HERE.parent.parent

NODES = """
tasks:
  - {name: Echo, import: rt_tasks, storage: Results}
  - {name: Add, import: rt_tasks, storage: Results}
  - {name: Noop, import: rt_tasks}
  - {name: Boom, import: rt_tasks}
  - {name: ParentError, import: rt_tasks}
  - {name: FlakyFile, import: dist_tasks, max_retry: 3, retry_countdown: 0.2}
  - {name: Marker, import: dist_tasks}
storages:
  - name: Results
    import: selinon.storages.redis
    classname: Redis
    configuration: {host: 127.0.0.1, port: 6379, db: 0}
flows: [main, sub, retrying, slow]
global:
  default_task_queue: "{SELINON_TEST_QUEUE}.tasks"
  default_dispatcher_queue: "{SELINON_TEST_QUEUE}.flows"
"""

FLOWS = """
flow-definitions:
  - name: main
    propagate_node_args: true
    edges:
      - {from: , to: Echo}
      - from: Echo
        to: Add
        condition: {name: fieldEqual, args: {key: task, value: Echo}}
      - from: Echo
        to: Noop
        foreach: {import: rt_tasks, function: items}
      - {from: Add, to: sub}
  - name: sub
    edges:
      - {from: , to: Noop}
      - {from: Noop, to: Boom}
    failures:
      - {nodes: Boom, fallback: ParentError}
  - name: retrying
    edges:
      - {from: , to: FlakyFile}
  - name: slow
    edges:
      - {from: , to: Marker}
      - {from: Marker, to: Noop}
"""

COMBOS = {
    "rabbitmq+redis": ("rabbitmq", "redis"),
    "redis": ("redis", None),
    "rabbitmq+postgresql": ("rabbitmq", "postgresql"),
}


def _urls(combo: str) -> tuple[str, str]:
    broker_kind, store_kind = COMBOS[combo]
    if broker_kind == "rabbitmq":
        require_rabbitmq()
        broker = RABBITMQ_URL
    else:
        require_redis()
        broker = REDIS_URL
    require_redis()  # the result storage of the configuration
    if store_kind == "postgresql":
        require_postgres()
        return broker, POSTGRES_DSN
    return broker, REDIS_URL


class Deployment:
    """A configuration on disk, private queues, and the worker processes of one test."""

    def __init__(self, tmp: Path, broker: str, store: str) -> None:
        self.tmp = tmp
        self.broker = broker
        self.store = store
        self.queue = f"selinon-test-{uuid.uuid4().hex[:10]}"
        self.nodes = tmp / "nodes.yml"
        self.flows = tmp / "flows.yml"
        self.nodes.write_text(NODES)
        self.flows.write_text(FLOWS)
        self.env = {
            **os.environ,
            "SELINON_TEST_QUEUE": self.queue,
            "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)]),
        }
        self.workers: list[subprocess.Popen[bytes]] = []

    def cli(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-c",
            "from selinon_backends.cli import main; raise SystemExit(main())",
            *args,
        ]

    def common(self) -> list[str]:
        return [
            "-n",
            str(self.nodes),
            "-f",
            str(self.flows),
            "--broker",
            self.broker,
            "--state-store",
            self.store,
        ]

    def start_worker(
        self, *extra: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"worker-{len(self.workers)}.log").open("wb")
        process = subprocess.Popen(
            self.cli("worker", *self.common(), "--visibility-timeout", "3", *extra),
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(process)
        return process

    def start_worker_command(self, command: list[str]) -> subprocess.Popen[bytes]:
        """Start a worker from a full command line (``cli(...)``)."""
        log = (self.tmp / f"worker-{len(self.workers)}.log").open("wb")
        process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.workers.append(process)
        return process

    def call(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``selinon-cli ARGS`` to its end."""
        return subprocess.run(
            self.cli(*args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.cli("run", *self.common(), *args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def client(self) -> Client:
        os.environ["SELINON_TEST_QUEUE"] = self.queue
        try:
            system = load_system(self.nodes, [self.flows])
        finally:
            del os.environ["SELINON_TEST_QUEUE"]
        return Client(system, broker=self.broker, state_store=self.store)

    def stop(self) -> None:
        stop_processes(self.workers)

    def delete_queues(self) -> None:
        with broker_connection(self.broker) as connection:
            channel = connection.default_channel
            for suffix in ("tasks", "flows"):
                kombu_queue(f"{self.queue}.{suffix}")(channel).delete()

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.tmp.glob("worker-*.log"))
        )


@contextmanager
def deployment(tmp_path: Path, combo: str) -> Iterator[Deployment]:
    broker, store = _urls(combo)
    dep = Deployment(tmp_path, broker, store)
    try:
        yield dep
    finally:
        dep.stop()
        dep.delete_queues()


def _in_process_report(dep: Deployment, flow: str, args: Any) -> FlowRun:
    env = {**dep.env}
    out = subprocess.run(
        dep.cli("execute", "-n", str(dep.nodes), "-f", str(dep.flows), "--flow-name", flow,
                "--node-args", json.dumps(args), "--report", "-", "--hide-progressbar"),
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return _from_report(json.loads(out.stdout))


def _from_report(doc: dict[str, Any]) -> FlowRun:
    run = FlowRun(doc["flow_name"], doc["flow_id"], doc["node_args"], doc["status"])
    for entry in doc["runs"]:
        node = NodeRun(
            entry["flow_name"], entry["flow_id"], entry["node_name"], entry["node_id"],
            entry["kind"], entry["parent"], entry["node_args"], entry["status"],
            entry["result"], entry["retries"], entry.get("error"),
        )  # fmt: skip
        run.runs.append(node)
    return run


@pytest.mark.parametrize("combo", sorted(COMBOS))
def test_two_workers_give_the_in_process_report(tmp_path: Path, combo: str) -> None:
    with deployment(tmp_path, combo) as dep:
        dep.start_worker()
        dep.start_worker()
        args = {"n": 4}
        done = dep.run("--flow-name", "main", "--node-args", json.dumps(args),
                       "--wait", "--timeout", "60", "--report", "-")  # fmt: skip
        assert done.returncode == 0, done.stderr + dep.logs()
        report = json.loads(done.stdout)
        expected = _in_process_report(dep, "main", args)
        assert report["status"] == "succeeded"
        assert normalized(_from_report(report)) == normalized(expected)
        names = sorted(r["node_name"] for r in report["runs"])
        assert names == [
            "Add",
            "Boom",
            "Echo",
            "Noop",
            "Noop",
            "Noop",
            "Noop",
            "Noop",
            "ParentError",
            "sub",
        ]

        # Retries through the delay store: FlakyFile fails twice, then succeeds.
        counter = tmp_path / "counter"
        counter_args = json.dumps({"counter": str(counter)})
        retried = dep.run("--flow-name", "retrying", "--node-args", counter_args,
                          "--wait", "--timeout", "60", "--report", "-")  # fmt: skip
        assert retried.returncode == 0, retried.stderr + dep.logs()
        [node] = json.loads(retried.stdout)["runs"]
        assert (node["status"], node["retries"], counter.read_text()) == ("succeeded", 2, "3")

        # run without --wait prints the id; status reads the same report from any process.
        started = dep.run("--flow-name", "main", "--node-args", json.dumps(args))
        assert started.returncode == 0, started.stderr
        flow_id = started.stdout.strip()
        assert len(flow_id) == 32
        status = subprocess.run(
            dep.cli("status", flow_id, "--broker", dep.broker, "--state-store", dep.store,
                    "--wait", "--timeout", "60", "--report", "-"),
            env=dep.env, capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        assert normalized(_from_report(json.loads(status.stdout))) == normalized(expected)


def test_run_exit_codes(tmp_path: Path) -> None:
    with deployment(tmp_path, "redis") as dep:
        # No worker: the flow cannot finish before the timeout (exit 3).
        timed_out = dep.run("--flow-name", "main", "--wait", "--timeout", "0.5")
        assert timed_out.returncode == 3, timed_out.stderr
        unknown = dep.run("--flow-name", "nope", "--wait")
        assert unknown.returncode == 2
        assert "unknown flow 'nope'" in unknown.stderr
        dep.start_worker()
        failed = dep.run("--flow-name", "sub", "--wait", "--timeout", "60")
        assert failed.returncode == 0, failed.stderr  # the fallback recovers it
        with dep.client() as client:
            flow_id = client.run_flow("slow", {"marker": str(tmp_path / "m"), "sleep": 0})
            assert client.wait(flow_id, timeout=60).status == "succeeded"


@pytest.mark.parametrize("combo", ["rabbitmq+redis", "redis"])
def test_killed_worker_mid_task_the_flow_completes(tmp_path: Path, combo: str) -> None:
    with deployment(tmp_path, combo) as dep:
        victim = dep.start_worker()
        marker = tmp_path / "marker"
        with dep.client() as client:
            flow_id = client.run_flow("slow", {"marker": str(marker), "sleep": 1.5})
            deadline = time.monotonic() + 30
            while not marker.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert marker.exists(), dep.logs()
            os.kill(victim.pid, signal.SIGKILL)  # the worker dies in the middle of Marker
            victim.wait(10)
            dep.start_worker()
            done = client.wait(flow_id, timeout=60)
        assert done.status == "succeeded", dep.logs()
        assert len(marker.read_text().split()) == 2  # at least once: Marker ran again
        assert sorted(r.node_name for r in done.runs) == ["Marker", "Noop"]


@pytest.mark.parametrize("point", ["before-publish", "before-apply"])
def test_dispatcher_killed_around_a_step_the_flow_completes(tmp_path: Path, point: str) -> None:
    with deployment(tmp_path, "rabbitmq+redis") as dep:
        crashed = tmp_path / "crashed"
        victim = dep.start_worker(env={"SELINON_TEST_FAILPOINTS": f"{point}={crashed}"})
        with dep.client() as client:
            flow_id = client.run_flow("main", {"n": 3})
            victim.wait(30)
            assert victim.returncode == -signal.SIGKILL, dep.logs()
            assert crashed.exists()
            dep.start_worker()
            try:
                done = client.wait(flow_id, timeout=60)
            except TimeoutError:
                stored = client.backends.states.load(flow_id=flow_id)
                pytest.fail(f"stuck at {stored}\n{dep.logs()}")
        assert done.status == "succeeded", dep.logs()
        ids = [r.node_id for r in done.runs]
        assert len(ids) == len(set(ids))  # no node listed twice
        assert sorted(r.node_name for r in done.runs) == [
            "Add", "Boom", "Echo", "Noop", "Noop", "Noop", "Noop", "ParentError", "sub",
        ]  # fmt: skip


def _restart_during_a_task(dep: Deployment, tmp_path: Path, restart: Any) -> None:
    dep.start_worker()
    marker = tmp_path / "marker"
    with dep.client() as client:
        flow_id = client.run_flow("slow", {"marker": str(marker), "sleep": 1.0})
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), dep.logs()
        restart()  # the broker goes away while Marker runs, and comes back
        done = client.wait(flow_id, timeout=90)
    assert done.status == "succeeded", dep.logs()
    assert sorted(r.node_name for r in done.runs) == ["Marker", "Noop"]


def test_redis_broker_restart_during_a_flow(tmp_path: Path) -> None:
    require_redis()
    with PrivateRedisServer() as server:
        dep = Deployment(tmp_path, server.url, server.url)
        try:

            def restart() -> None:
                server.stop()
                time.sleep(1.0)
                server.start()

            _restart_during_a_task(dep, tmp_path, restart)
        finally:
            dep.stop()


def test_rabbitmq_restart_during_a_flow(tmp_path: Path) -> None:
    require_redis()
    with PrivateRabbitMQ() as server:
        dep = Deployment(tmp_path, server.url, REDIS_URL)
        try:

            def restart() -> None:
                server.stop()
                server.start()

            _restart_during_a_task(dep, tmp_path, restart)
        finally:
            dep.stop()


def test_sigterm_finishes_the_task_in_hand(tmp_path: Path) -> None:
    with deployment(tmp_path, "rabbitmq+redis") as dep:
        worker = dep.start_worker()
        marker = tmp_path / "marker"
        with dep.client() as client:
            flow_id = client.run_flow("slow", {"marker": str(marker), "sleep": 1.0})
            deadline = time.monotonic() + 30
            while not marker.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert marker.exists(), dep.logs()
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(30) == 0, dep.logs()
            assert "finishing" in dep.logs()
            dep.start_worker()
            done = client.wait(flow_id, timeout=60)
        assert done.status == "succeeded", dep.logs()
        assert len(marker.read_text().split()) == 1  # finished once, not redelivered
