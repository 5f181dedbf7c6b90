"""Tasks of the multi-process Kombu tests: what they did is visible across processes (files)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from selinon_core.task import SelinonTask


class Marker(SelinonTask):
    """Appends its process id to ``node_args["marker"]``, sleeps ``node_args["sleep"]`` s."""

    def run(self, node_args: Any) -> Any:
        with open(node_args["marker"], "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        time.sleep(float(node_args.get("sleep", 0)))
        return {"slept": node_args.get("sleep", 0)}


class FlakyFile(SelinonTask):
    """Fails until it ran three times (counted in the file ``node_args["counter"]``)."""

    def run(self, node_args: Any) -> Any:
        counter = Path(node_args["counter"])
        runs = int(counter.read_text() or 0) + 1 if counter.exists() else 1
        counter.write_text(str(runs))
        if runs < 3:
            raise RuntimeError(f"run {runs}: not yet")
        return {"runs": runs}
