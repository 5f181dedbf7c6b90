"""Trivial tasks and predicates of the distributed benchmark (``benchmarks/distributed.py``).

Each task notes when it started and ended (``time.time()``) and its id: it pushes
``"<start> <end> <task id>"`` to the Redis list ``node_args["key"]`` on
``$DISTBENCH_RECORD_URL``.  The benchmark reads the lists afterwards.  The push is the task's
last step, so the time it takes (one loopback round trip) counts as dispatch latency.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import redis

from selinon_core.predicates import *  # noqa: F403 - this is also the predicates module
from selinon_core.task import SelinonTask

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def record(key: str, started: float, ended: float, ident: str = "-") -> None:
    """Push ``"<started> <ended> <ident>"`` to the Redis list ``key`` (one client per process)."""
    url = os.environ["DISTBENCH_RECORD_URL"]
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = redis.Redis.from_url(url, socket_timeout=10)
    client.rpush(key, f"{started:.6f} {ended:.6f} {ident}")


def counterBelow(message: Any, node_args: Any) -> bool:
    """True while the chain is shorter than ``node_args["n"]``."""
    return bool(message["i"] < node_args["n"])


def workers(storage_pool: Any, node_args: Any) -> range:
    """Foreach: ``range(node_args["n"])``."""
    return range(node_args["n"])


class Counter(SelinonTask):
    """Counts along the chain (reads its parent's stored result)."""

    def run(self, node_args: Any) -> Any:
        """Return ``{"i": parent's i + 1}`` (``1`` for the first)."""
        started = time.time()
        i = self.parent_task_result("Counter")["i"] + 1 if "Counter" in self.parent else 1
        record(node_args["key"], started, time.time(), self.task_id)
        return {"i": i}


class Task1(SelinonTask):
    """Does nothing but note its times."""

    def run(self, node_args: Any) -> Any:
        """Return nothing."""
        started = time.time()
        record(f"{node_args['key']}:{self.task_name}", started, time.time(), self.task_id)
        return None


Worker = Task1
Join = Task1
