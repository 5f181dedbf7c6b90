"""Tasks of the observability tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from selinon_core.task import SelinonTask


class Ok(SelinonTask):
    """Returns its arguments, after ``node_args["sleep"]`` seconds when given."""

    def run(self, node_args: Any) -> Any:
        if isinstance(node_args, dict) and node_args.get("sleep"):
            time.sleep(float(node_args["sleep"]))
        return {"task": self.task_name}


class Boom(SelinonTask):
    """Always fails with ``ValueError: boom``."""

    def run(self, node_args: Any) -> Any:
        raise ValueError("boom")


class FlakyOnce(SelinonTask):
    """Fails on its first run, succeeds on the next (counted in ``node_args["counter"]``)."""

    def run(self, node_args: Any) -> Any:
        counter = Path(node_args["counter"])
        runs = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(runs))
        if runs < 2:
            raise RuntimeError("not yet")
        return {"runs": runs}


def two(storage_pool: Any, node_args: Any) -> list[int]:
    """A foreach of two items."""
    del storage_pool, node_args
    return [0, 1]
