"""Tasks of the dashboard tests (imported by name: ``import: dash_tasks``).

``Gate`` waits, bounded, until the file named by ``node_args["gate"]`` exists, so that a test
sees it running and then lets it finish; ``Ship`` fails when ``node_args["fail"]`` is true.
"""

from __future__ import annotations

import os
import time
from typing import Any

from selinon_core.task import SelinonTask

GATE_WAIT = 60.0
"""Longest a gated task waits for its file."""


def _args(node_args: Any) -> dict[str, Any]:
    return node_args if isinstance(node_args, dict) else {}


class Fetch(SelinonTask):
    """Returns the order and a note (which may hold HTML, to check escaping)."""

    def run(self, node_args: Any) -> Any:
        args = _args(node_args)
        return {"order": args.get("order", 1), "note": args.get("note", "fetched")}


class Gate(SelinonTask):
    """Waits until the gate file exists (when one is named), then succeeds."""

    def run(self, node_args: Any) -> Any:
        gate = _args(node_args).get("gate")
        deadline = time.monotonic() + GATE_WAIT
        while gate and not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.05)
        return {"gate": "open"}


class Ship(SelinonTask):
    """Fails with a ValueError when asked to."""

    def run(self, node_args: Any) -> Any:
        if _args(node_args).get("fail"):
            raise ValueError("the parcel is too heavy to ship")
        return {"shipped": True}


class Render(SelinonTask):
    """The sub-flow's task."""

    def run(self, node_args: Any) -> Any:
        return {"invoice": _args(node_args).get("order", 1)}
