"""Configuration and span helpers of the observability tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from tests.services import stop_processes

from selinon_core.config.loader import load_system
from selinon_core.config.system import System

NODES = """
tasks:
  - {name: Start, import: obs_tasks, classname: Ok}
  - {name: After, import: obs_tasks, classname: Ok}
  - {name: Inner, import: obs_tasks, classname: Ok}
  - {name: Fan, import: obs_tasks, classname: Ok}
  - {name: Broken, import: obs_tasks, classname: Boom}
  - {name: Flaky, import: obs_tasks, classname: FlakyOnce, max_retry: 1, retry_countdown: 0}
flows: [outer, inner, failing, flaky]
global:
  default_task_queue: "QUEUE.tasks"
  default_dispatcher_queue: "QUEUE.flows"
  trace: TRACE
"""

FLOWS = """
flow-definitions:
  - name: outer
    propagate_node_args: true
    edges:
      - {from: , to: Start}
      - {from: Start, to: [inner, After]}
  - name: inner
    edges:
      - {from: , to: Inner}
      - from: Inner
        to: Fan
        foreach: {import: obs_tasks, function: two}
  - name: failing
    edges:
      - {from: , to: Start}
      - {from: Start, to: Broken}
  - name: flaky
    edges:
      - {from: , to: Flaky}
"""


def write_config(
    tmp: Path, *, queue: str = "obs", trace: str = "{opentelemetry: true}"
) -> tuple[Path, Path]:
    """The nodes and flows files of the test configuration, in ``tmp``."""
    nodes = tmp / "nodes.yaml"
    flows = tmp / "flows.yaml"
    nodes.write_text(NODES.replace("QUEUE", queue).replace("TRACE", trace), encoding="utf-8")
    flows.write_text(FLOWS, encoding="utf-8")
    return nodes, flows


def load(tmp: Path, **options: Any) -> System:
    """The test configuration, loaded."""
    nodes, flows = write_config(tmp, **options)
    return load_system(nodes, [flows])


def by_node(spans: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Span records grouped by their ``selinon.node.name`` attribute (others left out)."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for span in spans:
        if "selinon.node.name" not in span["attributes"]:
            continue
        grouped.setdefault(str(span["attributes"]["selinon.node.name"]), []).append(span)
    return grouped


def record(span: Any) -> dict[str, Any]:
    """A plain record of an SDK ``ReadableSpan`` (the shape the worker processes write)."""
    events = [
        {"name": event.name, "attributes": dict(event.attributes or {})} for event in span.events
    ]
    return {
        "name": span.name,
        "trace_id": f"{span.context.trace_id:032x}",
        "span_id": f"{span.context.span_id:016x}",
        "parent_id": None if span.parent is None else f"{span.parent.span_id:016x}",
        "start": span.start_time,
        "end": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "events": events,
    }


HERE = Path(__file__).parent
ROOT = HERE.parent.parent


class Workers:
    """``selinon-cli worker`` processes of one test (stopped by :meth:`stop`, by pid)."""

    def __init__(self, tmp: Path, common: list[str], env: Mapping[str, str] | None = None) -> None:
        self.tmp = tmp
        self.common = common
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)]),
            **(env or {}),
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, main: str | None = None) -> Path:
        """Start a worker (through the script ``main`` when given); return its log file."""
        log = self.tmp / f"worker-{len(self.processes)}.log"
        entry = (
            [str(HERE / main)]
            if main
            else ["-c", "from selinon_backends.cli import main; raise SystemExit(main())"]
        )
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, *entry, "worker", *self.common, *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return log

    def stop(self) -> None:
        """SIGTERM every worker of the test, then SIGKILL what did not stop within 10 s."""
        stop_processes(self.processes)

    def logs(self) -> str:
        """Every worker's output, for failure messages."""
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.tmp.glob("worker-*.log"))
        )


def delete_queues(broker: str, queue: str) -> None:
    """Delete the test's ``<queue>.tasks`` and ``<queue>.flows`` queues."""
    from selinon_backends.kombu.transport import broker_connection, kombu_queue

    with broker_connection(broker) as connection:
        channel = connection.default_channel
        for suffix in ("tasks", "flows"):
            kombu_queue(f"{queue}.{suffix}")(channel).delete()


def wait_until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``check`` until it returns a true value (bounded); fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
