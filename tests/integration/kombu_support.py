"""Helpers of the Kombu runtime tests: a worker and a client in this process, or in others."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rt_support import TASKS, task_entry

from selinon_backends.distributed.backends import open_backends
from selinon_backends.kombu import Client, KombuWorker
from selinon_backends.runtime.report import FlowRun
from selinon_core.config.system import System


def make_queued_system(
    flows: dict[str, Any], queue: str, storage: dict[str, Any] | None = None, **overrides: Any
) -> System:
    """``rt_support.make_system`` with private queues: ``<queue>.tasks`` and ``<queue>.flows``."""
    tasks = [
        task_entry(name, **{"queue": f"{queue}.tasks", **overrides.get(name, {})}) for name in TASKS
    ]
    store = storage or {
        "name": "Memory",
        "import": "selinon.storages.memory",
        "classname": "InMemoryStorage",
        "configuration": {},
    }
    return System.from_dict(
        {
            "tasks": tasks,
            "storages": [store],
            "flows": {
                name: {"name": name, "queue": f"{queue}.flows", **body}
                for name, body in flows.items()
            },
        }
    )


@contextmanager
def in_process(
    system: System,
    *,
    broker: str = "memory://",
    state_store: str | None = None,
    concurrency: int = 2,
    **worker_options: Any,
) -> Iterator[tuple[Client, KombuWorker]]:
    """A started worker (threads) and a client sharing the stores of ``state_store``."""
    backends = open_backends(state_store or f"memory://{uuid.uuid4().hex}")
    worker = KombuWorker(
        system, broker_url=broker, backends=backends, concurrency=concurrency, **worker_options
    )
    worker.start()
    client = Client(system, broker=broker, backends=backends)
    try:
        yield client, worker
    finally:
        worker.stop()
        worker.join(10)
        client.close()


def normalized(run: FlowRun) -> list[tuple[Any, ...]]:
    """The report's runs without ids, timings or order (comparable across runtimes)."""
    ids = re.compile(re.escape(run.flow_id) + r"(\.\d+)*")
    out = []
    for entry in run.report()["runs"]:
        parent = ids.sub("ID", repr(entry["parent"]))
        out.append(
            (
                entry["flow_name"],
                entry["node_name"],
                entry["kind"],
                entry["status"],
                entry["retries"],
                ids.sub("ID", repr(entry["result"])),
                None if entry["error"] is None else ids.sub("ID", entry["error"]),
                parent,
                repr(entry["node_args"]),
            )
        )
    return sorted(out)
