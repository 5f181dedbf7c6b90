"""``selinon-cli worker --metrics-port``: a worker process on Redis, scraped over HTTP."""

from __future__ import annotations

import re
import socket
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from obs_support import Workers, delete_queues, load, wait_until, write_config
from prometheus_client.parser import text_string_to_metric_families
from tests.services import REDIS_URL, require_redis

from selinon_backends.kombu import Client
from selinon_backends.kombu.transport import KombuPublisher, broker_connection
from selinon_backends.runtime.clock import RealClock

pytestmark = [pytest.mark.service, pytest.mark.slow]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[tuple[Workers, Client, str, str]]:
    require_redis()
    queue = f"obs-metrics-{uuid.uuid4().hex[:10]}"
    nodes, flows = write_config(tmp_path, queue=queue, trace="false")
    workers = Workers(tmp_path, ["-n", str(nodes), "-f", str(flows), "--broker", REDIS_URL])
    client = Client(load(tmp_path, queue=queue, trace="false"), broker=REDIS_URL)
    try:
        log = workers.start("--metrics-port", "0", "--concurrency", "2")
        url = wait_until(
            lambda: re.search(r"metrics at (http://\S+)", log.read_text(errors="replace")),
            f"the metrics address in the worker's log\n{workers.logs()}",
        ).group(1)
        yield workers, client, url, queue
    finally:
        workers.stop()
        client.close()
        delete_queues(REDIS_URL, queue)


def _scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        text = response.read().decode("utf-8")
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def _get(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_a_worker_exposes_its_counts(worker: tuple[Workers, Client, str, str]) -> None:
    workers, client, url, queue = worker
    assert url.startswith("http://127.0.0.1:")
    flows = [client.run_flow("outer", {}), client.run_flow("failing", {})]
    for flow_id in flows:
        client.wait(flow_id, timeout=60)
    with broker_connection(REDIS_URL) as connection:
        publisher = KombuPublisher(connection, delays=client.backends.delays, clock=RealClock())
        publisher.send(f"{queue}.flows", b"not a selinon message")

    def done() -> Samples | None:
        samples = _scrape(url)
        finished = _get(samples, "selinon_flows_finished_total", flow="failing", outcome="failed")
        dead = _get(samples, "selinon_messages_dead_lettered_total", queue=f"{queue}.flows")
        return samples if finished and dead else None

    samples = wait_until(done, f"the counts of two flows\n{workers.logs()}")
    assert _get(samples, "selinon_tasks_started_total", task="Start") == 2
    assert _get(samples, "selinon_tasks_succeeded_total", task="Fan") == 2
    assert _get(samples, "selinon_tasks_failed_total", task="Broken") == 1
    assert _get(samples, "selinon_tasks_retried_total", task="Broken") == 0
    assert _get(samples, "selinon_flows_finished_total", flow="outer", outcome="succeeded") == 1
    count = "selinon_task_duration_seconds_count"
    assert _get(samples, count, task="Fan", outcome="succeeded") == 2
    assert _get(samples, count, task="Broken", outcome="failed") == 1
    # one worker process both dispatched and ran every task: a latency sample per task run
    latency = "selinon_task_start_latency_seconds_count"
    assert _get(samples, latency, task="Start") == 2
    assert _get(samples, latency, task="Fan") == 2
    assert _get(samples, "selinon_task_start_latency_seconds_bucket", task="Fan", le="+Inf") == 2
    applied = "selinon_events_applied_total"
    assert _get(samples, applied, flow="outer", event="flow_requested") == 1
    assert _get(samples, applied, flow="inner", event="node_succeeded") == 3
    assert _get(samples, applied, flow="failing", event="node_failed") == 1
    assert _get(samples, "selinon_messages_dead_lettered_total", queue=f"{queue}.flows") == 1
    assert ("selinon_state_conflicts_total", frozenset()) in samples


def test_a_port_in_use_is_a_usage_error(tmp_path: Path) -> None:
    require_redis()
    nodes, flows = write_config(tmp_path, trace="false")
    workers = Workers(tmp_path, ["-n", str(nodes), "-f", str(flows), "--broker", REDIS_URL])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        log = workers.start("--metrics-port", str(port))
        try:
            assert workers.processes[0].wait(30) == 2
        finally:
            workers.stop()
    assert f"--metrics-port {port}: cannot listen on 127.0.0.1:{port}" in log.read_text()
