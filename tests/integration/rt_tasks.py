"""Task classes used by the runtime tests (imported by name from the test configurations)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from selinon_core.errors import FatalTaskError
from selinon_core.task import SelinonTask

CALLS: dict[str, int] = {}
RELEASE = threading.Event()


def _count(name: str) -> int:
    CALLS[name] = CALLS.get(name, 0) + 1
    return CALLS[name]


class Noop(SelinonTask):
    """Returns nothing."""

    def run(self, node_args: Any) -> Any:
        return None


class Echo(SelinonTask):
    """Returns its arguments and ids."""

    def run(self, node_args: Any) -> Any:
        return {"args": node_args, "task": self.task_name, "flow": self.flow_name}


class Add(SelinonTask):
    """Adds 1 to its parent Echo's ``args.n``."""

    def run(self, node_args: Any) -> Any:
        return {"n": self.parent_task_result("Echo")["args"]["n"] + 1}


class Flaky(SelinonTask):
    """Fails on its first two runs (per test, see ``CALLS``), then succeeds."""

    def run(self, node_args: Any) -> Any:
        if _count(f"Flaky:{self.task_id}") <= 2:
            raise RuntimeError("not yet")
        return {"ok": True}


class Boom(SelinonTask):
    """Always fails."""

    def run(self, node_args: Any) -> Any:
        raise ValueError("boom")


class Fatal(SelinonTask):
    """Fails fatally (never retried)."""

    def run(self, node_args: Any) -> Any:
        _count(f"Fatal:{self.task_id}")
        raise FatalTaskError("no way")


class AskRetry(SelinonTask):
    """Asks to be retried once with a countdown of 30 s, then succeeds."""

    def run(self, node_args: Any) -> Any:
        if _count(f"AskRetry:{self.task_id}") == 1:
            self.retry(countdown=30)
        return {"retried": True}


class NotJson(SelinonTask):
    """Returns something JSON cannot encode."""

    def run(self, node_args: Any) -> Any:
        return {"when": object()}


class BadSchema(SelinonTask):
    """Returns a result violating its output schema."""

    def run(self, node_args: Any) -> Any:
        return {"value": "not a number"}


class Hang(SelinonTask):
    """Blocks until ``RELEASE`` is set (or 5 s)."""

    def run(self, node_args: Any) -> Any:
        RELEASE.wait(5)
        return {"late": True}


class AsyncEcho(SelinonTask):
    """An ``async def run`` task."""

    async def run(self, node_args: Any) -> Any:  # type: ignore[override]
        await asyncio.sleep(0)
        return {"async": node_args}


class Sleepy(SelinonTask):
    """Sleeps 0.1 s (I/O-bound stand-in for concurrency tests)."""

    def run(self, node_args: Any) -> Any:
        time.sleep(0.1)
        return None


class ParentError(SelinonTask):
    """A fallback that reads nothing; records it ran."""

    def run(self, node_args: Any) -> Any:
        return {"fallback": True}


def items(storage_pool: Any, node_args: Any) -> list[int]:
    """Foreach function: ``range(node_args["n"])``."""
    return list(range((node_args or {}).get("n", 3)))
