"""Tasks of the migration tests: what ran is visible across processes (files).

Every task appends ``<flow name> <task name>`` to the file ``node_args["log"]``.  ``Gate``
also announces itself in ``node_args["log"] + ".waiting"`` and then waits until the file
``node_args["gate"]`` exists (at most two minutes), so that a test can hold a flow in flight
while it stops workers, changes the configuration and starts new ones.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from selinon_core.task import SelinonTask

GATE_TIMEOUT = 120.0
"""Seconds a ``Gate`` waits for its file before it fails."""


def _note(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


class Record(SelinonTask):
    """Notes that it ran."""

    def run(self, node_args: Any) -> Any:
        _note(node_args["log"], f"{self.flow_name} {self.task_name}")
        return {"task": self.task_name}


class Gate(SelinonTask):
    """Notes that it ran, then waits for the gate file."""

    def run(self, node_args: Any) -> Any:
        _note(node_args["log"], f"{self.flow_name} {self.task_name}")
        _note(node_args["log"] + ".waiting", self.flow_name)
        gate = Path(node_args["gate"])
        deadline = time.monotonic() + GATE_TIMEOUT
        while not gate.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"gate {gate} did not open within {GATE_TIMEOUT} s")
            time.sleep(0.02)
        return {"task": self.task_name}
