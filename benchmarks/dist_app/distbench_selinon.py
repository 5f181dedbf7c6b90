"""Selinon 1.4.0's side of the distributed benchmark: the tasks and predicates (its own venv).

The same trivial tasks as :mod:`distbench_tasks`, on Selinon's ``SelinonTask``; each notes
``"<start> <end> <task id>"`` in the Redis list ``node_args["key"]`` (suffixed with the task
name, except for the chain's Counter) on ``$DISTBENCH_RECORD_URL``.  Imported by Selinon's
workers and by :mod:`distbench_selinon_app`, never by this project.  ``Results`` is the
storage of the Counter's results.
"""

import os
import time

import redis
from selinon import SelinonTask
from selinon.predicates import *  # noqa: F403 - this is also the predicates module
from selinon.storages.redis import Redis

_client = None


def record(key, started, ended, ident):
    """Push ``"<started> <ended> <ident>"`` to the Redis list ``key``."""
    global _client  # noqa: PLW0603 - one client per worker process
    if _client is None:
        _client = redis.Redis.from_url(os.environ["DISTBENCH_RECORD_URL"], socket_timeout=10)
    _client.rpush(key, f"{started:.6f} {ended:.6f} {ident}")


class Results(Redis):
    """Selinon's Redis storage, connected without ``charset`` (which redis-py 6 refuses; the
    Redis transport of Celery 5.7's kombu needs redis-py >= 6.1)."""

    def connect(self):
        """Create the client."""
        self.conn = redis.Redis(
            host=self.host, port=self.port, db=self.db, socket_timeout=self.socket_timeout
        )


def counterBelow(message, node_args):
    """True while the chain is shorter than ``node_args["n"]``."""
    return bool(message["i"] < node_args["n"])


def workers(storage_pool, node_args):
    """Foreach: ``range(node_args["n"])``."""
    return range(node_args["n"])


class Counter(SelinonTask):
    """Counts along the chain (reads its parent's stored result)."""

    def run(self, node_args):
        """Return ``{"i": parent's i + 1}`` (``1`` for the first)."""
        started = time.time()
        i = self.parent_task_result("Counter")["i"] + 1 if "Counter" in self.parent else 1
        record(node_args["key"], started, time.time(), self.task_id)
        return {"i": i}


class Task1(SelinonTask):
    """Does nothing but note its times."""

    def run(self, node_args):
        """Return nothing."""
        started = time.time()
        record(f"{node_args['key']}:{self.task_name}", started, time.time(), self.task_id)


Worker = Task1
Join = Task1
