"""The configuration of the dashboard tests and a way to run flows on Kombu in this process.

Flow ``shop``: ``Fetch`` starts ``Gate`` and ``Ship``; after ``Gate`` the sub-flow ``invoice``
(``Render``) runs.  ``Ship`` fails with ``{"fail": true}``; ``Gate`` waits for a file.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the task module is imported by name
    sys.path.insert(0, str(HERE))

from selinon_backends.distributed.backends import Backends, open_backends  # noqa: E402
from selinon_backends.kombu import Client, KombuWorker  # noqa: E402
from selinon_core.config.loader import load_system  # noqa: E402
from selinon_core.config.system import System  # noqa: E402

TASKS = ("Fetch", "Gate", "Ship", "Render")


def nodes_yaml(storage: dict[str, Any] | None = None, queue: str = "dash") -> str:
    """The nodes file (tasks on ``<queue>.tasks``, flows on ``<queue>.flows``)."""
    store = storage or {
        "import": "selinon.storages.memory",
        "classname": "InMemoryStorage",
        "configuration": {"echo": "false"},
    }
    lines = ["tasks:"]
    for name in TASKS:
        lines += [
            f"  - name: {name}",
            "    import: dash_tasks",
            "    storage: Results",
            f"    queue: {queue}.tasks",
        ]
    lines += ["storages:", "  - name: Results"]
    lines += [f"    {key}: {value}" for key, value in store.items() if key != "configuration"]
    if "configuration" in store:
        lines.append("    configuration:")
        lines += [f"      {key}: {value}" for key, value in store["configuration"].items()]
    lines += ["flows: [shop, invoice]"]
    return "\n".join(lines) + "\n"


def flows_yaml(queue: str = "dash") -> str:
    """The flows file."""
    return textwrap.dedent(
        f"""\
        flow-definitions:
          - name: shop
            queue: {queue}.flows
            edges:
              - from: []
                to: Fetch
              - from: Fetch
                to: [Gate, Ship]
              - from: Gate
                to: invoice
          - name: invoice
            queue: {queue}.flows
            edges:
              - from: []
                to: Render
        """
    )


def write_config(
    directory: Path, storage: dict[str, Any] | None = None, queue: str = "dash"
) -> tuple[Path, Path]:
    """Write the nodes and flows files into ``directory``; their paths."""
    nodes, flows = directory / "nodes.yaml", directory / "flows.yaml"
    nodes.write_text(nodes_yaml(storage, queue), encoding="utf-8")
    flows.write_text(flows_yaml(queue), encoding="utf-8")
    return nodes, flows


def make_system(directory: Path) -> System:
    """The loaded test configuration (in-memory result storage)."""
    nodes, flows = write_config(directory)
    return load_system(nodes, [flows], check_imports=True)


@contextmanager
def kombu_run(system: System) -> Iterator[tuple[Client, Backends]]:
    """A Kombu worker (threads, ``memory://`` broker) and a client sharing fresh stores."""
    backends = open_backends(f"memory://{uuid.uuid4().hex}")
    worker = KombuWorker(system, broker_url="memory://", backends=backends, concurrency=2)
    worker.start()
    client = Client(system, broker="memory://", backends=backends)
    try:
        yield client, backends
    finally:
        worker.stop()
        worker.join(10)
        client.close()
