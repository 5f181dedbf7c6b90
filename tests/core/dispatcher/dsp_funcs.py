"""User callables (foreach, selective run functions) used by the dispatcher tests."""

from __future__ import annotations

from typing import Any


def three(storage_pool: Any, node_args: Any) -> list[int]:
    """Always three items."""
    del storage_pool, node_args
    return [1, 2, 3]


def from_args(storage_pool: Any, node_args: Any) -> Any:
    """The items listed in ``node_args['items']``."""
    del storage_pool
    return node_args["items"]


def from_parent(storage_pool: Any, node_args: Any) -> Any:
    """The items in the result of parent task ``T1``."""
    del node_args
    return storage_pool.get("T1")


def broken(storage_pool: Any, node_args: Any) -> Any:
    """A foreach function that raises."""
    del storage_pool, node_args
    raise RuntimeError("cannot list items")


def reuse_t1(
    flow_name: str, node_name: str, node_args: Any, task_names: Any, storage_pool: Any
) -> str | None:
    """Reuse an earlier ``T1`` result (id ``old-T1``), run everything else."""
    del flow_name, node_args, task_names, storage_pool
    return "old-T1" if node_name == "T1" else None


def broken_run_fn(
    flow_name: str, node_name: str, node_args: Any, task_names: Any, storage_pool: Any
) -> str | None:
    """A selective run function that raises."""
    del flow_name, node_name, node_args, task_names, storage_pool
    raise RuntimeError("no decision")
