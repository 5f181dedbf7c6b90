"""The Celery shim with real ``celery worker`` processes on RabbitMQ and Redis.

Each test writes a Celery app module (the kind a Selinon deployment has: ``install_as_selinon()``,
``Config.set_celery_app``, ``Config.set_config_yaml``), starts ``celery -A <module> worker``
processes on private queues in their own process group, stops them (SIGTERM, then SIGKILL of
that group) and deletes its queues, even when it fails.  Crash tests kill only processes the
test started, by pid.  Reports are read with ``selinon-cli status`` from another process and
compared with the in-process engine's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from kombu_support import normalized
from test_kombu_examples import COMMANDS, _private_copy
from test_kombu_services import (
    FLOWS,
    NODES,
    ROOT,
    _from_report,
    _urls,
)

from selinon_backends.celery import CeleryRuntime
from selinon_backends.kombu import Client
from selinon_backends.kombu.transport import broker_connection, kombu_queue
from selinon_backends.selinon_alias import install_as_selinon, uninstall_selinon_alias
from selinon_core.config.loader import load_system

pytestmark = [pytest.mark.service, pytest.mark.slow]

HERE = Path(__file__).parent
CLI = [sys.executable, "-c", "from selinon_backends.cli import main; raise SystemExit(main())"]

APP_MODULE = '''
"""A Celery app module as a Selinon deployment writes it (plus test settings)."""
import os

from selinon_backends.celery import install_as_selinon

install_as_selinon()

from celery import Celery
from selinon import Config

app = Celery("selinon_test", broker=os.environ["T_BROKER"])
app.conf.update(
    task_default_queue=os.environ["T_QUEUE"] + ".default",
    worker_prefetch_multiplier=1,
    broker_transport_options={"visibility_timeout": 3},
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    worker_enable_remote_control=False,  # no pidbox queue shared between tests' workers
)
Config.set_celery_app(app)
Config.set_state_store(os.environ["T_STORE"])
Config.set_config_yaml(os.environ["T_NODES"], os.environ["T_FLOWS"].split(os.pathsep))
'''


class CeleryDeployment:
    """A configuration, an app module, private queues and the worker processes of one test."""

    def __init__(
        self, tmp: Path, broker: str, store: str, nodes: Path, flows: Path, *, path: list[str]
    ) -> None:
        self.tmp = tmp
        self.broker = broker
        self.store = store
        self.queue = f"selinon-celery-{uuid.uuid4().hex[:10]}"
        self.nodes = nodes
        self.flows = flows
        (tmp / "selinon_test_app.py").write_text(APP_MODULE)
        self.env = {
            **os.environ,
            "SELINON_TEST_QUEUE": self.queue,
            "T_BROKER": broker,
            "T_STORE": store,
            "T_QUEUE": self.queue,
            "T_NODES": str(nodes),
            "T_FLOWS": str(flows),
            "PYTHONPATH": os.pathsep.join([str(tmp), *path, str(HERE), str(ROOT)]),
        }
        self.workers: list[subprocess.Popen[bytes]] = []
        self.queues = [f"{self.queue}.tasks", f"{self.queue}.flows", f"{self.queue}.default"]

    def start_worker(
        self, *extra: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """``celery -A selinon_test_app worker`` on the test's queues (prefork, 2 processes)."""
        log = (self.tmp / f"worker-{len(self.workers)}.log").open("wb")
        command = [
            sys.executable, "-m", "celery", "-A", "selinon_test_app", "worker",
            "-Q", ",".join(self.queues), "--loglevel", "INFO", "--without-gossip",
            "--without-mingle", "--without-heartbeat",
            "-n", f"{self.queue}-w{len(self.workers)}@%h",
            *(extra or ("-c", "2")),
        ]  # fmt: skip
        process = subprocess.Popen(
            command,
            env={**self.env, **(env or {})},
            cwd=self.tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: its pool children die with it
        )
        self.workers.append(process)
        return process

    def runtime(self) -> CeleryRuntime:
        """A client in this process: the same configuration, on an app of the same broker."""
        os.environ["SELINON_TEST_QUEUE"] = self.queue
        installed = install_as_selinon()  # task modules written for Selinon import it
        try:
            system = load_system(self.nodes, [self.flows])
        finally:
            del os.environ["SELINON_TEST_QUEUE"]
            if installed:
                uninstall_selinon_alias()
        app = Celery(f"client-{self.queue}", broker=self.broker, set_as_current=False)
        app.conf.task_default_queue = f"{self.queue}.default"
        return CeleryRuntime(app, system, state_store=self.store)

    def status(self, flow_id: str) -> dict[str, Any]:
        """``selinon-cli status FLOW_ID --wait --report -`` in another process."""
        done = subprocess.run(
            [*CLI, "status", flow_id, "--state-store", self.store, "--wait", "--timeout", "90",
             "--report", "-"],
            env=self.env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode in (0, 1), done.stderr + self.logs()
        report: dict[str, Any] = json.loads(done.stdout)
        return report

    def execute(self, *args: str, app_dir: str | None = None) -> dict[str, Any]:
        """The in-process report of the same configuration (``selinon-cli execute``)."""
        done = subprocess.run(
            [*CLI, *(["--app-dir", app_dir] if app_dir else []), "execute", "-n", str(self.nodes),
             "-f", str(self.flows), *args,
             "--report", "-", "--hide-progressbar"],
            env=self.env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        report: dict[str, Any] = json.loads(done.stdout)
        return report

    def stop(self) -> None:
        """SIGTERM every worker (a warm shutdown), then SIGKILL what is left of its group."""
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            stop_group(process)

    def delete_queues(self) -> None:
        with broker_connection(self.broker) as connection:
            channel = connection.default_channel
            for name in self.queues:
                kombu_queue(name)(channel).delete()

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.tmp.glob("worker-*.log"))
        )


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Wait for a SIGTERMed worker, then SIGKILL what is left of the group the test created."""
    with suppress(subprocess.TimeoutExpired):
        process.wait(15)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(5)


@contextmanager
def celery_deployment(
    tmp_path: Path,
    combo: str,
    nodes: Path | None = None,
    flows: Path | None = None,
    path: list[str] | None = None,
) -> Iterator[CeleryDeployment]:
    broker, store = _urls(combo)
    if nodes is None or flows is None:
        nodes, flows = tmp_path / "nodes.yml", tmp_path / "flows.yml"
        nodes.write_text(NODES)
        flows.write_text(FLOWS)
    dep = CeleryDeployment(tmp_path, broker, store, nodes, flows, path=path or [])
    try:
        yield dep
    finally:
        dep.stop()
        dep.delete_queues()


CELERY_COMBOS = ["rabbitmq+redis", "redis"]


@pytest.mark.parametrize("combo", CELERY_COMBOS)
def test_celery_workers_give_the_in_process_report(tmp_path: Path, combo: str) -> None:
    with celery_deployment(tmp_path, combo) as dep:
        dep.start_worker()
        dep.start_worker()
        runtime = dep.runtime()
        args = {"n": 4}
        result = runtime.run_flow("main", args)
        report = dep.status(result.id)  # another process follows the flow to its end
        expected = dep.execute("--flow-name", "main", "--node-args", json.dumps(args))
        assert report["status"] == "succeeded"
        assert normalized(_from_report(report)) == normalized(_from_report(expected))
        assert result.get(timeout=30)["status"] == "succeeded"
        # The Kombu runtime's client follows a flow the shim started, with the same report.
        with Client(runtime.system, broker=dep.broker, state_store=dep.store) as client:
            followed = client.wait(result.id, timeout=30)
        assert normalized(followed) == normalized(_from_report(report))

        # Retries are the core's decision (FlakyFile fails twice, then succeeds).
        counter = tmp_path / "counter"
        retried = runtime.run_flow("retrying", {"counter": str(counter)}).get(timeout=60)
        [node] = retried["runs"]
        assert (node["status"], node["retries"], counter.read_text()) == ("succeeded", 2, "3")

        # A selective run: only what leads to Add.
        selective = runtime.run_flow_selective("main", ["Add"], args).get(timeout=60)
        assert sorted(r["node_name"] for r in selective["runs"]) == ["Add", "Echo"]
        runtime.close()


@pytest.mark.parametrize("combo", CELERY_COMBOS)
def test_killed_pool_process_mid_task_the_flow_completes(tmp_path: Path, combo: str) -> None:
    """``kill -9`` of the pool process running a task: ``reject_on_worker_lost`` requeues it."""
    with celery_deployment(tmp_path, combo) as dep:
        dep.start_worker()
        marker = tmp_path / "marker"
        runtime = dep.runtime()
        result = runtime.run_flow("slow", {"marker": str(marker), "sleep": 2})
        pid = _first_marker_pid(marker, dep)
        os.kill(pid, signal.SIGKILL)  # the pool process the test's worker started for Marker
        done = _outcome(result, dep)
        assert done["status"] == "succeeded", dep.logs()
        assert len(marker.read_text().split()) == 2  # at least once: Marker ran again
        assert sorted(r["node_name"] for r in done["runs"]) == ["Marker", "Noop"]
        runtime.close()


@pytest.mark.parametrize("combo", CELERY_COMBOS)
def test_killed_worker_mid_task_the_flow_completes(tmp_path: Path, combo: str) -> None:
    """``kill -9`` of a whole (solo) worker mid-task: the broker delivers the task again."""
    with celery_deployment(tmp_path, combo) as dep:
        victim = dep.start_worker("-P", "solo")
        marker = tmp_path / "marker"
        runtime = dep.runtime()
        result = runtime.run_flow("slow", {"marker": str(marker), "sleep": 2})
        assert _first_marker_pid(marker, dep) == victim.pid
        os.killpg(victim.pid, signal.SIGKILL)  # the worker the test started, and its group
        victim.wait(10)
        dep.start_worker("-P", "solo")
        done = _outcome(result, dep)
        assert done["status"] == "succeeded", dep.logs()
        assert len(marker.read_text().split()) == 2
        assert sorted(r["node_name"] for r in done["runs"]) == ["Marker", "Noop"]
        runtime.close()


@pytest.mark.parametrize("point", ["before-publish", "before-apply"])
def test_dispatching_worker_killed_around_a_step_the_flow_completes(
    tmp_path: Path, point: str
) -> None:
    """The worker dies (SIGKILL) after saving a step and before publishing it, or before
    applying an event; the next worker finishes the flow, every node exactly once."""
    with celery_deployment(tmp_path, "rabbitmq+redis") as dep:
        crashed = tmp_path / "crashed"
        victim = dep.start_worker(
            "-P", "solo", env={"SELINON_TEST_FAILPOINTS": f"{point}={crashed}"}
        )
        runtime = dep.runtime()
        result = runtime.run_flow("main", {"n": 3})
        victim.wait(60)
        assert victim.returncode == -signal.SIGKILL, dep.logs()
        assert crashed.exists()
        dep.start_worker("-P", "solo")
        done = result.get(timeout=90, propagate=False)
        assert done["status"] == "succeeded", dep.logs()
        ids = [r["node_id"] for r in done["runs"]]
        assert len(ids) == len(set(ids))  # no node listed twice
        assert sorted(r["node_name"] for r in done["runs"]) == [
            "Add", "Boom", "Echo", "Noop", "Noop", "Noop", "Noop", "ParentError", "sub",
        ]  # fmt: skip
        runtime.close()


def _outcome(result: Any, dep: CeleryDeployment) -> dict[str, Any]:
    """The flow's report, or a failure that shows the workers' logs."""
    try:
        # Redis: Kombu restores unacknowledged messages every 10 s after the visibility timeout.
        report: dict[str, Any] = result.get(timeout=150, propagate=False)
    except TimeoutError:
        pytest.fail(f"flow {result.id} did not finish\n{dep.logs()}")
    return report


def _first_marker_pid(marker: Path, dep: CeleryDeployment) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text().split()[0])
        time.sleep(0.05)
    pytest.fail(f"the task never started\n{dep.logs()}")


# ---------------------------------------------------------------------------- the examples


@pytest.mark.parametrize(("index", "example"), [(i, c[0]) for i, c in enumerate(COMMANDS)])
def test_example_on_celery_workers(tmp_path: Path, index: int, example: str) -> None:
    """Every example README command gives the in-process report through the shim."""
    combo = CELERY_COMBOS[index % len(CELERY_COMBOS)]
    queue = f"selinon-celery-{uuid.uuid4().hex[:10]}"
    apps = _private_copy(tmp_path, queue)
    _, args = COMMANDS[index]
    args = [str(tmp_path / a) if a.startswith("examples/") else a for a in args]
    nodes, flows = Path(args[args.index("-n") + 1]), Path(args[args.index("-f") + 1])
    rest = [
        a for i, a in enumerate(args) if a not in ("-n", "-f") and args[i - 1] not in ("-n", "-f")
    ]
    with celery_deployment(tmp_path, combo, nodes, flows, path=[str(apps)]) as dep:
        dep.queue = queue
        dep.queues = [f"{queue}.tasks", f"{queue}.flows", f"{queue}.default"]
        dep.env.update(SELINON_TEST_QUEUE=queue, T_QUEUE=queue)
        dep.start_worker()
        sys.path.insert(0, str(apps))
        try:
            runtime = dep.runtime()
        finally:
            sys.path.remove(str(apps))
        options = _execute_options(rest)
        if options["selective"]:
            result = runtime.run_flow_selective(
                options["flow"],
                options["selective"],
                options["node_args"],
                follow_subflows=options["follow"],
                run_subsequent=options["subsequent"],
            )
        else:
            result = runtime.run_flow(options["flow"], options["node_args"])
        got = dep.status(result.id)
        expected = dep.execute(*rest, app_dir=str(apps))
        assert got["status"] == expected["status"], dep.logs()
        assert normalized(_from_report(got)) == normalized(_from_report(expected)), dep.logs()
        runtime.close()


def _execute_options(args: list[str]) -> dict[str, Any]:
    def value(flag: str) -> str | None:
        return args[args.index(flag) + 1] if flag in args else None

    node_args = value("--node-args")
    selective = value("--selective-task-names")
    return {
        "flow": value("--flow-name"),
        "node_args": None if node_args is None else json.loads(node_args),
        "selective": [] if selective is None else re.split(r"[ ,]+", selective.strip()),
        "follow": "--selective-follow-subflows" in args,
        "subsequent": "--selective-run-subsequent" in args,
    }


def test_example_deployment_runs_as_its_readme_says(tmp_path: Path) -> None:
    """``examples/celery_project``: its worker and start commands, as in its README."""
    broker, store = _urls("redis")
    apps = tmp_path / "examples"
    shutil.copytree(ROOT / "examples" / "celery_project", apps / "celery_project")
    queue = f"selinon-celery-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "CELERY_BROKER_URL": broker,
        "CELERY_DEFAULT_QUEUE": queue,
        "SELINON_STATE_STORE": store,
    }
    readme = (ROOT / "examples" / "celery_project" / "README.md").read_text()
    assert "celery -A celery_project.app worker" in readme
    assert "python -m celery_project.start analysisFlow" in readme
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "celery_project.app", "worker", "-Q", queue,
         "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-n", f"{queue}@%h"],
        cwd=apps, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip

    def start(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "celery_project.start", *args],
            cwd=apps, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + (tmp_path / "worker.log").read_text()
        return done.stdout.strip()

    try:
        full = start("analysisFlow", '{"package": "requests"}')
        assert re.fullmatch(
            r"flow [0-9a-f]{32} succeeded: CheckLicence:succeeded, FetchMetadata:succeeded, "
            r"ScanFile:succeeded, ScanFile:succeeded, ScanFile:succeeded, Summarize:succeeded, "
            r"licenceFlow:succeeded, scanFlow:succeeded, scanFlow:succeeded, scanFlow:succeeded",
            full,
        ), full
        fallback = start("analysisFlow", '{"package": "requests", "registry_down": true}')
        assert fallback.endswith("succeeded: FetchMetadata:failed, UseCachedMetadata:succeeded"), (
            fallback
        )
        selective = start(
            "analysisFlow", '{"package": "requests"}', "--only", "CheckLicence", "--follow-subflows"
        )
        assert selective.endswith(
            "succeeded: CheckLicence:succeeded, FetchMetadata:succeeded, licenceFlow:succeeded"
        ), selective
    finally:
        worker.send_signal(signal.SIGTERM)
        stop_group(worker)
        with broker_connection(broker) as connection:
            kombu_queue(queue)(connection.default_channel).delete()
